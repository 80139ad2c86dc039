//! `tlsaudit` binary: parse the command line, resolve it into a plan, run
//! the engine, map the outcome to the exit code (0 pass, 1 fail, 2 error,
//! 3 unknown with --strict). The only user of `anyhow`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use tlsaudit::cli::args::{Args, CheckArgs, Command, LiveArgs};
use tlsaudit::cli::plan::Plan;
use tlsaudit::engine::check::{self, CheckOutcome};
use tlsaudit::engine::live::{self, LiveError};
use tlsaudit::engine::EngineError;
use tlsaudit::report::Totals;

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Check(c) => run_check(&c),
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

/// A closed pipe (`| head`) is success, as for other Unix filters.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<tlsaudit::report::RenderError>()
                .is_some_and(|r| matches!(r, tlsaudit::report::RenderError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
    })
}

/// Where the report goes.
fn open_output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("{}: cannot create output file", p.display())
            })?))
        }
        None => Box::new(BufWriter::new(io::stdout())),
    })
}

/// The exit code of the contract for a run's totals.
fn exit_code(totals: &Totals, input_failed: bool, strict: bool) -> ExitCode {
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

fn run_check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::for_check(&args.common, &args.inputs)?;
    let out = open_output(plan.output.as_deref())?;
    Ok(match check::run(&plan, out)? {
        CheckOutcome::Finished {
            totals,
            input_failed,
        } => exit_code(&totals, input_failed, plan.strict),
        CheckOutcome::BrokenPipe => ExitCode::SUCCESS,
    })
}

fn run_live(args: &LiveArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::from_common(&args.common, true)?;
    let out = open_output(plan.output.as_deref())?;
    match live::audit(&plan, &plan.live_run(args), args.metrics.as_deref(), out) {
        Ok(totals) => Ok(exit_code(&totals, false, plan.strict)),
        Err(LiveError::Engine(EngineError::Capture(c))) => {
            eprintln!("tlsaudit: {c}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
