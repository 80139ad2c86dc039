//! The flow table: canonical 4-tuple → [`Flow`], with TCP reassembly per
//! direction feeding a [`StreamSink`].
//!
//! Invariants:
//! - At most `FlowLimits::max_flows` open flows; past it the longest-idle
//!   flow (the one whose last packet came earliest in the input) is evicted
//!   (and reported, never dropped silently).
//! - Per-packet cost does not grow with the number of open flows: eviction,
//!   idle expiry and tombstone expiry walk orders from the old end and stop
//!   at the first entry that stays, so a SYN flood against a full table
//!   costs O(1) amortised per packet, not a scan of the table.
//! - Expiry uses capture timestamps passed in, never the wall clock, so the
//!   same input always gives the same flows.
//! - A closed flow (RST, or FIN both ways) is handed out at once; its tuple
//!   is remembered briefly so trailing ACKs do not open a phantom flow, and a
//!   new SYN on it starts a new flow (port reuse).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};

use super::reassembly::{Delivery, Reassembler, ReassemblyStats};
use super::seq::Seq;
use super::slots::{Chain, Slab};
use crate::capture::Timestamp;
use crate::decode::{Dir, FlowKey, Segment};

/// Receives the in-order bytes of both directions of one flow.
pub trait StreamSink {
    fn on_data(&mut self, dir: Dir, bytes: &[u8], frame: u64, ts: Timestamp);
    fn on_gap(&mut self, dir: Dir, len: u64, frame: u64);
    /// False once only record boundaries matter for `dir`: the reassembler
    /// then keeps at most [`HEADERS_ONLY_BUFFER`] bytes out of order.
    fn wants_payload(&self, dir: Dir) -> bool;
}

/// A boxed consumer: the flow map then stores a pointer per slot instead of
/// the whole TLS state (a few KB), so its spare capacity costs little.
impl<S: StreamSink + ?Sized> StreamSink for Box<S> {
    fn on_data(&mut self, dir: Dir, bytes: &[u8], frame: u64, ts: Timestamp) {
        (**self).on_data(dir, bytes, frame, ts);
    }
    fn on_gap(&mut self, dir: Dir, len: u64, frame: u64) {
        (**self).on_gap(dir, len, frame);
    }
    fn wants_payload(&self, dir: Dir) -> bool {
        (**self).wants_payload(dir)
    }
}

/// Out-of-order cap once the consumer needs only headers: enough for a few
/// reordered full-size segments, which is what real reordering looks like.
pub const HEADERS_ONLY_BUFFER: usize = 16 * 1024;

/// Hasher of the flow maps: a folded 64×64→128-bit multiply per word (the
/// scheme of aHash's fallback), seeded once per process. std's SipHash was a
/// quarter of the single-thread CPU profile (a segment costs up to three
/// lookups); this is several times cheaper. The random seed keeps crafted
/// colliding tuples from degrading the table; nothing reaches output in map
/// order (R8), so the seed cannot change a report.
#[derive(Clone, Copy)]
pub struct FlowHasher {
    state: u64,
}

const FOLD_MUL: u64 = 0x5851_f42d_4c95_7f2d;

impl FlowHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        let x = u128::from(self.state ^ word) * u128::from(FOLD_MUL);
        self.state = (x as u64) ^ ((x >> 64) as u64);
    }
}

impl Hasher for FlowHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }
    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.state.rotate_left(23)
    }
}

/// Builds [`FlowHasher`]s from one per-process random seed.
#[derive(Clone, Copy)]
pub struct FlowHashBuilder {
    seed: u64,
}

impl Default for FlowHashBuilder {
    fn default() -> Self {
        // std's RandomState is the only randomness source at hand; hashing a
        // constant with it yields a per-process random seed.
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x7461_7564_6974u64);
        FlowHashBuilder { seed }
    }
}

impl BuildHasher for FlowHashBuilder {
    type Hasher = FlowHasher;
    #[inline]
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher { state: self.seed }
    }
}

type FlowMap<V> = HashMap<FlowKey, V, FlowHashBuilder>;

