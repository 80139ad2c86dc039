//! Session key setup: from the secrets of one connection (a TLS ≤1.2 master
//! secret, or the TLS 1.3 traffic secrets) to one [`RecordDecryptor`] per
//! direction.
//!
//! Owns the key-block layout (RFC 5246 §6.3) and the TLS 1.3 traffic-key
//! derivation (RFC 8446 §7.3). Stateless apart from what it returns.

use super::kdf::{self, Prf, MASTER_SECRET_LEN, RANDOM_LEN};
use super::keylog::{KeyLog, Tls13Secrets};
use super::record::RecordDecryptor;
use super::rsakeys::RsaKeys;
use super::suites::{suite_params, KeyExchange, SuiteParams};
use super::DecryptError;
use crate::tls::model::{CipherSuiteId, TlsVersion};

/// Largest key block: 2 × (48-byte MAC key + 32-byte key + 16-byte IV).
const MAX_KEY_BLOCK_LEN: usize = 2 * (48 + 32 + 16);

/// What the handshake of a TLS ≤1.2 connection negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    /// Negotiated version (ServerHello).
    pub version: TlsVersion,
    pub suite: CipherSuiteId,
    pub client_random: [u8; RANDOM_LEN],
    pub server_random: [u8; RANDOM_LEN],
    /// Both hellos carried encrypt_then_mac (RFC 7366); only matters for CBC.
    pub encrypt_then_mac: bool,
}

impl SessionParams {
    fn suite(&self) -> Result<&'static SuiteParams, DecryptError> {
        let p = suite_params(self.suite).ok_or(DecryptError::UnknownSuite { suite: self.suite })?;
        if p.kx == KeyExchange::Tls13 || self.version == TlsVersion::TLS13 {
            return Err(DecryptError::UnsupportedVersion {
                version: self.version,
            });
        }
        Ok(p)
    }

    fn prf(&self) -> Result<Prf, DecryptError> {
        Prf::for_version(self.version, self.suite()?.prf)
    }
}

/// Decryptors for both directions of a TLS ≤1.2 connection.
#[derive(Debug)]
pub struct SessionKeys {
    /// Records sent by the client (ClientHello sender).
    pub client: RecordDecryptor,
    /// Records sent by the server.
    pub server: RecordDecryptor,
}

impl SessionKeys {
    /// Keys from the master secret.
    pub fn derive(
        p: &SessionParams,
        master_secret: &[u8; MASTER_SECRET_LEN],
    ) -> Result<SessionKeys, DecryptError> {
        let suite = p.suite()?;
        let prf = p.prf()?;
        let mac_len = suite.mac.len();
        let key_len = suite.cipher.key_len();
        let iv_len = suite.cipher.key_block_iv_len();
        let total = 2 * (mac_len + key_len + iv_len);
        let mut block = [0u8; MAX_KEY_BLOCK_LEN];
        let block = block
            .get_mut(..total)
            .ok_or(DecryptError::BadSecretLength { got: total })?;
        kdf::key_block(
            prf,
            master_secret,
            &p.client_random,
            &p.server_random,
            block,
        );
        // client MAC, server MAC, client key, server key, client IV, server IV
        let (c_mac, rest) = block.split_at(mac_len);
        let (s_mac, rest) = rest.split_at(mac_len);
        let (c_key, rest) = rest.split_at(key_len);
        let (s_key, rest) = rest.split_at(key_len);
        let (c_iv, s_iv) = rest.split_at(iv_len);
        let etm = p.encrypt_then_mac && !suite.cipher.is_aead();
        Ok(SessionKeys {
            client: RecordDecryptor::from_keys(
                p.version,
                suite.cipher,
                suite.mac,
                c_key,
                c_mac,
                c_iv,
                etm,
            )?,
            server: RecordDecryptor::from_keys(
                p.version,
                suite.cipher,
                suite.mac,
                s_key,
                s_mac,
                s_iv,
                etm,
            )?,
        })
    }

    /// Keys from the key log entry of the connection's client random.
    /// [`DecryptError::NoKey`] when the log has no master secret for it.
    pub fn from_keylog(p: &SessionParams, keylog: &KeyLog) -> Result<SessionKeys, DecryptError> {
        p.suite()?;
        let ms = keylog
            .master_secret(&p.client_random)
            .ok_or(DecryptError::NoKey)?;
        SessionKeys::derive(p, ms)
    }

