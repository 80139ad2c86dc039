//! Capture, decode and flow stages over the third-party corpus: packet
//! counts equal capinfos', every TLS flow tshark lists is found with the same
//! endpoints, damaged and cut-short files give warnings and no panic.

use std::collections::BTreeSet;

use tlsaudit::engine::{collect, EngineOptions, PortFilter};

use crate::util::{corpus_captures, corpus_dir};

fn any_port() -> EngineOptions {
    EngineOptions {
        filter: PortFilter {
            ports: vec![5062],
            any_port: true,
        },
        ..EngineOptions::default()
    }
}

#[test]
fn packet_counts_match_capinfos_and_every_tls_flow_is_found() {
    let Some(dir) = corpus_dir("packet_counts_match_capinfos_and_every_tls_flow_is_found") else {
        return;
    };
    let captures = corpus_captures(&dir);
    assert!(
        captures.len() >= 59,
        "corpus has {} captures",
        captures.len()
    );
    let mut problems = Vec::new();
    let mut flows_expected = 0;
    for (path, facts) in &captures {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let result = collect(path, 0, &any_port());
        let input = match result {
            Ok(i) => i,
            Err(e) => {
                // Only a file that is not a capture at all may fail.
                if facts["capture"]["packets"].as_u64().is_some() {
                    problems.push(format!("{name}: unreadable: {e}"));
                }
                continue;
            }
        };
        let cut_short = facts["capture"]["capinfos_messages"]
            .as_array()
            .is_some_and(|m| {
                m.iter().any(|x| {
                    x.as_str()
                        .unwrap_or("")
                        .contains("cut short in the middle of a packet")
                })
            });
        if let Some(n) = facts["capture"]["packets"].as_u64() {
            // capinfos counts the partial last record of a cut-short file; we
            // report it as a warning, not as a frame.
            let expected = if cut_short { n.saturating_sub(1) } else { n };
            if input.stats.packets != expected {
                problems.push(format!(
                    "{name}: {} packets, capinfos says {n}",
                    input.stats.packets
                ));
            }
        }
        let damaged = facts["capture"]["capinfos_messages"]
            .as_array()
            .is_some_and(|m| !m.is_empty());
        if damaged && input.stats.warnings.is_empty() {
            problems.push(format!(
                "{name}: capinfos reports damage, no warning from us"
            ));
        }
        let ours: BTreeSet<(String, String)> = input
            .flows
            .iter()
            .flat_map(|f| {
                [
                    (f.client.to_string(), f.server.to_string()),
                    (f.server.to_string(), f.client.to_string()),
                ]
            })
            .collect();
        for flow in facts["tls_flows"].as_array().into_iter().flatten() {
            flows_expected += 1;
            let c = flow["client"].as_str().unwrap_or("").to_string();
            let s = flow["server"].as_str().unwrap_or("").to_string();
            if !ours.contains(&(c.clone(), s.clone())) {
                problems.push(format!("{name}: TLS flow {c} -> {s} not found"));
            }
        }
        // Orientation: where tshark decided by SYN, our client must be the same.
        for flow in facts["tls_flows"].as_array().into_iter().flatten() {
            if flow["client_determined_by"] == "syn" {
                let c = flow["client"].as_str().unwrap_or("");
                let s = flow["server"].as_str().unwrap_or("");
                let reversed = input
                    .flows
                    .iter()
                    .any(|f| f.client.to_string() == s && f.server.to_string() == c);
                if reversed {
                    problems.push(format!("{name}: {c} -> {s} oriented the wrong way"));
                }
            }
        }
    }
    assert!(
        flows_expected > 50,
        "only {flows_expected} TLS flows in the facts"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
