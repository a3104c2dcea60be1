//! The agent's configuration: the spec's constants as overridable fields,
//! so tests can shrink a timeout instead of sleeping for it.

use std::path::PathBuf;
use std::time::Duration;

use crate::bugs::BugSet;

/// Configuration of one agent. [`AgentConfig::default`] is the spec's values.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The configured working directory (the manifest's directory); used
    /// for processes started without a workdir when it exists (spec 2.3.4).
    pub dir: Option<PathBuf>,
    /// Known-bug switches turned on (all off by default).
    pub bugs: BugSet,
    /// Go's `http.Server.WriteTimeout`: armed when a request's headers are read.
    pub write_timeout: Duration,
    /// Go's `ReadHeaderTimeout`.
    pub header_read_timeout: Duration,
    /// Whether responses carry hyper's `Date` header. It comes from the real
    /// clock, so simulations turn it off for byte-identical runs.
    pub http_date_header: bool,
    /// Server cap on a `wait=true` output request (`maxWaitDuration`).
    pub max_wait: Duration,
    /// Headroom added to the write deadline of a blocking output request
    /// beyond `max_wait` (fix of R6).
    pub wait_deadline_headroom: Duration,
    /// How long after its exit a process is reaped by `list`.
    pub reap_age: Duration,
    /// How long the output pipe may stay open after the shell exits.
    pub wait_delay: Duration,
    /// Request body size limit (413 beyond it).
    pub body_limit: usize,
    /// Git watch: minimum time between two scans.
    pub scan_cooldown: Duration,
    /// Git watch: fallback rescan interval.
    pub fallback_scan_interval: Duration,
    /// Git watch: WebSocket ping interval.
    pub ping_interval: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            dir: None,
            bugs: BugSet::none(),
            write_timeout: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(20),
            http_date_header: true,
            max_wait: Duration::from_secs(5 * 60),
            wait_deadline_headroom: Duration::from_secs(30),
            reap_age: Duration::from_secs(5 * 60),
            wait_delay: Duration::from_secs(5),
            body_limit: 32 * 1024 * 1024,
            scan_cooldown: Duration::from_secs(1),
            fallback_scan_interval: Duration::from_secs(30),
            ping_interval: Duration::from_secs(15),
        }
    }
}
