//! Key derivation: the TLS 1.0/1.1 PRF (MD5 ⊕ SHA-1, RFC 2246 §5), the TLS
//! 1.2 PRF (P_SHA256 / P_SHA384, RFC 5246 §5), master secret (RFC 5246 §8.1,
//! extended master secret RFC 7627 §4), key block (RFC 5246 §6.3) and TLS 1.3
//! HKDF-Expand-Label (RFC 8446 §7.1).
//!
//! Owns only pure functions from secrets to bytes; no state.

use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, FixedOutputReset};
use hmac::{Mac, SimpleHmac};

use super::suites::PrfHash;
use super::DecryptError;
use crate::tls::model::TlsVersion;

/// Length of a TLS ≤1.2 master secret (RFC 5246 §8.1).
pub const MASTER_SECRET_LEN: usize = 48;
/// Length of a TLS ≤1.2 pre-master secret of RSA key exchange (RFC 5246 §7.4.7.1).
pub const PREMASTER_LEN: usize = 48;
/// Length of the hello randoms.
pub const RANDOM_LEN: usize = 32;

/// Which PRF a TLS ≤1.2 connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prf {
    /// TLS 1.0 and 1.1: P_MD5(S1) ⊕ P_SHA1(S2).
    Md5Sha1,
    Sha256,
    Sha384,
}

impl Prf {
    /// The PRF of `version` with a suite whose PRF hash is `hash`.
    pub fn for_version(version: TlsVersion, hash: PrfHash) -> Result<Prf, DecryptError> {
        match version {
            TlsVersion::TLS10 | TlsVersion::TLS11 => Ok(Prf::Md5Sha1),
            TlsVersion::TLS12 => Ok(match hash {
                PrfHash::Sha256 => Prf::Sha256,
                PrfHash::Sha384 => Prf::Sha384,
            }),
            v => Err(DecryptError::UnsupportedVersion { version: v }),
        }
    }

    /// Fills `out` with PRF(secret, label, seed).
    pub fn compute(self, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
        match self {
            Prf::Md5Sha1 => {
                // RFC 2246 §5: the halves overlap by one byte when the length is odd.
                let half = secret.len().div_ceil(2);
                let s1 = secret.get(..half).unwrap_or(secret);
                let s2 = secret.get(secret.len() - half..).unwrap_or(secret);
                p_hash::<md5::Md5>(s1, label, seed, out);
                let mut sha = vec![0u8; out.len()];
                p_hash::<sha1::Sha1>(s2, label, seed, &mut sha);
                for (o, x) in out.iter_mut().zip(sha) {
                    *o ^= x;
                }
            }
            Prf::Sha256 => p_hash::<sha2::Sha256>(secret, label, seed, out),
            Prf::Sha384 => p_hash::<sha2::Sha384>(secret, label, seed, out),
        }
    }
}

/// P_hash(secret, label + seed) of RFC 5246 §5.
fn p_hash<D>(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8])
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    // SimpleHmac accepts any key length (HMAC hashes long keys), never errors.
    let keyed = match SimpleHmac::<D>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return,
    };
    // A(1) = HMAC(secret, label + seed)
    let mut a = {
        let mut m = keyed.clone();
        m.update(label);
        m.update(seed);
        m.finalize().into_bytes()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut m = keyed.clone();
        m.update(&a);
        m.update(label);
        m.update(seed);
        let chunk = m.finalize().into_bytes();
        let n = chunk.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&chunk[..n]);
        filled += n;
        let mut m = keyed.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// Master secret from a pre-master secret (RFC 5246 §8.1).
pub fn master_secret(
    prf: Prf,
    premaster: &[u8],
    client_random: &[u8; RANDOM_LEN],
    server_random: &[u8; RANDOM_LEN],
) -> [u8; MASTER_SECRET_LEN] {
    let mut seed = [0u8; 2 * RANDOM_LEN];
    seed[..RANDOM_LEN].copy_from_slice(client_random);
    seed[RANDOM_LEN..].copy_from_slice(server_random);
    let mut ms = [0u8; MASTER_SECRET_LEN];
    prf.compute(premaster, b"master secret", &seed, &mut ms);
    ms
}

/// Extended master secret (RFC 7627 §4). `session_hash` is the handshake hash
/// up to and including the ClientKeyExchange: SHA-256/384 of the messages for
/// TLS 1.2, MD5 ‖ SHA-1 (36 bytes) for TLS 1.0/1.1.
pub fn extended_master_secret(
    prf: Prf,
    premaster: &[u8],
    session_hash: &[u8],
) -> [u8; MASTER_SECRET_LEN] {
    let mut ms = [0u8; MASTER_SECRET_LEN];
    prf.compute(premaster, b"extended master secret", session_hash, &mut ms);
    ms
}

