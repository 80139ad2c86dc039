//! Decode stage: one [`Frame`] → at most one TCP [`Segment`] view.
//!
//! Owns: [`Segment`], [`Endpoint`], [`FlowKey`], [`Dir`], [`DecodeError`],
//! [`TcpFlags`]. Imports only `capture` types.
//!
//! Contract: `decode` never allocates and never copies the payload; the
//! returned `Segment` borrows the frame's bytes. Every malformed or
//! unsupported packet is an `Err(DecodeError)` that the engine counts; it is
//! never a panic.

pub mod ip_tcp;
pub mod link;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::capture::{LinkType, Timestamp};

pub use ip_tcp::decode;

/// One side of a TCP connection.
pub type Endpoint = SocketAddr;

/// Direction of a segment relative to its flow's canonical key:
/// `Dir::AB` is from `FlowKey::a` to `FlowKey::b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    AB = 0,
    BA = 1,
}

impl Dir {
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn reverse(self) -> Dir {
        match self {
            Dir::AB => Dir::BA,
            Dir::BA => Dir::AB,
        }
    }
    pub const BOTH: [Dir; 2] = [Dir::AB, Dir::BA];
}

/// Canonical, direction-free 4-tuple: `a` is the smaller endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub a: Endpoint,
    pub b: Endpoint,
}

impl FlowKey {
    /// Canonical key of a segment from `src` to `dst`, and the segment's direction.
    pub fn from_endpoints(src: Endpoint, dst: Endpoint) -> (FlowKey, Dir) {
        if (src.ip(), src.port()) <= (dst.ip(), dst.port()) {
            (FlowKey { a: src, b: dst }, Dir::AB)
        } else {
            (FlowKey { a: dst, b: src }, Dir::BA)
        }
    }

    /// The endpoint that sends in direction `dir`.
    pub fn sender(&self, dir: Dir) -> Endpoint {
        match dir {
            Dir::AB => self.a,
            Dir::BA => self.b,
        }
    }

    /// Symmetric hash (same for both directions) used to shard flows.
    pub fn shard_hash(&self) -> u64 {
        // FNV-1a over the canonical key: cheap, deterministic across runs.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for ep in [self.a, self.b] {
            match ep.ip() {
                IpAddr::V4(v4) => eat(&v4.octets()),
                IpAddr::V6(v6) => eat(&v6.octets()),
            }
            eat(&ep.port().to_be_bytes());
        }
        h
    }
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.a, self.b)
    }
}

/// TCP flags of a segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

/// A decoded TCP segment, borrowing its payload from the frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub frame: u64,
    pub ts: Timestamp,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// TCP payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces beyond what the capture holds
    /// (snaplen cut). The reassembler treats them as a gap.
    pub missing: u32,
}

/// Why a frame yielded no TCP segment. Counted by the engine, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(LinkType),
    #[error("{layer} header truncated: need {need} bytes, have {got} (offset {offset})")]
    Truncated {
        layer: &'static str,
        need: usize,
        got: usize,
        offset: usize,
    },
    #[error("{layer}: malformed header at offset {offset}")]
    Malformed { layer: &'static str, offset: usize },
    /// Not IP, or IP but not TCP (UDP, ICMP, ARP, …): not an error, just not ours.
    #[error("not a TCP packet")]
    NotTcp,
    /// A non-first IPv4/IPv6 fragment, or a first fragment whose TCP payload is incomplete.
    #[error("IP fragment (not reassembled)")]
    Fragment,
    #[error("tunnel nesting deeper than {0}")]
    TooDeep(usize),
}

impl DecodeError {
    /// Short stable label for counters in the report.
    pub fn label(&self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinkType(_) => "unsupported link type",
            DecodeError::Truncated { .. } => "truncated header",
            DecodeError::Malformed { .. } => "malformed header",
            DecodeError::NotTcp => "not TCP",
            DecodeError::Fragment => "IP fragment",
            DecodeError::TooDeep(_) => "tunnel too deep",
        }
    }
}
