//! Deterministic mutation of capture files and an in-process runner of the
//! whole pipeline (capture → decode → flow → TLS → facts → checks → JSON
//! report) that turns a panic, a hang or a memory blow-up into a named,
//! saved input instead of a crashed test binary.
//!
//! Shared by the quick suite in `tests/robustness.rs` (fixed seed, runs in
//! `cargo test`) and the long soak mode in `examples/soak.rs`.
//!
//! Every mutant is named `<base>#<mutation>`; the name plus the seed
//! regenerates it exactly (the PRNG is ours, not the platform's).
#![allow(dead_code)]

pub mod alloc;
pub mod gen;
pub mod layout;
pub mod rng;

use std::fmt;
use std::io::{Cursor, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use tlsaudit::capture::file::FileSource;
use tlsaudit::checks;
use tlsaudit::engine::{collect, EngineOptions, PortFilter};
use tlsaudit::profile::Profile;
use tlsaudit::report::{Format, InputReport, Only, ReportOptions, Reporter};

use layout::{Container, Layout};
use rng::Rng;

/// The fixed seed of the quick suite.
pub const QUICK_SEED: u64 = 0x7e57_5eed_0000_5062;

/// One way of damaging a base file.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Keep the first `n` bytes.
    Truncate(usize),
    /// Flip `n` random bits chosen by `seed`.
    FlipBits { seed: u64, n: usize },
    /// Overwrite `len` bytes at `at` with random bytes from `seed`.
    Scribble { at: usize, len: usize, seed: u64 },
    /// Write `value` into length field number `field` of the layout.
    Field { field: usize, value: u64 },
    /// Write `value` into every field of one kind at once.
    FieldAll { kind: layout::FieldKind, value: u64 },
    /// Duplicate packet block `i` (written twice in a row).
    DupPacket(usize),
    /// Remove packet block `i`.
    DropPacket(usize),
    /// Permute the packet blocks (non-packet blocks keep their place).
    Shuffle { seed: u64 },
    /// Packet blocks in reverse order.
    Reverse,
    /// This file's first `cut` bytes, then the partner file's blocks.
    Splice { cut: usize },
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::Truncate(n) => write!(f, "trunc{n}"),
            Mutation::FlipBits { seed, n } => write!(f, "flip{n}-{seed:x}"),
            Mutation::Scribble { at, len, seed } => write!(f, "scribble{at}+{len}-{seed:x}"),
            Mutation::Field { field, value } => write!(f, "field{field}={value:#x}"),
            Mutation::FieldAll { kind, value } => write!(f, "all-{}={value:#x}", kind.name()),
            Mutation::DupPacket(i) => write!(f, "dup{i}"),
            Mutation::DropPacket(i) => write!(f, "drop{i}"),
            Mutation::Shuffle { seed } => write!(f, "shuffle-{seed:x}"),
            Mutation::Reverse => write!(f, "reverse"),
            Mutation::Splice { cut } => write!(f, "splice{cut}"),
        }
    }
}

/// A base file ready to be mutated: its (decompressed) bytes and layout.
pub struct Base {
    pub name: String,
    pub bytes: Vec<u8>,
    pub layout: Layout,
}

