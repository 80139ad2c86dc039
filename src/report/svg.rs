//! A flow's [`Ladder`] as inline SVG for the HTML report, drawn by
//! tlsaudit itself (no script, font or stylesheet from elsewhere): two
//! lifelines, one arrow per rung with its label above it and the frame and
//! relative time in the left margin, application data both ways as a band,
//! the step a failing check points at on a red background (yellow for
//! unknown) followed by a note with the check, its reason and remedy.
//!
//! Geometry is fixed (a `viewBox` of [`WIDTH`] wide, scaled by the page),
//! so the same ladder always gives the same bytes. Colours match the
//! report's CSS; arrows use `crispEdges` so they are solid pixels.

use std::fmt::Write as _;

use crate::checks::{Checks, Verdict};
use crate::facts::Role;

use super::ladder::{frames_label, mark_note, wrap_words, Ladder, RungKind};

/// Width of the drawing (user units = CSS pixels at 100%).
pub const WIDTH: u32 = 780;
/// x of the client's and the server's lifeline.
const CLIENT_X: u32 = 240;
const SERVER_X: u32 = 700;
/// Height of one rung, of a note line, and of the header.
const RUNG_H: u32 = 30;
const NOTE_LINE_H: u32 = 16;
const HEAD_H: u32 = 64;
/// Characters per note line (about 7 px each at 12 px sans-serif).
const NOTE_WIDTH: usize = 95;

/// Arrow colour per kind (the report's CSS uses the same values).
pub fn colour(kind: RungKind) -> &'static str {
    match kind {
        RungKind::Handshake => "#1d4ed8",
        RungKind::Encrypted => "#6d28d9",
        RungKind::ChangeCipherSpec | RungKind::Tcp => "#4b5563",
        RungKind::AppData | RungKind::Conversation => "#15803d",
        RungKind::Alert { fatal: true } | RungKind::Reset | RungKind::NotTls => "#b91c1c",
        RungKind::Alert { fatal: false } => "#c2410c",
    }
}

/// Text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn x_of(r: Role) -> u32 {
    match r {
        Role::Client => CLIENT_X,
        Role::Server => SERVER_X,
    }
}

fn dashed(kind: RungKind) -> bool {
    matches!(
        kind,
        RungKind::ChangeCipherSpec | RungKind::AppData | RungKind::Reset
    )
}

fn crossed(kind: RungKind) -> bool {
    matches!(
        kind,
        RungKind::Alert { fatal: true } | RungKind::Reset | RungKind::NotTls
    )
}

/// Background of a highlighted rung and of its notes.
fn highlight(v: Verdict) -> (&'static str, &'static str) {
    if v == Verdict::Fail {
        ("#fee2e2", "#b91c1c")
    } else {
        ("#fef3c7", "#a16207")
    }
}

/// Notes of marks, as boxes across the drawing starting at `y`; returns the new `y`.
fn notes<'a>(
    out: &mut String,
    y: u32,
    marks: impl Iterator<Item = &'a super::ladder::Mark>,
    checks: &Checks,
    shown: &mut Vec<String>,
) -> u32 {
    let mut y = y;
    for m in marks {
        let Some(text) = mark_note(m, checks, shown) else {
            continue;
        };
        let lines = wrap_words(&text, NOTE_WIDTH);
        let h = lines.len() as u32 * NOTE_LINE_H + 10;
        let (fill, ink) = highlight(m.verdict);
        let _ = write!(
            out,
            r#"<g class="note note-{v}"><rect x="12" y="{y}" width="{w}" height="{h}" rx="4" fill="{fill}" stroke="{ink}"/>"#,
            v = m.verdict.name(),
            w = WIDTH - 24,
        );
        for (i, l) in lines.iter().enumerate() {
            let _ = write!(
                out,
                r#"<text x="22" y="{}" fill="{ink}">{}</text>"#,
                y + 17 + i as u32 * NOTE_LINE_H,
                esc(l)
            );
        }
        out.push_str("</g>");
        y += h + 8;
    }
    y
}

