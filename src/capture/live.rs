//! Live capture from a network interface (Linux AF_PACKET, TPACKET_V3 ring),
//! yielding the same [`Frame`]s as files. (Owned by the live work: issue 7.)

use super::{CaptureError, Frame, InputStats};

/// What to capture.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub iface: String,
    /// TCP ports for the kernel BPF filter; empty with `any_port` = all TCP.
    pub ports: Vec<u16>,
    pub any_port: bool,
    pub promiscuous: bool,
    /// Ring size in bytes.
    pub ring_bytes: usize,
    /// Block retire timeout: the latency bound.
    pub block_timeout_ms: u32,
}

/// An open live capture.
pub struct LiveCapture {
    stats: InputStats,
}

impl LiveCapture {
    pub fn open(opts: &LiveOptions) -> Result<LiveCapture, CaptureError> {
        Err(CaptureError::Live {
            iface: opts.iface.clone(),
            reason: "live capture is not implemented yet".into(),
        })
    }

    /// Next frame, or `Ok(None)` when `timeout_ms` passed without one (so the
    /// caller can run timers and check for Ctrl-C).
    pub fn next_frame(&mut self, _timeout_ms: u32) -> Result<Option<Frame<'_>>, CaptureError> {
        Ok(None)
    }

    /// Packets seen and kernel drops so far (`dropped` from PACKET_STATISTICS).
    pub fn stats(&mut self) -> &InputStats {
        &self.stats
    }
}
