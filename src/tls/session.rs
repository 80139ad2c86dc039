//! Per-flow TLS state: the record walk of each direction (with the slow-path
//! buffers), handshake-message reassembly, and the facts they produce.
//!
//! Owns: [`Session`]. Invariants:
//! - Bytes are copied only when a unit straddles `on_data` calls: a record
//!   whose body is needed (cleartext handshake/alert, SSLv2 hellos) into
//!   `DirStream::buf` (≤ header + `records::MAX_RECORD_LEN`), a handshake message
//!   split across records into `DirCtx::hs_buf` (≤ `max_handshake_len`; a
//!   larger Certificate keeps only that prefix, larger others are skipped), and
//!   bytes searched for a record boundary into `DirStream::hunt`
//!   (≤ [`HUNT_WINDOW`]). Record bodies that are not needed (application
//!   data, anything encrypted) are skipped without copying; when a decryptor
//!   follows the direction, only the last ≤ `MAX_TAIL` bytes of a skipped
//!   protected record are kept (`DirStream::adv`) for its `advance`, and the
//!   protected records worth decrypting (see `keyed.rs`) are treated like
//!   needed bodies (borrowed when whole, else buffered in `DirStream::buf`).
//! - Every list in the facts is capped by a named const; exceeding a limit
//!   adds a note, never unbounded growth. No input makes this panic.

use crate::capture::Timestamp;
use crate::decode::Dir;

use std::sync::Arc;

use super::cert;
use super::decrypt::Keys;
use super::handshake::{self as hs, HsHeader, HS_HEADER_LEN};
use super::keyed::{AfterRecord, FlowKeys};
use super::model::{
    AlertFacts, CertChainFacts, CertRequestFacts, CipherSuiteId, ClientHelloFacts, FrameNo,
    NotTlsFacts, ServerHelloFacts, ShortRecordStats, TlsFacts, TlsVersion,
};
use super::model::{Step, TimelineEvent};
use super::records::{self, ContentType, SyncRule, HEADER_LEN};
use super::sniff;
use super::sslv2;
use super::suites;
use super::TlsLimits;

/// Frames kept per evidence list (minimal records, zero-length records).
pub const MAX_EVIDENCE_FRAMES: usize = 16;
/// Notes kept per flow; one more says that the rest were dropped.
pub const MAX_NOTES: usize = 32;
/// Alerts kept per flow: a handshake has at most a couple; more is a flood.
pub const MAX_ALERTS: usize = 32;
/// Handshake message names kept per direction (a full handshake has ~10).
pub const MAX_HANDSHAKE_NAMES: usize = 64;
/// Timeline steps kept per flow (the ladder diagram's rows). A full mutual-TLS
/// handshake with its first application data, closing alerts and a
/// renegotiation is about 30 steps; long conversations collapse into one
/// application-data step, so only floods of alerts or renegotiations reach it.
pub const MAX_TIMELINE_EVENTS: usize = 64;
/// Distinct record-layer versions kept per direction.
pub const MAX_RECORD_VERSIONS: usize = 8;
/// Bytes held while searching for a record boundary: a chain of three
/// maximal records (3 × (5 + 2^14 + 2048)) fits.
pub const HUNT_WINDOW: usize = 64 * 1024;
/// Bytes at the start of a direction searched for TLS after a cleartext
/// prefix (STARTTLS, proxies) before the direction is declared not TLS.
pub const STARTTLS_SCAN_LIMIT: u64 = 64 * 1024;
/// Longest record length tracked as a possible empty fragment while the
/// suite is not known: 64 covers every CBC suite's minimal record (3DES-SHA
/// under TLS 1.0 is 24, AES-SHA384 with an explicit IV 80 is past it and is
/// left unknown).
const MAX_SHORT_RECORD_LEN: usize = 64;
/// Distinct short lengths tracked per direction.
const MAX_SHORT_LENGTHS: usize = 8;
/// Application-data records after which a flow joined mid-stream counts as
/// judged (live reports it then): enough for the record-layer answers,
/// bounded so a week-long link shows up in its first minute.
pub const MIDSTREAM_SETTLE_RECORDS: u64 = 16;
/// Consecutive plausible record headers that confirm a boundary on their own.
const SYNC_CHAIN: usize = 3;
/// Tail bytes kept of a skipped protected record: TLS 1.0 CBC needs its last
/// ciphertext block (≤ 16 bytes) plus, under encrypt-then-MAC, the MAC (≤ 48).
const MAX_TAIL: usize = 64;

/// The last bytes of a protected record being skipped, for the decryptor's
/// `advance` (the walker skips bodies without copying them; only this tail
/// is kept, across `on_data` calls when the record straddles segments).
#[derive(Debug, Clone, Copy)]
struct Tail {
    need: usize,
    buf: [u8; MAX_TAIL],
    len: usize,
}

impl Tail {
    fn new(need: usize) -> Tail {
        Tail {
            need: need.min(MAX_TAIL),
            buf: [0; MAX_TAIL],
            len: 0,
        }
    }

    /// Appends bytes, keeping only the last `need`.
    fn push(&mut self, b: &[u8]) {
        if self.need == 0 || b.is_empty() {
            return;
        }
        if b.len() >= self.need {
            self.buf[..self.need].copy_from_slice(&b[b.len() - self.need..]);
            self.len = self.need;
            return;
        }
        let keep = (self.need - b.len()).min(self.len);
        self.buf.copy_within(self.len - keep..self.len, 0);
        self.buf[keep..keep + b.len()].copy_from_slice(b);
        self.len = keep + b.len();
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Where the record walk of a direction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// No byte seen yet.
    #[default]
    Start,
    /// At a record boundary (or inside a known record).
    Synced,
    /// Searching for a record boundary; `at_start`: nothing decoded yet in this direction.
    Hunt { at_start: bool },
    /// Gave up: the direction is not TLS.
    Dead,
}

/// Record walk state of one direction.
#[derive(Debug, Default)]
struct DirStream {
    mode: Mode,
    /// A record straddling `on_data` calls (header + body so far).
    buf: Vec<u8>,
    /// Call number in which `buf`'s first byte arrived.
    buf_call: u64,
    /// Body bytes of the current record still to skip (not needed).
    skip: usize,
    /// Bytes under search for a record boundary.
    hunt: Vec<u8>,
    /// Bytes consumed while hunting from the start of the direction.
    hunted_at_start: u64,
    /// This direction speaks SSLv2 framing (first record, or an SSLv2 session).
    v2: bool,
    /// Records walked so far.
    records: u64,
    /// The record being skipped is protected and its decryptor must
    /// `advance` past it once its last byte went by.
    adv: Option<Tail>,
}

/// Handshake-level state of one direction.
#[derive(Debug, Default)]
struct DirCtx {
    /// Records of this direction are protected (after its CCS; TLS 1.3 server after ServerHello).
    encrypted: bool,
    /// This side's Finished (or TLS 1.3 / SSLv2 equivalent) was seen.
    finished: bool,
    /// A handshake message straddling records.
    hs_buf: Vec<u8>,
    /// Bytes of an oversized handshake message still to discard.
    hs_skip: usize,
    /// A minimal-size application-data record awaiting its successor: (frame, call).
    /// A minimal-size (or, suite unknown, short) application-data record
    /// awaiting its successor: (frame, call, length).
    pending_minimal: Option<(FrameNo, u64, u16)>,
    /// A decrypted Finished (TLS 1.3: switch to application keys) / KeyUpdate
    /// went by in the current record.
    saw_finished: bool,
    saw_key_update: bool,
}

/// One record as dispatched to the handshake layer.
struct Rec<'a> {
    v2: bool,
    content_type: ContentType,
    version: u16,
    len: usize,
    /// The body when it was needed and complete; `None` when skipped.
    body: Option<&'a [u8]>,
    /// `on_data` call in which the record's first byte arrived.
    start_call: u64,
}

