//! Flow-level tests of the TLS stage: whole handshakes fed as TCP segments.

use super::model::{CipherSuiteId, TlsFacts, TlsVersion};
use super::{Anomaly, TlsFlow, TlsLimits, MAX_TIMELINE_EVENTS};
use crate::capture::Timestamp;
use crate::decode::Dir;
use proptest::prelude::*;

static SERVER_CERT: &[u8] = include_bytes!("testdata/server-ec.der");
static CLIENT_CERT: &[u8] = include_bytes!("testdata/client-rsa.der");

/// TLS 1.0 ClientHello record: empty session id, suites 0x000a 0x002f, no extensions.
#[rustfmt::skip]
static CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2f,
    0x01, 0x00, 0x00, 0x2b, 0x03, 0x01,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
    0x00,
    0x00, 0x04, 0x00, 0x0a, 0x00, 0x2f,
    0x01, 0x00,
];

/// TLS 1.0 ServerHello handshake message: 4-byte session id, suite 0x000a, no extensions.
#[rustfmt::skip]
static SERVER_HELLO_MSG: &[u8] = &[
    0x02, 0x00, 0x00, 0x2a, 0x03, 0x01,
    0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0,
    0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0,
    0x04, 0xde, 0xad, 0xbe, 0xef,
    0x00, 0x0a,
    0x00,
];

/// Fatal handshake_failure alert in the clear.
#[rustfmt::skip]
static FATAL_ALERT: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28];

/// SSLv2-compatible ClientHello offering TLS 1.0 with suites 0x000a, 0x002f.
#[rustfmt::skip]
static V2_CLIENT_HELLO: &[u8] = &[
    0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
    0x00, 0x00, 0x0a, 0x00, 0x00, 0x2f, 0x07, 0x00, 0xc0,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
];

