//! JA4 TLS client fingerprint of a ClientHello, as the FoxIO specification
//! defines it (technical_details/JA4.md in FoxIO-LLC/ja4; the JA4 part is
//! BSD-licensed). Written from the specification; no code of theirs.
//!
//! `t13d1516h2_8daaf6152771_e5627efa2ab1` is: transport (`t`: TLS over
//! TCP — tlsaudit sees no QUIC or DTLS), version, SNI present (`d`) or not
//! (`i`), number of cipher suites and of extensions, first and last
//! character of the first ALPN value; then the truncated SHA-256 of the
//! sorted suites; then that of the sorted extensions (without SNI and ALPN)
//! followed by the signature algorithms in offer order. GREASE values are
//! ignored everywhere.
//!
//! ```
//! use tlsaudit::tls::{ja4::ja4, model::ClientHelloFacts, model::TlsVersion, model::CipherSuiteId};
//! let ch = ClientHelloFacts {
//!     version: Some(TlsVersion(0x0301)),
//!     cipher_suites: vec![CipherSuiteId(0x000a)],
//!     ..ClientHelloFacts::default()
//! };
//! assert_eq!(ja4(&ch), "t10i010000_a8f3e973773c_000000000000");
//! ```

use std::fmt::Write;

use sha2::{Digest, Sha256};

use super::handshake::is_grease;
use super::model::ClientHelloFacts;

const EXT_SNI: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// JA4_b / JA4_c when there is nothing to hash.
const EMPTY_HASH: &str = "000000000000";

/// The JA4 fingerprint of `ch`.
pub fn ja4(ch: &ClientHelloFacts) -> String {
    let mut suites: Vec<u16> = ch
        .cipher_suites
        .iter()
        .map(|s| s.0)
        .filter(|&s| !is_grease(s))
        .collect();
    let mut extensions: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|&e| !is_grease(e))
        .collect();
    let version = if extensions.contains(&EXT_SUPPORTED_VERSIONS) {
        ch.supported_versions
            .iter()
            .map(|v| v.0)
            .filter(|&v| !is_grease(v))
            .max()
            .or(ch.version.map(|v| v.0))
    } else {
        ch.version.map(|v| v.0)
    };
    let sni = if extensions.contains(&EXT_SNI) {
        'd'
    } else {
        'i'
    };
    // Writing into a String cannot fail.
    let mut out = String::with_capacity(36);
    let _ = write!(
        out,
        "t{}{sni}{:02}{:02}",
        version_code(version),
        suites.len().min(99),
        extensions.len().min(99),
    );
    push_alpn_code(&mut out, ch.alpn_first.as_deref());
    out.push('_');

    // One text buffer for both hashed lists.
    let mut text = String::with_capacity(5 * (suites.len() + extensions.len()) + 1);
    suites.sort_unstable();
    push_hex_list(&mut text, suites);
    push_truncated_hash(&mut out, &text);
    out.push('_');

    extensions.retain(|&e| e != EXT_SNI && e != EXT_ALPN);
    extensions.sort_unstable();
    text.clear();
    push_hex_list(&mut text, extensions);
    let mut sigs = ch
        .signature_algorithms
        .iter()
        .copied()
        .filter(|&s| !is_grease(s))
        .peekable();
    if !text.is_empty() && sigs.peek().is_some() {
        text.push('_');
        push_hex_list(&mut text, sigs);
    }
    push_truncated_hash(&mut out, &text);
    out
}

/// Two characters for the offered version (`00` when unknown).
fn version_code(v: Option<u16>) -> &'static str {
    match v {
        Some(0x0304) => "13",
        Some(0x0303) => "12",
        Some(0x0302) => "11",
        Some(0x0301) => "10",
        Some(0x0300) => "s3",
        Some(0x0002) => "s2",
        Some(0xfeff) => "d1",
        Some(0xfefd) => "d2",
        Some(0xfefc) => "d3",
        _ => "00",
    }
}

/// Appends the first and last character of the first ALPN value; its hex
/// form's first and last character when either end is not ASCII
/// alphanumeric; `00` without one.
fn push_alpn_code(out: &mut String, alpn: Option<&[u8]>) {
    let Some(v) = alpn.filter(|v| !v.is_empty()) else {
        out.push_str("00");
        return;
    };
    let (first, last) = (v[0], v[v.len() - 1]);
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        out.push(first as char);
        out.push(last as char);
    } else {
        // The hex form's first character is the first byte's high nibble,
        // its last the last byte's low nibble.
        out.push(HEX_DIGITS[usize::from(first >> 4)] as char);
        out.push(HEX_DIGITS[usize::from(last & 0x0f)] as char);
    }
}

/// Lower-case hex digits.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `002f,0035,…`: 4-digit lower-case hex, comma separated.
fn push_hex_list(text: &mut String, values: impl IntoIterator<Item = u16>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        for shift in [12, 8, 4, 0] {
            text.push(HEX_DIGITS[usize::from((v >> shift) & 0x0f)] as char);
        }
    }
}