impl Base {
    /// Gzip inputs are decompressed first so that structure-aware mutations
    /// reach the capture inside (the gzip path itself is covered by
    /// truncating and flipping the compressed bytes, see `gzip_mutants`).
    pub fn new(name: String, raw: Vec<u8>) -> Base {
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            let mut d = flate2::read::MultiGzDecoder::new(&raw[..]);
            match d.read_to_end(&mut out) {
                Ok(_) => out,
                Err(_) => raw,
            }
        } else {
            raw
        };
        let layout = layout::parse(&bytes);
        Base {
            name,
            bytes,
            layout,
        }
    }

    /// `budget` mutations chosen deterministically from `rng`: truncations
    /// at block boundaries and inside headers, bit flips, scribbles, every
    /// kind of length field with extreme values, and structural edits.
    pub fn plan(&self, rng: &mut Rng, budget: usize) -> Vec<Mutation> {
        let len = self.bytes.len();
        let l = &self.layout;
        let mut out = Vec::with_capacity(budget);
        let packets = l.packets.len();
        // Structural edits first: few, and each touches the whole file.
        if packets >= 2 && l.container != Container::Unknown {
            out.push(Mutation::DupPacket(rng.below(packets)));
            out.push(Mutation::DropPacket(rng.below(packets)));
            out.push(Mutation::Shuffle {
                seed: rng.next_u64(),
            });
            out.push(Mutation::Reverse);
        }
        out.push(Mutation::Splice {
            cut: l
                .blocks
                .get(rng.below(l.blocks.len().max(1)))
                .map(|b| b.end)
                .unwrap_or(len / 2),
        });
        // Every field kind present, each with one extreme in all places.
        let mut kinds: Vec<layout::FieldKind> = Vec::new();
        for f in &l.fields {
            if !kinds.contains(&f.kind) {
                kinds.push(f.kind);
            }
        }
        for &kind in &kinds {
            if let Some(&value) = rng.pick(kind.extremes()) {
                out.push(Mutation::FieldAll { kind, value });
            }
        }
        let rest = budget.saturating_sub(out.len()).max(4);
        for i in 0..rest {
            let m = match i % 8 {
                // Single fields, round-robin over kinds so rare ones are hit.
                0..=2 if !kinds.is_empty() => {
                    let kind = kinds[i % kinds.len()];
                    let of_kind: Vec<usize> = (0..l.fields.len())
                        .filter(|&j| l.fields[j].kind == kind)
                        .collect();
                    let field = *rng.pick(&of_kind).unwrap_or(&0);
                    let value = *rng.pick(kind.extremes()).unwrap_or(&0);
                    Mutation::Field { field, value }
                }
                3 => {
                    // Right at, or just inside, a block boundary.
                    let b = l.blocks.get(rng.below(l.blocks.len().max(1)));
                    let at = b.map(|b| b.start).unwrap_or(0) + rng.below(40);
                    Mutation::Truncate(at.min(len))
                }
                4 => Mutation::Truncate(rng.below(len + 1)),
                5 | 6 => Mutation::FlipBits {
                    seed: rng.next_u64(),
                    n: 1 + rng.below(8),
                },
                _ => Mutation::Scribble {
                    at: rng.below(len.max(1)),
                    len: 1 + rng.below(16),
                    seed: rng.next_u64(),
                },
            };
            out.push(m);
        }
        out
    }

    /// The mutated bytes (`partner` is used by `Splice`).
    pub fn apply(&self, m: &Mutation, partner: &Base) -> Vec<u8> {
        let b = &self.bytes;
        let l = &self.layout;
        match *m {
            Mutation::Truncate(n) => b[..n.min(b.len())].to_vec(),
            Mutation::FlipBits { seed, n } => {
                let mut v = b.clone();
                let mut r = Rng::new(seed);
                for _ in 0..n {
                    if v.is_empty() {
                        break;
                    }
                    let i = r.below(v.len());
                    v[i] ^= 1 << r.below(8);
                }
                v
            }
            Mutation::Scribble { at, len, seed } => {
                let mut v = b.clone();
                let mut r = Rng::new(seed);
                for x in v.iter_mut().skip(at).take(len) {
                    *x = r.next_u64() as u8;
                }
                v
            }
            Mutation::Field { field, value } => {
                let mut v = b.clone();
                if let Some(f) = l.fields.get(field) {
                    f.write(&mut v, value);
                }
                v
            }
            Mutation::FieldAll { kind, value } => {
                let mut v = b.clone();
                for f in l.fields.iter().filter(|f| f.kind == kind) {
                    f.write(&mut v, value);
                }
                v
            }
            Mutation::DupPacket(i) => self.rebuild(|order| {
                if let Some(pos) = order.iter().position(|&x| x == i) {
                    order.insert(pos, i);
                }
            }),
            Mutation::DropPacket(i) => self.rebuild(|order| order.retain(|&x| x != i)),
            Mutation::Shuffle { seed } => self.rebuild(|order| Rng::new(seed).shuffle(order)),
            Mutation::Reverse => self.rebuild(|order| order.reverse()),
            Mutation::Splice { cut } => {
                let mut v = b[..cut.min(b.len())].to_vec();
                let from = partner.layout.header.end.min(partner.bytes.len());
                v.extend_from_slice(&partner.bytes[from..]);
                v
            }
        }
    }

    /// Re-emit the file with its packet blocks reordered by `edit` (which
    /// gets the packet block numbers in file order).
    fn rebuild(&self, edit: impl FnOnce(&mut Vec<usize>)) -> Vec<u8> {
        let l = &self.layout;
        let mut order: Vec<usize> = (0..l.packets.len()).collect();
        edit(&mut order);
        let mut v = self.bytes[l.header.clone()].to_vec();
        let mut next_packet = order.iter();
        let mut p = 0;
        for (i, block) in l.blocks.iter().enumerate() {
            if l.packets.get(p) == Some(&i) {
                p += 1;
                // A packet slot: emit the next packet of the new order
                // (drop leaves the last slot empty, dup adds one at the end).
                if let Some(&k) = next_packet.next() {
                    v.extend_from_slice(&self.bytes[l.blocks[l.packets[k]].clone()]);
                }
            } else {
                v.extend_from_slice(&self.bytes[block.clone()]);
            }
        }
        for &k in next_packet {
            v.extend_from_slice(&self.bytes[l.blocks[l.packets[k]].clone()]);
        }
        let tail = l.blocks.last().map(|b| b.end).unwrap_or(l.header.end);
        v.extend_from_slice(&self.bytes[tail.min(self.bytes.len())..]);
        v
    }
}

