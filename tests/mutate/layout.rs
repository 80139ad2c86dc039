//! Where things are in a capture file: the container's blocks (pcap records,
//! pcapng blocks), the packets in them, and the length fields worth
//! corrupting (pcap caplen, pcapng block length, IPv4 total length, TCP data
//! offset, TLS record length, handshake length), found by parsing, so that
//! the mutations hit the fields parsers trust instead of random bytes only.
//!
//! This parser is deliberately forgiving: on anything it does not
//! understand it stops and returns what it found so far.

use std::ops::Range;

/// The kinds of length field the mutator overwrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    PcapCaplen,
    PcapOrigLen,
    PcapngBlockLen,
    PcapngCaplen,
    Ipv4TotalLen,
    Ipv4Ihl,
    Ipv6PayloadLen,
    TcpDataOffset,
    TlsRecordLen,
    HandshakeLen,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::PcapCaplen => "pcap-caplen",
            FieldKind::PcapOrigLen => "pcap-origlen",
            FieldKind::PcapngBlockLen => "pcapng-blocklen",
            FieldKind::PcapngCaplen => "pcapng-caplen",
            FieldKind::Ipv4TotalLen => "ipv4-totlen",
            FieldKind::Ipv4Ihl => "ipv4-ihl",
            FieldKind::Ipv6PayloadLen => "ipv6-paylen",
            FieldKind::TcpDataOffset => "tcp-doff",
            FieldKind::TlsRecordLen => "tls-reclen",
            FieldKind::HandshakeLen => "hs-len",
        }
    }

    /// Extreme values worth writing into a field of this kind.
    pub fn extremes(self) -> &'static [u64] {
        match self {
            FieldKind::PcapCaplen
            | FieldKind::PcapOrigLen
            | FieldKind::PcapngBlockLen
            | FieldKind::PcapngCaplen => &[
                0,
                1,
                4,
                12,
                0xffff,
                0x1_0000,
                0xff_ffff,
                0x7fff_ffff,
                0xffff_fff0,
                0xffff_ffff,
            ],
            FieldKind::Ipv4TotalLen | FieldKind::Ipv6PayloadLen => {
                &[0, 1, 19, 20, 40, 0x7fff, 0xffff]
            }
            // Whole byte: version/IHL nibbles, or data offset + reserved bits.
            FieldKind::Ipv4Ihl => &[0x40, 0x41, 0x44, 0x4f, 0x00, 0xff],
            FieldKind::TcpDataOffset => &[0x00, 0x10, 0x40, 0x50, 0xf0, 0xff],
            FieldKind::TlsRecordLen => &[0, 1, 0x3fff, 0x4000, 0x4001, 0x4800, 0x7fff, 0xffff],
            FieldKind::HandshakeLen => &[0, 1, 0x3fff, 0x1_0000, 0x4_0000, 0xff_ffff],
        }
    }
}

/// One length field: where, how wide, which byte order.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub kind: FieldKind,
    pub at: usize,
    pub width: usize,
    pub big_endian: bool,
}

impl Field {
    /// Write `value` (truncated to the width) into `bytes`.
    pub fn write(&self, bytes: &mut [u8], value: u64) {
        for i in 0..self.width {
            let shift = if self.big_endian {
                8 * (self.width - 1 - i)
            } else {
                8 * i
            };
            if let Some(b) = bytes.get_mut(self.at + i) {
                *b = (value >> shift) as u8;
            }
        }
    }
}

/// The container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Pcap,
    PcapNg,
    Unknown,
}

/// A parsed file: header, blocks, and the packet blocks among them.
#[derive(Debug, Clone)]
pub struct Layout {
    pub container: Container,
    /// File header bytes (pcap: 24; pcapng: 0, the SHB is a block).
    pub header: Range<usize>,
    /// Every block/record in file order.
    pub blocks: Vec<Range<usize>>,
    /// Indexes into `blocks` of the packet blocks.
    pub packets: Vec<usize>,
    pub fields: Vec<Field>,
}

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn u16_at(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    })
}