/// Limits of the flow table (R2).
#[derive(Debug, Clone, Copy)]
pub struct FlowLimits {
    /// Open flows kept; a SYN flood or a port scan must not grow memory without bound.
    pub max_flows: usize,
    /// A flow silent this long (capture time) is finished and reported.
    pub idle_timeout_secs: u64,
    /// Out-of-order bytes buffered per direction while the handshake is in progress.
    pub max_ooo_bytes: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: 100_000,
            idle_timeout_secs: 600,
            max_ooo_bytes: 256 * 1024,
        }
    }
}

/// How long (capture time) a closed tuple absorbs trailing packets.
const TOMBSTONE_SECS: u64 = 60;
/// Tombstones kept at most (oldest dropped first).
const MAX_TOMBSTONES: usize = 100_000;

/// How one side closed the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    Fin,
    Rst,
}

impl CloseKind {
    /// `fin` / `rst`: the word the reports and the JSON facts use.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseKind::Fin => "fin",
            CloseKind::Rst => "rst",
        }
    }
}

/// Why the table let go of a flow that was not closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionCause {
    /// No packet for `FlowLimits::idle_timeout_secs` of capture time.
    Idle,
    /// The table held `FlowLimits::max_flows` flows and this one was idle longest.
    TableFull,
}

impl EvictionCause {
    /// `idle` / `flow table full`: the words the reports and the JSON facts use.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionCause::Idle => "idle",
            EvictionCause::TableFull => "flow table full",
        }
    }
}

// Written as their words, so the JSON facts read as they always have.
impl serde::Serialize for CloseKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl serde::Serialize for EvictionCause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for CloseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for EvictionCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One TCP connection as the table sees it.
#[derive(Debug)]
pub struct Flow<S> {
    pub key: FlowKey,
    /// Direction of the SYN (the originator's sending direction), if seen.
    pub syn_dir: Option<Dir>,
    pub syn_frame: Option<u64>,
    /// Direction of the very first packet seen.
    pub first_dir: Dir,
    pub first_frame: u64,
    pub first_ts: Timestamp,
    pub last_frame: u64,
    pub last_ts: Timestamp,
    pub reasm: [Reassembler; 2],
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// FIN / RST seen: (direction, frame, kind, capture time).
    pub closes: Vec<(Dir, u64, CloseKind, Timestamp)>,
    fin: [bool; 2],
    rst: bool,
    isn: [Option<Seq>; 2],
    /// Why the table let go of the flow when it was not closed.
    pub evicted: Option<EvictionCause>,
    /// The consumer already reported this flow early (`live`: judged as
    /// soon as settled); it stays in the table to absorb its later packets.
    pub reported: bool,
    pub sink: S,
}

impl<S> Flow<S> {
    pub fn is_closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }

    pub fn stats(&self, dir: Dir) -> &ReassemblyStats {
        &self.reasm[dir.index()].stats
    }
}

/// Flow table generic over the per-flow consumer `S`.
pub struct FlowTable<S> {
    /// The open flows, and the slot of each by key.
    flows: Slab<Flow<S>>,
    slot_of: FlowMap<u32>,
    /// Open flows in the order they last saw a packet, oldest first.
    recent: Chain,
    /// Open flows in the order they were opened: the front is the oldest
    /// open flow. Lets the engine release finished flows in first-frame
    /// order without holding them all.
    opened: Chain,
    tombstones: FlowMap<Timestamp>,
    /// Tombstones in the order they were made, for expiry from the old end.
    tombstone_order: VecDeque<(FlowKey, Timestamp)>,
    limits: FlowLimits,
    last_sweep: Timestamp,
    /// Flows evicted because the table was full.
    pub evicted_full: u64,
}

