//! The watch WebSocket end to end (`docs/agent-api.md#git`; upstream's
//! WebSocket and E2E tests): the agent's router served on a loopback port, the
//! SDK's `watch_git` stream, the real `git` CLI in temporary repositories and
//! the agent's PathStore as the feeder.
//!
//! These run on the real clock, with the scan cooldown set to zero where
//! upstream advanced a mock clock past it; nothing asserts on durations
//! (the guard only stops a hung test). Timing is covered on the paused
//! clock in `git_watch_timing.rs` and `git_watch_paused.rs`.

mod git_common;

use std::net::SocketAddr;
use std::time::Duration;

use agent::git::wire::{ClientMessage, ServerMessage};
use agent::{Agent, AgentConfig};
use agent_sdk::GitWatch;
use git_common::{
    MESSAGE_GUARD, TestRepo, next_message, only_repo, real_agent, repos, serve, watch,
};
use uuid::Uuid;

const CHAT: Uuid = Uuid::from_u128(0xA1);
const OTHER_CHAT: Uuid = Uuid::from_u128(0xB2);

/// A served real agent whose scans are not rate limited.
async fn agent_without_cooldown() -> (Agent, SocketAddr) {
    let config = AgentConfig {
        scan_cooldown: Duration::ZERO,
        ..AgentConfig::default()
    };
    let agent = real_agent(config);
    let addr = serve(agent.clone()).await;
    (agent, addr)
}

async fn add_paths(agent: &Agent, chats: &[Uuid], paths: &[String]) {
    agent.paths().add_paths(chats, paths).await;
}

async fn next(watch: &mut GitWatch) -> ServerMessage {
    next_message(watch, MESSAGE_GUARD).await
}

/// The roots of a `changes` message, sorted.
fn roots(msg: &ServerMessage) -> Vec<String> {
    let mut roots: Vec<String> = repos(msg).iter().map(|r| r.repo_root.clone()).collect();
    roots.sort();
    roots
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn web_socket_subscribe_and_receive_changes() {
    let repo = TestRepo::new();
    let file = repo.write("ws.go", "package ws\n");
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[file]).await;

    let mut w = watch(addr, Some(CHAT)).await;
    let msg = next(&mut w).await;
    let ServerMessage::Changes { scanned_at, .. } = &msg else {
        panic!("expected changes: {msg:?}");
    };
    assert!(!scanned_at.is_empty());
    let change = only_repo(&msg);
    assert_eq!(change.repo_root, repo.root_str());
    assert!(change.unified_diff.contains("ws.go"));
}

#[tokio::test]
async fn web_socket_multiple_repos() {
    let (a, b) = (TestRepo::new(), TestRepo::new());
    let paths = vec![
        a.write("a.go", "package a\n"),
        b.write("b.go", "package b\n"),
    ];
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &paths).await;

    let mut w = watch(addr, Some(CHAT)).await;
    let msg = next(&mut w).await;
    assert_eq!(roots(&msg), sorted(vec![a.root_str(), b.root_str()]));
}

#[tokio::test]
async fn web_socket_incremental_subscribe() {
    let (a, b) = (TestRepo::new(), TestRepo::new());
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[a.write("a.go", "package a\n")]).await;

    let mut w = watch(addr, Some(CHAT)).await;
    assert_eq!(roots(&next(&mut w).await), vec![a.root_str()]);

    add_paths(&agent, &[CHAT], &[b.write("b.go", "package b\n")]).await;
    // A is unchanged since its last emit, so only B comes.
    assert_eq!(roots(&next(&mut w).await), vec![b.root_str()]);
}

#[tokio::test]
async fn web_socket_refresh_triggers_changes() {
    let repo = TestRepo::new();
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[repo.write("r.go", "package r\n")]).await;

    let mut w = watch(addr, Some(CHAT)).await;
    next(&mut w).await;
    repo.write("r2.go", "package r\n");
    w.refresh().await.expect("refresh");
    let msg = next(&mut w).await;
    assert!(only_repo(&msg).unified_diff.contains("r2.go"));
}

