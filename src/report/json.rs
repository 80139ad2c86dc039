//! JSON and JSON Lines output: the `tlsaudit.report/1` wire format.
//!
//! ## Wire format
//!
//! `--format json` writes one document as the run goes: its head (`schema`,
//! `tool`, `profile`) before the first flow, each element of `flows` as
//! that flow is judged (in report order), and `inputs`, `warnings` and
//! `summary` when the run ends, so memory never holds every flow. `--format jsonl`
//! writes JSON Lines as the run goes: one event per line in the envelope
//! `{"type": "...", "data": {...}}`, where `data` is exactly the object the
//! document holds in the corresponding place. Event types (this list may
//! grow; consumers must ignore types they do not know):
//!
//! | type | data | when |
//! |---|---|---|
//! | `flow` | one element of `flows[]` | `check` (files and stdin alike): in first-frame order, once it has finished and no flow that started earlier is still open; `live`: as soon as its verdict is settled |
//! | `input` | one element of `inputs[]` | when that input is finished |
//! | `warning` | one element of `warnings[]` | run-level warning (in `live` also a certificate expiring within `warn_expiry_days`, once per certificate and day) |
//! | `change` | a peer change (below); not in the document: the flow's `findings` carry it | before the flow that shows it |
//! | `summary` | `summary` | at the end (and periodically in `live`) |
//!
//! Field names never change meaning within `tlsaudit.report/1`; fields may
//! be added. Addresses are `ip:port`, IPv6 in brackets (`host-N:port` with
//! `--redact`); frame numbers count from 1 per input, as Wireshark shows
//! them; times are RFC 3339 UTC; alert descriptions and cipher suites use
//! IANA names. `--only` filters `flows[]` / `flow` events; `summary` always
//! counts every flow. Object keys appear in the order shown (`inputs` after
//! `flows`: an input's packet counts are known only once it is read).
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
//!               "server_cn": ["imp.example.com"], "client_cn": ["ocs.example.com"], "match": "exact-ci",
//!               "warn_expiry_days": 30},
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
//!                   "message": "…", "frames": [8]}],
//!     "ja4": "t10i020200_da5e85b893fc_5f852cd064d8"
//!   }],
//!   "inputs": [{"index": 0, "path": "fed.pcapng", "format": "pcapng", "link_types": ["ethernet"],
//!               "packets": 42, "bytes": 9120, "warnings": [], "sha256": "9f86d0…", "error": null}],
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
//! `ja4` is the JA4 fingerprint of the flow's ClientHello (null without
//! one). Finding kinds added for operations: `certificate-expires-soon`
//! (leaf or chain within `warn_expiry_days` of the capture time; a warning,
//! the verdict does not change) and `peer-changed`.
//!
//! A `change` event (JSON Lines only), when a peer pair (client IP, server
//! IP, within one input) presents another certificate, version or cipher
//! suite than on its previous connection, or two addresses behind one
//! certificate CN present different certificates:
//!
//! ```text
//! {"type":"change","data":{"client":"10.0.0.2","server":"10.0.0.1","what":"server_certificate",
//!  "role":"server","before":"CN imp.example.com, SHA-256 abababababab…",
//!  "after":"CN imp.example.com, SHA-256 cdcdcdcdcdcd…","previous":{"input":0,"frame":1},
//!  "input":0,"frame":30,"first_seen":"2026-01-01T10:00:00.000000Z","message":"…"}}
//! ```
//!
//! `what` is `server_certificate`, `client_certificate`, `version`,
//! `cipher_suite` or `name_members`.
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

use super::model::{InputRecord, ProfileRecord, SummaryRecord, ToolRecord, WarningRecord, SCHEMA};
use super::RenderError;

/// One JSON Lines event.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a T,
}

/// `{"type": kind, "data": data}` and a newline, into `line` (cleared
/// first), so the caller writes the event in one call.
pub(super) fn event_line<T: Serialize>(
    line: &mut Vec<u8>,
    kind: &str,
    data: &T,
) -> Result<(), RenderError> {
    line.clear();
    serde_json::to_writer(&mut *line, &Envelope { kind, data })?;
    line.push(b'\n');
    Ok(())
}

