//! A process-table model fed by the simulated process table's own events
//! ([`ExecEvent`]), against which the agent's process answers are checked:
//! what each process wrote and when, when its shell exited, when its exit
//! future resolved and with which status, how often it was spawned.
//!
//! The agent is the code under test; the simulated processes are the world
//! it reports on. So every expectation here comes from that world and from
//! [`super::headtail::render`], never from the agent's buffer or manager.
//!
//! Times are sim time since the start ([`turmoil::sim_elapsed`]), shared by
//! every host of a run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agent::process::exec::ExitStatus;
use agent_sdk::{ProcessInfo, ProcessOutputResponse, Truncation};
use parking_lot::{Mutex, MutexGuard};

use super::headtail;
use crate::sim_exec::{ExecEvent, ScriptBook};

/// Sim time since the run started.
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// What the wire reports for `status`: the code, or -1 for a signal or a
/// wait error (Go's `ExitCode()`).
pub fn wire_exit_code(status: &ExitStatus) -> i32 {
    match status {
        ExitStatus::Code(c) => *c,
        ExitStatus::Signaled(_) | ExitStatus::WaitError(_) => -1,
    }
}

/// Everything observed of one process (one command).
#[derive(Clone, Debug, Default)]
pub struct ProcessLog {
    /// How many times a process was spawned for the command.
    pub spawns: u32,
    /// Every byte that reached its output pipe.
    pub bytes: Vec<u8>,
    /// Output lengths at which a write ended (0 first): the only lengths a
    /// snapshot can show, since the buffer takes each write whole.
    pub boundaries: Vec<usize>,
    pub shell_exited: Option<Duration>,
    /// When the exit future resolved, and with what.
    pub finished: Option<(Duration, ExitStatus)>,
    /// The last render made (its length and result): polls mostly ask
    /// for the same prefix again.
    rendered: Option<(usize, Render)>,
}

type Render = (String, Option<Truncation>);

/// What is known of a process without its bytes (cheap to copy).
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub spawns: u32,
    /// Bytes written so far.
    pub written: usize,
    pub shell_exited: Option<Duration>,
    pub finished: Option<(Duration, ExitStatus)>,
}

/// The shared table, keyed by command (the workloads give each start its
/// own command).
#[derive(Clone, Default)]
pub struct ProcessTable(Arc<Mutex<BTreeMap<String, ProcessLog>>>);

/// What was known of a process when a call was sent.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    pub at: Duration,
    pub written: usize,
}

