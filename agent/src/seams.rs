//! The seam between the real world and the simulation
//! (`docs/design.md#seams`).
//!
//! Code that can run under simulation reaches processes, files, git, ids and
//! the wall clock only through [`Seams`]. Durations and timers use
//! `tokio::time` directly: turmoil pauses and drives that clock itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::files::fs::{Fs, RealFs};
use crate::git::scanner::{GitCliScanner, RepoScanner};
use crate::process::RealExec;
use crate::process::exec::Exec;

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
/// agent's own environment (injectable; `docs/agent-api.md#processes`).
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

/// The update-env hook (upstream #22451, U1 in `docs/races.md`): given the
/// agent's environment, returns the environment processes get. On error the
/// agent's environment is used.
pub type UpdateEnvHook =
    Arc<dyn Fn(Vec<(String, String)>) -> Result<Vec<(String, String)>, String> + Send + Sync>;

/// A job for [`Offload`]: blocking file-system work or CPU-heavy pure work.
pub type BlockingJob = Box<dyn FnOnce() + Send + 'static>;

/// Where blocking work runs. Code above the seams never blocks a runtime
/// thread and never calls `spawn_blocking` itself: it hands the work to
/// this seam, which runs it on a bounded pool for real and inline (on the
/// simulated host's only thread, deterministically) under simulation.
pub trait Offload: Send + Sync + 'static {
    /// Runs `job` to completion. A panic in `job` resumes in the caller.
    fn run(&self, job: BlockingJob) -> futures::future::BoxFuture<'static, ()>;
}

/// Runs `work` through `offload` and returns its value.
pub async fn offload<T, F>(offload: &dyn Offload, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::new(parking_lot::Mutex::new(None));
    let out = slot.clone();
    offload
        .run(Box::new(move || {
            *out.lock() = Some(work());
        }))
        .await;
    let value = slot.lock().take();
    match value {
        Some(v) => v,
        // `run` resumes a panic of the job, so it cannot return without
        // the job having stored its value.
        None => unreachable!("offloaded job finished without a value"),
    }
}

/// The real pool: tokio's blocking threads, at most `permits` jobs at once,
/// so a burst of slow reads (a stalled network filesystem) queues instead
/// of growing the thread count to tokio's cap.
#[derive(Debug)]
pub struct BlockingPool {
    permits: Arc<tokio::sync::Semaphore>,
}

impl BlockingPool {
    pub fn new(threads: usize) -> Self {
        BlockingPool {
            permits: Arc::new(tokio::sync::Semaphore::new(threads.max(1))),
        }
    }
}

impl Offload for BlockingPool {
    fn run(&self, job: BlockingJob) -> futures::future::BoxFuture<'static, ()> {
        let permits = self.permits.clone();
        Box::pin(async move {
            // The semaphore is never closed, so a permit always comes.
            let permit = permits.acquire_owned().await.ok();
            let done = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                job();
            })
            .await;
            // A job is only cancelled when the runtime shuts down, and then
            // the task awaiting it is dropped too.
            if let Err(e) = done
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        })
    }
}

/// Runs every job inline, at its first poll: for simulation and for tests
/// on a paused clock, where leaving the current thread would break
/// determinism.
#[derive(Debug, Default)]
pub struct Inline;

impl Offload for Inline {
    fn run(&self, job: BlockingJob) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move { job() })
    }
}

/// Every capability the agent uses to reach the outside world.
#[derive(Clone)]
pub struct Seams {
    /// Where blocking file work and heavy pure work run.
    pub offload: Arc<dyn Offload>,
    pub exec: Arc<dyn Exec>,
    pub fs: Arc<dyn Fs>,
    pub scanner: Arc<dyn RepoScanner>,
    pub ids: Arc<dyn IdSource>,
    pub clock: Arc<dyn WallClock>,
    pub env: Arc<dyn EnvInfo>,
    pub update_env: Option<UpdateEnvHook>,
}

impl Seams {
    /// The real world: `sh -c`, `std::fs` on a pool of 16 blocking threads,
    /// the `git` CLI, uuid v4, the system clock.
    pub fn real(wait_delay: Duration) -> Self {
        Seams {
            offload: Arc::new(BlockingPool::new(16)),
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
