//! The `check` run: every input of a [`Plan`] through the pipeline, each
//! flow judged and written to the report in input order, then the totals.
//!
//! Owns: [`run`], [`CheckOutcome`], [`RunError`]. An input that cannot be
//! read is not an error of the run: it is listed in the report with its
//! error and makes [`CheckOutcome::Finished`] say `input_failed`.
//!
//! Threads: `-j 1` is one thread: each input is read, judged and written
//! in turn on the calling thread, a plain loop with no channel (R7). With
//! `-j N`, several inputs run one single-threaded pipeline each, in
//! parallel on a pool of `N`, started in input order (FIFO); one input
//! uses the sharded engine on `N` workers. Each input streams its flows, in
//! first-frame order, through a bounded channel; the calling thread writes
//! them input by input, so the report is in input order and a later input
//! waits (blocked, holding little) until the earlier ones are written.
//! Stdin (`-`) is an input like a file, through the same ordered path, so
//! a finished report is the same whatever the source (spec §8); reporting
//! flows as soon as they are judged is for `live` only.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{stream, EngineError, EngineOptions, InputFacts, Plan};
use crate::checks;
use crate::facts::FlowFacts;
use crate::report::{Format, InputReport, RenderError, Reporter, Totals};

/// Flows queued per input between its reader and the report writer.
const FLOW_QUEUE: usize = 1024;

/// How a `check` run ended (the binary maps it to the exit code).
#[derive(Debug)]
pub enum CheckOutcome {
    /// Every input was read and the report written.
    Finished {
        totals: Totals,
        /// An input could not be read (it is listed in the report).
        input_failed: bool,
    },
    /// The report's reader went away (`| head`): the run stopped at once,
    /// which, as for other Unix filters, is not a failure.
    BrokenPipe,
}

/// What stops a `check` run before its report is complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("starting worker threads")]
    Threads(#[source] rayon::ThreadPoolBuildError),
    #[error(transparent)]
    Report(#[from] RenderError),
}

/// What an input's pipeline sends to the report writer.
enum InputEvent {
    Flow(Box<FlowFacts>),
    Done(Box<Result<InputFacts, EngineError>>),
}

/// Runs `check` as `plan` says, writing the report to `out`.
///
/// `-j 1` is one thread: each input is read, judged and written on the
/// calling thread, a plain loop with no channel (R7), so `-j 1` uses one
/// core. Otherwise readers run on their own threads (see the module doc).
/// When the run returns early (broken pipe, report error) reading stops:
/// the inputs not yet started are skipped and the one being read stops
/// within a buffer.
pub fn run(plan: &Plan, out: Box<dyn Write + Send>) -> Result<CheckOutcome, RunError> {
    let mut reporter =
        Reporter::new(plan.report.clone(), &plan.profile, out).with_diagrams(plan.diagrams);
    // Both ticket formats name each input by its SHA-256.
    let tickets = matches!(plan.report.format, Format::Markdown | Format::Html);
    let stop = Arc::new(AtomicBool::new(false));
    let opts = EngineOptions {
        threads: if plan.inputs.len() > 1 {
            1
        } else {
            plan.engine.threads
        },
        // Taken while reading, not by a second pass.
        hash_input: tickets,
        stop: Some(Arc::clone(&stop)),
        ..plan.engine.clone()
    };
    let written = if plan.engine.threads <= 1 {
        write_in_this_thread(plan, &opts, &mut reporter, tickets)
    } else {
        write_from_readers(plan, opts, &mut reporter, tickets)?
    };
    let totals = written.and_then(|input_failed| Ok((reporter.finish()?, input_failed)));
    let (totals, input_failed) = match totals {
        Ok(t) => t,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            // A closed pipe ends the run at once: no point reading the
            // remaining inputs.
            return match e {
                RenderError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe => {
                    Ok(CheckOutcome::BrokenPipe)
                }
                e => Err(e.into()),
            };
        }
    };
    if totals.flows == 0 && !input_failed && !plan.quiet {
        eprintln!(
            "tlsaudit: warning: no TCP flow on port(s) {:?} found; use --port N or --any-port",
            plan.engine.filter.ports
        );
    }
    Ok(CheckOutcome::Finished {
        totals,
        input_failed,
    })
}

