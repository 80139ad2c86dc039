//! Cipher-suite knowledge, the one table every stage asks: IANA name ↔ id,
//! the kind of protection ([`kind`]: block, stream, AEAD), the CBC layout
//! (block and MAC size, [`cbc_layout`]) and from it the minimal ciphertext
//! length of an application-data record (what an "empty fragment" looks
//! like on the wire). The decryptor's own table (`decrypt::suites`) names
//! the primitives it implements; its tests hold it to this one.
//!
//! Owns: [`name`], [`display`], [`from_name`], [`kind`], [`cbc_layout`],
//! [`minimal_record_len`]. The suite table is tls-parser's (generated from
//! the IANA registry); nothing here is keyed to captures, and no tls-parser
//! type escapes this module.
//!
//! Invariant: `minimal_record_len` is `Some` only for CBC suites of TLS ≤ 1.2
//! whose block size and MAC size are known; AEAD, stream, NULL and TLS 1.3
//! suites cannot carry a distinguishable empty fragment and yield `None`.

use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherMac, TlsCipherSuite};

use super::model::{CipherSuiteId, TlsVersion};

/// IANA name of a registered suite (`TLS_RSA_WITH_3DES_EDE_CBC_SHA`), `None` when unregistered.
pub fn name(id: CipherSuiteId) -> Option<&'static str> {
    TlsCipherSuite::from_id(id.0).map(|s| s.name)
}

/// IANA name, else the id as `0x%04x` (report form).
pub fn display(id: CipherSuiteId) -> String {
    name(id).map_or_else(|| id.hex(), str::to_string)
}

/// Id of an IANA name (exact, case-insensitive).
pub fn from_name(name: &str) -> Option<CipherSuiteId> {
    if let Some(s) = TlsCipherSuite::from_name(name) {
        return Some(CipherSuiteId(s.id.0));
    }
    let upper = name.to_ascii_uppercase();
    TlsCipherSuite::from_name(&upper).map(|s| CipherSuiteId(s.id.0))
}

/// How the record payload of a suite is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteKind {
    /// CBC block cipher: an empty plaintext still yields MAC + padding
    /// (the only kind that can carry a non-empty "empty fragment").
    Block,
    /// Stream cipher (RC4) or NULL encryption.
    Stream,
    /// AEAD (GCM, CCM, ChaCha20-Poly1305): TLS 1.2+ only.
    Aead,
}

/// Kind of a suite; `None` when the id is not in the IANA table.
pub fn kind(id: CipherSuiteId) -> Option<SuiteKind> {
    let s = TlsCipherSuite::from_id(id.0)?;
    Some(match s.enc_mode {
        TlsCipherEncMode::Cbc => SuiteKind::Block,
        // tls-parser gives ChaCha20-Poly1305 no mode (`Null`): test the cipher first.
        _ if matches!(s.enc, TlsCipherEnc::Chacha20_Poly1305) => SuiteKind::Aead,
        TlsCipherEncMode::Null => SuiteKind::Stream,
        _ if matches!(s.enc, TlsCipherEnc::Rc4) => SuiteKind::Stream,
        _ => SuiteKind::Aead,
    })
}

/// Block size in bytes of a block cipher, `None` for stream/AEAD/NULL ciphers.
fn block_size(enc: TlsCipherEnc) -> Option<u16> {
    match enc {
        TlsCipherEnc::Des | TlsCipherEnc::TripleDes | TlsCipherEnc::Rc2 | TlsCipherEnc::Idea => {
            Some(8)
        }
        TlsCipherEnc::Aes
        | TlsCipherEnc::Camellia
        | TlsCipherEnc::Aria
        | TlsCipherEnc::Seed
        | TlsCipherEnc::Sm4 => Some(16),
        _ => None,
    }
}

/// MAC length in bytes of an HMAC suite.
fn mac_len(mac: TlsCipherMac) -> Option<u16> {
    match mac {
        TlsCipherMac::HmacMd5 => Some(16),
        TlsCipherMac::HmacSha1 => Some(20),
        TlsCipherMac::HmacSha256 => Some(32),
        TlsCipherMac::HmacSha384 => Some(48),
        TlsCipherMac::HmacSha512 => Some(64),
        _ => None,
    }
}

