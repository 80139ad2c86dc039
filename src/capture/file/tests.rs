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

/// A classic pcap in the given byte order and timestamp unit, or the
/// "modified" variant, with records of `sizes` bytes each cut to `snap`.
fn classic_pcap(big_endian: bool, nanos: bool, modified: bool, sizes: &[(u16, u32)]) -> Vec<u8> {
    let magic: u32 = match (modified, nanos) {
        (true, _) => 0xa1b2_cd34,
        (false, true) => 0xa1b2_3c4d,
        (false, false) => 0xa1b2_c3d4,
    };
    let word = |v: &mut Vec<u8>, x: u32| {
        v.extend_from_slice(&if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let mut v = Vec::new();
    word(&mut v, magic);
    let (major, minor) = (2u16, 4u16);
    for half in [major, minor] {
        v.extend_from_slice(&if big_endian {
            half.to_be_bytes()
        } else {
            half.to_le_bytes()
        });
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
