//! The upstream `agent/agentproc/api_test.go` suite, one Rust test per Go
//! subtest (same names, snake case), against a real agent on a loopback port
//! with real processes and temporary directories.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent::AgentConfig;
use agent::seams::UpdateEnvHook;
use common::{
    CHAT_A, CHAT_B, Client, TestAgent, TestAgentExt, real_agent_in_temp_home, real_seams,
};
use serde_json::{Value, json};

fn find<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed in {list:?}"))
}

/// Asserts an error answer: status and a substring of the message.
fn check_error(answer: &common::Answer, status: u16, message: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.json);
    assert!(
        answer.message().contains(message),
        "message {:?} should contain {message:?}",
        answer.message()
    );
    assert_eq!(
        answer.json.as_object().map(|o| o.contains_key("message")),
        Some(true),
        "JSON envelope: {:?}",
        answer.raw
    );
}

/// Starts `request` (a start body) on `agent`, waits for the exit, checks
/// that the final output answer has `expected` at `field`, then stops the
/// agent.
async fn check_run(agent: TestAgent, request: Value, field: &str, expected: Value) {
    let c = agent.client();
    let id = c.start_json(request.clone()).await;
    let answer = c.wait(&id).await;
    assert_eq!(answer.json[field], expected, "{request}: {:?}", answer.json);
    agent.stop().await;
}

/// Starts `pwd` with no workdir on `c` and checks that it ran in `dir`
/// (the shell reports the canonical path) and is listed with `dir` as given.
async fn check_default_workdir(c: &Client, dir: &Path) {
    let id = c.start("pwd").await;
    let out = c.wait(&id).await;
    let canonical = std::fs::canonicalize(dir).expect("canonical");
    assert_eq!(
        out.json["output"].as_str().expect("output").trim(),
        canonical.to_string_lossy()
    );
    assert_eq!(
        find(&c.list().await, &id)["workdir"],
        dir.to_string_lossy().as_ref()
    );
}

// ---- StartProcess ----------------------------------------------------------

#[tokio::test]
async fn start_process_foreground_command() {
    let (_home, agent, _) = real_agent_in_temp_home().await;
    let request = json!({ "command": "echo hello" });
    check_run(agent, request, "exit_code", json!(0)).await;
}

#[tokio::test]
async fn start_process_background_command() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c
        .start_json(json!({ "command": "echo bg", "background": true }))
        .await;
    c.wait(&id).await;
    assert_eq!(find(&c.list().await, &id)["background"], true);
    agent.stop().await;
}

#[tokio::test]
async fn start_process_empty_command() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let a = c
        .post("/api/v0/processes/start", r#"{"command": ""}"#)
        .await;
    check_error(&a, 400, "Command is required");
    agent.stop().await;
}

#[tokio::test]
async fn start_process_malformed_json() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let a = c.post("/api/v0/processes/start", "{not json").await;
    check_error(&a, 400, "valid JSON");
    assert!(a.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
    agent.stop().await;
}

#[tokio::test]
async fn start_process_custom_work_dir() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("marker.txt"), "x").expect("marker");
    let workdir = dir.path().to_string_lossy().to_string();
    let id = c
        .start_json(json!({ "command": "ls", "workdir": workdir }))
        .await;
    let out = c.wait(&id).await;
    assert_eq!(out.json["exit_code"], 0);
    assert!(
        out.json["output"]
            .as_str()
            .expect("output")
            .contains("marker.txt")
    );
    assert_eq!(find(&c.list().await, &id)["workdir"], workdir.as_str());
    agent.stop().await;
}

#[tokio::test]
async fn start_process_default_work_dir_is_home() {
    // The real env-info: `$HOME` (then the passwd entry).
    let config = AgentConfig::default();
    let mut seams = agent::Seams::real(config.wait_delay);
    seams.env = Arc::new(agent::seams::RealEnvInfo);
    let agent = TestAgent::start(config, seams).await;
    let home = agent::seams::EnvInfo::home_dir(&agent::seams::RealEnvInfo).expect("home");
    check_default_workdir(&agent.client(), &home).await;
    agent.stop().await;
}

#[tokio::test]
async fn start_process_default_work_dir_from_closure() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("configured dir");
    let config = AgentConfig {
        dir: Some(dir.path().to_path_buf()),
        ..AgentConfig::default()
    };
    let agent = TestAgent::real_with(config, home.path()).await;
    check_default_workdir(&agent.client(), dir.path()).await;
    agent.stop().await;
}

#[tokio::test]
async fn start_process_default_work_dir_closure_non_existent_falls_back_to_home() {
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig {
        dir: Some(home.path().join("does-not-exist")),
        ..AgentConfig::default()
    };
    let agent = TestAgent::real_with(config, home.path()).await;
    check_default_workdir(&agent.client(), home.path()).await;
    agent.stop().await;
}

