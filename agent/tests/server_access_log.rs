//! The access log carries the caller's chat id (upstream
//! `TestAccessLogIncludesChatID`), and a panicking handler is recovered as a
//! 500 in the JSON envelope (the original's Recover middleware).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use agent::AgentConfig;
use common::{CHAT_A, scripted_agent, serve_in_memory};

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().expect("lock"))
            .lines()
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn access_log_includes_chat_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The server runs on this (current-thread) runtime, so a thread-local
    // default subscriber sees its events.
    let _guard = tracing::subscriber::set_default(subscriber);

    let (agent, _) = scripted_agent(AgentConfig::default());
    let c = serve_in_memory(agent);
    assert_eq!(c.chat(CHAT_A).list().await.len(), 0);
    c.list().await;

    let access: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|l| l.contains("agent::http::access"))
        .collect();
    assert_eq!(access.len(), 2, "{access:#?}");
    assert!(
        access[0].contains(&format!("chat_id={CHAT_A}")),
        "{}",
        access[0]
    );
    assert!(access[0].contains("path=/api/v0/processes/list"));
    assert!(access[0].contains("status=200"));
    assert!(
        !access[1].contains("chat_id"),
        "no chat, no field: {}",
        access[1]
    );
}

#[tokio::test]
async fn a_panicking_handler_is_answered_500_in_the_envelope() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let router = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            if true {
                panic!("handler bug");
            }
            ""
        }),
    );
    let (client_io, server_io) = tokio::io::duplex(4096);
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(agent::http::server::serve_connection(
        server_io, agent, router, stop,
    ));
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(client_io))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = http::Request::get("/boom")
        .header("host", "agent")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("an answer");
    assert_eq!(resp.status(), 500);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["message"], "Internal server error.");
    assert_eq!(json["detail"], "handler bug");
}
