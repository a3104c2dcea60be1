//! `process_output`, `process_list`, `process_signal`
//! (`docs/design.md#clients`).

use std::time::Duration;

use agent_sdk::{ListProcessesResponse, ProcessInfo, ProcessOutputResponse, Truncation};
use serde_json::json;
use sim_hooks::{Bug, BugSet};

use super::{
    SNAPSHOT_PATH, WAIT_PATH, assert_error_response, call, call_with, check_rejected, json_of,
};
use crate::testing::{
    FakeConn, FixedResolver, Reply, Request, assert_result_snapshot, eof, exited, output_req,
    running, status,
};
use crate::{ChatTools, RESOLVER_MISSING, ToolOptions, ToolResult};

fn not_found(path: &str) -> agent_sdk::SdkError {
    status("GET", path, 404, "Process not found.", None)
}

/// Calls `process_output` for `proc-1` with no other argument and default
/// options.
async fn output_of_proc_1(conn: &FakeConn) -> ToolResult {
    call(conn, "process_output", json!({"process_id": "proc-1"})).await
}

// ---- process_output ------------------------------------------------------------

#[tokio::test]
async fn process_output_requires_a_process_id() {
    for args in [json!({}), json!({"process_id": ""}), json!(null)] {
        check_rejected("process_output", args, "process_id is required").await;
    }
}

#[tokio::test]
async fn process_output_rejects_an_invalid_wait_timeout() {
    check_rejected(
        "process_output",
        json!({"process_id": "proc-1", "wait_timeout": "10"}),
        r#"invalid wait_timeout "10": time: missing unit in duration "10""#,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn process_output_of_an_exited_process() {
    let conn = FakeConn::new().output(Reply::after(Duration::from_secs(2), exited("done\n", 0)));
    let result = output_of_proc_1(&conn).await;
    // No wall time in process_output results.
    assert_eq!(
        result.text,
        r#"{"success":true,"output":"done\n","exit_code":0,"wall_duration_ms":0}"#
    );
    assert_eq!(conn.requests(), [output_req("proc-1", true)]);
    assert_result_snapshot!("process_output_exited", result);
}

#[tokio::test]
async fn process_output_of_a_failed_process() {
    let conn = FakeConn::new().output(exited("oops\n", 2));
    let v = json_of(&output_of_proc_1(&conn).await);
    assert_eq!(
        (v["success"].clone(), v["exit_code"].clone()),
        (json!(false), json!(2))
    );
}

#[tokio::test(start_paused = true)]
async fn process_output_still_running_after_the_wait() {
    // The 10 s wait ends on our side; the snapshot shows the process running.
    let conn = FakeConn::new().wait_hangs_then(Reply::Ok(ProcessOutputResponse {
        output: "serving on :8080\n".into(),
        truncated: Some(Truncation {
            original_bytes: 40_000,
            retained_bytes: 32_768,
            omitted_bytes: 7_232,
            strategy: "head_tail".into(),
        }),
        running: true,
        exit_code: None,
    }));
    let result = output_of_proc_1(&conn).await;
    let v = json_of(&result);
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["note"], json!("process is still running"));
    assert_eq!(v["exit_code"], json!(0));
    assert_eq!(
        conn.requests(),
        [output_req("proc-1", true), output_req("proc-1", false)]
    );
    assert_eq!(conn.request_times()[1], Duration::from_secs(10));
    assert_result_snapshot!("process_output_running", result);
}

