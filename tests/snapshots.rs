//! Snapshot tests: the exact JSON, Markdown and table output for a few of
//! the project's captures, so a change of shape is a visible diff in review.
//! `TLSAUDIT_UPDATE_SNAPSHOTS=1 cargo test snapshots` rewrites them.

use crate::util::{root, tlsaudit};

const CN_ARGS: [&str; 4] = [
    "--server-cn",
    "imp.example.com",
    "--client-cn",
    "ocs.example.com",
];

fn check_snapshot(name: &str, args: &[&str]) {
    let mut argv = vec!["check", "-q"];
    argv.extend_from_slice(args);
    let out = tlsaudit(&argv);
    let got = String::from_utf8(out.stdout).expect("utf-8 report");
    let path = root().join("tests/snapshots").join(name);
    if std::env::var("TLSAUDIT_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}: run with TLSAUDIT_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n  got:  {:?}\n  want: {:?}\n(rerun with TLSAUDIT_UPDATE_SNAPSHOTS=1 if the change is intended)",
            first + 1,
            got.lines().nth(first),
            want.lines().nth(first)
        );
    }
}

#[test]
fn json_report_of_several_flows_matches_its_snapshot() {
    let mut args = vec!["--format", "json"];
    args.extend(CN_ARGS);
    args.push("captures/several-flows.pcap");
    check_snapshot("several-flows.json", &args);
}

#[test]
fn markdown_ticket_matches_its_snapshot() {
    let mut args = vec!["--format", "markdown", "--redact"];
    args.extend(CN_ARGS);
    args.extend([
        "captures/client-cert-required-missing.pcap",
        "captures/resumed-session.pcap",
    ]);
    check_snapshot("ticket.md", &args);
}

#[test]
fn mermaid_ladders_match_their_snapshot() {
    // Every flow's ladder: a refused handshake (no shared cipher), a
    // compliant one, empty fragments, and TLS 1.2 with an AEAD suite.
    let mut args = vec!["--format", "markdown", "--diagram", "all"];
    args.extend(CN_ARGS);
    args.extend([
        "captures/no-shared-cipher.pcap",
        "captures/several-flows.pcap",
    ]);
    check_snapshot("ladders.md", &args);
}

#[test]
fn table_matches_its_snapshot() {
    let mut args = vec!["--format", "table"];
    args.extend(CN_ARGS);
    args.extend([
        "captures/several-flows.pcap",
        "captures/tls13.pcap",
        "captures/cleartext-sip.pcap",
    ]);
    check_snapshot("table.txt", &args);
}
