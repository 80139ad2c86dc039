//! The flags as typed; nothing resolved here.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tlsaudit",
    version,
    about = "Audit TLS on SIP federation links (Cisco IM&P <-> Microsoft OCS/Lync, port 5062) from packet captures",
    long_about = None,
    after_help = "Exit codes: 0 every audited flow passes (or none found), 1 a flow fails, 2 an input or option could not be used, 3 no failure but an unknown verdict with --strict."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit capture files (pcap, pcapng, gzip of either), directories, or - for stdin.
    Check(CheckArgs),
    /// Audit live traffic on an interface until Ctrl-C or --duration.
    Live(LiveArgs),
    /// Print the built-in profile (TOML, with the guide's steps as comments).
    Profile(ProfileArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) of tlsaudit and its subcommands.
    Man,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Jsonl,
    Markdown,
    /// One self-contained HTML file with an SVG handshake ladder per flow.
    Html,
    /// One Elastic Common Schema JSON line per flow (for a SIEM).
    Ecs,
}

/// Which flows get a handshake ladder (Markdown: Mermaid, HTML: SVG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramArg {
    /// Flows that fail or are unknown.
    Failing,
    /// Every listed flow.
    All,
    /// No ladder.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnlyArg {
    Fail,
    Unknown,
    All,
}

/// Options shared by `check` and `live`.
#[derive(Debug, Clone, ClapArgs)]
pub struct CommonArgs {
    /// TOML profile; without it the built-in IM&P <-> OCS profile applies.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Server port to audit (repeatable, or a comma-separated list); default
    /// from the profile (5062).
    #[arg(long = "port", value_name = "N", value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// Audit every TCP flow, whatever its ports.
    #[arg(long)]
    pub any_port: bool,
    /// Expected server certificate CN (repeatable; overrides the profile).
    #[arg(long = "server-cn", value_name = "NAME")]
    pub server_cn: Vec<String>,
    /// Expected client certificate CN (repeatable; overrides the profile).
    #[arg(long = "client-cn", value_name = "NAME")]
    pub client_cn: Vec<String>,
    /// Report format [default: table on a terminal, else jsonl for live and table for check].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which flows to list (the summary always counts all).
    #[arg(long, value_enum, default_value = "all")]
    pub only: OnlyArg,
    /// Handshake ladders in markdown/html reports [default: failing for markdown, all for html].
    #[arg(long, value_enum, value_name = "WHICH")]
    pub diagram: Option<DiagramArg>,
    /// Replace IP addresses with consistent tokens and drop certificate serials.
    #[arg(long)]
    pub redact: bool,
    /// SSLKEYLOGFILE for exact answers on TLS <= 1.2 (and TLS 1.3 certificates); repeatable.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
    /// Server RSA private key (PEM) to decrypt RSA key exchange; repeatable.
    #[arg(long = "rsa-key", value_name = "FILE")]
    pub rsa_key: Vec<PathBuf>,
    /// Worker threads [default: all cores]; 1 reads, judges and writes on one thread.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Exit 3 when no flow failed but some verdict is unknown.
    #[arg(long)]
    pub strict: bool,
    /// Fewer messages on stderr (no progress bar).
    #[arg(short, long)]
    pub quiet: bool,
    /// More diagnostics on stderr.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// A flow silent this many seconds (capture time) is finished and reported.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub idle_timeout: u64,
    /// Open flows kept at most; past it the longest-idle flow is finished early.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_flows: usize,
    /// Out-of-order bytes buffered per flow direction during the handshake (KiB).
    #[arg(long, value_name = "KIB", default_value_t = 256)]
    pub max_buffer_kib: usize,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Capture files, directories (searched recursively), or - for stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct LiveArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Interface to capture on (needs CAP_NET_RAW).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub iface: String,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Print a summary line this often (seconds); 0 = only at exit.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub summary_interval: u64,
    /// Put the interface in promiscuous mode (a span port usually needs it).
    #[arg(long)]
    pub promisc: bool,
    /// Keep the audited packets (TCP on the audited ports) in this pcap file.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// With --write: a ring of files (FILE_00001.pcap, …), each at most this size (MiB).
    #[arg(long, value_name = "MIB", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub write_max_mib: Option<u64>,
    /// With --write-max-mib: keep only the newest N files (the oldest is deleted).
    #[arg(long, value_name = "N", requires = "write_max_mib", value_parser = clap::value_parser!(u64).range(1..))]
    pub write_files: Option<u64>,
    /// Kernel ring buffer size (MiB).
    #[arg(long, value_name = "MIB", default_value_t = 32)]
    pub ring_mib: usize,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (e.g. 127.0.0.1:9862).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<String>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ProfileArgs {
    /// Print the built-in default profile (the default behaviour).
    #[arg(long)]
    pub default: bool,
}
