//! Link layers: find where the network-layer packet starts in a frame.
//!
//! Ethernet (with any number of 802.1Q / 802.1ad / QinQ tags, Cisco MetaData
//! (SGT) headers, PPPoE session, MPLS), Linux cooked SLL and SLL2, BSD NULL /
//! loopback, raw IP. Returns the IP packet as a borrowed slice, or a
//! [`DecodeError`]; never allocates. An EtherType that is neither decoded nor
//! a known carrier of something other than IP is
//! [`DecodeError::UnknownEtherType`], so the engine can say how many frames
//! it could not look into instead of dropping them silently.
//!
//! The Ethernet II header and VLAN tags are etherparse's slices (as cheap as
//! the hand-written reads they replaced: `check -j 1` on a 95 MB tap capture
//! with a VLAN tag in every frame, 564.0 M instructions before and 564.6 M
//! after in callgrind, within its run-to-run spread of 0.2 %). The rest is
//! written here because etherparse (0.21) has no such slice: Cisco MetaData,
//! PPPoE, MPLS and SLL2 are not in it, and its `LinuxSllSlice` rejects ARPHRD
//! types it does not list (the corpus's `ndpi__KakaoTalk_chat.pcap`, from an
//! Android phone, has ARPHRD 530, raw IP: every frame would be lost) while
//! only the SLL protocol field matters here. Its `SlicedPacket` /
//! `LaxSlicedPacket` lack the same layers (a frame would stop at Cisco
//! MetaData, PPPoE or MPLS), so the walk over EtherTypes stays here.

use etherparse::{EtherType, Ethernet2Header, Ethernet2Slice, SingleVlanHeader, SingleVlanSlice};

use super::big_endian::u16_at;
use super::DecodeError;
use crate::capture::LinkType;

/// Stacked tags / labels followed before giving up (QinQ is 2; real
/// networks rarely stack more than 3 VLAN or 4 MPLS labels).
pub const MAX_LINK_EXTS: usize = 8;

const ETH_IPV4: u16 = EtherType::IPV4.0;
const ETH_IPV6: u16 = EtherType::IPV6.0;
const ETH_VLAN: u16 = EtherType::VLAN_TAGGED_FRAME.0;
const ETH_QINQ: u16 = EtherType::PROVIDER_BRIDGING.0;
const ETH_QINQ_OLD: u16 = EtherType::VLAN_DOUBLE_TAGGED_FRAME.0;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
/// Cisco MetaData (TrustSec SGT tag), on SPAN ports of Cisco switches: 8
/// bytes after the EtherType — version, length, option type, SGT — the
/// last 2 of which are the inner EtherType.
const ETH_CISCO_METADATA: u16 = 0x8909;
const CISCO_METADATA_LEN: usize = 8;

/// EtherTypes known to carry something other than IP (ARP, RARP, flow
/// control, LACP, PPPoE discovery, EAPOL, LLDP, PTP, loopback test): frames
/// that are no loss to the audit, so they are not warned about.
const NOT_IP_ETHERTYPES: &[u16] = &[
    0x0806, 0x8035, 0x8808, 0x8809, 0x8863, 0x888e, 0x88cc, 0x88f7, 0x9000,
];
/// Below this the field is an IEEE 802.3 length (LLC: STP, CDP, …), not an EtherType.
const MIN_ETHERTYPE: u16 = 0x0600;

fn truncated(layer: &'static str, need: usize, got: usize, offset: usize) -> DecodeError {
    DecodeError::Truncated {
        layer,
        need,
        got,
        offset,
    }
}

/// The IP packet inside a frame of link type `link`; `Ok(None)` when the
/// frame is valid but carries no IP (ARP, LLDP, …).
pub fn ip_payload(link: LinkType, data: &[u8]) -> Result<Option<&[u8]>, DecodeError> {
    match link {
        LinkType::ETHERNET => ethernet(data, 0),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            Ok(Some(data))
        }
        LinkType::NULL | LinkType::LOOP => {
            if data.len() < 4 {
                return Err(truncated("loopback", 4, data.len(), 0));
            }
            // The family is in the writer's byte order (NULL) or network order
            // (LOOP); accept both. 2 = AF_INET; 24, 28, 30 = AF_INET6 on the BSDs / macOS.
            let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            match (le, be) {
                (2, _) | (_, 2) | (24 | 28 | 30, _) | (_, 24 | 28 | 30) => Ok(Some(&data[4..])),
                _ => Ok(None),
            }
        }
        LinkType::LINUX_SLL => {
            if data.len() < 16 {
                return Err(truncated("linux-sll", 16, data.len(), 0));
            }
            ethertype_payload(u16_at(data, 14).unwrap_or(0), data, 16)
        }
        LinkType::LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(truncated("linux-sll2", 20, data.len(), 0));
            }
            ethertype_payload(u16_at(data, 0).unwrap_or(0), data, 20)
        }
        other => Err(DecodeError::UnsupportedLinkType(other)),
    }
}

/// Ethernet II frame starting at `data` (`base` = offset for messages).
pub fn ethernet(data: &[u8], base: usize) -> Result<Option<&[u8]>, DecodeError> {
    let eth = Ethernet2Slice::from_slice_without_fcs(data)
        .map_err(|e| truncated("ethernet", e.required_len, e.len, base))?;
    ethertype_payload(eth.ether_type().0, data, Ethernet2Header::LEN)
}

