//! The workspace agent: an HTTP API that runs processes, reads and edits
//! files for an LLM, and streams git changes, re-implemented from the Go
//! original with its races fixed and each historical bug kept behind a
//! runtime switch ([`bugs::Bug`]). The HTTP contract is
//! `docs/agent-api.md`; the races and their fixes are `docs/races.md`.
//!
//! Layering: the domain modules ([`process`], [`files`], [`git`]) return
//! their own error types and take the narrow things they need (a seam, the
//! file locks, the process manager, config values); [`http`] holds every
//! handler and turns those errors into the error envelope. Nothing below
//! `http` imports from it.
//!
//! The agent never touches the outside world directly: everything goes
//! through [`seams::Seams`] (processes, filesystem, git, ids, wall clock), so
//! the harness can run this same code under simulation. It never imports
//! turmoil; the `sim` feature only compiles in the yield-point hooks of
//! [`sim`], which stay inert unless a simulation installs a hook.

pub mod config;
pub mod files;
pub mod git;
pub mod headtail;
pub mod http;
pub mod process;
pub mod seams;

/// The simulation hooks, re-exported for the agent's own code and tests.
pub use sim_hooks as sim;
/// The known-bug switches; they live with the simulation hooks.
pub use sim_hooks::bugs;
pub use sim_hooks::{site, yield_point};

use std::sync::Arc;

pub use bugs::{Bug, BugSet};
pub use config::AgentConfig;
pub use seams::Seams;

/// Everything a request handler needs: the configuration, the seams and the
/// long-lived services. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Agent {
    inner: Arc<AgentInner>,
}

/// The agent's shared state, behind [`Agent`].
pub struct AgentInner {
    pub config: AgentConfig,
    pub seams: Seams,
    pub paths: git::PathStore,
    pub processes: process::Manager,
    pub files: files::FileLocks,
}

impl Agent {
    /// Builds an agent over the given seams.
    pub fn new(config: AgentConfig, seams: Seams) -> Self {
        let paths = git::PathStore::new();
        let processes = process::Manager::new(config.clone(), seams.clone());
        Agent {
            inner: Arc::new(AgentInner {
                config,
                seams,
                paths,
                processes,
                files: files::FileLocks::default(),
            }),
        }
    }

    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    pub fn seams(&self) -> &Seams {
        &self.inner.seams
    }

    pub fn paths(&self) -> &git::PathStore {
        &self.inner.paths
    }

    pub fn processes(&self) -> &process::Manager {
        &self.inner.processes
    }

    pub fn file_locks(&self) -> &files::FileLocks {
        &self.inner.files
    }

    /// What the file operations reach, borrowed for one request.
    pub fn file_io(&self) -> files::FileIo<'_> {
        let seams = &self.inner.seams;
        files::FileIo {
            fs: &seams.fs,
            ids: &seams.ids,
            offload: &seams.offload,
            locks: &self.inner.files,
            bugs: &self.inner.config.bugs,
        }
    }

    /// Runs blocking file work or heavy pure work through the offload seam:
    /// a bounded pool for real, inline under simulation.
    pub async fn blocking<T, F>(&self, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        seams::offload(self.inner.seams.offload.as_ref(), work).await
    }

    /// Whether the historical bug `bug` is switched on for this agent.
    pub fn bug(&self, bug: Bug) -> bool {
        self.inner.config.bugs.is_on(bug)
    }
}
