//! Cipher-suite parameters needed to turn secrets into record keys: key
//! exchange, bulk cipher, MAC and PRF hash per suite id.
//!
//! Owns the table [`SUITES`]. Invariants: every suite listed here can be
//! decrypted by [`RecordDecryptor`](super::RecordDecryptor); a suite not in the
//! table is [`DecryptError::UnknownSuite`](super::DecryptError::UnknownSuite).
//! Whether a suite is CBC, and its block and MAC sizes, are decided by
//! [`crate::tls::suites`]; this table only names the primitives that
//! implement them, and its tests hold every row to that one table.

use crate::tls::model::CipherSuiteId;

/// How the pre-master / shared secret is agreed. Only `Rsa` can be decrypted
/// from a server private key; the others need a key log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchange {
    Rsa,
    Dhe,
    Ecdhe,
    /// TLS 1.3 suites do not name the key exchange.
    Tls13,
}

/// Bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkCipher {
    TripleDesCbc,
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl BulkCipher {
    pub fn key_len(self) -> usize {
        match self {
            BulkCipher::TripleDesCbc => 24,
            BulkCipher::Aes128Cbc | BulkCipher::Aes128Gcm => 16,
            BulkCipher::Aes256Cbc | BulkCipher::Aes256Gcm | BulkCipher::ChaCha20Poly1305 => 32,
        }
    }

    /// Block size for CBC ciphers, `None` for AEADs.
    pub fn block_len(self) -> Option<usize> {
        match self {
            BulkCipher::TripleDesCbc => Some(8),
            BulkCipher::Aes128Cbc | BulkCipher::Aes256Cbc => Some(16),
            _ => None,
        }
    }

    pub fn is_aead(self) -> bool {
        self.block_len().is_none()
    }

    /// Length of the IV taken from the TLS ≤1.2 key block: the CBC block for
    /// TLS 1.0's chained IV, the 4-byte implicit GCM salt (RFC 5288), the
    /// 12-byte ChaCha20-Poly1305 nonce mask (RFC 7905).
    pub fn key_block_iv_len(self) -> usize {
        match self {
            BulkCipher::TripleDesCbc => 8,
            BulkCipher::Aes128Cbc | BulkCipher::Aes256Cbc => 16,
            BulkCipher::Aes128Gcm | BulkCipher::Aes256Gcm => 4,
            BulkCipher::ChaCha20Poly1305 => 12,
        }
    }
}

/// Record MAC of a suite (`Aead` = the cipher's own tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    Aead,
}

