//! Engine: drives capture → decode → flow → tls → facts for each input, then
//! hands finished flows to checks and the report.
//!
//! Owns: [`Plan`], the `check` run ([`check::run`]) and the `live` run
//! ([`live::audit`]), [`EngineOptions`], [`InputFacts`], [`EngineError`],
//! the worker ([`worker::Worker`]) and the sharded parallel reader
//! ([`parallel`]).
//!
//! Threads: the engine starts the pipeline's (with `-j N` for N > 1, the
//! `check` pool, which reads the inputs, and the sharded workers); the
//! `check` report is written on the calling thread, which at `-j 1` also
//! reads. The only other thread is the `live
//! --metrics` endpoint's ([`crate::report::metrics::MetricsServer`], with
//! the threads its HTTP server, tiny_http, starts for itself).
//!
//! One way to run the pipeline over an input: [`stream`] hands each
//! finished flow to a closure, in report order; [`collect`] is `stream`
//! into a `Vec`. `check` streams each of its inputs; `live` drives a
//! [`Worker`] itself, since it reports each flow as soon as it is judged,
//! not in first-frame order.
//!
//! Determinism (R8): flows of a file input are reported sorted by first
//! frame (ties by flow key), so the thread count changes speed, never the
//! report. Stdin is read through the same ordered path as a file, so a
//! finished report does not depend on the source (spec §8); only `live`
//! reports a flow as soon as its verdict is settled.

pub mod batch;
pub mod check;
pub mod live;
pub mod parallel;
mod plan;
pub mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::bounded::Bounded;
use crate::capture::file::FileSource;
use crate::capture::{CaptureError, InputStats};
use crate::decode::DecodeCounter;
use crate::facts::{FlowFacts, PriorSession};
use crate::flow::FlowLimits;
use crate::tls::decrypt::Keys;
use crate::tls::TlsLimits;

pub use plan::Plan;
pub use worker::Worker;

/// Which TCP flows are audited.
#[derive(Debug, Clone, Default)]
pub struct PortFilter {
    pub ports: Vec<u16>,
    /// Every TCP flow, whatever its ports.
    pub any_port: bool,
}

impl PortFilter {
    #[inline]
    pub fn matches(&self, a: u16, b: u16) -> bool {
        // Asked for every TCP frame: one audited port (the profile's
        // 5062) is the common case, and two compares beat two slice scans.
        match self.ports.as_slice() {
            _ if self.any_port => true,
            [port] => a == *port || b == *port,
            ports => ports.contains(&a) || ports.contains(&b),
        }
    }
    pub fn is_audited(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }
}

/// Everything the engine needs besides the inputs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub filter: PortFilter,
    pub threads: usize,
    pub flow_limits: FlowLimits,
    pub tls_limits: TlsLimits,
    /// Keys to decrypt with (`--keylog`, `--rsa-key`), shared by every flow.
    pub keys: Option<Arc<Keys>>,
    /// Take each input file's SHA-256 while reading it (for tickets).
    pub hash_input: bool,
    /// Set by the caller when it no longer wants the flows (the report's
    /// reader went away): reading stops within a buffer or
    /// [`RELEASE_EVERY_FRAMES`] frames, as if the input had ended there.
    pub stop: Option<Arc<AtomicBool>>,
}

impl EngineOptions {
    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            filter: PortFilter {
                ports: vec![5062],
                any_port: false,
            },
            threads: 1,
            flow_limits: FlowLimits::default(),
            tls_limits: TlsLimits::default(),
            keys: None,
            hash_input: false,
            stop: None,
        }
    }
}

/// Frames that yielded no audited segment, by reason (for warnings).
#[derive(Debug, Clone, Default)]
pub struct DecodeCounters {
    /// Per counter (indexed by `DecodeCounter as usize`): (count, first frame).
    by_reason: [(u64, u64); DecodeCounter::ALL.len()],
    pub segments: u64,
    pub audited_segments: u64,
    /// Frames of an EtherType not decoded, by EtherType → (count, first frame).
    pub unknown_ethertypes: BTreeMap<u16, (u64, u64)>,
}

