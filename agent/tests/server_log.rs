//! The `agent` binary's log: plain text when stderr is not a terminal, so a
//! log file or a collector reading a pipe never sees colour escape codes.

mod common;

use std::process::Stdio;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piped_log_has_no_ansi_escape_codes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = tokio::process::Command::new(cargo_bin!("agent"))
        .args(["--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .env("AGENT_TOKEN", "log-test-token")
        // Whatever the caller's environment says, log at info.
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn agent");
    common::listening_addr(&mut child).await;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let pid = Pid::from_raw(child.id().expect("pid") as i32);
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let mut log = String::new();
    tokio::time::timeout(Duration::from_secs(20), stderr.read_to_string(&mut log))
        .await
        .expect("the agent exits and closes stderr")
        .expect("read stderr");
    assert!(
        log.contains("agent listening"),
        "an info line is logged: {log:?}"
    );
    assert!(!log.contains("\x1b["), "no ANSI escape codes: {log:?}");
}
