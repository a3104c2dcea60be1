//! The scenario catalog behind `agentsim`, and the CLI itself.
//!
//! Each scenario is hosts + workload + fault plan + invariants built from a
//! seed and a set of bug switches (DESIGN.md section 5). See [`catalog`]
//! for which ones are registered.

mod agent_restart;
pub mod catalog;
pub mod cli;
mod common;
mod flaky_network;
pub mod hostile_input;
mod lost_path_notification;
mod stale_output;
mod write_timeout_eof;

pub use agent_restart::AgentRestart;
pub use flaky_network::FlakyNetwork;
pub use hostile_input::HostileInput;
pub use lost_path_notification::LostPathNotification;
pub use stale_output::StaleOutput;
pub use write_timeout_eof::WriteTimeoutEof;
