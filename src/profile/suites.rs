//! Cipher-suite knowledge the profile, the checks and the report need: IANA
//! name ↔ id, and whether a suite is a block cipher (the only kind that can
//! carry a non-empty "empty fragment", spec §3.3).
//!
//! This is the one place above the TLS stage that touches tls-parser's
//! generated IANA table, so swapping it for `tls::suites` later is a
//! one-file change. No tls-parser type escapes this module (R6).

use crate::tls::model::CipherSuiteId;

/// IANA name of a suite, if known.
pub fn name(id: CipherSuiteId) -> Option<&'static str> {
    tls_parser::TlsCipherSuite::from_id(id.0).map(|c| c.name)
}

/// IANA name, else the id as `0x%04x` (report form).
pub fn display(id: CipherSuiteId) -> String {
    name(id).map_or_else(|| id.hex(), str::to_string)
}

/// Id of an IANA name (exact, case-insensitive).
pub fn from_name(name: &str) -> Option<CipherSuiteId> {
    if let Some(s) = tls_parser::TlsCipherSuite::from_name(name) {
        return Some(CipherSuiteId(s.id.0));
    }
    let upper = name.to_ascii_uppercase();
    tls_parser::TlsCipherSuite::from_name(&upper).map(|s| CipherSuiteId(s.id.0))
}

/// How the record payload of a suite is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteKind {
    /// CBC block cipher: an empty plaintext still yields MAC + padding.
    Block,
    /// Stream cipher (RC4) or NULL encryption.
    Stream,
    /// AEAD (GCM, CCM, ChaCha20-Poly1305): TLS 1.2+ only.
    Aead,
}

/// Kind of a suite; `None` when the id is not in the IANA table.
pub fn kind(id: CipherSuiteId) -> Option<SuiteKind> {
    let s = tls_parser::TlsCipherSuite::from_id(id.0)?;
    Some(match s.enc_mode {
        tls_parser::TlsCipherEncMode::Cbc => SuiteKind::Block,
        tls_parser::TlsCipherEncMode::Null => SuiteKind::Stream,
        _ if matches!(s.enc, tls_parser::TlsCipherEnc::Chacha20_Poly1305) => SuiteKind::Aead,
        _ if matches!(s.enc, tls_parser::TlsCipherEnc::Rc4) => SuiteKind::Stream,
        _ => SuiteKind::Aead,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triple_des_suite_round_trips_by_name_and_is_block() {
        let id = from_name("TLS_RSA_WITH_3DES_EDE_CBC_SHA").expect("known suite");
        assert_eq!(id, CipherSuiteId(0x000a));
        assert_eq!(name(id), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert_eq!(kind(id), Some(SuiteKind::Block));
    }

    #[test]
    fn gcm_is_aead_and_rc4_is_stream_and_unknown_is_hex() {
        assert_eq!(kind(CipherSuiteId(0x009c)), Some(SuiteKind::Aead));
        assert_eq!(kind(CipherSuiteId(0x0005)), Some(SuiteKind::Stream));
        assert_eq!(display(CipherSuiteId(0xfefe)), "0xfefe");
        assert_eq!(kind(CipherSuiteId(0xfefe)), None);
    }

    #[test]
    fn lowercase_name_is_accepted() {
        assert_eq!(
            from_name("tls_rsa_with_3des_ede_cbc_sha"),
            Some(CipherSuiteId(0x000a))
        );
    }
}
