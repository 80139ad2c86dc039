//! JSON and JSON Lines output: the `tlsaudit.report/1` wire format.
//!
//! ## Wire format
//!
//! `--format json` writes one document when the run ends. `--format jsonl`
//! writes JSON Lines as the run goes: one event per line in the envelope
//! `{"type": "...", "data": {...}}`, where `data` is exactly the object the
//! document holds in the corresponding place. Event types (this list may
//! grow; consumers must ignore types they do not know):
//!
//! | type | data | when |
//! |---|---|---|
//! | `flow` | one element of `flows[]` | as soon as the flow is judged |
//! | `input` | one element of `inputs[]` | when that input is finished |
//! | `warning` | one element of `warnings[]` | run-level warning |
//! | `summary` | `summary` | at the end (and periodically in `live`) |
//!
//! Field names never change meaning within `tlsaudit.report/1`; fields may
//! be added. Addresses are `ip:port`, IPv6 in brackets (`host-N:port` with
//! `--redact`); frame numbers count from 1 per input, as Wireshark shows
//! them; times are RFC 3339 UTC; alert descriptions and cipher suites use
//! IANA names. `--only` filters `flows[]` / `flow` events; `summary` always
//! counts every flow. Object keys appear in the order shown.
//!
//! A full document (one failing flow, abridged only where marked `…`):
//!
//! ```json
//! {
//!   "schema": "tlsaudit.report/1",
//!   "tool": {"name": "tlsaudit", "version": "0.1.0"},
//!   "profile": {"name": "Cisco IM&P 9.x <-> Microsoft OCS/Lync federation (TLS, port 5062)",
//!               "origin": "built-in", "ports": [5062], "versions": ["TLSv1.0"],
//!               "cipher_suites": [{"id": "0x000a", "name": "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}],
//!               "empty_fragments": "forbidden", "client_certificate": "required",
//!               "server_cn": ["imp.example.com"], "client_cn": ["ocs.example.com"], "match": "exact-ci"},
//!   "inputs": [{"index": 0, "path": "fed.pcapng", "format": "pcapng", "link_types": ["ethernet"],
//!               "packets": 42, "bytes": 9120, "warnings": [], "sha256": "9f86d0…", "error": null}],
//!   "flows": [{
//!     "input": 0, "client": "10.0.0.2:49152", "server": "10.0.0.1:5062",
//!     "first_frame": 1, "first_seen": "2026-01-01T10:00:00.000000Z", "last_frame": 11,
//!     "version": "TLSv1.0",
//!     "cipher_suite": {"id": "0x000a", "name": "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
//!     "resumed": false, "handshake_complete": true, "sni": null,
//!     "server_certificate": {"subject_cn": ["imp.example.com"], "subject": "CN=imp.example.com, O=Example",
//!        "issuer": "CN=Example Issuing CA, O=Example", "san": ["DNS:imp.example.com"],
//!        "not_before": "2025-07-05T10:00:00.000000Z", "not_after": "2026-07-05T10:00:00.000000Z",
//!        "eku": ["serverAuth", "clientAuth"], "key": "RSA 2048",
//!        "signature_algorithm": "sha256WithRSAEncryption", "serial": "0a1b2c3d",
//!        "sha256": "abab…", "frame": 6, "expired": false, "chain_length": 1,
//!        "from_flow": null, "parse_error": null},
//!     "client_certificate": {"subject_cn": ["ocs.example.com"], "…": "same fields"},
//!     "empty_fragments": {"client": 0, "server": 5, "evidence": "wire",
//!        "client_detail": {"rung": "clean", "lone_minimal": 0},
//!        "server_detail": {"rung": "same-segment", "records": 5}},
//!     "alerts": [{"from": "server", "level": "warning", "description": "close_notify",
//!                 "encrypted": false, "frame": 20}],
//!     "tcp": {"gaps": 0, "retransmissions": 0, "midstream": false, "overlaps": 0,
//!             "out_of_order": 0, "overflows": 0,
//!             "closes": [{"from": "server", "kind": "fin", "frame": 21}], "evicted": null},
//!     "checks": {
//!       "handshake": {"verdict": "pass", "expected": ["complete"], "observed": "complete",
//!                     "frames": [8, 9], "reason": "The handshake completed (both Finished messages seen).",
//!                     "remedy": null},
//!       "version": {"verdict": "pass", "expected": ["TLSv1.0"], "observed": "TLSv1.0", "frames": [5],
//!                   "reason": "The ServerHello selects TLSv1.0, which the profile allows.", "remedy": null},
//!       "cipher_suite": {"verdict": "pass", "…": "…"},
//!       "empty_fragments": {"verdict": "fail", "expected": ["forbidden"], "observed": "client 0, server 5",
//!                           "frames": [11], "reason": "The server sent 5 minimal-size (24-byte) record(s) …",
//!                           "remedy": "On IM&P: TLS Context Configuration → … (guide: …, Step 6)"},
//!       "server_cn": {"verdict": "pass", "…": "…"},
//!       "client_cn": {"verdict": "pass", "…": "…"}
//!     },
//!     "verdict": "fail",
//!     "server_determined_by": "syn", "resumption": null, "renegotiation": false,
//!     "client_offer": {"frame": 4, "version": "TLSv1.0", "supported_versions": [],
//!                      "cipher_suites": 2, "offers_required_suite": true},
//!     "not_tls": null,
//!     "findings": [{"kind": "client-certificate-without-client-auth", "role": "client",
//!                   "message": "…", "frames": [8]}]
//!   }],
//!   "warnings": [{"message": "…"}],
//!   "summary": {"flows": 1, "pass": 0, "fail": 1, "unknown": 0,
//!               "by_check": {"handshake": {"pass": 1, "fail": 0, "unknown": 0, "skipped": 0},
//!                            "version": {"…": 0}, "cipher_suite": {"…": 0},
//!                            "empty_fragments": {"pass": 0, "fail": 1, "unknown": 0, "skipped": 0},
//!                            "server_cn": {"…": 0}, "client_cn": {"…": 0}}}
//! }
//! ```
//!
//! The same run as JSON Lines:
//!
//! ```text
//! {"type":"flow","data":{"input":0,"client":"10.0.0.2:49152",…,"verdict":"fail",…}}
//! {"type":"input","data":{"index":0,"path":"fed.pcapng",…}}
//! {"type":"summary","data":{"flows":1,"pass":0,"fail":1,"unknown":0,"by_check":{…}}}
//! ```
//!
//! Check objects always carry `verdict` (`pass`/`fail`/`unknown`/`skipped`),
//! `expected` (list, empty when the profile asks nothing), `observed` (string
//! or null), `frames`, `reason` (one sentence) and `remedy` (string for
//! `fail`, else null).
//!
//! With keys (`--keylog`, `--rsa-key`) each flow also carries `decryption`:
//! how the flow was decrypted or why not (`"decrypted (key log)"`,
//! `"decrypted (RSA key)"`, `"no key for this client random"`,
//! `"wrong key: MAC failure on Finished from the client (frame 8)"`,
//! `"partly decrypted (key log): … (frame N)"`, `"not decryptable: …"`);
//! the field is absent when no keys were given. An encrypted alert read with
//! the keys keeps `"encrypted": true`, gains `"decrypted": true` and has its
//! `level` and `description`; `decrypted` is absent otherwise.

use std::io::Write;

use serde::Serialize;

use super::RenderError;

/// One JSON Lines event.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a T,
}

/// Write `{"type": kind, "data": data}` and a newline.
pub(super) fn write_event<T: Serialize>(
    out: &mut dyn Write,
    kind: &str,
    data: &T,
) -> Result<(), RenderError> {
    serde_json::to_writer(&mut *out, &Envelope { kind, data })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Write the whole document, pretty-printed, and a newline.
pub(super) fn write_document<T: Serialize>(
    out: &mut dyn Write,
    doc: &T,
) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    out.write_all(b"\n")?;
    Ok(())
}
