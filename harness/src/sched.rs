//! The yield-point scheduler: the harness's [`SimHook`].
//!
//! Each `yield_point!` hit gets a seeded decision: pass through, yield to
//! the runtime 1..=k times, or sleep a short random sim duration. That is
//! what lets another task run between two reads that real preemption could
//! separate. The scheduler also counts hits per named point (coverage),
//! counts known-bug branches taken, and records all of it in the trace.
//!
//! Every decision that lets others run is followed by a `resume` event
//! naming the tasks of the same host that ran meanwhile: that is what raced
//! with the yielding task. A [`Schedule`] replaces the seeded draws with a
//! fixed list (hits it does not name pass), which is how `agentsim shrink`
//! replays a failure with fewer decisions.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use futures::future::BoxFuture;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_hooks::Bug;
use sim_hooks::SimHook;

use crate::timers::Timers;
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
    /// `pass`, `yield xN` or `sleep Nms`: the trace's and the schedule
    /// file's spelling (parsed back by [`Decision::parse`]).
    pub fn describe(self) -> String {
        match self {
            Decision::Pass => "pass".to_string(),
            Decision::Yield(n) => format!("yield x{n}"),
            Decision::Sleep(d) => format!("sleep {}ms", d.as_millis()),
        }
    }

    /// Reads [`Decision::describe`]'s spelling back.
    pub fn parse(text: &str) -> Option<Decision> {
        let text = text.trim();
        if text == "pass" {
            return Some(Decision::Pass);
        }
        if let Some(n) = text.strip_prefix("yield x") {
            return n.parse().ok().filter(|n| *n > 0).map(Decision::Yield);
        }
        let ms = text.strip_prefix("sleep ")?.strip_suffix("ms")?;
        ms.parse()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| Decision::Sleep(Duration::from_millis(n)))
    }
}

/// One decision the scheduler made: which hit (0-based, in run order), at
/// which point, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub hit: u64,
    pub point: &'static str,
    pub decision: Decision,
}

/// A fixed list of decisions by hit number; every hit it does not name
/// passes. Replaces the seeded draws (the rest of the seed still applies),
/// and leaves out drawn faults and workload operations: by default each
/// one happens as the seed drew it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub decisions: BTreeMap<u64, Decision>,
    /// Faults left out, by number (`fault#N`, see [`crate::fault::FaultDraw`]).
    pub dropped_faults: BTreeSet<u32>,
    /// Workload operations left out, by key (see [`crate::workload`]).
    pub dropped_ops: BTreeSet<String>,
    /// Decisions by point and occurrence (the `n`th hit of that point, from
    /// 0), for hits `decisions` does not name. The shrinker uses them while
    /// it drops faults and operations: those remove hits, and a decision
    /// anchored to its point stays on the call it was made for, where one
    /// by hit number would slide onto another. Not written to files.
    pub by_point: BTreeMap<(&'static str, u64), Decision>,
}

