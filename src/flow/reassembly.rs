//! Per-direction TCP reassembly: delivers each byte of a direction once, in
//! order, and reports what was never seen as a gap.
//!
//! Invariants:
//! - In-order segments (the common case) are handed on as the caller's
//!   slice: no copy, no allocation.
//! - Out-of-order data is copied into a store that never holds more than
//!   `limit` bytes nor more than [`MAX_HOLES`] segments; past either, the
//!   oldest hole is declared a gap and the stream continues after it.
//! - Retransmitted bytes are dropped; overlapping bytes keep the first copy
//!   (conflicting bytes are counted).

use super::seq::Seq;
use crate::capture::Timestamp;

/// Out-of-order segments kept per direction. Real reordering on a tap spans
/// a handful of segments; more means loss, and waiting longer only costs memory.
pub const MAX_HOLES: usize = 64;
/// A segment further ahead than this is not reordering but a sequence jump
/// (a different connection reusing the tuple, or garbage): resynchronise.
pub const MAX_SEQ_JUMP: i64 = 64 << 20;

/// What the reassembler hands to its consumer.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// New in-order bytes from frame `frame`.
    Data {
        bytes: &'a [u8],
        frame: u64,
        ts: Timestamp,
    },
    /// `len` bytes never seen; declared while handling frame `frame`.
    Gap { len: u64, frame: u64 },
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub retransmissions: u64,
    pub overlaps: u64,
    pub conflicting_bytes: u64,
    pub out_of_order: u64,
    pub gaps: u32,
    pub gap_bytes: u64,
    /// Times the out-of-order store was full and a hole was given up early.
    pub overflows: u32,
    pub seq_jumps: u32,
}

#[derive(Debug)]
struct Pending {
    seq: Seq,
    data: Vec<u8>,
    frame: u64,
    ts: Timestamp,
}

/// Reassembler for one direction of one flow.
#[derive(Debug)]
pub struct Reassembler {
    /// Next expected sequence number; `None` until the first segment.
    next: Option<Seq>,
    /// First sequence number of the stream (for relative offsets in gap reports).
    base: Seq,
    pending: Vec<Pending>,
    pending_bytes: usize,
    limit: usize,
    max_holes: usize,
    pub stats: ReassemblyStats,
    /// Gaps as (relative offset, length, frame), capped.
    pub gap_list: Vec<(u64, u64, u64)>,
}

/// Gap records kept per direction for the report (counters go on).
pub const MAX_GAP_RECORDS: usize = 16;

impl Reassembler {
    pub fn new(limit: usize) -> Reassembler {
        Reassembler::with_caps(limit, MAX_HOLES)
    }

    /// A reassembler holding at most `limit` bytes in at most `max_holes` pieces.
    pub fn with_caps(limit: usize, max_holes: usize) -> Reassembler {
        Reassembler {
            max_holes,
            next: None,
            base: Seq(0),
            pending: Vec::new(),
            pending_bytes: 0,
            limit,
            stats: ReassemblyStats::default(),
            gap_list: Vec::new(),
        }
    }

    /// Bytes currently held out of order.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// Change the out-of-order byte cap (e.g. lower it once only record
    /// headers matter); excess is released as gaps on the next segment.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Whether any byte of this direction has been seen.
    pub fn started(&self) -> bool {
        self.next.is_some()
    }

