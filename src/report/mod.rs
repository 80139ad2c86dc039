//! Report: renders judged flows as a table, JSON, JSON Lines, Markdown or
//! HTML (spec §4, §8).
//!
//! Owns: [`Reporter`] (receives flows, inputs and warnings from the engine
//! and writes the chosen [`Format`]), the data model every format renders
//! (`model.rs`, the `tlsaudit.report/1` field names), redaction
//! (`redact.rs`), and the renderers (`json.rs` — whose `//!` documents the
//! wire format —, `table.rs`, `markdown.rs`, `html.rs`), and the handshake
//! ladder (`ladder.rs`) drawn as Mermaid in Markdown (`mermaid.rs`) and as
//! inline SVG in HTML (`svg.rs`).
//!
//! Invariants:
//! - Each flow is turned into its record once, with redaction applied there
//!   (`model.rs`); every format renders that record, so they cannot
//!   disagree. JSON renders a flow as it arrives and writes it (`json` too:
//!   the document is written piece by piece), so no flow is kept.
//! - The summary counts every flow; `--only` only filters what is listed.
//! - Output is deterministic: records keep the order the engine gives them,
//!   and no hash-map iteration reaches the output.
//! - `jsonl` writes each event as it arrives (one `write` per line, then
//!   flush), so `live` output can be followed with `tail -f | jq`.
//!
//! ```
//! use tlsaudit::checks::{fixture::FlowBuilder, judge};
//! use tlsaudit::profile::Profile;
//! use tlsaudit::report::{Format, Only, ReportOptions, Reporter};
//! let profile = Profile::builtin();
//! let opts = ReportOptions { format: Format::Jsonl, only: Only::All, redact: false,
//!                            color: false, streaming: false };
//! let mut r = Reporter::new(opts, &profile, Box::new(std::io::sink()));
//! r.flow(judge(FlowBuilder::new().federation_ok().build(), &profile)).unwrap();
//! let totals = r.finish().unwrap();
//! assert_eq!((totals.flows, totals.pass), (1, 1));
//! ```

mod ecs;
mod html;
mod json;
pub mod ladder;
mod markdown;
mod mermaid;
pub mod metrics;
pub mod model;
pub mod redact;
mod svg;
mod table;

use std::io::Write;

use crate::checks::{JudgedFlow, Verdict};
use crate::profile::Profile;

use crate::checks::peers::PeerTracker;
use crate::checks::Checks;
use crate::checks::FindingKind;
use model::{
    ChangeRecord, FlowRecord, InputRecord, ListedFlow, PeerRecord, ProfileRecord, SummaryRecord,
    WarningRecord,
};
use redact::Redactor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Markdown,
    /// One Elastic Common Schema JSON line per flow (`ecs.rs`).
    Ecs,
    /// One self-contained HTML file (no external resources) with an inline
    /// SVG ladder per flow.
    Html,
}

/// Which listed flows get a handshake ladder (`--diagram`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagrams {
    /// Flows that fail or are unknown (the Markdown default).
    Failing,
    /// Every listed flow (the HTML default).
    All,
    None,
}

impl Diagrams {
    /// What a format draws when `--diagram` is not given.
    pub fn default_for(format: Format) -> Diagrams {
        match format {
            Format::Html => Diagrams::All,
            _ => Diagrams::Failing,
        }
    }

    /// Whether a flow with `verdict` gets a ladder.
    pub fn draws(self, verdict: Verdict) -> bool {
        match self {
            Diagrams::All => true,
            Diagrams::Failing => matches!(verdict, Verdict::Fail | Verdict::Unknown),
            Diagrams::None => false,
        }
    }
}

/// Which flows to list (`--only`); the summary always counts all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// Failing flows.
    Fail,
    /// Flows that did not pass: failing and unknown.
    Unknown,
    /// Every flow.
    All,
}