impl Schedule {
    /// The non-pass choices of a run, as a schedule.
    pub fn from_choices(choices: &[Choice]) -> Schedule {
        Schedule {
            decisions: choices
                .iter()
                .filter(|c| c.decision != Decision::Pass)
                .map(|c| (c.hit, c.decision))
                .collect(),
            ..Schedule::default()
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

/// A yield that let others run and has not resumed yet.
struct Outstanding {
    id: u64,
    host: Option<Arc<str>>,
    task: Option<Arc<str>>,
    ran: Vec<Arc<str>>,
}

/// The yields waiting to resume, shared with their resume futures.
#[derive(Clone, Default)]
struct Waiting(Arc<Mutex<Vec<Outstanding>>>);

impl Waiting {
    fn resume(&self, id: u64) -> Option<Outstanding> {
        let mut list = self.0.lock();
        let index = list.iter().position(|o| o.id == id)?;
        let done = list.remove(index);
        if list.is_empty() {
            sim_hooks::watch_polls(false);
        }
        Some(done)
    }
}

/// The seeded scheduler; install it with [`sim_hooks::install`].
pub struct Scheduler {
    config: SchedConfig,
    rng: RefCell<ChaCha8Rng>,
    script: Option<Schedule>,
    hits: Cell<u64>,
    choices: RefCell<Vec<Choice>>,
    coverage: RefCell<Coverage>,
    ids: RefCell<BTreeMap<&'static str, u64>>,
    waiting: Waiting,
    trace: Trace,
    /// The run's armed timers, fed from the trace events that arm them.
    timers: Option<Rc<Timers>>,
}

impl Scheduler {
    pub fn new(config: SchedConfig, rng: ChaCha8Rng, trace: Trace) -> Self {
        Scheduler {
            config,
            rng: RefCell::new(rng),
            script: None,
            hits: Cell::new(0),
            choices: RefCell::new(Vec::new()),
            coverage: RefCell::new(Coverage::default()),
            ids: RefCell::new(BTreeMap::new()),
            waiting: Waiting::default(),
            trace,
            timers: None,
        }
    }

    /// Follows `timer.*` events (and the ends of their tasks) into `timers`.
    pub fn with_timers(mut self, timers: Rc<Timers>) -> Self {
        self.timers = Some(timers);
        self
    }

    /// Takes decisions from `schedule` instead of the seeded draws.
    pub fn scripted(mut self, schedule: Schedule) -> Self {
        self.script = Some(schedule);
        self
    }

    pub fn coverage(&self) -> Coverage {
        self.coverage.borrow().clone()
    }

    /// Every decision so far, in hit order.
    pub fn choices(&self) -> Vec<Choice> {
        self.choices.borrow().clone()
    }

    /// Decides for one hit of `name`, counting and recording it. Public so
    /// harness-side code (not only the agent's macro) can add yield points.
    pub fn hit(&self, name: &'static str) -> Decision {
        let hit = self.hits.get();
        self.hits.set(hit + 1);
        let occurrence = {
            let mut coverage = self.coverage.borrow_mut();
            let count = coverage.yield_hits.entry(name.to_string()).or_default();
            *count += 1;
            *count - 1
        };
        let decision = match &self.script {
            Some(script) => script
                .decisions
                .get(&hit)
                .or_else(|| script.by_point.get(&(name, occurrence)))
                .copied()
                .unwrap_or(Decision::Pass),
            None => self.config.decide(&mut self.rng.borrow_mut()),
        };
        self.choices.borrow_mut().push(Choice {
            hit,
            point: name,
            decision,
        });
        let verb = match decision {
            Decision::Pass => "pass (no other task runs here)".to_string(),
            other => format!("{}: other tasks may run", other.describe()),
        };
        self.trace.record("yield", format!("#{hit} {name}: {verb}"));
        decision
    }
}

/// Appends the simulated host behind the address in `... from IP:PORT`,
/// so the trace says which client opened a connection.
fn name_peer(detail: String) -> String {
    let host = detail
        .rsplit_once(" from ")
        .and_then(|(_, addr)| addr.parse::<std::net::SocketAddr>().ok())
        .filter(|_| turmoil::sim_elapsed().is_some())
        .and_then(|addr| turmoil::reverse_lookup(addr.ip()));
    match host {
        Some(host) => format!("{detail} (host {host})"),
        None => detail,
    }
}

fn names(list: &[Arc<str>]) -> String {
    let names: Vec<&str> = list.iter().map(|n| &**n).collect();
    names.join(", ")
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
        let decision = self.hit(name);
        if decision == Decision::Pass {
            return Box::pin(std::future::ready(()));
        }
        let id = self.hits.get() - 1;
        self.waiting.0.lock().push(Outstanding {
            id,
            host: crate::host::current(),
            task: sim_hooks::current_task(),
            ran: Vec::new(),
        });
        sim_hooks::watch_polls(true);
        let waiting = self.waiting.clone();
        let trace = self.trace.clone();
        Box::pin(async move {
            perform(decision).await;
            if let Some(done) = waiting.resume(id) {
                let meanwhile = if done.ran.is_empty() {
                    "no other task of this host ran".to_string()
                } else {
                    format!("meanwhile ran: {}", names(&done.ran))
                };
                trace.record("resume", format!("#{id} {name}: {meanwhile}"));
            }
        })
    }

    fn next_id(&self, kind: &'static str) -> u64 {
        let mut ids = self.ids.borrow_mut();
        let n = ids.entry(kind).or_default();
        *n += 1;
        *n
    }

    fn task_polled(&self, label: &Arc<str>) {
        let host = crate::host::current();
        for o in self.waiting.0.lock().iter_mut() {
            if o.host == host && o.task.as_ref() != Some(label) && !o.ran.contains(label) {
                o.ran.push(label.clone());
            }
        }
    }

    fn bug_taken(&self, bug: Bug) {
        *self
            .coverage
            .borrow_mut()
            .bugs_taken
            .entry(bug.name().to_string())
            .or_default() += 1;
        self.trace
            .record("bug_taken", format!("{}: {}", bug.name(), bug.summary()));
    }

    fn event(&self, kind: &'static str, detail: String) {
        let detail = if kind == "http.accepted" {
            name_peer(detail)
        } else {
            detail
        };
        if let Some(timers) = &self.timers
            && matches!(
                kind,
                "timer.arm" | "timer.disarm" | "timer.fire" | "http.response" | "http.closed"
            )
        {
            let host = crate::host::current().unwrap_or_else(|| Arc::from(crate::trace::WORLD));
            let now = turmoil::sim_elapsed().unwrap_or_else(|| self.trace.world_time());
            timers.observe(
                kind,
                &detail,
                &host,
                sim_hooks::current_task().as_ref(),
                now,
            );
        }
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
