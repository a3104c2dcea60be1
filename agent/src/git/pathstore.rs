//! PathStore (`docs/agent-api.md#git`): per-chat sets of paths the chat's tool
//! calls touched, and subscriber channels that learn when a chat's set changes.
//!
//! Notification is a non-blocking send into a capacity-1 channel: a pending
//! signal absorbs later ones (coalescing), and the receiver always re-reads
//! the whole set, so nothing is lost. Subscribers are notified after the
//! lock is released.
//!
//! `add_paths` has a yield point between storing and notifying. The
//! notification is owned by a drop guard, so a caller whose future is
//! cancelled at that point (a dropped request) still notifies: stored paths
//! are never left without a signal. The signal itself is a sync site
//! (`sync.notify:pathstore.subscribers`): a subscriber may run before
//! `add_paths` returns.

use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

#[derive(Default)]
struct Inner {
    paths: BTreeMap<Uuid, BTreeSet<String>>,
    subscribers: BTreeMap<Uuid, Vec<(u64, mpsc::Sender<()>)>>,
    next_subscriber: u64,
}

/// In-memory, per-agent store of chat paths (lost on restart).
#[derive(Clone, Default)]
pub struct PathStore {
    inner: Arc<Mutex<Inner>>,
}

/// A subscription to one chat's changes; unsubscribes when dropped.
pub struct Subscription {
    rx: mpsc::Receiver<()>,
    store: PathStore,
    chat: Uuid,
    id: u64,
}

impl Subscription {
    /// Waits for the next (coalesced) change signal; `None` once
    /// unsubscribed.
    pub async fn changed(&mut self) -> Option<()> {
        self.rx.recv().await
    }

    /// Takes a pending signal without waiting.
    pub fn try_changed(&mut self) -> bool {
        self.rx.try_recv().is_ok()
    }

    /// The chat this subscription follows.
    pub fn chat(&self) -> Uuid {
        self.chat
    }

    /// Removes this subscriber from the store; later changes no longer
    /// signal it. Idempotent; dropping the subscription does the same.
    pub fn unsubscribe(&mut self) {
        self.store.unsubscribe(self.chat, self.id);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

/// Notifies the chats' subscribers when dropped: `add_paths` notifies
/// even if its future is cancelled between storing and notifying.
struct NotifyOnDrop<'a> {
    store: &'a PathStore,
    chats: Vec<Uuid>,
}

impl Drop for NotifyOnDrop<'_> {
    fn drop(&mut self) {
        self.store.notify_now(&self.chats);
    }
}

impl PathStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Adds `paths` to every chat in `chats` (nil ids skipped), then
    /// notifies their subscribers.
    pub async fn add_paths(&self, chats: &[Uuid], paths: &[String]) {
        let chats: Vec<Uuid> = chats.iter().copied().filter(|c| !c.is_nil()).collect();
        if chats.is_empty() {
            return;
        }
        {
            let mut inner = self.lock();
            for chat in &chats {
                let set = inner.paths.entry(*chat).or_default();
                for p in paths {
                    set.insert(p.clone());
                }
            }
        }
        let notify = NotifyOnDrop { store: self, chats };
        crate::yield_point!("pathstore.between_store_and_notify");
        crate::sim::sync::publish(crate::site!("sync.notify:pathstore.subscribers"), || {
            drop(notify)
        })
        .await;
    }

    /// Notifies the chats' subscribers without adding paths.
    pub fn notify(&self, chats: &[Uuid]) {
        let chats: Vec<Uuid> = chats.iter().copied().filter(|c| !c.is_nil()).collect();
        self.notify_now(&chats);
    }

    fn notify_now(&self, chats: &[Uuid]) {
        let senders: Vec<mpsc::Sender<()>> = {
            let inner = self.lock();
            chats
                .iter()
                .filter_map(|c| inner.subscribers.get(c))
                .flatten()
                .map(|(_, tx)| tx.clone())
                .collect()
        };
        for tx in senders {
            // Full means a signal is already pending: coalesce.
            let _ = tx.try_send(());
        }
    }

    /// The chat's paths, sorted and de-duplicated; `None` when it has none.
    pub fn get_paths(&self, chat: Uuid) -> Option<Vec<String>> {
        let inner = self.lock();
        inner
            .paths
            .get(&chat)
            .filter(|s| !s.is_empty())
            .map(|s| s.iter().cloned().collect())
    }

    /// Subscribes to the chat's changes.
    pub fn subscribe(&self, chat: Uuid) -> Subscription {
        let (tx, rx) = mpsc::channel(1);
        let id = {
            let mut inner = self.lock();
            inner.next_subscriber += 1;
            let id = inner.next_subscriber;
            inner.subscribers.entry(chat).or_default().push((id, tx));
            id
        };
        Subscription {
            rx,
            store: self.clone(),
            chat,
            id,
        }
    }

    fn unsubscribe(&self, chat: Uuid, id: u64) {
        let mut inner = self.lock();
        if let Some(subs) = inner.subscribers.get_mut(&chat) {
            subs.retain(|(sid, _)| *sid != id);
            if subs.is_empty() {
                inner.subscribers.remove(&chat);
            }
        }
    }

    /// Number of chats with paths.
    pub fn len(&self) -> usize {
        self.lock().paths.values().filter(|s| !s.is_empty()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
