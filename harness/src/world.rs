//! The simulated world a scenario builds: turmoil configured from the seed,
//! plus the run's trace, invariants, fault plan and end-of-run checks.
//!
//! [`SimConfig`] fixes what `docs/design.md#simulation-setup` lists: an
//! explicit epoch (turmoil's default is the real clock), a tick well below the
//! message latency (else every seed runs identically) and a simulation duration
//! long enough for the scenario.

use std::future::Future;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use sim_hooks::BugSet;

use crate::clock;
use crate::fault::{Fault, FaultDraw, FaultPlan, Planned};
use crate::invariant::Invariants;
use crate::sched::SchedConfig;
use crate::seed::{Seed, stream};
use crate::timers::Timers;
use crate::trace::{Trace, WORLD};

/// Simulation settings of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Simulated time per step: whole milliseconds, below `max_latency`.
    pub tick: Duration,
    pub min_latency: Duration,
    pub max_latency: Duration,
    /// A run that has not finished by then fails.
    pub duration: Duration,
    /// The yield-point scheduler.
    pub sched: SchedConfig,
}

impl SimConfig {
    /// The default, usable in `const` scenario declarations
    /// (`..SimConfig::DEFAULT`).
    pub const DEFAULT: SimConfig = SimConfig {
        tick: Duration::from_millis(1),
        min_latency: Duration::from_millis(1),
        max_latency: Duration::from_millis(5),
        duration: Duration::from_secs(60),
        sched: SchedConfig::DEFAULT,
    };
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::DEFAULT
    }
}

type EndCheck<'a> = Box<dyn FnOnce(&Invariants) + 'a>;

/// What a scenario's `build` gets: hosts go in, seeded streams come out.
pub struct SimWorld<'a> {
    sim: turmoil::Sim<'a>,
    seed: Seed,
    bugs: BugSet,
    trace: Trace,
    invariants: Invariants,
    faults: FaultPlan,
    timers: Option<std::rc::Rc<Timers>>,
    end_checks: Vec<EndCheck<'a>>,
}

/// How a run ended, as far as the world can tell.
#[derive(Debug)]
pub(crate) struct WorldEnd {
    pub elapsed: Duration,
    /// turmoil's error: a host failed, or the run did not finish in time.
    pub error: Option<String>,
    /// Every fault the scenario drew.
    pub faults: Vec<FaultDraw>,
    /// Faults scheduled but not yet due when the run stopped (dropped ones
    /// left out).
    pub pending_faults: Vec<Planned>,
}

impl<'a> SimWorld<'a> {
    pub(crate) fn new(
        seed: Seed,
        bugs: BugSet,
        config: &SimConfig,
        trace: Trace,
        invariants: Invariants,
    ) -> Self {
        assert!(
            config.tick.as_nanos().is_multiple_of(1_000_000) && !config.tick.is_zero(),
            "SimConfig::tick must be a whole number of milliseconds, not {:?}",
            config.tick
        );
        let sim = turmoil::Builder::new()
            .rng_seed(seed.derive(stream::TURMOIL))
            .epoch(clock::epoch())
            .tick_duration(config.tick)
            .min_message_latency(config.min_latency)
            .max_message_latency(config.max_latency)
            .simulation_duration(config.duration)
            .build();
        SimWorld {
            sim,
            seed,
            bugs,
            trace,
            invariants,
            faults: FaultPlan::default(),
            timers: None,
            end_checks: Vec::new(),
        }
    }

    pub fn seed(&self) -> Seed {
        self.seed
    }

    /// The bug switches turned on for this run.
    pub fn bugs(&self) -> &BugSet {
        &self.bugs
    }

    /// A fresh rng for `name` (see [`crate::seed::stream`]).
    pub fn rng(&self, name: &str) -> ChaCha8Rng {
        self.seed.rng(name)
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    pub fn invariants(&self) -> &Invariants {
        &self.invariants
    }

    /// Registers a server host; `software` is called again on a bounce.
    /// Register the agent before its clients
    /// (`docs/design.md#simulation-setup`).
    pub fn host<F, Fut>(&mut self, name: &str, software: F)
    where
        F: Fn() -> Fut + 'a,
        Fut: Future<Output = turmoil::Result> + 'static,
    {
        self.sim.host(name, software);
    }

    /// Registers a client: the run ends when every client has returned.
    pub fn client<Fut>(&mut self, name: &str, client: Fut)
    where
        Fut: Future<Output = turmoil::Result> + 'static,
    {
        self.sim.client(name, client);
    }

    /// Schedules a fault at sim time `at`. Each fault is numbered
    /// (`fault#N`) for the shrinker, and a fault that ends an earlier one
    /// (its undo, a latency restore) shares its number: see
    /// [`FaultPlan`].
    pub fn fault(&mut self, at: Duration, fault: Fault) {
        self.faults.add(at, fault);
    }

    /// Records `timer.fire` for the timers in `timers` when they come due.
    pub(crate) fn fire_timers(&mut self, timers: std::rc::Rc<Timers>) {
        self.timers = Some(timers);
    }

    /// Leaves out the faults the run's schedule drops (before `build`).
    pub(crate) fn drop_faults(&mut self, dropped: std::collections::BTreeSet<u32>) {
        self.faults.drop_faults(dropped);
    }

    /// Adds a check run after every client finished (skipped once an
    /// invariant already failed).
    pub fn at_end(&mut self, check: impl FnOnce(&Invariants) + 'a) {
        self.end_checks.push(Box::new(check));
    }

    /// turmoil itself, for what the world does not wrap.
    pub fn sim(&mut self) -> &mut turmoil::Sim<'a> {
        &mut self.sim
    }

