//! What the scenarios driving the chat tools share (`flaky-network`,
//! `agent-restart`): the `chatd` host's client (tools with a short snapshot
//! budget, every call timed against its bound), the jobs the model runs,
//! and the checks that a tool's answer is the true result or names the
//! process.

use std::sync::Arc;
use std::time::Duration;

use agent::headtail::Truncation;
use agent_sdk::HttpAgentConn;
use chat_tools::result::truncate_output;
use chat_tools::{ChatTools, ToolOptions, ToolResult};
use harness::net::TurmoilConnector;
use harness::prelude::*;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::FinalResult;
use crate::invariants::{
    PARTIAL_OUTPUT_IS_A_PREFIX, TOOL_ANSWERS_JSON, TOOL_CALL_BOUNDED,
    TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS,
};

/// The host running the chat tools.
pub const CHATD: &str = "chatd";

/// The tools' snapshot budget in these scenarios (`snapshotTimeout`, 30 s in
/// the original): the one request a tool makes after its deadline.
pub const SNAPSHOT_BUDGET: Duration = Duration::from_secs(2);

/// How late a timer may fire: it fires at the first tick at or after its
/// instant, and a call has two (its deadline, then the snapshot's).
pub const TIMER_SLACK: Duration = Duration::from_millis(10);

/// How far past its timeout a tool call may run.
pub const MARGIN: Duration = SNAPSHOT_BUDGET.saturating_add(TIMER_SLACK);

/// One scripted command and how the model runs it.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub command: String,
    pub script: Script,
    pub expected: FinalResult,
    /// `None`: `run_in_background`; else the foreground timeout.
    pub timeout: Option<Duration>,
    pub start_at: Duration,
    /// `wait_timeout` of each `process_output` call, and the model's
    /// turn before it.
    pub polls: Vec<(Duration, Duration)>,
}

impl Job {
    /// A foreground job started at once, without `process_output` calls.
    pub fn foreground(command: &str, script: Script, timeout: Duration) -> Job {
        Job {
            command: command.to_string(),
            expected: FinalResult::of(&script),
            script,
            timeout: Some(timeout),
            start_at: Duration::ZERO,
            polls: Vec::new(),
        }
    }

    /// `execute`'s arguments for this job.
    pub fn execute_args(&self) -> serde_json::Value {
        match self.timeout {
            Some(t) => json!({"command": self.command, "timeout": format!("{}ms", t.as_millis())}),
            None => json!({"command": self.command, "run_in_background": true}),
        }
    }
}

/// What the tools told the model about a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Told {
    /// The start failed (race R11 in `docs/races.md`): no id.
    StartFailed,
    /// A process id, from a background start or a failed wait.
    Id(String),
    /// The final result, without an id.
    Finished,
}

/// The execute family's result object, as the model reads it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Answer {
    pub success: bool,
    pub output: String,
    pub exit_code: i64,
    pub error: String,
    pub truncated: Option<Truncation>,
    pub note: String,
    pub background_process_id: String,
}

/// What every task of the `chatd` host shares.
#[derive(Clone)]
pub(crate) struct Client {
    pub inv: Invariants,
    pub trace: Trace,
    pub conn: Arc<HttpAgentConn<TurmoilConnector>>,
    pub tools: ChatTools,
}

impl Client {
    /// The world's invariants and trace, `conn`, and the tools with this
    /// scenario's snapshot budget and the run's bug switches.
    pub fn new(world: &SimWorld<'_>, conn: Arc<HttpAgentConn<TurmoilConnector>>) -> Client {
        Client {
            inv: world.invariants().clone(),
            trace: world.trace().clone(),
            conn,
            tools: ChatTools::new(ToolOptions {
                snapshot_timeout: SNAPSHOT_BUDGET,
                ..ToolOptions::with_bugs(world.bugs().clone())
            }),
        }
    }

