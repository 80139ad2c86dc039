//! The hot path allocates nothing per packet (style R1): once a flow's
//! handshake is done, decoding a frame, in-order reassembly and the TLS
//! record walk over application data must not touch the heap.
//!
//! The test binary's counting allocator (`robustness::mutate::alloc`) counts
//! per thread, so tests running in parallel do not disturb it.

use tlsaudit::capture::file::FileSource;
use tlsaudit::capture::{Frame, LinkType};
use tlsaudit::decode::{self, Segment};
use tlsaudit::engine::{DecodeCounters, EngineOptions, Worker};

use crate::robustness::mutate::alloc::allocations;
use crate::util::root;

/// Allocations made by this thread while `f` runs (the test binary's
/// allocator counts per thread, so parallel tests do not disturb it).
fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations();
    let r = f();
    (r, allocations() - before)
}

/// Build an Ethernet/IPv4/TCP frame carrying `payload`.
fn frame_bytes(seg: &Segment<'_>, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) = (seg.src.ip(), seg.dst.ip()) else {
        panic!("IPv4 capture expected");
    };
    let mut f = vec![0u8; 14];
    f[12] = 0x08;
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&s.octets());
    f.extend_from_slice(&d.octets());
    f.extend_from_slice(&seg.src.port().to_be_bytes());
    f.extend_from_slice(&seg.dst.port().to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&seg.ack.to_be_bytes());
    f.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn decode_reassembly_and_record_walk_allocate_nothing_per_packet_after_the_handshake() {
    let path = root().join("captures/compliant-mtls.pcap");
    let mut source = FileSource::open(&path).unwrap();
    let mut worker = Worker::new(0, &EngineOptions::default());
    let mut counters = DecodeCounters::default();
    // Feed the real handshake and first data, remembering each direction's
    // last data segment (a frame template and the next sequence number).
    let mut templates: Vec<(std::net::SocketAddr, Vec<u8>, u32)> = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        let seg = decode::decode(&frame).unwrap();
        if seg.flags.fin || seg.flags.rst {
            break;
        }
        worker.frame(&frame, &mut counters);
        if !seg.payload.is_empty() {
            let next = seg.seq.wrapping_add(seg.payload.len() as u32);
            let bytes = frame_bytes(&seg, 0, &[]);
            match templates.iter_mut().find(|t| t.0 == seg.src) {
                Some(t) => {
                    t.1 = bytes;
                    t.2 = next;
                }
                None => templates.push((seg.src, bytes, next)),
            }
        }
    }
    assert_eq!(templates.len(), 2, "both directions sent data");
    // Three 3DES application-data records per segment: 24 (minimal) + 2×64.
    let mut payload = Vec::new();
    for len in [24u16, 64, 64] {
        payload.extend_from_slice(&[23, 3, 1]);
        payload.extend_from_slice(&len.to_be_bytes());
        payload.extend(std::iter::repeat_n(0xab, len as usize));
    }
    // Pre-build the frames (building them allocates; feeding must not).
    let rounds = 2000;
    let mut frames = Vec::with_capacity(rounds * 2);
    for _ in 0..rounds {
        for t in templates.iter_mut() {
            let src_seg_frame = &t.1;
            let f = FrameOwned::from_template(src_seg_frame, t.2, &payload);
            t.2 = t.2.wrapping_add(payload.len() as u32);
            frames.push(f);
        }
    }
    // Warm up: the first records may grow evidence lists up to their caps.
    let (warm, rest) = frames.split_at(200);
    for f in warm {
        worker.frame(&f.frame(), &mut counters);
    }
    let ((), allocs) = count(|| {
        for f in rest {
            worker.frame(&f.frame(), &mut counters);
        }
    });
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations while feeding {} post-handshake segments",
        rest.len()
    );
    assert_eq!(
        worker.open_flows(),
        1,
        "the synthetic segments belong to the flow"
    );
}

/// A frame built in the test, borrowed as a `Frame` when fed.
struct FrameOwned(Vec<u8>);

impl FrameOwned {
    fn from_template(template: &[u8], seq: u32, payload: &[u8]) -> FrameOwned {
        let mut f = template[..54].to_vec();
        f[38..42].copy_from_slice(&seq.to_be_bytes());
        let total = (40 + payload.len()) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(payload);
        FrameOwned(f)
    }
    fn frame(&self) -> Frame<'_> {
        Frame {
            index: 1_000_000,
            ts: Default::default(),
            link: LinkType::ETHERNET,
            caplen: self.0.len() as u32,
            origlen: self.0.len() as u32,
            data: &self.0,
        }
    }
}
