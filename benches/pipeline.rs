//! End-to-end MB/s through `engine::collect` with 1 and 2 threads on
//! a generated capture in a temporary directory (the file is read from the
//! page cache, as in `bench/compare.sh`).

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use tlsaudit::engine::{self, EngineOptions};

/// Small enough that `cargo bench` stays within minutes.
const CAPTURE_BYTES: u64 = 64 << 20;

fn bench(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("no temporary directory: {e}"),
    };
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    for (name, format) in [
        ("pcap", common::Format::Pcap),
        ("pcapng", common::Format::PcapNg),
    ] {
        let path = dir.path().join(format!("bench.{name}"));
        let bytes = common::capture(CAPTURE_BYTES, format);
        if let Err(e) = std::fs::write(&path, &bytes) {
            panic!("{}: {e}", path.display());
        }
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        drop(bytes);
        for threads in [1, 2] {
            let opts = EngineOptions {
                threads,
                ..EngineOptions::default()
            };
            g.bench_function(format!("{name} -j{threads}"), |b| {
                b.iter(|| match engine::collect(&path, 0, &opts) {
                    Ok(f) => black_box(f.flows.len()),
                    Err(e) => panic!("{e}"),
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
