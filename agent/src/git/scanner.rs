//! The `RepoScanner` seam: how the git watch finds repository roots and reads a
//! repository's state. The real scanner runs the `git` CLI
//! (`docs/agent-api.md#git`); the harness swaps in an in-memory repo model. The
//! watch handler only ever talks to the trait.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

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
    /// The bytes of `path` (relative to `root`) at `git_ref`, as
    /// `git show <ref>:<path>` prints them. Any failure means "file not found"
    /// to the caller. The default knows no files, so a scanner without history
    /// support answers 404.
    async fn show_file(
        &self,
        root: &Path,
        git_ref: &str,
        path: &str,
    ) -> Result<Vec<u8>, ScanError> {
        let _ = (root, git_ref, path);
        Err(ScanError::Transient("show is not supported".into()))
    }
}

/// Largest combined diff sent for one repository (`maxTotalDiffSize`);
/// beyond it the diff is replaced by [`diff_too_large_message`].
pub const MAX_TOTAL_DIFF_SIZE: usize = 3 * 1024 * 1024;

/// The placeholder for a repository diff over [`MAX_TOTAL_DIFF_SIZE`].
pub fn diff_too_large_message(size: usize) -> String {
    format!(
        "Total diff too large to show. Size: {}. Showing branch and remote only.",
        iec_size(size as u64)
    )
}

/// A byte count in IEC units as go-humanize's `IBytes` renders it
/// (`9 B`, `512 KiB`, `3.2 MiB`): one decimal below ten units, none above.
pub fn iec_size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 10 {
        return format!("{n} B");
    }
    let base = 1024f64;
    let exp = ((n as f64).ln() / base.ln()).floor().clamp(0.0, 6.0);
    let unit = UNITS[exp as usize];
    let val = ((n as f64) / base.powf(exp) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {unit}")
    } else {
        format!("{val:.0} {unit}")
    }
}

/// The real scanner, on the `git` CLI. Real-world only: it spawns `git` with
/// `tokio::process` and reads the disk with `std::fs`.
#[derive(Clone, Debug)]
pub struct GitCliScanner {
    git: PathBuf,
    /// Whether `git` was found when the scanner was made: looked up once,
    /// because `available` is asked on every scan, on a runtime thread.
    available: bool,
}

impl Default for GitCliScanner {
    fn default() -> Self {
        Self::new()
    }
}

/// What a finished `git` run left behind.
struct GitOutput {
    success: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl GitOutput {
    /// The run's failure as text, for logs.
    fn failure(&self, what: &str) -> String {
        let stderr = String::from_utf8_lossy(&self.stderr);
        format!("{what}: {}", stderr.trim())
    }
}

impl GitCliScanner {
    /// `git` from `PATH`.
    pub fn new() -> Self {
        Self::with_binary("git")
    }

    /// A given git binary: a bare name is looked up in `PATH`, a path is
    /// used as is (tests point it at a missing file to model "no git").
    pub fn with_binary(git: impl Into<PathBuf>) -> Self {
        let git = git.into();
        let available = look_path(&git).is_some();
        GitCliScanner { git, available }
    }

