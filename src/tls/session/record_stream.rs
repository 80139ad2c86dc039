//! Record stream of one direction: record framing (TLS and SSLv2) over the
//! in-order bytes, resynchronisation after garbage or a TCP gap (the hunt
//! for a record boundary), and the slow-path buffers of records that
//! straddle `on_data` calls.
//!
//! Owns: [`DirStream`] and the walk ([`feed`], [`gap`]). Each record found
//! is handed to the handshake layer (`Core::on_record`) as a [`Rec`] whose
//! body is borrowed from the segment when whole, copied only when it
//! straddles calls and the handshake layer needs it (`Core::wants_body`).

use crate::decode::Dir;

use super::super::anomaly::Anomaly;
use super::super::model::{FrameNo, NotTlsFacts};
use super::super::records::{self, ContentType, SyncRule, HEADER_LEN};
use super::super::sniff;
use super::super::sslv2;
use super::Core;

/// Bytes held while searching for a record boundary: a chain of three
/// maximal records (3 × (5 + 2^14 + 2048)) fits.
pub const HUNT_WINDOW: usize = 64 * 1024;
/// Bytes at the start of a direction searched for TLS after a cleartext
/// prefix (STARTTLS, proxies) before the direction is declared not TLS.
pub const STARTTLS_SCAN_LIMIT: u64 = 64 * 1024;
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
pub(super) enum Mode {
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
pub(super) struct DirStream {
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

impl DirStream {
    /// The direction was given up as not TLS.
    pub(super) fn is_dead(&self) -> bool {
        self.mode == Mode::Dead
    }

    #[cfg(test)]
    pub(super) fn is_synced(&self) -> bool {
        self.mode == Mode::Synced
    }
}

/// One record as dispatched to the handshake layer.
pub(super) struct Rec<'a> {
    pub(super) v2: bool,
    pub(super) content_type: ContentType,
    pub(super) version: u16,
    pub(super) len: usize,
    /// The body when it was needed and complete; `None` when skipped.
    pub(super) body: Option<&'a [u8]>,
    /// `on_data` call in which the record's first byte arrived.
    pub(super) start_call: u64,
}

impl Rec<'_> {
    /// A record whose body is not needed (or not all here): header facts only.
    fn skipped(
        v2: bool,
        content_type: ContentType,
        version: u16,
        len: usize,
        start_call: u64,
    ) -> Self {
        Rec {
            v2,
            content_type,
            version,
            len,
            body: None,
            start_call,
        }
    }
}

/// `len` bytes of `dir` were never seen: stay in sync when the hole lies
/// inside a body skipped anyway, else drop what straddled it and hunt.
pub(super) fn gap(st: &mut DirStream, core: &mut Core, dir: Dir, len: u64, frame: FrameNo) {
    if len == 0 {
        return;
    }
    let d = dir.index();
    match st.mode {
        Mode::Dead => {}
        Mode::Start => st.mode = Mode::Hunt { at_start: true },
        Mode::Hunt { .. } => {
            // Bytes before the hole cannot chain with bytes after it.
            core.facts.per_dir[d].unparsed_bytes += st.hunt.len() as u64;
            st.hunt.clear();
        }
        Mode::Synced => {
            if st.skip as u64 >= len {
                // The hole lies inside a body we skip anyway: still in sync.
                st.skip -= len as usize;
                // The decryptor still follows unless the hole ate the tail it needs.
                if st.adv.is_some_and(|t| st.skip < t.need) {
                    st.adv = None;
                    core.lose_keys(dir, "a TCP gap", frame);
                }
                return;
            }
            st.adv = None;
            core.lose_keys(dir, "a TCP gap", frame);
            if !st.buf.is_empty() {
                core.anomaly(Anomaly::RecordCutByGap {
                    frame,
                    dir,
                    gap_len: len,
                });
                // Its header is still evidence (type, version, length):
                // e.g. behind a snaplen cut, that the handshake went on.
                let v2 = st.v2 || core.sslv2_session;
                if let (false, Some(h)) = (v2, records::parse_header(&st.buf)) {
                    let rec = Rec::skipped(v2, h.content_type, h.version, h.len, st.buf_call);
                    st.buf.clear();
                    dispatch(st, core, dir, rec, frame);
                }
            }
            st.buf.clear();
            st.skip = 0;
            if core.dirs[d].hs.reset() {
                core.anomaly(Anomaly::HandshakeMessageLostInGap { frame, dir });
            }
            st.mode = Mode::Hunt { at_start: false };
        }
    }
}

