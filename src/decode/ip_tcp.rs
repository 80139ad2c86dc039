//! IPv4 / IPv6 (with extension headers, lax about snaplen-cut packets) and
//! TCP, through the tunnels seen on real taps (6in4, IP-in-IP, GRE, Geneve,
//! VXLAN, GTP-U). Uses etherparse's borrowed `Lax*`/`*Slice` views: nothing
//! is copied or allocated.

use etherparse::{IpNumber, LaxIpSlice, TcpSlice, UdpSlice};

use std::net::IpAddr;

use super::link::{ethernet, ip_payload};
use super::{DecodeError, Segment, TcpFlags};
use crate::capture::{Frame, LinkType};

/// Tunnel layers unwrapped before giving up (a packet nested deeper is
/// almost certainly crafted).
pub const MAX_TUNNEL_DEPTH: usize = 4;

const UDP_GENEVE: u16 = 6081;
const UDP_VXLAN: u16 = 4789;
const UDP_GTP_U: u16 = 2152;

/// Decode a frame down to its TCP segment.
pub fn decode<'a>(frame: &Frame<'a>) -> Result<Segment<'a>, DecodeError> {
    let ip = ip_payload(frame.link, frame.data)?.ok_or(DecodeError::NotTcp)?;
    decode_ip(frame, ip, 0)
}

/// What a header look at fixed offsets tells of a frame, before any
/// per-flow state: enough to drop traffic that is not audited the way a BPF
/// filter would (see [`quick_transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickTransport {
    /// A TCP segment that [`decode`] certainly decodes, with these ports;
    /// [`quick_segment`] reads it from the offsets kept here.
    Tcp {
        src_port: u16,
        dst_port: u16,
        /// Where the IP header starts in the frame.
        ip_at: usize,
        /// The TCP header and payload, as offsets in the frame.
        tcp_at: usize,
        tcp_end: usize,
    },
    /// Certainly no TCP segment: [`decode`] returns [`DecodeError::NotTcp`].
    NotTcp,
}

