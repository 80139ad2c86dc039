//! Capture files: classic pcap (both byte orders, micro/nanosecond), pcapng
//! (several sections and interfaces, each with its own link type and
//! timestamp resolution), and gzip of either (detected by magic, not name),
//! from a path or from stdin, streamed through one reusable read buffer and
//! pcap-parser's record parsers (zero-copy: frames borrow the buffer).
//!
//! Invariants:
//! - Memory: one read buffer (`READ_BUFFER_BYTES`, grown only for a record
//!   larger than it, up to `MAX_RECORD_BYTES`), whatever the file size. In
//!   chunked mode (the parallel engine) a full buffer is set aside whole and
//!   reading goes on in one from the caller's fixed pool.
//! - The buffer is compacted only when full, so a record is moved at most
//!   once (the one cut by the buffer's end), never every record.
//! - A damaged or cut-short file yields the frames before the damage and a
//!   [`CaptureWarning`] with the byte offset; only a file that does not start
//!   like a capture is a [`CaptureError`].
//! - The header is read completely before parsing starts, so a pipe that
//!   delivers a few bytes at a time (`tcpdump -U -w - | tlsaudit check -`)
//!   works.
//!
//! Files: `open.rs` (path or stdin, gzip, sniffing, hashing, the header),
//! `blocks.rs` (what one record or block means for the reader), this file
//! (the buffer and the frame loop).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use pcap_parser::nom::{self, IResult, Needed, Offset};
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    LegacyPcapBlock,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock, Block};
use pcap_parser::{PcapBlockOwned, PcapError};
use sha2::{Digest, Sha256};

use super::{CaptureError, CaptureFormat, CaptureWarning, Frame, InputStats, LinkType, Timestamp};

mod blocks;
mod open;

use blocks::{describe_magic, nom_error, step_of, BlockInfo, Step};
use open::{BoxRead, DigestSlot, ErrorSlot};

/// Read buffer: large enough that a 64 KiB loopback packet always fits, and
/// large reads amortise the syscall cost.
pub const READ_BUFFER_BYTES: usize = 1 << 20;
/// Largest single record accepted. Real link MTUs stay far below (65535 +
/// headers); anything bigger is a damaged length field, not a packet.
pub const MAX_RECORD_BYTES: usize = 16 << 20;
/// Warnings kept per input; past this they are only counted.
pub const MAX_WARNINGS: usize = 64;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const PCAP_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    // The "modified" pcap of old Linux tcpdump patches (24-byte record
    // headers), which pcap-parser reads in little-endian order only.
    [0x34, 0xcd, 0xb2, 0xa1],
];

/// The record parser of a classic pcap file (byte order, "modified" variant).
type LegacyParse =
    for<'a> fn(&'a [u8]) -> IResult<&'a [u8], LegacyPcapBlock<'a>, PcapError<&'a [u8]>>;

/// How the records of this input are laid out.
#[derive(Clone, Copy)]
enum Layout {
    /// Classic pcap; the file header is handed out once as a block first.
    Legacy {
        parse: LegacyParse,
        header_given: bool,
        /// The byte order of 16-byte record headers, which
        /// [`FileSource::buffered_record`] reads in place; `None` for the
        /// "modified" variant's 24-byte ones (the general path only).
        plain_be: Option<bool>,
    },
    /// pcapng; each block's byte order is its section's.
    Ng,
}

/// Bytes of a classic pcap record header: seconds, fraction, captured and
/// original length.
const LEGACY_RECORD_HEADER: usize = 16;

/// pcapng enhanced packet block: its type, and the bytes before its packet
/// data (type, length, interface, timestamp high and low, captured and
/// original length) and after it (the length again) when it has no options.
const EPB_TYPE: u32 = 6;
const EPB_HEADER: usize = 28;
const EPB_FRAMING: usize = EPB_HEADER + 4;

