//! The `agentsim` command line.
//!
//! Exit codes: `run` 0 on pass, 1 on a failure (violation, panic,
//! simulation error, nondeterminism); `sweep` 1 if any seed failed; 2 on bad
//! usage (unknown scenario, malformed seed, unknown bug switch, unwritable
//! output file) for every command.

mod coverage;
mod junit;
mod run;
mod shrink;
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
    /// Print `switch<TAB>scenarios` per bug switch, then indented lines:
    /// what it brings back, and every scenario that catches it with its
    /// seed budget.
    Bugs,
    /// Print the chat tools as the model sees them: name, description and
    /// JSON schema of each, as pretty JSON.
    Tools,
    /// Run one seed of one scenario and print its outcome.
    Run {
        /// The scenario's name (see `list`).
        scenario: String,
        /// The seed, decimal or 0x hex.
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Seed,
        /// Turn on a known-bug switch (repeatable; see `bugs`).
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<Bug>,
        /// Write the whole trace to FILE as JSON lines.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Write the run as a self-contained HTML timeline to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Replay the yield decisions in FILE (written by `shrink`) instead
        /// of the seeded ones.
        #[arg(long, value_name = "FILE")]
        schedule: Option<PathBuf>,
        /// Run the seed twice and compare the trace hashes.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Reduce a failing seed's yield decisions to the few that still make
    /// it fail the same invariant; print them and write a schedule file
    /// that `run --schedule` replays.
    Shrink {
        /// The scenario's name (see `list`).
        scenario: String,
        /// The failing seed, decimal or 0x hex.
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Seed,
        /// Turn on a known-bug switch (repeatable; see `bugs`).
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<Bug>,
        /// Start from the decisions in FILE instead of the seeded ones.
        #[arg(long, value_name = "FILE")]
        schedule: Option<PathBuf>,
        /// Where to write the shrunk schedule (default:
        /// `SCENARIO-seed-N.schedule` in the current directory).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write the shrunk run as an HTML timeline to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Run many seeds of some (default: all registered) scenarios in
    /// parallel, then print a summary table and repro commands.
    Sweep {
        /// Scenario names (default: every registered scenario).
        scenarios: Vec<String>,
        /// Seeds to run, `A..B` (exclusive) or `A..=B`; must not be empty.
        #[arg(long, default_value = "0..1000", value_name = "A..B", value_parser = parse_range)]
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

/// A seed, with a message that says what a seed is.
fn parse_seed(text: &str) -> Result<Seed, String> {
    text.parse().map_err(|_| {
        format!(
            "{text:?} is not a seed: seeds are unsigned 64-bit integers, decimal (0 to {}) or 0x hex",
            u64::MAX
        )
    })
}

/// A seed range that contains at least one seed.
fn parse_range(text: &str) -> Result<SeedRange, String> {
    let range: SeedRange = text.parse().map_err(|e| format!("{e}"))?;
    if range.is_empty() {
        return Err(format!(
            "{text:?} contains no seed (A..B excludes B; use A..=B or A..B+1)"
        ));
    }
    Ok(range)
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
    #[error("cannot read {path}: {reason}")]
    Input { path: String, reason: String },
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
                let by: Vec<(&str, u64)> = catalog::registered()
                    .into_iter()
                    .flat_map(|s| {
                        s.catches()
                            .iter()
                            .filter(move |c| c.bug == bug)
                            .map(move |c| (s.name(), c.within))
                    })
                    .collect();
                let names: Vec<&str> = by.iter().map(|(name, _)| *name).collect();
                let names = if names.is_empty() {
                    "-".to_string()
                } else {
                    names.join(",")
                };
                println!("{bug}\t{names}");
                println!("  {}", bug.summary());
                for (name, within) in &by {
                    println!("  caught by {name} within {within} seeds");
                }
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
            html,
            schedule,
            check_determinism,
        } => run::run(run::Request {
            scenario: lookup(&scenario)?,
            seed,
            bugs: bugs.into_iter().collect(),
            trace,
            html,
            schedule,
            check_determinism,
        }),
        Command::Shrink {
            scenario,
            seed,
            bugs,
            schedule,
            out,
            html,
        } => shrink::shrink(shrink::Request {
            scenario: lookup(&scenario)?,
            seed,
            bugs: bugs.into_iter().collect(),
            schedule,
            out,
            html,
        }),
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
            if let Some(path) = &junit {
                check_writable(path)?;
            }
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

/// Fails now, before any work, if `path` cannot be written: creates it
/// (empty) if missing, else opens it for appending without changing it.
pub(crate) fn check_writable(path: &std::path::Path) -> Result<(), UsageError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|_| ())
        .map_err(|e| UsageError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Writes `text` to `path` (a bare file name writes to the current
/// directory).
pub(crate) fn write_file(path: &std::path::Path, text: impl AsRef<[u8]>) -> Result<(), UsageError> {
    std::fs::write(path, text).map_err(|e| UsageError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads a schedule file.
pub(crate) fn read_schedule(
    path: &std::path::Path,
) -> Result<harness::sched::Schedule, UsageError> {
    let input = |reason: String| UsageError::Input {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?;
    harness::shrink::parse(&text).map_err(|e| input(e.to_string()))
}
