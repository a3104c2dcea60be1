//! The file API (`docs/agent-api.md#files`): read-file-lines, read-file,
//! write-file and edit-files with the fuzzy cascade, all through the
//! [`fs::Fs`] seam.
//!
//! Layout: [`read`], [`write`] and [`edit`] hold the endpoint logic, each
//! with its own error type (the HTTP handlers and the error envelope are
//! [`crate::http::files`]); they reach the agent only through a [`FileIo`]
//! (filesystem, id source, offload seam, locks, bug switches). [`fuzzy`]
//! (the matcher) and [`lines`] (the line reader) are pure functions over
//! bytes; [`query`], [`resolve`] and [`goerr`] are the shared plumbing
//! (query validation, symlink resolution, Go-shaped error texts).
//!
//! Fixed here where the original was broken: an empty search is rejected (race
//! R8 in `docs/races.md`); entries for one file by one path are merged, and
//! by two paths (a symlink) rejected (R9); edits and writes of one file are serialised
//! ([`FileLocks`], switch [`crate::Bug::UnserialisedEdits`]), and a
//! multi-file edit takes its locks in sorted order (R17, switch
//! [`crate::Bug::EditLockOrder`]); every write is a
//! temp file plus rename, so a failed write leaves the original byte-identical.

pub mod edit;
pub mod fs;
pub mod fuzzy;
pub mod goerr;
pub mod lines;
pub mod read;
pub mod resolve;
pub use agent_wire::files as wire;
pub mod write;

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;

use crate::seams::{IdSource, Offload};
use crate::{Bug, BugSet};

/// How a failed file operation is classed, least to most severe: the
/// caller's mistake, denied, missing, over a cap, or the file system
/// failing. The HTTP layer gives each class its status; edit-files answers
/// the most severe class among its entries' failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// The request or an edit cannot apply (bad path, search not found,
    /// ambiguous, duplicate alias, not a regular file).
    Invalid,
    Forbidden,
    NotFound,
    /// The file, the body or the edited result is over its cap.
    TooLarge,
    /// The file system failed.
    Internal,
}

impl ErrorClass {
    /// The class of a failed open or read: missing, denied, a path
    /// component that is a file (the caller's mistake), else internal.
    pub fn of_io(kind: std::io::ErrorKind) -> Self {
        match kind {
            std::io::ErrorKind::NotFound => ErrorClass::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorClass::Forbidden,
            std::io::ErrorKind::NotADirectory => ErrorClass::Invalid,
            _ => ErrorClass::Internal,
        }
    }
}

/// What the file operations reach: the filesystem, the id source (temp file
/// names), the offload seam, the per-file locks and the bug switches.
/// Borrowed from the agent for one request.
#[derive(Clone, Copy)]
pub struct FileIo<'a> {
    pub fs: &'a Arc<dyn fs::Fs>,
    pub ids: &'a Arc<dyn IdSource>,
    pub offload: &'a Arc<dyn Offload>,
    pub locks: &'a FileLocks,
    pub bugs: &'a BugSet,
}

/// Per-file locks that serialise edits of one file, so two concurrent
/// edit-files requests never lose an update (the original did).
#[derive(Default)]
pub struct FileLocks {
    locks: Mutex<BTreeMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl FileLocks {
    fn map(&self) -> parking_lot::MutexGuard<'_, BTreeMap<PathBuf, Arc<tokio::sync::Mutex<()>>>> {
        self.locks.lock()
    }

    /// The lock for `path` (a resolved, absolute path). Entries nobody holds
    /// or waits for are dropped on the way, so the map stays as small as the
    /// set of files being written right now.
    pub fn lock_for(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.map();
        map.retain(|_, lock| Arc::strong_count(lock) > 1);
        map.entry(path.to_path_buf()).or_default().clone()
    }

    /// How many requests hold or wait for the lock of `path` right now
    /// (diagnostics and tests).
    pub fn contenders(&self, path: &Path) -> usize {
        self.map()
            .get(path)
            .map_or(0, |lock| Arc::strong_count(lock) - 1)
    }

