//! TLS stage: decodes the ordered byte stream of each direction of a flow
//! into [`TlsFacts`](model::TlsFacts).
//!
//! Owns: [`TlsFlow`] (per-flow state), the record walker, handshake
//! reassembly, certificate decoding, cipher-suite knowledge. Imports only
//! `capture` (Timestamp) and `decode` (Dir) types.
//!
//! Input contract (from the engine/reassembler):
//! - `on_data(dir, bytes, frame, ts)` is called once per TCP segment with the
//!   new in-order bytes of that direction (retransmitted bytes already
//!   removed); consecutive calls of one direction are contiguous unless
//!   `on_gap` was called in between.
//! - `on_gap(dir, len, frame)`: `len` bytes of `dir` were never seen.
//! - `finish()` consumes the state and returns the facts.

pub mod decrypt;
pub mod model;

use crate::capture::Timestamp;
use crate::decode::Dir;
use model::TlsFacts;

/// Limits of the TLS stage (R2): each has a reason in its doc.
#[derive(Debug, Clone, Copy)]
pub struct TlsLimits {
    /// Largest handshake message buffered (bytes). Certificate chains in the
    /// wild stay under 64 KiB; 2^24 is the protocol maximum, too much to hold per flow.
    pub max_handshake_len: usize,
    /// Certificates decoded per chain.
    pub max_certs: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits {
            max_handshake_len: 256 * 1024,
            max_certs: 16,
        }
    }
}

/// Per-flow TLS decoder state.
#[derive(Debug, Default)]
pub struct TlsFlow {
    facts: TlsFacts,
}

impl TlsFlow {
    pub fn new(_limits: TlsLimits) -> Self {
        TlsFlow::default()
    }

    /// New in-order bytes of one direction from one TCP segment.
    pub fn on_data(&mut self, _dir: Dir, _data: &[u8], _frame: u64, _ts: Timestamp) {}

    /// `len` bytes of `dir` are missing before the next `on_data` of that direction.
    pub fn on_gap(&mut self, _dir: Dir, _len: u64, _frame: u64) {}

    /// False once the TLS stage no longer needs payload bytes for `dir`
    /// beyond record headers (after the handshake): the reassembler may then
    /// stop buffering out-of-order data for it and report gaps instead.
    pub fn wants_payload(&self, _dir: Dir) -> bool {
        true
    }

    /// The handshake completed and application data flowed both ways (or an
    /// alert ended it): the verdict will not change any more (live mode).
    pub fn is_settled(&self) -> bool {
        false
    }

    pub fn facts(&self) -> &TlsFacts {
        &self.facts
    }

    pub fn finish(self) -> TlsFacts {
        self.facts
    }
}
