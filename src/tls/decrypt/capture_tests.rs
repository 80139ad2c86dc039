//! End-to-end check on real traffic: small captures of `openssl s_server`
//! and `s_client` on loopback with the client's key log (how they were made:
//! `testdata/README.md`). A test-only reader pulls the TLS records out of
//! each capture; the module under test decrypts them from the key log (and,
//! for RSA key exchange, from the server's private key alone) and must give
//! the text the client typed and the server echoed reversed.

use std::path::Path;

use etherparse::{SlicedPacket, TransportSlice};
use md5::Digest;

use super::*;
use crate::tls::model::{CipherSuiteId, TlsVersion};

const CLIENT_TEXT: &[u8] = b"hello federation\nsecond line of data\n";
const SERVER_TEXT: &[u8] = b"noitaredef olleh\natad fo enil dnoces\n";

const CCS: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APP: u8 = 23;

struct Record {
    from_client: bool,
    content_type: u8,
    version: u16,
    body: Vec<u8>,
}

/// TLS records of the one TCP connection in `pcap`, in capture order.
/// Loopback captures have no loss; retransmitted bytes are dropped.
fn records(pcap: &[u8]) -> Vec<Record> {
    let cap = pcap_parser::PcapCapture::from_file(pcap).expect("pcap");
    let mut client_port = None;
    let mut next_seq: [Option<u32>; 2] = [None, None];
    let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for block in &cap.blocks {
        let pkt = SlicedPacket::from_ethernet(block.data).expect("ethernet frame");
        let Some(TransportSlice::Tcp(tcp)) = pkt.transport else {
            continue;
        };
        if tcp.syn() && !tcp.ack() {
            client_port = Some(tcp.source_port());
        }
        let from_client = Some(tcp.source_port()) == client_port;
        let d = usize::from(!from_client);
        if tcp.syn() {
            next_seq[d] = Some(tcp.sequence_number().wrapping_add(1));
            continue;
        }
        let payload = tcp.payload();
        if payload.is_empty() || next_seq[d] != Some(tcp.sequence_number()) {
            continue;
        }
        next_seq[d] = Some(tcp.sequence_number().wrapping_add(payload.len() as u32));
        bufs[d].extend_from_slice(payload);
        while bufs[d].len() >= 5 {
            let len = usize::from(u16::from_be_bytes([bufs[d][3], bufs[d][4]]));
            if bufs[d].len() < 5 + len {
                break;
            }
            let rec: Vec<u8> = bufs[d].drain(..5 + len).collect();
            out.push(Record {
                from_client,
                content_type: rec[0],
                version: u16::from_be_bytes([rec[1], rec[2]]),
                body: rec[5..].to_vec(),
            });
        }
    }
    out
}

/// What the cleartext handshake told.
#[derive(Default)]
struct Hello {
    client_random: [u8; 32],
    server_random: [u8; 32],
    version: u16,
    suite: u16,
    etm: bool,
    ems: bool,
    cert: Vec<u8>,
    cke: Vec<u8>,
    /// Handshake messages up to and including the ClientKeyExchange.
    transcript: Vec<u8>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn u24_at(b: &[u8], i: usize) -> usize {
    crate::decode::big_endian::u24_at(b, i).expect("a whole u24")
}

impl Hello {
    /// One cleartext handshake record (openssl never splits a message here).
    fn add(&mut self, rec: &[u8]) {
        let mut i = 0;
        while i < rec.len() {
            let (ty, len) = (rec[i], u24_at(rec, i + 1));
            let msg = &rec[i..i + 4 + len];
            let body = &msg[4..];
            if self.cke.is_empty() {
                self.transcript.extend_from_slice(msg);
            }
            match ty {
                1 => self.client_random.copy_from_slice(&body[2..34]),
                2 => {
                    self.version = u16_at(body, 0);
                    self.server_random.copy_from_slice(&body[2..34]);
                    let sid = usize::from(body[34]);
                    self.suite = u16_at(body, 35 + sid);
                    let mut e = 35 + sid + 3 + 2;
                    while e + 4 <= body.len() {
                        let (et, el) = (u16_at(body, e), usize::from(u16_at(body, e + 2)));
                        match et {
                            0x0016 => self.etm = true,
                            0x0017 => self.ems = true,
                            0x002b => self.version = u16_at(body, e + 4),
                            _ => {}
                        }
                        e += 4 + el;
                    }
                }
                11 if self.version != 0x0304 => {
                    let first = u24_at(body, 3);
                    self.cert = body[6..6 + first].to_vec();
                }
                16 => self.cke = body.to_vec(),
                _ => {}
            }
            i += 4 + len;
        }
    }

