//! `tlsaudit` binary: parse the command line, resolve it into a plan, run
//! the engine, map the outcome to the exit code (0 pass, 1 fail, 2 error,
//! 3 unknown with --strict). The only user of `anyhow`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use tlsaudit::checks;
use tlsaudit::cli::args::{Args, Command};
use tlsaudit::cli::plan::Plan;
use tlsaudit::engine::{self, EngineOptions, InputFacts};
use tlsaudit::report::{InputReport, Reporter, Totals};

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Check(c) => run_check(&c.common, &c.inputs),
        Command::Live(l) => run_live(&l),
        Command::Profile(_) => {
            print!("{}", tlsaudit::profile::default_profile_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions(c) => {
            tlsaudit::cli::docs::write_completions(c.shell, &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => tlsaudit::cli::docs::write_man_page(&mut io::stdout().lock())
            .map(|()| ExitCode::SUCCESS)
            .context("writing the man page"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("tlsaudit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<tlsaudit::report::RenderError>()
                .is_some_and(|r| matches!(r, tlsaudit::report::RenderError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
    })
}

/// Where the report goes.
pub fn open_output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("{}: cannot create output file", p.display())
            })?))
        }
        None => Box::new(BufWriter::new(io::stdout())),
    })
}

/// SIGHUP in `live`: the report file again, appended to (a new file when
/// logrotate moved the old one away).
fn reopen_output(path: &Path) -> anyhow::Result<Box<dyn Write + Send>> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot re-open output file", path.display()))?;
    Ok(Box::new(BufWriter::new(f)))
}

/// The exit code of the contract for a run's totals.
pub fn exit_code(totals: &Totals, input_failed: bool, strict: bool) -> ExitCode {
    if input_failed {
        ExitCode::from(2)
    } else if totals.fail > 0 {
        ExitCode::from(1)
    } else if strict && totals.unknown > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// One finished input, in the report's terms.
pub fn input_report(
    path: &Path,
    facts: Option<&InputFacts>,
    error: Option<String>,
    hash: bool,
) -> InputReport {
    let mut r = InputReport {
        path: path.display().to_string(),
        error,
        ..InputReport::default()
    };
    if let Some(f) = facts {
        r.format = f
            .stats
            .format
            .map(|x| x.name().to_string())
            .unwrap_or_default();
        if f.stats.gzip {
            r.format.push_str("+gzip");
        }
        r.link_types = f
            .stats
            .link_types
            .iter()
            .map(|l| l.name().into_owned())
            .collect();
        r.packets = f.stats.packets;
        r.bytes = f.stats.bytes;
        for w in &f.stats.warnings {
            r.warnings.push(format!("byte {}: {}", w.offset, w.message));
        }
        r.warnings.extend(f.decode.warnings());
        if f.evicted_full > 0 {
            r.warnings.push(format!(
                "{} flow(s) finished early because the flow table was full (--max-flows)",
                f.evicted_full
            ));
        }
        if f.flows.is_empty() && f.flows_reported == 0 {
            r.warnings
                .push("no TCP flow on the audited port(s) in this input".into());
        }
    }
    if hash && path.as_os_str() != "-" {
        // Taken while reading; a second pass only when reading stopped
        // before the end of the file (damage).
        r.sha256 = facts
            .and_then(|f| f.stats.sha256.clone())
            .or_else(|| sha256_file(path).ok());
    }
    r
}

fn sha256_file(path: &Path) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

fn progress_bar(plan: &Plan, path: &Path) -> Option<indicatif::ProgressBar> {
    if !plan.progress || path.as_os_str() == "-" {
        return None;
    }
    let len = std::fs::metadata(path).ok()?.len();
    // Below this, reading takes well under a second: no bar.
    if len < 64 << 20 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .ok()?
        .progress_chars("=> "),
    );
    bar.set_prefix(path.display().to_string());
    Some(bar)
}

/// Flows queued per input between its reader and the report writer.
const FLOW_QUEUE: usize = 1024;

/// What an input's pipeline sends to the report writer.
enum InputEvent {
    Flow(Box<tlsaudit::facts::FlowFacts>),
    Done(Box<Result<InputFacts, engine::EngineError>>),
}

