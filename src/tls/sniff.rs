//! What a non-TLS byte stream looks like: the hint behind "not TLS: looks
//! like SIP" (spec §3.5).
//!
//! Owns: [`looks_like`]. Pure function over the first bytes of a direction;
//! bounded by [`MAX_HINT_LINE`], never allocates more than one short string.

/// Longest first line quoted in a hint (characters).
pub const MAX_HINT_LINE: usize = 60;

/// Describe the first bytes of a direction that are not TLS.
pub fn looks_like(b: &[u8]) -> String {
    let line_end = b
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(b.len());
    let line = b.get(..line_end).unwrap_or(b);
    let printable = |s: &[u8]| s.iter().all(|&c| (0x20..0x7f).contains(&c) || c == b'\t');
    let quoted = || {
        let s = String::from_utf8_lossy(line);
        let mut q: String = s.chars().take(MAX_HINT_LINE).collect();
        if s.chars().count() > MAX_HINT_LINE {
            q.push('…');
        }
        q
    };
    if line.is_empty() || !printable(line) {
        let sample = b.get(..b.len().min(64)).unwrap_or(b);
        let text = sample
            .iter()
            .filter(|&&c| (0x20..0x7f).contains(&c) || c == b'\r' || c == b'\n' || c == b'\t')
            .count();
        return if !sample.is_empty() && text * 10 >= sample.len() * 9 {
            "unknown text".to_string()
        } else {
            "unknown binary".to_string()
        };
    }
    let text = String::from_utf8_lossy(line);
    let first_word = text.split(' ').next().unwrap_or("");
    let is_method = !first_word.is_empty()
        && first_word
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'-' || c == b'_');
    if text.starts_with("SIP/2.0 ") || (is_method && text.ends_with(" SIP/2.0")) {
        format!("cleartext SIP ({})", quoted())
    } else if text.starts_with("HTTP/1.") || (is_method && text.contains(" HTTP/1.")) {
        format!("cleartext HTTP ({})", quoted())
    } else if text.starts_with("SSH-") {
        format!("SSH ({})", quoted())
    } else if text.starts_with("220 ") || text.starts_with("220-") {
        format!("SMTP/FTP banner ({})", quoted())
    } else {
        format!("unknown text ({})", quoted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_request_and_status_lines_are_named() {
        assert_eq!(
            looks_like(b"OPTIONS sip:imp.example.com SIP/2.0\r\nVia: x\r\n"),
            "cleartext SIP (OPTIONS sip:imp.example.com SIP/2.0)"
        );
        assert!(looks_like(b"SIP/2.0 200 OK\r\n").starts_with("cleartext SIP"));
    }

    #[test]
    fn banners_and_binary_are_told_apart() {
        assert!(looks_like(b"SSH-2.0-OpenSSH_8.9\r\n").starts_with("SSH"));
        assert!(looks_like(b"GET / HTTP/1.1\r\n").starts_with("cleartext HTTP"));
        assert!(looks_like(b"220 mail.example.com ESMTP\r\n").starts_with("SMTP/FTP"));
        assert_eq!(looks_like(&[0, 1, 2, 0xff, 0x80]), "unknown binary");
        assert_eq!(looks_like(b""), "unknown binary");
    }
}