impl DecodeCounters {
    pub fn count(&mut self, counter: DecodeCounter, frame: u64) {
        let (n, first) = &mut self.by_reason[counter as usize];
        if *n == 0 {
            *first = frame;
        }
        *n += 1;
    }

    /// The counters that counted a frame, in label order: (counter, count,
    /// first frame).
    pub fn by_reason(&self) -> impl Iterator<Item = (DecodeCounter, u64, u64)> + '_ {
        DecodeCounter::ALL
            .into_iter()
            .zip(&self.by_reason)
            .filter(|(_, &(n, _))| n > 0)
            .map(|(c, &(n, first))| (c, n, first))
    }

    /// Count a frame that yielded no segment.
    pub fn error(&mut self, e: &crate::decode::DecodeError, frame: u64) {
        if let crate::decode::DecodeError::UnknownEtherType(t) = *e {
            self.unknown_ethertypes.entry(t).or_insert((0, frame)).0 += 1;
        }
        self.count(e.counter(), frame);
    }

    /// Warnings worth showing a user (fragments, truncation, unknown link types).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (counter, n, first) in self.by_reason() {
            let msg = match counter {
                DecodeCounter::NotTcp => continue,
                DecodeCounter::IpFragment => format!(
                    "{n} frame(s) are IP fragments, not reassembled (first: frame {first}); a TLS record in them is seen as a gap"
                ),
                DecodeCounter::TruncatedHeader => format!(
                    "{n} frame(s) cut short inside their headers (snaplen?), skipped (first: frame {first})"
                ),
                DecodeCounter::MalformedHeader => {
                    format!("{n} frame(s) with malformed IP/TCP headers, skipped (first: frame {first})")
                }
                DecodeCounter::IpLengthBeyondFrame => format!(
                    "{n} frame(s) whose IP header claims more bytes than the frame holds, though the capture did not cut it (first: frame {first}); the captured bytes were used"
                ),
                // Said per EtherType below.
                DecodeCounter::UnknownEtherType => continue,
                DecodeCounter::UnsupportedLinkType => format!(
                    "{n} frame(s) of an unsupported link type, skipped (first: frame {first})"
                ),
                DecodeCounter::TunnelTooDeep => {
                    format!("{n} frame(s): {} (first: frame {first})", counter.label())
                }
            };
            out.push(msg);
        }
        for (ethertype, (n, first)) in &self.unknown_ethertypes {
            out.push(format!(
                "{n} frame(s) with EtherType 0x{ethertype:04x}, which tlsaudit does not decode, skipped (first: frame {first}); flows in them are not audited"
            ));
        }
        out
    }
}

/// Result of reading one input to the end.
#[derive(Debug, Default)]
pub struct InputFacts {
    pub path: PathBuf,
    /// Finished flows, sorted by first frame.
    pub flows: Vec<FlowFacts>,
    pub stats: InputStats,
    pub decode: DecodeCounters,
    /// Flows evicted because the flow table was full.
    pub evicted_full: u64,
    /// Flows handed to the consumer (when streamed, `flows` stays empty).
    pub flows_reported: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("worker thread failed while reading {path}")]
    Worker { path: PathBuf },
}

/// What [`stream`] reads.
pub enum Input {
    /// A capture file by path (`-` = stdin), opened by the engine; its
    /// SHA-256 is taken as it is read when [`EngineOptions::hash_input`]
    /// says so.
    Path(PathBuf),
    /// An already opened source (e.g. bytes in memory via
    /// [`FileSource::from_reader`]).
    Source(Box<FileSource>),
}

impl<P: AsRef<Path>> From<P> for Input {
    fn from(path: P) -> Input {
        Input::Path(path.as_ref().to_path_buf())
    }
}

impl From<FileSource> for Input {
    fn from(source: FileSource) -> Input {
        Input::Source(Box::new(source))
    }
}