/// Indentation of one level in the pretty-printed document (serde_json's
/// default).
const INDENT: &[u8] = b"  ";

/// A newline and the indentation of up to 16 levels.
const NEWLINE_INDENTS: &[u8] = b"\n                                ";

/// Append `value`, pretty-printed as it appears `depth` levels deep in the
/// document: serde_json's pretty output with every line after the first
/// indented by `depth` more levels, written in one pass by
/// [`NestedPretty`].
fn push_pretty<T: Serialize>(
    out: &mut Vec<u8>,
    value: &T,
    depth: usize,
) -> Result<(), RenderError> {
    let mut ser = serde_json::Serializer::with_formatter(
        out,
        NestedPretty {
            level: depth,
            has_value: false,
        },
    );
    value.serialize(&mut ser)?;
    Ok(())
}

/// serde_json's `PrettyFormatter` (two-space indent) starting `level`
/// levels deep, so a value nested in the document is written in place
/// instead of pretty-printed apart and re-indented line by line.
struct NestedPretty {
    level: usize,
    has_value: bool,
}

impl NestedPretty {
    /// `[` or `{`: one level deeper, nothing written in it yet.
    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// `]` or `}`: on its own line when the container was not empty.
    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline_indent(w)?;
        }
        w.write_all(bracket)
    }

    /// Before an array value or object key: a comma after the first, then a new line.
    fn next_member<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline_indent(w)
    }

    /// A newline and `level` indents, in one write when the depth fits
    /// [`NEWLINE_INDENTS`] (always, for this report): one write per member
    /// instead of one per level.
    fn newline_indent<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        let width = 1 + INDENT.len() * self.level;
        if let Some(line_start) = NEWLINE_INDENTS.get(..width) {
            return w.write_all(line_start);
        }
        w.write_all(b"\n")?;
        for _ in 0..self.level {
            w.write_all(INDENT)?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for NestedPretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.next_member(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.next_member(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// The `json` document, written as the run goes (see the module docs):
/// nothing of a flow is kept once its element is written.
#[derive(Debug, Default)]
pub(super) struct DocumentWriter {
    /// The head is written and `flows` is open.
    begun: bool,
    /// At least one element of `flows` is written.
    any_flow: bool,
    /// The bytes of one write, reused.
    buf: Vec<u8>,
}

/// `,` (unless first), newline, one indent and `"key": ` of a top-level member
/// (keys are fixed ASCII names: nothing to escape).
fn member(buf: &mut Vec<u8>, key: &str, first: bool) {
    buf.extend_from_slice(if first { b"\n" } else { b",\n" });
    buf.extend_from_slice(INDENT);
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\": ");
}

/// What the document holds after its flows.
pub(super) struct DocumentTail<'a> {
    pub inputs: &'a [InputRecord],
    pub warnings: &'a [WarningRecord],
    pub summary: &'a SummaryRecord,
}

impl DocumentWriter {
    /// `{`, `schema`, `tool`, `profile` and the opening of `flows`, into `buf`.
    fn begin(&mut self, profile: &ProfileRecord) -> Result<(), RenderError> {
        self.buf.push(b'{');
        member(&mut self.buf, "schema", true);
        push_pretty(&mut self.buf, &SCHEMA, 1)?;
        member(&mut self.buf, "tool", false);
        push_pretty(&mut self.buf, &ToolRecord::current(), 1)?;
        member(&mut self.buf, "profile", false);
        push_pretty(&mut self.buf, profile, 1)?;
        member(&mut self.buf, "flows", false);
        self.buf.push(b'[');
        self.begun = true;
        Ok(())
    }

    /// Write one element of `flows[]` (the head first, before the first one).
    pub(super) fn flow<T: Serialize>(
        &mut self,
        out: &mut dyn Write,
        profile: &ProfileRecord,
        flow: &T,
    ) -> Result<(), RenderError> {
        // `flows` is a member of the top-level object: its elements sit two levels deep.
        const DEPTH: usize = 2;
        self.buf.clear();
        if !self.begun {
            self.begin(profile)?;
        }
        self.buf
            .extend_from_slice(if self.any_flow { b",\n" } else { b"\n" });
        self.any_flow = true;
        for _ in 0..DEPTH {
            self.buf.extend_from_slice(INDENT);
        }
        push_pretty(&mut self.buf, flow, DEPTH)?;
        out.write_all(&self.buf)?;
        Ok(())
    }

    /// Close `flows` and write `inputs`, `warnings`, `summary` and the end
    /// of the document (the head too when no flow was written), exactly as
    /// serde_json pretty-prints the object with those members in that
    /// order, and a newline.
    pub(super) fn finish(
        &mut self,
        out: &mut dyn Write,
        profile: &ProfileRecord,
        tail: &DocumentTail<'_>,
    ) -> Result<(), RenderError> {
        self.buf.clear();
        if !self.begun {
            self.begin(profile)?;
        }
        if self.any_flow {
            self.buf.push(b'\n');
            self.buf.extend_from_slice(INDENT);
        }
        self.buf.push(b']');
        member(&mut self.buf, "inputs", false);
        push_pretty(&mut self.buf, &tail.inputs, 1)?;
        member(&mut self.buf, "warnings", false);
        push_pretty(&mut self.buf, &tail.warnings, 1)?;
        member(&mut self.buf, "summary", false);
        push_pretty(&mut self.buf, tail.summary, 1)?;
        self.buf.extend_from_slice(b"\n}\n");
        out.write_all(&self.buf)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::FlowBuilder;
    use crate::checks::judge;
    use crate::profile::Profile;
    use crate::report::model::FlowRecord;
    use crate::report::redact::Redactor;

    /// The document as serde_json pretty-prints it in one piece.
    #[derive(Serialize)]
    struct Whole<'a, F: Serialize> {
        schema: &'static str,
        tool: ToolRecord,
        profile: &'a ProfileRecord,
        flows: &'a [F],
        inputs: &'a [InputRecord],
        warnings: &'a [WarningRecord],
        summary: &'a SummaryRecord,
    }

    fn both(n: usize, redact: bool) -> (String, String) {
        let p = Profile::builtin();
        let mut r = Redactor::new(redact);
        let profile = ProfileRecord::new(&p, &mut r);
        let judged: Vec<_> = (0..n)
            .map(|i| {
                let f = if i % 2 == 0 {
                    FlowBuilder::new().federation_ok().build()
                } else {
                    FlowBuilder::new().hellos_only().build()
                };
                judge(f, &p)
            })
            .collect();
        let records: Vec<FlowRecord<'_>> = judged
            .iter()
            .map(|j| FlowRecord::new(j, &p, &mut r))
            .collect();
        let inputs = vec![InputRecord::new(
            0,
            super::super::InputReport::default(),
            &mut r,
        )];
        let warnings = vec![WarningRecord {
            message: "a \"quoted\"\nwarning".into(),
        }];
        let summary = SummaryRecord::default();
        let mut doc = DocumentWriter::default();
        let mut ours = Vec::new();
        for rec in &records {
            doc.flow(&mut ours, &profile, rec).expect("flow");
        }
        let tail = DocumentTail {
            inputs: &inputs,
            warnings: &warnings,
            summary: &summary,
        };
        doc.finish(&mut ours, &profile, &tail).expect("document");
        let whole = Whole {
            schema: SCHEMA,
            tool: ToolRecord::current(),
            profile: &profile,
            flows: &records,
            inputs: &inputs,
            warnings: &warnings,
            summary: &summary,
        };
        let mut theirs = serde_json::to_string_pretty(&whole).expect("serde");
        theirs.push('\n');
        (String::from_utf8(ours).expect("utf-8"), theirs)
    }

    #[test]
    fn document_written_in_pieces_equals_serde_pretty_document() {
        for n in [0, 1, 3] {
            for redact in [false, true] {
                let (ours, theirs) = both(n, redact);
                assert_eq!(ours, theirs, "{n} flows, redact {redact}");
            }
        }
    }
}
