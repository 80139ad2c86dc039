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

// ---- The `tlsaudit live` binary against real TLS (openssl) ----

/// Kills and reaps a child when the test ends, pass or fail.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_openssl(name: &str) -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("TLSAUDIT_LIVE_TESTS").as_deref() != Ok("1"),
            "{name}: TLSAUDIT_LIVE_TESTS=1 but openssl is not installed"
        );
        eprintln!("skipping {name}: openssl not installed");
    }
    ok
}

/// A self-signed certificate and key for `cn` in `dir`.
fn make_cert(dir: &std::path::Path, cn: &str) -> (String, String) {
    let (cert, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl req");
    assert!(st.success(), "openssl req failed");
    (cert.display().to_string(), key.display().to_string())
}

/// Waits until `probe` is true (reading this thread's netns view of /proc).
fn wait_for(what: &str, probe: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A bound packet socket exists in this thread's namespace.
fn packet_socket_bound() -> bool {
    std::fs::read_to_string("/proc/thread-self/net/packet").is_ok_and(|s| s.lines().count() > 1)
}

/// Something listens on TCP `port` in this thread's namespace.
fn tcp_listening(port: u16) -> bool {
    let local = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|t| {
        let table =
            std::fs::read_to_string(format!("/proc/thread-self/net/{t}")).unwrap_or_default();
        table.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1).is_some_and(|a| a.ends_with(&local)) && f.get(3) == Some(&"0A")
        })
    })
}

fn spawn_tlsaudit(args: &[&str], out: &std::path::Path) -> Reaped {
    let child = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .arg("live")
        .args(args)
        .stdout(std::fs::File::create(out).expect("output file"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tlsaudit");
    Reaped(child)
}

fn openssl_server(cert: &str, key: &str, extra: &[&str]) -> Reaped {
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &AUDITED.to_string(),
            "-cert",
            cert,
            "-key",
            key,
            "-tls1_2",
            "-quiet",
        ])
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn openssl s_server");
    Reaped(child)
}

fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("read report")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn flows(lines: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "flow")
        .map(|l| &l["data"])
        .collect()
}

#[test]
fn live_binary_reports_a_mutual_tls_flow_with_its_verdicts() {
    let name = "tlsaudit live end to end";
    if !should_run(name) || !have_openssl(name) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().to_path_buf();
    in_netns(move || {
        let (scert, skey) = make_cert(&dir_path, "imp.example.com");
        let (ccert, ckey) = make_cert(&dir_path, "ocs.example.com");
        let out = dir_path.join("out.jsonl");
        let mut audit = spawn_tlsaudit(
            &[
                "-i",
                "lo",
                "--duration",
                "5",
                "--format",
                "jsonl",
                "--summary-interval",
                "0",
            ],
            &out,
        );
        wait_for("the packet socket", packet_socket_bound);
        let _server = openssl_server(&scert, &skey, &["-Verify", "1"]);
        wait_for("openssl s_server", || tcp_listening(AUDITED));

        let mut client = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{AUDITED}"),
                "-tls1_2",
            ])
            .args(["-cert", &ccert, "-key", &ckey])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn openssl s_client");
        if let Some(mut stdin) = client.stdin.take() {
            stdin
                .write_all(b"OPTIONS sip:imp.example.com SIP/2.0\r\n\r\n")
                .expect("write");
            std::thread::sleep(Duration::from_millis(500));
            // Dropping stdin: EOF makes s_client close the connection.
        }
        let cst = client.wait().expect("s_client");
        assert!(cst.success(), "s_client failed: {cst}");

        let status = audit.0.wait().expect("tlsaudit");
        let lines = json_lines(&out);
        let flows = flows(&lines);
        assert_eq!(flows.len(), 1, "one flow expected, report:\n{lines:#?}");
        let f = flows[0];
        assert_eq!(f["server"], format!("127.0.0.1:{AUDITED}"));
        assert_eq!(f["version"], "TLSv1.2");
        assert_eq!(f["handshake_complete"], true);
        assert_eq!(f["server_certificate"]["subject_cn"][0], "imp.example.com");
        assert_eq!(f["client_certificate"]["subject_cn"][0], "ocs.example.com");
        assert_eq!(f["checks"]["handshake"]["verdict"], "pass");
        // The built-in profile asks for TLS 1.0 with 3DES: 1.2 fails it.
        assert_eq!(f["checks"]["version"]["verdict"], "fail");
        assert_eq!(f["checks"]["version"]["observed"], "TLSv1.2");
        assert_eq!(f["verdict"], "fail");
        assert_eq!(status.code(), Some(1), "a failing flow exits 1");
        assert!(
            lines.iter().any(|l| l["type"] == "summary"),
            "summary line at exit"
        );
    });
}

