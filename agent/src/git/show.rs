//! `show`: a file's text at a git ref, refused when the repository is not
//! one, the file is unknown, binary or too large.

use std::path::Path;

use super::Error;
use super::scanner::RepoScanner;
use crate::files::fs::Fs;

/// `show` refuses files larger than this.
pub const SHOW_MAX_FILE_SIZE: usize = 512 * 1024;

/// `show` looks for a NUL byte in this many leading bytes.
const SHOW_BINARY_SNIFF: usize = 8 * 1024;

/// The text of `path` (relative to `repo_root`) at `git_ref`. Invalid UTF-8
/// is replaced, as the original's JSON encoding did.
pub async fn show(
    fs: &dyn Fs,
    scanner: &dyn RepoScanner,
    repo_root: &str,
    git_ref: &str,
    path: &str,
) -> Result<String, Error> {
    let root = Path::new(repo_root);
    if fs.metadata(&root.join(".git")).is_err() {
        return Err(Error::NotARepository);
    }
    let bytes = scanner
        .show_file(root, git_ref, path)
        .await
        .map_err(Error::FileNotFound)?;
    let sniff = &bytes[..bytes.len().min(SHOW_BINARY_SNIFF)];
    if sniff.contains(&0) {
        return Err(Error::Binary);
    }
    if bytes.len() > SHOW_MAX_FILE_SIZE {
        return Err(Error::TooLarge { size: bytes.len() });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
