//! Live mode: capture from an interface until stopped, report each flow
//! when it is judged, evict idle flows so memory stays flat for days.
//!
//! Time: flows expire on capture time; when the link is quiet no packet
//! carries time, so the loop advances capture time from the wall clock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{DecodeCounters, EngineError, EngineOptions, Plan, SessionCache, Worker};
use crate::capture::live::{LiveCapture, LiveOptions};
use crate::capture::writer::{PcapRing, RingOptions};
use crate::capture::{CaptureError, InputStats, Timestamp};
use crate::checks;
use crate::decode;
use crate::facts::FlowFacts;
use crate::report::metrics::{Metrics, MetricsServer, MetricsServerError};
use crate::report::{InputReport, RenderError, Reporter, Totals};

/// How long one wait for packets lasts: the bound on how late a stop
/// request, a timer or an idle flow is noticed.
const POLL_MS: u32 = 200;

/// A live run.
#[derive(Debug, Clone)]
pub struct LiveRun {
    pub capture: LiveOptions,
    pub duration: Option<Duration>,
    /// Call `on_tick` this often (summary lines); None = only at exit.
    pub tick_every: Option<Duration>,
    /// Keep audited packets in this pcap file.
    pub write: Option<PathBuf>,
    /// With `write`: a ring of files of at most this size (dumpcap's ring buffer).
    pub write_max_bytes: Option<u64>,
    /// With `write_max_bytes`: keep at most this many files.
    pub write_files: Option<usize>,
}

/// What the live loop tells its caller.
pub enum LiveEvent {
    /// The capture is open and filtering: packets are being watched.
    Started,
    /// A judged flow.
    Flow(Box<FlowFacts>),
    /// A flow reported before and still open, with its facts so far
    /// (at every tick): not a new flow.
    Update(Box<FlowFacts>),
    /// Periodic tick with capture statistics (kernel drops included).
    Tick(InputStats),
    /// The kernel dropped packets since the last report.
    Dropped(u64),
    /// SIGHUP: the `--write` file was re-opened; the caller re-opens its
    /// report file (logrotate).
    Reopen,
    /// Once a second: capture totals so far and the flows still open
    /// (what `--metrics` exposes).
    Stats {
        stats: InputStats,
        open_flows: usize,
    },
}

/// Capture until Ctrl-C / SIGTERM / `duration`, telling `on_event` what
/// happens. `on_event` errors stop the run.
fn watch<E: From<EngineError>>(
    run: &LiveRun,
    opts: &EngineOptions,
    on_event: &mut dyn FnMut(LiveEvent) -> Result<(), E>,
) -> Result<InputStats, E> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| {
            EngineError::Capture(CaptureError::Live {
                iface: run.capture.iface.clone(),
                reason: format!("cannot install the signal handler: {e}"),
            })
        })?;
    }
    // SIGHUP re-opens output files (logrotate's `postrotate`).
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen)).map_err(|e| {
        EngineError::Capture(CaptureError::Live {
            iface: run.capture.iface.clone(),
            reason: format!("cannot install the signal handler: {e}"),
        })
    })?;
    let mut cap = LiveCapture::open(&run.capture).map_err(EngineError::from)?;
    on_event(LiveEvent::Started)?;
    let mut pcap = match &run.write {
        Some(p) => Some(
            PcapRing::open(
                RingOptions {
                    path: p.clone(),
                    max_bytes: run.write_max_bytes,
                    max_files: run.write_files,
                },
                cap.link_type(),
                262_144,
            )
            .map_err(|source| {
                EngineError::Capture(CaptureError::Open {
                    path: p.clone(),
                    source,
                })
            })?,
        ),
        None => None,
    };
    let mut worker = Worker::new(0, opts).with_early_reporting();
    let mut counters = DecodeCounters::default();
    let mut cache = SessionCache::default();
    let started = Instant::now();
    let mut last_tick = Instant::now();
    let mut last_sweep = Instant::now();
    let mut dropped_reported = 0u64;

    while !stop.load(Ordering::Relaxed) {
        if run.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let got = cap.next_frame(POLL_MS).map_err(EngineError::from)?;
        if let Some(frame) = got {
            if let Ok(seg) = decode::decode(&frame) {
                if opts.filter.matches(seg.src.port(), seg.dst.port()) {
                    if let Some(p) = pcap.as_mut() {
                        // A write error (disk full) must not stop the audit.
                        let _ = p.write(&frame);
                    }
                }
            }
            worker.frame(&frame, &mut counters);
        }
        if reopen.swap(false, Ordering::Relaxed) {
            if let Some(p) = pcap.as_mut() {
                // Like a write error: the audit goes on (the next write retries).
                let _ = p.reopen();
            }
            on_event(LiveEvent::Reopen)?;
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            last_sweep = Instant::now();
            worker.sweep(wall_clock());
            if let Some(p) = pcap.as_mut() {
                let _ = p.flush();
            }
            on_event(LiveEvent::Stats {
                stats: cap.stats().clone(),
                open_flows: worker.open_flows(),
            })?;
        }
        for mut f in worker.take_finished() {
            cache.observe(&mut f);
            on_event(LiveEvent::Flow(Box::new(f)))?;
        }
        let dropped = cap.stats().dropped.unwrap_or(0);
        if dropped > dropped_reported {
            on_event(LiveEvent::Dropped(dropped - dropped_reported))?;
            dropped_reported = dropped;
        }
        if let Some(every) = run.tick_every {
            if last_tick.elapsed() >= every {
                last_tick = Instant::now();
                for f in worker.open_reported_snapshots() {
                    on_event(LiveEvent::Update(Box::new(f)))?;
                }
                on_event(LiveEvent::Tick(cap.stats().clone()))?;
            }
        }
    }
    for mut f in worker.finish() {
        cache.observe(&mut f);
        on_event(LiveEvent::Flow(Box::new(f)))?;
    }
    if let Some(p) = pcap.as_mut() {
        let _ = p.flush();
    }
    let mut stats = cap.refresh_stats().clone();
    stats.warnings.extend(
        counters
            .warnings()
            .into_iter()
            .map(|message| crate::capture::CaptureWarning { offset: 0, message }),
    );
    Ok(stats)
}

fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(d.as_secs() as i64, d.subsec_nanos())
}

/// What stops a `live` run before its report is complete.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The capture could not start or failed (`Capture`), or a worker did.
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Report(#[from] RenderError),
    #[error(transparent)]
    Metrics(#[from] MetricsServerError),
    #[error("{}: cannot re-open output file", path.display())]
    Reopen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `live` as `plan` and `live` say: each flow judged and reported as
/// soon as its verdict is settled, summaries at each tick, the report file
/// re-opened on SIGHUP; `metrics` serves `/metrics` on that address. The
/// totals once the capture stops.
pub fn audit(
    plan: &Plan,
    live: &LiveRun,
    metrics: Option<&str>,
    out: Box<dyn Write + Send>,
) -> Result<Totals, LiveError> {
    let iface = &live.capture.iface;
    let mut reporter =
        Reporter::new(plan.report.clone(), &plan.profile, out).with_diagrams(plan.diagrams);
    // Started before the capture: a port already taken is an option error (exit 2).
    let counters = Arc::new(Metrics::new());
    let _metrics_server = match metrics {
        Some(addr) => {
            let server = MetricsServer::start(addr, Arc::clone(&counters))?;
            if !plan.quiet {
                eprintln!("tlsaudit: metrics on http://{}/metrics", server.addr());
            }
            reporter = reporter.with_metrics(Arc::clone(&counters));
            Some(server)
        }
        None => None,
    };
    let stats = watch::<LiveError>(live, &plan.engine, &mut |ev| {
        match ev {
            LiveEvent::Started => {
                if !plan.quiet {
                    eprintln!(
                        "tlsaudit: watching {iface} for TCP port(s) {:?}; Ctrl-C to stop",
                        plan.engine.filter.ports
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
            LiveEvent::Stats { stats, open_flows } => counters.capture(
                stats.packets,
                stats.bytes,
                stats.dropped.unwrap_or(0),
                open_flows,
            ),
        }
        Ok(())
    })?;
    let input = InputReport {
        path: format!("live:{iface}"),
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
            "tlsaudit: warning: no TCP flow on port(s) {:?} was seen on {iface}",
            plan.engine.filter.ports
        );
    }
    Ok(totals)
}

/// SIGHUP: the report file again, appended to (a new file when logrotate
/// moved the old one away).
fn reopen_output(path: &Path) -> Result<Box<dyn Write + Send>, LiveError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LiveError::Reopen {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}
