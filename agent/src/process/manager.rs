//! The process manager (spec 2.3 to 2.8): starts processes through the
//! [`Exec`](super::exec::Exec) seam, tracks them, publishes their exit in the
//! contract's order, lists (with reaping), signals and closes.
//!
//! Locking: one `std::sync::Mutex` for the table (and the `closed` flag), one
//! per process for its exit state. Neither is held across an await, and the
//! table lock is never taken while a process lock is held.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use indexmap::IndexMap;
use uuid::Uuid;

use super::exec::{ExitStatus, ProcessControl, Signal, SignalError, SpawnSpec};
use super::wire::ProcessInfo;
use crate::headtail::HeadTailBuffer;
use crate::{AgentConfig, Bug, Seams};

/// Cap on the number of processes `list` returns (`maxListProcesses`).
pub const MAX_LIST_PROCESSES: usize = 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What to start (the wire request plus the caller's chat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartRequest {
    pub command: String,
    /// Used verbatim when non-empty (no validation: a bad dir fails the spawn).
    pub workdir: Option<String>,
    pub env: BTreeMap<String, String>,
    pub background: bool,
    /// The caller's chat; stored and used for scoping.
    pub chat_id: Option<Uuid>,
}

/// Starting failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The manager was closed before or while starting (spec 2.3 steps 1, 10).
    #[error("manager is closed")]
    Closed,
    /// The spawn failed (e.g. `start process: chdir /x: no such file or directory`).
    #[error("start process: {0}")]
    Spawn(String),
}

/// Signalling failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalFailure {
    /// 409: the process has exited (or its group vanished before the exit
    /// was published, race R10).
    #[error("process is not running")]
    NotRunning,
    /// 500 with this detail.
    #[error("{0}")]
    Failed(String),
}

/// The mutable part of a process, under its own lock.
#[derive(Clone, Debug)]
struct ExitState {
    running: bool,
    exit_code: Option<i32>,
    exited_at: Option<SystemTime>,
}

