//! Shrinking a failing run to the few faults, operations and scheduling
//! decisions that matter.
//!
//! A failing seed draws a handful of faults, dozens of workload operations
//! and makes dozens of yield-point decisions; usually one fault, a few
//! operations and one or two decisions open the race. [`shrink`] replays
//! the run with a fixed [`Schedule`] and, keeping every change after which
//! the run still fails the same invariant:
//!
//! 1. drops drawn faults (all, then halves, then one at a time),
//! 2. drops workload operations ([`crate::workload::keep_op`]) the same way,
//! 3. removes yield decisions (sets them back to "pass") the same way,
//! 4. shortens the decisions left (one yield instead of four, a 1 ms sleep
//!    instead of 5 ms).
//!
//! The result is a schedule file that replays the failure with `agentsim
//! run ... --schedule FILE`. Network latency and the draws themselves still
//! come from the seed (a dropped operation's think time is kept, so what
//! remains happens when it did). Shrinking is deterministic: the same
//! failing run always shrinks to the same schedule.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use sim_hooks::BugSet;

use crate::fault::FaultDraw;
use crate::runner::{self, Failure, Outcome, RunOptions};
use crate::scenario::Scenario;
use crate::sched::{Choice, Decision, Schedule};
use crate::seed::Seed;
use crate::workload::OpDraw;

/// A schedule file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "line {line}: expected `HIT POINT DECISION`, `drop fault#N [what]` or `drop op KEY`, found {text:?}"
    )]
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

/// How much of a kind of decision a shrink kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    pub kept: usize,
    pub of: usize,
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.kept, self.of)
    }
}

/// The outcome of [`shrink`].
#[derive(Debug)]
pub struct Shrunk {
    /// Non-pass decisions of the original failing run.
    pub original: usize,
    /// The reduced schedule.
    pub schedule: Schedule,
    /// Its non-pass decisions with the points they landed on, in hit order.
    pub choices: Vec<Choice>,
    /// Drawn faults kept (of all drawn) and yield decisions kept.
    pub faults: Kept,
    /// Workload operations kept (of all asked about).
    pub ops: Kept,
    pub decisions: Kept,
    /// The faults that still happen, in number order.
    pub kept_faults: Vec<FaultDraw>,
    /// The operations that still happen, in the order asked.
    pub kept_ops: Vec<OpDraw>,
    /// Runs it took.
    pub runs: usize,
    /// The failing run under the reduced schedule.
    pub outcome: Outcome,
}

