//! `agentsim run`: one seed, its coverage and outcome, optionally its trace
//! file and a determinism check.

use std::path::PathBuf;
use std::process::ExitCode;

use agent::BugSet;
use harness::seed::Seed;
use harness::{Scenario, runner, trace};

use super::{EXIT_FAILED, UsageError, coverage};

fn write_trace(path: &PathBuf, events: &[trace::Event]) -> Result<(), UsageError> {
    let file = std::fs::File::create(path).map_err(|e| UsageError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    trace::write_json_lines(events, std::io::BufWriter::new(file)).map_err(|e| UsageError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

pub fn run(
    scenario: &dyn Scenario,
    seed: Seed,
    bugs: BugSet,
    trace_file: Option<PathBuf>,
    check_determinism: bool,
) -> Result<ExitCode, UsageError> {
    let outcome = runner::run(scenario, seed, &bugs);
    if let Some(path) = &trace_file {
        write_trace(path, &outcome.events)?;
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
    if check_determinism {
        let again = runner::run(scenario, seed, &bugs);
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