#[tokio::test(start_paused = true)]
async fn process_output_wait_timeout_overrides_the_wait() {
    let conn = FakeConn::new().wait_hangs_then(running("x"));
    let args = json!({"process_id": "proc-1", "wait_timeout": "1m30s"});
    call(&conn, "process_output", args).await;
    assert_eq!(conn.request_times()[1], Duration::from_secs(90));

    let conn = FakeConn::new().wait_hangs_then(running("x"));
    let options = ToolOptions {
        process_output_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    call_with(
        options,
        &conn,
        "process_output",
        json!({"process_id": "proc-1"}),
    )
    .await;
    assert_eq!(conn.request_times()[1], Duration::from_secs(3));
}

#[tokio::test]
async fn process_output_zero_wait_takes_a_plain_snapshot() {
    for wait in ["0s", "0", "-5s"] {
        let conn = FakeConn::new().output(running("so far"));
        let args = json!({"process_id": "proc-1", "wait_timeout": wait});
        let v = json_of(&call(&conn, "process_output", args).await);
        assert_eq!(v["output"], json!("so far"));
        assert_eq!(conn.requests(), [output_req("proc-1", false)], "{wait}");
    }
}

#[tokio::test]
async fn process_output_recovers_from_a_transport_error_with_a_snapshot() {
    let conn = FakeConn::new().wait_fails_then(eof(WAIT_PATH), exited("finished\n", 0));
    let result = output_of_proc_1(&conn).await;
    assert_eq!(
        result.text,
        r#"{"success":true,"output":"finished\n","exit_code":0,"wall_duration_ms":0}"#
    );
    assert_result_snapshot!("process_output_after_transport_error", result);
}

#[tokio::test]
async fn process_output_reports_the_snapshot_error_when_both_reads_fail() {
    let conn = FakeConn::new().wait_fails_then(eof(WAIT_PATH), Reply::Err(eof(SNAPSHOT_PATH)));
    let result = output_of_proc_1(&conn).await;
    assert_eq!(
        result.text,
        format!(
            r#"{{"success":false,"exit_code":0,"wall_duration_ms":0,"error":"get process output: GET http://agent:4{SNAPSHOT_PATH}: EOF"}}"#
        )
    );
}

#[tokio::test]
async fn process_output_of_an_unknown_or_foreign_process() {
    let conn =
        FakeConn::new().wait_fails_then(not_found(WAIT_PATH), Reply::Err(not_found(SNAPSHOT_PATH)));
    let result = output_of_proc_1(&conn).await;
    assert_eq!(
        json_of(&result)["error"],
        json!(format!(
            "get process output: GET http://agent:4{SNAPSHOT_PATH}: unexpected status code 404: Process not found."
        ))
    );
    assert_result_snapshot!("process_output_unknown_id", result);
}

#[tokio::test]
async fn process_output_no_snapshot_fallback_bug_returns_the_bare_error() {
    cov_mark::check!(no_snapshot_fallback);
    let conn = FakeConn::new().output(Reply::Err(eof(WAIT_PATH)));
    let options = ToolOptions::with_bugs(BugSet::none().with(Bug::NoSnapshotFallback));
    let result = call_with(
        options,
        &conn,
        "process_output",
        json!({"process_id": "proc-1"}),
    )
    .await;
    assert_eq!(
        json_of(&result)["error"],
        json!(format!(
            "get process output: GET http://agent:4{WAIT_PATH}: EOF"
        ))
    );
    assert_eq!(conn.requests().len(), 1);
}

#[tokio::test]
async fn process_output_caps_output_at_32_kib() {
    let conn = FakeConn::new().output(exited(&"y".repeat(40_000), 0));
    let v = json_of(&output_of_proc_1(&conn).await);
    assert_eq!(v["output"].as_str().map(str::len), Some(32 * 1024));
}

#[tokio::test]
async fn process_output_checks_the_id_before_resolving_but_after_the_resolver_exists() {
    let tools = ChatTools::default();
    let result = tools
        .call_resolved("process_output", None, json!({"process_id": ""}))
        .await;
    assert_error_response(&result, RESOLVER_MISSING);

    let resolver = FixedResolver::error("no workspace");
    let result = tools
        .call_resolved("process_output", Some(&resolver), json!({"process_id": ""}))
        .await;
    assert_error_response(&result, "process_id is required");
    assert_eq!(resolver.calls(), 0);

    let result = tools
        .call_resolved(
            "process_output",
            Some(&resolver),
            json!({"process_id": "p"}),
        )
        .await;
    assert_error_response(&result, "no workspace");
    assert_eq!(resolver.calls(), 1);
}

// ---- process_list --------------------------------------------------------------

#[tokio::test]
async fn process_list_returns_the_agents_answer_verbatim() {
    let list = ListProcessesResponse {
        processes: vec![
            ProcessInfo {
                id: "proc-2".into(),
                command: "npm run dev".into(),
                workdir: Some("/home/coder/app".into()),
                background: true,
                running: true,
                exit_code: None,
                started_at_unix: 1_767_225_600,
                exited_at_unix: None,
            },
            ProcessInfo {
                id: "proc-1".into(),
                command: "make test".into(),
                workdir: None,
                background: false,
                running: false,
                exit_code: Some(1),
                started_at_unix: 1_767_225_500,
                exited_at_unix: Some(1_767_225_510),
            },
        ],
    };
    let conn = FakeConn::new().list(Reply::Ok(list.clone()));
    let result = call(&conn, "process_list", json!({})).await;
    let back: ListProcessesResponse = serde_json::from_str(&result.text).unwrap();
    assert_eq!(back, list);
    assert_eq!(conn.requests(), [Request::List]);
    assert_result_snapshot!("process_list", result);
}

#[tokio::test]
async fn process_list_error_is_error_json() {
    let conn = FakeConn::new().list(Reply::Err(status(
        "GET",
        "/api/v0/processes/list",
        500,
        "Internal error.",
        None,
    )));
    let result = call(&conn, "process_list", json!(null)).await;
    assert_eq!(
        result.text,
        r#"{"success":false,"exit_code":0,"wall_duration_ms":0,"error":"list processes: GET http://agent:4/api/v0/processes/list: unexpected status code 500: Internal error."}"#
    );
}

// ---- process_signal ------------------------------------------------------------

#[tokio::test]
async fn process_signal_validates_its_arguments() {
    for (args, text) in [
        (json!({"signal": "kill"}), "process_id is required"),
        (
            json!({"process_id": "p", "signal": "stop"}),
            r#"signal must be "terminate" or "kill""#,
        ),
        (
            json!({"process_id": "p"}),
            r#"signal must be "terminate" or "kill""#,
        ),
        (
            json!({"process_id": "p", "signal": "KILL"}),
            r#"signal must be "terminate" or "kill""#,
        ),
    ] {
        check_rejected("process_signal", args, text).await;
    }
}

#[tokio::test]
async fn process_signal_success_message() {
    for signal in ["terminate", "kill"] {
        let conn = FakeConn::new().signal(Reply::Ok(()));
        let args = json!({"process_id": "proc-3", "signal": signal});
        let result = call(&conn, "process_signal", args).await;
        assert_eq!(
            result.text,
            format!(r#"{{"message":"signal \"{signal}\" sent to process proc-3","success":true}}"#)
        );
        assert_eq!(
            conn.requests(),
            [Request::Signal {
                id: "proc-3".into(),
                signal: signal.into()
            }]
        );
    }
    let conn = FakeConn::new().signal(Reply::Ok(()));
    let args = json!({"process_id": "proc-3", "signal": "terminate"});
    assert_result_snapshot!("process_signal", call(&conn, "process_signal", args).await);
}

#[tokio::test]
async fn process_signal_failure_is_error_json() {
    let conn = FakeConn::new().signal(Reply::Err(status(
        "POST",
        "/api/v0/processes/proc-3/signal",
        409,
        "Process is not running.",
        None,
    )));
    let args = json!({"process_id": "proc-3", "signal": "kill"});
    let result = call(&conn, "process_signal", args).await;
    assert!(!result.is_error);
    assert_eq!(
        json_of(&result)["error"],
        json!(
            "signal process: POST http://agent:4/api/v0/processes/proc-3/signal: unexpected status code 409: Process is not running."
        )
    );
    assert_result_snapshot!("process_signal_error", result);
}
