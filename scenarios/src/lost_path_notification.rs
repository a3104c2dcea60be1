//! `lost-path-notification` (race R2 in `docs/races.md`): a chat connects the
//! git watch while its PathStore entry is empty, then a tool call (write-file
//! with the chat headers) adds a path in a repository. Invariant: a `changes`
//! message for the repository arrives within the scan cooldown plus network
//! latency, well under the 30 s fallback ticker. Catches
//! `paths-before-subscribe`.
//!
//! The watch client speaks WebSocket directly (tokio-tungstenite over a
//! turmoil stream), so this scenario depends only on the agent's endpoint.

use std::time::Duration;

use agent::git::wire::ServerMessage;
use agent_sdk::{AgentConn, Connector};
use futures::StreamExt;
use harness::net::TurmoilConnector;
use harness::prelude::*;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{AGENT, agent_host, chat_id, connect_as, racy_config, seed_repo};
use crate::invariants::{CALLS_SUCCEED, CHANGES_AFTER_ADD, WATCH_CONNECTS};

/// See the module docs.
pub const LOST_PATH_NOTIFICATION: ScenarioSpec = ScenarioSpec {
    name: "lost-path-notification",
    summary: "a path added right after the git watch connects must produce a changes message (R2)",
    catches: &[Catch {
        bug: Bug::PathsBeforeSubscribe,
        within: 64,
    }],
    // The window is one handler step wide; longer sleeps at yield
    // points let a request from the client land inside it.
    config: racy_config(Duration::from_secs(20), Duration::from_millis(12)),
    build,
};

/// How long after the add a `changes` message may take: the 1 s scan
/// cooldown plus generous network headroom.
const DEADLINE: Duration = Duration::from_secs(2);

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let chat = chat_id(&mut rng);
    let delay = Duration::from_millis(rng.random_range(0..=10));
    let file = format!("{PROJECT}/notes-{}.md", rng.random_range(0..100));
    agent_host(world, seed_repo);
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world.client("chatd", drive(inv, trace, chat, delay, file));
}

async fn drive(
    inv: Invariants,
    trace: Trace,
    chat: uuid::Uuid,
    delay: Duration,
    file: String,
) -> turmoil::Result {
    let conn = connect_as(chat);

    // The watch connects while the tool call starts `delay` later,
    // independently, as chatd does.
    let watch = tokio::spawn(async move {
        let io = TurmoilConnector::agent(AGENT).connect().await?;
        let url = format!(
            "ws://{AGENT}:{}/api/v0/git/watch?chat_id={chat}",
            harness::net::AGENT_PORT
        );
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)?;
        if let Some(token) = harness::agent_host::token() {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        let (ws, _) = tokio_tungstenite::client_async(request, io).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(ws)
    });
    tokio::time::sleep(delay).await;
    if let Err(e) = conn.write_file(&file, b"note\n".to_vec()).await {
        inv.fail(CALLS_SUCCEED, "write-file succeeds", e);
        return Ok(());
    }
    trace.record("client.wrote", file.clone());
    let mut ws = match watch.await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            inv.fail(WATCH_CONNECTS, "a WebSocket", e);
            return Ok(());
        }
        Err(e) => {
            inv.fail(WATCH_CONNECTS, "a WebSocket", e);
            return Ok(());
        }
    };
    trace.record("client.watching", chat.to_string());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await;
        let text = match next {
            Err(_) => {
                inv.fail(
                    CHANGES_AFTER_ADD,
                    format!("a changes message for {PROJECT} within {DEADLINE:?}"),
                    "none",
                );
                break;
            }
            Ok(None) | Ok(Some(Err(_))) => {
                inv.fail(CHANGES_AFTER_ADD, "an open watch", "the watch closed");
                break;
            }
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(_))) => continue,
        };
        trace.record("client.message", text.chars().take(120).collect::<String>());
        if let Ok(ServerMessage::Changes { repositories, .. }) = serde_json::from_str(text.as_str())
            && repositories
                .iter()
                .any(|r| r.repo_root == PROJECT && !r.removed)
        {
            break;
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}
