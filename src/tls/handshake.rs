//! Handshake message decoding (TLS ≤ 1.3 cleartext messages) into owned
//! facts, via tls-parser for the message bodies.
//!
//! Owns: [`HsHeader`], [`parse_client_hello`], [`parse_server_hello`],
//! [`parse_certificate`], [`parse_certificate_request`], [`message_name`],
//! [`is_hrr_random`]. Message reassembly across records is in `session.rs`;
//! these functions take one complete message body and never panic: a
//! malformed body is an `Err(HandshakeError)` that becomes an `Anomaly`.

use tls_parser::{
    parse_tls_handshake_certificaterequest, parse_tls_handshake_client_hello,
    parse_tls_handshake_msg_certificate, parse_tls_handshake_server_hello, TlsMessageHandshake,
};

use crate::decode::big_endian::u24_at;

use super::model::{CipherSuiteId, ClientHelloFacts, MessageName, TlsVersion};

/// Handshake message header length (type, u24 length).
pub const HS_HEADER_LEN: usize = 4;

pub const HT_HELLO_REQUEST: u8 = 0;
pub const HT_CLIENT_HELLO: u8 = 1;
pub const HT_SERVER_HELLO: u8 = 2;
pub const HT_NEW_SESSION_TICKET: u8 = 4;
pub const HT_HELLO_RETRY_REQUEST: u8 = 6;
pub const HT_CERTIFICATE: u8 = 11;
pub const HT_SERVER_KEY_EXCHANGE: u8 = 12;
pub const HT_CERTIFICATE_REQUEST: u8 = 13;
pub const HT_SERVER_HELLO_DONE: u8 = 14;
pub const HT_CLIENT_KEY_EXCHANGE: u8 = 16;
pub const HT_FINISHED: u8 = 20;
pub const HT_KEY_UPDATE: u8 = 24;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ENCRYPT_THEN_MAC: u16 = 22;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_ALPN: u16 = 16;

/// A ServerHello whose random is this value is a HelloRetryRequest (RFC 8446 §4.1.3).
#[rustfmt::skip]
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Why a handshake message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
pub enum HandshakeError {
    #[error("malformed {message}")]
    Malformed { message: &'static str },
    #[error("{message} with unsupported version 0x{version:04x}")]
    UnsupportedVersion { message: &'static str, version: u16 },
}

/// Header of one handshake message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HsHeader {
    pub msg_type: u8,
    pub len: usize,
}

impl HsHeader {
    pub fn parse(b: &[u8]) -> Option<HsHeader> {
        Some(HsHeader {
            msg_type: *b.first()?,
            len: u24_at(b, 1)?,
        })
    }
}

/// tshark-style snake-case name of a handshake message type.
pub fn message_name(t: u8) -> MessageName {
    MessageName::Borrowed(match t {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        3 => "hello_verify_request",
        4 => "new_session_ticket",
        5 => "end_of_early_data",
        6 => "hello_retry_request",
        8 => "encrypted_extensions",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        21 => "certificate_url",
        22 => "certificate_status",
        24 => "key_update",
        67 => "next_protocol",
        t => return MessageName::Owned(format!("unknown_{t}")),
    })
}

pub fn is_hrr_random(random: &[u8]) -> bool {
    random == HRR_RANDOM
}

/// GREASE values (RFC 8701): 0x?a?a with equal bytes.
pub(crate) fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Walk an extensions block: (type, data) pairs; stops at the first malformed entry.
///
/// Hand-written, not tls-parser's `parse_tls_client_hello_extensions` /
/// `parse_tls_extensions`: those parse each known extension's content too
/// and stop at the first whose content is malformed, so the extensions after
/// it are lost, while JA4 needs every extension's type, in order, and only a
/// few contents are read here (each leniently). Measured on the corpus:
/// `ndpi__tls-esni-fuzzed.pcap` has a ClientHello with a fuzzed
/// encrypted_server_name; this walk sees its 13 extensions (JA4
/// `t13i1813h2_…`), tls-parser's 11 (`t13i1811h2_…`). Its ServerHello
/// variant also reads extension 21 as encrypt_then_mac (which is 22), and
/// the whole switch cost 0.2 % more instructions (callgrind, `check -j 1` on a
/// 95 MB tap capture: 539.9 M against 538.9 M).
fn extensions(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let t = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
        let l = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
        let data = b.get(4..4 + l)?;
        b = b.get(4 + l..)?;
        Some((t, data))
    })
}