fn run_check(
    common: &tlsaudit::cli::args::CommonArgs,
    inputs: &[std::path::PathBuf],
) -> anyhow::Result<ExitCode> {
    let plan = Plan::for_check(common, inputs)?;
    let out = open_output(plan.output.as_deref())?;
    let mut reporter =
        Reporter::new(plan.report.clone(), &plan.profile, out).with_diagrams(plan.diagrams);
    // Both ticket formats name each input by its SHA-256.
    let markdown = matches!(
        plan.report.format,
        tlsaudit::report::Format::Markdown | tlsaudit::report::Format::Html
    );
    let echo_warnings = !plan.quiet
        && (plan.output.is_some()
            || matches!(
                plan.report.format,
                tlsaudit::report::Format::Json
                    | tlsaudit::report::Format::Jsonl
                    | tlsaudit::report::Format::Ecs
            ));
    let mut input_failed = false;

    // Several inputs: one single-threaded pipeline per input, inputs in
    // parallel on the pool, started in input order (FIFO). One input: the
    // sharded engine uses every core. Stdin (`-`) is an input like a file,
    // through the same ordered path, so a finished report is the same
    // whatever the source (spec §8); reporting flows as soon as they are
    // judged is for `live` only. Each file streams its flows, in
    // first-frame order, through a bounded channel; this thread writes them
    // input by input, so the report is in input order and a later file
    // waits (blocked, holding little) until the earlier ones are written.
    let per_input_opts = EngineOptions {
        threads: if plan.inputs.len() > 1 {
            1
        } else {
            plan.engine.threads
        },
        // The ticket names each input by its SHA-256: take it while reading.
        hash_input: markdown,
        ..plan.engine.clone()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.engine.threads)
        .build()
        .context("starting worker threads")?;
    let mut senders = Vec::with_capacity(plan.inputs.len());
    let mut receivers = Vec::with_capacity(plan.inputs.len());
    for _ in &plan.inputs {
        let (tx, rx) = crossbeam_channel::bounded::<InputEvent>(FLOW_QUEUE);
        senders.push(tx);
        receivers.push(rx);
    }
    pool.in_place_scope_fifo(|scope| -> anyhow::Result<()> {
        for ((i, path), tx) in plan.inputs.iter().enumerate().zip(senders) {
            let plan = &plan;
            let opts = &per_input_opts;
            scope.spawn_fifo(move |_| {
                let bar = progress_bar(plan, path);
                let r = engine::stream_file(
                    path,
                    i,
                    opts,
                    &|pos| {
                        if let Some(b) = &bar {
                            b.set_position(pos);
                        }
                    },
                    &mut |f| {
                        let _ = tx.send(InputEvent::Flow(Box::new(f)));
                    },
                );
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                let _ = tx.send(InputEvent::Done(Box::new(r)));
            });
        }
        // A closed pipe (`| head`) ends the run at once: no point reading
        // the remaining inputs (exit 0, like other Unix filters).
        let result = (|| -> anyhow::Result<()> {
            for (path, rx) in plan.inputs.iter().zip(&receivers) {
                loop {
                    match rx.recv() {
                        Ok(InputEvent::Flow(f)) => {
                            reporter.flow(checks::judge(*f, &plan.profile))?;
                        }
                        Ok(InputEvent::Done(r)) => {
                            match *r {
                                Ok(facts) => {
                                    let rep = input_report(path, Some(&facts), None, markdown);
                                    if plan.verbose > 0 {
                                        eprintln!(
                                            "tlsaudit: {}: {} frames, {} TCP segments, {} on audited ports, {} flows",
                                            path.display(),
                                            facts.stats.packets,
                                            facts.decode.segments,
                                            facts.decode.audited_segments,
                                            facts.flows_reported
                                        );
                                        for (reason, (n, first)) in &facts.decode.by_reason {
                                            eprintln!("tlsaudit:   {n} frames skipped: {reason} (first: frame {first})");
                                        }
                                    }
                                    // Table and Markdown on the terminal list the
                                    // warnings themselves; say them on stderr only
                                    // when the report is a file or machine-readable.
                                    if echo_warnings {
                                        for w in &rep.warnings {
                                            eprintln!("tlsaudit: warning: {}: {w}", path.display());
                                        }
                                    }
                                    reporter.input(rep)?;
                                }
                                Err(e) => {
                                    eprintln!("tlsaudit: {e}");
                                    input_failed = true;
                                    reporter.input(input_report(path, None, Some(e.to_string()), false))?;
                                }
                            }
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = &result {
            if is_broken_pipe(e) {
                std::process::exit(0);
            }
        }
        // Unblock producers still sending (after an error) so the scope ends.
        drop(receivers);
        result
    })?;
    let totals = reporter.finish()?;
    if totals.flows == 0 && !input_failed && !plan.quiet {
        eprintln!(
            "tlsaudit: warning: no TCP flow on port(s) {:?} found; use --port N or --any-port",
            plan.engine.filter.ports
        );
    }
    Ok(exit_code(&totals, input_failed, plan.strict))
}

fn run_live(args: &tlsaudit::cli::args::LiveArgs) -> anyhow::Result<ExitCode> {
    use tlsaudit::capture::live::LiveOptions;
    use tlsaudit::engine::live::{self as live_engine, LiveEvent, LiveRun};

    let plan = Plan::from_common(&args.common, true)?;
    let run = LiveRun {
        capture: LiveOptions {
            iface: args.iface.clone(),
            ports: plan.engine.filter.ports.clone(),
            any_port: plan.engine.filter.any_port,
            promiscuous: args.promisc,
            ring_bytes: args.ring_mib.clamp(1, 1024) << 20,
            block_timeout_ms: 50,
        },
        duration: args.duration.map(std::time::Duration::from_secs),
        tick_every: (args.summary_interval > 0)
            .then(|| std::time::Duration::from_secs(args.summary_interval)),
        write: args.write.clone(),
        write_max_bytes: args.write_max_mib.map(|m| m.saturating_mul(1 << 20)),
        write_files: args
            .write_files
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let out = open_output(plan.output.as_deref())?;
    let mut reporter =
        Reporter::new(plan.report.clone(), &plan.profile, out).with_diagrams(plan.diagrams);
    // Started before the capture: a port already taken is an option error (exit 2).
    let metrics = std::sync::Arc::new(tlsaudit::report::metrics::Metrics::new());
    let _metrics_server = match &args.metrics {
        Some(addr) => {
            let server = tlsaudit::report::metrics::MetricsServer::start(
                addr,
                std::sync::Arc::clone(&metrics),
            )?;
            if !plan.quiet {
                eprintln!("tlsaudit: metrics on http://{}/metrics", server.addr());
            }
            reporter = reporter.with_metrics(std::sync::Arc::clone(&metrics));
            Some(server)
        }
        None => None,
    };
    let stats = live_engine::run::<anyhow::Error>(&run, &plan.engine, &mut |ev| {
        match ev {
            LiveEvent::Started => {
                if !plan.quiet {
                    eprintln!(
                        "tlsaudit: watching {} for TCP port(s) {:?}; Ctrl-C to stop",
                        args.iface, plan.engine.filter.ports
                    );
                }
            }
            LiveEvent::Flow(f) => reporter.flow(checks::judge(*f, &plan.profile))?,
            LiveEvent::Update(f) => reporter.flow_update(checks::judge(*f, &plan.profile))?,
            LiveEvent::Tick(_) => reporter.progress_summary()?,
            LiveEvent::Dropped(n) => reporter.warning(&format!(
                "the kernel dropped {n} packet(s): verdicts of flows in that window may be unknown (try --ring-mib)"
            ))?,
            LiveEvent::Reopen => {
                if let Some(path) = plan.output.as_deref() {
                    reporter.replace_output(reopen_output(path)?)?;
                }
            }
            LiveEvent::Stats { stats, open_flows } => metrics.capture(
                stats.packets,
                stats.bytes,
                stats.dropped.unwrap_or(0),
                open_flows,
            ),
        }
        Ok(())
    });
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            if let Some(tlsaudit::engine::EngineError::Capture(c)) =
                e.downcast_ref::<tlsaudit::engine::EngineError>()
            {
                eprintln!("tlsaudit: {c}");
                return Ok(ExitCode::from(2));
            }
            return Err(e);
        }
    };
    let input = InputReport {
        path: format!("live:{}", args.iface),
        format: "live".into(),
        link_types: stats
            .link_types
            .iter()
            .map(|l| l.name().into_owned())
            .collect(),
        packets: stats.packets,
        bytes: stats.bytes,
        warnings: stats
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .chain(
                stats
                    .dropped
                    .filter(|d| *d > 0)
                    .map(|d| format!("kernel dropped {d} packet(s)")),
            )
            .collect(),
        sha256: None,
        error: None,
    };
    reporter.input(input)?;
    let totals = reporter.finish()?;
    if totals.flows == 0 && !plan.quiet {
        eprintln!(
            "tlsaudit: warning: no TCP flow on port(s) {:?} was seen on {}",
            plan.engine.filter.ports, args.iface
        );
    }
    Ok(exit_code(&totals, false, plan.strict))
}
