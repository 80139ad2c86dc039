//! The pipeline's layers import downward only (style R6): a stage never
//! names a stage after it. Checked on the sources, so a violation fails CI.

use std::path::Path;

use crate::util::root;

/// Stages in pipeline order; each may use only those before it.
const ORDER: &[&str] = &[
    "capture", "decode", "flow", "tls", "facts", "profile", "checks", "report", "engine", "cli",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_stage_imports_a_later_stage() {
    let mut violations = Vec::new();
    for (i, stage) in ORDER.iter().enumerate() {
        let mut files = Vec::new();
        sources(&root().join("src").join(stage), &mut files);
        assert!(!files.is_empty(), "src/{stage} has no sources");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for later in &ORDER[i + 1..] {
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    if code.contains(&format!("crate::{later}")) {
                        violations.push(format!(
                            "{}:{}: {stage} uses {later}",
                            f.strip_prefix(root()).unwrap().display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}