/// Everything but the byte streams (split so the walker can borrow both).
#[derive(Debug, Default)]
struct Core {
    limits: TlsLimits,
    facts: TlsFacts,
    dirs: [DirCtx; 2],
    client_dir: Option<Dir>,
    server_dir: Option<Dir>,
    tls13: bool,
    sslv2_session: bool,
    hrr_frame: Option<FrameNo>,
    /// The server sent Certificate / ServerKeyExchange / CertificateRequest /
    /// ServerHelloDone after its ServerHello.
    server_full_handshake: bool,
    /// The client sent ClientKeyExchange: a full handshake, whatever the
    /// server's messages we may have missed.
    client_full_handshake: bool,
    /// The server's ChangeCipherSpec came before the client's: the
    /// abbreviated flight of a resumption (in a full handshake the client
    /// changes cipher first).
    server_ccs_first: bool,
    fatal_alert: bool,
    notes_dropped: bool,
    /// Decryption state when keys were given (`--keylog`, `--rsa-key`).
    keyed: Option<Box<FlowKeys>>,
    /// Capture time of the frame being fed (the timeline's clock).
    now: Timestamp,
}

/// Per-flow TLS decoder state (see the module docs).
#[derive(Debug, Default)]
pub struct Session {
    streams: [DirStream; 2],
    core: Core,
    call: u64,
}

impl Session {
    pub fn new(limits: TlsLimits) -> Self {
        Session {
            core: Core {
                limits,
                ..Core::default()
            },
            ..Session::default()
        }
    }

    /// A session that decrypts with `keys` (when given).
    pub fn with_keys(limits: TlsLimits, keys: Option<Arc<Keys>>) -> Self {
        let mut s = Session::new(limits);
        if let Some(k) = keys {
            s.core.keyed = Some(Box::new(FlowKeys::new(k)));
            s.core.refresh_decryption();
        }
        s
    }

    pub fn facts(&self) -> &TlsFacts {
        &self.core.facts
    }

    pub fn finish(mut self) -> TlsFacts {
        self.core.refresh_decryption();
        self.core.facts
    }

    pub fn wants_payload(&self, dir: Dir) -> bool {
        let d = dir.index();
        if self.streams[d].mode == Mode::Dead {
            return false;
        }
        let decrypting = self
            .core
            .keyed
            .as_ref()
            .is_some_and(|k| k.wants_payload(dir));
        decrypting || (!self.core.dirs[d].finished && !self.core.fatal_alert)
    }

    pub fn is_settled(&self) -> bool {
        let f = &self.core.facts;
        // Joined mid-stream: no handshake will come; once enough records
        // have shown the record layer, report rather than wait for the end
        // of a connection that may stay open for days.
        let midstream_enough = f.client_hello.is_none()
            && f.server_hello.is_none()
            && f.per_dir.iter().map(|d| d.app_data.records).sum::<u64>()
                >= MIDSTREAM_SETTLE_RECORDS;
        midstream_enough
            || self.core.fatal_alert
            || f.per_dir.iter().all(|d| {
                // SSLv2 records after the hellos are all opaque: no application-data type.
                d.encrypted_handshake.is_some()
                    && (d.app_data.records > 0 || self.core.sslv2_session)
            })
    }

    pub fn on_data(&mut self, dir: Dir, data: &[u8], frame: FrameNo, ts: Timestamp) {
        if data.is_empty() {
            return;
        }
        self.call += 1;
        let d = dir.index();
        // The peer spoke: a minimal record of the other side is no longer
        // followed "before the peer sent anything".
        self.core.dirs[dir.reverse().index()].pending_minimal = None;
        let df = &mut self.core.facts.per_dir[d];
        df.first_frame.get_or_insert(frame);
        df.last_ts = Some(ts);
        self.core.now = ts;
        feed(
            &mut self.streams[d],
            &mut self.core,
            dir,
            data,
            frame,
            self.call,
        );
    }

    pub fn on_gap(&mut self, dir: Dir, len: u64, frame: FrameNo) {
        if len == 0 {
            return;
        }
        let d = dir.index();
        let st = &mut self.streams[d];
        match st.mode {
            Mode::Dead => {}
            Mode::Start => st.mode = Mode::Hunt { at_start: true },
            Mode::Hunt { .. } => {
                // Bytes before the hole cannot chain with bytes after it.
                self.core.facts.per_dir[d].unparsed_bytes += st.hunt.len() as u64;
                st.hunt.clear();
            }
            Mode::Synced => {
                if st.skip as u64 >= len {
                    // The hole lies inside a body we skip anyway: still in sync.
                    st.skip -= len as usize;
                    // The decryptor still follows unless the hole ate the tail it needs.
                    if st.adv.is_some_and(|t| st.skip < t.need) {
                        st.adv = None;
                        self.core.lose_keys(dir, "a TCP gap", frame);
                    }
                    return;
                }
                st.adv = None;
                self.core.lose_keys(dir, "a TCP gap", frame);
                if !st.buf.is_empty() {
                    self.core.note(format!(
                        "frame {frame}: a {dir:?} record was cut by a TCP gap of {len} bytes"
                    ));
                    // Its header is still evidence (type, version, length):
                    // e.g. behind a snaplen cut, that the handshake went on.
                    let v2 = st.v2 || self.core.sslv2_session;
                    if let (false, Some(h)) = (v2, records::parse_header(&st.buf)) {
                        let rec = Rec {
                            v2,
                            content_type: h.content_type,
                            version: h.version,
                            len: h.len,
                            body: None,
                            start_call: st.buf_call,
                        };
                        st.buf.clear();
                        dispatch(st, &mut self.core, dir, rec, frame);
                    }
                }
                st.buf.clear();
                st.skip = 0;
                let ctx = &mut self.core.dirs[d];
                if !ctx.hs_buf.is_empty() {
                    ctx.hs_buf.clear();
                    self.core.note(format!(
                        "frame {frame}: a {dir:?} handshake message was lost in a TCP gap"
                    ));
                }
                self.core.dirs[d].hs_skip = 0;
                st.mode = Mode::Hunt { at_start: false };
            }
        }
    }
}

/// Feed one chunk of in-order bytes of `dir` through the record walk.
fn feed(st: &mut DirStream, core: &mut Core, dir: Dir, data: &[u8], frame: FrameNo, call: u64) {
    let d = dir.index();
    match st.mode {
        Mode::Dead => {
            core.facts.per_dir[d].unparsed_bytes += data.len() as u64;
        }
        Mode::Start => {
            let head = data.get(..HEADER_LEN).unwrap_or(data);
            if sslv2::looks_like_client_hello(data) || sslv2::looks_like_server_hello(data) {
                st.v2 = true;
                st.mode = Mode::Synced;
                walk(st, core, dir, data, frame, call);
            } else if records::plausible_prefix(head) {
                st.mode = Mode::Synced;
                walk(st, core, dir, data, frame, call);
            } else {
                if !core.facts.saw_tls && core.facts.not_tls.is_none() {
                    core.facts.not_tls = Some(NotTlsFacts {
                        frame,
                        dir: Some(dir),
                        looks_like: sniff::looks_like(data),
                    });
                }
                st.mode = Mode::Hunt { at_start: true };
                hunt(st, core, dir, data, frame, call);
            }
        }
        Mode::Hunt { .. } => hunt(st, core, dir, data, frame, call),
        Mode::Synced => walk(st, core, dir, data, frame, call),
    }
}