impl Only {
    /// Whether a flow with `verdict` is listed.
    pub fn lists(self, verdict: Verdict) -> bool {
        match self {
            Only::All => true,
            Only::Fail => verdict == Verdict::Fail,
            Only::Unknown => matches!(verdict, Verdict::Fail | Verdict::Unknown),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub format: Format,
    pub only: Only,
    pub redact: bool,
    /// ANSI colour (table on a tty, NO_COLOR unset).
    pub color: bool,
    /// Live mode: table prints one line per flow as judged instead of one table at the end.
    pub streaming: bool,
}

/// One input as it appears in `inputs[]`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InputReport {
    pub path: String,
    pub format: String,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    pub warnings: Vec<String>,
    /// SHA-256 of the input file (markdown report); None for stdin/live.
    pub sha256: Option<String>,
    /// Set when the input could not be read at all.
    pub error: Option<String>,
}

/// Counts at the end of a run (drives the exit code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub flows: u64,
    pub pass: u64,
    pub fail: u64,
    pub unknown: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    #[error("serialising the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Peer changes kept for the table and Markdown reports; past it they are
/// counted ("and N more"): a flapping peer must not grow the report without
/// bound (jsonl writes every one).
const MAX_LISTED_CHANGES: usize = 200;

/// Expiry warnings remembered in `live` so each is said once a day, not per
/// flow; cleared when full (a reminder again is better than unbounded memory).
const MAX_WARNED_EXPIRIES: usize = 4096;

/// Flow numbers listed per remedy before eliding the rest ("and N more").
const MAX_REMEDY_REFS: usize = 20;

/// Remedies for the failures found, in order of first appearance, with the
/// numbers of the flows they apply to.
#[derive(Debug, Default)]
pub(crate) struct Remedies {
    items: Vec<RemedyItem>,
}

#[derive(Debug)]
pub(crate) struct RemedyItem {
    pub text: String,
    pub flows: Vec<u64>,
    pub more: u64,
}

impl Remedies {
    fn add(&mut self, no: u64, checks: &Checks) {
        for (_, c) in checks.iter() {
            if c.verdict != Verdict::Fail {
                continue;
            }
            let Some(text) = &c.remedy else { continue };
            let item = match self.items.iter_mut().position(|i| &i.text == text) {
                Some(i) => &mut self.items[i],
                None => {
                    self.items.push(RemedyItem {
                        text: text.clone(),
                        flows: Vec::new(),
                        more: 0,
                    });
                    let last = self.items.len() - 1;
                    &mut self.items[last]
                }
            };
            if item.flows.last() == Some(&no) {
                continue;
            }
            if item.flows.len() < MAX_REMEDY_REFS {
                item.flows.push(no);
            } else {
                item.more += 1;
            }
        }
    }

    pub(crate) fn items(&self) -> &[RemedyItem] {
        &self.items
    }
}

/// A listed flow with its number (`#`: position among all flows of the run, from 1).
#[derive(Debug)]
pub(crate) struct Listed {
    pub no: u64,
    pub rec: ListedFlow,
}

/// Everything a finished report needs (shared by the table and markdown renderers).
pub(crate) struct RunView<'a> {
    pub profile: &'a ProfileRecord,
    pub inputs: &'a [InputRecord],
    pub flows: &'a [Listed],
    pub warnings: &'a [WarningRecord],
    pub summary: &'a SummaryRecord,
    pub remedies: &'a Remedies,
    /// Per-peer section: the pairs seen more than once or with a change
    /// (consistency needs something to compare), and the changes.
    pub peers: &'a [PeerRecord],
    pub changes: &'a [ChangeRecord],
    pub changes_not_listed: u64,
    pub only: Only,
    pub color: bool,
}

