//! Hostile and broken captures: whatever the bytes, the pipeline must not
//! panic, hang, or grow without bound, and each limit that bites must be
//! visible in the facts (warnings, counters).
//!
//! - `mutated_captures_*`: a deterministic mutation suite (fixed-seed PRNG)
//!   over `captures/` and the third-party corpus, running the whole pipeline
//!   in-process on each mutant. The long mode is `examples/soak.rs`.
//! - `fuzz_regressions_*`: replays `captures/fuzz-regressions/`.
//! - hostile scenarios as generated captures (SYN flood, endless
//!   out-of-order data, sequence jumps, absurd lengths).
//! - proptest strategies for each parser's input.

#[path = "mutate/mod.rs"]
pub mod mutate;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use mutate::gen::{PcapWriter, TcpPacket, ACK, FIN, SYN};
use mutate::rng::Rng;
use mutate::{any_port_options, Base, Outcome, Tally};
use tlsaudit::capture::{Frame, LinkType, Timestamp};
use tlsaudit::engine::EngineOptions;
use tlsaudit::flow::{EvictionCause, FlowLimits};

use crate::util::{corpus_dir, root};

/// Per-input time bound in the quick suite. The slowest mutant measured
/// on the 2-core CI machine in a debug build takes well under a second;
/// this leaves room for a loaded machine while still catching quadratic
/// blow-ups (those take minutes).
const MAX_SECS_PER_INPUT: u64 = 10;
/// Memory bound per input (R2: memory grows with open flows, not with the
/// file; ≤ 64 MiB). Includes the capture reader's buffer, which may grow
/// to 16 MiB for one damaged length field.
const MAX_BYTES_PER_INPUT: i64 = 64 << 20;
/// Mutants per base file in the quick suite (about 60 base files).
const QUICK_PER_FILE: usize = 48;

fn run_bytes(name: &str, bytes: Vec<u8>, opts: &EngineOptions) -> Outcome {
    mutate::run(name, Arc::from(bytes), opts)
}

fn assert_clean(name: &str, o: &Outcome) {
    assert!(o.panic.is_none(), "{name}: panicked: {:?}", o.panic);
    assert!(
        o.elapsed < Duration::from_secs(MAX_SECS_PER_INPUT),
        "{name}: took {:?}",
        o.elapsed
    );
}

