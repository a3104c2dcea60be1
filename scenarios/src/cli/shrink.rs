//! `agentsim shrink`: reduce a failing seed's yield decisions to the few
//! that matter, print them, write the schedule file and its replay command.

use std::path::PathBuf;
use std::process::ExitCode;

use agent::BugSet;
use harness::runner::Repro;
use harness::seed::Seed;
use harness::{Scenario, html, shrink};

use super::{EXIT_FAILED, UsageError, read_schedule, write_file};

/// What `shrink` was asked.
pub struct Request {
    pub scenario: &'static dyn Scenario,
    pub seed: Seed,
    pub bugs: BugSet,
    pub schedule: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

pub fn shrink(req: Request) -> Result<ExitCode, UsageError> {
    let start = req.schedule.as_deref().map(read_schedule).transpose()?;
    let out = req.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-seed-{}.schedule",
            req.scenario.name(),
            req.seed
        ))
    });
    for path in [Some(&out), req.html.as_ref()].into_iter().flatten() {
        super::check_writable(path)?;
    }
    let Some(shrunk) = shrink::shrink(req.scenario, req.seed, &req.bugs, start) else {
        println!(
            "{} seed {} passes: nothing to shrink",
            req.scenario.name(),
            req.seed
        );
        return Ok(ExitCode::from(EXIT_FAILED));
    };
    let repro = Repro {
        scenario: req.scenario.name().to_string(),
        seed: req.seed,
        bugs: req.bugs.clone(),
        schedule: Some(out.display().to_string()),
    };
    let header = format!(
        "agentsim schedule: {} non-pass decisions (shrunk from {})\nreplay: {repro}",
        shrunk.choices.len(),
        shrunk.original
    );
    write_file(&out, shrink::render(&shrunk.choices, &header))?;
    if let Some(path) = &req.html {
        write_file(path, html::render(&shrunk.outcome))?;
    }
    let mut outcome = shrunk.outcome;
    outcome.schedule_file = Some(out.display().to_string());
    print!("{}", outcome.report());
    println!(
        "shrunk: {} non-pass decisions of {} still fail ({} runs); every other hit passes:",
        shrunk.choices.len(),
        shrunk.original,
        shrunk.runs
    );
    for c in &shrunk.choices {
        println!("  hit #{} {}: {}", c.hit, c.point, c.decision.describe());
    }
    println!("schedule: {}", out.display());
    println!("replay: {repro}");
    Ok(ExitCode::SUCCESS)
}
