//! The process manager: starts processes through the
//! [`Exec`](super::exec::Exec) seam, tracks them, publishes their exit in the
//! contract's order, lists, evicts finished processes (by count at once, by
//! age in `list` and in the optional sweeper), signals, closes and shuts down.
//!
//! Locking: one lock for the table (and the `closed` flag), one per process
//! for its exit state. Neither is held across an await, and the table lock
//! is never taken while a process lock is held (the exit task takes the
//! process lock inside the table lock, so the exit and the bookkeeping of
//! finished processes change together).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::exec::{ExitStatus, ProcessControl, Signal, SignalError, SpawnSpec};
use super::wire::ProcessInfo;
use crate::headtail::HeadTailBuffer;
use crate::seams::WallClock;
use crate::{AgentConfig, Bug, Seams};

/// Cap on the number of processes `list` returns (`maxListProcesses`).
pub const MAX_LIST_PROCESSES: usize = 10;

/// The variable that carries the agent's own bearer token. It is removed
/// from the environment children inherit, so a command (or anything it
/// prints into its output) cannot leak the credential. A request may still
/// set it explicitly for its own child: that value is the caller's to give.
pub const TOKEN_ENV_VAR: &str = "AGENT_TOKEN";

/// Shortest sweep period: a zero `reap_interval` would make the sweeper spin.
const MIN_REAP_INTERVAL: Duration = Duration::from_millis(1);

/// What to start (the wire request plus the caller's chat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartRequest {
    pub command: String,
    /// Used verbatim when non-empty; it must be an existing directory.
    pub workdir: Option<String>,
    pub env: BTreeMap<String, String>,
    pub background: bool,
    /// The caller's chat; stored and used for scoping.
    pub chat_id: Option<Uuid>,
}

impl StartRequest {
    /// Refuses what the OS would reject or misread: C strings end at a NUL,
    /// and `A=B` as a name would set variable `A` to `B=...`. An empty
    /// workdir means "none", as on the wire.
    pub fn validate(&self) -> Result<(), StartError> {
        let invalid = |m: String| Err(StartError::Invalid(m));
        if self.command.contains('\0') {
            return invalid("Invalid command: it must not contain a NUL byte.".into());
        }
        if let Some(dir) = &self.workdir
            && dir.contains('\0')
        {
            return invalid(format!(
                "Invalid working directory {dir:?}: it must not contain a NUL byte."
            ));
        }
        for (key, value) in &self.env {
            let problem = if key.is_empty() {
                Some("it must not be empty")
            } else if key.contains('=') {
                Some("it must not contain \"=\"")
            } else if key.contains('\0') {
                Some("it must not contain a NUL byte")
            } else {
                None
            };
            if let Some(problem) = problem {
                return invalid(format!(
                    "Invalid environment variable name {key:?}: {problem}."
                ));
            }
            if value.contains('\0') {
                return invalid(format!(
                    "Invalid value of environment variable {key:?}: it must not contain a NUL byte."
                ));
            }
        }
        Ok(())
    }
}

/// Starting failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The manager was closed before or while starting.
    #[error("manager is closed")]
    Closed,
    /// The request cannot be started as given (the API answers 400 with
    /// this text): a NUL byte where the OS takes C strings, an environment
    /// name that would inject another variable, a missing working directory.
    #[error("{0}")]
    Invalid(String),
    /// The spawn failed (e.g. `start process: chdir /x: no such file or directory`).
    #[error("start process: {0}")]
    Spawn(String),
}

/// Signalling failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalFailure {
    /// 409: the process has exited (or its group vanished before the exit
    /// was published, race R10 in `docs/races.md`).
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
        let state = self.state.lock().clone();
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
        self.state.lock().running
    }

    /// Whether a caller with chat context `caller` may see this process
    /// through output/signal (`docs/agent-api.md#processes`): no caller
    /// chat, no process chat, or the same chat.
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
    /// The finished processes still in `procs`, oldest first: by exit time,
    /// then start order. Eviction pops from the front.
    finished: BTreeSet<(SystemTime, u64, String)>,
    /// Groups of finished processes (evicted or not) that still had members
    /// after their leader exited, by start order: shutdown kills them too.
    /// Forgotten once seen empty.
    lingering: BTreeMap<u64, Arc<dyn ProcessControl>>,
}

