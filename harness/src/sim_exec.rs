//! `SimExec`: scripted processes implementing the agent's [`Exec`] seam.
//!
//! A [`Script`] is what a command does: write chunks, sleep on the sim
//! clock, exit with a code, start a background grandchild that shares the
//! output pipe, react to `terminate`. Scripts are looked up by the exact
//! command string in a [`ScriptBook`]; an unknown command behaves like
//! `sh` does (`not found`, exit 127).
//!
//! A spawned process is a group: the shell plus its grandchildren, each a task
//! on the host's runtime. The exit future resolves like Go's `cmd.Wait` with
//! `WaitDelay`: once the shell has exited, it waits for every pipe holder to
//! exit, at most the wait delay; on expiry the pipe is force-closed (later
//! writes are lost) and a successful exit turns into a wait error (exit
//! code -1). Signals follow the signal endpoint (`docs/agent-api.md#processes`):
//! `kill` ends every member, `terminate` applies each member's reaction, and a
//! group with no live member answers "no such process".
//!
//! Known-bug switch `reaper-steals` (race R4 in `docs/races.md`): with it on,
//! every shell exit also wakes a reap-everything loop (PID-1 mode's
//! `waitpid(-1)`), and whichever of it and the manager's wait runs first
//! collects the status. When the reaper wins, the manager's wait gets ECHILD, a
//! wait error: exit code -1. Without it, the manager's wait is the status's
//! single owner (the design of upstream #22881, U2).

use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent::files::fs::Fs;
use agent::headtail::HeadTailBuffer;
use agent::process::exec::{
    Exec, ExitStatus, ProcessControl, Signal, SignalError, SpawnError, SpawnSpec, Spawned,
};
use bytes::Bytes;
use sim_hooks::bugs::take_bug;
use sim_hooks::{Bug, BugSet};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::sched::yield_point;
use crate::sim_fs::SimFs;
use crate::trace::Trace;

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// What the manager's wait sees when the reaper took the status first.
pub const ECHILD: &str = "wait: no child processes";

/// What a member does on `terminate` (SIGTERM).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnTerminate {
    /// Dies of the signal (the default disposition).
    #[default]
    Die,
    /// Traps it and exits with this code.
    Exit(i32),
    /// Ignores it.
    Ignore,
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Writes these bytes to the shared output pipe.
    Write(Bytes),
    /// Sleeps on the sim clock.
    Sleep(Duration),
    /// Exits with this code (steps after it never run).
    Exit(i32),
    /// Starts a grandchild in the same process group. If it holds the pipe,
    /// the output stays open until it exits (or the wait delay expires).
    Background { script: Script, holds_pipe: bool },
}

/// What one process (or grandchild) does. Ends with exit code 0 unless a
/// step exits first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    pub steps: Vec<Step>,
    pub on_terminate: OnTerminate,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn write(mut self, data: impl Into<Bytes>) -> Self {
        self.steps.push(Step::Write(data.into()));
        self
    }

    pub fn sleep(mut self, d: Duration) -> Self {
        self.steps.push(Step::Sleep(d));
        self
    }

    pub fn exit(mut self, code: i32) -> Self {
        self.steps.push(Step::Exit(code));
        self
    }

    /// A grandchild that shares the output pipe (`cmd &`).
    pub fn background(mut self, script: Script) -> Self {
        self.steps.push(Step::Background {
            script,
            holds_pipe: true,
        });
        self
    }

    /// A grandchild with its output redirected away (`cmd >/dev/null &`).
    pub fn detached(mut self, script: Script) -> Self {
        self.steps.push(Step::Background {
            script,
            holds_pipe: false,
        });
        self
    }

    pub fn on_terminate(mut self, reaction: OnTerminate) -> Self {
        self.on_terminate = reaction;
        self
    }

    /// Every byte the script (without grandchildren) writes, in order.
    pub fn output(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Write(b) => out.extend_from_slice(b),
                Step::Exit(_) => break,
                _ => {}
            }
        }
        out
    }

    /// The code the script exits with if nothing interrupts it.
    pub fn exit_code(&self) -> i32 {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::Exit(c) => Some(*c),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The script's own running time if nothing interrupts it.
    pub fn duration(&self) -> Duration {
        let mut total = Duration::ZERO;
        for step in &self.steps {
            match step {
                Step::Sleep(d) => total += *d,
                Step::Exit(_) => break,
                _ => {}
            }
        }
        total
    }
}