impl ProcessTable {
    /// A table fed by every process `book` spawns from now on.
    pub fn observing(book: &ScriptBook) -> Self {
        let table = ProcessTable::default();
        let t = table.clone();
        book.set_observer(move |command, event| t.record(command, event));
        table
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ProcessLog>> {
        self.0.lock()
    }

    fn record(&self, command: &str, event: ExecEvent<'_>) {
        let mut table = self.lock();
        let log = table
            .entry(command.to_string())
            .or_insert_with(|| ProcessLog {
                boundaries: vec![0],
                ..ProcessLog::default()
            });
        match event {
            ExecEvent::Spawned => log.spawns += 1,
            ExecEvent::Wrote(data) => {
                log.bytes.extend_from_slice(data);
                log.boundaries.push(log.bytes.len());
            }
            ExecEvent::ShellExited(_) => log.shell_exited = Some(now()),
            ExecEvent::Finished(status) => log.finished = Some((now(), status.clone())),
        }
    }

    /// The model's render of the first `len` bytes `command` wrote.
    fn render(&self, command: &str, len: usize) -> Render {
        self.with_render(command, len, |r| r.clone())
    }

    /// Whether the model renders the first `len` bytes as `output` and
    /// `truncated` (compared in place: renders are up to 32 KiB).
    fn renders_as(
        &self,
        command: &str,
        len: usize,
        output: &str,
        truncated: &Option<Truncation>,
    ) -> bool {
        self.with_render(command, len, |(o, t)| o == output && t == truncated)
    }

    fn with_render<T>(&self, command: &str, len: usize, f: impl FnOnce(&Render) -> T) -> T {
        let mut table = self.lock();
        let Some(log) = table.get_mut(command) else {
            return f(&(String::new(), None));
        };
        let cached = log.rendered.as_ref().is_some_and(|(l, _)| *l == len);
        if !cached {
            let r = headtail::render(&log.bytes[..len.min(log.bytes.len())]);
            log.rendered = Some((len, r));
        }
        match &log.rendered {
            Some((_, r)) => f(r),
            None => f(&(String::new(), None)),
        }
    }

    /// What is known of `command` now, without its output.
    pub fn facts(&self, command: &str) -> Option<Facts> {
        self.lock().get(command).map(|l| Facts {
            spawns: l.spawns,
            written: l.bytes.len(),
            shell_exited: l.shell_exited,
            finished: l.finished.clone(),
        })
    }

    /// The write boundaries of `command` within `lo..=hi`.
    fn boundaries(&self, command: &str, lo: usize, hi: usize) -> Vec<usize> {
        self.lock().get(command).map_or_else(Vec::new, |l| {
            l.boundaries
                .iter()
                .copied()
                .filter(|&b| b >= lo && b <= hi)
                .collect()
        })
    }

    /// A copy of what was observed of `command`.
    pub fn log(&self, command: &str) -> Option<ProcessLog> {
        self.lock().get(command).cloned()
    }

    /// Every command observed, with its log.
    pub fn logs(&self) -> BTreeMap<String, ProcessLog> {
        self.lock().clone()
    }

    /// Call before sending a request about `command`.
    pub fn mark(&self, command: &str) -> Mark {
        Mark {
            at: now(),
            written: self.lock().get(command).map_or(0, |l| l.bytes.len()),
        }
    }

    /// Checks an output answer about `command` sent at `sent` and received
    /// now. `publish` is how long the agent may take from the exit future
    /// resolving to reporting the exit (its yield points and a tick).
    ///
    /// - `running: false`: the process finished before now, the exit code
    ///   is its status's, and the output is the model's render of every
    ///   byte it wrote.
    /// - `running: true`: no exit code, the process did not finish more than
    ///   `publish` before the call was sent, and the output is the model's
    ///   render of the first L bytes, for a write boundary L between what was
    ///   written when the call was sent and what is written now.
    pub fn check_output(
        &self,
        command: &str,
        sent: Mark,
        answer: &ProcessOutputResponse,
        publish: Duration,
    ) -> Result<(), Mismatch> {
        let Some(log) = self.facts(command) else {
            return Err(Mismatch::new("a spawned process", "none observed"));
        };
        let answered = now();
        if !answer.running {
            let Some((at, status)) = &log.finished else {
                return Err(Mismatch::new(
                    "running: true (the process has not finished)",
                    describe(answer),
                ));
            };
            let code = Some(wire_exit_code(status));
            let same = answer.exit_code == code
                && self.renders_as(command, log.written, &answer.output, &answer.truncated);
            if !same {
                let (output, truncated) = self.render(command, log.written);
                let want = (output, truncated, code);
                return Err(Mismatch {
                    expected: format!(
                        "the final render of {} bytes (finished at {at:?}, {status:?}): {}",
                        log.written,
                        short(&want.0, &want.1, want.2)
                    ),
                    seen: describe_diff(&want.0, answer),
                });
            }
            return Ok(());
        }
        if answer.exit_code.is_some() {
            return Err(Mismatch::new(
                "no exit code while running",
                describe(answer),
            ));
        }
        if let Some((at, _)) = &log.finished
            && *at + publish < sent.at
        {
            return Err(Mismatch::new(
                format!(
                    "running: false (finished at {at:?}, call sent at {:?})",
                    sent.at
                ),
                describe(answer),
            ));
        }
        let candidates = self.boundaries(command, sent.written, log.written);
        // A truncation record names the length it rendered; else try each.
        let pick: Vec<usize> = match &answer.truncated {
            Some(t) => candidates
                .iter()
                .copied()
                .filter(|&l| l as u64 == t.original_bytes)
                .collect(),
            None => candidates.clone(),
        };
        for &l in pick.iter().rev() {
            if self.renders_as(command, l, &answer.output, &answer.truncated) {
                return Ok(());
            }
        }
        let best = pick.last().or(candidates.last()).copied().unwrap_or(0);
        let (output, truncated) = self.render(command, best);
        Err(Mismatch {
            expected: format!(
                "the render of a prefix of {}..={} bytes (written between {:?} and {answered:?}); \
                 of {best}: {}",
                sent.written,
                log.written,
                sent.at,
                short(&output, &truncated, None)
            ),
            seen: describe_diff(&output, answer),
        })
    }

    /// Checks one list row about `command` the same way: a finished row
    /// carries the status's exit code and finished before now; a running
    /// row did not finish more than `publish` before `sent`.
    pub fn check_row(
        &self,
        command: &str,
        sent: Duration,
        row: &ProcessInfo,
        publish: Duration,
    ) -> Result<(), Mismatch> {
        let log = self.facts(command).unwrap_or_default();
        if row.command != command {
            return Err(Mismatch::new(
                format!("command {command:?}"),
                format!("{:?}", row.command),
            ));
        }
        match (&log.finished, row.running) {
            (Some((_, status)), false) if row.exit_code == Some(wire_exit_code(status)) => Ok(()),
            (Some((at, _)), true) if *at + publish >= sent => Ok(()),
            (None, true) if row.exit_code.is_none() => Ok(()),
            (finished, _) => Err(Mismatch::new(
                format!("a row agreeing with the process (finished: {finished:?})"),
                format!("running {} exit {:?}", row.running, row.exit_code),
            )),
        }
    }
}

/// An answer that disagrees with the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub seen: String,
}

impl Mismatch {
    pub fn new(expected: impl Into<String>, seen: impl Into<String>) -> Self {
        Mismatch {
            expected: expected.into(),
            seen: seen.into(),
        }
    }
}

fn short(output: &str, truncated: &Option<Truncation>, exit: Option<i32>) -> String {
    format!(
        "{} bytes, truncated {:?}, exit {exit:?}",
        output.len(),
        truncated
            .as_ref()
            .map(|t| (t.original_bytes, t.retained_bytes, t.omitted_bytes))
    )
}

fn describe(answer: &ProcessOutputResponse) -> String {
    format!(
        "running {}: {}",
        answer.running,
        short(&answer.output, &answer.truncated, answer.exit_code)
    )
}

/// The answer, with where its output first departs from `want`.
fn describe_diff(want: &str, answer: &ProcessOutputResponse) -> String {
    let seen = &answer.output;
    let at = want
        .bytes()
        .zip(seen.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let around = |s: &str| {
        let from = at.saturating_sub(20);
        let b = s.as_bytes();
        String::from_utf8_lossy(&b[from.min(b.len())..(at + 20).min(b.len())]).into_owned()
    };
    format!(
        "{}; first difference at byte {at}: model {:?}, answer {:?}",
        describe(answer),
        around(want),
        around(seen)
    )
}
