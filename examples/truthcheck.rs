//! Compare a `tlsaudit check --format json` report of a generated capture
//! with the truth file `gencap --truth` wrote: every audited clone must be
//! reported once, with the facts and verdicts its source capture's
//! `.expect.json` states (frame numbers aside: they move in a clone).
//!
//! ```text
//! cargo run --release --example truthcheck -- truth.json report.json
//! ```
//! Exit 0 when everything matches, 1 with a summary of the differences.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use serde_json::Value;

/// Differences printed in full; the rest are only counted.
const SHOWN: usize = 20;

fn load(path: &str) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))
}

/// The report's value for an expectation key, shaped like the expectation.
fn observed(flow: &Value, key: &str) -> Value {
    match key {
        "cipher_suite" => flow
            .pointer("/cipher_suite/id")
            .cloned()
            .unwrap_or(Value::Null),
        "server_cn" | "client_cn" => {
            let cert = if key == "server_cn" {
                "server_certificate"
            } else {
                "client_certificate"
            };
            match flow.pointer(&format!("/{cert}/subject_cn")) {
                Some(Value::Array(cns)) if cns.len() == 1 => cns[0].clone(),
                Some(v) => v.clone(),
                None => Value::Null,
            }
        }
        // Alerts in the clear only: the expectations list what a reader of
        // the capture sees without keys.
        "alerts" => match flow.get("alerts") {
            Some(Value::Array(a)) => Value::Array(
                a.iter()
                    .filter(|x| x.get("encrypted") != Some(&Value::Bool(true)))
                    .map(without_frame)
                    .collect(),
            ),
            _ => Value::Array(Vec::new()),
        },
        "checks" => match flow.get("checks") {
            Some(Value::Object(m)) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.get("verdict").cloned().unwrap_or(Value::Null)))
                    .collect(),
            ),
            _ => Value::Null,
        },
        other => flow.get(other).cloned().unwrap_or(Value::Null),
    }
}

/// An alert as the expectations describe it: who, level, description.
fn without_frame(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| matches!(k.as_str(), "from" | "level" | "description"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Keys of an expectation that describe the flow itself, not the source's addresses.
const COMPARED: &[&str] = &[
    "version",
    "cipher_suite",
    "server_cn",
    "client_cn",
    "empty_fragments",
    "handshake_complete",
    "resumed",
    "alerts",
    "checks",
    "verdict",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [truth_path, report_path] = args.as_slice() else {
        eprintln!("usage: truthcheck TRUTH.json REPORT.json");
        return ExitCode::from(2);
    };
    let (truth, report) = match (load(truth_path), load(report_path)) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("truthcheck: {e}");
            return ExitCode::from(2);
        }
    };
    let empty = Vec::new();
    let flows = report
        .get("flows")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut by_ends: HashMap<(String, String), Vec<&Value>> = HashMap::new();
    for f in flows {
        let c = f.get("client").and_then(Value::as_str).unwrap_or_default();
        let s = f.get("server").and_then(Value::as_str).unwrap_or_default();
        by_ends
            .entry((c.to_string(), s.to_string()))
            .or_default()
            .push(f);
    }
    let mut checked = 0u64;
    let mut without_expect = 0u64;
    let mut diffs: BTreeMap<String, u64> = BTreeMap::new();
    let mut shown = 0usize;
    for t in truth
        .get("flows")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let c = t.get("client").and_then(Value::as_str).unwrap_or_default();
        let s = t.get("server").and_then(Value::as_str).unwrap_or_default();
        let source = t.get("source").and_then(Value::as_str).unwrap_or("?");
        let Some(expect) = t.get("expect") else {
            without_expect += 1;
            continue;
        };
        checked += 1;
        let found = by_ends.get(&(c.to_string(), s.to_string()));
        let flow = match found.map(Vec::as_slice) {
            Some([one]) => *one,
            other => {
                let what = if other.is_none() {
                    "missing"
                } else {
                    "reported more than once"
                };
                *diffs.entry(format!("{source}: flow {what}")).or_default() += 1;
                if shown < SHOWN {
                    shown += 1;
                    eprintln!("{c} -> {s} ({source}): {what}");
                }
                continue;
            }
        };
        for key in COMPARED {
            // A null expectation means "not stated" (as in tests/captures.rs).
            let Some(want) = expect.get(*key).filter(|w| !w.is_null()) else {
                continue;
            };
            let want = if *key == "alerts" {
                match want {
                    Value::Array(a) => Value::Array(a.iter().map(without_frame).collect()),
                    other => other.clone(),
                }
            } else {
                want.clone()
            };
            let got = observed(flow, key);
            let same = match (&want, &got) {
                // Expected checks are a subset of what the report has.
                (Value::Object(w), Value::Object(g)) if *key == "checks" => {
                    w.iter().all(|(k, v)| g.get(k) == Some(v))
                }
                // Empty fragments: the per-direction counts (the report adds detail).
                (Value::Object(w), Value::Object(g)) if *key == "empty_fragments" => {
                    ["client", "server"].iter().all(|side| {
                        w.get(*side).is_none_or(Value::is_null) || w.get(*side) == g.get(*side)
                    })
                }
                _ => want == got,
            };
            if !same {
                *diffs.entry(format!("{source}: {key}")).or_default() += 1;
                if shown < SHOWN {
                    shown += 1;
                    eprintln!("{c} -> {s} ({source}): {key}: expected {want}, reported {got}");
                }
            }
        }
    }
    println!(
        "truthcheck: {checked} flows compared ({without_expect} without an expectation), {} reported in all",
        flows.len()
    );
    if diffs.is_empty() {
        println!("truthcheck: every compared flow matches");
        return ExitCode::SUCCESS;
    }
    for (what, n) in &diffs {
        println!("  {n:6}  {what}");
    }
    ExitCode::from(1)
}
