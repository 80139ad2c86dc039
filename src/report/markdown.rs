//! `markdown`: a ticket-ready document — inputs with their SHA-256, the
//! profile, the summary, the findings table, per listed flow that did not
//! pass the evidence frames, reasons and remedies with a Mermaid handshake
//! ladder (`--diagram`: failing and unknown flows by default, or all, or
//! none), and the tool version.
//! Table cells are escaped (`|`, newlines) so any CN or path renders.

use std::io::Write;

use crate::checks::Verdict;

use super::mermaid;
use super::model::{ListedFlow, ToolRecord};
use super::table::{check_cell, empty_fragments_cell, join_frames};
use super::{RenderError, RunView};

/// Escape text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Inline code that survives backticks in the text.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn or_any(list: &[String]) -> String {
    if list.is_empty() {
        "(not set)".into()
    } else {
        list.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ")
    }
}

pub(super) fn write(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    let tool = ToolRecord::current();
    let s = v.summary;
    writeln!(out, "# TLS federation audit")?;
    writeln!(out)?;
    writeln!(
        out,
        "**Result:** {} flow(s): {} pass, {} fail, {} unknown.",
        s.flows, s.pass, s.fail, s.unknown
    )?;
    writeln!(out)?;

    writeln!(out, "## Inputs")?;
    writeln!(out)?;
    if v.inputs.is_empty() {
        writeln!(out, "(none)")?;
    } else {
        writeln!(
            out,
            "| # | file | format | link types | packets | SHA-256 |"
        )?;
        writeln!(out, "|---:|---|---|---|---:|---|")?;
        for i in v.inputs {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                i.index,
                cell(&i.input.path),
                cell(&i.input.format),
                cell(&i.input.link_types.join(", ")),
                i.input.packets,
                i.input
                    .sha256
                    .as_deref()
                    .map_or_else(|| "-".to_string(), code)
            )?;
        }
        for i in v.inputs {
            for w in &i.input.warnings {
                writeln!(out, "\n- warning ({}): {}", cell(&i.input.path), w)?;
            }
            if let Some(e) = &i.input.error {
                writeln!(out, "\n- **error** ({}): {}", cell(&i.input.path), e)?;
            }
        }
    }
    writeln!(out)?;

    let p = v.profile;
    writeln!(out, "## Profile")?;
    writeln!(out)?;
    writeln!(out, "- name: {} ({})", p.name, p.origin)?;
    writeln!(
        out,
        "- ports: {}",
        p.ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out, "- versions: {}", or_any(&p.versions))?;
    let suites: Vec<String> = p.cipher_suites.iter().map(|s| s.display()).collect();
    writeln!(out, "- cipher suites: {}", or_any(&suites))?;
    writeln!(out, "- empty fragments: {}", p.empty_fragments)?;
    writeln!(out, "- client certificate: {}", p.client_certificate)?;
    writeln!(out, "- server CN: {}", or_any(&p.server_cn))?;
    writeln!(out, "- client CN: {}", or_any(&p.client_cn))?;
    writeln!(out, "- CN match: {}", p.match_mode)?;
    writeln!(out)?;

    writeln!(out, "## Summary by check")?;
    writeln!(out)?;
    writeln!(out, "| check | pass | fail | unknown | skipped |")?;
    writeln!(out, "|---|---:|---:|---:|---:|")?;
    for (name, c) in s.by_check.iter() {
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            c.pass, c.fail, c.unknown, c.skipped
        )?;
    }
    writeln!(out)?;

    writeln!(out, "## Findings")?;
    writeln!(out)?;
    if v.flows.is_empty() {
        writeln!(out, "No flows listed (`--only` {:?}).", v.only)?;
    } else {
        writeln!(
            out,
            "| # | input | client | server | handshake | version | cipher | server CN | client CN | empty fragments (c/s) | verdict |"
        )?;
        writeln!(out, "|---:|---:|---|---|---|---|---|---|---|---|---|")?;
        for l in v.flows {
            let r = &l.rec;
            let c = &r.checks;
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                l.no,
                r.input,
                cell(&r.client),
                cell(&r.server),
                cell(&check_cell(&c.handshake)),
                cell(&check_cell(&c.version)),
                cell(&check_cell(&c.cipher_suite)),
                cell(&check_cell(&c.server_cn)),
                cell(&check_cell(&c.client_cn)),
                cell(&empty_fragments_cell(r)),
                verdict_md(r.verdict)
            )?;
        }
    }
    writeln!(out)?;

    let decrypted: Vec<_> = v
        .flows
        .iter()
        .filter_map(|l| l.rec.decryption.as_ref().map(|d| (l, d)))
        .collect();
    if !decrypted.is_empty() {
        writeln!(out, "## Decryption")?;
        writeln!(out)?;
        for (l, d) in decrypted {
            writeln!(
                out,
                "- #{} {} → {}: {}",
                l.no,
                cell(&l.rec.client),
                cell(&l.rec.server),
                d
            )?;
        }
        writeln!(out)?;
    }

    let troubled: Vec<_> = v
        .flows
        .iter()
        .filter(|l| l.rec.verdict != Verdict::Pass)
        .collect();
    if !troubled.is_empty() {
        writeln!(out, "## Flows that did not pass")?;
        for l in troubled {
            writeln!(out)?;
            write_flow(out, l.no, &l.rec)?;
        }
        writeln!(out)?;
    }

    let passed_ladders: Vec<_> = v
        .flows
        .iter()
        .filter(|l| l.rec.verdict == Verdict::Pass && l.rec.ladder.is_some())
        .collect();
    if !passed_ladders.is_empty() {
        writeln!(out, "## Handshake ladders of the flows that passed")?;
        for l in passed_ladders {
            writeln!(out)?;
            writeln!(
                out,
                "### #{}: {} → {} (pass)",
                l.no, l.rec.client, l.rec.server
            )?;
            writeln!(out)?;
            write_ladder(out, &l.rec)?;
        }
        writeln!(out)?;
    }

    let attention: Vec<_> = v
        .flows
        .iter()
        .filter(|l| {
            l.rec.verdict == Verdict::Pass
                && l.rec.findings.iter().any(|f| f.kind.needs_attention())
        })
        .collect();
    if !attention.is_empty() {
        writeln!(out, "## Flows that pass with warnings")?;
        for l in attention {
            writeln!(out)?;
            write_flow(out, l.no, &l.rec)?;
        }
        writeln!(out)?;
    }

    if !v.peers.is_empty() || !v.changes.is_empty() {
        writeln!(out, "## Peers")?;
        writeln!(out)?;
        if !v.peers.is_empty() {
            writeln!(
                out,
                "| input | client | server | server CN | client CN | version | cipher | flows | changes |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
            for p in v.peers {
                let opt = |x: &Option<String>| x.as_deref().map_or_else(|| "-".to_string(), cell);
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    p.input,
                    cell(&p.client),
                    cell(&p.server),
                    opt(&p.server_cn),
                    opt(&p.client_cn),
                    opt(&p.version),
                    opt(&p.cipher_suite),
                    p.flows,
                    p.changes
                )?;
            }
            writeln!(out)?;
        }
        for c in v.changes {
            writeln!(
                out,
                "- change at frame {} (input {}), {} → {}: {}",
                c.frame,
                c.input,
                cell(&c.client),
                cell(&c.server),
                c.message
            )?;
        }
        if v.changes_not_listed > 0 {
            writeln!(out, "- and {} more change(s)", v.changes_not_listed)?;
        }
        if !v.changes.is_empty() {
            writeln!(out)?;
        }
    }

    if !v.warnings.is_empty() {
        writeln!(out, "## Warnings")?;
        writeln!(out)?;
        for w in v.warnings {
            writeln!(out, "- {}", w.message)?;
        }
        writeln!(out)?;
    }

    writeln!(out, "---")?;
    writeln!(out, "Generated by {} {}.", tool.name, tool.version)?;
    Ok(())
}

