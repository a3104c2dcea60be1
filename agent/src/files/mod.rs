//! The file API (`docs/agent-api.md#files`): read-file-lines, read-file,
//! write-file and edit-files with the fuzzy cascade, all through the
//! [`fs::Fs`] seam.
//!
//! Layout: [`api`] holds the thin HTTP handlers; [`read`], [`write`] and
//! [`edit`] the endpoint logic; [`fuzzy`] (the matcher) and [`lines`] (the
//! line reader) are pure functions over bytes; [`query`], [`resolve`] and
//! [`goerr`] are the shared plumbing (query validation, symlink resolution,
//! Go-shaped error texts).
//!
//! Fixed here where the original was broken: an empty search is rejected (race
//! R8 in `docs/races.md`); two entries for one file, directly or through a
//! symlink, are rejected (R9); edits and writes of one file are serialised
//! ([`FileLocks`], switch [`crate::Bug::UnserialisedEdits`]); every write is a
//! temp file plus rename, so a failed write leaves the original byte-identical.

pub mod api;
pub mod edit;
pub mod fs;
pub mod fuzzy;
pub mod goerr;
pub mod lines;
pub mod query;
pub mod read;
pub mod resolve;
pub use agent_wire::files as wire;
pub mod write;

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;

use crate::{Agent, Bug};

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
}

/// Takes the locks of every path in `paths`, in sorted order (so two
/// multi-file requests cannot deadlock). The guards release on drop.
///
/// Known-bug switch `unserialised-edits`: skip the locks, so two requests
/// may both read the original and the later write drops the earlier edit.
pub(crate) async fn lock_paths(agent: &Agent, paths: &BTreeSet<PathBuf>) -> Vec<PathLock> {
    if agent.bug(Bug::UnserialisedEdits) {
        crate::sim::bug_taken(Bug::UnserialisedEdits);
        cov_mark::hit!(edits_unserialised);
        return Vec::new();
    }
    let mut guards = Vec::with_capacity(paths.len());
    for path in paths {
        let guard = agent.file_locks().lock_for(path).lock_owned().await;
        crate::sim::event("files.lock", || format!("acquired {}", path.display()));
        guards.push(PathLock {
            _guard: guard,
            path: path.clone(),
        });
    }
    guards
}

/// A held per-file lock; its release is traced under simulation.
pub(crate) struct PathLock {
    _guard: OwnedMutexGuard<()>,
    path: PathBuf,
}

impl Drop for PathLock {
    fn drop(&mut self) {
        crate::sim::event("files.unlock", || {
            format!("released {}", self.path.display())
        });
    }
}
