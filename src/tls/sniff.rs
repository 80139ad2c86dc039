//! What a non-TLS byte stream looks like: the hint behind "not TLS: looks
//! like SIP" (spec §3.5).
//!
//! Owns: [`looks_like`]. Pure function over the first bytes of a direction;
//! bounded by [`MAX_HINT_LINE`], never allocates more than one short string.

/// Longest first line quoted in a hint (characters).
pub const MAX_HINT_LINE: usize = 60;

/// OpenVPN over TCP: a 2-byte packet length, then opcode << 3 | key id,
/// with the opcodes that open a session (P_CONTROL_HARD_RESET_CLIENT_V2/V3,
/// P_CONTROL_HARD_RESET_SERVER_V2) or carry its TLS (P_CONTROL_V1). Its TLS
/// runs inside OpenVPN's own framing, so it is not TLS records on the wire.
fn is_openvpn_tcp(b: &[u8]) -> bool {
    let (Some(&hi), Some(&lo), Some(&op)) = (b.first(), b.get(1), b.get(2)) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    (14..=1600).contains(&len) && matches!(op >> 3, 4 | 7 | 8 | 10)
}

/// Describe the first bytes of a direction that are not TLS.
pub fn looks_like(b: &[u8]) -> String {
    if is_openvpn_tcp(b) {
        return "OpenVPN over TCP (its TLS is inside OpenVPN's framing, not TLS records)".into();
    }
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

    // See: issue 14, item 9 (OpenVPN on an audited port was reported with the
    // SIP remedy "the peer sends cleartext to the TLS port").
    #[test]
    fn openvpn_hard_reset_over_tcp_is_named() {
        let reset = [
            0x00, 0x2a, 0x38, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        ];
        assert!(looks_like(&reset).starts_with("OpenVPN over TCP"));
        assert!(!looks_like(b"INVITE sip:a@b SIP/2.0\r\n").starts_with("OpenVPN"));
    }

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
