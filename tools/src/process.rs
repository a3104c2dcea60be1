//! The process tools (`docs/design.md#clients`): `process_output` (blocking
//! read with a snapshot fallback), `process_list` and `process_signal`.

use std::collections::BTreeMap;

use agent_sdk::{AgentConn, OutputOptions};
use serde::Deserialize;
use sim_hooks::Bug;
use sim_hooks::bugs::take_bug;
use tokio::time::Instant;

use crate::call::{deadline_after, until};
use crate::duration::GoDuration;
use crate::execute::snapshot;
use crate::gojson;
use crate::options::ToolOptions;
use crate::result::{ExecuteResult, STILL_RUNNING_NOTE, ToolResult, exit_code, truncate_output};

/// `process_output`'s arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProcessOutputArgs {
    #[serde(deserialize_with = "crate::nullable")]
    pub process_id: String,
    pub wait_timeout: Option<String>,
}

/// `process_signal`'s arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProcessSignalArgs {
    #[serde(deserialize_with = "crate::nullable")]
    pub process_id: String,
    #[serde(deserialize_with = "crate::nullable")]
    pub signal: String,
}

pub(crate) const OUTPUT_DESCRIPTION: &str = "Retrieve the output of a tracked process by its ID: \
the process_id returned by execute with run_in_background=true, or the background_process_id of \
an execute call that timed out. Blocks up to 10s for the process to exit, then returns its output \
and exit_code; if it is still running then, returns the output so far. Use wait_timeout to change \
the wait (e.g. '30s', or '0s' for an immediate snapshot without waiting).";

pub(crate) const LIST_DESCRIPTION: &str = "List the processes tracked in the workspace, with their \
IDs, commands, status (running or exited) and exit codes. Use it to find background processes or \
to see which are still running.";

pub(crate) const SIGNAL_DESCRIPTION: &str = "Send a signal to a tracked process: \"terminate\" \
(SIGTERM) for a graceful shutdown or \"kill\" (SIGKILL) to force it to stop. Use a process_id from \
execute with run_in_background=true or from process_list.";

pub(crate) fn output_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "process_id": {
                "type": "string",
                "description": "The ID of the process to read."
            },
            "wait_timeout": {
                "type": "string",
                "description": "How long to block for the process to exit instead of the \
    default 10s, as a duration such as '30s'. '0s' returns a snapshot at once."
            }
        },
        "required": ["process_id"]
    })
}

pub(crate) fn list_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {},
        "required": []
    })
}

pub(crate) fn signal_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "process_id": {
                "type": "string",
                "description": "The ID of the process to signal."
            },
            "signal": {
                "type": "string",
                "description": "\"terminate\" (SIGTERM) or \"kill\" (SIGKILL)."
            }
        },
        "required": ["process_id", "signal"]
    })
}

/// The checks `process_output` makes before resolving a connection.
pub(crate) fn check_output_args(args: &ProcessOutputArgs) -> Option<ToolResult> {
    args.process_id
        .is_empty()
        .then(|| ToolResult::error("process_id is required"))
}

/// The checks `process_signal` makes before resolving a connection.
pub(crate) fn check_signal_args(args: &ProcessSignalArgs) -> Option<ToolResult> {
    if args.process_id.is_empty() {
        return Some(ToolResult::error("process_id is required"));
    }
    if args.signal != "terminate" && args.signal != "kill" {
        return Some(ToolResult::error(r#"signal must be "terminate" or "kill""#));
    }
    None
}

/// Runs `process_output` on `conn`.
pub(crate) async fn output(
    opts: &ToolOptions,
    conn: &dyn AgentConn,
    args: ProcessOutputArgs,
) -> ToolResult {
    if let Some(err) = check_output_args(&args) {
        return err;
    }
    let id = args.process_id.as_str();
    let timeout = match args.wait_timeout {
        None => GoDuration::from(opts.process_output_timeout),
        Some(text) => match GoDuration::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                return ToolResult::error(format!(
                    "invalid wait_timeout {}: {e}",
                    gojson::quote(&text)
                ));
            }
        },
    };
    let first = if timeout.0 > 0 {
        let deadline = deadline_after(timeout);
        let answer = until(
            deadline,
            conn.process_output(id, OutputOptions { wait: true }),
        )
        .await;
        answer.map_err(|e| (e, Instant::now() >= deadline))
    } else {
        let answer = conn.process_output(id, OutputOptions { wait: false }).await;
        answer.map_err(|e| (e.into(), false))
    };
    // The caller's own cancellation drops this future, so there is no
    // "parent context done" branch: any error here gets the fallback.
    let resp = match first {
        Ok(resp) => resp,
        Err((original, timed_out)) => {
            if !timed_out && take_bug(&opts.bugs, Bug::NoSnapshotFallback) {
                return ExecuteResult::failure(format!("get process output: {original}"))
                    .into_tool_result();
            }
            sim_hooks::event("tools.process_output.snapshot_fallback", || {
                format!("process {id}: {original} (timed out: {timed_out})")
            });
            match snapshot(opts, conn, id).await {
                Ok(resp) => resp,
                Err(e) => {
                    return ExecuteResult::failure(format!("get process output: {e}"))
                        .into_tool_result();
                }
            }
        }
    };
    let exit_code = exit_code(&resp);
    let mut result = ExecuteResult {
        success: !resp.running && exit_code == 0,
        output: truncate_output(&resp.output).to_string(),
        exit_code,
        truncated: resp.truncated.clone(),
        ..Default::default()
    };
    if resp.running {
        // Not decided yet, so not a failure.
        result.success = true;
        result.note = STILL_RUNNING_NOTE.to_string();
    }
    result.into_tool_result()
}

/// Runs `process_list` on `conn`: the agent's answer verbatim.
pub(crate) async fn list(conn: &dyn AgentConn) -> ToolResult {
    match conn.list_processes().await {
        Ok(resp) => ToolResult::json(&resp),
        Err(e) => ExecuteResult::failure(format!("list processes: {e}")).into_tool_result(),
    }
}

/// Runs `process_signal` on `conn`.
pub(crate) async fn signal(conn: &dyn AgentConn, args: ProcessSignalArgs) -> ToolResult {
    if let Some(err) = check_signal_args(&args) {
        return err;
    }
    match conn.signal_process(&args.process_id, &args.signal).await {
        Ok(()) => {
            // A Go map: keys sorted.
            let body: BTreeMap<&str, serde_json::Value> = BTreeMap::from([
                ("success", serde_json::Value::Bool(true)),
                (
                    "message",
                    serde_json::Value::String(format!(
                        "signal {} sent to process {}",
                        gojson::quote(&args.signal),
                        args.process_id
                    )),
                ),
            ]);
            ToolResult::json(&body)
        }
        Err(e) => ExecuteResult::failure(format!("signal process: {e}")).into_tool_result(),
    }
}