/// The base files: `captures/` of this crate and the corpus.
fn bases(test: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = mutate::capture_files(&root().join("captures"));
    if let Some(dir) = corpus_dir(test) {
        files.extend(mutate::capture_files(&dir));
        // Corpus files keep their original names, some without extension.
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_file()
                && !files.contains(&p)
                && p.extension().is_none_or(|x| x != "json")
                && mutate::has_capture_magic(&p)
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect()
}

/// Mutate every base file `per_file` ways and run the pipeline on each.
fn mutation_round(bases: &[(String, Vec<u8>)], seed: u64, per_file: usize) -> Tally {
    let mut tally = Tally::default();
    let max_time = Duration::from_secs(MAX_SECS_PER_INPUT);
    let prepared: Vec<Base> = bases
        .iter()
        .map(|(n, b)| Base::new(n.clone(), b.clone()))
        .collect();
    for (i, base) in prepared.iter().enumerate() {
        let partner = &prepared[(i + 1) % prepared.len()];
        let mut rng = Rng::for_name(seed, &base.name);
        let mut inputs: Vec<(String, Vec<u8>)> = base
            .plan(&mut rng, per_file)
            .into_iter()
            .map(|m| (format!("{}#{m}", base.name), base.apply(&m, partner)))
            .collect();
        if bases[i].1.starts_with(&[0x1f, 0x8b]) {
            for (n, b) in mutate::gzip_mutants(&bases[i].1, &mut rng, 8) {
                inputs.push((format!("{}#{n}", base.name), b));
            }
        }
        for (k, (name, bytes)) in inputs.into_iter().enumerate() {
            let bytes: Arc<[u8]> = Arc::from(bytes);
            // Most runs single-threaded (memory is measured per thread);
            // some through the sharded engine too.
            let o = mutate::run(&name, bytes.clone(), &any_port_options(1));
            tally.add(&name, &bytes, &o, max_time, MAX_BYTES_PER_INPUT);
            if k % 16 == 0 {
                let o = mutate::run(&name, bytes.clone(), &any_port_options(2));
                let par = format!("{name} (2 threads)");
                tally.add(&par, &bytes, &o, max_time, i64::MAX);
            }
        }
    }
    tally
}

#[test]
fn mutated_captures_never_panic_hang_or_exceed_the_memory_bound() {
    let bases = bases("mutated_captures_never_panic_hang_or_exceed_the_memory_bound");
    if bases.is_empty() {
        eprintln!("mutated captures: no base captures found (captures/ empty, corpus missing)");
        return;
    }
    let tally = mutation_round(&bases, mutate::QUICK_SEED, QUICK_PER_FILE);
    eprintln!(
        "mutated captures: {} base files; {}",
        bases.len(),
        tally.summary()
    );
    assert!(
        tally.failures.is_empty(),
        "{} mutated input(s) failed (copy the saved files into captures/fuzz-regressions/):\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

#[test]
fn fuzz_regressions_are_replayed_without_panic_or_hang() {
    let dir = root().join("captures/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"));
    files.sort();
    assert!(!files.is_empty(), "no files in {}", dir.display());
    for p in files {
        let name = p.display().to_string();
        let bytes = std::fs::read(&p).expect("read regression input");
        for threads in [1, 2] {
            let o = run_bytes(&name, bytes.clone(), &any_port_options(threads));
            assert_clean(&name, &o);
            if threads == 1 {
                assert!(
                    o.peak_bytes < MAX_BYTES_PER_INPUT,
                    "{name}: peak {} bytes",
                    o.peak_bytes
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile scenarios, generated.

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [10, 0, 0, 1];

/// `n` SYNs to port 5062 from distinct (address, port) pairs, 10 µs apart.
fn syn_flood(n: u32) -> Vec<u8> {
    let mut w = PcapWriter::raw_ipv4();
    for i in 0..n {
        let src = [10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let p = TcpPacket::new(src, 1024 + (i % 60000) as u16, SERVER, 5062)
            .seq(i.wrapping_mul(2_654_435_761))
            .flags(SYN);
        w.tcp(1_700_000_000_000_000 + u64::from(i) * 10, &p);
    }
    w.into_bytes()
}

/// Stream `bytes` through the ordered engine path that files and stdin use
/// (flows leave once every earlier-starting flow has finished) and
/// return (flows seen, flows evicted because the table was full, peak bytes
/// allocated by this thread meanwhile, elapsed).
fn stream_flood(bytes: Vec<u8>, opts: &EngineOptions) -> (u64, u64, i64, Duration) {
    let source = tlsaudit::capture::file::FileSource::from_reader(
        Box::new(std::io::Cursor::new(bytes)),
        "syn-flood".into(),
    )
    .expect("generated pcap opens");
    let started = std::time::Instant::now();
    let base = mutate::alloc::reset_peak();
    let (mut seen, mut full) = (0u64, 0u64);
    tlsaudit::engine::stream(source, 0, opts, &|_| {}, &mut |f| {
        seen += 1;
        if f.tcp.evicted == Some(EvictionCause::TableFull) {
            full += 1;
        }
    })
    .expect("stream");
    (seen, full, mutate::alloc::peak() - base, started.elapsed())
}

#[test]
fn syn_flood_with_a_small_flow_table_evicts_and_counts_with_bounded_memory() {
    const SYNS: u32 = 100_000;
    const MAX_FLOWS: usize = 1_000;
    let mut opts = any_port_options(1);
    opts.flow_limits = FlowLimits {
        max_flows: MAX_FLOWS,
        ..FlowLimits::default()
    };
    // Open-flow state is what must stay bounded: streamed, finished flows
    // leave as they finish, so the peak is the table's.
    let (seen, full, peak, elapsed) = stream_flood(syn_flood(SYNS), &opts);
    assert_eq!(seen, u64::from(SYNS));
    assert_eq!(full, u64::from(SYNS) - MAX_FLOWS as u64);
    assert!(
        peak < 24 << 20,
        "SYN flood with {MAX_FLOWS} flows open peaked at {} KiB",
        peak >> 10
    );
    assert!(
        elapsed < Duration::from_secs(MAX_SECS_PER_INPUT * 3),
        "{elapsed:?}"
    );

    // A file input reports the count in InputFacts (the "flow table was
    // full" warning of the report).
    let bytes = syn_flood(5_000);
    let source = tlsaudit::capture::file::FileSource::from_reader(
        Box::new(std::io::Cursor::new(bytes)),
        "syn-flood-5k".into(),
    )
    .expect("opens");
    opts.flow_limits.max_flows = 100;
    let facts = tlsaudit::engine::collect(source, 0, &opts).expect("reads");
    assert_eq!(facts.evicted_full, 4_900);
    assert_eq!(facts.flows.len(), 5_000);
}

#[test]
fn syn_flood_against_a_large_full_flow_table_costs_constant_time_per_packet() {
    // 60k half-open flows against a cap of 20k: every SYN past the cap
    // evicts one. Eviction must not scan the whole table each time (a scan
    // per eviction is 8e8 steps here and 5e9 with the default cap and 150k
    // SYNs: minutes, a hang for a user).
    const SYNS: u32 = 60_000;
    const MAX_FLOWS: usize = 20_000;
    let mut opts = any_port_options(1);
    opts.flow_limits.max_flows = MAX_FLOWS;
    let (seen, full, _, elapsed) = stream_flood(syn_flood(SYNS), &opts);
    assert_eq!(seen, u64::from(SYNS));
    assert_eq!(full, u64::from(SYNS) - MAX_FLOWS as u64);
    assert!(
        elapsed < Duration::from_secs(MAX_SECS_PER_INPUT * 2),
        "{elapsed:?}"
    );
}

/// SYN + SYN-ACK, then `f` adds the client's data segments.
fn one_flow(f: impl FnOnce(&mut PcapWriter, u32)) -> Vec<u8> {
    let mut w = PcapWriter::raw_ipv4();
    let isn = 1000u32;
    let t0 = 1_700_000_000_000_000;
    w.tcp(
        t0,
        &TcpPacket::new(CLIENT, 40000, SERVER, 5062)
            .seq(isn)
            .flags(SYN),
    );
    w.tcp(
        t0 + 1,
        &TcpPacket::new(SERVER, 5062, CLIENT, 40000)
            .seq(7)
            .flags(SYN | ACK),
    );
    f(&mut w, isn + 1);
    w.into_bytes()
}

#[test]
fn endless_out_of_order_data_overflows_the_store_counts_it_and_stays_bounded() {
    // Every segment leaves a hole before it: the store can never drain.
    let chunk = vec![0x17u8; 1000];
    let bytes = one_flow(|w, start| {
        for i in 0..20_000u32 {
            let seq = start.wrapping_add(1000 + i * 2000);
            let p = TcpPacket::new(CLIENT, 40000, SERVER, 5062)
                .seq(seq)
                .payload(&chunk);
            w.tcp(1_700_000_000_000_100 + u64::from(i), &p);
        }
    });
    let o = run_bytes("endless-ooo", bytes, &any_port_options(1));
    assert_clean("endless-ooo", &o);
    assert_eq!(o.flows, 1);
    assert!(o.overflows > 0, "no overflow counted: {o:?}");
    // 20 MB of input; the store holds at most --max-buffer-kib (256 KiB).
    assert!(o.peak_bytes < 8 << 20, "peak {} KiB", o.peak_bytes >> 10);
}

#[test]
fn descending_sequence_numbers_are_bounded_and_reported() {
    let chunk = vec![0x16u8; 1400];
    let bytes = one_flow(|w, start| {
        for i in (0..5_000u32).rev() {
            let p = TcpPacket::new(CLIENT, 40000, SERVER, 5062)
                .seq(start.wrapping_add(i * 1400))
                .payload(&chunk);
            w.tcp(1_700_000_000_000_100 + u64::from(5000 - i), &p);
        }
    });
    let o = run_bytes("descending", bytes, &any_port_options(1));
    assert_clean("descending", &o);
    assert!(o.overflows > 0);
    assert!(o.peak_bytes < 8 << 20, "peak {} KiB", o.peak_bytes >> 10);
}

#[test]
fn sequence_jumps_are_resynchronised_and_counted_as_gaps() {
    let chunk = vec![0x17u8; 100];
    let bytes = one_flow(|w, start| {
        let mut seq = start;
        for i in 0..2_000u32 {
            // Every 10th segment (200 in all) jumps by 1 GiB (beyond any reordering).
            if i % 10 == 9 {
                seq = seq.wrapping_add(0x4000_0000);
            }
            let p = TcpPacket::new(CLIENT, 40000, SERVER, 5062)
                .seq(seq)
                .payload(&chunk);
            w.tcp(1_700_000_000_000_100 + u64::from(i), &p);
            seq = seq.wrapping_add(100);
        }
    });
    let source = tlsaudit::capture::file::FileSource::from_reader(
        Box::new(std::io::Cursor::new(bytes)),
        "seq-jumps".into(),
    )
    .expect("opens");
    let facts = tlsaudit::engine::collect(source, 0, &any_port_options(1)).expect("reads");
    assert_eq!(facts.flows.len(), 1);
    let tcp = &facts.flows[0].tcp;
    assert_eq!(tcp.gaps, 200, "{tcp:?}");
    assert_eq!(tcp.seq_jumps, 200, "{tcp:?}");
    // Data after each jump was still delivered in order: client bytes counted.
    assert_eq!(tcp.bytes[0], 200_000);
}

#[test]
fn pcap_record_with_caplen_0xffffffff_is_a_warning_after_the_good_frames() {
    let mut w = PcapWriter::raw_ipv4();
    for i in 0..3u64 {
        w.tcp(i, &TcpPacket::new(CLIENT, 40000, SERVER, 5062).flags(SYN));
    }
    w.record_raw(4, 0xffff_ffff, 60, &[0u8; 60]);
    // More data behind the bad record than the reader's first buffer.
    for _ in 0..40_000 {
        w.tcp(5, &TcpPacket::new(CLIENT, 40000, SERVER, 5062));
    }
    let bytes = w.into_bytes();
    let source = tlsaudit::capture::file::FileSource::from_reader(
        Box::new(std::io::Cursor::new(bytes)),
        "caplen".into(),
    )
    .expect("opens");
    let base = mutate::alloc::reset_peak();
    let facts = tlsaudit::engine::collect(source, 0, &any_port_options(1)).expect("reads");
    assert!(mutate::alloc::peak() - base < MAX_BYTES_PER_INPUT);
    assert_eq!(facts.stats.packets, 3);
    assert_eq!(facts.stats.warnings.len(), 1, "{:?}", facts.stats.warnings);
    let msg = &facts.stats.warnings[0].message;
    assert!(msg.contains("stopped reading"), "{msg}");
}

/// A little-endian pcapng: SHB, IDB (raw IPv4), then the given EPBs.
fn pcapng_with(epbs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    let block = |v: &mut Vec<u8>, btype: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        v.extend_from_slice(&btype.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&len.to_le_bytes());
    };
    let mut shb = vec![0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut v, 0x0a0d_0d0a, &shb);
    block(&mut v, 1, &[101, 0, 0, 0, 0xff, 0xff, 0, 0]);
    for data in epbs {
        let mut body = Vec::new();
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        block(&mut v, 6, &body);
    }
    v
}

#[test]
fn pcapng_block_with_an_absurd_length_is_a_warning_after_the_good_frames() {
    let syn = TcpPacket::new(CLIENT, 40000, SERVER, 5062)
        .flags(SYN)
        .build();
    for bad_len in [0u32, 4, 13, 0x7fff_fff0, 0xffff_fffc] {
        let mut v = pcapng_with(&[syn.clone(), syn.clone()]);
        let at = v.len();
        v.extend_from_slice(&pcapng_with(std::slice::from_ref(&syn))[..]);
        // Corrupt the length of the section header that follows the good frames.
        v[at + 4..at + 8].copy_from_slice(&bad_len.to_le_bytes());
        let name = format!("pcapng-blocklen-{bad_len:#x}");
        let o = run_bytes(&name, v, &any_port_options(1));
        assert_clean(&name, &o);
        assert!(o.opened);
        assert_eq!(o.frames, 2, "{name}: {o:?}");
        assert!(o.warnings >= 1, "{name}: no warning: {o:?}");
    }
}

/// A client stream cut into 1400-byte segments after a handshake, then FIN.
fn client_stream(stream: &[u8]) -> Vec<u8> {
    one_flow(|w, start| {
        let mut seq = start;
        for (i, c) in stream.chunks(1400).enumerate() {
            let p = TcpPacket::new(CLIENT, 40000, SERVER, 5062)
                .seq(seq)
                .payload(c);
            w.tcp(1_700_000_000_000_200 + i as u64, &p);
            seq = seq.wrapping_add(c.len() as u32);
        }
        w.tcp(
            1_700_000_000_100_000,
            &TcpPacket::new(CLIENT, 40000, SERVER, 5062)
                .seq(seq)
                .flags(FIN | ACK),
        );
    })
}

#[test]
fn handshake_length_2_pow_24_minus_1_is_not_buffered_beyond_the_limit() {
    // A ClientHello header announcing 2^24 - 1 bytes, carried by full-size
    // (2^14) records: 17 MiB of handshake bytes in all.
    let mut stream = vec![22u8, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff, 3, 1];
    stream.resize(5 + 0x4000, 0);
    for _ in 0..1100 {
        stream.extend_from_slice(&[22, 3, 1, 0x40, 0x00]);
        stream.resize(stream.len() + 0x4000, 0);
    }
    let o = run_bytes(
        "handshake-2^24",
        client_stream(&stream),
        &any_port_options(1),
    );
    assert_clean("handshake-2^24", &o);
    assert_eq!(o.flows, 1);
    let cap = tlsaudit::tls::TlsLimits::default().max_handshake_len as i64;
    // The reader's buffer (1 MiB) + at most a couple of handshake buffers.
    assert!(
        o.peak_bytes < (2 << 20) + 4 * cap,
        "peak {} KiB with a handshake cap of {} KiB",
        o.peak_bytes >> 10,
        cap >> 10
    );
}

#[test]
fn record_length_far_over_2_pow_14_does_not_buffer_without_bound() {
    // Record length 0xffff (2^14 + 49151), then 4 MiB more of the same.
    let mut stream = Vec::new();
    for _ in 0..64 {
        stream.extend_from_slice(&[22u8, 3, 1, 0xff, 0xff, 11, 0xff, 0xff, 0xff]);
        stream.resize(stream.len() + 0xffff - 4, 0x0b);
    }
    let o = run_bytes(
        "record-0xffff",
        client_stream(&stream),
        &any_port_options(1),
    );
    assert_clean("record-0xffff", &o);
    assert_eq!(o.flows, 1);
    assert!(o.peak_bytes < 4 << 20, "peak {} KiB", o.peak_bytes >> 10);
}

// ---------------------------------------------------------------------------
// Proptest strategies for each parser's input.

/// Link types the decoder knows, plus an unknown one.
const LINKS: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

/// Frames that look like a valid link header + IPv4/IPv6 + TCP up to a
/// point, then anything: more interesting than uniform random bytes.
fn frame_bytes() -> impl Strategy<Value = Vec<u8>> {
    let valid = TcpPacket::new(CLIENT, 40000, SERVER, 5062)
        .payload(&[22, 3, 1, 0, 4, 1, 0, 0, 0])
        .build();
    (
        proptest::collection::vec(any::<u8>(), 0..200),
        0usize..60,
        any::<u16>(),
    )
        .prop_map(move |(tail, keep, ethertype)| {
            let mut v = Vec::new();
            // A 14-byte Ethernet-like prefix, a 16-byte SLL-like one, or none,
            // chosen by the generated ethertype's low bits.
            match ethertype % 4 {
                0 => {
                    v.extend_from_slice(&[0; 12]);
                    v.extend_from_slice(&[0x08, 0x00]);
                }
                1 => {
                    v.extend_from_slice(&[0; 12]);
                    v.extend_from_slice(&[0x81, 0x00, 0, 1]);
                    v.extend_from_slice(&ethertype.to_be_bytes());
                }
                2 => v.extend_from_slice(&[2, 0, 0, 0]),
                _ => {}
            }
            v.extend_from_slice(&valid[..keep.min(valid.len())]);
            v.extend_from_slice(&tail);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Integration tests have no src/lib.rs beside them to persist to;
        // a failure prints its minimal input, which goes into a unit test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// decode(): any frame of any link type is a Segment or a DecodeError.
    #[test]
    fn decode_never_panics_on_any_frame_of_any_link_type(
        data in prop_oneof![frame_bytes(), proptest::collection::vec(any::<u8>(), 0..120)],
        link in 0usize..LINKS.len(),
        extra in 0u32..70000,
    ) {
        let f = Frame {
            index: 1,
            ts: Timestamp::default(),
            link: LINKS[link],
            caplen: data.len() as u32,
            origlen: data.len() as u32 + extra,
            data: &data,
        };
        if let Ok(seg) = tlsaudit::decode::decode(&f) {
            // The payload is a view into the frame, never past its end.
            prop_assert!(seg.payload.len() <= data.len());
        }
    }

    /// The pcap reader: a valid header followed by anything.
    #[test]
    fn pcap_reader_survives_any_bytes_after_a_valid_header(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        big_endian in any::<bool>(),
        link in any::<u16>(),
    ) {
        let mut v = if big_endian {
            vec![0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4]
        } else {
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]
        };
        v.extend_from_slice(&[0; 8]);
        let (snap, lt) = if big_endian {
            (65535u32.to_be_bytes(), u32::from(link).to_be_bytes())
        } else {
            (65535u32.to_le_bytes(), u32::from(link).to_le_bytes())
        };
        v.extend_from_slice(&snap);
        v.extend_from_slice(&lt);
        v.extend_from_slice(&body);
        let o = run_bytes("proptest-pcap", v, &any_port_options(1));
        prop_assert!(o.panic.is_none(), "{:?}", o.panic);
        prop_assert!(o.opened);
    }

    /// The pcapng reader: a valid SHB + IDB followed by anything.
    #[test]
    fn pcapng_reader_survives_any_bytes_after_a_valid_section_header(
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut v = pcapng_with(&[]);
        v.extend_from_slice(&body);
        let o = run_bytes("proptest-pcapng", v, &any_port_options(1));
        prop_assert!(o.panic.is_none(), "{:?}", o.panic);
        prop_assert!(o.opened);
    }

    /// The TLS stage: any byte chunks in either direction, with gaps.
    #[test]
    fn tls_flow_survives_any_chunks_in_either_direction(
        chunks in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300), 0u8..8),
            0..40,
        ),
    ) {
        let mut tls = tlsaudit::tls::TlsFlow::new(tlsaudit::tls::TlsLimits::default());
        for (i, (ab, bytes, gap)) in chunks.iter().enumerate() {
            let dir = if *ab { tlsaudit::decode::Dir::AB } else { tlsaudit::decode::Dir::BA };
            if *gap == 0 {
                tls.on_gap(dir, bytes.len() as u64, i as u64 + 1);
            } else {
                tls.on_data(dir, bytes, i as u64 + 1, Timestamp::default());
            }
            let _ = tls.wants_payload(dir);
        }
        let _ = tls.finish();
    }

    /// The TLS stage: plausible record headers with hostile lengths.
    #[test]
    fn tls_flow_survives_records_with_any_lengths(
        records in proptest::collection::vec(
            (20u8..25, 0u8..5, any::<u16>(), any::<u8>(), any::<[u8; 3]>(), proptest::collection::vec(any::<u8>(), 0..64)),
            1..30,
        ),
        split in 1usize..50,
    ) {
        let mut stream = Vec::new();
        for (ct, minor, len, hs_type, hs_len, body) in &records {
            stream.extend_from_slice(&[*ct, 3, *minor]);
            stream.extend_from_slice(&len.to_be_bytes());
            stream.push(*hs_type);
            stream.extend_from_slice(hs_len);
            stream.extend_from_slice(body);
        }
        let mut tls = tlsaudit::tls::TlsFlow::new(tlsaudit::tls::TlsLimits::default());
        for (i, c) in stream.chunks(split).enumerate() {
            tls.on_data(tlsaudit::decode::Dir::AB, c, i as u64 + 1, Timestamp::default());
        }
        let _ = tls.finish();
    }
}

#[test]
fn quick_suite_mutants_are_deterministic() {
    let mut w = PcapWriter::raw_ipv4();
    let syn = TcpPacket::new(CLIENT, 40000, SERVER, 5062).flags(SYN);
    for i in 0..10 {
        w.tcp(i, &syn.seq(i as u32));
    }
    let b = Base::new("x.pcap".into(), w.into_bytes());
    let plan = |seed| {
        let mut r = Rng::for_name(seed, "x.pcap");
        b.plan(&mut r, 30)
            .iter()
            .map(|m| (m.to_string(), b.apply(m, &b)))
            .collect::<Vec<_>>()
    };
    let (a, c) = (plan(1), plan(1));
    assert_eq!(a, c);
    assert_ne!(a, plan(2));
    // Reordering keeps every packet; drop removes exactly one, dup adds one.
    let reversed = b.apply(&mutate::Mutation::Reverse, &b);
    assert_eq!(reversed.len(), b.bytes.len());
    let dropped = b.apply(&mutate::Mutation::DropPacket(3), &b);
    assert_eq!(dropped.len(), b.bytes.len() - (16 + 40));
    let dup = b.apply(&mutate::Mutation::DupPacket(3), &b);
    assert_eq!(dup.len(), b.bytes.len() + (16 + 40));
}
