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
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// A reader that first replays bytes already read (the sniffed head).
struct Prefixed<R> {
    head: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.head.len() {
                self.head = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Read until `buf` holds `want` bytes or EOF. Returns what it holds.
fn fill_to(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    while buf.len() < want {
        let need = (want - buf.len()).min(chunk.len());
        match r.read(&mut chunk[..need]) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

type BoxRead = Box<dyn Read + Send>;

/// Pipe buffer asked for when reading stdin (`/proc/sys/fs/pipe-max-size`'s
/// default: what an unprivileged process may set).
const PIPE_BYTES: usize = 1 << 20;

/// The last I/O error of the underlying stream. pcap-parser reduces any
/// read error to `PcapError::ReadError`; this keeps the real one so the
/// message can name it and a damaged gzip stream can be told from a failing
/// disk.
type ErrorSlot = std::sync::Arc<std::sync::Mutex<Option<io::Error>>>;

/// A reader that records its last error in an [`ErrorSlot`].
struct Recording {
    inner: BoxRead,
    slot: ErrorSlot,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                // pcap-parser does not retry on EINTR: do it here.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    if let Ok(mut slot) = self.slot.lock() {
                        *slot = Some(copy);
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

/// SHA-256 of the file's bytes as they are read (below any gzip layer),
/// for the ticket's input hash: one pass over the file, not two.
#[derive(Default)]
struct InputDigest {
    sha: Sha256,
    bytes: u64,
}

type DigestSlot = std::sync::Arc<std::sync::Mutex<InputDigest>>;

/// A reader that feeds every byte it returns into an [`InputDigest`].
struct Hashing {
    inner: File,
    slot: DigestSlot,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut d) = self.slot.lock() {
            d.sha.update(&buf[..n]);
            d.bytes += n as u64;
        }
        Ok(n)
    }
}

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
    },
    /// pcapng; each block's byte order is its section's.
    Ng,
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
}

impl FileSource {
    /// Open a capture file by path (`-` = stdin).
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        if path.as_os_str() == "-" {
            let stdin = io::stdin();
            // A pipe's default 64 KiB means a wake-up of this reader per
            // 64 KiB written; ask for the unprivileged maximum (1 MiB). Not
            // a pipe, or not allowed: reading works the same, only slower.
            let _ = rustix::pipe::fcntl_setpipe_size(&stdin, PIPE_BYTES);
            return FileSource::from_reader(Box::new(stdin), PathBuf::from("-"));
        }
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        FileSource::from_reader(Box::new(file), path.to_path_buf())
    }

    /// Like [`FileSource::open`], and also take the SHA-256 of the file as
    /// it is read: [`InputStats::sha256`] has it once the whole file was
    /// read (not when reading stopped early at damage, nor for stdin).
    pub fn open_hashed(path: &Path) -> Result<FileSource, CaptureError> {
        if path.as_os_str() == "-" {
            return FileSource::open(path);
        }
        let open_err = |source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        let len = file.metadata().map_err(open_err)?.len();
        let slot = DigestSlot::default();
        let hashing = Hashing {
            inner: file,
            slot: slot.clone(),
        };
        let mut source = FileSource::from_reader(Box::new(hashing), path.to_path_buf())?;
        source.digest = Some((slot, len));
        Ok(source)
    }

