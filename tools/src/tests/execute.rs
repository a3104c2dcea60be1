//! `execute` (`docs/design.md#clients`; the upstream `execute_test.go` cases).

use std::time::Duration;

use serde_json::json;
use sim_hooks::{Bug, BugSet};

use super::{
    SNAPSHOT_PATH, WAIT_PATH, assert_error_response, call, call_with, check_invalid_parameters,
    check_rejected, json_of,
};
use crate::execute::{NON_INTERACTIVE_ENV, strip_trailing_ampersand};
use crate::testing::{
    FakeConn, FixedResolver, Reply, Request, assert_result_snapshot, eof, exited, output_req,
    running, started, status,
};
use crate::{ChatTools, RESOLVER_MISSING, ToolOptions, ToolResult};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A conn whose process `proc-1` has started; its output reads are left to
/// the test to script.
fn proc_1_started() -> FakeConn {
    FakeConn::new().start(started("proc-1"))
}

/// A conn whose process `proc-1` exits with `output` and `code`.
fn finishing(output: &str, code: i32) -> FakeConn {
    proc_1_started().output(exited(output, code))
}

/// A conn whose process `proc-1` never exits: the blocking wait hangs until
/// the tool's timeout, and the snapshot read taken then gets `snapshot`.
fn never_finishing(snapshot: Reply<agent_sdk::ProcessOutputResponse>) -> FakeConn {
    proc_1_started().wait_hangs_then(snapshot)
}

/// A conn whose process `proc-1` starts and whose blocking wait dies with
/// EOF at 20 s (the server's write deadline); a snapshot read after that is
/// left to the test to script.
fn wait_cut_at_the_write_deadline() -> FakeConn {
    proc_1_started().output(Reply::after(
        Duration::from_secs(20),
        Reply::Err(eof(WAIT_PATH)),
    ))
}

/// A conn whose start request gets the agent's error answer.
fn failing_start(code: u16, message: &str, detail: &str) -> FakeConn {
    FakeConn::new().start(Reply::Err(status(
        "POST",
        "/api/v0/processes/start",
        code,
        message,
        Some(detail),
    )))
}

/// Runs `command` through `execute` with the `timeout` argument given as is.
async fn execute_within(conn: &FakeConn, command: &str, timeout: &str) -> ToolResult {
    let args = json!({"command": command, "timeout": timeout});
    call(conn, "execute", args).await
}

/// [`execute_within`] on tools with the `NoSnapshotFallback` bug switched on.
async fn execute_within_without_snapshot_fallback(
    conn: &FakeConn,
    command: &str,
    timeout: &str,
) -> ToolResult {
    let options = ToolOptions::with_bugs(BugSet::none().with(Bug::NoSnapshotFallback));
    let args = json!({"command": command, "timeout": timeout});
    call_with(options, conn, "execute", args).await
}

#[tokio::test]
async fn empty_command_is_an_error_response() {
    for args in [
        json!({"command": ""}),
        json!({}),
        json!(null),
        json!({"command": null}),
    ] {
        check_rejected("execute", args, "command is required").await;
    }
}

#[tokio::test]
async fn arguments_of_the_wrong_type_are_an_error_response() {
    check_invalid_parameters("execute", json!({"command": 5})).await;
}

#[test]
fn a_trailing_lone_ampersand_is_stripped() {
    for (command, want) in [
        ("cmd &", Some("cmd")),
        ("cmd&", Some("cmd")),
        ("  sleep 5   &  ", Some("sleep 5")),
        ("cmd1 && cmd2 &", Some("cmd1 && cmd2")),
        ("&", Some("")),
        ("cmd &&", None),
        ("cmd |&", None),
        ("cmd", None),
        ("echo a & echo b", None),
    ] {
        assert_eq!(
            strip_trailing_ampersand(command).as_deref(),
            want,
            "{command:?}"
        );
    }
}

