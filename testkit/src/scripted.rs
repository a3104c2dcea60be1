//! The scripted process model: processes that run a [`Script`] on the tokio
//! clock behind the agent's [`Exec`] seam, shared by the agent's paused-clock
//! tests ([`ScriptedExec`], commands in a tiny step language) and the
//! simulation harness (which looks scripts up by command and records what
//! happens through [`ProcessHooks`]).
//!
//! A spawned process is a group: the shell plus its grandchildren, each a task
//! on the current runtime. The exit future resolves like Go's `cmd.Wait` with
//! `WaitDelay`: once the shell has exited, it waits for every pipe holder to
//! exit, at most the wait delay; on expiry the pipe is force-closed (later
//! writes are lost) and a successful exit turns into a wait error (exit
//! code -1). Signals follow the signal endpoint (`docs/agent-api.md#processes`):
//! `kill` ends every member, `terminate` applies each member's reaction, and a
//! group with no live member answers "no such process".

use parking_lot::{Mutex, MutexGuard};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent::headtail::HeadTailBuffer;
use agent::process::exec::{
    Exec, ExitStatus, ProcessControl, Signal, SignalError, SpawnError, SpawnSpec, Spawned,
};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::AbortHandle;

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// What the manager's wait sees when a reaper took the status first
/// ([`ScriptedProcess::steal_status`]).
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
    /// Sleeps on the tokio clock.
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

impl Script {
    /// Parses the agent tests' step language: `;`-separated `echo TEXT`,
    /// `sleep SECS` (fractions allowed) and `exit CODE`.
    pub fn parse(command: &str) -> Result<Script, SpawnError> {
        let mut script = Script::new();
        for step in command.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (verb, arg) = step.split_once(' ').unwrap_or((step, ""));
            script = match verb {
                "echo" => script.write(format!("{arg}\n")),
                "sleep" => arg
                    .parse::<f64>()
                    .map(|s| script.sleep(Duration::from_secs_f64(s)))
                    .map_err(|e| SpawnError(format!("bad sleep: {e}")))?,
                "exit" => arg
                    .parse::<i32>()
                    .map(|c| script.exit(c))
                    .map_err(|e| SpawnError(format!("bad exit: {e}")))?,
                other => return Err(SpawnError(format!("unknown step {other:?}"))),
            };
        }
        Ok(script)
    }
}

/// What a user of the model learns about one process as it happens (the
/// harness records them in its trace). Called without any lock held.
pub trait ProcessHooks: Send + Sync + 'static {
    /// These bytes reached the output pipe.
    fn wrote(&self, _data: &[u8]) {}
    /// Member `label` (`sh`, `sh.1`, ...) ended; `shell` tells whether it is
    /// the group's leader. Runs before the manager's wait is woken, so a
    /// reaper started here races it (see [`ScriptedProcess::steal_status`]).
    fn exited(&self, _process: &ScriptedProcess, _shell: bool, _label: &str, _status: &ExitStatus) {
    }
    /// A group signal found this many live members.
    fn signalled(&self, _signal: Signal, _live: usize) {}
    /// The manager killed the shell only.
    fn killed_shell(&self) {}
    /// The wait delay expired with the pipe still held: it is force-closed.
    fn pipe_force_closed(&self) {}
    /// The exit future resolved with this status.
    fn finished(&self, _status: &ExitStatus) {}
    /// Wraps the task of member `label` before it is spawned, e.g. to name
    /// it for a scheduler that tells tasks apart.
    fn member_task(&self, _label: &str, task: MemberTask) -> MemberTask {
        task
    }
    /// When true, every group signal answers ESRCH (the group is gone, the
    /// exit not yet published: race R10 in `docs/races.md`).
    fn group_vanished(&self) -> bool {
        false
    }
}

/// The task that plays one member's script.
pub type MemberTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Hooks that learn nothing.
pub struct NoHooks;

impl ProcessHooks for NoHooks {}

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
    /// A reaper took the shell's status before the manager's wait.
    stolen: bool,
}

/// Shared by the member tasks, the exit future and the control.
struct Group {
    state: Mutex<GroupState>,
    /// Bumped on every member exit.
    changed: watch::Sender<u64>,
    output: Arc<HeadTailBuffer>,
    hooks: Arc<dyn ProcessHooks>,
}

/// A handle on one running process group, given to [`ProcessHooks`].
#[derive(Clone)]
pub struct ScriptedProcess {
    group: Arc<Group>,
}

