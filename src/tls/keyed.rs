//! Per-flow decryption state: the bridge between the record walk
//! (`session.rs`) and the decryption library ([`super::decrypt`]).
//!
//! Owns [`FlowKeys`]: which keys a flow has (key log or RSA key), one
//! [`RecordDecryptor`] per direction, the handshake bits RSA key exchange
//! needs (server certificate, ClientKeyExchange, the transcript hash for the
//! extended master secret), and why decryption stopped. It decides which
//! protected records are worth decrypting ([`FlowKeys::wants_plaintext`]):
//! handshake and alert records, the first protected record of each
//! direction (the Finished, which tells a wrong key from damage), TLS 1.3
//! handshake records, and application-data records small enough to be empty
//! fragments. Every other protected record goes through
//! [`FlowKeys::advance`], which needs only the record's last
//! [`FlowKeys::tail_need`] bytes.
//!
//! Invariants:
//! - Every protected record of a direction with an active decryptor is
//!   given, in wire order, to exactly one of `decrypt` / `advance`; when that
//!   cannot be guaranteed (TCP gap, lost record boundary, keys changed by a
//!   renegotiation or KeyUpdate) the decryptor is dropped and the direction
//!   is marked lost, never guessed.
//! - A direction's empty-record count is reported as exact only while no
//!   record of it was lost.
//! - Nothing here panics on any input; buffers are bounded (the plaintext
//!   buffer by [`super::decrypt::MAX_CIPHERTEXT_LEN`], the saved
//!   ClientKeyExchange and certificate by the handshake limit).

use std::sync::Arc;

use md5::Digest;

use super::decrypt::kdf::RANDOM_LEN;
use super::decrypt::{
    suite_params, BulkCipher, DecryptError, KeyExchange, Keys, Plaintext, PrfHash, RecordDecryptor,
    SessionKeys, SessionParams, Tls13Keys,
};
use super::handshake as hs;
use super::model::{FrameNo, TlsFacts, TlsVersion};
use crate::decode::Dir;

/// CBC padding may be up to 255 bytes beyond the minimum (RFC 5246
/// §6.2.3.2), so a record with empty plaintext is at most this much longer
/// than the minimal record: every record up to it is decrypted.
pub const MAX_EXTRA_PADDING: usize = 256;
/// TLS 1.3 application-phase records up to this length are decrypted:
/// alerts (19 bytes + padding), KeyUpdate, NewSessionTicket and empty
/// records all fit unless a sender pads them beyond it.
pub const TLS13_SMALL_RECORD: usize = 512;

/// Where a flow's keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    KeyLog,
    Rsa,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::KeyLog => "key log",
            Source::Rsa => "RSA key",
        }
    }
}

/// How far key setup got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setup {
    /// Not tried yet (no ServerHello / ChangeCipherSpec so far).
    Waiting,
    Failed(String),
    Ready(Source),
}

/// Decryption state of one direction.
#[derive(Debug, Default)]
struct DirKeys {
    /// Decrypting now: every protected record goes through it.
    active: Option<RecordDecryptor>,
    /// TLS ≤1.2: keys for after this side's ChangeCipherSpec.
    pending: Option<RecordDecryptor>,
    /// TLS 1.3: application keys for after this side's Finished.
    application: Option<RecordDecryptor>,
    /// TLS 1.3: still under the handshake keys.
    tls13_handshake: bool,
    /// The decryptor was active at some point.
    started: bool,
    /// Why this direction stopped being decrypted (with its frame).
    lost: Option<String>,
    /// The first record failed to authenticate: the key is wrong.
    wrong_key: Option<String>,
    /// Records authenticated.
    verified: u64,
}

/// Running hashes of the cleartext handshake up to the ClientKeyExchange
/// (RFC 7627 session hash), kept only when RSA keys are loaded.
#[derive(Debug, Clone, Default)]
struct Transcript {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    sha384: sha2::Sha384,
}

impl Transcript {
    fn update(&mut self, msg: &[u8]) {
        self.md5.update(msg);
        self.sha1.update(msg);
        self.sha256.update(msg);
        self.sha384.update(msg);
    }

    /// The session hash for `version` and the suite's PRF hash.
    fn finish(self, version: TlsVersion, prf: PrfHash) -> Vec<u8> {
        if version == TlsVersion::TLS12 {
            match prf {
                PrfHash::Sha256 => self.sha256.finalize().to_vec(),
                PrfHash::Sha384 => self.sha384.finalize().to_vec(),
            }
        } else {
            let mut v = self.md5.finalize().to_vec();
            v.extend_from_slice(&self.sha1.finalize());
            v
        }
    }
}