#[tokio::test]
async fn ampersand_detection_promotes_to_background() {
    // (command, run_in_background, expect background, command sent)
    for (command, flag, background, sent) in [
        ("cmd &", None, true, "cmd"),
        ("cmd &&", None, false, "cmd &&"),
        ("cmd", None, false, "cmd"),
        ("cmd1 && cmd2 &", None, true, "cmd1 && cmd2"),
        ("cmd |&", None, false, "cmd |&"),
        ("cmd &", Some(true), true, "cmd &"),
        ("cmd &", Some(false), true, "cmd"),
    ] {
        let mut conn = proc_1_started();
        if !background {
            conn = conn.output(exited("", 0));
        }
        let mut args = json!({"command": command});
        if let Some(flag) = flag {
            args["run_in_background"] = json!(flag);
        }
        let result = call(&conn, "execute", args).await;
        let start = conn.start_request();
        assert_eq!(start.background, background, "{command:?} {flag:?}");
        assert_eq!(start.command, sent, "{command:?} {flag:?}");
        let id = json_of(&result)["background_process_id"].clone();
        assert_eq!(
            id == json!("proc-1"),
            background,
            "{command:?}: {}",
            result.text
        );
    }
}

#[tokio::test(start_paused = true)]
async fn foreground_success_returns_output_and_sends_the_non_interactive_env() {
    let conn = finishing("hello\n", 0);
    let result = call(&conn, "execute", json!({"command": "echo hello"})).await;
    assert_eq!(
        result.text,
        r#"{"success":true,"output":"hello\n","exit_code":0,"wall_duration_ms":0}"#
    );
    assert!(!result.is_error);
    let start = conn.start_request();
    let env = start.env.clone().unwrap_or_default();
    assert_eq!(
        env.get("CODER_CHAT_AGENT").map(String::as_str),
        Some("true")
    );
    for (k, v) in NON_INTERACTIVE_ENV {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(env.len(), NON_INTERACTIVE_ENV.len());
    assert!(!start.background);
    assert_eq!(start.workdir, None);
    assert_eq!(
        conn.requests(),
        vec![Request::Start(start), output_req("proc-1", true)]
    );
    assert_result_snapshot!("execute_foreground_success", result);
}

#[tokio::test]
async fn foreground_non_zero_exit_is_not_a_success() {
    let conn = finishing("boom\n", 42);
    let result = call(&conn, "execute", json!({"command": "exit 42"})).await;
    let v = json_of(&result);
    assert_eq!(v["success"], json!(false));
    assert_eq!(v["exit_code"], json!(42));
    assert_eq!(v.get("background_process_id"), None);
    assert_result_snapshot!("execute_foreground_non_zero_exit", result);
}

#[tokio::test]
async fn an_exit_without_a_code_counts_as_zero() {
    let conn = proc_1_started().output(Reply::Ok(agent_sdk::ProcessOutputResponse {
        output: "x".into(),
        truncated: None,
        running: false,
        exit_code: None,
    }));
    let v = json_of(&call(&conn, "execute", json!({"command": "true"})).await);
    assert_eq!(
        (v["success"].clone(), v["exit_code"].clone()),
        (json!(true), json!(0))
    );
}

#[tokio::test]
async fn background_execution_returns_the_process_id_without_waiting() {
    let conn = FakeConn::new().start(started("proc-7"));
    let result = call(
        &conn,
        "execute",
        json!({"command": "cat big.log", "run_in_background": true, "workdir": "/srv"}),
    )
    .await;
    // No file-dump note and no wait for background commands.
    assert_eq!(
        result.text,
        r#"{"success":true,"exit_code":0,"wall_duration_ms":0,"background_process_id":"proc-7"}"#
    );
    let start = conn.start_request();
    assert!(start.background);
    assert_eq!(start.workdir.as_deref(), Some("/srv"));
    assert_eq!(conn.requests().len(), 1);
    assert_result_snapshot!("execute_background", result);
}

#[tokio::test]
async fn background_start_error_is_error_json() {
    let conn = failing_start(
        500,
        "Failed to start process.",
        "fork/exec: resource temporarily unavailable",
    );
    let result = call(&conn, "execute", json!({"command": "srv &"})).await;
    assert_result_snapshot!("execute_background_start_error", result);
    let v = json_of(&result);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("start background process: POST http://agent:4/api/v0/processes/start")
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_returns_partial_output_and_the_process_id() {
    let conn = never_finishing(running("partial output\n"));
    let result = execute_within(&conn, "sleep 100", "50ms").await;
    let v = json_of(&result);
    assert_eq!(v["exit_code"], json!(-1));
    assert_eq!(v["error"], json!("command timed out after 50ms"));
    assert_eq!(v["output"], json!("partial output\n"));
    assert_eq!(v["background_process_id"], json!("proc-1"));
    assert_eq!(v["wall_duration_ms"], json!(50));
    assert_eq!(
        conn.requests()[1..],
        [output_req("proc-1", true), output_req("proc-1", false)]
    );
    assert_eq!(conn.request_times()[2], ms(50));
    assert_result_snapshot!("execute_timeout", result);
}

#[tokio::test(start_paused = true)]
async fn timeout_with_a_failing_snapshot_reports_both() {
    let conn = never_finishing(Reply::Err(eof(SNAPSHOT_PATH)));
    let result = execute_within(&conn, "sleep 100", "1.5s").await;
    assert_result_snapshot!("execute_timeout_snapshot_fails", result);
    assert_eq!(
        json_of(&result)["error"],
        json!(
            "command timed out after 1.5s; failed to get output: GET http://agent:4/api/v0/processes/proc-1/output: EOF"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_snapshot_is_cut_after_the_snapshot_timeout() {
    let conn = never_finishing(Reply::Hang);
    let result = execute_within(&conn, "sleep 100", "1s").await;
    let v = json_of(&result);
    assert_eq!(
        v["error"],
        json!("command timed out after 1s; failed to get output: context deadline exceeded")
    );
    // The wall time includes the 30 s snapshot budget.
    assert_eq!(v["wall_duration_ms"], json!(31_000));
}

#[tokio::test(start_paused = true)]
async fn the_default_timeout_comes_from_the_options_else_ten_seconds() {
    for (default, want) in [(Duration::ZERO, "10s"), (Duration::from_secs(90), "1m30s")] {
        let conn = never_finishing(running(""));
        let options = ToolOptions {
            default_timeout: default,
            ..Default::default()
        };
        let result = call_with(options, &conn, "execute", json!({"command": "sleep 1000"})).await;
        let v = json_of(&result);
        assert_eq!(v["error"], json!(format!("command timed out after {want}")));
        // Empty output is omitted, like Go's omitempty.
        assert_eq!(v.get("output"), None);
    }
}

#[tokio::test]
async fn an_invalid_timeout_is_an_error_response() {
    for (timeout, text) in [
        (
            "30",
            r#"invalid timeout "30": time: missing unit in duration "30""#,
        ),
        (
            "5 min",
            r#"invalid timeout "5 min": time: unknown unit " min" in duration "5 min""#,
        ),
        ("", r#"invalid timeout "": time: invalid duration """#),
    ] {
        check_rejected(
            "execute",
            json!({"command": "ls", "timeout": timeout}),
            text,
        )
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_zero_or_negative_timeout_fails_the_start() {
    for timeout in ["0", "0s", "-1s"] {
        let conn = FakeConn::new();
        let result = execute_within(&conn, "ls", timeout).await;
        assert_eq!(
            result.text,
            r#"{"success":false,"exit_code":0,"wall_duration_ms":0,"error":"start process: context deadline exceeded"}"#,
            "{timeout}"
        );
        assert!(conn.requests().is_empty(), "{timeout}");
    }
}

#[tokio::test]
async fn start_process_error_is_error_json_not_an_error_response() {
    let conn = failing_start(400, "Invalid request.", "workdir does not exist");
    let result = call(
        &conn,
        "execute",
        json!({"command": "ls", "workdir": "/nope"}),
    )
    .await;
    assert!(!result.is_error);
    assert!(
        result.text.contains("workdir does not exist"),
        "{}",
        result.text
    );
    assert_result_snapshot!("execute_start_process_error", result);
}

#[tokio::test]
async fn a_missing_shell_adds_guidance_to_the_start_error() {
    let conn = failing_start(
        500,
        "Failed to start process.",
        r#"exec: "sh": executable file not found in %PATH%"#,
    );
    let result = call(&conn, "execute", json!({"command": "ls"})).await;
    let error = json_of(&result)["error"].as_str().unwrap().to_string();
    assert!(error.starts_with("start process: "), "{error}");
    assert!(
        error.contains("\n\nThe workspace has no POSIX shell (sh)"),
        "{error}"
    );
}

#[tokio::test]
async fn process_output_error_reports_the_cause_and_the_process_id() {
    let conn = proc_1_started().wait_fails_then(eof(WAIT_PATH), Reply::Err(eof(SNAPSHOT_PATH)));
    let result = call(&conn, "execute", json!({"command": "make"})).await;
    let v = json_of(&result);
    assert_eq!(
        v["error"],
        json!(format!(
            "get process output: GET http://agent:4{WAIT_PATH}: EOF; use process_output with ID proc-1 to retry"
        ))
    );
    assert_eq!(v["background_process_id"], json!("proc-1"));
    assert_eq!(v["exit_code"], json!(-1));
    assert_result_snapshot!("execute_process_output_error", result);
}

#[tokio::test(start_paused = true)]
async fn transport_error_recovery_when_the_process_is_done() {
    // The blocking read dies with EOF at 20 s (the server's write deadline);
    // the snapshot finds the process exited: a transparent recovery.
    let conn = wait_cut_at_the_write_deadline().output(Reply::after(ms(5), exited("built\n", 0)));
    let result = execute_within(&conn, "make", "60s").await;
    assert_eq!(
        result.text,
        r#"{"success":true,"output":"built\n","exit_code":0,"wall_duration_ms":20005}"#
    );
    assert_result_snapshot!("execute_transport_error_recovery_process_done", result);
}

#[tokio::test(start_paused = true)]
async fn transport_error_while_the_process_still_runs() {
    let conn = wait_cut_at_the_write_deadline().output(running("compiling...\n"));
    let result = execute_within(&conn, "make", "60s").await;
    let v = json_of(&result);
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("process still running"), "{error}");
    assert!(error.contains("process_output"), "{error}");
    assert_eq!(v["background_process_id"], json!("proc-1"));
    assert_eq!(v["exit_code"], json!(-1));
    assert_result_snapshot!("execute_transport_error_process_still_running", result);
}

#[tokio::test(start_paused = true)]
async fn no_snapshot_fallback_bug_returns_the_bare_transport_error() {
    cov_mark::check!(no_snapshot_fallback);
    let conn = wait_cut_at_the_write_deadline();
    let result = execute_within_without_snapshot_fallback(&conn, "make", "60s").await;
    // No snapshot, no process id: the model cannot recover the result.
    assert_eq!(
        result.text,
        format!(
            r#"{{"success":false,"exit_code":0,"wall_duration_ms":20000,"error":"get process output: GET http://agent:4{WAIT_PATH}: EOF"}}"#
        )
    );
    assert_eq!(conn.requests().len(), 2);
    assert_result_snapshot!("execute_no_snapshot_fallback_bug", result);
}

#[tokio::test(start_paused = true)]
async fn no_snapshot_fallback_bug_still_snapshots_after_a_timeout() {
    let conn = never_finishing(running("partial"));
    let result = execute_within_without_snapshot_fallback(&conn, "x", "1s").await;
    assert_eq!(
        json_of(&result)["error"],
        json!("command timed out after 1s")
    );
    assert_eq!(conn.requests().last(), Some(&output_req("proc-1", false)));
}

#[tokio::test(start_paused = true)]
async fn the_wait_is_reissued_when_the_server_cap_answers_running_early() {
    let five_min = Duration::from_secs(300);
    let conn = proc_1_started()
        .output(Reply::after(five_min, running("half")))
        .output(Reply::after(Duration::from_secs(60), exited("all done", 0)));
    let result = execute_within(&conn, "long", "10m").await;
    assert_eq!(
        result.text,
        r#"{"success":true,"output":"all done","exit_code":0,"wall_duration_ms":360000}"#
    );
    assert_eq!(
        conn.requests()[1..],
        [output_req("proc-1", true), output_req("proc-1", true)]
    );
    // Re-issued at once, not after a pause.
    assert_eq!(conn.request_times()[2], five_min);
}

#[tokio::test(start_paused = true)]
async fn a_running_answer_at_the_deadline_is_a_timeout_with_its_output() {
    let conn = proc_1_started().output(Reply::after(Duration::from_secs(1), running("tick\n")));
    let result = execute_within(&conn, "watch", "1s").await;
    let v = json_of(&result);
    assert_eq!(v["error"], json!("command timed out after 1s"));
    assert_eq!(v["output"], json!("tick\n"));
    assert_eq!(v["background_process_id"], json!("proc-1"));
    // No snapshot: the running answer already carries the output.
    assert_eq!(conn.requests().len(), 2);
}

#[tokio::test]
async fn file_dump_commands_get_the_read_file_note() {
    for (command, sent, noted) in [
        ("cat foo.txt", "cat foo.txt", true),
        ("concatenate foo", "concatenate foo", false),
        ("rg -l TODO", "rg -l TODO", true),
        ("grep -r x", "grep -r x", false),
        (" cat foo.txt", " cat foo.txt", false),
    ] {
        let conn = finishing("contents", 0);
        let result = call(&conn, "execute", json!({"command": command})).await;
        assert_eq!(conn.start_request().command, sent);
        let note = json_of(&result).get("note").cloned();
        assert_eq!(note.is_some(), noted, "{command:?}");
    }
    let conn = finishing("contents", 0);
    let result = call(&conn, "execute", json!({"command": "cat foo.txt"})).await;
    assert_result_snapshot!("execute_file_dump_note", result);
}

#[tokio::test]
async fn output_over_32_kib_is_cut_on_a_character_boundary() {
    let big = format!("{}€ and more", "x".repeat(32 * 1024 - 1));
    let conn = finishing(&big, 0);
    let v = json_of(&call(&conn, "execute", json!({"command": "gen"})).await);
    let output = v["output"].as_str().unwrap();
    assert_eq!(output.len(), 32 * 1024 - 1);
    assert!(output.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn html_characters_are_escaped_like_go_json_marshal() {
    let conn = finishing("<a href=\"x\">&</a>", 0);
    let result = call(&conn, "execute", json!({"command": "curl x"})).await;
    assert!(
        result
            .text
            .contains(r#""output":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#),
        "{}",
        result.text
    );
}

#[tokio::test]
async fn an_empty_workdir_is_not_sent() {
    for (workdir, sent) in [("", None), ("/home/coder", Some("/home/coder"))] {
        let conn = finishing("", 0);
        call(
            &conn,
            "execute",
            json!({"command": "pwd", "workdir": workdir}),
        )
        .await;
        assert_eq!(conn.start_request().workdir.as_deref(), sent, "{workdir:?}");
    }
}

#[tokio::test]
async fn a_missing_resolver_or_a_resolver_error_is_an_error_response() {
    let tools = ChatTools::default();
    let args = json!({"command": "ls"});
    let result = tools.call_resolved("execute", None, args.clone()).await;
    assert_error_response(&result, RESOLVER_MISSING);

    let resolver = FixedResolver::error("workspace agent is not connected");
    let result = tools
        .call_resolved("execute", Some(&resolver), args.clone())
        .await;
    assert_error_response(&result, "workspace agent is not connected");

    let resolver = FixedResolver::conn(finishing("ok", 0));
    let result = tools.call_resolved("execute", Some(&resolver), args).await;
    assert_eq!(json_of(&result)["output"], json!("ok"));
}
