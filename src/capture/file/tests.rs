//! Reading captures: buffer sizes, damage, gzip, pipes, hashing.

use super::*;
use std::io::{Cursor, Write};

#[test]
fn records_larger_than_the_buffer_are_read_however_little_is_buffered() {
    // See: review of the growth rule; it once sized the new buffer from
    // the bytes buffered, so a second large record hit "damaged".
    let sizes = [3 << 20, 60, 5 << 20, 60, 3 << 20];
    let v = records_of(&sizes);
    let mut src = FileSource::from_reader(Box::new(Cursor::new(v)), "big".into()).unwrap();
    let mut got = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        got.push(f.data.len());
        assert!(f.data.iter().all(|&b| b as u64 == f.index - 1));
    }
    assert_eq!(got, sizes);
    assert!(
        src.stats().warnings.is_empty(),
        "{:?}",
        src.stats().warnings
    );
}

/// A little-endian pcap without a snaplen limit whose record `i` has
/// `sizes[i]` bytes, each of them `i as u8`.
fn records_of(sizes: &[usize]) -> Vec<u8> {
    let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(&u32::MAX.to_le_bytes());
    v.extend_from_slice(&101u32.to_le_bytes());
    for (i, &len) in sizes.iter().enumerate() {
        v.extend_from_slice(&(i as u32).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend(std::iter::repeat_n(i as u8, len));
    }
    v
}

/// A little-endian raw-IP pcap with `n` 40-byte records.
fn pcap(n: usize) -> Vec<u8> {
    let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&101u32.to_le_bytes());
    for i in 0..n {
        v.extend_from_slice(&(i as u32).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&40u32.to_le_bytes());
        v.extend_from_slice(&40u32.to_le_bytes());
        v.extend_from_slice(&[0x45; 40]);
    }
    v
}

#[test]
fn chunked_reading_reads_records_larger_than_its_buffers_and_shrinks_back() {
    // Two records far larger than the 4 KiB buffers, then enough small
    // ones to fill several buffers after them.
    let mut sizes = vec![100_000, 60, 300_000];
    sizes.extend(std::iter::repeat_n(60, 2000));
    let v = records_of(&sizes);
    let mut src = FileSource::from_reader(Box::new(Cursor::new(v)), "big".into())
        .unwrap()
        .chunked(4096, Box::new(Vec::new));
    let mut got = Vec::new();
    while let Some((f, _)) = src.next_frame_in_buffer().unwrap() {
        got.push(f.data.len());
        assert!(f.data.iter().all(|&b| b == (f.index - 1) as u8));
        src.retired().for_each(drop);
    }
    assert_eq!(got, sizes);
    assert!(
        src.stats().warnings.is_empty(),
        "{:?}",
        src.stats().warnings
    );
    src.retire_current();
    let last: Vec<Vec<u8>> = src.retired().collect();
    assert_eq!(last[0].len(), 4096, "back to the usual size");
}