/// Parse what can be parsed of `bytes` (uncompressed captures only).
pub fn parse(bytes: &[u8]) -> Layout {
    let mut l = Layout {
        container: Container::Unknown,
        header: 0..0,
        blocks: Vec::new(),
        packets: Vec::new(),
        fields: Vec::new(),
    };
    let Some(magic) = bytes.get(0..4) else {
        return l;
    };
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => parse_pcap(bytes, false, &mut l),
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => parse_pcap(bytes, true, &mut l),
        [0x0a, 0x0d, 0x0d, 0x0a] => parse_pcapng(bytes, &mut l),
        _ => {}
    }
    l
}

fn parse_pcap(b: &[u8], big: bool, l: &mut Layout) {
    l.container = Container::Pcap;
    let Some(link) = u32_at(b, 20, big) else {
        return;
    };
    let link = link & 0xffff;
    l.header = 0..24;
    let mut at = 24;
    while let Some(caplen) = u32_at(b, at + 8, big) {
        let end = at + 16 + caplen as usize;
        if end > b.len() {
            break;
        }
        l.fields.push(Field {
            kind: FieldKind::PcapCaplen,
            at: at + 8,
            width: 4,
            big_endian: big,
        });
        l.fields.push(Field {
            kind: FieldKind::PcapOrigLen,
            at: at + 12,
            width: 4,
            big_endian: big,
        });
        l.packets.push(l.blocks.len());
        l.blocks.push(at..end);
        packet_fields(b, at + 16..end, link, &mut l.fields);
        at = end;
    }
}

