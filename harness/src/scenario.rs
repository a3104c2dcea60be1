//! The scenario contract: hosts + workload + fault plan + invariants,
//! built from a seed and a set of bug switches (DESIGN.md section 5).

use agent::Bug;

use crate::world::{SimConfig, SimWorld};

/// One simulation scenario. Implementations are stateless descriptions;
/// every run calls [`Scenario::build`] on a fresh world.
pub trait Scenario: Send + Sync {
    /// The CLI name, e.g. `stale-output`.
    fn name(&self) -> &'static str;

    /// One line for `agentsim list`.
    fn summary(&self) -> &'static str;

    /// The bug switches this scenario is built to catch (`agentsim bugs`).
    fn catches(&self) -> &'static [Bug] {
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

/// Finds a scenario by name.
pub fn find<'a>(scenarios: &'a [&'a dyn Scenario], name: &str) -> Option<&'a dyn Scenario> {
    scenarios.iter().copied().find(|s| s.name() == name)
}