/// A protected record opened: its content type (the inner one for TLS 1.3)
/// and its plaintext when it was decrypted whole. `data` is `None` for a
/// CBC application-data record whose padding byte (one block decrypted)
/// already shows it carries content: it cannot be an empty fragment, so it
/// is skipped like a large record.
#[derive(Debug)]
pub struct Opened<'a> {
    pub content_type: u8,
    pub data: Option<&'a [u8]>,
}

/// What a decrypted record asks the caller to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRecord {
    Nothing,
    /// TLS 1.3: this side's Finished went by; switch to application keys.
    SwitchToApplication,
    /// Keys change in a way not followed (KeyUpdate, renegotiation CCS).
    Stop(&'static str),
}

/// Decryption state of one flow (see the module docs).
#[derive(Debug)]
pub struct FlowKeys {
    keys: Arc<Keys>,
    dirs: [DirKeys; 2],
    setup: Setup,
    tls13: bool,
    /// Application-data records up to this length may be empty fragments.
    candidate_max: usize,
    transcript: Option<Transcript>,
    /// The transcript was cut (an oversized message was not hashed whole).
    transcript_broken: bool,
    server_cert: Option<Vec<u8>>,
    cke: Option<Vec<u8>>,
    /// Transcript after the ClientKeyExchange, before hashing per version.
    transcript_at_cke: Option<Transcript>,
    client_dir: Option<Dir>,
}

fn random32(v: &[u8]) -> Option<[u8; RANDOM_LEN]> {
    v.try_into().ok()
}

/// Bad CBC padding and a bad MAC are one failure to a TLS peer
/// (`bad_record_mac`), and with a wrong key either may come first.
fn integrity_word(e: &DecryptError) -> &'static str {
    match e {
        DecryptError::BadTag { .. } => "authentication tag failure",
        _ => "MAC failure",
    }
}

impl FlowKeys {
    pub fn new(keys: Arc<Keys>) -> FlowKeys {
        let transcript = (!keys.rsa.is_empty()).then(Transcript::default);
        FlowKeys {
            keys,
            dirs: Default::default(),
            setup: Setup::Waiting,
            tls13: false,
            candidate_max: 0,
            transcript,
            transcript_broken: false,
            server_cert: None,
            cke: None,
            transcript_at_cke: None,
            client_dir: None,
        }
    }

