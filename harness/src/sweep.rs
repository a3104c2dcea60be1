//! Runs many seeds of one scenario in parallel on OS threads.
//!
//! Each simulation is single-threaded, so seeds are independent jobs:
//! workers pull the next seed from a shared counter and send each result
//! back to the calling thread, which reports progress as results arrive.
//! Results are returned sorted by seed whatever the finishing order, so a
//! sweep's summary does not depend on thread timing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sim_hooks::BugSet;

use crate::runner::{self, Failure};
use crate::scenario::Scenario;
use crate::sched::Coverage;
use crate::seed::Seed;

/// Stack size of sweep workers: deep async stacks in debug builds.
const WORKER_STACK: usize = 16 * 1024 * 1024;

/// What a sweep keeps of one run (not the whole trace).
#[derive(Clone, Debug)]
pub struct SeedResult {
    pub seed: Seed,
    pub failure: Option<Failure>,
    /// The full failure report (empty when the seed passed).
    pub report: String,
    pub trace_hash: u64,
    pub coverage: Coverage,
    /// Wall-clock time of the run.
    pub wall: Duration,
}

/// One sweep: a scenario over seeds with a set of bug switches.
pub struct SweepSpec<'a> {
    pub scenario: &'a dyn Scenario,
    pub seeds: Vec<Seed>,
    pub bugs: BugSet,
    /// Worker threads (at least one).
    pub jobs: usize,
    /// Stop pulling new seeds once this is set (and set it on a failure
    /// when `fail_fast`).
    pub stop: &'a AtomicBool,
    pub fail_fast: bool,
}

/// Runs the sweep, calling `on_result` on this thread as results arrive.
/// Returns the results sorted by seed (seeds skipped after a stop are
/// absent).
pub fn sweep(spec: &SweepSpec<'_>, mut on_result: impl FnMut(&SeedResult)) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let workers = spec.jobs.max(1).min(spec.seeds.len().max(1));
    let (tx, rx) = mpsc::channel::<SeedResult>();
    let mut results = Vec::with_capacity(spec.seeds.len());
    std::thread::scope(|scope| {
        for i in 0..workers {
            let tx = tx.clone();
            let next = &next;
            let worker = move || {
                while !spec.stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(seed) = spec.seeds.get(index).copied() else {
                        break;
                    };
                    let started = Instant::now();
                    let outcome = runner::run(spec.scenario, seed, &spec.bugs);
                    let failed = !outcome.passed();
                    let result = SeedResult {
                        seed,
                        report: outcome.report(),
                        failure: outcome.failure,
                        trace_hash: outcome.trace_hash,
                        coverage: outcome.coverage,
                        wall: started.elapsed(),
                    };
                    if failed && spec.fail_fast {
                        spec.stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            };
            let spawned = std::thread::Builder::new()
                .name(format!("sweep-{i}"))
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, worker);
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start a sweep worker");
            }
        }
        drop(tx);
        for result in rx {
            on_result(&result);
            results.push(result);
        }
    });
    results.sort_by_key(|r| r.seed);
    results
}
