//! The file API (spec section 4): read-file-lines, read-file, write-file and
//! edit-files with the fuzzy cascade, all through the [`fs::Fs`] seam.

pub mod api;
pub mod fs;
pub mod wire;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Per-file locks that serialise edits of one file, so two concurrent
/// edit-files requests never lose an update (the original did).
#[derive(Default)]
pub struct FileLocks {
    locks: Mutex<BTreeMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl FileLocks {
    /// The lock for `path` (a resolved, absolute path).
    pub fn lock_for(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.locks.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(path.to_path_buf()).or_default().clone()
    }
}
