//! Runs one seed of one scenario and reports what happened.
//!
//! The runner owns everything a run installs on the simulation thread (the
//! yield-point scheduler, the host tracker, panic capture) and removes it
//! afterwards, so runs on one thread never leak into each other. A panic
//! anywhere, a violated invariant and a turmoil error (a host failed) are
//! all failures; a run that does not finish in its simulated time violates
//! the invariant [`RUN_COMPLETES`], and its report lists what was pending.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use sim_hooks::BugSet;

use crate::explain;
use crate::fault::FaultDraw;
use crate::host::HostTracker;
use crate::invariant::{Invariants, Violation};
use crate::panics::Capture;
use crate::scenario::Scenario;
use crate::sched::{Choice, Coverage, Schedule, Scheduler};
use crate::seed::{Seed, stream};
use crate::timers::Timers;
use crate::trace::{self, Event, Trace};
use crate::workload::{self, OpDraw};
use crate::world::SimWorld;

/// How many events a failure report shows when it cannot tell which
/// tasks are involved.
pub const REPORT_EVENTS: usize = 40;

/// How many open items a failure report lists.
const MAX_PENDING: usize = 20;

/// The invariant a run breaks by not finishing within its simulated time.
pub const RUN_COMPLETES: &str = "run-completes";

/// The prefix of turmoil's error for a run that did not finish.
const TURMOIL_TIMEOUT: &str = "Ran for duration";

/// Why a run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// An invariant was violated.
    Violation(Violation),
    /// Something panicked (first panic shown).
    Panic(String),
    /// turmoil failed: a host returned an error, or the run did not finish
    /// within the scenario's duration.
    Sim(String),
}

impl Failure {
    /// A one-line summary (for progress output and JUnit messages).
    pub fn headline(&self) -> String {
        match self {
            Failure::Violation(v) => format!("invariant {} violated", v.invariant),
            Failure::Panic(p) => format!("panic: {p}"),
            Failure::Sim(e) => format!("simulation error: {e}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Violation(v) => write!(f, "{v}"),
            other => f.write_str(&other.headline()),
        }
    }
}

/// The exact command that replays a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repro {
    pub scenario: String,
    pub seed: Seed,
    pub bugs: BugSet,
    /// The schedule file the run replayed, if any.
    pub schedule: Option<String>,
}

impl fmt::Display for Repro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cargo run --release --bin agentsim -- run {} --seed {}",
            self.scenario, self.seed
        )?;
        for bug in self.bugs.iter() {
            write!(f, " --bug {bug}")?;
        }
        if let Some(file) = &self.schedule {
            write!(f, " --schedule {file}")?;
        }
        Ok(())
    }
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub scenario: &'static str,
    pub seed: Seed,
    pub bugs: BugSet,
    pub failure: Option<Failure>,
    pub events: Vec<Event>,
    pub coverage: Coverage,
    /// Simulated time the run took.
    pub sim_time: Duration,
    pub trace_hash: u64,
    /// Every yield-point decision, in hit order (what `shrink` reduces).
    pub choices: Vec<Choice>,
    /// Every fault the scenario drew, dropped ones marked (what `shrink`
    /// drops first).
    pub faults: Vec<FaultDraw>,
    /// Every workload operation the scenario asked about
    /// ([`workload::keep_op`]), dropped ones marked.
    pub ops: Vec<OpDraw>,
    /// What was still open when the run was stopped (requests, connections,
    /// processes, timers, faults still to come); filled for a failed run.
    pub pending: Vec<String>,
    /// The schedule file this run replayed (for the repro command).
    pub schedule_file: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    pub fn repro(&self) -> Repro {
        Repro {
            scenario: self.scenario.to_string(),
            seed: self.seed,
            bugs: self.bugs.clone(),
            schedule: self.schedule_file.clone(),
        }
    }

    /// The failure report: what broke, what was pending if the run never
    /// finished, the events of the tasks involved, the repro command.
    /// Empty for a passing run.
    pub fn report(&self) -> String {
        let Some(failure) = &self.failure else {
            return String::new();
        };
        let bugs: Vec<&str> = self.bugs.iter().map(|b| b.name()).collect();
        let bugs = if bugs.is_empty() {
            String::new()
        } else {
            format!(" (bugs: {})", bugs.join(", "))
        };
        let mut out = format!(
            "FAIL {} seed {}{bugs}\n{failure}\n",
            self.scenario, self.seed
        );
        if !self.pending.is_empty() {
            out.push_str("open when the run was stopped:\n");
            for line in self.pending.iter().take(MAX_PENDING) {
                out.push_str(&format!("  {line}\n"));
            }
            if self.pending.len() > MAX_PENDING {
                out.push_str(&format!(
                    "  ... {} more\n",
                    self.pending.len() - MAX_PENDING
                ));
            }
        }
        out.push_str(&self.story());
        out.push_str(&format!("repro: {}\n", self.repro()));
        out
    }

    /// The events of the tasks the failure involves (or the last
    /// [`REPORT_EVENTS`] when no task can be told).
    fn story(&self) -> String {
        let text = match &self.failure {
            Some(Failure::Violation(v)) => format!("{} {}", v.expected, v.seen),
            Some(Failure::Panic(p)) => p.clone(),
            _ => String::new(),
        };
        let mut text = text;
        // A hang has no violation text to follow: what was open is the lead.
        let hung =
            matches!(&self.failure, Some(Failure::Violation(v)) if v.invariant == RUN_COMPLETES);
        if hung {
            for line in &self.pending {
                text.push(' ');
                text.push_str(line);
            }
        }
        let story = explain::story(&self.events, &text);
        if story.tasks.is_empty() {
            return format!(
                "last {} events:\n{}",
                REPORT_EVENTS.min(self.events.len()),
                trace::timeline(&self.events, REPORT_EVENTS)
            );
        }
        let shown = story.events.len().min(explain::MAX_EVENTS);
        let skipped = story.events.len() - shown;
        let mut out = format!("tasks involved: {}\n", story.tasks.join(", "));
        out.push_str(&format!(
            "their events ({} of {} in the run; --trace or --html for all):\n",
            story.events.len(),
            self.events.len()
        ));
        if skipped > 0 {
            out.push_str(&format!("  ... {skipped} earlier events of these tasks\n"));
        }
        out.push_str(&trace::lines(&story.events[skipped..]));
        out
    }
}

