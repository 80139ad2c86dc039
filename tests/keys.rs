//! Decryption from the keys an administrator has (`--keylog`, `--rsa-key`),
//! through the binary, on the project's captures (`captures/*.keys` are the
//! clients' key logs, `captures/pki/server.key` the server's RSA key).

use std::io::Write;

use serde_json::Value;

use crate::util::{root, tlsaudit};

const CNS: [&str; 4] = [
    "--server-cn",
    "imp.example.com",
    "--client-cn",
    "ocs.example.com",
];

/// `check --format json` with the expected CNs and `extra` options.
fn report(capture: &str, extra: &[&str]) -> (Value, Option<i32>) {
    let mut args = vec!["check", "-q", "--format", "json"];
    args.extend(CNS);
    args.extend(extra);
    args.push(capture);
    let out = tlsaudit(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{capture}: no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code())
}

fn verdicts(flow: &Value) -> Vec<(String, String)> {
    flow["checks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["verdict"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// Every capture with a key log, as (capture path, key log path, expectations).
fn keyed_captures() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root().join("captures")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".expect.json") else {
            continue;
        };
        let keys = format!("captures/{stem}.keys");
        if !root().join(&keys).is_file() {
            continue;
        }
        let expect: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let capture = format!("captures/{}", expect["capture"].as_str().unwrap());
        out.push((capture, keys, expect));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn ossl3_empty_fragments_go_from_unknown_to_fail_with_the_key_log() {
    let cap = "captures/empty-fragments-both-ossl3.pcap";
    let (without, code) = report(cap, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        without["flows"][0]["checks"]["empty_fragments"]["verdict"],
        "unknown"
    );
    assert!(without["flows"][0]["decryption"].is_null());
    let (with, code) = report(
        cap,
        &["--keylog", "captures/empty-fragments-both-ossl3.keys"],
    );
    assert_eq!(code, Some(1));
    let f = &with["flows"][0];
    assert_eq!(f["checks"]["empty_fragments"]["verdict"], "fail");
    assert_eq!(
        f["empty_fragments"]["client"]
            .as_u64()
            .zip(f["empty_fragments"]["server"].as_u64()),
        Some((3, 3))
    );
    assert_eq!(f["empty_fragments"]["evidence"], "decrypted");
    assert_eq!(f["decryption"], "decrypted (key log)");
    assert_eq!(f["verdict"], "fail");
}

#[test]
fn compliant_flow_stays_pass_with_no_empty_record_decrypted() {
    let (r, code) = report(
        "captures/compliant-mtls.pcap",
        &["--keylog", "captures/compliant-mtls.keys"],
    );
    assert_eq!(code, Some(0));
    let f = &r["flows"][0];
    assert_eq!(f["verdict"], "pass");
    assert_eq!(
        f["empty_fragments"],
        serde_json::json!({"client": 0, "server": 0, "evidence": "decrypted",
            "client_detail": {"rung": "decrypted", "empty": 0},
            "server_detail": {"rung": "decrypted", "empty": 0}})
    );
    // The closing alerts are encrypted; with the keys they have names.
    let alert = &f["alerts"][0];
    assert_eq!(alert["encrypted"], true);
    assert_eq!(alert["decrypted"], true);
    assert_eq!(alert["description"], "close_notify");
    assert_eq!(alert["level"], "warning");
}

/// Keys only sharpen what the wire shows: every check the capture's
/// expectations settle keeps its verdict, only `unknown`s may resolve, and
/// wire counts of empty fragments are confirmed exactly by decryption.
#[test]
fn with_its_key_log_every_capture_agrees_with_the_wire_and_is_decrypted() {
    let all = keyed_captures();
    assert!(all.len() >= 20, "only {} captures with key logs", all.len());
    let mut diffs = Vec::new();
    for (cap, keys, expect) in &all {
        let (r, _) = report(cap, &["--keylog", keys]);
        let flows = r["flows"].as_array().unwrap();
        let want = expect["flows"].as_array().unwrap();
        assert_eq!(flows.len(), want.len(), "{cap}: flow count");
        for (i, (got, want)) in flows.iter().zip(want).enumerate() {
            let tag = format!("{cap} flow {}", i + 1);
            for (check, verdict) in verdicts(got) {
                let w = want["checks"][&check].as_str().unwrap_or("");
                if w != "unknown" && w != verdict {
                    diffs.push(format!("{tag}: {check} {verdict}, wire says {w}"));
                }
            }
            let dec = got["decryption"].as_str().unwrap_or("(none)");
            if want["handshake_complete"] == true && dec != "decrypted (key log)" {
                diffs.push(format!("{tag}: decryption {dec}"));
            }
            if want["empty_fragments"]["evidence"] == "wire" {
                for side in ["client", "server"] {
                    if got["empty_fragments"][side] != want["empty_fragments"][side] {
                        diffs.push(format!(
                            "{tag}: {side} decrypted {} vs wire {}",
                            got["empty_fragments"][side], want["empty_fragments"][side]
                        ));
                    }
                }
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn tls13_certificates_are_read_with_the_traffic_secrets() {
    let (without, _) = report("captures/tls13.pcap", &[]);
    assert_eq!(
        without["flows"][0]["checks"]["server_cn"]["verdict"],
        "unknown"
    );
    let (r, code) = report("captures/tls13.pcap", &["--keylog", "captures/tls13.keys"]);
    assert_eq!(code, Some(1), "version and suite still fail");
    let f = &r["flows"][0];
    assert_eq!(f["checks"]["server_cn"]["verdict"], "pass");
    assert_eq!(f["checks"]["client_cn"]["verdict"], "pass");
    assert_eq!(
        f["server_certificate"]["subject_cn"],
        serde_json::json!(["imp.example.com"])
    );
    assert_eq!(
        f["client_certificate"]["subject_cn"],
        serde_json::json!(["ocs.example.com"])
    );
    assert_eq!(f["decryption"], "decrypted (key log)");
    // A wrong expected client CN now fails instead of staying unknown.
    let out = tlsaudit(&[
        "check",
        "-q",
        "--format",
        "json",
        "--client-cn",
        "other.example.com",
        "--keylog",
        "captures/tls13.keys",
        "captures/tls13.pcap",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["flows"][0]["checks"]["client_cn"]["verdict"], "fail");
}

#[test]
fn rsa_key_gives_the_same_answers_as_the_key_log() {
    let mut compared = 0;
    for (cap, keys, _) in keyed_captures() {
        let (by_log, code_log) = report(&cap, &["--keylog", &keys]);
        let (by_rsa, code_rsa) = report(&cap, &["--rsa-key", "captures/pki/server.key"]);
        let flows_log = by_log["flows"].as_array().unwrap();
        let flows_rsa = by_rsa["flows"].as_array().unwrap();
        for (l, r) in flows_log.iter().zip(flows_rsa) {
            if r["decryption"] != "decrypted (RSA key)" {
                continue;
            }
            compared += 1;
            assert_eq!(verdicts(l), verdicts(r), "{cap}: checks differ");
            assert_eq!(l["empty_fragments"], r["empty_fragments"], "{cap}");
            assert_eq!(l["alerts"], r["alerts"], "{cap}");
            assert_eq!(code_log, code_rsa, "{cap}");
        }
    }
    // RSA key exchange with the `server` key: the 3DES/AES-SHA captures
    // with a full handshake (ECDHE, TLS 1.3, resumed and `wrong`-cert flows are not).
    assert!(
        compared >= 12,
        "only {compared} flows decrypted by the RSA key"
    );
}

#[test]
fn rsa_key_says_why_it_cannot_decrypt() {
    let (r, _) = report(
        "captures/tls12-ecdhe-aes128-gcm.pcap",
        &["--rsa-key", "captures/pki/server.key"],
    );
    let d = r["flows"][0]["decryption"].as_str().unwrap();
    assert!(d.contains("does not use RSA key exchange"), "{d}");
    let (r, _) = report(
        "captures/compliant-mtls.pcap",
        &["--rsa-key", "captures/pki/wrong.key"],
    );
    let d = r["flows"][0]["decryption"].as_str().unwrap();
    assert!(
        d.contains("no RSA key matches the server certificate"),
        "{d}"
    );
    let (r, _) = report(
        "captures/resumed-session.pcap",
        &["--rsa-key", "captures/pki/server.key"],
    );
    assert_eq!(r["flows"][0]["decryption"], "decrypted (RSA key)");
    let d = r["flows"][1]["decryption"].as_str().unwrap();
    assert!(d.contains("resumed session"), "{d}");
}

#[test]
fn a_wrong_master_secret_is_reported_and_the_wire_evidence_stays() {
    let text =
        std::fs::read_to_string(root().join("captures/empty-fragments-both-ossl3.keys")).unwrap();
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    for line in text.lines() {
        match line.strip_prefix("CLIENT_RANDOM ") {
            Some(rest) => {
                let (random, secret) = rest.split_once(' ').unwrap();
                // Same client random, another master secret.
                let flipped: String = secret
                    .chars()
                    .map(|c| if c == '0' { '1' } else { '0' })
                    .collect();
                writeln!(bad, "CLIENT_RANDOM {random} {flipped}").unwrap();
            }
            None => writeln!(bad, "{line}").unwrap(),
        }
    }
    let path = bad.path().to_str().unwrap().to_string();
    let (r, code) = report(
        "captures/empty-fragments-both-ossl3.pcap",
        &["--keylog", &path],
    );
    let f = &r["flows"][0];
    let d = f["decryption"].as_str().unwrap();
    assert!(d.starts_with("wrong key: MAC failure on Finished"), "{d}");
    assert_eq!(f["empty_fragments"]["evidence"], "wire-ambiguous");
    assert_eq!(f["checks"]["empty_fragments"]["verdict"], "unknown");
    assert_eq!(code, Some(0));
}

#[test]
fn key_log_of_another_capture_has_no_key_for_this_client_random() {
    let (r, _) = report(
        "captures/compliant-mtls.pcap",
        &["--keylog", "captures/tls12-3des.keys"],
    );
    assert_eq!(r["flows"][0]["decryption"], "no key for this client random");
    assert_eq!(r["flows"][0]["empty_fragments"]["evidence"], "wire");
}

#[test]
fn a_malformed_key_log_is_exit_2_naming_file_and_line() {
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    writeln!(bad, "# comment").unwrap();
    writeln!(bad, "CLIENT_RANDOM 00112233 zz").unwrap();
    let path = bad.path().to_str().unwrap().to_string();
    let out = tlsaudit(&["check", "--keylog", &path, "captures/compliant-mtls.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{path}:2")), "{err}");
    let out = tlsaudit(&[
        "check",
        "--rsa-key",
        "captures/pki/server.crt",
        "captures/compliant-mtls.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no RSA private key"));
}

#[test]
fn table_and_markdown_say_which_flows_were_decrypted() {
    for format in ["table", "markdown"] {
        let out = tlsaudit(&[
            "check",
            "--format",
            format,
            "--keylog",
            "captures/several-flows.keys",
            "--rsa-key",
            "captures/pki/server.key",
            "captures/several-flows.pcap",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Decryption"), "{format}: {text}");
        assert_eq!(
            text.matches("decrypted (key log)").count(),
            3,
            "{format}: {text}"
        );
    }
}
