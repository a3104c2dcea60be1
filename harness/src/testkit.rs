//! Scenario checks for `cargo test`, with single-seed replay.
//!
//! `SIM_SEED=N cargo test -p scenarios NAME` makes every check below run
//! only seed `N` and print its timeline (and `SIM_TRACE=FILE` writes the
//! whole trace as JSON lines), so a seed found by `agentsim sweep` or by CI
//! can be replayed inside the test that found it. The replay still asserts
//! what the check claims: [`check_passes`] that the seed passes,
//! [`check_catches`] that it fails with the switch on,
//! [`check_deterministic`] that it runs identically twice.

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use sim_hooks::{Bug, BugSet};

use crate::runner::{self, Outcome};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::sweep::{self, SweepSpec};
use crate::trace;

/// The variable naming the one seed to replay.
pub const SIM_SEED: &str = "SIM_SEED";
/// The variable naming a file for the replayed run's JSON-lines trace.
pub const SIM_TRACE: &str = "SIM_TRACE";
/// The variable naming the one switch [`check_declared_catches`] checks
/// (for replaying a seed of a scenario that declares several).
pub const SIM_BUG: &str = "SIM_BUG";

/// The seed to replay, if `SIM_SEED` is set. A malformed value panics: a
/// test silently running every seed instead would mislead.
pub fn replay_seed() -> Option<Seed> {
    let raw = std::env::var(SIM_SEED).ok()?;
    match raw.parse() {
        Ok(seed) => Some(seed),
        Err(e) => panic!("{SIM_SEED}: {e}"),
    }
}

fn jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Runs one seed verbosely: timeline to stderr, trace file if asked.
pub fn replay(scenario: &dyn Scenario, seed: Seed, bugs: &BugSet) -> Outcome {
    let outcome = runner::run(scenario, seed, bugs);
    eprint!("{}", trace::timeline(&outcome.events, usize::MAX));
    eprintln!(
        "{SIM_SEED}={seed}: {} with {}: {} ({} events, trace hash {:016x})",
        scenario.name(),
        switches(bugs),
        if outcome.passed() { "pass" } else { "FAIL" },
        outcome.events.len(),
        outcome.trace_hash
    );
    if let Ok(path) = std::env::var(SIM_TRACE) {
        let written = std::fs::File::create(&path)
            .and_then(|f| trace::write_json_lines(&outcome.events, std::io::BufWriter::new(f)));
        if let Err(e) = written {
            eprintln!("{SIM_TRACE}={path}: {e}");
        }
    }
    outcome
}

/// Runs `seeds` in parallel. With `fail_fast` the sweep stops taking seeds
/// at the first failure; workers take seeds in order and finish the ones
/// they took, so every seed below a failing one has still run and the
/// lowest failure found is the lowest there is.
fn run_seeds(
    scenario: &dyn Scenario,
    seeds: Range<u64>,
    bugs: &BugSet,
    fail_fast: bool,
) -> Vec<sweep::SeedResult> {
    let stop = AtomicBool::new(false);
    let spec = SweepSpec {
        scenario,
        seeds: seeds.map(Seed).collect(),
        bugs: bugs.clone(),
        jobs: jobs(),
        stop: &stop,
        fail_fast,
    };
    sweep::sweep(&spec, |_| {})
}

/// The fixed agent passes every seed of `seeds` (or the replayed seed).
pub fn check_passes(scenario: &dyn Scenario, seeds: Range<u64>) {
    if let Some(seed) = replay_seed() {
        let bugs = BugSet::none();
        announce(scenario, seed, &bugs, "a pass");
        let outcome = replay(scenario, seed, &bugs);
        assert!(
            outcome.passed(),
            "{SIM_SEED}={seed}: {} failed\n{}",
            scenario.name(),
            outcome.report()
        );
        return;
    }
    let results = run_seeds(scenario, seeds, &BugSet::none(), false);
    if let Some(r) = results.iter().find(|r| r.failure.is_some()) {
        let failed = results.iter().filter(|r| r.failure.is_some()).count();
        panic!(
            "{failed} of {} seeds failed; first:\n{}",
            results.len(),
            r.report
        );
    }
}

