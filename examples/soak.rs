//! Long-running mutation soak: the quick suite of `tests/robustness.rs`
//! with more rounds, more mutants per file, and a seed of your choice.
//!
//! ```text
//! cargo run --release --example soak -- [--rounds N] [--per-file K] [--seed S] [PATH...]
//! ```
//!
//! PATHs are capture files or directories (default: `captures/` and
//! `$TLSAUDIT_CORPUS` or `../shared/corpus`). Round `r` uses seed `S + r`,
//! so a failure is reproduced by rerunning its round. Failing inputs (panic,
//! hang, time or memory bound exceeded) are saved under
//! `target/robustness-failures/`; move them into `captures/fuzz-regressions/`
//! so that `cargo test` replays them. Exits 1 if any input failed.

#[path = "../tests/mutate/mod.rs"]
mod mutate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mutate::rng::Rng;
use mutate::{any_port_options, Base, Tally};

struct Opts {
    rounds: u64,
    per_file: usize,
    seed: u64,
    max_secs: u64,
    max_mib: i64,
    paths: Vec<PathBuf>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        rounds: 10,
        per_file: 200,
        seed: mutate::QUICK_SEED,
        max_secs: 10,
        max_mib: 64,
        paths: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .and_then(|v| v.parse::<u64>().map_err(|e| format!("{name}: {e}")))
        };
        match a.as_str() {
            "--rounds" => o.rounds = val("--rounds")?,
            "--per-file" => o.per_file = val("--per-file")? as usize,
            "--seed" => o.seed = val("--seed")?,
            "--max-secs" => o.max_secs = val("--max-secs")?,
            "--max-mib" => o.max_mib = val("--max-mib")? as i64,
            "-h" | "--help" => {
                return Err("usage: soak [--rounds N] [--per-file K] [--seed S] [--max-secs T] [--max-mib M] [PATH...]".into())
            }
            p => o.paths.push(PathBuf::from(p)),
        }
    }
    if o.paths.is_empty() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        o.paths.push(root.join("captures"));
        o.paths.push(
            std::env::var_os("TLSAUDIT_CORPUS")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("../shared/corpus")),
        );
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut files = Vec::new();
    for p in &o.paths {
        if p.is_dir() {
            // Corpus files may have no extension: take anything with a capture magic.
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                let f = e.path();
                if f.is_dir() {
                    files.extend(mutate::capture_files(&f));
                } else if mutate::has_capture_magic(&f) {
                    files.push(f);
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    files.dedup();
    let bases: Vec<Base> = files
        .iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            Some(Base::new(name, std::fs::read(p).ok()?))
        })
        .collect();
    if bases.is_empty() {
        eprintln!("soak: no capture files found");
        return std::process::ExitCode::from(2);
    }
    eprintln!(
        "soak: {} base files, {} rounds x {} mutants per file",
        bases.len(),
        o.rounds,
        o.per_file
    );
    let started = Instant::now();
    let mut total = Tally::default();
    let max_time = Duration::from_secs(o.max_secs);
    for round in 0..o.rounds {
        let seed = o.seed.wrapping_add(round);
        let mut tally = Tally::default();
        for (i, base) in bases.iter().enumerate() {
            let partner = &bases[(i + 1) % bases.len()];
            let mut rng = Rng::for_name(seed, &base.name);
            for m in base.plan(&mut rng, o.per_file) {
                let name = format!("{}#{m}@{seed:#x}", base.name);
                let bytes: Arc<[u8]> = Arc::from(base.apply(&m, partner));
                let out = mutate::run(&name, bytes.clone(), &any_port_options(1));
                tally.add(&name, &bytes, &out, max_time, o.max_mib << 20);
            }
        }
        eprintln!(
            "soak: round {round} (seed {seed:#x}): {}; {} failures; {:?} elapsed",
            tally.summary(),
            tally.failures.len(),
            started.elapsed()
        );
        total.inputs += tally.inputs;
        if tally.slowest.0 > total.slowest.0 {
            total.slowest = tally.slowest.clone();
        }
        if tally.peak.0 > total.peak.0 {
            total.peak = tally.peak.clone();
        }
        total.failures.extend(tally.failures);
    }
    eprintln!("soak: total: {}", total.summary());
    for f in &total.failures {
        eprintln!("soak: FAILED {f}");
    }
    if total.failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
