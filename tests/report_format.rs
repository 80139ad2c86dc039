//! The `tlsaudit.report/1` contract (spec §4, `src/report/json.rs`): field
//! names and order of the JSON document, the JSON Lines envelope, redaction.
//! Flows are built by hand through the library, so these tests pin the
//! format independently of any capture.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tlsaudit::checks::fixture::FlowBuilder;
use tlsaudit::checks::judge;
use tlsaudit::facts::{FlowFacts, Role};
use tlsaudit::flow::CloseKind;
use tlsaudit::profile::Profile;
use tlsaudit::report::{Format, InputReport, Only, ReportOptions, Reporter};
use tlsaudit::tls::model::TlsVersion;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn render(format: Format, redact: bool, flows: Vec<FlowFacts>, profile: &Profile) -> String {
    let buf = Buf::default();
    let opts = ReportOptions {
        format,
        only: Only::All,
        redact,
        color: false,
        streaming: false,
    };
    let mut r = Reporter::new(opts, profile, Box::new(buf.clone()));
    for f in flows {
        r.flow(judge(f, profile)).unwrap();
    }
    r.warning("no flow on port 5063 (seen from 192.0.2.7)")
        .unwrap();
    r.input(InputReport {
        path: "captures/fed.pcapng".into(),
        format: "pcapng".into(),
        link_types: vec!["ethernet".into()],
        packets: 21,
        bytes: 5000,
        warnings: vec![],
        sha256: Some("11".repeat(32)),
        error: None,
    })
    .unwrap();
    r.finish().unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn site_profile() -> Profile {
    let mut p = Profile::builtin();
    p.set_server_cn(vec!["imp.example.com".into()]);
    p.set_client_cn(vec!["ocs.example.com".into()]);
    p
}

fn flows() -> Vec<FlowFacts> {
    let v6c: SocketAddr = "[2001:db8::2]:49152".parse().unwrap();
    let v6s: SocketAddr = "[2001:db8::1]:5062".parse().unwrap();
    vec![
        FlowBuilder::new()
            .federation_ok()
            .alert(Role::Server, 20, 1, 0)
            .close(Role::Server, 21, CloseKind::Fin)
            .build(),
        FlowBuilder::new()
            .endpoints(v6c, v6s)
            .first_frame(30)
            .client_hello(33, TlsVersion::TLS12, &[0x009c])
            .alert(Role::Server, 34, 2, 40)
            .build(),
    ]
}

#[test]
fn json_document_has_the_spec_field_names() {
    let out = render(Format::Json, false, flows(), &site_profile());
    let doc: Value = serde_json::from_str(&out).expect("one JSON document");
    // serde_json without preserve_order sorts keys, so compare as sets.
    let mut top = keys(&doc);
    top.sort_unstable();
    assert_eq!(
        top,
        ["flows", "inputs", "profile", "schema", "summary", "tool", "warnings"]
    );
    assert_eq!(doc["schema"], "tlsaudit.report/1");
    assert_eq!(doc["tool"]["name"], "tlsaudit");
    assert_eq!(doc["profile"]["ports"], serde_json::json!([5062]));
    assert_eq!(doc["inputs"][0]["path"], "captures/fed.pcapng");
    for k in [
        "path",
        "format",
        "link_types",
        "packets",
        "bytes",
        "warnings",
    ] {
        assert!(doc["inputs"][0].get(k).is_some(), "inputs[].{k}");
    }

    let f = &doc["flows"][0];
    for k in [
        "input",
        "client",
        "server",
        "first_frame",
        "first_seen",
        "version",
        "cipher_suite",
        "resumed",
        "handshake_complete",
        "sni",
        "server_certificate",
        "client_certificate",
        "empty_fragments",
        "alerts",
        "tcp",
        "checks",
        "verdict",
    ] {
        assert!(f.get(k).is_some(), "flows[].{k} missing");
    }
    assert_eq!(f["client"], "10.0.0.2:49152");
    assert_eq!(f["server"], "10.0.0.1:5062");
    assert_eq!(f["first_seen"], "2026-01-01T10:00:00.000000Z");
    assert_eq!(f["version"], "TLSv1.0");
    assert_eq!(f["cipher_suite"]["id"], "0x000a");
    assert_eq!(f["cipher_suite"]["name"], "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    assert_eq!(f["handshake_complete"], true);
    assert_eq!(f["sni"], Value::Null);
    let cert = &f["server_certificate"];
    for k in [
        "subject_cn",
        "subject",
        "issuer",
        "san",
        "not_before",
        "not_after",
        "eku",
        "key",
        "sha256",
        "frame",
    ] {
        assert!(cert.get(k).is_some(), "server_certificate.{k} missing");
    }
    assert_eq!(cert["subject_cn"], serde_json::json!(["imp.example.com"]));
    assert_eq!(cert["frame"], 6);
    assert_eq!(cert["eku"], serde_json::json!(["serverAuth", "clientAuth"]));
    let mut ef = keys(&f["empty_fragments"]);
    ef.sort_unstable();
    assert!(ef.starts_with(&["client"]) && ef.contains(&"server") && ef.contains(&"evidence"));
    assert_eq!(f["empty_fragments"]["evidence"], "wire");
    assert_eq!(
        f["alerts"][0],
        serde_json::json!({"from": "server", "level": "warning", "description": "close_notify",
                           "encrypted": false, "frame": 20})
    );
    for k in ["gaps", "retransmissions", "midstream"] {
        assert!(f["tcp"].get(k).is_some(), "tcp.{k}");
    }
    let mut checks = keys(&f["checks"]);
    checks.sort_unstable();
    assert_eq!(
        checks,
        [
            "cipher_suite",
            "client_cn",
            "empty_fragments",
            "handshake",
            "server_cn",
            "version"
        ]
    );
    for (name, c) in f["checks"].as_object().unwrap() {
        let mut k = keys(c);
        k.sort_unstable();
        assert_eq!(
            k,
            ["expected", "frames", "observed", "reason", "remedy", "verdict"],
            "checks.{name}"
        );
    }
    assert_eq!(
        f["checks"]["version"]["expected"],
        serde_json::json!(["TLSv1.0"])
    );
    assert_eq!(f["checks"]["version"]["frames"], serde_json::json!([5]));
    assert_eq!(f["verdict"], "pass");

    let g = &doc["flows"][1];
    assert_eq!(g["client"], "[2001:db8::2]:49152");
    assert_eq!(g["server"], "[2001:db8::1]:5062");
    assert_eq!(g["alerts"][0]["description"], "handshake_failure");
    assert_eq!(g["alerts"][0]["level"], "fatal");
    assert_eq!(g["checks"]["handshake"]["verdict"], "fail");
    assert!(g["checks"]["handshake"]["remedy"].is_string());
    assert_eq!(g["verdict"], "fail");

    let s = &doc["summary"];
    assert_eq!(
        (
            s["flows"].as_u64(),
            s["pass"].as_u64(),
            s["fail"].as_u64(),
            s["unknown"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(0))
    );
    assert_eq!(s["by_check"]["handshake"]["fail"], 1);
    assert_eq!(s["by_check"]["version"]["pass"], 1);
    assert_eq!(
        doc["warnings"][0]["message"],
        "no flow on port 5063 (seen from 192.0.2.7)"
    );
}

#[test]
fn jsonl_lines_carry_the_document_objects_in_an_envelope() {
    let p = site_profile();
    let doc: Value = serde_json::from_str(&render(Format::Json, false, flows(), &p)).unwrap();
    let lines: Vec<Value> = render(Format::Jsonl, false, flows(), &p)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["flow", "flow", "warning", "input", "summary"]);
    for l in &lines {
        let mut k = keys(l);
        k.sort_unstable();
        assert_eq!(k, ["data", "type"]);
    }
    assert_eq!(lines[0]["data"], doc["flows"][0]);
    assert_eq!(lines[1]["data"], doc["flows"][1]);
    assert_eq!(lines[2]["data"], doc["warnings"][0]);
    assert_eq!(lines[3]["data"], doc["inputs"][0]);
    assert_eq!(lines[4]["data"], doc["summary"]);
}

#[test]
fn jsonl_field_order_follows_the_spec() {
    let out = render(Format::Jsonl, false, flows(), &site_profile());
    let first = out.lines().next().unwrap();
    let order = [
        "\"input\"",
        "\"client\"",
        "\"server\"",
        "\"first_frame\"",
        "\"first_seen\"",
        "\"version\"",
        "\"cipher_suite\"",
        "\"resumed\"",
        "\"handshake_complete\"",
        "\"sni\"",
        "\"server_certificate\"",
        "\"client_certificate\"",
        "\"empty_fragments\"",
        "\"alerts\"",
        "\"tcp\"",
        "\"checks\"",
        "\"verdict\"",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|k| first.find(k).unwrap_or(usize::MAX))
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "order {pos:?} in {first}"
    );
}

#[test]
fn redaction_tokens_addresses_consistently_and_drops_serials_but_keeps_cns() {
    let p = site_profile();
    let mut fl = flows();
    // A second connection between the same hosts must reuse the tokens.
    fl.push(
        FlowBuilder::new()
            .endpoints(
                "10.0.0.2:49999".parse().unwrap(),
                "10.0.0.1:5062".parse().unwrap(),
            )
            .first_frame(50)
            .federation_ok()
            .build(),
    );
    let plain = render(Format::Json, false, fl.clone(), &p);
    assert!(plain.contains("\"serial\""));
    let out = render(Format::Json, true, fl, &p);
    for leaked in ["10.0.0.", "2001:db8", "192.0.2.7", "\"serial\""] {
        assert!(!out.contains(leaked), "{leaked} leaked");
    }
    let doc: Value = serde_json::from_str(&out).unwrap();
    let f = &doc["flows"];
    assert_eq!(f[0]["client"], "host-1:49152");
    assert_eq!(f[0]["server"], "host-2:5062");
    assert_eq!(f[1]["client"], "host-3:49152");
    assert_eq!(f[1]["server"], "host-4:5062");
    assert_eq!(f[2]["client"], "host-1:49999");
    assert_eq!(f[2]["server"], "host-2:5062");
    assert_eq!(
        f[0]["server_certificate"]["subject_cn"],
        serde_json::json!(["imp.example.com"])
    );
    assert_eq!(
        doc["warnings"][0]["message"],
        "no flow on port 5063 (seen from host-5)"
    );
}

#[test]
fn table_and_markdown_render_the_same_verdicts() {
    let p = site_profile();
    let table = render(Format::Table, false, flows(), &p);
    assert!(
        table.contains("Summary: 2 flow(s): 1 pass, 1 fail, 0 unknown"),
        "{table}"
    );
    assert!(table.contains("[2001:db8::1]:5062"));
    let md = render(Format::Markdown, false, flows(), &p);
    assert!(
        md.contains("**Result:** 2 flow(s): 1 pass, 1 fail, 0 unknown."),
        "{md}"
    );
    assert!(md.contains(&"11".repeat(32)), "input SHA-256 in markdown");
    assert!(
        md.contains("### #2: [2001:db8::2]:49152 → [2001:db8::1]:5062 (**FAIL**)"),
        "{md}"
    );
}
