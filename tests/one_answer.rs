//! One capture, one answer (spec §8): the finished report of a capture is
//! the same whether it is read from the file or through a pipe on stdin,
//! for every project capture and every corpus capture.
// See: issue 14, item 1 (stdin settled flows early and dropped later
// evidence: 3 empty fragments from the file, 1 through stdin).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{corpus_captures, corpus_dir, root};

/// Run `check --format json` on `capture`, from the path or piped on stdin;
/// returns the exit code and the report with what names the source (path,
/// SHA-256) taken out.
fn report(capture: &Path, args: &[&str], via_stdin: bool) -> (Option<i32>, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tlsaudit"));
    cmd.args(["check", "-q", "--format", "json"]).args(args);
    cmd.arg(if via_stdin {
        "-".as_ref()
    } else {
        capture.as_os_str()
    });
    cmd.stdin(if via_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run tlsaudit");
    let writer = child.stdin.take().map(|mut stdin| {
        let bytes = std::fs::read(capture).expect("read capture");
        std::thread::spawn(move || {
            // The reader may stop early on a damaged file: a closed pipe is fine.
            let _ = stdin.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().expect("wait tlsaudit");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{}: not a JSON report ({e}): {stdout}\n{}",
            capture.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    for input in doc["inputs"].as_array_mut().into_iter().flatten() {
        if let Some(o) = input.as_object_mut() {
            o.remove("path");
            o.remove("sha256");
        }
    }
    (out.status.code(), doc)
}

/// Compare the file and stdin reports of each capture; returns the names
/// that differ, with the first differing flow.
fn differences(captures: &[PathBuf], args: &[&str]) -> Vec<String> {
    let mut diffs = Vec::new();
    for capture in captures {
        let (file_code, file) = report(capture, args, false);
        let (stdin_code, stdin) = report(capture, args, true);
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        if file_code != stdin_code {
            diffs.push(format!(
                "{name}: exit {file_code:?} from the file, {stdin_code:?} through stdin"
            ));
        }
        if file != stdin {
            let flows = |d: &Value| d["flows"].as_array().cloned().unwrap_or_default();
            let (a, b) = (flows(&file), flows(&stdin));
            let first = a
                .iter()
                .zip(&b)
                .find(|(x, y)| x != y)
                .map(|(x, y)| format!("\n  file:  {x}\n  stdin: {y}"))
                .unwrap_or_else(|| {
                    format!(
                        " ({} flows from the file, {} through stdin; inputs {} / {})",
                        a.len(),
                        b.len(),
                        file["inputs"],
                        stdin["inputs"]
                    )
                });
            diffs.push(format!("{name}: reports differ{first}"));
        }
    }
    diffs
}

fn project_captures() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("captures"))
        .unwrap()
        .chain(std::fs::read_dir(root().join("captures/derived")).unwrap())
        .chain(std::fs::read_dir(root().join("captures/fuzz-regressions")).unwrap())
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_project_capture_gives_the_same_report_from_the_file_and_from_stdin() {
    let captures = project_captures();
    assert!(
        captures.len() >= 30,
        "captures/ has {} captures",
        captures.len()
    );
    let diffs = differences(&captures, &[]);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn every_corpus_capture_gives_the_same_report_from_the_file_and_from_stdin() {
    let Some(dir) =
        corpus_dir("every_corpus_capture_gives_the_same_report_from_the_file_and_from_stdin")
    else {
        return;
    };
    let captures: Vec<PathBuf> = corpus_captures(&dir).into_iter().map(|(p, _)| p).collect();
    assert!(
        captures.len() >= 59,
        "corpus has {} captures",
        captures.len()
    );
    let diffs = differences(&captures, &["--any-port"]);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// `pcap` (classic, little-endian) with every record cut to `snap` bytes,
/// as classic pcap and as pcapng (one interface, enhanced packet blocks).
fn cut_twice(pcap: &[u8], snap: u32) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(
        pcap[..4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian µs pcap"
    );
    let word = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    let link = u32::from_le_bytes(pcap[20..24].try_into().unwrap());
    let mut classic = pcap[..24].to_vec();
    let mut ng = Vec::new();
    // Section header (version 1.0, length unknown), then the interface.
    for x in [
        0x0a0d_0d0a,
        28,
        0x1a2b_3c4d,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ] {
        word(&mut ng, x);
    }
    for x in [1, 20, link, snap, 20] {
        word(&mut ng, x);
    }
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let field = |i: usize| u32::from_le_bytes(pcap[at + i..at + i + 4].try_into().unwrap());
        let (secs, micros, caplen, origlen) = (field(0), field(4), field(8), field(12));
        let data = &pcap[at + 16..at + 16 + caplen as usize];
        let kept = &data[..data.len().min(snap as usize)];
        for x in [secs, micros, kept.len() as u32, origlen] {
            word(&mut classic, x);
        }
        classic.extend_from_slice(kept);
        let padded = (kept.len() + 3) & !3;
        let len = (32 + padded) as u32;
        let ts = u64::from(secs) * 1_000_000 + u64::from(micros);
        for x in [
            6,
            len,
            0,
            (ts >> 32) as u32,
            ts as u32,
            kept.len() as u32,
            origlen,
        ] {
            word(&mut ng, x);
        }
        ng.extend_from_slice(kept);
        ng.resize(ng.len() + padded - kept.len(), 0);
        word(&mut ng, len);
        at += 16 + caplen as usize;
    }
    (classic, ng)
}

// See: pcapng pads packet data to 32 bits, and the padding of a
// snaplen-cut frame was read as captured payload (a gap a byte short per
// frame, zero bytes handed to the TLS layer).
#[test]
fn a_snaplen_cut_capture_gives_the_same_report_as_pcap_and_as_pcapng() {
    let pcap = std::fs::read(root().join("captures/compliant-mtls.pcap")).unwrap();
    let (classic, ng) = cut_twice(&pcap, 99);
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for (name, bytes) in [("cut.pcap", classic), ("cut.pcapng", ng)] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (_, mut doc) = report(&p, &[], false);
        for input in doc["inputs"].as_array_mut().into_iter().flatten() {
            let input = input.as_object_mut().unwrap();
            input.remove("format");
            input.remove("bytes");
        }
        reports.push(doc);
    }
    let text = reports[0].to_string();
    assert!(
        text.contains("bytes never captured"),
        "the cut is seen: {text}"
    );
    assert_eq!(reports[0], reports[1]);
}
