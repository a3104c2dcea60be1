//! Deterministic simulation harness: runs the agent, SDK and chat tools
//! under turmoil with simulated exec, filesystem and git, a seeded
//! yield-point scheduler, fault plans, invariants and a trace timeline.
//!
//! A [`Scenario`] (declared as a [`ScenarioSpec`]; [`prelude`] has what
//! one needs) builds hosts on a [`SimWorld`]; [`runner::run`] runs one
//! seed and returns an [`Outcome`] (failure, trace, coverage);
//! [`sweep::sweep`] runs many seeds on OS threads; [`testkit`] wraps both
//! for `cargo test` (with `SIM_SEED=N` replay).

pub mod agent_host;
pub mod clock;
pub mod explain;
pub mod fault;
pub mod host;
pub mod html;
pub mod ids;
pub mod invariant;
pub mod model;
pub mod net;
pub mod panics;
pub mod runner;
pub mod scenario;
pub mod sched;
pub mod seed;
pub mod selftest;
pub mod shrink;
pub mod sim_exec;
pub mod sim_fs;
pub mod sim_scanner;
pub mod sweep;
pub mod testkit;
pub mod timers;
pub mod trace;
pub mod workload;
pub mod world;

pub use invariant::{Invariants, Violation};
pub use runner::{Failure, Outcome, Repro};
pub use scenario::{Catch, Scenario, ScenarioSpec};
pub use seed::Seed;
pub use sim_hooks::{Bug, BugSet};
pub use trace::Trace;
pub use world::{SimConfig, SimWorld};

/// What a scenario file needs, in one import: the world and its settings, the
/// [`ScenarioSpec`] it declares itself with, invariants and trace, seeded
/// streams and the rng trait to draw from them, scripted processes, faults, and
/// the simulated agent host.
pub mod prelude {
    pub use rand::Rng;
    pub use rand_chacha::ChaCha8Rng;
    pub use sim_hooks::{Bug, BugSet};

    pub use crate::agent_host::{SimParts, agent_config, host_agent};
    pub use crate::fault::Fault;
    pub use crate::invariant::{Invariants, Violation};
    pub use crate::scenario::{Catch, Scenario, ScenarioSpec};
    pub use crate::sched::SchedConfig;
    pub use crate::seed::{Seed, stream};
    pub use crate::sim_exec::Script;
    pub use crate::sim_fs::PROJECT;
    pub use crate::trace::Trace;
    pub use crate::workload::keep_op;
    pub use crate::world::{SimConfig, SimWorld};
}

/// The catalog of yield points, generated from the simulated crates'
/// sources by the build script.
pub mod catalog {
    include!(concat!(env!("OUT_DIR"), "/yield_points.rs"));
}
