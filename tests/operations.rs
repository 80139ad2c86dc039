//! Operations extras: the README shows the alert rules CI loads into
//! Prometheus, and the completion / man page commands work as documented.

use crate::util::{root, tlsaudit};

#[test]
fn readme_shows_the_shipped_alert_rules_verbatim() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let rules = std::fs::read_to_string(root().join("contrib/prometheus/tlsaudit-alerts.yml"))
        .expect("rules");
    // The README indents the file by two spaces inside a list item.
    let indented: String = rules
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("  {l}\n")
            }
        })
        .collect();
    assert!(
        readme.contains(&indented),
        "README and contrib/prometheus/tlsaudit-alerts.yml differ"
    );
}

#[test]
fn completions_and_man_page_commands_print_what_the_readme_installs() {
    let out = tlsaudit(&["completions", "bash"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("complete -F _tlsaudit"), "{text}");
    let out = tlsaudit(&["man"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".TH tlsaudit 1"), "{text}");
    let out = tlsaudit(&["completions", "nosuchshell"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn write_rotation_flags_need_write() {
    let out = tlsaudit(&["live", "-i", "lo", "--write-max-mib", "10"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--write"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