#[tokio::test]
async fn start_process_default_work_dir_uses_injected_env_info_home() {
    let injected = tempfile::tempdir().expect("injected home");
    std::fs::write(injected.path().join("injected-marker"), "").expect("marker");
    let agent = TestAgent::real(injected.path()).await;
    let c = agent.client();
    let id = c.start("ls").await;
    let out = c.wait(&id).await;
    assert!(
        out.json["output"]
            .as_str()
            .expect("output")
            .contains("injected-marker")
    );
    assert_eq!(
        find(&c.list().await, &id)["workdir"],
        injected.path().to_string_lossy().as_ref()
    );
    agent.stop().await;
}

#[tokio::test]
async fn start_process_custom_env() {
    let (_home, agent, _) = real_agent_in_temp_home().await;
    let request = json!({ "command": "echo $MY_VAR", "env": { "MY_VAR": "custom-value" } });
    check_run(agent, request, "output", json!("custom-value\n")).await;
}

fn hook_adding(key: &'static str, value: &'static str) -> UpdateEnvHook {
    Arc::new(move |mut env: Vec<(String, String)>| {
        env.push((key.to_string(), value.to_string()));
        Ok(env)
    })
}

async fn agent_with_hook(hook: UpdateEnvHook) -> (tempfile::TempDir, TestAgent) {
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig::default();
    let mut seams = real_seams(&config, Some(home.path().to_path_buf()));
    seams.update_env = Some(hook);
    let agent = TestAgent::start(config, seams).await;
    (home, agent)
}

#[tokio::test]
async fn start_process_update_env_hook() {
    let (_home, agent) = agent_with_hook(hook_adding("HOOK_VAR", "from-hook")).await;
    let request = json!({ "command": "echo $HOOK_VAR" });
    check_run(agent, request, "output", json!("from-hook\n")).await;
}

#[tokio::test]
async fn start_process_update_env_hook_overridden_by_req_env() {
    let (_home, agent) = agent_with_hook(hook_adding("HOOK_VAR", "from-hook")).await;
    let request = json!({ "command": "echo $HOOK_VAR", "env": { "HOOK_VAR": "from-request" } });
    check_run(agent, request, "output", json!("from-request\n")).await;
}

#[tokio::test]
async fn start_process_update_env_hook_error_falls_back_to_agent_env() {
    let hook: UpdateEnvHook = Arc::new(|_| Err("hook broke".to_string()));
    let (_home, agent) = agent_with_hook(hook).await;
    let request = json!({ "command": "echo ${PATH:+has-path}" });
    check_run(agent, request, "output", json!("has-path\n")).await;
}

// ---- ListProcesses ---------------------------------------------------------

#[tokio::test]
async fn list_processes_no_processes() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let a = c.get("/api/v0/processes/list").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json, json!({ "processes": [] }));
    agent.stop().await;
}

#[tokio::test]
async fn list_processes_filter_by_chat_id() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let (a, b) = (c.chat(CHAT_A), c.chat(CHAT_B));
    for id in [
        a.start("echo a1").await,
        a.start("echo a2").await,
        b.start("echo b1").await,
    ] {
        c.wait(&id).await;
    }
    assert_eq!(a.list().await.len(), 2);
    assert_eq!(b.list().await.len(), 1);
    assert_eq!(c.list().await.len(), 3);
    agent.stop().await;
}

#[tokio::test]
async fn list_processes_chat_id_filtering() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let a = c.chat(CHAT_A);
    let id = a.start("echo scoped").await;
    c.wait(&id).await;
    assert_eq!(a.list().await.len(), 1);
    assert_eq!(c.chat(CHAT_B).list().await.len(), 0);
    assert_eq!(c.list().await.len(), 1);
    agent.stop().await;
}

#[tokio::test]
async fn list_processes_sort_and_limit() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    for i in 0..12 {
        let id = c.start(&format!("echo {i}")).await;
        c.wait(&id).await;
    }
    let list = c.list().await;
    assert_eq!(list.len(), 10);
    let started: Vec<i64> = list
        .iter()
        .map(|p| p["started_at_unix"].as_i64().expect("started_at"))
        .collect();
    assert!(
        started.windows(2).all(|w| w[0] >= w[1]),
        "non-increasing: {started:?}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn list_processes_running_processes_sorted_first() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let running = c.start("sleep 300").await;
    let exited = c.start("echo done").await;
    c.wait(&exited).await;
    let list = c.list().await;
    assert_eq!(list[0]["id"], running.as_str());
    assert_eq!(list[0]["running"], true);
    assert_eq!(list[1]["id"], exited.as_str());
    assert_eq!(list[1]["running"], false);
    agent.stop().await;
}