fn sni_host(data: &[u8]) -> Option<String> {
    // server_name_list: u16 len, then (type u8, u16 len, name)*.
    let mut b = data.get(2..)?;
    while b.len() >= 3 {
        let l = usize::from(u16::from_be_bytes([b[1], b[2]]));
        let name = b.get(3..3 + l)?;
        if b[0] == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        b = b.get(3 + l..)?;
    }
    None
}

/// Digest that names a session ticket (see `ClientHelloFacts::ticket_digest`).
pub fn ticket_digest(ticket: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(ticket).into()
}

/// The ticket of a TLS ≤ 1.2 NewSessionTicket body (RFC 5077 §3.3:
/// lifetime hint u32, then the ticket with a u16 length); `None` when
/// malformed or empty.
pub fn new_session_ticket(body: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes([*body.get(4)?, *body.get(5)?]));
    body.get(6..6 + len).filter(|t| !t.is_empty())
}

/// Decode a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHelloFacts, HandshakeError> {
    let (_, ch) =
        parse_tls_handshake_client_hello(body).map_err(|_| HandshakeError::Malformed {
            message: "ClientHello",
        })?;
    let mut f = ClientHelloFacts {
        version: Some(TlsVersion(ch.version.0)),
        cipher_suites: ch.ciphers.iter().map(|c| CipherSuiteId(c.0)).collect(),
        session_id: ch.session_id.map(<[u8]>::to_vec).unwrap_or_default(),
        random: ch.random.to_vec(),
        ..ClientHelloFacts::default()
    };
    for (t, data) in extensions(ch.ext.unwrap_or(&[])) {
        f.extensions.push(t);
        match t {
            EXT_SERVER_NAME => f.sni = sni_host(data),
            EXT_ENCRYPT_THEN_MAC => f.encrypt_then_mac = true,
            EXT_EXTENDED_MASTER_SECRET => f.extended_master_secret = true,
            EXT_SESSION_TICKET => {
                f.session_ticket_ext = true;
                f.ticket_len = data.len();
                f.ticket_digest = (!data.is_empty()).then(|| ticket_digest(data));
            }
            EXT_PRE_SHARED_KEY => f.psk = true,
            EXT_SIGNATURE_ALGORITHMS => {
                // u16 list length, then the u16 code points.
                f.signature_algorithms = data
                    .get(2..)
                    .unwrap_or(&[])
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
            }
            EXT_ALPN => {
                // u16 list length, then (u8 length, protocol)*.
                f.alpn_first = data
                    .get(2)
                    .and_then(|&n| data.get(3..3 + usize::from(n)).map(<[u8]>::to_vec));
            }
            EXT_SUPPORTED_VERSIONS => {
                f.supported_versions = data
                    .get(1..)
                    .unwrap_or(&[])
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .filter(|&v| !is_grease(v))
                    .map(TlsVersion)
                    .collect();
            }
            _ => {}
        }
    }
    Ok(f)
}

/// A decoded ServerHello (or HelloRetryRequest, see `hrr`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub version: u16,
    pub random: Vec<u8>,
    pub session_id: Vec<u8>,
    pub cipher: u16,
    pub extensions: Vec<u16>,
    pub supported_version: Option<u16>,
    pub psk: bool,
    pub encrypt_then_mac: bool,
    pub extended_master_secret: bool,
    /// The random is the HelloRetryRequest value.
    pub hrr: bool,
}

/// TLS 1.3 drafts before 22 had no session id or compression in ServerHello.
/// (version, random, cipher, extensions block) of a draft ServerHello.
type DraftServerHello<'a> = (u16, &'a [u8], u16, Option<&'a [u8]>);

fn parse_draft_server_hello(body: &[u8]) -> Option<DraftServerHello<'_>> {
    let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let random = body.get(2..34)?;
    let cipher = u16::from_be_bytes([*body.get(34)?, *body.get(35)?]);
    let ext = match body.get(36..38) {
        Some(l) => body.get(38..38 + usize::from(u16::from_be_bytes([l[0], l[1]]))),
        None => None,
    };
    Some((version, random, cipher, ext))
}