/// Search for a record boundary in the hunt buffer extended by `data`.
fn hunt(st: &mut DirStream, core: &mut Core, dir: Dir, data: &[u8], frame: FrameNo, call: u64) {
    let d = dir.index();
    let Mode::Hunt { at_start } = st.mode else {
        return;
    };
    // Bytes right after a hole start a TCP segment, and stacks start a
    // segment with a record: a whole plausible header there (of the version
    // this direction already uses, if known) is a boundary without waiting
    // for a chain — after a snaplen cut the chain is never visible.
    let after_hole = st.hunt.is_empty();
    st.hunt.extend_from_slice(data);
    if at_start {
        st.hunted_at_start += data.len() as u64;
    }
    let known_version = core.facts.per_dir[d]
        .record_versions
        .last()
        .map(|v| v.0)
        .filter(|v| (0x0300..=0x0304).contains(v));
    let rule = SyncRule {
        min_chain: SYNC_CHAIN,
        known_version,
        hello_at_end: true,
    };
    let segment_start = after_hole
        && records::parse_header(&st.hunt)
            .is_some_and(|h| known_version.is_none_or(|v| v == h.version));
    let sync = if segment_start {
        records::Sync::Found(0)
    } else {
        records::find_sync(&st.hunt, 0, rule)
    };
    match sync {
        records::Sync::Found(p) => {
            let df = &mut core.facts.per_dir[d];
            df.unparsed_bytes += p as u64;
            let is_hello = st.hunt.get(p) == Some(&22)
                && matches!(st.hunt.get(p + HEADER_LEN), Some(1) | Some(2));
            if at_start {
                if is_hello && p > 0 {
                    // STARTTLS-style upgrade: what came before was the cleartext protocol.
                    let hint = sniff::looks_like(&st.hunt[..p]);
                    core.facts.cleartext_prefix.get_or_insert(NotTlsFacts {
                        frame,
                        dir: Some(dir),
                        looks_like: hint,
                    });
                } else if !is_hello {
                    df.midstream = true;
                }
            } else {
                df.resyncs += 1;
            }
            st.mode = Mode::Synced;
            let bytes = std::mem::take(&mut st.hunt);
            walk(st, core, dir, bytes.get(p..).unwrap_or(&[]), frame, call);
        }
        records::Sync::Pending(q) => {
            let mut drop = q.min(st.hunt.len());
            if st.hunt.len() - drop > HUNT_WINDOW {
                drop = st.hunt.len() - HUNT_WINDOW / 2;
            }
            core.facts.per_dir[d].unparsed_bytes += drop as u64;
            st.hunt.drain(..drop);
            if at_start && st.hunted_at_start > STARTTLS_SCAN_LIMIT {
                core.facts.per_dir[d].unparsed_bytes += st.hunt.len() as u64;
                st.hunt = Vec::new();
                st.mode = Mode::Dead;
            }
        }
    }
}

/// Lose sync at `rest`: hunt from there.
fn lost_sync(
    st: &mut DirStream,
    core: &mut Core,
    dir: Dir,
    rest: &[u8],
    frame: FrameNo,
    call: u64,
) {
    let at_start = st.records == 0;
    if !at_start {
        core.note(format!(
            "frame {frame}: {dir:?} bytes are not a TLS record header; searching for the next record"
        ));
    }
    st.buf.clear();
    st.skip = 0;
    st.adv = None;
    core.lose_keys(dir, "a lost record boundary", frame);
    st.mode = Mode::Hunt { at_start };
    hunt(st, core, dir, rest, frame, call);
}

/// Header of the record at the start of `b` in the current framing:
/// `Ok(Some((header_len, rec)))`, `Ok(None)` = need more bytes, `Err` = not a header.
fn header_at(b: &[u8], v2: bool) -> Result<Option<(usize, ContentType, u16, usize)>, ()> {
    if v2 {
        return Ok(sslv2::parse_v2_header(b).map(|(hl, len)| (hl, ContentType(0), 0x0002, len)));
    }
    if b.len() < HEADER_LEN {
        return if records::plausible_prefix(b) {
            Ok(None)
        } else {
            Err(())
        };
    }
    match records::parse_header(b) {
        Some(h) => Ok(Some((HEADER_LEN, h.content_type, h.version, h.len))),
        None => Err(()),
    }
}

/// The record walk over in-order bytes of one direction (synced).
fn walk(st: &mut DirStream, core: &mut Core, dir: Dir, data: &[u8], frame: FrameNo, call: u64) {
    let mut pos = 0usize;
    if st.skip > 0 {
        let n = st.skip.min(data.len());
        st.skip -= n;
        pos = n;
        if let Some(t) = st.adv.as_mut() {
            t.push(&data[..n]);
        }
        if st.skip == 0 {
            if let Some(t) = st.adv.take() {
                core.advance_keys(dir, t.bytes(), frame);
            }
        }
    }
    // Slow path: finish a record that straddles calls.
    while !st.buf.is_empty() && pos < data.len() {
        let v2 = st.v2 || core.sslv2_session;
        let hdr = match header_at(&st.buf, v2) {
            Ok(h) => h,
            Err(()) => {
                let mut rest = std::mem::take(&mut st.buf);
                rest.extend_from_slice(&data[pos..]);
                lost_sync(st, core, dir, &rest, frame, call);
                return;
            }
        };
        let Some((hl, ct, version, len)) = hdr else {
            // Header incomplete: take one byte at a time until it is (≤ 5 bytes).
            st.buf.push(data[pos]);
            pos += 1;
            continue;
        };
        let total = hl + len;
        if core.wants_body(dir, v2, ct, len) {
            let need = total.saturating_sub(st.buf.len());
            let take = need.min(data.len() - pos);
            st.buf.extend_from_slice(&data[pos..pos + take]);
            pos += take;
            if st.buf.len() < total {
                return;
            }
            let rec_bytes = std::mem::take(&mut st.buf);
            let rec = Rec {
                v2,
                content_type: ct,
                version,
                len,
                body: rec_bytes.get(hl..total),
                start_call: st.buf_call,
            };
            dispatch(st, core, dir, rec, frame);
            // Keep the allocation for the next straddling record.
            if st.buf.is_empty() {
                st.buf = rec_bytes;
                st.buf.clear();
            }
        } else {
            let rec = Rec {
                v2,
                content_type: ct,
                version,
                len,
                body: None,
                start_call: st.buf_call,
            };
            let have = st.buf.len();
            let mut tail = core.advance_need(dir, v2, ct).map(Tail::new);
            if let Some(t) = tail.as_mut() {
                t.push(st.buf.get(hl..).unwrap_or(&[]));
            }
            st.buf.clear();
            dispatch(st, core, dir, rec, frame);
            let remaining = total.saturating_sub(have);
            let n = remaining.min(data.len() - pos);
            if let Some(t) = tail.as_mut() {
                t.push(&data[pos..pos + n]);
            }
            pos += n;
            st.skip = remaining - n;
            if let Some(t) = tail {
                if st.skip == 0 {
                    core.advance_keys(dir, t.bytes(), frame);
                } else {
                    st.adv = Some(t);
                }
            }
        }
    }
    // Fast path: whole records borrowed from `data`.
    while pos < data.len() && st.mode == Mode::Synced {
        let rem = &data[pos..];
        let v2 = st.v2 || core.sslv2_session;
        let (hl, ct, version, len) = match header_at(rem, v2) {
            Ok(Some(h)) => h,
            Ok(None) => {
                st.buf.extend_from_slice(rem);
                st.buf_call = call;
                return;
            }
            Err(()) => {
                lost_sync(st, core, dir, rem, frame, call);
                return;
            }
        };
        let total = hl + len;
        if rem.len() >= total {
            let wanted = core.wants_body(dir, v2, ct, len);
            let need = if wanted {
                None
            } else {
                core.advance_need(dir, v2, ct)
            };
            let rec = Rec {
                v2,
                content_type: ct,
                version,
                len,
                body: if wanted { rem.get(hl..total) } else { None },
                start_call: call,
            };
            dispatch(st, core, dir, rec, frame);
            if let Some(need) = need {
                let from = total.saturating_sub(need).max(hl);
                core.advance_keys(dir, rem.get(from..total).unwrap_or(&[]), frame);
            }
            pos += total;
        } else if core.wants_body(dir, v2, ct, len) {
            st.buf.extend_from_slice(rem);
            st.buf_call = call;
            return;
        } else {
            let rec = Rec {
                v2,
                content_type: ct,
                version,
                len,
                body: None,
                start_call: call,
            };
            let tail = core.advance_need(dir, v2, ct).map(|need| {
                let mut t = Tail::new(need);
                t.push(rem.get(hl..).unwrap_or(&[]));
                t
            });
            dispatch(st, core, dir, rec, frame);
            st.skip = total - rem.len();
            st.adv = tail;
            return;
        }
    }
}