#[test]
fn chunked_reading_hands_out_every_frame_in_the_buffer_it_retires() {
    // Records of 56 bytes through 4 KiB buffers: many buffers, and
    // records cut by a buffer's end. Each frame must be found, by its
    // offset, in the buffer that is current when it is returned, which
    // is the first one retired after it (or the last one).
    let bytes = pcap(2000);
    let mut src = FileSource::from_reader(Box::new(Cursor::new(bytes.clone())), "t".into())
        .unwrap()
        .chunked(4096, Box::new(Vec::new));
    let mut pending: Vec<(u64, usize, usize)> = Vec::new();
    let mut checked = 0;
    let mut retired_buffers = 0;
    let mut check = |buf: &[u8], pending: &mut Vec<(u64, usize, usize)>| {
        for (index, at, len) in pending.drain(..) {
            let i = (index - 1) as usize;
            let want = &bytes[24 + i * 56 + 16..24 + i * 56 + 56];
            assert_eq!(&buf[at..at + len], want, "frame {index}");
            checked += 1;
        }
    };
    while let Some((frame, buf)) = src.next_frame_in_buffer().unwrap() {
        let at = frame.data.as_ptr() as usize - buf.as_ptr() as usize;
        let noted = (frame.index, at, frame.data.len());
        let old: Vec<Vec<u8>> = src.retired().collect();
        retired_buffers += old.len();
        if let Some(first) = old.first() {
            check(first, &mut pending);
        }
        pending.push(noted);
    }
    src.retire_current();
    let last: Vec<Vec<u8>> = src.retired().collect();
    check(&last[0], &mut pending);
    assert_eq!(checked, 2000);
    assert!(retired_buffers > 20, "{retired_buffers}");
    assert!(src.into_stats().warnings.is_empty());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn read_all(bytes: Vec<u8>) -> Result<(u64, InputStats), CaptureError> {
    let mut s = FileSource::from_reader(Box::new(Cursor::new(bytes)), "t".into())?;
    let mut n = 0;
    while s.next_frame()?.is_some() {
        n += 1;
    }
    Ok((n, s.into_stats()))
}

#[test]
fn gzip_cut_short_keeps_the_frames_before_the_cut_with_a_warning() {
    let mut gz = gzip(&pcap(2000));
    gz.truncate(gz.len() / 2);
    let (frames, stats) = read_all(gz).expect("a cut gzip is damage, not an I/O failure");
    assert!(frames > 0 && frames < 2000, "{frames}");
    assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
    assert!(stats.warnings[0]
        .message
        .contains("gzip stream damaged or cut short"));
}

#[test]
fn gzip_with_damaged_deflate_data_is_a_warning_not_an_error() {
    let mut gz = gzip(&pcap(2000));
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b = 0xff;
    }
    let (_, stats) = read_all(gz).expect("damaged gzip data is a warning");
    assert!(!stats.warnings.is_empty());
}

/// Three good records, one whose caplen is 0xffffffff, then `more`
/// good records that are never reached.
fn damaged_after_three(more: usize) -> Vec<u8> {
    let mut v = pcap(3);
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&u32::MAX.to_le_bytes());
    v.extend_from_slice(&40u32.to_le_bytes());
    v.extend_from_slice(&pcap(more)[24..]);
    v
}

#[test]
fn record_with_caplen_0xffffffff_stops_with_a_warning_after_good_frames() {
    let (frames, stats) = read_all(damaged_after_three(30_000)).expect("reads");
    assert_eq!(frames, 3);
    assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
}

/// Read a file through `open_hashed` to the end; its stats.
fn hashed_stats(bytes: &[u8]) -> InputStats {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    let mut src = FileSource::open_hashed(file.path()).unwrap();
    while src.next_frame().unwrap().is_some() {}
    src.into_stats()
}

#[test]
fn a_file_read_to_its_end_is_hashed_as_read_gzip_as_stored() {
    let plain = pcap(30_000);
    let stats = hashed_stats(&plain);
    assert_eq!(stats.packets, 30_000);
    assert_eq!(stats.sha256, Some(hex::encode(Sha256::digest(&plain))));
    // The ticket names the file as stored, not its decompressed bytes.
    let packed = gzip(&plain);
    let stats = hashed_stats(&packed);
    assert_eq!(stats.packets, 30_000);
    assert_eq!(stats.sha256, Some(hex::encode(Sha256::digest(&packed))));
    // Only when asked.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&plain).unwrap();
    let mut src = FileSource::open(file.path()).unwrap();
    while src.next_frame().unwrap().is_some() {}
    assert_eq!(src.into_stats().sha256, None);
}

#[test]
fn reading_stopped_by_damage_before_the_end_gives_no_hash() {
    // Well past the first read buffer, so reading stops short of the end.
    let stats = hashed_stats(&damaged_after_three(60_000));
    assert_eq!(stats.packets, 3);
    assert_eq!(stats.sha256, None, "a digest of part of the file");
}

/// Hands out at most `step` bytes per read, so records straddle reads and
/// the reader goes back and forth between whole buffered records and cut ones.
struct Trickle {
    data: Cursor<Vec<u8>>,
    step: usize,
}

