//! `agentsim shrink`: reduce a failing seed's faults, workload operations
//! and yield decisions to the few that matter, print them, write the
//! schedule file and its replay command.

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
    let kept = format!(
        "kept {} faults, {} workload operations, {} non-pass decisions",
        shrunk.faults, shrunk.ops, shrunk.decisions
    );
    let header = format!("agentsim schedule: {kept}\nreplay: {repro}");
    write_file(
        &out,
        shrink::render(
            &shrunk.choices,
            &shrunk.outcome.faults,
            &shrunk.outcome.ops,
            &header,
        ),
    )?;
    if let Some(path) = &req.html {
        write_file(path, html::render(&shrunk.outcome))?;
    }
    let invariant = shrunk
        .outcome
        .failure
        .as_ref()
        .map(|f| f.headline())
        .unwrap_or_default();
    let mut outcome = shrunk.outcome;
    outcome.schedule_file = Some(out.display().to_string());
    print!("{}", outcome.report());
    println!(
        "shrunk ({} runs): {kept}; still fails: {invariant}",
        shrunk.runs
    );
    print_list(
        "faults kept (every other drawn fault is left out):",
        shrunk.kept_faults.iter().map(|f| f.to_string()),
    );
    print_list(
        "workload operations kept (every other one is left out):",
        shrunk.kept_ops.iter().map(|o| o.key.clone()),
    );
    print_list(
        "decisions kept (every other hit passes):",
        shrunk
            .choices
            .iter()
            .map(|c| format!("hit #{} {}: {}", c.hit, c.point, c.decision.describe())),
    );
    println!("schedule: {}", out.display());
    println!("replay: {repro}");
    Ok(ExitCode::SUCCESS)
}

/// How many lines of one kind the summary shows.
const SHOWN: usize = 20;

/// A titled list, skipped when empty, cut at [`SHOWN`] lines.
fn print_list(title: &str, lines: impl ExactSizeIterator<Item = String>) {
    let total = lines.len();
    if total == 0 {
        return;
    }
    println!("{title}");
    for line in lines.take(SHOWN) {
        println!("  {line}");
    }
    if total > SHOWN {
        println!("  ... {} more (see the schedule file)", total - SHOWN);
    }
}