    fn params(&self) -> SessionParams {
        SessionParams {
            version: TlsVersion(self.version),
            suite: CipherSuiteId(self.suite),
            client_random: self.client_random,
            server_random: self.server_random,
            encrypt_then_mac: self.etm,
        }
    }

    /// RFC 7627 session hash: the PRF hash for TLS 1.2, MD5 ‖ SHA-1 before.
    fn session_hash(&self, prf: PrfHash) -> Vec<u8> {
        match (self.version, prf) {
            (0x0303, PrfHash::Sha256) => sha2::Sha256::digest(&self.transcript).to_vec(),
            (0x0303, PrfHash::Sha384) => sha2::Sha384::digest(&self.transcript).to_vec(),
            _ => {
                let mut h = md5::Md5::digest(&self.transcript).to_vec();
                h.extend(sha1::Sha1::digest(&self.transcript));
                h
            }
        }
    }
}

struct Decrypted {
    client_app: Vec<u8>,
    server_app: Vec<u8>,
    /// Wire lengths of application-data records whose plaintext was empty.
    empty_records: Vec<usize>,
}

/// Decrypts every record after ChangeCipherSpec; the first of each
/// direction must be the Finished message. With `skip_len`, records of that
/// wire length are stepped over with `advance` and the last block only.
fn decrypt_tls12(recs: &[Record], mut keys: SessionKeys, skip_len: Option<usize>) -> Decrypted {
    let mut ccs = [false, false];
    let mut out = Decrypted {
        client_app: Vec::new(),
        server_app: Vec::new(),
        empty_records: Vec::new(),
    };
    for r in recs {
        let d = usize::from(!r.from_client);
        if r.content_type == CCS {
            ccs[d] = true;
            continue;
        }
        if !ccs[d] {
            continue;
        }
        let dec = if r.from_client {
            &mut keys.client
        } else {
            &mut keys.server
        };
        if r.content_type == APP && Some(r.body.len()) == skip_len {
            let tail = &r.body[r.body.len() - dec.tail_len()..];
            dec.advance(tail).expect("advance");
            continue;
        }
        let pt = dec
            .decrypt(r.content_type, r.version, &r.body)
            .unwrap_or_else(|e| panic!("record decrypts: {e}"));
        match pt.content_type {
            HANDSHAKE => {
                assert_eq!(pt.seq, 0, "Finished is the first encrypted record");
                assert_eq!(
                    (pt.data[0], pt.data.len()),
                    (20, 16),
                    "Finished, 12-byte verify_data"
                );
            }
            APP if pt.data.is_empty() => out.empty_records.push(r.body.len()),
            APP if r.from_client => out.client_app.extend_from_slice(pt.data),
            APP => out.server_app.extend_from_slice(pt.data),
            ALERT => assert_eq!(pt.data.len(), 2),
            other => panic!("unexpected content type {other}"),
        }
    }
    out
}

fn load(name: &str) -> (Vec<Record>, Hello, KeyLog) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tls/decrypt/testdata");
    let pcap = std::fs::read(dir.join(format!("{name}.pcap"))).expect("capture");
    let recs = records(&pcap);
    let mut hello = Hello::default();
    let mut ccs = [false, false];
    for r in &recs {
        let d = usize::from(!r.from_client);
        ccs[d] |= r.content_type == CCS;
        // Cleartext handshake only: before ChangeCipherSpec, and in TLS 1.3
        // only up to the ServerHello.
        if r.content_type != HANDSHAKE || ccs[d] || (hello.version == 0x0304 && !r.from_client) {
            continue;
        }
        hello.add(&r.body);
    }
    let log = KeyLog::load(&dir.join(format!("{name}.keys"))).expect("key log");
    (recs, hello, log)
}

fn server_key() -> RsaKeys {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tls/decrypt/testdata");
    let mut keys = RsaKeys::new();
    assert_eq!(keys.add_file(&dir.join("key.pem")).expect("PKCS#8 key"), 1);
    keys
}

