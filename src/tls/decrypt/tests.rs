//! Known-answer and round-trip tests of the decryption module, and an
//! end-to-end check on small captures made with `openssl s_server` /
//! `s_client` (see `testdata/README.md`).

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};

use super::*;
use crate::tls::model::{CipherSuiteId, TlsVersion};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).expect("test hex")
}

const HANDSHAKE: u8 = 22;
const APP: u8 = 23;

// ---------------------------------------------------------------- RFC 8448

#[test]
fn tls13_traffic_keys_match_rfc8448() {
    // RFC 8448 §3 (Simple 1-RTT Handshake), TLS_AES_128_GCM_SHA256.
    let cases = [
        (
            "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38", // server hs
            "3fce516009c21727d0f2e4e86ee403bc",
            "5d313eb2671276ee13000b30",
        ),
        (
            "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21", // client hs
            "dbfaa693d1762c5b666af5d950258d01",
            "5bd3c71b836e0b76bb73265f",
        ),
        (
            "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643", // server ap
            "9f02283b6c9c07efc26bb9f2ac92e356",
            "cf782b88dd83549aadf1e984",
        ),
    ];
    for (secret, key, iv) in cases {
        let (k, i) = session::tls13_traffic_key_iv(0x1301, &unhex(secret));
        assert_eq!(k[..16].to_vec(), unhex(key));
        assert_eq!(i.to_vec(), unhex(iv));
    }
}

#[test]
fn rfc8448_client_finished_record_decrypts() {
    let secrets = Tls13Secrets {
        client_handshake: Some(unhex(
            "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
        )),
        ..Tls13Secrets::default()
    };
    let mut keys = Tls13Keys::derive(CipherSuiteId(0x1301), &secrets).expect("keys");
    assert!(keys.server_handshake.is_none());
    let dec = keys.client_handshake.as_mut().expect("client hs");
    let record = unhex(
        "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546",
    );
    let pt = dec
        .decrypt(record[0], 0x0303, &record[5..])
        .expect("decrypts");
    assert_eq!(pt.content_type, HANDSHAKE);
    assert_eq!(
        pt.data.to_vec(),
        unhex("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")
    );
}

// ------------------------------------------------------- round-trip helpers

/// Encrypts records the way a TLS ≤1.2 peer does, with RustCrypto primitives.
struct Sealer {
    version: TlsVersion,
    cipher: BulkCipher,
    mac: MacAlg,
    key: Vec<u8>,
    mac_key: Vec<u8>,
    iv: Vec<u8>,
    etm: bool,
    seq: u64,
}

