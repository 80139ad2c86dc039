//! Opening an input: the path or stdin, gzip detected by magic, the head
//! sniffed and replayed, the bytes hashed while read when asked, and the
//! file header read completely before parsing starts.

use super::*;

/// A reader that first replays bytes already read (the sniffed head).
pub(super) struct Prefixed<R> {
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
pub(super) fn fill_to(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
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

pub(super) type BoxRead = Box<dyn Read + Send>;

/// Pipe buffer asked for when reading stdin (`/proc/sys/fs/pipe-max-size`'s
/// default: what an unprivileged process may set).
pub(super) const PIPE_BYTES: usize = 1 << 20;

/// The last I/O error of the underlying stream. pcap-parser reduces any
/// read error to `PcapError::ReadError`; this keeps the real one so the
/// message can name it and a damaged gzip stream can be told from a failing
/// disk.
pub(super) type ErrorSlot = std::sync::Arc<std::sync::Mutex<Option<io::Error>>>;

/// A reader that records its last error in an [`ErrorSlot`].
pub(super) struct Recording {
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
pub(super) struct InputDigest {
    pub(super) sha: Sha256,
    pub(super) bytes: u64,
}

pub(super) type DigestSlot = std::sync::Arc<std::sync::Mutex<InputDigest>>;

/// A reader that feeds every byte it returns into an [`InputDigest`].
pub(super) struct Hashing {
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

impl FileSource {
    /// Open a capture file by path (`-` = stdin).
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        if path.as_os_str() == "-" {
            let stdin = io::stdin();
            // A pipe's default 64 KiB means a wake-up of this reader per
            // 64 KiB written; ask for the unprivileged maximum (1 MiB). Not
            // a pipe, or not allowed: reading works the same, only slower.
            // Through rustix, not `libc::fcntl`: that needs `unsafe`, which
            // the crate allows only in the live-capture ring.
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
                    plain_be: (!h.is_modified_format()).then(|| h.is_bigendian()),
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
            in_place: true,
        })
    }
}