/// Runs the pipeline over one input: reads it to the end (on
/// `opts.threads` workers) and hands each flow to `on_flow` in first-frame
/// order (ties by flow key) as soon as no flow that started earlier can
/// still be open. Memory holds the open flows and the finished ones waiting
/// for an older flow, never the whole input. `index` is the input's place
/// in the run (it names the input in each flow's facts); `progress` is told
/// the byte offset reached now and then. The returned `InputFacts` has no
/// flows (they went to `on_flow`).
pub fn stream(
    input: impl Into<Input>,
    index: usize,
    opts: &EngineOptions,
    progress: &dyn Fn(u64),
    on_flow: &mut dyn FnMut(Box<FlowFacts>),
) -> Result<InputFacts, EngineError> {
    let source = match input.into() {
        Input::Path(path) if opts.hash_input => FileSource::open_hashed(&path)?,
        Input::Path(path) => FileSource::open(&path)?,
        Input::Source(source) => *source,
    };
    let path = source.path().to_path_buf();
    let mut order = OrderedRelease::default();
    let read = if opts.threads > 1 {
        parallel::run(source, index, opts, progress, &mut order, on_flow)?
    } else {
        read_in_one_thread(source, index, opts, progress, &mut order, on_flow)?
    };
    order.release_all(on_flow);
    Ok(InputFacts {
        path,
        flows: Vec::new(),
        stats: read.stats,
        decode: read.decode,
        evicted_full: read.evicted_full,
        flows_reported: order.released,
    })
}

/// [`stream`] into a `Vec`: every flow of the input held at once, in
/// `InputFacts::flows` (for tests, benches and small inputs).
pub fn collect(
    input: impl Into<Input>,
    index: usize,
    opts: &EngineOptions,
) -> Result<InputFacts, EngineError> {
    let mut flows = Vec::new();
    let mut facts = stream(input, index, opts, &|_| {}, &mut |f| flows.push(*f))?;
    facts.flows = flows;
    Ok(facts)
}

/// What reading an input left besides its flows (which went to the
/// [`OrderedRelease`]).
struct ReadTotals {
    stats: InputStats,
    decode: DecodeCounters,
    evicted_full: u64,
}

/// `-j 1`: a plain loop, no channels (R7). Releases flows at the same
/// frames as [`parallel::run`], so both write the same report.
fn read_in_one_thread(
    mut source: FileSource,
    index: usize,
    opts: &EngineOptions,
    progress: &dyn Fn(u64),
    order: &mut OrderedRelease,
    on_flow: &mut dyn FnMut(Box<FlowFacts>),
) -> Result<ReadTotals, EngineError> {
    let mut worker = Worker::new(index, opts);
    let mut decode = DecodeCounters::default();
    let mut n: u64 = 0;
    loop {
        n += 1;
        if n % 65536 == 0 {
            progress(source.position());
        }
        if n % CHECKPOINT_FRAMES == 0 {
            // Before reading the frame, as the parallel engine does (its
            // barrier covers the frames already read), so both decide alike.
            for f in worker.take_finished() {
                order.push(f);
            }
            let here = source.next_index();
            let low = worker.oldest_open_first_frame().unwrap_or(here).min(here);
            order.release_below(low, on_flow);
            order.checkpoint(on_flow);
        }
        let Some(frame) = source.next_frame()? else {
            break;
        };
        let next = frame.index + 1;
        worker.frame(&frame, &mut decode);
        if n % RELEASE_EVERY_FRAMES == 0 {
            if opts.stopped() {
                break;
            }
            for f in worker.take_finished() {
                order.push(f);
            }
            let low = worker.oldest_open_first_frame().unwrap_or(next).min(next);
            order.release_below(low, on_flow);
        }
    }
    for f in worker.take_finished().into_iter().chain(worker.finish()) {
        order.push(f);
    }
    Ok(ReadTotals {
        evicted_full: worker.evicted_full(),
        stats: source.into_stats(),
        decode,
    })
}