    /// Runs git with `args` in `dir` (`current_dir`, not `-C`, so a
    /// missing directory fails the spawn). The child is killed if the
    /// caller's future is dropped.
    async fn run_in<I, S>(&self, dir: &Path, args: I) -> std::io::Result<GitOutput>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = tokio::process::Command::new(&self.git)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await?;
        Ok(GitOutput {
            success: out.status.success(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Runs `git -C root <args>`.
    async fn git<I, S>(&self, root: &Path, args: I) -> Result<GitOutput, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = tokio::process::Command::new(&self.git)
            .arg("-C")
            .arg(root)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("run git: {e}"))?;
        Ok(GitOutput {
            success: out.status.success(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Like [`Self::git`], but a non-zero exit is an error too.
    async fn git_ok<I, S>(&self, root: &Path, what: &str, args: I) -> Result<Vec<u8>, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.git(root, args).await?;
        if out.success {
            Ok(out.stdout)
        } else {
            Err(out.failure(what))
        }
    }

    /// One trimmed line of output, or empty on any failure.
    async fn git_line(&self, root: &Path, args: &[&str]) -> String {
        match self.git(root, args).await {
            Ok(out) if out.success => String::from_utf8_lossy(&out.stdout).trim().to_string(),
            _ => String::new(),
        }
    }

    /// Reads the repository; any error is classified by the caller.
    async fn read(&self, root: &Path) -> Result<RepoState, String> {
        // A deleted or broken repository fails here, before anything else.
        self.git_ok(root, "not a git repository", ["rev-parse", "--git-dir"])
            .await?;
        // Empty on a detached HEAD or an unborn branch's failure.
        let branch = self
            .git_line(root, &["symbolic-ref", "--short", "HEAD"])
            .await;
        let remote_origin = self
            .git_line(root, &["config", "--get", "remote.origin.url"])
            .await;
        let diff = self.diff(root).await?;
        let unified_diff = if diff.len() > MAX_TOTAL_DIFF_SIZE {
            diff_too_large_message(diff.len())
        } else {
            String::from_utf8_lossy(&diff).into_owned()
        };
        Ok(RepoState {
            branch,
            remote_origin,
            unified_diff,
        })
    }

    /// `git diff HEAD` (when HEAD exists) followed by one
    /// `git diff --no-index -- /dev/null <file>` per untracked, non-ignored
    /// file, in `ls-files` order.
    async fn diff(&self, root: &Path) -> Result<Vec<u8>, String> {
        let mut diff = Vec::new();
        let has_commits = matches!(
            self.git(root, ["rev-parse", "--verify", "--quiet", "HEAD"]).await,
            Ok(out) if out.success
        );
        if has_commits {
            diff = self.git_ok(root, "git diff HEAD", ["diff", "HEAD"]).await?;
        }
        // NUL-separated, so names with spaces or non-ASCII bytes are not
        // quoted by core.quotePath.
        let untracked = match self
            .git_ok(
                root,
                "list untracked files",
                ["ls-files", "--others", "--exclude-standard", "-z"],
            )
            .await
        {
            Ok(list) => list,
            Err(e) => {
                tracing::debug!(root = %root.display(), error = %e, "failed to list untracked files");
                return Ok(diff);
            }
        };
        for name in untracked.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            use std::os::unix::ffi::OsStrExt;
            let file = OsStr::from_bytes(name);
            let args: [&OsStr; 5] = [
                OsStr::new("diff"),
                OsStr::new("--no-index"),
                OsStr::new("--"),
                OsStr::new("/dev/null"),
                file,
            ];
            // Exits 1 when the files differ, which is the point: only the
            // output matters.
            if let Ok(out) = self.git(root, args).await {
                diff.extend_from_slice(&out.stdout);
            }
        }
        Ok(diff)
    }

    /// Whether a failed read means the repository is gone: the root or its
    /// `.git` no longer exists, or `.git` is a file (linked worktree,
    /// submodule) whose gitdir git can no longer open.
    async fn is_deleted(&self, root: &Path) -> bool {
        let (root_meta, git_meta) = {
            let root = root.to_path_buf();
            off_runtime(move || {
                (
                    std::fs::metadata(&root).map(|_| ()),
                    std::fs::metadata(root.join(".git")),
                )
            })
            .await
        };
        if matches!(root_meta, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
            return true;
        }
        match git_meta {
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            Ok(m) if m.is_dir() => false,
            Ok(_) => !matches!(
                self.git(root, ["rev-parse", "--git-dir"]).await,
                Ok(out) if out.success
            ),
        }
    }
}

/// Go's `exec.LookPath`: the binary if it is an executable file.
fn look_path(git: &Path) -> Option<PathBuf> {
    fn executable(p: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    if git.components().count() > 1 {
        return executable(git).then(|| git.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(git))
        .find(|candidate| executable(candidate))
}

/// Runs a file-system call of the real scanner on tokio's blocking
/// threads: a `stat` on a stalled network mount must not hold a runtime
/// thread. This is the real side of the seam; the simulated scanner never
/// blocks.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[async_trait]
impl RepoScanner for GitCliScanner {
    fn available(&self) -> bool {
        self.available
    }

    async fn repo_root(&self, dir: &Path) -> Option<PathBuf> {
        let out = self
            .run_in(dir, ["rev-parse", "--show-toplevel"])
            .await
            .ok()?;
        if !out.success {
            return None;
        }
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if root.as_os_str().is_empty() {
            return None;
        }
        // Resolve symlinks so roots compare equal to canonical paths.
        Some(off_runtime(move || std::fs::canonicalize(&root).unwrap_or(root)).await)
    }

    async fn read_repo(&self, root: &Path) -> Result<RepoState, ScanError> {
        match self.read(root).await {
            Ok(state) => Ok(state),
            Err(_) if self.is_deleted(root).await => Err(ScanError::Removed),
            Err(e) => Err(ScanError::Transient(e)),
        }
    }

    async fn show_file(
        &self,
        root: &Path,
        git_ref: &str,
        path: &str,
    ) -> Result<Vec<u8>, ScanError> {
        let spec = format!("{git_ref}:{path}");
        // `--end-of-options`: a ref like `--output=<file>` is a revision,
        // never an option (it would make git write <file>).
        let args = [
            OsStr::new("show"),
            OsStr::new("--end-of-options"),
            OsStr::new(&spec),
        ];
        self.git_ok(root, "git show", args)
            .await
            .map_err(ScanError::Transient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iec_size_matches_go_humanize() {
        let cases: [(u64, &str); 9] = [
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (512 * 1024, "512 KiB"),
            (3 * 1024 * 1024 + 200 * 1024, "3.2 MiB"),
            (12 * 1024 * 1024, "12 MiB"),
        ];
        for (n, want) in cases {
            assert_eq!(iec_size(n), want, "{n}");
        }
    }

    #[test]
    fn too_large_message_names_the_size() {
        assert_eq!(
            diff_too_large_message(5 * 1024 * 1024),
            "Total diff too large to show. Size: 5.0 MiB. Showing branch and remote only."
        );
    }

    #[test]
    fn a_missing_git_binary_is_unavailable() {
        assert!(!GitCliScanner::with_binary("/nonexistent/bin/git").available());
        assert!(!GitCliScanner::with_binary("no-such-git-binary-here").available());
    }
}