#[tokio::test]
async fn list_processes_mixed_running_and_exited() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let exited = c.start("exit 3").await;
    c.wait(&exited).await;
    let running = c.start("sleep 300").await;
    let list = c.list().await;
    let r = find(&list, &running);
    assert_eq!(r["running"], true);
    assert!(r.get("exit_code").is_none() && r.get("exited_at_unix").is_none());
    let e = find(&list, &exited);
    assert_eq!(e["running"], false);
    assert_eq!(e["exit_code"], 3);
    assert!(e["exited_at_unix"].as_i64().is_some());
    agent.stop().await;
}

// ---- ProcessOutput ---------------------------------------------------------

#[tokio::test]
async fn process_output_exited_process() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("echo finished").await;
    c.wait(&id).await;
    let a = c.output(&id).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["running"], false);
    assert_eq!(a.json["exit_code"], 0);
    assert!(
        a.json["output"]
            .as_str()
            .expect("output")
            .contains("finished")
    );
    agent.stop().await;
}

#[tokio::test]
async fn process_output_running_process() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 300").await;
    let a = c.output(&id).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["running"], true);
    assert!(a.json.get("exit_code").is_none(), "{:?}", a.json);
    agent.stop().await;
}

#[tokio::test]
async fn process_output_nonexistent_process() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let a = c.output("does-not-exist").await;
    check_error(&a, 404, "not found");
    assert_eq!(a.message(), "Process \"does-not-exist\" not found.");
    agent.stop().await;
}

#[tokio::test]
async fn process_output_chat_id_enforcement() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.chat(CHAT_A).start("echo secret").await;
    c.chat(CHAT_A).wait(&id).await;
    check_error(&c.chat(CHAT_B).output(&id).await, 404, "not found");
    assert_eq!(c.chat(CHAT_A).output(&id).await.status, 200);
    assert_eq!(c.output(&id).await.status, 200);
    agent.stop().await;
}

#[tokio::test]
async fn process_output_wait_for_exit() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 1; echo waited").await;
    let a = c.wait(&id).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["running"], false);
    assert_eq!(a.json["exit_code"], 0);
    assert_eq!(a.json["output"], "waited\n");
    agent.stop().await;
}

#[tokio::test]
async fn process_output_wait_already_exited() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("echo early").await;
    c.wait(&id).await;
    // The second wait returns at once: the buffer is already closed.
    let a = tokio::time::timeout(Duration::from_secs(30), c.wait(&id))
        .await
        .expect("immediate");
    assert_eq!(a.json["running"], false);
    assert_eq!(a.json["output"], "early\n");
    agent.stop().await;
}

#[tokio::test]
async fn process_output_wait_timeout() {
    // The server cap ends the wait: 200 with `running: true` and the output
    // so far. (Go's test ends the request context; over TCP that is a
    // client leaving, which ends the handler with no answer to read.)
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig {
        max_wait: Duration::from_millis(500),
        ..AgentConfig::default()
    };
    let agent = TestAgent::real_with(config, home.path()).await;
    let c = agent.client();
    let id = c.start("echo partial; sleep 300").await;
    let a = c.wait(&id).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["running"], true);
    assert!(a.json.get("exit_code").is_none());
    assert_eq!(a.json["output"], "partial\n");
    agent.stop().await;
}

#[tokio::test]
async fn process_output_concurrent_waiters() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 300").await;
    let w1 = tokio::spawn({
        let (c, id) = (c.clone(), id.clone());
        async move { c.wait(&id).await }
    });
    let w2 = tokio::spawn({
        let (c, id) = (c.clone(), id.clone());
        async move { c.wait(&id).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.signal(&id, "kill").await.status, 200);
    for w in [w1, w2] {
        let a = w.await.expect("waiter");
        assert_eq!(a.status, 200);
        assert_eq!(a.json["running"], false);
        assert_eq!(a.json["exit_code"], -1);
    }
    agent.stop().await;
}

// ---- SignalProcess ---------------------------------------------------------

async fn check_signal_ends_process(signal: &str) {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 300").await;
    let a = c.signal(&id, signal).await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(
        a.message(),
        format!("Signal \"{signal}\" sent to process \"{id}\".")
    );
    let out = c.wait(&id).await;
    assert_eq!(out.json["running"], false);
    assert_eq!(out.json["exit_code"], -1, "death by signal is -1");
    agent.stop().await;
}

#[tokio::test]
async fn signal_process_kill_running() {
    check_signal_ends_process("kill").await;
}

#[tokio::test]
async fn signal_process_terminate_running() {
    check_signal_ends_process("terminate").await;
}

#[tokio::test]
async fn signal_process_nonexistent_process() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    check_error(&c.signal("nope", "kill").await, 404, "not found");
    agent.stop().await;
}