type Fallback = Arc<dyn Fn(&SpawnSpec) -> Option<Script> + Send + Sync>;

/// What an oracle sees of one simulated process (named by its command), at
/// the moment it happens: the ground truth the agent's answers are checked
/// against.
#[derive(Debug)]
pub enum ExecEvent<'a> {
    /// A process was spawned.
    Spawned,
    /// These bytes reached the output pipe (writes lost after the wait
    /// delay closed it are not reported).
    Wrote(&'a [u8]),
    /// The shell exited; grandchildren may still hold the pipe.
    ShellExited(&'a ExitStatus),
    /// The exit future resolved (reaped and drained): what the manager is
    /// told.
    Finished(&'a ExitStatus),
}

/// Receives every [`ExecEvent`] with the process's command.
pub type ExecObserver = Arc<dyn Fn(&str, ExecEvent<'_>) + Send + Sync>;

/// Scripts by exact command string, plus an optional fallback. Clones
/// share both, so a scenario can add to the book the agent already holds.
#[derive(Clone, Default)]
pub struct ScriptBook {
    scripts: Arc<Mutex<BTreeMap<String, Script>>>,
    fallback: Arc<Mutex<Option<Fallback>>>,
    observer: Arc<Mutex<Option<ExecObserver>>>,
}

impl ScriptBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) the script of `command`. Also callable while
    /// the simulation runs.
    pub fn insert(&self, command: impl Into<String>, script: Script) {
        self.lock().insert(command.into(), script);
    }

    /// Consulted for commands without an exact entry.
    pub fn with_fallback(
        self,
        f: impl Fn(&SpawnSpec) -> Option<Script> + Send + Sync + 'static,
    ) -> Self {
        self.set_fallback(f);
        self
    }

    /// Sets (or replaces) the fallback of this book and every clone of it,
    /// e.g. a small shell that computes output from the command's
    /// environment or the simulated filesystem.
    pub fn set_fallback(&self, f: impl Fn(&SpawnSpec) -> Option<Script> + Send + Sync + 'static) {
        let mut slot = self.fallback.lock();
        *slot = Some(Arc::new(f));
    }

    /// Sets (or replaces) the observer of processes spawned from now on,
    /// for this book and every clone of it.
    pub fn set_observer(&self, f: impl Fn(&str, ExecEvent<'_>) + Send + Sync + 'static) {
        *self.observer.lock() = Some(Arc::new(f));
    }

    fn observer(&self) -> Option<ExecObserver> {
        self.observer.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Script>> {
        self.scripts.lock()
    }

    /// The script for `spec`: exact entry, then fallback, then `sh`'s
    /// "not found" (exit 127).
    pub fn lookup(&self, spec: &SpawnSpec) -> Script {
        if let Some(s) = self.lock().get(&spec.command) {
            return s.clone();
        }
        let fallback = self.fallback.lock().clone();
        if let Some(s) = fallback.and_then(|f| f(spec)) {
            return s;
        }
        let name = spec.command.split_whitespace().next().unwrap_or("");
        Script::new()
            .write(format!("sh: 1: {name}: not found\n"))
            .exit(127)
    }
}

/// The simulated process table.
#[derive(Clone)]
pub struct SimExec {
    book: ScriptBook,
    wait_delay: Duration,
    fs: Option<SimFs>,
    trace: Trace,
    /// The switches the simulated process table implements
    /// (`reaper-steals`: a reap-everything loop races the manager's wait).
    bugs: BugSet,
}

impl SimExec {
    /// `wait_delay` is the agent's (5 s by default).
    pub fn new(book: ScriptBook, wait_delay: Duration, trace: Trace) -> Self {
        SimExec {
            book,
            wait_delay,
            fs: None,
            trace,
            bugs: BugSet::none(),
        }
    }

    /// Takes the simulated process table's own switches from `bugs`
    /// (`reaper-steals`).
    pub fn with_bugs(mut self, bugs: &BugSet) -> Self {
        self.bugs = bugs.iter().filter(|b| *b == Bug::ReaperSteals).collect();
        self
    }

    /// Checks working directories against `fs` at spawn (a missing one
    /// fails the start like `chdir` does).
    pub fn with_fs(mut self, fs: SimFs) -> Self {
        self.fs = Some(fs);
        self
    }

    pub fn book(&self) -> &ScriptBook {
        &self.book
    }
}

/// One member of a process group.
struct Member {
    label: String,
    /// `None` while alive.
    status: Option<ExitStatus>,
    on_terminate: OnTerminate,
    holds_pipe: bool,
    abort: Option<AbortHandle>,
}

struct GroupState {
    members: Vec<Member>,
    /// Set when the wait delay expired: later writes are lost.
    pipe_closed: bool,
    /// The manager's wait has taken the shell's status.
    collected: bool,
    /// The reaper took the shell's status before the manager's wait.
    stolen: bool,
}

/// Shared by the member tasks, the exit future and the control.
struct Group {
    state: Mutex<GroupState>,
    /// Bumped on every member exit.
    changed: watch::Sender<u64>,
    output: Arc<HeadTailBuffer>,
    trace: Trace,
    command: String,
    /// See [`SimExec::with_bugs`].
    bugs: BugSet,
    observer: Option<ExecObserver>,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock()
    }

    fn observe(&self, event: ExecEvent<'_>) {
        if let Some(f) = &self.observer {
            f(&self.command, event);
        }
    }

    fn write(&self, member: usize, data: &[u8]) {
        let st = self.lock();
        let Some(m) = st.members.get(member) else {
            return;
        };
        if m.status.is_some() || !m.holds_pipe || st.pipe_closed {
            return;
        }
        self.output.write(data);
        drop(st);
        self.observe(ExecEvent::Wrote(data));
        self.trace.record(
            "exec.write",
            format!("`{}` wrote {} bytes", self.command, data.len()),
        );
    }

    /// Ends `member` with `status` (no-op if it already ended).
    fn end(self: &Arc<Self>, member: usize, status: ExitStatus) {
        let mut st = self.lock();
        let Some(m) = st.members.get_mut(member) else {
            return;
        };
        if m.status.is_some() {
            return;
        }
        m.status = Some(status.clone());
        if let Some(abort) = m.abort.take() {
            abort.abort();
        }
        let label = m.label.clone();
        drop(st);
        self.trace.record(
            "exec.exit",
            format!("`{}` {label}: {}", self.command, describe_status(&status)),
        );
        if member == 0 {
            self.observe(ExecEvent::ShellExited(&status));
        }
        // The shell's SIGCHLD wakes the reaper before the manager's wait is
        // woken: whichever the scheduler runs first collects the status.
        if member == 0 && self.bugs.is_on(Bug::ReaperSteals) {
            tokio::spawn(sim_hooks::task(
                || "reaper".to_string(),
                reap_everything(self.clone()),
            ));
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The manager's wait: the shell's status once it exited (taking it),
    /// or ECHILD if the reaper took it first.
    fn collect_shell(&self) -> Option<ExitStatus> {
        let mut st = self.lock();
        let status = st.members.first().and_then(|m| m.status.clone())?;
        st.collected = true;
        if st.stolen {
            return Some(ExitStatus::WaitError(ECHILD.into()));
        }
        Some(status)
    }

    fn pipe_held(&self) -> bool {
        self.lock()
            .members
            .iter()
            .any(|m| m.holds_pipe && m.status.is_none())
    }

    fn add_member(self: &Arc<Self>, label: String, script: Script, holds_pipe: bool) {
        let index = {
            let mut st = self.lock();
            st.members.push(Member {
                label,
                status: None,
                on_terminate: script.on_terminate,
                holds_pipe,
                abort: None,
            });
            st.members.len() - 1
        };
        let group = self.clone();
        let name = format!(
            "proc `{}` {}",
            self.command,
            self.lock().members[index].label
        );
        let task = tokio::spawn(sim_hooks::task(move || name, async move {
            run_member(group, index, script).await
        }));
        let mut st = self.lock();
        if let Some(m) = st.members.get_mut(index)
            && m.status.is_none()
        {
            m.abort = Some(task.abort_handle());
        }
    }
}

/// The reap-everything loop's turn after the shell's exit (`waitpid(-1)`):
/// takes the status unless the manager's wait already has.
async fn reap_everything(group: Arc<Group>) {
    yield_point("exec.reaper.before_waitpid").await;
    let stole = {
        let mut st = group.lock();
        let stole = !st.collected;
        st.stolen |= stole;
        stole
    };
    // The reaper runs only with the switch on; its buggy branch is taken
    // when it wins the race for the status.
    if stole && take_bug(&group.bugs, Bug::ReaperSteals) {
        group.trace.record(
            "exec.reaper",
            format!("`{}` sh: exit status stolen by the reaper", group.command),
        );
    }
}

async fn run_member(group: Arc<Group>, index: usize, script: Script) {
    let mut children = 0;
    for step in script.steps {
        match step {
            Step::Write(data) => group.write(index, &data),
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::Exit(code) => {
                group.end(index, ExitStatus::Code(code));
                return;
            }
            Step::Background { script, holds_pipe } => {
                children += 1;
                let label = format!("{}.{children}", group.lock().members[index].label);
                group.add_member(label, script, holds_pipe);
            }
        }
    }
    group.end(index, ExitStatus::Code(0));
}

impl Exec for SimExec {
    fn spawn(&self, spec: SpawnSpec, output: Arc<HeadTailBuffer>) -> Result<Spawned, SpawnError> {
        if let (Some(fs), Some(dir)) = (&self.fs, &spec.workdir) {
            check_workdir(fs, dir)?;
        }
        let script = self.book.lookup(&spec);
        self.trace.record(
            "exec.spawn",
            format!(
                "`{}` in {}",
                spec.command,
                spec.workdir
                    .as_deref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "the agent's directory".into())
            ),
        );
        let group = Arc::new(Group {
            state: Mutex::new(GroupState {
                members: Vec::new(),
                pipe_closed: false,
                collected: false,
                stolen: false,
            }),
            changed: watch::Sender::new(0),
            output,
            trace: self.trace.clone(),
            command: spec.command.clone(),
            bugs: self.bugs.clone(),
            observer: self.book.observer(),
        });
        group.observe(ExecEvent::Spawned);
        group.add_member("sh".to_string(), script, true);
        let exit = wait_for_exit(group.clone(), self.wait_delay);
        Ok(Spawned {
            exit: Box::pin(exit),
            control: Arc::new(Control { group }),
        })
    }
}

/// An exit status in words, for the trace.
fn describe_status(status: &ExitStatus) -> String {
    match status {
        ExitStatus::Code(code) => format!("exited with code {code}"),
        ExitStatus::Signaled(signal) => format!("killed by signal {signal}"),
        ExitStatus::WaitError(error) => format!("wait failed: {error}"),
    }
}

fn check_workdir(fs: &SimFs, dir: &Path) -> Result<(), SpawnError> {
    match fs.metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(SpawnError(format!(
            "chdir {}: not a directory",
            dir.display()
        ))),
        Err(e) => {
            let text = e.to_string();
            let text = text
                .split(" (os error")
                .next()
                .unwrap_or(&text)
                .to_lowercase();
            Err(SpawnError(format!("chdir {}: {text}", dir.display())))
        }
    }
}

/// Go's `cmd.Wait` with `WaitDelay`: the shell's status once it exited and
/// the pipe drained, or the delay expired.
async fn wait_for_exit(group: Arc<Group>, wait_delay: Duration) -> ExitStatus {
    let status = reaped_and_drained(&group, wait_delay).await;
    group.observe(ExecEvent::Finished(&status));
    status
}

async fn reaped_and_drained(group: &Group, wait_delay: Duration) -> ExitStatus {
    let mut changed = group.changed.subscribe();
    let status = loop {
        if let Some(s) = group.collect_shell() {
            break s;
        }
        if changed.changed().await.is_err() {
            break ExitStatus::WaitError("process state lost".into());
        }
    };
    let drained = tokio::time::timeout(wait_delay, async {
        while group.pipe_held() {
            if changed.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    if drained.is_err() {
        group.lock().pipe_closed = true;
        group.trace.record(
            "exec.wait_delay",
            format!("`{}` pipe force-closed after the wait delay", group.command),
        );
        if status == ExitStatus::Code(0) {
            return ExitStatus::WaitError("exec: WaitDelay expired before I/O complete".into());
        }
    }
    status
}

struct Control {
    group: Arc<Group>,
}

impl ProcessControl for Control {
    fn signal_group(&self, signal: Signal) -> Result<(), SignalError> {
        let targets: Vec<(usize, OnTerminate)> = {
            let st = self.group.lock();
            st.members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.status.is_none())
                .map(|(i, m)| (i, m.on_terminate))
                .collect()
        };
        self.group.trace.record(
            "exec.signal",
            format!(
                "`{}` {} -> {} live members",
                self.group.command,
                signal.wire_name(),
                targets.len()
            ),
        );
        if targets.is_empty() {
            return Err(SignalError::NoSuchProcess);
        }
        for (i, reaction) in targets {
            match (signal, reaction) {
                (Signal::Kill, _) => self.group.end(i, ExitStatus::Signaled(SIGKILL)),
                (Signal::Terminate, OnTerminate::Die) => {
                    self.group.end(i, ExitStatus::Signaled(SIGTERM))
                }
                (Signal::Terminate, OnTerminate::Exit(code)) => {
                    self.group.end(i, ExitStatus::Code(code))
                }
                (Signal::Terminate, OnTerminate::Ignore) => {}
            }
        }
        Ok(())
    }

    fn kill_direct(&self) {
        self.group.trace.record(
            "exec.signal",
            format!("`{}` kill shell only", self.group.command),
        );
        self.group.end(0, ExitStatus::Signaled(SIGKILL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    const WAIT_DELAY: Duration = Duration::from_secs(5);

    /// What a check observed: exit status, final output, sim time of exit.
    #[derive(Debug, PartialEq)]
    struct Seen {
        status: ExitStatus,
        output: String,
        at: Duration,
    }

    /// Runs `script` as `cmd` on a simulated host; `act` gets the control
    /// and may signal the process. Returns what the exit task would see.
    fn run(
        script: Script,
        act: impl FnOnce(Arc<dyn ProcessControl>) -> futures::future::BoxFuture<'static, ()> + 'static,
    ) -> Seen {
        run_with(&BugSet::none(), script, act)
    }

    /// [`run`] with the process table's bug switches.
    fn run_with(
        bugs: &BugSet,
        script: Script,
        act: impl FnOnce(Arc<dyn ProcessControl>) -> futures::future::BoxFuture<'static, ()> + 'static,
    ) -> Seen {
        let bugs = bugs.clone();
        let seen = Arc::new(StdMutex::new(None));
        let s = seen.clone();
        let mut sim = turmoil::Builder::new()
            .simulation_duration(Duration::from_secs(120))
            .build();
        sim.client("agent", async move {
            let book = ScriptBook::new();
            book.insert("cmd", script);
            let exec = SimExec::new(book, WAIT_DELAY, Trace::new()).with_bugs(&bugs);
            let out = Arc::new(HeadTailBuffer::new());
            let start = tokio::time::Instant::now();
            let spec = SpawnSpec {
                command: "cmd".into(),
                workdir: None,
                env: vec![],
            };
            let spawned = exec.spawn(spec, out.clone()).unwrap();
            tokio::spawn(act(spawned.control.clone()));
            let status = spawned.exit.await;
            let at = start.elapsed();
            // Let `act` finish whatever it does after the exit.
            tokio::time::sleep(ms(100)).await;
            *s.lock().unwrap() = Some(Seen {
                status,
                output: out.output().0,
                at,
            });
            Ok(())
        });
        sim.run().unwrap();
        seen.lock().unwrap().take().unwrap()
    }

    fn idle(_: Arc<dyn ProcessControl>) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_script_writes_chunks_on_the_sim_clock_then_exits_with_its_code() {
        let script = Script::new().write("a").sleep(ms(300)).write("b\n").exit(3);
        assert_eq!(
            run(script, idle),
            Seen {
                status: ExitStatus::Code(3),
                output: "ab\n".into(),
                at: ms(300)
            }
        );
    }

    #[test]
    fn the_manager_wait_owns_the_exit_status_without_the_reaper() {
        for code in [0, 3] {
            let script = Script::new().sleep(ms(10)).exit(code);
            assert_eq!(run(script, idle).status, ExitStatus::Code(code));
        }
    }

    #[test]
    fn with_reaper_steals_a_reaper_running_first_leaves_the_wait_echild() {
        cov_mark::check!(reaper_steals);
        let bugs = BugSet::none().with(Bug::ReaperSteals);
        let seen = run_with(&bugs, Script::new().write("x").sleep(ms(10)).exit(3), idle);
        assert_eq!(seen.status, ExitStatus::WaitError(ECHILD.into()));
        assert_eq!(seen.status.exit_code(), -1);
        assert_eq!((seen.output.as_str(), seen.at), ("x", ms(10)));
    }

    #[test]
    fn a_grandchild_holding_the_pipe_delays_exit_until_it_finishes() {
        let child = Script::new().sleep(ms(1000)).write("late\n");
        let script = Script::new().write("hi\n").background(child).exit(0);
        let seen = run(script, idle);
        assert_eq!(seen.status, ExitStatus::Code(0));
        assert_eq!(seen.output, "hi\nlate\n");
        assert_eq!(seen.at, ms(1000));
    }

    #[test]
    fn a_grandchild_outliving_the_wait_delay_turns_success_into_a_wait_error() {
        // `sleep 300 & echo hi`: looks running for 5 s, then exit code -1
        // and later output is lost.
        let child = Script::new().sleep(Duration::from_secs(30)).write("lost\n");
        let script = Script::new().background(child).write("hi\n");
        let seen = run(script, idle);
        assert!(matches!(seen.status, ExitStatus::WaitError(_)), "{seen:?}");
        assert_eq!(seen.status.exit_code(), -1);
        assert_eq!(seen.output, "hi\n");
        assert_eq!(seen.at, WAIT_DELAY);
    }

    #[test]
    fn a_detached_grandchild_does_not_hold_the_pipe() {
        let child = Script::new().sleep(Duration::from_secs(30)).write("x");
        let seen = run(Script::new().detached(child).exit(0), idle);
        assert_eq!((seen.status, seen.at), (ExitStatus::Code(0), ms(0)));
    }

    #[test]
    fn terminate_kills_by_default_and_traps_when_asked() {
        let signal_at = |ms_: u64, sig: Signal| {
            move |c: Arc<dyn ProcessControl>| -> futures::future::BoxFuture<'static, ()> {
                Box::pin(async move {
                    tokio::time::sleep(ms(ms_)).await;
                    c.signal_group(sig).unwrap();
                })
            }
        };
        let long = Script::new().sleep(Duration::from_secs(60));
        let seen = run(long.clone(), signal_at(100, Signal::Terminate));
        assert_eq!((seen.status, seen.at), (ExitStatus::Signaled(15), ms(100)));
        let trapped = long.clone().on_terminate(OnTerminate::Exit(143));
        let seen = run(trapped, signal_at(100, Signal::Terminate));
        assert_eq!(seen.status, ExitStatus::Code(143));
        let stubborn = long.clone().on_terminate(OnTerminate::Ignore);
        let seen = run(stubborn, signal_at(100, Signal::Kill));
        assert_eq!((seen.status, seen.at), (ExitStatus::Signaled(9), ms(100)));
    }

    #[test]
    fn killing_the_shell_only_leaves_grandchildren_holding_the_pipe() {
        let child = Script::new().sleep(Duration::from_secs(60));
        let script = Script::new()
            .background(child)
            .sleep(Duration::from_secs(60));
        let seen = run(script, |c| {
            Box::pin(async move {
                tokio::time::sleep(ms(10)).await;
                c.kill_direct();
            })
        });
        assert_eq!(seen.status, ExitStatus::Signaled(9));
        assert_eq!(seen.at, ms(10) + WAIT_DELAY);
    }

    #[test]
    fn signalling_a_group_with_no_live_member_is_no_such_process() {
        let got = Arc::new(StdMutex::new(None));
        let g = got.clone();
        run(Script::new().exit(0), move |c| {
            Box::pin(async move {
                tokio::time::sleep(ms(1)).await;
                *g.lock().unwrap() = Some(c.signal_group(Signal::Terminate));
            })
        });
        assert!(matches!(
            got.lock().unwrap().take(),
            Some(Err(SignalError::NoSuchProcess))
        ));
    }

    #[test]
    fn unknown_commands_fail_like_sh_and_missing_workdirs_fail_to_start() {
        let book = ScriptBook::new();
        let spec = |cmd: &str, dir: Option<&str>| SpawnSpec {
            command: cmd.into(),
            workdir: dir.map(Into::into),
            env: vec![],
        };
        let s = book.lookup(&spec("frobnicate --now", None));
        assert_eq!(s.output(), b"sh: 1: frobnicate: not found\n");
        assert_eq!(s.exit_code(), 127);
        let exec = SimExec::new(book, WAIT_DELAY, Trace::new()).with_fs(SimFs::new());
        let out = Arc::new(HeadTailBuffer::new());
        let err = exec
            .spawn(spec("true", Some("/x")), out)
            .err()
            .expect("spawn fails");
        assert_eq!(err.0, "chdir /x: no such file or directory");
    }

    #[test]
    fn a_fallback_set_on_a_clone_serves_the_book_the_exec_holds() {
        let book = ScriptBook::new();
        let held = book.clone();
        book.set_fallback(|spec| {
            let name = spec.command.strip_prefix("echo ")?;
            Some(Script::new().write(format!("{name}\n")))
        });
        let spec = |cmd: &str| SpawnSpec {
            command: cmd.into(),
            workdir: None,
            env: vec![],
        };
        assert_eq!(held.lookup(&spec("echo hi")).output(), b"hi\n");
        assert_eq!(held.lookup(&spec("frob")).exit_code(), 127);
    }

    #[test]
    fn scripts_report_their_output_code_and_duration() {
        let s = Script::new()
            .write("a")
            .sleep(ms(5))
            .write("b")
            .exit(2)
            .write("never");
        assert_eq!(
            (s.output(), s.exit_code(), s.duration()),
            (b"ab".to_vec(), 2, ms(5))
        );
    }
}
