//! `agentsim run`: one seed, its coverage and outcome, optionally its trace
//! file, its HTML timeline, a fixed schedule and a determinism check.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agent::BugSet;
use harness::runner::RunOptions;
use harness::seed::Seed;
use harness::{Scenario, html, runner, trace};

use super::{EXIT_FAILED, UsageError, coverage, read_schedule, write_file};

/// What `run` was asked.
pub struct Request {
    pub scenario: &'static dyn Scenario,
    pub seed: Seed,
    pub bugs: BugSet,
    pub trace: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub schedule: Option<PathBuf>,
    pub check_determinism: bool,
}

fn write_trace(path: &Path, events: &[trace::Event]) -> Result<(), UsageError> {
    let mut text = Vec::new();
    trace::write_json_lines(events, &mut text).map_err(|e| UsageError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_file(path, text)
}

pub fn run(req: Request) -> Result<ExitCode, UsageError> {
    let Request {
        scenario,
        seed,
        bugs,
        ..
    } = req;
    let options = RunOptions {
        schedule: req.schedule.as_deref().map(read_schedule).transpose()?,
        schedule_file: req.schedule.as_ref().map(|p| p.display().to_string()),
    };
    for path in [&req.trace, &req.html].into_iter().flatten() {
        super::check_writable(path)?;
    }
    let outcome = runner::run_with(scenario, seed, &bugs, &options);
    if let Some(path) = &req.trace {
        write_trace(path, &outcome.events)?;
    }
    if let Some(path) = &req.html {
        write_file(path, html::render(&outcome))?;
    }
    print!("{}", coverage::render(&outcome.coverage));
    let mut ok = outcome.passed();
    if ok {
        println!(
            "PASS {} seed {seed} ({:?} simulated, {} events, trace hash {:016x})",
            scenario.name(),
            outcome.sim_time,
            outcome.events.len(),
            outcome.trace_hash
        );
    } else {
        print!("{}", outcome.report());
    }
    if req.check_determinism {
        let again = runner::run_with(scenario, seed, &bugs, &options);
        match trace::first_difference(&outcome.events, &again.events) {
            None => println!(
                "deterministic: trace hash {:016x} twice",
                outcome.trace_hash
            ),
            Some(i) => {
                ok = false;
                let show = |e: Option<&trace::Event>| {
                    e.map(|e| e.to_string())
                        .unwrap_or_else(|| "<end of trace>".into())
                };
                println!(
                    "NONDETERMINISTIC: trace hash {:016x} then {:016x}; first difference at event {i}:\n  first:  {}\n  second: {}",
                    outcome.trace_hash,
                    again.trace_hash,
                    show(outcome.events.get(i)),
                    show(again.events.get(i)),
                );
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
