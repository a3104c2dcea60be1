//! The agent as a simulated host: its seams built from the run's seed, and
//! the function that serves it on a turmoil listener.
//!
//! [`SimParts`] holds the simulated pieces a scenario keeps handles to
//! (the filesystem to seed files, the script book to add commands, the
//! repository model to commit) and turns them into the agent's [`Seams`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use agent::seams::{FixedEnvInfo, Seams};
use agent::{Agent, AgentConfig, BugSet};

use crate::clock::{self, SimClock};
use crate::ids::SeededIds;
use crate::net::{AGENT_PORT, TurmoilListener};
use crate::seed::{Seed, stream};
use crate::sim_exec::{ScriptBook, SimExec};
use crate::sim_fs::{HOME, PROJECT, SimFs};
use crate::sim_scanner::SimScanner;
use crate::trace::Trace;

/// The agent's configuration in a simulation: the spec's values, the
/// project directory, and the run's bug switches.
pub fn agent_config(bugs: &BugSet) -> AgentConfig {
    AgentConfig {
        dir: Some(PathBuf::from(PROJECT)),
        bugs: bugs.clone(),
        // hyper's Date header reads the real clock: off under simulation.
        http_date_header: false,
        ..AgentConfig::default()
    }
}

/// The simulated world of one agent host.
#[derive(Clone)]
pub struct SimParts {
    pub fs: SimFs,
    pub scripts: ScriptBook,
    pub exec: SimExec,
    pub scanner: SimScanner,
    pub ids: Arc<SeededIds>,
    pub clock: SimClock,
    pub env: FixedEnvInfo,
}

impl SimParts {
    /// Fresh parts: the fixed filesystem layout, an empty script book, ids
    /// from the seed's `ids` stream, and `config`'s wait delay.
    pub fn new(seed: Seed, trace: &Trace, config: &AgentConfig) -> Self {
        let fs = SimFs::new();
        let scripts = ScriptBook::new();
        let exec = SimExec::new(scripts.clone(), config.wait_delay, trace.clone())
            .with_fs(fs.clone())
            .with_bugs(&config.bugs);
        SimParts {
            scanner: SimScanner::new(fs.clone()),
            ids: Arc::new(SeededIds::new(seed.rng(stream::IDS))),
            clock: SimClock::new(clock::epoch()),
            env: FixedEnvInfo {
                home: Some(PathBuf::from(HOME)),
                vars: vec![
                    ("HOME".into(), HOME.into()),
                    ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                    ("USER".into(), "coder".into()),
                ],
            },
            fs,
            scripts,
            exec,
        }
    }

    /// The agent's seams over these parts.
    pub fn seams(&self) -> Seams {
        Seams {
            exec: Arc::new(self.exec.clone()),
            fs: Arc::new(self.fs.clone()),
            scanner: Arc::new(self.scanner.clone()),
            ids: self.ids.clone(),
            clock: Arc::new(self.clock),
            env: Arc::new(self.env.clone()),
            update_env: None,
        }
    }
}

/// Serves `agent` on [`AGENT_PORT`] of the current simulated host with the
/// agent's own server (accept loop, write-deadline layer, header-read
/// timeout): the same code the real binary runs, over a turmoil listener.
pub async fn serve_agent(agent: Agent) -> io::Result<()> {
    let listener = TurmoilListener::bind(AGENT_PORT).await?;
    agent::http::server::serve(listener, agent, std::future::pending()).await;
    Ok(())
}