impl io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step);
        self.data.read(&mut buf[..n])
    }
}

/// Append `big_endian_bytes` in the given byte order.
fn put(v: &mut Vec<u8>, big_endian_bytes: &[u8], big_endian: bool) {
    if big_endian {
        v.extend_from_slice(big_endian_bytes);
    } else {
        v.extend(big_endian_bytes.iter().rev());
    }
}

/// A classic pcap in the given byte order and timestamp unit, or the
/// "modified" variant, with records of `sizes` bytes each cut to `snap`.
fn classic_pcap(big_endian: bool, nanos: bool, modified: bool, sizes: &[(u16, u32)]) -> Vec<u8> {
    let magic: u32 = match (modified, nanos) {
        (true, _) => 0xa1b2_cd34,
        (false, true) => 0xa1b2_3c4d,
        (false, false) => 0xa1b2_c3d4,
    };
    let word = |v: &mut Vec<u8>, x: u32| put(v, &x.to_be_bytes(), big_endian);
    let mut v = Vec::new();
    word(&mut v, magic);
    let (major, minor) = (2u16, 4u16);
    for half in [major, minor] {
        put(&mut v, &half.to_be_bytes(), big_endian);
    }
    for x in [0, 0, 65535, 101] {
        word(&mut v, x);
    }
    for (i, &(caplen, extra)) in sizes.iter().enumerate() {
        word(&mut v, 1_700_000_000 + i as u32);
        let unit = if nanos && !modified {
            1_000_000_000
        } else {
            1_000_000
        };
        word(&mut v, (i as u32).wrapping_mul(7_919_993) % unit);
        word(&mut v, u32::from(caplen));
        word(&mut v, u32::from(caplen) + extra);
        if modified {
            v.extend_from_slice(&[0; 8]);
        }
        v.extend((0..caplen).map(|b| (b as u8) ^ (i as u8)));
    }
    v
}

/// One block of a generated pcapng section (see [`pcapng_of`]).
#[derive(Debug, Clone)]
enum NgBlock {
    /// An enhanced packet block: interface, timestamp, captured bytes,
    /// original length beyond them, option bytes (a comment), and damage:
    /// 0 none, 1 a wrong trailing length, 2 a captured length beyond the
    /// block.
    Packet {
        if_id: u32,
        ts: u64,
        caplen: u16,
        extra: u32,
        comment: u8,
        damage: u8,
    },
    /// A simple packet block.
    Simple(u16),
    /// A block of a type this reader skips (a custom block).
    Other(u8),
}

fn ng_block() -> impl proptest::strategy::Strategy<Value = NgBlock> {
    use proptest::prelude::*;
    prop_oneof![
        8 => (0u32..3, any::<u64>(), 0u16..3000, 0u32..100, 0u8..12, 0u8..40).prop_map(
            |(if_id, ts, caplen, extra, comment, damage)| NgBlock::Packet {
                if_id,
                ts,
                caplen,
                extra,
                comment: comment.saturating_sub(8),
                damage: damage.saturating_sub(37),
            }
        ),
        1 => (0u16..200).prop_map(NgBlock::Simple),
        1 => (0u8..20).prop_map(NgBlock::Other),
    ]
}