/// The transport of a frame in the common plain forms — Ethernet II or raw
/// IP; IPv4 without fragmentation, or IPv6 without extension headers; TCP,
/// or UDP on a port that carries no tunnel — read at fixed offsets. `None`
/// (unsure) for everything else, which then goes through [`decode`]. A
/// busy tap carries much traffic that is not audited; this lets each such
/// frame cost a header look. The conditions mirror etherparse's (an IPv4
/// header of `ihl ≥ 5` words that fits, a total length between the header
/// and the captured bytes, no MF flag or fragment offset; a TCP data offset
/// of at least 5 words that fits); IPv6 needs a payload length that is not zero and
/// fits in the captured bytes.
pub fn quick_transport(frame: &Frame<'_>) -> Option<QuickTransport> {
    let d = frame.data;
    let ip_at = match frame.link {
        LinkType::ETHERNET => {
            if d.len() < 14 || (d[12..14] != [0x08, 0x00] && d[12..14] != [0x86, 0xdd]) {
                return None;
            }
            14
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => 0,
        _ => return None,
    };
    let ip = &d[ip_at..];
    let (proto, l4_range) = match ip.first()? >> 4 {
        4 => {
            let header: &[u8; 20] = ip.get(..20)?.try_into().ok()?;
            let header_len = usize::from(header[0] & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let fragmenting =
                header[6] & 0x20 != 0 || u16::from_be_bytes([header[6] & 0x1f, header[7]]) != 0;
            if header_len < 20 || total_len < header_len || total_len > ip.len() || fragmenting {
                return None;
            }
            (header[9], header_len..total_len)
        }
        6 => {
            let header: &[u8; 40] = ip.get(..40)?.try_into().ok()?;
            let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
            if payload_len == 0 || 40 + payload_len > ip.len() {
                return None;
            }
            (header[6], 40..40 + payload_len)
        }
        _ => return None,
    };
    let l4 = &ip[l4_range.clone()];
    let port = |at: usize| u16::from_be_bytes([l4[at], l4[at + 1]]);
    match proto {
        6 => {
            let tcp_header: &[u8; 13] = l4.get(..13)?.try_into().ok()?;
            let data_offset = usize::from(tcp_header[12] >> 4) * 4;
            if l4.len() < 20 || data_offset < 20 || data_offset > l4.len() {
                return None;
            }
            Some(QuickTransport::Tcp {
                src_port: port(0),
                dst_port: port(2),
                ip_at,
                tcp_at: ip_at + l4_range.start,
                tcp_end: ip_at + l4_range.end,
            })
        }
        17 => {
            if l4.len() < 8 {
                return None;
            }
            let tunnel = |p: u16| matches!(p, UDP_GENEVE | UDP_VXLAN | UDP_GTP_U);
            if tunnel(port(0)) || tunnel(port(2)) {
                return None;
            }
            Some(QuickTransport::NotTcp)
        }
        _ => None,
    }
}

/// [`super::shard_hash`] of a frame [`quick_transport`] found to be plain
/// TCP, from the addresses and ports at the look's offsets (no [`Segment`]
/// built). `None` for any other look.
pub fn quick_shard_hash(frame: &Frame<'_>, look: &QuickTransport) -> Option<u64> {
    let QuickTransport::Tcp {
        src_port,
        dst_port,
        ip_at,
        ..
    } = *look
    else {
        return None;
    };
    let (src, dst) = quick_addresses(frame, ip_at)?;
    Some(
        super::mix_endpoint(super::address_word(src), src_port)
            .wrapping_add(super::mix_endpoint(super::address_word(dst), dst_port)),
    )
}

/// Source and destination address of the IPv4 or IPv6 header at `ip_at`,
/// which [`quick_transport`] found whole.
fn quick_addresses(frame: &Frame<'_>, ip_at: usize) -> Option<(IpAddr, IpAddr)> {
    let ip = frame.data.get(ip_at..)?;
    Some(match ip.first()? >> 4 {
        4 => {
            let a: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let b: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (IpAddr::from(a), IpAddr::from(b))
        }
        _ => {
            let a: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let b: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (IpAddr::from(a), IpAddr::from(b))
        }
    })
}

/// The segment of a frame [`quick_transport`] found to be plain TCP, read
/// from the offsets it kept: what [`decode`] returns for it, without
/// decoding again. `None` for any other look.
pub fn quick_segment<'a>(frame: &Frame<'a>, look: &QuickTransport) -> Option<Segment<'a>> {
    let QuickTransport::Tcp {
        src_port,
        dst_port,
        ip_at,
        tcp_at,
        tcp_end,
    } = *look
    else {
        return None;
    };
    let (src, dst) = quick_addresses(frame, ip_at)?;
    let tcp = frame.data.get(tcp_at..tcp_end)?;
    let header: &[u8; 20] = tcp.get(..20)?.try_into().ok()?;
    let data_offset = usize::from(header[12] >> 4) * 4;
    let flags = header[13];
    Some(Segment {
        frame: frame.index,
        ts: frame.ts,
        src: std::net::SocketAddr::new(src, src_port),
        dst: std::net::SocketAddr::new(dst, dst_port),
        seq: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ack: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        flags: TcpFlags {
            syn: flags & 0x02 != 0,
            ack: flags & 0x10 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
            psh: flags & 0x08 != 0,
        },
        payload: tcp.get(data_offset..)?,
        missing: 0,
        // The look accepts only a total length within the captured bytes.
        ip_length_beyond_frame: false,
    })
}

