//! HTTP handlers under `/api/v0/git` (`docs/agent-api.md#git`): the watch
//! WebSocket and `show`, and the envelope of every [`git::Error`].
//!
//! Each watch connection runs in the task axum gives the upgrade: one loop
//! that owns the socket and polls, in a fixed order, the outgoing scan
//! results, the client's messages, the ping heartbeat, the handler's run
//! loop and the PathStore follower. Nothing is spawned, so dropping the
//! connection's future cancels all of it.

use std::time::Duration;

use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::error::{ApiError, json};
use crate::Agent;
use crate::git::wire::{ClientMessage, GitShowResponse, ServerMessage};
use crate::git::{self, SHOW_MAX_FILE_SIZE, WatchHandler, follow_paths, subscribe_and_get_paths};

/// Largest client message the watch accepts (4 MiB: a subscribe with many
/// paths exceeds a small default).
pub const WATCH_READ_LIMIT: usize = 4 << 20;

/// How long a closing connection waits for the peer's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The git routes, to be nested under `/api/v0/git`.
pub fn routes() -> Router<Agent> {
    Router::new()
        .route("/watch", get(watch))
        .route("/show", get(show))
}

/// The first value of `key` in a raw query string (Go's `Query().Get`).
fn query_param(raw: Option<&str>, key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).ok()?;
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

async fn watch(
    State(agent): State<Agent>,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => {
            return ApiError::internal("Failed to accept WebSocket.")
                .with_detail(rejection.body_text())
                .into_response();
        }
    };
    // An absent or unparsable chat id means no PathStore wiring at all.
    let chat = watch_chat(query.as_deref());
    upgrade
        .max_message_size(WATCH_READ_LIMIT)
        .max_frame_size(WATCH_READ_LIMIT)
        .on_upgrade(move |socket| {
            // Under simulation the watch is its own task (`watch1`, ...):
            // its messages and scans read as one story in the trace.
            let id = crate::sim::next_id("watch");
            crate::sim::task(
                move || format!("watch{id}"),
                serve_watch(agent, socket, chat),
            )
        })
}

async fn send_json(socket: &mut WebSocket, msg: &ServerMessage) -> Result<(), axum::Error> {
    let text = serde_json::to_string(msg).map_err(axum::Error::new)?;
    crate::sim::event("ws.send", || describe(msg));
    socket.send(Message::Text(text.into())).await
}

/// A server message in words, for the trace.
fn describe(msg: &ServerMessage) -> String {
    match msg {
        ServerMessage::Changes { repositories, .. } => {
            let repos: Vec<String> = repositories
                .iter()
                .map(|r| {
                    let what = if r.removed {
                        "removed".to_string()
                    } else {
                        format!("{} diff bytes", r.unified_diff.len())
                    };
                    format!("{} ({what})", r.repo_root)
                })
                .collect();
            format!("changes: {}", repos.join(", "))
        }
        ServerMessage::Error { message } => format!("error: {message}"),
    }
}

/// Sends a close frame and waits (bounded) for the peer's reply.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    crate::sim::event("ws.close", || format!("closing with {code}: {reason}"));
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        drain(socket).await;
    }
}

