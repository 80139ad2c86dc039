//! Report: renders judged flows as table, JSON, JSON Lines or Markdown.
//! (Owned by the audit work: issue 5.)

use std::io::Write;

use crate::checks::{JudgedFlow, Verdict};
use crate::profile::Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Fail,
    Unknown,
    All,
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
#[derive(Debug, Clone, Default)]
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

/// Receives judged flows as the engine produces them and writes the report.
pub struct Reporter {
    opts: ReportOptions,
    out: Box<dyn Write + Send>,
    totals: Totals,
}

impl Reporter {
    pub fn new(opts: ReportOptions, _profile: &Profile, out: Box<dyn Write + Send>) -> Self {
        Reporter {
            opts,
            out,
            totals: Totals::default(),
        }
    }

    /// A judged flow (in final report order for files; as judged for live/stdin).
    pub fn flow(&mut self, flow: JudgedFlow) -> Result<(), RenderError> {
        self.totals.flows += 1;
        match flow.verdict {
            Verdict::Fail => self.totals.fail += 1,
            Verdict::Unknown => self.totals.unknown += 1,
            _ => self.totals.pass += 1,
        }
        let _ = self.opts.format;
        Ok(())
    }

    /// A run-level warning (not tied to one input), e.g. "no flow on port 5062".
    pub fn warning(&mut self, _message: &str) -> Result<(), RenderError> {
        Ok(())
    }

    /// An input finished (or failed); called in input order.
    pub fn input(&mut self, _input: InputReport) -> Result<(), RenderError> {
        Ok(())
    }

    /// Periodic summary (live mode).
    pub fn progress_summary(&mut self) -> Result<(), RenderError> {
        Ok(())
    }

    /// End of run: write whatever is pending (json document, table, summary).
    pub fn finish(mut self) -> Result<Totals, RenderError> {
        self.out.flush()?;
        Ok(self.totals)
    }
}
