//! Decryption through the whole TLS stage: synthetic TLS 1.0
//! TLS_RSA_WITH_3DES_EDE_CBC_SHA sessions whose records are encrypted here
//! under a master secret given in a key log, fed to [`TlsFlow`] as TCP
//! segments. No capture holds a 1/n-1 record split, so this is where it is
//! told apart from an empty fragment.

use std::path::Path;
use std::sync::Arc;

use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};

use super::decrypt::kdf::{key_block, Prf};
use super::decrypt::{KeyLog, Keys};
use super::model::TlsFacts;
use super::{TlsFlow, TlsLimits};
use crate::capture::Timestamp;
use crate::decode::Dir;

const CLIENT_RANDOM: [u8; 32] = [0x11; 32];
const SERVER_RANDOM: [u8; 32] = [0x22; 32];
const MASTER: [u8; 48] = [0x33; 48];

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

/// One direction's TLS 1.0 3DES-SHA record protection (MAC-then-encrypt,
/// chained IV), the way a peer writes it.
struct Sealer {
    mac_key: Vec<u8>,
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
}

impl Sealer {
    /// Client and server sealers from the master secret (RFC 2246 §6.3).
    fn pair(master: &[u8; 48]) -> (Sealer, Sealer) {
        let mut kb = [0u8; 2 * (20 + 24 + 8)];
        key_block(
            Prf::Md5Sha1,
            master,
            &CLIENT_RANDOM,
            &SERVER_RANDOM,
            &mut kb,
        );
        let (cm, r) = kb.split_at(20);
        let (sm, r) = r.split_at(20);
        let (ck, r) = r.split_at(24);
        let (sk, r) = r.split_at(24);
        let (ci, si) = r.split_at(8);
        let s = |m: &[u8], k: &[u8], i: &[u8]| Sealer {
            mac_key: m.to_vec(),
            key: k.to_vec(),
            iv: i.to_vec(),
            seq: 0,
        };
        (s(cm, ck, ci), s(sm, sk, si))
    }

    /// A whole protected record (header included).
    fn seal(&mut self, ct: u8, pt: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&self.mac_key).expect("key");
        m.update(&self.seq.to_be_bytes());
        m.update(&[ct, 3, 1]);
        m.update(&(pt.len() as u16).to_be_bytes());
        m.update(pt);
        self.seq += 1;
        let mut body = pt.to_vec();
        body.extend(m.finalize().into_bytes());
        let pad = 8 - 1 - body.len() % 8;
        body.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let n = body.len();
        cbc::Encryptor::<des::TdesEde3>::new_from_slices(&self.key, &self.iv)
            .expect("key")
            .encrypt_padded_mut::<NoPadding>(&mut body, n)
            .expect("whole blocks");
        self.iv = body[n - 8..].to_vec();
        record(ct, &body)
    }
}

fn keys(master: &[u8; 48]) -> Arc<Keys> {
    let line = format!(
        "CLIENT_RANDOM {} {}\n",
        hex::encode(CLIENT_RANDOM),
        hex::encode(master)
    );
    let mut keylog = KeyLog::new();
    keylog
        .add_reader(Path::new("test.keys"), line.as_bytes())
        .expect("key log");
    Arc::new(Keys {
        keylog,
        ..Keys::default()
    })
}

/// Handshake up to both Finished messages; returns the flow and the
/// sealers positioned after them. Client = AB.
fn handshake(flow_keys: Arc<Keys>) -> (TlsFlow, Sealer, Sealer) {
    let ts = Timestamp::default();
    let mut f = TlsFlow::with_keys(TlsLimits::default(), Some(flow_keys));
    let mut ch = vec![3, 1];
    ch.extend(CLIENT_RANDOM);
    ch.extend([0, 0, 2, 0x00, 0x0a, 1, 0]);
    f.on_data(Dir::AB, &record(22, &hs(1, &ch)), 1, ts);
    let mut sh = vec![3, 1];
    sh.extend(SERVER_RANDOM);
    sh.extend([0, 0x00, 0x0a, 0]);
    let mut flight = hs(2, &sh);
    flight.extend(hs(14, &[]));
    f.on_data(Dir::BA, &record(22, &flight), 2, ts);
    let (mut c, mut s) = Sealer::pair(&MASTER);
    let mut seg = record(22, &hs(16, &[0x55; 130]));
    seg.extend(record(20, &[1]));
    seg.extend(c.seal(22, &hs(20, &[0xf1; 12])));
    f.on_data(Dir::AB, &seg, 3, ts);
    let mut seg = record(20, &[1]);
    seg.extend(s.seal(22, &hs(20, &[0xf2; 12])));
    f.on_data(Dir::BA, &seg, 4, ts);
    (f, c, s)
}

fn finish(f: TlsFlow) -> TlsFacts {
    f.finish()
}