/// How to run a seed beyond the scenario, seed and switches.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Fixed yield decisions instead of the seeded ones, and the faults
    /// and workload operations to leave out.
    pub schedule: Option<Schedule>,
    /// Where that schedule was read from (named in the repro command).
    pub schedule_file: Option<String>,
}

/// Runs `seed` of `scenario` with `bugs` on the current thread.
pub fn run(scenario: &dyn Scenario, seed: Seed, bugs: &BugSet) -> Outcome {
    run_with(scenario, seed, bugs, &RunOptions::default())
}

/// [`run`] with options (a fixed schedule).
pub fn run_with(
    scenario: &dyn Scenario,
    seed: Seed,
    bugs: &BugSet,
    options: &RunOptions,
) -> Outcome {
    let trace = Trace::new();
    let invariants = Invariants::new(trace.clone());
    let config = scenario.config();
    let mut scheduler = Scheduler::new(
        config.sched.clone(),
        seed.rng(stream::YIELDS),
        trace.clone(),
    );
    if let Some(schedule) = &options.schedule {
        scheduler = scheduler.scripted(schedule.clone());
    }
    let timers = Rc::new(Timers::default());
    scheduler = scheduler.with_timers(timers.clone());
    let scheduler = Rc::new(scheduler);
    sim_hooks::watch_polls(false);
    let capture = Capture::start();
    let dropped_ops = options
        .schedule
        .as_ref()
        .map(|s| s.dropped_ops.clone())
        .unwrap_or_default();
    let gate = workload::install(dropped_ops, trace.clone());
    let ended = catch_unwind(AssertUnwindSafe(|| {
        let _hosts = HostTracker::install();
        let _hook = sim_hooks::install(scheduler.clone());
        let mut world = SimWorld::new(
            seed,
            bugs.clone(),
            &config,
            trace.clone(),
            invariants.clone(),
        );
        if let Some(schedule) = &options.schedule {
            world.drop_faults(schedule.dropped_faults.clone());
        }
        world.fire_timers(timers.clone());
        scenario.build(&mut world);
        world.run(|| !capture.panics().is_empty())
    }));
    let panics = capture.panics();
    drop(capture);
    let ops = gate.asked();
    drop(gate);
    let (sim_time, sim_error, faults, pending_faults) = match ended {
        Ok(end) => (end.elapsed, end.error, end.faults, end.pending_faults),
        Err(_) => (trace.world_time(), None, Vec::new(), Vec::new()),
    };
    // Faults still to come are pending timers too (the world's own).
    let open_faults = || {
        pending_faults.iter().map(|p| {
            format!(
                "timer: {p} scheduled at {:.3}s, not yet applied",
                p.at.as_secs_f64()
            )
        })
    };
    sim_hooks::watch_polls(false);
    let mut pending = Vec::new();
    let failure = if let Some(first) = panics.into_iter().next() {
        Some(Failure::Panic(first))
    } else if let Some(v) = invariants.first() {
        Some(Failure::Violation(v))
    } else {
        match sim_error {
            Some(e) if e.starts_with(TURMOIL_TIMEOUT) => {
                pending = explain::pending(&trace.events());
                pending.extend(open_faults());
                let seen = format!(
                    "still running when stopped at {:.3}s ({} open item{} below)",
                    sim_time.as_secs_f64(),
                    pending.len(),
                    if pending.len() == 1 { "" } else { "s" }
                );
                let expected = format!(
                    "every client finishes within {:.0}s of simulated time",
                    config.duration.as_secs_f64()
                );
                trace.record_at(
                    sim_time,
                    trace::WORLD,
                    "violation",
                    format!("{RUN_COMPLETES}: expected {expected}, seen {seen}"),
                );
                Some(Failure::Violation(Violation {
                    invariant: RUN_COMPLETES.to_string(),
                    expected,
                    seen,
                }))
            }
            other => other.map(Failure::Sim),
        }
    };
    if failure.is_some() && pending.is_empty() {
        pending = explain::pending(&trace.events());
        pending.extend(open_faults());
    }
    let events = trace.events();
    Outcome {
        scenario: scenario.name(),
        seed,
        bugs: bugs.clone(),
        failure,
        trace_hash: trace::hash(&events),
        events,
        coverage: scheduler.coverage(),
        choices: scheduler.choices(),
        faults,
        ops,
        pending,
        schedule_file: options.schedule_file.clone(),
        sim_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Fault;
    use crate::world::{SimConfig, SimWorld};

    /// A scenario made of one closure, for testing the runner itself.
    struct Probe<F>(F);

    impl<F: Fn(&mut SimWorld<'_>) + Send + Sync> Scenario for Probe<F> {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn summary(&self) -> &'static str {
            "runner probe"
        }
        fn config(&self) -> SimConfig {
            SimConfig {
                duration: Duration::from_secs(2),
                ..SimConfig::default()
            }
        }
        fn build(&self, world: &mut SimWorld<'_>) {
            (self.0)(world)
        }
    }

    fn outcome(build: impl Fn(&mut SimWorld<'_>) + Send + Sync) -> Outcome {
        run(&Probe(build), Seed(7), &BugSet::none())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_violation_stops_the_run_in_the_step_it_happens() {
        let o = outcome(|w| {
            let inv = w.invariants().clone();
            w.client("c", async move {
                tokio::time::sleep(ms(10)).await;
                inv.fail("always", "x", "y");
                tokio::time::sleep(ms(1000)).await;
                Ok(())
            });
        });
        assert!(matches!(&o.failure, Some(Failure::Violation(v)) if v.invariant == "always"));
        assert!(o.sim_time < ms(15), "{:?}", o.sim_time);
    }

    #[test]
    fn a_panic_in_a_spawned_task_fails_the_run_although_the_client_finishes() {
        let o = outcome(|w| {
            w.client("c", async move {
                let _ = tokio::spawn(async { panic!("handler bug") }).await;
                Ok(())
            });
        });
        assert!(
            matches!(&o.failure, Some(Failure::Panic(p)) if p.starts_with("handler bug")),
            "{:?}",
            o.failure
        );
    }

    #[test]
    fn a_host_error_is_a_simulation_failure_and_an_unfinished_run_breaks_run_completes() {
        let o = outcome(|w| w.client("c", async { Err("refused".into()) }));
        assert!(
            matches!(&o.failure, Some(Failure::Sim(e)) if e.contains("refused")),
            "{:?}",
            o.failure
        );
        let o = outcome(|w| {
            w.client("c", async {
                std::future::pending::<()>().await;
                Ok(())
            })
        });
        assert!(
            matches!(&o.failure, Some(Failure::Violation(v)) if v.invariant == RUN_COMPLETES),
            "{:?}",
            o.failure
        );
        let report = o.report();
        assert!(
            report.contains("invariant violated: run-completes\n  expected: every client finishes within 2s of simulated time\n"),
            "{report}"
        );
    }

    #[test]
    fn end_checks_run_after_the_clients_and_faults_are_traced() {
        let o = outcome(|w| {
            w.host("server", || async {
                std::future::pending::<()>().await;
                Ok(())
            });
            w.client("c", async {
                tokio::time::sleep(ms(20)).await;
                Ok(())
            });
            w.fault(ms(5), Fault::Hold("server".into(), "c".into()));
            w.at_end(|inv| inv.fail("at-end", "checked", "ran"));
        });
        assert!(matches!(&o.failure, Some(Failure::Violation(v)) if v.invariant == "at-end"));
        let fault = o.events.iter().find(|e| e.kind == "fault").unwrap();
        assert_eq!(
            (fault.at, fault.detail.as_str()),
            (ms(5), "fault#0 hold server <-> c")
        );
    }

    #[test]
    fn the_report_names_the_invariant_and_ends_with_the_repro_command() {
        let mut o = outcome(|w| {
            let inv = w.invariants().clone();
            w.client("c", async move {
                inv.fail("final-output", "abc", "ab");
                Ok(())
            });
        });
        o.bugs = BugSet::none().with(sim_hooks::Bug::StaleOutputRead);
        let report = o.report();
        assert!(
            report.starts_with(
                "FAIL probe seed 7 (bugs: stale-output-read)\ninvariant violated: final-output\n"
            ),
            "{report}"
        );
        assert!(
            report.contains("  expected: abc\n  seen:     ab\nlast 1 events:\n"),
            "{report}"
        );
        assert!(report.ends_with(
            "repro: cargo run --release --bin agentsim -- run probe --seed 7 --bug stale-output-read\n"
        ), "{report}");
    }
}
