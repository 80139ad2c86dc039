//! Batches that carry one shard's share of the audited traffic from the
//! reader thread to a worker, without copying payloads.
//!
//! The reader reads into large buffers; once a buffer is full it becomes a
//! shared, immutable [`Chunk`]. A [`Batch`] is that chunk plus the decoded
//! headers of one shard's segments in it, each payload given as a range of
//! the chunk. When the last batch of a chunk is done, the chunk's buffer
//! goes back to the reader's pool, so memory is a fixed number of buffers
//! and the steady state allocates nothing per packet.

use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::capture::Timestamp;
use crate::decode::{Endpoint, Segment, TcpFlags};

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

/// Segment headers with the payload as a range of the chunk.
#[derive(Debug, Clone, Copy)]
pub struct SegmentMeta {
    pub frame: u64,
    pub ts: Timestamp,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub start: u32,
    pub len: u32,
    pub missing: u32,
}

impl SegmentMeta {
    /// Describe `seg`, whose payload lies in `buffer` (the reader's current
    /// buffer, which becomes the chunk). A payload outside it (it cannot
    /// happen: decode only borrows the frame) is treated as empty.
    pub fn locate(seg: &Segment<'_>, buffer: &[u8]) -> SegmentMeta {
        let at = (seg.payload.as_ptr() as usize).wrapping_sub(buffer.as_ptr() as usize);
        let inside = !seg.payload.is_empty()
            && at <= buffer.len()
            && seg.payload.len() <= buffer.len() - at
            && at <= u32::MAX as usize;
        debug_assert!(inside || seg.payload.is_empty());
        let (start, len) = if inside {
            (at as u32, seg.payload.len() as u32)
        } else {
            (0, 0)
        };
        SegmentMeta {
            frame: seg.frame,
            ts: seg.ts,
            src: seg.src,
            dst: seg.dst,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            start,
            len,
            missing: seg.missing,
        }
    }
}

#[derive(Default)]
pub struct Batch {
    pub chunk: Option<Arc<Chunk>>,
    pub segments: Vec<SegmentMeta>,
}

impl Batch {
    /// The segments again, borrowing the chunk.
    pub fn iter(&self) -> impl Iterator<Item = Segment<'_>> {
        let bytes: &[u8] = self.chunk.as_deref().map_or(&[], |c| &c.bytes);
        self.segments.iter().map(move |m| Segment {
            frame: m.frame,
            ts: m.ts,
            src: m.src,
            dst: m.dst,
            seq: m.seq,
            ack: m.ack,
            flags: m.flags,
            payload: bytes
                .get(m.start as usize..m.start as usize + m.len as usize)
                .unwrap_or(&[]),
            missing: m.missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;
    use std::net::{IpAddr, Ipv4Addr};

    fn segment(payload: &[u8]) -> Segment<'_> {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Segment {
            frame: 7,
            ts: Timestamp::new(1, 2),
            src: Endpoint::new(ip, 5062),
            dst: Endpoint::new(ip, 40000),
            seq: 1,
            ack: 2,
            flags: TcpFlags::default(),
            payload,
            missing: 0,
        }
    }

    #[test]
    fn a_batch_gives_back_the_payload_located_in_its_chunk() {
        let buffer: Vec<u8> = (0..=255).collect();
        let meta = SegmentMeta::locate(&segment(&buffer[100..140]), &buffer);
        assert_eq!((meta.start, meta.len), (100, 40));
        let (home, pool) = unbounded();
        let batch = Batch {
            chunk: Some(Chunk::new(buffer.clone(), home)),
            segments: vec![meta],
        };
        let seg = batch.iter().next().unwrap();
        assert_eq!(seg.payload, &buffer[100..140]);
        assert_eq!(seg.frame, 7);
        drop(batch);
        assert_eq!(pool.try_recv().unwrap(), buffer, "the buffer went home");
    }

    #[test]
    fn a_payload_outside_the_buffer_is_empty_not_a_wild_range() {
        let buffer = vec![0u8; 64];
        let other = vec![1u8; 16];
        let meta = SegmentMeta::locate(&segment(&[]), &buffer);
        assert_eq!(meta.len, 0);
        if cfg!(not(debug_assertions)) {
            let meta = SegmentMeta::locate(&segment(&other), &buffer);
            assert_eq!(meta.len, 0);
        }
    }
}
