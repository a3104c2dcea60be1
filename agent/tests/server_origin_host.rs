//! Browser isolation: what keeps a web page in the user's browser from
//! driving the agent on loopback.
//! * `Host` must be localhost, a loopback IP, the listen host or an allowed
//!   host (403 otherwise: a DNS-rebinding page sends its own name);
//! * a request or WebSocket upgrade carrying an `Origin` not allowed is 403;
//! * JSON endpoints need `Content-Type: application/json` (415 otherwise:
//!   a page can send `text/plain` or form bodies without a CORS preflight),
//!   and nothing runs or is written; write-file takes any content type.

mod common;

use agent::AgentConfig;
use common::{Client, TestAgent, TestAgentExt, real_seams};
use http::Method;

const LIST: &str = "/api/v0/processes/list";
const START: &str = "/api/v0/processes/start";
const WATCH: &str = "/api/v0/git/watch";
const ALLOWED_HOST: &str = "dev.internal";
const ALLOWED_ORIGIN: &str = "https://ide.example";
const FOREIGN_ORIGIN: &str = "http://evil.example";

/// A real agent that allows [`ALLOWED_HOST`] and [`ALLOWED_ORIGIN`], and
/// a client of it; keep the directory alive.
async fn agent() -> (tempfile::TempDir, TestAgent, Client) {
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig {
        allowed_hosts: vec![ALLOWED_HOST.into()],
        allowed_origins: vec![ALLOWED_ORIGIN.into()],
        ..AgentConfig::default()
    };
    let seams = real_seams(&config, Some(home.path().into()));
    let agent = TestAgent::start(config, seams).await;
    let client = agent.client();
    (home, agent, client)
}