fn verdict_md(v: Verdict) -> &'static str {
    match v {
        Verdict::Fail => "**FAIL**",
        Verdict::Unknown => "unknown",
        Verdict::Pass | Verdict::Skipped => "pass",
    }
}

fn write_flow(out: &mut dyn Write, no: u64, r: &ListedFlow) -> Result<(), RenderError> {
    writeln!(
        out,
        "### #{no}: {} → {} ({})",
        r.client,
        r.server,
        verdict_md(r.verdict)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Input {}, first frame {}, first seen {}.",
        r.input, r.first_frame, r.first_seen
    )?;
    if let Some(ja4) = &r.ja4 {
        writeln!(out)?;
        writeln!(out, "JA4 (client fingerprint): `{ja4}`.")?;
    }
    writeln!(out)?;
    for (name, c) in r.checks.iter() {
        if !matches!(c.verdict, Verdict::Fail | Verdict::Unknown) {
            continue;
        }
        let frames = if c.frames.is_empty() {
            "no frames".to_string()
        } else {
            format!("frames {}", join_frames(&c.frames))
        };
        writeln!(
            out,
            "- **{name}**: {} — {} (evidence: {frames})",
            c.verdict.name(),
            c.reason
        )?;
        if !c.expected.is_empty() || c.observed.is_some() {
            writeln!(
                out,
                "  - expected: {}; observed: {}",
                or_any(&c.expected),
                c.observed.as_deref().map_or_else(|| "-".to_string(), code)
            )?;
        }
        if let Some(remedy) = &c.remedy {
            writeln!(out, "  - remedy: {remedy}")?;
        }
    }
    for f in &r.findings {
        let frames = if f.frames.is_empty() {
            String::new()
        } else {
            format!(" (frames {})", join_frames(&f.frames))
        };
        writeln!(out, "- finding: {}{frames}", f.message)?;
    }
    if r.ladder.is_some() {
        writeln!(out)?;
        write_ladder(out, r)?;
    }
    Ok(())
}

