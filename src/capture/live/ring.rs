//! The only unsafe code of the crate: an AF_PACKET socket with a TPACKET_V3
//! receive ring mapped into this process, behind safe methods.
//!
//! Owns: [`PacketRing`], [`RingConfig`], [`OpenError`], [`Wait`].
//!
//! Invariants:
//! - The mapping is `block_size * block_nr` bytes, created once after
//!   `PACKET_RX_RING` succeeded and unmapped only in `Drop`.
//! - A block is exposed as `&[u8]` only while its `block_status` has
//!   `TP_STATUS_USER` (read with acquire ordering): from then until user space
//!   writes `TP_STATUS_KERNEL` back the kernel does not touch it. Handing it
//!   back ([`PacketRing::release`]) takes `&mut self`, so no slice of it can
//!   still be alive.
//! - The socket is bound (so packets start flowing) only after the filter and
//!   the ring are in place; before `bind` a socket opened with protocol 0
//!   receives nothing, so no unfiltered packet reaches the ring.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::block::BLOCK_STATUS_OFF;
use super::bpf::Insn;

/// `ARPHRD_RAWIP` (linux/if_arp.h; not in every libc release).
const ARPHRD_RAWIP: u16 = 519;

/// What the link layer of the interface looks like to a packet socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingLink {
    /// Ethernet framing (Ethernet, and Linux loopback which fakes it).
    Ethernet { loopback: bool },
    /// Packets start at the IP header (tun, raw-IP, or a link type we do not
    /// parse, read through a SOCK_DGRAM socket that strips its header).
    RawIp,
}

/// Ring geometry and socket options.
#[derive(Debug, Clone)]
pub struct RingConfig {
    pub iface: String,
    pub block_size: u32,
    pub block_nr: u32,
    pub frame_size: u32,
    pub block_timeout_ms: u32,
    pub promiscuous: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no such network interface")]
    NoSuchInterface,
    #[error("permission denied")]
    Permission,
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(io::Error) -> OpenError {
    move |source| OpenError::Sys { what, source }
}

/// Outcome of waiting for the next block.
#[derive(Debug)]
pub enum Wait {
    /// Something may be ready (or the wait timed out): look again.
    Ready,
    Timeout,
    /// A signal arrived (e.g. Ctrl-C): return to the caller.
    Interrupted,
    /// The socket reported an error (the interface went down, …); it was
    /// read and cleared.
    SocketError(io::Error),
}

/// An open packet socket with its mapped receive ring.
pub struct PacketRing {
    fd: OwnedFd,
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_nr: usize,
    link: RingLink,
    /// The kernel refused PACKET_IGNORE_OUTGOING on loopback (kernel < 4.20):
    /// the caller must skip PACKET_OUTGOING copies itself.
    outgoing_on_loopback: bool,
}

// SAFETY: the mapping is owned by this value alone (no aliasing pointer
// escapes except through borrows of `self`), so moving it to another thread
// is as safe as moving a Vec.
unsafe impl Send for PacketRing {}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live, initialised `T` of exactly the length
    // passed; the kernel only reads it during the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_err())
    }
}

