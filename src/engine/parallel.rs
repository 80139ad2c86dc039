//! Sharded parallel engine: the calling thread reads and decodes frames and
//! copies audited segments into per-shard [`Batch`]es; `threads` workers
//! each own the flows whose symmetric key hash falls in their shard, so both
//! directions of a flow meet on one worker and reassembly needs no locks.
//! Borrowed capture data never crosses a thread (R7): only owned batches do,
//! and they are recycled through a pool.

use crossbeam_channel::{bounded, Receiver, Sender};

use super::batch::Batch;
use super::{DecodeCounters, EngineError, EngineOptions, InputFacts, Worker};
use crate::capture::file::FileSource;
use crate::decode::{self, FlowKey};

/// Batches in flight per worker: enough to keep a worker busy while the
/// reader fills the next one, bounded so memory stays flat.
const QUEUE_DEPTH: usize = 4;

pub fn run(
    mut source: FileSource,
    input: usize,
    opts: &EngineOptions,
    progress: &dyn Fn(u64),
) -> Result<InputFacts, EngineError> {
    let n = opts.threads.max(1);
    let (pool_tx, pool_rx): (Sender<Batch>, Receiver<Batch>) = bounded(n * (QUEUE_DEPTH + 2));
    for _ in 0..n * (QUEUE_DEPTH + 1) {
        let _ = pool_tx.send(Batch::with_capacity());
    }
    let path = source.path().to_path_buf();
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE_DEPTH);
            senders.push(tx);
            let pool_tx = pool_tx.clone();
            let opts = opts.clone();
            handles.push(scope.spawn(move || {
                let mut worker = Worker::new(input, &opts);
                for mut batch in rx {
                    for seg in batch.iter() {
                        worker.segment(&seg);
                    }
                    batch.clear();
                    let _ = pool_tx.send(batch);
                }
                let evicted = worker.evicted_full();
                (worker.finish(), evicted)
            }));
        }
        let mut current: Vec<Batch> = (0..n).map(|_| Batch::default()).collect();
        let mut decode = DecodeCounters::default();
        let mut frames: u64 = 0;
        let read_result: Result<(), EngineError> = (|| {
            loop {
                frames += 1;
                if frames % 65536 == 0 {
                    progress(source.position());
                }
                let Some(frame) = source.next_frame()? else {
                    break;
                };
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
                    let full = std::mem::take(batch);
                    if senders[shard].send(full).is_err() {
                        return Err(EngineError::Worker { path: path.clone() });
                    }
                }
            }
            Ok(())
        })();
        for (shard, batch) in current.into_iter().enumerate() {
            if !batch.is_empty() {
                let _ = senders[shard].send(batch);
            }
        }
        drop(senders);
        let mut flows = Vec::new();
        let mut evicted_full = 0;
        for h in handles {
            match h.join() {
                Ok((f, e)) => {
                    flows.extend(f);
                    evicted_full += e;
                }
                Err(_) => return Err(EngineError::Worker { path: path.clone() }),
            }
        }
        read_result?;
        flows.sort_by_key(|f| (f.first_frame, f.key));
        Ok(InputFacts {
            path: path.clone(),
            flows,
            stats: source.into_stats(),
            decode,
            evicted_full,
        })
    })
}