    /// Open any byte stream holding a capture; `name` is used in messages.
    pub fn from_reader(mut raw: BoxRead, name: PathBuf) -> Result<FileSource, CaptureError> {
        let read_err = |path: &Path, source| CaptureError::Read {
            path: path.to_path_buf(),
            offset: 0,
            source,
        };
        let mut head = Vec::with_capacity(64);
        fill_to(&mut *raw, &mut head, 4).map_err(|e| read_err(&name, e))?;
        let mut gzip = false;
        let mut stream: BoxRead = if head.starts_with(&GZIP_MAGIC) {
            gzip = true;
            let decoder = MultiGzDecoder::new(Prefixed {
                head,
                pos: 0,
                inner: raw,
            });
            head = Vec::with_capacity(64);
            Box::new(decoder)
        } else {
            raw
        };
        fill_to(&mut *stream, &mut head, 12).map_err(|e| read_err(&name, e))?;
        if head.len() < 4 {
            return Err(CaptureError::NotACapture {
                path: name,
                reason: if head.is_empty() {
                    "the input is empty".into()
                } else {
                    format!("only {} bytes", head.len())
                },
            });
        }
        let magic: [u8; 4] = [head[0], head[1], head[2], head[3]];
        let (format, want) = if magic == PCAPNG_SHB {
            if head.len() < 12 {
                return Err(CaptureError::NotACapture {
                    path: name,
                    reason: "pcapng section header cut short".into(),
                });
            }
            // Block length is in the section's byte order, given by the BOM at 8..12.
            let len_bytes = [head[4], head[5], head[6], head[7]];
            let len = if head[8..12] == [0x4d, 0x3c, 0x2b, 0x1a] {
                u32::from_le_bytes(len_bytes)
            } else {
                u32::from_be_bytes(len_bytes)
            } as usize;
            if !(28..=MAX_RECORD_BYTES).contains(&len) {
                return Err(CaptureError::NotACapture {
                    path: name,
                    reason: format!("pcapng section header with impossible length {len}"),
                });
            }
            (CaptureFormat::PcapNg, len)
        } else if PCAP_MAGICS.contains(&magic) {
            (CaptureFormat::Pcap, 24)
        } else {
            return Err(CaptureError::NotACapture {
                path: name,
                reason: describe_magic(&head),
            });
        };
        fill_to(&mut *stream, &mut head, want).map_err(|e| read_err(&name, e))?;
        if head.len() < want {
            return Err(CaptureError::NotACapture {
                path: name,
                reason: format!(
                    "{} file header cut short ({} of {want} bytes)",
                    format.name(),
                    head.len()
                ),
            });
        }
        let read_error = ErrorSlot::default();
        let reader: BoxRead = Box::new(Recording {
            inner: stream,
            slot: read_error.clone(),
        });
        let not_capture = |path: PathBuf, e: PcapError<&[u8]>| CaptureError::NotACapture {
            path,
            reason: format!("header rejected: {e:?}"),
        };
        // The whole file header is in `head`: check it here, so a rejected
        // header is "not a capture" (exit 2), not damage found later.
        let layout = match format {
            CaptureFormat::PcapNg => match parse_sectionheaderblock(&head) {
                Ok(_) => Layout::Ng,
                Err(e) => return Err(not_capture(name, nom_error(e))),
            },
            _ => match parse_pcap_header(&head) {
                Ok((_, h)) => Layout::Legacy {
                    parse: if h.is_modified_format() {
                        parse_pcap_frame_modified
                    } else if h.is_bigendian() {
                        parse_pcap_frame_be
                    } else {
                        parse_pcap_frame
                    },
                    header_given: false,
                },
                Err(e) => return Err(not_capture(name, nom_error(e))),
            },
        };
        Ok(FileSource {
            path: name,
            reader,
            layout,
            // The sniffed head is the start of the buffer.
            buf: {
                let mut buf = vec![0; READ_BUFFER_BYTES.max(head.len())];
                buf[..head.len()].copy_from_slice(&head);
                buf
            },
            start: 0,
            end: head.len(),
            base: 0,
            exhausted: false,
            chunking: None,
            stats: InputStats {
                format: Some(format),
                gzip,
                ..InputStats::default()
            },
            legacy_link: LinkType::ETHERNET,
            legacy_nanos: false,
            legacy_be: false,
            section_be: false,
            ifaces: Vec::new(),
            next_index: 1,
            last_ts: Timestamp::default(),
            done: false,
            warnings_dropped: 0,
            pending_consume: 0,
            read_error,
            digest: None,
        })
    }

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
            let offset = self.offset();
            let base = self.buf.as_ptr() as usize;
            let step = step_of(self.next_block(), base);
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
            Layout::Legacy { .. } => (16, 8, self.legacy_be),
            Layout::Ng => (0, 4, self.section_be),
        };
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        let len = if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
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
            } => {
                let nanos = if self.legacy_nanos {
                    ts_frac
                } else {
                    ts_frac.saturating_mul(1000)
                };
                let ts = Timestamp::new(i64::from(ts_sec), nanos);
                Some(self.make_frame(ts, self.legacy_link, caplen, origlen, range))
            }
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
                let caplen = range.len() as u32;
                Some(self.make_frame(self.last_ts, iface.link, caplen, origlen, range))
            }
            BlockInfo::Other => None,
        }
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

