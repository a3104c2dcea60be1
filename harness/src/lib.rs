//! Deterministic simulation harness: runs the agent, SDK and chat tools
//! under turmoil with simulated exec, filesystem and git, a seeded
//! yield-point scheduler, fault plans, invariants and a trace timeline.

pub mod clock;
pub mod host;
pub mod ids;
pub mod invariant;
pub mod net;
pub mod sched;
pub mod seed;
pub mod sim_exec;
pub mod sim_fs;
pub mod sim_scanner;
pub mod trace;

/// The catalog of yield points, generated from the simulated crates'
/// sources by the build script.
pub mod catalog {
    include!(concat!(env!("OUT_DIR"), "/yield_points.rs"));
}
