//! Parsing of one retired TPACKET_V3 block: the block descriptor and the
//! packet headers chained inside it.
//!
//! Owns: [`BlockCursor`], [`PacketDesc`], [`BlockDamage`]. Safe code over a
//! `&[u8]` (the ring hands out a block only while user space owns it), so the
//! same code is unit-tested on synthetic blocks.
//!
//! Invariants: every offset read from the block is bounds-checked against the
//! block slice; a damaged chain ends the block with [`BlockDamage`], never a
//! panic. Integers are in host byte order (the kernel writes them).

/// `struct tpacket_block_desc`: `hdr.bh1` starts after `version` and
/// `offset_to_priv`.
pub const BLOCK_STATUS_OFF: usize = 8;
const BLOCK_NUM_PKTS_OFF: usize = 12;
const BLOCK_FIRST_PKT_OFF: usize = 16;
const BLOCK_DESC_LEN: usize = 48;

/// `struct tpacket3_hdr` fields.
const PKT_NEXT_OFF: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_MAC: usize = 24;
/// `sizeof(struct tpacket3_hdr)`; the `sockaddr_ll` follows it at
/// `TPACKET_ALIGN(48)` = 48, and its `sll_pkttype` is byte 10 of that.
pub const PKT_HDR_LEN: usize = 48;
const PKT_SLL_PKTTYPE: usize = PKT_HDR_LEN + 10;

/// Where the next packet of the current block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCursor {
    /// Offset of the next `tpacket3_hdr` in the block.
    next: usize,
    remaining: u32,
    /// Damage found after handing out the previous packet, reported next.
    damage: Option<BlockDamage>,
}

/// One packet of a block, as offsets into the block (so the caller can build
/// the borrowed frame without holding a borrow across its loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketDesc {
    pub sec: u32,
    pub nsec: u32,
    /// Offset of the first link-layer byte in the block.
    pub data_off: usize,
    pub caplen: u32,
    pub origlen: u32,
    /// `sll_pkttype` (PACKET_HOST, PACKET_OUTGOING, …).
    pub pkttype: u8,
}

/// The block's packet chain points outside the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("packet ring block damaged at offset {offset}: {what}")]
pub struct BlockDamage {
    pub offset: usize,
    pub what: &'static str,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

impl BlockCursor {
    /// Starts walking a block that user space owns.
    pub fn start(block: &[u8]) -> Result<BlockCursor, BlockDamage> {
        let damage = |what| BlockDamage { offset: 0, what };
        if block.len() < BLOCK_DESC_LEN {
            return Err(damage("shorter than a block descriptor"));
        }
        let remaining = u32_at(block, BLOCK_NUM_PKTS_OFF).ok_or(damage("no packet count"))?;
        let first = u32_at(block, BLOCK_FIRST_PKT_OFF).ok_or(damage("no first offset"))?;
        Ok(BlockCursor {
            next: first as usize,
            remaining,
            damage: None,
        })
    }

