//! `table`: one row per flow (client, server, handshake, version, cipher,
//! server CN, client CN, empty fragments, verdict), failing cells marked `✗`
//! and unknown ones `?`, then what went wrong per flow, the summary, and the
//! remedies for the failures found. Colour only when `color` is set (the CLI
//! decides: a terminal and `NO_COLOR` unset). Live mode prints one line per
//! flow instead ([`write_flow_line`]).

use std::io::Write;

use comfy_table::{presets, Cell, CellAlignment, Color, ContentArrangement, Table};

use crate::checks::{CheckResult, CountBasis, Verdict};

use super::model::{ListedFlow, SummaryRecord};
use super::{RenderError, RunView};

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// The text shown for a check: its observation, marked when not passing.
pub(super) fn check_cell(c: &CheckResult) -> String {
    let value = c.observed.clone().unwrap_or_else(|| "-".into());
    match c.verdict {
        Verdict::Fail => format!("✗ {value}"),
        Verdict::Unknown => format!("? {value}"),
        Verdict::Pass | Verdict::Skipped => value,
    }
}

/// Empty fragments cell: the counts, or why there are none.
pub(super) fn empty_fragments_cell(rec: &ListedFlow) -> String {
    let c = &rec.checks.empty_fragments;
    let value = if rec.empty_fragments.evidence == CountBasis::NoApplicationData {
        "no app data".to_string()
    } else {
        format!(
            "{}/{}{}",
            rec.empty_fragments.client,
            rec.empty_fragments.server,
            if rec.empty_fragments.evidence == CountBasis::Decrypted {
                " (decrypted)"
            } else {
                ""
            }
        )
    };
    match c.verdict {
        Verdict::Fail => format!("✗ {value}"),
        Verdict::Unknown => format!("? {value}"),
        _ => value,
    }
}

fn verdict_color(v: Verdict) -> Color {
    match v {
        Verdict::Fail => Color::Red,
        Verdict::Unknown => Color::Yellow,
        Verdict::Pass | Verdict::Skipped => Color::Green,
    }
}

fn ansi(v: Verdict) -> &'static str {
    match v {
        Verdict::Fail => RED,
        Verdict::Unknown => YELLOW,
        Verdict::Pass | Verdict::Skipped => GREEN,
    }
}

fn paint(text: &str, v: Verdict, color: bool) -> String {
    if color {
        format!("{}{text}{RESET}", ansi(v))
    } else {
        text.to_string()
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Fail => "FAIL",
        Verdict::Unknown => "unknown",
        Verdict::Pass | Verdict::Skipped => "pass",
    }
}

