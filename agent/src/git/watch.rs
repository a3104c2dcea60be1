//! The per-connection git watch handler (`docs/agent-api.md#git`): which
//! repository roots the connection watches, the last snapshot it emitted per
//! root, when it last scanned, and the scan trigger. The run loop scans on a
//! trigger or on the fallback ticker, at most once per cooldown, and only emits
//! what changed.
//!
//! The handler reaches git only through [`RepoScanner`], the disk only
//! through [`Fs`] and the wall clock only through [`WallClock`]; its timers
//! are `tokio::time`, so it runs unchanged under simulation.

use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::files::fs::Fs;
use crate::git::pathstore::{PathStore, Subscription};
use crate::git::scanner::{RepoScanner, RepoState, ScanError};
use crate::git::wire::{RepoChange, ServerMessage};
use crate::seams::WallClock;
use crate::{AgentConfig, Bug, BugSet};

/// Subscribes to the chat's PathStore changes and reads its current paths,
/// as a watch connection does when it starts.
///
/// Fixed order: subscribe, then read. A path added before the subscribe is
/// in the read; one added after it signals the subscription. The
/// `paths-before-subscribe` switch restores the original order, where a
/// path added between the read and the subscribe is never watched (race R2,
/// `docs/races.md`).
pub async fn subscribe_and_get_paths(
    store: &PathStore,
    bugs: &BugSet,
    chat: Uuid,
) -> (Subscription, Option<Vec<String>>) {
    if crate::bugs::take_bug(bugs, Bug::PathsBeforeSubscribe) {
        let paths = store.get_paths(chat);
        crate::yield_point!("git.watch.between_subscribe_and_get_paths");
        (store.subscribe(chat), paths)
    } else {
        let subscription = store.subscribe(chat);
        crate::yield_point!("git.watch.between_subscribe_and_get_paths");
        (subscription, store.get_paths(chat))
    }
}

/// On each PathStore signal: re-read the chat's paths, watch their repos,
/// request a scan. Never returns (without a subscription it just waits).
pub async fn follow_paths(
    handler: &WatchHandler,
    store: &PathStore,
    subscription: Option<Subscription>,
) {
    if let Some(mut subscription) = subscription {
        let chat = subscription.chat();
        while subscription.changed().await.is_some() {
            let paths = store.get_paths(chat).unwrap_or_default();
            handler.subscribe(&paths).await;
            crate::sim::sync::publish(crate::site!("sync.notify:git.watch.scan_request"), || {
                handler.request_scan()
            })
            .await;
        }
    }
    std::future::pending::<()>().await
}

/// Mutable state, behind one lock held only for bookkeeping (never across
/// an await or a git run).
#[derive(Default)]
struct State {
    /// Watched repository roots (sorted: scans and messages list repos in
    /// a deterministic order).
    roots: BTreeSet<PathBuf>,
    /// The last snapshot emitted per root.
    last: BTreeMap<PathBuf, RepoState>,
    /// When the last scan that had roots started.
    last_scan_at: Option<Instant>,
}

/// One watch connection's handler.
pub struct WatchHandler {
    scanner: Arc<dyn RepoScanner>,
    fs: Arc<dyn Fs>,
    clock: Arc<dyn WallClock>,
    cooldown: Duration,
    fallback_interval: Duration,
    state: Mutex<State>,
    trigger_tx: mpsc::Sender<()>,
    /// Taken by the (single) run loop.
    trigger_rx: Mutex<Option<mpsc::Receiver<()>>>,
}

