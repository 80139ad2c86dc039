//! SSL 2.0 record framing and the two cleartext hellos.
//!
//! Owns: [`parse_v2_header`], [`looks_like_client_hello`],
//! [`looks_like_server_hello`], [`parse_client_hello`], [`parse_server_hello`].
//! Covers both pure SSLv2 sessions and the SSLv2-compatible ClientHello that
//! SSL 3.0 / TLS 1.0 clients send. Borrowing parsers; never panic.

use crate::decode::big_endian::u16_at;

use super::model::{CipherSuiteId, TlsVersion};

pub const MSG_CLIENT_HELLO: u8 = 1;
pub const MSG_CLIENT_MASTER_KEY: u8 = 2;
pub const MSG_SERVER_HELLO: u8 = 4;

/// SSLv2 record header: (header length, body length). Two-byte headers have
/// the high bit set; three-byte headers carry a padding count.
pub fn parse_v2_header(b: &[u8]) -> Option<(usize, usize)> {
    let b0 = *b.first()?;
    let b1 = *b.get(1)?;
    if b0 & 0x80 != 0 {
        Some((2, (usize::from(b0 & 0x7f) << 8) | usize::from(b1)))
    } else {
        b.get(2)?;
        Some((3, (usize::from(b0 & 0x3f) << 8) | usize::from(b1)))
    }
}

/// The start of a direction is an SSLv2(-compatible) CLIENT-HELLO.
pub fn looks_like_client_hello(b: &[u8]) -> bool {
    let Some((2, len)) = parse_v2_header(b) else {
        return false;
    };
    let version_ok = u16_at(b, 3).is_some_and(|v| v == 0x0002 || (0x0300..=0x0304).contains(&v));
    let specs_ok = u16_at(b, 5).is_none_or(|n| n % 3 == 0 && n > 0);
    len >= 9 && b.get(2) == Some(&MSG_CLIENT_HELLO) && version_ok && specs_ok
}

/// The start of a direction is an SSLv2 SERVER-HELLO.
pub fn looks_like_server_hello(b: &[u8]) -> bool {
    let Some((2, len)) = parse_v2_header(b) else {
        return false;
    };
    len >= 11
        && b.get(2) == Some(&MSG_SERVER_HELLO)
        && b.get(3).is_some_and(|&hit| hit <= 1)
        && u16_at(b, 5).is_some_and(|v| v == 0x0002)
}

/// Decoded SSLv2 CLIENT-HELLO (body without the record header).
#[derive(Debug, Default)]
pub struct ClientHelloV2 {
    pub version: u16,
    /// TLS suites (cipher specs whose first byte is 0), in offer order.
    pub suites: Vec<CipherSuiteId>,
    /// All cipher specs, 24-bit.
    pub spec_count: usize,
    pub session_id: Vec<u8>,
    /// The challenge left-padded to 32 bytes: the client_random of the
    /// SSL 3.0/TLS session it starts (RFC 5246 Appendix E.2).
    pub random: Vec<u8>,
}

pub fn parse_client_hello(body: &[u8]) -> Option<ClientHelloV2> {
    if *body.first()? != MSG_CLIENT_HELLO {
        return None;
    }
    let version = u16_at(body, 1)?;
    let specs_len = usize::from(u16_at(body, 3)?);
    let sid_len = usize::from(u16_at(body, 5)?);
    let chal_len = usize::from(u16_at(body, 7)?);
    let specs = body.get(9..9 + specs_len)?;
    let sid = body.get(9 + specs_len..9 + specs_len + sid_len)?;
    let chal = body.get(9 + specs_len + sid_len..9 + specs_len + sid_len + chal_len)?;
    let suites = specs
        .chunks_exact(3)
        .filter(|c| c[0] == 0)
        .map(|c| CipherSuiteId(u16::from_be_bytes([c[1], c[2]])))
        .collect();
    let mut random = vec![0u8; 32usize.saturating_sub(chal.len())];
    random.extend_from_slice(chal.get(chal.len().saturating_sub(32)..).unwrap_or(chal));
    Some(ClientHelloV2 {
        version,
        suites,
        spec_count: specs_len / 3,
        session_id: sid.to_vec(),
        random,
    })
}

/// Decoded SSLv2 SERVER-HELLO.
#[derive(Debug)]
pub struct ServerHelloV2<'a> {
    pub session_id_hit: bool,
    pub version: TlsVersion,
    pub certificate: &'a [u8],
    pub connection_id: &'a [u8],
}

pub fn parse_server_hello(body: &[u8]) -> Option<ServerHelloV2<'_>> {
    if *body.first()? != MSG_SERVER_HELLO {
        return None;
    }
    let hit = *body.get(1)? != 0;
    let version = u16_at(body, 3)?;
    let cert_len = usize::from(u16_at(body, 5)?);
    let specs_len = usize::from(u16_at(body, 7)?);
    let cid_len = usize::from(u16_at(body, 9)?);
    let certificate = body.get(11..11 + cert_len)?;
    let cid_at = 11 + cert_len + specs_len;
    let connection_id = body.get(cid_at..cid_at + cid_len)?;
    Some(ServerHelloV2 {
        session_id_hit: hit,
        version: TlsVersion(version),
        certificate,
        connection_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // SSLv2-compatible ClientHello offering TLS 1.0: 2 TLS suites + 1 SSLv2 spec.
    #[rustfmt::skip]
    static V2_CH: &[u8] = &[
        0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
        0x00, 0x00, 0x0a, 0x00, 0x00, 0x2f, 0x07, 0x00, 0xc0,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    ];

    #[test]
    fn v2_compatible_client_hello_is_recognised_and_parsed() {
        assert!(looks_like_client_hello(V2_CH));
        let (hl, len) = parse_v2_header(V2_CH).unwrap();
        assert_eq!((hl, len), (2, V2_CH.len() - 2));
        let ch = parse_client_hello(&V2_CH[2..]).unwrap();
        assert_eq!(ch.version, 0x0301);
        assert_eq!(
            ch.suites,
            vec![CipherSuiteId(0x000a), CipherSuiteId(0x002f)]
        );
        assert_eq!(ch.spec_count, 3);
        assert_eq!(ch.random.len(), 32);
        assert_eq!(&ch.random[16..], &V2_CH[20..]);
    }

    #[test]
    fn truncated_v2_client_hello_is_none_not_panic() {
        for n in 0..V2_CH.len() - 2 {
            assert!(parse_client_hello(&V2_CH[2..2 + n]).is_none());
        }
    }
}