/// How often (in frames) finished flows are checked for release: often
/// enough to keep the waiting set small, rarely enough to cost nothing.
const RELEASE_EVERY_FRAMES: u64 = 1024;

/// At every multiple of this many frames, if more than [`MAX_WAITING`]
/// finished flows are waiting behind a long-lived open one, they are
/// written anyway (see [`OrderedRelease::checkpoint`]). A frame count, not a
/// timer, so every thread count makes the same decision at the same place.
pub const CHECKPOINT_FRAMES: u64 = 1 << 18;
/// Finished flows allowed to wait behind an open one (a few KB each).
pub const MAX_WAITING: usize = 10_000;

/// Finished flows waiting for every earlier-starting flow to finish, then
/// handed out in first-frame order with their resumed sessions linked.
///
/// A persistent federation link open from the first frame would hold back
/// every later flow until the end; past [`MAX_WAITING`] at a checkpoint the
/// waiting flows are written and that link is listed when it finishes.
#[derive(Default)]
pub struct OrderedRelease {
    /// Boxed: a B-tree moves its values as it splits and fills nodes, and
    /// a `FlowFacts` is a few KB.
    pending: BTreeMap<(u64, crate::decode::FlowKey), Box<FlowFacts>>,
    cache: SessionCache,
    /// Flows handed out so far.
    pub released: u64,
}

impl OrderedRelease {
    pub fn push(&mut self, f: Box<FlowFacts>) {
        self.pending.insert((f.first_frame, f.key), f);
    }

    /// Hand out every waiting flow that started before frame `low`.
    ///
    /// A flow joined mid-stream without certificates waits (and the flows
    /// behind it with it) until a later connection between the same peers
    /// that showed them has started before `low` — every flow starting
    /// before `low` has finished, so the earliest such connection is known
    /// and the choice does not depend on timing — or until the end of the
    /// input or a checkpoint lets everything go.
    pub fn release_below(&mut self, low: u64, out: &mut dyn FnMut(Box<FlowFacts>)) {
        self.release(low, false, out);
    }

    pub fn release_all(&mut self, out: &mut dyn FnMut(Box<FlowFacts>)) {
        self.release(u64::MAX, true, out);
    }

    fn release(&mut self, low: u64, all: bool, out: &mut dyn FnMut(Box<FlowFacts>)) {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 >= low {
                break;
            }
            let mut f = entry.remove();
            if f.wants_later_certificates() {
                let lender = self
                    .pending
                    .values()
                    .take_while(|l| l.first_frame < low)
                    .find(|l| l.can_supply_certificates_to(&f));
                match lender {
                    Some(l) => f.certificates_from = Some(l.as_prior_session()),
                    None if !all => {
                        self.push(f);
                        break;
                    }
                    None => {}
                }
            }
            self.cache.observe(&mut f);
            self.released += 1;
            out(f);
        }
    }

    /// At a checkpoint (every flow finished before it is known to be here):
    /// if too many flows wait behind an open one, write them now.
    pub fn checkpoint(&mut self, out: &mut dyn FnMut(Box<FlowFacts>)) {
        if self.pending.len() > MAX_WAITING {
            self.release_all(out);
        }
    }

    pub fn waiting(&self) -> usize {
        self.pending.len()
    }
}

/// Remembers full handshakes by session id and by the ticket they issued,
/// so that a later resumed flow of the same input can cite the certificates
/// of the original (spec §3.4).
#[derive(Debug)]
pub struct SessionCache {
    sessions: Bounded<Vec<u8>, PriorSession>,
    tickets: Bounded<[u8; 32], PriorSession>,
}

/// Sessions remembered per input (oldest forgotten first): bounded memory.
const MAX_SESSIONS: usize = 10_000;

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache {
            sessions: Bounded::new(MAX_SESSIONS),
            tickets: Bounded::new(MAX_SESSIONS),
        }
    }
}

