//! One pcap record or pcapng block at a time: what pcap-parser's result
//! means for the reader ([`Step`]), and how a file that does not start
//! like a capture is described.

use super::*;

/// The error inside a nom result (parsers given whole input never say Incomplete).
pub(super) fn nom_error(e: nom::Err<PcapError<&[u8]>>) -> PcapError<&[u8]> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => PcapError::UnexpectedEof,
    }
}

/// What one parse at the head of the buffer means, with no borrow of it.
pub(super) enum Step {
    Block(usize, BlockInfo),
    Refill,
    Grow,
    Eof,
    CutShort,
    Damaged(String),
}

/// Owned description of a block; packet data as a range into the source's
/// current buffer (valid until the block is consumed).
pub(super) enum BlockInfo {
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

pub(super) fn step_of(
    res: Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>>,
    base: usize,
) -> Step {
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

pub(super) fn describe_magic(head: &[u8]) -> String {
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