fn dispatch(st: &mut DirStream, core: &mut Core, dir: Dir, rec: Rec, frame: FrameNo) {
    st.records += 1;
    let was_v2 = rec.v2;
    core.on_record(dir, rec, frame, st.records == 1);
    if was_v2 && !core.sslv2_session {
        // SSLv2-compatible ClientHello: the session continues in TLS framing.
        st.v2 = false;
    }
}

fn push_capped<T>(v: &mut Vec<T>, x: T, cap: usize) {
    if v.len() < cap {
        v.push(x);
    }
}

impl Core {
    fn note(&mut self, msg: String) {
        if self.facts.notes.len() < MAX_NOTES {
            self.facts.notes.push(msg);
        } else if !self.notes_dropped {
            self.notes_dropped = true;
            self.facts.notes.push(format!(
                "more than {MAX_NOTES} notes; the rest were dropped"
            ));
        }
    }

    /// Adds a step to the timeline, or counts it past the cap.
    fn step(&mut self, dir: Dir, frame: FrameNo, step: Step) {
        if self.facts.timeline.len() < MAX_TIMELINE_EVENTS {
            self.facts.timeline.push(TimelineEvent {
                frame,
                ts: self.now,
                dir,
                step,
            });
        } else {
            self.facts.timeline_dropped = self.facts.timeline_dropped.saturating_add(1);
        }
    }

    /// One application-data record on the timeline: joins the step before
    /// it when that is application data of the same direction, or of any
    /// direction once both have sent some (see [`Step::AppData`]).
    fn step_app_data(&mut self, dir: Dir, frame: FrameNo) {
        let both_spoke = self.facts.per_dir.iter().all(|p| p.app_data.records > 0);
        let now = self.now;
        if let Some(TimelineEvent {
            dir: run_dir,
            step:
                Step::AppData {
                    records,
                    last_frame,
                    last_ts,
                },
            ..
        }) = self.facts.timeline.last_mut()
        {
            if *run_dir == dir || both_spoke {
                records[dir.index()] += 1;
                *last_frame = frame;
                *last_ts = now;
                return;
            }
        }
        let mut records = [0; 2];
        records[dir.index()] = 1;
        self.step(
            dir,
            frame,
            Step::AppData {
                records,
                last_frame: frame,
                last_ts: now,
            },
        );
    }

    /// Does the walker need this record's body (cleartext parts only)?
    fn wants_body(&self, dir: Dir, v2: bool, ct: ContentType, len: usize) -> bool {
        if self.is_protected(dir, v2, ct) {
            return self
                .keyed
                .as_ref()
                .is_some_and(|k| k.wants_plaintext(dir, ct.0, len));
        }
        if self.dirs[dir.index()].encrypted {
            return false;
        }
        if v2 {
            return true;
        }
        match ct {
            ContentType::HANDSHAKE => true,
            ContentType::ALERT => len == 2,
            _ => false,
        }
    }

    /// Is a record of this type from `dir` protected by the record layer?
    /// TLS ≤1.2: everything after the side's ChangeCipherSpec; TLS 1.3: every
    /// application-data record after the ServerHello. SSLv2 is never decrypted.
    fn is_protected(&self, dir: Dir, v2: bool, ct: ContentType) -> bool {
        if v2 || self.sslv2_session {
            return false;
        }
        if self.tls13 {
            ct == ContentType::APPLICATION_DATA
        } else {
            self.dirs[dir.index()].encrypted
        }
    }

    /// Tail bytes the decryptor of `dir` needs to skip a protected record of
    /// type `ct`; `None` when no decryptor runs for it.
    fn advance_need(&self, dir: Dir, v2: bool, ct: ContentType) -> Option<usize> {
        let k = self.keyed.as_ref()?;
        (k.is_active(dir) && self.is_protected(dir, v2, ct)).then(|| k.tail_need(dir))
    }

    fn advance_keys(&mut self, dir: Dir, tail: &[u8], frame: FrameNo) {
        if let Some(k) = self.keyed.as_mut() {
            k.advance(dir, tail, frame);
            if !k.is_active(dir) {
                self.refresh_decryption();
            }
        }
    }

    fn lose_keys(&mut self, dir: Dir, why: &str, frame: FrameNo) {
        if let Some(k) = self.keyed.as_mut() {
            if k.is_active(dir) || k.wants_payload(dir) {
                k.lose(dir, why, frame);
                self.refresh_decryption();
            }
        }
    }

    /// Copies the decryption status into the facts: the text, and the
    /// empty-record counts only where they are exact.
    fn refresh_decryption(&mut self) {
        let Some(k) = self.keyed.as_ref() else {
            return;
        };
        let status = if k.is_waiting() {
            if !self.facts.saw_tls {
                "not decrypted: no TLS seen".to_string()
            } else if self.facts.client_hello.is_none() && self.facts.server_hello.is_none() {
                "not decryptable: the handshake is not in the capture (it started earlier)"
                    .to_string()
            } else {
                k.status()
            }
        } else {
            k.status()
        };
        for dir in [Dir::AB, Dir::BA] {
            let st = &mut self.facts.per_dir[dir.index()].app_data;
            if k.exact(dir) {
                st.decrypted_empty_records.get_or_insert(0);
            } else {
                st.decrypted_empty_records = None;
            }
        }
        self.facts.decryption = Some(status);
    }

    /// A protected record whose body is here and whose direction has keys:
    /// decrypt it and act on the plaintext. False when it did not decrypt
    /// (the caller treats it as opaque).
    fn on_protected_record(&mut self, dir: Dir, rec: &Rec, body: &[u8], frame: FrameNo) -> bool {
        let Some(mut k) = self.keyed.take() else {
            return false;
        };
        if !k.is_active(dir) {
            self.keyed = Some(k);
            return false;
        }
        let first = k.records_verified(dir) == 0;
        let after = k
            .decrypt(dir, rec.content_type.0, rec.version, body, frame)
            .map(|o| self.on_plaintext(dir, rec, o.content_type, o.data, frame));
        let ok = after.is_some();
        if let Some(a) = after {
            k.after_record(dir, a, frame);
        }
        let changed = first || !ok || !k.is_active(dir);
        self.keyed = Some(k);
        if changed {
            self.refresh_decryption();
        }
        ok
    }

