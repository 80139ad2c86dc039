//! `html`: one self-contained file — no script, font, stylesheet or image
//! from anywhere else (a Content-Security-Policy of `default-src 'none'`
//! says so to the browser), so it works offline and as an e-mail
//! attachment. It holds the result, the inputs with their SHA-256, the
//! profile, the findings table with the terminal's verdict colours, a
//! CSS-only filter by verdict (radio buttons, no JavaScript), per flow the
//! checks with reason, evidence frames and remedy, the findings and an
//! inline SVG ladder (`svg.rs`), then the remedies and the tool version.
//!
//! Every text from the capture or the profile is escaped; with `--redact`
//! the records it renders are already redacted (`model.rs`).

use std::io::Write;

use crate::checks::{CheckResult, Verdict};

use super::model::{ListedFlow, ToolRecord};
use super::svg::{self, esc};
use super::table::{check_cell, empty_fragments_cell, join_frames};
use super::{Listed, RenderError, RunView};

const STYLE: &str = r#"
:root { --fail: #b91c1c; --fail-bg: #fecaca; --unknown: #854d0e; --unknown-bg: #fef08a;
        --pass: #166534; --pass-bg: #bbf7d0; --ink: #111827; --muted: #4b5563; --line: #d1d5db; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; padding: 24px 32px; background: #fff; line-height: 1.4; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num { text-align: right; }
#summary, .checks { width: 100%; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
.c-fail { background: var(--fail-bg); color: var(--fail); font-weight: bold; }
.c-unknown { background: var(--unknown-bg); color: var(--unknown); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: bold; font-size: 12px; }
.b-fail { background: var(--fail); color: #fff; }
.b-unknown { background: #ca8a04; color: #fff; }
.b-pass { background: #15803d; color: #fff; }
.result { font-size: 16px; margin: 4px 0 16px; }
.filters { margin: 8px 0 12px; }
.filters label { display: inline-block; border: 1px solid var(--line); border-radius: 14px;
                 padding: 2px 12px; margin-right: 6px; cursor: pointer; font-size: 13px; }
.filter { position: absolute; opacity: 0; pointer-events: none; }
#f-all:checked ~ nav label[for=f-all], #f-fail:checked ~ nav label[for=f-fail],
#f-unknown:checked ~ nav label[for=f-unknown], #f-pass:checked ~ nav label[for=f-pass]
    { background: #1f2937; color: #fff; border-color: #1f2937; }
.filter:focus-visible ~ nav { outline: 2px dashed #1d4ed8; }
#f-fail:checked ~ section .flow:not(.v-fail),
#f-unknown:checked ~ section .flow:not(.v-unknown),
#f-pass:checked ~ section .flow:not(.v-pass) { display: none; }
details.flow { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 4px;
               margin: 10px 0; padding: 6px 12px; }
details.v-fail { border-left-color: var(--fail); }
details.v-unknown { border-left-color: #ca8a04; }
details.v-pass { border-left-color: #15803d; }
summary { cursor: pointer; font-weight: bold; }
.checks td:first-child { white-space: nowrap; }
.remedy { color: var(--fail); }
.ladder-box { overflow-x: auto; margin: 10px 0; }
svg.ladder { max-width: 100%; height: auto; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"#;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Fail => "FAIL",
        Verdict::Unknown => "unknown",
        Verdict::Pass | Verdict::Skipped => "pass",
    }
}

/// `fail`, `unknown` or `pass` (skipped counts as pass): CSS class suffix.
fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Fail => "fail",
        Verdict::Unknown => "unknown",
        Verdict::Pass | Verdict::Skipped => "pass",
    }
}

fn badge(v: Verdict) -> String {
    format!(
        r#"<span class="badge b-{}">{}</span>"#,
        verdict_class(v),
        verdict_word(v)
    )
}

/// Escaped text that may break after `_` (suite names are one long word).
fn breakable(s: &str) -> String {
    esc(s).replace('_', "_<wbr>")
}

/// A table cell coloured by the check's verdict.
fn check_td(c: &CheckResult, text: &str) -> String {
    match c.verdict {
        Verdict::Fail | Verdict::Unknown => format!(
            r#"<td class="c-{}">{}</td>"#,
            verdict_class(c.verdict),
            breakable(text)
        ),
        _ => format!("<td>{}</td>", breakable(text)),
    }
}

pub(super) fn write(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    let tool = ToolRecord::current();
    let s = v.summary;
    write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{} {}">
<title>TLS federation audit</title>
<style>{STYLE}</style>
</head>
<body>
<h1>TLS federation audit</h1>
<p class="result" id="result"><b>Result:</b> {} flow(s): {} pass, {} fail, {} unknown.</p>
"#,
        tool.name, tool.version, s.flows, s.pass, s.fail, s.unknown
    )?;

    writeln!(out, "<h2>Inputs</h2>")?;
    if v.inputs.is_empty() {
        writeln!(out, "<p>(none)</p>")?;
    } else {
        writeln!(out, "<table id=\"inputs\"><tr><th>#</th><th>file</th><th>format</th><th>link types</th><th>packets</th><th>SHA-256</th></tr>")?;
        for i in v.inputs {
            writeln!(
                out,
                r#"<tr><td class="num">{}</td><td class="mono">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="mono">{}</td></tr>"#,
                i.index,
                esc(&i.input.path),
                esc(&i.input.format),
                esc(&i.input.link_types.join(", ")),
                i.input.packets,
                esc(i.input.sha256.as_deref().unwrap_or("-"))
            )?;
        }
        writeln!(out, "</table>")?;
        let notes: Vec<String> = v
            .inputs
            .iter()
            .flat_map(|i| {
                let path = esc(&i.input.path);
                i.input
                    .warnings
                    .iter()
                    .map(move |w| format!("<li>warning ({path}): {}</li>", esc(w)))
                    .chain(
                        i.input
                            .error
                            .iter()
                            .map(move |e| format!("<li><b>error</b>: {}</li>", esc(e))),
                    )
            })
            .collect();
        if !notes.is_empty() {
            writeln!(out, "<ul>{}</ul>", notes.join(""))?;
        }
    }

    let p = v.profile;
    let list = |l: &[String]| {
        if l.is_empty() {
            "(not set)".to_string()
        } else {
            l.iter()
                .map(|x| format!("<code>{}</code>", esc(x)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let suites: Vec<String> = p.cipher_suites.iter().map(|s| s.display()).collect();
    writeln!(out, "<h2>Profile</h2>")?;
    writeln!(
        out,
        "<ul id=\"profile\"><li>name: {} ({})</li><li>ports: {}</li><li>versions: {}</li><li>cipher suites: {}</li><li>empty fragments: {}</li><li>client certificate: {}</li><li>server CN: {}</li><li>client CN: {}</li><li>CN match: {}</li></ul>",
        esc(&p.name),
        esc(&p.origin),
        p.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
        list(&p.versions),
        list(&suites),
        p.empty_fragments,
        p.client_certificate,
        list(&p.server_cn),
        list(&p.client_cn),
        p.match_mode
    )?;

    writeln!(out, "<h2>Findings</h2>")?;
    if v.flows.is_empty() {
        writeln!(out, "<p>No flows listed (--only {:?}).</p>", v.only)?;
    } else {
        write_flows(out, v)?;
    }

    if !v.remedies.items().is_empty() {
        writeln!(out, "<h2>Remedies</h2>\n<ol id=\"remedies\">")?;
        for item in v.remedies.items() {
            let refs: Vec<String> = item
                .flows
                .iter()
                .map(|n| format!("<a href=\"#flow-{n}\">#{n}</a>"))
                .collect();
            let more = if item.more > 0 {
                format!(" and {} more", item.more)
            } else {
                String::new()
            };
            writeln!(
                out,
                "<li>[{}{more}] {}</li>",
                refs.join(", "),
                esc(&item.text)
            )?;
        }
        writeln!(out, "</ol>")?;
    }

    if !v.warnings.is_empty() {
        writeln!(out, "<h2>Warnings</h2>\n<ul>")?;
        for w in v.warnings {
            writeln!(out, "<li>{}</li>", esc(&w.message))?;
        }
        writeln!(out, "</ul>")?;
    }

    writeln!(
        out,
        "<footer>Generated by {} {}.</footer>\n</body>\n</html>",
        tool.name, tool.version
    )?;
    Ok(())
}

/// Filters, the findings table and the per-flow details. The radio
/// buttons come first so the CSS `~` selectors can hide the other flows.
fn write_flows(out: &mut dyn Write, v: &RunView<'_>) -> Result<(), RenderError> {
    let count = |c: &str| {
        v.flows
            .iter()
            .filter(|l| verdict_class(l.rec.verdict) == c)
            .count()
    };
    writeln!(out, "<main>")?;
    for (id, checked) in [
        ("f-all", true),
        ("f-fail", false),
        ("f-unknown", false),
        ("f-pass", false),
    ] {
        writeln!(
            out,
            r#"<input type="radio" name="verdict" class="filter" id="{id}"{}>"#,
            if checked { " checked" } else { "" }
        )?;
    }
    writeln!(
        out,
        r#"<nav class="filters">Show: <label for="f-all">all ({})</label><label for="f-fail">fail ({})</label><label for="f-unknown">unknown ({})</label><label for="f-pass">pass ({})</label></nav>"#,
        v.flows.len(),
        count("fail"),
        count("unknown"),
        count("pass")
    )?;
    writeln!(out, "<section id=\"flows\">\n<table id=\"summary\">\n<tr><th>#</th><th>input</th><th>client</th><th>server</th><th>handshake</th><th>version</th><th>cipher</th><th>server CN</th><th>client CN</th><th>empty fragments (c/s)</th><th>verdict</th></tr>")?;
    for l in v.flows {
        let r = &l.rec;
        let c = &r.checks;
        writeln!(
            out,
            r##"<tr class="flow v-{}"><td class="num"><a href="#flow-{n}">{n}</a></td><td class="num">{}</td><td class="mono">{}</td><td class="mono">{}</td>{}{}{}{}{}{}<td>{}</td></tr>"##,
            verdict_class(r.verdict),
            r.input,
            esc(&r.client),
            esc(&r.server),
            check_td(&c.handshake, &check_cell(&c.handshake)),
            check_td(&c.version, &check_cell(&c.version)),
            check_td(&c.cipher_suite, &check_cell(&c.cipher_suite)),
            check_td(&c.server_cn, &check_cell(&c.server_cn)),
            check_td(&c.client_cn, &check_cell(&c.client_cn)),
            check_td(&c.empty_fragments, &empty_fragments_cell(r)),
            badge(r.verdict),
            n = l.no,
        )?;
    }
    writeln!(out, "</table>\n</section>")?;
    writeln!(out, "<section id=\"details\">\n<h2>Flows</h2>")?;
    for l in v.flows {
        write_flow(out, l)?;
    }
    writeln!(out, "</section>\n</main>")?;
    Ok(())
}

fn write_flow(out: &mut dyn Write, l: &Listed) -> Result<(), RenderError> {
    let r: &ListedFlow = &l.rec;
    let no = l.no;
    writeln!(
        out,
        r#"<details class="flow v-{}" id="flow-{no}"{}>"#,
        verdict_class(r.verdict),
        if r.verdict == Verdict::Pass {
            ""
        } else {
            " open"
        }
    )?;
    writeln!(
        out,
        r#"<summary>#{no} <span class="mono">{}</span> → <span class="mono">{}</span> {}</summary>"#,
        esc(&r.client),
        esc(&r.server),
        badge(r.verdict)
    )?;
    writeln!(
        out,
        "<p>Input {}, first frame {}, first seen {}.</p>",
        r.input, r.first_frame, r.first_seen
    )?;
    // The picture first: who said what, and where it went wrong.
    if let Some(ladder) = &r.ladder {
        writeln!(
            out,
            "<div class=\"ladder-box\">{}</div>",
            svg::ladder(ladder, &r.client, &r.server, &r.checks)
        )?;
    }
    writeln!(out, "<table class=\"checks\"><tr><th>check</th><th>verdict</th><th>expected</th><th>observed</th><th>evidence frames</th><th>reason</th></tr>")?;
    for (name, c) in r.checks.iter() {
        let remedy = c
            .remedy
            .as_deref()
            .map(|x| format!(r#"<div class="remedy"><b>Remedy:</b> {}</div>"#, esc(x)))
            .unwrap_or_default();
        let cls = match c.verdict {
            Verdict::Fail | Verdict::Unknown => {
                format!(r#" class="c-{}""#, verdict_class(c.verdict))
            }
            _ => String::new(),
        };
        writeln!(
            out,
            "<tr><td>{name}</td><td{cls}>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}{remedy}</td></tr>",
            c.verdict.name(),
            breakable(&c.expected.join(", ")),
            breakable(c.observed.as_deref().unwrap_or("-")),
            if c.frames.is_empty() {
                "-".to_string()
            } else {
                join_frames(&c.frames)
            },
            esc(&c.reason),
        )?;
    }
    writeln!(out, "</table>")?;
    if !r.findings.is_empty() {
        writeln!(out, "<ul class=\"findings\">")?;
        for f in &r.findings {
            let frames = if f.frames.is_empty() {
                String::new()
            } else {
                format!(" (frames {})", join_frames(&f.frames))
            };
            writeln!(out, "<li>finding: {}{frames}</li>", esc(&f.message))?;
        }
        writeln!(out, "</ul>")?;
    }
    if let Some(d) = &r.decryption {
        writeln!(out, "<p>Decryption: {}</p>", esc(d))?;
    }
    writeln!(out, "</details>")?;
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

    fn two_flows() -> Vec<crate::facts::FlowFacts> {
        vec![
            FlowBuilder::new().federation_ok().build(),
            FlowBuilder::new()
                .client_hello(4, TlsVersion::TLS12, &[0x009c])
                .alert(Role::Server, 5, 2, 40)
                .build(),
        ]
    }

    #[test]
    fn html_is_one_self_contained_document_with_a_ladder_per_flow() {
        let (out, _) = render(
            Format::Html,
            Only::All,
            false,
            two_flows(),
            &Profile::builtin(),
        );
        assert!(out.starts_with("<!DOCTYPE html>"), "{out}");
        assert!(out.trim_end().ends_with("</html>"));
        assert!(out.contains("default-src 'none'"));
        for external in [
            "<script", "<link", "src=", "@import", "url(", "http://", "https://",
        ] {
            let outside_svg_ns = out.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!outside_svg_ns.contains(external), "{external} in the page");
        }
        assert_eq!(out.matches("<svg class=\"ladder\"").count(), 2);
        assert_eq!(out.matches("<tr class=\"flow v-").count(), 2);
        assert!(out.contains(r#"<tr class="flow v-fail">"#));
        assert!(out.contains(r#"<details class="flow v-fail" id="flow-2" open>"#));
        assert!(out.contains(r#"<details class="flow v-pass" id="flow-1">"#));
        assert!(
            out.contains(r#"<td class="c-fail">✗ aborted</td>"#),
            "{out}"
        );
        assert!(out.contains("<b>Remedy:</b> On OCS: Local Security Policy"));
    }

    #[test]
    fn redacted_html_shows_no_address() {
        let (out, _) = render(
            Format::Html,
            Only::All,
            true,
            two_flows(),
            &Profile::builtin(),
        );
        assert!(!out.contains("10.0.0."), "address leaked");
        assert!(out.contains("host-1:49152"));
        assert!(out.contains("host-2:5062"));
    }
}