/// The flow's ladder as a Mermaid sequence diagram (when it has one).
fn write_ladder(out: &mut dyn Write, r: &ListedFlow) -> Result<(), RenderError> {
    if let Some(ladder) = &r.ladder {
        let d = mermaid::diagram(ladder, &r.client, &r.server, &r.checks);
        out.write_all(d.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use super::super::{Format, Only};
    use crate::checks::fixture::FlowBuilder;
    use crate::facts::Role;
    use crate::profile::Profile;
    use crate::tls::model::TlsVersion;

    #[test]
    fn markdown_is_ticket_ready() {
        let p = Profile::builtin();
        let bad = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x009c])
            .alert(Role::Server, 5, 2, 40)
            .build();
        let (out, _) = render(
            Format::Markdown,
            Only::All,
            false,
            vec![FlowBuilder::new().federation_ok().build(), bad],
            &p,
        );
        assert!(out.starts_with("# TLS federation audit\n"), "{out}");
        assert!(
            out.contains(&format!("`{}`", "00".repeat(32))),
            "input SHA-256:\n{out}"
        );
        assert!(out.contains("## Profile"));
        assert!(out.contains("- cipher suites: `TLS_RSA_WITH_3DES_EDE_CBC_SHA`"));
        assert!(
            out.contains("| 2 | 0 | 10.0.0.2:49152 | 10.0.0.1:5062 | ✗ aborted |"),
            "{out}"
        );
        assert!(
            out.contains("### #2: 10.0.0.2:49152 → 10.0.0.1:5062 (**FAIL**)"),
            "{out}"
        );
        assert!(out.contains("(evidence: frames 4, 5)"), "{out}");
        assert!(
            out.contains("  - remedy: On OCS: Local Security Policy"),
            "{out}"
        );
        assert!(out.trim_end().ends_with(&format!(
            "Generated by tlsaudit {}.",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(
            !out.contains("### #1"),
            "passing flows get no detail section"
        );
    }

    #[test]
    fn pipes_in_names_are_escaped() {
        assert_eq!(super::cell("a|b\nc"), "a\\|b c");
    }
}
