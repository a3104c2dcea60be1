//! The `execute` tool (`docs/design.md#clients`): runs a shell command through
//! the agent's process API, in the foreground with one blocking wait and a
//! snapshot fallback, or in the background.

use std::collections::BTreeMap;

use agent_sdk::{AgentConn, OutputOptions, StartProcessRequest};
use serde::Deserialize;
use sim_hooks::Bug;
use sim_hooks::bugs::take_bug;
use tokio::time::Instant;

use crate::call::{CallError, deadline_after, until};
use crate::duration::GoDuration;
use crate::gojson;
use crate::options::ToolOptions;
use crate::result::{ExecuteResult, ToolResult, detect_file_dump};

/// The variables sent with every command so nothing waits for a human
/// (an editor, a pager, a credential prompt); they override the agent's
/// environment. Sorted, as Go marshals maps.
pub const NON_INTERACTIVE_ENV: [(&str, &str); 10] = [
    ("CODER_CHAT_AGENT", "true"),
    ("EDITOR", "true"),
    ("GIT_EDITOR", "true"),
    ("GIT_PAGER", "cat"),
    ("GIT_SEQUENCE_EDITOR", "true"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("NO_COLOR", "1"),
    ("PAGER", "cat"),
    ("TERM", "dumb"),
    ("VISUAL", "true"),
];

/// The start error that means the workspace has no `sh`.
const SH_NOT_FOUND: &str = r#"exec: "sh": executable file not found"#;

/// What the model is told when the workspace has no POSIX shell.
const SH_NOT_FOUND_GUIDANCE: &str = "The workspace has no POSIX shell (sh) on its PATH, and \
commands run with \"sh -c\". On Windows, install sh (Git Bash, MSYS2 or WSL) and restart the \
workspace so that the new PATH is picked up.";

/// `execute`'s arguments. Missing or null fields take their zero value, as
/// with Go's decoder.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExecuteArgs {
    #[serde(deserialize_with = "crate::nullable")]
    pub command: String,
    pub timeout: Option<String>,
    pub workdir: Option<String>,
    pub run_in_background: Option<bool>,
}

pub(crate) const DESCRIPTION: &str = "Execute a shell command in the workspace. The command runs \
under \"sh -c\" (POSIX). The call waits for the command to finish, up to the timeout (default \
10s; override it with the timeout parameter, e.g. '30s' or '5m'). If the command is still running \
when the timeout expires, the result includes a background_process_id: call process_output with \
that ID to re-attach and wait for the result. Use run_in_background=true for long-lived processes \
(dev servers, file watchers) or to keep working while the command runs. Never background a \
command with a trailing shell '&'.";

pub(crate) fn parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "command": {
                "type": "string",
                "description": "The shell command to run, under \"sh -c\" (POSIX)."
            },
            "timeout": {
                "type": "string",
                "description": "How long to wait for the command to finish, as a duration \
    such as '30s' or '5m' (default 10s). When it expires the command keeps running and the result \
    gives a background_process_id to re-attach with process_output. Foreground commands only."
            },
            "workdir": {
                "type": "string",
                "description": "The working directory of the command."
            },
            "run_in_background": {
                "type": "boolean",
                "description": "Start the command and return at once with its process ID, \
    for dev servers, watchers, or work to check on later with process_output. Use this instead of \
    a trailing shell '&', which leaves a process that process_output cannot read."
            }
        },
        "required": ["command"]
    })
}

/// Runs `execute` on `conn`.
pub(crate) async fn run(opts: &ToolOptions, conn: &dyn AgentConn, args: ExecuteArgs) -> ToolResult {
    if args.command.is_empty() {
        return ToolResult::error("command is required");
    }
    let mut command = args.command;
    let mut background = args.run_in_background.unwrap_or(false);
    if !background && let Some(stripped) = strip_trailing_ampersand(&command) {
        background = true;
        command = stripped;
    }
    let request = StartProcessRequest {
        command,
        // Go sends the workdir with `omitempty`: an empty one is no workdir.
        workdir: args.workdir.filter(|w| !w.is_empty()),
        env: Some(request_env()),
        background,
    };
    if background {
        return run_background(conn, &request).await;
    }
    let timeout = match args.timeout {
        None => GoDuration::from(opts.execute_timeout()),
        Some(text) => match GoDuration::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                return ToolResult::error(format!("invalid timeout {}: {e}", gojson::quote(&text)));
            }
        },
    };
    run_foreground(opts, conn, &request, timeout).await
}