/// One tracked process.
pub struct Process {
    id: String,
    command: String,
    /// The resolved working directory (`None`: inherited the agent's).
    workdir: Option<String>,
    background: bool,
    chat_id: Option<Uuid>,
    started_at: SystemTime,
    /// Insertion order: the deterministic tie-break of `list`.
    seq: u64,
    buffer: Arc<HeadTailBuffer>,
    control: Arc<dyn ProcessControl>,
    state: Mutex<ExitState>,
    done: DoneLatch,
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Process {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn chat_id(&self) -> Option<Uuid> {
        self.chat_id
    }

    /// The output buffer (closed after the exit is published).
    pub fn buffer(&self) -> &Arc<HeadTailBuffer> {
        &self.buffer
    }

    /// A consistent snapshot of the process's status.
    pub fn info(&self) -> ProcessInfo {
        let state = lock(&self.state).clone();
        ProcessInfo {
            id: self.id.clone(),
            command: self.command.clone(),
            workdir: self.workdir.clone(),
            background: self.background,
            running: state.running,
            exit_code: state.exit_code,
            started_at_unix: unix_secs(self.started_at),
            exited_at_unix: state.exited_at.map(unix_secs),
        }
    }

    pub fn is_running(&self) -> bool {
        lock(&self.state).running
    }

    /// Whether a caller with chat context `caller` may see this process
    /// through output/signal (spec 2.7): no caller chat, no process chat, or
    /// the same chat.
    pub fn visible_to(&self, caller: Option<Uuid>) -> bool {
        match (caller, self.chat_id) {
            (None, _) | (_, None) => true,
            (Some(c), Some(p)) => c == p,
        }
    }

    /// Resolves once the exit task has finished (exit published, buffer closed).
    pub async fn done(&self) {
        self.done.wait().await;
    }

    /// Whether the exit task has finished.
    pub fn is_done(&self) -> bool {
        self.done.is_set()
    }
}

/// A one-shot "exit task finished" latch. A `Notify` rather than a `watch`
/// channel: `watch` places each waiter by tokio's runtime rng, which turmoil
/// does not seed, so two waiters (Close and the PathStore feeder) would wake
/// in a different order from run to run and break trace determinism.
#[derive(Debug, Default)]
struct DoneLatch {
    set: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl DoneLatch {
    fn set(&self) {
        self.set.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn is_set(&self) -> bool {
        self.set.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn wait(&self) {
        // Created before the check: `notify_waiters` wakes it even unpolled.
        let notified = self.notify.notified();
        if self.is_set() {
            return;
        }
        notified.await;
    }
}

struct Table {
    closed: bool,
    procs: IndexMap<String, Arc<Process>>,
    next_seq: u64,
}

/// Tracks every process the agent started.
pub struct Manager {
    config: AgentConfig,
    seams: Seams,
    table: Mutex<Table>,
}

impl Manager {
    pub fn new(config: AgentConfig, seams: Seams) -> Self {
        Manager {
            config,
            seams,
            table: Mutex::new(Table {
                closed: false,
                procs: IndexMap::new(),
                next_seq: 0,
            }),
        }
    }

    /// The working directory chain (spec 2.3 step 4): the request's dir
    /// verbatim, else the configured dir if it is a directory, else home,
    /// else inherit.
    fn resolve_workdir(&self, requested: Option<&str>) -> Option<PathBuf> {
        if let Some(dir) = requested.filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = &self.config.dir
            && self.seams.fs.metadata(dir).is_ok_and(|m| m.is_dir())
        {
            return Some(dir.clone());
        }
        self.seams.env.home_dir()
    }

    /// The environment (spec 2.3 step 7): the agent's, through the
    /// update-env hook (falling back on error), then the request's; later
    /// entries win and duplicates are removed keeping the last value at the
    /// position of its last occurrence (Go's `dedupEnv`).
    fn environment(&self, request: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let base = self.seams.env.environ();
        let mut env = match &self.seams.update_env {
            Some(hook) => match hook(base.clone()) {
                Ok(updated) => updated,
                Err(error) => {
                    tracing::warn!(
                        %error,
                        "failed to update command environment, falling back to os env"
                    );
                    base
                }
            },
            None => base,
        };
        env.extend(request.iter().map(|(k, v)| (k.clone(), v.clone())));
        dedup_env(env)
    }

    /// Starts a process (spec 2.3). The process is not tied to the caller:
    /// dropping the returned future after it resolved leaves it running.
    pub async fn start(&self, req: StartRequest) -> Result<Arc<Process>, StartError> {
        if lock(&self.table).closed {
            return Err(StartError::Closed);
        }
        let id = self.seams.ids.next_id();
        let workdir = self.resolve_workdir(req.workdir.as_deref());
        let env = self.environment(&req.env);
        crate::yield_point!("proc.start.between_check_and_spawn");

        let buffer = Arc::new(HeadTailBuffer::new());
        let spec = SpawnSpec {
            command: req.command.clone(),
            workdir: workdir.clone(),
            env,
        };
        let spawned = self
            .seams
            .exec
            .spawn(spec, buffer.clone())
            .map_err(|e| StartError::Spawn(e.0))?;

        let process = {
            let mut table = lock(&self.table);
            if table.closed {
                None
            } else {
                table.next_seq += 1;
                let process = Arc::new(Process {
                    id: id.clone(),
                    command: req.command.clone(),
                    workdir: workdir.map(|d| d.to_string_lossy().into_owned()),
                    background: req.background,
                    chat_id: req.chat_id,
                    started_at: self.seams.clock.now(),
                    seq: table.next_seq,
                    buffer,
                    control: spawned.control.clone(),
                    state: Mutex::new(ExitState {
                        running: true,
                        exit_code: None,
                        exited_at: None,
                    }),
                    done: DoneLatch::default(),
                });
                table.procs.insert(id.clone(), process.clone());
                Some(process)
            }
        };
        let Some(process) = process else {
            // Close raced this start (R15): kill what we spawned, wait, fail.
            cov_mark::hit!(start_raced_close);
            spawned.control.kill_direct();
            let _ = spawned.exit.await;
            return Err(StartError::Closed);
        };

        tracing::info!(id = %id, command = %req.command, "process started");
        crate::sim::event("proc.start", || format!("{id} {:?}", req.command));
        let clock = self.seams.clock.clone();
        let task_process = process.clone();
        tokio::spawn(async move {
            let status = spawned.exit.await;
            crate::yield_point!("proc.exit.between_drain_and_publish");
            let p = task_process;
            {
                let mut state = lock(&p.state);
                state.running = false;
                state.exited_at = Some(clock.now());
                state.exit_code = Some(status.exit_code());
            }
            if let ExitStatus::WaitError(error) = &status {
                tracing::warn!(id = %p.id, %error, "process wait failed");
            }
            tracing::info!(id = %p.id, exit_code = status.exit_code(), "process exited");
            crate::sim::event("proc.exit", || format!("{} {}", p.id, status.exit_code()));
            p.buffer.close();
            p.done.set();
        });
        Ok(process)
    }

    /// Looks a process up by id.
    pub fn get(&self, id: &str) -> Option<Arc<Process>> {
        lock(&self.table).procs.get(id).cloned()
    }

    /// Lists processes (spec 2.5): first reaps every process (any chat)
    /// that exited more than `reap_age` ago, then filters by chat (a chat
    /// caller sees only its own), sorts running first then newest first
    /// (ties: later start first), and caps at [`MAX_LIST_PROCESSES`].
    pub fn list(&self, chat: Option<Uuid>) -> Vec<ProcessInfo> {
        let now = self.seams.clock.now();
        let reap_age = self.config.reap_age;
        let mut table = lock(&self.table);
        table.procs.retain(|_, p| {
            let exited_at = lock(&p.state).exited_at;
            let reap = exited_at.is_some_and(|t| now.duration_since(t).is_ok_and(|d| d > reap_age));
            if reap {
                tracing::debug!(id = %p.id, "reaped exited process");
            }
            !reap
        });
        let mut rows: Vec<(u64, ProcessInfo)> = table
            .procs
            .values()
            .filter(|p| chat.is_none() || p.chat_id == chat)
            .map(|p| (p.seq, p.info()))
            .collect();
        drop(table);
        rows.sort_by(|(seq_a, a), (seq_b, b)| {
            b.running
                .cmp(&a.running)
                .then(b.started_at_unix.cmp(&a.started_at_unix))
                .then(seq_b.cmp(seq_a))
        });
        rows.into_iter()
            .take(MAX_LIST_PROCESSES)
            .map(|(_, info)| info)
            .collect()
    }

    /// Sends `signal` to the process's group (spec 2.6). Not running ⇒
    /// [`SignalFailure::NotRunning`]. A group that vanished before the exit
    /// task published the exit (ESRCH, race R10) is also "not running";
    /// with `signal-esrch-500` on it is a 500 as in the original.
    pub async fn signal(&self, process: &Process, signal: Signal) -> Result<(), SignalFailure> {
        if !process.is_running() {
            return Err(SignalFailure::NotRunning);
        }
        crate::yield_point!("proc.signal.between_check_and_send");
        match process.control.signal_group(signal) {
            Ok(()) => {
                tracing::info!(id = %process.id, signal = signal.wire_name(), "signal sent");
                Ok(())
            }
            Err(SignalError::NoSuchProcess) => {
                if self.config.bugs.is_on(Bug::SignalEsrch500) {
                    crate::sim::bug_taken(Bug::SignalEsrch500);
                    cov_mark::hit!(signal_esrch_500);
                    Err(SignalFailure::Failed(
                        SignalError::NoSuchProcess.to_string(),
                    ))
                } else {
                    Err(SignalFailure::NotRunning)
                }
            }
            Err(other) => Err(SignalFailure::Failed(other.to_string())),
        }
    }

    /// Close (spec 2.8): later starts fail, every process's direct child is
    /// killed (not its group: grandchildren survive and the drain ends by
    /// the wait delay), then every exit task is awaited.
    pub async fn close(&self) {
        let procs = self.mark_closed();
        for p in &procs {
            p.control.kill_direct();
        }
        for p in &procs {
            p.done().await;
        }
    }

    /// The binary's shutdown: like [`close`](Self::close) but SIGKILLs every
    /// running process *group* first, so no grandchild outlives the agent.
    pub async fn shutdown(&self) {
        let procs = self.mark_closed();
        self.kill_all();
        for p in &procs {
            p.done().await;
        }
    }

    /// SIGKILLs the group of every running process, and its direct child in
    /// case the group send failed. Synchronous, for `Drop` paths.
    pub fn kill_all(&self) {
        let procs: Vec<Arc<Process>> = lock(&self.table).procs.values().cloned().collect();
        for p in &procs {
            if p.is_running() {
                let _ = p.control.signal_group(Signal::Kill);
                p.control.kill_direct();
            }
        }
    }

    /// Every tracked process, in start order (not capped, not reaped).
    pub fn all(&self) -> Vec<Arc<Process>> {
        lock(&self.table).procs.values().cloned().collect()
    }

    fn mark_closed(&self) -> Vec<Arc<Process>> {
        let mut table = lock(&self.table);
        table.closed = true;
        table.procs.values().cloned().collect()
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.table).closed
    }
}

/// Removes duplicate keys keeping the last value, at the position of the
/// last occurrence (Go's `dedupEnv`).
pub fn dedup_env(env: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<(String, String)> = env
        .into_iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dedup_env_keeps_the_last_value_of_each_key() {
        let env = kv(&[("A", "1"), ("B", "2"), ("A", "3"), ("C", "4")]);
        assert_eq!(dedup_env(env), kv(&[("B", "2"), ("A", "3"), ("C", "4")]));
    }
}