#[tokio::test]
async fn web_socket_unknown_message_type() {
    let (_agent, addr) = agent_without_cooldown().await;
    let mut w = watch(addr, None).await;
    for kind in ["bogus", ""] {
        w.send(&ClientMessage { kind: kind.into() })
            .await
            .expect("send");
        let msg = next(&mut w).await;
        assert_eq!(
            msg,
            ServerMessage::Error {
                message: "unknown message type".into()
            },
            "type {kind:?}"
        );
    }
    // The connection stays usable after an error reply.
    w.refresh().await.expect("refresh after error");
    w.close().await.expect("close");
}

#[tokio::test]
async fn web_socket_large_path_store_subscription() {
    let repo = TestRepo::new();
    let mut paths = vec![repo.write("large.go", "package large\n")];
    paths.extend((1..500).map(|i| {
        format!(
            "/tmp/web_socket_large_path_store_subscription/deep/nested/directory/structure/to/pad/the/path/even/more/so/it/is/long/enough/{}.go",
            (b'a' + (i % 26) as u8) as char
        )
    }));
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &paths).await;

    let mut w = watch(addr, Some(CHAT)).await;
    assert_eq!(roots(&next(&mut w).await), vec![repo.root_str()]);
}

#[tokio::test]
async fn fallback_poll_triggers_scan() {
    // Upstream advances a mock clock to the fallback tick; here the tick is
    // short and the test waits for the message it produces (the exact
    // 30 s schedule is checked on the paused clock).
    let repo = TestRepo::new();
    let config = AgentConfig {
        scan_cooldown: Duration::ZERO,
        fallback_scan_interval: Duration::from_millis(50),
        ..AgentConfig::default()
    };
    let agent = real_agent(config);
    let addr = serve(agent.clone()).await;
    add_paths(&agent, &[CHAT], &[repo.write("poll.go", "package poll\n")]).await;

    let mut w = watch(addr, Some(CHAT)).await;
    next(&mut w).await;
    repo.write("poll2.go", "package poll\n");
    // No refresh, no PathStore change: only the ticker can scan.
    let msg = next(&mut w).await;
    assert!(only_repo(&msg).unified_diff.contains("poll2.go"));
}

#[tokio::test]
async fn multiple_concurrent_connections() {
    let repo = TestRepo::new();
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[repo.write("c.go", "package c\n")]).await;

    let mut first = watch(addr, Some(CHAT)).await;
    let mut second = watch(addr, Some(CHAT)).await;
    // Each connection has its own handler, so each gets its first scan.
    for w in [&mut first, &mut second] {
        assert_eq!(roots(&next(w).await), vec![repo.root_str()]);
    }
}

#[tokio::test]
async fn e2e_write_file_triggers_git_watch() {
    let repo = TestRepo::new();
    let file = repo.write("newfile.go", "package newfile\n");
    let (agent, addr) = agent_without_cooldown().await;

    // Connect first, then add the path (what write-file does on success).
    let mut w = watch(addr, Some(CHAT)).await;
    add_paths(&agent, &[CHAT], &[file]).await;
    let msg = next(&mut w).await;
    let change = only_repo(&msg);
    assert_eq!(change.repo_root, repo.root_str());
    assert!(change.unified_diff.contains("newfile.go"));
}

#[tokio::test]
async fn e2e_subagent_ancestor_watch() {
    let repo = TestRepo::new();
    let file = repo.write("child.go", "package child\n");
    let (agent, addr) = agent_without_cooldown().await;
    let (parent, child) = (CHAT, OTHER_CHAT);

    let mut w = watch(addr, Some(parent)).await;
    // The child's tool call carries its ancestors.
    add_paths(&agent, &[child, parent], &[file]).await;
    let msg = next(&mut w).await;
    assert_eq!(only_repo(&msg).repo_root, repo.root_str());
    assert!(only_repo(&msg).unified_diff.contains("child.go"));
}

