//! `--format ecs`: one JSON line per flow in Elastic Common Schema field
//! names, for a SIEM (Elastic, or anything that reads ECS). Only flows are
//! written: no summary or input lines, each line stands alone.
//!
//! Mapping (the flow record of `model.rs`, already redacted):
//!
//! | ECS | from |
//! |---|---|
//! | `@timestamp`, `event.start`, `event.end` | first and last packet of the flow |
//! | `event.outcome` | verdict: `success` (pass), `failure` (fail), `unknown` |
//! | `event.kind` / `category` / `type` / `action` / `dataset` / `module` | `event` / `network` / `connection`+`protocol` / `tls-audit` / `tlsaudit.flow` / `tlsaudit` |
//! | `event.reason`, `rule.name`, `rule.description` | first failing (else unknown) check: its reason, name and remedy |
//! | `rule.ruleset` | the profile's name |
//! | `source.*`, `destination.*` | client and server (`--redact`: only `address`, the token) |
//! | `tls.version`, `tls.version_protocol`, `tls.cipher`, `tls.established`, `tls.resumed` | negotiated version, suite, handshake check |
//! | `tls.client.server_name`, `tls.client.supported_ciphers` | the ClientHello's SNI and suites |
//! | `tls.{client,server}.x509.*`, `tls.{client,server}.hash.sha256` | leaf certificates |
//! | `tlsaudit.*` | verdict, checks, findings, `ja4`, input, frames, profile |
//!
//! The JA4 fingerprint has no ECS field yet, so it is `tlsaudit.ja4`.
//! Objects are nested (ECS documents), keys sorted: the same flow gives
//! the same bytes.

use serde_json::{json, Map, Value};

use crate::checks::{JudgedFlow, Verdict};
use crate::profile::Profile;
use crate::tls::suites;

use super::model::{CertRecord, FlowRecord};
use super::redact::ShownEndpoint;

/// ECS release whose field definitions the lines follow (the subset is
/// shipped in `tests/ecs_fields.json` and every line is checked against it).
pub const ECS_VERSION: &str = "9.4.0";

/// The ECS document of one flow.
pub fn flow_document(rec: &FlowRecord<'_>, j: &JudgedFlow, profile: &Profile) -> Value {
    let f = &j.facts;
    let outcome = match rec.verdict {
        Verdict::Fail => "failure",
        Verdict::Unknown => "unknown",
        Verdict::Pass | Verdict::Skipped => "success",
    };
    let deciding = rec
        .checks
        .iter()
        .into_iter()
        .find(|(_, c)| c.verdict == Verdict::Fail)
        .or_else(|| {
            rec.checks
                .iter()
                .into_iter()
                .find(|(_, c)| c.verdict == Verdict::Unknown)
        });

    let mut event = json!({
        "kind": "event",
        "category": ["network"],
        "type": ["connection", "protocol"],
        "action": "tls-audit",
        "dataset": "tlsaudit.flow",
        "module": "tlsaudit",
        "outcome": outcome,
        "start": rec.first_seen,
        "end": super::model::Rfc3339(f.last_seen),
    });
    let mut rule = json!({ "ruleset": profile.name, "category": "tls-federation" });
    if let Some((name, c)) = deciding {
        event["reason"] = json!(c.reason);
        rule["name"] = json!(name);
        if let Some(remedy) = &c.remedy {
            rule["description"] = json!(remedy);
        }
    }

    let mut tls = Map::new();
    if let Some(v) = f.tls.negotiated_version {
        let (protocol, number) = version_parts(v.0);
        tls.insert("version".into(), json!(number));
        tls.insert("version_protocol".into(), json!(protocol));
    }
    if let Some(s) = &rec.cipher_suite {
        tls.insert("cipher".into(), json!(s.display()));
    }
    tls.insert("established".into(), json!(rec.handshake_complete));
    if let Some(r) = rec.resumed {
        tls.insert("resumed".into(), json!(r));
    }
    let mut client = Map::new();
    if let Some(sni) = rec.sni {
        client.insert("server_name".into(), json!(sni));
    }
    if let Some(ch) = &f.tls.client_hello {
        let offered: Vec<String> = ch
            .cipher_suites
            .iter()
            .map(|&s| suites::display(s))
            .collect();
        client.insert("supported_ciphers".into(), json!(offered));
    }
    if let Some(c) = &rec.client_certificate {
        cert_fields(c, &mut client);
    }
    if !client.is_empty() {
        tls.insert("client".into(), Value::Object(client));
    }
    if let Some(c) = &rec.server_certificate {
        let mut server = Map::new();
        cert_fields(c, &mut server);
        tls.insert("server".into(), Value::Object(server));
    }

    let (source, source_ip) = endpoint(&rec.client);
    let (destination, destination_ip) = endpoint(&rec.server);
    let mut doc = json!({
        "@timestamp": rec.first_seen,
        "ecs": { "version": ECS_VERSION },
        "message": format!(
            "TLS federation flow {} -> {}: {}",
            rec.client,
            rec.server,
            rec.verdict.name()
        ),
        "event": event,
        "rule": rule,
        "source": source,
        "destination": destination,
        "network": {
            "transport": "tcp",
            "protocol": "sip",
        },
        "observer": { "product": "tlsaudit", "vendor": "tlsaudit", "type": "sensor" },
        "tls": Value::Object(tls),
        "tlsaudit": {
            "verdict": rec.verdict,
            "checks": rec.checks,
            "findings": rec.findings,
            "ja4": rec.ja4,
            "input": rec.input,
            "first_frame": rec.first_frame,
            "last_frame": rec.last_frame,
            "empty_fragments": rec.empty_fragments,
            "alerts": rec.alerts,
            "profile": profile.name,
        },
    });
    let ips: Vec<String> = [source_ip, destination_ip].into_iter().flatten().collect();
    if let Some(ip) = ips.first() {
        doc["network"]["type"] = json!(if ip.contains(':') { "ipv6" } else { "ipv4" });
        doc["related"] = json!({ "ip": ips });
    }
    doc
}

