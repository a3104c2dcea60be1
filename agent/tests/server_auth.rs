//! Authentication: with a token configured, every request (routes,
//! fallbacks, the git-watch WebSocket upgrade) needs `Authorization: Bearer
//! <token>`, else 401 with the JSON envelope; without one (`--no-auth`)
//! requests pass. And the binary's token sources: `$AGENT_TOKEN`, then
//! `--token-file` (created 0600 when missing, refused when others may read
//! it), then a fresh token printed on stderr; `--no-auth` only on loopback.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use agent::AgentConfig;
use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use common::{Client, TEST_TOKEN, TestAgent, TestAgentExt, real_agent_in_temp_home, real_seams};
use http::Method;
use tokio::io::{AsyncBufReadExt, BufReader};

const LIST: &str = "/api/v0/processes/list";
const WATCH: &str = "/api/v0/git/watch";

/// Checks that `client` gets `status` from each request of the family
/// (routes of every kind, an unknown route, a method a route does not
/// serve); a 401 must be the envelope and name the Bearer scheme.
async fn check_requests(client: &Client, status: u16, what: &str) {
    for (method, path, body) in [
        (Method::GET, LIST, ""),
        (
            Method::POST,
            "/api/v0/processes/start",
            r#"{"command": "true"}"#,
        ),
        (Method::GET, "/api/v0/read-file?path=/etc/hostname", ""),
        (Method::GET, "/api/v0/no-such-route", ""),
        (Method::DELETE, LIST, ""),
    ] {
        let a = client
            .send(method.clone(), path, body.to_string())
            .await
            .expect("transport");
        let case = format!("{what}: {method} {path}");
        if status == 200 {
            assert_ne!(a.status, 401, "{case}: {:?}", a.json);
            continue;
        }
        assert_eq!(a.status, status, "{case}: {:?}", a.json);
        assert_eq!(a.message(), "Unauthorized.", "{case}");
        assert!(a.json["detail"].is_string(), "{case}");
    }
}

