//! Per-flow TLS state, one file per concern:
//!
//! - [`record_stream`]: record framing of each direction, resynchronisation
//!   (the hunt for a record boundary), and the buffers of records split
//!   across TCP segments;
//! - [`handshake_reassembly`]: handshake messages split across records;
//! - [`handshake_state`]: hellos, resumption, certificates, SSLv2 hellos;
//! - [`app_data`]: application-data evidence (sizes, minimal records);
//! - this file: [`Session`] (the entry points), record dispatch by content
//!   type, ChangeCipherSpec, alerts, and the decryption hooks.
//!
//! Invariants:
//! - Bytes are copied only when a unit straddles `on_data` calls: a record
//!   whose body is needed (cleartext handshake/alert, SSLv2 hellos) into
//!   `DirStream::buf` (≤ header + `records::MAX_RECORD_LEN`), a handshake message
//!   split across records into the direction's `HandshakeReassembler`
//!   (≤ `max_handshake_len`; a larger Certificate keeps only that prefix,
//!   larger others are skipped), and bytes searched for a record boundary
//!   into `DirStream::hunt` (≤ [`record_stream::HUNT_WINDOW`]). Record bodies
//!   that are not needed (application data, anything encrypted) are skipped
//!   without copying; when a decryptor follows the direction, only the last
//!   ≤ `MAX_TAIL` bytes of a skipped protected record are kept
//!   (`DirStream::adv`) for its `advance`, and the protected records worth
//!   decrypting (see `keyed.rs`) are treated like needed bodies (borrowed
//!   when whole, else buffered in `DirStream::buf`).
//! - Every list in the facts is capped by a named const; exceeding a limit
//!   adds an [`Anomaly`], never unbounded growth. No input makes this panic.

mod app_data;
mod handshake_reassembly;
mod handshake_state;
mod record_stream;

use crate::capture::Timestamp;
use crate::decode::Dir;

use std::sync::Arc;

use super::anomaly::Anomaly;
use super::decrypt::Keys;
use super::keyed::{AfterRecord, FlowKeys};
use super::model::{AlertFacts, FrameNo, TlsFacts, TlsVersion};
use super::model::{Step, TimelineEvent};
use super::records::ContentType;
use super::TlsLimits;
use handshake_reassembly::HandshakeReassembler;
use record_stream::{feed, gap, DirStream, Rec};

/// Frames kept per evidence list (minimal records, zero-length records).
pub const MAX_EVIDENCE_FRAMES: usize = 16;
/// Anomalies kept per flow; the rest are only counted
/// (`TlsFacts::anomalies_dropped`). A damaged flow shows its problem in the
/// first few; more is a flood that would repeat itself.
pub const MAX_ANOMALIES: usize = 32;
/// Alerts kept per flow: a handshake has at most a couple; more is a flood.
pub const MAX_ALERTS: usize = 32;
/// Handshake message names kept per direction (a full handshake has ~10).
pub const MAX_HANDSHAKE_NAMES: usize = 64;
/// Timeline steps kept per flow (the ladder diagram's rows). A full mutual-TLS
/// handshake with its first application data, closing alerts and a
/// renegotiation is about 30 steps; long conversations collapse into one
/// application-data step, so only floods of alerts or renegotiations reach it.
pub const MAX_TIMELINE_EVENTS: usize = 64;
/// Room made at a flow's first timeline step: a full mutual-TLS handshake
/// with its first application data and closing alerts is 16 to 18 steps.
const TIMELINE_FIRST_CAPACITY: usize = 20;
/// Distinct record-layer versions kept per direction.
pub const MAX_RECORD_VERSIONS: usize = 8;
/// Application-data records after which a flow joined mid-stream counts as
/// judged (live reports it then): enough for the record-layer answers,
/// bounded so a week-long link shows up in its first minute.
pub const MIDSTREAM_SETTLE_RECORDS: u64 = 16;

#[derive(Debug, Default)]
struct DirCtx {
    /// Records of this direction are protected (after its CCS; TLS 1.3 server after ServerHello).
    encrypted: bool,
    /// This side's Finished (or TLS 1.3 / SSLv2 equivalent) was seen.
    finished: bool,
    /// Handshake messages straddling records.
    hs: HandshakeReassembler,
    /// A minimal-size application-data record awaiting its successor: (frame, call).
    /// A minimal-size (or, suite unknown, short) application-data record
    /// awaiting its successor: (frame, call, length).
    pending_minimal: Option<(FrameNo, u64, u16)>,
    /// A decrypted Finished (TLS 1.3: switch to application keys) / KeyUpdate
    /// went by in the current record.
    saw_finished: bool,
    saw_key_update: bool,
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
        self.take_facts()
    }

    /// The facts, complete: the session is spent.
    pub fn take_facts(&mut self) -> TlsFacts {
        self.core.refresh_decryption();
        std::mem::take(&mut self.core.facts)
    }

    pub fn wants_payload(&self, dir: Dir) -> bool {
        let d = dir.index();
        if self.streams[d].is_dead() {
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
        gap(
            &mut self.streams[dir.index()],
            &mut self.core,
            dir,
            len,
            frame,
        );
    }
}

fn push_capped<T>(v: &mut Vec<T>, x: T, cap: usize) {
    if v.len() < cap {
        v.push(x);
    }
}

impl Core {
    /// Records an anomaly, or counts it past the cap.
    fn anomaly(&mut self, anomaly: Anomaly) {
        if self.facts.anomalies.len() < MAX_ANOMALIES {
            self.facts.anomalies.push(anomaly);
        } else {
            self.facts.anomalies_dropped = self.facts.anomalies_dropped.saturating_add(1);
        }
    }

    /// Adds a step to the timeline, or counts it past the cap.
    fn step(&mut self, dir: Dir, frame: FrameNo, step: Step) {
        if self.facts.timeline.len() < MAX_TIMELINE_EVENTS {
            if self.facts.timeline.capacity() == 0 {
                // One allocation instead of one per doubling (and less
                // room left over than doubling leaves).
                self.facts.timeline.reserve_exact(TIMELINE_FIRST_CAPACITY);
            }
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
                        self.anomaly(Anomaly::ZeroLengthHandshakeRecord { frame, dir });
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
            "encrypted".into(),
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
            "encrypted".into(),
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
        self.dirs[d].hs.reset();
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
            self.anomaly(Anomaly::AlertsOverLimit { frame });
            // Push past the cap once so the anomaly is not repeated.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_session_is_not_settled_and_wants_payload() {
        let s = Session::new(TlsLimits::default());
        assert!(!s.is_settled());
        assert!(s.wants_payload(Dir::AB));
        assert!(!s.streams[0].is_synced());
    }
}