pub(super) fn write(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    let several_inputs = v.inputs.len() > 1;
    if v.flows.is_empty() {
        writeln!(out, "No flows to list ({}).", listing(v))?;
    } else {
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        if v.color {
            t.enforce_styling();
            t.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            t.force_no_tty();
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
        let mut header = vec!["#"];
        if several_inputs {
            header.push("input");
        }
        header.extend([
            "client",
            "server",
            "handshake",
            "version",
            "cipher",
            "server CN",
            "client CN",
            "empty fragments (c/s)",
            "verdict",
        ]);
        t.set_header(header);
        for l in v.flows {
            let r = &l.rec;
            let cell = |text: String, verdict: Verdict| {
                let c = Cell::new(text);
                if v.color && verdict == Verdict::Fail {
                    c.fg(Color::Red)
                } else if v.color && verdict == Verdict::Unknown {
                    c.fg(Color::Yellow)
                } else {
                    c
                }
            };
            let mut row = vec![Cell::new(l.no).set_alignment(CellAlignment::Right)];
            if several_inputs {
                row.push(Cell::new(r.input));
            }
            row.push(Cell::new(&r.client));
            row.push(Cell::new(&r.server));
            for c in [
                &r.checks.handshake,
                &r.checks.version,
                &r.checks.cipher_suite,
            ] {
                row.push(cell(check_cell(c), c.verdict));
            }
            for c in [&r.checks.server_cn, &r.checks.client_cn] {
                row.push(cell(check_cell(c), c.verdict));
            }
            row.push(cell(
                empty_fragments_cell(r),
                r.checks.empty_fragments.verdict,
            ));
            let mut verdict = Cell::new(verdict_word(r.verdict));
            if v.color {
                verdict = verdict.fg(verdict_color(r.verdict));
            }
            row.push(verdict);
            t.add_row(row);
        }
        writeln!(out, "{t}")?;
        write_details(out, v)?;
        write_decryption(out, v)?;
    }
    write_tail(out, v)
}

/// With keys given: one line per listed flow saying whether it was
/// decrypted and, if not, why.
fn write_decryption(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    let lines: Vec<_> = v
        .flows
        .iter()
        .filter_map(|l| l.rec.decryption.as_ref().map(|d| (l, d)))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Decryption:")?;
    for (l, d) in lines {
        writeln!(out, "  #{} {} → {}: {d}", l.no, l.rec.client, l.rec.server)?;
    }
    Ok(())
}

/// Which flows are listed, for the "no flows" line.
fn listing(v: &RunView<'_>) -> &'static str {
    match v.only {
        super::Only::All => "no flow on the audited ports",
        super::Only::Fail => "no failing flow",
        super::Only::Unknown => "no failing or unknown flow",
    }
}

/// Per listed flow that did not pass (or passes with a finding that needs
/// attention): each failing/unknown check's reason and frames, the findings.
fn write_details(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    let mut first = true;
    for l in v.flows.iter().filter(|l| {
        l.rec.verdict != Verdict::Pass || l.rec.findings.iter().any(|f| f.kind.needs_attention())
    }) {
        if first {
            writeln!(out)?;
            first = false;
        }
        write_flow_detail(out, l.no, &l.rec, v.color)?;
    }
    Ok(())
}

fn write_flow_detail(
    out: &mut dyn Write,
    no: u64,
    r: &ListedFlow,
    color: bool,
) -> Result<(), RenderError> {
    writeln!(
        out,
        "#{no} {} → {} (input {}, frame {}): {}",
        r.client,
        r.server,
        r.input,
        r.first_frame,
        paint(verdict_word(r.verdict), r.verdict, color)
    )?;
    if let Some(ja4) = &r.ja4 {
        writeln!(out, "  ja4: {ja4}")?;
    }
    for (name, c) in r.checks.iter() {
        if matches!(c.verdict, Verdict::Fail | Verdict::Unknown) {
            let frames = if c.frames.is_empty() {
                String::new()
            } else {
                format!(" [frames {}]", join_frames(&c.frames))
            };
            writeln!(
                out,
                "  {} {name}: {}{frames}",
                paint(
                    if c.verdict == Verdict::Fail {
                        "✗"
                    } else {
                        "?"
                    },
                    c.verdict,
                    color
                ),
                c.reason
            )?;
        }
    }
    for f in &r.findings {
        writeln!(out, "  • {}", f.message)?;
    }
    Ok(())
}

/// The per-peer section: each peer pair with what it presented last, then
/// every change seen between its connections.
fn write_peers(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    if v.peers.is_empty() && v.changes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Peers:")?;
    for p in v.peers {
        writeln!(
            out,
            "  {} → {} (input {}): {} flow(s), {} change(s); server CN {}, client CN {}, {}, {}",
            p.client,
            p.server,
            p.input,
            p.flows,
            p.changes,
            p.server_cn.as_deref().unwrap_or("-"),
            p.client_cn.as_deref().unwrap_or("-"),
            p.version.as_deref().unwrap_or("-"),
            p.cipher_suite.as_deref().unwrap_or("-"),
        )?;
    }
    for c in v.changes {
        writeln!(
            out,
            "  change at frame {} (input {}): {} → {}: {}",
            c.frame, c.input, c.client, c.server, c.message
        )?;
    }
    if v.changes_not_listed > 0 {
        writeln!(out, "  and {} more change(s)", v.changes_not_listed)?;
    }
    Ok(())
}

pub(super) fn join_frames(frames: &[u64]) -> String {
    frames
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary_text(s: &SummaryRecord, color: bool) -> String {
    format!(
        "{} flow(s): {} pass, {}, {}",
        s.flows,
        s.pass,
        paint(
            &format!("{} fail", s.fail),
            if s.fail > 0 {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            color
        ),
        paint(
            &format!("{} unknown", s.unknown),
            if s.unknown > 0 {
                Verdict::Unknown
            } else {
                Verdict::Pass
            },
            color
        )
    )
}

/// Summary, per-check failures, warnings and remedies.
fn write_tail(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    writeln!(out)?;
    writeln!(out, "Summary: {}", summary_text(v.summary, v.color))?;
    let failing: Vec<String> = v
        .summary
        .by_check
        .iter()
        .iter()
        .filter(|(_, c)| c.fail > 0 || c.unknown > 0)
        .map(|(name, c)| format!("{name} {} fail/{} unknown", c.fail, c.unknown))
        .collect();
    if !failing.is_empty() {
        writeln!(out, "By check: {}", failing.join("; "))?;
    }
    write_peers(out, v)?;
    for w in v.warnings {
        writeln!(out, "warning: {}", w.message)?;
    }
    for i in v.inputs {
        for w in &i.input.warnings {
            writeln!(out, "warning: {}: {w}", i.input.path)?;
        }
        if let Some(e) = &i.input.error {
            writeln!(out, "error: {}: {e}", i.input.path)?;
        }
    }
    let items = v.remedies.items();
    if !items.is_empty() {
        writeln!(out)?;
        writeln!(out, "Remedies:")?;
        for (n, item) in items.iter().enumerate() {
            let more = if item.more > 0 {
                format!(" and {} more", item.more)
            } else {
                String::new()
            };
            let flows = item
                .flows
                .iter()
                .map(|f| format!("#{f}"))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(out, "{}. [{flows}{more}] {}", n + 1, item.text)?;
        }
    }
    Ok(())
}

/// Live mode: one line per flow as it is judged, then the failing reasons.
pub(super) fn write_flow_line(
    out: &mut dyn Write,
    no: u64,
    r: &ListedFlow,
    color: bool,
) -> Result<(), RenderError> {
    let c = &r.checks;
    writeln!(
        out,
        "#{no} {} {} → {}  handshake {} | {} | {} | server CN {} | client CN {} | empty fragments {}",
        paint(verdict_word(r.verdict), r.verdict, color),
        r.client,
        r.server,
        check_cell(&c.handshake),
        check_cell(&c.version),
        check_cell(&c.cipher_suite),
        check_cell(&c.server_cn),
        check_cell(&c.client_cn),
        empty_fragments_cell(r),
    )?;
    for (name, ch) in c.iter() {
        if ch.verdict == Verdict::Fail {
            writeln!(out, "  ✗ {name}: {}", ch.reason)?;
        }
    }
    Ok(())
}

pub(super) fn write_summary_line(
    out: &mut dyn Write,
    s: &SummaryRecord,
    color: bool,
) -> Result<(), RenderError> {
    writeln!(out, "— {}", summary_text(s, color))?;
    Ok(())
}

/// Live mode end: the lines were already printed; summary and remedies.
pub(super) fn write_streaming_end(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    write_tail(out, v)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{render, Shared};
    use super::super::{Format, Only, ReportOptions, Reporter};
    use crate::checks::fixture::FlowBuilder;
    use crate::checks::judge;
    use crate::facts::Role;
    use crate::profile::Profile;
    use crate::tls::model::TlsVersion;

    #[test]
    fn table_has_one_row_per_flow_marks_failures_and_lists_remedies() {
        let p = Profile::builtin();
        let ok = FlowBuilder::new().federation_ok().build();
        let bad = FlowBuilder::new()
            .federation_ok()
            .negotiated(TlsVersion::TLS12, 0x002f)
            .build();
        let (out, _) = render(Format::Table, Only::All, false, vec![ok, bad], &p);
        for col in [
            "client",
            "server",
            "handshake",
            "version",
            "cipher",
            "server CN",
            "client CN",
            "empty fragments",
            "verdict",
        ] {
            assert!(out.contains(col), "missing column {col}:\n{out}");
        }
        assert!(out.contains("✗ TLSv1.2"), "{out}");
        assert!(out.contains("✗ TLS_RSA_WITH_AES_128_CBC_SHA"), "{out}");
        assert_eq!(
            out.matches("10.0.0.1:5062").count(),
            3,
            "two rows + one detail line:\n{out}"
        );
        assert!(
            out.contains("Summary: 2 flow(s): 1 pass, 1 fail, 0 unknown"),
            "{out}"
        );
        assert!(
            out.contains("Remedies:\n1. [#2] On OCS: Local Security Policy"),
            "{out}"
        );
        assert!(!out.contains('\x1b'), "no colour when color=false");
    }

    #[test]
    fn empty_listing_says_so() {
        let p = Profile::builtin();
        let (out, _) = render(
            Format::Table,
            Only::Fail,
            false,
            vec![FlowBuilder::new().federation_ok().build()],
            &p,
        );
        assert!(
            out.starts_with("No flows to list (no failing flow)."),
            "{out}"
        );
        assert!(out.contains("Summary: 1 flow(s): 1 pass"), "{out}");
    }

    #[test]
    fn unknown_cells_are_marked_with_question_mark() {
        let p = Profile::builtin();
        let f = FlowBuilder::new()
            .hellos_only()
            .app_data(Role::Client, 7, 1)
            .build();
        let (out, _) = render(Format::Table, Only::All, false, vec![f], &p);
        assert!(out.contains("? incomplete"), "{out}");
    }

    /// A table reporter with colour, writing into a buffer the test reads.
    fn coloured_table(p: &Profile, streaming: bool) -> (Reporter, Shared) {
        let buf = Shared::default();
        let opts = ReportOptions {
            format: Format::Table,
            only: Only::All,
            redact: false,
            color: true,
            streaming,
        };
        (Reporter::new(opts, p, Box::new(buf.clone())), buf)
    }

    #[test]
    fn streaming_prints_a_line_per_flow_and_periodic_summaries() {
        let p = Profile::builtin();
        let (mut r, buf) = coloured_table(&p, true);
        r.flow(judge(FlowBuilder::new().federation_ok().build(), &p))
            .expect("flow");
        let after_first = buf.text();
        assert!(
            after_first.starts_with("#1 \x1b[32mpass\x1b[0m 10.0.0.2:49152 → 10.0.0.1:5062"),
            "{after_first}"
        );
        r.progress_summary().expect("summary");
        assert!(buf.text().contains("— 1 flow(s): 1 pass"), "{}", buf.text());
        let bad = FlowBuilder::new()
            .federation_ok()
            .negotiated(TlsVersion::TLS12, 0x000a)
            .build();
        r.flow(judge(bad, &p)).expect("flow");
        let totals = r.finish().expect("finish");
        assert_eq!(totals.fail, 1);
        let out = buf.text();
        assert!(out.contains("#2 \x1b[31mFAIL\x1b[0m"), "{out}");
        assert!(
            out.contains("  ✗ version: The ServerHello selects TLSv1.2"),
            "{out}"
        );
        assert!(out.contains("Remedies:\n1. [#2] On OCS"), "{out}");
    }

    #[test]
    fn colour_marks_failing_cells_in_the_table() {
        let p = Profile::builtin();
        let (mut r, buf) = coloured_table(&p, false);
        let bad = FlowBuilder::new()
            .federation_ok()
            .negotiated(TlsVersion::TLS12, 0x000a)
            .build();
        r.flow(judge(bad, &p)).expect("flow");
        r.finish().expect("finish");
        assert!(buf.text().contains('\x1b'), "{}", buf.text());
    }
}
