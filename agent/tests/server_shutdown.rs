//! Graceful shutdown of `agent::http::serve`: when its shutdown future
//! resolves it stops accepting, closes idle keep-alive connections at once,
//! lets a request in flight (a blocking wait) finish, and returns only when
//! every connection has ended.

mod common;

use std::time::Duration;

use agent::AgentConfig;
use agent::process::manager::StartRequest;
use common::{DuplexListener, scripted_agent};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

type Sender = SendRequest<Empty<bytes::Bytes>>;

/// A client connection over `listener`'s channel; the handle ends when the
/// server closes the connection.
async fn connect(
    listener: &tokio::sync::mpsc::UnboundedSender<tokio::io::DuplexStream>,
) -> (Sender, JoinHandle<()>) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    listener.send(server).expect("listener");
    let (sender, conn) = handshake(TokioIo::new(client)).await.expect("handshake");
    let closed = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, closed)
}

fn get(path: &str) -> http::Request<Empty<bytes::Bytes>> {
    http::Request::get(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", common::TEST_TOKEN))
        .body(Empty::new())
        .expect("request")
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_idle_connections_and_lets_a_blocking_wait_finish() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let process = agent
        .processes()
        .start(StartRequest {
            command: "echo before; sleep 5; echo after".into(),
            ..Default::default()
        })
        .await
        .expect("start");
    let (listener, rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(agent::http::serve(
        DuplexListener::new(rx),
        agent,
        async move {
            let _ = stopped.await;
        },
    ));

    // An idle keep-alive connection: one request answered, then nothing.
    let (mut idle, idle_closed) = connect(&listener).await;
    let answer = idle
        .send_request(get("/api/v0/processes/list"))
        .await
        .expect("list");
    assert_eq!(answer.status(), 200);
    answer.into_body().collect().await.expect("list body");

    // A blocking wait in flight until the process exits at t=5s.
    let (mut busy, busy_closed) = connect(&listener).await;
    let wait = tokio::spawn(async move {
        let answer = busy
            .send_request(get(&format!(
                "/api/v0/processes/{}/output?wait=true",
                process.id()
            )))
            .await
            .expect("wait answer");
        let status = answer.status();
        let body = answer.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    stop.send(()).expect("server running");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(idle_closed.is_finished(), "the idle connection is closed");
    assert!(
        !server.is_finished(),
        "the blocking wait is still in flight"
    );
    assert!(!wait.is_finished());

    let (status, body) = wait.await.expect("wait task");
    assert_eq!(status, 200);
    assert!(body.contains("before\\nafter"), "{body}");
    tokio::time::timeout(Duration::from_secs(1), server)
        .await
        .expect("serve returns once the last connection ends")
        .expect("server task");
    tokio::time::timeout(Duration::from_secs(1), busy_closed)
        .await
        .expect("the busy connection closes after its answer")
        .expect("connection task");
}
