//! Shrinking a failing run to the few scheduling decisions that matter.
//!
//! A failing seed makes dozens of yield-point decisions; usually one or two
//! of them open the race. [`shrink`] replays the run with a fixed
//! [`Schedule`] and removes decisions (sets them back to "pass"), then
//! shortens the rest (one yield instead of four, a 1 ms sleep instead of
//! 5 ms), keeping every change after which the run still fails the same
//! invariant. The result is a schedule file that replays the failure with
//! `agentsim run ... --schedule FILE`. Everything else (workload, network
//! latency, faults) still comes from the seed. Shrinking is deterministic:
//! the same failing run always shrinks to the same schedule.

use std::fmt::Write as _;
use std::time::Duration;

use sim_hooks::BugSet;

use crate::runner::{self, Failure, Outcome, RunOptions};
use crate::scenario::Scenario;
use crate::sched::{Choice, Decision, Schedule};
use crate::seed::Seed;

/// A schedule file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("line {line}: expected `HIT POINT DECISION`, found {text:?}")]
    Malformed { line: usize, text: String },
}

/// What a failure is, for "still fails the same way".
fn same_failure(a: &Failure, b: &Failure) -> bool {
    match (a, b) {
        (Failure::Violation(x), Failure::Violation(y)) => x.invariant == y.invariant,
        (Failure::Panic(_), Failure::Panic(_)) => true,
        (Failure::Sim(_), Failure::Sim(_)) => true,
        _ => false,
    }
}

/// The outcome of [`shrink`].
#[derive(Debug)]
pub struct Shrunk {
    /// Non-pass decisions of the original failing run.
    pub original: usize,
    /// The reduced schedule (non-pass decisions only).
    pub schedule: Schedule,
    /// Its decisions with the points they landed on, in hit order.
    pub choices: Vec<Choice>,
    /// Runs it took.
    pub runs: usize,
    /// The failing run under the reduced schedule.
    pub outcome: Outcome,
}

/// Shrinks the failing run `seed` of `scenario` (from `start`, or from the
/// seeded decisions). `None` if that run passes.
pub fn shrink(
    scenario: &dyn Scenario,
    seed: Seed,
    bugs: &BugSet,
    start: Option<Schedule>,
) -> Option<Shrunk> {
    let first = runner::run_with(
        scenario,
        seed,
        bugs,
        &RunOptions {
            schedule: start,
            ..RunOptions::default()
        },
    );
    let target = first.failure.clone()?;
    let mut best = first;
    let original = non_pass(&best.choices).len();
    let mut runs = 1;
    let mut attempt = |schedule: Schedule, best: &mut Outcome| -> bool {
        runs += 1;
        let trial = runner::run_with(
            scenario,
            seed,
            bugs,
            &RunOptions {
                schedule: Some(schedule),
                ..RunOptions::default()
            },
        );
        let keeps = trial
            .failure
            .as_ref()
            .is_some_and(|f| same_failure(f, &target));
        if keeps {
            *best = trial;
        }
        keeps
    };

    // Remove decisions: all at once, then chunks of halving size.
    if !attempt(Schedule::default(), &mut best) {
        let mut chunk = non_pass(&best.choices).len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < non_pass(&best.choices).len() {
                let current = non_pass(&best.choices);
                let end = (start + chunk).min(current.len());
                let kept: Vec<Choice> = current[..start]
                    .iter()
                    .chain(&current[end..])
                    .cloned()
                    .collect();
                if !attempt(Schedule::from_choices(&kept), &mut best) {
                    start = end;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    // Shorten what is left.
    let mut i = 0;
    while i < non_pass(&best.choices).len() {
        let current = non_pass(&best.choices);
        let simpler = match current[i].decision {
            Decision::Yield(n) if n > 1 => Some(Decision::Yield(1)),
            Decision::Sleep(d) if d > Duration::from_millis(1) => {
                Some(Decision::Sleep(Duration::from_millis(1)))
            }
            _ => None,
        };
        if let Some(decision) = simpler {
            let mut candidate = current.clone();
            candidate[i].decision = decision;
            attempt(Schedule::from_choices(&candidate), &mut best);
        }
        i += 1;
    }

    let choices = non_pass(&best.choices);
    Some(Shrunk {
        original,
        schedule: Schedule::from_choices(&choices),
        choices,
        runs,
        outcome: best,
    })
}

fn non_pass(choices: &[Choice]) -> Vec<Choice> {
    choices
        .iter()
        .filter(|c| c.decision != Decision::Pass)
        .cloned()
        .collect()
}

/// A schedule file: a comment header, then `HIT POINT DECISION` per line.
pub fn render(choices: &[Choice], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(out, "# hit point decision; every hit not listed passes");
    for c in choices {
        let _ = writeln!(out, "{} {} {}", c.hit, c.point, c.decision.describe());
    }
    out
}

/// Reads a schedule file written by [`render`] (the point names are
/// informational: a replay applies decisions by hit number).
pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
    let mut schedule = Schedule::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = || ScheduleError::Malformed {
            line: n + 1,
            text: line.to_string(),
        };
        let mut parts = line.splitn(3, ' ');
        let hit: u64 = parts
            .next()
            .and_then(|h| h.parse().ok())
            .ok_or_else(malformed)?;
        let _point = parts.next().ok_or_else(malformed)?;
        let decision = parts
            .next()
            .and_then(Decision::parse)
            .ok_or_else(malformed)?;
        schedule.decisions.insert(hit, decision);
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_schedule_parses_back() {
        let choices = vec![
            Choice {
                hit: 3,
                point: "a.b",
                decision: Decision::Yield(2),
            },
            Choice {
                hit: 9,
                point: "c.d",
                decision: Decision::Sleep(Duration::from_millis(4)),
            },
        ];
        let text = render(&choices, "stale-output seed 3");
        assert!(text.starts_with("# stale-output seed 3\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), Schedule::from_choices(&choices));
    }

    #[test]
    fn a_malformed_line_names_its_number() {
        let err = parse("# header\n1 a.b yield x0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: expected `HIT POINT DECISION`, found \"1 a.b yield x0\""
        );
    }
}