/// Checks the answer to a list request with `Host: host` (`None`: no Host
/// header): 200, or 403 whose detail names the way to allow the host.
async fn check_host(client: &Client, host: Option<&str>, allowed: bool) {
    let client = match host {
        Some(h) => client.header("host", h),
        None => client.without("host"),
    };
    let a = client.get(LIST).await;
    if allowed {
        assert_eq!(a.status, 200, "Host {host:?}: {:?}", a.json);
        return;
    }
    assert_eq!(a.status, 403, "Host {host:?}: {:?}", a.json);
    assert_eq!(a.message(), "Host not allowed.", "{host:?}");
    let detail = a.json["detail"].as_str().unwrap_or_default();
    if let Some(h) = host {
        assert!(
            detail.contains(h) && detail.contains("--allowed-host"),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn a_foreign_or_missing_host_is_403() {
    let (_home, agent, client) = agent().await;
    for host in [
        "evil.attacker.com",
        "evil.attacker.com:4242",
        "localhost.attacker.com",
        "127.0.0.1.nip.io",
        "10.0.0.1",
    ] {
        check_host(&client, Some(host), false).await;
    }
    check_host(&client, None, false).await;
    agent.stop().await;
}

#[tokio::test]
async fn localhost_loopback_addresses_and_allowed_hosts_are_ok() {
    let (_home, agent, client) = agent().await;
    let port = agent.addr.port();
    for host in [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "127.0.0.2".to_string(),
        format!("[::1]:{port}"),
        ALLOWED_HOST.to_string(),
        format!("{}:{port}", ALLOWED_HOST.to_uppercase()),
    ] {
        check_host(&client, Some(&host), true).await;
    }
    agent.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_is_403_and_runs_nothing() {
    let (home, agent, client) = agent().await;
    let marker = home.path().join("pwned");
    let body = serde_json::json!({ "command": format!("touch {}", marker.display()) });
    let a = client
        .header("origin", FOREIGN_ORIGIN)
        .post(START, &body.to_string())
        .await;
    assert_eq!(a.status, 403, "{:?}", a.json);
    assert_eq!(a.message(), "Origin not allowed.");
    assert!(
        a.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--allowed-origin")),
        "{:?}",
        a.json
    );
    for origin in ["null", "http://localhost:3000", "https://ide.example.evil"] {
        let a = client.header("origin", origin).get(LIST).await;
        assert_eq!(a.status, 403, "Origin {origin}");
    }
    assert!(client.list().await.is_empty(), "nothing was started");
    assert!(!marker.exists());
    agent.stop().await;
}

#[tokio::test]
async fn an_allowed_origin_is_ok() {
    let (_home, agent, client) = agent().await;
    for origin in [ALLOWED_ORIGIN, "HTTPS://IDE.EXAMPLE"] {
        let a = client.header("origin", origin).get(LIST).await;
        assert_eq!(a.status, 200, "Origin {origin}: {:?}", a.json);
    }
    agent.stop().await;
}

#[tokio::test]
async fn a_websocket_upgrade_checks_origin_and_host_too() {
    let (_home, agent, client) = agent().await;
    let foreign = client.header("origin", FOREIGN_ORIGIN);
    assert_eq!(foreign.upgrade_status(WATCH).await, 403);
    let rebinding = client.header("host", "evil.attacker.com");
    assert_eq!(rebinding.upgrade_status(WATCH).await, 403);
    let allowed = client.header("origin", ALLOWED_ORIGIN);
    assert_eq!(allowed.upgrade_status(WATCH).await, 101);
    agent.stop().await;
}

/// Checks that a POST to a JSON endpoint with `content_type` (`None`:
/// none) is 415 with the envelope.
async fn check_415(client: &Client, path: &str, content_type: Option<&str>, body: &str) {
    let client = match content_type {
        Some(ct) => client.header("content-type", ct),
        None => client.without("content-type"),
    };
    let a = client.send(Method::POST, path, body.to_string()).await;
    let a = a.expect("transport");
    assert_eq!(a.status, 415, "{path} {content_type:?}: {:?}", a.json);
    assert_eq!(
        a.message(),
        "Content-Type must be application/json.",
        "{path}"
    );
}

#[tokio::test]
async fn json_endpoints_refuse_other_content_types_and_nothing_runs_or_is_written() {
    let (home, agent, client) = agent().await;
    let marker = home.path().join("touched");
    let start = serde_json::json!({ "command": format!("touch {}", marker.display()) });
    let file = home.path().join("f.txt");
    std::fs::write(&file, "alpha\n").expect("write");
    let edit = serde_json::json!({"files": [{
        "path": file.display().to_string(),
        "edits": [{"search": "alpha", "replace": "beta"}],
    }]});
    for ct in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        check_415(&client, START, ct, &start.to_string()).await;
        check_415(&client, "/api/v0/edit-files", ct, &edit.to_string()).await;
        check_415(
            &client,
            "/api/v0/processes/some-id/signal",
            ct,
            r#"{"signal": "kill"}"#,
        )
        .await;
    }
    assert!(client.list().await.is_empty(), "nothing was started");
    assert!(!marker.exists());
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "alpha\n");
    // With the right content type (parameters allowed) the same calls work.
    let json = client.header("content-type", "application/json; charset=utf-8");
    let a = json.post("/api/v0/edit-files", &edit.to_string()).await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "beta\n");
    agent.stop().await;
}

#[tokio::test]
async fn write_file_takes_any_content_type_but_still_checks_origin_and_token() {
    let (home, agent, client) = agent().await;
    let path = home.path().join("upload.bin");
    let uri = format!("/api/v0/write-file?path={}", path.display());
    let plain = client.header("content-type", "application/octet-stream");
    let a = plain.header("origin", FOREIGN_ORIGIN).post(&uri, "x").await;
    assert_eq!(a.status, 403, "{:?}", a.json);
    let a = plain.with_token(None).post(&uri, "x").await;
    assert_eq!(a.status, 401, "{:?}", a.json);
    assert!(!path.exists(), "a refused upload writes nothing");
    let a = plain.post(&uri, "raw bytes").await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(std::fs::read(&path).expect("written"), b"raw bytes");
    agent.stop().await;
}
