//! Process management: the `Exec` seam, the manager and its HTTP API
//! (`docs/agent-api.md#processes`).

pub mod api;
pub mod exec;
pub mod manager;
mod real_exec;
pub use agent_wire::process as wire;

pub use manager::Manager;