/// Reads until the stream ends, so a close reply queued by the protocol
/// layer is flushed (bounded by [`CLOSE_GRACE`]).
async fn drain(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

/// What the main loop does with one client frame.
#[derive(Debug, PartialEq, Eq)]
enum Incoming {
    Continue,
    Refresh,
    Reply(ServerMessage),
    /// Undecodable JSON: close as Go's wsjson decoder does.
    Unsupported,
}

fn client_message(data: &[u8]) -> Incoming {
    match serde_json::from_slice::<ClientMessage>(data) {
        Ok(msg) if msg.is_refresh() => Incoming::Refresh,
        Ok(_) => Incoming::Reply(ServerMessage::Error {
            message: "unknown message type".into(),
        }),
        Err(_) => Incoming::Unsupported,
    }
}

/// The watched chat: `chat_id` when it parses as a UUID.
fn watch_chat(query: Option<&str>) -> Option<Uuid> {
    query_param(query, "chat_id").and_then(|s| Uuid::parse_str(&s).ok())
}

/// One watch connection, from upgrade to close.
async fn serve_watch(agent: Agent, mut socket: WebSocket, chat: Option<Uuid>) {
    let seams = agent.seams();
    let handler = WatchHandler::new(
        seams.scanner.clone(),
        seams.fs.clone(),
        seams.clock.clone(),
        agent.config(),
    );
    let store = agent.paths();

    let mut subscription = None;
    if let Some(chat) = chat {
        let (sub, paths) = subscribe_and_get_paths(store, &agent.config().bugs, chat).await;
        subscription = Some(sub);
        if let Some(paths) = paths {
            handler.subscribe(&paths).await;
            crate::sim::sync::publish(
                crate::site!("sync.notify:git.watch.first_scan_request"),
                || handler.request_scan(),
            )
            .await;
        }
    }

    // Scan results go through a one-slot queue to the socket owner below;
    // the run loop waits while a result is unsent.
    let (out_tx, mut out_rx) = mpsc::channel::<ServerMessage>(1);
    let run = handler.run_loop(|| {
        let handler = &handler;
        let out_tx = out_tx.clone();
        async move {
            if let Some(msg) = handler.scan().await {
                let sent = out_tx.send(msg);
                let _ =
                    crate::sim::sync::send(crate::site!("sync.send:git.watch.changes"), sent).await;
            }
        }
    });
    let follow = follow_paths(&handler, store, subscription);
    tokio::pin!(run, follow);

    let ping_interval = agent.config().ping_interval;
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let mut awaiting_pong = false;

    loop {
        tokio::select! {
            biased;
            Some(msg) = out_rx.recv() => {
                if let Err(error) = send_json(&mut socket, &msg).await {
                    // A lost scan result ends the connection.
                    tracing::debug!(%error, "failed to send changes");
                    return;
                }
            }
            incoming = socket.recv() => {
                let frame = match incoming {
                    None | Some(Err(_)) => {
                        crate::sim::event("ws.closed", || "the client's side ended without a close frame".into());
                        return;
                    }
                    Some(Ok(frame)) => frame,
                };
                crate::sim::event("ws.recv", || match &frame {
                    Message::Text(_) | Message::Binary(_) => "a client message".into(),
                    Message::Pong(_) => "pong".into(),
                    Message::Ping(_) => "ping".into(),
                    Message::Close(_) => "close frame".into(),
                });
                let outcome = match frame {
                    Message::Text(text) => client_message(text.as_bytes()),
                    Message::Binary(data) => client_message(&data),
                    Message::Pong(_) => {
                        awaiting_pong = false;
                        Incoming::Continue
                    }
                    // The protocol layer answers pings itself.
                    Message::Ping(_) => Incoming::Continue,
                    Message::Close(_) => {
                        drain(&mut socket).await;
                        return;
                    }
                };
                match outcome {
                    Incoming::Continue => {}
                    Incoming::Refresh => handler.request_scan(),
                    Incoming::Reply(reply) => {
                        if send_json(&mut socket, &reply).await.is_err() {
                            return;
                        }
                    }
                    Incoming::Unsupported => {
                        close(&mut socket, close_code::UNSUPPORTED, "failed to unmarshal message").await;
                        return;
                    }
                }
            }
            _ = heartbeat.tick() => {
                if awaiting_pong {
                    // The peer stopped answering: give up on it.
                    close(&mut socket, close_code::AWAY, "heartbeat timed out").await;
                    return;
                }
                crate::sim::event("ws.send", || "heartbeat ping".into());
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
                awaiting_pong = true;
            }
            () = &mut run => {}
            () = &mut follow => {}
        }
    }
}

async fn show(State(agent): State<Agent>, RawQuery(query): RawQuery) -> Response {
    match show_file(&agent, query.as_deref()).await {
        Ok(contents) => json(GitShowResponse { contents }),
        Err(e) => e.into_response(),
    }
}

async fn show_file(agent: &Agent, query: Option<&str>) -> Result<String, ApiError> {
    let param = |key| query_param(query, key).filter(|v| !v.is_empty());
    let (Some(repo_root), Some(path), Some(git_ref)) =
        (param("repo_root"), param("path"), param("ref"))
    else {
        return Err(ApiError::bad_request("Missing required query parameters."));
    };
    let seams = agent.seams();
    Ok(git::show(
        seams.fs.as_ref(),
        seams.scanner.as_ref(),
        &repo_root,
        &git_ref,
        &path,
    )
    .await?)
}

/// The envelope of a failed `show`: 400 for a root that is not a
/// repository, 404 for a file git cannot show, 422 for one it may not.
impl From<git::Error> for ApiError {
    fn from(e: git::Error) -> Self {
        let message = e.to_string();
        match e {
            git::Error::NotARepository => ApiError::bad_request(message),
            git::Error::FileNotFound(scan) => {
                ApiError::not_found(message).with_detail(scan.to_string())
            }
            git::Error::Binary => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message),
            git::Error::TooLarge { size } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message).with_detail(format!(
                    "The file is {size} bytes; the limit is {SHOW_MAX_FILE_SIZE} bytes."
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_refresh_or_unknown() {
        let unknown = || {
            Incoming::Reply(ServerMessage::Error {
                message: "unknown message type".into(),
            })
        };
        let cases: [(&str, Incoming); 6] = [
            (r#"{"type":"refresh"}"#, Incoming::Refresh),
            (r#"{"type":"refresh","extra":1}"#, Incoming::Refresh),
            (r#"{"type":"bogus"}"#, unknown()),
            (r#"{}"#, unknown()),
            (r#"not json"#, Incoming::Unsupported),
            (r#"{"type":7}"#, Incoming::Unsupported),
        ];
        for (input, want) in cases {
            assert_eq!(client_message(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn only_a_uuid_chat_id_wires_the_path_store() {
        let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let cases: [(Option<&str>, Option<&str>); 5] = [
            (None, None),
            (Some(""), None),
            (Some("chat_id="), None),
            (Some("chat_id=not-a-uuid"), None),
            (
                Some("x=1&chat_id=7c9e6679-7425-40de-944b-e07fc1f90ae7&chat_id=junk"),
                Some(id),
            ),
        ];
        for (query, want) in cases {
            let want = want.map(|s| Uuid::parse_str(s).expect("uuid"));
            assert_eq!(watch_chat(query), want, "{query:?}");
        }
    }
}
