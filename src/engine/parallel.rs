//! Sharded parallel engine. The calling thread only reads: it fills large
//! buffers with read(2), cuts them into frames, finds each frame's flow
//! (from fixed offsets in the common plain frame, by a full decode only
//! when unsure), keeps the decode counts, and notes where each audited frame
//! lies in the buffer (with its header look) for the worker that owns its
//! flow. When a buffer is full it becomes a shared [`Chunk`] and every
//! shard with frames in it gets a [`Batch`]: nothing is copied; each worker
//! reads its own frames. `threads` workers each own the flows whose symmetric key hash falls in their shard,
//! so both directions of a flow meet on one worker and reassembly needs no
//! locks. Borrowed capture data never crosses a thread (R7): a batch owns a
//! reference to its chunk, whose buffer goes back to the reader's pool when
//! the last batch is done, so memory is a fixed number of buffers.
//!
//! Ordered release: after each batch a worker reports the flows it finished
//! and the first frame of its oldest open flow. A flow that will finish
//! later on worker `k` started at or after the lowest of: that oldest open
//! flow, the first frame of any batch sent to `k` and not yet acknowledged,
//! the first frame noted for `k` and not yet sent, and the next frame to
//! read. Flows that started before the minimum over all workers are released
//! in first-frame order, so the report is the same for any thread count and
//! memory does not grow with the file.

use std::collections::VecDeque;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::batch::{Batch, Chunk, FrameRef};
use super::{
    DecodeCounters, EngineError, EngineOptions, OrderedRelease, ReadTotals, Worker,
    CHECKPOINT_FRAMES,
};
use crate::capture::file::{FileSource, READ_BUFFER_BYTES};
use crate::decode;
use crate::facts::FlowFacts;

/// Batches in flight per worker: enough to keep a worker busy while the
/// reader fills the next buffer, bounded so memory stays flat.
const QUEUE_DEPTH: usize = 4;
/// Read buffers in the pool besides the one being filled. Each is
/// [`READ_BUFFER_BYTES`]; with the queues above this is what bounds the
/// memory the reader can run ahead by. Four keep two workers busy as well as
/// six did (paired runs on the tap capture: 0.92× wall) for 2 MiB less.
const POOL_BUFFERS: usize = 4;

/// What a worker says after each batch.
struct Progress {
    shard: usize,
    finished: Vec<Box<FlowFacts>>,
    oldest_open: Option<u64>,
    /// The batch's frame list, emptied, for reuse.
    spent: Vec<FrameRef>,
}

/// Per-shard bookkeeping on the reader side.
#[derive(Default)]
struct ShardState {
    /// First frames of batches sent and not yet acknowledged, oldest first.
    inflight: VecDeque<u64>,
    oldest_open: Option<u64>,
    /// Frames noted for this shard in the current buffer, not yet sent.
    noted: Vec<FrameRef>,
}

/// Note a worker's answer; gives back its emptied frame list.
fn take_progress(
    shards: &mut [ShardState],
    p: Progress,
    order: &mut OrderedRelease,
) -> Vec<FrameRef> {
    let s = &mut shards[p.shard];
    s.inflight.pop_front();
    s.oldest_open = p.oldest_open;
    for f in p.finished {
        order.push(f);
    }
    p.spent
}

/// The reader's side of the workers: their queues, their answers, and what
/// is on its way to them.
struct Dispatcher {
    senders: Vec<Sender<Batch>>,
    done_rx: Receiver<Progress>,
    shards: Vec<ShardState>,
    /// Emptied frame lists back from the workers.
    spare_lists: Vec<Vec<FrameRef>>,
    home: Sender<Vec<u8>>,
}

