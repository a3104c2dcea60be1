//! PathStore (`docs/agent-api.md#git`), as upstream's `pathstore_test.go`:
//! per-chat path sets, nil ids skipped, sorted de-duplicated reads, and
//! coalescing subscriber signals delivered after the lock is released.

use std::time::Duration;

use agent::git::PathStore;
use futures::FutureExt;
use git_common::AtYieldPoint;
use uuid::Uuid;

mod git_common;

fn chat(n: u128) -> Uuid {
    Uuid::from_u128(0x1000 + n)
}

fn strings(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// `get_paths` as the original states it: `None` or the sorted list.
fn check_paths(store: &PathStore, chat: Uuid, want: Option<&[&str]>) {
    assert_eq!(
        store.get_paths(chat),
        want.map(strings),
        "paths of chat {chat}"
    );
}

/// A signal must already be pending: notification is synchronous.
fn check_signalled(sub: &mut agent::git::Subscription, want: bool) {
    assert_eq!(sub.try_changed(), want, "signal pending on {}", sub.chat());
}

#[tokio::test]
async fn path_store_add_paths_stores_for_chat_and_ancestors() {
    let store = PathStore::new();
    let (child, ancestor1, ancestor2) = (chat(1), chat(2), chat(3));
    store
        .add_paths(&[child, ancestor1, ancestor2], &strings(&["/a", "/b"]))
        .await;
    for id in [child, ancestor1, ancestor2] {
        check_paths(&store, id, Some(&["/a", "/b"]));
    }
    check_paths(&store, chat(99), None);
    assert_eq!(store.len(), 3);
}

#[tokio::test]
async fn path_store_add_paths_skips_nil_uuids() {
    let store = PathStore::new();
    store.add_paths(&[Uuid::nil()], &strings(&["/x"])).await;
    check_paths(&store, Uuid::nil(), None);
    assert!(store.is_empty());

    store
        .add_paths(&[chat(1), Uuid::nil()], &strings(&["/y"]))
        .await;
    check_paths(&store, chat(1), Some(&["/y"]));
    check_paths(&store, Uuid::nil(), None);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn path_store_get_paths_deduplicated_sorted() {
    let store = PathStore::new();
    store
        .add_paths(&[chat(1)], &strings(&["/z", "/a", "/m", "/a", "/z"]))
        .await;
    store.add_paths(&[chat(1)], &strings(&["/a", "/b"])).await;
    check_paths(&store, chat(1), Some(&["/a", "/b", "/m", "/z"]));
}

#[tokio::test]
async fn path_store_subscribe_receives_notification() {
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    store.add_paths(&[chat(1)], &strings(&["/file"])).await;
    check_signalled(&mut sub, true);
}

#[tokio::test]
async fn path_store_subscribe_multiple_subscribers() {
    let store = PathStore::new();
    let mut first = store.subscribe(chat(1));
    let mut second = store.subscribe(chat(1));
    store.add_paths(&[chat(1)], &strings(&["/file"])).await;
    check_signalled(&mut first, true);
    check_signalled(&mut second, true);
}

#[tokio::test]
async fn path_store_unsubscribe_stops_notifications() {
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    sub.unsubscribe();
    store.add_paths(&[chat(1)], &strings(&["/file"])).await;
    check_signalled(&mut sub, false);
    // A second unsubscribe (and the drop) is harmless.
    sub.unsubscribe();
}

#[tokio::test]
async fn path_store_subscribe_ancestor_notification() {
    let store = PathStore::new();
    let mut ancestor = store.subscribe(chat(2));
    store
        .add_paths(&[chat(1), chat(2)], &strings(&["/file"]))
        .await;
    check_signalled(&mut ancestor, true);
}

#[tokio::test]
async fn path_store_notify_notifies_without_adding_paths() {
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    store.notify(&[chat(1)]);
    check_signalled(&mut sub, true);
    check_paths(&store, chat(1), None);
}

#[tokio::test]
async fn path_store_notify_skips_nil_uuids() {
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    let mut nil_sub = store.subscribe(Uuid::nil());
    store.notify(&[Uuid::nil()]);
    check_signalled(&mut sub, false);
    check_signalled(&mut nil_sub, false);
    check_paths(&store, chat(1), None);
}

#[tokio::test]
async fn path_store_notify_ancestor_notification() {
    let store = PathStore::new();
    let mut ancestor = store.subscribe(chat(2));
    store.notify(&[chat(1), chat(2)]);
    check_signalled(&mut ancestor, true);
    check_paths(&store, chat(2), None);
}

#[tokio::test]
async fn signals_coalesce_and_the_receiver_rereads_everything() {
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    for p in ["/a", "/b", "/c"] {
        store.add_paths(&[chat(1)], &strings(&[p])).await;
    }
    check_signalled(&mut sub, true);
    check_signalled(&mut sub, false);
    check_paths(&store, chat(1), Some(&["/a", "/b", "/c"]));
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes_it() {
    let store = PathStore::new();
    let mut kept = store.subscribe(chat(1));
    drop(store.subscribe(chat(1)));
    store.notify(&[chat(1)]);
    check_signalled(&mut kept, true);
}

#[tokio::test]
async fn a_subscriber_waiting_for_a_change_wakes_on_add_paths() {
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    let writer = store.clone();
    let wait = tokio::spawn(async move { sub.changed().await });
    tokio::task::yield_now().await;
    writer.add_paths(&[chat(1)], &strings(&["/file"])).await;
    let woke = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("woken")
        .expect("task");
    assert_eq!(woke, Some(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn path_store_concurrent_safety() {
    const TASKS: usize = 20;
    const ITERATIONS: usize = 50;
    let store = PathStore::new();
    let chats: Vec<Uuid> = (0..TASKS as u128).map(chat).collect();
    let mut tasks = Vec::new();
    for idx in 0..TASKS {
        let (writer, ids) = (store.clone(), chats.clone());
        tasks.push(tokio::spawn(async move {
            let (store, chats) = (writer, ids);
            for j in 0..ITERATIONS {
                let ids = [chats[idx], chats[(idx + 1) % TASKS]];
                let paths = vec![
                    format!("/file-{}-{j}", chats[idx]),
                    format!("/iter-{}", j % 10),
                ];
                store.add_paths(&ids, &paths).await;
            }
        }));
        let (reader, ids) = (store.clone(), chats.clone());
        tasks.push(tokio::spawn(async move {
            let (store, chats) = (reader, ids);
            for _ in 0..ITERATIONS {
                let _ = store.get_paths(chats[idx]);
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    for id in &chats {
        let paths = store.get_paths(*id).expect("every chat has paths");
        // Its own 50 files, its neighbour's 50, and the 10 shared names.
        assert_eq!(paths.len(), 2 * ITERATIONS + 10, "chat {id}");
    }
}

#[tokio::test]
async fn add_paths_cancelled_between_store_and_notify_still_notifies() {
    // A request dropped at the yield point (say, its client went away)
    // must not leave stored paths without a signal.
    let (hook, _guard) = AtYieldPoint::install("pathstore.between_store_and_notify", || {
        Box::pin(std::future::pending())
    });
    let store = PathStore::new();
    let mut sub = store.subscribe(chat(1));
    let paths = strings(&["/file"]);
    let cancelled = store.add_paths(&[chat(1)], &paths).now_or_never();
    assert!(cancelled.is_none(), "the add was parked at the yield point");
    assert_eq!(hook.hits("pathstore.between_store_and_notify"), 1);
    check_paths(&store, chat(1), Some(&["/file"]));
    check_signalled(&mut sub, true);
}
