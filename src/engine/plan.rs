//! [`Plan`]: everything a run needs, resolved and validated from the command
//! line by `cli::plan` before any packet is read; [`check::run`](super::check::run)
//! and [`live::audit`](super::live::audit) carry it out.

use std::path::PathBuf;

use super::EngineOptions;
use crate::profile::Profile;
use crate::report::{Diagrams, ReportOptions};

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    pub inputs: Vec<PathBuf>,
    pub profile: Profile,
    pub engine: EngineOptions,
    pub report: ReportOptions,
    /// Which flows get a handshake ladder (Markdown, HTML).
    pub diagrams: Diagrams,
    pub output: Option<PathBuf>,
    pub strict: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub progress: bool,
    pub keylogs: Vec<PathBuf>,
    pub rsa_keys: Vec<PathBuf>,
}