#[test]
fn empty_fragment_in_its_own_segment_is_counted_exactly() {
    let ts = Timestamp::default();
    let (mut f, mut c, mut s) = handshake(keys(&MASTER));
    for i in 0..3u64 {
        // OpenSSL ≥ 3.2: the empty record leaves in its own segment.
        f.on_data(Dir::AB, &c.seal(23, b""), 10 + 2 * i, ts);
        f.on_data(
            Dir::AB,
            &c.seal(23, b"OPTIONS sip:x SIP/2.0\r\n"),
            11 + 2 * i,
            ts,
        );
    }
    f.on_data(Dir::BA, &s.seal(23, b"SIP/2.0 200 OK\r\n\r\n"), 20, ts);
    f.on_data(Dir::AB, &c.seal(21, &[1, 0]), 21, ts);
    let facts = finish(f);
    let a = &facts.per_dir[0].app_data;
    assert_eq!(
        a.minimal_then_later_segment, 3,
        "wire shows only candidates"
    );
    assert_eq!(a.decrypted_empty_records, Some(3));
    assert_eq!(a.decrypted_empty_frames, vec![10, 12, 14]);
    assert_eq!(facts.per_dir[1].app_data.decrypted_empty_records, Some(0));
    assert_eq!(facts.decryption.as_deref(), Some("decrypted (key log)"));
    let alert = facts.alerts.last().expect("alert");
    assert!(alert.encrypted && alert.decrypted);
    assert_eq!((alert.level, alert.description), (Some(1), Some(0)));
}

#[test]
fn one_n_minus_one_split_is_not_an_empty_fragment() {
    let ts = Timestamp::default();
    let (mut f, mut c, _) = handshake(keys(&MASTER));
    let msg = b"OPTIONS sip:x SIP/2.0\r\n";
    // 1/n-1: the first byte in its own record — same 24-byte size as an
    // empty fragment — in the same segment as the rest (wire rung 3) …
    let mut seg = c.seal(23, &msg[..1]);
    seg.extend(c.seal(23, &msg[1..]));
    f.on_data(Dir::AB, &seg, 10, ts);
    // … and in a later segment (wire rung 4).
    f.on_data(Dir::AB, &c.seal(23, &msg[..1]), 11, ts);
    f.on_data(Dir::AB, &c.seal(23, &msg[1..]), 12, ts);
    let facts = finish(f);
    let a = &facts.per_dir[0].app_data;
    assert_eq!(a.minimal_len, Some(24));
    assert_eq!(a.minimal_then_same_segment, 1);
    assert_eq!(a.minimal_then_later_segment, 1);
    assert_eq!(a.decrypted_empty_records, Some(0));
    assert!(a.decrypted_empty_frames.is_empty());
}

#[test]
fn skipped_records_cut_anywhere_keep_the_cbc_chain() {
    let ts = Timestamp::default();
    let (mut f, mut c, _) = handshake(keys(&MASTER));
    // Large records are skipped, not decrypted; their last block (the next
    // IV) arrives split across segments at every offset near the end.
    for cut in 1..12usize {
        let big = c.seal(23, &vec![0x41; 1000 + cut]);
        let at = big.len() - cut;
        f.on_data(Dir::AB, &big[..at - 3], 10, ts);
        f.on_data(Dir::AB, &big[at - 3..at], 11, ts);
        f.on_data(Dir::AB, &big[at..], 12, ts);
        f.on_data(Dir::AB, &c.seal(23, b""), 13, ts);
    }
    let facts = finish(f);
    assert_eq!(facts.per_dir[0].app_data.decrypted_empty_records, Some(11));
    assert_eq!(facts.decryption.as_deref(), Some("decrypted (key log)"));
}

#[test]
fn wrong_master_secret_is_reported_as_a_wrong_key() {
    let (f, _, _) = handshake(keys(&[0x44; 48]));
    let facts = finish(f);
    let status = facts.decryption.expect("status");
    assert!(
        status.starts_with("wrong key: MAC failure on Finished"),
        "{status}"
    );
    assert_eq!(facts.per_dir[0].app_data.decrypted_empty_records, None);
}

#[test]
fn key_log_without_this_client_random_says_so() {
    let other = Arc::new(Keys::default());
    let (f, _, _) = handshake(other);
    let facts = finish(f);
    assert_eq!(
        facts.decryption.as_deref(),
        Some("no key for this client random")
    );
}

#[test]
fn gap_across_records_stops_decryption_of_that_direction_only() {
    let ts = Timestamp::default();
    let (mut f, mut c, mut s) = handshake(keys(&MASTER));
    f.on_data(Dir::AB, &c.seal(23, b""), 10, ts);
    f.on_gap(Dir::AB, 5, 11);
    f.on_data(Dir::BA, &s.seal(23, b"SIP/2.0 200 OK\r\n\r\n"), 12, ts);
    let facts = finish(f);
    assert_eq!(facts.per_dir[0].app_data.decrypted_empty_records, None);
    assert_eq!(facts.per_dir[1].app_data.decrypted_empty_records, Some(0));
    let status = facts.decryption.expect("status");
    assert!(
        status.starts_with("partly decrypted (key log): a TCP gap"),
        "{status}"
    );
}