/// `source` / `destination`: address and port; `ip` only when it is one
/// (`--redact` shows a token, which is not an IP).
fn endpoint(e: &ShownEndpoint) -> (Value, Option<String>) {
    match e {
        ShownEndpoint::Addr(a) => {
            let ip = a.ip().to_string();
            (
                json!({ "ip": ip, "address": ip, "port": a.port() }),
                Some(ip),
            )
        }
        ShownEndpoint::Token { host, port } => (
            json!({ "address": format!("host-{host}"), "port": port }),
            None,
        ),
    }
}

/// ECS splits the version: `tls`/`ssl` and `1.2`/`3.0`.
fn version_parts(v: u16) -> (&'static str, String) {
    match v {
        0x0002 => ("ssl", "2.0".into()),
        0x0300 => ("ssl", "3.0".into()),
        0x0301..=0x03ff => ("tls", format!("1.{}", (v & 0xff) - 1)),
        other => ("tls", format!("0x{other:04x}")),
    }
}

/// `x509.*` and `hash.sha256` of one side's leaf certificate.
fn cert_fields(c: &CertRecord<'_>, side: &mut Map<String, Value>) {
    let mut x509 = json!({
        "subject": {
            "common_name": c.subject_cn,
            "distinguished_name": c.subject,
        },
        "issuer": { "distinguished_name": c.issuer },
        // ECS lists names; tlsaudit's SANs carry their type ("DNS:…").
        "alternative_names": c
            .san
            .iter()
            .map(|n| n.strip_prefix("DNS:").unwrap_or(n))
            .collect::<Vec<_>>(),
        "signature_algorithm": c.signature_algorithm,
    });
    if let Some(nb) = c.not_before {
        x509["not_before"] = json!(nb);
    }
    if let Some(na) = c.not_after {
        x509["not_after"] = json!(na);
    }
    if let Some(serial) = c.serial {
        x509["serial_number"] = json!(serial);
    }
    // `key` is "RSA 2048", "EC P-256", …
    let mut key = c.key.split_whitespace();
    if let Some(algorithm) = key.next() {
        x509["public_key_algorithm"] = json!(algorithm);
    }
    if let Some(bits) = key.next().and_then(|b| b.parse::<u64>().ok()) {
        x509["public_key_size"] = json!(bits);
    }
    side.insert("x509".into(), x509);
    side.insert("hash".into(), json!({ "sha256": c.sha256 }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_as_ecs_wants() {
        assert_eq!(version_parts(0x0301), ("tls", "1.0".to_string()));
        assert_eq!(version_parts(0x0304), ("tls", "1.3".to_string()));
        assert_eq!(version_parts(0x0300), ("ssl", "3.0".to_string()));
        assert_eq!(version_parts(0x0002), ("ssl", "2.0".to_string()));
    }
}
