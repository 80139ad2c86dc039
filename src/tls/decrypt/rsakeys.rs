//! Server RSA private keys, for connections with RSA key exchange (such as
//! TLS_RSA_WITH_3DES_EDE_CBC_SHA): the pre-master secret travels in the
//! ClientKeyExchange encrypted to the server certificate's key.
//!
//! Owns [`RsaKeys`]: keys loaded from PEM files (PKCS#1 `RSA PRIVATE KEY`
//! and PKCS#8 `PRIVATE KEY` blocks; other blocks such as certificates are
//! skipped), matched to a connection by the RSA modulus of the server
//! certificate.

use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

use super::kdf::PREMASTER_LEN;
use super::DecryptError;
use crate::tls::model::TlsVersion;

/// Largest key file read. A PEM RSA key of 16384 bits is under 13 KiB; a
/// file bundling a chain and a few keys stays far below 1 MiB.
pub const MAX_KEY_FILE_LEN: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RsaKeyError {
    #[error("cannot read key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} is larger than {MAX_KEY_FILE_LEN} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: PEM block {block} (PKCS#1 RSA PRIVATE KEY) does not decode: {source}")]
    Pkcs1 {
        path: PathBuf,
        block: usize,
        #[source]
        source: rsa::pkcs1::Error,
    },
    #[error("{path}: PEM block {block} (PKCS#8 PRIVATE KEY) is not a readable RSA key: {source}")]
    Pkcs8 {
        path: PathBuf,
        block: usize,
        #[source]
        source: rsa::pkcs8::Error,
    },
    #[error("{path}: PEM block {block} is an encrypted private key; decrypt it first (openssl pkey -in KEY -out PLAIN)")]
    Encrypted { path: PathBuf, block: usize },
    #[error("{path}: no RSA private key found")]
    NoKey { path: PathBuf },
}

struct LoadedKey {
    key: RsaPrivateKey,
    /// Big-endian modulus without leading zeros: the match key.
    modulus: Vec<u8>,
}

/// RSA private keys from one or more PEM files.
#[derive(Default)]
pub struct RsaKeys {
    keys: Vec<LoadedKey>,
}

impl std::fmt::Debug for RsaKeys {
    // Private keys stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeys")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl RsaKeys {
    pub fn new() -> RsaKeys {
        RsaKeys::default()
    }

    /// Adds every RSA private key of a PEM file; returns how many.
    pub fn add_file(&mut self, path: &Path) -> Result<usize, RsaKeyError> {
        use std::io::Read;
        let io = |source| RsaKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(MAX_KEY_FILE_LEN + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_KEY_FILE_LEN {
            return Err(RsaKeyError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        self.add_pem(path, &text)
    }

    /// Adds every RSA private key of PEM text; `path` names it in errors.
    pub fn add_pem(&mut self, path: &Path, text: &str) -> Result<usize, RsaKeyError> {
        let mut added = 0;
        for (block, (label, pem)) in pem_blocks(text).enumerate() {
            let key = match label {
                "RSA PRIVATE KEY" => {
                    RsaPrivateKey::from_pkcs1_pem(pem).map_err(|source| RsaKeyError::Pkcs1 {
                        path: path.to_path_buf(),
                        block,
                        source,
                    })?
                }
                "PRIVATE KEY" => {
                    RsaPrivateKey::from_pkcs8_pem(pem).map_err(|source| RsaKeyError::Pkcs8 {
                        path: path.to_path_buf(),
                        block,
                        source,
                    })?
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(RsaKeyError::Encrypted {
                        path: path.to_path_buf(),
                        block,
                    })
                }
                _ => continue,
            };
            self.push(key);
            added += 1;
        }
        if added == 0 {
            return Err(RsaKeyError::NoKey {
                path: path.to_path_buf(),
            });
        }
        Ok(added)
    }

    /// Adds an already decoded key.
    pub fn push(&mut self, key: RsaPrivateKey) {
        let modulus = strip_zeros(&key.n().to_bytes_be()).to_vec();
        self.keys.push(LoadedKey { key, modulus });
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key whose modulus is `modulus` (big-endian, leading zeros ignored).
    pub fn find_for_modulus(&self, modulus: &[u8]) -> Option<&RsaPrivateKey> {
        let m = strip_zeros(modulus);
        self.keys.iter().find(|k| k.modulus == m).map(|k| &k.key)
    }

    /// The key matching a DER SubjectPublicKeyInfo; `None` for non-RSA keys.
    pub fn find_for_spki_der(&self, spki: &[u8]) -> Option<&RsaPrivateKey> {
        let public = RsaPublicKey::from_public_key_der(spki).ok()?;
        self.find_for_modulus(&public.n().to_bytes_be())
    }

    /// The key matching the public key of a DER X.509 certificate (the
    /// server's end-entity certificate).
    pub fn find_for_cert_der(&self, cert_der: &[u8]) -> Option<&RsaPrivateKey> {
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
        self.find_for_spki_der(cert.public_key().raw)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// `(label, whole block text)` of each `-----BEGIN label-----` …
/// `-----END label-----` block.
fn pem_blocks(text: &str) -> impl Iterator<Item = (&str, &str)> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let start = rest.find(BEGIN)?;
        let after = &rest[start + BEGIN.len()..];
        let label_end = after.find(DASHES)?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            // An unterminated block: skip its BEGIN line and look further.
            rest = &rest[start + BEGIN.len()..];
            continue;
        };
        let block_end = start + end + end_marker.len();
        let block = &rest[start..block_end];
        rest = &rest[block_end..];
        return Some((label, block));
    })
}

/// Decrypts the pre-master secret of an RSA ClientKeyExchange. `cke_body` is
/// the handshake message body: TLS 1.0+ prefixes the encrypted value with a
/// 2-byte length (RFC 5246 §7.4.7.1), SSL 3.0 does not. Returns
/// [`DecryptError::KeyMismatch`] when the value was not encrypted to `key`
/// (wrong key: the PKCS#1 v1.5 padding or the 48-byte length does not check).
pub fn decrypt_premaster(
    key: &RsaPrivateKey,
    version: TlsVersion,
    cke_body: &[u8],
) -> Result<[u8; PREMASTER_LEN], DecryptError> {
    let k = key.size();
    let encrypted = if version != TlsVersion::SSL3 && cke_body.len() == k + 2 {
        let declared = cke_body
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        if declared != Some(k) {
            return Err(DecryptError::KeyMismatch);
        }
        &cke_body[2..]
    } else if cke_body.len() == k {
        cke_body
    } else {
        // A modulus of another size than the one that encrypted it.
        return Err(DecryptError::KeyMismatch);
    };
    let pms = key
        .decrypt(Pkcs1v15Encrypt, encrypted)
        .map_err(|_| DecryptError::KeyMismatch)?;
    pms.as_slice()
        .try_into()
        .map_err(|_| DecryptError::KeyMismatch)
}