    /// Takes the locks of every path in `paths` (duplicates once), in
    /// sorted order whatever the request's order, so two multi-file
    /// requests cannot deadlock. The guards release on drop.
    ///
    /// Under simulation each acquisition is a sync site
    /// (`sync.lock:files.path`: another request may take the lock first) and
    /// a request holding some of its locks yields before taking the next
    /// (`files.locks.between_acquires`), where a lock-order deadlock forms.
    ///
    /// Known-bug switches: `unserialised-edits` skips the locks, so two
    /// requests may both read the original and the later write drops the
    /// earlier edit (R16); `edit-lock-order` takes them in request order, so
    /// two requests naming the same files in opposite orders can each hold
    /// one and wait for the other forever (R17).
    pub async fn lock_all(&self, paths: &[PathBuf], bugs: &BugSet) -> Vec<PathLock> {
        if crate::bugs::take_bug(bugs, Bug::UnserialisedEdits) {
            return Vec::new();
        }
        let mut seen = BTreeSet::new();
        let order: Vec<&PathBuf> =
            if paths.len() > 1 && crate::bugs::take_bug(bugs, Bug::EditLockOrder) {
                paths.iter().filter(|p| seen.insert(*p)).collect()
            } else {
                paths.iter().collect::<BTreeSet<_>>().into_iter().collect()
            };
        let mut guards = Vec::with_capacity(order.len());
        for path in order {
            if !guards.is_empty() {
                crate::yield_point!("files.locks.between_acquires");
            }
            let lock = self.lock_for(path);
            let acquire = async {
                match lock.clone().try_lock_owned() {
                    Ok(guard) => guard,
                    Err(_) => {
                        // Traced so a hang report names the file each stuck
                        // request waits for (R17).
                        crate::sim::event("files.lock", || {
                            format!("waiting for {}: another request holds it", path.display())
                        });
                        lock.lock_owned().await
                    }
                }
            };
            let guard = crate::sim::sync::lock(crate::site!("sync.lock:files.path"), acquire).await;
            crate::sim::event("files.lock", || format!("acquired {}", path.display()));
            guards.push(PathLock {
                _guard: guard,
                path: path.clone(),
            });
        }
        guards
    }
}

/// A held per-file lock; its release is traced under simulation.
pub struct PathLock {
    _guard: OwnedMutexGuard<()>,
    path: PathBuf,
}

impl Drop for PathLock {
    fn drop(&mut self) {
        // Outside any task, a guard is dropped by a simulation tearing down
        // a stuck request (a hang, a crash): the runtime drops tasks in an
        // order of its own, not the run's, so it stays out of the trace.
        if crate::sim::current_task().is_none() {
            return;
        }
        crate::sim::event("files.unlock", || {
            format!("released {}", self.path.display())
        });
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn path(name: &str) -> PathBuf {
        PathBuf::from(format!("/w/{name}"))
    }

    /// Holds `a`'s lock while a request locks `request` (in that order);
    /// returns whether the request took `b` while it waited for `a`, and
    /// checks it gets both once `a` is free.
    fn takes_b_while_waiting_for_a(request: [&str; 2], bugs: &BugSet) -> bool {
        let locks = FileLocks::default();
        let held = locks
            .lock_for(&path("a"))
            .try_lock_owned()
            .expect("free at first");
        let request = request.map(path);
        let mut lock_all = Box::pin(locks.lock_all(&request, bugs));
        assert!((&mut lock_all).now_or_never().is_none(), "waits for a");
        let took_b = locks.lock_for(&path("b")).try_lock().is_err();
        drop(held);
        let guards = lock_all.now_or_never().expect("a is free");
        assert_eq!(guards.len(), 2);
        took_b
    }

    #[test]
    fn a_multi_file_lock_takes_the_files_in_sorted_order_whatever_the_request_order() {
        assert!(!takes_b_while_waiting_for_a(["b", "a"], &BugSet::none()));
        assert!(!takes_b_while_waiting_for_a(["a", "b"], &BugSet::none()));
    }

    #[test]
    fn with_edit_lock_order_a_multi_file_lock_takes_the_files_in_request_order() {
        cov_mark::check!(edit_lock_order);
        let bugs = BugSet::none().with(Bug::EditLockOrder);
        assert!(takes_b_while_waiting_for_a(["b", "a"], &bugs));
    }

    #[test]
    fn a_file_named_twice_is_locked_once() {
        for bugs in [BugSet::none(), BugSet::none().with(Bug::EditLockOrder)] {
            let locks = FileLocks::default();
            let guards = locks
                .lock_all(&[path("a"), path("b"), path("a")], &bugs)
                .now_or_never()
                .expect("nothing else holds them");
            assert_eq!(guards.len(), 2, "{bugs:?}");
        }
    }
}