/// Block size and MAC length (bytes) of a CBC suite; `None` for other
/// kinds (stream, AEAD) and unknown ids. What record lengths a suite can
/// produce follows from these: MAC-then-encrypt writes multiples of the
/// block, encrypt-then-MAC a multiple of the block plus the MAC.
pub fn cbc_layout(suite: CipherSuiteId) -> Option<(u16, u16)> {
    let s = TlsCipherSuite::from_id(suite.0)?;
    if s.enc_mode != TlsCipherEncMode::Cbc {
        return None;
    }
    Some((block_size(s.enc)?, mac_len(s.mac)?))
}

/// Wire length of an application-data record carrying 0 bytes of plaintext
/// (or 1 byte, which pads to the same size) for `suite` under `version`.
///
/// MAC-then-encrypt: round (MAC + 1 padding-length byte) up to the block
/// size; TLS ≥ 1.1 adds an explicit IV of one block. Encrypt-then-MAC: the
/// MAC is outside the padding, so IV (TLS ≥ 1.1) + one block + MAC.
pub fn minimal_record_len(
    version: TlsVersion,
    suite: CipherSuiteId,
    encrypt_then_mac: bool,
) -> Option<u16> {
    if version.is_tls13() || version.0 < TlsVersion::SSL3.0 || version.0 > TlsVersion::TLS12.0 {
        return None;
    }
    let (block, mac) = cbc_layout(suite)?;
    let iv = if version.0 >= TlsVersion::TLS11.0 {
        block
    } else {
        0
    };
    if encrypt_then_mac {
        Some(iv + block + mac)
    } else {
        Some(iv + (mac + 1).div_ceil(block) * block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_iana_table() {
        assert_eq!(
            name(CipherSuiteId(0x000a)),
            Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA")
        );
        assert_eq!(name(CipherSuiteId(0x1301)), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(name(CipherSuiteId(0x0a0a)), None);
    }

    #[test]
    fn minimal_len_matches_the_spec_examples() {
        let v10 = TlsVersion::TLS10;
        assert_eq!(
            minimal_record_len(v10, CipherSuiteId(0x000a), false),
            Some(24)
        );
        assert_eq!(
            minimal_record_len(v10, CipherSuiteId(0x002f), false),
            Some(32)
        );
        assert_eq!(
            minimal_record_len(TlsVersion::TLS11, CipherSuiteId(0x000a), false),
            Some(32)
        );
        assert_eq!(
            minimal_record_len(TlsVersion::TLS12, CipherSuiteId(0xc028), false),
            Some(80)
        );
        assert_eq!(
            minimal_record_len(TlsVersion::TLS12, CipherSuiteId(0x002f), true),
            Some(16 + 16 + 20)
        );
    }

    #[test]
    fn triple_des_suite_round_trips_by_name_and_is_block() {
        let id = from_name("TLS_RSA_WITH_3DES_EDE_CBC_SHA").expect("known suite");
        assert_eq!(id, CipherSuiteId(0x000a));
        assert_eq!(name(id), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert_eq!(kind(id), Some(SuiteKind::Block));
        assert_eq!(cbc_layout(id), Some((8, 20)));
    }

    #[test]
    fn gcm_is_aead_and_rc4_is_stream_and_unknown_is_hex() {
        assert_eq!(kind(CipherSuiteId(0x009c)), Some(SuiteKind::Aead));
        assert_eq!(kind(CipherSuiteId(0x0005)), Some(SuiteKind::Stream));
        assert_eq!(display(CipherSuiteId(0xfefe)), "0xfefe");
        assert_eq!(kind(CipherSuiteId(0xfefe)), None);
        assert_eq!(cbc_layout(CipherSuiteId(0x009c)), None);
        assert_eq!(kind(CipherSuiteId(0xcca8)), Some(SuiteKind::Aead));
        assert_eq!(
            kind(CipherSuiteId(0x0002)),
            Some(SuiteKind::Stream),
            "NULL_SHA"
        );
    }

    #[test]
    fn lowercase_name_is_accepted() {
        assert_eq!(
            from_name("tls_rsa_with_3des_ede_cbc_sha"),
            Some(CipherSuiteId(0x000a))
        );
    }

    #[test]
    fn aead_stream_and_tls13_have_no_minimal_len() {
        let v12 = TlsVersion::TLS12;
        assert_eq!(minimal_record_len(v12, CipherSuiteId(0xc02f), false), None);
        assert_eq!(minimal_record_len(v12, CipherSuiteId(0x0005), false), None);
        assert_eq!(
            minimal_record_len(TlsVersion::TLS13, CipherSuiteId(0x1301), false),
            None
        );
        assert_eq!(
            minimal_record_len(TlsVersion::TLS13, CipherSuiteId(0x000a), false),
            None
        );
    }
}
