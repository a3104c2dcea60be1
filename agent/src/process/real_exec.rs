//! The real `Exec`: `sh -c` on `tokio::process`
//! (`docs/agent-api.md#processes`).
//!
//! - One pipe is given to the child as both fd 1 and fd 2, so stdout and
//!   stderr interleave in the kernel's write order, as in Go where both are
//!   the same buffer object.
//! - stdin is the null device; the child leads a new process group, so
//!   `kill`/`terminate` reach everything it started, and shutdown can still
//!   reach members left behind after the shell exited.
//! - The exit future reaps the shell and drains the pipe; once the shell has
//!   exited, the pipe gets at most `wait_delay` to reach EOF (grandchildren
//!   may hold it, e.g. `sleep 300 & echo hi`), then it is force-closed.
//! - Exit codes follow Go's `ProcessState.ExitCode()`: the code on a normal
//!   exit, **-1 for a death by signal** (not 128+n), and -1 when the wait
//!   delay expired after an otherwise successful exit (`ErrWaitDelay`).
//!
//! No zombie is left: the exit future always reaps the shell, and a
//! [`ProcessControl::kill_direct`] is delivered through the future itself
//! (`Child::start_kill`), so a reaped pid is never signalled.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal as NixSignal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use crate::headtail::HeadTailBuffer;

use super::exec::{
    Exec, ExitStatus, ProcessControl, Signal, SignalError, SpawnError, SpawnSpec, Spawned,
};

/// Read size of the output copier.
const COPY_CHUNK: usize = 32 * 1024;

/// Starts real processes under `sh -c`.
#[derive(Debug)]
pub struct RealExec {
    wait_delay: Duration,
}

impl RealExec {
    /// `wait_delay`: how long the pipe may stay open after the shell exits.
    pub fn new(wait_delay: Duration) -> Self {
        RealExec { wait_delay }
    }
}

/// Renders an OS error as Go does (`no such file or directory`).
fn go_errno_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let desc = Errno::from_raw(code).desc();
            let mut chars = desc.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => err.to_string(),
            }
        }
        None => err.to_string(),
    }
}

/// The spawn error text; a bad working directory reads like Go's
/// `chdir /x: no such file or directory`.
fn spawn_error(spec: &SpawnSpec, err: &std::io::Error) -> SpawnError {
    if let Some(dir) = &spec.workdir
        && let Err(dir_err) = std::fs::read_dir(dir)
    {
        return SpawnError(format!(
            "chdir {}: {}",
            dir.display(),
            go_errno_text(&dir_err)
        ));
    }
    SpawnError(format!("fork/exec /bin/sh: {}", go_errno_text(err)))
}

impl Exec for RealExec {
    fn spawn(&self, spec: SpawnSpec, output: Arc<HeadTailBuffer>) -> Result<Spawned, SpawnError> {
        let (reader, writer) =
            std::io::pipe().map_err(|e| SpawnError(format!("pipe: {}", go_errno_text(&e))))?;
        let writer2 = writer
            .try_clone()
            .map_err(|e| SpawnError(format!("pipe: {}", go_errno_text(&e))))?;

        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .process_group(0)
            // Safety net: if the exit future is dropped unfinished (runtime
            // shutdown), the shell is killed and reaped in the background.
            .kill_on_drop(true)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(dir) = &spec.workdir {
            cmd.current_dir(dir);
        }
        let spawned = cmd.spawn();
        // The command holds our copies of the write end: drop them now, or
        // the pipe never reaches EOF.
        drop(cmd);
        let mut child = spawned.map_err(|e| spawn_error(&spec, &e))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| SpawnError("spawned process has no pid".into()))?;

        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())
            .map_err(|e| SpawnError(format!("pipe: {}", go_errno_text(&e))))?;

        let kill = Arc::new(Notify::new());
        let control = Arc::new(RealControl {
            pgid: Pid::from_raw(pid),
            kill: kill.clone(),
            gone: AtomicBool::new(false),
        });
        let wait_delay = self.wait_delay;
        let exit = Box::pin(async move {
            let mut copy = std::pin::pin!(copy_output(reader, output));
            let mut drained = false;
            let status = loop {
                tokio::select! {
                    biased;
                    status = child.wait() => break status,
                    () = kill.notified() => {
                        // Only the direct child, as Go's cancellation does.
                        let _ = child.start_kill();
                    }
                    () = &mut copy, if !drained => drained = true,
                }
            };
            if !drained {
                drained = tokio::time::timeout(wait_delay, &mut copy).await.is_ok();
            }
            exit_status(status, drained)
        });
        Ok(Spawned { exit, control })
    }
}

/// Copies the pipe into the buffer until EOF (or a read error).
async fn copy_output(mut reader: tokio::net::unix::pipe::Receiver, output: Arc<HeadTailBuffer>) {
    let mut buf = vec![0u8; COPY_CHUNK];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                output.write(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(error = %e, "read process output");
                return;
            }
        }
    }
}

/// Maps the shell's wait status (and whether the pipe drained in time) to
/// the exit task's view, following Go's `cmd.Wait` and `ExitCode()`.
fn exit_status(status: std::io::Result<std::process::ExitStatus>, drained: bool) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Err(e) => ExitStatus::WaitError(format!("wait: {}", go_errno_text(&e))),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(0), _) if !drained => {
                ExitStatus::WaitError("exec: WaitDelay expired before I/O complete".into())
            }
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(sig)) => ExitStatus::Signaled(sig),
            (None, None) => ExitStatus::WaitError(format!("wait: unexpected status {s}")),
        },
    }
}