/// Key block (RFC 5246 §6.3): PRF(master, "key expansion", server_random + client_random).
pub fn key_block(
    prf: Prf,
    master: &[u8; MASTER_SECRET_LEN],
    client_random: &[u8; RANDOM_LEN],
    server_random: &[u8; RANDOM_LEN],
    out: &mut [u8],
) {
    let mut seed = [0u8; 2 * RANDOM_LEN];
    seed[..RANDOM_LEN].copy_from_slice(server_random);
    seed[RANDOM_LEN..].copy_from_slice(client_random);
    prf.compute(master, b"key expansion", &seed, out);
}

/// HKDF-Expand-Label(secret, label, "", out.len()) of RFC 8446 §7.1.
pub fn hkdf_expand_label(
    hash: PrfHash,
    secret: &[u8],
    label: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    const PREFIX: &[u8] = b"tls13 ";
    // struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; }
    let mut info = Vec::with_capacity(4 + PREFIX.len() + label.len());
    let out_len =
        u16::try_from(out.len()).map_err(|_| DecryptError::BadSecretLength { got: out.len() })?;
    let label_len = u8::try_from(PREFIX.len() + label.len())
        .map_err(|_| DecryptError::BadSecretLength { got: label.len() })?;
    info.extend_from_slice(&out_len.to_be_bytes());
    info.push(label_len);
    info.extend_from_slice(PREFIX);
    info.extend_from_slice(label);
    info.push(0);
    let bad = || DecryptError::BadSecretLength { got: secret.len() };
    match hash {
        PrfHash::Sha256 => hkdf::Hkdf::<sha2::Sha256>::from_prk(secret)
            .map_err(|_| bad())?
            .expand(&info, out)
            .map_err(|_| bad()),
        PrfHash::Sha384 => hkdf::Hkdf::<sha2::Sha384>::from_prk(secret)
            .map_err(|_| bad())?
            .expand(&info, out)
            .map_err(|_| bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).expect("test hex")
    }

    // The TLS 1.2 P_SHA256 vector circulated on the IETF TLS list and used by
    // many implementations' test suites.
    #[test]
    fn tls12_sha256_prf_matches_published_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        Prf::Sha256.compute(&secret, b"test label", &seed, &mut out);
        let want = unhex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
             6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b
             ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff
             f7 01 87 34 7b 66",
        );
        assert_eq!(out.to_vec(), want);
    }

    // Expected outputs below were computed with OpenSSL 3.0's TLS1-PRF KDF:
    // `openssl kdf -keylen N -kdfopt digest:D -kdfopt hexsecret:S
    //  -kdfopt hexseed:<"test label" hex><seed hex> TLS1-PRF`.
    const SECRET: &str = "9bbe436ba940f017b17652849a71db35";
    const SEED: &str = "a0ba9f936cda311827a6f796ffd5198c";

    #[test]
    fn tls12_sha384_prf_matches_openssl() {
        let mut out = [0u8; 32];
        Prf::Sha384.compute(&unhex(SECRET), b"test label", &unhex(SEED), &mut out);
        assert_eq!(
            out.to_vec(),
            unhex("dd88775cd827187b67a3f7652b5c13f715791cc46e0274a6d3fb16651103defc")
        );
    }

    #[test]
    fn tls10_md5_sha1_prf_matches_openssl() {
        let mut out = [0u8; 100];
        Prf::Md5Sha1.compute(&unhex(SECRET), b"test label", &unhex(SEED), &mut out);
        let want = unhex(
            "661740e6f98bc901efd2738502a71c03f76dd2f86298549b1148eff06714cf0f6b7c532cd8c69f1530e0bb680eec34c4
             95fa75a8bfcc9c335484c0d3d194ab6e32975903c50ebcdbe9d67c0591bdbd80dddcc36d33ccd58adf96caae173f48dc
             40f983e2",
        );
        assert_eq!(out.to_vec(), want);
    }

    #[test]
    fn tls10_prf_halves_overlap_for_odd_length_secrets() {
        let mut secret = unhex(SECRET);
        secret.push(0xab);
        let mut out = [0u8; 40];
        Prf::Md5Sha1.compute(&secret, b"test label", &unhex(SEED), &mut out);
        assert_eq!(
            out.to_vec(),
            unhex(
                "c55cce910d01afe4fce09b84d3e47936666d769a2426ac9c83d72566c314df98f4d8b00455413a99"
            )
        );
    }

    #[test]
    fn prf_choice_follows_version_and_suite_hash() {
        assert_eq!(
            Prf::for_version(TlsVersion::TLS10, PrfHash::Sha384),
            Ok(Prf::Md5Sha1)
        );
        assert_eq!(
            Prf::for_version(TlsVersion::TLS11, PrfHash::Sha256),
            Ok(Prf::Md5Sha1)
        );
        assert_eq!(
            Prf::for_version(TlsVersion::TLS12, PrfHash::Sha384),
            Ok(Prf::Sha384)
        );
        assert!(Prf::for_version(TlsVersion::SSL3, PrfHash::Sha256).is_err());
    }
}