    /// Keys from the server's RSA private key (RSA key exchange only).
    /// `cert_der` is the server's end-entity certificate, `cke_body` the
    /// ClientKeyExchange body (after the 4-byte handshake header).
    /// `session_hash` is given when both hellos carried
    /// extended_master_secret (RFC 7627): the hash of the handshake messages
    /// up to and including the ClientKeyExchange.
    pub fn from_rsa(
        p: &SessionParams,
        keys: &RsaKeys,
        cert_der: &[u8],
        cke_body: &[u8],
        session_hash: Option<&[u8]>,
    ) -> Result<SessionKeys, DecryptError> {
        let suite = p.suite()?;
        if suite.kx != KeyExchange::Rsa {
            return Err(DecryptError::NotRsaKeyExchange { suite: p.suite });
        }
        let key = keys
            .find_for_cert_der(cert_der)
            .ok_or(DecryptError::NoKey)?;
        let pms = super::rsakeys::decrypt_premaster(key, p.version, cke_body)?;
        let prf = p.prf()?;
        let ms = match session_hash {
            Some(h) => kdf::extended_master_secret(prf, &pms, h),
            None => kdf::master_secret(prf, &pms, &p.client_random, &p.server_random),
        };
        SessionKeys::derive(p, &ms)
    }
}

/// Decryptors of a TLS 1.3 connection, one per traffic secret known.
/// Handshake keys protect the records from the server's
/// EncryptedExtensions / the client's Finished up to each side's Finished;
/// the application keys everything after (until a KeyUpdate, not followed).
#[derive(Debug, Default)]
pub struct Tls13Keys {
    pub client_handshake: Option<RecordDecryptor>,
    pub server_handshake: Option<RecordDecryptor>,
    pub client_application: Option<RecordDecryptor>,
    pub server_application: Option<RecordDecryptor>,
}

impl Tls13Keys {
    /// Decryptors for every secret present in `secrets`.
    pub fn derive(suite: CipherSuiteId, secrets: &Tls13Secrets) -> Result<Tls13Keys, DecryptError> {
        let p = suite_params(suite).ok_or(DecryptError::UnknownSuite { suite })?;
        if p.kx != KeyExchange::Tls13 {
            return Err(DecryptError::UnknownSuite { suite });
        }
        let make = |s: &Option<Vec<u8>>| -> Result<Option<RecordDecryptor>, DecryptError> {
            s.as_deref().map(|s| traffic_decryptor(p, s)).transpose()
        };
        Ok(Tls13Keys {
            client_handshake: make(&secrets.client_handshake)?,
            server_handshake: make(&secrets.server_handshake)?,
            client_application: make(&secrets.client_application)?,
            server_application: make(&secrets.server_application)?,
        })
    }

    /// Keys from the key log; [`DecryptError::NoKey`] when it has no TLS 1.3
    /// secret for `client_random`.
    pub fn from_keylog(
        suite: CipherSuiteId,
        client_random: &[u8; RANDOM_LEN],
        keylog: &KeyLog,
    ) -> Result<Tls13Keys, DecryptError> {
        let secrets = keylog
            .tls13_secrets(client_random)
            .ok_or(DecryptError::NoKey)?;
        Tls13Keys::derive(suite, secrets)
    }
}

/// key = HKDF-Expand-Label(secret, "key", "", key_len), iv = ... "iv" 12 (RFC 8446 §7.3).
fn traffic_decryptor(p: &SuiteParams, secret: &[u8]) -> Result<RecordDecryptor, DecryptError> {
    let (key, iv) = traffic_key_iv(p, secret)?;
    RecordDecryptor::from_keys(
        TlsVersion::TLS13,
        p.cipher,
        p.mac,
        &key[..p.cipher.key_len()],
        &[],
        &iv,
        false,
    )
}

fn traffic_key_iv(p: &SuiteParams, secret: &[u8]) -> Result<([u8; 32], [u8; 12]), DecryptError> {
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    let key_len = p.cipher.key_len();
    kdf::hkdf_expand_label(p.prf, secret, b"key", &mut key[..key_len])?;
    kdf::hkdf_expand_label(p.prf, secret, b"iv", &mut iv)?;
    Ok((key, iv))
}

#[cfg(test)]
pub(super) fn tls13_traffic_key_iv(suite: u16, secret: &[u8]) -> ([u8; 32], [u8; 12]) {
    let p = suite_params(CipherSuiteId(suite)).expect("suite in table");
    traffic_key_iv(p, secret).expect("derivable")
}