/// Feed one chunk of in-order bytes of `dir` through the record walk.
pub(super) fn feed(
    st: &mut DirStream,
    core: &mut Core,
    dir: Dir,
    data: &[u8],
    frame: FrameNo,
    call: u64,
) {
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
        core.anomaly(Anomaly::NotARecordHeader { frame, dir });
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
            let rec = Rec::skipped(v2, ct, version, len, st.buf_call);
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
            // The whole record at once: growing by doubling costs two or
            // three reallocations per straddling certificate.
            st.buf.reserve_exact(total);
            st.buf.extend_from_slice(rem);
            st.buf_call = call;
            return;
        } else {
            let rec = Rec::skipped(v2, ct, version, len, call);
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

#[cfg(test)]
mod tests {
    use super::super::Session;
    use super::*;
    use crate::capture::Timestamp;
    use crate::tls::model::TlsFacts;
    use crate::tls::TlsLimits;

    /// ServerHelloDone in a TLS 1.0 handshake record, ChangeCipherSpec, a
    /// protected Finished, two protected application-data records (one
    /// empty) and a protected alert.
    #[rustfmt::skip]
    static SESSION: &[u8] = &[
        22, 3, 1, 0, 4, 14, 0, 0, 0,
        20, 3, 1, 0, 1, 1,
        22, 3, 1, 0, 3, 0xf1, 0xf2, 0xf3,
        23, 3, 1, 0, 3, 0xa1, 0xa2, 0xa3,
        23, 3, 1, 0, 0,
        21, 3, 1, 0, 2, 0xb1, 0xb2,
    ];
    const SESSION_RECORDS: u64 = 6;

    /// Feeds `chunks` as consecutive segments of one direction.
    fn run(chunks: &[&[u8]]) -> TlsFacts {
        let mut s = Session::new(TlsLimits::default());
        for (i, c) in chunks.iter().enumerate() {
            s.on_data(Dir::AB, c, i as u64 + 1, Timestamp::default());
        }
        s.finish()
    }

    #[test]
    fn tail_keeps_only_the_last_bytes_it_needs_across_pushes() {
        let mut t = Tail::new(4);
        t.push(&[1, 2]);
        t.push(&[3]);
        assert_eq!(t.bytes(), &[1, 2, 3]);
        t.push(&[4, 5]);
        assert_eq!(t.bytes(), &[2, 3, 4, 5]);
        t.push(&[6, 7, 8, 9, 10]);
        assert_eq!(t.bytes(), &[7, 8, 9, 10]);
        assert_eq!(
            Tail::new(MAX_TAIL + 10).need,
            MAX_TAIL,
            "capped at MAX_TAIL"
        );
    }

    #[test]
    fn whole_session_is_framed_into_its_records() {
        let f = run(&[SESSION]);
        let d = &f.per_dir[0];
        assert!(f.saw_tls);
        assert_eq!(d.records, SESSION_RECORDS);
        assert_eq!(d.app_data.records, 2);
        assert_eq!(d.zero_length_records, 1);
        assert_eq!(d.unparsed_bytes, 0);
        assert_eq!(d.resyncs, 0);
        assert_eq!(d.handshake_messages, ["server_hello_done", "encrypted"]);
        assert!(!d.midstream);
    }

    #[test]
    fn records_split_at_every_point_are_framed_as_if_whole() {
        let whole = run(&[SESSION]);
        for cut in 0..=SESSION.len() {
            let f = run(&[&SESSION[..cut], &SESSION[cut..]]);
            assert_eq!(f.per_dir[0].records, SESSION_RECORDS, "cut at {cut}");
            assert_eq!(
                f.per_dir[0].handshake_messages, whole.per_dir[0].handshake_messages,
                "cut at {cut}"
            );
            assert_eq!(f.per_dir[0].unparsed_bytes, 0, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = SESSION.chunks(1).collect();
        assert_eq!(run(&bytes).per_dir[0].records, SESSION_RECORDS);
    }

    #[test]
    fn every_prefix_yields_a_prefix_consistent_subset_of_the_full_facts() {
        let full = run(&[SESSION]);
        let full_dir = &full.per_dir[0];
        let mut last_records = 0;
        for n in 0..=SESSION.len() {
            let f = run(&[&SESSION[..n]]);
            let d = &f.per_dir[0];
            assert!(d.records <= full_dir.records, "prefix {n}");
            assert!(
                d.records >= last_records,
                "prefix {n}: counts never go back"
            );
            last_records = d.records;
            assert!(
                d.app_data.records <= full_dir.app_data.records,
                "prefix {n}"
            );
            assert!(
                full_dir
                    .handshake_messages
                    .starts_with(&d.handshake_messages),
                "prefix {n}: {:?}",
                d.handshake_messages
            );
            assert!(
                full_dir.record_versions.starts_with(&d.record_versions),
                "prefix {n}"
            );
            // A cut stream is never mistaken for garbage or a lost boundary.
            assert_eq!(d.unparsed_bytes, 0, "prefix {n}");
            assert_eq!(d.resyncs, 0, "prefix {n}");
            assert!(f.not_tls.is_none(), "prefix {n}");
            assert_eq!(
                f.saw_tls,
                n >= 9,
                "prefix {n}: the first record is whole at 9"
            );
        }
        assert_eq!(last_records, full_dir.records);
    }

    #[test]
    fn bytes_before_a_chain_of_records_are_unparsed_and_the_flow_midstream() {
        let junk = [0x42u8; 7];
        let mut stream = junk.to_vec();
        for _ in 0..SYNC_CHAIN {
            stream.extend_from_slice(&[23, 3, 3, 0, 2, 9, 9]);
        }
        let f = run(&[&stream]);
        let d = &f.per_dir[0];
        assert_eq!(d.unparsed_bytes, junk.len() as u64);
        assert_eq!(d.app_data.records, SYNC_CHAIN as u64);
        assert!(d.midstream);
    }

    #[test]
    fn a_bad_header_after_records_is_searched_past_as_an_anomaly() {
        let mut stream = SESSION[..9].to_vec();
        stream.extend_from_slice(&[0xff; 5]);
        stream.extend_from_slice(&SESSION[9..]);
        let f = run(&[&stream[..14], &stream[14..]]);
        let d = &f.per_dir[0];
        assert_eq!(d.resyncs, 1);
        assert_eq!(d.unparsed_bytes, 5);
        assert_eq!(d.records, SESSION_RECORDS);
        assert_eq!(
            f.anomalies,
            [Anomaly::NotARecordHeader {
                frame: 1,
                dir: Dir::AB
            }]
        );
    }

    #[test]
    fn non_tls_bytes_give_up_after_the_scan_limit() {
        let text = vec![b'a'; STARTTLS_SCAN_LIMIT as usize + 1];
        let mut s = Session::new(TlsLimits::default());
        s.on_data(Dir::AB, &text, 1, Timestamp::default());
        assert!(s.streams[0].is_dead());
        assert!(!s.wants_payload(Dir::AB));
        let f = s.finish();
        assert!(!f.saw_tls);
        assert_eq!(f.per_dir[0].unparsed_bytes, text.len() as u64);
    }
}
