//! What the agent-backed scenarios share: the run's configuration, the
//! agent host (its scripts and repository), the client connection, the
//! client's common calls (a start, joining its tasks), and expected results
//! computed from a script.
//!
//! [`tools`] holds what the scenarios driving the chat tools share (their
//! client, jobs and answer checks), so no scenario imports another.
//!
//! Each helper is one piece of logic several scenarios had written out
//! alike; keeping it here keeps their traces alike too (the same calls in
//! the same order, the same violation texts).

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::invariants::{CALLS_SUCCEED, CLIENT_TASKS_COMPLETE};
use agent::headtail::{HeadTailBuffer, Truncation};
use agent::http::chat::CHAT_ID_HEADER;
use agent_sdk::{AgentConn, HttpAgentConn, ProcessOutputResponse, StartProcessRequest};
use harness::agent_host::{self, SimParts, agent_config};
use harness::net::TurmoilConnector;
use harness::sched::SchedConfig;
use harness::seed::stream;
use harness::sim_exec::Script;
use harness::sim_fs::PROJECT;
use harness::{Invariants, SimConfig, SimWorld};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub mod tools;

/// The agent's host name in every scenario.
pub const AGENT: &str = agent_host::AGENT_HOST;

/// Registers the agent host (before any client, so it is up first) with
/// the run's bug switches; `setup` seeds files, scripts and repositories.
pub fn agent_host(world: &mut SimWorld<'_>, setup: impl FnOnce(&SimParts)) -> SimParts {
    let config = agent_config(world.bugs());
    agent_host::host_agent(world, config, setup)
}

/// A run of `duration` whose yield points sleep up to `max_sleep`. The
/// races the scenarios using it hunt have a window one handler step wide
/// (between a check and what it guards); longer sleeps there, standing in
/// for preemption, let a concurrent request or exit land inside it.
pub const fn racy_config(duration: Duration, max_sleep: Duration) -> SimConfig {
    SimConfig {
        duration,
        sched: SchedConfig {
            max_sleep,
            ..SchedConfig::DEFAULT
        },
        ..SimConfig::DEFAULT
    }
}

/// [`agent_host()`] with nothing seeded but `scripts` (command, script):
/// the workload of the scenarios that only run processes.
pub fn agent_host_running(
    world: &mut SimWorld<'_>,
    scripts: impl IntoIterator<Item = (String, Script)>,
) -> SimParts {
    let parts = agent_host(world, |_| {});
    for (command, script) in scripts {
        parts.scripts.insert(command, script);
    }
    parts
}

/// The workload of the scenarios that race processes: a seeded number of
/// jobs in `count`, job `n` drawn by `draw(rng, n)` in order from the
/// workload stream, and the agent host running their scripts (`script`
/// gives a job's command and script).
pub fn host_jobs<J>(
    world: &mut SimWorld<'_>,
    count: RangeInclusive<usize>,
    mut draw: impl FnMut(&mut ChaCha8Rng, usize) -> J,
    script: impl Fn(&J) -> (String, Script),
) -> Vec<J> {
    let mut rng = world.rng(stream::WORKLOAD);
    let jobs: Vec<J> = (0..rng.random_range(count))
        .map(|n| draw(&mut rng, n))
        .collect();
    agent_host_running(world, jobs.iter().map(script));
    jobs
}

/// Makes [`PROJECT`] a repository with a remote and one commit (a README),
/// for the scenarios that watch git changes in it. A failure is logged, not
/// fatal: the run then shows it as a missing `changes` message.
pub fn seed_repo(parts: &SimParts) {
    let root = Path::new(PROJECT);
    let made = parts
        .scanner
        .init_repo(root, "main", Some("https://example.com/project.git"))
        .and_then(|_| parts.fs.write(root.join("README.md"), "# project\n"))
        .and_then(|_| parts.scanner.commit(root));
    if let Err(e) = made {
        tracing::warn!(error = %e, "cannot seed the repository");
    }
}

/// An SDK connection to the agent host.
pub fn connect() -> Arc<HttpAgentConn<TurmoilConnector>> {
    Arc::new(agent_host::connect())
}

