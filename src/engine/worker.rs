//! A worker owns a flow table for its share of the flows (all of them with
//! one thread) and turns finished flows into facts.

use super::{DecodeCounters, EngineOptions, PortFilter};
use crate::capture::{Frame, Timestamp};
use crate::decode::{self, DecodeCounter, Dir, FlowKey, Segment};
use crate::facts::{builder, FlowFacts};
use crate::flow::{Flow, FlowTable, StreamSink};
use crate::tls::decrypt::Keys;
use crate::tls::{TlsFlow, TlsLimits};
use std::sync::Arc;

impl StreamSink for TlsFlow {
    fn on_data(&mut self, dir: Dir, bytes: &[u8], frame: u64, ts: Timestamp) {
        TlsFlow::on_data(self, dir, bytes, frame, ts);
    }
    fn on_gap(&mut self, dir: Dir, len: u64, frame: u64) {
        TlsFlow::on_gap(self, dir, len, frame);
    }
    fn wants_payload(&self, dir: Dir) -> bool {
        TlsFlow::wants_payload(self, dir)
    }
}

pub struct Worker {
    input: usize,
    /// Report a flow as soon as its verdict is settled (`live` only: a
    /// file or stdin reports each flow once it has finished), not only when
    /// it closes.
    early: bool,
    filter: PortFilter,
    tls_limits: TlsLimits,
    keys: Option<Arc<Keys>>,
    /// Boxed TLS state: see `StreamSink for Box`.
    table: FlowTable<Box<TlsFlow>>,
    finished: Vec<Box<FlowFacts>>,
}

impl Worker {
    pub fn new(input: usize, opts: &EngineOptions) -> Worker {
        Worker {
            input,
            early: false,
            filter: opts.filter.clone(),
            tls_limits: opts.tls_limits,
            keys: opts.keys.clone(),
            table: FlowTable::new(opts.flow_limits),
            finished: Vec::new(),
        }
    }

    /// Decode one frame and feed it if it belongs to an audited flow.
    pub fn frame(&mut self, frame: &Frame<'_>, counters: &mut DecodeCounters) {
        let look = decode::quick_transport(frame);
        if early_drop(look, frame, &self.filter, counters) {
            return;
        }
        // A plain audited frame is read from the offsets the look found.
        if let Some(seg) = look.and_then(|look| decode::quick_segment(frame, &look)) {
            counters.segments += 1;
            counters.audited_segments += 1;
            self.segment(&seg);
            return;
        }
        match decode::decode(frame) {
            Ok(seg) => {
                counters.segments += 1;
                if seg.ip_length_beyond_frame {
                    counters.count(DecodeCounter::IpLengthBeyondFrame, frame.index);
                }
                if self.filter.matches(seg.src.port(), seg.dst.port()) {
                    counters.audited_segments += 1;
                    self.segment(&seg);
                }
            }
            Err(e) => counters.error(&e, frame.index),
        }
    }

    /// Feed a frame the reading thread found to be of an audited flow (and
    /// counted): read the segment here on the worker, from the offsets of
    /// the reader's `look` when it found plain TCP, else by a full decode.
    pub fn audited_frame(&mut self, frame: &Frame<'_>, look: Option<decode::QuickTransport>) {
        let quick = look.and_then(|look| decode::quick_segment(frame, &look));
        if let Some(seg) = quick {
            self.segment(&seg);
        } else if let Ok(seg) = decode::decode(frame) {
            self.segment(&seg);
        }
    }

    /// Report flows as soon as they are judged (handshake done and data
    /// both ways, or an alert ended it) instead of when they close.
    pub fn with_early_reporting(mut self) -> Worker {
        self.early = true;
        self
    }

    /// Finish flows idle past the timeout at `now` (live: wall clock as capture time).
    pub fn sweep(&mut self, now: Timestamp) {
        let mut done = collect_into(&mut self.finished, self.input, &self.filter);
        self.table.sweep(now, &mut done);
    }