fn decode_ip<'a>(
    frame: &Frame<'a>,
    ip: &'a [u8],
    depth: usize,
) -> Result<Segment<'a>, DecodeError> {
    if depth > MAX_TUNNEL_DEPTH {
        return Err(DecodeError::TooDeep(MAX_TUNNEL_DEPTH));
    }
    let (slice, _ext_err) = LaxIpSlice::from_slice(ip).map_err(|e| match e {
        etherparse::err::ip::LaxHeaderSliceError::Len(l) => DecodeError::Truncated {
            layer: "ip",
            need: l.required_len,
            got: l.len,
            offset: 0,
        },
        etherparse::err::ip::LaxHeaderSliceError::Content(_) => DecodeError::Malformed {
            layer: "ip",
            offset: 0,
        },
    })?;
    let payload = slice.payload();
    if payload.fragmented {
        return Err(DecodeError::Fragment);
    }
    let src = slice.source_addr();
    let dst = slice.destination_addr();
    match payload.ip_number {
        IpNumber::TCP => {
            let tcp = TcpSlice::from_slice(payload.payload).map_err(|e| match e {
                etherparse::err::tcp::HeaderSliceError::Len(l) => DecodeError::Truncated {
                    layer: "tcp",
                    need: l.required_len,
                    got: l.len,
                    offset: 0,
                },
                etherparse::err::tcp::HeaderSliceError::Content(_) => DecodeError::Malformed {
                    layer: "tcp",
                    offset: 0,
                },
            })?;
            let (missing, ip_length_beyond_frame) = if payload.incomplete {
                // Bytes announced by the IP header but not captured. Only
                // what the capture cut (snaplen: on the wire, not in the
                // file) can be missing; an IP length beyond that is a bad
                // header, and the captured bytes are trusted.
                let announced = match ip[0] >> 4 {
                    4 => usize::from(u16::from_be_bytes([ip[2], ip[3]])),
                    _ => usize::from(u16::from_be_bytes([ip[4], ip[5]])) + 40,
                };
                let beyond = announced.saturating_sub(ip.len());
                let cut = frame.origlen.saturating_sub(frame.caplen) as usize;
                (beyond.min(cut) as u32, beyond > cut)
            } else {
                (0, false)
            };
            Ok(Segment {
                frame: frame.index,
                ts: frame.ts,
                src: std::net::SocketAddr::new(src, tcp.source_port()),
                dst: std::net::SocketAddr::new(dst, tcp.destination_port()),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags {
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                    psh: tcp.psh(),
                },
                payload: tcp.payload(),
                missing,
                ip_length_beyond_frame,
            })
        }
        // 6in4 / IP-in-IP.
        IpNumber::IPV6 | IpNumber::IPV4 => decode_ip(frame, payload.payload, depth + 1),
        IpNumber::GRE => {
            let gre = payload.payload;
            if gre.len() < 4 {
                return Err(DecodeError::NotTcp);
            }
            let flags = gre[0];
            // Checksum (C), key (K), sequence (S) present bits each add 4 bytes.
            let mut at = 4;
            for bit in [0x80u8, 0x20, 0x10] {
                if flags & bit != 0 {
                    at += 4;
                }
            }
            let proto = u16::from_be_bytes([gre[2], gre[3]]);
            let inner = gre.get(at..).ok_or(DecodeError::NotTcp)?;
            match proto {
                0x0800 | 0x86dd => decode_ip(frame, inner, depth + 1),
                0x6558 => decode_ether(frame, inner, depth + 1),
                _ => Err(DecodeError::NotTcp),
            }
        }
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(payload.payload).map_err(|_| DecodeError::NotTcp)?;
            let body = udp.payload();
            match (udp.source_port(), udp.destination_port()) {
                (_, UDP_GENEVE) | (UDP_GENEVE, _) => {
                    // 8-byte header; option length in 4-byte words in the low 6 bits of byte 0.
                    let opt = usize::from(body.first().copied().unwrap_or(0) & 0x3f) * 4;
                    let proto = body
                        .get(2..4)
                        .map(|p| u16::from_be_bytes([p[0], p[1]]))
                        .ok_or(DecodeError::NotTcp)?;
                    let inner = body.get(8 + opt..).ok_or(DecodeError::NotTcp)?;
                    match proto {
                        0x6558 => decode_ether(frame, inner, depth + 1),
                        0x0800 | 0x86dd => decode_ip(frame, inner, depth + 1),
                        _ => Err(DecodeError::NotTcp),
                    }
                }
                (_, UDP_VXLAN) | (UDP_VXLAN, _) => {
                    let inner = body.get(8..).ok_or(DecodeError::NotTcp)?;
                    decode_ether(frame, inner, depth + 1)
                }
                (_, UDP_GTP_U) | (UDP_GTP_U, _) => {
                    let inner = gtp_u_payload(body).ok_or(DecodeError::NotTcp)?;
                    decode_ip(frame, inner, depth + 1)
                }
                _ => Err(DecodeError::NotTcp),
            }
        }
        _ => Err(DecodeError::NotTcp),
    }
}

fn decode_ether<'a>(
    frame: &Frame<'a>,
    data: &'a [u8],
    depth: usize,
) -> Result<Segment<'a>, DecodeError> {
    let ip = ethernet(data, 0)?.ok_or(DecodeError::NotTcp)?;
    decode_ip(frame, ip, depth)
}

