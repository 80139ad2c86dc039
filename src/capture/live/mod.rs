//! Live capture from a network interface (Linux AF_PACKET, TPACKET_V3 ring),
//! yielding the same [`Frame`]s as files.
//!
//! Owns: [`LiveOptions`], [`LiveCapture`]. Submodules: `bpf` (the kernel
//! filter program), `block` (walking a retired ring block), `ring` (the
//! socket and the mapped ring: the crate's only unsafe code).
//!
//! Design decisions:
//! - The kernel filter passes only TCP to or from the audited ports (IPv4,
//!   IPv6, 802.1Q / QinQ) so a busy tap costs nothing for other traffic.
//! - On the loopback interface outgoing copies are ignored
//!   (`PACKET_IGNORE_OUTGOING`), since every packet would otherwise be seen
//!   twice. On any other interface both directions are kept: a span port only
//!   receives anyway, and a host auditing its own links needs what it sends.
//! - Frames keep the kernel's nanosecond timestamp, `tp_snaplen` as caplen
//!   and `tp_len` as origlen. VLAN tags the NIC stripped are not put back:
//!   the audit does not key flows on them.
//!
//! Invariants: a [`Frame`] borrows the ring block; the block goes back to the
//! kernel only on the next call into the capture (the borrow checker enforces
//! it). `Frame::index` counts delivered frames from 1.

mod block;
pub mod bpf;
mod ring;

use std::time::{Duration, Instant};

use super::{CaptureError, CaptureFormat, CaptureWarning, Frame, InputStats, LinkType, Timestamp};
use block::BlockCursor;
use ring::{OpenError, PacketRing, RingConfig, RingLink, Wait};

/// Default ring size. A TPACKET_V3 reader lost nothing at ~400k packets/s
/// with 16 MiB; twice that leaves room for a slower consumer.
pub const DEFAULT_RING_BYTES: usize = 32 << 20;
/// Default block retire timeout: the worst-case delay before a quiet link's
/// packets reach user space.
pub const DEFAULT_BLOCK_TIMEOUT_MS: u32 = 20;
/// One ring block. Must hold the largest packet the socket can see: on
/// loopback and with GSO/GRO that is ~64 KiB, larger with BIG TCP.
const BLOCK_BYTES: usize = 1 << 20;
const MIN_BLOCKS: usize = 4;
/// Upper bound on the ring (memory is locked by the kernel).
const MAX_RING_BYTES: usize = 1 << 30;
/// TPACKET_V3 ignores the frame size for layout, but the kernel checks
/// `tp_frame_nr` against it.
const FRAME_BYTES: u32 = 2048;
/// Warnings kept in `InputStats` (interface flaps on a months-long run must
/// not grow memory); later ones are only counted in the last message.
const MAX_WARNINGS: usize = 64;
/// How stale `stats().dropped` may be. Reading the kernel counters is a
/// system call; a caller asking after every frame must not pay it per frame.
/// Blocks the kernel marks TP_STATUS_LOSING force an earlier read.
const STATS_REFRESH: Duration = Duration::from_millis(250);
/// `sll_pkttype` of a packet this host sent.
const PACKET_OUTGOING: u8 = 4;

/// What to capture.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub iface: String,
    /// TCP ports for the kernel BPF filter; empty with `any_port` = all TCP.
    pub ports: Vec<u16>,
    pub any_port: bool,
    pub promiscuous: bool,
    /// Ring size in bytes (rounded up to whole 1 MiB blocks, 4 MiB at least,
    /// 1 GiB at most).
    pub ring_bytes: usize,
    /// Block retire timeout: the latency bound.
    pub block_timeout_ms: u32,
}

impl LiveOptions {
    /// Options with the default ring and timeout, not promiscuous.
    pub fn new(iface: impl Into<String>, ports: Vec<u16>) -> LiveOptions {
        LiveOptions {
            iface: iface.into(),
            ports,
            any_port: false,
            promiscuous: false,
            ring_bytes: DEFAULT_RING_BYTES,
            block_timeout_ms: DEFAULT_BLOCK_TIMEOUT_MS,
        }
    }
}

/// The block being read and where in it.
#[derive(Debug, Clone, Copy)]
struct Current {
    block: usize,
    cursor: BlockCursor,
}

/// An open live capture.
pub struct LiveCapture {
    ring: PacketRing,
    iface: String,
    link: LinkType,
    skip_outgoing: bool,
    /// Block to look at next (the kernel fills them in order).
    next_block: usize,
    current: Option<Current>,
    index: u64,
    stats: InputStats,
    suppressed_warnings: u64,
    stats_read_at: Option<Instant>,
    /// A block retired with TP_STATUS_LOSING since the last counter read.
    losing: bool,
}