impl<S: StreamSink> FlowTable<S> {
    pub fn new(limits: FlowLimits) -> Self {
        FlowTable {
            flows: Slab::new(),
            slot_of: FlowMap::default(),
            recent: Chain::new(),
            opened: Chain::new(),
            tombstones: FlowMap::default(),
            tombstone_order: VecDeque::new(),
            limits,
            last_sweep: Timestamp::default(),
            evicted_full: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Feed one segment. `new_sink` builds the consumer of a new flow;
    /// `done` receives flows that finished (closed, or evicted to make room).
    pub fn segment(
        &mut self,
        seg: &Segment<'_>,
        new_sink: &mut dyn FnMut(&FlowKey) -> S,
        done: &mut dyn FnMut(Flow<S>),
    ) {
        let (key, dir) = FlowKey::from_endpoints(seg.src, seg.dst);
        let pure_syn = seg.flags.syn && !seg.flags.ack;

        // One lookup for the common case, a segment of an open flow that
        // is not a SYN (which may start a new connection on the tuple).
        let open_slot = if pure_syn {
            None
        } else {
            self.slot_of.get(&key).copied()
        };
        let slot = match open_slot {
            Some(slot) => slot,
            None => {
                let Some(open) = self.admit(key, dir, seg, pure_syn, done) else {
                    return;
                };
                // Open: a retransmitted SYN of the flow on this tuple.
                let existing = if open {
                    self.slot_of.get(&key).copied()
                } else {
                    None
                };
                match existing {
                    Some(slot) => slot,
                    None => self.open(key, dir, seg, new_sink(&key)),
                }
            }
        };
        self.recent.move_to_back(slot);
        let limits = self.limits;
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        if apply(flow, seg, dir, limits) {
            if let Some(f) = self.take(&key) {
                self.remember_closed(key, seg.ts);
                self.finish(f, done);
            }
        }

        // Expire idle flows about once per second of capture time.
        if seg.ts.secs != self.last_sweep.secs {
            self.last_sweep = seg.ts;
            self.sweep(seg.ts, done);
        }
    }

    /// A new flow in a free slot, at the back of both orders.
    fn open(&mut self, key: FlowKey, dir: Dir, seg: &Segment<'_>, sink: S) -> u32 {
        let limits = self.limits;
        let slot = self.flows.insert(Flow {
            key,
            syn_dir: None,
            syn_frame: None,
            first_dir: dir,
            first_frame: seg.frame,
            first_ts: seg.ts,
            last_frame: seg.frame,
            last_ts: seg.ts,
            reasm: [
                Reassembler::new(limits.max_ooo_bytes),
                Reassembler::new(limits.max_ooo_bytes),
            ],
            packets: [0; 2],
            bytes: [0; 2],
            closes: Vec::new(),
            fin: [false; 2],
            rst: false,
            isn: [None; 2],
            evicted: None,
            reported: false,
            sink,
        });
        self.slot_of.insert(key, slot);
        self.opened.push_back(slot);
        self.recent.push_back(slot);
        slot
    }

    /// Take an open flow out of the table and of both orders.
    fn take(&mut self, key: &FlowKey) -> Option<Flow<S>> {
        let slot = self.slot_of.remove(key)?;
        self.recent.remove(slot);
        self.opened.remove(slot);
        self.flows.remove(slot)
    }

    fn get(&self, key: &FlowKey) -> Option<&Flow<S>> {
        self.flows.get(*self.slot_of.get(key)?)
    }

    /// A segment whose tuple has no open flow, or a pure SYN: whether a
    /// flow is open for it once tombstones, port reuse and the table's
    /// bound are dealt with; `None` when the segment is a trailing packet
    /// of a finished connection, to be dropped.
    fn admit(
        &mut self,
        key: FlowKey,
        dir: Dir,
        seg: &Segment<'_>,
        pure_syn: bool,
        done: &mut dyn FnMut(Flow<S>),
    ) -> Option<bool> {
        // A key is never both open and tombstoned, so tombstones are looked
        // at only when the tuple is not open.
        let mut open = pure_syn && self.slot_of.contains_key(&key);
        if !open && !self.tombstones.is_empty() {
            if let Some(closed_at) = self.tombstones.get(&key).copied() {
                if pure_syn {
                    self.tombstones.remove(&key);
                } else if seg.ts.secs_since(closed_at) < TOMBSTONE_SECS || seg.payload.is_empty() {
                    // Trailing ACK / FIN / retransmission of a finished connection.
                    return None;
                } else {
                    self.tombstones.remove(&key);
                }
            }
        }

        // Port reuse: a new SYN on a flow that is finished or has another ISN.
        if pure_syn && open {
            if let Some(f) = self.get(&key) {
                // Same ISN = a retransmitted SYN; another ISN, or a SYN after
                // data without one, is a new connection on the same tuple.
                let restart = f.is_closed()
                    || match f.isn[dir.index()] {
                        Some(isn) => isn != Seq(seg.seq),
                        None => f.packets[dir.index()] > 0,
                    };
                if restart {
                    if let Some(old) = self.take(&key) {
                        self.finish(old, done);
                    }
                    open = false;
                }
            }
        }

        if !open && self.len() >= self.limits.max_flows {
            self.evict_longest_idle(done);
        }
        Some(open)
    }

    fn remember_closed(&mut self, key: FlowKey, ts: Timestamp) {
        if self.tombstones.len() >= MAX_TOMBSTONES {
            // Forget the oldest: a trailing packet of that connection may
            // then open a short phantom flow, which is reported, not lost.
            self.pop_tombstone();
        }
        self.tombstones.insert(key, ts);
        self.tombstone_order.push_back((key, ts));
    }

    /// Remove the oldest tombstone (skipping entries superseded by a newer one).
    fn pop_tombstone(&mut self) {
        while let Some((k, t)) = self.tombstone_order.pop_front() {
            if self.tombstones.get(&k) == Some(&t) {
                self.tombstones.remove(&k);
                return;
            }
        }
    }

    /// The flow whose last packet is the oldest.
    fn longest_idle(&self) -> Option<&Flow<S>> {
        self.flows.get(self.recent.front()?)
    }

    /// Finish flows idle longer than the timeout at capture time `now`,
    /// oldest first; stops at the first flow that is not idle (flows whose
    /// timestamps go backwards are expired later, or at the end).
    pub fn sweep(&mut self, now: Timestamp, done: &mut dyn FnMut(Flow<S>)) {
        let timeout = self.limits.idle_timeout_secs;
        while let Some(key) = self
            .longest_idle()
            .filter(|f| now.secs_since(f.last_ts) >= timeout)
            .map(|f| f.key)
        {
            if let Some(mut f) = self.take(&key) {
                f.evicted = Some(EvictionCause::Idle);
                self.finish(f, done);
            }
        }
        while let Some(&(k, t)) = self.tombstone_order.front() {
            if now.secs_since(t) < TOMBSTONE_SECS {
                break;
            }
            self.tombstone_order.pop_front();
            if self.tombstones.get(&k) == Some(&t) {
                self.tombstones.remove(&k);
            }
        }
    }

    fn evict_longest_idle(&mut self, done: &mut dyn FnMut(Flow<S>)) {
        if let Some(key) = self.longest_idle().map(|f| f.key) {
            if let Some(mut f) = self.take(&key) {
                f.evicted = Some(EvictionCause::TableFull);
                self.evicted_full += 1;
                self.finish(f, done);
            }
        }
    }

    /// First frame of the oldest flow still open (`None` when none is):
    /// no flow finished later can have started before it.
    pub fn oldest_open_first_frame(&mut self) -> Option<u64> {
        Some(self.flows.get(self.opened.front()?)?.first_frame)
    }

    /// Every open flow, in first-frame order (for periodic re-reports).
    pub fn open_flows(&self) -> Vec<&Flow<S>> {
        let mut v: Vec<&Flow<S>> = self.flows.values().collect();
        v.sort_by_key(|f| (f.first_frame, f.key));
        v
    }

    /// An open flow by key.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<S>> {
        self.flows.get_mut(*self.slot_of.get(key)?)
    }

    /// End of input: finish every open flow, in first-frame order.
    pub fn drain(&mut self, done: &mut dyn FnMut(Flow<S>)) {
        self.recent.clear();
        self.opened.clear();
        self.slot_of.clear();
        let mut all: Vec<Flow<S>> = self.flows.drain();
        all.sort_by_key(|f| (f.first_frame, f.key));
        for f in all {
            self.finish(f, done);
        }
    }

    fn finish(&mut self, mut flow: Flow<S>, done: &mut dyn FnMut(Flow<S>)) {
        let frame = flow.last_frame;
        let Flow { reasm, sink, .. } = &mut flow;
        for dir in Dir::BOTH {
            reasm[dir.index()].flush(frame, &mut |d| deliver(sink, dir, d));
        }
        done(flow);
    }
}

/// Account one segment to its flow: counters, SYN, payload to the
/// reassembler (and on to the consumer), FIN and RST. True when the segment
/// closed the flow (RST, or the second FIN).
fn apply<S: StreamSink>(
    flow: &mut Flow<S>,
    seg: &Segment<'_>,
    dir: Dir,
    limits: FlowLimits,
) -> bool {
    let pure_syn = seg.flags.syn && !seg.flags.ack;
    flow.last_frame = seg.frame;
    flow.last_ts = seg.ts;
    flow.packets[dir.index()] += 1;
    flow.bytes[dir.index()] += seg.payload.len() as u64;
    let d = dir.index();

    if seg.flags.syn {
        if pure_syn {
            if flow.syn_dir.is_none() {
                flow.syn_dir = Some(dir);
                flow.syn_frame = Some(seg.frame);
            }
        } else if flow.syn_dir.is_none() {
            // Only the SYN-ACK was captured: its receiver opened the connection.
            flow.syn_dir = Some(dir.reverse());
        }
        flow.reasm[d].syn(Seq(seg.seq));
        flow.isn[d].get_or_insert(Seq(seg.seq));
    }

    if !seg.payload.is_empty() || seg.missing > 0 {
        let limit = if flow.sink.wants_payload(dir) {
            limits.max_ooo_bytes
        } else {
            HEADERS_ONLY_BUFFER
        };
        flow.reasm[d].set_limit(limit);
        // A SYN's own sequence number is the SYN's: data it carries (TCP
        // Fast Open, RFC 7413) starts one after it.
        let data_seq = if seg.flags.syn {
            Seq(seg.seq).plus(1)
        } else {
            Seq(seg.seq)
        };
        let Flow { reasm, sink, .. } = flow;
        reasm[d].segment(
            data_seq,
            seg.payload,
            seg.missing,
            seg.frame,
            seg.ts,
            &mut |delivery| deliver(sink, dir, delivery),
        );
    }

    if seg.flags.fin && !flow.fin[d] {
        flow.fin[d] = true;
        flow.closes.push((dir, seg.frame, CloseKind::Fin, seg.ts));
    }
    if seg.flags.rst && !flow.rst {
        flow.rst = true;
        flow.closes.push((dir, seg.frame, CloseKind::Rst, seg.ts));
    }
    flow.is_closed()
}

fn deliver<S: StreamSink>(sink: &mut S, dir: Dir, d: Delivery<'_>) {
    match d {
        Delivery::Data { bytes, frame, ts } => sink.on_data(dir, bytes, frame, ts),
        Delivery::Gap { len, frame } => sink.on_gap(dir, len, frame),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;

    /// Collects the bytes delivered per direction.
    #[derive(Default)]
    struct Bytes([Vec<u8>; 2]);
    impl StreamSink for Bytes {
        fn on_data(&mut self, dir: Dir, b: &[u8], _: u64, _: Timestamp) {
            self.0[dir.index()].extend_from_slice(b);
        }
        fn on_gap(&mut self, _: Dir, _: u64, _: u64) {}
        fn wants_payload(&self, _: Dir) -> bool {
            true
        }
    }

    // See: issue 14, item 5 (a ClientHello in the SYN was lost).
    #[test]
    fn data_in_a_syn_is_delivered_whole_and_its_resend_is_a_retransmission() {
        let mut t: FlowTable<Bytes> = FlowTable::new(FlowLimits::default());
        let hello = b"\x16\x03\x01 client hello";
        let mut syn = seg(40000, 1, 0);
        syn.seq = 1000;
        syn.payload = hello;
        // The server acknowledges only the SYN; the client sends the data again.
        let mut resend = seg(40000, 3, 0);
        resend.seq = 1001;
        resend.flags = TcpFlags {
            ack: true,
            psh: true,
            ..TcpFlags::default()
        };
        resend.payload = hello;
        let mut got = None;
        for s in [syn, resend] {
            t.segment(&s, &mut |_| Bytes::default(), &mut |_| {});
        }
        t.drain(&mut |f: Flow<Bytes>| got = Some(f));
        let f = got.expect("flow");
        let (_, dir) = FlowKey::from_endpoints(syn.src, syn.dst);
        assert_eq!(f.sink.0[dir.index()], hello.to_vec());
        assert_eq!(f.reasm[dir.index()].stats.retransmissions, 1);
    }

    #[derive(Default)]
    struct Null;
    impl StreamSink for Null {
        fn on_data(&mut self, _: Dir, _: &[u8], _: u64, _: Timestamp) {}
        fn on_gap(&mut self, _: Dir, _: u64, _: u64) {}
        fn wants_payload(&self, _: Dir) -> bool {
            true
        }
    }

    fn seg(client_port: u16, frame: u64, secs: i64) -> Segment<'static> {
        Segment {
            frame,
            ts: Timestamp::new(secs, 0),
            src: format!("10.0.0.2:{client_port}").parse().unwrap(),
            dst: "10.0.0.1:5062".parse().unwrap(),
            seq: 1,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            payload: &[],
            missing: 0,
            ip_length_beyond_frame: false,
        }
    }

    fn table(max_flows: usize) -> FlowTable<Null> {
        FlowTable::new(FlowLimits {
            max_flows,
            idle_timeout_secs: 10,
            ..FlowLimits::default()
        })
    }

    #[test]
    fn full_table_evicts_the_flow_whose_last_packet_is_oldest() {
        let mut t = table(3);
        let mut done = Vec::new();
        for (i, port) in [1000u16, 1001, 1002].into_iter().enumerate() {
            t.segment(&seg(port, i as u64 + 1, 0), &mut |_| Null, &mut |f| {
                done.push(f.key.a.port().min(f.key.b.port()))
            });
        }
        // Flow 1000 speaks again: 1001 is now the longest idle.
        t.segment(&seg(1000, 4, 0), &mut |_| Null, &mut |_| {});
        t.segment(&seg(1003, 5, 0), &mut |_| Null, &mut |f| {
            assert_eq!(f.evicted, Some(EvictionCause::TableFull));
            done.push(f.key.a.port().min(f.key.b.port()));
        });
        assert_eq!(done, vec![1001]);
        assert_eq!(t.evicted_full, 1);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn flood_against_a_full_table_keeps_memory_bounded_and_evicts_oldest_first() {
        let mut t = table(100);
        let mut evicted = Vec::new();
        for i in 0..50_000u64 {
            let port = 1024 + (i % 60_000) as u16;
            t.segment(&seg(port, i + 1, 0), &mut |_| Null, &mut |f| {
                evicted.push(f.first_frame)
            });
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.evicted_full, 50_000 - 100);
        assert_eq!(evicted, (1..=50_000 - 100).collect::<Vec<u64>>());
        let open: Vec<u64> = t.open_flows().iter().map(|f| f.first_frame).collect();
        assert_eq!(open, (50_000 - 99..=50_000).collect::<Vec<u64>>());
        // Freed slots are reused: memory is what 100 open flows take.
        assert_eq!(t.flows.capacity_used(), 100);
    }

    #[test]
    fn idle_flows_expire_oldest_first_and_active_ones_stay() {
        let mut t = table(1000);
        t.segment(&seg(1000, 1, 0), &mut |_| Null, &mut |_| {});
        t.segment(&seg(1001, 2, 5), &mut |_| Null, &mut |_| {});
        let mut expired = Vec::new();
        t.segment(&seg(1002, 3, 12), &mut |_| Null, &mut |f| {
            assert_eq!(f.evicted, Some(EvictionCause::Idle));
            expired.push(f.first_frame);
        });
        assert_eq!(expired, vec![1]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn close_and_eviction_kinds_read_as_the_words_the_reports_use() {
        fn words<T: fmt::Display + serde::Serialize>(v: T) -> (String, String) {
            (v.to_string(), serde_json::to_string(&v).unwrap())
        }
        let quoted = |w: &str| (w.to_string(), format!("\"{w}\""));
        assert_eq!(words(CloseKind::Fin), quoted("fin"));
        assert_eq!(words(CloseKind::Rst), quoted("rst"));
        assert_eq!(words(EvictionCause::Idle), quoted("idle"));
        assert_eq!(words(EvictionCause::TableFull), quoted("flow table full"));
    }
}