/// Signals a real process group.
struct RealControl {
    pgid: Pid,
    /// Asks the exit future to kill the direct child (it owns the `Child`).
    kill: Arc<Notify>,
    /// Set once the group was seen empty (ESRCH). An empty group never gains
    /// members again, but its id may be reused by an unrelated group, so
    /// it is never signalled after that. (A group that empties and whose id
    /// is reused between two looks remains possible, though only after the
    /// kernel's pid space has wrapped around.)
    gone: AtomicBool,
}

impl RealControl {
    /// `killpg`, remembering an ESRCH.
    fn send(&self, sig: Option<NixSignal>) -> Result<(), Errno> {
        if self.gone.load(Ordering::SeqCst) {
            return Err(Errno::ESRCH);
        }
        let sent = killpg(self.pgid, sig);
        if sent == Err(Errno::ESRCH) {
            self.gone.store(true, Ordering::SeqCst);
        }
        sent
    }
}

impl ProcessControl for RealControl {
    fn signal_group(&self, signal: Signal) -> Result<(), SignalError> {
        let sig = match signal {
            Signal::Kill => NixSignal::SIGKILL,
            Signal::Terminate => NixSignal::SIGTERM,
        };
        match self.send(Some(sig)) {
            Ok(()) => Ok(()),
            Err(Errno::ESRCH) => Err(SignalError::NoSuchProcess),
            Err(e) => Err(SignalError::Other(go_errno_text(&std::io::Error::from(e)))),
        }
    }

    fn kill_direct(&self) {
        self.kill.notify_one();
    }

    /// Signal 0 to the group: any answer but ESRCH (EPERM: a member we may
    /// not signal) means a member exists.
    fn group_alive(&self) -> bool {
        self.send(None) != Err(Errno::ESRCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &str) -> SpawnSpec {
        SpawnSpec {
            command: command.to_string(),
            workdir: None,
            env: std::env::vars().collect(),
        }
    }

    async fn run(exec: &RealExec, command: &str) -> (ExitStatus, String) {
        let out = Arc::new(HeadTailBuffer::new());
        let spawned = exec.spawn(spec(command), out.clone()).expect("spawn");
        let status = spawned.exit.await;
        (status, out.output().0)
    }

    fn exec() -> RealExec {
        RealExec::new(Duration::from_secs(5))
    }

    #[tokio::test]
    async fn stdout_and_stderr_share_one_pipe_in_write_order() {
        let (status, out) = run(&exec(), "echo one; echo two >&2; echo three").await;
        assert_eq!(status, ExitStatus::Code(0));
        assert_eq!(out, "one\ntwo\nthree\n");
    }

    #[tokio::test]
    async fn exit_codes_are_reported_and_signal_deaths_are_minus_one() {
        let (status, _) = run(&exec(), "exit 42").await;
        assert_eq!(status.exit_code(), 42);
        let (status, _) = run(&exec(), "kill -9 $$").await;
        assert_eq!(status, ExitStatus::Signaled(9));
        assert_eq!(status.exit_code(), -1);
    }

    #[tokio::test]
    async fn stdin_is_the_null_device() {
        let (status, out) = run(&exec(), "cat; echo end").await;
        assert_eq!(status, ExitStatus::Code(0));
        assert_eq!(out, "end\n");
    }

    #[tokio::test]
    async fn a_missing_workdir_fails_the_spawn_like_go() {
        let mut s = spec("true");
        s.workdir = Some("/definitely/not/here".into());
        let err = exec()
            .spawn(s, Arc::new(HeadTailBuffer::new()))
            .err()
            .expect("spawn fails");
        assert_eq!(
            err.to_string(),
            "chdir /definitely/not/here: no such file or directory"
        );
    }

    #[tokio::test]
    async fn a_grandchild_holding_the_pipe_gets_only_the_wait_delay() {
        let exec = RealExec::new(Duration::from_millis(300));
        let out = Arc::new(HeadTailBuffer::new());
        let spawned = exec
            .spawn(spec("sleep 30 & echo $!; echo hi"), out.clone())
            .expect("spawn");
        let status = spawned.exit.await;
        assert!(
            matches!(status, ExitStatus::WaitError(ref m) if m.contains("WaitDelay")),
            "{status:?}"
        );
        assert_eq!(status.exit_code(), -1);
        // Clean up the grandchild through the group.
        let _ = spawned.control.signal_group(Signal::Kill);
        assert!(out.output().0.ends_with("hi\n"));
    }

    #[tokio::test]
    async fn signals_reach_the_whole_group() {
        let out = Arc::new(HeadTailBuffer::new());
        let spawned = exec()
            .spawn(spec("sleep 30 & sleep 30; echo unreachable"), out.clone())
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(100)).await;
        spawned
            .control
            .signal_group(Signal::Terminate)
            .expect("group exists");
        // Both sleeps die, so the pipe closes at once (no wait delay).
        let status = tokio::time::timeout(Duration::from_secs(4), spawned.exit)
            .await
            .expect("group terminated");
        assert_eq!(status, ExitStatus::Signaled(15));
        // Once init has reaped the orphaned sleep, nobody is left in the
        // group: ESRCH, which the API maps to 409.
        let mut gone = false;
        for _ in 0..100 {
            if matches!(
                spawned.control.signal_group(Signal::Kill),
                Err(SignalError::NoSuchProcess)
            ) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "the group should vanish");
    }
}