impl Table {
    fn evict(&mut self, entry: &(SystemTime, u64, String), why: &str) {
        self.finished.remove(entry);
        self.procs.shift_remove(&entry.2);
        tracing::debug!(id = %entry.2, why, "evicted finished process");
    }

    /// Evicts the oldest finished processes until at most `cap` are kept.
    fn evict_over_cap(&mut self, cap: usize) {
        while self.finished.len() > cap {
            let Some(oldest) = self.finished.first().cloned() else {
                return;
            };
            self.evict(&oldest, "count");
        }
    }

    /// Evicts every process that exited more than `age` before `now`.
    fn evict_older_than(&mut self, now: SystemTime, age: Duration) {
        while let Some(oldest) = self.finished.first().cloned() {
            let old = now.duration_since(oldest.0).is_ok_and(|d| d > age);
            if !old {
                return;
            }
            self.evict(&oldest, "age");
        }
    }
}

/// Tracks every process the agent started.
pub struct Manager {
    config: AgentConfig,
    seams: Seams,
    /// Shared with the exit tasks (strongly) and the sweeper (weakly).
    table: Arc<Mutex<Table>>,
    /// Cancelled when the manager closes or is dropped: stops the sweeper.
    stop: CancellationToken,
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Manager {
    pub fn new(config: AgentConfig, seams: Seams) -> Self {
        Manager {
            config,
            seams,
            table: Arc::new(Mutex::new(Table {
                closed: false,
                procs: IndexMap::new(),
                next_seq: 0,
                finished: BTreeSet::new(),
                lingering: BTreeMap::new(),
            })),
            stop: CancellationToken::new(),
        }
    }

    /// The working directory chain: the request's dir verbatim, else the
    /// configured dir if it is a directory, else home, else inherit.
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

    /// A requested working directory must be an existing directory: the
    /// caller's mistake is a 400 naming the path, not a failed spawn. Other
    /// failures (permissions, I/O) are left to the spawn to report.
    async fn check_workdir(&self, dir: &str) -> Result<(), StartError> {
        let fs = self.seams.fs.clone();
        let path = PathBuf::from(dir);
        let meta = crate::seams::offload(self.seams.offload.as_ref(), move || {
            fs.metadata(Path::new(&path))
        })
        .await;
        match meta {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StartError::Invalid(format!(
                "Working directory {dir:?} is not a directory."
            ))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Err(StartError::Invalid(format!(
                    "Working directory {dir:?} does not exist."
                )))
            }
            Err(_) => Ok(()),
        }
    }