impl MacAlg {
    pub fn len(self) -> usize {
        match self {
            MacAlg::HmacSha1 => 20,
            MacAlg::HmacSha256 => 32,
            MacAlg::HmacSha384 => 48,
            MacAlg::Aead => 0,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Hash of the TLS 1.2 PRF / TLS 1.3 HKDF. TLS 1.0/1.1 always use the
/// MD5 ⊕ SHA-1 PRF whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfHash {
    Sha256,
    Sha384,
}

/// Parameters of one cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuiteParams {
    pub id: CipherSuiteId,
    pub name: &'static str,
    pub kx: KeyExchange,
    pub cipher: BulkCipher,
    pub mac: MacAlg,
    pub prf: PrfHash,
}

const fn s(
    id: u16,
    name: &'static str,
    kx: KeyExchange,
    cipher: BulkCipher,
    mac: MacAlg,
    prf: PrfHash,
) -> SuiteParams {
    SuiteParams {
        id: CipherSuiteId(id),
        name,
        kx,
        cipher,
        mac,
        prf,
    }
}

use BulkCipher::*;
use KeyExchange::*;
use MacAlg::*;
use PrfHash::*;

/// Suites this module decrypts, from the IANA TLS Cipher Suites registry
/// (names without the `TLS_` prefix). Sorted by id.
pub static SUITES: &[SuiteParams] = &[
    s(
        0x000a,
        "RSA_WITH_3DES_EDE_CBC_SHA",
        Rsa,
        TripleDesCbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0x0016,
        "DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        Dhe,
        TripleDesCbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0x002f,
        "RSA_WITH_AES_128_CBC_SHA",
        Rsa,
        Aes128Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0x0033,
        "DHE_RSA_WITH_AES_128_CBC_SHA",
        Dhe,
        Aes128Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0x0035,
        "RSA_WITH_AES_256_CBC_SHA",
        Rsa,
        Aes256Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0x0039,
        "DHE_RSA_WITH_AES_256_CBC_SHA",
        Dhe,
        Aes256Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0x003c,
        "RSA_WITH_AES_128_CBC_SHA256",
        Rsa,
        Aes128Cbc,
        HmacSha256,
        Sha256,
    ),
    s(
        0x003d,
        "RSA_WITH_AES_256_CBC_SHA256",
        Rsa,
        Aes256Cbc,
        HmacSha256,
        Sha256,
    ),
    s(
        0x0067,
        "DHE_RSA_WITH_AES_128_CBC_SHA256",
        Dhe,
        Aes128Cbc,
        HmacSha256,
        Sha256,
    ),
    s(
        0x006b,
        "DHE_RSA_WITH_AES_256_CBC_SHA256",
        Dhe,
        Aes256Cbc,
        HmacSha256,
        Sha256,
    ),
    s(
        0x009c,
        "RSA_WITH_AES_128_GCM_SHA256",
        Rsa,
        Aes128Gcm,
        Aead,
        Sha256,
    ),
    s(
        0x009d,
        "RSA_WITH_AES_256_GCM_SHA384",
        Rsa,
        Aes256Gcm,
        Aead,
        Sha384,
    ),
    s(
        0x009e,
        "DHE_RSA_WITH_AES_128_GCM_SHA256",
        Dhe,
        Aes128Gcm,
        Aead,
        Sha256,
    ),
    s(
        0x009f,
        "DHE_RSA_WITH_AES_256_GCM_SHA384",
        Dhe,
        Aes256Gcm,
        Aead,
        Sha384,
    ),
    s(0x1301, "AES_128_GCM_SHA256", Tls13, Aes128Gcm, Aead, Sha256),
    s(0x1302, "AES_256_GCM_SHA384", Tls13, Aes256Gcm, Aead, Sha384),
    s(
        0x1303,
        "CHACHA20_POLY1305_SHA256",
        Tls13,
        ChaCha20Poly1305,
        Aead,
        Sha256,
    ),
    s(
        0xc008,
        "ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        Ecdhe,
        TripleDesCbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0xc009,
        "ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        Ecdhe,
        Aes128Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0xc00a,
        "ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        Ecdhe,
        Aes256Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0xc012,
        "ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        Ecdhe,
        TripleDesCbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0xc013,
        "ECDHE_RSA_WITH_AES_128_CBC_SHA",
        Ecdhe,
        Aes128Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0xc014,
        "ECDHE_RSA_WITH_AES_256_CBC_SHA",
        Ecdhe,
        Aes256Cbc,
        HmacSha1,
        Sha256,
    ),
    s(
        0xc023,
        "ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        Ecdhe,
        Aes128Cbc,
        HmacSha256,
        Sha256,
    ),
    s(
        0xc024,
        "ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        Ecdhe,
        Aes256Cbc,
        HmacSha384,
        Sha384,
    ),
    s(
        0xc027,
        "ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        Ecdhe,
        Aes128Cbc,
        HmacSha256,
        Sha256,
    ),
    s(
        0xc028,
        "ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        Ecdhe,
        Aes256Cbc,
        HmacSha384,
        Sha384,
    ),
    s(
        0xc02b,
        "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Ecdhe,
        Aes128Gcm,
        Aead,
        Sha256,
    ),
    s(
        0xc02c,
        "ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Ecdhe,
        Aes256Gcm,
        Aead,
        Sha384,
    ),
    s(
        0xc02f,
        "ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Ecdhe,
        Aes128Gcm,
        Aead,
        Sha256,
    ),
    s(
        0xc030,
        "ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Ecdhe,
        Aes256Gcm,
        Aead,
        Sha384,
    ),
    s(
        0xcca8,
        "ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Ecdhe,
        ChaCha20Poly1305,
        Aead,
        Sha256,
    ),
    s(
        0xcca9,
        "ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Ecdhe,
        ChaCha20Poly1305,
        Aead,
        Sha256,
    ),
    s(
        0xccaa,
        "DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Dhe,
        ChaCha20Poly1305,
        Aead,
        Sha256,
    ),
];

/// Parameters of `id`, or `None` when this module cannot decrypt it.
pub fn suite_params(id: CipherSuiteId) -> Option<&'static SuiteParams> {
    SUITES
        .binary_search_by_key(&id.0, |p| p.id.0)
        .ok()
        .and_then(|i| SUITES.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_binary_search_finds_every_suite() {
        assert!(SUITES.windows(2).all(|w| w[0].id.0 < w[1].id.0));
        for p in SUITES {
            assert_eq!(suite_params(p.id), Some(p));
        }
    }

    #[test]
    fn required_suites_are_present() {
        for id in [
            0x000a, 0x002f, 0x0035, 0x003c, 0x003d, 0x009c, 0x009d, 0xc009, 0xc00a, 0xc013, 0xc014,
            0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca8, 0xcca9, 0x1301, 0x1302, 0x1303,
        ] {
            assert!(suite_params(CipherSuiteId(id)).is_some(), "{id:#06x}");
        }
        assert_eq!(suite_params(CipherSuiteId(0x0005)), None);
    }

    #[test]
    fn every_row_agrees_with_the_suite_table_on_kind_block_and_mac() {
        use crate::tls::suites::{cbc_layout, kind, SuiteKind};
        for p in SUITES {
            let layout = p.cipher.block_len().map(|b| (b as u16, p.mac.len() as u16));
            assert_eq!(cbc_layout(p.id), layout, "{}", p.name);
            let want = if p.cipher.is_aead() {
                SuiteKind::Aead
            } else {
                SuiteKind::Block
            };
            assert_eq!(kind(p.id), Some(want), "{}", p.name);
            assert_eq!(
                crate::tls::suites::name(p.id).map(|n| n.trim_start_matches("TLS_")),
                Some(p.name),
                "{:#06x}",
                p.id.0
            );
        }
    }

    #[test]
    fn sha384_suites_use_sha384_prf() {
        for p in SUITES {
            assert_eq!(
                p.name.ends_with("SHA384"),
                p.prf == PrfHash::Sha384,
                "{}",
                p.name
            );
        }
    }
}