#[test]
fn live_write_to_a_full_disk_warns_once_and_counts_the_failures_in_the_summary() {
    let name = "tlsaudit live --write on a full disk";
    if !should_run(name) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().to_path_buf();
    in_netns(move || {
        let out = dir_path.join("out.jsonl");
        // /dev/full opens, then fails every write with ENOSPC.
        let args = [
            "-i",
            "lo",
            "--duration",
            "3",
            "--format",
            "jsonl",
            "--summary-interval",
            "0",
            "--write",
            "/dev/full",
        ];
        let mut audit = spawn_tlsaudit(&args, &out);
        // "watching lo …": the capture is open and filtering (a bound
        // packet socket is not yet: packets before the filter are dropped).
        let mut stderr = std::io::BufReader::new(audit.0.stderr.take().expect("stderr"));
        let mut started = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut started).expect("read stderr");
        assert!(started.contains("watching lo"), "{started}");
        let server = serve(AUDITED);
        for i in 0..CONNS {
            let mut c = TcpStream::connect(("127.0.0.1", AUDITED)).expect("connect");
            c.write_all(format!("OPTIONS sip:{AUDITED} #{i}\r\n").as_bytes())
                .expect("write");
            c.shutdown(Shutdown::Write).ok();
        }
        assert_eq!(server.join().expect("server").len(), CONNS);
        let status = audit.0.wait().expect("tlsaudit");
        assert_ne!(
            status.code(),
            Some(2),
            "a full disk does not stop the audit"
        );

        let lines = json_lines(&out);
        let warnings: Vec<&str> = lines
            .iter()
            .filter(|l| l["type"] == "warning")
            .filter_map(|l| l["data"]["message"].as_str())
            .filter(|m| m.contains("evidence file"))
            .collect();
        assert_eq!(
            warnings.len(),
            1,
            "one warning per kind of error: {warnings:?}"
        );
        assert!(
            warnings[0].contains("/dev/full") && warnings[0].contains("No space left on device"),
            "{}",
            warnings[0]
        );
        let input = lines
            .iter()
            .find(|l| l["type"] == "input")
            .expect("input line at exit");
        let counted: Vec<&str> = input["data"]["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| w.contains("write(s) to the evidence file failed"))
            .collect();
        assert_eq!(counted.len(), 1, "{input}");
        // A flush a second and one at exit, at least: each one fails.
        let n: u64 = counted[0]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(n >= 2, "{}", counted[0]);
        assert_eq!(flows(&lines).len(), CONNS, "every flow still audited");
    });
}

/// SYN segments (without ACK) to the audited port in a pcap file.
fn client_syns(path: &std::path::Path) -> usize {
    let mut src = tlsaudit::capture::file::FileSource::open(path).expect("open written pcap");
    let mut n = 0;
    while let Some(f) = src.next_frame().expect("read written pcap") {
        if let Ok(seg) = tlsaudit::decode::decode(&f) {
            if seg.flags.syn && !seg.flags.ack && seg.dst.port() == AUDITED {
                n += 1;
            }
        }
    }
    n
}