    /// The environment: the agent's, through the update-env hook (falling back
    /// on error), without the agent's token, then the request's; later entries
    /// win and duplicates are removed keeping the last value at the position of
    /// its last occurrence (Go's `dedupEnv`).
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
        env.retain(|(k, _)| k != TOKEN_ENV_VAR);
        env.extend(request.iter().map(|(k, v)| (k.clone(), v.clone())));
        dedup_env(env)
    }

    /// Starts a process (`docs/agent-api.md#processes`). The process is not
    /// tied to the caller: dropping the returned future after it resolved
    /// leaves it running.
    pub async fn start(&self, req: StartRequest) -> Result<Arc<Process>, StartError> {
        if self.table.lock().closed {
            return Err(StartError::Closed);
        }
        req.validate()?;
        if let Some(dir) = req.workdir.as_deref().filter(|d| !d.is_empty()) {
            self.check_workdir(dir).await?;
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
            let mut table = self.table.lock();
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
                table.evict_over_cap(self.config.max_finished_processes);
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
        let exit_task = format!("exit-{}", id.get(..8).unwrap_or(&id));
        crate::sim::event("proc.start", || {
            format!("{id} `{}` (watched by {exit_task})", req.command)
        });
        let clock = self.seams.clock.clone();
        let table = self.table.clone();
        let cap = self.config.max_finished_processes;
        let task_process = process.clone();
        tokio::spawn(crate::sim::task(move || exit_task, async move {
            let status = spawned.exit.await;
            crate::yield_point!("proc.exit.between_drain_and_publish");
            let p = task_process;
            // Asked before publishing: once the exit is visible, shutdown
            // finds this group only through `lingering`.
            let lingers = p.control.group_alive();
            let exited_at = clock.now();
            // Readers see "exited" from here; the buffer is closed below.
            crate::sim::sync::publish(crate::site!("sync.publish:proc.exit.state"), || {
                let mut table = table.lock();
                {
                    let mut state = p.state.lock();
                    state.running = false;
                    state.exited_at = Some(exited_at);
                    state.exit_code = Some(status.exit_code());
                }
                if lingers {
                    table.lingering.insert(p.seq, p.control.clone());
                }
                table.finished.insert((exited_at, p.seq, p.id.clone()));
                table.evict_over_cap(cap);
            })
            .await;
            if let ExitStatus::WaitError(error) = &status {
                tracing::warn!(id = %p.id, %error, "process wait failed");
            }
            tracing::info!(id = %p.id, exit_code = status.exit_code(), "process exited");
            crate::sim::event("proc.exit", || {
                format!(
                    "{} published exit code {}; output closed, waiters woken",
                    p.id,
                    status.exit_code()
                )
            });
            // Waiters wake here; a decision after it lets them answer
            // before the exit task finishes. (The last publish, `done`,
            // ends the task: nothing follows it to reorder.)
            crate::sim::sync::publish(crate::site!("sync.notify:headtail.close"), || {
                p.buffer.close()
            })
            .await;
            p.done.set();
        }));
        Ok(process)
    }

    /// Looks a process up by id.
    pub fn get(&self, id: &str) -> Option<Arc<Process>> {
        self.table.lock().procs.get(id).cloned()
    }

    /// Lists processes: first reaps every process (any chat) that exited more
    /// than `reap_age` ago, then filters by chat (a chat caller sees only its
    /// own), sorts running first then newest first (ties: later start first),
    /// and caps at [`MAX_LIST_PROCESSES`].
    pub fn list(&self, chat: Option<Uuid>) -> Vec<ProcessInfo> {
        let now = self.seams.clock.now();
        let mut table = self.table.lock();
        table.evict_older_than(now, self.config.reap_age);
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

    /// Starts the background sweep: every `reap_interval`, processes that
    /// exited more than `reap_age` ago are evicted (so the table shrinks
    /// without `list` calls) and lingering groups seen empty are forgotten.
    /// Not started by [`new`](Self::new): a timer of its own would change
    /// every simulation's schedule. The task holds only a weak reference and
    /// ends when the manager closes, shuts down or is dropped.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let table = Arc::downgrade(&self.table);
        let clock = self.seams.clock.clone();
        let reap_age = self.config.reap_age;
        let period = self.config.reap_interval.max(MIN_REAP_INTERVAL);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(period) => {}
                }
                if !sweep(&table, clock.as_ref(), reap_age) {
                    return;
                }
            }
        })
    }

    /// Sends `signal` to the process's group. Not running ⇒
    /// [`SignalFailure::NotRunning`]. A group that vanished before the exit
    /// task published the exit (ESRCH, race R10) is also "not running"; with
    /// `signal-esrch-500` on it is a 500 as in the original.
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
                if crate::bugs::take_bug(&self.config.bugs, Bug::SignalEsrch500) {
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

    /// Close (`docs/agent-api.md#shutdown`): later starts fail, every
    /// process's direct child is killed (not its group: grandchildren survive
    /// and the drain ends by the wait delay), then every exit task is awaited.
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
    /// process *group* first, including the groups of processes whose
    /// leader already exited, so no grandchild outlives the agent.
    pub async fn shutdown(&self) {
        let procs = self.mark_closed();
        self.kill_all();
        for p in &procs {
            p.done().await;
        }
    }

    /// SIGKILLs the group of every running process (and its direct child,
    /// in case the group send failed) and every lingering group of a
    /// finished one. Synchronous, for `Drop` paths.
    pub fn kill_all(&self) {
        let (running, lingering) = {
            let table = self.table.lock();
            let running: Vec<Arc<Process>> = table
                .procs
                .values()
                .filter(|p| p.is_running())
                .cloned()
                .collect();
            let lingering: Vec<Arc<dyn ProcessControl>> =
                table.lingering.values().cloned().collect();
            (running, lingering)
        };
        for p in &running {
            let _ = p.control.signal_group(Signal::Kill);
            p.control.kill_direct();
        }
        for control in &lingering {
            let _ = control.signal_group(Signal::Kill);
        }
    }

    /// Every tracked process, in start order (not capped, not reaped).
    pub fn all(&self) -> Vec<Arc<Process>> {
        self.table.lock().procs.values().cloned().collect()
    }

    fn mark_closed(&self) -> Vec<Arc<Process>> {
        self.stop.cancel();
        let mut table = self.table.lock();
        table.closed = true;
        table.procs.values().cloned().collect()
    }

    pub fn is_closed(&self) -> bool {
        self.table.lock().closed
    }
}

