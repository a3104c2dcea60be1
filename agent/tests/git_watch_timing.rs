//! The watch handler's run loop and deltas on tokio's paused clock, over an
//! in-memory scanner (`docs/agent-api.md#git`): scans on request at once, then
//! at most one per 1 s cooldown with requests coalescing meanwhile, a 30 s
//! fallback ticker, `last_scan_at` untouched by scans without roots, and a
//! message only for repositories whose snapshot changed.
//!
//! Also race R2 (`docs/races.md`) at the PathStore level: what the watch sees
//! when a path is added between its subscribe and its read, in both orders.

mod git_common;

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use agent::Bug;
use agent::git::WatchHandler;
use agent::git::subscribe_and_get_paths;
use agent::git::wire::ServerMessage;
use git_common::{AtYieldPoint, FakeScanner, fake_agent, fake_handler, only_repo, repos};
use tokio::time::{Instant, sleep};
use uuid::Uuid;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Runs the handler's run loop while `script` runs and returns when each
/// scan happened (since the start) and what it emitted.
async fn scans_during(
    h: &WatchHandler,
    script: impl Future<Output = ()>,
) -> Vec<(Duration, Option<ServerMessage>)> {
    let start = Instant::now();
    let log = RefCell::new(Vec::new());
    let run = h.run_loop(|| {
        let log = &log;
        async move {
            let msg = h.scan().await;
            log.borrow_mut().push((start.elapsed(), msg));
        }
    });
    tokio::select! {
        biased;
        () = run => unreachable!("the run loop never ends"),
        () = script => {}
    }
    log.into_inner()
}

/// Only the times of the scans.
fn times(log: &[(Duration, Option<ServerMessage>)]) -> Vec<Duration> {
    log.iter().map(|(t, _)| *t).collect()
}

/// A handler watching one fake repository `/repo` (diff `v1`).
async fn watching_one_repo() -> (std::sync::Arc<FakeScanner>, WatchHandler) {
    let scanner = FakeScanner::new();
    scanner.set("/repo", "v1");
    let h = fake_handler(scanner.clone());
    assert!(h.subscribe(&["/repo/a.go".to_string()]).await);
    (scanner, h)
}

#[tokio::test(start_paused = true)]
async fn the_first_requested_scan_runs_at_once() {
    let (_, h) = watching_one_repo().await;
    let log = scans_during(&h, async {
        h.request_scan();
        sleep(10 * SEC).await;
    })
    .await;
    assert_eq!(times(&log), vec![Duration::ZERO]);
}

#[tokio::test(start_paused = true)]
async fn a_scan_inside_the_cooldown_waits_for_the_remainder() {
    let (_, h) = watching_one_repo().await;
    let log = scans_during(&h, async {
        h.request_scan();
        sleep(300 * MS).await;
        h.request_scan();
        sleep(10 * SEC).await;
    })
    .await;
    assert_eq!(times(&log), vec![Duration::ZERO, SEC]);
}

#[tokio::test(start_paused = true)]
async fn requests_during_a_cooldown_coalesce() {
    let (_, h) = watching_one_repo().await;
    let log = scans_during(&h, async {
        h.request_scan();
        sleep(300 * MS).await;
        // The loop takes this one and sleeps out the cooldown...
        h.request_scan();
        sleep(200 * MS).await;
        // ...while these three collapse into one pending request.
        h.request_scan();
        h.request_scan();
        h.request_scan();
        sleep(10 * SEC).await;
    })
    .await;
    assert_eq!(times(&log), vec![Duration::ZERO, SEC, 2 * SEC]);
}

#[tokio::test(start_paused = true)]
async fn a_scan_after_the_cooldown_runs_at_once() {
    let (_, h) = watching_one_repo().await;
    let log = scans_during(&h, async {
        h.request_scan();
        sleep(2500 * MS).await;
        h.request_scan();
        sleep(SEC).await;
    })
    .await;
    assert_eq!(times(&log), vec![Duration::ZERO, 2500 * MS]);
}

#[tokio::test(start_paused = true)]
async fn fallback_ticker_scans_every_30s_without_requests() {
    let (scanner, h) = watching_one_repo().await;
    let log = scans_during(&h, async {
        sleep(45 * SEC).await;
        scanner.set("/repo", "v2");
        sleep(50 * SEC).await;
    })
    .await;
    assert_eq!(times(&log), vec![30 * SEC, 60 * SEC, 90 * SEC]);
    let emitted: Vec<bool> = log.iter().map(|(_, m)| m.is_some()).collect();
    assert_eq!(
        emitted,
        vec![true, true, false],
        "first scan, change, no change"
    );
}