impl SessionCache {
    /// Link `f` to an earlier full handshake if it resumed one; remember it
    /// if it is a full handshake that set up a session.
    pub fn observe(&mut self, f: &mut FlowFacts) {
        if f.tls.resumed == Some(true) {
            let Some(ch) = f.tls.client_hello.as_ref() else {
                return;
            };
            let by_ticket = ch.ticket_digest.and_then(|t| self.tickets.get(&t));
            let by_id = (!ch.session_id.is_empty())
                .then(|| self.sessions.get(ch.session_id.as_slice()))
                .flatten();
            // The resumption's own method first: a ticket names its session
            // better than the id a client may send along with it.
            let prior = if f.tls.resumption.as_deref() == Some("ticket") {
                by_ticket.or(by_id)
            } else {
                by_id.or(by_ticket)
            };
            f.resumed_from = prior.cloned();
            return;
        }
        let Some(sh) = f.tls.server_hello.as_ref() else {
            return;
        };
        if f.tls.server_certificates.is_none() {
            return;
        }
        let prior = PriorSession {
            first_frame: f.first_frame,
            client: f.client,
            server: f.server,
            server_certificates: f.tls.server_certificates.clone(),
            client_certificates: f.tls.client_certificates.clone(),
        };
        if let Some(t) = f.tls.issued_ticket_digest {
            self.tickets.insert(t, prior.clone());
        }
        if !sh.session_id.is_empty() {
            self.sessions.insert(sh.session_id.clone(), prior);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeError;

    #[test]
    fn the_session_cache_forgets_the_oldest_session_not_the_smallest_id() {
        use crate::checks::fixture::FlowBuilder;
        let full = |id: Vec<u8>, frame: u64| {
            let mut f = FlowBuilder::new()
                .federation_ok()
                .first_frame(frame)
                .build();
            f.tls
                .server_hello
                .as_mut()
                .expect("a full handshake has a ServerHello")
                .session_id = id;
            f
        };
        let resumed = |id: Vec<u8>| {
            let mut f = FlowBuilder::new().resumed().build();
            f.tls
                .client_hello
                .as_mut()
                .expect("a resumption has a ClientHello")
                .session_id = id;
            f
        };
        let mut cache = SessionCache::default();
        // The first session has the largest id, the second the smallest.
        cache.observe(&mut full(vec![0xff; 32], 1));
        cache.observe(&mut full(vec![0x00; 32], 2));
        for i in 0..MAX_SESSIONS as u64 - 1 {
            let mut id = vec![0x80; 32];
            id[..8].copy_from_slice(&i.to_be_bytes());
            cache.observe(&mut full(id, 10 + i));
        }
        // One more than the cache holds: the first is forgotten.
        let mut oldest = resumed(vec![0xff; 32]);
        cache.observe(&mut oldest);
        assert!(oldest.resumed_from.is_none());
        let mut smallest = resumed(vec![0x00; 32]);
        cache.observe(&mut smallest);
        assert_eq!(smallest.resumed_from.map(|p| p.first_frame), Some(2));
    }

    #[test]
    fn decode_counters_keep_the_first_frame_and_warn_in_label_order() {
        let mut c = DecodeCounters::default();
        c.count(DecodeCounter::TunnelTooDeep, 9);
        c.error(&DecodeError::Fragment, 4);
        c.error(&DecodeError::NotTcp, 1);
        c.error(&DecodeError::Fragment, 2);
        c.count(DecodeCounter::TunnelTooDeep, 3);
        let counted: Vec<_> = c.by_reason().collect();
        assert_eq!(
            counted,
            [
                (DecodeCounter::IpFragment, 2, 4),
                (DecodeCounter::NotTcp, 1, 1),
                (DecodeCounter::TunnelTooDeep, 2, 9),
            ]
        );
        assert_eq!(
            c.warnings(),
            [
                "2 frame(s) are IP fragments, not reassembled (first: frame 4); a TLS record in them is seen as a gap",
                "2 frame(s): tunnel too deep (first: frame 9)",
            ]
        );
    }
}
