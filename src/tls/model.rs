//! Owned results of the TLS stage for one flow: what was seen, with the frame
//! numbers that prove it. Plain data (Serialize), no parser types leak out.
//!
//! Directions are TCP directions of the flow ([`Dir`]: `AB` = from the
//! canonical key's `a` to `b`); the facts builder maps them to client/server
//! using `client_hello_dir` / `server_hello_dir` and the TCP roles.
//!
//! Field names are a contract with `checks/` and `report/`: add fields, never
//! rename or change their meaning.

use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;

/// A handshake message's name (`client_hello`, …): a constant for every
/// known type, so naming each message of each flow allocates nothing.
pub type MessageName = Cow<'static, str>;

use super::anomaly::Anomaly;
use crate::capture::Timestamp;
use crate::decode::Dir;

/// TLS / SSL protocol version code point (open newtype, R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TlsVersion(pub u16);

impl TlsVersion {
    pub const SSL2: TlsVersion = TlsVersion(0x0002);
    pub const SSL3: TlsVersion = TlsVersion(0x0300);
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    pub const TLS13: TlsVersion = TlsVersion(0x0304);

    /// Report name: `SSLv2`, `SSLv3`, `TLSv1.0` … `TLSv1.3`, `TLSv1.3-draft28`,
    /// else `0x%04x`.
    pub fn name(self) -> String {
        match self.0 {
            0x0002 => "SSLv2".into(),
            0x0300 => "SSLv3".into(),
            0x0301 => "TLSv1.0".into(),
            0x0302 => "TLSv1.1".into(),
            0x0303 => "TLSv1.2".into(),
            0x0304 => "TLSv1.3".into(),
            v if v & 0xff00 == 0x7f00 => format!("TLSv1.3-draft{}", v & 0xff),
            // BoringSSL's TLS 1.3 experiment variants (2017-18 Chrome field trials).
            v @ 0x7e01..=0x7e03 => {
                format!("TLSv1.3-draft (Google experiment {}, 0x{v:04x})", v & 0xff)
            }
            // Facebook's Fizz drafts 23 and 26 under private code points.
            0xfb17 => "TLSv1.3-draft23 (Facebook 0xfb17)".into(),
            0xfb1a => "TLSv1.3-draft26 (Facebook 0xfb1a)".into(),
            v if v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff => format!("GREASE (0x{v:04x})"),
            v => format!("0x{v:04x}"),
        }
    }

    /// Parse a report/profile name (`TLSv1.0`, `TLS1.0`, `TLS 1.0`, `tls1`, `0x0301`).
    pub fn parse(s: &str) -> Option<TlsVersion> {
        let t: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(hex) = t.strip_prefix("0x") {
            return u16::from_str_radix(hex, 16).ok().map(TlsVersion);
        }
        let v = match t.as_str() {
            "sslv2" | "ssl2" | "ssl2.0" => 0x0002,
            "sslv3" | "ssl3" | "ssl3.0" => 0x0300,
            "tlsv1" | "tlsv1.0" | "tls1" | "tls1.0" => 0x0301,
            "tlsv1.1" | "tls1.1" => 0x0302,
            "tlsv1.2" | "tls1.2" => 0x0303,
            "tlsv1.3" | "tls1.3" => 0x0304,
            _ => return None,
        };
        Some(TlsVersion(v))
    }