    /// Acts on one opened record: the content type is the inner one (TLS
    /// 1.3) or the header's; `data` is `None` for application data known to
    /// be non-empty without decrypting it whole.
    fn on_plaintext(
        &mut self,
        dir: Dir,
        rec: &Rec,
        content_type: u8,
        data: Option<&[u8]>,
        frame: FrameNo,
    ) -> AfterRecord {
        let d = dir.index();
        let empty = data.is_some_and(<[u8]>::is_empty);
        let data = data.unwrap_or(&[]);
        match ContentType(content_type) {
            ContentType::APPLICATION_DATA => {
                if self.tls13 && self.facts.per_dir[d].encrypted_handshake.is_none() {
                    // Application data before this side's handshake: keep the marker logic.
                    self.mark_encrypted_handshake(dir, frame);
                }
                self.app_data_stats(dir, rec, frame);
                if empty {
                    let st = &mut self.facts.per_dir[d].app_data;
                    if let Some(n) = st.decrypted_empty_records.as_mut() {
                        *n += 1;
                    }
                    push_capped(&mut st.decrypted_empty_frames, frame, MAX_EVIDENCE_FRAMES);
                }
                AfterRecord::Nothing
            }
            ContentType::ALERT => {
                self.dirs[d].pending_minimal = None;
                self.on_decrypted_alert(dir, data, frame);
                AfterRecord::Nothing
            }
            ContentType::HANDSHAKE => {
                self.dirs[d].pending_minimal = None;
                if self.tls13 {
                    if self.facts.per_dir[d].encrypted_handshake.is_none() {
                        self.mark_encrypted_handshake(dir, frame);
                    }
                } else {
                    self.on_encrypted_handshake(dir, frame);
                }
                self.dirs[d].saw_finished = false;
                self.dirs[d].saw_key_update = false;
                self.on_handshake_bytes(dir, data, frame);
                if std::mem::take(&mut self.dirs[d].saw_key_update) {
                    return AfterRecord::Stop("a KeyUpdate changed the keys (not followed)");
                }
                if std::mem::take(&mut self.dirs[d].saw_finished) && self.tls13 {
                    return AfterRecord::SwitchToApplication;
                }
                AfterRecord::Nothing
            }
            ContentType::CHANGE_CIPHER_SPEC => {
                // Only a renegotiation sends a protected ChangeCipherSpec.
                self.dirs[d].pending_minimal = None;
                if !self.facts.renegotiation {
                    self.facts.renegotiation = true;
                    self.facts.renegotiation_frame = Some(frame);
                }
                AfterRecord::Stop("a renegotiation changed the keys (not followed)")
            }
            ContentType::HEARTBEAT => {
                self.facts.per_dir[d].heartbeats += 1;
                AfterRecord::Nothing
            }
            _ => AfterRecord::Nothing,
        }
    }

    fn on_decrypted_alert(&mut self, dir: Dir, data: &[u8], frame: FrameNo) {
        let (level, description) = match data {
            [l, desc, ..] => (Some(*l), Some(*desc)),
            _ => (None, None),
        };
        if level == Some(2) {
            self.fatal_alert = true;
        }
        self.push_alert(AlertFacts {
            frame,
            dir: Some(dir),
            encrypted: true,
            decrypted: level.is_some(),
            level,
            description,
        });
    }

    fn on_record(&mut self, dir: Dir, rec: Rec, frame: FrameNo, first: bool) {
        let d = dir.index();
        if !self.facts.saw_tls {
            self.facts.saw_tls = true;
            // Cleartext seen first in the other direction (STARTTLS) is not "not TLS".
            if let Some(nt) = self.facts.not_tls.take() {
                self.facts.cleartext_prefix.get_or_insert(nt);
            }
        }
        let df = &mut self.facts.per_dir[d];
        df.records += 1;
        let v = TlsVersion(rec.version);
        if !df.record_versions.contains(&v) {
            push_capped(&mut df.record_versions, v, MAX_RECORD_VERSIONS);
        }
        if rec.len == 0 {
            df.zero_length_records += 1;
        }
        if rec.v2 {
            df.sslv2_records += 1;
            self.on_v2_record(dir, rec.body, frame);
            return;
        }
        if first && rec.content_type == ContentType::APPLICATION_DATA {
            df.midstream = true;
        }
        if let Some(body) = rec.body {
            if self.is_protected(dir, false, rec.content_type)
                && self.on_protected_record(dir, &rec, body, frame)
            {
                return;
            }
        }
        if rec.content_type != ContentType::APPLICATION_DATA {
            self.dirs[d].pending_minimal = None;
        }
        match rec.content_type {
            ContentType::APPLICATION_DATA => self.on_app_data(dir, &rec, frame),
            ContentType::CHANGE_CIPHER_SPEC => self.on_ccs(dir, frame),
            ContentType::ALERT => self.on_alert(dir, &rec, frame),
            ContentType::HANDSHAKE => {
                if self.dirs[d].encrypted {
                    self.on_encrypted_handshake(dir, frame);
                } else if let Some(body) = rec.body {
                    if body.is_empty() {
                        self.note(format!(
                            "frame {frame}: zero-length handshake record from {dir:?}"
                        ));
                    }
                    self.on_handshake_bytes(dir, body, frame);
                }
            }
            ContentType::HEARTBEAT => self.facts.per_dir[d].heartbeats += 1,
            _ => {}
        }
    }

    fn mark_encrypted_handshake(&mut self, dir: Dir, frame: FrameNo) {
        let d = dir.index();
        let df = &mut self.facts.per_dir[d];
        df.encrypted_handshake = Some(frame);
        push_capped(
            &mut df.handshake_messages,
            "encrypted".to_string(),
            MAX_HANDSHAKE_NAMES,
        );
        self.dirs[d].finished = true;
        self.step(dir, frame, Step::EncryptedHandshake);
    }

    fn on_encrypted_handshake(&mut self, dir: Dir, frame: FrameNo) {
        let d = dir.index();
        if self.facts.per_dir[d].encrypted_handshake.is_none() {
            self.mark_encrypted_handshake(dir, frame);
            return;
        }
        push_capped(
            &mut self.facts.per_dir[d].handshake_messages,
            "encrypted".to_string(),
            MAX_HANDSHAKE_NAMES,
        );
        self.step(dir, frame, Step::EncryptedHandshake);
        // Conservative: only once application data has flowed both ways is a
        // further protected handshake record a new handshake, not part of the first.
        let both_app = self.facts.per_dir.iter().all(|p| p.app_data.records > 0);
        if both_app && !self.facts.renegotiation {
            self.facts.renegotiation = true;
            self.facts.renegotiation_frame = Some(frame);
        }
    }

    fn on_app_data(&mut self, dir: Dir, rec: &Rec, frame: FrameNo) {
        let d = dir.index();
        let sh_seen = self.facts.server_hello.is_some();
        if self.tls13 && sh_seen && self.facts.per_dir[d].encrypted_handshake.is_none() {
            // TLS 1.3: the first protected record of each side after the
            // ServerHello carries its handshake (server flight / client Finished).
            self.mark_encrypted_handshake(dir, frame);
            return;
        }
        self.app_data_stats(dir, rec, frame);
    }

    /// Record-size statistics of one application-data record (spec §3.3 wire rungs).
    fn app_data_stats(&mut self, dir: Dir, rec: &Rec, frame: FrameNo) {
        self.step_app_data(dir, frame);
        let d = dir.index();
        let ctx = &mut self.dirs[d];
        let st = &mut self.facts.per_dir[d].app_data;
        st.records += 1;
        st.bytes += rec.len as u64;
        st.first_frame.get_or_insert(frame);
        let v = TlsVersion(rec.version);
        if !st.record_versions.iter().any(|(seen, _)| *seen == v) {
            push_capped(&mut st.record_versions, (v, frame), MAX_RECORD_VERSIONS);
        }
        st.sample_length(rec.len as u16, frame);
        if rec.len == 0 {
            st.zero_length_records += 1;
            push_capped(&mut st.zero_length_frames, frame, MAX_EVIDENCE_FRAMES);
        }
        if let Some((mframe, mcall, mlen)) = ctx.pending_minimal.take() {
            let same = mcall == rec.start_call;
            if st.minimal_len.is_some() {
                if same {
                    st.minimal_then_same_segment += 1;
                    push_capped(&mut st.same_segment_frames, mframe, MAX_EVIDENCE_FRAMES);
                } else {
                    st.minimal_then_later_segment += 1;
                    push_capped(&mut st.later_segment_frames, mframe, MAX_EVIDENCE_FRAMES);
                }
            } else if let Some(c) = st.short_records.iter_mut().find(|c| c.len == mlen) {
                c.followed(same, mframe);
            }
        }
        if st.minimal_len.is_some_and(|m| usize::from(m) == rec.len) {
            st.minimal_records += 1;
            ctx.pending_minimal = Some((frame, rec.start_call, rec.len as u16));
        } else if st.minimal_len.is_none() && (1..=MAX_SHORT_RECORD_LEN).contains(&rec.len) {
            // Suite not known (joined mid-stream): keep the ladder's counts
            // for each short length, one of which is the minimal size the
            // checks may infer later from the record lengths.
            let len = rec.len as u16;
            let known = st.short_records.iter().position(|c| c.len == len);
            let at = match known {
                Some(i) => Some(i),
                None if st.short_records.len() < MAX_SHORT_LENGTHS => {
                    st.short_records.push(ShortRecordStats {
                        len,
                        ..ShortRecordStats::default()
                    });
                    Some(st.short_records.len() - 1)
                }
                None => None,
            };
            if let Some(i) = at {
                let c = &mut st.short_records[i];
                c.records += 1;
                ctx.pending_minimal = Some((frame, rec.start_call, len));
            }
        }
    }