fn record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 3, 1];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn hs(t: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn u24(n: usize) -> [u8; 3] {
    let b = (n as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn cert_msg(certs: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in certs {
        list.extend_from_slice(&u24(c.len()));
        list.extend_from_slice(c);
    }
    let mut body = u24(list.len()).to_vec();
    body.extend(list);
    hs(11, &body)
}

fn cert_request() -> Vec<u8> {
    // Types [rsa_sign], one CA DN: SEQUENCE { SET { SEQUENCE { OID CN, UTF8 "CA" } } }.
    #[rustfmt::skip]
    let dn: &[u8] = &[0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'C', b'A'];
    let mut body = vec![0x01, 0x01];
    body.extend_from_slice(&((dn.len() + 2) as u16).to_be_bytes());
    body.extend_from_slice(&(dn.len() as u16).to_be_bytes());
    body.extend_from_slice(dn);
    hs(13, &body)
}

/// The server's first flight, Certificate split over two records.
fn server_flight() -> Vec<u8> {
    let mut msgs = SERVER_HELLO_MSG.to_vec();
    msgs.extend(cert_msg(&[SERVER_CERT]));
    let split = SERVER_HELLO_MSG.len() + 100;
    let mut out = record(22, &msgs[..split]);
    let mut rest = msgs[split..].to_vec();
    rest.extend(cert_request());
    rest.extend(hs(14, &[]));
    out.extend(record(22, &rest));
    out
}

fn client_flight() -> Vec<u8> {
    let mut msgs = cert_msg(&[CLIENT_CERT]);
    msgs.extend(hs(16, &[0x55; 130]));
    msgs.extend(hs(15, &[0x66; 66]));
    let mut out = record(22, &msgs);
    out.extend(record(20, &[1]));
    out.extend(record(22, &[0x77; 40]));
    out
}

fn server_finish() -> Vec<u8> {
    let mut out = record(20, &[1]);
    out.extend(record(22, &[0x88; 40]));
    out
}

/// A mutual-TLS 1.0 session as (dir, segment bytes, frame).
fn mutual_session() -> Vec<(Dir, Vec<u8>, u64)> {
    let mut app = record(23, &[0; 24]);
    app.extend(record(23, &[0; 100]));
    vec![
        (Dir::AB, CLIENT_HELLO.to_vec(), 4),
        (Dir::BA, server_flight(), 6),
        (Dir::AB, client_flight(), 8),
        (Dir::BA, server_finish(), 9),
        // Client: minimal record and data in one segment (one write).
        (Dir::AB, app, 10),
        // Server: minimal record, then data in a later segment.
        (Dir::BA, record(23, &[0; 24]), 11),
        (Dir::BA, record(23, &[0; 56]), 12),
        // Client: a lone minimal record, then the server speaks.
        (Dir::AB, record(23, &[0; 24]), 13),
        (Dir::BA, record(21, &[0; 26]), 14),
    ]
}

fn run(segments: &[(Dir, Vec<u8>, u64)]) -> TlsFlow {
    let mut f = TlsFlow::new(TlsLimits::default());
    for (dir, bytes, frame) in segments {
        f.on_data(*dir, bytes, *frame, Timestamp::default());
    }
    f
}

fn json(f: &TlsFacts) -> String {
    serde_json::to_string(f).unwrap()
}

#[test]
fn mutual_tls10_session_yields_every_fact() {
    let flow = run(&mutual_session());
    assert!(flow.is_settled());
    assert!(!flow.wants_payload(Dir::AB) && !flow.wants_payload(Dir::BA));
    let f = flow.finish();
    assert!(f.saw_tls && f.not_tls.is_none());
    assert_eq!(f.negotiated_version, Some(TlsVersion::TLS10));
    assert_eq!(f.cipher_suite, Some(CipherSuiteId(0x000a)));
    assert_eq!(f.resumed, Some(false));
    let ch = f.client_hello.as_ref().unwrap();
    assert_eq!((ch.frame, ch.dir, ch.count), (4, Some(Dir::AB), 1));
    assert_eq!(ch.cipher_suites.len(), 2);
    let sc = f.server_certificates.as_ref().unwrap();
    assert_eq!(sc.frame, 6);
    assert_eq!(sc.certs[0].subject_cn, vec!["imp.example.com"]);
    assert_eq!(sc.certs[0].key, "EC P-256");
    assert_eq!(sc.certs[0].serial, "8f01");
    assert_eq!(sc.certs[0].san, vec!["DNS:imp.example.com", "IP:10.0.0.1"]);
    assert_eq!(
        sc.certs[0].eku,
        Some(vec!["serverAuth".to_string(), "clientAuth".to_string()])
    );
    let cc = f.client_certificates.as_ref().unwrap();
    assert_eq!(cc.certs[0].subject_cn, vec!["ocs.example.com", "second-cn"]);
    assert_eq!(cc.certs[0].key, "RSA 2048");
    assert_eq!(*f.certificate_request.as_ref().unwrap().ca_names, ["CN=CA"]);
    let (c, s) = (&f.per_dir[0], &f.per_dir[1]);
    assert_eq!(
        (c.change_cipher_spec, c.encrypted_handshake),
        (Some(8), Some(8))
    );
    assert_eq!(
        (s.change_cipher_spec, s.encrypted_handshake),
        (Some(9), Some(9))
    );
    assert_eq!(
        s.handshake_messages,
        vec![
            "server_hello",
            "certificate",
            "certificate_request",
            "server_hello_done",
            "encrypted"
        ]
    );
    assert_eq!(c.app_data.minimal_len, Some(24));
    assert_eq!(c.app_data.records, 3);
    assert_eq!(c.app_data.minimal_records, 2);
    assert_eq!(c.app_data.minimal_then_same_segment, 1);
    assert_eq!(c.app_data.same_segment_frames, vec![10]);
    assert_eq!(c.app_data.minimal_then_later_segment, 0);
    assert_eq!(s.app_data.minimal_records, 1);
    assert_eq!(s.app_data.minimal_then_later_segment, 1);
    assert_eq!(s.app_data.later_segment_frames, vec![11]);
    assert_eq!(s.app_data.minimal_then_same_segment, 0);
    assert_eq!(f.alerts.len(), 1);
    assert!(f.alerts[0].encrypted && f.alerts[0].dir == Some(Dir::BA));
    assert!(f.anomalies.is_empty(), "{:?}", f.anomalies);
}

#[test]
fn byte_by_byte_delivery_gives_the_same_handshake_facts() {
    // Handshake only: segment boundaries matter for the §3.3 evidence by design.
    let segs: Vec<_> = mutual_session().into_iter().take(4).collect();
    let whole = run(&segs).finish();
    let mut f = TlsFlow::new(TlsLimits::default());
    for (dir, bytes, frame) in &segs {
        for b in bytes {
            f.on_data(*dir, std::slice::from_ref(b), *frame, Timestamp::default());
        }
    }
    assert_eq!(json(&whole), json(&f.finish()));
}

#[test]
fn truncation_sweep_never_panics_and_agrees_across_chunking() {
    let stream = server_flight();
    for n in 0..=stream.len() {
        let mut one = TlsFlow::new(TlsLimits::default());
        one.on_data(Dir::BA, &stream[..n], 1, Timestamp::default());
        let mut bytes = TlsFlow::new(TlsLimits::default());
        for b in &stream[..n] {
            bytes.on_data(Dir::BA, std::slice::from_ref(b), 1, Timestamp::default());
        }
        let (a, b) = (one.finish(), bytes.finish());
        assert_eq!(json(&a), json(&b), "prefix {n}");
        if n == stream.len() {
            assert!(a.server_certificates.is_some());
        } else if n < SERVER_HELLO_MSG.len() + 5 {
            assert!(a.server_hello.is_none(), "prefix {n}");
        }
    }
}

#[test]
fn fatal_alert_in_the_clear_settles_the_flow() {
    let flow = run(&[
        (Dir::AB, CLIENT_HELLO.to_vec(), 1),
        (Dir::BA, FATAL_ALERT.to_vec(), 2),
    ]);
    assert!(flow.is_settled());
    let f = flow.finish();
    assert_eq!(f.resumed, None);
    let a = &f.alerts[0];
    assert_eq!(
        (a.level, a.description, a.encrypted, a.frame),
        (Some(2), Some(40), false, 2)
    );
}

#[test]
fn sslv2_compatible_client_hello_then_tls_server() {
    let mut sh = record(22, SERVER_HELLO_MSG);
    sh.extend(record(22, &hs(14, &[])));
    let f = run(&[
        (Dir::AB, V2_CLIENT_HELLO.to_vec(), 1),
        (Dir::BA, sh, 2),
        (Dir::AB, record(22, &hs(16, &[1; 10])), 3),
    ])
    .finish();
    let ch = f.client_hello.as_ref().unwrap();
    assert!(ch.sslv2_format);
    assert_eq!(ch.version, Some(TlsVersion::TLS10));
    assert_eq!(
        ch.cipher_suites,
        vec![CipherSuiteId(0x000a), CipherSuiteId(0x002f)]
    );
    assert_eq!(f.negotiated_version, Some(TlsVersion::TLS10));
    assert_eq!(f.per_dir[0].sslv2_records, 1);
    assert_eq!(f.per_dir[0].records, 2);
    assert_eq!(
        f.per_dir[0].handshake_messages,
        vec!["sslv2_client_hello", "client_key_exchange"]
    );
}

#[test]
fn pure_sslv2_session_takes_the_certificate_from_server_hello() {
    let mut ch = V2_CLIENT_HELLO.to_vec();
    ch[4] = 0x02; // version 0x0002
    ch[3] = 0x00;
    let mut body = vec![0x04, 0x00, 0x01, 0x00, 0x02];
    body.extend_from_slice(&(SERVER_CERT.len() as u16).to_be_bytes());
    body.extend_from_slice(&[0x00, 0x03, 0x00, 0x10]);
    body.extend_from_slice(SERVER_CERT);
    body.extend_from_slice(&[0x07, 0x00, 0xc0]);
    body.extend_from_slice(&[0x42; 16]);
    let mut sh = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
    sh.extend(body);
    let f = run(&[
        (Dir::AB, ch, 1),
        (Dir::BA, sh, 2),
        (Dir::AB, vec![0x80, 0x03, 2, 0, 0], 3),
    ])
    .finish();
    assert_eq!(f.negotiated_version, Some(TlsVersion::SSL2));
    assert_eq!(f.cipher_suite, None);
    let sc = f.server_certificates.unwrap();
    assert_eq!(sc.certs[0].subject_cn, vec!["imp.example.com"]);
    assert_eq!(
        f.per_dir[0].handshake_messages,
        vec!["sslv2_client_hello", "sslv2_client_master_key"]
    );
}

#[test]
fn cleartext_sip_is_not_tls_with_a_hint() {
    let f = run(&[(
        Dir::AB,
        b"OPTIONS sip:imp.example.com SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\n".to_vec(),
        3,
    )])
    .finish();
    assert!(!f.saw_tls);
    let nt = f.not_tls.unwrap();
    assert_eq!(nt.frame, 3);
    assert_eq!(
        nt.looks_like,
        "cleartext SIP (OPTIONS sip:imp.example.com SIP/2.0)"
    );
}

#[test]
fn starttls_upgrade_is_decoded_after_the_cleartext() {
    let f = run(&[
        (Dir::BA, b"220 mail.example.com ESMTP\r\n".to_vec(), 1),
        (Dir::AB, b"EHLO x\r\n".to_vec(), 2),
        (Dir::BA, b"250 STARTTLS\r\n".to_vec(), 3),
        (Dir::AB, b"STARTTLS\r\n".to_vec(), 4),
        (Dir::BA, b"220 go ahead\r\n".to_vec(), 5),
        (Dir::AB, CLIENT_HELLO.to_vec(), 6),
        (Dir::BA, server_flight(), 7),
    ])
    .finish();
    assert!(f.saw_tls && f.not_tls.is_none());
    assert!(f
        .cleartext_prefix
        .unwrap()
        .looks_like
        .starts_with("SMTP/FTP banner"));
    assert_eq!(f.negotiated_version, Some(TlsVersion::TLS10));
    assert!(f.server_certificates.is_some());
    assert!(!f.per_dir[0].midstream && !f.per_dir[1].midstream);
}

#[test]
fn gap_inside_a_skipped_body_keeps_sync() {
    let mut f = run(&mutual_session()[..4]);
    let rec = record(23, &[0; 300]);
    f.on_data(Dir::AB, &rec[..100], 20, Timestamp::default());
    f.on_gap(Dir::AB, 150, 21);
    f.on_data(Dir::AB, &rec[250..], 22, Timestamp::default());
    f.on_data(Dir::AB, &record(23, &[0; 50]), 23, Timestamp::default());
    let f = f.finish();
    assert_eq!(f.per_dir[0].resyncs, 0);
    assert_eq!(f.per_dir[0].app_data.records, 2);
}

#[test]
fn gap_across_records_resynchronises_on_the_next_boundary() {
    let mut f = run(&mutual_session()[..4]);
    let rec = record(23, &[0; 300]);
    f.on_data(Dir::AB, &rec[..100], 20, Timestamp::default());
    f.on_gap(Dir::AB, 400, 21);
    // The segment after the hole starts mid-record: 7 stray bytes, then records.
    let mut seg = vec![0x11; 7];
    seg.extend(record(23, &[0; 40]));
    f.on_data(Dir::AB, &seg, 22, Timestamp::default());
    f.on_data(Dir::AB, &record(23, &[0; 24]), 23, Timestamp::default());
    let f = f.finish();
    let c = &f.per_dir[0];
    assert_eq!(c.resyncs, 1);
    assert_eq!(c.unparsed_bytes, 7);
    assert_eq!(c.app_data.records, 3);
}

#[test]
fn midstream_start_needs_a_chain_of_records() {
    let mut seg = vec![0x42; 13];
    for _ in 0..3 {
        seg.extend(record(23, &[0; 64]));
    }
    let f = run(&[(Dir::BA, seg, 1)]).finish();
    assert!(f.saw_tls && f.per_dir[1].midstream);
    assert_eq!(f.per_dir[1].app_data.records, 3);
    assert_eq!(f.per_dir[1].unparsed_bytes, 13);
    assert_eq!(f.resumed, None);
}

#[test]
fn empty_client_certificate_message_is_some_with_no_certs() {
    let mut segs: Vec<_> = mutual_session().into_iter().take(2).collect();
    let mut msgs = cert_msg(&[]);
    msgs.extend(hs(16, &[0x55; 130]));
    segs.push((Dir::AB, record(22, &msgs), 8));
    let f = run(&segs).finish();
    assert!(f.client_certificates.unwrap().certs.is_empty());
}

#[test]
fn session_id_echo_without_certificate_is_resumption() {
    let mut ch = CLIENT_HELLO.to_vec();
    // Give the ClientHello the session id the ServerHello echoes.
    ch.splice(43..44, [0x04, 0xde, 0xad, 0xbe, 0xef]);
    ch[4] += 4;
    ch[8] += 4;
    let mut sh = record(22, SERVER_HELLO_MSG);
    sh.extend(server_finish());
    let f = run(&[(Dir::AB, ch, 1), (Dir::BA, sh, 2)]).finish();
    assert_eq!(f.resumed, Some(true));
    assert_eq!(f.resumption.as_deref(), Some("session-id"));
}

/// The ClientHello with the ServerHello's session id and a session ticket
/// extension carrying `ticket` (empty = offers ticket support).
fn client_hello_with_ticket(ticket: &[u8]) -> Vec<u8> {
    let mut body = CLIENT_HELLO[5..].to_vec();
    body.splice(38..39, [0x04, 0xde, 0xad, 0xbe, 0xef]);
    // Replace the empty extensions block (last 0 bytes) with session_ticket.
    let mut ext = vec![0x00, 0x23];
    ext.extend_from_slice(&(ticket.len() as u16).to_be_bytes());
    ext.extend_from_slice(ticket);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let len = body.len() - 4;
    body[1..4].copy_from_slice(&u24(len));
    record(22, &body)
}

// See: issue 14, item 6 (a session ticket offer with a full handshake was
// reported as "resumed by ticket").
#[test]
fn ticket_offer_with_a_client_key_exchange_is_a_full_handshake() {
    // The server's Certificate and ServerHelloDone were lost in a gap; the
    // client's ClientKeyExchange still shows the handshake was full.
    let mut client = cert_msg(&[CLIENT_CERT]);
    client.extend(hs(16, &[0x55; 130]));
    let mut client = record(22, &client);
    client.extend(record(20, &[1]));
    client.extend(record(22, &[0x77; 40]));
    let f = run(&[
        (Dir::AB, client_hello_with_ticket(&[0x5a; 48]), 1),
        (Dir::BA, record(22, SERVER_HELLO_MSG), 2),
        (Dir::AB, client, 4),
        (Dir::BA, server_finish(), 5),
    ])
    .finish();
    assert_eq!((f.resumed, f.resumption.as_deref()), (Some(false), None));
}

#[test]
fn server_changing_cipher_first_with_a_ticket_offer_is_ticket_resumption() {
    let ticket = [0x5a; 48];
    let mut sh = record(22, SERVER_HELLO_MSG);
    sh.extend(server_finish());
    let f = run(&[
        (Dir::AB, client_hello_with_ticket(&ticket), 1),
        (Dir::BA, sh, 2),
        (Dir::AB, record(20, &[1]), 3),
    ])
    .finish();
    assert_eq!(
        (f.resumed, f.resumption.as_deref()),
        (Some(true), Some("ticket"))
    );
    let ch = f.client_hello.unwrap();
    assert_eq!(
        ch.ticket_digest,
        Some(super::handshake::ticket_digest(&ticket))
    );
}

#[test]
fn new_session_ticket_is_remembered_by_digest() {
    let ticket = [0x5a; 48];
    let mut nst = vec![0, 0, 0x1c, 0x20];
    nst.extend_from_slice(&(ticket.len() as u16).to_be_bytes());
    nst.extend_from_slice(&ticket);
    let mut finish = record(22, &hs(4, &nst));
    finish.extend(server_finish());
    let mut segs = mutual_session();
    segs[3] = (Dir::BA, finish, 9);
    let f = run(&segs).finish();
    assert!(f.new_session_ticket);
    assert_eq!(
        f.issued_ticket_digest,
        Some(super::handshake::ticket_digest(&ticket))
    );
    assert_eq!(f.resumed, Some(false));
}

// See: issue 14, item 6 (a TLS 1.3 variant, 0x7e01, echoing the session id
// was taken as resumption) and item 8 (its name).
#[test]
fn tls13_variant_echoing_the_session_id_is_not_resumption() {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0x04, 0xde, 0xad, 0xbe, 0xef, 0x13, 0x01, 0x00]);
    let ext = [0x00, 0x2b, 0x00, 0x02, 0x7e, 0x01];
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let f = run(&[
        (Dir::AB, client_hello_with_ticket(&[]), 1),
        (Dir::BA, record(22, &hs(2, &body)), 2),
        (Dir::BA, record(23, &[0; 300]), 2),
    ])
    .finish();
    let v = f.negotiated_version.unwrap();
    assert!(v.is_tls13());
    assert_eq!(v.name(), "TLSv1.3-draft (Google experiment 1, 0x7e01)");
    assert_eq!(f.resumed, Some(false));
}

// See: issue 14, item 2 (a snaplen-cut capture lost every record header).
#[test]
fn record_headers_at_segment_starts_after_gaps_are_evidence() {
    let mut f = TlsFlow::new(TlsLimits::default());
    let ts = Timestamp::default();
    // Each segment keeps its first 30 bytes, the rest is a gap.
    let client_app = record(23, &[0; 168]);
    let server_app = record(23, &[0; 112]);
    let hello = CLIENT_HELLO.to_vec();
    for (dir, bytes, frame) in [
        (Dir::AB, &hello, 4),
        (Dir::BA, &server_flight(), 6),
        (Dir::AB, &client_flight(), 8),
        (Dir::AB, &client_app, 11),
        (Dir::BA, &server_app, 17),
        (Dir::AB, &client_app, 19),
    ] {
        let keep = bytes.len().min(30);
        f.on_data(dir, &bytes[..keep], frame, ts);
        f.on_gap(dir, (bytes.len() - keep) as u64, frame);
    }
    let f = f.finish();
    assert!(f.saw_tls);
    assert_eq!(f.per_dir[0].app_data.records, 2);
    assert_eq!(f.per_dir[1].app_data.records, 1);
    assert_eq!(
        f.per_dir[0].app_data.record_versions,
        vec![(TlsVersion::TLS10, 11)]
    );
    assert_eq!(f.per_dir[0].app_data.len_mod16, vec![(168, 11)]);
    // The cut handshake records still count as records of that direction.
    assert_eq!(f.per_dir[1].records, 2);
}

// See: issue 15, item 5 (a link joined mid-stream was reported only when it
// ended, which for a federation link can be days).
#[test]
fn flow_joined_midstream_is_settled_after_a_bounded_number_of_records() {
    let mut f = TlsFlow::new(TlsLimits::default());
    let per_side = super::session::MIDSTREAM_SETTLE_RECORDS / 2;
    for i in 0..per_side {
        assert!(!flow_settled(&f), "settled after {} records", 2 * i);
        f.on_data(
            Dir::AB,
            &record(23, &[0; 168]),
            2 * i + 1,
            Timestamp::default(),
        );
        f.on_data(
            Dir::BA,
            &record(23, &[0; 112]),
            2 * i + 2,
            Timestamp::default(),
        );
    }
    assert!(flow_settled(&f));
}

fn tls13_server_hello(random: [u8; 32], psk: bool) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&random);
    body.extend_from_slice(&[0x00, 0x13, 0x01, 0x00]);
    let mut ext = vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    if psk {
        ext.extend_from_slice(&[0x00, 0x29, 0x00, 0x02, 0x00, 0x00]);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    record(22, &hs(2, &body))
}