#[test]
fn damaged_record_after_finished_is_a_mac_failure_at_that_record() {
    let ts = Timestamp::default();
    let (mut f, mut c, _) = handshake(keys(&MASTER));
    let mut bad = c.seal(23, b"");
    let last = bad.len() - 1;
    bad[last] ^= 1;
    f.on_data(Dir::AB, &bad, 10, ts);
    let status = finish(f).decryption.expect("status");
    assert!(
        status.contains("at record 2 from the client (frame 10)"),
        "{status}"
    );
}

#[test]
fn encrypted_hello_request_is_recognised_as_renegotiation() {
    let ts = Timestamp::default();
    let (mut f, _, mut s) = handshake(keys(&MASTER));
    f.on_data(Dir::BA, &s.seal(22, &hs(0, &[])), 10, ts);
    let facts = finish(f);
    assert!(facts.renegotiation);
    assert_eq!(facts.renegotiation_frame, Some(10));
}

/// A whole keyed conversation as (dir, segment, frame): handshake, empty
/// fragments, a 1/n-1 split, large skipped records, a closing alert.
fn conversation() -> Vec<(Dir, Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut ch = vec![3, 1];
    ch.extend(CLIENT_RANDOM);
    ch.extend([0, 0, 2, 0x00, 0x0a, 1, 0]);
    out.push((Dir::AB, record(22, &hs(1, &ch)), 1));
    let mut sh = vec![3, 1];
    sh.extend(SERVER_RANDOM);
    sh.extend([0, 0x00, 0x0a, 0]);
    let mut flight = hs(2, &sh);
    flight.extend(hs(14, &[]));
    out.push((Dir::BA, record(22, &flight), 2));
    let (mut c, mut s) = Sealer::pair(&MASTER);
    let mut seg = record(22, &hs(16, &[0x55; 130]));
    seg.extend(record(20, &[1]));
    seg.extend(c.seal(22, &hs(20, &[0xf1; 12])));
    out.push((Dir::AB, seg, 3));
    let mut seg = record(20, &[1]);
    seg.extend(s.seal(22, &hs(20, &[0xf2; 12])));
    out.push((Dir::BA, seg, 4));
    let mut seg = c.seal(23, b"");
    seg.extend(c.seal(23, &[0x41; 700]));
    seg.extend(c.seal(23, b"O"));
    seg.extend(c.seal(23, b"PTIONS"));
    out.push((Dir::AB, seg, 5));
    let mut seg = s.seal(23, b"");
    seg.extend(s.seal(23, &[0x42; 90]));
    seg.extend(s.seal(23, &[0x43; 2000]));
    seg.extend(s.seal(23, b""));
    out.push((Dir::BA, seg, 6));
    out.push((Dir::AB, c.seal(21, &[1, 0]), 7));
    out
}

fn run_cut(segs: &[(Dir, Vec<u8>, u64)], cuts: &[proptest::sample::Index]) -> String {
    let mut f = TlsFlow::with_keys(TlsLimits::default(), Some(keys(&MASTER)));
    for (dir, bytes, frame) in segs {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.extend([0, bytes.len()]);
        points.sort_unstable();
        points.dedup();
        for w in points.windows(2) {
            f.on_data(*dir, &bytes[w[0]..w[1]], *frame, Timestamp::default());
        }
    }
    serde_json::to_string(&f.finish()).expect("json")
}

/// What decryption decides, without the wire rungs that depend on how the
/// bytes were cut into segments by definition.
fn decrypted_view(facts_json: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(facts_json).expect("json");
    let dir = |i: usize| {
        let a = &v["per_dir"][i]["app_data"];
        serde_json::json!([
            a["records"],
            a["bytes"],
            a["decrypted_empty_records"],
            a["decrypted_empty_frames"],
            v["per_dir"][i]["handshake_messages"]
        ])
    };
    serde_json::json!([
        v["decryption"],
        v["alerts"],
        v["renegotiation"],
        dir(0),
        dir(1)
    ])
}

#[test]
fn whole_conversation_decrypts_every_kind_of_record() {
    let facts: serde_json::Value =
        serde_json::from_str(&run_cut(&conversation(), &[])).expect("json");
    assert_eq!(facts["decryption"], "decrypted (key log)");
    assert_eq!(
        facts["per_dir"][0]["app_data"]["decrypted_empty_records"],
        1
    );
    assert_eq!(
        facts["per_dir"][1]["app_data"]["decrypted_empty_records"],
        2
    );
    assert_eq!(facts["alerts"][0]["description"], 0);
}

proptest::proptest! {
    #[test]
    fn any_segmentation_of_a_keyed_conversation_gives_the_same_facts(
        cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..16)
    ) {
        let segs = conversation();
        proptest::prop_assert_eq!(
            decrypted_view(&run_cut(&segs, &[])),
            decrypted_view(&run_cut(&segs, &cuts))
        );
    }

    #[test]
    fn damaged_keyed_conversations_never_panic(
        pos in 0usize..4000, val in proptest::prelude::any::<u8>(),
        cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..8)
    ) {
        let mut segs = conversation();
        let mut at = pos;
        for (_, bytes, _) in segs.iter_mut() {
            if at < bytes.len() {
                bytes[at] ^= val | 1;
                break;
            }
            at -= bytes.len();
        }
        let _ = run_cut(&segs, &cuts);
    }
}
