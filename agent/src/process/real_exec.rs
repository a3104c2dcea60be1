//! The real `Exec`: `sh -c` on `tokio::process`.
//!
//! Interim version; the process-API issue completes it (one shared pipe,
//! process groups, wait delay, signal conventions).

use std::sync::Arc;
use std::time::Duration;

use crate::headtail::HeadTailBuffer;

use super::exec::{Exec, SpawnError, SpawnSpec, Spawned};

/// Starts real processes under `sh -c`.
#[derive(Debug)]
pub struct RealExec {
    wait_delay: Duration,
}

impl RealExec {
    pub fn new(wait_delay: Duration) -> Self {
        RealExec { wait_delay }
    }
}

impl Exec for RealExec {
    fn spawn(&self, spec: SpawnSpec, output: Arc<HeadTailBuffer>) -> Result<Spawned, SpawnError> {
        let _ = (spec, output, self.wait_delay);
        Err(SpawnError("real exec not wired yet".into()))
    }
}