    fn who(&self, dir: Dir) -> &'static str {
        match self.client_dir {
            Some(c) if c == dir => "client",
            Some(_) => "server",
            None => "one side",
        }
    }

    /// Key setup not tried yet.
    pub fn is_waiting(&self) -> bool {
        self.setup == Setup::Waiting
    }

    /// Records of `dir` authenticated so far.
    pub fn records_verified(&self, dir: Dir) -> u64 {
        self.dirs[dir.index()].verified
    }

    /// Is a decryptor running for `dir`?
    pub fn is_active(&self, dir: Dir) -> bool {
        self.dirs[dir.index()].active.is_some()
    }

    /// Does `dir` still need its payload (decryption running or to come)?
    pub fn wants_payload(&self, dir: Dir) -> bool {
        let d = &self.dirs[dir.index()];
        d.active.is_some() || (d.pending.is_some() && d.lost.is_none())
    }

    /// A protected record of `dir` whose content matters: decrypt it rather
    /// than skip it. Only asked for records of an active direction.
    pub fn wants_plaintext(&self, dir: Dir, content_type: u8, len: usize) -> bool {
        let d = &self.dirs[dir.index()];
        let Some(dec) = d.active.as_ref() else {
            return false;
        };
        if content_type != 23 || dec.sequence() == 0 {
            return true;
        }
        if self.tls13 {
            return d.tls13_handshake || len <= TLS13_SMALL_RECORD;
        }
        len <= self.candidate_max
    }

    /// Tail bytes [`advance`](Self::advance) needs for a skipped record of `dir`.
    pub fn tail_need(&self, dir: Dir) -> usize {
        self.dirs[dir.index()]
            .active
            .as_ref()
            .map_or(0, RecordDecryptor::tail_len)
    }

    /// One cleartext handshake message (header included), before it is
    /// interpreted: keeps what RSA key exchange needs.
    pub fn on_cleartext_message(&mut self, dir: Dir, msg: &[u8], from_server: bool, max: usize) {
        let Some(h) = hs::HsHeader::parse(msg) else {
            return;
        };
        if let Some(t) = self.transcript.as_mut() {
            // HelloRequest is not part of the handshake hash (RFC 5246 §7.4.1.1).
            if h.msg_type != hs::HT_HELLO_REQUEST {
                t.update(msg);
            }
        }
        let body = msg.get(hs::HS_HEADER_LEN..).unwrap_or(&[]);
        match h.msg_type {
            hs::HT_CERTIFICATE if from_server && self.server_cert.is_none() => {
                if let Ok(ders) = hs::parse_certificate(body) {
                    self.server_cert = ders.first().map(|d| d.to_vec());
                }
            }
            hs::HT_CLIENT_KEY_EXCHANGE
                if !from_server && self.cke.is_none() && body.len() <= max =>
            {
                self.cke = Some(body.to_vec());
                self.transcript_at_cke = self.transcript.take();
                self.client_dir.get_or_insert(dir);
            }
            _ => {}
        }
    }

    /// A handshake message too large to be kept whole went by.
    pub fn on_oversized_message(&mut self) {
        if self.cke.is_none() {
            self.transcript_broken = true;
        }
    }

    /// The ServerHello: TLS 1.3 keys are set up here (the server encrypts
    /// everything after it).
    pub fn on_server_hello(&mut self, facts: &TlsFacts, server_dir: Dir) {
        self.client_dir = Some(server_dir.reverse());
        let Some(v) = facts.negotiated_version else {
            return;
        };
        if !v.is_tls13() {
            return;
        }
        self.tls13 = true;
        if v != TlsVersion::TLS13 {
            self.setup = Setup::Failed(format!("not decryptable: {} is not supported", v.name()));
            return;
        }
        let (Some(suite), Some(cr)) = (
            facts.cipher_suite,
            facts
                .client_hello
                .as_ref()
                .and_then(|c| random32(&c.random)),
        ) else {
            self.setup =
                Setup::Failed("not decryptable: the ClientHello is not in the capture".into());
            return;
        };
        match Tls13Keys::from_keylog(suite, &cr, &self.keys.keylog) {
            Ok(k) => {
                let s = server_dir.index();
                let c = server_dir.reverse().index();
                if k.server_handshake.is_none() && k.client_handshake.is_none() {
                    self.setup = Setup::Failed(
                        "not decryptable: TLS 1.3 without handshake traffic secrets".into(),
                    );
                    return;
                }
                self.dirs[s].active = k.server_handshake;
                self.dirs[s].application = k.server_application;
                self.dirs[c].active = k.client_handshake;
                self.dirs[c].application = k.client_application;
                for d in &mut self.dirs {
                    d.tls13_handshake = true;
                    d.started = d.active.is_some();
                }
                self.setup = Setup::Ready(Source::KeyLog);
            }
            Err(DecryptError::NoKey) => {
                self.setup = Setup::Failed(
                    "not decryptable: TLS 1.3 without traffic secrets for this client random"
                        .into(),
                );
            }
            Err(e) => self.setup = Setup::Failed(format!("not decryptable: {e}")),
        }
    }

    /// A TLS ≤1.2 ChangeCipherSpec of `dir` (in the clear): sets up the
    /// session keys on the first one, then starts decrypting `dir`.
    /// Returns true when `dir` is now being decrypted.
    pub fn on_ccs(&mut self, dir: Dir, facts: &TlsFacts, client_dir: Option<Dir>) -> bool {
        if self.tls13 {
            return false;
        }
        if self.setup == Setup::Waiting {
            self.setup = match self.session_keys(facts, client_dir) {
                Ok((keys, source, client)) => {
                    self.client_dir = Some(client);
                    self.dirs[client.index()].pending = Some(keys.client);
                    self.dirs[client.reverse().index()].pending = Some(keys.server);
                    self.candidate_max = candidate_max(facts);
                    Setup::Ready(source)
                }
                Err(why) => Setup::Failed(why),
            };
            // Not needed any more.
            self.server_cert = None;
            self.cke = None;
            self.transcript = None;
            self.transcript_at_cke = None;
        }
        let d = &mut self.dirs[dir.index()];
        if d.active.is_none() && d.lost.is_none() {
            if let Some(k) = d.pending.take() {
                d.active = Some(k);
                d.started = true;
                return true;
            }
        }
        false
    }

    fn session_keys(
        &self,
        facts: &TlsFacts,
        client_dir: Option<Dir>,
    ) -> Result<(SessionKeys, Source, Dir), String> {
        let client = client_dir
            .ok_or_else(|| "not decryptable: the hellos are not in the capture".to_string())?;
        let (Some(ch), Some(sh), Some(version), Some(suite)) = (
            facts.client_hello.as_ref(),
            facts.server_hello.as_ref(),
            facts.negotiated_version,
            facts.cipher_suite,
        ) else {
            return Err("not decryptable: the hellos are not in the capture".into());
        };
        if sh.sslv2_format || version == TlsVersion::SSL2 {
            return Err("not decryptable: SSLv2 is not supported".into());
        }
        let (Some(client_random), Some(server_random)) =
            (random32(&ch.random), random32(&sh.random))
        else {
            return Err("not decryptable: the hello randoms are not in the capture".into());
        };
        let p = SessionParams {
            version,
            suite,
            client_random,
            server_random,
            encrypt_then_mac: facts.encrypt_then_mac,
        };
        let unsupported = |e: DecryptError| format!("not decryptable: {e}");
        match SessionKeys::from_keylog(&p, &self.keys.keylog) {
            Ok(k) => return Ok((k, Source::KeyLog, client)),
            Err(DecryptError::NoKey) => {}
            Err(e) => return Err(unsupported(e)),
        }
        if self.keys.rsa.is_empty() {
            return Err("no key for this client random".into());
        }
        let params =
            suite_params(suite).ok_or_else(|| unsupported(DecryptError::UnknownSuite { suite }))?;
        if params.kx != KeyExchange::Rsa {
            return Err(format!(
                "no key for this client random (the RSA key cannot help: {} does not use RSA key exchange)",
                super::suites::display(suite)
            ));
        }
        let Some(cke) = self.cke.as_deref() else {
            return Err(if facts.resumed == Some(true) {
                "no key for this client random (resumed session: the RSA key needs the full handshake)".into()
            } else {
                "not decryptable: no ClientKeyExchange seen for the RSA key".into()
            });
        };
        let Some(cert) = self.server_cert.as_deref() else {
            return Err("not decryptable: no server certificate seen to match the RSA key".into());
        };
        let session_hash = if facts.extended_master_secret {
            if self.transcript_broken {
                return Err("not decryptable: extended master secret and a handshake message over the size limit".into());
            }
            let t = self.transcript_at_cke.clone().ok_or_else(|| {
                "not decryptable: extended master secret without the whole handshake".to_string()
            })?;
            Some(t.finish(version, params.prf))
        } else {
            None
        };
        match SessionKeys::from_rsa(&p, &self.keys.rsa, cert, cke, session_hash.as_deref()) {
            Ok(k) => Ok((k, Source::Rsa, client)),
            Err(DecryptError::NoKey) => Err(
                "no key for this client random, and no RSA key matches the server certificate"
                    .into(),
            ),
            Err(DecryptError::KeyMismatch) => {
                Err("wrong key: the RSA key does not decrypt the ClientKeyExchange".into())
            }
            Err(e) => Err(unsupported(e)),
        }
    }

    /// Opens one protected record of `dir` (see [`Opened`]). On an error the direction is
    /// dropped (and the reason kept) and `None` returned.
    pub fn decrypt(
        &mut self,
        dir: Dir,
        content_type: u8,
        version: u16,
        body: &[u8],
        frame: FrameNo,
    ) -> Option<Opened<'_>> {
        let who = self.who(dir);
        let tls13 = self.tls13;
        let d = &mut self.dirs[dir.index()];
        let dec = d.active.as_mut()?;
        // Cheap path for CBC application data once the keys are proven: the
        // padding byte of the last block gives the content length.
        if content_type == 23 && !tls13 && d.verified > 0 {
            let nonempty = dec.peek_content_len(body).is_some_and(|n| n > 0);
            if nonempty && dec.advance(body).is_ok() {
                return Some(Opened {
                    content_type,
                    data: None,
                });
            }
        }
        let outcome = dec
            .decrypt(content_type, version, body)
            .map(|p: Plaintext<'_>| p.content_type);
        match outcome {
            Ok(inner) => {
                d.verified += 1;
                let data = d.active.as_ref().map(|k| k.last_plaintext());
                Some(Opened {
                    content_type: inner,
                    data,
                })
            }
            Err(e) => {
                d.active = None;
                d.pending = None;
                d.application = None;
                let what = if e.is_integrity_failure() {
                    integrity_word(&e).to_string()
                } else {
                    e.to_string()
                };
                if e.indicates_wrong_key() && d.verified == 0 {
                    let first = if tls13 {
                        "the first protected record"
                    } else {
                        "Finished"
                    };
                    d.wrong_key = Some(format!(
                        "wrong key: {what} on {first} from the {who} (frame {frame})"
                    ));
                } else {
                    let n = e_seq(&e).map_or_else(String::new, |s| format!(" {}", s + 1));
                    d.lost = Some(format!(
                        "{what} at record{n} from the {who} (frame {frame})"
                    ));
                }
                None
            }
        }
    }

    /// Skips one protected record of `dir`; `tail` holds its last bytes.
    pub fn advance(&mut self, dir: Dir, tail: &[u8], frame: FrameNo) {
        let who = self.who(dir);
        let d = &mut self.dirs[dir.index()];
        let Some(dec) = d.active.as_mut() else {
            return;
        };
        if dec.advance(tail).is_err() {
            d.active = None;
            d.lost = Some(format!(
                "the {who}'s records could not be followed past frame {frame} (CBC chain lost)"
            ));
        }
    }

    /// Acts on what a decrypted record asked for.
    pub fn after_record(&mut self, dir: Dir, what: AfterRecord, frame: FrameNo) {
        let who = self.who(dir);
        let d = &mut self.dirs[dir.index()];
        match what {
            AfterRecord::Nothing => {}
            AfterRecord::SwitchToApplication => {
                d.tls13_handshake = false;
                d.active = d.application.take();
                if d.active.is_none() {
                    d.lost = Some(format!(
                        "no application traffic secret for the {who} (after frame {frame})"
                    ));
                }
            }
            AfterRecord::Stop(why) => {
                if d.active.take().is_some() {
                    d.lost = Some(format!("{why} from the {who} (frame {frame})"));
                }
            }
        }
    }

    /// The record boundary or bytes of `dir` were lost (TCP gap, resync).
    pub fn lose(&mut self, dir: Dir, why: &str, frame: FrameNo) {
        let who = self.who(dir);
        let d = &mut self.dirs[dir.index()];
        if d.active.take().is_some() || d.pending.take().is_some() {
            d.application = None;
            d.lost = Some(format!("{why} in the {who}'s bytes (frame {frame})"));
        }
    }

    /// Is `dir`'s empty-record count exact (decrypted from its start, nothing lost)?
    pub fn exact(&self, dir: Dir) -> bool {
        let d = &self.dirs[dir.index()];
        d.started && d.lost.is_none() && d.wrong_key.is_none()
    }

    /// The `TlsFacts::decryption` text.
    pub fn status(&self) -> String {
        let source = match &self.setup {
            Setup::Waiting => {
                return "not decrypted: the handshake did not reach encryption".into();
            }
            Setup::Failed(why) => return why.clone(),
            Setup::Ready(s) => s.name(),
        };
        if let Some(w) = self.dirs.iter().find_map(|d| d.wrong_key.as_ref()) {
            return w.clone();
        }
        let lost: Vec<&str> = self.dirs.iter().filter_map(|d| d.lost.as_deref()).collect();
        let verified: u64 = self.dirs.iter().map(|d| d.verified).sum();
        if !lost.is_empty() {
            return format!(
                "partly decrypted ({source}): {}; counts from the wire there",
                lost.join("; ")
            );
        }
        if verified == 0 {
            return format!("keys found ({source}); no protected record seen");
        }
        format!("decrypted ({source})")
    }
}

fn e_seq(e: &DecryptError) -> Option<u64> {
    match e {
        DecryptError::Truncated { seq, .. }
        | DecryptError::BadBlockLength { seq, .. }
        | DecryptError::RecordTooLong { seq, .. }
        | DecryptError::BadPadding { seq }
        | DecryptError::BadMac { seq }
        | DecryptError::BadTag { seq }
        | DecryptError::NoInnerContentType { seq }
        | DecryptError::ChainLost { seq } => Some(*seq),
        _ => None,
    }
}

/// Longest application-data record of a TLS ≤1.2 flow that can carry empty
/// plaintext: the minimal record plus the largest extra CBC padding; for
/// AEAD suites exactly the nonce and tag.
fn candidate_max(facts: &TlsFacts) -> usize {
    let minimal = facts.per_dir[0].app_data.minimal_len.map(usize::from);
    match (minimal, facts.cipher_suite.and_then(suite_params)) {
        (Some(m), _) => m + MAX_EXTRA_PADDING,
        (None, Some(p)) if p.cipher == BulkCipher::ChaCha20Poly1305 => 16,
        (None, Some(p)) if p.cipher.is_aead() => 8 + 16,
        _ => 0,
    }
}