/// The environment sent with each command.
pub fn request_env() -> BTreeMap<String, String> {
    NON_INTERACTIVE_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The command without its trailing `&` when the model backgrounded it with
/// the shell (`cmd &`), which would leave an untracked orphan; `None` when it
/// does not end in a lone `&` (`&&` and `|&` are not backgrounding).
pub fn strip_trailing_ampersand(command: &str) -> Option<String> {
    let trimmed = command.trim();
    if trimmed.ends_with('&') && !trimmed.ends_with("&&") && !trimmed.ends_with("|&") {
        let without = &trimmed[..trimmed.len() - 1];
        return Some(without.trim().to_string());
    }
    None
}

async fn run_background(conn: &dyn AgentConn, request: &StartProcessRequest) -> ToolResult {
    match conn.start_process(request).await {
        Ok(resp) => ExecuteResult {
            success: true,
            background_process_id: resp.id,
            ..Default::default()
        },
        Err(e) => ExecuteResult::failure(format!("start background process: {e}")),
    }
    .into_tool_result()
}

async fn run_foreground(
    opts: &ToolOptions,
    conn: &dyn AgentConn,
    request: &StartProcessRequest,
    timeout: GoDuration,
) -> ToolResult {
    let deadline = deadline_after(timeout);
    let start = Instant::now();
    // Started under the command's deadline (race R11 in `docs/races.md`): a
    // timeout that has already passed fails the start.
    let id = match until(deadline, conn.start_process(request)).await {
        Ok(resp) => resp.id,
        Err(e) => {
            let mut error = format!("start process: {e}");
            if error.contains(SH_NOT_FOUND) {
                error = format!("{error}\n\n{SH_NOT_FOUND_GUIDANCE}");
            }
            return ExecuteResult::failure(error).into_tool_result();
        }
    };
    let mut result = wait_for_process(opts, conn, &id, deadline, timeout).await;
    result.wall_duration_ms = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
    if let Some(note) = detect_file_dump(&request.command) {
        result.note = note.to_string();
    }
    result.into_tool_result()
}

/// One blocking wait for the process to exit, re-issued while the server's
/// wait cap answers "running" before our deadline. On any error (deadline or
/// transport, e.g. the EOF of a write timeout) a non-blocking snapshot
/// recovers what it can.
async fn wait_for_process(
    opts: &ToolOptions,
    conn: &dyn AgentConn,
    id: &str,
    deadline: Instant,
    timeout: GoDuration,
) -> ExecuteResult {
    let wait = OutputOptions { wait: true };
    let original = loop {
        match until(deadline, conn.process_output(id, wait)).await {
            Ok(resp) if !resp.running => return ExecuteResult::completed(&resp),
            Ok(resp) => {
                if Instant::now() < deadline {
                    // The server's cap ended the wait before our timeout.
                    continue;
                }
                return ExecuteResult::still_running(&resp, id, timed_out(timeout));
            }
            Err(e) => break e,
        }
    };
    let timed_out_now = Instant::now() >= deadline;
    if !timed_out_now && take_bug(&opts.bugs, Bug::NoSnapshotFallback) {
        // Before upstream #23383 (U3): a transport error ends the call without
        // a snapshot, losing the process id and whatever result the process
        // had.
        return ExecuteResult::failure(format!("get process output: {original}"));
    }
    sim_hooks::event("tools.execute.snapshot_fallback", || {
        format!("process {id}: {original} (timed out: {timed_out_now})")
    });
    match snapshot(opts, conn, id).await {
        Err(e) => ExecuteResult {
            exit_code: -1,
            error: if timed_out_now {
                format!("{}; failed to get output: {e}", timed_out(timeout))
            } else {
                format!("get process output: {original}; use process_output with ID {id} to retry")
            },
            background_process_id: id.to_string(),
            ..Default::default()
        },
        // The process finished: a transparent recovery.
        Ok(resp) if !resp.running => ExecuteResult::completed(&resp),
        Ok(resp) => {
            let error = if timed_out_now {
                timed_out(timeout)
            } else {
                format!(
                    "get process output: {original} (process still running, use process_output to check later)"
                )
            };
            ExecuteResult::still_running(&resp, id, error)
        }
    }
}

fn timed_out(timeout: GoDuration) -> String {
    format!("command timed out after {timeout}")
}

/// A non-blocking output read with a fresh [`ToolOptions::snapshot_timeout`].
pub(crate) async fn snapshot(
    opts: &ToolOptions,
    conn: &dyn AgentConn,
    id: &str,
) -> Result<agent_sdk::ProcessOutputResponse, CallError> {
    let deadline = Instant::now() + opts.snapshot_timeout;
    until(
        deadline,
        conn.process_output(id, OutputOptions { wait: false }),
    )
    .await
}