/// Receives judged flows as the engine produces them and writes the report.
pub struct Reporter {
    opts: ReportOptions,
    out: Box<dyn Write + Send>,
    redactor: Redactor,
    profile: Profile,
    profile_record: ProfileRecord,
    inputs: Vec<InputRecord>,
    /// Table and Markdown: the listed flows, kept for the end of the run.
    listed: Vec<Listed>,
    /// `json`: the document, written as flows arrive.
    json_doc: json::DocumentWriter,
    /// `jsonl`: the event being written, reused.
    line: Vec<u8>,
    warnings: Vec<WarningRecord>,
    summary: SummaryRecord,
    remedies: Remedies,
    /// Markdown and HTML: which flows get a ladder.
    diagrams: Diagrams,
    peers: PeerTracker,
    /// Table and Markdown: the peer changes, for the per-peer section.
    changes: Vec<ChangeRecord>,
    changes_not_listed: u64,
    /// `live`: expiry warnings already written.
    warned_expiries: std::collections::HashSet<String>,
    /// `live --metrics`: counted per flow.
    metrics: Option<std::sync::Arc<metrics::Metrics>>,
}

impl Reporter {
    pub fn new(opts: ReportOptions, profile: &Profile, out: Box<dyn Write + Send>) -> Self {
        let mut redactor = Redactor::new(opts.redact);
        let profile_record = ProfileRecord::new(profile, &mut redactor);
        Reporter {
            diagrams: Diagrams::default_for(opts.format),
            opts,
            out,
            redactor,
            profile: profile.clone(),
            profile_record,
            inputs: Vec::new(),
            listed: Vec::new(),
            json_doc: json::DocumentWriter::default(),
            line: Vec::new(),
            warnings: Vec::new(),
            summary: SummaryRecord::default(),
            remedies: Remedies::default(),
            peers: PeerTracker::default(),
            changes: Vec::new(),
            changes_not_listed: 0,
            warned_expiries: std::collections::HashSet::new(),
            metrics: None,
        }
    }

    /// Which flows get a handshake ladder (Markdown, HTML); without this,
    /// the format's default ([`Diagrams::default_for`]).
    pub fn with_diagrams(mut self, diagrams: Diagrams) -> Self {
        self.diagrams = diagrams;
        self
    }

    /// Count every flow (and its findings) in `metrics` as well.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Compare the flow with its peer's earlier flows: each change becomes
    /// a finding of the flow and a `change` event (jsonl) or a line of the
    /// per-peer section (table, Markdown). In `live`, certificates expiring
    /// soon also become `warning` events, once per certificate and day.
    fn peer_events(&mut self, flow: &mut JudgedFlow) -> Result<(), RenderError> {
        for c in self.peers.observe(flow) {
            flow.findings.push(c.finding());
            let rec = ChangeRecord::new(&c, &mut self.redactor);
            match self.opts.format {
                Format::Jsonl => {
                    json::event_line(&mut self.line, "change", &rec)?;
                    self.write_line()?;
                }
                Format::Table if self.opts.streaming => {
                    writeln!(
                        self.out,
                        "change: {} → {}: {}",
                        rec.client, rec.server, rec.message
                    )?;
                    self.out.flush()?;
                }
                _ => {}
            }
            if self.changes.len() < MAX_LISTED_CHANGES {
                self.changes.push(rec);
            } else {
                self.changes_not_listed += 1;
            }
        }
        if self.opts.streaming {
            for x in &flow.findings {
                if x.kind != FindingKind::CertificateExpiresSoon {
                    continue;
                }
                let text = format!(
                    "peer {} → {}: {}",
                    flow.facts.client.ip(),
                    flow.facts.server,
                    x.message
                );
                if self.warned_expiries.contains(&text) {
                    continue;
                }
                if self.warned_expiries.len() >= MAX_WARNED_EXPIRIES {
                    self.warned_expiries.clear();
                }
                self.warned_expiries.insert(text.clone());
                self.warning(&text)?;
            }
        }
        Ok(())
    }

