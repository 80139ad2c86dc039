//! `Plan`: the command line resolved and validated before any packet is
//! read — inputs listed, profile loaded and overridden, format, threads.
//! A bad flag or profile fails here, in milliseconds, with exit code 2.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::args::{CommonArgs, DiagramArg, FormatArg, LiveArgs, OnlyArg};
use crate::capture::live::LiveOptions;
use crate::engine::live::LiveRun;
use crate::engine::{EngineOptions, PortFilter};
use crate::flow::FlowLimits;
use crate::profile::{Profile, ProfileError};
use crate::report::{Diagrams, Format, Only, ReportOptions};
use crate::tls::decrypt::{Keys, KeysError};
use crate::tls::TlsLimits;

/// File name endings read when a directory is given (explicit files are
/// always read, whatever their name).
const CAPTURE_SUFFIXES: &[&str] = &[
    ".pcap",
    ".pcapng",
    ".cap",
    ".pcap.gz",
    ".pcapng.gz",
    ".cap.gz",
    ".dmp",
];

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("{0}")]
    Option(String),
    /// A `--keylog` / `--rsa-key` file that does not load (file:line for key logs).
    #[error(transparent)]
    Keys(#[from] KeysError),
}

/// Defined with the engine that runs it; resolved here.
pub use crate::engine::Plan;

impl Plan {
    /// Resolve the options common to `check` and `live`.
    pub fn from_common(c: &CommonArgs, live: bool) -> Result<Plan, PlanError> {
        let mut profile = match &c.profile {
            Some(p) => Profile::load(p)?,
            None => Profile::builtin(),
        };
        apply_overrides(&mut profile, c);
        for p in c.keylog.iter().chain(&c.rsa_key) {
            if !p.is_file() {
                return Err(PlanError::Input {
                    path: p.clone(),
                    reason: "no such file".into(),
                });
            }
        }
        // Loaded once here so that a bad key file fails before any packet is read.
        let keys = if c.keylog.is_empty() && c.rsa_key.is_empty() {
            None
        } else {
            Some(Arc::new(Keys::load(&c.keylog, &c.rsa_key)?))
        };
        if c.threads == Some(0) {
            return Err(PlanError::Option("-j/--threads must be at least 1".into()));
        }
        let threads = c.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let to_terminal = c.output.is_none() && std::io::stdout().is_terminal();
        let format = match c.format {
            Some(FormatArg::Table) => Format::Table,
            Some(FormatArg::Json) => Format::Json,
            Some(FormatArg::Jsonl) => Format::Jsonl,
            Some(FormatArg::Markdown) => Format::Markdown,
            Some(FormatArg::Html) => Format::Html,
            Some(FormatArg::Ecs) => Format::Ecs,
            None if live && !to_terminal => Format::Jsonl,
            None => Format::Table,
        };
        let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let only = match c.only {
            OnlyArg::Fail => Only::Fail,
            OnlyArg::Unknown => Only::Unknown,
            OnlyArg::All => Only::All,
        };
        let diagrams = match c.diagram {
            Some(DiagramArg::Failing) => Diagrams::Failing,
            Some(DiagramArg::All) => Diagrams::All,
            Some(DiagramArg::None) => Diagrams::None,
            None => Diagrams::default_for(format),
        };
        Ok(Plan {
            inputs: Vec::new(),
            engine: EngineOptions {
                filter: PortFilter {
                    ports: profile.ports.clone(),
                    any_port: c.any_port,
                },
                threads,
                flow_limits: FlowLimits {
                    max_flows: c.max_flows.max(1),
                    idle_timeout_secs: c.idle_timeout.max(1),
                    max_ooo_bytes: c.max_buffer_kib.max(1) * 1024,
                },
                tls_limits: TlsLimits::default(),
                keys,
                hash_input: false,
                stop: None,
            },
            profile,
            report: ReportOptions {
                format,
                only,
                redact: c.redact,
                color,
                streaming: live,
            },
            diagrams,
            output: c.output.clone(),
            strict: c.strict,
            quiet: c.quiet,
            verbose: c.verbose,
            progress: !c.quiet && std::io::stderr().is_terminal(),
            keylogs: c.keylog.clone(),
            rsa_keys: c.rsa_key.clone(),
        })
    }

    /// The capture side of `live`: interface, ring, duration, ticks and
    /// `--write` files, with the plan's ports.
    pub fn live_run(&self, l: &LiveArgs) -> LiveRun {
        LiveRun {
            capture: LiveOptions {
                iface: l.iface.clone(),
                ports: self.engine.filter.ports.clone(),
                any_port: self.engine.filter.any_port,
                promiscuous: l.promisc,
                ring_bytes: l.ring_mib.clamp(1, 1024) << 20,
                block_timeout_ms: 50,
            },
            duration: l.duration.map(Duration::from_secs),
            tick_every: (l.summary_interval > 0).then(|| Duration::from_secs(l.summary_interval)),
            write: l.write.clone(),
            write_max_bytes: l.write_max_mib.map(|m| m.saturating_mul(1 << 20)),
            write_files: l
                .write_files
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }

    /// Resolve `check`: expand directories, keep `-`.
    pub fn for_check(c: &CommonArgs, inputs: &[PathBuf]) -> Result<Plan, PlanError> {
        let mut plan = Plan::from_common(c, false)?;
        let mut stdin_seen = false;
        for input in inputs {
            if input.as_os_str() == "-" {
                if stdin_seen {
                    return Err(PlanError::Option("stdin (-) can be given only once".into()));
                }
                stdin_seen = true;
                plan.inputs.push(input.clone());
            } else if input.is_dir() {
                let mut found = Vec::new();
                walk(input, &mut found).map_err(|e| PlanError::Input {
                    path: input.clone(),
                    reason: e.to_string(),
                })?;
                found.sort();
                if found.is_empty() {
                    return Err(PlanError::Input {
                        path: input.clone(),
                        reason: format!(
                            "directory holds no capture files ({})",
                            CAPTURE_SUFFIXES.join(" ")
                        ),
                    });
                }
                plan.inputs.extend(found);
            } else if input.exists() {
                plan.inputs.push(input.clone());
            } else {
                return Err(PlanError::Input {
                    path: input.clone(),
                    reason: "no such file or directory".into(),
                });
            }
        }
        Ok(plan)
    }
}

fn apply_overrides(profile: &mut Profile, c: &CommonArgs) {
    if !c.ports.is_empty() {
        profile.set_ports(c.ports.clone());
    }
    if !c.server_cn.is_empty() {
        profile.set_server_cn(c.server_cn.clone());
    }
    if !c.client_cn.is_empty() {
        profile.set_client_cn(c.client_cn.clone());
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if ft.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if CAPTURE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                out.push(path);
            }
        }
    }
    Ok(())
}