    fn on_ccs(&mut self, dir: Dir, frame: FrameNo) {
        let d = dir.index();
        self.facts.per_dir[d]
            .change_cipher_spec
            .get_or_insert(frame);
        self.step(dir, frame, Step::ChangeCipherSpec);
        // TLS 1.3 (or after a HelloRetryRequest) CCS is the middlebox-compat dummy.
        if self.tls13 || self.hrr_frame.is_some() {
            return;
        }
        self.dirs[d].encrypted = true;
        self.dirs[d].hs_buf.clear();
        self.dirs[d].hs_skip = 0;
        if Some(dir) == self.server_dir {
            if self
                .client_dir
                .is_some_and(|c| self.facts.per_dir[c.index()].change_cipher_spec.is_none())
            {
                self.server_ccs_first = true;
            }
            self.update_resumption();
        }
        if let Some(k) = self.keyed.as_mut() {
            k.on_ccs(dir, &self.facts, self.client_dir);
            self.refresh_decryption();
        }
    }

    fn on_alert(&mut self, dir: Dir, rec: &Rec, frame: FrameNo) {
        let d = dir.index();
        let protected = self.dirs[d].encrypted;
        let alert = match rec.body {
            Some(&[level, description]) if !protected => {
                if level == 2 {
                    self.fatal_alert = true;
                }
                AlertFacts {
                    frame,
                    dir: Some(dir),
                    encrypted: false,
                    decrypted: false,
                    level: Some(level),
                    description: Some(description),
                }
            }
            _ => AlertFacts {
                frame,
                dir: Some(dir),
                encrypted: true,
                decrypted: false,
                level: None,
                description: None,
            },
        };
        self.push_alert(alert);
    }

    fn push_alert(&mut self, alert: AlertFacts) {
        let (frame, dir) = (alert.frame, alert.dir);
        if let Some(d) = dir.filter(|_| self.facts.alerts.len() < MAX_ALERTS) {
            let (level, description) = match alert.encrypted && !alert.decrypted {
                true => (None, None),
                false => (alert.level, alert.description),
            };
            self.step(d, frame, Step::Alert { level, description });
        }
        if self.facts.alerts.len() < MAX_ALERTS {
            self.facts.alerts.push(alert);
        } else if self.facts.alerts.len() == MAX_ALERTS {
            self.note(format!(
                "frame {frame}: more than {MAX_ALERTS} alerts; the rest are not listed"
            ));
            // Push past the cap once so the note is not repeated.
            self.facts.alerts.push(AlertFacts {
                frame,
                dir,
                encrypted: true,
                decrypted: false,
                level: None,
                description: None,
            });
        }
    }

    /// Cleartext handshake bytes of one record: reassemble messages across records.
    fn on_handshake_bytes(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        let d = dir.index();
        let max = self.limits.max_handshake_len;
        let mut b = body;
        if self.dirs[d].hs_skip > 0 {
            let n = self.dirs[d].hs_skip.min(b.len());
            self.dirs[d].hs_skip -= n;
            b = &b[n..];
        }
        // Slow path: a message begun in an earlier record.
        while !self.dirs[d].hs_buf.is_empty() && !b.is_empty() {
            let ctx = &mut self.dirs[d];
            if ctx.hs_buf.len() < HS_HEADER_LEN {
                let n = (HS_HEADER_LEN - ctx.hs_buf.len()).min(b.len());
                ctx.hs_buf.extend_from_slice(&b[..n]);
                b = &b[n..];
                continue;
            }
            let Some(h) = HsHeader::parse(&ctx.hs_buf) else {
                break;
            };
            let capped = h.len > max && h.msg_type == hs::HT_CERTIFICATE;
            if h.len > max && !capped {
                let have = ctx.hs_buf.len() - HS_HEADER_LEN;
                ctx.hs_buf.clear();
                let n = (h.len - have).min(b.len());
                ctx.hs_skip = h.len - have - n;
                b = &b[n..];
                self.oversized(dir, h, frame);
                continue;
            }
            // An oversized Certificate keeps its first `max` bytes: the leaf's
            // subject sits near the start of the message.
            let target = HS_HEADER_LEN + h.len.min(max);
            let n = (target - ctx.hs_buf.len()).min(b.len());
            ctx.hs_buf.extend_from_slice(&b[..n]);
            b = &b[n..];
            if ctx.hs_buf.len() == target {
                let msg = std::mem::take(&mut ctx.hs_buf);
                if capped {
                    let rest = h.len - max;
                    let n = rest.min(b.len());
                    b = &b[n..];
                    ctx.hs_skip = rest - n;
                    self.on_capped_certificate(dir, &msg, h.len, frame);
                } else {
                    self.on_handshake_message(dir, &msg, frame);
                }
                if self.dirs[d].hs_buf.is_empty() {
                    self.dirs[d].hs_buf = msg;
                    self.dirs[d].hs_buf.clear();
                }
            }
        }
        if !self.dirs[d].hs_buf.is_empty() && self.dirs[d].hs_buf.len() < HS_HEADER_LEN {
            return;
        }
        // Fast path: whole messages borrowed from the record body.
        while !b.is_empty() {
            let Some(h) = HsHeader::parse(b) else {
                self.dirs[d].hs_buf.extend_from_slice(b);
                return;
            };
            if h.len > max && h.msg_type == hs::HT_CERTIFICATE {
                if b.len() < HS_HEADER_LEN + max {
                    self.dirs[d].hs_buf.extend_from_slice(b);
                    return;
                }
                self.on_capped_certificate(dir, &b[..HS_HEADER_LEN + max], h.len, frame);
                if b.len() >= HS_HEADER_LEN + h.len {
                    b = &b[HS_HEADER_LEN + h.len..];
                    continue;
                }
                self.dirs[d].hs_skip = HS_HEADER_LEN + h.len - b.len();
                return;
            }
            if h.len > max {
                let avail = b.len() - HS_HEADER_LEN;
                self.oversized(dir, h, frame);
                if avail >= h.len {
                    b = &b[HS_HEADER_LEN + h.len..];
                    continue;
                }
                self.dirs[d].hs_skip = h.len - avail;
                return;
            }
            if b.len() >= HS_HEADER_LEN + h.len {
                self.on_handshake_message(dir, &b[..HS_HEADER_LEN + h.len], frame);
                b = &b[HS_HEADER_LEN + h.len..];
            } else {
                self.dirs[d].hs_buf.extend_from_slice(b);
                return;
            }
        }
    }

