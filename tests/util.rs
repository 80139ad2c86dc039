//! Shared helpers: locate the corpus and the built binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The third-party corpus (`$TLSAUDIT_CORPUS`, default `../shared/corpus`).
/// `None` (with a message) when absent; panics when absent under `CI=true`,
/// so that CI can never pass by skipping.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TLSAUDIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    if dir.join("facts").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{test}: corpus not found at {} and CI=true: the corpus tests must run in CI",
            dir.display()
        );
    }
    eprintln!(
        "{test}: skipped: corpus not found at {} (set TLSAUDIT_CORPUS to run it)",
        dir.display()
    );
    None
}

/// Every capture of the corpus with its facts JSON, sorted by name.
pub fn corpus_captures(dir: &std::path::Path) -> Vec<(PathBuf, serde_json::Value)> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir.join("facts"))
        .expect("facts dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    for facts in names {
        let name = facts.file_stem().unwrap().to_string_lossy().to_string();
        let capture = dir.join(&name);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&facts).unwrap()).unwrap();
        out.push((capture, json));
    }
    out
}

/// Run the built `tlsaudit` binary.
pub fn tlsaudit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tlsaudit")
}