fn parse_pcapng(b: &[u8], l: &mut Layout) {
    l.container = Container::PcapNg;
    let mut at = 0;
    let mut big = false;
    let mut links: Vec<u32> = Vec::new();
    while let Some(raw_type) = b.get(at..at + 4) {
        if raw_type == [0x0a, 0x0d, 0x0d, 0x0a] {
            // Section header: byte order from the BOM.
            big = b.get(at + 8..at + 12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
            links.clear();
        }
        let (Some(btype), Some(len)) = (u32_at(b, at, big), u32_at(b, at + 4, big)) else {
            break;
        };
        let len = len as usize;
        if len < 12 || len % 4 != 0 || at + len > b.len() {
            break;
        }
        for off in [at + 4, at + len - 4] {
            l.fields.push(Field {
                kind: FieldKind::PcapngBlockLen,
                at: off,
                width: 4,
                big_endian: big,
            });
        }
        match btype {
            1 => links.push(u32::from(u16_at(b, at + 8, big).unwrap_or(1))),
            6 => {
                let if_id = u32_at(b, at + 8, big).unwrap_or(0) as usize;
                let caplen = u32_at(b, at + 20, big).unwrap_or(0) as usize;
                l.fields.push(Field {
                    kind: FieldKind::PcapngCaplen,
                    at: at + 20,
                    width: 4,
                    big_endian: big,
                });
                let data = at + 28..(at + 28 + caplen).min(at + len - 4);
                if let Some(&link) = links.get(if_id) {
                    packet_fields(b, data, link, &mut l.fields);
                }
                l.packets.push(l.blocks.len());
            }
            3 => {
                let data = at + 12..at + len - 4;
                if let Some(&link) = links.first() {
                    packet_fields(b, data, link, &mut l.fields);
                }
                l.packets.push(l.blocks.len());
            }
            _ => {}
        }
        l.blocks.push(at..at + len);
        at += len;
    }
}

/// Offset of the IP header inside a frame of `link`, with its version.
fn ip_offset(b: &[u8], data: &Range<usize>, link: u32) -> Option<usize> {
    let s = data.start;
    let mut at = match link {
        // Ethernet (+ VLAN tags)
        1 => {
            let mut et_at = s + 12;
            loop {
                let et = u16_at(b, et_at, true)?;
                match et {
                    0x8100 | 0x88a8 | 0x9100 => et_at += 4,
                    0x0800 | 0x86dd => break et_at + 2,
                    _ => return None,
                }
            }
        }
        12 | 14 | 101 | 228 | 229 => s,
        0 | 108 => s + 4,
        113 => s + 16,
        276 => s + 20,
        _ => return None,
    };
    if at >= data.end {
        return None;
    }
    if !matches!(b.get(at)? >> 4, 4 | 6) {
        at = data.end; // not IP
    }
    (at < data.end).then_some(at)
}

/// The length fields of one frame's IP / TCP / TLS headers.
fn packet_fields(b: &[u8], data: Range<usize>, link: u32, out: &mut Vec<Field>) {
    let Some(ip) = ip_offset(b, &data, link) else {
        return;
    };
    let (tcp, ip_end) = match b.get(ip).map(|v| v >> 4) {
        Some(4) => {
            let ihl = usize::from(b.get(ip).copied().unwrap_or(0) & 0x0f) * 4;
            let total = usize::from(u16_at(b, ip + 2, true).unwrap_or(0));
            out.push(Field {
                kind: FieldKind::Ipv4TotalLen,
                at: ip + 2,
                width: 2,
                big_endian: true,
            });
            out.push(Field {
                kind: FieldKind::Ipv4Ihl,
                at: ip,
                width: 1,
                big_endian: true,
            });
            if b.get(ip + 9) != Some(&6) || ihl < 20 {
                return;
            }
            (ip + ihl, (ip + total).min(data.end))
        }
        Some(6) => {
            let plen = usize::from(u16_at(b, ip + 4, true).unwrap_or(0));
            out.push(Field {
                kind: FieldKind::Ipv6PayloadLen,
                at: ip + 4,
                width: 2,
                big_endian: true,
            });
            if b.get(ip + 6) != Some(&6) {
                return;
            }
            (ip + 40, (ip + 40 + plen).min(data.end))
        }
        _ => return,
    };
    let Some(&doff) = b.get(tcp + 12) else {
        return;
    };
    if tcp + 20 > ip_end {
        return;
    }
    out.push(Field {
        kind: FieldKind::TcpDataOffset,
        at: tcp + 12,
        width: 1,
        big_endian: true,
    });
    let mut rec = tcp + usize::from(doff >> 4) * 4;
    // TLS records that start in this segment (header fully present).
    while rec + 5 <= ip_end {
        let (Some(&ct), Some(&major)) = (b.get(rec), b.get(rec + 1)) else {
            break;
        };
        if !(20..=24).contains(&ct) || major != 3 {
            break;
        }
        out.push(Field {
            kind: FieldKind::TlsRecordLen,
            at: rec + 3,
            width: 2,
            big_endian: true,
        });
        if ct == 22 && rec + 9 <= ip_end {
            out.push(Field {
                kind: FieldKind::HandshakeLen,
                at: rec + 6,
                width: 3,
                big_endian: true,
            });
        }
        rec += 5 + usize::from(u16_at(b, rec + 3, true).unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::gen::{PcapWriter, TcpPacket};
    use super::*;

    #[test]
    fn pcap_layout_finds_packets_and_every_length_field() {
        let mut w = PcapWriter::raw_ipv4();
        let mut tls = vec![22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 1, 0, 0];
        tls.extend_from_slice(&[23, 3, 1, 0, 0]);
        w.tcp(
            0,
            &TcpPacket::new([10, 0, 0, 2], 40000, [10, 0, 0, 1], 5062).payload(&tls),
        );
        w.tcp(
            1,
            &TcpPacket::new([10, 0, 0, 1], 5062, [10, 0, 0, 2], 40000),
        );
        let bytes = w.into_bytes();
        let l = parse(&bytes);
        assert_eq!(l.container, Container::Pcap);
        assert_eq!(l.packets.len(), 2);
        let kinds: Vec<FieldKind> = l.fields.iter().map(|f| f.kind).collect();
        for k in [
            FieldKind::PcapCaplen,
            FieldKind::Ipv4TotalLen,
            FieldKind::TcpDataOffset,
            FieldKind::TlsRecordLen,
            FieldKind::HandshakeLen,
        ] {
            assert!(kinds.contains(&k), "{k:?} not found in {kinds:?}");
        }
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == FieldKind::TlsRecordLen)
                .count(),
            2
        );
    }
}
