//! Connection deadlines and the connection cap, over real loopback TCP:
//! * a request whose body stalls after its headers is answered 408 (the
//!   envelope, `Connection: close`) once `read_timeout` has passed, and the
//!   connection is closed; the agent keeps serving others meanwhile;
//! * a connection that sends nothing at all is closed after
//!   `header_read_timeout`;
//! * beyond `max_connections` open connections a new one is closed at
//!   once; the open ones are still served, and once one closes a new
//!   connection is served again.
//!
//! The time bounds below only guard against hanging; the short timeouts
//! configured make the interesting events come well within them.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use agent::AgentConfig;
use common::{Client, TEST_TOKEN, TestAgent, TestAgentExt, real_seams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every expected close or answer comes well within this.
const GUARD: Duration = Duration::from_secs(10);

async fn agent(config: AgentConfig) -> (tempfile::TempDir, TestAgent, Client) {
    let home = tempfile::tempdir().expect("home");
    let seams = real_seams(&config, Some(home.path().into()));
    let agent = TestAgent::start(config, seams).await;
    let client = agent.client();
    (home, agent, client)
}

/// Opens a raw connection and sends `head` (the request line and headers,
/// token and `Host` added) and `partial` bytes of the body.
async fn send_partial(addr: SocketAddr, head: &str, partial: &[u8]) -> TcpStream {
    let mut io = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{head}\r\nHost: localhost\r\nAuthorization: Bearer {TEST_TOKEN}\r\n\
         Content-Type: application/json\r\n\r\n"
    );
    io.write_all(head.as_bytes()).await.expect("headers");
    io.write_all(partial).await.expect("partial body");
    io
}

/// Everything the server sends until it closes the connection (a reset
/// counts as a close); panics if it is still open after [`GUARD`].
async fn read_until_closed(io: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, io.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "still open after {GUARD:?}: {out:?}");
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks that a request whose body stalls after `partial` is answered
/// 408 with the envelope and `Connection: close`, and closed, while a
/// second client is served in the meantime.
async fn check_stalled_body(head: &str, partial: &[u8]) -> (TestAgent, tempfile::TempDir) {
    let config = AgentConfig {
        read_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    };
    let (home, agent, client) = agent(config).await;
    let mut stalled = send_partial(agent.addr, head, partial).await;
    assert_eq!(client.get("/api/v0/processes/list").await.status, 200);
    let answer = read_until_closed(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{head}: {answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{answer}");
    assert!(
        answer.contains(r#""message":"Request body not received in time.""#),
        "{answer}"
    );
    assert_eq!(client.get("/api/v0/processes/list").await.status, 200);
    (agent, home)
}

#[tokio::test]
async fn a_json_body_that_stalls_is_408_and_closed_and_nothing_runs() {
    let (agent, home) = check_stalled_body(
        "POST /api/v0/processes/start HTTP/1.1\r\nContent-Length: 100",
        br#"{"command": "tou"#,
    )
    .await;
    assert!(agent.client().list().await.is_empty());
    drop(home);
    agent.stop().await;
}

#[tokio::test]
async fn an_upload_that_stalls_is_408_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("upload.txt");
    let head = format!(
        "POST /api/v0/write-file?path={} HTTP/1.1\r\nContent-Length: 1000",
        path.display()
    );
    let (agent, _home) = check_stalled_body(&head, b"only part of it").await;
    assert!(!path.exists(), "a stalled upload writes nothing");
    agent.stop().await;
}

#[tokio::test]
async fn a_chunked_body_that_stalls_is_408_too() {
    let (agent, _home) = check_stalled_body(
        "POST /api/v0/processes/start HTTP/1.1\r\nTransfer-Encoding: chunked",
        b"4\r\n{\"co\r\n",
    )
    .await;
    agent.stop().await;
}

#[tokio::test]
async fn a_body_sent_in_time_in_pieces_is_served() {
    let config = AgentConfig {
        read_timeout: Duration::from_secs(5),
        ..AgentConfig::default()
    };
    let (_home, agent, _client) = agent(config).await;
    let body = br#"{"command": "true"}"#;
    let head = format!(
        "POST /api/v0/processes/start HTTP/1.1\r\nConnection: close\r\nContent-Length: {}",
        body.len()
    );
    let mut io = send_partial(agent.addr, &head, &body[..5]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    io.write_all(&body[5..]).await.expect("rest");
    let answer = read_until_closed(&mut io).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    agent.stop().await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let config = AgentConfig {
        header_read_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    };
    let (_home, agent, client) = agent(config).await;
    let mut silent = TcpStream::connect(agent.addr).await.expect("connect");
    assert_eq!(client.get("/api/v0/processes/list").await.status, 200);
    let answer = read_until_closed(&mut silent).await;
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
    agent.stop().await;
}

/// Whether the server closes `io` (EOF or reset) within [`GUARD`] without
/// answering anything.
async fn closed_without_answer(io: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(GUARD, io.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn beyond_max_connections_a_new_connection_is_closed_at_once() {
    let config = AgentConfig {
        max_connections: 4,
        ..AgentConfig::default()
    };
    let (_home, agent, client) = agent(config).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(TcpStream::connect(agent.addr).await.expect("connect"));
    }
    let mut fifth = TcpStream::connect(agent.addr).await.expect("connect");
    assert!(
        closed_without_answer(&mut fifth).await,
        "the fifth is closed"
    );

    // An open connection is still served.
    let request = format!(
        "GET /api/v0/processes/list HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {TEST_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let mut first = open.remove(0);
    first.write_all(request.as_bytes()).await.expect("request");
    let answer = read_until_closed(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Once connections close, new ones are served again.
    drop(open.pop());
    let served = tokio::time::timeout(GUARD, async {
        loop {
            match client
                .send(http::Method::GET, "/api/v0/processes/list", "")
                .await
            {
                Ok(a) if a.status == 200 => break,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    assert!(
        served.is_ok(),
        "a new connection is served after one closed"
    );
    agent.stop().await;
}