#[tokio::test]
async fn a_request_without_the_token_is_401_on_every_route() {
    let (_home, agent, client) = real_agent_in_temp_home().await;
    check_requests(&client.with_token(None), 401, "no token").await;
    assert!(client.list().await.is_empty(), "nothing was started");
    agent.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_401() {
    let (_home, agent, client) = real_agent_in_temp_home().await;
    let prefix = &TEST_TOKEN[..TEST_TOKEN.len() - 1];
    let longer = format!("{TEST_TOKEN}0");
    for (what, value) in [
        ("another token", "Bearer not-the-token".to_string()),
        ("a prefix", format!("Bearer {prefix}")),
        ("a longer token", format!("Bearer {longer}")),
        ("another scheme", format!("Basic {TEST_TOKEN}")),
        ("no scheme", TEST_TOKEN.to_string()),
        ("an empty token", "Bearer ".to_string()),
    ] {
        check_requests(&client.header("authorization", &value), 401, what).await;
    }
    agent.stop().await;
}

#[tokio::test]
async fn the_right_token_is_let_through() {
    let (_home, agent, client) = real_agent_in_temp_home().await;
    check_requests(&client, 200, "the token").await;
    let a = client.get(LIST).await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    let lower_scheme = client.header("authorization", &format!("bearer {TEST_TOKEN}"));
    assert_eq!(lower_scheme.get(LIST).await.status, 200);
    agent.stop().await;
}

#[tokio::test]
async fn the_git_watch_upgrade_needs_the_token() {
    let (_home, agent, client) = real_agent_in_temp_home().await;
    assert_eq!(client.with_token(None).upgrade_status(WATCH).await, 401);
    assert_eq!(
        client
            .header("authorization", "Bearer wrong")
            .upgrade_status(WATCH)
            .await,
        401
    );
    assert_eq!(client.upgrade_status(WATCH).await, 101);
    agent.stop().await;
}

#[tokio::test]
async fn without_a_token_configured_requests_need_none() {
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig::default();
    let seams = real_seams(&config, Some(home.path().into()));
    let agent = TestAgent::start_as_configured(config, seams).await;
    assert_eq!(agent.token(), None);
    let client = agent.client();
    check_requests(&client, 200, "no auth").await;
    assert_eq!(client.upgrade_status(WATCH).await, 101);
    agent.stop().await;
}

// ---- The binary's token sources -------------------------------------------

/// A running `agent` binary, killed on drop.
struct Running {
    child: tokio::process::Child,
    client: Client,
    stderr: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
}

/// Runs the binary on `127.0.0.1:0` with `args` and `AGENT_TOKEN` set to
/// `env_token` (unset for `None`), until it says where it listens.
async fn run_binary(args: &[&str], env_token: Option<&str>) -> Running {
    let mut cmd = tokio::process::Command::new(cargo_bin!("agent"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("AGENT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(token) = env_token {
        cmd.env("AGENT_TOKEN", token);
    }
    let mut child = cmd.spawn().expect("spawn agent");
    let stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = common::listening_addr(&mut child).await;
    Running {
        child,
        client: Client::tcp(addr),
        stderr,
    }
}

impl Running {
    /// The status of a list request with `token`.
    async fn status_with(&self, token: Option<&str>) -> u16 {
        self.client.with_token(token).get(LIST).await.status
    }

    /// The first stderr line starting with `prefix`.
    async fn stderr_line(&mut self, prefix: &str) -> String {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = self.stderr.next_line().await.expect("stderr") {
                if line.starts_with(prefix) {
                    return line;
                }
            }
            panic!("stderr ended without a line starting with {prefix:?}");
        });
        found.await.expect("the line comes")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn is_token(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_source_the_binary_prints_a_fresh_token_on_stderr() {
    let mut agent = run_binary(&[], None).await;
    let line = agent.stderr_line("agent: token ").await;
    let token = line.strip_prefix("agent: token ").expect("prefix");
    assert!(is_token(token), "{token:?}");
    assert_eq!(agent.status_with(Some(token)).await, 200);
    assert_eq!(agent.status_with(None).await, 401);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_file_is_created_0600_with_a_fresh_token() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("token");
    let agent = run_binary(&["--token-file", path.to_str().expect("utf-8")], None).await;
    let mode = std::fs::metadata(&path)
        .expect("created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&path).expect("read");
    let token = token.trim();
    assert!(is_token(token), "{token:?}");
    assert_eq!(agent.status_with(Some(token)).await, 200);
    assert_eq!(agent.status_with(None).await, 401);
    agent.stop().await;
    // The next start reads the same file.
    let again = run_binary(&["--token-file", path.to_str().expect("utf-8")], None).await;
    assert_eq!(again.status_with(Some(token)).await, 200);
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_token_in_the_environment_wins_over_the_token_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("token");
    std::fs::write(&path, "from-the-file\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let file_arg = path.to_str().expect("utf-8");
    let agent = run_binary(&["--token-file", file_arg], Some("from-the-env")).await;
    assert_eq!(agent.status_with(Some("from-the-env")).await, 200);
    assert_eq!(agent.status_with(Some("from-the-file")).await, 401);
    agent.stop().await;
    // An empty AGENT_TOKEN is no token source: the file is used.
    let agent = run_binary(&["--token-file", file_arg], Some("")).await;
    assert_eq!(agent.status_with(Some("from-the-file")).await, 200);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_on_loopback_serves_without_a_token_and_warns() {
    let mut agent = run_binary(&["--no-auth"], Some("ignored")).await;
    let warning = agent.stderr_line("agent: WARNING: --no-auth").await;
    assert!(warning.contains("any local process"), "{warning}");
    assert_eq!(agent.status_with(None).await, 200);
    agent.stop().await;
}

#[test]
fn no_auth_on_a_non_loopback_address_is_refused() {
    cargo_bin_cmd!("agent")
        .args(["--listen", "0.0.0.0:0", "--no-auth"])
        .env_remove("AGENT_TOKEN")
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--no-auth is refused"));
}

#[test]
fn a_token_file_others_may_read_or_an_empty_one_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, content, mode, error) in [
        (
            "readable",
            "secret\n",
            0o644,
            "must not be readable or writable",
        ),
        (
            "group-writable",
            "secret\n",
            0o620,
            "must not be readable or writable",
        ),
        ("empty", " \n", 0o600, "is empty"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        cargo_bin_cmd!("agent")
            .args(["--listen", "127.0.0.1:0", "--token-file"])
            .arg(&path)
            .env_remove("AGENT_TOKEN")
            .timeout(Duration::from_secs(30))
            .assert()
            .failure()
            .stderr(predicates::str::contains(error));
    }
}
