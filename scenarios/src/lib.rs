//! The scenario catalog behind `agentsim`, and the CLI itself.
//!
//! Each scenario is hosts + workload + fault plan + invariants built from a
//! seed and a set of bug switches, declared as one
//! [`ScenarioSpec`](harness::ScenarioSpec) in its own module. See
//! [`catalog`] for which ones are registered and how to add one.

pub mod agent_restart;
pub mod blocking_wait;
pub mod catalog;
pub mod chat_isolation;
pub mod cli;
pub mod common;
pub mod concurrent_edits;
pub mod flaky_network;
pub mod hostile_input;
pub mod invariants;
pub mod lost_path_notification;
pub mod mixed_files;
pub mod mixed_git;
pub mod mixed_processes;
pub mod signal_vs_exit;
pub mod stale_output;
pub mod write_timeout_eof;