/// The T-PDU of a GTP-U (version 1) G-PDU message, skipping optional fields
/// and extension headers.
fn gtp_u_payload(b: &[u8]) -> Option<&[u8]> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || *b.get(1)? != 0xff {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        // Sequence number, N-PDU number, next extension header type.
        let mut next_ext = *b.get(at + 3)?;
        at += 4;
        let mut hops = 0;
        while flags & 0x04 != 0 && next_ext != 0 {
            hops += 1;
            if hops > 8 {
                return None;
            }
            let len = usize::from(*b.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next_ext = *b.get(at + len - 1)?;
            at += len;
        }
    }
    let inner = b.get(at..)?;
    matches!(inner.first().map(|v| v >> 4), Some(4) | Some(6)).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{LinkType, Timestamp};

    fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
        Frame {
            index: 1,
            ts: Timestamp::default(),
            link,
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            data,
        }
    }

    #[rustfmt::skip]
    static IPV4_TCP_SYN_PAYLOAD: &[u8] = &[
        0x45,0x00,0x00,0x2c, 0x00,0x01,0x40,0x00, 0x40,0x06,0x00,0x00, 10,0,0,2, 10,0,0,1,
        0xc0,0x00,0x13,0xc6, 0,0,0,100, 0,0,0,0, 0x50,0x18,0xff,0xff, 0,0,0,0,
        b'a',b'b',b'c',b'd',
    ];

    #[test]
    fn raw_ipv4_tcp_yields_ports_seq_and_payload() {
        let f = frame(LinkType::RAW, IPV4_TCP_SYN_PAYLOAD);
        let s = decode(&f).unwrap();
        assert_eq!(s.src.to_string(), "10.0.0.2:49152");
        assert_eq!(s.dst.to_string(), "10.0.0.1:5062");
        assert_eq!(s.seq, 100);
        assert_eq!(s.payload, b"abcd");
        assert_eq!(s.missing, 0);
        assert!(s.flags.psh && s.flags.ack && !s.flags.syn);
    }

    #[test]
    fn snaplen_cut_payload_is_reported_missing_not_corrupt() {
        let cut = &IPV4_TCP_SYN_PAYLOAD[..IPV4_TCP_SYN_PAYLOAD.len() - 3];
        let f = Frame {
            origlen: IPV4_TCP_SYN_PAYLOAD.len() as u32,
            ..frame(LinkType::RAW, cut)
        };
        let s = decode(&f).unwrap();
        assert_eq!(s.payload, b"a");
        assert_eq!(s.missing, 3);
    }

    // See: issue 14, item 4 (total length 4148 in a 66-byte SYN-ACK became
    // a 4 KB gap that swallowed the ServerHello after it).
    #[test]
    fn ip_length_beyond_an_uncut_frame_is_noted_not_missing() {
        let mut p = IPV4_TCP_SYN_PAYLOAD.to_vec();
        p[2..4].copy_from_slice(&4148u16.to_be_bytes());
        let s = decode(&frame(LinkType::RAW, &p)).unwrap();
        assert_eq!(s.payload, b"abcd");
        assert_eq!(s.missing, 0);
        assert!(s.ip_length_beyond_frame);
        // Cut by snaplen as well: only what the wire had can be missing.
        let f = Frame {
            origlen: p.len() as u32 + 2,
            ..frame(LinkType::RAW, &p)
        };
        let s = decode(&f).unwrap();
        assert_eq!(s.missing, 2);
        assert!(s.ip_length_beyond_frame);
        assert!(
            !decode(&frame(LinkType::RAW, IPV4_TCP_SYN_PAYLOAD))
                .unwrap()
                .ip_length_beyond_frame
        );
    }

    #[test]
    fn every_prefix_of_a_packet_decodes_or_errors_without_panic() {
        for len in 0..IPV4_TCP_SYN_PAYLOAD.len() {
            let f = frame(LinkType::RAW, &IPV4_TCP_SYN_PAYLOAD[..len]);
            let r = decode(&f);
            if len < 40 {
                assert!(r.is_err(), "prefix {len}");
            }
        }
    }

    #[test]
    fn ipv4_fragment_is_not_misread_as_tcp() {
        let mut p = IPV4_TCP_SYN_PAYLOAD.to_vec();
        p[6] = 0x20; // more fragments
        let f = frame(LinkType::RAW, &p);
        assert_eq!(decode(&f).unwrap_err(), DecodeError::Fragment);
    }

    #[test]
    fn six_in_four_is_unwrapped() {
        let mut inner = vec![0x60, 0, 0, 0, 0, 24, 6, 64];
        inner.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        inner.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        inner.extend_from_slice(&IPV4_TCP_SYN_PAYLOAD[20..]);
        let mut outer = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 41, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        let total = (20 + inner.len()) as u16;
        outer[2..4].copy_from_slice(&total.to_be_bytes());
        outer.extend_from_slice(&inner);
        let f = frame(LinkType::RAW, &outer);
        let s = decode(&f).unwrap();
        assert_eq!(s.src.to_string(), "[2001:db8::1]:49152");
        assert_eq!(s.payload, b"abcd");
    }

    /// An Ethernet II frame around `IPV4_TCP_SYN_PAYLOAD`.
    fn ethernet_frame() -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&[0x08, 0x00]);
        v.extend_from_slice(IPV4_TCP_SYN_PAYLOAD);
        v
    }

    /// The endpoints the header look and `quick_segment` read, if they answer.
    fn quick_endpoints(
        f: &Frame<'_>,
    ) -> Option<(crate::decode::Endpoint, crate::decode::Endpoint)> {
        let look = quick_transport(f)?;
        quick_segment(f, &look).map(|s| (s.src, s.dst))
    }

    #[test]
    fn quick_endpoints_read_a_plain_frame_like_decode() {
        for (link, data) in [
            (LinkType::RAW, IPV4_TCP_SYN_PAYLOAD.to_vec()),
            (LinkType::ETHERNET, ethernet_frame()),
        ] {
            let f = frame(link, &data);
            let seg = decode(&f).unwrap();
            assert_eq!(quick_endpoints(&f), Some((seg.src, seg.dst)));
        }
    }

    // The reader picks the shard from the look's address bytes, a worker
    // (and a frame that needed a full decode) from the decoded endpoints:
    // both must name the same shard, or a flow's two halves would part.
    #[test]
    fn quick_shard_hash_is_the_shard_hash_of_the_decoded_endpoints() {
        for (link, data) in [
            (LinkType::RAW, IPV4_TCP_SYN_PAYLOAD.to_vec()),
            (LinkType::ETHERNET, ethernet_frame()),
            (LinkType::RAW, IPV6_TCP.to_vec()),
        ] {
            let f = frame(link, &data);
            let seg = decode(&f).unwrap();
            let look = quick_transport(&f).unwrap();
            assert_eq!(
                crate::decode::quick_shard_hash(&f, &look),
                Some(crate::decode::shard_hash(seg.src, seg.dst)),
                "{link:?}"
            );
        }
        let udp = frame(LinkType::RAW, IPV6_UDP_SIP);
        let look = quick_transport(&udp).unwrap();
        assert_eq!(crate::decode::quick_shard_hash(&udp, &look), None);
    }

    #[test]
    fn quick_endpoints_leave_fragments_and_short_headers_to_decode() {
        let mut frag = IPV4_TCP_SYN_PAYLOAD.to_vec();
        frag[6] = 0x20; // MF
        assert_eq!(quick_endpoints(&frame(LinkType::RAW, &frag)), None);
        let cut = &IPV4_TCP_SYN_PAYLOAD[..30];
        assert_eq!(quick_endpoints(&frame(LinkType::RAW, cut)), None);
        let mut vlan = ethernet_frame();
        vlan[12] = 0x81;
        assert_eq!(quick_endpoints(&frame(LinkType::ETHERNET, &vlan)), None);
    }

    #[rustfmt::skip]
    static IPV6_UDP_SIP: &[u8] = &[
        0x60,0,0,0, 0,12,17,64,
        0x20,0x01,0x0d,0xb8,0,0,0,0, 0,0,0,0,0,0,0,2,
        0x20,0x01,0x0d,0xb8,0,0,0,0, 0,0,0,0,0,0,0,1,
        0x13,0xc4,0x13,0xc6, 0,12,0,0, b'S',b'I',b'P',b'/',
    ];

    #[rustfmt::skip]
    static IPV6_TCP: &[u8] = &[
        0x60,0,0,0, 0,24,6,64,
        0x20,0x01,0x0d,0xb8,0,0,0,0, 0,0,0,0,0,0,0,2,
        0x20,0x01,0x0d,0xb8,0,0,0,0, 0,0,0,0,0,0,0,1,
        0xc0,0x00,0x01,0xbb, 0,0,0,100, 0,0,0,0, 0x50,0x18,0xff,0xff, 0,0,0,0,
        b'a',b'b',b'c',b'd',
    ];

    #[test]
    fn quick_transport_reads_tcp_ports_and_drops_udp_like_decode() {
        let v4 = frame(LinkType::RAW, IPV4_TCP_SYN_PAYLOAD);
        let ports = |f: &Frame<'_>| match quick_transport(f) {
            Some(QuickTransport::Tcp {
                src_port, dst_port, ..
            }) => Some((src_port, dst_port)),
            _ => None,
        };
        assert_eq!(ports(&v4), Some((49152, 5062)));
        let v6 = frame(LinkType::RAW, IPV6_TCP);
        assert_eq!(ports(&v6), Some((49152, 443)));
        let quick = quick_transport(&v6).and_then(|look| quick_segment(&v6, &look));
        assert_eq!(
            quick.map(|s| (s.dst.to_string(), s.seq, s.payload)),
            Some(("[2001:db8::1]:443".to_string(), 100, &b"abcd"[..]))
        );
        let udp = frame(LinkType::RAW, IPV6_UDP_SIP);
        assert_eq!(quick_transport(&udp), Some(QuickTransport::NotTcp));
        assert_eq!(decode(&udp).err(), Some(DecodeError::NotTcp));
        // UDP on a tunnel port may hold TCP: left to decode.
        let mut vxlan = IPV6_UDP_SIP.to_vec();
        vxlan[42..44].copy_from_slice(&4789u16.to_be_bytes());
        assert_eq!(quick_transport(&frame(LinkType::RAW, &vxlan)), None);
    }

    /// One of the sample packets, in Ethernet or raw, for the proptests.
    fn sample(which: u8, ethernet: bool) -> (LinkType, Vec<u8>) {
        let (ethertype, ip) = match which % 3 {
            0 => ([0x08, 0x00], IPV4_TCP_SYN_PAYLOAD),
            1 => ([0x86, 0xdd], IPV6_TCP),
            _ => ([0x86, 0xdd], IPV6_UDP_SIP),
        };
        if ethernet {
            let mut v = vec![0u8; 12];
            v.extend_from_slice(&ethertype);
            v.extend_from_slice(ip);
            (LinkType::ETHERNET, v)
        } else {
            (LinkType::RAW, ip.to_vec())
        }
    }

    proptest::proptest! {
        /// The engine drops a frame on `quick_transport`'s word, without
        /// decoding: whenever it answers, decode must agree exactly,
        /// whatever the header bytes say.
        #[test]
        fn quick_transport_never_disagrees_with_decode(
            which in proptest::prelude::any::<u8>(),
            edits in proptest::collection::vec((0usize..80, proptest::prelude::any::<u8>()), 0..6),
            cut in 0usize..80,
            ethernet in proptest::prelude::any::<bool>(),
        ) {
            let (link, mut data) = sample(which, ethernet);
            for (at, byte) in edits {
                if let Some(b) = data.get_mut(at) {
                    *b = byte;
                }
            }
            data.truncate(data.len().saturating_sub(cut));
            let f = frame(link, &data);
            match quick_transport(&f) {
                Some(look @ QuickTransport::Tcp { src_port, dst_port, .. }) => {
                    let seg = decode(&f);
                    proptest::prop_assert!(seg.is_ok(), "{seg:?}");
                    let seg = seg.unwrap();
                    proptest::prop_assert_eq!((seg.src.port(), seg.dst.port()), (src_port, dst_port));
                    let quick = quick_segment(&f, &look);
                    proptest::prop_assert!(quick.is_some());
                    let quick = quick.unwrap();
                    proptest::prop_assert_eq!(
                        (quick.src, quick.dst, quick.seq, quick.ack, quick.flags, quick.payload, quick.missing),
                        (seg.src, seg.dst, seg.seq, seg.ack, seg.flags, seg.payload, seg.missing)
                    );
                }
                Some(QuickTransport::NotTcp) => {
                    proptest::prop_assert_eq!(decode(&f).err(), Some(DecodeError::NotTcp));
                }
                None => {}
            }
        }

    }
}
