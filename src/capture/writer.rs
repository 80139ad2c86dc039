//! A minimal classic-pcap writer (microsecond timestamps) for `live --write`:
//! the evidence packets go with the ticket, readable by any tool. And
//! [`PcapRing`], the file (or ring of files, like dumpcap's ring buffer)
//! `--write` fills for days: rotated by size, oldest deleted, re-opened on
//! SIGHUP for logrotate.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Frame, LinkType};

/// Writes frames of one link type to a pcap stream.
pub struct PcapWriter<W: Write> {
    out: W,
    link: LinkType,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header. `snaplen` is the largest frame that will be written.
    pub fn new(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&link.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, link })
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    pub fn write(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(frame.ts.secs as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(frame.ts.nanos / 1000).to_le_bytes());
        h[8..12].copy_from_slice(&(frame.data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&frame.origlen.max(frame.data.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(frame.data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Size of a pcap file header.
const FILE_HEADER_LEN: u64 = 24;
/// Size of a pcap record header.
const RECORD_HEADER_LEN: u64 = 16;

/// How `--write` keeps packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingOptions {
    /// `--write FILE`.
    pub path: PathBuf,
    /// `--write-max-mib`: start a new file past this size; None = one file.
    pub max_bytes: Option<u64>,
    /// `--write-files`: keep at most this many files (the oldest is
    /// deleted); None = keep all.
    pub max_files: Option<usize>,
}

/// The pcap file (single file mode) or ring of files `--write` fills.
///
/// Single file: `FILE` itself, truncated when the run starts; re-opening
/// appends to it, or starts it again when logrotate moved it away. Ring: `STEM_00001.EXT`,
/// `STEM_00002.EXT`, … (numbered from 1 in each run), a new one when the
/// current would exceed `max_bytes` or on re-open, the oldest deleted past
/// `max_files`.
pub struct PcapRing {
    opts: RingOptions,
    link: LinkType,
    snaplen: u32,
    current: Option<PcapWriter<BufWriter<File>>>,
    /// Bytes in the current file.
    written: u64,
    /// Number of the last ring file started.
    seq: u64,
    /// Ring files of this run still on disk, oldest first.
    files: VecDeque<PathBuf>,
}

impl PcapRing {
    /// Open the first file (so a bad path fails before the capture starts).
    pub fn open(opts: RingOptions, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut ring = PcapRing {
            opts,
            link,
            snaplen,
            current: None,
            written: 0,
            seq: 0,
            files: VecDeque::new(),
        };
        ring.start_file()?;
        Ok(ring)
    }

    /// The file being written.
    pub fn current_path(&self) -> PathBuf {
        if self.opts.max_bytes.is_none() {
            return self.opts.path.clone();
        }
        ring_file_name(&self.opts.path, self.seq)
    }

    fn start_file(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.current.take() {
            w.flush()?;
        }
        if self.opts.max_bytes.is_some() {
            self.seq += 1;
            let path = ring_file_name(&self.opts.path, self.seq);
            let f = File::create(&path)?;
            self.files.push_back(path);
            while self
                .opts
                .max_files
                .is_some_and(|max| self.files.len() > max.max(1))
            {
                if let Some(old) = self.files.pop_front() {
                    // Already gone (removed by hand): nothing to free.
                    let _ = std::fs::remove_file(old);
                }
            }
            self.current = Some(PcapWriter::new(BufWriter::new(f), self.link, self.snaplen)?);
            self.written = FILE_HEADER_LEN;
        } else {
            // A run starts its file afresh (as before rotation existed); a
            // re-open appends, or starts again when the file was moved.
            let first = self.seq == 0;
            self.seq += 1;
            let f = if first {
                File::create(&self.opts.path)?
            } else {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.opts.path)?
            };
            let len = f.metadata()?.len();
            let out = BufWriter::new(f);
            self.current = Some(if len == 0 {
                PcapWriter::new(out, self.link, self.snaplen)?
            } else {
                PcapWriter {
                    out,
                    link: self.link,
                }
            });
            self.written = len.max(FILE_HEADER_LEN);
        }
        Ok(())
    }

    /// Append a frame, starting the next ring file first when it would not fit.
    pub fn write(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        let size = RECORD_HEADER_LEN + frame.data.len() as u64;
        if let Some(max) = self.opts.max_bytes {
            if self.written > FILE_HEADER_LEN && self.written + size > max {
                self.start_file()?;
            }
        }
        let w = match self.current.as_mut() {
            Some(w) => w,
            None => {
                // A failed rotation left no file: try again now.
                self.start_file()?;
                self.current
                    .as_mut()
                    .ok_or_else(|| io::Error::other("no pcap file open"))?
            }
        };
        w.write(frame)?;
        self.written += size;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// SIGHUP: close the current file and open it again (single file: the
    /// same name, new if it was moved; ring: the next file).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.start_file()
    }
}

/// `dir/audited.pcap`, 3 → `dir/audited_00003.pcap`.
fn ring_file_name(path: &Path, seq: u64) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "tlsaudit".into(), |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}_{seq:05}.{}", ext.to_string_lossy()),
        None => format!("{stem}_{seq:05}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::FileSource;
    use crate::capture::Timestamp;

    #[test]
    fn written_frames_read_back_identically() {
        let mut buf = Vec::new();
        {
            let mut w = PcapWriter::new(&mut buf, LinkType::ETHERNET, 65535).unwrap();
            for i in 0..3u8 {
                let data = vec![i; 60 + usize::from(i)];
                w.write(&Frame {
                    index: u64::from(i) + 1,
                    ts: Timestamp::new(1_700_000_000 + i64::from(i), 123_456_000),
                    link: LinkType::ETHERNET,
                    caplen: data.len() as u32,
                    origlen: data.len() as u32,
                    data: &data,
                })
                .unwrap();
            }
        }
        let mut src =
            FileSource::from_reader(Box::new(std::io::Cursor::new(buf)), "mem".into()).unwrap();
        let mut n = 0u8;
        while let Some(f) = src.next_frame().unwrap() {
            assert_eq!(f.data, vec![n; 60 + usize::from(n)].as_slice());
            assert_eq!(f.ts.nanos, 123_456_000);
            assert_eq!(f.index, u64::from(n) + 1);
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(src.stats().warnings.is_empty());
    }

    fn frame(i: u64, data: &[u8]) -> Frame<'_> {
        Frame {
            index: i,
            ts: Timestamp::new(1_700_000_000 + i as i64, 0),
            link: LinkType::ETHERNET,
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            data,
        }
    }

    /// Frames in a pcap file, checked readable to the end.
    fn frames_in(path: &Path) -> usize {
        let mut src = FileSource::open(path).expect("open");
        let mut n = 0;
        while src.next_frame().expect("read").is_some() {
            n += 1;
        }
        assert!(src.stats().warnings.is_empty(), "{path:?}");
        n
    }

    #[test]
    fn ring_rotates_by_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = RingOptions {
            path: dir.path().join("audited.pcap"),
            max_bytes: Some(1000),
            max_files: Some(3),
        };
        let mut ring = PcapRing::open(opts, LinkType::ETHERNET, 65535).expect("open");
        let data = [7u8; 184]; // 200 bytes a record: 4 per 1000-byte file
        for i in 1..=30 {
            ring.write(&frame(i, &data)).expect("write");
        }
        ring.flush().expect("flush");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // 30 frames, 4 a file: files 1..=8, the newest 3 kept.
        assert_eq!(
            names,
            [
                "audited_00006.pcap",
                "audited_00007.pcap",
                "audited_00008.pcap"
            ]
        );
        for n in &names {
            let len = std::fs::metadata(dir.path().join(n)).expect("meta").len();
            assert!(len <= 1000, "{n}: {len} bytes");
        }
        let counts: Vec<usize> = names
            .iter()
            .map(|n| frames_in(&dir.path().join(n)))
            .collect();
        assert_eq!(counts, [4, 4, 2]);
    }

    #[test]
    fn single_file_reopen_appends_or_starts_again_after_logrotate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audited.pcap");
        let opts = RingOptions {
            path: path.clone(),
            max_bytes: None,
            max_files: None,
        };
        let mut ring = PcapRing::open(opts, LinkType::ETHERNET, 65535).expect("open");
        ring.write(&frame(1, &[1; 60])).expect("write");
        ring.reopen().expect("reopen in place");
        ring.write(&frame(2, &[2; 60])).expect("write");
        ring.flush().expect("flush");
        assert_eq!(
            frames_in(&path),
            2,
            "re-opened in place: appended, one header"
        );
        let rotated = dir.path().join("audited.pcap.1");
        std::fs::rename(&path, &rotated).expect("rotate");
        ring.reopen().expect("reopen after rotation");
        ring.write(&frame(3, &[3; 60])).expect("write");
        ring.flush().expect("flush");
        assert_eq!(frames_in(&rotated), 2);
        assert_eq!(frames_in(&path), 1, "a new file with its own header");
    }
}