    /// A judged flow (in first-frame order for files and stdin; as judged
    /// for live).
    pub fn flow(&mut self, mut flow: JudgedFlow) -> Result<(), RenderError> {
        self.peer_events(&mut flow)?;
        if let Some(m) = &self.metrics {
            m.flow(&flow);
        }
        let s = &mut self.summary;
        s.flows += 1;
        match flow.verdict {
            Verdict::Fail => s.fail += 1,
            Verdict::Unknown => s.unknown += 1,
            Verdict::Pass | Verdict::Skipped => s.pass += 1,
        }
        s.by_check.add(&flow.checks);
        let no = s.flows;
        if !self.opts.only.lists(flow.verdict) {
            return Ok(());
        }
        match self.opts.format {
            Format::Jsonl => {
                let rec = FlowRecord::new(&flow, &self.profile, &mut self.redactor);
                json::event_line(&mut self.line, "flow", &rec)?;
                self.write_line()?;
            }
            Format::Json => {
                let rec = FlowRecord::new(&flow, &self.profile, &mut self.redactor);
                self.json_doc
                    .flow(&mut *self.out, &self.profile_record, &rec)?;
            }
            Format::Ecs => {
                let rec = FlowRecord::new(&flow, &self.profile, &mut self.redactor);
                let doc = ecs::flow_document(&rec, &flow, &self.profile);
                self.line.clear();
                serde_json::to_writer(&mut self.line, &doc)?;
                self.line.push(b'\n');
                self.write_line()?;
            }
            Format::Table | Format::Markdown | Format::Html => {
                let draws = self.opts.format != Format::Table && self.diagrams.draws(flow.verdict);
                let rec = if draws {
                    ListedFlow::with_ladder(flow, &mut self.redactor)
                } else {
                    ListedFlow::new(flow, &mut self.redactor)
                };
                self.remedies.add(no, &rec.checks);
                if self.opts.streaming && self.opts.format == Format::Table {
                    table::write_flow_line(&mut *self.out, no, &rec, self.opts.color)?;
                    self.out.flush()?;
                } else {
                    self.listed.push(Listed { no, rec });
                }
            }
        }
        Ok(())
    }