/// The 32-bit word at `at` of a record header, in the file's byte order.
#[inline]
fn word_at<const N: usize>(header: &[u8; N], at: usize, big_endian: bool) -> u32 {
    let bytes = [header[at], header[at + 1], header[at + 2], header[at + 3]];
    if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

/// A classic pcap record found whole in the buffer (see
/// [`FileSource::buffered_record`]).
struct LegacyRecord {
    /// Header and captured bytes.
    bytes: usize,
    ts_sec: u32,
    ts_frac: u32,
    caplen: u32,
    origlen: u32,
}

/// Where a source in chunked mode gets its next read buffer.
pub type BufferSupply = Box<dyn FnMut() -> Vec<u8> + Send>;

/// Chunked mode (the parallel engine): a full buffer is not compacted in
/// place but set aside whole, so the frames in it can be shared with other
/// threads while reading goes on in a fresh buffer.
struct Chunking {
    supply: BufferSupply,
    retired: Vec<Vec<u8>>,
    /// The usual buffer size; a buffer grown for one big record is cut
    /// back to it when reused, so the pool does not keep big buffers.
    buffer_bytes: usize,
}

/// Per-interface state of the current pcapng section.
#[derive(Clone, Copy)]
struct Iface {
    link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset_secs: i64,
}

/// A capture file (or stdin) being read frame by frame.
pub struct FileSource {
    path: PathBuf,
    reader: BoxRead,
    layout: Layout,
    /// The read buffer: `buf[start..end]` is read and not yet consumed;
    /// `buf.len()` is its capacity (zero-filled once, then reused).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Input offset of `buf[0]`.
    base: u64,
    /// The last read returned 0 bytes.
    exhausted: bool,
    chunking: Option<Chunking>,
    stats: InputStats,
    /// Link type (legacy) and timestamp unit.
    legacy_link: LinkType,
    legacy_nanos: bool,
    /// Byte order of the legacy file / the current pcapng section.
    legacy_be: bool,
    section_be: bool,
    ifaces: Vec<Iface>,
    next_index: u64,
    last_ts: Timestamp,
    done: bool,
    warnings_dropped: u64,
    /// Bytes of the last returned frame's block, consumed on the next call.
    pending_consume: usize,
    read_error: ErrorSlot,
    /// With [`FileSource::open_hashed`]: the digest so far and the file's
    /// length when opened.
    digest: Option<(DigestSlot, u64)>,
    /// Read whole buffered records in place ([`FileSource::buffered_record`],
    /// [`FileSource::buffered_packet_block`]); off only in tests, to hold
    /// those paths to the general one.
    in_place: bool,
}

impl FileSource {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> &InputStats {
        &self.stats
    }

    /// Take the statistics (at the end of the input).
    pub fn into_stats(mut self) -> InputStats {
        if self.warnings_dropped > 0 {
            let offset = self.offset();
            self.stats.warnings.push(CaptureWarning {
                offset,
                message: format!("{} more warnings not shown", self.warnings_dropped),
            });
        }
        if let Some((slot, len)) = self.digest.take() {
            // Only a digest of the whole file names it.
            let d = std::mem::take(&mut *slot.lock().unwrap_or_else(|e| e.into_inner()));
            if d.bytes == len {
                self.stats.sha256 = Some(hex::encode(d.sha.finalize()));
            }
        }
        self.stats
    }

    /// The number the next frame read will get (Wireshark numbering).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Bytes of the (decompressed) input consumed so far.
    pub fn position(&self) -> u64 {
        self.offset()
    }

    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Switch to chunked reading: when the buffer is full, it is set aside
    /// whole (see [`FileSource::retired`]) and reading goes on in a buffer
    /// from `supply`, which may block until one is free (that is what
    /// bounds memory).
    pub fn chunked(mut self, buffer_bytes: usize, supply: BufferSupply) -> FileSource {
        // Called before reading: the buffer holds at most the sniffed head.
        self.buf.resize(buffer_bytes.max(self.end).max(64), 0);
        self.chunking = Some(Chunking {
            supply,
            retired: Vec::new(),
            buffer_bytes: buffer_bytes.max(64),
        });
        self
    }

    /// Chunked mode: whether a buffer was set aside since [`FileSource::retired`] was last called.
    #[inline]
    pub fn has_retired(&self) -> bool {
        self.chunking
            .as_ref()
            .is_some_and(|c| !c.retired.is_empty())
    }

    /// Chunked mode: buffers set aside since the last call, oldest first.
    /// Every frame returned before the buffer changed lies in the first.
    pub fn retired(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.chunking
            .as_mut()
            .map(|c| c.retired.drain(..))
            .into_iter()
            .flatten()
    }

    /// Chunked mode: set the current buffer aside now (the bytes not yet
    /// consumed move to a fresh one), so that every frame returned so far
    /// can be shared. A copy of up to one buffer: for rare barriers only.
    pub fn retire_current(&mut self) {
        self.start += std::mem::take(&mut self.pending_consume);
        self.shift();
    }

    /// Like [`FileSource::next_frame`], with the whole buffer the frame
    /// lies in, so that its bytes can be located by offset (chunked mode).
    pub fn next_frame_in_buffer(&mut self) -> Result<Option<(Frame<'_>, &[u8])>, CaptureError> {
        Ok(self.advance()?.map(|(frame, range)| {
            let data = self.buf.get(range).unwrap_or(&[]);
            (Frame { data, ..frame }, &self.buf[..])
        }))
    }

    fn warn(&mut self, offset: u64, message: String) {
        if self.stats.warnings.len() < MAX_WARNINGS {
            self.stats.warnings.push(CaptureWarning { offset, message });
        } else {
            self.warnings_dropped += 1;
        }
    }

    fn note_link(&mut self, link: LinkType) {
        if !self.stats.link_types.contains(&link) {
            self.stats.link_types.push(link);
        }
    }

    /// The next frame, `Ok(None)` at the end of the input (including after
    /// damage, which is recorded as a warning). `Err` only for an I/O error.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        Ok(self.advance()?.map(|(frame, range)| Frame {
            data: self.buf.get(range).unwrap_or(&[]),
            ..frame
        }))
    }

    /// The next frame without its bytes, and where they are in `buf`.
    fn advance(
        &mut self,
    ) -> Result<Option<(Frame<'static>, std::ops::Range<usize>)>, CaptureError> {
        // The previous frame borrowed the buffer; release it only now.
        self.start += std::mem::take(&mut self.pending_consume);
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(record) = self.buffered_record() {
                self.pending_consume = record.bytes;
                self.stats.packets += 1;
                let data = self.start + LEGACY_RECORD_HEADER..self.start + record.bytes;
                return Ok(Some(self.legacy_frame(
                    record.ts_sec,
                    record.ts_frac,
                    record.caplen,
                    record.origlen,
                    data,
                )));
            }
            let offset = self.offset();
            let base = self.buf.as_ptr() as usize;
            let step = match self.buffered_packet_block() {
                Some((len, info)) => Step::Block(len, info),
                None => step_of(self.next_block(), base),
            };
            match step {
                Step::Block(len, info) => {
                    if let Some(found) = self.frame_of(info, offset) {
                        self.pending_consume = len;
                        self.stats.packets += 1;
                        return Ok(Some(found));
                    }
                    self.start += len;
                }
                Step::Refill => self.refill(offset)?,
                Step::Grow => {
                    // The parser says only that the next record does not
                    // fit; its length field says by how much.
                    let capacity = self.buf.len();
                    let announced = self.next_record_len();
                    let target = announced
                        .map_or(capacity * 2, |(_, n)| n.next_power_of_two())
                        .max(capacity * 2);
                    let grew = announced.is_none_or(|(_, n)| n <= MAX_RECORD_BYTES)
                        && target <= MAX_RECORD_BYTES;
                    if grew {
                        self.buf.resize(target, 0);
                        self.refill(offset)?;
                    } else {
                        self.warn(
                            offset,
                            format!(
                                "record {}longer than {} MiB (damaged length field); stopped reading here, frames before it were read",
                                announced.map_or(String::new(), |(field, _)| format!("of {field} bytes, ")),
                                MAX_RECORD_BYTES >> 20
                            ),
                        );
                        self.done = true;
                    }
                }
                Step::Eof => {
                    self.done = true;
                    self.stats.bytes = offset;
                }
                Step::CutShort => {
                    self.warn(
                        offset,
                        "file cut short in the middle of a record; frames before it were read"
                            .into(),
                    );
                    self.done = true;
                    self.stats.bytes = offset;
                }
                Step::Damaged(what) => {
                    self.warn(
                        offset,
                        format!("damaged record ({what}); stopped reading here, frames before it were read"),
                    );
                    self.done = true;
                    self.stats.bytes = offset;
                }
            }
        }
    }

    /// The classic pcap record at the head of the buffer when it is
    /// buffered whole: its header fields read in place, as pcap-parser's
    /// `parse_pcap_frame` reads them. This is nearly every record of a
    /// classic pcap, and the general path below (a parse into an owned
    /// block description, then a match on it) cost about 230 instructions
    /// a frame, a third of the reading thread's (`-j 2`). Anything else (the
    /// file header, a record cut by the buffer's end, the end of the input,
    /// damage, pcapng, the "modified" variant) takes the general path.
    #[inline]
    fn buffered_record(&self) -> Option<LegacyRecord> {
        let Layout::Legacy {
            header_given: true,
            plain_be: Some(big_endian),
            ..
        } = self.layout
        else {
            return None;
        };
        if !self.in_place {
            return None;
        }
        let data = self.buf.get(self.start..self.end)?;
        let header: &[u8; LEGACY_RECORD_HEADER] = data.first_chunk()?;
        let field = |at: usize| word_at(header, at, big_endian);
        let caplen = field(8);
        let bytes = LEGACY_RECORD_HEADER.checked_add(caplen as usize)?;
        (bytes <= data.len()).then(|| LegacyRecord {
            bytes,
            ts_sec: field(0),
            ts_frac: field(4),
            caplen,
            origlen: field(12),
        })
    }

    /// The pcapng enhanced packet block at the head of the buffer when it
    /// is buffered whole and has no options, with the bytes it takes: its
    /// fields read in place, as pcap-parser's `parse_enhancedpacketblock_le`
    /// and `_be` read them, with the packet data padded to 32 bits as they
    /// give it. Most packet blocks that capture tools write look like this,
    /// and the general path costs what it does for classic records. Any
    /// other block, one with options, one cut by the buffer's end, or one
    /// whose lengths pcap-parser would reject or wait on, takes the general
    /// path.
    #[inline]
    fn buffered_packet_block(&self) -> Option<(usize, BlockInfo)> {
        if !matches!(self.layout, Layout::Ng) || !self.in_place {
            return None;
        }
        let data = self.buf.get(self.start..self.end)?;
        let header: &[u8; EPB_HEADER] = data.first_chunk()?;
        let big_endian = self.section_be;
        let field = |at: usize| word_at(header, at, big_endian);
        if field(0) != EPB_TYPE {
            return None;
        }
        let caplen = field(20);
        // pcap-parser refuses these (its padding would overflow).
        if caplen >= u32::MAX - 4 {
            return None;
        }
        let padded = (caplen as usize + 3) & !3;
        let len = EPB_FRAMING + padded;
        if field(4) as usize != len {
            return None;
        }
        let trailer: &[u8; 4] = data.get(len - 4..len)?.try_into().ok()?;
        if word_at(trailer, 0, big_endian) as usize != len {
            return None;
        }
        let at = self.start + EPB_HEADER;
        Some((
            len,
            BlockInfo::Enhanced {
                if_id: field(8),
                ts: (u64::from(field(12)) << 32) | u64::from(field(16)),
                caplen,
                origlen: field(24),
                range: at..at + padded,
            },
        ))
    }

    /// Parse the record at the head of the buffer: a block and the bytes it
    /// takes, or why not (more input needed, a bigger buffer, the end, damage).
    fn next_block(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        let data = &self.buf[self.start..self.end];
        if let Layout::Legacy {
            header_given: header_given @ false,
            ..
        } = &mut self.layout
        {
            *header_given = true;
            return match parse_pcap_header(data) {
                Ok((rem, h)) => Ok((data.offset(rem), PcapBlockOwned::from(h))),
                Err(e) => Err(nom_error(e)),
            };
        }
        if data.is_empty() && self.exhausted {
            return Err(PcapError::Eof);
        }
        let parsed = match self.layout {
            Layout::Legacy { parse, .. } => {
                parse(data).map(|(rem, b)| (rem, PcapBlockOwned::from(b)))
            }
            Layout::Ng => {
                let parse = if self.section_be {
                    parse_block_be
                } else {
                    parse_block_le
                };
                parse(data).map(|(rem, b)| (rem, PcapBlockOwned::from(b)))
            }
        };
        match parsed {
            Ok((rem, block)) => Ok((data.offset(rem), block)),
            Err(nom::Err::Incomplete(_)) if self.exhausted => Err(PcapError::UnexpectedEof),
            Err(nom::Err::Incomplete(Needed::Size(n)))
                if data.len() + n.get() >= self.buf.len() =>
            {
                Err(PcapError::BufferTooSmall)
            }
            Err(nom::Err::Incomplete(_)) => Err(PcapError::Incomplete(0)),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e),
        }
    }

    /// The length field of the record at the head of the buffer, and the
    /// bytes that record then takes (header included); `None` when that is
    /// not buffered.
    fn next_record_len(&self) -> Option<(u32, usize)> {
        let data = &self.buf[self.start..self.end];
        let (header, at, big_endian) = match self.layout {
            Layout::Legacy { .. } => (LEGACY_RECORD_HEADER, 8, self.legacy_be),
            Layout::Ng => (0, 4, self.section_be),
        };
        let field: &[u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        let len = word_at(field, 0, big_endian);
        Some((len, header + len as usize))
    }

    /// Make room if the buffer is full, then read once more into it.
    fn fill(&mut self) -> io::Result<()> {
        if self.end == self.buf.len() {
            self.shift();
        }
        let n = self.reader.read(&mut self.buf[self.end..])?;
        self.exhausted = n == 0;
        self.end += n;
        Ok(())
    }

    /// Drop the consumed bytes from the buffer: move the rest to its front,
    /// or in chunked mode set the buffer aside and go on in a fresh one.
    fn shift(&mut self) {
        if self.start == 0 {
            return;
        }
        let tail = self.end - self.start;
        if let Some(chunking) = &mut self.chunking {
            let mut fresh = (chunking.supply)();
            // The usual size, or what the unread tail needs (a record that
            // does not fit grows it again through the Grow path).
            let size = chunking.buffer_bytes.max(tail);
            if fresh.len() > size {
                fresh.truncate(size);
                fresh.shrink_to_fit();
            }
            fresh.resize(size, 0);
            fresh[..tail].copy_from_slice(&self.buf[self.start..self.end]);
            chunking
                .retired
                .push(std::mem::replace(&mut self.buf, fresh));
        } else {
            self.buf.copy_within(self.start..self.end, 0);
        }
        self.base += self.start as u64;
        self.start = 0;
        self.end = tail;
    }

    fn refill(&mut self, offset: u64) -> Result<(), CaptureError> {
        if self.fill().is_ok() {
            return Ok(());
        }
        let source = self
            .read_error
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .unwrap_or_else(|| io::Error::other("read failed"));
        // A gzip stream cut short or damaged is damage inside the input, like
        // a pcap cut short: keep the frames read so far and say so. Anything
        // else is an I/O failure of the medium (exit 2).
        let damaged = self.stats.gzip
            && matches!(
                source.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
            );
        if damaged {
            self.warn(
                offset,
                format!("gzip stream damaged or cut short ({source}); stopped reading here, frames before it were read"),
            );
            self.done = true;
            self.stats.bytes = offset;
            return Ok(());
        }
        Err(CaptureError::Read {
            path: self.path.clone(),
            offset,
            source,
        })
    }

    /// Turn an owned block description into a frame (for packet blocks) or
    /// update the section/interface state (for the others).
    fn frame_of(
        &mut self,
        info: BlockInfo,
        offset: u64,
    ) -> Option<(Frame<'static>, std::ops::Range<usize>)> {
        match info {
            BlockInfo::LegacyHeader {
                link,
                nanos,
                big_endian,
            } => {
                self.legacy_be = big_endian;
                self.legacy_link = link;
                self.legacy_nanos = nanos;
                self.note_link(link);
                None
            }
            BlockInfo::Legacy {
                ts_sec,
                ts_frac,
                caplen,
                origlen,
                range,
            } => Some(self.legacy_frame(ts_sec, ts_frac, caplen, origlen, range)),
            BlockInfo::Section { big_endian } => {
                self.section_be = big_endian;
                self.ifaces.clear();
                None
            }
            BlockInfo::Interface {
                link,
                resolution,
                offset_secs,
            } => {
                let resolution = match resolution {
                    Some(r) if r > 0 => r,
                    _ => {
                        self.warn(offset, "interface with an unusable timestamp resolution; assuming microseconds".into());
                        1_000_000
                    }
                };
                self.ifaces.push(Iface {
                    link,
                    resolution,
                    offset_secs,
                });
                self.note_link(link);
                None
            }
            BlockInfo::Enhanced {
                if_id,
                ts,
                caplen,
                origlen,
                range,
            } => {
                let Some(iface) = self.ifaces.get(if_id as usize).copied() else {
                    let index = self.next_index;
                    self.next_index += 1;
                    self.warn(
                        offset,
                        format!("frame {index} names interface {if_id}, which has no description block; skipped"),
                    );
                    return None;
                };
                let res = u128::from(iface.resolution);
                // Both the count and if_tsoffset come from the file: saturate.
                let secs = i64::try_from(u128::from(ts) / res)
                    .unwrap_or(i64::MAX)
                    .saturating_add(iface.offset_secs);
                let nanos = ((u128::from(ts) % res) * 1_000_000_000 / res) as u32;
                Some(self.make_frame(
                    Timestamp::new(secs, nanos),
                    iface.link,
                    caplen,
                    origlen,
                    range,
                ))
            }
            BlockInfo::Simple { origlen, range } => {
                let Some(iface) = self.ifaces.first().copied() else {
                    self.next_index += 1;
                    return None;
                };
                // A simple packet block's data is padded to 32 bits too;
                // what was captured is at most the original length.
                let caplen = (range.len() as u32).min(origlen);
                Some(self.make_frame(self.last_ts, iface.link, caplen, origlen, range))
            }
            BlockInfo::Other => None,
        }
    }

    /// A classic pcap record's frame: its timestamp in the file's unit, its
    /// link type the file header's.
    fn legacy_frame(
        &mut self,
        ts_sec: u32,
        ts_frac: u32,
        caplen: u32,
        origlen: u32,
        range: std::ops::Range<usize>,
    ) -> (Frame<'static>, std::ops::Range<usize>) {
        let nanos = if self.legacy_nanos {
            ts_frac
        } else {
            ts_frac.saturating_mul(1000)
        };
        let ts = Timestamp::new(i64::from(ts_sec), nanos);
        self.make_frame(ts, self.legacy_link, caplen, origlen, range)
    }

    fn make_frame(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        caplen: u32,
        origlen: u32,
        range: std::ops::Range<usize>,
    ) -> (Frame<'static>, std::ops::Range<usize>) {
        let index = self.next_index;
        self.next_index += 1;
        self.last_ts = ts;
        let caplen = caplen.min(range.len() as u32);
        // pcapng pads packet data to 32 bits: the padding was not captured.
        let range = range.start..range.start + caplen as usize;
        (
            Frame {
                index,
                ts,
                link,
                caplen,
                origlen: origlen.max(caplen),
                data: &[],
            },
            range,
        )
    }
}

#[cfg(test)]
mod tests;
