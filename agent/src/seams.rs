//! The seam between the real world and the simulation (DESIGN.md section 3).
//!
//! Code that can run under simulation reaches processes, files, git, ids and
//! the wall clock only through [`Seams`]. Durations and timers use
//! `tokio::time` directly: turmoil pauses and drives that clock itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::files::fs::{Fs, RealFs};
use crate::git::scanner::{GitCliScanner, RepoScanner};
use crate::process::exec::{Exec, RealExec};

/// Source of process ids (uuid v4 for real, seeded under simulation).
pub trait IdSource: Send + Sync + 'static {
    fn next_id(&self) -> String;
}

/// Real ids: random UUIDv4.
#[derive(Debug, Default)]
pub struct UuidIds;

impl IdSource for UuidIds {
    fn next_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Deterministic ids for tests: `00000000-0000-4000-8000-<counter>`.
#[derive(Debug, Default)]
pub struct SequentialIds(std::sync::atomic::AtomicU64);

impl IdSource for SequentialIds {
    fn next_id(&self) -> String {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

/// The wall clock (timestamps in responses); timers use `tokio::time`.
pub trait WallClock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;

    /// Whole Unix seconds, as the wire's `*_at_unix` fields.
    fn now_unix(&self) -> i64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// The real wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A wall clock that starts at a fixed epoch and advances with
/// `tokio::time` (paused in tests, simulated under turmoil).
#[derive(Debug)]
pub struct TokioClock {
    epoch: SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(epoch: SystemTime) -> Self {
        TokioClock {
            epoch,
            start: tokio::time::Instant::now(),
        }
    }
}

impl WallClock for TokioClock {
    fn now(&self) -> SystemTime {
        self.epoch + self.start.elapsed()
    }
}

/// Where a process without a workdir runs: the user's home directory and the
/// agent's own environment (injectable, spec 2.3 steps 4 and 7).
pub trait EnvInfo: Send + Sync + 'static {
    fn home_dir(&self) -> Option<PathBuf>;
    fn environ(&self) -> Vec<(String, String)>;
}

/// The real process environment.
#[derive(Debug, Default)]
pub struct RealEnvInfo;

impl EnvInfo for RealEnvInfo {
    fn home_dir(&self) -> Option<PathBuf> {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            return Some(PathBuf::from(home));
        }
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.dir)
    }

    fn environ(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }
}

/// Fixed environment for tests and simulation.
#[derive(Clone, Debug, Default)]
pub struct FixedEnvInfo {
    pub home: Option<PathBuf>,
    pub vars: Vec<(String, String)>,
}

impl EnvInfo for FixedEnvInfo {
    fn home_dir(&self) -> Option<PathBuf> {
        self.home.clone()
    }
    fn environ(&self) -> Vec<(String, String)> {
        self.vars.clone()
    }
}

/// The update-env hook (#22451): given the agent's environment, returns the
/// environment processes get. On error the agent's environment is used.
pub type UpdateEnvHook =
    Arc<dyn Fn(Vec<(String, String)>) -> Result<Vec<(String, String)>, String> + Send + Sync>;

/// Every capability the agent uses to reach the outside world.
#[derive(Clone)]
pub struct Seams {
    pub exec: Arc<dyn Exec>,
    pub fs: Arc<dyn Fs>,
    pub scanner: Arc<dyn RepoScanner>,
    pub ids: Arc<dyn IdSource>,
    pub clock: Arc<dyn WallClock>,
    pub env: Arc<dyn EnvInfo>,
    pub update_env: Option<UpdateEnvHook>,
}

impl Seams {
    /// The real world: `sh -c`, `std::fs`, the `git` CLI, uuid v4, the system clock.
    pub fn real(wait_delay: Duration) -> Self {
        Seams {
            exec: Arc::new(RealExec::new(wait_delay)),
            fs: Arc::new(RealFs),
            scanner: Arc::new(GitCliScanner::new()),
            ids: Arc::new(UuidIds),
            clock: Arc::new(SystemClock),
            env: Arc::new(RealEnvInfo),
            update_env: None,
        }
    }
}