#[tokio::test]
async fn e2e_multiple_concurrent_chat_watchers() {
    let (a, b) = (TestRepo::new(), TestRepo::new());
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[a.write("a.go", "package a\n")]).await;
    add_paths(&agent, &[OTHER_CHAT], &[b.write("b.go", "package b\n")]).await;

    let mut wa = watch(addr, Some(CHAT)).await;
    let mut wb = watch(addr, Some(OTHER_CHAT)).await;
    assert_eq!(roots(&next(&mut wa).await), vec![a.root_str()]);
    assert_eq!(roots(&next(&mut wb).await), vec![b.root_str()]);
}

#[tokio::test]
async fn e2e_re_edited_file_triggers_rescan() {
    let repo = TestRepo::new();
    let file = repo.write("edited.go", "package v1\n");
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], std::slice::from_ref(&file)).await;

    let mut w = watch(addr, Some(CHAT)).await;
    assert!(only_repo(&next(&mut w).await).unified_diff.contains("v1"));

    // Same path again: no new root, but the watch still rescans.
    repo.write("edited.go", "package v2\n");
    add_paths(&agent, &[CHAT], &[file]).await;
    assert!(only_repo(&next(&mut w).await).unified_diff.contains("v2"));
}

#[tokio::test]
async fn e2e_repo_deletion_emits_removed() {
    let repo = TestRepo::new();
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(
        &agent,
        &[CHAT],
        &[repo.write("doomed.go", "package doomed\n")],
    )
    .await;

    let mut w = watch(addr, Some(CHAT)).await;
    assert!(!only_repo(&next(&mut w).await).removed);
    std::fs::remove_dir_all(repo.root()).expect("rm repo");
    w.refresh().await.expect("refresh");
    let msg = next(&mut w).await;
    let change = only_repo(&msg);
    assert_eq!(change.repo_root, repo.root_str());
    assert!(change.removed);
}

#[tokio::test]
async fn process_exit_style_bare_notify_rescans_known_repos() {
    // A process exit without a workdir only notifies: known roots rescan.
    let repo = TestRepo::new();
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[repo.write("a.go", "package a\n")]).await;

    let mut w = watch(addr, Some(CHAT)).await;
    next(&mut w).await;
    repo.write("made-by-a-process.txt", "out\n");
    agent.paths().notify(&[CHAT]);
    let msg = next(&mut w).await;
    assert!(
        only_repo(&msg)
            .unified_diff
            .contains("made-by-a-process.txt")
    );
}

#[tokio::test]
async fn split_watch_refreshes_from_one_task_and_reads_in_another() {
    use futures::StreamExt;
    let repo = TestRepo::new();
    let (agent, addr) = agent_without_cooldown().await;
    add_paths(&agent, &[CHAT], &[repo.write("s.go", "package s\n")]).await;

    let (mut tx, mut rx) = watch(addr, Some(CHAT)).await.split();
    let first = tokio::time::timeout(MESSAGE_GUARD, rx.next()).await;
    assert!(matches!(first, Ok(Some(Ok(ServerMessage::Changes { .. })))));
    repo.write("s2.go", "package s\n");
    let refresher = tokio::spawn(async move {
        tx.refresh().await.expect("refresh");
        tx
    });
    let second = tokio::time::timeout(MESSAGE_GUARD, rx.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("decoded");
    assert!(only_repo(&second).unified_diff.contains("s2.go"));
    let mut tx = refresher.await.expect("task");
    tx.close().await.expect("close");
    // After the close handshake the stream ends.
    let end = tokio::time::timeout(MESSAGE_GUARD, rx.next())
        .await
        .expect("ends");
    assert!(end.is_none(), "{end:?}");
}
