//! The process table's limits and hygiene, against a real agent on a
//! loopback port with real processes: finished processes are evicted by
//! count and by age without any `list` call, shutdown kills groups whose
//! leader already exited, start requests the OS would misread are 400s, and
//! the agent's token never reaches a child's environment.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent::AgentConfig;
use agent::seams::{FixedEnvInfo, UpdateEnvHook};
use common::{Client, TestAgent, TestAgentExt, real_seams};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// Safety bound for anything that should happen "soon" (not a performance claim).
const SOON: Duration = Duration::from_secs(5);

/// A real agent with `config`, its home a fresh temporary directory.
async fn agent_with(config: AgentConfig) -> (tempfile::TempDir, TestAgent, Client) {
    let home = tempfile::tempdir().expect("home");
    let agent = TestAgent::real_with(config, home.path()).await;
    let client = agent.client();
    (home, agent, client)
}

/// Starts `command`, waits for its exit and checks it exited 0.
async fn run_to_exit(c: &Client, command: &str) -> String {
    let id = c.start(command).await;
    let out = c.wait(&id).await;
    assert_eq!(out.json["exit_code"], 0, "{command}: {:?}", out.json);
    id
}

/// Polls the output of `id` until it answers 404 (evicted), within [`SOON`].
async fn wait_until_evicted(c: &Client, id: &str) -> bool {
    let until = tokio::time::Instant::now() + SOON;
    while tokio::time::Instant::now() < until {
        if c.output(id).await.status == 404 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

// ---- Eviction --------------------------------------------------------------

#[tokio::test]
async fn finished_processes_beyond_the_cap_are_evicted_oldest_first() {
    let config = AgentConfig {
        max_finished_processes: 3,
        ..AgentConfig::default()
    };
    let (_home, agent, c) = agent_with(config).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(run_to_exit(&c, &format!("echo {i}")).await);
    }
    for (i, id) in ids.iter().enumerate() {
        let status = c.output(id).await.status;
        let expected = if i < 2 { 404 } else { 200 };
        assert_eq!(status, expected, "process {i} of 5 with a cap of 3");
        let signal = c.signal(id, "kill").await.status;
        let expected = if i < 2 { 404 } else { 409 };
        assert_eq!(signal, expected, "signal to process {i}");
    }
    agent.stop().await;
}

#[tokio::test]
async fn running_processes_do_not_count_against_the_cap_and_are_never_evicted() {
    let config = AgentConfig {
        max_finished_processes: 1,
        ..AgentConfig::default()
    };
    let (_home, agent, c) = agent_with(config).await;
    let running = c.start("sleep 300").await;
    let first = run_to_exit(&c, "echo first").await;
    let second = run_to_exit(&c, "echo second").await;
    assert_eq!(c.output(&running).await.json["running"], true);
    assert_eq!(c.output(&first).await.status, 404);
    assert_eq!(c.output(&second).await.status, 200);
    agent.stop().await;
}

#[tokio::test]
async fn the_sweeper_evicts_old_finished_processes_without_list_calls() {
    let config = AgentConfig {
        reap_age: Duration::from_millis(100),
        reap_interval: Duration::from_millis(50),
        ..AgentConfig::default()
    };
    let (_home, agent, c) = agent_with(config).await;
    let running = c.start("sleep 300").await;
    let finished = run_to_exit(&c, "echo bye").await;
    assert!(
        wait_until_evicted(&c, &finished).await,
        "the finished process is still there after {SOON:?}"
    );
    assert_eq!(c.output(&running).await.status, 200, "running: kept");
    agent.stop().await;
}

#[tokio::test]
async fn the_sweeper_stops_when_the_manager_shuts_down() {
    let config = AgentConfig {
        reap_interval: Duration::from_secs(3600),
        ..AgentConfig::default()
    };
    let (_home, agent, _) = agent_with(config).await;
    let sweeper = agent.agent.processes().spawn_sweeper();
    agent.agent.processes().shutdown().await;
    tokio::time::timeout(SOON, sweeper)
        .await
        .expect("the sweeper ends on shutdown, not at its next tick")
        .expect("the sweeper does not panic");
    agent.stop().await;
}

// ---- Shutdown --------------------------------------------------------------

/// Whether `pid` is gone: no such process, or a zombie nobody reaped yet.
fn is_gone(pid: Pid) -> bool {
    if kill(pid, None) == Err(Errno::ESRCH) {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, after_name) = stat.rsplit_once(')')?;
            after_name.split_whitespace().next().map(|s| s == "Z")
        })
        .unwrap_or(true)
}