impl ScriptedProcess {
    /// A reap-everything loop's `waitpid(-1)`: takes the shell's status
    /// unless the manager's wait already has (then its wait gets
    /// [`ECHILD`]). Returns whether it took it.
    pub fn steal_status(&self) -> bool {
        let mut st = self.group.lock();
        let stole = !st.collected;
        st.stolen |= stole;
        stole
    }
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock()
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
        self.hooks.wrote(data);
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
        let process = ScriptedProcess {
            group: self.clone(),
        };
        self.hooks.exited(&process, member == 0, &label, &status);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The manager's wait: the shell's status once it exited (taking it),
    /// or ECHILD if a reaper took it first.
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
                label: label.clone(),
                status: None,
                on_terminate: script.on_terminate,
                holds_pipe,
                abort: None,
            });
            st.members.len() - 1
        };
        let group = self.clone();
        let task = self.hooks.member_task(
            &label,
            Box::pin(async move { run_member(group, index, script).await }),
        );
        let task = tokio::spawn(task);
        let mut st = self.lock();
        if let Some(m) = st.members.get_mut(index)
            && m.status.is_none()
        {
            m.abort = Some(task.abort_handle());
        }
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

/// Starts `script` as a process group writing into `output`; `wait_delay`
/// bounds how long grandchildren may hold the pipe after the shell exits.
/// Must be called inside a tokio runtime (the members are tasks).
pub fn spawn_script(
    script: Script,
    wait_delay: Duration,
    output: Arc<HeadTailBuffer>,
    hooks: Arc<dyn ProcessHooks>,
) -> Spawned {
    let group = Arc::new(Group {
        state: Mutex::new(GroupState {
            members: Vec::new(),
            pipe_closed: false,
            collected: false,
            stolen: false,
        }),
        changed: watch::Sender::new(0),
        output,
        hooks,
    });
    group.add_member("sh".to_string(), script, true);
    let exit = wait_for_exit(group.clone(), wait_delay);
    Spawned {
        exit: Box::pin(exit),
        control: Arc::new(Control { group }),
    }
}

/// Go's `cmd.Wait` with `WaitDelay`, then the `finished` hook.
async fn wait_for_exit(group: Arc<Group>, wait_delay: Duration) -> ExitStatus {
    let status = reaped_and_drained(&group, wait_delay).await;
    group.hooks.finished(&status);
    status
}

/// The shell's status once it exited and the pipe drained, or the delay
/// expired.
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
        group.hooks.pipe_force_closed();
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
        if self.group.hooks.group_vanished() {
            return Err(SignalError::NoSuchProcess);
        }
        let targets: Vec<(usize, OnTerminate)> = {
            let st = self.group.lock();
            st.members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.status.is_none())
                .map(|(i, m)| (i, m.on_terminate))
                .collect()
        };
        self.group.hooks.signalled(signal, targets.len());
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
        self.group.hooks.killed_shell();
        self.group.end(0, ExitStatus::Signaled(SIGKILL));
    }
}

/// The agent tests' `Exec`: a command is a script in the step language of
/// [`Script::parse`] (a bad step fails the start). Clones share the
/// [`vanish_groups`](ScriptedExec::vanish_groups) switch.
#[derive(Clone)]
pub struct ScriptedExec {
    wait_delay: Duration,
    vanished: Arc<AtomicBool>,
}

impl Default for ScriptedExec {
    fn default() -> Self {
        ScriptedExec::new(Duration::from_secs(5))
    }
}

impl ScriptedExec {
    pub fn new(wait_delay: Duration) -> Self {
        ScriptedExec {
            wait_delay,
            vanished: Arc::new(AtomicBool::new(false)),
        }
    }

    /// From now on every group signal answers ESRCH (race R10).
    pub fn vanish_groups(&self) {
        self.vanished.store(true, Ordering::SeqCst);
    }
}

struct VanishHooks(Arc<AtomicBool>);

impl ProcessHooks for VanishHooks {
    fn group_vanished(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Exec for ScriptedExec {
    fn spawn(&self, spec: SpawnSpec, output: Arc<HeadTailBuffer>) -> Result<Spawned, SpawnError> {
        let script = Script::parse(&spec.command)?;
        let hooks = Arc::new(VanishHooks(self.vanished.clone()));
        Ok(spawn_script(script, self.wait_delay, output, hooks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_language_parses_into_a_script_and_rejects_unknown_steps() {
        let s = Script::parse("echo hi; sleep 0.5; exit 3").unwrap();
        assert_eq!(
            (s.output(), s.exit_code(), s.duration()),
            (b"hi\n".to_vec(), 3, Duration::from_millis(500))
        );
        assert_eq!(
            Script::parse("frob 1").err().map(|e| e.0),
            Some("unknown step \"frob\"".to_string())
        );
    }
}