/// `-j 1`: reads, judges and writes every input in turn on this thread;
/// true when an input could not be read. The first report error stops the
/// reading and is returned.
fn write_in_this_thread(
    plan: &Plan,
    opts: &EngineOptions,
    reporter: &mut Reporter,
    hash: bool,
) -> Result<bool, RenderError> {
    let mut input_failed = false;
    for (i, path) in plan.inputs.iter().enumerate() {
        let bar = progress_bar(plan.progress, path);
        let mut failed: Option<RenderError> = None;
        let r = stream(
            path,
            i,
            opts,
            &|pos| {
                if let Some(b) = &bar {
                    b.set_position(pos);
                }
            },
            &mut |f| {
                if failed.is_some() {
                    return;
                }
                if let Err(e) = reporter.flow(checks::judge(f, &plan.profile)) {
                    failed = Some(e);
                    if let Some(stop) = &opts.stop {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            },
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(e) = failed {
            return Err(e);
        }
        input_failed |= write_input(plan, path, r, reporter, hash)?;
    }
    Ok(input_failed)
}

/// `-j N`: reads the inputs on a pool of `N` threads (one input: the
/// sharded engine on `N` workers) while this thread judges and writes
/// their flows, input by input; true when an input could not be read.
fn write_from_readers(
    plan: &Plan,
    opts: EngineOptions,
    reporter: &mut Reporter,
    hash: bool,
) -> Result<Result<bool, RenderError>, RunError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.engine.threads)
        .build()
        .map_err(RunError::Threads)?;
    let opts = Arc::new(opts);
    let mut receivers = Vec::with_capacity(plan.inputs.len());
    for (i, path) in plan.inputs.iter().enumerate() {
        let (tx, rx) = crossbeam_channel::bounded::<InputEvent>(FLOW_QUEUE);
        receivers.push(rx);
        let (path, opts) = (path.clone(), Arc::clone(&opts));
        let progress = plan.progress;
        pool.spawn_fifo(move || {
            if opts.stopped() {
                return;
            }
            let bar = progress_bar(progress, &path);
            let r = stream(
                &path,
                i,
                &opts,
                &|pos| {
                    if let Some(b) = &bar {
                        b.set_position(pos);
                    }
                },
                &mut |f| {
                    let _ = tx.send(InputEvent::Flow(f));
                },
            );
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let _ = tx.send(InputEvent::Done(Box::new(r)));
        });
    }
    Ok(write_inputs(plan, &receivers, reporter, hash))
}

/// Writes each input's flows, then the input itself, in input order; true
/// when an input could not be read.
fn write_inputs(
    plan: &Plan,
    receivers: &[crossbeam_channel::Receiver<InputEvent>],
    reporter: &mut Reporter,
    hash: bool,
) -> Result<bool, RenderError> {
    let mut input_failed = false;
    for (path, rx) in plan.inputs.iter().zip(receivers) {
        while let Ok(event) = rx.recv() {
            match event {
                InputEvent::Flow(f) => reporter.flow(checks::judge(*f, &plan.profile))?,
                InputEvent::Done(r) => {
                    input_failed |= write_input(plan, path, *r, reporter, hash)?;
                    break;
                }
            }
        }
    }
    Ok(input_failed)
}

/// Writes a finished input (its counts and warnings, or why it could not
/// be read) once its flows are written; true when it could not be read.
fn write_input(
    plan: &Plan,
    path: &Path,
    read: Result<InputFacts, EngineError>,
    reporter: &mut Reporter,
    hash: bool,
) -> Result<bool, RenderError> {
    // Table and Markdown on the terminal list the warnings themselves; say
    // them on stderr only when the report is a file or machine-readable.
    let echo_warnings = !plan.quiet
        && (plan.output.is_some()
            || matches!(
                plan.report.format,
                Format::Json | Format::Jsonl | Format::Ecs
            ));
    match read {
        Ok(facts) => {
            let rep = input_report(path, Some(&facts), None, hash);
            if plan.verbose > 0 {
                say_counts(path, &facts);
            }
            if echo_warnings {
                for w in &rep.warnings {
                    eprintln!("tlsaudit: warning: {}: {w}", path.display());
                }
            }
            reporter.input(rep)?;
            Ok(false)
        }
        Err(e) => {
            eprintln!("tlsaudit: {e}");
            reporter.input(input_report(path, None, Some(e.to_string()), false))?;
            Ok(true)
        }
    }
}

/// `-v`: what the input held and why frames were skipped.
fn say_counts(path: &Path, facts: &InputFacts) {
    eprintln!(
        "tlsaudit: {}: {} frames, {} TCP segments, {} on audited ports, {} flows",
        path.display(),
        facts.stats.packets,
        facts.decode.segments,
        facts.decode.audited_segments,
        facts.flows_reported
    );
    for (counter, n, first) in facts.decode.by_reason() {
        eprintln!(
            "tlsaudit:   {n} frames skipped: {} (first: frame {first})",
            counter.label()
        );
    }
}

/// One finished input, in the report's terms.
fn input_report(
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

fn progress_bar(wanted: bool, path: &Path) -> Option<indicatif::ProgressBar> {
    if !wanted || path.as_os_str() == "-" {
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