/// The error inside a nom result (parsers given whole input never say Incomplete).
fn nom_error(e: nom::Err<PcapError<&[u8]>>) -> PcapError<&[u8]> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => PcapError::UnexpectedEof,
    }
}

/// What one parse at the head of the buffer means, with no borrow of it.
enum Step {
    Block(usize, BlockInfo),
    Refill,
    Grow,
    Eof,
    CutShort,
    Damaged(String),
}

/// Owned description of a block; packet data as a range into the source's
/// current buffer (valid until the block is consumed).
enum BlockInfo {
    LegacyHeader {
        link: LinkType,
        nanos: bool,
        big_endian: bool,
    },
    Legacy {
        ts_sec: u32,
        ts_frac: u32,
        caplen: u32,
        origlen: u32,
        range: std::ops::Range<usize>,
    },
    Section {
        big_endian: bool,
    },
    Interface {
        link: LinkType,
        resolution: Option<u64>,
        offset_secs: i64,
    },
    Enhanced {
        if_id: u32,
        ts: u64,
        caplen: u32,
        origlen: u32,
        range: std::ops::Range<usize>,
    },
    Simple {
        origlen: u32,
        range: std::ops::Range<usize>,
    },
    Other,
}

fn range_in(base: usize, data: &[u8]) -> std::ops::Range<usize> {
    let start = (data.as_ptr() as usize).saturating_sub(base);
    start..start + data.len()
}

fn step_of(res: Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>>, base: usize) -> Step {
    match res {
        Ok((len, block)) => {
            let info = match block {
                PcapBlockOwned::LegacyHeader(h) => BlockInfo::LegacyHeader {
                    // The upper bits of the field carry FCS-length flags, not the type.
                    link: LinkType(h.network.0 as u32 & 0xffff),
                    nanos: h.is_nanosecond_precision(),
                    big_endian: h.is_bigendian(),
                },
                PcapBlockOwned::Legacy(b) => BlockInfo::Legacy {
                    ts_sec: b.ts_sec,
                    ts_frac: b.ts_usec,
                    caplen: b.caplen,
                    origlen: b.origlen,
                    range: range_in(base, b.data),
                },
                PcapBlockOwned::NG(Block::SectionHeader(shb)) => BlockInfo::Section {
                    big_endian: shb.big_endian(),
                },
                PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => BlockInfo::Interface {
                    link: LinkType(idb.linktype.0 as u32),
                    resolution: idb.ts_resolution(),
                    offset_secs: idb.ts_offset(),
                },
                PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => BlockInfo::Enhanced {
                    if_id: epb.if_id,
                    ts: (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low),
                    caplen: epb.caplen,
                    origlen: epb.origlen,
                    range: range_in(base, epb.data),
                },
                PcapBlockOwned::NG(Block::SimplePacket(spb)) => BlockInfo::Simple {
                    origlen: spb.origlen,
                    range: range_in(base, spb.data),
                },
                PcapBlockOwned::NG(_) => BlockInfo::Other,
            };
            Step::Block(len, info)
        }
        Err(PcapError::Eof) => Step::Eof,
        Err(PcapError::Incomplete(_)) => Step::Refill,
        Err(PcapError::BufferTooSmall) => Step::Grow,
        Err(PcapError::UnexpectedEof) => Step::CutShort,
        Err(PcapError::ReadError) => Step::Damaged("read error".into()),
        Err(PcapError::HeaderNotRecognized) => Step::Damaged("unrecognised header".into()),
        Err(PcapError::NomError(_, kind)) | Err(PcapError::OwnedNomError(_, kind)) => {
            Step::Damaged(format!("parse error: {kind:?}"))
        }
    }
}

fn describe_magic(head: &[u8]) -> String {
    let hex: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let text = head
        .iter()
        .take(8)
        .all(|b| b.is_ascii_graphic() || *b == b' ');
    if text {
        format!(
            "starts with text {:?}, expected a pcap or pcapng magic number",
            String::from_utf8_lossy(&head[..head.len().min(8)])
        )
    } else {
        format!(
            "unknown magic number {}, expected a pcap or pcapng file",
            hex.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
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
}