    /// The next packet, `Ok(None)` when the block is done.
    pub fn next_packet(&mut self, block: &[u8]) -> Result<Option<PacketDesc>, BlockDamage> {
        if let Some(d) = self.damage.take() {
            return Err(d);
        }
        if self.remaining == 0 {
            return Ok(None);
        }
        let at = self.next;
        let damage = |what| BlockDamage { offset: at, what };
        let hdr_end = at
            .checked_add(PKT_SLL_PKTTYPE + 1)
            .ok_or(damage("offset overflow"))?;
        if hdr_end > block.len() {
            self.remaining = 0;
            return Err(damage("packet header past the block end"));
        }
        let field = |off: usize| u32_at(block, at + off).unwrap_or(0);
        let next_off = field(PKT_NEXT_OFF) as usize;
        let caplen = field(PKT_SNAPLEN);
        let mac = usize::from(u16_at(block, at + PKT_MAC).unwrap_or(0));
        let data_off = at + mac;
        let data_end = data_off
            .checked_add(caplen as usize)
            .ok_or(damage("length overflow"))?;
        if mac < PKT_HDR_LEN || data_end > block.len() {
            self.remaining = 0;
            return Err(damage("packet data outside the block"));
        }
        let desc = PacketDesc {
            sec: field(PKT_SEC),
            nsec: field(PKT_NSEC),
            data_off,
            caplen,
            origlen: field(PKT_LEN),
            pkttype: block.get(at + PKT_SLL_PKTTYPE).copied().unwrap_or(0),
        };
        self.remaining -= 1;
        if self.remaining > 0 {
            if next_off == 0 {
                // The kernel links every packet but the last; a zero link
                // before the count is reached would loop on this packet.
                self.remaining = 0;
                self.damage = Some(damage("packet chain ends before the packet count"));
                return Ok(Some(desc));
            }
            self.next = at.saturating_add(next_off);
        }
        Ok(Some(desc))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a block the way the kernel lays it out: descriptor, then each
    /// packet header (48 bytes), sockaddr_ll, and data at a 16-aligned mac
    /// offset, linked by `tp_next_offset`.
    pub(crate) fn synth_block(packets: &[(u32, u32, u8, &[u8])], size: usize) -> Vec<u8> {
        let mut b = vec![0u8; size];
        let first = BLOCK_DESC_LEN;
        b[BLOCK_NUM_PKTS_OFF..BLOCK_NUM_PKTS_OFF + 4]
            .copy_from_slice(&(packets.len() as u32).to_ne_bytes());
        b[BLOCK_FIRST_PKT_OFF..BLOCK_FIRST_PKT_OFF + 4]
            .copy_from_slice(&(first as u32).to_ne_bytes());
        let mut at = first;
        for (i, (sec, nsec, pkttype, data)) in packets.iter().enumerate() {
            let mac = 80usize; // header + sockaddr_ll, aligned
            let total = (mac + data.len()).div_ceil(16) * 16;
            let put = |b: &mut Vec<u8>, off: usize, v: u32| {
                b[at + off..at + off + 4].copy_from_slice(&v.to_ne_bytes())
            };
            let next = if i + 1 == packets.len() {
                0
            } else {
                total as u32
            };
            put(&mut b, PKT_NEXT_OFF, next);
            put(&mut b, PKT_SEC, *sec);
            put(&mut b, PKT_NSEC, *nsec);
            put(&mut b, PKT_SNAPLEN, data.len() as u32);
            put(&mut b, PKT_LEN, data.len() as u32 + 4);
            b[at + PKT_MAC..at + PKT_MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[at + PKT_SLL_PKTTYPE] = *pkttype;
            b[at + mac..at + mac + data.len()].copy_from_slice(data);
            at += total;
        }
        b
    }

    fn walk(block: &[u8]) -> (Vec<PacketDesc>, Option<BlockDamage>) {
        let mut out = Vec::new();
        let mut c = match BlockCursor::start(block) {
            Ok(c) => c,
            Err(e) => return (out, Some(e)),
        };
        loop {
            match c.next_packet(block) {
                Ok(Some(p)) => out.push(p),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn walks_every_packet_with_its_timestamp_lengths_and_data() {
        let block = synth_block(
            &[(10, 999_999_999, 0, b"first"), (11, 5, 4, b"second packet")],
            4096,
        );
        let (pkts, err) = walk(&block);
        assert_eq!(err, None);
        assert_eq!(pkts.len(), 2);
        assert_eq!(
            (pkts[0].sec, pkts[0].nsec, pkts[0].caplen, pkts[0].origlen),
            (10, 999_999_999, 5, 9)
        );
        assert_eq!(&block[pkts[0].data_off..pkts[0].data_off + 5], b"first");
        assert_eq!(pkts[1].pkttype, 4);
        assert_eq!(
            &block[pkts[1].data_off..pkts[1].data_off + 13],
            b"second packet"
        );
    }

    #[test]
    fn empty_block_yields_nothing() {
        let (pkts, err) = walk(&synth_block(&[], 256));
        assert!(pkts.is_empty() && err.is_none());
    }

    #[test]
    fn data_running_past_the_block_is_damage_not_a_panic() {
        let mut block = synth_block(&[(1, 0, 0, b"abcdef")], 256);
        let first = BLOCK_DESC_LEN;
        block[first + PKT_SNAPLEN..first + PKT_SNAPLEN + 4]
            .copy_from_slice(&10_000u32.to_ne_bytes());
        let (pkts, err) = walk(&block);
        assert!(pkts.is_empty());
        assert_eq!(err.map(|e| e.what), Some("packet data outside the block"));
    }

    #[test]
    fn zero_link_before_the_count_is_damage_not_a_loop() {
        let mut block = synth_block(&[(1, 0, 0, b"a"), (2, 0, 0, b"b")], 512);
        let first = BLOCK_DESC_LEN;
        block[first..first + 4].copy_from_slice(&0u32.to_ne_bytes());
        let (pkts, err) = walk(&block);
        assert_eq!(pkts.len(), 1);
        assert!(err.is_some());
    }

    #[test]
    fn every_truncation_of_a_block_is_handled() {
        let block = synth_block(&[(1, 0, 0, b"hello"), (2, 0, 0, b"world!")], 512);
        let (full, none) = walk(&block);
        assert!(none.is_none() && full.len() == 2);
        for len in 0..block.len() {
            let (pkts, err) = walk(&block[..len]);
            // What a cut block yields is what the whole one starts with,
            // and missing packets are always said (damage), never silent.
            assert!(full.starts_with(&pkts), "len {len}");
            assert!(pkts.len() == full.len() || err.is_some(), "len {len}");
            for p in &pkts {
                assert!(p.data_off + p.caplen as usize <= len, "len {len}");
            }
        }
        // A count far larger than what the block holds ends in damage.
        let mut lying = block.clone();
        lying[BLOCK_NUM_PKTS_OFF..BLOCK_NUM_PKTS_OFF + 4].copy_from_slice(&1000u32.to_ne_bytes());
        let (pkts, err) = walk(&lying);
        assert_eq!(pkts.len(), 2);
        assert!(err.is_some());
    }
}
