//! The `agentsim` command line.
//!
//! Exit codes: `run` 0 on pass, 1 on a failure (violation, panic,
//! simulation error, nondeterminism); `sweep` 1 if any seed failed; 2 on bad
//! usage (unknown scenario, malformed seed, unknown bug switch, unwritable
//! output file) for every command.

mod coverage;
mod junit;
mod run;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;

use agent::Bug;
use clap::{Parser, Subcommand};
use harness::Scenario;
use harness::seed::{Seed, SeedRange, Shard};

use crate::catalog;

/// Deterministic simulation of the workspace agent: list scenarios, replay
/// one seed, sweep many.
#[derive(Debug, Parser)]
#[command(name = "agentsim", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print `name<TAB>summary` per registered scenario.
    List,
    /// Print `bug switch<TAB>scenarios that catch it` per switch.
    Bugs,
    /// Print the chat tools as the model sees them: name, description and
    /// JSON schema of each, as pretty JSON.
    Tools,
    /// Run one seed of one scenario and print its outcome.
    Run {
        /// The scenario's name (see `list`).
        scenario: String,
        /// The seed, decimal or 0x hex.
        #[arg(long)]
        seed: Seed,
        /// Turn on a known-bug switch (repeatable; see `bugs`).
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<Bug>,
        /// Write the whole trace to FILE as JSON lines.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Run the seed twice and compare the trace hashes.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Run many seeds of some (default: all registered) scenarios in
    /// parallel, then print a summary table and repro commands.
    Sweep {
        /// Scenario names (default: every registered scenario).
        scenarios: Vec<String>,
        /// Seeds to run, `A..B` (exclusive) or `A..=B`.
        #[arg(long, default_value = "0..1000", value_name = "A..B")]
        seeds: SeedRange,
        /// Worker threads (default: the number of cores).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Run only shard K of N (1-based): seeds s with s % N == K - 1.
        #[arg(long, default_value = "1/1", value_name = "K/N")]
        shard: Shard,
        /// Turn on a known-bug switch (repeatable).
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<Bug>,
        /// Write a JUnit XML report to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Stop at the first failing seed.
        #[arg(long)]
        fail_fast: bool,
    },
}

/// Bad usage found after parsing (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("unknown scenario {name:?} (known: {known})")]
    UnknownScenario { name: String, known: String },
    #[error("--jobs must be at least 1")]
    NoJobs,
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
}

/// Exit code of a run or sweep with a failure.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of bad usage (also clap's).
pub const EXIT_USAGE: u8 = 2;

fn lookup(name: &str) -> Result<&'static dyn Scenario, UsageError> {
    catalog::lookup(name).ok_or_else(|| UsageError::UnknownScenario {
        name: name.to_string(),
        known: catalog::all()
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agentsim: error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode, UsageError> {
    match command {
        Command::List => {
            for s in catalog::registered() {
                println!("{}\t{}", s.name(), s.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bugs => {
            for bug in Bug::ALL {
                let by: Vec<&str> = catalog::registered()
                    .into_iter()
                    .filter(|s| s.catches().iter().any(|c| c.bug == bug))
                    .map(|s| s.name())
                    .collect();
                let by = if by.is_empty() {
                    "-".to_string()
                } else {
                    by.join(",")
                };
                println!("{bug}\t{by}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tools => {
            println!("{}", chat_tools::registry_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            scenario,
            seed,
            bugs,
            trace,
            check_determinism,
        } => run::run(
            lookup(&scenario)?,
            seed,
            bugs.into_iter().collect(),
            trace,
            check_determinism,
        ),
        Command::Sweep {
            scenarios,
            seeds,
            jobs,
            shard,
            bugs,
            junit,
            fail_fast,
        } => {
            let selected = if scenarios.is_empty() {
                catalog::registered()
            } else {
                scenarios
                    .iter()
                    .map(|n| lookup(n))
                    .collect::<Result<_, _>>()?
            };
            let jobs = match jobs {
                Some(0) => return Err(UsageError::NoJobs),
                Some(n) => n,
                None => std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            };
            sweep::sweep(sweep::Plan {
                scenarios: selected,
                seeds,
                shard,
                jobs,
                bugs: bugs.into_iter().collect(),
                junit,
                fail_fast,
            })
        }
    }
}