/// The one line saying what a `SIM_SEED` replay runs and expects, so a
/// replayed test's output names its seed and switches.
fn announce(scenario: &dyn Scenario, seed: Seed, bugs: &BugSet, expecting: &str) {
    eprintln!(
        "{SIM_SEED}={seed}: replaying {} with {}, expecting {expecting}",
        scenario.name(),
        switches(bugs)
    );
}

/// "no bug switches" or "bug switches a,b".
fn switches(bugs: &BugSet) -> String {
    let names: Vec<&str> = bugs.iter().map(|b| b.name()).collect();
    if names.is_empty() {
        "no bug switches".to_string()
    } else {
        format!("bug switches {}", names.join(","))
    }
}

/// With `bug` on, some seed below `budget` fails, and failing again with
/// the identical trace when replayed. Returns that seed. In replay mode it
/// runs the replayed seed with the bug and asserts that it fails.
pub fn check_catches(scenario: &dyn Scenario, bug: Bug, budget: u64) -> Seed {
    let bugs = BugSet::none().with(bug);
    if let Some(seed) = replay_seed() {
        announce(scenario, seed, &bugs, "a failure");
        let outcome = replay(scenario, seed, &bugs);
        assert!(
            !outcome.passed(),
            "{SIM_SEED}={seed}: {} passed with {bug} on",
            scenario.name()
        );
        eprint!("{}", outcome.report());
        return seed;
    }
    let results = run_seeds(scenario, 0..budget, &bugs, true);
    let Some(found) = results.iter().find(|r| r.failure.is_some()) else {
        panic!(
            "{} did not catch {bug} within {budget} seeds",
            scenario.name()
        );
    };
    let again = runner::run(scenario, found.seed, &bugs);
    assert!(
        !again.passed() && again.trace_hash == found.trace_hash,
        "seed {} of {} did not replay identically:\nfirst: {:016x}\nagain: {:016x}\n{}",
        found.seed,
        scenario.name(),
        found.trace_hash,
        again.trace_hash,
        again.report()
    );
    eprintln!(
        "{} caught {bug} at seed {} (of {budget})",
        scenario.name(),
        found.seed
    );
    found.seed
}

/// [`check_catches`] for every switch `scenario` declares, each within its
/// declared budget; only the one `SIM_BUG` names if it is set (a malformed
/// name panics rather than checking nothing).
pub fn check_declared_catches(scenario: &dyn Scenario) {
    let only: Option<Bug> = std::env::var(SIM_BUG).ok().map(|name| match name.parse() {
        Ok(bug) => bug,
        Err(e) => panic!("{SIM_BUG}: {e}"),
    });
    for c in scenario.catches() {
        if only.is_none_or(|b| b == c.bug) {
            check_catches(scenario, c.bug, c.within);
        }
    }
}

/// Every seed of `seeds` (or the replayed seed) gives a byte-identical
/// trace when run twice.
pub fn check_deterministic(scenario: &dyn Scenario, seeds: Range<u64>, bugs: &BugSet) {
    let seeds: Vec<Seed> = match replay_seed() {
        Some(seed) => {
            announce(scenario, seed, bugs, "the same trace twice");
            vec![seed]
        }
        None => seeds.map(Seed).collect(),
    };
    for seed in seeds {
        let a = runner::run(scenario, seed, bugs);
        let b = runner::run(scenario, seed, bugs);
        if let Some(i) = trace::first_difference(&a.events, &b.events) {
            panic!(
                "{} seed {seed} is not deterministic; first difference at event {i}:\n  {}\n  {}",
                scenario.name(),
                a.events
                    .get(i)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "<end>".into()),
                b.events
                    .get(i)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "<end>".into()),
            );
        }
        assert_eq!(a.trace_hash, b.trace_hash);
    }
}
