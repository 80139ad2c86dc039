//! Owned, pooled batches of segments that carry one shard's share of the
//! audited traffic from the reader thread to a worker.
//!
//! A `Batch` is one byte arena plus a segment index; it is cleared and sent
//! back for reuse, so the steady state allocates nothing per packet.

use crate::capture::Timestamp;
use crate::decode::{Endpoint, Segment, TcpFlags};

/// Payload bytes per batch before it is sent: large enough to amortise the
/// channel hand-off, small enough to keep workers busy early.
pub const BATCH_BYTES: usize = 256 * 1024;
/// Segments per batch before it is sent (header-only segments are small).
pub const BATCH_SEGMENTS: usize = 2048;

/// Segment metadata with its payload as a range of the batch arena.
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

#[derive(Debug, Default)]
pub struct Batch {
    pub arena: Vec<u8>,
    pub segments: Vec<SegmentMeta>,
}

impl Batch {
    pub fn with_capacity() -> Batch {
        Batch {
            arena: Vec::with_capacity(BATCH_BYTES + 65536),
            segments: Vec::with_capacity(BATCH_SEGMENTS),
        }
    }

    pub fn clear(&mut self) {
        self.arena.clear();
        self.segments.clear();
    }

    pub fn is_full(&self) -> bool {
        self.arena.len() >= BATCH_BYTES || self.segments.len() >= BATCH_SEGMENTS
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Copy a segment in (the one copy between reader and worker).
    pub fn push(&mut self, seg: &Segment<'_>) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(seg.payload);
        self.segments.push(SegmentMeta {
            frame: seg.frame,
            ts: seg.ts,
            src: seg.src,
            dst: seg.dst,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            start,
            len: seg.payload.len() as u32,
            missing: seg.missing,
        });
    }

    /// The segments again, borrowing the arena.
    pub fn iter(&self) -> impl Iterator<Item = Segment<'_>> {
        self.segments.iter().map(move |m| Segment {
            frame: m.frame,
            ts: m.ts,
            src: m.src,
            dst: m.dst,
            seq: m.seq,
            ack: m.ack,
            flags: m.flags,
            payload: self
                .arena
                .get(m.start as usize..(m.start + m.len) as usize)
                .unwrap_or(&[]),
            missing: m.missing,
        })
    }
}
