//! The project's own port-5062 captures (`captures/`, made by
//! `captures/make/make-captures.sh` with real TLS stacks): for each, run the
//! binary as a user would and compare every check, every flow's verdict,
//! the observed facts and the exit code with `<name>.expect.json`.

use serde_json::Value;

use crate::util::{root, tlsaudit};

fn expectations() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    // The recordings, and the edge cases derived from them (captures/derived/).
    let dirs = [root().join("captures"), root().join("captures/derived")];
    for e in dirs.iter().flat_map(|d| std::fs::read_dir(d).unwrap()) {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".expect.json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((stem.to_string(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Compare one capture; returns the differences.
fn compare(name: &str, expect: &Value, extra_args: &[&str]) -> Vec<String> {
    let capture = format!("captures/{}", expect["capture"].as_str().unwrap());
    let mut args: Vec<String> = vec![
        "check".into(),
        "-q".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(
        expect["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string()),
    );
    args.extend(extra_args.iter().map(|s| s.to_string()));
    args.push(capture);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tlsaudit(&argv);
    let mut diffs = Vec::new();
    let report: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "{name}: no JSON report ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )]
        }
    };
    let want_exit = expect["exit_code"].as_i64().unwrap();
    if out.status.code() != Some(want_exit as i32) {
        diffs.push(format!(
            "{name}: exit code {:?}, expected {want_exit}",
            out.status.code()
        ));
    }
    let flows = report["flows"].as_array().cloned().unwrap_or_default();
    let want_flows = expect["flows"].as_array().unwrap();
    if flows.len() != want_flows.len() {
        diffs.push(format!(
            "{name}: {} flows, expected {}",
            flows.len(),
            want_flows.len()
        ));
    }
    for (i, (got, want)) in flows.iter().zip(want_flows).enumerate() {
        let tag = format!("{name} flow {}", i + 1);
        if let Some(port) = want["client_port"].as_u64() {
            let client = got["client"].as_str().unwrap_or("");
            if !client.ends_with(&format!(":{port}")) {
                diffs.push(format!("{tag}: client {client}, expected port {port}"));
            }
        }
        if got["server"] != want["server"] {
            diffs.push(format!(
                "{tag}: server {} expected {}",
                got["server"], want["server"]
            ));
        }
        if got["version"] != want["version"] {
            diffs.push(format!(
                "{tag}: version {} expected {}",
                got["version"], want["version"]
            ));
        }
        if got["cipher_suite"]["id"] != want["cipher_suite"]
            && !(want["cipher_suite"].is_null() && got["cipher_suite"].is_null())
        {
            diffs.push(format!(
                "{tag}: cipher {} expected {}",
                got["cipher_suite"]["id"], want["cipher_suite"]
            ));
        }
        for (field, cert) in [
            ("server_cn", "server_certificate"),
            ("client_cn", "client_certificate"),
        ] {
            let want_cn = &want[field];
            let got_cn = &got[cert]["subject_cn"][0];
            if !want_cn.is_null() && got_cn != want_cn {
                diffs.push(format!("{tag}: {field} {got_cn} expected {want_cn}"));
            }
        }
        if !want["handshake_complete"].is_null()
            && got["handshake_complete"] != want["handshake_complete"]
        {
            diffs.push(format!(
                "{tag}: handshake_complete {} expected {}",
                got["handshake_complete"], want["handshake_complete"]
            ));
        }
        if !want["resumed"].is_null() && got["resumed"] != want["resumed"] {
            diffs.push(format!(
                "{tag}: resumed {} expected {}",
                got["resumed"], want["resumed"]
            ));
        }
        for side in ["client", "server"] {
            let w = &want["empty_fragments"][side];
            if !w.is_null() && got["empty_fragments"][side] != *w {
                diffs.push(format!(
                    "{tag}: empty fragments from {side}: {} expected {w}",
                    got["empty_fragments"][side]
                ));
            }
        }
        for (check, verdict) in want["checks"].as_object().unwrap() {
            let g = &got["checks"][check]["verdict"];
            if g != verdict {
                diffs.push(format!(
                    "{tag}: check {check} = {g}, expected {verdict} ({})",
                    got["checks"][check]["reason"]
                ));
            }
        }
        if got["verdict"] != want["verdict"] {
            diffs.push(format!(
                "{tag}: verdict {} expected {}",
                got["verdict"], want["verdict"]
            ));
        }
    }
    diffs
}

#[test]
fn every_capture_gives_the_expected_checks_verdicts_and_exit_code() {
    let all = expectations();
    assert!(all.len() >= 25, "only {} expectation files", all.len());
    let mut diffs = Vec::new();
    for (name, expect) in &all {
        diffs.extend(compare(name, expect, &[]));
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn the_verdicts_do_not_depend_on_the_thread_count() {
    // Every capture: the mid-stream ones exercise the ordered release that
    // waits for a later connection's certificates.
    for (name, expect) in expectations().iter() {
        let capture = format!("captures/{}", expect["capture"].as_str().unwrap());
        let one = tlsaudit(&["check", "-q", "-j", "1", "--format", "json", &capture]);
        let two = tlsaudit(&["check", "-q", "-j", "2", "--format", "json", &capture]);
        assert_eq!(one.stdout, two.stdout, "{name}: -j1 and -j2 reports differ");
        assert_eq!(one.status.code(), two.status.code());
    }
}