    /// A Certificate message larger than the limit, of which `prefix` (header
    /// included, `max_handshake_len` body bytes) was kept: decode the
    /// certificates it holds whole, and what the cut one still shows.
    fn on_capped_certificate(&mut self, dir: Dir, prefix: &[u8], full_len: usize, frame: FrameNo) {
        let d = dir.index();
        if let Some(k) = self.keyed.as_mut() {
            k.on_oversized_message();
        }
        self.note(format!(
            "frame {frame}: {dir:?} Certificate message of {full_len} bytes exceeds the {}-byte limit; decoded from its first bytes",
            self.limits.max_handshake_len
        ));
        self.step(dir, frame, Step::Handshake("certificate".to_string()));
        let df = &mut self.facts.per_dir[d];
        push_capped(
            &mut df.handshake_messages,
            "certificate".to_string(),
            MAX_HANDSHAKE_NAMES,
        );
        df.last_handshake = Some(("certificate".to_string(), frame));
        if self.is_server(dir) {
            self.server_full_handshake = true;
            self.update_resumption();
        }
        let body = prefix.get(HS_HEADER_LEN..).unwrap_or(&[]);
        let mut certs = Vec::new();
        let mut at = 3; // u24 length of the whole list
        while certs.len() < self.limits.max_certs {
            let Some(l) = body.get(at..at + 3) else {
                break;
            };
            let len = (usize::from(l[0]) << 16) | (usize::from(l[1]) << 8) | usize::from(l[2]);
            match body.get(at + 3..at + 3 + len) {
                Some(der) => certs.push(cert::decode(der)),
                None => {
                    let cut = body.get(at + 3..).unwrap_or(&[]);
                    if !cut.is_empty() {
                        certs.push(cert::decode_prefix(cut, len));
                    }
                    break;
                }
            }
            at += 3 + len;
        }
        let chain = CertChainFacts {
            frame,
            certs,
            truncated: true,
        };
        self.store_chain(dir, chain);
    }

    fn oversized(&mut self, dir: Dir, h: HsHeader, frame: FrameNo) {
        if let Some(k) = self.keyed.as_mut() {
            k.on_oversized_message();
        }
        self.note(format!(
            "frame {frame}: {dir:?} handshake message {} of {} bytes exceeds the {}-byte limit; skipped",
            hs::message_name(h.msg_type),
            h.len,
            self.limits.max_handshake_len
        ));
    }

    fn on_handshake_message(&mut self, dir: Dir, msg: &[u8], frame: FrameNo) {
        let d = dir.index();
        let Some(h) = HsHeader::parse(msg) else {
            return;
        };
        let body = msg.get(HS_HEADER_LEN..).unwrap_or(&[]);
        let from_server = self.is_server(dir);
        let max = self.limits.max_handshake_len;
        // Only cleartext messages reach this hook: while a decrypted record is
        // handled, `keyed` is taken out of `self`.
        if let Some(k) = self.keyed.as_mut() {
            k.on_cleartext_message(dir, msg, from_server, max);
        }
        let name = hs::message_name(h.msg_type);
        self.step(dir, frame, Step::Handshake(name.clone()));
        let df = &mut self.facts.per_dir[d];
        push_capped(
            &mut df.handshake_messages,
            name.clone(),
            MAX_HANDSHAKE_NAMES,
        );
        df.last_handshake = Some((name, frame));
        match h.msg_type {
            hs::HT_CLIENT_HELLO => self.on_client_hello(dir, body, frame),
            hs::HT_SERVER_HELLO => self.on_server_hello(dir, body, frame),
            hs::HT_HELLO_RETRY_REQUEST => {
                self.hrr_frame.get_or_insert(frame);
                self.server_dir.get_or_insert(dir);
            }
            hs::HT_NEW_SESSION_TICKET => {
                self.facts.new_session_ticket = true;
                if !self.tls13 && self.facts.issued_ticket_digest.is_none() {
                    self.facts.issued_ticket_digest =
                        hs::new_session_ticket(body).map(hs::ticket_digest);
                }
            }
            hs::HT_CLIENT_KEY_EXCHANGE if Some(dir) == self.client_dir => {
                // Only a full handshake has a key exchange.
                self.client_full_handshake = true;
                self.update_resumption();
            }
            hs::HT_HELLO_REQUEST
                if self.facts.server_hello.is_some() && !self.facts.renegotiation =>
            {
                self.facts.renegotiation = true;
                self.facts.renegotiation_frame = Some(frame);
            }
            hs::HT_CERTIFICATE => self.on_certificate(dir, body, frame),
            hs::HT_CERTIFICATE_REQUEST => {
                self.on_certificate_request(body, frame);
                if !self.tls13 && Some(dir) == self.server_dir {
                    self.server_full_handshake = true;
                    self.update_resumption();
                }
            }
            hs::HT_FINISHED => self.dirs[d].saw_finished = true,
            hs::HT_KEY_UPDATE => self.dirs[d].saw_key_update = true,
            hs::HT_SERVER_KEY_EXCHANGE | hs::HT_SERVER_HELLO_DONE
                if Some(dir) == self.server_dir =>
            {
                self.server_full_handshake = true;
                self.update_resumption();
            }
            _ => {}
        }
    }

    fn on_client_hello(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        if let Some(ch) = self.facts.client_hello.as_mut() {
            ch.count = ch.count.saturating_add(1);
            if self.facts.server_hello.is_some() && !self.facts.renegotiation {
                self.facts.renegotiation = true;
                self.facts.renegotiation_frame = Some(frame);
            }
            return;
        }
        match hs::parse_client_hello(body) {
            Ok(mut ch) => {
                ch.frame = frame;
                ch.dir = Some(dir);
                ch.count = 1;
                self.facts.client_hello = Some(ch);
                self.client_dir.get_or_insert(dir);
            }
            Err(e) => self.note(format!("frame {frame}: {e} from {dir:?}")),
        }
    }

    fn on_server_hello(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        let sh = match hs::parse_server_hello(body) {
            Ok(sh) => sh,
            Err(e) => {
                self.note(format!("frame {frame}: {e} from {dir:?}"));
                return;
            }
        };
        if sh.hrr {
            self.hrr_frame.get_or_insert(frame);
            self.server_dir.get_or_insert(dir);
            return;
        }
        if self.facts.server_hello.is_some() {
            if !self.facts.renegotiation {
                self.facts.renegotiation = true;
                self.facts.renegotiation_frame = Some(frame);
            }
            return;
        }
        self.server_dir = Some(dir);
        self.client_dir.get_or_insert(dir.reverse());
        let negotiated = TlsVersion(sh.supported_version.unwrap_or(sh.version));
        let ch = self.facts.client_hello.as_ref();
        let etm = sh.encrypt_then_mac && ch.is_some_and(|c| c.encrypt_then_mac);
        let ems = sh.extended_master_secret && ch.is_some_and(|c| c.extended_master_secret);
        let suite = CipherSuiteId(sh.cipher);
        self.facts.server_hello = Some(ServerHelloFacts {
            frame,
            dir: Some(dir),
            sslv2_format: false,
            version: Some(TlsVersion(sh.version)),
            supported_version: sh.supported_version.map(TlsVersion),
            cipher_suite: Some(suite),
            session_id: sh.session_id,
            extensions: sh.extensions,
            psk: sh.psk,
            encrypt_then_mac: sh.encrypt_then_mac,
            extended_master_secret: sh.extended_master_secret,
            hello_retry_request: self.hrr_frame,
            random: sh.random,
        });
        self.facts.negotiated_version = Some(negotiated);
        self.facts.cipher_suite = Some(suite);
        self.facts.encrypt_then_mac = etm;
        self.facts.extended_master_secret = ems;
        let minimal = suites::minimal_record_len(negotiated, suite, etm);
        for p in &mut self.facts.per_dir {
            p.app_data.minimal_len = minimal;
        }
        if negotiated.is_tls13() {
            self.tls13 = true;
            // Everything the server sends after its ServerHello is protected.
            self.dirs[dir.index()].encrypted = true;
            self.facts.resumed = Some(sh.psk);
            self.facts.resumption = sh.psk.then(|| "psk".to_string());
        } else {
            self.update_resumption();
        }
        if let Some(k) = self.keyed.as_mut() {
            k.on_server_hello(&self.facts, dir);
            self.refresh_decryption();
        }
    }

