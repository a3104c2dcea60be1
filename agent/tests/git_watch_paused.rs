//! The watch WebSocket on tokio's paused clock over an in-memory scanner: the
//! R2 interleaving (`docs/races.md`) end to end in both orders, the fallback
//! ticker, the heartbeat, a missing git binary and the read limit. Served on a
//! loopback port and read through the SDK.
//!
//! A paused clock over real sockets may jump ahead to the next timer as a
//! message is delivered, so these tests bound times from below (a message
//! caused by the 30 s ticker cannot arrive before 30 s) rather than
//! asserting exact arrival times; the exact schedule is checked without
//! sockets in `git_watch_timing.rs`.

mod git_common;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use agent::git::scanner::GitCliScanner;
use agent::git::wire::ClientMessage;
use agent::sim::HookGuard;
use agent::{Agent, AgentConfig, Bug};
use agent_sdk::GitWatch;
use futures::StreamExt;
use git_common::{
    AtYieldPoint, FakeScanner, check_silent, fake_agent, fake_agent_with, next_message, only_repo,
    serve, watch,
};
use tokio::time::Instant;
use uuid::Uuid;

const CHAT: Uuid = Uuid::from_u128(0xC4A7);
const POINT: &str = "git.watch.between_subscribe_and_get_paths";
/// Virtual time: generous, it costs nothing on a paused clock.
const GUARD: Duration = Duration::from_secs(600);
const MINUTE: Duration = Duration::from_secs(60);

/// A connected R2 run: the watch, the agent, and the hook (kept installed
/// while the guard lives).
struct R2 {
    watch: GitWatch,
    agent: Agent,
    hook: Rc<AtYieldPoint>,
    _guard: HookGuard,
}

/// R2 end to end: the client connects and, exactly while the agent's watch
/// is between subscribing to the PathStore and reading it, a tool call adds
/// a path of the fake repository `/repo` for the chat.
async fn r2_connect(bugs: &[Bug]) -> R2 {
    let scanner = FakeScanner::new();
    scanner.set("/repo", "diff of p.go");
    let agent = fake_agent(scanner, bugs);
    let store = agent.paths().clone();
    let (hook, guard) = AtYieldPoint::install(POINT, move || {
        let store = store.clone();
        Box::pin(async move {
            store.add_paths(&[CHAT], &["/repo/p.go".to_string()]).await;
        })
    });
    let addr = serve(agent.clone()).await;
    let watch = watch(addr, Some(CHAT)).await;
    R2 {
        watch,
        agent,
        hook,
        _guard: guard,
    }
}

#[tokio::test(start_paused = true)]
async fn r2_a_path_added_while_the_watch_connects_is_watched() {
    let mut r2 = r2_connect(&[]).await;
    let msg = next_message(&mut r2.watch, GUARD).await;
    assert_eq!(only_repo(&msg).repo_root, "/repo");
    assert_eq!(r2.hook.hits(POINT), 1, "the interleaving happened");
    assert!(r2.hook.bugs_taken().is_empty());
}

#[tokio::test(start_paused = true)]
async fn r2_with_paths_before_subscribe_the_path_is_not_watched_until_the_next_change() {
    cov_mark::check!(paths_before_subscribe);
    let mut r2 = r2_connect(&[Bug::PathsBeforeSubscribe]).await;
    // Lost: neither the read nor a signal saw the path, and the fallback
    // ticker only rescans roots the watch already knows.
    check_silent(&mut r2.watch, 2 * MINUTE).await;
    assert_eq!(r2.hook.hits(POINT), 1, "the interleaving happened");
    assert_eq!(r2.hook.bugs_taken(), vec![Bug::PathsBeforeSubscribe]);

    // Some later change of the chat finally brings it in.
    r2.agent.paths().notify(&[CHAT]);
    let msg = next_message(&mut r2.watch, GUARD).await;
    assert_eq!(only_repo(&msg).repo_root, "/repo");
}

#[tokio::test(start_paused = true)]
async fn fallback_poll_triggers_scan_not_before_30s() {
    let scanner = FakeScanner::new();
    scanner.set("/repo", "v1");
    let agent = fake_agent(scanner.clone(), &[]);
    agent
        .paths()
        .add_paths(&[CHAT], &["/repo/poll.go".into()])
        .await;
    let addr = serve(agent).await;

    let start = Instant::now();
    let mut w = watch(addr, Some(CHAT)).await;
    assert_eq!(
        only_repo(&next_message(&mut w, GUARD).await).unified_diff,
        "v1"
    );
    scanner.set("/repo", "v2");
    // No refresh and no PathStore change: only the ticker scans.
    let msg = next_message(&mut w, GUARD).await;
    assert_eq!(only_repo(&msg).unified_diff, "v2");
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_refresh_inside_the_cooldown_is_answered_after_it() {
    let scanner = FakeScanner::new();
    scanner.set("/repo", "v1");
    let agent = fake_agent(scanner.clone(), &[]);
    agent
        .paths()
        .add_paths(&[CHAT], &["/repo/a.go".into()])
        .await;
    let addr = serve(agent).await;

    let mut w = watch(addr, Some(CHAT)).await;
    let start = Instant::now();
    next_message(&mut w, GUARD).await;
    scanner.set("/repo", "v2");
    w.refresh().await.expect("refresh");
    assert_eq!(
        only_repo(&next_message(&mut w, GUARD).await).unified_diff,
        "v2"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_git_binary_the_watch_sends_nothing() {
    let scanner = Arc::new(GitCliScanner::with_binary("/nonexistent/bin/git"));
    let agent = fake_agent(scanner, &[]);
    agent
        .paths()
        .add_paths(&[CHAT], &["/repo/a.go".into()])
        .await;
    let addr = serve(agent.clone()).await;

    let mut w = watch(addr, Some(CHAT)).await;
    agent
        .paths()
        .add_paths(&[CHAT], &["/repo/b.go".into()])
        .await;
    w.refresh().await.expect("refresh");
    check_silent(&mut w, 2 * MINUTE).await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_answering_pings_is_disconnected() {
    let config = AgentConfig {
        ping_interval: Duration::from_secs(15),
        ..AgentConfig::default()
    };
    let agent = fake_agent_with(FakeScanner::new(), config);
    let addr = serve(agent).await;
    let mut w = watch(addr, None).await;

    // Not reading means not answering the ping sent at 15 s; at 30 s the
    // agent gives up and closes.
    tokio::time::sleep(MINUTE).await;
    let end = tokio::time::timeout(GUARD, w.next()).await;
    assert!(
        matches!(end, Ok(None | Some(Err(_)))),
        "the agent kept the connection open: {end:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_message_over_the_read_limit_ends_the_connection() {
    let agent = fake_agent(FakeScanner::new(), &[]);
    let addr = serve(agent).await;
    let mut w = watch(addr, None).await;
    let huge = ClientMessage {
        kind: "x".repeat(5 << 20),
    };
    // The write itself may or may not fail: the agent stops reading.
    let _ = w.send(&huge).await;
    let end = tokio::time::timeout(GUARD, w.next()).await.expect("ends");
    assert!(
        matches!(end, None | Some(Err(_))),
        "the connection must end, got {end:?}"
    );
}
