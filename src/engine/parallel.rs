//! Sharded parallel engine: the calling thread reads and decodes frames and
//! copies audited segments into per-shard [`Batch`]es; `threads` workers
//! each own the flows whose symmetric key hash falls in their shard, so both
//! directions of a flow meet on one worker and reassembly needs no locks.
//! Borrowed capture data never crosses a thread (R7): only owned batches do,
//! and they are recycled through a pool.
//!
//! Ordered release: after each batch a worker reports the flows it finished
//! and the first frame of its oldest open flow. A flow that will finish
//! later on worker `k` started at or after the lowest of: that oldest open
//! flow, the first frame of any batch sent to `k` and not yet acknowledged,
//! and the next frame to read. Flows that started before the minimum over
//! all workers are released in first-frame order, so the report is the
//! same for any thread count and memory does not grow with the file.

use std::collections::VecDeque;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::batch::Batch;
use super::{
    DecodeCounters, EngineError, EngineOptions, InputFacts, OrderedRelease, Worker,
    CHECKPOINT_FRAMES, MAX_WAITING,
};
use crate::capture::file::FileSource;
use crate::decode::{self, FlowKey};
use crate::facts::FlowFacts;

/// Batches in flight per worker: enough to keep a worker busy while the
/// reader fills the next one, bounded so memory stays flat.
const QUEUE_DEPTH: usize = 4;

/// What a worker says after each batch.
struct Progress {
    shard: usize,
    finished: Vec<FlowFacts>,
    oldest_open: Option<u64>,
}

/// Per-shard bookkeeping on the reader side.
#[derive(Default)]
struct ShardState {
    /// First frames of batches sent and not yet acknowledged, oldest first.
    inflight: VecDeque<u64>,
    oldest_open: Option<u64>,
}

