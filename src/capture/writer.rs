//! A minimal classic-pcap writer (microsecond timestamps) for `live --write`:
//! the evidence packets go with the ticket, readable by any tool.

use std::io::{self, Write};

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
}