/// Keeps the fewest of `kept` it can: tries none, then drops chunks of
/// halving size, each drop kept when `fails(candidate)` still says the
/// run fails (delta debugging's complement pass). Deterministic.
fn reduce<T: Clone>(mut kept: Vec<T>, mut fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    if kept.is_empty() || fails(&[]) {
        return Vec::new();
    }
    let mut chunk = kept.len().div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < kept.len() {
            let end = (start + chunk).min(kept.len());
            let candidate: Vec<T> = kept[..start].iter().chain(&kept[end..]).cloned().collect();
            if fails(&candidate) {
                kept = candidate;
            } else {
                start = end;
            }
        }
        if chunk == 1 {
            return kept;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// The schedule being shrunk: what is still in, as lists the passes cut.
#[derive(Clone)]
struct Plan {
    choices: Vec<Choice>,
    /// While faults and operations are dropped: the decisions anchored to
    /// their point and occurrence instead of their hit number.
    anchored: Option<BTreeMap<(&'static str, u64), Decision>>,
    faults: Vec<u32>,
    ops: Vec<String>,
}

/// A run's non-pass decisions keyed by point and occurrence.
fn anchor(choices: &[Choice]) -> BTreeMap<(&'static str, u64), Decision> {
    let mut seen: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut anchored = BTreeMap::new();
    for c in choices {
        let n = seen.entry(c.point).or_default();
        if c.decision != Decision::Pass {
            anchored.insert((c.point, *n), c.decision);
        }
        *n += 1;
    }
    anchored
}

impl Plan {
    fn schedule(&self, all_faults: &[u32], all_ops: &[String]) -> Schedule {
        let faults: BTreeSet<u32> = self.faults.iter().copied().collect();
        let ops: BTreeSet<&String> = self.ops.iter().collect();
        let decisions = match &self.anchored {
            Some(anchored) => Schedule {
                by_point: anchored.clone(),
                ..Schedule::default()
            },
            None => Schedule::from_choices(&self.choices),
        };
        Schedule {
            dropped_faults: all_faults
                .iter()
                .copied()
                .filter(|n| !faults.contains(n))
                .collect(),
            dropped_ops: all_ops
                .iter()
                .filter(|k| !ops.contains(k))
                .cloned()
                .collect(),
            ..decisions
        }
    }
}

/// Shrinks the failing run `seed` of `scenario` (from `start`, or from the
/// seeded draws and decisions). `None` if that run passes.
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
    let all_faults: Vec<u32> = first.faults.iter().map(|f| f.number).collect();
    let all_ops: Vec<String> = first.ops.iter().map(|o| o.key.clone()).collect();
    let mut plan = Plan {
        choices: non_pass(&first.choices),
        anchored: Some(anchor(&first.choices)),
        faults: first
            .faults
            .iter()
            .filter(|f| !f.dropped)
            .map(|f| f.number)
            .collect(),
        ops: first
            .ops
            .iter()
            .filter(|o| !o.dropped)
            .map(|o| o.key.clone())
            .collect(),
    };
    let original = plan.choices.len();
    let mut best = first;
    let mut runs = 1;
    let mut attempt = |candidate: &Plan, best: &mut Outcome| -> bool {
        runs += 1;
        let trial = runner::run_with(
            scenario,
            seed,
            bugs,
            &RunOptions {
                schedule: Some(candidate.schedule(&all_faults, &all_ops)),
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

    // Faults first: a fault removed takes its episode out of the story.
    let faults = plan.faults.clone();
    plan.faults = reduce(faults, |kept| {
        let candidate = Plan {
            faults: kept.to_vec(),
            ..plan.clone()
        };
        attempt(&candidate, &mut best)
    });
    let ops = plan.ops.clone();
    plan.ops = reduce(ops, |kept| {
        let candidate = Plan {
            ops: kept.to_vec(),
            ..plan.clone()
        };
        attempt(&candidate, &mut best)
    });
    // From here on by hit number: the decisions as the last kept run
    // applied them (a shorter run never reaches the later hits).
    plan.anchored = None;
    plan.choices = non_pass(&best.choices);
    let choices = plan.choices.clone();
    plan.choices = reduce(choices, |kept| {
        let candidate = Plan {
            choices: kept.to_vec(),
            ..plan.clone()
        };
        attempt(&candidate, &mut best)
    });
    plan.choices = non_pass(&best.choices);

    // Shorten what is left.
    for i in 0..plan.choices.len() {
        let simpler = match plan.choices[i].decision {
            Decision::Yield(n) if n > 1 => Some(Decision::Yield(1)),
            Decision::Sleep(d) if d > Duration::from_millis(1) => {
                Some(Decision::Sleep(Duration::from_millis(1)))
            }
            _ => None,
        };
        if let Some(decision) = simpler {
            let mut candidate = plan.clone();
            candidate.choices[i].decision = decision;
            if attempt(&candidate, &mut best) {
                plan = candidate;
            }
        }
    }

    let choices = non_pass(&best.choices);
    let kept_faults: Vec<FaultDraw> = best.faults.iter().filter(|f| !f.dropped).cloned().collect();
    let kept_ops: Vec<OpDraw> = best.ops.iter().filter(|o| !o.dropped).cloned().collect();
    Some(Shrunk {
        original,
        schedule: plan.schedule(&all_faults, &all_ops),
        faults: Kept {
            kept: kept_faults.len(),
            of: all_faults.len(),
        },
        ops: Kept {
            kept: kept_ops.len(),
            of: all_ops.len(),
        },
        decisions: Kept {
            kept: choices.len(),
            of: original,
        },
        choices,
        kept_faults,
        kept_ops,
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

/// A schedule file: a comment header, a `drop fault#N what` line per fault
/// left out, a `drop op KEY` line per workload operation left out, then
/// `HIT POINT DECISION` per non-pass decision.
pub fn render(choices: &[Choice], faults: &[FaultDraw], ops: &[OpDraw], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "# drop fault#N / drop op KEY: left out; every other fault and operation happens as drawn"
    );
    for f in faults.iter().filter(|f| f.dropped) {
        let _ = writeln!(out, "drop {f}");
    }
    for o in ops.iter().filter(|o| o.dropped) {
        let _ = writeln!(out, "drop op {}", o.key);
    }
    let _ = writeln!(out, "# hit point decision; every hit not listed passes");
    for c in choices {
        let _ = writeln!(out, "{} {} {}", c.hit, c.point, c.decision.describe());
    }
    out
}

/// Reads a schedule file written by [`render`] (the point names and a
/// fault's description are informational: a replay applies decisions by
/// hit number and drops faults by number). Files without `drop` lines
/// (older ones) still parse.
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
        if let Some(rest) = line.strip_prefix("drop ") {
            let rest = rest.trim_start();
            if let Some(key) = rest.strip_prefix("op ") {
                let key = key.trim();
                if key.is_empty() {
                    return Err(malformed());
                }
                schedule.dropped_ops.insert(key.to_string());
            } else {
                let number = rest
                    .strip_prefix("fault#")
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(malformed)?;
                schedule.dropped_faults.insert(number);
            }
            continue;
        }
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
    use crate::fault::Fault;

    fn choices() -> Vec<Choice> {
        vec![
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
        ]
    }

    #[test]
    fn a_rendered_schedule_parses_back_with_its_dropped_faults_and_ops() {
        let ms = Duration::from_millis;
        let fault = |number, dropped| FaultDraw {
            number,
            at: ms(1200),
            fault: Fault::Hold("client".into(), "agent".into()),
            until: Some(ms(1300)),
            dropped,
        };
        let op = |key: &str, dropped| OpDraw {
            key: key.to_string(),
            dropped,
        };
        let text = render(
            &choices(),
            &[fault(0, false), fault(3, true)],
            &[op("chat0#1 Start", true), op("chat0#2 List", false)],
            "stale-output seed 3",
        );
        assert!(text.starts_with("# stale-output seed 3\n"), "{text}");
        assert!(
            text.contains(
                "\ndrop fault#3 hold client <-> agent at 1.200s until 1.300s\ndrop op chat0#1 Start\n"
            ),
            "{text}"
        );
        let want = Schedule {
            dropped_faults: [3].into(),
            dropped_ops: ["chat0#1 Start".to_string()].into(),
            ..Schedule::from_choices(&choices())
        };
        assert_eq!(parse(&text).unwrap(), want);
    }

    #[test]
    fn a_schedule_without_drop_lines_still_parses() {
        let text = "# old file\n3 a.b yield x2\n9 c.d sleep 4ms\n";
        assert_eq!(parse(text).unwrap(), Schedule::from_choices(&choices()));
    }

    fn check_malformed(text: &str, line: usize) {
        let err = parse(text).unwrap_err();
        let bad = text.lines().nth(line - 1).unwrap_or_default().trim();
        assert_eq!(
            err.to_string(),
            format!(
                "line {line}: expected `HIT POINT DECISION`, `drop fault#N [what]` or `drop op KEY`, found {bad:?}"
            )
        );
    }

    #[test]
    fn a_malformed_line_names_its_number() {
        check_malformed("# header\n1 a.b yield x0\n", 2);
        check_malformed("1 a.b pass\ndrop fault#x hold\n", 2);
        check_malformed("drop fault 3\n", 1);
        check_malformed("\n\ndrop op \n", 3);
        check_malformed("drop everything\n", 1);
    }

    /// `reduce` keeps a minimal set for a monotone failure predicate.
    fn check_reduce(items: usize, needed: &[usize], want_runs_at_most: usize) {
        let mut runs = 0;
        let kept = reduce((0..items).collect(), |kept: &[usize]| {
            runs += 1;
            needed.iter().all(|n| kept.contains(n))
        });
        assert_eq!(kept, needed, "{items} items");
        assert!(runs <= want_runs_at_most, "{runs} runs for {items} items");
    }

    #[test]
    fn reduce_finds_the_items_a_failure_needs() {
        check_reduce(0, &[], 0);
        check_reduce(10, &[], 1);
        check_reduce(10, &[7], 20);
        check_reduce(40, &[3, 31], 80);
        check_reduce(5, &[0, 1, 2, 3, 4], 15);
    }
}