    /// TLS ≤ 1.2 abbreviated handshake, decided by what the server does,
    /// not by what the client offers: the server changes cipher first, right
    /// after its ServerHello (or, until more is seen, echoes the offered
    /// session id). Any message of a full handshake from either side —
    /// Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone,
    /// ClientKeyExchange — rules it out, ticket extension or not.
    fn update_resumption(&mut self) {
        if self.tls13 || self.sslv2_session {
            return;
        }
        let Some(sh) = self.facts.server_hello.as_ref() else {
            return;
        };
        let ch = self.facts.client_hello.as_ref();
        let echoed = !sh.session_id.is_empty() && ch.is_some_and(|c| c.session_id == sh.session_id);
        let full = self.server_full_handshake || self.client_full_handshake;
        let resumed = !full && (echoed || self.server_ccs_first);
        self.facts.resumed = Some(resumed);
        self.facts.resumption = resumed.then(|| {
            if ch.is_some_and(|c| c.ticket_len > 0) || !echoed {
                "ticket".to_string()
            } else {
                "session-id".to_string()
            }
        });
    }

    /// Which side sent a Certificate: the ServerHello sender is the server;
    /// with no hellos seen, servers send certificates far more often.
    fn is_server(&self, dir: Dir) -> bool {
        match (self.server_dir, self.client_dir) {
            (Some(s), _) => s == dir,
            (None, Some(c)) => c != dir,
            (None, None) => true,
        }
    }

    fn on_certificate(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        if self.is_server(dir) {
            self.server_full_handshake = true;
            self.update_resumption();
        }
        let parsed = if self.tls13 {
            hs::parse_certificate_tls13(body)
        } else {
            hs::parse_certificate(body)
        };
        let ders = match parsed {
            Ok(v) => v,
            Err(e) => {
                self.note(format!("frame {frame}: {e} from {dir:?}"));
                return;
            }
        };
        let max = self.limits.max_certs;
        let truncated = ders.len() > max;
        if truncated {
            self.note(format!(
                "frame {frame}: certificate chain of {} certificates; only the first {max} decoded",
                ders.len()
            ));
        }
        let chain = CertChainFacts {
            frame,
            certs: ders.iter().take(max).map(|der| cert::decode(der)).collect(),
            truncated,
        };
        self.store_chain(dir, chain);
    }

    fn store_chain(&mut self, dir: Dir, chain: CertChainFacts) {
        let slot = if self.is_server(dir) {
            &mut self.facts.server_certificates
        } else {
            &mut self.facts.client_certificates
        };
        // The first chain of a side is the one the handshake authenticated.
        slot.get_or_insert(chain);
    }

    fn on_certificate_request(&mut self, body: &[u8], frame: FrameNo) {
        if self.tls13 {
            // TLS 1.3 (decrypted): the CA names sit in an extension; that a
            // certificate was requested is what the client CN check needs.
            self.facts
                .certificate_request
                .get_or_insert(CertRequestFacts {
                    frame,
                    ca_names: Vec::new(),
                });
            return;
        }
        let tls12 = self.facts.negotiated_version == Some(TlsVersion::TLS12);
        let parsed = hs::parse_certificate_request(body, tls12)
            .or_else(|_| hs::parse_certificate_request(body, !tls12));
        match parsed {
            Ok(cas) => {
                let ca_names = cas.iter().map(|dn| cert::dn_to_string(dn)).collect();
                self.facts
                    .certificate_request
                    .get_or_insert(CertRequestFacts { frame, ca_names });
            }
            Err(e) => {
                self.note(format!("frame {frame}: {e}"));
                self.facts
                    .certificate_request
                    .get_or_insert(CertRequestFacts {
                        frame,
                        ca_names: Vec::new(),
                    });
            }
        }
    }

    /// One SSLv2 record (cleartext hellos decoded; the rest is opaque).
    fn on_v2_record(&mut self, dir: Dir, body: Option<&[u8]>, frame: FrameNo) {
        let d = dir.index();
        let Some(body) = body.filter(|_| !self.dirs[d].encrypted) else {
            if self.facts.per_dir[d].encrypted_handshake.is_none() {
                self.mark_encrypted_handshake(dir, frame);
            }
            return;
        };
        let Some(&msg) = body.first() else {
            return;
        };
        let name = match msg {
            0 => "sslv2_error".to_string(),
            1 => "sslv2_client_hello".to_string(),
            2 => "sslv2_client_master_key".to_string(),
            4 => "sslv2_server_hello".to_string(),
            t => format!("sslv2_unknown_{t}"),
        };
        self.step(dir, frame, Step::Handshake(name.clone()));
        let df = &mut self.facts.per_dir[d];
        push_capped(
            &mut df.handshake_messages,
            name.clone(),
            MAX_HANDSHAKE_NAMES,
        );
        df.last_handshake = Some((name, frame));
        match msg {
            sslv2::MSG_CLIENT_HELLO => match sslv2::parse_client_hello(body) {
                Some(ch) if self.facts.client_hello.is_none() => {
                    self.client_dir.get_or_insert(dir);
                    self.facts.client_hello = Some(ClientHelloFacts {
                        frame,
                        dir: Some(dir),
                        sslv2_format: true,
                        version: Some(TlsVersion(ch.version)),
                        cipher_suites: ch.suites,
                        session_id: ch.session_id,
                        count: 1,
                        random: ch.random,
                        ..ClientHelloFacts::default()
                    });
                }
                Some(_) => {
                    if let Some(c) = self.facts.client_hello.as_mut() {
                        c.count = c.count.saturating_add(1);
                    }
                }
                None => self.note(format!("frame {frame}: malformed SSLv2 CLIENT-HELLO")),
            },
            sslv2::MSG_SERVER_HELLO => match sslv2::parse_server_hello(body) {
                Some(sh) => self.on_v2_server_hello(dir, &sh, frame),
                None => self.note(format!("frame {frame}: malformed SSLv2 SERVER-HELLO")),
            },
            // After CLIENT-MASTER-KEY the client's records are encrypted.
            sslv2::MSG_CLIENT_MASTER_KEY => self.dirs[d].encrypted = true,
            0 => self.note(format!("frame {frame}: SSLv2 ERROR message from {dir:?}")),
            _ => {}
        }
    }

    fn on_v2_server_hello(&mut self, dir: Dir, sh: &sslv2::ServerHelloV2, frame: FrameNo) {
        if self.facts.server_hello.is_some() {
            return;
        }
        self.sslv2_session = true;
        self.server_dir = Some(dir);
        self.client_dir.get_or_insert(dir.reverse());
        self.dirs[dir.index()].encrypted = true;
        self.facts.server_hello = Some(ServerHelloFacts {
            frame,
            dir: Some(dir),
            sslv2_format: true,
            version: Some(sh.version),
            session_id: sh.connection_id.to_vec(),
            ..ServerHelloFacts::default()
        });
        self.facts.negotiated_version = Some(TlsVersion::SSL2);
        self.facts.resumed = Some(sh.session_id_hit);
        self.facts.resumption = sh.session_id_hit.then(|| "session-id".to_string());
        if !sh.certificate.is_empty() {
            let chain = CertChainFacts {
                frame,
                certs: vec![cert::decode(sh.certificate)],
                truncated: false,
            };
            self.facts.server_certificates.get_or_insert(chain);
        }
    }
}

impl Mode {
    #[cfg(test)]
    fn is_synced(self) -> bool {
        self == Mode::Synced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_session_is_not_settled_and_wants_payload() {
        let s = Session::new(TlsLimits::default());
        assert!(!s.is_settled());
        assert!(s.wants_payload(Dir::AB));
        assert!(!s.streams[0].mode.is_synced());
    }
}
