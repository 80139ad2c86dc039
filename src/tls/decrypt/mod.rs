//! TLS record decryption from the keys an administrator actually has: an NSS
//! key log (`SSLKEYLOGFILE`) or the server's RSA private key.
//!
//! Why: without keys an empty application-data fragment and a 1/n-1 record
//! split look the same on the wire (both are a minimal-size record followed
//! by more data); with keys the plaintext length is exact.
//!
//! Owns: key log parsing ([`KeyLog`]), RSA key loading and pre-master
//! decryption ([`RsaKeys`]), the cipher-suite parameter table
//! ([`suites::SUITES`]), key derivation ([`kdf`]: TLS 1.0/1.1/1.2 PRFs,
//! master/extended master secret, key block, TLS 1.3 HKDF-Expand-Label),
//! and per-direction record decryption ([`RecordDecryptor`]). Imports only
//! TLS code-point types from [`crate::tls::model`].
//!
//! Use: after the handshake, build a [`SessionParams`] from the hellos and
//! call [`SessionKeys::from_keylog`] (or [`SessionKeys::from_rsa`] with the
//! server certificate and ClientKeyExchange); for TLS 1.3,
//! [`Tls13Keys::from_keylog`]. Feed every record of a direction after its
//! ChangeCipherSpec, in order, either to [`RecordDecryptor::decrypt`] or — for
//! records whose content does not matter — to the cheap
//! [`RecordDecryptor::advance`], which only needs the last
//! [`RecordDecryptor::tail_len`] bytes. Decrypt at least the first record
//! (the Finished message): its failure means the key is wrong
//! ([`DecryptError::indicates_wrong_key`]).
//!
//! Not supported: SSL 3.0 (its MAC is not HMAC), NULL and RC4 suites, TLS 1.3
//! KeyUpdate and early data, compression.

pub mod kdf;
pub mod keylog;
pub mod record;
pub mod rsakeys;
pub mod session;
pub mod suites;

#[cfg(test)]
mod capture_tests;
#[cfg(test)]
mod tests;

pub use keylog::{KeyLog, KeyLogError, KeyLogProblem, Tls13Secrets};
pub use record::{Plaintext, RecordDecryptor, MAX_CIPHERTEXT_LEN};
pub use rsakeys::{decrypt_premaster, RsaKeyError, RsaKeys};
pub use session::{SessionKeys, SessionParams, Tls13Keys};
pub use suites::{suite_params, BulkCipher, KeyExchange, MacAlg, PrfHash, SuiteParams};

use crate::tls::model::{CipherSuiteId, TlsVersion};

/// The keys given on the command line (`--keylog`, `--rsa-key`), loaded once
/// before any packet is read and shared read-only by every flow.
#[derive(Default)]
pub struct Keys {
    pub keylog: KeyLog,
    pub rsa: RsaKeys,
}

impl Keys {
    /// Loads every key log and RSA key file; the first bad file is the error
    /// (with file and line for key logs).
    pub fn load(
        keylogs: &[std::path::PathBuf],
        rsa_keys: &[std::path::PathBuf],
    ) -> Result<Keys, KeysError> {
        let mut keys = Keys::default();
        for p in keylogs {
            keys.keylog.add_file(p)?;
        }
        for p in rsa_keys {
            keys.rsa.add_file(p)?;
        }
        Ok(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.keylog.is_empty() && self.rsa.is_empty()
    }
}

impl std::fmt::Debug for Keys {
    // Secrets stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("keylog_entries", &self.keylog.len())
            .field("rsa_keys", &self.rsa.len())
            .finish()
    }
}

/// A key file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    KeyLog(#[from] KeyLogError),
    #[error(transparent)]
    Rsa(#[from] RsaKeyError),
}

/// Why a session could not be keyed or a record not decrypted. Record
/// errors carry `seq`, the record's sequence number under its keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("cipher suite {:#06x} cannot be decrypted", suite.0)]
    UnknownSuite { suite: CipherSuiteId },
    #[error("version {version} cannot be decrypted")]
    UnsupportedVersion { version: TlsVersion },
    #[error("cipher suite {:#06x} does not use RSA key exchange; a key log is needed", suite.0)]
    NotRsaKeyExchange { suite: CipherSuiteId },
    #[error("no key for this connection")]
    NoKey,
    #[error("the RSA private key does not decrypt this ClientKeyExchange (wrong key)")]
    KeyMismatch,
    #[error("secret or key of {got} bytes has the wrong length")]
    BadSecretLength { got: usize },
    #[error("record {seq}: {got} bytes is too short (need {need})")]
    Truncated { seq: u64, need: usize, got: usize },
    #[error(
        "record {seq}: ciphertext of {len} bytes is not a whole number of {block}-byte blocks"
    )]
    BadBlockLength { seq: u64, len: usize, block: usize },
    #[error("record {seq}: {len} bytes exceeds the TLS maximum {max}")]
    RecordTooLong { seq: u64, len: usize, max: usize },
    #[error("record {seq}: bad CBC padding")]
    BadPadding { seq: u64 },
    #[error("record {seq}: MAC check failed")]
    BadMac { seq: u64 },
    #[error("record {seq}: AEAD tag check failed")]
    BadTag { seq: u64 },
    #[error("record {seq}: TLS 1.3 plaintext has no content type (all zeros)")]
    NoInnerContentType { seq: u64 },
    #[error("record {seq}: the CBC IV chain was lost at an earlier record")]
    ChainLost { seq: u64 },
}

impl DecryptError {
    /// Bad padding, MAC or tag: the record does not authenticate under
    /// these keys.
    pub fn is_integrity_failure(&self) -> bool {
        matches!(
            self,
            DecryptError::BadPadding { .. }
                | DecryptError::BadMac { .. }
                | DecryptError::BadTag { .. }
        )
    }

    /// True when the error means the key itself is wrong rather than one
    /// record being damaged: the RSA key does not open the ClientKeyExchange,
    /// or the first record under the keys (the Finished message, which a
    /// peer with the right keys never sends broken) fails to authenticate.
    pub fn indicates_wrong_key(&self) -> bool {
        match self {
            DecryptError::KeyMismatch => true,
            DecryptError::BadPadding { seq }
            | DecryptError::BadMac { seq }
            | DecryptError::BadTag { seq } => *seq == 0,
            _ => false,
        }
    }
}