/// Decode a ServerHello body.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HandshakeError> {
    let malformed = HandshakeError::Malformed {
        message: "ServerHello",
    };
    let version = u16::from_be_bytes([
        *body.first().ok_or(malformed.clone())?,
        *body.get(1).ok_or(malformed.clone())?,
    ]);
    let mut sh = ServerHello::default();
    let ext: Option<&[u8]>;
    if version & 0xff00 == 0x7f00 && version & 0xff < 22 {
        let (v, random, cipher, e) = parse_draft_server_hello(body).ok_or(malformed)?;
        sh.version = v;
        sh.random = random.to_vec();
        sh.cipher = cipher;
        ext = e;
    } else if (0x0300..=0x0303).contains(&version) {
        let (_, s) = parse_tls_handshake_server_hello(body).map_err(|_| malformed)?;
        sh.version = s.version.0;
        sh.random = s.random.to_vec();
        sh.session_id = s.session_id.map(<[u8]>::to_vec).unwrap_or_default();
        sh.cipher = s.cipher.0;
        ext = s.ext;
    } else {
        return Err(HandshakeError::UnsupportedVersion {
            message: "ServerHello",
            version,
        });
    }
    sh.hrr = is_hrr_random(&sh.random);
    for (t, data) in extensions(ext.unwrap_or(&[])) {
        sh.extensions.push(t);
        match t {
            EXT_SUPPORTED_VERSIONS => {
                sh.supported_version = data.get(..2).map(|v| u16::from_be_bytes([v[0], v[1]]));
            }
            EXT_PRE_SHARED_KEY => sh.psk = true,
            EXT_ENCRYPT_THEN_MAC => sh.encrypt_then_mac = true,
            EXT_EXTENDED_MASTER_SECRET => sh.extended_master_secret = true,
            _ => {}
        }
    }
    Ok(sh)
}

/// Decode a (TLS ≤ 1.2) Certificate body into the DER of each certificate.
pub fn parse_certificate(body: &[u8]) -> Result<Vec<&[u8]>, HandshakeError> {
    match parse_tls_handshake_msg_certificate(body) {
        Ok((_, TlsMessageHandshake::Certificate(c))) => {
            Ok(c.cert_chain.iter().map(|c| c.data).collect())
        }
        _ => Err(HandshakeError::Malformed {
            message: "Certificate",
        }),
    }
}

/// The DER certificates of a TLS 1.3 Certificate body (RFC 8446 §4.4.2):
/// `certificate_request_context<0..255>`, then a u24-length list of
/// entries, each a u24-length `cert_data` and u16-length extensions.
pub fn parse_certificate_tls13(body: &[u8]) -> Result<Vec<&[u8]>, HandshakeError> {
    let malformed = || HandshakeError::Malformed {
        message: "Certificate",
    };
    let ctx_len = usize::from(*body.first().ok_or_else(malformed)?);
    let at = 1 + ctx_len;
    let list_len = u24_at(body, at).ok_or_else(malformed)?;
    let mut list = body.get(at + 3..at + 3 + list_len).ok_or_else(malformed)?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let len = u24_at(list, 0).ok_or_else(malformed)?;
        out.push(list.get(3..3 + len).ok_or_else(malformed)?);
        let ext = list.get(3 + len..3 + len + 2).ok_or_else(malformed)?;
        let ext_len = usize::from(u16::from_be_bytes([ext[0], ext[1]]));
        list = list.get(3 + len + 2 + ext_len..).ok_or_else(malformed)?;
    }
    Ok(out)
}

