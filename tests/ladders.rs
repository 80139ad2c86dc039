//! Handshake ladders from the command line, on shipped captures: the
//! Mermaid diagram of the Markdown ticket (`--diagram`) and the HTML
//! report (`--format html -o`), self-contained, over several captures.

use crate::util::tlsaudit;

/// The Mermaid blocks of a Markdown report.
fn mermaid_blocks(md: &str) -> Vec<&str> {
    md.split("```mermaid\n")
        .skip(1)
        .map(|b| &b[..b.find("```").expect("block closed")])
        .collect()
}

fn markdown(args: &[&str]) -> String {
    let mut argv = vec!["check", "-q", "--format", "markdown"];
    argv.extend_from_slice(args);
    let out = tlsaudit(&argv);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8 report")
}

#[test]
fn failed_handshake_ticket_shows_the_ladder_with_the_failing_step() {
    let md = markdown(&["captures/no-shared-cipher.pcap"]);
    let blocks = mermaid_blocks(&md);
    assert_eq!(blocks.len(), 1, "{md}");
    let lines: Vec<&str> = blocks[0].lines().map(str::trim).collect();
    assert_eq!(lines[0], "sequenceDiagram");
    assert!(lines[1].starts_with("participant C as client 127.0.0.1:"));
    assert_eq!(lines[2], "participant S as server 127.0.0.1:5062");
    // Who said what, in order, with frames: the server refuses the ClientHello.
    let hello = lines
        .iter()
        .position(|l| l.starts_with("C->>S: ClientHello (up to TLSv1.0, 3 suites) [frame 4, +"))
        .expect("ClientHello arrow");
    let alert = lines
        .iter()
        .position(|l| l.starts_with("S-xC: Alert fatal handshake_failure [frame 6, +"))
        .expect("alert arrow");
    assert!(hello < alert);
    // The failing step: highlighted, with the check and its remedy.
    assert_eq!(lines[alert - 1], "rect rgb(255, 221, 221)");
    assert!(lines[alert + 1].starts_with("Note over C,S: ✗ handshake: The handshake failed"));
    assert!(lines[alert + 1].contains("Remedy: On OCS"));
    // The section of the flow carries it, after the checks.
    let section = md.find("### #1:").expect("flow section");
    assert!(md.find("```mermaid").unwrap() > section);
}

#[test]
fn diagram_option_picks_the_flows_that_get_a_ladder() {
    let caps = ["captures/several-flows.pcap"];
    let cn = [
        "--server-cn",
        "imp.example.com",
        "--client-cn",
        "ocs.example.com",
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = extra.to_vec();
        a.extend(cn);
        a.extend(caps);
        mermaid_blocks(&markdown(&a)).len()
    };
    // One flow passes and two fail.
    assert_eq!(with(&[]), 2, "default: failing and unknown flows");
    assert_eq!(with(&["--diagram", "failing"]), 2);
    assert_eq!(with(&["--diagram", "all"]), 3);
    assert_eq!(with(&["--diagram", "none"]), 0);
}

#[test]
fn redacted_ladders_show_tokens_not_addresses() {
    let md = markdown(&["--redact", "captures/no-shared-cipher.pcap"]);
    let block = mermaid_blocks(&md)[0];
    assert!(block.contains("participant C as client host-1:"), "{block}");
    assert!(!md.contains("127.0.0.1"), "address leaked");
}

#[test]
fn html_of_several_captures_is_one_self_contained_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.html");
    let path_arg = path.to_str().expect("utf-8 temp path");
    let out = tlsaudit(&[
        "check",
        "-q",
        "--format",
        "html",
        "-o",
        path_arg,
        "captures/no-shared-cipher.pcap",
        "captures/several-flows.pcap",
        "captures/tls13.pcap",
        "captures/ipv6-compliant-mtls.pcap",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "the report went to the file");
    let html = std::fs::read_to_string(&path).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Nothing is fetched from anywhere: no script, stylesheet, image or
    // font reference, and the browser is told so.
    assert!(html.contains("default-src 'none'"));
    let page = html.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
    for outside in ["<script", "<link", "<img", "src=", "url(", "@import", "//"] {
        assert!(!page.contains(outside), "{outside:?} in the page");
    }
    // Four inputs with their SHA-256, one row and one ladder per flow.
    assert_eq!(html.matches("<td class=\"mono\">captures/").count(), 4);
    assert!(
        !html.contains("<td class=\"mono\">-</td></tr>"),
        "every input hashed"
    );
    let rows = html.matches("<tr class=\"flow v-").count();
    assert!(rows >= 6, "{rows} flows");
    assert_eq!(html.matches("<svg class=\"ladder\"").count(), rows);
    assert!(html.contains("[::1]:5062"), "IPv6 endpoints shown");
}