/// Mutations of a gzip file's compressed bytes (the decompressor path).
pub fn gzip_mutants(raw: &[u8], rng: &mut Rng, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut v = raw.to_vec();
        if i % 2 == 0 {
            v.truncate(rng.below(raw.len() + 1));
            out.push((format!("gz-trunc{}", v.len()), v));
        } else {
            let at = rng.below(raw.len().max(1));
            if let Some(x) = v.get_mut(at) {
                *x ^= 1 << rng.below(8);
            }
            out.push((format!("gz-flip{at}"), v));
        }
    }
    out
}

/// What one pipeline run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub elapsed: Duration,
    /// Peak bytes allocated by the run above what was allocated before it
    /// (single-threaded runs only; the input bytes themselves excluded).
    pub peak_bytes: i64,
    /// The input was recognised as a capture.
    pub opened: bool,
    pub frames: u64,
    pub flows: usize,
    pub warnings: usize,
    pub evicted_full: u64,
    pub overflows: u64,
    /// `Some(message)` if anything panicked.
    pub panic: Option<String>,
    /// An engine error (I/O), as text.
    pub error: Option<String>,
}

/// Options that parse everything: every TCP flow, one thread.
pub fn any_port_options(threads: usize) -> EngineOptions {
    EngineOptions {
        filter: PortFilter {
            ports: vec![5062],
            any_port: true,
        },
        threads,
        ..EngineOptions::default()
    }
}

struct Running {
    thread: ThreadId,
    name: String,
    started: Instant,
    bytes: Arc<[u8]>,
}

fn registry() -> &'static Mutex<Vec<Running>> {
    static R: OnceLock<Mutex<Vec<Running>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// A run longer than this is a hang: the watchdog saves the input and
/// ends the process (a hung thread cannot be stopped from outside).
pub fn hang_limit() -> Duration {
    let secs = std::env::var("TLSAUDIT_HANG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

fn start_watchdog() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let limit = hang_limit();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let Ok(reg) = registry().lock() else {
                continue;
            };
            for r in reg.iter() {
                if r.started.elapsed() > limit {
                    let saved = save_failure(&r.name, &r.bytes);
                    eprintln!(
                        "robustness watchdog: input {} has run for more than {:?}: hang. Saved as {}",
                        r.name,
                        limit,
                        saved.display()
                    );
                    std::process::exit(101);
                }
            }
        });
    });
}

/// Where failing inputs are saved (copy them into captures/fuzz-regressions/).
pub fn failure_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/robustness-failures")
}

/// Save a failing input under a file-system-safe version of its name.
pub fn save_failure(name: &str, bytes: &[u8]) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+=#".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = failure_dir();
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{safe}.bin"));
    let _ = std::fs::write(&path, bytes);
    path
}

/// A `Write` into shared memory, so the rendered report can be checked.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run the whole pipeline on `bytes` in this thread, under the watchdog,
/// catching panics.
pub fn run(name: &str, bytes: Arc<[u8]>, opts: &EngineOptions) -> Outcome {
    start_watchdog();
    let me = std::thread::current().id();
    if let Ok(mut reg) = registry().lock() {
        reg.push(Running {
            thread: me,
            name: name.to_string(),
            started: Instant::now(),
            bytes: bytes.clone(),
        });
    }
    let mut out = Outcome::default();
    let base = alloc::reset_peak();
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| pipeline(name, bytes, opts, &mut out)));
    out.elapsed = started.elapsed();
    out.peak_bytes = alloc::peak() - base;
    if let Err(p) = result {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into());
        out.panic = Some(msg);
    }
    if let Ok(mut reg) = registry().lock() {
        reg.retain(|r| r.thread != me);
    }
    out
}

