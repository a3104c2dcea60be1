//! The agent's configuration: the original agent's constants as overridable
//! fields (defaults in `docs/agent-api.md#access-control-and-limits`),
//! so tests can shrink a timeout instead of sleeping for it.

use std::path::PathBuf;
use std::time::Duration;

use crate::bugs::BugSet;

/// Configuration of one agent. [`AgentConfig::default`] is the original
/// agent's values.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The configured working directory (the manifest's directory); used
    /// for processes started without a workdir when it exists
    /// (`docs/agent-api.md#processes`).
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
    /// beyond `max_wait` (fix of race R6, `docs/races.md`).
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

    // --- Access control and resource limits of the real agent. ---
    /// The bearer token every request must carry (`Authorization: Bearer`).
    /// `None` turns authentication off (`--no-auth`, loopback only).
    pub token: Option<String>,
    /// Extra `Host` names accepted besides `localhost`, loopback IPs and the
    /// listen address (DNS-rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// The listen address's host, accepted as a `Host` value.
    pub listen_host: Option<String>,
    /// `Origin` values accepted; any other `Origin` header is refused.
    pub allowed_origins: Vec<String>,
    /// Go's `ReadTimeout`: the whole request, body included, must arrive
    /// within this time of its headers.
    pub read_timeout: Duration,
    /// Concurrent connections served; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// Largest answer of read-file and largest file read by read-file-lines
    /// or edit-files, counted in bytes actually read.
    pub max_read_size: u64,
    /// Largest file an edit may produce (413 beyond it, nothing written).
    pub max_edit_result: u64,
    /// Largest original + edited size for which edit-files computes a diff;
    /// beyond it the diff is omitted with a note.
    pub max_diff_input: u64,
    /// Finished processes kept for output reads; the oldest go first.
    pub max_finished_processes: usize,
    /// How often finished processes older than `reap_age` are evicted.
    pub reap_interval: Duration,
    /// Threads that may run blocking file work at once (the real offload pool).
    pub blocking_threads: usize,
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
            token: None,
            allowed_hosts: Vec::new(),
            listen_host: None,
            allowed_origins: Vec::new(),
            read_timeout: Duration::from_secs(20),
            max_connections: 512,
            max_read_size: 32 * 1024 * 1024,
            max_edit_result: 64 * 1024 * 1024,
            max_diff_input: 4 * 1024 * 1024,
            max_finished_processes: 1000,
            reap_interval: Duration::from_secs(60),
            blocking_threads: 16,
        }
    }
}