    /// A SYN with sequence number `isn`: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: Seq) {
        if self.next.is_none() {
            self.next = Some(isn.plus(1));
            self.base = isn.plus(1);
        }
    }

    /// Relative offset of `seq` from the stream start.
    fn rel(&self, seq: Seq) -> u64 {
        seq.diff(self.base).max(0) as u64
    }

    /// Feed one segment (`missing` = bytes announced but not captured).
    pub fn segment(
        &mut self,
        seq: Seq,
        payload: &[u8],
        missing: u32,
        frame: u64,
        ts: Timestamp,
        out: &mut dyn FnMut(Delivery<'_>),
    ) {
        let total = payload.len() as u64 + u64::from(missing);
        if total == 0 {
            return;
        }
        let next = match self.next {
            Some(n) => n,
            None => {
                // Mid-stream start (no SYN seen): the stream begins here.
                self.base = seq;
                seq
            }
        };
        let ahead = seq.diff(next);
        if !(-MAX_SEQ_JUMP..=MAX_SEQ_JUMP).contains(&ahead) {
            // Not reordering: the stream jumped. Give up what is pending and restart here.
            self.stats.seq_jumps += 1;
            self.flush(frame, out);
            self.record_gap(0, frame, out);
            self.next = Some(seq);
            return self.segment(seq, payload, missing, frame, ts, out);
        }
        if ahead > 0 {
            // Out of order: keep a copy (slow path) within the caps.
            self.stats.out_of_order += 1;
            // A snaplen-cut tail is not stored: it stays a hole that a
            // later copy fills or the flush declares a gap.
            self.store(seq, payload, frame, ts);
            self.enforce_limits(frame, out);
            return;
        }
        // Starts at or before `next`: drop what was already delivered.
        let already = (-ahead) as u64;
        if already >= total {
            self.stats.retransmissions += 1;
            return;
        }
        if already > 0 {
            self.stats.overlaps += 1;
        }
        let skip = already.min(payload.len() as u64) as usize;
        let fresh = &payload[skip..];
        let mut advanced = fresh.len() as u32;
        if !fresh.is_empty() {
            out(Delivery::Data {
                bytes: fresh,
                frame,
                ts,
            });
        }
        let cut = (total - already) as u32 - advanced;
        if cut > 0 {
            // Snaplen cut: the missing tail is a gap, unless a later copy fills it.
            let at = next.plus(advanced);
            self.next = Some(at);
            self.drain(frame, out);
            let now = self.next.unwrap_or(at);
            let remaining = cut.saturating_sub(now.diff(at).max(0) as u32);
            if remaining > 0 {
                self.record_gap(u64::from(remaining), frame, out);
                self.next = Some(now.plus(remaining));
            }
            advanced = 0;
        }
        if advanced > 0 {
            self.next = Some(next.plus(advanced));
        }
        self.drain(frame, out);
    }

    fn store(&mut self, seq: Seq, payload: &[u8], frame: u64, ts: Timestamp) {
        if payload.is_empty() {
            return;
        }
        // Keep the store sorted and overlap-free: first copy wins.
        let mut start = seq;
        let mut data = payload;
        let mut i = 0;
        while i < self.pending.len() && !data.is_empty() {
            let p = &self.pending[i];
            let p_end = p.seq.plus(p.data.len() as u32);
            let end = start.plus(data.len() as u32);
            if p_end <= start {
                i += 1;
                continue;
            }
            if end <= p.seq {
                break;
            }
            // Overlap with p.
            self.stats.overlaps += 1;
            if start < p.seq {
                let head = p.seq.diff(start) as usize;
                let piece = data[..head].to_vec();
                self.pending_bytes += piece.len();
                self.pending.insert(
                    i,
                    Pending {
                        seq: start,
                        data: piece,
                        frame,
                        ts,
                    },
                );
                i += 1;
                data = &data[head..];
                start = start.plus(head as u32);
                continue;
            }
            // start within p: compare the overlapping part, then skip it.
            let p = &self.pending[i];
            let off = start.diff(p.seq) as usize;
            let n = (p.data.len() - off).min(data.len());
            let conflicts = p.data[off..off + n]
                .iter()
                .zip(&data[..n])
                .filter(|(a, b)| a != b)
                .count();
            self.stats.conflicting_bytes += conflicts as u64;
            data = &data[n..];
            start = start.plus(n as u32);
            i += 1;
        }
        if !data.is_empty() {
            self.pending_bytes += data.len();
            self.pending.insert(
                i,
                Pending {
                    seq: start,
                    data: data.to_vec(),
                    frame,
                    ts,
                },
            );
        }
    }

    /// Deliver pending segments that are now in order.
    fn drain(&mut self, _frame: u64, out: &mut dyn FnMut(Delivery<'_>)) {
        while let Some(next) = self.next {
            let Some(first) = self.pending.first() else {
                break;
            };
            let ahead = first.seq.diff(next);
            if ahead > 0 {
                break;
            }
            let p = self.pending.remove(0);
            self.pending_bytes -= p.data.len();
            let already = (-ahead) as usize;
            if already >= p.data.len() {
                continue;
            }
            let fresh = &p.data[already..];
            out(Delivery::Data {
                bytes: fresh,
                frame: p.frame,
                ts: p.ts,
            });
            self.next = Some(next.plus(fresh.len() as u32));
        }
    }

    fn record_gap(&mut self, len: u64, frame: u64, out: &mut dyn FnMut(Delivery<'_>)) {
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        if self.gap_list.len() < MAX_GAP_RECORDS {
            let at = self.next.map(|n| self.rel(n)).unwrap_or(0);
            self.gap_list.push((at, len, frame));
        }
        out(Delivery::Gap { len, frame });
    }

    /// Give up the hole before the first pending segment.
    fn skip_first_hole(&mut self, frame: u64, out: &mut dyn FnMut(Delivery<'_>)) {
        let (Some(next), Some(first)) = (self.next, self.pending.first()) else {
            return;
        };
        let hole = first.seq.diff(next).max(0) as u64;
        let target = first.seq;
        self.record_gap(hole, frame, out);
        self.next = Some(target);
        self.drain(frame, out);
    }

    fn enforce_limits(&mut self, frame: u64, out: &mut dyn FnMut(Delivery<'_>)) {
        while !self.pending.is_empty()
            && (self.pending_bytes > self.limit || self.pending.len() > self.max_holes)
        {
            self.stats.overflows += 1;
            self.skip_first_hole(frame, out);
        }
    }

    /// End of the flow: every remaining hole becomes a gap and the data
    /// after it is delivered.
    pub fn flush(&mut self, frame: u64, out: &mut dyn FnMut(Delivery<'_>)) {
        while !self.pending.is_empty() {
            self.skip_first_hole(frame, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Collects deliveries as (bytes, gaps).
    #[derive(Default, Debug)]
    struct Collected {
        bytes: Vec<u8>,
        gaps: Vec<u64>,
    }

    fn feed(r: &mut Reassembler, c: &mut Collected, seq: u32, data: &[u8]) {
        r.segment(
            Seq(seq),
            data,
            0,
            1,
            Timestamp::default(),
            &mut |d| match d {
                Delivery::Data { bytes, .. } => c.bytes.extend_from_slice(bytes),
                Delivery::Gap { len, .. } => c.gaps.push(len),
            },
        );
    }

    fn finish(r: &mut Reassembler, c: &mut Collected) {
        r.flush(9, &mut |d| match d {
            Delivery::Data { bytes, .. } => c.bytes.extend_from_slice(bytes),
            Delivery::Gap { len, .. } => c.gaps.push(len),
        });
    }

    #[test]
    fn in_order_segments_are_delivered_as_given() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(Seq(99));
        let mut c = Collected::default();
        feed(&mut r, &mut c, 100, b"hello ");
        feed(&mut r, &mut c, 106, b"world");
        assert_eq!(c.bytes, b"hello world");
        assert!(c.gaps.is_empty());
    }

    #[test]
    fn retransmission_is_dropped_and_counted() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(Seq(0));
        let mut c = Collected::default();
        feed(&mut r, &mut c, 1, b"abc");
        feed(&mut r, &mut c, 1, b"abc");
        assert_eq!(c.bytes, b"abc");
        assert_eq!(r.stats.retransmissions, 1);
    }

    #[test]
    fn sequence_wrap_is_handled() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(Seq(u32::MAX - 2));
        let mut c = Collected::default();
        feed(&mut r, &mut c, u32::MAX - 1, b"ab");
        feed(&mut r, &mut c, 0, b"cd");
        assert_eq!(c.bytes, b"abcd");
    }

    #[test]
    fn overlap_keeps_first_copy_and_counts_conflicts() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(Seq(0));
        let mut c = Collected::default();
        feed(&mut r, &mut c, 5, b"FGHIJ");
        feed(&mut r, &mut c, 7, b"xxLMN");
        feed(&mut r, &mut c, 1, b"ABCD");
        assert_eq!(c.bytes, b"ABCDFGHIJMN");
        assert_eq!(r.stats.conflicting_bytes, 3);
    }

    #[test]
    fn overflow_of_the_out_of_order_store_declares_a_gap_and_continues() {
        let mut r = Reassembler::new(8);
        r.syn(Seq(0));
        let mut c = Collected::default();
        feed(&mut r, &mut c, 1, b"ab");
        feed(&mut r, &mut c, 13, b"0123456789");
        assert_eq!(c.gaps, vec![10]);
        assert_eq!(c.bytes, b"ab0123456789");
        assert_eq!(r.stats.overflows, 1);
    }

    #[test]
    fn snaplen_cut_segment_is_a_gap_of_the_missing_bytes() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(Seq(0));
        let mut c = Collected::default();
        r.segment(
            Seq(1),
            b"ab",
            3,
            1,
            Timestamp::default(),
            &mut |d| match d {
                Delivery::Data { bytes, .. } => c.bytes.extend_from_slice(bytes),
                Delivery::Gap { len, .. } => c.gaps.push(len),
            },
        );
        feed(&mut r, &mut c, 6, b"fg");
        assert_eq!(c.bytes, b"abfg");
        assert_eq!(c.gaps, vec![3]);
    }

    proptest! {
        /// Any permutation with duplicates and overlapping re-cuts of a random
        /// stream yields exactly the original bytes.
        #[test]
        fn any_permutation_duplication_and_overlap_yields_the_same_bytes(
            stream in proptest::collection::vec(any::<u8>(), 1..2000),
            cuts in proptest::collection::vec(1usize..200, 1..40),
            order in proptest::collection::vec(any::<u16>(), 1..80),
            isn in any::<u32>(),
        ) {
            // Segment the stream.
            let mut segs = Vec::new();
            let mut at = 0;
            let mut k = 0;
            while at < stream.len() {
                let len = cuts[k % cuts.len()].min(stream.len() - at);
                segs.push((at, len));
                at += len;
                k += 1;
            }
            // Extra overlapping/duplicate segments.
            for (i, o) in order.iter().enumerate() {
                let s = (*o as usize) % stream.len();
                let len = 1 + (i * 7) % 50;
                segs.push((s, len.min(stream.len() - s)));
            }
            // Deterministic shuffle by `order`.
            for (i, o) in order.iter().enumerate() {
                let a = i % segs.len();
                let b = (*o as usize) % segs.len();
                segs.swap(a, b);
            }
            // The very first segment must start the stream (a SYN fixes the start).
            let mut r = Reassembler::with_caps(1 << 20, 1 << 16);
            r.syn(Seq(isn));
            let mut c = Collected::default();
            for (s, len) in &segs {
                feed(&mut r, &mut c, isn.wrapping_add(1).wrapping_add(*s as u32), &stream[*s..s + len]);
            }
            finish(&mut r, &mut c);
            prop_assert!(c.gaps.is_empty());
            prop_assert_eq!(c.bytes, stream);
        }

        /// Dropping one segment yields exactly one gap of its size.
        #[test]
        fn a_missing_segment_yields_exactly_one_gap_of_its_size(
            stream in proptest::collection::vec(any::<u8>(), 10..3000),
            seg_len in 1usize..300,
            drop_idx in any::<usize>(),
            isn in any::<u32>(),
        ) {
            let segs: Vec<(usize, usize)> = (0..stream.len()).step_by(seg_len)
                .map(|s| (s, seg_len.min(stream.len() - s))).collect();
            prop_assume!(segs.len() >= 3);
            // Not the first or last: a missing head or tail is not a hole.
            let d = 1 + drop_idx % (segs.len() - 2);
            let mut r = Reassembler::new(1 << 20);
            r.syn(Seq(isn));
            let mut c = Collected::default();
            for (i, (s, len)) in segs.iter().enumerate() {
                if i != d {
                    feed(&mut r, &mut c, isn.wrapping_add(1).wrapping_add(*s as u32), &stream[*s..s + len]);
                }
            }
            finish(&mut r, &mut c);
            prop_assert_eq!(c.gaps, vec![segs[d].1 as u64]);
            let mut expect = stream.clone();
            expect.drain(segs[d].0..segs[d].0 + segs[d].1);
            prop_assert_eq!(c.bytes, expect);
        }
    }
}
