//! The `RepoScanner` seam: how the git watch finds repository roots and
//! reads a repository's state. The real scanner runs the `git` CLI; the
//! harness swaps in an in-memory repo model.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

/// One repository's state as the watch compares and emits it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoState {
    pub branch: String,
    pub remote_origin: String,
    pub unified_diff: String,
}

/// Reading a repository failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The repository is gone (root dir, `.git`, or its gitdir removed).
    #[error("repository removed")]
    Removed,
    /// Anything else: the root is kept and nothing is emitted.
    #[error("{0}")]
    Transient(String),
}

#[async_trait]
pub trait RepoScanner: Send + Sync + 'static {
    /// Whether scanning works at all (the real one needs a `git` binary).
    fn available(&self) -> bool;
    /// The nearest repository root containing `dir` (symlinks resolved), or
    /// `None` when `dir` is not inside a repository or does not exist.
    async fn repo_root(&self, dir: &Path) -> Option<PathBuf>;
    /// Reads the repository at `root`.
    async fn read_repo(&self, root: &Path) -> Result<RepoState, ScanError>;
}

/// The real scanner, on the `git` CLI (completed by the git-watch issue).
#[derive(Debug, Default)]
pub struct GitCliScanner;

impl GitCliScanner {
    pub fn new() -> Self {
        GitCliScanner
    }
}

#[async_trait]
impl RepoScanner for GitCliScanner {
    fn available(&self) -> bool {
        false
    }

    async fn repo_root(&self, _dir: &Path) -> Option<PathBuf> {
        None
    }

    async fn read_repo(&self, _root: &Path) -> Result<RepoState, ScanError> {
        Err(ScanError::Transient("git scanner not wired yet".into()))
    }
}