#[tokio::test(start_paused = true)]
async fn a_scan_without_roots_does_not_start_the_cooldown() {
    let scanner = FakeScanner::new();
    scanner.set("/repo", "v1");
    let h = fake_handler(scanner.clone());
    let log = scans_during(&h, async {
        h.request_scan();
        sleep(100 * MS).await;
        h.subscribe(&["/repo/a.go".to_string()]).await;
        h.request_scan();
        sleep(10 * SEC).await;
    })
    .await;
    assert_eq!(times(&log), vec![Duration::ZERO, 100 * MS]);
    assert!(log[0].1.is_none(), "nothing watched, nothing emitted");
    assert!(log[1].1.is_some());
    assert_eq!(scanner.reads(), 1, "the empty scan read nothing");
}

#[tokio::test(start_paused = true)]
async fn scanned_at_is_the_wall_clock_when_the_scan_started() {
    let (_, h) = watching_one_repo().await;
    sleep(5 * SEC + 250 * MS).await;
    let Some(ServerMessage::Changes { scanned_at, .. }) = h.scan().await else {
        panic!("expected changes");
    };
    assert_eq!(scanned_at, "2026-03-01T12:00:05.25Z");
}

#[tokio::test(start_paused = true)]
async fn only_changed_repositories_are_emitted() {
    let scanner = FakeScanner::new();
    scanner.set("/a", "a1");
    scanner.set("/b", "b1");
    let h = fake_handler(scanner.clone());
    assert!(h.subscribe(&["/a/x".into(), "/b/y".into()]).await);

    let first = h.scan().await.expect("first scan");
    let roots: Vec<&str> = repos(&first).iter().map(|r| r.repo_root.as_str()).collect();
    assert_eq!(roots, vec!["/a", "/b"], "the first scan emits every repo");
    assert_eq!(h.scan().await, None, "nothing changed");

    scanner.set("/b", "b2");
    let second = h.scan().await.expect("b changed");
    assert_eq!(only_repo(&second).repo_root, "/b");
    assert_eq!(only_repo(&second).unified_diff, "b2");

    scanner.remove("/a");
    let third = h.scan().await.expect("a removed");
    assert!(only_repo(&third).removed);
    assert_eq!(h.roots(), vec![std::path::PathBuf::from("/b")]);
}

#[tokio::test(start_paused = true)]
async fn resubscribing_a_known_root_adds_nothing() {
    let (_, h) = watching_one_repo().await;
    assert!(!h.subscribe(&["/repo/other.go".into()]).await);
    assert!(
        !h.subscribe(&["relative.go".into(), "/outside/x".into()])
            .await
    );
    assert_eq!(h.roots().len(), 1);
}

// ------------------------------------------------------------------ R2

const CHAT: Uuid = Uuid::from_u128(0xC0FFEE);
const POINT: &str = "git.watch.between_subscribe_and_get_paths";

/// What the watch sees when a tool call adds `/repo/p.go` for the chat
/// exactly between the watch's subscribe and its read: the paths it read,
/// and whether its subscription holds a signal.
async fn r2_interleaving(bugs: &[Bug]) -> (Option<Vec<String>>, bool) {
    let agent = fake_agent(FakeScanner::new(), bugs);
    let store = agent.paths().clone();
    let (hook, _guard) = AtYieldPoint::install(POINT, move || {
        let store = store.clone();
        Box::pin(async move {
            store.add_paths(&[CHAT], &["/repo/p.go".to_string()]).await;
        })
    });
    let (mut subscription, paths) =
        subscribe_and_get_paths(agent.paths(), &agent.config().bugs, CHAT).await;
    assert_eq!(hook.hits(POINT), 1, "the interleaving happened");
    (paths, subscription.try_changed())
}

#[tokio::test(start_paused = true)]
async fn r2_a_path_added_between_subscribe_and_read_is_seen() {
    let (paths, signalled) = r2_interleaving(&[]).await;
    assert_eq!(paths, Some(vec!["/repo/p.go".to_string()]));
    // The signal is there too; re-reading is harmless.
    assert!(signalled);
}

#[tokio::test(start_paused = true)]
async fn r2_with_paths_before_subscribe_the_added_path_is_lost() {
    cov_mark::check!(paths_before_subscribe);
    let (paths, signalled) = r2_interleaving(&[Bug::PathsBeforeSubscribe]).await;
    assert_eq!(paths, None, "read before the add");
    assert!(
        !signalled,
        "the add found no subscriber: its signal is lost"
    );
}