/// Starts a shell that leaves `sleep 300` running in its group and exits,
/// shuts the agent down, and checks that the sleep was killed (within
/// [`SOON`]). The sleep's output goes to /dev/null so the shell's output
/// pipe closes when it exits.
async fn check_shutdown_kills_group_of_exited_leader(config: AgentConfig) {
    let dir = tempfile::tempdir().expect("dir");
    let pid_file = dir.path().join("grandchild.pid");
    let evicted_at_once = config.max_finished_processes == 0;
    let (_home, agent, c) = agent_with(config).await;
    let command = format!(
        "sleep 300 >/dev/null 2>&1 & echo $! > '{}'; echo started",
        pid_file.display()
    );
    let id = c.start(&command).await;
    let out = c.wait(&id).await;
    if evicted_at_once && out.status == 404 {
        // The shell exited and was evicted before the wait was answered.
        let until = tokio::time::Instant::now() + SOON;
        while !pid_file.exists() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else {
        assert_eq!(out.json["output"], "started\n", "{:?}", out.json);
        assert_eq!(out.json["running"], false);
    }
    let pid = read_pid(&pid_file);
    assert!(!is_gone(pid), "the grandchild outlives its shell");

    agent.stop().await;

    let until = tokio::time::Instant::now() + SOON;
    while !is_gone(pid) && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gone = is_gone(pid);
    if !gone {
        let _ = kill(pid, Signal::SIGKILL);
    }
    assert!(gone, "grandchild {pid} survived the shutdown");
}

fn read_pid(path: &Path) -> Pid {
    let text = std::fs::read_to_string(path).expect("pid file");
    Pid::from_raw(text.trim().parse().expect("a pid"))
}

#[tokio::test]
async fn shutdown_kills_the_group_of_a_process_whose_leader_exited() {
    check_shutdown_kills_group_of_exited_leader(AgentConfig::default()).await;
}

#[tokio::test]
async fn shutdown_kills_the_group_of_an_evicted_process() {
    let config = AgentConfig {
        max_finished_processes: 0,
        ..AgentConfig::default()
    };
    check_shutdown_kills_group_of_exited_leader(config).await;
}

// ---- Bad input ------------------------------------------------------------

/// Sends the start body `body` and checks it is refused with 400 and
/// exactly `message`, and that nothing was started.
async fn check_refused(c: &Client, body: Value, message: &str) {
    let a = c.post("/api/v0/processes/start", &body.to_string()).await;
    assert_eq!(a.status, 400, "{body}: {:?}", a.json);
    assert_eq!(a.message(), message, "{body}");
    assert!(c.list().await.is_empty(), "{body}: a process was started");
}

#[tokio::test]
async fn start_requests_the_os_would_misread_are_refused_with_400() {
    let (home, agent, c) = agent_with(AgentConfig::default()).await;
    let file = home.path().join("a.txt");
    std::fs::write(&file, "x").expect("file");
    let file = file.to_string_lossy().into_owned();
    let missing = home.path().join("missing").to_string_lossy().into_owned();
    let cases = [
        (
            json!({"command": "true", "env": {"": "x"}}),
            r#"Invalid environment variable name "": it must not be empty."#.to_string(),
        ),
        (
            json!({"command": "true", "env": {"A=B": "x"}}),
            r#"Invalid environment variable name "A=B": it must not contain "="."#.to_string(),
        ),
        (
            json!({"command": "true", "env": {"A\u{0}B": "x"}}),
            r#"Invalid environment variable name "A\0B": it must not contain a NUL byte."#
                .to_string(),
        ),
        (
            json!({"command": "true", "env": {"A": "x\u{0}y"}}),
            r#"Invalid value of environment variable "A": it must not contain a NUL byte."#
                .to_string(),
        ),
        (
            json!({"command": "echo a\u{0}b"}),
            "Invalid command: it must not contain a NUL byte.".to_string(),
        ),
        (
            json!({"command": "true", "workdir": "/tmp\u{0}x"}),
            r#"Invalid working directory "/tmp\0x": it must not contain a NUL byte."#.to_string(),
        ),
        (
            json!({"command": "true", "workdir": missing}),
            format!("Working directory {missing:?} does not exist."),
        ),
        (
            json!({"command": "true", "workdir": format!("{file}/sub")}),
            format!("Working directory \"{file}/sub\" does not exist."),
        ),
        (
            json!({"command": "true", "workdir": file}),
            format!("Working directory {file:?} is not a directory."),
        ),
    ];
    for (body, message) in cases {
        check_refused(&c, body, &message).await;
    }
    agent.stop().await;
}

// ---- The agent's token -----------------------------------------------------

/// Runs `env` on an agent whose own environment is `AGENT_TOKEN=agent-secret`
/// and `VISIBLE=yes` (through `hook` when given), with the request's `env`,
/// and checks the child's `AGENT_TOKEN` line is `expected` (`None`: absent)
/// while the rest of the environment is inherited.
async fn check_child_token(
    hook: Option<UpdateEnvHook>,
    request_env: Value,
    expected: Option<&str>,
) {
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig::default();
    let mut seams = real_seams(&config, Some(home.path().to_path_buf()));
    let mut vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k == "PATH").collect();
    vars.push(("AGENT_TOKEN".into(), "agent-secret".into()));
    vars.push(("VISIBLE".into(), "yes".into()));
    seams.env = Arc::new(FixedEnvInfo {
        home: Some(home.path().to_path_buf()),
        vars,
    });
    seams.update_env = hook;
    let agent = TestAgent::start(config, seams).await;
    let c = agent.client();
    let id = c
        .start_json(json!({"command": "env", "env": request_env}))
        .await;
    let out = c.wait(&id).await;
    let output = out.json["output"].as_str().expect("output").to_string();
    let token = output
        .lines()
        .find_map(|line| line.strip_prefix("AGENT_TOKEN="));
    assert_eq!(token, expected, "child env:\n{output}");
    assert!(output.lines().any(|l| l == "VISIBLE=yes"), "{output}");
    agent.stop().await;
}

#[tokio::test]
async fn the_agent_token_is_not_inherited_by_children() {
    check_child_token(None, json!({}), None).await;
}

#[tokio::test]
async fn the_agent_token_is_removed_after_the_update_env_hook() {
    let hook: UpdateEnvHook = Arc::new(|mut env: Vec<(String, String)>| {
        env.push(("AGENT_TOKEN".into(), "from-hook".into()));
        Ok(env)
    });
    check_child_token(Some(hook), json!({}), None).await;
}

#[tokio::test]
async fn a_request_may_give_its_child_an_agent_token_explicitly() {
    let request_env = json!({"AGENT_TOKEN": "chosen-by-caller"});
    check_child_token(None, request_env, Some("chosen-by-caller")).await;
}