fn packet_socket(sock_type: i32) -> Result<OwnedFd, OpenError> {
    // SAFETY: plain system call with constant arguments; no memory involved.
    let fd = unsafe { libc::socket(libc::AF_PACKET, sock_type | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = last_err();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => OpenError::Permission,
            _ => OpenError::Sys {
                what: "socket(AF_PACKET)",
                source: e,
            },
        });
    }
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ifreq_for(name: &CString) -> Result<libc::ifreq, OpenError> {
    let bytes = name.as_bytes_with_nul();
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if bytes.len() > req.ifr_name.len() {
        return Err(OpenError::NoSuchInterface);
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn hardware_type(fd: &OwnedFd, name: &CString) -> Result<u16, OpenError> {
    let mut req = ifreq_for(name)?;
    // SAFETY: SIOCGIFHWADDR reads ifr_name and writes ifr_hwaddr inside the
    // ifreq we own for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if rc != 0 {
        let e = last_err();
        return Err(match e.raw_os_error() {
            Some(libc::ENODEV) => OpenError::NoSuchInterface,
            _ => OpenError::Sys {
                what: "SIOCGIFHWADDR",
                source: e,
            },
        });
    }
    // SAFETY: the kernel filled the ifr_hwaddr member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
}

impl PacketRing {
    /// Opens the socket, attaches `filter_for(link)`, maps the ring and binds
    /// to the interface.
    pub fn open(
        cfg: &RingConfig,
        filter_for: impl FnOnce(RingLink) -> Result<Vec<Insn>, String>,
    ) -> Result<PacketRing, OpenError> {
        let name = CString::new(cfg.iface.as_bytes()).map_err(|_| OpenError::NoSuchInterface)?;
        // Resolved before socket() so an unknown name is reported as such
        // even without CAP_NET_RAW. Runs in the calling thread's netns.
        // SAFETY: `name` is a valid NUL-terminated string for the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(OpenError::NoSuchInterface);
        }
        let mut fd = packet_socket(libc::SOCK_RAW)?;
        let hatype = hardware_type(&fd, &name)?;
        let link = match hatype {
            libc::ARPHRD_ETHER => RingLink::Ethernet { loopback: false },
            libc::ARPHRD_LOOPBACK => RingLink::Ethernet { loopback: true },
            libc::ARPHRD_NONE | ARPHRD_RAWIP => RingLink::RawIp,
            _ => {
                // Unknown link header: let the kernel strip it.
                fd = packet_socket(libc::SOCK_DGRAM)?;
                RingLink::RawIp
            }
        };

        let prog = filter_for(link).map_err(|m| OpenError::Sys {
            what: "building the packet filter",
            source: io::Error::new(io::ErrorKind::InvalidInput, m),
        })?;
        let mut insns: Vec<libc::sock_filter> = prog
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(insns.len()).map_err(|_| OpenError::Sys {
                what: "packet filter",
                source: io::Error::new(io::ErrorKind::InvalidInput, "program too long"),
            })?,
            filter: insns.as_mut_ptr(),
        };
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
            .map_err(sys("SO_ATTACH_FILTER"))?;
        drop(insns);

        let version: libc::c_int = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version)
            .map_err(sys("PACKET_VERSION TPACKET_V3"))?;

        // On loopback every packet passes the tap twice, once leaving and
        // once arriving; keep only the arrival. Elsewhere outgoing packets
        // are the capturing host's own traffic and must be kept.
        let mut outgoing_on_loopback = false;
        if link == (RingLink::Ethernet { loopback: true }) {
            let one: libc::c_int = 1;
            if setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one).is_err() {
                outgoing_on_loopback = true;
            }
        }

        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_nr,
            tp_frame_size: cfg.frame_size,
            tp_frame_nr: (cfg.block_size / cfg.frame_size) * cfg.block_nr,
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
            .map_err(sys("PACKET_RX_RING"))?;

        let map_len = cfg.block_size as usize * cfg.block_nr as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket;
        // length and offset are the ones the kernel expects for it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(OpenError::Sys {
                what: "mmap of the packet ring",
                source: last_err(),
            });
        }
        let map = NonNull::new(ptr.cast::<u8>()).ok_or(OpenError::Sys {
            what: "mmap of the packet ring",
            source: io::Error::other("null mapping"),
        })?;
        // From here on Drop unmaps.
        let ring = PacketRing {
            fd,
            map,
            map_len,
            block_size: cfg.block_size as usize,
            block_nr: cfg.block_nr as usize,
            link,
            outgoing_on_loopback,
        };

        if cfg.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as libc::c_int,
                mr_type: libc::PACKET_MR_PROMISC as libc::c_ushort,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                &ring.fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
            )
            .map_err(sys("PACKET_ADD_MEMBERSHIP promiscuous"))?;
        }

        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: `sll` is a live sockaddr_ll of the length passed.
        let rc = unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let e = last_err();
            return Err(match e.raw_os_error() {
                Some(libc::ENODEV) => OpenError::NoSuchInterface,
                _ => OpenError::Sys {
                    what: "bind to the interface",
                    source: e,
                },
            });
        }
        Ok(ring)
    }

    pub fn link(&self) -> RingLink {
        self.link
    }

    pub fn outgoing_on_loopback(&self) -> bool {
        self.outgoing_on_loopback
    }

    pub fn block_nr(&self) -> usize {
        self.block_nr
    }

    fn status(&self, block: usize) -> Option<&AtomicU32> {
        if block >= self.block_nr {
            return None;
        }
        let off = block * self.block_size + BLOCK_STATUS_OFF;
        // SAFETY: `off + 4 <= map_len` (block < block_nr, block_size ≥ one
        // page), the mapping is page-aligned so `off` is 4-aligned, and the
        // kernel accesses this word atomically too; the reference lives no
        // longer than `&self`, which keeps the mapping alive.
        Some(unsafe { AtomicU32::from_ptr(self.map.as_ptr().add(off).cast::<u32>()) })
    }

    /// The block's bytes if user space owns it now, else `None`; with
    /// whether the kernel flagged losses (TP_STATUS_LOSING) when retiring it.
    pub fn user_block(&self, block: usize) -> Option<(&[u8], bool)> {
        let status = self.status(block)?.load(Ordering::Acquire);
        if status & libc::TP_STATUS_USER == 0 {
            return None;
        }
        let losing = status & libc::TP_STATUS_LOSING != 0;
        // SAFETY: the block lies inside the mapping (block < block_nr, checked
        // in `status`), and TP_STATUS_USER means the kernel will not write it
        // until `release`, which needs `&mut self` and so outlives this slice.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                self.map.as_ptr().add(block * self.block_size),
                self.block_size,
            )
        };
        Some((bytes, losing))
    }

    /// Hands the block back to the kernel.
    pub fn release(&mut self, block: usize) {
        if let Some(s) = self.status(block) {
            s.store(libc::TP_STATUS_KERNEL, Ordering::Release);
        }
    }

    /// Waits up to `timeout_ms` for the kernel to retire a block.
    pub fn wait(&self, timeout_ms: i32) -> Wait {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: one live pollfd, count 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc < 0 {
            let e = last_err();
            return if e.kind() == io::ErrorKind::Interrupted {
                Wait::Interrupted
            } else {
                Wait::SocketError(e)
            };
        }
        if rc == 0 {
            return Wait::Timeout;
        }
        if pfd.revents & libc::POLLERR != 0 {
            let mut err: libc::c_int = 0;
            let mut len = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `err`/`len` are live and sized for SO_ERROR; reading it
            // clears the pending error so the next poll does not spin.
            let rc = unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            if rc == 0 && err != 0 {
                return Wait::SocketError(io::Error::from_raw_os_error(err));
            }
        }
        Wait::Ready
    }

    /// Kernel counters since the previous call (the kernel resets them on
    /// each read): (packets passed by the filter, packets dropped).
    pub fn take_statistics(&self) -> io::Result<(u64, u64)> {
        // SAFETY: plain old data; all-zero is valid.
        let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st`/`len` are live and sized for PACKET_STATISTICS on a
        // TPACKET_V3 socket.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(last_err());
        }
        Ok((u64::from(st.tp_packets), u64::from(st.tp_drops)))
    }
}

impl Drop for PacketRing {
    fn drop(&mut self) {
        // SAFETY: `map`/`map_len` are exactly the mapping made in `open`, and
        // no borrow of it can outlive `self`. The socket closes after this
        // (OwnedFd), which also frees the kernel side of the ring.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.map_len);
        }
    }
}
