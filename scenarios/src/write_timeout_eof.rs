//! `write-timeout-eof` (race R3 in `docs/races.md`): processes outlive the
//! agent's write timeout while clients block on their output, through
//! three paths at once:
//!
//! - the SDK's blocking output call (`wait=true`);
//! - the `execute` tool (its one blocking wait, then its snapshot
//!   fallback after an error);
//! - the `process_output` tool on a process started by `execute` with
//!   `run_in_background`.
//!
//! Invariants: each tool returns the process's final result (output, exit
//! code, success) as if nothing had gone wrong, and the SDK call returns
//! the final result, never a transport error. The SDK call is checked last,
//! once every flow has finished, so a run with `write-deadline-hidden`
//! shows the tools' results held before it reports the SDK's EOF.
//!
//! Catches `write-deadline-hidden` (the SDK call sees the EOF; the tools
//! recover through their snapshot fallback) and `no-snapshot-fallback` (the
//! tools hand back a bare transport error without the process id). The
//! tools' fallback only matters after a transport error, so when
//! `no-snapshot-fallback` is on the scenario turns `write-deadline-hidden`
//! on in the agent itself and targets the tool layer: the SDK-level check,
//! which that switch breaks by design, is skipped.
//!
//! Time is scaled down tenfold: the agent's write timeout is
//! [`WRITE_TIMEOUT`] (2 s, not the default 20 s) and the processes outlive
//! it by 100 to 500 ms (not 1 to 5 s). The race needs only a wait longer
//! than the write timeout; nothing in it depends on the absolute figures,
//! and every message latency and scheduler sleep stays far below the
//! margin. Scaled, a seed simulates about 2.5 s instead of 25 s. The
//! default 20 s itself is covered on tokio's paused clock by
//! `agent/tests/server_write_deadline.rs` (a 25 s wait answers at 25 s
//! with the fix and gets the EOF at 25 s with `write-deadline-hidden`).

use std::time::Duration;

use agent_sdk::{AgentConn, OutputOptions, ProcessOutputResponse, SdkError, StartProcessRequest};
use chat_tools::{ChatTools, ToolOptions, ToolResult};
use harness::agent_host;
use harness::prelude::*;
use serde_json::{Value, json};

use crate::common::{FinalResult, connect, join_task, join_tasks};
use crate::invariants::CALLS_SUCCEED;

/// See the module docs.
pub const WRITE_TIMEOUT_EOF: ScenarioSpec = ScenarioSpec {
    name: "write-timeout-eof",
    summary: "blocking output calls and the execute/process_output tools on processes outliving the write timeout must return their results (R3)",
    catches: &[
        Catch {
            bug: Bug::WriteDeadlineHidden,
            within: 8,
        },
        Catch {
            bug: Bug::NoSnapshotFallback,
            within: 8,
        },
    ],
    config: SimConfig {
        duration: Duration::from_secs(8),
        ..SimConfig::DEFAULT
    },
    build,
};

/// The agent's write timeout here: the default 20 s scaled down tenfold
/// (see the module docs).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The invariant of the SDK's blocking call.
pub const SDK_INVARIANT: &str = "blocking-output-returns-final";
/// The invariant of the `execute` tool.
pub const EXECUTE_INVARIANT: &str = "execute-returns-final";
/// The invariant of the `process_output` tool.
pub const PROCESS_OUTPUT_INVARIANT: &str = "process-output-returns-final";

/// The tools' timeouts: longer than any process here, so only the
/// transport can cut a wait short.
const TOOL_TIMEOUT: &str = "1m";

/// A build that outlives the [`WRITE_TIMEOUT`] by 100 to 500 ms.
fn long_build(rng: &mut ChaCha8Rng) -> Script {
    let runtime = WRITE_TIMEOUT + Duration::from_millis(rng.random_range(100..=500));
    Script::new()
        .write("started\n")
        .sleep(runtime)
        .write("done\n")
        .exit([0, 1, 3][rng.random_range(0..3)])
}

