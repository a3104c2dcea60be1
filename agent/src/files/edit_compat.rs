//! The view of the files domain that [`super::edit`] was written against:
//! `ApiError` results and the whole [`Agent`]. `read` and `write` re-export
//! these under their old names for `edit` alone; the module goes away once
//! `edit` returns its own error type and takes a [`super::FileIo`]. It
//! imports nothing from the domain modules it serves, so no two modules
//! import each other.

use std::collections::BTreeSet;
use std::path::PathBuf;

use http::StatusCode;
use tokio::sync::OwnedMutexGuard;

use super::goerr::PathError;
use crate::Agent;
pub(crate) use crate::http::files::{atomic_write, resolve_failed, special_file};

/// [`super::FileLocks::lock_all`] on the agent's locks and switches.
pub(crate) async fn lock_paths(
    agent: &Agent,
    paths: &BTreeSet<PathBuf>,
) -> Vec<OwnedMutexGuard<()>> {
    agent
        .file_locks()
        .lock_all(paths, &agent.config().bugs)
        .await
}

impl PathError {
    /// The status of a failed open/read; see [`crate::http::files::open_status`].
    pub fn open_status(&self) -> StatusCode {
        crate::http::files::open_status(self.kind())
    }
}
