//! Live capture on a real interface: the loopback of a fresh network
//! namespace, so nothing else on the machine is seen or disturbed.
//!
//! Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW for the packet
//! socket). Without it the tests print why they skip, unless
//! `TLSAUDIT_LIVE_TESTS=1`, which makes them run and fail on any problem.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tlsaudit::capture::live::{LiveCapture, LiveOptions};
use tlsaudit::capture::{CaptureError, LinkType};

const AUDITED: u16 = 5062;
const OTHER: u16 = 5063;

/// CAP_NET_RAW (13) and CAP_SYS_ADMIN (21) in the effective set.
fn privileged() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    eff & (1 << 13) != 0 && eff & (1 << 21) != 0
}

/// True when the test should run; prints the reason when it skips.
fn should_run(name: &str) -> bool {
    if std::env::var("TLSAUDIT_LIVE_TESTS").as_deref() == Ok("1") || privileged() {
        return true;
    }
    eprintln!("skipping {name}: needs root (set TLSAUDIT_LIVE_TESTS=1 to force)");
    false
}

/// Runs `f` on a thread that has its own network namespace with `lo` up.
/// Processes spawned from that thread inherit the namespace.
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(CLONE_NEWNET) only changes the calling thread's
        // namespace; no memory is passed. This thread is used for nothing
        // else and ends with the test.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        let st = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip");
        assert!(st.success(), "ip link set lo up failed");
        f()
    })
    .join()
    .expect("netns thread panicked")
}

/// What the test keeps of a captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    sport: u16,
    dport: u16,
    seq: u32,
    syn: bool,
    ack: bool,
    payload: Vec<u8>,
}

fn parse(data: &[u8]) -> Option<Seen> {
    let p = etherparse::SlicedPacket::from_ethernet(data).ok()?;
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        return None;
    };
    Some(Seen {
        sport: t.source_port(),
        dport: t.destination_port(),
        seq: t.sequence_number(),
        syn: t.syn(),
        ack: t.ack(),
        payload: t.payload().to_vec(),
    })
}

fn serve(port: u16) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    std::thread::spawn(move || {
        let mut got = Vec::new();
        l.set_nonblocking(false).ok();
        for _ in 0..CONNS {
            let Ok((mut s, _)) = l.accept() else { break };
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).ok();
            got.push(buf);
        }
        got
    })
}

const CONNS: usize = 5;

#[test]
fn live_loopback_capture_sees_each_packet_once_and_only_the_audited_port() {
    if !should_run("live loopback capture") {
        return;
    }
    in_netns(|| {
        let mut cap = LiveCapture::open(&LiveOptions::new("lo", vec![AUDITED])).expect("open lo");
        assert_eq!(cap.link_type(), LinkType::ETHERNET);
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;

        let servers = [serve(AUDITED), serve(OTHER)];
        let mut payloads = Vec::new();
        for i in 0..CONNS {
            for port in [AUDITED, OTHER] {
                let msg = format!("OPTIONS sip:{port} #{i}\r\n").into_bytes();
                let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                c.write_all(&msg).expect("write");
                c.shutdown(Shutdown::Write).ok();
                if port == AUDITED {
                    payloads.push(msg);
                }
            }
        }
        for s in servers {
            assert_eq!(s.join().expect("server").len(), CONNS);
        }

        let mut frames: Vec<Seen> = Vec::new();
        // Whole frames: the copy a second tap point would add is
        // byte-identical, two real packets differ (IP id, ack, window).
        let mut raw: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut last_index = 0;
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let Some(f) = cap.next_frame(100).expect("next_frame") else {
                continue;
            };
            assert_eq!(
                f.index,
                last_index + 1,
                "frame indexes count from 1 without gaps"
            );
            last_index = f.index;
            assert_eq!(f.link, LinkType::ETHERNET);
            assert_eq!(f.caplen as usize, f.data.len());
            assert_eq!(f.origlen, f.caplen, "loopback frames are not cut");
            assert!(
                (f.ts.secs - start).abs() <= 5,
                "kernel timestamp is wall-clock time"
            );
            frames.push(parse(f.data).expect("a TCP frame"));
            *raw.entry(f.data.to_vec()).or_default() += 1;
        }

        assert!(
            frames
                .iter()
                .all(|s| s.sport == AUDITED || s.dport == AUDITED),
            "other ports filtered"
        );
        let syns = frames
            .iter()
            .filter(|s| s.syn && !s.ack && s.dport == AUDITED)
            .count();
        assert_eq!(syns, CONNS, "one SYN per connection");
        let dups = raw.values().filter(|&&n| n > 1).count();
        assert_eq!(dups, 0, "frames seen more than once");
        // Handshake, request, FIN exchange: at least 7 packets a connection.
        assert!(frames.len() >= 7 * CONNS, "only {} frames", frames.len());
        for p in &payloads {
            let n = frames.iter().filter(|s| &s.payload == p).count();
            assert_eq!(
                n,
                1,
                "payload {:?} seen {n} times",
                String::from_utf8_lossy(p)
            );
        }
        let st = cap.stats();
        assert_eq!(st.packets, frames.len() as u64);
        assert_eq!(st.dropped, Some(0));
    });
}

#[test]
fn unknown_interface_is_named_in_the_error() {
    match LiveCapture::open(&LiveOptions::new("nosuchif0", vec![AUDITED])) {
        Err(CaptureError::Live { iface, reason }) => {
            assert_eq!(iface, "nosuchif0");
            assert!(reason.contains("no such"), "{reason}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("opened a nonexistent interface"),
    }
}
