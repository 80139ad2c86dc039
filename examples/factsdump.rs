//! Print the facts the engine collects for one capture, one JSON line per
//! flow, in report order. `bench/compare.sh` compares the output of
//! `-j 1` and `-j 2` byte for byte: a thread count must change speed only.
//!
//! ```text
//! cargo run --release --example factsdump -- -j 2 big.pcap > facts-j2.jsonl
//! ```

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use tlsaudit::engine::{self, EngineOptions};

fn main() -> ExitCode {
    let mut threads = 1usize;
    let mut path = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-j" => threads = args.next().and_then(|n| n.parse().ok()).unwrap_or(1),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: factsdump [-j N] FILE");
        return ExitCode::from(2);
    };
    let opts = EngineOptions {
        threads,
        ..EngineOptions::default()
    };
    let facts = match engine::collect(&path, 0, &opts) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("factsdump: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    for f in &facts.flows {
        let line = serde_json::to_string(f).unwrap_or_else(|e| format!("unserialisable: {e}"));
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(2);
        }
    }
    let _ = writeln!(
        out,
        "{{\"packets\":{},\"segments\":{},\"audited_segments\":{}}}",
        facts.stats.packets, facts.decode.segments, facts.decode.audited_segments
    );
    ExitCode::SUCCESS
}
