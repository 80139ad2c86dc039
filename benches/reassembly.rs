//! Bytes per second through one direction's `Reassembler`: in order, with
//! adjacent segments swapped, and with duplicated segments.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use tlsaudit::capture::Timestamp;
use tlsaudit::flow::reassembly::{Delivery, Reassembler};
use tlsaudit::flow::seq::Seq;

const MSS: usize = 1448;
const STREAM_BYTES: usize = 4 << 20;
/// Out-of-order bytes allowed (the flow table's default).
const LIMIT: usize = 256 * 1024;

/// (sequence number, payload range) of each segment of the stream.
fn segments(every: usize, mix: &str) -> Vec<(u32, std::ops::Range<usize>)> {
    let isn = 0xfff0_0000u32; // wraps inside the stream
    let mut segs: Vec<_> = (0..STREAM_BYTES.div_ceil(MSS))
        .map(|i| {
            let start = i * MSS;
            let end = (start + MSS).min(STREAM_BYTES);
            (isn.wrapping_add(start as u32), start..end)
        })
        .collect();
    match mix {
        "swapped" => {
            for i in (0..segs.len().saturating_sub(1)).step_by(every) {
                segs.swap(i, i + 1);
            }
        }
        "duplicated" => {
            let mut out = Vec::with_capacity(segs.len() * 2);
            for (i, s) in segs.into_iter().enumerate() {
                if i % every == 0 {
                    out.push(s.clone());
                }
                out.push(s);
            }
            segs = out;
        }
        _ => {}
    }
    segs
}

fn run(data: &[u8], segs: &[(u32, std::ops::Range<usize>)]) -> u64 {
    let mut r = Reassembler::new(LIMIT);
    r.syn(Seq(0xfff0_0000u32.wrapping_sub(1)));
    let mut delivered = 0u64;
    let mut out = |d: Delivery<'_>| {
        if let Delivery::Data { bytes, .. } = d {
            delivered += bytes.len() as u64;
        }
    };
    for (i, (seq, range)) in segs.iter().enumerate() {
        let payload = data.get(range.clone()).unwrap_or(&[]);
        r.segment(
            Seq(*seq),
            payload,
            0,
            i as u64 + 1,
            Timestamp::default(),
            &mut out,
        );
    }
    delivered
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..STREAM_BYTES).map(|i| (i * 31 % 251) as u8).collect();
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(STREAM_BYTES as u64));
    for (mix, every) in [
        ("in-order", 1),
        ("swapped", 10),
        ("swapped", 100),
        ("duplicated", 10),
    ] {
        let segs = segments(every, mix);
        assert_eq!(
            run(&data, &segs),
            STREAM_BYTES as u64,
            "{mix} must deliver every byte"
        );
        g.bench_function(format!("{mix} 1/{every}"), |b| {
            b.iter(|| black_box(run(&data, &segs)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
