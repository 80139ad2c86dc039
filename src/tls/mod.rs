//! TLS stage: decodes the ordered byte stream of each direction of a flow
//! into [`TlsFacts`](model::TlsFacts).
//!
//! Owns: [`TlsFlow`] (per-flow state; `session/`: the record stream,
//! handshake reassembly, handshake state, application-data evidence),
//! certificate decoding, cipher-suite knowledge, and — when keys
//! are given ([`TlsFlow::with_keys`]) — decryption of the protected records
//! that change a verdict (`keyed.rs` wires [`decrypt`] into the walk: exact
//! empty-fragment counts, named encrypted alerts, encrypted renegotiation,
//! TLS 1.3 certificates, and `TlsFacts::decryption` saying how it went).
//! Imports only `capture` (Timestamp) and `decode` (Dir) types.
//!
//! Input contract (from the engine/reassembler):
//! - `on_data(dir, bytes, frame, ts)` is called once per TCP segment with the
//!   new in-order bytes of that direction (retransmitted bytes already
//!   removed); consecutive calls of one direction are contiguous unless
//!   `on_gap` was called in between.
//! - `on_gap(dir, len, frame)`: `len` bytes of `dir` were never seen.
//! - `finish()` consumes the state and returns the facts.

mod anomaly;
pub mod cert;
pub mod decrypt;
pub mod handshake;
pub mod ja4;
mod keyed;
pub mod model;
pub mod records;
mod session;
pub mod sniff;
pub mod sslv2;
pub mod suites;

pub use anomaly::Anomaly;
pub use session::MAX_TIMELINE_EVENTS;
pub use session::{MAX_ALERTS, MAX_ANOMALIES, MAX_EVIDENCE_FRAMES, MAX_HANDSHAKE_NAMES};

use std::sync::Arc;

use crate::capture::Timestamp;
use crate::decode::Dir;
use decrypt::Keys;
use model::TlsFacts;

/// Limits of the TLS stage (R2): each has a reason in its doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
///
/// ```
/// use tlsaudit::capture::Timestamp;
/// use tlsaudit::decode::Dir;
/// use tlsaudit::tls::{TlsFlow, TlsLimits};
///
/// let mut flow = TlsFlow::new(TlsLimits::default());
/// // A fatal handshake_failure alert in the clear from the server.
/// flow.on_data(Dir::BA, &[21, 3, 1, 0, 2, 2, 40], 7, Timestamp::default());
/// let facts = flow.finish();
/// assert!(facts.saw_tls);
/// assert_eq!(facts.alerts[0].description, Some(40));
/// ```
#[derive(Debug, Default)]
pub struct TlsFlow {
    session: session::Session,
}

impl TlsFlow {
    pub fn new(limits: TlsLimits) -> Self {
        TlsFlow {
            session: session::Session::new(limits),
        }
    }

    /// A flow that decrypts with `keys` (`--keylog`, `--rsa-key`) when given:
    /// exact empty-fragment counts, named encrypted alerts, TLS 1.3
    /// certificates, and `TlsFacts::decryption` saying how it went.
    pub fn with_keys(limits: TlsLimits, keys: Option<Arc<Keys>>) -> Self {
        TlsFlow {
            session: session::Session::with_keys(limits, keys),
        }
    }

    /// New in-order bytes of one direction from one TCP segment.
    pub fn on_data(&mut self, dir: Dir, data: &[u8], frame: u64, ts: Timestamp) {
        self.session.on_data(dir, data, frame, ts);
    }

    /// `len` bytes of `dir` are missing before the next `on_data` of that direction.
    pub fn on_gap(&mut self, dir: Dir, len: u64, frame: u64) {
        self.session.on_gap(dir, len, frame);
    }

    /// False once the TLS stage no longer needs payload bytes for `dir`
    /// beyond record headers (after that side's Finished; TLS 1.3: after its
    /// first protected record): the reassembler may then stop buffering
    /// out-of-order data for it and report gaps instead.
    pub fn wants_payload(&self, dir: Dir) -> bool {
        self.session.wants_payload(dir)
    }

    /// The handshake completed and application data flowed both ways (or a
    /// fatal alert in the clear ended it): the verdict will not change any more (live mode).
    pub fn is_settled(&self) -> bool {
        self.session.is_settled()
    }

    pub fn facts(&self) -> &TlsFacts {
        self.session.facts()
    }

    pub fn finish(self) -> TlsFacts {
        self.session.finish()
    }

    /// [`TlsFlow::finish`] for a flow held where it cannot be moved out
    /// (the flow table's boxed consumer): the facts are taken, and the
    /// flow is spent.
    pub fn take_facts(&mut self) -> TlsFacts {
        self.session.take_facts()
    }
}

#[cfg(test)]
mod keyed_tests;
#[cfg(test)]
mod tests;