/// One sweep: evicts by age, then forgets lingering groups that emptied
/// (probed outside the lock). `false` once the manager is gone or closed.
fn sweep(table: &Weak<Mutex<Table>>, clock: &dyn WallClock, reap_age: Duration) -> bool {
    let Some(table) = table.upgrade() else {
        return false;
    };
    let lingering: Vec<(u64, Arc<dyn ProcessControl>)> = {
        let mut t = table.lock();
        if t.closed {
            return false;
        }
        t.evict_older_than(clock.now(), reap_age);
        t.lingering
            .iter()
            .map(|(seq, control)| (*seq, control.clone()))
            .collect()
    };
    let emptied: Vec<u64> = lingering
        .into_iter()
        .filter(|(_, control)| !control.group_alive())
        .map(|(seq, _)| seq)
        .collect();
    if !emptied.is_empty() {
        let mut t = table.lock();
        for seq in emptied {
            t.lingering.remove(&seq);
        }
    }
    true
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

    /// A table holding finished processes `(id, exit second, start seq)`
    /// (only the bookkeeping: the process values are irrelevant here).
    fn table_with(finished: &[(&str, u64, u64)]) -> Table {
        let mut table = Table {
            closed: false,
            procs: IndexMap::new(),
            next_seq: 0,
            finished: BTreeSet::new(),
            lingering: BTreeMap::new(),
        };
        for (id, exit, seq) in finished {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(*exit);
            table.finished.insert((at, *seq, id.to_string()));
        }
        table
    }

    fn kept(table: &Table) -> Vec<&str> {
        table
            .finished
            .iter()
            .map(|(_, _, id)| id.as_str())
            .collect()
    }

    #[test]
    fn the_cap_evicts_by_exit_time_then_start_order() {
        // `late` started first but exited last; `b` and `c` exited together.
        let mut table = table_with(&[("late", 30, 1), ("c", 20, 3), ("b", 20, 2), ("a", 10, 4)]);
        table.evict_over_cap(4);
        assert_eq!(kept(&table), ["a", "b", "c", "late"]);
        table.evict_over_cap(2);
        assert_eq!(kept(&table), ["c", "late"]);
        table.evict_over_cap(0);
        assert!(kept(&table).is_empty());
    }

    #[test]
    fn the_age_sweep_evicts_only_what_exited_more_than_the_age_ago() {
        let mut table = table_with(&[("a", 10, 1), ("b", 20, 2), ("c", 30, 3)]);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(40);
        table.evict_older_than(now, Duration::from_secs(20));
        assert_eq!(kept(&table), ["b", "c"], "exactly the age old: kept");
        table.evict_older_than(now, Duration::from_secs(5));
        assert!(kept(&table).is_empty());
    }

    #[test]
    fn start_requests_with_nul_bytes_or_bad_env_names_are_invalid() {
        let ok = StartRequest {
            command: "echo hi".into(),
            workdir: Some("/tmp".into()),
            env: [("A".to_string(), "x=y".to_string())].into(),
            ..StartRequest::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let with_env = |k: &str, v: &str| StartRequest {
            env: [(k.to_string(), v.to_string())].into(),
            ..ok.clone()
        };
        for bad in [
            StartRequest {
                command: "a\0".into(),
                ..ok.clone()
            },
            StartRequest {
                workdir: Some("/\0".into()),
                ..ok.clone()
            },
            with_env("", "x"),
            with_env("A=B", "x"),
            with_env("A\0", "x"),
            with_env("A", "\0"),
        ] {
            assert!(
                matches!(bad.validate(), Err(StartError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dedup_env_keeps_the_last_value_of_each_key() {
        let env = kv(&[("A", "1"), ("B", "2"), ("A", "3"), ("C", "4")]);
        assert_eq!(dedup_env(env), kv(&[("B", "2"), ("A", "3"), ("C", "4")]));
    }
}