pub fn run(
    mut source: FileSource,
    input: usize,
    opts: &EngineOptions,
    progress: &dyn Fn(u64),
    order: &mut OrderedRelease,
    on_flow: &mut dyn FnMut(FlowFacts),
) -> Result<InputFacts, EngineError> {
    let n = opts.threads.max(1);
    let (pool_tx, pool_rx): (Sender<Batch>, Receiver<Batch>) = bounded(n * (QUEUE_DEPTH + 2));
    for _ in 0..n * (QUEUE_DEPTH + 1) {
        let _ = pool_tx.send(Batch::with_capacity());
    }
    // Unbounded: the reader drains it at every batch, and a bounded one
    // could deadlock against the bounded batch queues.
    let (done_tx, done_rx) = unbounded::<Progress>();
    let path = source.path().to_path_buf();
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for shard in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE_DEPTH);
            senders.push(tx);
            let pool_tx = pool_tx.clone();
            let done_tx = done_tx.clone();
            let opts = opts.clone();
            handles.push(scope.spawn(move || {
                let mut worker = Worker::new(input, &opts);
                for mut batch in rx {
                    for seg in batch.iter() {
                        worker.segment(&seg);
                    }
                    batch.clear();
                    let _ = pool_tx.send(batch);
                    let _ = done_tx.send(Progress {
                        shard,
                        finished: worker.take_finished(),
                        oldest_open: worker.oldest_open_first_frame(),
                    });
                }
                let evicted = worker.evicted_full();
                let mut rest = worker.take_finished();
                rest.extend(worker.finish());
                (rest, evicted)
            }));
        }
        drop(done_tx);
        let mut shards: Vec<ShardState> = (0..n).map(|_| ShardState::default()).collect();
        let mut current: Vec<Batch> = (0..n).map(|_| Batch::default()).collect();
        let mut decode = DecodeCounters::default();
        let mut frames: u64 = 0;
        let mut next_frame: u64 = 1;
        let read_result: Result<(), EngineError> = (|| {
            loop {
                frames += 1;
                if frames % 65536 == 0 {
                    progress(source.position());
                }
                let Some(frame) = source.next_frame()? else {
                    break;
                };
                next_frame = frame.index + 1;
                if frames % CHECKPOINT_FRAMES == 0 && order.waiting() > MAX_WAITING {
                    // Rare: many flows wait behind a long-lived one. Let every
                    // worker catch up to this frame so the set written here is
                    // exactly what -j 1 writes at the same checkpoint.
                    for (shard, batch) in current.iter_mut().enumerate() {
                        if !batch.is_empty()
                            && !dispatch(std::mem::take(batch), shard, &mut shards, &senders)
                        {
                            return Err(EngineError::Worker { path: path.clone() });
                        }
                    }
                    while shards.iter().any(|s| !s.inflight.is_empty()) {
                        let Ok(p) = done_rx.recv() else { break };
                        take_progress(p, &mut shards, order);
                    }
                    let low = low_watermark(&shards, &current, frame.index);
                    order.release_below(low, on_flow);
                    order.checkpoint(on_flow);
                }
                let seg = match decode::decode(&frame) {
                    Ok(seg) => seg,
                    Err(e) => {
                        decode.count(e.label(), frame.index);
                        continue;
                    }
                };
                decode.segments += 1;
                if !opts.filter.matches(seg.src.port(), seg.dst.port()) {
                    continue;
                }
                decode.audited_segments += 1;
                let (key, _) = FlowKey::from_endpoints(seg.src, seg.dst);
                let shard = (key.shard_hash() % n as u64) as usize;
                let batch = &mut current[shard];
                if batch.segments.capacity() == 0 {
                    *batch = pool_rx.recv().unwrap_or_else(|_| Batch::with_capacity());
                }
                batch.push(&seg);
                if batch.is_full() {
                    if !dispatch(std::mem::take(batch), shard, &mut shards, &senders) {
                        return Err(EngineError::Worker { path: path.clone() });
                    }
                    absorb(&done_rx, &mut shards, order);
                    let low = low_watermark(&shards, &current, next_frame);
                    order.release_below(low, on_flow);
                }
            }
            Ok(())
        })();
        for (shard, batch) in current.into_iter().enumerate() {
            if !batch.is_empty() {
                dispatch(batch, shard, &mut shards, &senders);
            }
        }
        drop(senders);
        let mut evicted_full = 0;
        let mut rest = Vec::new();
        for h in handles {
            match h.join() {
                Ok((f, e)) => {
                    rest.extend(f);
                    evicted_full += e;
                }
                Err(_) => return Err(EngineError::Worker { path: path.clone() }),
            }
        }
        absorb(&done_rx, &mut shards, order);
        for f in rest {
            order.push(f);
        }
        read_result?;
        Ok(InputFacts {
            path: path.clone(),
            flows: Vec::new(),
            stats: source.into_stats(),
            decode,
            evicted_full,
            flows_reported: 0,
        })
    })
}

/// Hand shard `shard` a non-empty batch, remembering its first frame until
/// the worker acknowledges it. False when the worker is gone.
fn dispatch(
    batch: Batch,
    shard: usize,
    shards: &mut [ShardState],
    senders: &[Sender<Batch>],
) -> bool {
    if let Some(m) = batch.segments.first() {
        shards[shard].inflight.push_back(m.frame);
    }
    senders[shard].send(batch).is_ok()
}

/// Take every progress message waiting, without blocking.
fn absorb(rx: &Receiver<Progress>, shards: &mut [ShardState], order: &mut OrderedRelease) {
    while let Ok(p) = rx.try_recv() {
        take_progress(p, shards, order);
    }
}

fn take_progress(p: Progress, shards: &mut [ShardState], order: &mut OrderedRelease) {
    let s = &mut shards[p.shard];
    s.inflight.pop_front();
    s.oldest_open = p.oldest_open;
    for f in p.finished {
        order.push(f);
    }
}

/// No flow finishing from now on can have started before this frame.
fn low_watermark(shards: &[ShardState], current: &[Batch], next_frame: u64) -> u64 {
    let mut low = next_frame;
    for (s, partial) in shards.iter().zip(current) {
        if let Some(f) = s.oldest_open {
            low = low.min(f);
        }
        if let Some(&f) = s.inflight.front() {
            low = low.min(f);
        }
        if let Some(m) = partial.segments.first() {
            low = low.min(m.frame);
        }
    }
    low
}