impl Dispatcher {
    /// The buffer the noted frames lie in is full (or reading is over):
    /// share it, and send each shard its frames. False when a worker is
    /// gone.
    fn send_chunk(&mut self, bytes: Vec<u8>) -> bool {
        if self.shards.iter().all(|s| s.noted.is_empty()) {
            let _ = self.home.send(bytes);
            return true;
        }
        let chunk = Chunk::new(bytes, self.home.clone());
        for (shard, state) in self.shards.iter_mut().enumerate() {
            let Some(first) = state.noted.first() else {
                continue;
            };
            state.inflight.push_back(first.index);
            let fresh = self.spare_lists.pop().unwrap_or_default();
            let batch = Batch {
                chunk: Some(chunk.clone()),
                frames: std::mem::replace(&mut state.noted, fresh),
            };
            if self.senders[shard].send(batch).is_err() {
                return false;
            }
        }
        true
    }

    /// Send what the source set aside: the first retired buffer holds the
    /// noted frames, any later one none.
    fn send_retired(&mut self, source: &mut FileSource) -> bool {
        let mut ok = true;
        for bytes in source.retired() {
            ok &= self.send_chunk(bytes);
        }
        ok
    }

    /// Take every progress message waiting, without blocking.
    fn absorb(&mut self, order: &mut OrderedRelease) {
        while let Ok(p) = self.done_rx.try_recv() {
            self.take_progress(p, order);
        }
    }

    /// Wait until every batch sent has been acknowledged.
    fn barrier(&mut self, order: &mut OrderedRelease) {
        while self.shards.iter().any(|s| !s.inflight.is_empty()) {
            let Ok(p) = self.done_rx.recv() else { break };
            self.take_progress(p, order);
        }
    }

    fn take_progress(&mut self, p: Progress, order: &mut OrderedRelease) {
        self.spare_lists
            .push(take_progress(&mut self.shards, p, order));
    }

    /// No flow finishing from now on can have started before this frame.
    fn low_watermark(&self, next_frame: u64) -> u64 {
        let mut low = next_frame;
        for s in &self.shards {
            for f in [s.oldest_open, s.inflight.front().copied()]
                .into_iter()
                .chain(std::iter::once(s.noted.first().map(|r| r.index)))
                .flatten()
            {
                low = low.min(f);
            }
        }
        low
    }
}

