//! The `Exec` seam: how the manager starts a command and learns its fate.
//!
//! The manager never sees `tokio::process` or signals directly. A spawn hands
//! back a [`Spawned`]: a future that resolves once the process is reaped
//! **and** its output pipe is drained (bounded by the wait delay), plus a
//! [`ProcessControl`] to signal it. The real
//! implementation is `sh -c` on `tokio::process` ([`RealExec`](super::RealExec)); the
//! harness's scripted processes implement the same trait, so the manager runs
//! unchanged.
//!
//! Contract for implementations:
//! - `spawn` is synchronous and must not need OS resources beyond what the
//!   implementation chooses (a scripted process just builds a future);
//! - the process runs by being polled: the manager polls [`Spawned::exit`]
//!   from the moment `spawn` returns until it resolves (a scripted process
//!   writes its chunks into the buffer and sleeps on the tokio clock inside
//!   that future);
//! - `exit` resolves only after the last byte is in the buffer; the buffer is
//!   **not** closed by the implementation (the manager closes it after
//!   publishing the exit);
//! - [`ProcessControl::signal_group`] answers [`SignalError::NoSuchProcess`]
//!   when no member of the group is left (e.g. reaped, not yet published);
//!   [`ProcessControl::group_alive`] tells whether members outlive the
//!   leader.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::headtail::HeadTailBuffer;

/// What to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpawnSpec {
    /// Passed to `sh -c`.
    pub command: String,
    /// The resolved working directory; `None` inherits the agent's.
    pub workdir: Option<PathBuf>,
    /// The complete environment, already de-duplicated (last wins).
    pub env: Vec<(String, String)>,
}

/// A signal the API can send (`docs/agent-api.md#processes`, signal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGKILL to the process group.
    Kill,
    /// SIGTERM to the process group.
    Terminate,
}

impl Signal {
    /// Parses the wire name (`kill` or `terminate`).
    pub fn from_wire(s: &str) -> Option<Signal> {
        match s {
            "kill" => Some(Signal::Kill),
            "terminate" => Some(Signal::Terminate),
            _ => None,
        }
    }

    pub fn wire_name(self) -> &'static str {
        match self {
            Signal::Kill => "kill",
            Signal::Terminate => "terminate",
        }
    }
}

/// How a process ended, as the exit task sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited normally with this code.
    Code(i32),
    /// Killed by this signal number (reported as exit code -1, as Go does).
    Signaled(i32),
    /// Waiting failed (pipe held past the wait delay after a successful
    /// exit, ECHILD, ...): exit code -1 and a warning.
    WaitError(String),
}

impl ExitStatus {
    /// The wire's `exit_code`: -1 for a death by signal or a failed wait.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExitStatus::Code(c) => *c,
            ExitStatus::Signaled(_) | ExitStatus::WaitError(_) => -1,
        }
    }
}

/// Starting a process failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SpawnError(pub String);

/// Signalling a process failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The process group no longer exists (ESRCH): it exited between the
    /// running check and the send (race R10, `docs/races.md`).
    #[error("kill process: no such process")]
    NoSuchProcess,
    #[error("kill process: {0}")]
    Other(String),
}

/// Signals a running process.
pub trait ProcessControl: Send + Sync {
    /// Sends `signal` to the whole process group.
    fn signal_group(&self, signal: Signal) -> Result<(), SignalError>;
    /// Kills only the direct child (the manager's Close;
    /// `docs/agent-api.md#shutdown`).
    fn kill_direct(&self);
    /// Whether some member of the group may still be alive. Asked once the
    /// leader has exited (and again by the sweeper): a group that outlives
    /// its leader (`sleep 300 &`) is still killed on shutdown. The default
    /// suits implementations whose groups end with their leader.
    fn group_alive(&self) -> bool {
        false
    }
}

/// A started process.
pub struct Spawned {
    /// Resolves when the process is reaped and its output fully drained.
    pub exit: BoxFuture<'static, ExitStatus>,
    /// Signals the process.
    pub control: Arc<dyn ProcessControl>,
}

/// Starts processes. Every byte the process writes to stdout or stderr goes
/// to `output` in the kernel's order (one shared pipe).
pub trait Exec: Send + Sync + 'static {
    fn spawn(&self, spec: SpawnSpec, output: Arc<HeadTailBuffer>) -> Result<Spawned, SpawnError>;
}