    /// TLS 1.3 or one of its drafts or vendor variants (named in [`Self::name`]).
    pub fn is_tls13(self) -> bool {
        matches!(self.0, 0x0304 | 0x7e01..=0x7e03 | 0xfb17 | 0xfb1a) || self.0 & 0xff00 == 0x7f00
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Cipher suite code point (open newtype, R4). Name lookup lives in `tls::suites`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CipherSuiteId(pub u16);

impl CipherSuiteId {
    pub const RSA_WITH_3DES_EDE_CBC_SHA: CipherSuiteId = CipherSuiteId(0x000a);
    pub fn hex(self) -> String {
        format!("0x{:04x}", self.0)
    }
}

/// Where a fact was seen: the frame whose bytes completed it.
pub type FrameNo = u64;

/// ClientHello as offered (first ClientHello of the flow; `count` says how many).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientHelloFacts {
    pub frame: FrameNo,
    pub dir: Option<Dir>,
    /// SSLv2-compatible (v2 record) ClientHello.
    pub sslv2_format: bool,
    /// legacy_version field.
    pub version: Option<TlsVersion>,
    /// supported_versions extension, in offer order (GREASE removed).
    pub supported_versions: Vec<TlsVersion>,
    pub cipher_suites: Vec<CipherSuiteId>,
    pub sni: Option<String>,
    pub session_id: Vec<u8>,
    /// session_ticket extension present (`ticket_len` > 0 means a ticket is offered for resumption).
    pub session_ticket_ext: bool,
    pub ticket_len: usize,
    /// SHA-256 of the offered ticket (when `ticket_len` > 0): links a
    /// resumption to the flow whose NewSessionTicket issued it, in bounded
    /// memory whatever the ticket's size.
    pub ticket_digest: Option<[u8; 32]>,
    /// pre_shared_key extension (TLS 1.3 resumption offer).
    pub psk: bool,
    pub extensions: Vec<u16>,
    pub encrypt_then_mac: bool,
    pub extended_master_secret: bool,
    /// How many ClientHellos were seen on the flow (2 after a HelloRetryRequest, more on renegotiation in the clear).
    pub count: u32,
    /// client_random (32 bytes) for key-log matching.
    pub random: Vec<u8>,
    /// signature_algorithms extension, in offer order (JA4).
    pub signature_algorithms: Vec<u16>,
    /// First protocol of the ALPN extension, raw (JA4); None without one.
    pub alpn_first: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerHelloFacts {
    pub frame: FrameNo,
    pub dir: Option<Dir>,
    pub sslv2_format: bool,
    /// legacy server_version field.
    pub version: Option<TlsVersion>,
    /// supported_versions extension (TLS 1.3).
    pub supported_version: Option<TlsVersion>,
    pub cipher_suite: Option<CipherSuiteId>,
    pub session_id: Vec<u8>,
    pub extensions: Vec<u16>,
    pub psk: bool,
    pub encrypt_then_mac: bool,
    pub extended_master_secret: bool,
    /// A HelloRetryRequest was seen before this ServerHello (its frame).
    pub hello_retry_request: Option<FrameNo>,
    pub random: Vec<u8>,
}

/// One X.509 certificate, decoded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CertFacts {
    /// Every CN attribute of the subject, in order, whatever its string type.
    pub subject_cn: Vec<String>,
    /// Full subject in RFC 4514-ish form (`CN=…, O=…`).
    pub subject: String,
    pub issuer: String,
    pub issuer_cn: Vec<String>,
    /// DNS / IP / email / URI SANs as `DNS:name`, `IP:addr`, … (dNSName without prefix? no: always prefixed).
    pub san: Vec<String>,
    /// Unix seconds.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// EKU purposes by short name (`serverAuth`, `clientAuth`, …) or dotted OID. `None` = no EKU extension (any purpose).
    pub eku: Option<Vec<String>>,
    /// `RSA 2048`, `EC P-256`, `Ed25519`, … or the algorithm OID.
    pub key: String,
    pub signature_algorithm: String,
    /// Hex, colon-free, lowercase.
    pub serial: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Set when x509-parser could not decode the DER: the reason. Other fields then empty.
    pub parse_error: Option<String>,
    /// Set when only a prefix of the DER was kept (the message exceeded the
    /// handshake limit): fields up to the public key are decoded, extensions
    /// (SAN, EKU), signature algorithm and `sha256` are not. Says what is missing.
    pub partial: Option<String>,
}

/// A Certificate handshake message as sent by one side.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CertChainFacts {
    /// Frame that completed the Certificate message.
    pub frame: FrameNo,
    /// Chain in the order sent; empty = an empty Certificate message.
    /// Shared: the same certificate on many connections is decoded once
    /// (see `tls::cert::decode`) and held once.
    pub certs: Vec<Arc<CertFacts>>,
    /// TLS 1.3 certificate_request_context etc. do not matter here; `truncated` marks a chain cut by limits.
    pub truncated: bool,
}

/// CertificateRequest from the server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CertRequestFacts {
    pub frame: FrameNo,
    /// Distinguished names of acceptable CAs, as strings (may be empty =
    /// any). Shared: a server's every connection sends the same request
    /// (see `tls::cert::request_ca_names`).
    pub ca_names: Arc<[String]>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertFacts {
    pub frame: FrameNo,
    pub dir: Option<Dir>,
    /// Encrypted alert: level/description unknown without keys.
    pub encrypted: bool,
    /// An encrypted alert that was decrypted (`--keylog`/`--rsa-key`):
    /// `level` and `description` are filled.
    pub decrypted: bool,
    pub level: Option<u8>,
    pub description: Option<u8>,
}

