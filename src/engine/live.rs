//! Live mode: capture from an interface until stopped, report each flow
//! when it is judged, evict idle flows so memory stays flat for days.
//!
//! Time: flows expire on capture time; when the link is quiet no packet
//! carries time, so the loop advances capture time from the wall clock.

use std::collections::BTreeMap;
use std::io::{self, Write};
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
    /// Writing the `--write` file failed in a way not seen before in this
    /// run (the message says how); the audit goes on.
    EvidenceLost(String),
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
    let mut evidence_loss = EvidenceLoss::default();

    while !stop.load(Ordering::Relaxed) {
        if run.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let got = cap.next_frame(POLL_MS).map_err(EngineError::from)?;
        if let Some(frame) = got {
            if let Ok(seg) = decode::decode(&frame) {
                if opts.filter.matches(seg.src.port(), seg.dst.port()) {
                    if let Some(p) = pcap.as_mut() {
                        // A write error (disk full) must not stop the
                        // audit, nor go unsaid.
                        if let Some(w) = evidence_loss.attempt(p, |p| p.write(&frame)) {
                            on_event(LiveEvent::EvidenceLost(w))?;
                        }
                    }
                }
            }
            worker.frame(&frame, &mut counters);
        }
        if reopen.swap(false, Ordering::Relaxed) {
            if let Some(p) = pcap.as_mut() {
                // Like a write error: the audit goes on (the next write retries).
                if let Some(w) = evidence_loss.attempt(p, PcapRing::reopen) {
                    on_event(LiveEvent::EvidenceLost(w))?;
                }
            }
            on_event(LiveEvent::Reopen)?;
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            last_sweep = Instant::now();
            worker.sweep(wall_clock());
            if let Some(p) = pcap.as_mut() {
                if let Some(w) = evidence_loss.attempt(p, PcapRing::flush) {
                    on_event(LiveEvent::EvidenceLost(w))?;
                }
            }
            on_event(LiveEvent::Stats {
                stats: cap.stats().clone(),
                open_flows: worker.open_flows(),
            })?;
        }
        for mut f in worker.take_finished() {
            cache.observe(&mut f);
            on_event(LiveEvent::Flow(f))?;
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
        on_event(LiveEvent::Flow(f))?;
    }
    if let Some(p) = pcap.as_mut() {
        if let Some(w) = evidence_loss.attempt(p, PcapRing::flush) {
            on_event(LiveEvent::EvidenceLost(w))?;
        }
    }
    let mut stats = cap.refresh_stats().clone();
    stats.warnings.extend(
        counters
            .warnings()
            .into_iter()
            .chain(evidence_loss.summary())
            .map(|message| crate::capture::CaptureWarning { offset: 0, message }),
    );
    Ok(stats)
}

/// Failed writes to the `--write` file, by kind of error. Losing evidence
/// must not stop the audit, and must never be silent: the first failure of
/// each kind is a warning at once, and the report's summary counts them.
#[derive(Debug, Default)]
struct EvidenceLoss {
    /// Kind → (failures, the file and error of the first one).
    by_kind: BTreeMap<io::ErrorKind, (u64, String)>,
}

impl EvidenceLoss {
    /// Do `op` on the ring and count it if it failed; the warning to give
    /// now when it is the first failure of its kind.
    fn attempt(
        &mut self,
        ring: &mut PcapRing,
        op: impl FnOnce(&mut PcapRing) -> io::Result<()>,
    ) -> Option<String> {
        let e = op(ring).err()?;
        self.record(&ring.current_path(), &e)
    }

    fn record(&mut self, file: &Path, e: &io::Error) -> Option<String> {
        let what = format!("{} ({e})", file.display());
        let seen = self.by_kind.entry(e.kind()).or_insert((0, String::new()));
        seen.0 += 1;
        if seen.0 > 1 {
            return None;
        }
        seen.1 = what;
        Some(format!(
            "cannot write the evidence file {}: the audit goes on, but packets are missing from it (counted in the summary)",
            seen.1
        ))
    }

    /// One line per kind of failure, for the run's summary.
    fn summary(&self) -> impl Iterator<Item = String> + '_ {
        self.by_kind.values().map(|(n, first)| {
            format!("{n} write(s) to the evidence file failed, the first to {first}: packets are missing from it")
        })
    }
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
            LiveEvent::EvidenceLost(message) => reporter.warning(&message)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Frame, LinkType};

    fn frame(data: &[u8]) -> Frame<'_> {
        Frame {
            index: 1,
            ts: Timestamp::new(1_700_000_000, 0),
            link: LinkType::ETHERNET,
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            data,
        }
    }

    #[test]
    fn evidence_file_on_a_full_disk_warns_once_per_kind_and_counts_every_failure() {
        // /dev/full opens, then fails every write with ENOSPC.
        let opts = RingOptions {
            path: PathBuf::from("/dev/full"),
            max_bytes: None,
            max_files: None,
        };
        let mut ring = PcapRing::open(opts, LinkType::ETHERNET, 65535).expect("open /dev/full");
        let mut loss = EvidenceLoss::default();
        let mut warnings = Vec::new();
        let data = [0u8; 1500];
        for _ in 0..20 {
            warnings.extend(loss.attempt(&mut ring, |r| r.write(&frame(&data))));
        }
        warnings.extend(loss.attempt(&mut ring, PcapRing::flush));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("/dev/full") && warnings[0].contains("No space left on device"),
            "{}",
            warnings[0]
        );
        let (failures, _) = loss.by_kind[&io::ErrorKind::StorageFull];
        // The writer buffers: the first few frames fit in its buffer, every
        // write after that and the flush fail.
        assert!(failures >= 15, "{failures}");
        let summary: Vec<String> = loss.summary().collect();
        assert_eq!(summary.len(), 1);
        assert!(
            summary[0].starts_with(&format!("{failures} write(s) to the evidence file failed")),
            "{}",
            summary[0]
        );
    }

    #[test]
    fn evidence_loss_of_another_kind_is_a_second_warning() {
        let mut loss = EvidenceLoss::default();
        let file = Path::new("audited.pcap");
        let full = || io::Error::from(io::ErrorKind::StorageFull);
        assert!(loss.record(file, &full()).is_some());
        assert!(loss.record(file, &full()).is_none());
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(loss.record(file, &denied).is_some());
        assert_eq!(loss.summary().count(), 2);
    }
}