#[tokio::test]
async fn signal_process_already_exited_process() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("true").await;
    c.wait(&id).await;
    let a = c.signal(&id, "kill").await;
    check_error(&a, 409, "not running");
    assert_eq!(a.message(), format!("Process \"{id}\" is not running."));
    agent.stop().await;
}

#[tokio::test]
async fn signal_process_empty_signal() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 300").await;
    check_error(&c.signal(&id, "").await, 400, "Signal is required");
    agent.stop().await;
}

#[tokio::test]
async fn signal_process_invalid_signal() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 300").await;
    let a = c.signal(&id, "hup").await;
    check_error(&a, 400, "Unsupported signal");
    assert_eq!(
        a.message(),
        "Unsupported signal \"hup\". Use \"kill\" or \"terminate\"."
    );
    agent.stop().await;
}

// ---- PathStore feeder ------------------------------------------------------

#[tokio::test]
async fn handle_start_process_chat_headers_empty_work_dir_still_notifies() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let chat = uuid::Uuid::parse_str(CHAT_A).expect("uuid");
    let mut sub = agent.agent.paths().subscribe(chat);
    let id = c.chat(CHAT_A).start("true").await;
    tokio::time::timeout(Duration::from_secs(10), sub.changed())
        .await
        .expect("notified after exit");
    assert_eq!(c.output(&id).await.json["running"], false);
    assert_eq!(agent.agent.paths().get_paths(chat), None, "no paths stored");
    agent.stop().await;
}

#[tokio::test]
async fn handle_start_process_chat_headers_with_work_dir_adds_the_path() {
    let (home, agent, c) = real_agent_in_temp_home().await;
    let chat = uuid::Uuid::parse_str(CHAT_A).expect("uuid");
    let ancestor = uuid::Uuid::parse_str(CHAT_B).expect("uuid");
    let mut sub = agent.agent.paths().subscribe(ancestor);
    let workdir = home.path().to_string_lossy().to_string();
    c.chat(CHAT_A)
        .header("Coder-Ancestor-Chat-Ids", &format!("[\"{CHAT_B}\"]"))
        .start_json(json!({ "command": "true", "workdir": workdir }))
        .await;
    tokio::time::timeout(Duration::from_secs(10), sub.changed())
        .await
        .expect("ancestor notified after exit");
    for c in [chat, ancestor] {
        assert_eq!(
            agent.agent.paths().get_paths(c),
            Some(vec![workdir.clone()])
        );
    }
    agent.stop().await;
}

// ---- ProcessLifecycle ------------------------------------------------------

#[tokio::test]
async fn process_lifecycle_start_wait_check_output() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("echo line1; echo line2").await;
    let a = c.wait(&id).await;
    let out = a.json["output"].as_str().expect("output");
    assert!(out.contains("line1") && out.contains("line2"), "{out}");
    agent.stop().await;
}

#[tokio::test]
async fn process_lifecycle_non_zero_exit_code() {
    let (_home, agent, _) = real_agent_in_temp_home().await;
    let request = json!({ "command": "exit 42" });
    check_run(agent, request, "exit_code", json!(42)).await;
}

#[tokio::test]
async fn process_lifecycle_start_signal_verify_exit() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    let id = c.start("sleep 300").await;
    assert_eq!(c.output(&id).await.json["running"], true);
    assert_eq!(c.signal(&id, "kill").await.status, 200);
    let a = c.wait(&id).await;
    assert_eq!(a.json["running"], false);
    assert!(a.json["exit_code"].is_i64());
    agent.stop().await;
}

#[tokio::test]
async fn process_lifecycle_output_exceeds_buffer() {
    let (_home, agent, c) = real_agent_in_temp_home().await;
    // 100,000 lines of 10 bytes: far beyond 16 KiB head + 16 KiB tail.
    let id = c.start("seq 1000000 1099999").await;
    let a = c.wait(&id).await;
    let t = &a.json["truncated"];
    assert_eq!(t["strategy"], "head_tail");
    let omitted = t["omitted_bytes"].as_u64().expect("omitted");
    let original = t["original_bytes"].as_u64().expect("original");
    let retained = t["retained_bytes"].as_u64().expect("retained");
    assert!(omitted > 0 && original > retained, "{t:?}");
    assert_eq!(original, 800_000);
    let out = a.json["output"].as_str().expect("output");
    assert!(out.contains("[omitted"), "marker present");
    assert!(out.trim_end().ends_with("1099999"), "tail is final");
    agent.stop().await;
}

#[tokio::test]
async fn process_lifecycle_stderr_captured() {
    let (_home, agent, _) = real_agent_in_temp_home().await;
    let request = json!({ "command": "echo to-stdout; echo to-stderr >&2" });
    check_run(agent, request, "output", json!("to-stdout\nto-stderr\n")).await;
}