/// The ladder as one `<svg>` element.
pub fn ladder(ladder: &Ladder, client: &str, server: &str, checks: &Checks) -> String {
    let mut body = String::new();
    let mut shown = Vec::new();
    let mut y = HEAD_H + 16;
    if ladder.midstream {
        let _ = write!(
            body,
            r##"<text x="{}" y="{y}" text-anchor="middle" fill="#4b5563" font-style="italic">capture starts mid-connection (no SYN seen)</text>"##,
            (CLIENT_X + SERVER_X) / 2
        );
        y += RUNG_H;
    }
    for (i, r) in ladder.rungs.iter().enumerate() {
        let line_y = y + 12;
        let c = colour(r.kind);
        let marked = ladder.is_marked(i);
        let _ = write!(body, r#"<g class="rung" data-frame="{}">"#, r.frame);
        if let Some(v) = marked {
            let _ = write!(
                body,
                r#"<rect class="highlight" x="4" y="{}" width="{}" height="{}" fill="{}"/>"#,
                y - 8,
                WIDTH - 8,
                RUNG_H,
                highlight(v).0
            );
        }
        // Margin: frame(s) and relative time.
        let _ = write!(
            body,
            r##"<text x="10" y="{}" fill="#374151">{}</text>"##,
            y + 4,
            esc(&frames_label(r))
        );
        if let Some(at) = r.at {
            let _ = write!(
                body,
                r##"<text x="10" y="{}" fill="#6b7280" font-size="10">{}</text>"##,
                y + 16,
                esc(&at.to_string())
            );
        }
        let mid = (CLIENT_X + SERVER_X) / 2;
        if r.kind == RungKind::Conversation {
            let _ = write!(
                body,
                r##"<rect x="{}" y="{}" width="{}" height="20" rx="3" fill="#dcfce7" stroke="{c}"/><text x="{mid}" y="{}" text-anchor="middle" fill="#14532d">{}</text>"##,
                CLIENT_X - 10,
                y - 4,
                SERVER_X - CLIENT_X + 20,
                y + 10,
                esc(&r.label)
            );
        } else {
            let (x1, x2) = (x_of(r.from), x_of(r.from.peer()));
            let dir: i32 = if x2 > x1 { 1 } else { -1 };
            let tip = x2 as i32 - dir * 2;
            let dash = if dashed(r.kind) {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = write!(
                body,
                r#"<line x1="{x1}" y1="{line_y}" x2="{tip}" y2="{line_y}" stroke="{c}" stroke-width="2" shape-rendering="crispEdges"{dash}/>"#
            );
            if crossed(r.kind) {
                let _ = write!(
                    body,
                    r#"<path d="M{} {} l10 10 M{} {} l-10 10" stroke="{c}" stroke-width="2.5"/>"#,
                    tip - 5,
                    line_y - 5,
                    tip + 5,
                    line_y - 5
                );
            } else {
                let back = tip - dir * 10;
                let _ = write!(
                    body,
                    r#"<path d="M{tip} {line_y} L{back} {} L{back} {} Z" fill="{c}"/>"#,
                    line_y - 5,
                    line_y + 5
                );
            }
            let weight = if marked.is_some() || matches!(r.kind, RungKind::Alert { fatal: true }) {
                r#" font-weight="bold""#
            } else {
                ""
            };
            let _ = write!(
                body,
                r#"<text x="{mid}" y="{}" text-anchor="middle" fill="{c}"{weight}>{}</text>"#,
                line_y - 5,
                esc(&r.label)
            );
        }
        body.push_str("</g>");
        y += RUNG_H;
        if marked.is_some() {
            y = notes(&mut body, y, ladder.marks_after(i), checks, &mut shown);
        }
    }
    if ladder.dropped > 0 {
        let _ = write!(
            body,
            r##"<text x="{}" y="{y}" text-anchor="middle" fill="#4b5563" font-style="italic">{} later step(s) not kept (per-flow limit)</text>"##,
            (CLIENT_X + SERVER_X) / 2,
            ladder.dropped
        );
        y += RUNG_H;
    }
    y = notes(&mut body, y, ladder.marks_at_end(), checks, &mut shown);
    let height = y + 8;

    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        r#"<svg class="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12" role="img" aria-label="handshake ladder">"#
    );
    for (role, x, addr) in [("client", CLIENT_X, client), ("server", SERVER_X, server)] {
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{HEAD_H}" x2="{x}" y2="{height}" stroke="#9ca3af" stroke-width="1" stroke-dasharray="3 3"/><rect x="{}" y="8" width="150" height="{}" rx="4" fill="#f3f4f6" stroke="#6b7280"/><text x="{x}" y="28" text-anchor="middle" font-weight="bold" fill="#111827">{role}</text><text x="{x}" y="46" text-anchor="middle" fill="#111827">{}</text>"##,
            x - 75,
            HEAD_H - 16,
            esc(addr)
        );
    }
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::FlowBuilder;
    use crate::checks::judge;
    use crate::profile::Profile;
    use crate::tls::model::TlsVersion;

    fn draw(f: crate::facts::FlowFacts, client: &str) -> String {
        let j = judge(f, &Profile::builtin());
        let l = Ladder::new(&j.facts, &j.checks, None);
        ladder(&l, client, "10.0.0.1:5062", &j.checks)
    }

    #[test]
    fn one_group_per_rung_in_frame_order_with_the_failing_step_highlighted() {
        let svg = draw(
            FlowBuilder::new()
                .client_hello(4, TlsVersion::TLS12, &[0x009c])
                .alert(Role::Server, 5, 2, 40)
                .build(),
            "10.0.0.2:49152",
        );
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        let frames: Vec<&str> = svg
            .split(r#"<g class="rung" data-frame=""#)
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(frames, vec!["1", "4", "5"]);
        assert_eq!(svg.matches(r#"class="highlight""#).count(), 1);
        let alert = svg.find("Alert fatal handshake_failure").unwrap();
        let highlight = svg.find(r#"class="highlight""#).unwrap();
        let note = svg.find(r#"class="note note-fail""#).unwrap();
        assert!(highlight < alert && alert < note, "{svg}");
        assert!(svg.contains("✗ handshake: "));
        assert!(svg.contains("Remedy: "));
    }

    #[test]
    fn addresses_and_labels_are_escaped() {
        let svg = draw(FlowBuilder::new().federation_ok().build(), "<a&b>");
        assert!(svg.contains("&lt;a&amp;b&gt;"));
        assert!(!svg.contains("<a&b>"));
    }
}