impl WatchHandler {
    /// A handler over the given seams, with the cooldown and fallback
    /// interval of `config`. Warns once when the scanner cannot work (no
    /// `git` binary): such a handler watches nothing and never emits.
    pub fn new(
        scanner: Arc<dyn RepoScanner>,
        fs: Arc<dyn Fs>,
        clock: Arc<dyn WallClock>,
        config: &AgentConfig,
    ) -> Self {
        if !scanner.available() {
            tracing::warn!("git binary not found, git scanning disabled");
        }
        let (trigger_tx, trigger_rx) = mpsc::channel(1);
        WatchHandler {
            scanner,
            fs,
            clock,
            cooldown: config.scan_cooldown,
            fallback_interval: config.fallback_scan_interval,
            state: Mutex::new(State::default()),
            trigger_tx,
            trigger_rx: Mutex::new(Some(trigger_rx)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Resolves each absolute path to its repository root and watches the
    /// new roots; relative paths, paths outside a repository and missing
    /// directories are ignored. Returns whether any root was added. (A
    /// caller re-requests a scan either way, so a re-edit rescans.)
    pub async fn subscribe(&self, paths: &[String]) -> bool {
        if !self.scanner.available() {
            return false;
        }
        let mut added = false;
        for path in paths {
            let Some(path) = clean_absolute(Path::new(path)) else {
                continue;
            };
            // A file (or a path that does not exist) resolves from its
            // parent directory.
            let dir = match self.fs.metadata(&path) {
                Ok(m) if m.is_dir() => path,
                _ => match path.parent() {
                    Some(parent) => parent.to_path_buf(),
                    None => path,
                },
            };
            let Some(root) = self.scanner.repo_root(&dir).await else {
                continue;
            };
            if self.lock().roots.insert(root) {
                added = true;
            }
        }
        added
    }

    /// Asks the run loop for a scan; a pending request absorbs this one.
    pub fn request_scan(&self) {
        // Full means a request is already pending: coalesce.
        let _ = self.trigger_tx.try_send(());
    }

    /// The watched roots, sorted.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.lock().roots.iter().cloned().collect()
    }

    /// Reads every watched repository and returns a `changes` message with
    /// the repositories whose state differs from the last one emitted
    /// (all of them on the first scan) and the ones that were removed;
    /// `None` when nothing changed or nothing is watched.
    pub async fn scan(&self) -> Option<ServerMessage> {
        if !self.scanner.available() {
            return None;
        }
        let roots = self.roots();
        if roots.is_empty() {
            return None;
        }
        let started = Instant::now();
        let scanned_at = self.clock.now();

        // Read outside the lock: git runs are slow and must not block
        // subscribes.
        let mut results = Vec::with_capacity(roots.len());
        for root in roots {
            let result = self.scanner.read_repo(&root).await;
            results.push((root, result));
        }

        let mut repositories = Vec::new();
        let mut state = self.lock();
        for (root, result) in results {
            let repo_root = root.to_string_lossy().into_owned();
            match result {
                Err(ScanError::Removed) => {
                    state.roots.remove(&root);
                    state.last.remove(&root);
                    repositories.push(RepoChange {
                        repo_root,
                        branch: String::new(),
                        remote_origin: String::new(),
                        unified_diff: String::new(),
                        removed: true,
                    });
                }
                Err(ScanError::Transient(error)) => {
                    tracing::warn!(root = %repo_root, %error, "scan repo failed");
                }
                Ok(repo) => {
                    if state.last.get(&root) == Some(&repo) {
                        continue;
                    }
                    repositories.push(RepoChange {
                        repo_root,
                        branch: repo.branch.clone(),
                        remote_origin: repo.remote_origin.clone(),
                        unified_diff: repo.unified_diff.clone(),
                        removed: false,
                    });
                    state.last.insert(root, repo);
                }
            }
        }
        state.last_scan_at = Some(started);
        drop(state);

        if repositories.is_empty() {
            return None;
        }
        Some(ServerMessage::Changes {
            scanned_at: rfc3339_utc(scanned_at),
            repositories,
        })
    }

    /// Runs until dropped: on each scan request and each fallback tick,
    /// calls `scan` once the cooldown since the last scan has passed.
    /// While it waits out a cooldown it serves nothing else, so requests
    /// arriving meanwhile coalesce into one. Only the first run loop of a
    /// handler receives requests; a second one returns at once.
    pub async fn run_loop<F, Fut>(&self, mut scan: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let taken = self.trigger_rx.lock().take();
        let Some(mut trigger) = taken else {
            return;
        };
        let mut ticker = tokio::time::interval_at(
            Instant::now() + self.fallback_interval,
            self.fallback_interval,
        );
        // Like Go's ticker: a slow scan delays at most one tick.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                Some(()) = trigger.recv() => {}
                _ = ticker.tick() => {}
            }
            self.wait_cooldown().await;
            scan().await;
        }
    }

    /// Sleeps until `cooldown` has passed since the last scan.
    async fn wait_cooldown(&self) {
        let last = self.lock().last_scan_at;
        if let Some(last) = last {
            let elapsed = last.elapsed();
            if elapsed < self.cooldown {
                let wait = self.cooldown - elapsed;
                let timer = CooldownTimer::arm(wait);
                tokio::time::sleep(wait).await;
                timer.fired();
            }
        }
    }
}

/// The deferred scan's cooldown as a traced timer (under simulation): armed
/// when a scan waits out the cooldown, disarmed if the watch ends first. A
/// cooldown that runs out is recorded by the harness as `timer.fire`, so
/// nothing is traced then; a hung run lists a cooldown still pending.
struct CooldownTimer {
    /// The task that armed it, so a disarm from a drop is attributed to it.
    owner: Option<Arc<str>>,
    pending: bool,
}

impl CooldownTimer {
    fn arm(wait: Duration) -> Self {
        crate::sim::event("timer.arm", || {
            format!(
                "scan cooldown due in {:.3}s: the deferred scan runs",
                wait.as_secs_f64()
            )
        });
        Self {
            owner: crate::sim::current_task(),
            pending: true,
        }
    }

    /// The cooldown ran out: the harness already recorded its firing.
    fn fired(mut self) {
        self.pending = false;
    }
}

impl Drop for CooldownTimer {
    /// Disarms only when running code ends the watch (a task is being
    /// polled): a simulation tearing down drops its tasks in no fixed
    /// order, which must not reach the trace.
    fn drop(&mut self) {
        if self.pending && crate::sim::current_task().is_some() {
            crate::sim::with_task(self.owner.as_ref(), || {
                crate::sim::event("timer.disarm", || {
                    "scan cooldown disarmed (the watch ended)".to_string()
                })
            });
        }
    }
}

/// Go's `filepath.Clean` for absolute paths: `.` and repeated separators
/// dropped, `..` resolved lexically (never above `/`). `None` for a
/// relative path.
pub fn clean_absolute(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// RFC 3339 in UTC with trailing-zero-trimmed fractional seconds, as Go
/// marshals a `time.Time` (`2026-03-01T12:00:00.5Z`).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_absolute_is_go_filepath_clean() {
        let cases: [(&str, Option<&str>); 6] = [
            ("/a/b/../c", Some("/a/c")),
            ("/a//b/./c/", Some("/a/b/c")),
            ("/../..", Some("/")),
            ("/", Some("/")),
            ("relative/path.go", None),
            ("./x", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                clean_absolute(Path::new(input)),
                want.map(PathBuf::from),
                "{input}"
            );
        }
    }

    #[test]
    fn scanned_at_is_rfc3339_utc_like_go() {
        let at = |secs: u64, nanos: u32| {
            rfc3339_utc(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
        };
        assert_eq!(at(1_772_366_400, 0), "2026-03-01T12:00:00Z");
        assert_eq!(at(1_772_366_400, 500_000_000), "2026-03-01T12:00:00.5Z");
        assert_eq!(
            at(1_772_366_400, 123_456_789),
            "2026-03-01T12:00:00.123456789Z"
        );
    }
}
