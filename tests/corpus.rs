//! The TLS stage against tshark's view of the third-party corpus: for every
//! TLS flow tshark lists, the negotiated version, cipher suite, leaf
//! certificate CNs of both sides, whether the client sent a certificate, and
//! the alerts in the clear, and the minimal-size CBC record counts must agree. At least 99 % of these comparisons must
//! agree, and every disagreement must be listed with its reason in
//! `tests/corpus_known_differences.json` (no stale entries either).

use std::collections::BTreeMap;

use serde_json::Value;
use tlsaudit::decode::Dir;
use tlsaudit::engine::{collect, EngineOptions, PortFilter};
use tlsaudit::facts::FlowFacts;
use tlsaudit::tls::model::CertChainFacts;

use crate::util::{corpus_captures, corpus_dir, root};

/// Agreement required over all comparisons (the rest must be explained).
const MIN_AGREEMENT: f64 = 0.99;

fn any_port() -> EngineOptions {
    EngineOptions {
        filter: PortFilter {
            ports: vec![5062],
            any_port: true,
        },
        ..EngineOptions::default()
    }
}

/// tshark writes a CN as a string, or a list when the subject has several.
fn cn_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn hex16(v: Option<u16>) -> Value {
    v.map_or(Value::Null, |v| Value::String(format!("0x{v:04x}")))
}

/// The chain sent in TCP direction `dir` of our flow.
fn chain_from(f: &FlowFacts, dir: Dir) -> Option<&CertChainFacts> {
    let server_dir = f.tls.server_hello.as_ref().and_then(|s| s.dir).or_else(|| {
        f.tls
            .client_hello
            .as_ref()
            .and_then(|c| c.dir.map(Dir::reverse))
    });
    match server_dir {
        Some(s) if s != dir => f.tls.client_certificates.as_ref(),
        _ => f.tls.server_certificates.as_ref(),
    }
}

fn leaf_cn(chain: Option<&CertChainFacts>) -> Value {
    match chain.and_then(|c| c.certs.first()) {
        Some(c) => Value::from(c.subject_cn.clone()),
        None => Value::Null,
    }
}

/// One comparison: (file, flow, field) → (tshark, tlsaudit).
type Diffs = BTreeMap<(String, String, String), (Value, Value)>;