/// The bug switches the agent runs with (see the module docs).
fn agent_bugs(requested: &BugSet) -> BugSet {
    if requested.is_on(Bug::NoSnapshotFallback) {
        requested.clone().with(Bug::WriteDeadlineHidden)
    } else {
        requested.clone()
    }
}

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let jobs = [
        ("long-build", long_build(&mut rng)),
        ("long-build-exec", long_build(&mut rng)),
        ("long-build-bg", long_build(&mut rng)),
    ];
    let requested = world.bugs().clone();
    let check_sdk = !requested.is_on(Bug::NoSnapshotFallback);
    let config = agent::AgentConfig {
        write_timeout: WRITE_TIMEOUT,
        ..agent_config(&agent_bugs(&requested))
    };
    let parts = agent_host::host_agent(world, config, |_| {});
    for (command, script) in &jobs {
        parts.scripts.insert(*command, script.clone());
    }
    let [sdk, exec, bg] = jobs.map(|(command, script)| Flow {
        command,
        expected: FinalResult::of(&script),
    });
    let tools = ChatTools::new(ToolOptions::with_bugs(requested));
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world.client("client", async move {
        let sdk_call = tokio::spawn(sdk_flow(sdk.clone(), trace.clone()));
        let exec_call = tokio::spawn(execute_flow(
            exec,
            tools.clone(),
            inv.clone(),
            trace.clone(),
        ));
        let bg_call = tokio::spawn(process_output_flow(bg, tools, inv.clone(), trace));
        join_tasks(&inv, [exec_call, bg_call]).await;
        if let Some(answer) = join_task(&inv, sdk_call).await
            && check_sdk
        {
            check_sdk_answer(&inv, &sdk.expected, answer);
        }
        Ok(())
    });
}

/// One process and what it must report.
#[derive(Clone, Debug)]
struct Flow {
    command: &'static str,
    expected: FinalResult,
}

/// What the SDK's blocking call answered (or why it could not start).
type SdkAnswer = Result<ProcessOutputResponse, String>;

async fn sdk_flow(flow: Flow, trace: Trace) -> SdkAnswer {
    let conn = connect();
    let req = StartProcessRequest {
        command: flow.command.into(),
        ..StartProcessRequest::default()
    };
    let id = conn
        .start_process(&req)
        .await
        .map_err(|e| format!("start failed: {e}"))?
        .id;
    trace.record("client.started", format!("{}: {id}", flow.command));
    conn.process_output(&id, OutputOptions { wait: true })
        .await
        .map_err(|e: SdkError| format!("transport error: {e}"))
}

fn check_sdk_answer(inv: &Invariants, expected: &FinalResult, answer: SdkAnswer) {
    match answer {
        Ok(r) => {
            inv.check(
                SDK_INVARIANT,
                !r.running
                    && r.output == expected.output
                    && r.exit_code == Some(expected.exit_code),
                || expected.described(),
                || format!("running={} {}", r.running, FinalResult::describe_answer(&r)),
            );
        }
        Err(e) => inv.fail(SDK_INVARIANT, "the process's final result", e),
    }
}

/// The result a tool must give for a finished process: what a wait that
/// nothing interrupted returns (`wall_duration_ms` aside).
fn expected_tool_result(expected: &FinalResult) -> Value {
    let mut v = json!({
        "success": expected.exit_code == 0,
        "output": expected.output,
        "exit_code": expected.exit_code,
    });
    if let Some(t) = &expected.truncated {
        v["truncated"] = json!(t);
    }
    v
}

/// The tool's answer as compared: the JSON without `wall_duration_ms`, or
/// the text of an error response.
fn seen_tool_result(result: &ToolResult) -> Value {
    match result.parsed() {
        Some(Value::Object(mut map)) if !result.is_error => {
            map.remove("wall_duration_ms");
            Value::Object(map)
        }
        _ => json!({"error_response": result.text}),
    }
}

fn check_tool_result(inv: &Invariants, invariant: &str, expected: &FinalResult, r: &ToolResult) {
    let want = expected_tool_result(expected);
    let seen = seen_tool_result(r);
    inv.check(
        invariant,
        seen == want,
        || want.to_string(),
        || seen.to_string(),
    );
}

async fn execute_flow(flow: Flow, tools: ChatTools, inv: Invariants, trace: Trace) {
    let conn = connect();
    let args = json!({"command": flow.command, "timeout": TOOL_TIMEOUT});
    let result = tools.call("execute", conn.as_ref(), args).await;
    trace.record("client.execute", result.text.clone());
    check_tool_result(&inv, EXECUTE_INVARIANT, &flow.expected, &result);
}

async fn process_output_flow(flow: Flow, tools: ChatTools, inv: Invariants, trace: Trace) {
    let conn = connect();
    let args = json!({"command": flow.command, "run_in_background": true});
    let started = tools.call("execute", conn.as_ref(), args).await;
    let id = started
        .parsed()
        .and_then(|v| v["background_process_id"].as_str().map(str::to_string));
    let Some(id) = id else {
        return inv.fail(
            CALLS_SUCCEED,
            "a background process id",
            format!("execute answered {}", started.text),
        );
    };
    trace.record("client.started", format!("{}: {id}", flow.command));
    let args = json!({"process_id": id, "wait_timeout": TOOL_TIMEOUT});
    let result = tools.call("process_output", conn.as_ref(), args).await;
    trace.record("client.process_output", result.text.clone());
    check_tool_result(&inv, PROCESS_OUTPUT_INVARIANT, &flow.expected, &result);
}