/// Decode a (TLS ≤ 1.2) CertificateRequest body into its CA distinguished
/// names (DER), with or without TLS 1.2's supported_signature_algorithms
/// (the layout that parses is taken, TLS 1.2's first).
pub fn parse_certificate_request(body: &[u8]) -> Result<Vec<&[u8]>, HandshakeError> {
    parse_tls_handshake_certificaterequest(body)
        .map(|(_, request)| request.unparsed_ca)
        .map_err(|_| HandshakeError::Malformed {
            message: "CertificateRequest",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // ClientHello body (no handshake header): TLS 1.2, sid 2 bytes, 2 suites
    // (GREASE + 0x000a), null compression, extensions: SNI "a.b",
    // supported_versions [GREASE, 0x0304, 0x0303], session_ticket (empty), ETM.
    #[rustfmt::skip]
    static CH_BODY: &[u8] = &[
        0x03, 0x03,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x02, 0xab, 0xcd,
        0x00, 0x04, 0x3a, 0x3a, 0x00, 0x0a,
        0x01, 0x00,
        0x00, 0x1f,
        0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x03, b'a', b'.', b'b',
        0x00, 0x2b, 0x00, 0x07, 0x06, 0x2a, 0x2a, 0x03, 0x04, 0x03, 0x03,
        0x00, 0x23, 0x00, 0x00,
        0x00, 0x16, 0x00, 0x00,
    ];

    #[test]
    fn client_hello_fields_are_decoded_without_grease_versions() {
        let ch = parse_client_hello(CH_BODY).unwrap();
        assert_eq!(ch.version, Some(TlsVersion::TLS12));
        assert_eq!(ch.sni.as_deref(), Some("a.b"));
        assert_eq!(ch.session_id, vec![0xab, 0xcd]);
        assert_eq!(
            ch.cipher_suites,
            vec![CipherSuiteId(0x3a3a), CipherSuiteId(0x000a)]
        );
        assert_eq!(
            ch.supported_versions,
            vec![TlsVersion::TLS13, TlsVersion::TLS12]
        );
        assert!(ch.session_ticket_ext && ch.ticket_len == 0);
        assert!(ch.encrypt_then_mac && !ch.extended_master_secret && !ch.psk);
        assert_eq!(ch.extensions, vec![0, 43, 35, 22]);
        assert_eq!(ch.random.len(), 32);
    }

    #[test]
    fn truncated_client_hello_is_an_error_or_the_hello_without_extensions() {
        // version 2 + random 32 + session id 1+2 + suites 2+4 + compression 1+1.
        const EXTENSIONS_AT: usize = 45;
        let full = parse_client_hello(CH_BODY).expect("whole hello");
        for n in 0..CH_BODY.len() {
            match parse_client_hello(&CH_BODY[..n]) {
                Err(HandshakeError::Malformed { message }) => {
                    assert!(n < EXTENSIONS_AT, "prefix {n}");
                    assert_eq!(message, "ClientHello");
                }
                // A cut extensions block reads as absent (the parser treats
                // the block as optional): the fields before it are exact.
                Ok(ch) => {
                    assert!(n >= EXTENSIONS_AT, "prefix {n} parsed");
                    assert!(ch.extensions.is_empty(), "prefix {n}");
                    assert_eq!(ch.version, full.version);
                    assert_eq!(ch.random, full.random);
                    assert_eq!(ch.session_id, full.session_id);
                    assert_eq!(ch.cipher_suites, full.cipher_suites);
                    assert!(ch.sni.is_none() && ch.supported_versions.is_empty());
                }
                Err(e) => panic!("prefix {n}: unexpected {e}"),
            }
        }
    }

    #[test]
    fn truncated_server_hello_is_an_error_never_a_guess() {
        let mut sh = vec![0x03, 0x03];
        sh.extend_from_slice(&[0x22; 32]);
        sh.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
        let full = parse_server_hello(&sh).expect("whole hello");
        assert_eq!(full.cipher, 0x002f);
        for n in 0..sh.len() {
            if let Ok(cut) = parse_server_hello(&sh[..n]) {
                panic!("prefix {n} parsed as {cut:?}");
            }
        }
    }

    #[test]
    fn hrr_random_marks_hello_retry_request() {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&HRR_RANDOM);
        body.extend_from_slice(&[
            0x00, 0x13, 0x01, 0x00, 0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
        ]);
        let sh = parse_server_hello(&body).unwrap();
        assert!(sh.hrr);
        assert_eq!(sh.supported_version, Some(0x0304));
        assert_eq!(sh.cipher, 0x1301);
    }

    #[test]
    fn certificate_request_lists_ca_names_for_both_layouts() {
        // TLS 1.0: types [1], CA list with one 3-byte DN.
        let v10 = [0x01, 0x01, 0x00, 0x05, 0x00, 0x03, 0x30, 0x01, 0x00];
        assert_eq!(
            parse_certificate_request(&v10).unwrap(),
            vec![&[0x30, 0x01, 0x00][..]]
        );
        // TLS 1.2: plus sig algs [0x0401], empty CA list.
        let v12 = [0x01, 0x01, 0x00, 0x02, 0x04, 0x01, 0x00, 0x00];
        assert!(parse_certificate_request(&v12).unwrap().is_empty());
        assert!(parse_certificate_request(&v12[..5]).is_err());
        // A CA list whose last name is cut keeps the names before it.
        let cut = [
            0x01, 0x01, 0x00, 0x08, 0x00, 0x03, 0x30, 0x01, 0x00, 0x00, 0x05, 0x30,
        ];
        assert_eq!(
            parse_certificate_request(&cut).unwrap(),
            vec![&[0x30, 0x01, 0x00][..]]
        );
    }
}
