//! The yield-point scheduler: the harness's [`SimHook`].
//!
//! Each `yield_point!` hit gets a seeded decision: pass through, yield to
//! the runtime 1..=k times, or sleep a short random sim duration. That is
//! what lets another task run between two reads that real preemption could
//! separate. The scheduler also counts hits per named point (coverage),
//! counts known-bug branches taken, and records all of it in the trace.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_hooks::Bug;
use sim_hooks::SimHook;

use crate::trace::Trace;

/// How the scheduler decides at each hit.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedConfig {
    /// Probability that a hit passes straight through.
    pub p_pass: f64,
    /// Probability that a hit sleeps (the rest yields).
    pub p_sleep: f64,
    /// Upper bound of consecutive yields.
    pub max_yields: u32,
    /// Upper bound of a sleep (sleeps are whole milliseconds).
    pub max_sleep: Duration,
}

impl SchedConfig {
    /// The default, usable in `const` scenario declarations.
    pub const DEFAULT: SchedConfig = SchedConfig {
        p_pass: 0.4,
        p_sleep: 0.2,
        max_yields: 4,
        max_sleep: Duration::from_millis(5),
    };
}

impl Default for SchedConfig {
    fn default() -> Self {
        SchedConfig::DEFAULT
    }
}

/// One hit's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Yield(u32),
    Sleep(Duration),
}

impl Decision {
    fn describe(self) -> String {
        match self {
            Decision::Pass => "pass".to_string(),
            Decision::Yield(n) => format!("yield x{n}"),
            Decision::Sleep(d) => format!("sleep {}ms", d.as_millis()),
        }
    }
}

impl SchedConfig {
    /// Draws one decision.
    pub fn decide(&self, rng: &mut ChaCha8Rng) -> Decision {
        let roll: f64 = rng.random();
        if roll < self.p_pass {
            Decision::Pass
        } else if roll < self.p_pass + self.p_sleep {
            // Whole milliseconds: tokio's timer rounds anything finer up.
            let max = u64::try_from(self.max_sleep.as_millis()).unwrap_or(u64::MAX);
            Decision::Sleep(Duration::from_millis(rng.random_range(1..=max.max(1))))
        } else {
            Decision::Yield(rng.random_range(1..=self.max_yields.max(1)))
        }
    }
}

/// Hits per yield point and known-bug branches taken, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub yield_hits: BTreeMap<String, u64>,
    pub bugs_taken: BTreeMap<String, u64>,
}

impl Coverage {
    /// Adds another run's counts.
    pub fn merge(&mut self, other: &Coverage) {
        for (k, v) in &other.yield_hits {
            *self.yield_hits.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.bugs_taken {
            *self.bugs_taken.entry(k.clone()).or_default() += v;
        }
    }

    /// The catalog's points this coverage never reached, in catalog order.
    pub fn never_hit<'a>(&self, catalog: &[&'a str]) -> Vec<&'a str> {
        catalog
            .iter()
            .copied()
            .filter(|p| self.yield_hits.get(*p).copied().unwrap_or(0) == 0)
            .collect()
    }
}

/// The seeded scheduler; install it with [`sim_hooks::install`].
pub struct Scheduler {
    config: SchedConfig,
    rng: RefCell<ChaCha8Rng>,
    coverage: RefCell<Coverage>,
    trace: Trace,
}

impl Scheduler {
    pub fn new(config: SchedConfig, rng: ChaCha8Rng, trace: Trace) -> Self {
        Scheduler {
            config,
            rng: RefCell::new(rng),
            coverage: RefCell::new(Coverage::default()),
            trace,
        }
    }

    pub fn coverage(&self) -> Coverage {
        self.coverage.borrow().clone()
    }

    /// Decides for one hit of `name`, counting and recording it. Public so
    /// harness-side code (not only the agent's macro) can add yield points.
    pub fn hit(&self, name: &str) -> Decision {
        let decision = self.config.decide(&mut self.rng.borrow_mut());
        *self
            .coverage
            .borrow_mut()
            .yield_hits
            .entry(name.to_string())
            .or_default() += 1;
        self.trace
            .record("yield", format!("{name}: {}", decision.describe()));
        decision
    }
}

/// Carries out a decision on the current (simulated) runtime.
pub async fn perform(decision: Decision) {
    match decision {
        Decision::Pass => {}
        Decision::Yield(n) => {
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
        }
        Decision::Sleep(d) => tokio::time::sleep(d).await,
    }
}

impl SimHook for Scheduler {
    fn yield_point(&self, name: &'static str) -> BoxFuture<'static, ()> {
        Box::pin(perform(self.hit(name)))
    }

    fn bug_taken(&self, bug: Bug) {
        *self
            .coverage
            .borrow_mut()
            .bugs_taken
            .entry(bug.name().to_string())
            .or_default() += 1;
        self.trace.record("bug_taken", bug.name());
    }

    fn event(&self, kind: &'static str, detail: String) {
        self.trace.record(kind, detail);
    }
}

/// A yield point for harness-side code (self-tests, simulated seams): asks
/// the installed hook, like the agent's `yield_point!` does.
pub async fn yield_point(name: &'static str) {
    if let Some(f) = sim_hooks::yield_future(name) {
        f.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn decisions(config: &SchedConfig, seed: u64, n: usize) -> Vec<Decision> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| config.decide(&mut rng)).collect()
    }

    #[test]
    fn decisions_are_a_function_of_the_seed() {
        let c = SchedConfig::default();
        assert_eq!(decisions(&c, 3, 100), decisions(&c, 3, 100));
        assert_ne!(decisions(&c, 3, 100), decisions(&c, 4, 100));
    }

    #[test]
    fn decisions_stay_within_bounds_and_use_every_kind() {
        let c = SchedConfig::default();
        let all = decisions(&c, 9, 2000);
        let mut kinds = [0; 3];
        for d in &all {
            match *d {
                Decision::Pass => kinds[0] += 1,
                Decision::Yield(n) => {
                    assert!((1..=c.max_yields).contains(&n));
                    kinds[1] += 1;
                }
                Decision::Sleep(s) => {
                    assert!(s > Duration::ZERO && s <= c.max_sleep);
                    kinds[2] += 1;
                }
            }
        }
        assert!(kinds.iter().all(|k| *k > 100), "{kinds:?}");
    }

    #[test]
    fn a_never_yielding_config_always_passes() {
        let c = SchedConfig {
            p_pass: 1.0,
            ..SchedConfig::default()
        };
        assert!(decisions(&c, 1, 50).iter().all(|d| *d == Decision::Pass));
    }

    #[test]
    fn hits_are_counted_per_point_and_traced() {
        let trace = Trace::new();
        let s = Scheduler::new(
            SchedConfig::default(),
            ChaCha8Rng::seed_from_u64(0),
            trace.clone(),
        );
        s.hit("a");
        s.hit("a");
        s.hit("b");
        s.bug_taken(Bug::StaleOutputRead);
        let cov = s.coverage();
        assert_eq!(cov.yield_hits.get("a"), Some(&2));
        assert_eq!(cov.bugs_taken.get("stale-output-read"), Some(&1));
        assert_eq!(cov.never_hit(&["a", "b", "c"]), vec!["c"]);
        let kinds: Vec<String> = trace.events().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["yield", "yield", "yield", "bug_taken"]);
    }
}