fn compare_flow(name: &str, t: &Value, ours: &[FlowFacts], diffs: &mut Diffs) -> usize {
    let tc = t["client"].as_str().unwrap_or_default();
    let ts = t["server"].as_str().unwrap_or_default();
    let flow_id = format!("{tc} -> {ts}");
    let mut check = |field: &str, theirs: Value, mine: Value| {
        if theirs != mine {
            diffs.insert(
                (name.to_string(), flow_id.clone(), field.to_string()),
                (theirs, mine),
            );
        }
    };
    let Some(f) = ours.iter().find(|f| {
        let (c, s) = (f.client.to_string(), f.server.to_string());
        (c == tc && s == ts) || (c == ts && s == tc)
    }) else {
        check("flow", Value::Bool(true), Value::Bool(false));
        return 1;
    };
    // TCP direction in which tshark's client / server send.
    let dir_of = |ep: &str| {
        if f.key.sender(Dir::AB).to_string() == ep {
            Dir::AB
        } else {
            Dir::BA
        }
    };
    let (t_client_dir, t_server_dir) = (dir_of(tc), dir_of(ts));

    check(
        "negotiated_version",
        t["negotiated_version"].clone(),
        hex16(f.tls.negotiated_version.map(|v| v.0)),
    );
    check(
        "cipher_suite",
        t["cipher_suite"]["id"].clone(),
        hex16(f.tls.cipher_suite.map(|c| c.0)),
    );
    let t_leaf = |side: &str| {
        t["certificates"][side]
            .as_array()
            .and_then(|a| a.first())
            .map_or(Value::Null, |c| Value::from(cn_list(&c["subject_cn"])))
    };
    check(
        "server_leaf_cn",
        t_leaf("server"),
        leaf_cn(chain_from(f, t_server_dir)),
    );
    check(
        "client_leaf_cn",
        t_leaf("client"),
        leaf_cn(chain_from(f, t_client_dir)),
    );
    check(
        "client_certificate_sent",
        t["client_certificate_sent"].clone(),
        Value::Bool(chain_from(f, t_client_dir).is_some_and(|c| !c.certs.is_empty())),
    );
    let mut t_alerts: Vec<String> = t["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["encrypted"] == Value::Bool(false))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .iter()
        .map(|a| {
            format!(
                "{}:{}:{}",
                a["from"].as_str().unwrap_or("?"),
                a["level"],
                a["description"]
            )
        })
        .collect();
    let mut our_alerts: Vec<String> = f
        .tls
        .alerts
        .iter()
        .filter(|a| !a.encrypted)
        .map(|a| {
            let from = if a.dir == Some(t_client_dir) {
                "client"
            } else {
                "server"
            };
            format!(
                "{from}:{}:{}",
                a.level.unwrap_or_default(),
                a.description.unwrap_or_default()
            )
        })
        .collect();
    t_alerts.sort();
    our_alerts.sort();
    check(
        "clear_alerts",
        Value::from(t_alerts),
        Value::from(our_alerts),
    );
    // Minimal-size CBC records (spec §3.3 evidence): length and count per side.
    let cbc = &t["cbc_minimal_application_data_records"];
    let ours_cbc = match f.tls.per_dir[t_client_dir.index()].app_data.minimal_len {
        None => Value::Null,
        Some(len) => serde_json::json!({
            "length": len,
            "client": f.tls.per_dir[t_client_dir.index()].app_data.minimal_records,
            "server": f.tls.per_dir[t_server_dir.index()].app_data.minimal_records,
        }),
    };
    check("cbc_minimal_records", cbc.clone(), ours_cbc);
    7
}

#[test]
fn tls_facts_agree_with_tshark_on_the_corpus() {
    let Some(dir) = corpus_dir("tls_facts_agree_with_tshark_on_the_corpus") else {
        return;
    };
    let mut diffs = Diffs::new();
    let mut total = 0usize;
    for (path, facts) in corpus_captures(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let flows = match collect(&path, 0, &any_port()) {
            Ok(i) => i.flows,
            Err(_) => Vec::new(),
        };
        for t in facts["tls_flows"].as_array().into_iter().flatten() {
            total += compare_flow(&name, t, &flows, &mut diffs);
        }
    }
    let known: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/corpus_known_differences.json"))
            .expect("tests/corpus_known_differences.json"),
    )
    .expect("known differences JSON");
    let known_keys: BTreeMap<(String, String, String), &Value> = known
        .iter()
        .map(|k| {
            let s = |f: &str| k[f].as_str().unwrap_or_default().to_string();
            assert!(
                !s("reason").is_empty(),
                "known difference without a reason: {k}"
            );
            ((s("file"), s("flow"), s("field")), k)
        })
        .collect();
    let mut problems = Vec::new();
    for (key, (theirs, mine)) in &diffs {
        match known_keys.get(key) {
            Some(k) if k["tshark"] == *theirs && k["tlsaudit"] == *mine => {}
            _ => problems.push(format!(
                "unexplained: {{\"file\": {:?}, \"flow\": {:?}, \"field\": {:?}, \"tshark\": {theirs}, \"tlsaudit\": {mine}, \"reason\": \"\"}}",
                key.0, key.1, key.2
            )),
        }
    }
    for key in known_keys.keys() {
        if !diffs.contains_key(key) {
            problems.push(format!("stale known difference (now agrees): {key:?}"));
        }
    }
    let agreement = 1.0 - diffs.len() as f64 / total.max(1) as f64;
    eprintln!(
        "corpus: {} comparisons, {} differences, agreement {:.2} %",
        total,
        diffs.len(),
        agreement * 100.0
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        agreement >= MIN_AGREEMENT,
        "agreement {:.2} % below {:.0} %",
        agreement * 100.0,
        MIN_AGREEMENT * 100.0
    );
}
