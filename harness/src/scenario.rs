//! The scenario contract: hosts + workload + fault plan + invariants,
//! built from a seed and a set of bug switches.
//!
//! The runner needs a [`Scenario`] (a trait object, so that ad-hoc
//! scenarios made of closures work too). A catalog scenario is declared as
//! one [`ScenarioSpec`] value instead: its metadata is data the catalog,
//! the CLI and the table-driven tests iterate, and the `ScenarioSpec`
//! implements the trait.

use sim_hooks::Bug;

use crate::world::{SimConfig, SimWorld};

/// One simulation scenario. Implementations are stateless descriptions;
/// every run calls [`Scenario::build`] on a fresh world.
pub trait Scenario: Send + Sync {
    /// The CLI name, e.g. `stale-output`.
    fn name(&self) -> &'static str;

    /// One line for `agentsim list`.
    fn summary(&self) -> &'static str;

    /// The bug switches this scenario is built to catch, each with its seed
    /// budget (`agentsim bugs`, and the catalog's catch tests).
    fn catches(&self) -> &'static [Catch] {
        &[]
    }

    /// Tick, latency, duration and scheduler settings.
    fn config(&self) -> SimConfig {
        SimConfig::default()
    }

    /// Registers hosts, faults and invariants on `world`. Draw every choice
    /// from `world.rng(...)` and read switches from `world.bugs()`.
    fn build(&self, world: &mut SimWorld<'_>);
}

/// A bug switch a scenario promises to catch, and how soon: with `bug` on,
/// some seed in `0..within` fails. The catch tests hold the scenario to it,
/// so a budget is a claim that cannot silently loosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Catch {
    pub bug: Bug,
    pub within: u64,
}

/// A scenario declared as one value: a `const` in the scenario's module,
/// listed once in the catalog.
///
/// ```
/// use std::time::Duration;
///
/// use harness::prelude::*;
///
/// fn build(world: &mut SimWorld<'_>) {
///     let trace = world.trace().clone();
///     world.client("client", async move {
///         trace.record("client.hello", "hi");
///         Ok(())
///     });
/// }
///
/// const HELLO: ScenarioSpec = ScenarioSpec {
///     name: "hello",
///     summary: "one client says hello",
///     catches: &[],
///     config: SimConfig {
///         duration: Duration::from_secs(1),
///         ..SimConfig::DEFAULT
///     },
///     build,
/// };
///
/// assert!(harness::runner::run(&HELLO, Seed(0), &BugSet::none()).passed());
/// ```
#[derive(Clone, Debug)]
pub struct ScenarioSpec {
    /// The CLI name, kebab-case, e.g. `stale-output`.
    pub name: &'static str,
    /// One line for `agentsim list`.
    pub summary: &'static str,
    /// The switches it catches, each within its seed budget.
    pub catches: &'static [Catch],
    /// Tick, latency, duration and scheduler settings.
    pub config: SimConfig,
    /// Registers hosts, faults and invariants (see [`Scenario::build`]).
    pub build: fn(&mut SimWorld<'_>),
}

impl Scenario for ScenarioSpec {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn catches(&self) -> &'static [Catch] {
        self.catches
    }

    fn config(&self) -> SimConfig {
        self.config.clone()
    }

    fn build(&self, world: &mut SimWorld<'_>) {
        (self.build)(world)
    }
}

/// Finds a scenario by name.
pub fn find<'a>(scenarios: &'a [&'a dyn Scenario], name: &str) -> Option<&'a dyn Scenario> {
    scenarios.iter().copied().find(|s| s.name() == name)
}
