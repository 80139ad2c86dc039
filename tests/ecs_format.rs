//! `--format ecs`: every line of every shipped capture validates against
//! the Elastic Common Schema field definitions tlsaudit uses
//! (`tests/ecs_fields.json`, a subset of ECS 9.4.0's `fields.csv`): each
//! field outside `tlsaudit.*` exists there, with the JSON type its ECS type
//! maps to, and arrays only where ECS normalises to an array.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::util::{root, tlsaudit};

/// ECS field name → (type, normalised to an array).
fn ecs_fields() -> BTreeMap<String, (String, bool)> {
    let text = std::fs::read_to_string(root().join("tests/ecs_fields.json")).expect("subset");
    let doc: Value = serde_json::from_str(&text).expect("subset JSON");
    doc["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_string(),
                (
                    f["type"].as_str().expect("type").to_string(),
                    f["array"].as_bool().expect("array"),
                ),
            )
        })
        .collect()
}

/// Leaves of a document as dotted names (arrays are leaves).
fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, child, out);
            }
        }
        _ => out.push((prefix.to_string(), v)),
    }
}

/// Why `v` is not a valid value of ECS type `ty`, if it is not.
fn type_error(ty: &str, v: &Value) -> Option<String> {
    let ok = match ty {
        "keyword" | "match_only_text" | "wildcard" | "constant_keyword" => v.is_string(),
        "long" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "date" => v.as_str().is_some_and(|s| {
            // RFC 3339 UTC as tlsaudit writes it: 2026-01-01T10:00:00.000000Z
            s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T'
        }),
        other => return Some(format!("type {other} is not handled by this test")),
    };
    (!ok).then(|| format!("{v} is not a valid {ty}"))
}

/// Every problem of one ECS line.
fn violations(line: &str, fields: &BTreeMap<String, (String, bool)>) -> Vec<String> {
    let doc: Value = match serde_json::from_str(line) {
        Ok(d) => d,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let mut leaves = Vec::new();
    flatten("", &doc, &mut leaves);
    let mut bad = Vec::new();
    for (name, v) in leaves {
        if name.starts_with("tlsaudit.") {
            continue;
        }
        let Some((ty, array)) = fields.get(&name) else {
            bad.push(format!("{name}: not an ECS field (of the shipped subset)"));
            continue;
        };
        match v {
            Value::Array(items) => {
                if !array {
                    bad.push(format!(
                        "{name}: an array, ECS does not normalise it to one"
                    ));
                }
                for item in items {
                    if let Some(e) = type_error(ty, item) {
                        bad.push(format!("{name}: {e}"));
                    }
                }
            }
            Value::Null => bad.push(format!("{name}: null (omit the field instead)")),
            _ => {
                if let Some(e) = type_error(ty, v) {
                    bad.push(format!("{name}: {e}"));
                }
            }
        }
    }
    bad
}

fn ecs_lines(args: &[&str]) -> Vec<String> {
    let mut argv = vec!["check", "-q", "--format", "ecs"];
    argv.extend_from_slice(args);
    let out = tlsaudit(&argv);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "tlsaudit {argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_ecs_line_of_the_shipped_captures_validates_against_the_ecs_subset() {
    let fields = ecs_fields();
    let mut captures: Vec<String> = std::fs::read_dir(root().join("captures"))
        .expect("captures")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_string_lossy().contains(".pcap"))
        .map(|p| p.display().to_string())
        .collect();
    captures.sort();
    assert!(captures.len() >= 20, "{captures:?}");
    let args: Vec<&str> = [
        "--server-cn",
        "imp.example.com",
        "--client-cn",
        "ocs.example.com",
    ]
    .into_iter()
    .chain(captures.iter().map(String::as_str))
    .collect();
    let mut problems = Vec::new();
    let mut lines = ecs_lines(&args);
    lines.extend(ecs_lines(&[&["--redact"], &args[..]].concat()));
    assert!(lines.len() >= 40, "{} lines", lines.len());
    for line in &lines {
        for p in violations(line, &fields) {
            problems.push(format!("{p}\n  in {line}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn ecs_line_of_a_failing_flow_carries_the_fields_a_siem_keys_on() {
    let lines = ecs_lines(&[
        "--server-cn",
        "imp.example.com",
        "--client-cn",
        "ocs.example.com",
        "captures/several-flows.pcap",
    ]);
    assert_eq!(lines.len(), 3);
    let third: Value = serde_json::from_str(&lines[2]).expect("json");
    assert_eq!(third["source"]["ip"], "127.0.0.1");
    assert_eq!(third["destination"]["port"], 5062);
    assert_eq!(third["tls"]["version"], "1.2");
    assert_eq!(third["tls"]["version_protocol"], "tls");
    assert_eq!(
        third["tls"]["cipher"],
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    );
    assert_eq!(
        third["tls"]["server"]["x509"]["subject"]["common_name"][0],
        "imp.example.com"
    );
    assert_eq!(
        third["tls"]["client"]["x509"]["subject"]["common_name"][0],
        "ocs.example.com"
    );
    assert_eq!(third["event"]["outcome"], "failure");
    assert_eq!(third["rule"]["name"], "version");
    assert_eq!(third["tlsaudit"]["verdict"], "fail");
    assert_eq!(third["tlsaudit"]["checks"]["version"]["verdict"], "fail");
    assert!(third["tlsaudit"]["ja4"]
        .as_str()
        .is_some_and(|j| j.starts_with("t12i")));
    let first: Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(first["event"]["outcome"], "success");
    assert!(first["rule"].get("name").is_none());
}

#[test]
fn the_validator_rejects_what_ecs_does_not_define() {
    let fields = ecs_fields();
    let ok = r#"{"source":{"ip":"10.0.0.1","port":5062},"tls":{"version":"1.0"}}"#;
    assert!(violations(ok, &fields).is_empty());
    for bad in [
        r#"{"source":{"ip":"host-1"}}"#,
        r#"{"source":{"port":"5062"}}"#,
        r#"{"tls":{"cipher_suite":"x"}}"#,
        r#"{"tls":{"established":"yes"}}"#,
        r#"{"event":{"outcome":["failure"]}}"#,
    ] {
        assert!(!violations(bad, &fields).is_empty(), "{bad}");
    }
}