fn check_tls12(name: &str, version: u16, suite: u16, etm: bool, empty_fragments: usize) {
    let (recs, hello, log) = load(name);
    assert_eq!(
        (hello.version, hello.suite, hello.etm),
        (version, suite, etm),
        "{name}: handshake"
    );
    let params = hello.params();
    let got = decrypt_tls12(
        &recs,
        SessionKeys::from_keylog(&params, &log).expect("keys"),
        None,
    );
    assert_eq!(got.client_app, CLIENT_TEXT, "{name}");
    assert_eq!(got.server_app, SERVER_TEXT, "{name}");
    assert_eq!(
        got.empty_records.len(),
        empty_fragments,
        "{name}: empty fragments"
    );

    let p = suite_params(params.suite).expect("suite");
    if p.kx == KeyExchange::Rsa {
        // The server's private key alone gives the same master secret.
        assert!(hello.ems, "openssl negotiates extended master secret");
        let keys = server_key();
        let key = keys
            .find_for_cert_der(&hello.cert)
            .expect("key matches the certificate");
        let pms = decrypt_premaster(key, params.version, &hello.cke).expect("pre-master");
        assert_eq!(
            &pms[..2],
            &[0x03, hello.version as u8],
            "client_version in the pre-master"
        );
        let prf = kdf::Prf::for_version(params.version, p.prf).expect("prf");
        let ms = kdf::extended_master_secret(prf, &pms, &hello.session_hash(p.prf));
        assert_eq!(
            Some(&ms),
            log.master_secret(&params.client_random),
            "{name}: master secret"
        );
        let session_hash = hello.session_hash(p.prf);
        let rsa_keys =
            SessionKeys::from_rsa(&params, &keys, &hello.cert, &hello.cke, Some(&session_hash))
                .expect("rsa keys");
        let via_rsa = decrypt_tls12(&recs, rsa_keys, None);
        assert_eq!(
            (via_rsa.client_app, via_rsa.server_app),
            (got.client_app, got.server_app)
        );
        // Without the session hash the master secret is wrong, and the
        // Finished says so.
        let mut wrong =
            SessionKeys::from_rsa(&params, &keys, &hello.cert, &hello.cke, None).expect("keys");
        let fin = recs
            .iter()
            .filter(|r| r.from_client)
            .skip_while(|r| r.content_type != CCS)
            .nth(1)
            .expect("finished");
        let err = wrong
            .client
            .decrypt(fin.content_type, fin.version, &fin.body)
            .expect_err("wrong master secret");
        assert!(err.indicates_wrong_key(), "{err:?}");
    }
}

#[test]
fn tls10_aes128_sha_mac_then_encrypt_capture_decrypts_with_empty_fragments() {
    check_tls12("tls10_aes128_sha_mte", 0x0301, 0x002f, false, 4);
    // OpenSSL's TLS 1.0 CBC countermeasure: each write starts with an empty
    // record, 32 bytes on the wire for AES-128/SHA-1 (20-byte MAC + padding).
    let (recs, hello, log) = load("tls10_aes128_sha_mte");
    let keys = SessionKeys::from_keylog(&hello.params(), &log).expect("keys");
    let got = decrypt_tls12(&recs, keys, None);
    assert_eq!(got.empty_records, vec![32; 4]);
    // Stepping over the empty records with `advance` keeps the IV chain.
    let keys = SessionKeys::from_keylog(&hello.params(), &log).expect("keys");
    let skipped = decrypt_tls12(&recs, keys, Some(32));
    assert_eq!(
        (skipped.client_app, skipped.server_app),
        (CLIENT_TEXT.to_vec(), SERVER_TEXT.to_vec())
    );
}

#[test]
fn tls11_aes256_sha_encrypt_then_mac_capture_decrypts() {
    check_tls12("tls11_aes256_sha_etm", 0x0302, 0x0035, true, 0);
}

#[test]
fn tls12_aes128_sha_encrypt_then_mac_capture_decrypts() {
    check_tls12("tls12_aes128_sha_etm", 0x0303, 0x002f, true, 0);
}

#[test]
fn tls12_ecdhe_gcm_capture_decrypts() {
    check_tls12("tls12_ecdhe_gcm", 0x0303, 0xc02f, false, 0);
}