    /// Feed one audited segment.
    pub fn segment(&mut self, seg: &Segment<'_>) {
        self.segment_inner(seg);
        if self.early {
            let (key, _) = FlowKey::from_endpoints(seg.src, seg.dst);
            let input = self.input;
            if let Some(flow) = self.table.get_mut(&key) {
                if !flow.reported && flow.sink.is_settled() {
                    flow.reported = true;
                    let tls = flow.sink.facts().clone();
                    let filter = &self.filter;
                    let facts = builder::build(flow, tls, input, &|p| filter.is_audited(p));
                    self.finished.push(Box::new(facts));
                }
            }
        }
    }

    fn segment_inner(&mut self, seg: &Segment<'_>) {
        let limits = self.tls_limits;
        let keys = &self.keys;
        let mut done = collect_into(&mut self.finished, self.input, &self.filter);
        self.table.segment(
            seg,
            &mut |_key: &FlowKey| Box::new(TlsFlow::with_keys(limits, keys.clone())),
            &mut done,
        );
    }

    /// Current facts of every open flow that was already reported early,
    /// in first-frame order: `live` re-reports long-lived connections with
    /// updated counters instead of staying silent until they close.
    pub fn open_reported_snapshots(&self) -> Vec<FlowFacts> {
        let filter = &self.filter;
        self.table
            .open_flows()
            .into_iter()
            .filter(|f| f.reported)
            .map(|f| {
                builder::build(f, f.sink.facts().clone(), self.input, &|p| {
                    filter.is_audited(p)
                })
            })
            .collect()
    }

    /// Flows finished since the last call (streaming consumers).
    pub fn take_finished(&mut self) -> Vec<Box<FlowFacts>> {
        std::mem::take(&mut self.finished)
    }

    /// First frame of the oldest flow still open on this worker.
    pub fn oldest_open_first_frame(&mut self) -> Option<u64> {
        self.table.oldest_open_first_frame()
    }

    pub fn evicted_full(&self) -> u64 {
        self.table.evicted_full
    }

    pub fn open_flows(&self) -> usize {
        self.table.len()
    }

    /// End of input: finish all open flows and return every flow, sorted.
    pub fn finish(&mut self) -> Vec<Box<FlowFacts>> {
        {
            let mut done = collect_into(&mut self.finished, self.input, &self.filter);
            self.table.drain(&mut done);
        }
        let mut flows = std::mem::take(&mut self.finished);
        flows.sort_by_key(|f| (f.first_frame, f.key));
        flows
    }
}

/// Drop a frame that is not of an audited flow on a header look, before
/// any decoding or per-flow state, counting it as [`decode::decode`] would
/// have (a BPF-like filter: most of a busy tap is other traffic). `false`
/// when the frame may be audited, or the look (`decode::quick_transport`)
/// is unsure: decode it then.
pub(super) fn early_drop(
    look: Option<decode::QuickTransport>,
    frame: &Frame<'_>,
    filter: &PortFilter,
    counters: &mut DecodeCounters,
) -> bool {
    match look {
        Some(decode::QuickTransport::NotTcp) => {
            counters.count(DecodeCounter::NotTcp, frame.index);
            true
        }
        Some(decode::QuickTransport::Tcp {
            src_port, dst_port, ..
        }) if !filter.matches(src_port, dst_port) => {
            counters.segments += 1;
            true
        }
        _ => false,
    }
}

/// The consumer of the flows the table lets go: the facts of each one not
/// already reported early.
fn collect_into<'a>(
    finished: &'a mut Vec<Box<FlowFacts>>,
    input: usize,
    filter: &'a PortFilter,
) -> impl FnMut(Flow<Box<TlsFlow>>) + 'a {
    move |flow| {
        if !flow.reported {
            // Boxed once here: the facts (a few KB) then travel to the
            // report by pointer, through the release order and a channel.
            finished.push(Box::new(to_facts(flow, input, filter)));
        }
    }
}

fn to_facts(mut flow: Flow<Box<TlsFlow>>, input: usize, filter: &PortFilter) -> FlowFacts {
    // Taken out of the box in place: `mem::take` of the box would make a
    // fresh 2 KB flow only to drop it.
    let tls = flow.sink.take_facts();
    builder::build(&flow, tls, input, &|p| filter.is_audited(p))
}