    /// Steps the simulation until every client finished, an invariant
    /// failed, `stop()` says so (a caught panic) or turmoil fails.
    pub(crate) fn run(mut self, stop: impl Fn() -> bool) -> WorldEnd {
        let mut error = None;
        loop {
            let now = self.sim.elapsed();
            self.trace.set_world_time(now);
            for planned in self.faults.due(now) {
                if planned.dropped {
                    self.trace.record_at(
                        planned.at,
                        WORLD,
                        "fault.dropped",
                        format!("{planned}: left out by the schedule"),
                    );
                } else {
                    self.trace
                        .record_at(planned.at, WORLD, "fault", planned.to_string());
                    planned.fault.apply(&mut self.sim);
                    if let (Fault::Crash(host), Some(timers)) = (&planned.fault, &self.timers) {
                        timers.forget_host(host);
                    }
                }
            }
            if let Some(timers) = &self.timers {
                for t in timers.due(now) {
                    let detail = t.fired();
                    self.trace
                        .record_as(t.due, t.host, t.task, "timer.fire", detail);
                }
            }
            match self.sim.step() {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            if self.invariants.violated() || stop() {
                break;
            }
        }
        let elapsed = self.sim.elapsed();
        self.trace.set_world_time(elapsed);
        if error.is_none() && !self.invariants.violated() && !stop() {
            for check in self.end_checks.drain(..) {
                check(&self.invariants);
            }
        }
        WorldEnd {
            elapsed,
            error,
            faults: self.faults.draws().to_vec(),
            pending_faults: self
                .faults
                .pending()
                .iter()
                .filter(|p| !p.dropped)
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 0, no bugs, events into `trace`.
    fn world_over<'a>(config: &'a SimConfig, trace: &Trace) -> SimWorld<'a> {
        SimWorld::new(
            Seed(0),
            BugSet::none(),
            config,
            trace.clone(),
            Invariants::new(trace.clone()),
        )
    }

    #[test]
    fn trace_times_follow_the_host_clock_at_the_default_tick() {
        let _hosts = crate::host::HostTracker::install();
        let trace = Trace::new();
        let config = SimConfig::default();
        let mut world = world_over(&config, &trace);
        let t = trace.clone();
        world.client("c", async move {
            t.record("a", "");
            tokio::time::sleep(Duration::from_millis(3)).await;
            t.record("b", "");
            tokio::time::sleep(Duration::from_millis(40)).await;
            t.record("c", "");
            Ok(())
        });
        let end = world.run(|| false);
        assert_eq!(end.error, None);
        let times: Vec<Duration> = trace.events().iter().map(|e| e.at).collect();
        let ms = Duration::from_millis;
        assert_eq!(times, [ms(0), ms(3), ms(43)]);
    }

    /// A connect and one byte each way over a link with a fixed 3 ms
    /// latency: each message arrives 3 ms after it was sent (turmoil's
    /// connect returns once its SYN is delivered), measured on the network
    /// clock that the vendored turmoil keeps without a runtime
    /// (`vendor/turmoil/PATCHES.md`).
    #[test]
    fn messages_take_their_link_latency_on_the_network_clock() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _hosts = crate::host::HostTracker::install();
        let trace = Trace::new();
        let ms = Duration::from_millis;
        let config = SimConfig {
            min_latency: ms(3),
            max_latency: ms(3),
            ..SimConfig::default()
        };
        let mut world = world_over(&config, &trace);
        let t = trace.clone();
        world.host("server", move || {
            let t = t.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 1)).await?;
                let (mut stream, _) = listener.accept().await?;
                t.record("accepted", "");
                let mut byte = [0u8; 1];
                stream.read_exact(&mut byte).await?;
                t.record("got", "");
                stream.write_all(&byte).await?;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let t = trace.clone();
        world.client("client", async move {
            let mut stream = turmoil::net::TcpStream::connect(("server", 1)).await?;
            t.record("connected", "");
            tokio::time::sleep(ms(10)).await;
            stream.write_all(b"x").await?;
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            t.record("echoed", "");
            Ok(())
        });
        let end = world.run(|| false);
        assert_eq!(end.error, None);
        let seen: Vec<(String, Duration)> = trace
            .events()
            .iter()
            .map(|e| (e.kind.to_string(), e.at))
            .collect();
        let want = [
            ("accepted", ms(3)),
            ("connected", ms(3)),
            ("got", ms(16)),
            ("echoed", ms(19)),
        ]
        .map(|(k, at)| (k.to_string(), at));
        assert_eq!(seen, want);
    }
}