#[test]
fn tls12_ecdhe_chacha20_capture_decrypts() {
    check_tls12("tls12_ecdhe_chacha", 0x0303, 0xcca8, false, 0);
}

#[test]
fn tls13_aes256_gcm_capture_decrypts_handshake_and_application_data() {
    let (recs, hello, log) = load("tls13_aes256");
    assert_eq!((hello.version, hello.suite), (0x0304, 0x1302));
    let mut keys = Tls13Keys::from_keylog(CipherSuiteId(hello.suite), &hello.client_random, &log)
        .expect("keys");
    let mut finished = [false, false];
    let (mut client_app, mut server_app) = (Vec::new(), Vec::new());
    for r in recs.iter().filter(|r| r.content_type == APP) {
        let d = usize::from(!r.from_client);
        let dec = match (r.from_client, finished[d]) {
            (true, false) => keys.client_handshake.as_mut(),
            (false, false) => keys.server_handshake.as_mut(),
            (true, true) => keys.client_application.as_mut(),
            (false, true) => keys.server_application.as_mut(),
        }
        .expect("secret in key log");
        let pt = dec
            .decrypt(r.content_type, r.version, &r.body)
            .unwrap_or_else(|e| panic!("record decrypts: {e}"));
        match pt.content_type {
            // Several handshake messages may share a record; Finished ends them.
            HANDSHAKE if !finished[d] => {
                let mut i = 0;
                while i + 4 <= pt.data.len() {
                    finished[d] |= pt.data[i] == 20;
                    i += 4 + u24_at(pt.data, i + 1);
                }
            }
            HANDSHAKE => assert_eq!(pt.data[0], 4, "only NewSessionTicket after Finished"),
            APP if r.from_client => client_app.extend_from_slice(pt.data),
            APP => server_app.extend_from_slice(pt.data),
            ALERT => {}
            other => panic!("unexpected inner type {other}"),
        }
    }
    assert_eq!(finished, [true, true]);
    assert_eq!(
        (client_app.as_slice(), server_app.as_slice()),
        (CLIENT_TEXT, SERVER_TEXT)
    );
}

#[test]
fn pkcs1_and_pkcs8_files_of_one_key_both_match_the_server_certificate() {
    let (_, hello, _) = load("tls12_aes128_sha_etm");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tls/decrypt/testdata");
    let mut pkcs1 = RsaKeys::new();
    pkcs1
        .add_file(&dir.join("key_pkcs1.pem"))
        .expect("PKCS#1 key");
    assert!(pkcs1.find_for_cert_der(&hello.cert).is_some());
    assert!(server_key().find_for_cert_der(&hello.cert).is_some());
    // Another modulus, or bytes that are not a certificate, find nothing.
    assert!(server_key().find_for_modulus(&[0xc3; 256]).is_none());
    assert!(server_key().find_for_cert_der(&hello.cert[1..]).is_none());
    assert!(server_key().find_for_spki_der(b"not der").is_none());
}

#[test]
fn premaster_decrypts_with_or_without_the_length_prefix_and_rejects_other_ciphertexts() {
    let (_, hello, _) = load("tls12_aes128_sha_etm");
    let keys = server_key();
    let key = keys.find_for_cert_der(&hello.cert).expect("key");
    let with_prefix = decrypt_premaster(key, TlsVersion::TLS12, &hello.cke).expect("TLS form");
    // SSL 3.0 (and some old TLS 1.0 stacks) send the bare RSA block.
    let bare = decrypt_premaster(key, TlsVersion::SSL3, &hello.cke[2..]).expect("SSL 3.0 form");
    assert_eq!(with_prefix, bare);
    // A block not encrypted to this key fails the PKCS#1 padding check.
    let mut other = hello.cke.clone();
    other[10] ^= 0x5a;
    assert_eq!(
        decrypt_premaster(key, TlsVersion::TLS12, &other),
        Err(DecryptError::KeyMismatch)
    );
    assert_eq!(
        decrypt_premaster(key, TlsVersion::TLS12, &hello.cke[..100]),
        Err(DecryptError::KeyMismatch)
    );
    assert!(DecryptError::KeyMismatch.indicates_wrong_key());
}
