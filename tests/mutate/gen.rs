//! Builds small synthetic captures in memory for the hostile scenarios: a
//! classic pcap writer (raw IPv4 link type, microseconds) and an IPv4/TCP
//! packet builder with correct length fields.

/// A classic little-endian pcap being written into memory.
pub struct PcapWriter {
    buf: Vec<u8>,
}

/// LINKTYPE_RAW: frames start with the IP header.
const LINKTYPE_RAW: u32 = 101;

impl PcapWriter {
    pub fn raw_ipv4() -> PcapWriter {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&65535u32.to_le_bytes());
        buf.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        PcapWriter { buf }
    }

    /// Append one record with explicit caplen/origlen fields (which may lie).
    pub fn record_raw(&mut self, ts_usec: u64, caplen: u32, origlen: u32, data: &[u8]) {
        self.buf
            .extend_from_slice(&((ts_usec / 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&((ts_usec % 1_000_000) as u32).to_le_bytes());
        self.buf.extend_from_slice(&caplen.to_le_bytes());
        self.buf.extend_from_slice(&origlen.to_le_bytes());
        self.buf.extend_from_slice(data);
    }

    pub fn record(&mut self, ts_usec: u64, data: &[u8]) {
        let n = data.len() as u32;
        self.record_raw(ts_usec, n, n, data);
    }

    /// Append one TCP packet at `ts_usec` microseconds since the epoch.
    pub fn tcp(&mut self, ts_usec: u64, p: &TcpPacket<'_>) {
        let bytes = p.build();
        self.record(ts_usec, &bytes);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// An IPv4 TCP segment to build.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<'a> {
    pub src: [u8; 4],
    pub sport: u16,
    pub dst: [u8; 4],
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// TCP flag bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    pub payload: &'a [u8],
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;

impl<'a> TcpPacket<'a> {
    pub fn new(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> TcpPacket<'a> {
        TcpPacket {
            src,
            sport,
            dst,
            dport,
            seq: 0,
            ack: 0,
            flags: ACK,
            payload: &[],
        }
    }
    pub fn seq(mut self, seq: u32) -> Self {
        self.seq = seq;
        self
    }
    pub fn flags(mut self, flags: u8) -> Self {
        self.flags = flags;
        self
    }
    pub fn payload(mut self, payload: &'a [u8]) -> Self {
        self.payload = payload;
        if !payload.is_empty() {
            self.flags |= PSH;
        }
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let total = 40 + self.payload.len();
        let mut p = Vec::with_capacity(total);
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&(total.min(0xffff) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&self.src);
        p.extend_from_slice(&self.dst);
        p.extend_from_slice(&self.sport.to_be_bytes());
        p.extend_from_slice(&self.dport.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ack.to_be_bytes());
        p.extend_from_slice(&[0x50, self.flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(self.payload);
        p
    }
}
