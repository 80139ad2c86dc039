//! Frames per second through the capture reader and the decoder, beside a
//! bare pcap-parser walk of the same in-memory capture (the floor).

mod common;

use std::io::Cursor;
use std::path::PathBuf;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

use tlsaudit::capture::file::FileSource;
use tlsaudit::decode;

/// Big enough to leave the caches, small enough to generate in a second.
const CAPTURE_BYTES: u64 = 32 << 20;

fn walk(bytes: &[u8]) -> u64 {
    let mut n = 0u64;
    let Ok(mut reader) = create_reader(1 << 20, Cursor::new(bytes)) else {
        return 0;
    };
    loop {
        match reader.next() {
            Ok((len, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    n += b.data.len() as u64;
                } else if let PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(e)) = block {
                    n += e.data.len() as u64;
                }
                reader.consume(len);
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    n
}

fn source(bytes: &[u8]) -> FileSource {
    match FileSource::from_reader(
        Box::new(Cursor::new(bytes.to_vec())),
        PathBuf::from("bench"),
    ) {
        Ok(s) => s,
        Err(e) => panic!("generated capture rejected: {e}"),
    }
}

fn frames(bytes: &[u8]) -> u64 {
    let mut s = source(bytes);
    let mut n = 0;
    while let Ok(Some(_)) = s.next_frame() {
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    for (name, format) in [
        ("pcap", common::Format::Pcap),
        ("pcapng", common::Format::PcapNg),
    ] {
        let bytes = common::capture(CAPTURE_BYTES, format);
        let n = frames(&bytes);
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Elements(n));
        g.sample_size(20);
        g.bench_function("pcap-parser walk", |b| b.iter(|| black_box(walk(&bytes))));
        g.bench_function("capture", |b| b.iter(|| black_box(frames(&bytes))));
        g.bench_function("capture+decode", |b| {
            b.iter(|| {
                let mut s = source(&bytes);
                let mut tcp = 0u64;
                while let Ok(Some(f)) = s.next_frame() {
                    if let Ok(seg) = decode::decode(&f) {
                        tcp += seg.payload.len() as u64;
                    }
                }
                black_box(tcp)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