fn pipeline(name: &str, bytes: Arc<[u8]>, opts: &EngineOptions, out: &mut Outcome) {
    let source = match FileSource::from_reader(Box::new(Cursor::new(bytes)), PathBuf::from(name)) {
        Ok(s) => s,
        Err(e) => {
            // Not a capture at all: a clean refusal (exit 2) is the right answer.
            out.error = Some(e.to_string());
            return;
        }
    };
    out.opened = true;
    let facts = match collect(source, 0, opts) {
        Ok(f) => f,
        Err(e) => {
            out.error = Some(e.to_string());
            return;
        }
    };
    out.frames = facts.stats.packets;
    out.flows = facts.flows.len();
    out.evicted_full = facts.evicted_full;
    out.warnings = facts.stats.warnings.len() + facts.decode.warnings().len();
    out.overflows = facts.flows.iter().map(|f| u64::from(f.tcp.overflows)).sum();
    let profile = Profile::builtin();
    let buf = SharedBuf::default();
    let mut reporter = Reporter::new(
        ReportOptions {
            format: Format::Json,
            only: Only::All,
            redact: false,
            color: false,
            streaming: false,
        },
        &profile,
        Box::new(buf.clone()),
    );
    let mut warnings: Vec<String> = facts
        .stats
        .warnings
        .iter()
        .map(|w| format!("byte {}: {}", w.offset, w.message))
        .collect();
    warnings.extend(facts.decode.warnings());
    for f in facts.flows {
        if let Err(e) = reporter.flow(checks::judge(f, &profile)) {
            out.error = Some(format!("render: {e}"));
            return;
        }
    }
    let input = InputReport {
        path: name.to_string(),
        format: facts
            .stats
            .format
            .map(|f| f.name().to_string())
            .unwrap_or_default(),
        packets: facts.stats.packets,
        bytes: facts.stats.bytes,
        warnings,
        ..InputReport::default()
    };
    if let Err(e) = reporter
        .input(input)
        .and_then(|_| reporter.finish().map(|_| ()))
    {
        out.error = Some(format!("render: {e}"));
        return;
    }
    // Whatever the input, the JSON report must be one valid document.
    let rendered = buf.0.lock().map(|v| v.clone()).unwrap_or_default();
    if !rendered.is_empty() {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&rendered) {
            panic!("JSON report is not valid JSON: {e}");
        }
    }
}

/// Whether the file at `p` starts like a capture tlsaudit reads (pcap in
/// either byte order, µs or ns, the "modified" variant; pcapng; gzip):
/// corpus files keep their original names, some without an extension.
pub fn has_capture_magic(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let read = std::fs::File::open(p).and_then(|mut f| f.read_exact(&mut head));
    read.is_ok()
        && matches!(
            head,
            [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xc3, 0xd4]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x34, 0xcd, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xcd, 0x34]
                | [0x0a, 0x0d, 0x0d, 0x0a]
                | [0x1f, 0x8b, _, _]
        )
}

/// Every capture file under `dir` (recursively), sorted, skipping
/// `fuzz-regressions` (replayed separately) and non-capture files.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "fuzz-regressions") {
                    stack.push(p);
                }
                continue;
            }
            let n = p.file_name().map(|n| n.to_string_lossy().to_string());
            let n = n.unwrap_or_default();
            if n.ends_with(".pcap")
                || n.ends_with(".pcapng")
                || n.ends_with(".pcap.gz")
                || n.ends_with(".cap")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Aggregate of many runs.
#[derive(Debug, Default)]
pub struct Tally {
    pub inputs: u64,
    pub slowest: (Duration, String),
    pub peak: (i64, String),
    pub failures: Vec<String>,
}

impl Tally {
    /// Record one outcome; `max_time`/`max_bytes` are the asserted bounds
    /// (`i64::MAX` for multi-threaded runs, whose memory is not measured).
    pub fn add(
        &mut self,
        name: &str,
        bytes: &[u8],
        o: &Outcome,
        max_time: Duration,
        max_bytes: i64,
    ) {
        self.inputs += 1;
        if o.elapsed > self.slowest.0 {
            self.slowest = (o.elapsed, name.to_string());
        }
        if o.peak_bytes > self.peak.0 && max_bytes != i64::MAX {
            self.peak = (o.peak_bytes, name.to_string());
        }
        let problem = if let Some(p) = &o.panic {
            Some(format!("panicked: {p}"))
        } else if o.elapsed > max_time {
            Some(format!("took {:?} (bound {max_time:?})", o.elapsed))
        } else if o.peak_bytes > max_bytes {
            Some(format!(
                "peak {} KiB allocated (bound {} KiB)",
                o.peak_bytes >> 10,
                max_bytes >> 10
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            let saved = save_failure(name, bytes);
            self.failures
                .push(format!("{name}: {problem} (saved as {})", saved.display()));
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} mutated inputs; slowest {:.3?} ({}); peak memory {:.1} MiB ({})",
            self.inputs,
            self.slowest.0,
            self.slowest.1,
            self.peak.0 as f64 / (1 << 20) as f64,
            self.peak.1
        )
    }
}