    /// Calls `tool` and checks it returned within `timeout` + [`MARGIN`]
    /// (no bound when `timeout` is `None`).
    pub async fn call(
        &self,
        tool: &str,
        args: serde_json::Value,
        timeout: Option<Duration>,
    ) -> ToolResult {
        let start = Instant::now();
        let result = self
            .tools
            .call(tool, self.conn.as_ref(), args.clone())
            .await;
        let took = start.elapsed();
        let summary = match serde_json::from_str::<Answer>(&result.text) {
            Ok(a) if !result.is_error => describe(&a),
            _ => result.text.chars().take(160).collect(),
        };
        self.trace.record(
            format!("chatd.{tool}"),
            format!("{args} -> {took:?}: {summary}"),
        );
        if let Some(timeout) = timeout {
            self.inv.check(
                TOOL_CALL_BOUNDED,
                took <= timeout + MARGIN,
                || format!("{tool} {args} returns within {:?}", timeout + MARGIN),
                || format!("it took {took:?}"),
            );
        }
        result
    }
}

/// Decodes an execute-family JSON result; an error response (plain text)
/// is a violation, since every call here has valid arguments.
pub(crate) fn answer(inv: &Invariants, tool: &str, r: &ToolResult) -> Option<Answer> {
    let decoded = (!r.is_error)
        .then(|| serde_json::from_str::<Answer>(&r.text).ok())
        .flatten();
    if decoded.is_none() {
        inv.fail(TOOL_ANSWERS_JSON, format!("{tool}: a JSON result"), &r.text);
    }
    decoded
}

/// The true result, as the tools render it.
pub(crate) fn is_final(a: &Answer, exp: &FinalResult) -> bool {
    a.error.is_empty()
        && a.note.is_empty()
        && a.success == (exp.exit_code == 0)
        && a.exit_code == i64::from(exp.exit_code)
        && a.truncated == exp.truncated
        && a.output == truncate_output(&exp.output)
}

pub(crate) fn describe(a: &Answer) -> String {
    let error: String = a.error.chars().take(120).collect();
    format!(
        "success={} exit={} error={error:?} note={:?} id={:?} {}",
        a.success,
        a.exit_code,
        a.note,
        a.background_process_id,
        FinalResult::describe(&a.output, &a.truncated, None)
    )
}

/// The answer of a finished process is its true result.
pub(crate) fn check_true_result(inv: &Invariants, who: &str, a: &Answer, exp: &FinalResult) {
    inv.check(
        TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS,
        is_final(a, exp),
        || format!("{who}: {}", exp.described()),
        || describe(a),
    );
}

/// Output so far: untruncated, it is a prefix of what the script writes.
pub(crate) fn check_partial(inv: &Invariants, who: &str, a: &Answer, script: &Script) {
    if a.truncated.is_some() {
        return;
    }
    let written = String::from_utf8_lossy(&script.output()).into_owned();
    inv.check(
        PARTIAL_OUTPUT_IS_A_PREFIX,
        written.starts_with(&a.output),
        || format!("{who}: a prefix of the {} scripted bytes", written.len()),
        || describe(a),
    );
}

/// Checks one `execute` answer; returns what the model learnt.
pub(crate) fn check_execute(inv: &Invariants, job: &Job, a: &Answer) -> Told {
    let who = format!("execute {}", job.command);
    if job.timeout.is_none() {
        if a.error.starts_with("start background process: ") {
            return Told::StartFailed;
        }
        let ok = inv.check(
            TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS,
            a.error.is_empty() && !a.background_process_id.is_empty(),
            || format!("{who}: a background process id"),
            || describe(a),
        );
        return if ok {
            Told::Id(a.background_process_id.clone())
        } else {
            Told::StartFailed
        };
    }
    if a.error.is_empty() {
        check_true_result(inv, &who, a, &job.expected);
        return Told::Finished;
    }
    if a.error.starts_with("start process: ") {
        return Told::StartFailed;
    }
    inv.check(
        TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS,
        !a.background_process_id.is_empty(),
        || format!("{who}: an error with background_process_id"),
        || describe(a),
    );
    check_partial(inv, &who, a, &job.script);
    Told::Id(a.background_process_id.clone())
}