fn hmac(alg: MacAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($d:ty) => {{
            let mut m = <Hmac<$d> as Mac>::new_from_slice(key).expect("hmac key");
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        MacAlg::HmacSha1 => run!(sha1::Sha1),
        MacAlg::HmacSha256 => run!(sha2::Sha256),
        MacAlg::HmacSha384 => run!(sha2::Sha384),
        MacAlg::Aead => unreachable!("no HMAC for AEAD suites"),
    }
}

fn cbc_encrypt(cipher: BulkCipher, key: &[u8], iv: &[u8], buf: &mut [u8]) {
    let n = buf.len();
    match cipher {
        BulkCipher::TripleDesCbc => {
            cbc::Encryptor::<des::TdesEde3>::new_from_slices(key, iv)
                .expect("k")
                .encrypt_padded_mut::<NoPadding>(buf, n)
                .expect("e");
        }
        BulkCipher::Aes128Cbc => {
            cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
                .expect("k")
                .encrypt_padded_mut::<NoPadding>(buf, n)
                .expect("e");
        }
        BulkCipher::Aes256Cbc => {
            cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
                .expect("k")
                .encrypt_padded_mut::<NoPadding>(buf, n)
                .expect("e");
        }
        _ => unreachable!("not CBC"),
    }
}

fn header(seq: u64, ty: u8, len: usize) -> Vec<u8> {
    let mut h = seq.to_be_bytes().to_vec();
    h.push(ty);
    h.extend_from_slice(&[0x03, 0x01]);
    h.extend_from_slice(&(len as u16).to_be_bytes());
    h
}

impl Sealer {
    fn new(version: TlsVersion, cipher: BulkCipher, mac: MacAlg, etm: bool, fill: u8) -> Sealer {
        let iv_len = match (version, cipher.block_len()) {
            (TlsVersion::TLS13, _) => 12,
            (_, Some(b)) => b,
            (_, None) => cipher.key_block_iv_len(),
        };
        Sealer {
            version,
            cipher,
            mac,
            key: (0..cipher.key_len()).map(|i| fill ^ i as u8).collect(),
            mac_key: (0..mac.len()).map(|i| fill.wrapping_add(i as u8)).collect(),
            iv: (0..iv_len).map(|i| 0x40 ^ i as u8).collect(),
            etm,
            seq: 0,
        }
    }

    fn decryptor(&self) -> RecordDecryptor {
        RecordDecryptor::from_keys(
            self.version,
            self.cipher,
            self.mac,
            &self.key,
            &self.mac_key,
            &self.iv,
            self.etm,
        )
        .expect("decryptor")
    }

    fn ver(&self) -> u16 {
        if self.version == TlsVersion::TLS13 {
            0x0303
        } else {
            self.version.0
        }
    }

    /// The fragment of one record; TLS 1.3 uses `APP` as outer type.
    fn seal(&mut self, ty: u8, pt: &[u8]) -> Vec<u8> {
        let seq = self.seq;
        self.seq += 1;
        let ver = self.ver().to_be_bytes();
        let mut hdr = header(seq, ty, 0);
        hdr[9..11].copy_from_slice(&ver);
        if let Some(b) = self.cipher.block_len() {
            let explicit = self.version != TlsVersion::TLS10;
            let rec_iv: Vec<u8> = if explicit {
                (0..b).map(|i| (seq as u8) ^ (i as u8) ^ 0x99).collect()
            } else {
                self.iv.clone()
            };
            let mut body = pt.to_vec();
            if !self.etm {
                hdr[11..13].copy_from_slice(&(pt.len() as u16).to_be_bytes());
                body.extend(hmac(self.mac, &self.mac_key, &[&hdr, pt]));
            }
            let pad = b - 1 - body.len() % b;
            body.extend(std::iter::repeat_n(pad as u8, pad + 1));
            cbc_encrypt(self.cipher, &self.key, &rec_iv, &mut body);
            if !explicit {
                self.iv = body[body.len() - b..].to_vec();
            }
            let mut out = if explicit { rec_iv } else { Vec::new() };
            out.extend(&body);
            if self.etm {
                hdr[11..13].copy_from_slice(&(out.len() as u16).to_be_bytes());
                let m = hmac(self.mac, &self.mac_key, &[&hdr, &out]);
                out.extend(m);
            }
            return out;
        }
        let tls13 = self.version == TlsVersion::TLS13;
        let mut body = pt.to_vec();
        if tls13 {
            body.push(ty);
            body.extend([0u8; 3]); // padding
        }
        let gcm12 = !tls13 && self.cipher != BulkCipher::ChaCha20Poly1305;
        let mut nonce = [0u8; 12];
        let explicit = seq.wrapping_mul(0x0101_0101).to_be_bytes();
        if gcm12 {
            nonce[..4].copy_from_slice(&self.iv);
            nonce[4..].copy_from_slice(&explicit);
        } else {
            nonce.copy_from_slice(&self.iv);
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
        }
        let aad = if tls13 {
            let mut a = vec![APP, 0x03, 0x03];
            a.extend(((body.len() + 16) as u16).to_be_bytes());
            a
        } else {
            hdr[11..13].copy_from_slice(&(pt.len() as u16).to_be_bytes());
            hdr.clone()
        };
        let n = GenericArray::from_slice(&nonce);
        let tag = match self.cipher {
            BulkCipher::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(&self.key)
                .expect("k")
                .encrypt_in_place_detached(n, &aad, &mut body),
            BulkCipher::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(&self.key)
                .expect("k")
                .encrypt_in_place_detached(n, &aad, &mut body),
            _ => chacha20poly1305::ChaCha20Poly1305::new_from_slice(&self.key)
                .expect("k")
                .encrypt_in_place_detached(n, &aad, &mut body),
        }
        .expect("seal");
        let mut out = if gcm12 { explicit.to_vec() } else { Vec::new() };
        out.extend(body);
        out.extend(tag);
        out
    }

    fn outer_type(&self, ty: u8) -> u8 {
        if self.version == TlsVersion::TLS13 {
            APP
        } else {
            ty
        }
    }
}

/// Seals Finished-like, empty and data records and checks the decryptor
/// returns each plaintext, then that a flipped bit fails integrity.
fn round_trip(version: TlsVersion, cipher: BulkCipher, mac: MacAlg, etm: bool) {
    let what = format!("{version} {cipher:?} {mac:?} etm={etm}");
    let mut s = Sealer::new(version, cipher, mac, etm, 0x11);
    let mut d = s.decryptor();
    let msgs: [(u8, &[u8]); 4] = [
        (HANDSHAKE, b"\x14\x00\x00\x0cfinished....".as_slice()),
        (APP, b"".as_slice()),
        (APP, b"I".as_slice()),
        (APP, &[0x5a; 300]),
    ];
    for (i, (ty, pt)) in msgs.iter().enumerate() {
        let frag = s.seal(*ty, pt);
        let got = d
            .decrypt(s.outer_type(*ty), s.ver(), &frag)
            .unwrap_or_else(|e| panic!("{what}: record {i}: {e}"));
        assert_eq!(
            (got.content_type, got.seq, got.data),
            (*ty, i as u64, *pt),
            "{what}"
        );
    }
    assert_eq!(d.records_verified(), 4, "{what}");
    // A flipped bit in the first bytes (IV, explicit nonce or first block)
    // fails, and later records still decrypt (state advanced past the bad
    // record). The last block is left alone: in TLS 1.0 it is the next IV.
    let mut frag = s.seal(APP, &b"tampered".repeat(5));
    frag[0] ^= 0x01;
    let err = d
        .decrypt(s.outer_type(APP), s.ver(), &frag)
        .expect_err("tampered record must fail");
    assert!(err.is_integrity_failure(), "{what}: {err:?}");
    assert!(
        !err.indicates_wrong_key(),
        "{what}: seq 4 is not the first record"
    );
    let frag = s.seal(APP, b"after");
    let got = d
        .decrypt(s.outer_type(APP), s.ver(), &frag)
        .expect("record after a bad one");
    assert_eq!(got.data, b"after", "{what}");
}

#[test]
fn cbc_suites_round_trip_in_every_version_and_mac_order() {
    for version in [TlsVersion::TLS10, TlsVersion::TLS11, TlsVersion::TLS12] {
        for (cipher, mac) in [
            (BulkCipher::TripleDesCbc, MacAlg::HmacSha1),
            (BulkCipher::Aes128Cbc, MacAlg::HmacSha1),
            (BulkCipher::Aes256Cbc, MacAlg::HmacSha256),
            (BulkCipher::Aes256Cbc, MacAlg::HmacSha384),
        ] {
            for etm in [false, true] {
                round_trip(version, cipher, mac, etm);
            }
        }
    }
}

#[test]
fn aead_suites_round_trip_in_tls12_and_tls13() {
    for version in [TlsVersion::TLS12, TlsVersion::TLS13] {
        for cipher in [
            BulkCipher::Aes128Gcm,
            BulkCipher::Aes256Gcm,
            BulkCipher::ChaCha20Poly1305,
        ] {
            round_trip(version, cipher, MacAlg::Aead, false);
        }
    }
}

#[test]
fn tls10_3des_sha_empty_fragment_is_a_24_byte_record_with_empty_plaintext() {
    let mut s = Sealer::new(
        TlsVersion::TLS10,
        BulkCipher::TripleDesCbc,
        MacAlg::HmacSha1,
        false,
        0x22,
    );
    let mut d = s.decryptor();
    let frag = s.seal(APP, b"");
    assert_eq!(frag.len(), 24);
    let got = d.decrypt(APP, 0x0301, &frag).expect("empty fragment");
    assert!(got.data.is_empty());
    // The 1/n-1 split's first record is 1 byte of data: also 24 bytes on the
    // wire, told apart only by decrypting.
    let one = s.seal(APP, b"S");
    assert_eq!(one.len(), 24);
    assert_eq!(
        d.decrypt(APP, 0x0301, &one).expect("1-byte record").data,
        b"S"
    );
}

#[test]
fn wrong_key_fails_the_first_record_and_says_so() {
    for (version, cipher, mac) in [
        (
            TlsVersion::TLS10,
            BulkCipher::TripleDesCbc,
            MacAlg::HmacSha1,
        ),
        (TlsVersion::TLS12, BulkCipher::Aes128Gcm, MacAlg::Aead),
        (
            TlsVersion::TLS13,
            BulkCipher::ChaCha20Poly1305,
            MacAlg::Aead,
        ),
    ] {
        let mut s = Sealer::new(version, cipher, mac, false, 0x33);
        let mut d = Sealer::new(version, cipher, mac, false, 0x44).decryptor();
        let frag = s.seal(HANDSHAKE, b"\x14\x00\x00\x0cfinished....");
        let err = d
            .decrypt(s.outer_type(HANDSHAKE), s.ver(), &frag)
            .expect_err("wrong key");
        assert!(err.indicates_wrong_key(), "{version} {cipher:?}: {err:?}");
        assert_eq!(d.records_verified(), 0);
    }
}

#[test]
fn advance_with_only_the_last_block_keeps_tls10_chain_and_sequence() {
    for etm in [false, true] {
        let mut s = Sealer::new(
            TlsVersion::TLS10,
            BulkCipher::Aes128Cbc,
            MacAlg::HmacSha1,
            etm,
            0x55,
        );
        let mut d = s.decryptor();
        let first = s.seal(HANDSHAKE, b"\x14\x00\x00\x0cfinished....");
        d.decrypt(HANDSHAKE, 0x0301, &first).expect("finished");
        for n in 0..3 {
            let frag = s.seal(APP, &vec![b'x'; 100 + n]);
            let tail = &frag[frag.len() - d.tail_len()..];
            d.advance(tail).expect("advance");
        }
        let frag = s.seal(APP, b"");
        let got = d
            .decrypt(APP, 0x0301, &frag)
            .expect("record after skipped ones");
        assert_eq!((got.seq, got.data.len()), (4, 0));
        // Too short a tail loses the chain for exactly the next record.
        let frag = s.seal(APP, b"abc");
        assert!(matches!(
            d.advance(&frag[..3]),
            Err(DecryptError::Truncated { .. })
        ));
        let frag = s.seal(APP, b"def");
        assert_eq!(
            d.decrypt(APP, 0x0301, &frag),
            Err(DecryptError::ChainLost { seq: 6 }).map(|_: ()| unreachable!())
        );
        let frag = s.seal(APP, b"ghi");
        assert_eq!(
            d.decrypt(APP, 0x0301, &frag)
                .expect("chain re-established")
                .data,
            b"ghi"
        );
    }
}

#[test]
fn advance_is_free_of_chain_state_for_explicit_iv_and_aead() {
    let mut s = Sealer::new(
        TlsVersion::TLS12,
        BulkCipher::Aes128Gcm,
        MacAlg::Aead,
        false,
        0x66,
    );
    let mut d = s.decryptor();
    assert_eq!(d.tail_len(), 0);
    let _ = s.seal(APP, b"skipped");
    d.advance(&[]).expect("advance");
    let frag = s.seal(APP, b"kept");
    assert_eq!(d.decrypt(APP, 0x0303, &frag).expect("kept").data, b"kept");
}

#[test]
fn garbage_of_any_length_is_an_error_never_a_panic() {
    let configs = [
        (
            TlsVersion::TLS10,
            BulkCipher::TripleDesCbc,
            MacAlg::HmacSha1,
            false,
        ),
        (
            TlsVersion::TLS10,
            BulkCipher::Aes128Cbc,
            MacAlg::HmacSha1,
            true,
        ),
        (
            TlsVersion::TLS12,
            BulkCipher::Aes256Cbc,
            MacAlg::HmacSha384,
            false,
        ),
        (
            TlsVersion::TLS12,
            BulkCipher::Aes128Cbc,
            MacAlg::HmacSha256,
            true,
        ),
        (
            TlsVersion::TLS12,
            BulkCipher::Aes128Gcm,
            MacAlg::Aead,
            false,
        ),
        (
            TlsVersion::TLS12,
            BulkCipher::ChaCha20Poly1305,
            MacAlg::Aead,
            false,
        ),
        (
            TlsVersion::TLS13,
            BulkCipher::Aes256Gcm,
            MacAlg::Aead,
            false,
        ),
    ];
    for (v, c, m, etm) in configs {
        let mut d = Sealer::new(v, c, m, etm, 1).decryptor();
        for len in 0..130 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            assert!(d.decrypt(APP, 0x0303, &junk).is_err());
            let _ = d.advance(&junk);
        }
        let huge = vec![0u8; MAX_CIPHERTEXT_LEN + 1];
        assert!(matches!(
            d.decrypt(APP, 0x0303, &huge),
            Err(DecryptError::RecordTooLong { .. })
        ));
    }
}

