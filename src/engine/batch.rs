//! Batches that carry one shard's share of the audited traffic from the
//! reader thread to a worker, without copying payloads.
//!
//! The reader reads into large buffers; once a buffer is full it becomes a
//! shared, immutable [`Chunk`]. A [`Batch`] is that chunk plus where one
//! shard's frames lie in it. When the last batch of a chunk is done, the chunk's buffer
//! goes back to the reader's pool, so memory is a fixed number of buffers
//! and the steady state allocates nothing per packet.

use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::capture::{Frame, LinkType, Timestamp};
use crate::decode::QuickTransport;

/// One full read buffer, shared by the batches of every shard that has
/// segments in it. Dropping the last reference sends the buffer home.
pub struct Chunk {
    bytes: Vec<u8>,
    home: Sender<Vec<u8>>,
}

impl Chunk {
    pub fn new(bytes: Vec<u8>, home: Sender<Vec<u8>>) -> Arc<Chunk> {
        Arc::new(Chunk { bytes, home })
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The pool is gone only when reading is over: then just free it.
        let _ = self.home.send(std::mem::take(&mut self.bytes));
    }
}

/// A frame of an audited flow, its bytes given as a range of the chunk.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef {
    pub index: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    pub caplen: u32,
    pub origlen: u32,
    pub start: u32,
    pub len: u32,
    /// The reader's header look at the frame, when it found plain TCP: the
    /// worker reads the segment from these offsets instead of looking again.
    pub look: Option<QuickTransport>,
}

impl FrameRef {
    /// Describe `frame`, whose bytes lie in `buffer` (the reader's current
    /// buffer, which becomes the chunk). Bytes outside it (it cannot
    /// happen: the source hands out frames in its buffer) are treated as
    /// none.
    pub fn locate(frame: &Frame<'_>, buffer: &[u8], look: Option<QuickTransport>) -> FrameRef {
        let at = (frame.data.as_ptr() as usize).wrapping_sub(buffer.as_ptr() as usize);
        let inside =
            at <= buffer.len() && frame.data.len() <= buffer.len() - at && at <= u32::MAX as usize;
        debug_assert!(inside || frame.data.is_empty());
        let (start, len) = if inside {
            (at as u32, frame.data.len() as u32)
        } else {
            (0, 0)
        };
        FrameRef {
            index: frame.index,
            ts: frame.ts,
            link: frame.link,
            caplen: frame.caplen,
            origlen: frame.origlen,
            start,
            len,
            look,
        }
    }
}

#[derive(Default)]
pub struct Batch {
    pub chunk: Option<Arc<Chunk>>,
    pub frames: Vec<FrameRef>,
}

impl Batch {
    /// The frames again, borrowing the chunk, each with the reader's look.
    pub fn iter(&self) -> impl Iterator<Item = (Frame<'_>, Option<QuickTransport>)> {
        let bytes: &[u8] = self.chunk.as_deref().map_or(&[], |c| &c.bytes);
        self.frames.iter().map(move |r| {
            let frame = Frame {
                index: r.index,
                ts: r.ts,
                link: r.link,
                caplen: r.caplen,
                origlen: r.origlen,
                data: bytes
                    .get(r.start as usize..r.start as usize + r.len as usize)
                    .unwrap_or(&[]),
            };
            (frame, r.look)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;

    fn frame(data: &[u8]) -> Frame<'_> {
        Frame {
            index: 7,
            ts: Timestamp::new(1, 2),
            link: LinkType::ETHERNET,
            caplen: data.len() as u32,
            origlen: 1500,
            data,
        }
    }

    #[test]
    fn a_batch_gives_back_the_frame_located_in_its_chunk() {
        let buffer: Vec<u8> = (0..=255).collect();
        let r = FrameRef::locate(&frame(&buffer[100..140]), &buffer, None);
        assert_eq!((r.start, r.len), (100, 40));
        let (home, pool) = unbounded();
        let batch = Batch {
            chunk: Some(Chunk::new(buffer.clone(), home)),
            frames: vec![r],
        };
        let (f, _) = batch.iter().next().unwrap();
        assert_eq!(f.data, &buffer[100..140]);
        assert_eq!((f.index, f.origlen, f.link), (7, 1500, LinkType::ETHERNET));
        drop(batch);
        assert_eq!(pool.try_recv().unwrap(), buffer, "the buffer went home");
    }

    #[test]
    fn a_frame_outside_the_buffer_is_empty_not_a_wild_range() {
        let buffer = vec![0u8; 64];
        assert_eq!(FrameRef::locate(&frame(&[]), &buffer, None).len, 0);
        if cfg!(not(debug_assertions)) {
            let other = vec![1u8; 16];
            assert_eq!(FrameRef::locate(&frame(&other), &buffer, None).len, 0);
        }
    }
}
