//! A flow's [`Ladder`] as a Mermaid `sequenceDiagram` for the Markdown
//! ticket: GitHub, GitLab and most ticket tools draw it; where they do
//! not, the text still reads top to bottom as who sent what.
//!
//! One line per rung: `C->>S: ClientHello (…) [frame 4, +0.004000 s]`.
//! Arrows: handshake `->>`, ChangeCipherSpec and application data `-->>`,
//! fatal alerts `-x`, RST `--x`; application data both ways is a `Note over`
//! both lifelines. The step a failing check points at sits in a red `rect`
//! (yellow for unknown) followed by a `Note` with the check, its reason and
//! remedy. Text is escaped with Mermaid's `#code;` entities where it would
//! end a statement or start one (`;`, `#`, `<`, `>`) or the Markdown fence
//! (backticks), and long notes are
//! broken with `<br/>` so the diagram stays narrow.

use std::fmt::Write as _;

use crate::checks::{Checks, Verdict};
use crate::facts::Role;

use super::ladder::{frames_label, mark_note, wrap_words, Ladder, Mark, Rung, RungKind};

/// Characters per line of a note before it is broken with `<br/>`.
const NOTE_WIDTH: usize = 60;

/// Mermaid text: one line, no statement separators or entity starts.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            // A run of backticks in a CN would close the Markdown fence.
            '`' => out.push_str("#96;"),
            '\r' | '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Note text broken into lines of about [`NOTE_WIDTH`] characters.
fn wrapped(s: &str) -> String {
    wrap_words(s, NOTE_WIDTH)
        .iter()
        .map(|l| text(l))
        .collect::<Vec<_>>()
        .join("<br/>")
}

fn lifeline(r: Role) -> &'static str {
    match r {
        Role::Client => "C",
        Role::Server => "S",
    }
}

fn arrow(kind: RungKind) -> &'static str {
    match kind {
        RungKind::Handshake | RungKind::Encrypted | RungKind::Tcp => "->>",
        RungKind::ChangeCipherSpec | RungKind::AppData | RungKind::Conversation => "-->>",
        RungKind::Alert { fatal: true } | RungKind::NotTls => "-x",
        // Warnings and encrypted alerts (mostly close_notify) end nothing.
        RungKind::Alert { fatal: false } => "->>",
        RungKind::Reset => "--x",
    }
}

fn stamp(r: &Rung) -> String {
    match r.at {
        Some(at) => format!("[{}, {at}]", frames_label(r)),
        None => format!("[{}]", frames_label(r)),
    }
}

/// Background of the highlighted step (Mermaid `rect`).
fn highlight(v: Verdict) -> &'static str {
    if v == Verdict::Fail {
        "rgb(255, 221, 221)"
    } else {
        "rgb(255, 243, 205)"
    }
}