#[test]
fn peek_content_len_agrees_with_decryption_for_every_cbc_layout() {
    for version in [TlsVersion::TLS10, TlsVersion::TLS11, TlsVersion::TLS12] {
        for cipher in [BulkCipher::TripleDesCbc, BulkCipher::Aes128Cbc] {
            for etm in [false, true] {
                let mut s = Sealer::new(version, cipher, MacAlg::HmacSha1, etm, 7);
                let mut d = s.decryptor();
                for len in 0..40usize {
                    let pt = vec![0x5a; len];
                    let frag = s.seal(APP, &pt);
                    let what = format!("{version} {cipher:?} etm={etm} len={len}");
                    assert_eq!(d.peek_content_len(&frag), Some(len), "{what}");
                    let got = d.decrypt(APP, s.ver(), &frag).expect(&what);
                    assert_eq!(got.data.len(), len, "{what}");
                }
            }
        }
    }
}

#[test]
fn peek_content_len_is_none_for_aead_and_malformed_lengths() {
    let s = Sealer::new(
        TlsVersion::TLS12,
        BulkCipher::Aes128Gcm,
        MacAlg::Aead,
        false,
        1,
    );
    assert_eq!(s.decryptor().peek_content_len(&[0; 40]), None);
    let s = Sealer::new(
        TlsVersion::TLS10,
        BulkCipher::TripleDesCbc,
        MacAlg::HmacSha1,
        false,
        1,
    );
    let d = s.decryptor();
    for len in [0usize, 7, 9, 23] {
        assert_eq!(d.peek_content_len(&vec![0; len]), None, "len {len}");
    }
}

#[test]
fn unknown_suite_and_ssl3_are_refused() {
    let p = SessionParams {
        version: TlsVersion::TLS12,
        suite: CipherSuiteId(0x0005), // RC4
        client_random: [0; 32],
        server_random: [0; 32],
        encrypt_then_mac: false,
    };
    assert_eq!(
        SessionKeys::derive(&p, &[0; 48]).map(|_| ()),
        Err(DecryptError::UnknownSuite {
            suite: CipherSuiteId(5)
        })
    );
    let p = SessionParams {
        version: TlsVersion::SSL3,
        suite: CipherSuiteId(0x000a),
        ..p
    };
    assert_eq!(
        SessionKeys::derive(&p, &[0; 48]).map(|_| ()),
        Err(DecryptError::UnsupportedVersion {
            version: TlsVersion::SSL3
        })
    );
    let p = SessionParams {
        version: TlsVersion::TLS12,
        ..p
    };
    assert_eq!(
        SessionKeys::from_keylog(&p, &KeyLog::new()).map(|_| ()),
        Err(DecryptError::NoKey)
    );
}