/// Appends the first 12 hex characters of the SHA-256 of `text`; zeros for
/// nothing.
fn push_truncated_hash(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str(EMPTY_HASH);
        return;
    }
    for b in &Sha256::digest(text.as_bytes())[..6] {
        out.push(HEX_DIGITS[usize::from(b >> 4)] as char);
        out.push(HEX_DIGITS[usize::from(b & 0x0f)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::model::{CipherSuiteId, TlsVersion};

    // Test vectors from the JA4 specification (FoxIO-LLC/ja4,
    // technical_details/JA4.md, "Cipher hash", "Extension hash", "Example"
    // and "ALPN Extension Value").
    #[rustfmt::skip]
    const SPEC_SUITES: [u16; 15] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
        0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    #[rustfmt::skip]
    const SPEC_EXTENSIONS: [u16; 16] = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
        0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ];
    #[rustfmt::skip]
    const SPEC_SIGNATURE_ALGORITHMS: [u16; 8] = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];

    fn alpn_code(alpn: Option<&[u8]>) -> String {
        let mut s = String::new();
        push_alpn_code(&mut s, alpn);
        s
    }

    fn truncated_hash(text: &str) -> String {
        let mut s = String::new();
        push_truncated_hash(&mut s, text);
        s
    }

    #[test]
    fn hex_lists_and_hashes_are_what_format_and_hex_give() {
        let values = [0x0000, 0x000a, 0x00ff, 0x0a0b, 0xc02b, 0xffff];
        let mut text = String::new();
        push_hex_list(&mut text, values);
        let formatted: Vec<String> = values.iter().map(|v| format!("{v:04x}")).collect();
        assert_eq!(text, formatted.join(","));
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        assert_eq!(truncated_hash(&text), digest[..12]);
    }

    fn spec_hello() -> ClientHelloFacts {
        ClientHelloFacts {
            version: Some(TlsVersion(0x0303)),
            supported_versions: vec![TlsVersion(0x0304), TlsVersion(0x0303)],
            cipher_suites: SPEC_SUITES.iter().map(|&s| CipherSuiteId(s)).collect(),
            extensions: SPEC_EXTENSIONS.to_vec(),
            signature_algorithms: SPEC_SIGNATURE_ALGORITHMS.to_vec(),
            alpn_first: Some(b"h2".to_vec()),
            sni: Some("example.com".into()),
            ..ClientHelloFacts::default()
        }
    }

    #[test]
    fn spec_example_fingerprint() {
        assert_eq!(ja4(&spec_hello()), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn spec_extension_hash_without_signature_algorithms() {
        let ch = ClientHelloFacts {
            signature_algorithms: Vec::new(),
            ..spec_hello()
        };
        assert!(ja4(&ch).ends_with("_6d807ffa2a79"), "{}", ja4(&ch));
    }

    #[test]
    fn grease_is_ignored_everywhere() {
        let mut ch = spec_hello();
        ch.cipher_suites.insert(0, CipherSuiteId(0x0a0a));
        ch.extensions.insert(0, 0x1a1a);
        ch.extensions.push(0xfafa);
        ch.signature_algorithms.insert(0, 0x2a2a);
        ch.supported_versions.insert(0, TlsVersion(0x3a3a));
        assert_eq!(ja4(&ch), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn spec_alpn_values() {
        for (value, code) in [
            (&b"h2"[..], "h2"),
            (b"http/1.1", "h1"),
            (b"a", "aa"),
            (&[0xab], "ab"),
            (&[0x20], "20"),
            (&[0xab, 0xcd], "ad"),
            (&[0x20, 0x61], "21"),
            (&[0x30, 0xab], "3b"),
            (&[0x61, 0x20], "60"),
            (&[0x30, 0x31, 0xab, 0xcd], "3d"),
            (&[0x30, 0xab, 0xcd, 0x31], "01"),
        ] {
            assert_eq!(alpn_code(Some(value)), code, "{value:02x?}");
        }
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(&[])), "00");
    }

    #[test]
    fn without_supported_versions_the_legacy_version_counts_and_no_sni_is_i() {
        let ch = ClientHelloFacts {
            version: Some(TlsVersion(0x0301)),
            cipher_suites: vec![CipherSuiteId(0x000a), CipherSuiteId(0x002f)],
            extensions: vec![0x000d, 0x0016],
            signature_algorithms: vec![0x0401],
            ..ClientHelloFacts::default()
        };
        let fp = ja4(&ch);
        assert!(fp.starts_with("t10i020200_"), "{fp}");
        let expected_b = truncated_hash("000a,002f");
        let expected_c = truncated_hash("000d,0016_0401");
        assert_eq!(fp, format!("t10i020200_{expected_b}_{expected_c}"));
    }

    #[test]
    fn counts_cap_at_99_and_empty_lists_hash_to_zeros() {
        let ch = ClientHelloFacts {
            cipher_suites: (1..=120).map(CipherSuiteId).collect(),
            ..ClientHelloFacts::default()
        };
        let fp = ja4(&ch);
        assert!(fp.starts_with("t00i990000_"), "{fp}");
        assert!(fp.ends_with("_000000000000"), "{fp}");
    }
}