/// VmHWM of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// `openssl s_time -new`: full handshakes back to back; returns how many.
fn s_time(secs: u32) -> usize {
    let out = Command::new("openssl")
        .args([
            "s_time",
            "-connect",
            &format!("127.0.0.1:{AUDITED}"),
            "-new",
            "-time",
            &secs.to_string(),
        ])
        .output()
        .expect("openssl s_time");
    let text = String::from_utf8_lossy(&out.stdout);
    // "829 connections in 0.78s; …" (user time) is the first such line.
    text.lines()
        .find(|l| l.contains(" connections in ") && l.contains("s;"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read s_time output:\n{text}"))
}

#[test]
fn live_binary_loses_no_flow_and_keeps_memory_flat_under_many_connections() {
    let name = "tlsaudit live stress";
    if !should_run(name) || !have_openssl(name) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().to_path_buf();
    in_netns(move || {
        let (scert, skey) = make_cert(&dir_path, "imp.example.com");
        let out = dir_path.join("out.jsonl");
        let pcap = dir_path.join("audited.pcap");
        let pcap_arg = pcap.display().to_string();
        let args = ["-i", "lo", "--format", "jsonl", "--summary-interval", "0"];
        // 16 MiB: the size measured to lose nothing at ~400k packets/s here;
        // smaller rings drop under a loaded machine and the count below breaks.
        let ring = ["--ring-mib", "16", "--write", &pcap_arg];
        let mut audit = spawn_tlsaudit(&[&args[..], &ring[..]].concat(), &out);
        let pid = audit.0.id();
        wait_for("the packet socket", packet_socket_bound);
        let _server = openssl_server(&scert, &skey, &["-www"]);
        wait_for("openssl s_server", || tcp_listening(AUDITED));

        let first = s_time(4);
        std::thread::sleep(Duration::from_millis(500));
        let hwm_first = vm_hwm_kib(pid);
        let second = s_time(4);
        std::thread::sleep(Duration::from_millis(500));
        let hwm_second = vm_hwm_kib(pid);

        let st = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        let status = audit.0.wait().expect("tlsaudit");
        assert!(
            matches!(status.code(), Some(0 | 1 | 3)),
            "tlsaudit failed: {status}"
        );

        let total = first + second;
        assert!(
            total >= 200,
            "too few connections to mean anything: {total}"
        );
        // The capture itself: one client SYN per connection in the packets
        // the live run kept, whatever the later stages make of them.
        let syns = client_syns(&pcap);
        assert_eq!(syns, total, "client SYNs captured vs connections made");
        // The second burst is as large as the first: with finished flows
        // reported and evicted the high-water mark must not grow with it.
        eprintln!("{total} connections; VmHWM {hwm_first} KiB then {hwm_second} KiB");
        assert!(
            hwm_second <= hwm_first + 4096,
            "memory grew with traffic: VmHWM {hwm_first} KiB -> {hwm_second} KiB"
        );

        let lines = json_lines(&out);
        let flows = flows(&lines);
        // A flow is its client endpoint and first frame: an ephemeral port
        // may be reused by a later connection within the test, which is a
        // different flow, not a duplicate report.
        let mut clients: Vec<(String, u64)> = flows
            .iter()
            .map(|f| {
                (
                    f["client"].as_str().unwrap_or("").to_string(),
                    f["first_frame"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        clients.sort_unstable();
        clients.dedup();
        assert_eq!(flows.len(), total, "every connection reported once");
        assert_eq!(clients.len(), total, "no flow reported twice");
        assert!(
            flows.iter().all(|f| f["version"] == "TLSv1.2"),
            "every flow's handshake was read"
        );
    });
}

// ---- Operations: Prometheus metrics, expiry warnings, peer changes ----

/// Port of `--metrics` inside the test's namespace.
const METRICS_PORT: u16 = 9862;
/// Port of the Prometheus server inside the test's namespace.
const PROMETHEUS_PORT: u16 = 9090;

/// Debian's `prometheus` binary. Missing: skip with a message, except in
/// CI (`CI=true`), where `.ci/run` installs it and its absence must fail.
fn prometheus_binary(name: &str) -> Option<String> {
    let found = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .map(str::to_string);
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name}: CI=true but the prometheus package is not installed"
        );
        eprintln!("skipping {name}: prometheus not installed (apt-get install prometheus)");
    }
    found
}

/// Percent-encodes a PromQL query for a URL.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A plain HTTP/1.0 GET on 127.0.0.1; the body, or None when not reachable.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    r.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// Prometheus' instant query API: the first sample's value.
fn prom_value(query: &str) -> Option<f64> {
    let body = http_get(
        PROMETHEUS_PORT,
        &format!("/api/v1/query?query={}", url_encode(query)),
    )?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls `probe` until it returns Some, for at most `secs`.
fn poll<T>(what: &str, secs: u64, probe: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A self-signed certificate valid for `days` (a distinct serial each call).
fn make_cert_days(dir: &std::path::Path, cn: &str, tag: &str, days: u32) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{cn}-{tag}.crt")),
        dir.join(format!("{cn}-{tag}.key")),
    );
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days"])
        .arg(days.to_string())
        .arg("-subj")
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl req");
    assert!(st.success(), "openssl req failed");
    (cert.display().to_string(), key.display().to_string())
}

/// One mutual-TLS connection with `openssl s_client` (TLS 1.2: the
/// built-in profile fails it) that sends a SIP line and closes.
fn tls_connection(ccert: &str, ckey: &str) {
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{AUDITED}"),
            "-tls1_2",
        ])
        .args(["-cert", ccert, "-key", ckey])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn openssl s_client");
    if let Some(mut stdin) = client.stdin.take() {
        stdin
            .write_all(b"OPTIONS sip:imp.example.com SIP/2.0\r\n\r\n")
            .expect("write");
        std::thread::sleep(Duration::from_millis(300));
    }
    let st = client.wait().expect("s_client");
    assert!(st.success(), "s_client failed: {st}");
}

#[test]
fn prometheus_scrapes_live_metrics_and_its_api_returns_the_failing_flow() {
    let name = "tlsaudit live --metrics with Prometheus";
    if !should_run(name) || !have_openssl(name) {
        return;
    }
    let Some(prometheus) = prometheus_binary(name) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().to_path_buf();
    in_netns(move || {
        let (scert, skey) = make_cert(&dir_path, "imp.example.com");
        let (ccert, ckey) = make_cert(&dir_path, "ocs.example.com");
        let out = dir_path.join("out.jsonl");
        let metrics_addr = format!("127.0.0.1:{METRICS_PORT}");
        let mut audit = spawn_tlsaudit(
            &[
                "-i",
                "lo",
                "--duration",
                "120",
                "--format",
                "jsonl",
                "--summary-interval",
                "0",
                "--metrics",
                &metrics_addr,
            ],
            &out,
        );
        wait_for("the packet socket", packet_socket_bound);
        wait_for("the metrics endpoint", || tcp_listening(METRICS_PORT));

        // The shipped alert rules, evaluated every second.
        let rules = super::util::root().join("contrib/prometheus/tlsaudit-alerts.yml");
        let config = dir_path.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: tlsaudit\n    static_configs:\n      - targets: [\"{metrics_addr}\"]\n",
                rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let _prom = Reaped(
            Command::new(&prometheus)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir_path.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(dir_path.join("prometheus.log")).expect("log"))
                .spawn()
                .expect("spawn prometheus"),
        );
        // Prometheus has scraped tlsaudit (the failing-flow series exists at 0).
        poll("Prometheus to scrape tlsaudit", 60, || {
            prom_value("up{job=\"tlsaudit\"}").filter(|&v| v == 1.0)
        });
        poll("the first sample of the failing-flow counter", 30, || {
            prom_value("tlsaudit_flows_total{verdict=\"fail\"}")
        });

        let _server = openssl_server(&scert, &skey, &["-Verify", "1"]);
        wait_for("openssl s_server", || tcp_listening(AUDITED));
        tls_connection(&ccert, &ckey);

        let failing = poll("the failing flow in Prometheus", 60, || {
            prom_value("tlsaudit_flows_total{verdict=\"fail\"}").filter(|&v| v >= 1.0)
        });
        assert_eq!(failing, 1.0);
        let version_fail = poll("the version check in Prometheus", 30, || {
            prom_value("tlsaudit_checks_total{check=\"version\",verdict=\"fail\"}")
        });
        assert_eq!(version_fail, 1.0);
        // Capture totals reach the metrics once a second.
        poll("the packet counter in Prometheus", 30, || {
            prom_value("tlsaudit_packets_total").filter(|&v| v >= 10.0)
        });
        // The certificates live 2 days: within the 30-day window.
        let days = poll("the server certificate's expiry gauge", 30, || {
            prom_value("tlsaudit_certificate_expiry_days{role=\"server\",cn=\"imp.example.com\"}")
        });
        assert!((0.0..=2.5).contains(&days), "expiry days {days}");
        // Both shipped alert rules fire (or are pending) on what was scraped.
        let alerts = poll("both alerts", 60, || {
            let body = http_get(PROMETHEUS_PORT, "/api/v1/alerts")?;
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let names: Vec<String> = v["data"]["alerts"]
                .as_array()?
                .iter()
                .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
                .collect();
            (names.iter().any(|n| n == "TlsFederationFlowFailing")
                && names
                    .iter()
                    .any(|n| n == "TlsFederationCertificateExpiring"))
            .then_some(names)
        });
        assert!(!alerts.is_empty());

        let st = Command::new("kill")
            .args(["-TERM", &audit.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        let status = audit.0.wait().expect("tlsaudit");
        assert_eq!(status.code(), Some(1), "a failing flow exits 1");
    });
}

#[test]
fn live_warns_of_a_certificate_expiring_in_ten_days_and_reports_a_changed_certificate() {
    let name = "tlsaudit live expiry and change events";
    if !should_run(name) || !have_openssl(name) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().to_path_buf();
    in_netns(move || {
        let (first_cert, first_key) = make_cert_days(&dir_path, "imp.example.com", "a", 10);
        let (second_cert, second_key) = make_cert_days(&dir_path, "imp.example.com", "b", 300);
        let (ccert, ckey) = make_cert_days(&dir_path, "ocs.example.com", "c", 300);
        let out = dir_path.join("out.jsonl");
        let mut audit = spawn_tlsaudit(
            &[
                "-i",
                "lo",
                "--duration",
                "60",
                "--format",
                "jsonl",
                "--summary-interval",
                "0",
            ],
            &out,
        );
        wait_for("the packet socket", packet_socket_bound);
        for (cert, key) in [(&first_cert, &first_key), (&second_cert, &second_key)] {
            let mut server = openssl_server(cert, key, &["-Verify", "1"]);
            wait_for("openssl s_server", || tcp_listening(AUDITED));
            tls_connection(&ccert, &ckey);
            let _ = server.0.kill();
            let _ = server.0.wait();
            wait_for("s_server to go", || !tcp_listening(AUDITED));
        }
        // Both flows judged (closed) before stopping.
        poll("two flows in the report", 30, || {
            let text = std::fs::read_to_string(&out).ok()?;
            (text
                .lines()
                .filter(|l| l.starts_with("{\"type\":\"flow\""))
                .count()
                >= 2)
                .then_some(())
        });
        let st = Command::new("kill")
            .args(["-TERM", &audit.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        audit.0.wait().expect("tlsaudit");

        let lines = json_lines(&out);
        let flows = flows(&lines);
        assert_eq!(flows.len(), 2, "report:\n{lines:#?}");
        let kinds = |f: &serde_json::Value| -> Vec<String> {
            f["findings"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["kind"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        // First connection: the server certificate expires in 10 days.
        let first = kinds(flows[0]);
        assert!(
            first.contains(&"certificate-expires-soon".to_string()),
            "{first:?}"
        );
        let soon = flows[0]["findings"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["kind"] == "certificate-expires-soon"))
            .expect("expiry finding");
        let msg = soon["message"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("the server certificate (CN imp.example.com) expires on ")
                && (msg.contains(", 9 day(s)") || msg.contains(", 10 day(s)")),
            "{msg}"
        );
        let warnings: Vec<&str> = lines
            .iter()
            .filter(|l| l["type"] == "warning")
            .filter_map(|l| l["data"]["message"].as_str())
            .collect();
        assert!(
            warnings.iter().any(|w| w.starts_with("peer 127.0.0.1 → 127.0.0.1:5062: the server certificate (CN imp.example.com) expires on ")),
            "{warnings:?}"
        );
        // Second connection: same peer, another certificate.
        assert!(!kinds(flows[1]).contains(&"certificate-expires-soon".to_string()));
        assert!(kinds(flows[1]).contains(&"peer-changed".to_string()));
        let changes: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["type"] == "change")
            .map(|l| &l["data"])
            .collect();
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert_eq!(changes[0]["what"], "server_certificate");
        assert_eq!(changes[0]["server"], "127.0.0.1");
        assert_eq!(changes[0]["previous"]["frame"], flows[0]["first_frame"]);
        assert_eq!(changes[0]["frame"], flows[1]["first_frame"]);
    });
}

/// Flow lines in a jsonl report file (0 when it does not exist).
fn flow_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"flow\""))
        .count()
}

#[test]
fn sighup_reopens_the_report_and_starts_the_next_ring_file() {
    let name = "tlsaudit live SIGHUP and --write ring";
    if !should_run(name) || !have_openssl(name) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().to_path_buf();
    in_netns(move || {
        let (scert, skey) = make_cert(&dir_path, "imp.example.com");
        let (ccert, ckey) = make_cert(&dir_path, "ocs.example.com");
        let report = dir_path.join("federation.jsonl");
        let rotated = dir_path.join("federation.jsonl.1");
        let pcap = dir_path.join("audited.pcap");
        let (report_arg, pcap_arg) = (report.display().to_string(), pcap.display().to_string());
        let mut audit = spawn_tlsaudit(
            &[
                "-i",
                "lo",
                "--duration",
                "60",
                "--format",
                "jsonl",
                "--summary-interval",
                "0",
                "-o",
                &report_arg,
                "--write",
                &pcap_arg,
                "--write-max-mib",
                "1",
                "--write-files",
                "2",
            ],
            &dir_path.join("stdout"),
        );
        wait_for("the packet socket", packet_socket_bound);
        let _server = openssl_server(&scert, &skey, &["-Verify", "1"]);
        wait_for("openssl s_server", || tcp_listening(AUDITED));

        tls_connection(&ccert, &ckey);
        poll("the first flow", 30, || {
            (flow_lines(&report) == 1).then_some(())
        });
        // What logrotate does: move the file away, then SIGHUP.
        std::fs::rename(&report, &rotated).expect("rotate");
        let pid = audit.0.id().to_string();
        let st = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill");
        assert!(st.success());
        poll("the new report file", 30, || report.exists().then_some(()));
        tls_connection(&ccert, &ckey);
        poll("the second flow", 30, || {
            (flow_lines(&report) == 1).then_some(())
        });
        let st = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(st.success());
        let status = audit.0.wait().expect("tlsaudit");
        assert_eq!(status.code(), Some(1), "failing flows exit 1");

        assert_eq!(
            flow_lines(&rotated),
            1,
            "first flow stays in the rotated file"
        );
        assert_eq!(flow_lines(&report), 1, "second flow in the re-opened file");
        assert!(
            std::fs::read_to_string(&report)
                .unwrap_or_default()
                .contains("{\"type\":\"summary\""),
            "summary at exit goes to the re-opened file"
        );
        // The ring: SIGHUP started file 2; each holds one connection.
        assert!(!pcap.exists(), "ring mode writes numbered files only");
        let first = dir_path.join("audited_00001.pcap");
        let second = dir_path.join("audited_00002.pcap");
        assert_eq!(client_syns(&first), 1);
        assert_eq!(client_syns(&second), 1);
    });
}