impl LiveCapture {
    pub fn open(opts: &LiveOptions) -> Result<LiveCapture, CaptureError> {
        let live_err = |reason: String| CaptureError::Live {
            iface: opts.iface.clone(),
            reason,
        };
        if !opts.any_port && opts.ports.is_empty() {
            return Err(live_err(
                "no TCP port to capture (give a port or capture every port)".into(),
            ));
        }
        let ring_bytes = opts
            .ring_bytes
            .clamp(MIN_BLOCKS * BLOCK_BYTES, MAX_RING_BYTES);
        let cfg = RingConfig {
            iface: opts.iface.clone(),
            block_size: BLOCK_BYTES as u32,
            block_nr: ring_bytes.div_ceil(BLOCK_BYTES) as u32,
            frame_size: FRAME_BYTES,
            block_timeout_ms: opts.block_timeout_ms,
            promiscuous: opts.promiscuous,
        };
        let filter_for = |link: RingLink| {
            let fl = match link {
                RingLink::Ethernet { .. } => bpf::FilterLink::Ethernet,
                RingLink::RawIp => bpf::FilterLink::RawIp,
            };
            bpf::build_filter(fl, &opts.ports, opts.any_port).map_err(|e| e.to_string())
        };
        let ring = PacketRing::open(&cfg, filter_for).map_err(|e| match e {
            OpenError::NoSuchInterface => live_err("no such network interface".into()),
            OpenError::Permission => CaptureError::LivePermission {
                iface: opts.iface.clone(),
                exe: std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "tlsaudit".into()),
            },
            OpenError::Sys { what, source } => live_err(format!("{what}: {source}")),
        })?;
        let link = match ring.link() {
            RingLink::Ethernet { .. } => LinkType::ETHERNET,
            RingLink::RawIp => LinkType::RAW,
        };
        let stats = InputStats {
            format: Some(CaptureFormat::Live),
            link_types: vec![link],
            dropped: Some(0),
            ..InputStats::default()
        };
        Ok(LiveCapture {
            skip_outgoing: ring.outgoing_on_loopback(),
            ring,
            iface: opts.iface.clone(),
            link,
            next_block: 0,
            current: None,
            index: 0,
            stats,
            suppressed_warnings: 0,
            stats_read_at: None,
            losing: false,
        })
    }

    /// The interface's link type (what every frame carries).
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Next frame, or `Ok(None)` when `timeout_ms` passed without one, or a
    /// signal interrupted the wait (so the caller can run timers and check
    /// for Ctrl-C).
    pub fn next_frame(&mut self, timeout_ms: u32) -> Result<Option<Frame<'_>>, CaptureError> {
        // Only computed once a wait is needed: the per-frame path makes no
        // clock call.
        let mut deadline: Option<Instant> = None;
        loop {
            if let Some(mut cur) = self.current {
                let step = match self.ring.user_block(cur.block) {
                    Some((block, _)) => cur.cursor.next_packet(block),
                    None => Ok(None),
                };
                match step {
                    Ok(Some(p)) => {
                        self.current = Some(cur);
                        if self.skip_outgoing && p.pkttype == PACKET_OUTGOING {
                            continue;
                        }
                        self.index += 1;
                        self.stats.packets += 1;
                        self.stats.bytes += u64::from(p.caplen);
                        let data = self
                            .ring
                            .user_block(cur.block)
                            .and_then(|(b, _)| b.get(p.data_off..p.data_off + p.caplen as usize))
                            .unwrap_or(&[]);
                        return Ok(Some(Frame {
                            index: self.index,
                            ts: Timestamp::new(i64::from(p.sec), p.nsec),
                            link: self.link,
                            caplen: data.len() as u32,
                            origlen: p.origlen.max(data.len() as u32),
                            data,
                        }));
                    }
                    Ok(None) => {}
                    Err(damage) => self.warn(damage.to_string()),
                }
                self.ring.release(cur.block);
                self.current = None;
            }
            if let Some((block, losing)) = self.ring.user_block(self.next_block) {
                self.losing |= losing;
                match BlockCursor::start(block) {
                    Ok(cursor) => {
                        self.current = Some(Current {
                            block: self.next_block,
                            cursor,
                        })
                    }
                    Err(damage) => {
                        self.warn(damage.to_string());
                        self.ring.release(self.next_block);
                    }
                }
                self.next_block = (self.next_block + 1) % self.ring.block_nr();
                continue;
            }
            let deadline = *deadline.get_or_insert_with(|| {
                Instant::now() + Duration::from_millis(u64::from(timeout_ms))
            });
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self
                .ring
                .wait(i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX))
            {
                Wait::Ready => {}
                Wait::Timeout | Wait::Interrupted => return Ok(None),
                Wait::SocketError(e) => {
                    // ENETDOWN and friends: the socket resumes by itself when
                    // the interface comes back, so this is a warning.
                    self.warn(format!("interface {}: {e}", self.iface));
                    return Ok(None);
                }
            }
        }
    }

    /// Packets seen and kernel drops so far (`dropped` from PACKET_STATISTICS,
    /// accumulated: the kernel resets its counters on each read). Cheap to
    /// call per frame: the kernel is asked at most every 250 ms unless a
    /// block reported losses; [`LiveCapture::refresh_stats`] asks now.
    pub fn stats(&mut self) -> &InputStats {
        let due = self
            .stats_read_at
            .is_none_or(|t| t.elapsed() >= STATS_REFRESH);
        if due || self.losing {
            return self.refresh_stats();
        }
        &self.stats
    }

    /// Like [`LiveCapture::stats`], but reads the kernel counters now (for
    /// the final report).
    pub fn refresh_stats(&mut self) -> &InputStats {
        self.stats_read_at = Some(Instant::now());
        self.losing = false;
        match self.ring.take_statistics() {
            Ok((_, drops)) => {
                let total = self.stats.dropped.unwrap_or(0) + drops;
                self.stats.dropped = Some(total);
            }
            Err(e) => self.warn(format!("PACKET_STATISTICS: {e}")),
        }
        &self.stats
    }

    fn warn(&mut self, message: String) {
        if self.stats.warnings.len() < MAX_WARNINGS {
            self.stats.warnings.push(CaptureWarning {
                offset: self.index,
                message,
            });
        } else {
            self.suppressed_warnings += 1;
            if let Some(last) = self.stats.warnings.last_mut() {
                last.message = format!("{} more warnings not kept", self.suppressed_warnings);
            }
        }
    }
}