    /// A flow reported before and still open (live), with its facts so far:
    /// a `flow_update` event in jsonl, a line in a streaming table; not
    /// counted again in the summary.
    pub fn flow_update(&mut self, flow: JudgedFlow) -> Result<(), RenderError> {
        if !self.opts.only.lists(flow.verdict) {
            return Ok(());
        }
        match self.opts.format {
            Format::Jsonl => {
                let rec = FlowRecord::new(&flow, &self.profile, &mut self.redactor);
                json::event_line(&mut self.line, "flow_update", &rec)?;
                self.write_line()?;
            }
            Format::Table if self.opts.streaming => {
                let rec = ListedFlow::new(flow, &mut self.redactor);
                write!(self.out, "update: ")?;
                table::write_flow_line(&mut *self.out, 0, &rec, self.opts.color)?;
                self.out.flush()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Continue the report in `out` (live: the report file re-opened on
    /// SIGHUP); what was written so far is flushed to the old one.
    pub fn replace_output(&mut self, out: Box<dyn Write + Send>) -> Result<(), RenderError> {
        self.out.flush()?;
        self.out = out;
        Ok(())
    }

    /// Write the event in `self.line` in one call and flush it (`jsonl`
    /// can be followed live).
    fn write_line(&mut self) -> Result<(), RenderError> {
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        Ok(())
    }

    /// A run-level warning (not tied to one input), e.g. "no flow on port 5062".
    pub fn warning(&mut self, message: &str) -> Result<(), RenderError> {
        let w = WarningRecord {
            message: self.redactor.text(message),
        };
        match self.opts.format {
            Format::Jsonl => {
                json::event_line(&mut self.line, "warning", &w)?;
                self.write_line()?;
            }
            Format::Table if self.opts.streaming => {
                writeln!(self.out, "warning: {}", w.message)?;
                self.out.flush()?;
            }
            _ => {}
        }
        self.warnings.push(w);
        Ok(())
    }

    /// An input finished (or failed); called in input order.
    pub fn input(&mut self, input: InputReport) -> Result<(), RenderError> {
        let rec = InputRecord::new(self.inputs.len(), input, &mut self.redactor);
        if self.opts.format == Format::Jsonl {
            json::event_line(&mut self.line, "input", &rec)?;
            self.write_line()?;
        }
        self.inputs.push(rec);
        Ok(())
    }

    /// Periodic summary (live mode): a `summary` event in jsonl, a line in a
    /// streaming table; nothing for whole-document formats.
    pub fn progress_summary(&mut self) -> Result<(), RenderError> {
        match self.opts.format {
            Format::Jsonl => {
                json::event_line(&mut self.line, "summary", &self.summary)?;
                self.write_line()
            }
            Format::Table if self.opts.streaming => {
                table::write_summary_line(&mut *self.out, &self.summary, self.opts.color)?;
                self.out.flush()?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Counts so far.
    pub fn totals(&self) -> Totals {
        Totals {
            flows: self.summary.flows,
            pass: self.summary.pass,
            fail: self.summary.fail,
            unknown: self.summary.unknown,
        }
    }

    /// End of run: write whatever is pending (json document, table, summary).
    pub fn finish(mut self) -> Result<Totals, RenderError> {
        let totals = self.totals();
        match self.opts.format {
            // Flows only: each line was written as its flow was judged.
            Format::Ecs => {}
            Format::Jsonl => {
                json::event_line(&mut self.line, "summary", &self.summary)?;
                self.out.write_all(&self.line)?;
            }
            Format::Json => {
                let tail = json::DocumentTail {
                    inputs: &self.inputs,
                    warnings: &self.warnings,
                    summary: &self.summary,
                };
                self.json_doc
                    .finish(&mut *self.out, &self.profile_record, &tail)?;
            }
            Format::Table | Format::Markdown | Format::Html => {
                // A pair seen once has nothing to be consistent with.
                let peers: Vec<PeerRecord> = self
                    .peers
                    .summary()
                    .into_iter()
                    .filter(|p| p.flows >= 2 || p.changes > 0)
                    .map(|p| p.with_addresses(|a| self.redactor.text(&a.to_string())))
                    .collect();
                let view = RunView {
                    peers: &peers,
                    changes: &self.changes,
                    changes_not_listed: self.changes_not_listed,
                    profile: &self.profile_record,
                    inputs: &self.inputs,
                    flows: &self.listed,
                    warnings: &self.warnings,
                    summary: &self.summary,
                    remedies: &self.remedies,
                    only: self.opts.only,
                    color: self.opts.color,
                };
                if self.opts.format == Format::Markdown {
                    markdown::write(&mut *self.out, &view)?;
                } else if self.opts.format == Format::Html {
                    html::write(&mut *self.out, &view)?;
                } else if self.opts.streaming {
                    table::write_streaming_end(&mut *self.out, &view)?;
                } else {
                    table::write(&mut *self.out, &view)?;
                }
            }
        }
        self.out.flush()?;
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::FlowBuilder;
    use crate::checks::judge;
    use std::sync::{Arc, Mutex};

    /// A `Write` the test can read back after the reporter is done.
    #[derive(Clone, Default)]
    pub(crate) struct Shared(pub Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Shared {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().map(|v| v.clone()).unwrap_or_default())
                .unwrap_or_default()
        }
    }

    pub(crate) fn render(
        format: Format,
        only: Only,
        redact: bool,
        flows: Vec<crate::facts::FlowFacts>,
        p: &Profile,
    ) -> (String, Totals) {
        let buf = Shared::default();
        let opts = ReportOptions {
            format,
            only,
            redact,
            color: false,
            streaming: false,
        };
        let mut r = Reporter::new(opts, p, Box::new(buf.clone()));
        for f in flows {
            r.flow(judge(f, p)).expect("flow");
        }
        r.input(InputReport {
            path: "fed.pcapng".into(),
            format: "pcapng".into(),
            link_types: vec!["ethernet".into()],
            packets: 20,
            bytes: 4000,
            sha256: Some("00".repeat(32)),
            ..InputReport::default()
        })
        .expect("input");
        let totals = r.finish().expect("finish");
        (buf.text(), totals)
    }

    fn failing() -> crate::facts::FlowFacts {
        FlowBuilder::new()
            .client_hello(4, crate::tls::model::TlsVersion::TLS12, &[0x009c])
            .alert(crate::facts::Role::Server, 5, 2, 40)
            .build()
    }

    #[test]
    fn json_document_writes_each_flow_as_it_arrives_and_the_inputs_after_the_flows() {
        let p = Profile::builtin();
        let buf = Shared::default();
        let opts = ReportOptions {
            format: Format::Json,
            only: Only::All,
            redact: false,
            color: false,
            streaming: false,
        };
        let mut r = Reporter::new(opts, &p, Box::new(buf.clone()));
        r.flow(judge(FlowBuilder::new().federation_ok().build(), &p))
            .expect("flow");
        let after_one = buf.text();
        assert!(
            after_one.starts_with("{\n  \"schema\"") && after_one.contains("\"flows\": [\n    {"),
            "head and the first flow are written before the run ends: {after_one}"
        );
        r.flow(judge(failing(), &p)).expect("flow");
        assert!(
            buf.text().len() > after_one.len(),
            "second flow written too"
        );
        r.input(InputReport {
            path: "fed.pcapng".into(),
            ..InputReport::default()
        })
        .expect("input");
        r.finish().expect("finish");
        let doc: serde_json::Value = serde_json::from_str(&buf.text()).expect("one JSON document");
        assert_eq!(doc["flows"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["inputs"][0]["path"], "fed.pcapng");
        assert_eq!(doc["summary"]["flows"], 2);
    }

    #[test]
    fn only_filters_listed_flows_but_summary_counts_all() {
        let p = Profile::builtin();
        let flows = vec![
            FlowBuilder::new().federation_ok().build(),
            failing(),
            FlowBuilder::new().hellos_only().build(),
        ];
        let (out, totals) = render(Format::Jsonl, Only::Fail, false, flows.clone(), &p);
        assert_eq!(
            totals,
            Totals {
                flows: 3,
                pass: 1,
                fail: 1,
                unknown: 1
            }
        );
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with(r#"{"type":"flow""#))
                .count(),
            1
        );
        let (out, _) = render(Format::Jsonl, Only::Unknown, false, flows.clone(), &p);
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with(r#"{"type":"flow""#))
                .count(),
            2
        );
        let (out, _) = render(Format::Jsonl, Only::All, false, flows, &p);
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with(r#"{"type":"flow""#))
                .count(),
            3
        );
        assert!(
            out.lines().last().is_some_and(|l| l.starts_with(
                r#"{"type":"summary","data":{"flows":3,"pass":1,"fail":1,"unknown":1"#
            )),
            "{out}"
        );
    }

    #[test]
    fn same_flows_render_the_same_bytes() {
        let p = Profile::builtin();
        let flows = vec![FlowBuilder::new().federation_ok().build(), failing()];
        for format in [
            Format::Json,
            Format::Jsonl,
            Format::Table,
            Format::Markdown,
            Format::Html,
        ] {
            let a = render(format, Only::All, true, flows.clone(), &p).0;
            let b = render(format, Only::All, true, flows.clone(), &p).0;
            assert_eq!(a, b, "{format:?}");
        }
    }

    /// Two connections of one peer: the second presents another server
    /// certificate, which expires 10 days after the capture.
    fn renewed_pair() -> Vec<crate::facts::FlowFacts> {
        let mut renewed = crate::checks::fixture::cert(&["imp.example.com"]);
        renewed.sha256 = "cd".repeat(32);
        renewed.serial = "77".into();
        renewed.not_after = Some(crate::checks::fixture::CAPTURE_TIME + 10 * 86_400);
        vec![
            FlowBuilder::new().federation_ok().build(),
            FlowBuilder::new()
                .federation_ok()
                .first_frame(30)
                .server_chain(36, vec![renewed])
                .build(),
        ]
    }

    #[test]
    fn check_reports_expiry_and_peer_change_in_every_format() {
        let p = Profile::builtin();
        let (out, totals) = render(Format::Jsonl, Only::All, false, renewed_pair(), &p);
        assert_eq!(totals.pass, 2, "warnings do not fail a flow");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        let types: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
        assert_eq!(types, ["flow", "change", "flow", "input", "summary"]);
        assert_eq!(lines[1]["data"]["what"], "server_certificate");
        assert_eq!(lines[1]["data"]["server"], "10.0.0.1");
        let kinds: Vec<&str> = lines[2]["data"]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["certificate-expires-soon", "peer-changed"]);

        let (table, _) = render(Format::Table, Only::All, false, renewed_pair(), &p);
        assert!(
            table.contains("#2 10.0.0.2:49152 → 10.0.0.1:5062 (input 0, frame 30): pass"),
            "{table}"
        );
        assert!(table.contains("  • the server certificate (CN imp.example.com) expires on 2026-01-11, 10 day(s) after the capture"), "{table}");
        assert!(table.contains("\nPeers:\n  10.0.0.2 → 10.0.0.1 (input 0): 2 flow(s), 1 change(s); server CN imp.example.com"), "{table}");
        assert!(table.contains("  change at frame 30 (input 0): 10.0.0.2 → 10.0.0.1: the server certificate of this peer changed (fingerprint, serial)"), "{table}");

        let (md, _) = render(Format::Markdown, Only::All, true, renewed_pair(), &p);
        assert!(md.contains("## Flows that pass with warnings"), "{md}");
        assert!(md.contains("## Peers"), "{md}");
        assert!(
            md.contains("| 0 | host-1 | host-2 | imp.example.com |"),
            "{md}"
        );
        assert!(!md.contains("0a1b2c3d"), "serials redacted: {md}");
        assert!(!md.contains("10.0.0."), "redacted: {md}");
    }

    #[test]
    fn live_warns_once_per_expiring_certificate() {
        let p = Profile::builtin();
        let buf = Shared::default();
        let opts = ReportOptions {
            format: Format::Jsonl,
            only: Only::All,
            redact: false,
            color: false,
            streaming: true,
        };
        let mut r = Reporter::new(opts, &p, Box::new(buf.clone()));
        let flows = renewed_pair();
        for f in [flows[1].clone(), flows[1].clone()] {
            r.flow(judge(f, &p)).expect("flow");
        }
        r.finish().expect("finish");
        let warnings: Vec<String> = buf
            .text()
            .lines()
            .filter(|l| l.starts_with(r#"{"type":"warning""#))
            .map(str::to_string)
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("peer 10.0.0.2 → 10.0.0.1:5062: the server certificate (CN imp.example.com) expires on 2026-01-11"), "{}", warnings[0]);
    }

    #[test]
    fn remedies_are_deduplicated_with_flow_numbers() {
        let mut rem = Remedies::default();
        let p = Profile::builtin();
        let mut r = Redactor::new(false);
        let rec = ListedFlow::new(judge(failing(), &p), &mut r);
        rem.add(2, &rec.checks);
        rem.add(5, &rec.checks);
        let items = rem.items();
        assert!(!items.is_empty());
        assert!(items.iter().all(|i| i.flows == vec![2, 5]));
    }
}
