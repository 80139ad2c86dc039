//! Cipher-suite knowledge: IANA names and the minimal ciphertext length of an
//! application-data record (what an "empty fragment" looks like on the wire).
//!
//! Owns: [`name`], [`minimal_record_len`]. The suite table is tls-parser's
//! (generated from the IANA registry); nothing here is keyed to captures.
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
    let s = TlsCipherSuite::from_id(suite.0)?;
    if s.enc_mode != TlsCipherEncMode::Cbc {
        return None;
    }
    let block = block_size(s.enc)?;
    let mac = mac_len(s.mac)?;
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