/// Follow an ethertype (and its tags) starting at `at`.
fn ethertype_payload(
    mut ethertype: u16,
    data: &[u8],
    mut at: usize,
) -> Result<Option<&[u8]>, DecodeError> {
    for _ in 0..MAX_LINK_EXTS {
        match ethertype {
            ETH_IPV4 | ETH_IPV6 => return Ok(data.get(at..)),
            ETH_CISCO_METADATA => {
                ethertype = u16_at(data, at + CISCO_METADATA_LEN - 2).ok_or_else(|| {
                    truncated(
                        "cisco-metadata",
                        CISCO_METADATA_LEN,
                        data.len().saturating_sub(at),
                        at,
                    )
                })?;
                at += CISCO_METADATA_LEN;
            }
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let tag = SingleVlanSlice::from_slice(data.get(at..).unwrap_or_default())
                    .map_err(|e| truncated("802.1Q", e.required_len, e.len, at))?;
                ethertype = tag.ether_type().0;
                at += SingleVlanHeader::LEN;
            }
            ETH_PPPOE_SESSION => {
                // 6-byte PPPoE header, then the 2-byte PPP protocol.
                let proto = u16_at(data, at + 6)
                    .ok_or_else(|| truncated("pppoe", 8, data.len().saturating_sub(at), at))?;
                at += 8;
                return match proto {
                    0x0021 | 0x0057 => Ok(data.get(at..)),
                    _ => Ok(None),
                };
            }
            ETH_MPLS | ETH_MPLS_MC => {
                // Pop labels to the bottom of the stack, then guess IP by version nibble.
                let mut bottom = false;
                for _ in 0..MAX_LINK_EXTS {
                    let b = *data
                        .get(at + 2)
                        .ok_or_else(|| truncated("mpls", 4, data.len().saturating_sub(at), at))?;
                    at += 4;
                    if b & 1 == 1 {
                        bottom = true;
                        break;
                    }
                }
                if !bottom {
                    return Err(DecodeError::TooDeep(MAX_LINK_EXTS));
                }
                return match data.get(at).map(|b| b >> 4) {
                    Some(4) | Some(6) => Ok(data.get(at..)),
                    _ => Ok(None),
                };
            }
            t if t < MIN_ETHERTYPE || NOT_IP_ETHERTYPES.contains(&t) => return Ok(None),
            t => return Err(DecodeError::UnknownEtherType(t)),
        }
    }
    Err(DecodeError::TooDeep(MAX_LINK_EXTS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    static QINQ_IPV4: &[u8] = &[
        0,1,2,3,4,5, 6,7,8,9,10,11, 0x88,0xa8, 0x00,0x64, 0x81,0x00, 0x00,0xc8, 0x08,0x00,
        0x45,0,0,20, 0,0,0,0, 64,6,0,0, 10,0,0,1, 10,0,0,2,
    ];

    #[test]
    fn qinq_tags_are_skipped_to_the_ip_header() {
        let ip = ip_payload(LinkType::ETHERNET, QINQ_IPV4).unwrap().unwrap();
        assert_eq!(ip[0], 0x45);
        assert_eq!(ip.len(), 20);
    }

    #[test]
    fn every_prefix_of_a_tagged_frame_is_an_error_or_short_ip_never_a_panic() {
        for len in 0..QINQ_IPV4.len() {
            let r = ip_payload(LinkType::ETHERNET, &QINQ_IPV4[..len]);
            if len < 22 {
                assert!(r.is_err(), "prefix {len} should be truncated");
            }
        }
    }

    // See: issue 14, item 3 (client->server frames with a Cisco MetaData
    // header were dropped silently: half of every flow lost).
    #[rustfmt::skip]
    static CISCO_METADATA_IPV4: &[u8] = &[
        0,1,2,3,4,5, 6,7,8,9,10,11, 0x89,0x09, 0x01,0x01, 0x00,0x01, 0x00,0x11, 0x08,0x00,
        0x45,0,0,20, 0,0,0,0, 64,6,0,0, 10,0,0,1, 10,0,0,2,
    ];

    #[test]
    fn cisco_metadata_header_is_skipped_to_the_ip_header() {
        let ip = ip_payload(LinkType::ETHERNET, CISCO_METADATA_IPV4)
            .unwrap()
            .unwrap();
        assert_eq!(ip, &CISCO_METADATA_IPV4[22..]);
        for len in 14..22 {
            assert!(matches!(
                ip_payload(LinkType::ETHERNET, &CISCO_METADATA_IPV4[..len]),
                Err(DecodeError::Truncated {
                    layer: "cisco-metadata",
                    ..
                })
            ));
        }
    }

    #[test]
    fn unknown_ethertype_is_an_error_naming_it_and_known_non_ip_ones_are_not() {
        let mut f = CISCO_METADATA_IPV4.to_vec();
        f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
        let err = ip_payload(LinkType::ETHERNET, &f).unwrap_err();
        assert_eq!(err, DecodeError::UnknownEtherType(0x88b5));
        assert!(err.to_string().contains("0x88b5"), "{err}");
        for not_ip in [0x0806u16, 0x88cc, 0x0026] {
            f[12..14].copy_from_slice(&not_ip.to_be_bytes());
            assert_eq!(
                ip_payload(LinkType::ETHERNET, &f),
                Ok(None),
                "{not_ip:#06x}"
            );
        }
    }

    #[test]
    fn unknown_link_type_is_reported_by_number() {
        let err = ip_payload(LinkType(147), &[0; 40]).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedLinkType(LinkType(147)));
        assert!(err.to_string().contains("147"));
    }

    #[test]
    fn bsd_null_accepts_both_byte_orders() {
        let mut le = vec![2, 0, 0, 0];
        le.extend_from_slice(&[0x45; 20]);
        let mut be = vec![0, 0, 0, 2];
        be.extend_from_slice(&[0x45; 20]);
        assert!(ip_payload(LinkType::NULL, &le).unwrap().is_some());
        assert!(ip_payload(LinkType::LOOP, &be).unwrap().is_some());
    }
}