/// `-j N`: [`super::stream`]'s reading with `opts.threads` workers.
pub(super) fn run(
    source: FileSource,
    input: usize,
    opts: &EngineOptions,
    progress: &dyn Fn(u64),
    order: &mut OrderedRelease,
    on_flow: &mut dyn FnMut(Box<FlowFacts>),
) -> Result<ReadTotals, EngineError> {
    let n = opts.threads.max(1);
    let (home, pool) = unbounded::<Vec<u8>>();
    for _ in 0..POOL_BUFFERS {
        let _ = home.send(vec![0; READ_BUFFER_BYTES]);
    }
    // Blocks while every buffer is in use: the reader waits for the workers.
    let mut source = source.chunked(
        READ_BUFFER_BYTES,
        Box::new(move || pool.recv().unwrap_or_default()),
    );
    // Unbounded: the reader drains it at every chunk, and a bounded one
    // could deadlock against the bounded batch queues.
    let (done_tx, done_rx) = unbounded::<Progress>();
    let path = source.path().to_path_buf();
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for shard in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE_DEPTH);
            senders.push(tx);
            let done_tx = done_tx.clone();
            let opts = opts.clone();
            handles.push(scope.spawn(move || {
                let mut worker = Worker::new(input, &opts);
                for batch in rx {
                    for (frame, look) in batch.iter() {
                        worker.audited_frame(&frame, look);
                    }
                    let Batch { chunk, mut frames } = batch;
                    // Let the buffer go home before saying so.
                    drop(chunk);
                    frames.clear();
                    let _ = done_tx.send(Progress {
                        shard,
                        finished: worker.take_finished(),
                        oldest_open: worker.oldest_open_first_frame(),
                        spent: frames,
                    });
                }
                let evicted = worker.evicted_full();
                let mut rest = worker.take_finished();
                rest.extend(worker.finish());
                (rest, evicted)
            }));
        }
        drop(done_tx);
        let mut to_workers = Dispatcher {
            senders,
            done_rx,
            shards: (0..n).map(|_| ShardState::default()).collect(),
            spare_lists: Vec::new(),
            home,
        };
        let mut decode = DecodeCounters::default();
        let mut frames: u64 = 0;
        let read_result: Result<(), EngineError> = (|| {
            let gone = || EngineError::Worker { path: path.clone() };
            loop {
                frames += 1;
                if frames % 65536 == 0 {
                    progress(source.position());
                }
                if frames % CHECKPOINT_FRAMES == 0 {
                    // Let every worker catch up to here, so that whether
                    // more than MAX_WAITING flows wait behind a long-lived
                    // one, and which, is exactly what -j 1 sees at the same
                    // checkpoint (a few times per GB: a short stall).
                    source.retire_current();
                    if !to_workers.send_retired(&mut source) {
                        return Err(gone());
                    }
                    to_workers.barrier(order);
                    let low = to_workers.low_watermark(source.next_index());
                    order.release_below(low, on_flow);
                    order.checkpoint(on_flow);
                }
                let Some((frame, buffer)) = source.next_frame_in_buffer()? else {
                    break;
                };
                // Only the flow is needed here: for the common plain frame,
                // its shard from the addresses and ports at the look's
                // offsets (the worker then reads the segment from them);
                // anything else is decoded. The counts are kept here, once.
                let look = decode::quick_transport(&frame);
                let noted = if super::worker::early_drop(look, &frame, &opts.filter, &mut decode) {
                    None
                } else if let Some(shard_hash) =
                    look.and_then(|l| decode::quick_shard_hash(&frame, &l))
                {
                    // A plain TCP look not on an audited port was dropped
                    // above.
                    decode.segments += 1;
                    decode.audited_segments += 1;
                    let shard = (shard_hash % n as u64) as usize;
                    Some((shard, FrameRef::locate(&frame, buffer, look)))
                } else {
                    match decode::decode(&frame) {
                        Ok(seg) => {
                            if seg.ip_length_beyond_frame {
                                decode
                                    .count(decode::DecodeCounter::IpLengthBeyondFrame, frame.index);
                            }
                            decode.segments += 1;
                            if opts.filter.matches(seg.src.port(), seg.dst.port()) {
                                decode.audited_segments += 1;
                                let shard =
                                    (decode::shard_hash(seg.src, seg.dst) % n as u64) as usize;
                                Some((shard, FrameRef::locate(&frame, buffer, None)))
                            } else {
                                None
                            }
                        }
                        Err(e) => {
                            decode.error(&e, frame.index);
                            None
                        }
                    }
                };
                let next_frame = frame.index + 1;
                // Reading this frame may have filled a buffer: its frames
                // go out before this one is noted (it lies in the new one).
                let sent = source.has_retired();
                if sent && !to_workers.send_retired(&mut source) {
                    return Err(gone());
                }
                if let Some((shard, meta)) = noted {
                    to_workers.shards[shard].noted.push(meta);
                }
                if sent {
                    if opts.stopped() {
                        break;
                    }
                    to_workers.absorb(order);
                    let low = to_workers.low_watermark(next_frame);
                    order.release_below(low, on_flow);
                }
            }
            source.retire_current();
            if !to_workers.send_retired(&mut source) {
                return Err(gone());
            }
            Ok(())
        })();
        let Dispatcher {
            senders,
            done_rx,
            mut shards,
            ..
        } = to_workers;
        // Closing the queues ends the workers.
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
        while let Ok(p) = done_rx.try_recv() {
            take_progress(&mut shards, p, order);
        }
        for f in rest {
            order.push(f);
        }
        read_result?;
        Ok(ReadTotals {
            stats: source.into_stats(),
            decode,
            evicted_full,
        })
    })
}
