//! Process management (`docs/agent-api.md#processes`): the `Exec` seam, the
//! manager, and what a caller may do with a process ([`access`]). The HTTP
//! handlers live in [`crate::http::process`].

pub mod access;
pub mod exec;
pub mod manager;
mod real_exec;
pub use agent_wire::process as wire;

pub use manager::{Manager, SignalFailure, StartError};
pub use real_exec::RealExec;

/// Why a process operation failed; the HTTP layer turns it into the error
/// envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No process with this id, or one the caller's chat may not see.
    #[error("Process {0:?} not found.")]
    NotFound(String),
    /// Starting failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Signalling process `id` failed.
    #[error("signal process {id:?}: {source}")]
    Signal {
        id: String,
        #[source]
        source: SignalFailure,
    },
}
