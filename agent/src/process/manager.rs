//! The process manager (spec 2.3 to 2.8). Filled in by the process-API issue.

use crate::{AgentConfig, Seams};

/// Tracks every process the agent started.
pub struct Manager {
    #[allow(dead_code)]
    config: AgentConfig,
    #[allow(dead_code)]
    seams: Seams,
}

impl Manager {
    pub fn new(config: AgentConfig, seams: Seams) -> Self {
        Manager { config, seams }
    }
}
