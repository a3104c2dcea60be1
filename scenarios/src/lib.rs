//! The scenario catalog behind `agentsim`, and the CLI itself.
//!
//! Each scenario is hosts + workload + fault plan + invariants built from a
//! seed and a set of bug switches (DESIGN.md section 5). See [`catalog`]
//! for which ones are registered.

mod agent_restart;
mod blocking_wait;
pub mod catalog;
mod chat_isolation;
pub mod cli;
mod common;
mod concurrent_edits;
mod flaky_network;
pub mod hostile_input;
mod lost_path_notification;
mod signal_vs_exit;
mod stale_output;
mod write_timeout_eof;

pub use agent_restart::AgentRestart;
pub use blocking_wait::BlockingWait;
pub use chat_isolation::ChatIsolation;
pub use concurrent_edits::ConcurrentEdits;
pub use flaky_network::FlakyNetwork;
pub use hostile_input::HostileInput;
pub use lost_path_notification::LostPathNotification;
pub use signal_vs_exit::SignalVsExit;
pub use stale_output::StaleOutput;
pub use write_timeout_eof::WriteTimeoutEof;