/// The diagram, fenced as ```` ```mermaid ````, ending with a newline.
pub fn diagram(ladder: &Ladder, client: &str, server: &str, checks: &Checks) -> String {
    let mut out = String::new();
    out.push_str("```mermaid\nsequenceDiagram\n");
    let _ = writeln!(out, "    participant C as client {}", text(client));
    let _ = writeln!(out, "    participant S as server {}", text(server));
    if ladder.midstream {
        out.push_str("    Note over C,S: capture starts mid-connection (no SYN seen)\n");
    }
    let mut shown = Vec::new();
    let mut notes = |out: &mut String, marks: &mut dyn Iterator<Item = &Mark>| {
        for m in marks {
            if let Some(n) = mark_note(m, checks, &mut shown) {
                let _ = writeln!(out, "    Note over C,S: {}", wrapped(&n));
            }
        }
    };
    for (i, r) in ladder.rungs.iter().enumerate() {
        let marked = ladder.is_marked(i);
        if let Some(v) = marked {
            let _ = writeln!(out, "    rect {}", highlight(v));
        }
        let (from, to) = (lifeline(r.from), lifeline(r.from.peer()));
        if r.kind == RungKind::Conversation {
            let _ = writeln!(out, "    Note over C,S: {} {}", text(&r.label), stamp(r));
        } else {
            let _ = writeln!(
                out,
                "    {from}{}{to}: {} {}",
                arrow(r.kind),
                text(&r.label),
                stamp(r)
            );
        }
        if marked.is_some() {
            notes(&mut out, &mut ladder.marks_after(i));
            out.push_str("    end\n");
        }
    }
    if ladder.dropped > 0 {
        let _ = writeln!(
            out,
            "    Note over C,S: {} later step(s) not kept (per-flow limit)",
            ladder.dropped
        );
    }
    notes(&mut out, &mut ladder.marks_at_end());
    out.push_str("```\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::FlowBuilder;
    use crate::checks::judge;
    use crate::flow::CloseKind;
    use crate::profile::Profile;
    use crate::tls::model::TlsVersion;

    fn render(f: crate::facts::FlowFacts) -> String {
        let j = judge(f, &Profile::builtin());
        let l = Ladder::new(&j.facts, &j.checks, None);
        diagram(&l, "10.0.0.2:49152", "10.0.0.1:5062", &j.checks)
    }

    /// The statement lines between the fence and `end`s, trimmed.
    fn statements(d: &str) -> Vec<&str> {
        d.lines().map(str::trim).collect()
    }

    #[test]
    fn failing_handshake_has_participants_arrows_in_order_and_a_note() {
        let d = render(
            FlowBuilder::new()
                .client_hello(4, TlsVersion::TLS12, &[0x009c])
                .alert(Role::Server, 5, 2, 40)
                .close(Role::Server, 6, CloseKind::Rst)
                .build(),
        );
        let s = statements(&d);
        assert_eq!(s[0], "```mermaid");
        assert_eq!(s[1], "sequenceDiagram");
        assert_eq!(s[2], "participant C as client 10.0.0.2:49152");
        assert_eq!(s[3], "participant S as server 10.0.0.1:5062");
        assert_eq!(s[4], "C->>S: SYN [frame 1, +0.000000 s]");
        assert_eq!(
            s[5],
            "C->>S: ClientHello (up to TLSv1.2, 1 suites) [frame 4, +0.004000 s]"
        );
        assert_eq!(s[6], "rect rgb(255, 221, 221)");
        assert_eq!(
            s[7],
            "S-xC: Alert fatal handshake_failure [frame 5, +0.005000 s]"
        );
        assert!(s[8].starts_with("Note over C,S: ✗ handshake: "), "{d}");
        assert!(d.contains("Remedy: "), "{d}");
        let end = s.iter().position(|l| *l == "end").expect("rect closed");
        assert!(
            s[8..end].iter().all(|l| l.starts_with("Note over C,S: ✗ ")),
            "only failing notes inside the highlight: {d}"
        );
        assert_eq!(s[end + 1], "S--xC: RST [frame 6, +0.006000 s]");
        assert_eq!(s[end + 2], "```");
        assert_eq!(s.len(), end + 3);
    }

    #[test]
    fn passing_flow_has_no_highlight_and_collapses_application_data() {
        let d = render(FlowBuilder::new().federation_ok().build());
        assert!(!d.contains("rect "), "{d}");
        assert!(!d.contains("Note"), "{d}");
        let arrows: Vec<&str> = statements(&d)
            .into_iter()
            .filter(|l| l.contains(": ") && !l.starts_with("participant"))
            .collect();
        assert_eq!(arrows.len(), 14, "{d}");
        assert!(arrows[12].starts_with("C-->>S: Application Data ×5 [frames 10–18, "));
        assert!(arrows[13].starts_with("S-->>C: Application Data ×5 [frames 11–19, "));
    }

    #[test]
    fn midstream_flow_says_where_the_capture_joined() {
        let d = render(
            FlowBuilder::new()
                .midstream()
                .app_data(Role::Client, 20, 1)
                .app_data(Role::Server, 21, 2)
                .build(),
        );
        let s = statements(&d);
        assert_eq!(
            s[4],
            "Note over C,S: capture starts mid-connection (no SYN seen)"
        );
        assert!(
            s[5].starts_with("C-->>S: Application Data [frame 20, +"),
            "{d}"
        );
        assert!(
            s[6].starts_with("S-->>C: Application Data ×2 [frames 21–23, +"),
            "{d}"
        );
        assert!(!d.contains("SYN ["), "no SYN rung: {d}");
    }

    #[test]
    fn text_cannot_end_or_start_a_statement() {
        assert_eq!(text("a;b#c<d>\ne"), "a#59;b#35;c#60;d#62; e");
        assert_eq!(text("```"), "#96;#96;#96;");
        let w = wrapped(&"word ".repeat(40));
        assert!(w.split("<br/>").all(|l| l.chars().count() <= NOTE_WIDTH));
        assert_eq!(w.split("<br/>").count(), 4);
    }
}