/// Application-data record statistics for one direction (evidence for spec §3.3).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppDataStats {
    pub records: u64,
    pub bytes: u64,
    pub first_frame: Option<FrameNo>,
    /// Minimal ciphertext length for the negotiated suite (CBC: MAC+padding [+IV]); None when not CBC / unknown.
    pub minimal_len: Option<u16>,
    /// Records of exactly `minimal_len` bytes.
    pub minimal_records: u64,
    /// …of which followed by another application-data record of the same direction in the same TCP segment.
    pub minimal_then_same_segment: u64,
    /// …of which followed by application data of the same direction in a later segment before the peer spoke.
    pub minimal_then_later_segment: u64,
    /// Up to `MAX_EVIDENCE_FRAMES` frames for each category above.
    pub same_segment_frames: Vec<FrameNo>,
    pub later_segment_frames: Vec<FrameNo>,
    /// Application-data records with length field 0.
    pub zero_length_records: u64,
    pub zero_length_frames: Vec<FrameNo>,
    /// With keys (`--keylog`): records whose plaintext was empty; None when not decrypted.
    pub decrypted_empty_records: Option<u64>,
    pub decrypted_empty_frames: Vec<FrameNo>,
    /// Record-layer versions of these records, each with the first frame
    /// that showed it (capped at `MAX_RECORD_VERSIONS`). After the
    /// handshake a TLS ≤ 1.2 record carries the negotiated version (TLS 1.3:
    /// 0x0303), which is evidence when the ServerHello is not in the capture.
    pub record_versions: Vec<(TlsVersion, FrameNo)>,
    /// For each residue of the record length modulo 16 seen, the first
    /// record with it (length, frame): what block size and MAC the suite can
    /// have (a 64-bit block cipher never writes a length that is not a
    /// multiple of 8 under MAC-then-encrypt). At most 16 entries; empty (no
    /// allocation) for flows without application data.
    pub len_mod16: Vec<(u16, FrameNo)>,
    /// While the suite is not known (no ServerHello): the §3.3 ladder's
    /// counts for each short record length (≤ 64 bytes, at most 8 lengths),
    /// so the checks can apply it once they infer the minimal size from the
    /// record layer.
    pub short_records: Vec<ShortRecordStats>,
}

/// The empty-fragment ladder's counts for one record length (see
/// [`AppDataStats::short_records`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShortRecordStats {
    pub len: u16,
    pub records: u64,
    pub then_same_segment: u64,
    pub then_later_segment: u64,
    pub same_segment_frames: Vec<FrameNo>,
    pub later_segment_frames: Vec<FrameNo>,
}

impl ShortRecordStats {
    /// Frames kept per list (as `MAX_EVIDENCE_FRAMES` in the session).
    const MAX_FRAMES: usize = 16;

    /// The record of this length at `frame` was followed by another record
    /// of its direction, in the same TCP segment or a later one.
    pub fn followed(&mut self, same_segment: bool, frame: FrameNo) {
        let (n, frames) = if same_segment {
            (&mut self.then_same_segment, &mut self.same_segment_frames)
        } else {
            (&mut self.then_later_segment, &mut self.later_segment_frames)
        };
        *n += 1;
        if frames.len() < Self::MAX_FRAMES {
            frames.push(frame);
        }
    }

    /// These counts as the ladder's, for a suite whose minimal record is `len`.
    pub fn as_minimal(&self, stats: &AppDataStats) -> AppDataStats {
        AppDataStats {
            minimal_len: Some(self.len),
            minimal_records: self.records,
            minimal_then_same_segment: self.then_same_segment,
            minimal_then_later_segment: self.then_later_segment,
            same_segment_frames: self.same_segment_frames.clone(),
            later_segment_frames: self.later_segment_frames.clone(),
            short_records: Vec::new(),
            ..stats.clone()
        }
    }
}

impl AppDataStats {
    /// Lengths seen, as (length, first frame), one per residue mod 16.
    pub fn length_samples(&self) -> impl Iterator<Item = (u16, FrameNo)> + '_ {
        self.len_mod16.iter().copied()
    }

    /// Keep `len` as the sample of its residue mod 16 if it is the first.
    pub fn sample_length(&mut self, len: u16, frame: FrameNo) {
        if !self.len_mod16.iter().any(|(l, _)| l % 16 == len % 16) {
            self.len_mod16.push((len, frame));
        }
    }
}

/// Per-direction record-layer facts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DirectionFacts {
    pub records: u64,
    /// Record-layer versions seen (distinct, in order of first appearance).
    pub record_versions: Vec<TlsVersion>,
    pub sslv2_records: u64,
    /// Frame of this side's ChangeCipherSpec.
    pub change_cipher_spec: Option<FrameNo>,
    /// First encrypted handshake record after CCS (the Finished), or the TLS 1.3 equivalent.
    pub encrypted_handshake: Option<FrameNo>,
    pub app_data: AppDataStats,
    pub heartbeats: u64,
    /// Zero-length records of any content type (count).
    pub zero_length_records: u64,
    /// Gaps in this direction (TCP) after which the record walk resynchronised.
    pub resyncs: u32,
    /// Bytes skipped because the record walk could not find a record boundary.
    pub unparsed_bytes: u64,
    /// Handshake messages in order (names; `encrypted` for opaque ones), capped.
    pub handshake_messages: Vec<MessageName>,
    /// Last plaintext handshake message name and its frame.
    pub last_handshake: Option<(MessageName, FrameNo)>,
    /// The direction's bytes did not start at a record boundary (capture began
    /// mid-connection): the walk found its first record by resynchronising,
    /// or the first record was already application data.
    pub midstream: bool,
    pub first_frame: Option<FrameNo>,
    pub last_ts: Option<Timestamp>,
}

