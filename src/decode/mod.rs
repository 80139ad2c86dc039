//! Decode stage: one [`Frame`] → at most one TCP [`Segment`] view.
//!
//! Owns: [`Segment`], [`Endpoint`], [`FlowKey`], [`Dir`], [`DecodeError`],
//! [`DecodeCounter`], [`TcpFlags`]. Imports only `capture` types.
//!
//! Contract: `decode` never allocates and never copies the payload; the
//! returned `Segment` borrows the frame's bytes. Every malformed or
//! unsupported packet is an `Err(DecodeError)` that the engine counts; it is
//! never a panic.

pub mod big_endian;
pub mod ip_tcp;
pub mod link;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::capture::{LinkType, Timestamp};

pub use ip_tcp::{decode, quick_segment, quick_shard_hash, quick_transport, QuickTransport};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    pub a: Endpoint,
    pub b: Endpoint,
}

/// One word per endpoint, not `SocketAddr`'s field-by-field hash (variant,
/// length prefix, address bytes, port: eight words a key): the flow table
/// hashes a key for every segment and every recency check. Keys that are
/// equal give equal words (`Eq` compares these fields and more), so the
/// hash agrees with `Eq`.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(endpoint_word(self.a));
        state.write_u64(endpoint_word(self.b));
    }
}

/// An endpoint's address and port in one word: exact for IPv4, the
/// address folded for IPv6.
#[inline]
fn endpoint_word(ep: Endpoint) -> u64 {
    (address_word(ep.ip()) << 16) ^ u64::from(ep.port())
}

/// An address in one word: exact for IPv4, folded for IPv6.
#[inline]
fn address_word(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            (bits as u64) ^ ((bits >> 64) as u64).rotate_left(17)
        }
    }
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
}

/// Symmetric hash of a segment's endpoints (the same for both directions,
/// so both land on one shard), deterministic across runs. Computed for
/// every audited packet on the reading thread (for a plain frame by
/// [`quick_shard_hash`], from its header bytes), so it avoids building the
/// canonical [`FlowKey`]: each endpoint is mixed on its own and the two are
/// added, which does not depend on their order.
pub fn shard_hash(src: Endpoint, dst: Endpoint) -> u64 {
    mix_endpoint(address_word(src.ip()), src.port())
        .wrapping_add(mix_endpoint(address_word(dst.ip()), dst.port()))
}

/// One endpoint's share of [`shard_hash`].
fn mix_endpoint(address: u64, port: u16) -> u64 {
    // A multiply-xorshift finaliser (splitmix64's): every input bit moves
    // the low bits, which pick the shard.
    let mut x = address ^ (u64::from(port) << 48) ^ u64::from(port);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
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
    /// The IP header announces more bytes than the frame had even on the
    /// wire (a bad length field, not a snaplen cut): the captured bytes are
    /// used and nothing counts as missing. Counted for the input's warnings.
    pub ip_length_beyond_frame: bool,
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
    /// An EtherType this decoder does not follow (and not one known to
    /// carry something other than IP): the frame may hide audited traffic.
    #[error("unknown EtherType 0x{0:04x}")]
    UnknownEtherType(u16),
}

impl DecodeError {
    /// The counter the engine counts this frame under.
    pub fn counter(&self) -> DecodeCounter {
        match self {
            DecodeError::UnsupportedLinkType(_) => DecodeCounter::UnsupportedLinkType,
            DecodeError::Truncated { .. } => DecodeCounter::TruncatedHeader,
            DecodeError::Malformed { .. } => DecodeCounter::MalformedHeader,
            DecodeError::NotTcp => DecodeCounter::NotTcp,
            DecodeError::Fragment => DecodeCounter::IpFragment,
            DecodeError::TooDeep(_) => DecodeCounter::TunnelTooDeep,
            DecodeError::UnknownEtherType(_) => DecodeCounter::UnknownEtherType,
        }
    }
}

/// What the engine counts frames under: each way a frame yields no
/// segment ([`DecodeError::counter`]), and a segment whose IP length
/// overshoots its frame.
///
/// Declared in the byte order of their labels: the order `-v` and the
/// warnings have always listed them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DecodeCounter {
    /// [`DecodeError::Fragment`].
    IpFragment,
    /// A segment with [`Segment::ip_length_beyond_frame`] (it is still used).
    IpLengthBeyondFrame,
    /// [`DecodeError::Malformed`].
    MalformedHeader,
    /// [`DecodeError::NotTcp`].
    NotTcp,
    /// [`DecodeError::Truncated`].
    TruncatedHeader,
    /// [`DecodeError::TooDeep`].
    TunnelTooDeep,
    /// [`DecodeError::UnknownEtherType`].
    UnknownEtherType,
    /// [`DecodeError::UnsupportedLinkType`].
    UnsupportedLinkType,
}

impl DecodeCounter {
    /// Every counter, in declaration (label) order.
    pub const ALL: [DecodeCounter; 8] = [
        DecodeCounter::IpFragment,
        DecodeCounter::IpLengthBeyondFrame,
        DecodeCounter::MalformedHeader,
        DecodeCounter::NotTcp,
        DecodeCounter::TruncatedHeader,
        DecodeCounter::TunnelTooDeep,
        DecodeCounter::UnknownEtherType,
        DecodeCounter::UnsupportedLinkType,
    ];

    /// Short stable label for the report.
    pub fn label(self) -> &'static str {
        match self {
            DecodeCounter::IpFragment => "IP fragment",
            DecodeCounter::IpLengthBeyondFrame => "IP length beyond the frame",
            DecodeCounter::MalformedHeader => "malformed header",
            DecodeCounter::NotTcp => "not TCP",
            DecodeCounter::TruncatedHeader => "truncated header",
            DecodeCounter::TunnelTooDeep => "tunnel too deep",
            DecodeCounter::UnknownEtherType => "unknown EtherType",
            DecodeCounter::UnsupportedLinkType => "unsupported link type",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_declared_in_the_order_of_their_labels() {
        for (i, c) in DecodeCounter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
        let labels: Vec<&str> = DecodeCounter::ALL.iter().map(|c| c.label()).collect();
        let mut sorted = labels.clone();
        sorted.sort_unstable();
        assert_eq!(labels, sorted);
    }

    #[test]
    fn shard_hash_is_the_same_both_ways_and_spreads_flows_over_shards() {
        let server = Endpoint::new(IpAddr::from([10, 0, 0, 1]), 5062);
        let mut per_shard = [0u32; 4];
        for port in 40000..41000u16 {
            let client = Endpoint::new(IpAddr::from([10, 0, 0, 2]), port);
            let h = shard_hash(client, server);
            assert_eq!(h, shard_hash(server, client));
            per_shard[(h % 4) as usize] += 1;
        }
        // Ports differing in one bit must not pile up on one shard.
        assert!(per_shard.iter().all(|&n| n > 200), "{per_shard:?}");
        let v6 = Endpoint::new("2001:db8::1".parse().unwrap(), 5062);
        let v6b = Endpoint::new("2001:db8::2".parse().unwrap(), 5062);
        assert_eq!(shard_hash(v6, v6b), shard_hash(v6b, v6));
        assert_ne!(shard_hash(v6, v6b), shard_hash(v6, server));
    }
}
