//! The `agent` binary: serves the API on the given address, is driven
//! through the SDK, and on SIGTERM shuts down cleanly leaving no child
//! process behind.

mod common;

use std::process::Stdio;
use std::time::Duration;

use agent_sdk::{AgentConn, HttpAgentConn, OutputOptions, StartProcessRequest, TcpConnector};
use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Whether `pid` is a live (non-zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Waits (bounded) until `pid` is no longer alive; kills it if it is still
/// there, so a failing run leaves nothing behind either.
async fn gone(pid: i32) -> bool {
    for _ in 0..100 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_sdk_and_leaves_no_child_after_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let token = "binary-test-token";
    let mut child = tokio::process::Command::new(cargo_bin!("agent"))
        .args(["--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .env("AGENT_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn agent");
    let addr = common::listening_addr(&mut child).await;

    let conn = HttpAgentConn::new(TcpConnector { addr }).with_token(token);
    // A shell that reports its own pid and a grandchild's, then waits.
    let id = conn
        .start_process(&StartProcessRequest {
            command: "echo $$; sleep 300 & echo $!; wait".into(),
            ..StartProcessRequest::default()
        })
        .await
        .expect("start")
        .id;
    let pids: Vec<i32> = loop {
        let out = conn
            .process_output(&id, OutputOptions::default())
            .await
            .expect("output");
        let pids: Vec<i32> = out.output.lines().filter_map(|l| l.parse().ok()).collect();
        if pids.len() == 2 {
            break pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(pids.iter().all(|p| alive(*p)), "{pids:?} running");

    // The configured --dir is the default working directory.
    let pwd = conn
        .start_process(&StartProcessRequest {
            command: "pwd".into(),
            ..StartProcessRequest::default()
        })
        .await
        .expect("start pwd")
        .id;
    let out = conn
        .process_output(&pwd, OutputOptions { wait: true })
        .await
        .expect("wait");
    let expected = std::fs::canonicalize(dir.path()).expect("canonical");
    assert_eq!(out.output.trim(), expected.to_string_lossy());
    let listed = conn.list_processes().await.expect("list").processes;
    assert_eq!(listed.len(), 2);
    assert!(listed[0].running, "the shell is listed first, running");

    let agent_pid = Pid::from_raw(child.id().expect("pid") as i32);
    kill(agent_pid, Signal::SIGTERM).expect("SIGTERM");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("agent exits")
        .expect("wait");
    assert!(status.success(), "clean exit: {status:?}");
    for pid in pids {
        assert!(gone(pid).await, "process {pid} outlived the agent");
    }
}

#[test]
fn an_unknown_bug_switch_is_a_usage_error() {
    cargo_bin_cmd!("agent")
        .args(["--listen", "127.0.0.1:0", "--bug", "no-such-bug"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("unknown bug switch"))
        .stderr(predicates::str::contains("stale-output-read"));
}
