//! Command-line behaviour: exit codes, messages for unusable inputs, stdin.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::{root, tlsaudit};

#[test]
fn not_a_capture_exits_2_with_a_one_line_reason_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.pcap");
    std::fs::write(&p, b"this is a text file, not a capture\n").unwrap();
    let out = tlsaudit(&["check", "-q", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.pcap"), "{err}");
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_input_exits_2_before_reading_anything() {
    let out = tlsaudit(&["check", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/capture.pcap"), "{err}");
    assert!(err.contains("no such file"), "{err}");
}

#[test]
fn empty_input_is_not_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.pcap");
    std::fs::write(&p, b"").unwrap();
    let out = tlsaudit(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}

#[test]
fn bad_option_exits_2() {
    let out = tlsaudit(&["check", "--format", "xml", "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tlsaudit(&["check", "-j", "0", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_capture_without_audited_flows_exits_0_with_a_warning() {
    // The corpus' empty pcap is a valid capture with no packets; build one here
    // so the test does not depend on the corpus.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.pcap");
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    std::fs::write(&p, &h).unwrap();
    let out = tlsaudit(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no TCP flow"), "{err}");
}

#[test]
fn stdin_delivered_a_few_bytes_at_a_time_is_read_completely() {
    let Some(corpus) =
        crate::util::corpus_dir("stdin_delivered_a_few_bytes_at_a_time_is_read_completely")
    else {
        return;
    };
    let capture = std::fs::read(corpus.join("zeek__tls1.2.pcap")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(["check", "--any-port", "--format", "jsonl", "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // 7-byte writes with pauses: the header arrives in pieces, like a pipe from tcpdump -U.
        for chunk in capture.chunks(7).take(20) {
            stdin.write_all(chunk).unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let rest: Vec<u8> = capture.iter().skip(140).copied().collect();
        stdin.write_all(&rest).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c == 0 || c == 1), "{err}");
    assert!(!err.contains("not a pcap"), "{err}");
    // The whole capture was read: its TLS 1.2 flow is reported.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"flow\""))
        .collect();
    assert_eq!(flows.len(), 1, "{stdout}");
    assert!(flows[0].contains("\"version\":\"TLSv1.2\""), "{}", flows[0]);
}

#[test]
fn the_markdown_ticket_names_each_input_by_the_sha256_of_the_file_as_stored() {
    use sha2::{Digest, Sha256};
    let inputs = [
        "captures/compliant-mtls.pcap",
        "captures/empty-fragments-both-gz.pcap.gz",
    ];
    for threads in ["1", "2"] {
        let out = tlsaudit(&[
            "check", "-q", "-j", threads, "--format", "markdown", inputs[0],
        ]);
        let md = String::from_utf8_lossy(&out.stdout);
        let bytes = std::fs::read(crate::util::root().join(inputs[0])).unwrap();
        let want = hex::encode(Sha256::digest(&bytes));
        assert!(md.contains(&want), "-j {threads}: no {want} in\n{md}");
    }
    // Several files (read in parallel, one thread each), gzip hashed as stored.
    let out = tlsaudit(&["check", "-q", "--format", "markdown", inputs[0], inputs[1]]);
    let md = String::from_utf8_lossy(&out.stdout);
    for input in inputs {
        let bytes = std::fs::read(crate::util::root().join(input)).unwrap();
        let want = hex::encode(Sha256::digest(&bytes));
        assert!(md.contains(&want), "{input}: no {want} in\n{md}");
    }
}

#[test]
fn reading_a_pipe_on_stdin_widens_it_so_the_writer_wakes_the_reader_less() {
    use std::time::{Duration, Instant};
    let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if max < 1 << 20 {
        eprintln!("skipped: pipe-max-size {max} is below the 1 MiB tlsaudit asks for");
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(["check", "-q", "--format", "jsonl", "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run tlsaudit");
    let mut stdin = child.stdin.take().unwrap();
    let before = rustix::pipe::fcntl_getpipe_size(&stdin).unwrap();
    let capture = std::fs::read(root().join("captures/compliant-mtls.pcap")).unwrap();
    // The file header first: tlsaudit widens the pipe when it opens its input.
    stdin.write_all(&capture[..24]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = before;
    while after < 1 << 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        after = rustix::pipe::fcntl_getpipe_size(&stdin).unwrap();
    }
    stdin.write_all(&capture[24..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(after, 1 << 20, "pipe size {before} before, {after} after");
    let flows = String::from_utf8_lossy(&out.stdout);
    assert!(
        flows.contains("\"server_cn\""),
        "the capture is still read whole: {flows}"
    );
}

// `-j 1` reads, judges and writes on one thread; when the report's reader
// goes away (`| head`), the reading must stop too, or an endless pipe
// (tcpdump -w -) would keep it reading forever after the report is gone.
#[test]
fn a_closed_report_pipe_stops_the_reading_of_an_endless_stdin() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let capture = std::fs::read(root().join("captures/several-flows.pcap")).unwrap();
    let (header, records) = capture.split_at(24);
    for threads in ["1", "2"] {
        let mut child = jsonl_check_of_stdin(threads, Stdio::piped());
        let mut stdin = child.stdin.take().unwrap();
        let (header, records) = (header.to_vec(), records.to_vec());
        // The same flows again and again, until tlsaudit stops reading.
        let writer = std::thread::spawn(move || {
            if stdin.write_all(&header).is_err() {
                return;
            }
            while stdin.write_all(&records).is_ok() {}
        });
        let mut report = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while report.read_line(&mut line).unwrap() > 0 && !line.contains("\"type\":\"flow\"") {
            line.clear();
        }
        assert!(
            line.contains("\"type\":\"flow\""),
            "-j {threads}: no flow line"
        );
        drop(report);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        writer.join().unwrap();
        let status = status.unwrap_or_else(|| {
            panic!("-j {threads}: still reading 30 s after its report was closed")
        });
        // A closed pipe is not a failure, as for other Unix filters.
        assert_eq!(status.code(), Some(0), "-j {threads}");
    }
}

// `-j 1` means one thread: what a user asks for to hold tlsaudit to one
// core on a busy server (and style R7's plain loop). Counted while it waits
// for more of a capture on stdin.
#[test]
fn check_with_one_thread_runs_on_one_thread() {
    let capture = std::fs::read(root().join("captures/several-flows.pcap")).unwrap();
    for (threads, want_more_than_one) in [("1", false), ("2", true)] {
        let mut child = jsonl_check_of_stdin(threads, Stdio::null());
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&capture).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id()))
            .map(|d| d.count())
            .unwrap_or(0);
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(
            status.code().is_some_and(|c| c <= 1),
            "-j {threads}: {status}"
        );
        if want_more_than_one {
            assert!(tasks > 1, "-j {threads}: {tasks} thread(s)");
        } else {
            assert_eq!(tasks, 1, "-j {threads}: {tasks} threads");
        }
    }
}

/// `tlsaudit check -q -j THREADS --format jsonl -`, its stdin a pipe to write
/// the capture into.
fn jsonl_check_of_stdin(threads: &str, stdout: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(["check", "-q", "-j", threads, "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn ports_may_be_given_as_a_comma_separated_list() {
    let cap = root().join("captures/compliant-mtls.pcap");
    let cap = cap.to_str().unwrap();
    let run = |ports: &[&str]| {
        let mut args = vec!["check", "-q", "--format", "json"];
        args.extend_from_slice(ports);
        args.push(cap);
        let out = tlsaudit(&args);
        assert_ne!(
            out.status.code(),
            Some(2),
            "{ports:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = run(&["--port", "443,5062"]);
    assert_eq!(listed, run(&["--port", "443", "--port", "5062"]));
    let doc: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(doc["flows"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(doc["profile"]["ports"], serde_json::json!([443, 5062]));
}