/// An SDK connection that speaks for `chat` (its `Coder-Chat-Id` header on
/// every call): one connection per chat, as chatd keeps.
pub fn connect_as(chat: uuid::Uuid) -> Arc<HttpAgentConn<TurmoilConnector>> {
    let conn = connect();
    let mut headers = http::HeaderMap::new();
    if let Some(v) = agent_sdk::conn::header_value(&chat.to_string()) {
        headers.insert(CHAT_ID_HEADER, v);
    }
    conn.set_extra_headers(headers);
    conn
}

/// A chat id drawn from a workload rng.
pub fn chat_id(rng: &mut impl rand::Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// Starts `command` in [`PROJECT`] and returns its id. Every command the
/// scenarios start this way is scripted, so a failed start is the
/// `calls-succeed` violation (and `None`).
pub async fn start_in_project(
    conn: &HttpAgentConn<TurmoilConnector>,
    inv: &Invariants,
    command: &str,
) -> Option<String> {
    let req = StartProcessRequest {
        command: command.to_string(),
        workdir: Some(PROJECT.into()),
        ..StartProcessRequest::default()
    };
    match conn.start_process(&req).await {
        Ok(r) => Some(r.id),
        Err(e) => {
            inv.fail(CALLS_SUCCEED, "a started process", e);
            None
        }
    }
}

/// Awaits one client task: one that panicked is the
/// `client-tasks-complete` violation (its checks never finished), and
/// `None`.
pub async fn join_task<T>(inv: &Invariants, task: JoinHandle<T>) -> Option<T> {
    match task.await {
        Ok(v) => Some(v),
        Err(e) => {
            inv.fail(CLIENT_TASKS_COMPLETE, "every client task finishes", e);
            None
        }
    }
}

/// Awaits every task in order (see [`join_task`]).
pub async fn join_tasks(inv: &Invariants, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
    for t in tasks {
        join_task(inv, t).await;
    }
}

/// `at` moved by `offset_ms` milliseconds: later when positive, earlier
/// when negative (never before the clock's origin: then `at`). The
/// workloads time calls relative to a scripted exit this way.
pub fn offset_by(at: Instant, offset_ms: i64) -> Instant {
    let offset = Duration::from_millis(offset_ms.unsigned_abs());
    if offset_ms >= 0 {
        at + offset
    } else {
        at.checked_sub(offset).unwrap_or(at)
    }
}

/// What a finished process must report: the final snapshot of everything
/// the script wrote, and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalResult {
    pub output: String,
    pub truncated: Option<Truncation>,
    pub exit_code: i32,
}

impl FinalResult {
    pub fn of(script: &Script) -> Self {
        let buffer = HeadTailBuffer::new();
        buffer.write(&script.output());
        let (output, truncated) = buffer.output();
        FinalResult {
            output,
            truncated,
            exit_code: script.exit_code(),
        }
    }

    /// Whether `r` reports exactly this result (output, truncation and
    /// exit code; `running` is the caller's to judge).
    pub fn is_met_by(&self, r: &ProcessOutputResponse) -> bool {
        r.output == self.output
            && r.truncated == self.truncated
            && r.exit_code == Some(self.exit_code)
    }

    /// [`FinalResult::describe`] of this result.
    pub fn described(&self) -> String {
        Self::describe(&self.output, &self.truncated, Some(self.exit_code))
    }

    /// [`FinalResult::describe`] of what an output call answered.
    pub fn describe_answer(r: &ProcessOutputResponse) -> String {
        Self::describe(&r.output, &r.truncated, r.exit_code)
    }

    /// A short description for violation texts (outputs can be 32 KiB).
    pub fn describe(
        output: &str,
        truncated: &Option<Truncation>,
        exit_code: Option<i32>,
    ) -> String {
        let truncated = match truncated {
            Some(t) => format!("truncated from {} bytes", t.original_bytes),
            None => "not truncated".to_string(),
        };
        let exit = match exit_code {
            Some(code) => format!("exit code {code}"),
            None => "still running".to_string(),
        };
        format!("{} output bytes, {truncated}, {exit}", output.len())
    }
}
