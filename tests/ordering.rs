//! Flows are written in first-frame order as soon as no earlier flow is
//! open, and a persistent connection open from the first frame does not
//! hold every later flow in memory until the end: past
//! `engine::MAX_WAITING` at a checkpoint, the waiting flows are written.
//! Either way the report is the same for any thread count.

use std::io::Cursor;

use tlsaudit::capture::file::FileSource;
use tlsaudit::engine::{stream, EngineOptions, CHECKPOINT_FRAMES, MAX_WAITING};

/// A raw-IPv4 pcap: one long-lived flow (SYN at frame 1, data now and
/// then, FIN at the very end) and `short` complete short flows.
fn capture(short: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    let mut ts = 1_700_000_000u32;
    let mut usec = 0u32;
    let mut packet = |out: &mut Vec<u8>,
                      src: [u8; 4],
                      sport: u16,
                      dst: [u8; 4],
                      dport: u16,
                      seq: u32,
                      flags: u8,
                      payload: &[u8]| {
        usec += 10;
        if usec >= 1_000_000 {
            usec = 0;
            ts += 1;
        }
        let total = (40 + payload.len()) as u16;
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&p);
    };
    const SYN: u8 = 0x02;
    const FIN_ACK: u8 = 0x11;
    const PSH_ACK: u8 = 0x18;
    let server = [10, 0, 0, 1];
    let long = [10, 0, 0, 2];
    packet(&mut out, long, 40000, server, 5062, 100, SYN, &[]);
    let mut long_seq = 101u32;
    for i in 0..short {
        let client = [10, 1, (i >> 8) as u8, i as u8];
        let port = 20000 + (i % 30000) as u16;
        packet(&mut out, client, port, server, 5062, 1, SYN, &[]);
        packet(
            &mut out,
            client,
            port,
            server,
            5062,
            2,
            PSH_ACK,
            b"OPTIONS sip:x SIP/2.0\r\n\r\n",
        );
        packet(&mut out, client, port, server, 5062, 27, FIN_ACK, &[]);
        packet(&mut out, server, 5062, client, port, 500, FIN_ACK, &[]);
        if i % 1000 == 0 {
            // The persistent connection stays busy, never idle.
            packet(&mut out, long, 40000, server, 5062, long_seq, PSH_ACK, b"x");
            long_seq += 1;
        }
    }
    packet(&mut out, long, 40000, server, 5062, long_seq, FIN_ACK, &[]);
    packet(&mut out, server, 5062, long, 40000, 900, FIN_ACK, &[]);
    out
}

fn first_frames(bytes: &[u8], threads: usize) -> Vec<u64> {
    let source =
        FileSource::from_reader(Box::new(Cursor::new(bytes.to_vec())), "mem".into()).unwrap();
    let opts = EngineOptions {
        threads,
        ..EngineOptions::default()
    };
    let mut order = Vec::new();
    stream(source, 0, &opts, &|_| {}, &mut |f| {
        order.push(f.first_frame)
    })
    .unwrap();
    order
}

#[test]
fn a_persistent_flow_does_not_hold_back_every_later_flow_and_threads_do_not_change_the_order() {
    // Enough short flows that more than MAX_WAITING wait at the first checkpoint.
    let short = (CHECKPOINT_FRAMES / 4) as u32 + 2000;
    assert!(short as usize > MAX_WAITING);
    let bytes = capture(short);
    let one = first_frames(&bytes, 1);
    let two = first_frames(&bytes, 2);
    assert_eq!(one.len(), short as usize + 1, "every flow reported once");
    assert_eq!(one, two, "-j 1 and -j 2 write the flows in the same order");
    // The persistent flow (frame 1) was written after flows that finished
    // at the checkpoint: they did not wait for it.
    let pos = one.iter().position(|&f| f == 1).unwrap();
    assert!(
        pos > MAX_WAITING,
        "the persistent flow came out at position {pos}"
    );
    // Apart from it, first-frame order.
    let rest: Vec<u64> = one.iter().copied().filter(|&f| f != 1).collect();
    assert!(
        rest.windows(2).all(|w| w[0] < w[1]),
        "short flows in first-frame order"
    );
}

#[test]
fn without_a_persistent_flow_everything_is_in_first_frame_order() {
    let bytes = capture(3000);
    let one = first_frames(&bytes, 1);
    assert_eq!(one.len(), 3001);
    assert_eq!(
        one[0], 1,
        "the persistent flow first: below the cap it is waited for"
    );
    assert!(one.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(one, first_frames(&bytes, 2));
}