/// A pcapng file: a section in the given byte order with two interfaces
/// (Ethernet in µs, raw IP in ns), then `blocks`.
fn pcapng_of(big_endian: bool, blocks: &[NgBlock]) -> Vec<u8> {
    let word = |v: &mut Vec<u8>, x: u32| put(v, &x.to_be_bytes(), big_endian);
    let half = |v: &mut Vec<u8>, x: u16| put(v, &x.to_be_bytes(), big_endian);
    let mut v = Vec::new();
    // Section header: type, length, byte-order magic, version 1.0, length unknown.
    word(&mut v, 0x0a0d_0d0a);
    word(&mut v, 28);
    word(&mut v, 0x1a2b_3c4d);
    half(&mut v, 1);
    half(&mut v, 0);
    v.extend_from_slice(&[0xff; 8]);
    word(&mut v, 28);
    // Interface 0: Ethernet, no options (microseconds).
    word(&mut v, 1);
    word(&mut v, 20);
    half(&mut v, 1);
    half(&mut v, 0);
    word(&mut v, 65535);
    word(&mut v, 20);
    // Interface 1: raw IP, if_tsresol 9 (nanoseconds), end of options.
    word(&mut v, 1);
    word(&mut v, 32);
    half(&mut v, 101);
    half(&mut v, 0);
    word(&mut v, 65535);
    half(&mut v, 9);
    half(&mut v, 1);
    v.extend_from_slice(&[9, 0, 0, 0]);
    v.extend_from_slice(&[0; 4]);
    word(&mut v, 32);
    for (i, b) in blocks.iter().enumerate() {
        match *b {
            NgBlock::Packet {
                if_id,
                ts,
                caplen,
                extra,
                comment,
                damage,
            } => {
                let padded = (usize::from(caplen) + 3) & !3;
                let options = if comment > 0 {
                    // opt_comment, then opt_endofopt.
                    4 + ((usize::from(comment) + 3) & !3) + 4
                } else {
                    0
                };
                let len = (32 + padded + options) as u32;
                word(&mut v, 6);
                word(&mut v, len);
                word(&mut v, if_id);
                word(&mut v, (ts >> 32) as u32);
                word(&mut v, ts as u32);
                let stated = if damage == 2 {
                    u32::from(caplen) + 64
                } else {
                    u32::from(caplen)
                };
                word(&mut v, stated);
                word(&mut v, u32::from(caplen) + extra);
                v.extend((0..caplen).map(|x| (x as u8) ^ (i as u8)));
                v.resize(v.len() + padded - usize::from(caplen), 0);
                if comment > 0 {
                    half(&mut v, 1);
                    half(&mut v, u16::from(comment));
                    v.extend(std::iter::repeat_n(b'c', usize::from(comment)));
                    v.resize(
                        v.len() + ((usize::from(comment) + 3) & !3) - usize::from(comment),
                        0,
                    );
                    v.extend_from_slice(&[0; 4]);
                }
                word(&mut v, if damage == 1 { len + 4 } else { len });
            }
            NgBlock::Simple(n) => {
                let padded = (usize::from(n) + 3) & !3;
                let len = (16 + padded) as u32;
                word(&mut v, 3);
                word(&mut v, len);
                word(&mut v, u32::from(n) + 10);
                v.extend(std::iter::repeat_n(i as u8, usize::from(n)));
                v.resize(v.len() + padded - usize::from(n), 0);
                word(&mut v, len);
            }
            NgBlock::Other(n) => {
                let body = usize::from(n) * 4;
                let len = (12 + body) as u32;
                word(&mut v, 0x0000_0bad);
                word(&mut v, len);
                v.extend(std::iter::repeat_n(0x5a, body));
                word(&mut v, len);
            }
        }
    }
    v
}

/// Every frame of `bytes` (read `step` bytes at a time), with the warnings
/// and counts; `in_place` as [`FileSource`]'s field.
type Reading = (
    Vec<(u64, Timestamp, LinkType, u32, u32, Vec<u8>)>,
    Vec<String>,
    u64,
);

fn read_frames(bytes: &[u8], step: usize, in_place: bool) -> Reading {
    let reader = Trickle {
        data: Cursor::new(bytes.to_vec()),
        step,
    };
    let mut src = FileSource::from_reader(Box::new(reader), "t".into()).unwrap();
    src.in_place = in_place;
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        frames.push((f.index, f.ts, f.link, f.caplen, f.origlen, f.data.to_vec()));
    }
    let stats = src.into_stats();
    let warnings = stats.warnings.iter().map(|w| format!("{w:?}")).collect();
    (frames, warnings, stats.packets)
}