/// What one side sent at one step of the handshake ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A cleartext handshake message (or one read with the keys), by its
    /// name as in `handshake_messages` (`client_hello`, `finished`, …).
    Handshake(MessageName),
    /// A protected handshake record that could not be read: the Finished
    /// after a ChangeCipherSpec, or TLS 1.3's encrypted flight.
    EncryptedHandshake,
    ChangeCipherSpec,
    /// Application-data records in a row. The first record of each
    /// direction starts its own step; once both directions have sent
    /// application data, later records join the step before them whatever
    /// their direction, so a long conversation stays one step.
    /// `records` counts per direction (indexed by [`Dir::index`]).
    AppData {
        records: [u64; 2],
        last_frame: FrameNo,
        last_ts: Timestamp,
    },
    /// An alert; level and description are `None` when it was encrypted
    /// and not decrypted.
    Alert {
        level: Option<u8>,
        description: Option<u8>,
    },
}

/// One step of the flow's timeline: the frame that completed it, its
/// capture time and its sender. The timeline is what a ladder (sequence)
/// diagram of the handshake is drawn from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    pub frame: FrameNo,
    pub ts: Timestamp,
    pub dir: Dir,
    pub step: Step,
}

/// The flow's payload is not TLS.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotTlsFacts {
    pub frame: FrameNo,
    pub dir: Option<Dir>,
    /// Human hint: `cleartext SIP (INVITE sip:… SIP/2.0)`, `SSH`, `HTTP`, `unknown binary`.
    pub looks_like: String,
}

/// Everything the TLS stage learned about one flow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsFacts {
    /// At least one valid TLS/SSL record was seen.
    pub saw_tls: bool,
    pub not_tls: Option<NotTlsFacts>,
    pub client_hello: Option<ClientHelloFacts>,
    pub server_hello: Option<ServerHelloFacts>,
    /// Negotiated: supported_versions if present, else server_version (SSLv2: 0x0002).
    pub negotiated_version: Option<TlsVersion>,
    pub cipher_suite: Option<CipherSuiteId>,
    /// Abbreviated handshake (session id echo / ticket) or TLS 1.3 PSK; None when no ServerHello.
    pub resumed: Option<bool>,
    /// How: `session-id`, `ticket`, `psk`.
    pub resumption: Option<String>,
    /// Server issued a NewSessionTicket.
    pub new_session_ticket: bool,
    /// SHA-256 of the ticket of the first cleartext (TLS ≤ 1.2)
    /// NewSessionTicket: a later flow offering it resumes this one.
    pub issued_ticket_digest: Option<[u8; 32]>,
    pub server_certificates: Option<CertChainFacts>,
    pub client_certificates: Option<CertChainFacts>,
    pub certificate_request: Option<CertRequestFacts>,
    pub alerts: Vec<AlertFacts>,
    /// A second handshake on the same connection (ClientHello/HelloRequest in the clear after the first, or an encrypted handshake record after Finished).
    pub renegotiation: bool,
    pub renegotiation_frame: Option<FrameNo>,
    /// Encrypt-then-MAC negotiated (both hellos carry the extension).
    pub encrypt_then_mac: bool,
    /// Extended master secret negotiated (both hellos carry the extension).
    pub extended_master_secret: bool,
    /// Cleartext that preceded TLS on this flow (STARTTLS-style upgrade:
    /// SMTP, FTP, HTTP CONNECT, …): what it looked like and where it started.
    pub cleartext_prefix: Option<NotTlsFacts>,
    pub per_dir: [DirectionFacts; 2],
    /// What could not be decoded in full (damaged handshake, oversized
    /// message, bytes lost in a gap, …), each with its frame; capped at
    /// [`MAX_ANOMALIES`](super::MAX_ANOMALIES).
    pub anomalies: Vec<Anomaly>,
    /// Anomalies past the cap, counted only.
    pub anomalies_dropped: u32,
    /// Decryption status (`--keylog` / `--rsa-key`): None when no keys were given.
    pub decryption: Option<String>,
    /// The steps of the connection in capture order, capped (see
    /// `session::MAX_TIMELINE_EVENTS`); `timeline_dropped` counts the steps
    /// past the cap.
    pub timeline: Vec<TimelineEvent>,
    pub timeline_dropped: u32,
}