#[test]
fn tls13_psk_handshake_with_hello_retry_request() {
    let hrr_random = {
        let mut r = [0u8; 32];
        r.copy_from_slice(
            &hex::decode("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
                .unwrap(),
        );
        r
    };
    let f = run(&[
        (Dir::AB, CLIENT_HELLO.to_vec(), 1),
        (Dir::BA, tls13_server_hello(hrr_random, false), 2),
        (Dir::AB, record(20, &[1]), 3),
        (Dir::AB, CLIENT_HELLO.to_vec(), 4),
        (Dir::BA, tls13_server_hello([7; 32], true), 5),
        (Dir::BA, record(23, &[0; 300]), 5),
        (Dir::AB, record(23, &[0; 53]), 6),
        (Dir::AB, record(23, &[0; 80]), 7),
        (Dir::BA, record(23, &[0; 80]), 8),
    ]);
    assert!(flow_settled(&f));
    let f = f.finish();
    assert_eq!(f.negotiated_version, Some(TlsVersion::TLS13));
    assert_eq!(
        f.server_hello.as_ref().unwrap().hello_retry_request,
        Some(2)
    );
    assert_eq!(f.client_hello.as_ref().unwrap().count, 2);
    assert!(!f.renegotiation);
    assert_eq!(
        (f.resumed, f.resumption.as_deref()),
        (Some(true), Some("psk"))
    );
    assert_eq!(f.per_dir[1].encrypted_handshake, Some(5));
    assert_eq!(f.per_dir[0].encrypted_handshake, Some(6));
    assert_eq!(f.per_dir[0].app_data.records, 1);
    assert_eq!(f.per_dir[0].app_data.minimal_len, None);
}

fn flow_settled(f: &TlsFlow) -> bool {
    f.is_settled()
}

#[test]
fn oversized_handshake_message_is_noted_not_buffered() {
    let limits = TlsLimits {
        max_handshake_len: 64,
        max_certs: 16,
    };
    let mut f = TlsFlow::new(limits);
    f.on_data(Dir::BA, &server_flight(), 1, Timestamp::default());
    f.on_data(Dir::BA, &record(22, &hs(14, &[])), 2, Timestamp::default());
    let f = f.finish();
    assert!(
        f.anomalies.iter().any(|a| matches!(
            a,
            Anomaly::CertificateMessageOverLimit {
                frame: 1,
                dir: Dir::BA,
                limit: 64,
                ..
            }
        )),
        "{:?}",
        f.anomalies
    );
    let chain = f.server_certificates.unwrap();
    assert!(chain.truncated);
    assert!(chain.certs[0].partial.is_some());
    assert!(f.per_dir[1]
        .handshake_messages
        .iter()
        .any(|m| m == "server_hello_done"));
}

#[test]
fn oversized_certificate_message_still_yields_the_leaf_subject() {
    let limits = TlsLimits {
        max_handshake_len: 320,
        max_certs: 16,
    };
    for chunk in [1usize, 7, 100, 10_000] {
        let mut f = TlsFlow::new(limits);
        f.on_data(Dir::AB, CLIENT_HELLO, 1, Timestamp::default());
        for c in server_flight().chunks(chunk) {
            f.on_data(Dir::BA, c, 2, Timestamp::default());
        }
        let f = f.finish();
        let leaf = &f.server_certificates.as_ref().unwrap().certs[0];
        assert_eq!(leaf.subject_cn, vec!["imp.example.com"], "chunk {chunk}");
        assert!(leaf.partial.is_some());
        assert!(
            f.certificate_request.is_some(),
            "chunk {chunk}: {:?}",
            f.anomalies
        );
    }
}

#[test]
fn timeline_lists_each_step_with_its_frame_time_and_sender() {
    use super::model::Step;
    let mut f = TlsFlow::new(TlsLimits::default());
    for (dir, bytes, frame) in &mutual_session() {
        // Frame n is captured n milliseconds after the first second.
        let ts = Timestamp::new(1, *frame as u32 * 1_000_000);
        f.on_data(*dir, bytes, *frame, ts);
    }
    let f = f.finish();
    let hs = |n: &str| Step::Handshake(n.to_string().into());
    let got: Vec<(u64, Dir, Step)> = f
        .timeline
        .iter()
        .map(|e| (e.frame, e.dir, e.step.clone()))
        .collect();
    let at = |frame: u32| Timestamp::new(1, frame * 1_000_000);
    let expected = vec![
        (4, Dir::AB, hs("client_hello")),
        (6, Dir::BA, hs("server_hello")),
        (6, Dir::BA, hs("certificate")),
        (6, Dir::BA, hs("certificate_request")),
        (6, Dir::BA, hs("server_hello_done")),
        (8, Dir::AB, hs("certificate")),
        (8, Dir::AB, hs("client_key_exchange")),
        (8, Dir::AB, hs("certificate_verify")),
        (8, Dir::AB, Step::ChangeCipherSpec),
        (8, Dir::AB, Step::EncryptedHandshake),
        (9, Dir::BA, Step::ChangeCipherSpec),
        (9, Dir::BA, Step::EncryptedHandshake),
        // The client's first write: two records in one step.
        (
            10,
            Dir::AB,
            Step::AppData {
                records: [2, 0],
                last_frame: 10,
                last_ts: at(10),
            },
        ),
        // The server's first records, then the client's third joins them:
        // both sides have spoken, the rest of the conversation is one step.
        (
            11,
            Dir::BA,
            Step::AppData {
                records: [1, 2],
                last_frame: 13,
                last_ts: at(13),
            },
        ),
        (
            14,
            Dir::BA,
            Step::Alert {
                level: None,
                description: None,
            },
        ),
    ];
    assert_eq!(got, expected);
    assert_eq!(f.timeline[0].ts, at(4));
    assert_eq!(f.timeline[14].ts, at(14));
    assert_eq!(f.timeline_dropped, 0);
}

#[test]
fn timeline_is_capped_and_counts_what_it_dropped() {
    let mut segs: Vec<_> = mutual_session().into_iter().take(2).collect();
    // 100 ChangeCipherSpec records: each is a step until the cap.
    for i in 0..100u64 {
        segs.push((Dir::AB, record(20, &[1]), 10 + i));
    }
    let f = run(&segs).finish();
    assert_eq!(f.timeline.len(), MAX_TIMELINE_EVENTS);
    // 5 handshake steps (ClientHello, the server's four) + 100.
    assert_eq!(f.timeline_dropped as usize, 5 + 100 - MAX_TIMELINE_EVENTS);
    assert_eq!(f.timeline.last().map(|e| e.frame), Some(10 + 58));
}

#[test]
fn zero_length_application_data_record_is_counted() {
    let mut segs: Vec<_> = mutual_session().into_iter().take(4).collect();
    segs.push((Dir::AB, record(23, &[]), 30));
    let f = run(&segs).finish();
    assert_eq!(f.per_dir[0].app_data.zero_length_records, 1);
    assert_eq!(f.per_dir[0].app_data.zero_length_frames, vec![30]);
    assert_eq!(f.per_dir[0].zero_length_records, 1);
}

proptest! {
    #[test]
    fn arbitrary_chunking_of_a_valid_stream_yields_identical_facts(
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)
    ) {
        let segs: Vec<_> = mutual_session().into_iter().take(4).collect();
        let expected = json(&run(&segs).finish());
        let mut f = TlsFlow::new(TlsLimits::default());
        for (i, (dir, bytes, frame)) in segs.iter().enumerate() {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            points.push(0);
            points.push(bytes.len());
            points.sort_unstable();
            points.dedup();
            for w in points.windows(2) {
                f.on_data(*dir, &bytes[w[0]..w[1]], *frame, Timestamp::default());
            }
            let _ = i;
        }
        prop_assert_eq!(expected, json(&f.finish()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300), 0u64..50), 0..20)
    ) {
        let mut f = TlsFlow::new(TlsLimits::default());
        for (ab, bytes, gap) in &chunks {
            let dir = if *ab { Dir::AB } else { Dir::BA };
            if *gap > 40 {
                f.on_gap(dir, *gap, 1);
            }
            f.on_data(dir, bytes, 1, Timestamp::default());
            let _ = f.wants_payload(dir);
        }
        let _ = f.is_settled();
        let _ = f.finish();
    }

    #[test]
    fn mutated_handshakes_never_panic(pos in 0usize..2000, val in any::<u8>(), cut in 0usize..2000) {
        let mut s = server_flight();
        let n = s.len();
        s[pos % n] = val;
        let mut f = TlsFlow::new(TlsLimits::default());
        f.on_data(Dir::AB, CLIENT_HELLO, 1, Timestamp::default());
        f.on_data(Dir::BA, &s[..cut % n], 2, Timestamp::default());
        f.on_data(Dir::BA, &s[cut % n..], 3, Timestamp::default());
        let _ = f.finish();
    }
}