#[test]
fn a_generated_pcapng_reads_back_with_each_interfaces_link_and_unit() {
    let packet = |if_id, ts, caplen, comment| NgBlock::Packet {
        if_id,
        ts,
        caplen,
        extra: 3,
        comment,
        damage: 0,
    };
    for big_endian in [false, true] {
        let blocks = [
            packet(1, 1_700_000_000_123_456_789, 5, 0),
            NgBlock::Other(2),
            packet(0, 1_700_000_000_654_321, 6, 3),
            packet(2, 1, 7, 0),
            packet(0, 1_700_000_001_000_000, 8, 0),
        ];
        let (frames, warnings, packets) = read_frames(&pcapng_of(big_endian, &blocks), 4096, true);
        let summary: Vec<_> = frames
            .iter()
            .map(|(index, ts, link, caplen, origlen, data)| {
                (*index, *ts, link.0, *caplen, *origlen, data.len())
            })
            .collect();
        assert_eq!(
            summary,
            [
                (1, Timestamp::new(1_700_000_000, 123_456_789), 101, 5, 8, 5),
                (2, Timestamp::new(1_700_000_000, 654_321_000), 1, 6, 9, 6),
                (4, Timestamp::new(1_700_000_001, 0), 1, 8, 11, 8),
            ],
            "big endian: {big_endian}"
        );
        // The data without the padding to 32 bits.
        assert_eq!(frames[0].5, [0, 1, 2, 3, 4]);
        assert_eq!(packets, 3);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("interface 2"), "{warnings:?}");
    }
}

proptest::proptest! {
    /// Whole buffered packet blocks without options are read in place
    /// (`FileSource::buffered_packet_block`); the result must be what the
    /// general path through pcap-parser gives, frame by frame, warning by
    /// warning, in both byte orders, with options, other blocks, unknown
    /// interfaces and damage in between, however the input arrives.
    #[test]
    fn pcapng_packet_blocks_read_in_place_are_read_as_pcap_parser_reads_them(
        big_endian: bool,
        blocks in proptest::collection::vec(ng_block(), 0..40),
        step in 1usize..5000,
    ) {
        let bytes = pcapng_of(big_endian, &blocks);
        let general = read_frames(&bytes, step, false);
        let in_place = read_frames(&bytes, step, true);
        proptest::prop_assert_eq!(in_place, general);
    }
}

proptest::proptest! {
    /// Whole buffered records are read in place (`FileSource::buffered_record`),
    /// everything else through pcap-parser: the two must hand out the same
    /// frames as pcap-parser's own record parsers, in every byte order,
    /// timestamp unit and variant, however the input arrives.
    #[test]
    fn classic_pcap_frames_are_read_as_pcap_parser_reads_them(
        big_endian: bool,
        nanos: bool,
        modified: bool,
        sizes in proptest::collection::vec((0u16..3000, 0u32..100), 0..60),
        step in 1usize..5000,
    ) {
        use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};
        let bytes = classic_pcap(big_endian && !modified, nanos, modified, &sizes);
        let parse = if modified {
            parse_pcap_frame_modified
        } else if big_endian {
            parse_pcap_frame_be
        } else {
            parse_pcap_frame
        };
        let mut expected = Vec::new();
        let mut rest = &bytes[24..];
        while !rest.is_empty() {
            let (next, b) = parse(rest).expect("a well-formed record");
            let frac = if nanos && !modified { b.ts_usec } else { b.ts_usec * 1000 };
            expected.push((Timestamp::new(i64::from(b.ts_sec), frac), b.caplen, b.origlen, b.data.to_vec()));
            rest = next;
        }
        let reader = Trickle { data: Cursor::new(bytes.clone()), step };
        let mut src = FileSource::from_reader(Box::new(reader), "t".into()).unwrap();
        let mut got = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            proptest::prop_assert_eq!(f.index, got.len() as u64 + 1);
            got.push((f.ts, f.caplen, f.origlen, f.data.to_vec()));
        }
        proptest::prop_assert_eq!(got, expected);
        proptest::prop_assert!(src.stats().warnings.is_empty(), "{:?}", src.stats().warnings);
    }
}
