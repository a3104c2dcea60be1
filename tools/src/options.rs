//! Tool options: the knobs chatd passes to the original tools plus the
//! known-bug switches the simulation turns on.

use std::time::Duration;

use agent_sdk::ReadFileLinesLimits;
use sim_hooks::BugSet;

/// `execute`'s timeout when neither the options nor the call give one.
pub const DEFAULT_EXECUTE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `process_output` blocks by default (`defaultProcessOutputTimeout`).
pub const DEFAULT_PROCESS_OUTPUT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a fallback snapshot may take (`snapshotTimeout`).
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// Options shared by every tool.
#[derive(Clone, Debug)]
pub struct ToolOptions {
    /// `execute`'s default timeout (chatd's `DefaultTimeout`); zero means
    /// [`DEFAULT_EXECUTE_TIMEOUT`]. A `timeout` argument overrides it.
    pub default_timeout: Duration,
    /// `process_output`'s default wait; a `wait_timeout` argument overrides it.
    pub process_output_timeout: Duration,
    /// The budget of the non-blocking snapshot taken after a failed wait.
    pub snapshot_timeout: Duration,
    /// Limits sent with every `read_file` call.
    pub read_file_limits: ReadFileLinesLimits,
    /// Known-bug switches; only `no-snapshot-fallback` concerns the tools.
    pub bugs: BugSet,
}

impl Default for ToolOptions {
    fn default() -> Self {
        ToolOptions {
            default_timeout: Duration::ZERO,
            process_output_timeout: DEFAULT_PROCESS_OUTPUT_TIMEOUT,
            snapshot_timeout: SNAPSHOT_TIMEOUT,
            read_file_limits: ReadFileLinesLimits::default(),
            bugs: BugSet::none(),
        }
    }
}

impl ToolOptions {
    /// The default options with these bug switches on.
    pub fn with_bugs(bugs: BugSet) -> Self {
        ToolOptions {
            bugs,
            ..Default::default()
        }
    }

    /// `execute`'s timeout before any `timeout` argument.
    pub fn execute_timeout(&self) -> Duration {
        if self.default_timeout.is_zero() {
            DEFAULT_EXECUTE_TIMEOUT
        } else {
            self.default_timeout
        }
    }
}
