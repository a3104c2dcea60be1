//! `SimScanner`: an in-memory git model over [`SimFs`], implementing the
//! agent's [`RepoScanner`] seam with the same [`RepoState`] shapes as the
//! git CLI scanner.
//!
//! A repository root is a directory holding a `.git` entry: a directory, or
//! a file `gitdir: <path>` (worktree). The branch comes from the gitdir's
//! `HEAD` (`ref: refs/heads/<branch>`; a bare commit id is a detached HEAD
//! with no branch; anything else is a transient error), the remote from
//! `[remote "origin"] url` in its `config`. The committed tree is a
//! snapshot the scanner keeps per root ([`SimScanner::commit`]); the diff
//! compares it with the working files, tracked changes first and then the
//! untracked files, in `git diff` format (without `index` lines). Nested
//! repositories are not part of their parent's diff. A missing root, `.git`
//! or gitdir is [`ScanError::Removed`].
//!
//! History is one commit deep: `show_file` knows the refs `HEAD` and the
//! checked-out branch's name, both meaning the last [`SimScanner::commit`];
//! any other ref, or a path not in that commit, is an error (git/show's 404),
//! as `git show` fails on an unknown revision or path.

use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent::files::fs::{FileKind, Fs};
use agent::git::scanner::{RepoScanner, RepoState, ScanError};
use async_trait::async_trait;

use crate::sim_fs::SimFs;

/// Diffs beyond this are replaced by a note (the original's
/// `maxTotalDiffSize`).
pub const MAX_TOTAL_DIFF: usize = 3 * 1024 * 1024;

/// A working or committed file: content and whether it is executable.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Blob {
    data: Vec<u8>,
    mode: u32,
}

type Snapshot = BTreeMap<String, Blob>;

/// The repository model. Cheap to clone; clones share the commits.
#[derive(Clone)]
pub struct SimScanner {
    fs: SimFs,
    commits: Arc<Mutex<BTreeMap<PathBuf, Snapshot>>>,
    latency: Duration,
}

impl SimScanner {
    pub fn new(fs: SimFs) -> Self {
        SimScanner {
            fs,
            commits: Arc::default(),
            latency: Duration::ZERO,
        }
    }

    /// Makes every `read_repo` take `d` of sim time, as running git does.
    pub fn with_latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<PathBuf, Snapshot>> {
        self.commits.lock()
    }

    /// `git init` with `branch` checked out and an optional origin.
    pub fn init_repo(&self, root: &Path, branch: &str, origin: Option<&str>) -> io::Result<()> {
        self.fs.mkdir_p(root.join(".git"))?;
        self.fs.write(
            root.join(".git/HEAD"),
            format!("ref: refs/heads/{branch}\n"),
        )?;
        let mut config = String::from("[core]\n\trepositoryformatversion = 0\n");
        if let Some(url) = origin {
            config.push_str(&format!("[remote \"origin\"]\n\turl = {url}\n"));
        }
        self.fs.write(root.join(".git/config"), config)
    }

    /// `git add -A && git commit`: the working files become the committed
    /// tree.
    pub fn commit(&self, root: &Path) -> io::Result<()> {
        let root = self.fs.canonicalize(root)?;
        let files = self.working_files(&root)?;
        self.lock().insert(root, files);
        Ok(())
    }

    /// `git switch -c <branch>` (or `git switch <branch>` when its ref
    /// exists): the branch's ref is made if missing and `HEAD` names it;
    /// the trees stay as they are. The model keeps one commit per root
    /// whatever the branch, so every ref holds the same placeholder id.
    pub fn switch_branch(&self, root: &Path, branch: &str) -> io::Result<()> {
        let heads = root.join(".git/refs/heads");
        let reference = heads.join(branch);
        if self.fs.metadata(&reference).is_err() {
            self.fs.mkdir_p(&heads)?;
            self.fs.write(&reference, format!("{}\n", "0".repeat(40)))?;
        }
        self.fs.write(
            root.join(".git/HEAD"),
            format!("ref: refs/heads/{branch}\n"),
        )
    }

    fn working_files(&self, root: &Path) -> io::Result<Snapshot> {
        let mut out = Snapshot::new();
        self.walk(root, "", &mut out)?;
        Ok(out)
    }

    fn walk(&self, dir: &Path, prefix: &str, out: &mut Snapshot) -> io::Result<()> {
        for name in self.fs.read_dir(dir)? {
            if name == ".git" {
                continue;
            }
            let path = dir.join(&name);
            let rel = format!("{prefix}{name}");
            let meta = self.fs.symlink_metadata(&path)?;
            match meta.kind {
                // A nested repository is not part of this one.
                FileKind::Dir if self.fs.symlink_metadata(&path.join(".git")).is_err() => {
                    self.walk(&path, &format!("{rel}/"), out)?;
                }
                FileKind::File => {
                    let blob = Blob {
                        data: self.fs.read(&path)?,
                        mode: if meta.mode & 0o111 != 0 {
                            0o100755
                        } else {
                            0o100644
                        },
                    };
                    out.insert(rel, blob);
                }
                FileKind::Symlink => {
                    let target = self.fs.read_link(&path)?;
                    let blob = Blob {
                        data: target.to_string_lossy().into_owned().into_bytes(),
                        mode: 0o120000,
                    };
                    out.insert(rel, blob);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The gitdir of `root`, or `Removed` when the repository is gone.
    fn gitdir(&self, root: &Path) -> Result<PathBuf, ScanError> {
        match self.fs.metadata(root) {
            Ok(m) if m.is_dir() => {}
            _ => return Err(ScanError::Removed),
        }
        let dotgit = root.join(".git");
        let meta = self.fs.metadata(&dotgit).map_err(|_| ScanError::Removed)?;
        if meta.is_dir() {
            return Ok(dotgit);
        }
        let text = self
            .fs
            .read_string(&dotgit)
            .map_err(|_| ScanError::Removed)?;
        let target = text
            .trim()
            .strip_prefix("gitdir:")
            .map(|t| PathBuf::from(t.trim()))
            .ok_or_else(|| ScanError::Transient(format!("invalid gitfile {}", dotgit.display())))?;
        let target = if target.is_absolute() {
            target
        } else {
            root.join(target)
        };
        match self.fs.metadata(&target) {
            Ok(m) if m.is_dir() => Ok(target),
            _ => Err(ScanError::Removed),
        }
    }

    /// The checked-out branch from `gitdir`'s `HEAD`: empty for a detached
    /// HEAD, an error for a corrupt one.
    fn branch(&self, gitdir: &Path) -> Result<String, ScanError> {
        let head = self
            .fs
            .read_string(gitdir.join("HEAD"))
            .map_err(|e| ScanError::Transient(format!("read HEAD: {e}")))?;
        let head = head.trim();
        if let Some(r) = head.strip_prefix("ref: refs/heads/") {
            Ok(r.to_string())
        } else if head.len() == 40 && head.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(String::new())
        } else {
            Err(ScanError::Transient(format!("corrupt HEAD {head:?}")))
        }
    }

    fn read_state(&self, root: &Path) -> Result<RepoState, ScanError> {
        let gitdir = self.gitdir(root)?;
        let branch = self.branch(&gitdir)?;
        let remote_origin = self
            .fs
            .read_string(gitdir.join("config"))
            .map(|c| origin_url(&c))
            .unwrap_or_default();
        let canonical = self.fs.canonicalize(root).map_err(|_| ScanError::Removed)?;
        let committed = self.lock().get(&canonical).cloned().unwrap_or_default();
        let working = self
            .working_files(&canonical)
            .map_err(|e| ScanError::Transient(format!("read worktree: {e}")))?;
        let mut unified_diff = diff_trees(&committed, &working);
        if unified_diff.len() > MAX_TOTAL_DIFF {
            unified_diff = format!(
                "Total diff too large to show. Size: {}. Showing branch and remote only.",
                iec_size(unified_diff.len())
            );
        }
        Ok(RepoState {
            branch,
            remote_origin,
            unified_diff,
        })
    }
}

/// `remote.origin.url` from a git config text.
fn origin_url(config: &str) -> String {
    let mut in_origin = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_origin = line == "[remote \"origin\"]";
        } else if in_origin
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "url"
        {
            return v.trim().to_string();
        }
    }
    String::new()
}

fn iec_size(n: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn is_binary(data: &[u8]) -> bool {
    data.iter().take(8000).any(|b| *b == 0)
}

/// `git diff` of two trees: changed and deleted tracked files, then new
/// (untracked) files, each in path order.
fn diff_trees(old: &Snapshot, new: &Snapshot) -> String {
    let mut tracked = String::new();
    for (path, before) in old {
        match new.get(path) {
            Some(after) if after == before => {}
            Some(after) => tracked.push_str(&file_diff(path, Some(before), Some(after))),
            None => tracked.push_str(&file_diff(path, Some(before), None)),
        }
    }
    for (path, after) in new {
        if !old.contains_key(path) {
            tracked.push_str(&file_diff(path, None, Some(after)));
        }
    }
    tracked
}

fn file_diff(path: &str, before: Option<&Blob>, after: Option<&Blob>) -> String {
    let mut out = format!("diff --git a/{path} b/{path}\n");
    match (before, after) {
        (None, Some(b)) => out.push_str(&format!("new file mode {:o}\n", b.mode)),
        (Some(a), None) => out.push_str(&format!("deleted file mode {:o}\n", a.mode)),
        (Some(a), Some(b)) if a.mode != b.mode => {
            out.push_str(&format!("old mode {:o}\nnew mode {:o}\n", a.mode, b.mode));
        }
        _ => {}
    }
    let old_name = if before.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    let new_name = if after.is_some() {
        format!("b/{path}")
    } else {
        "/dev/null".to_string()
    };
    let old_data = before.map(|b| b.data.as_slice()).unwrap_or_default();
    let new_data = after.map(|b| b.data.as_slice()).unwrap_or_default();
    if old_data == new_data {
        return out;
    }
    if is_binary(old_data) || is_binary(new_data) {
        out.push_str(&format!("Binary files {old_name} and {new_name} differ\n"));
        return out;
    }
    let old_text = String::from_utf8_lossy(old_data);
    let new_text = String::from_utf8_lossy(new_data);
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let body = diff
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &new_name)
        .to_string();
    out.push_str(&body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[async_trait]
impl RepoScanner for SimScanner {
    fn available(&self) -> bool {
        true
    }

    async fn repo_root(&self, dir: &Path) -> Option<PathBuf> {
        let mut cur = self.fs.canonicalize(dir).ok()?;
        loop {
            if self.fs.symlink_metadata(&cur.join(".git")).is_ok() {
                return Some(cur);
            }
            if !cur.pop() {
                return None;
            }
        }
    }

    async fn read_repo(&self, root: &Path) -> Result<RepoState, ScanError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.read_state(root)
    }

    async fn show_file(
        &self,
        root: &Path,
        git_ref: &str,
        path: &str,
    ) -> Result<Vec<u8>, ScanError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.show(root, git_ref, path)
    }
}

impl SimScanner {
    /// `git show <git_ref>:<path>` against the one commit of `root`.
    fn show(&self, root: &Path, git_ref: &str, path: &str) -> Result<Vec<u8>, ScanError> {
        let unknown = || ScanError::Transient(format!("fatal: invalid object name '{git_ref}'"));
        let branch = self.branch(&self.gitdir(root)?)?;
        if git_ref != "HEAD" && (branch.is_empty() || git_ref != branch) {
            return Err(unknown());
        }
        let canonical = self.fs.canonicalize(root).map_err(|_| ScanError::Removed)?;
        let commits = self.lock();
        let tree = commits.get(&canonical).ok_or_else(unknown)?;
        let path = path.trim_start_matches("./");
        tree.get(path).map(|blob| blob.data.clone()).ok_or_else(|| {
            ScanError::Transient(format!(
                "fatal: path '{path}' does not exist in '{git_ref}'"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim_fs::PROJECT;
    use futures::executor::block_on;

    fn repo() -> (SimFs, SimScanner, PathBuf) {
        let fs = SimFs::new();
        let scanner = SimScanner::new(fs.clone());
        let root = PathBuf::from(PROJECT);
        scanner
            .init_repo(&root, "main", Some("https://example.com/r.git"))
            .unwrap();
        fs.write(root.join("README.md"), "# Title\n").unwrap();
        fs.write(root.join("src/lib.rs"), "pub fn f() {}\n")
            .unwrap();
        scanner.commit(&root).unwrap();
        (fs, scanner, root)
    }

    fn read(scanner: &SimScanner, root: &Path) -> Result<RepoState, ScanError> {
        block_on(scanner.read_repo(root))
    }

    /// `show_file` of `path` at `git_ref`: the committed text, or the error.
    #[track_caller]
    fn check_show(
        scanner: &SimScanner,
        root: &Path,
        git_ref: &str,
        path: &str,
        want: Result<&str, &str>,
    ) {
        let got = block_on(scanner.show_file(root, git_ref, path));
        match (got, want) {
            (Ok(bytes), Ok(text)) => assert_eq!(String::from_utf8_lossy(&bytes), text),
            (Err(e), Err(message)) => assert_eq!(e.to_string(), message),
            (got, want) => panic!("show {git_ref}:{path}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn show_answers_the_committed_file_at_head_or_the_branch() {
        let (fs, scanner, root) = repo();
        fs.write(root.join("README.md"), "# Edited, not committed\n")
            .unwrap();
        check_show(&scanner, &root, "HEAD", "README.md", Ok("# Title\n"));
        check_show(&scanner, &root, "main", "src/lib.rs", Ok("pub fn f() {}\n"));
        check_show(&scanner, &root, "HEAD", "./README.md", Ok("# Title\n"));
        check_show(
            &scanner,
            &root,
            "HEAD",
            "missing.txt",
            Err("fatal: path 'missing.txt' does not exist in 'HEAD'"),
        );
        check_show(
            &scanner,
            &root,
            "HEAD~3",
            "README.md",
            Err("fatal: invalid object name 'HEAD~3'"),
        );
        check_show(
            &scanner,
            &root,
            "--output=/tmp/x",
            "README.md",
            Err("fatal: invalid object name '--output=/tmp/x'"),
        );
    }

    #[test]
    fn show_in_a_repository_without_commits_knows_no_revision() {
        let fs = SimFs::new();
        let scanner = SimScanner::new(fs.clone());
        let root = PathBuf::from(PROJECT);
        scanner.init_repo(&root, "main", None).unwrap();
        fs.write(root.join("a.txt"), "a\n").unwrap();
        check_show(
            &scanner,
            &root,
            "HEAD",
            "a.txt",
            Err("fatal: invalid object name 'HEAD'"),
        );
    }

    #[test]
    fn a_clean_repo_has_branch_origin_and_no_diff() {
        let (_fs, scanner, root) = repo();
        let state = read(&scanner, &root).unwrap();
        assert_eq!(
            state,
            RepoState {
                branch: "main".into(),
                remote_origin: "https://example.com/r.git".into(),
                unified_diff: String::new(),
            }
        );
    }

    #[test]
    fn the_diff_shows_modified_then_deleted_then_untracked_files() {
        let (fs, scanner, root) = repo();
        fs.write(root.join("README.md"), "# Modified\n").unwrap();
        fs.remove_all(root.join("src/lib.rs")).unwrap();
        fs.write(root.join("new.txt"), "hello\n").unwrap();
        let diff = read(&scanner, &root).unwrap().unified_diff;
        assert_eq!(
            diff,
            "diff --git a/README.md b/README.md\n\
             --- a/README.md\n\
             +++ b/README.md\n\
             @@ -1 +1 @@\n\
             -# Title\n\
             +# Modified\n\
             diff --git a/src/lib.rs b/src/lib.rs\n\
             deleted file mode 100644\n\
             --- a/src/lib.rs\n\
             +++ /dev/null\n\
             @@ -1 +0,0 @@\n\
             -pub fn f() {}\n\
             diff --git a/new.txt b/new.txt\n\
             new file mode 100644\n\
             --- /dev/null\n\
             +++ b/new.txt\n\
             @@ -0,0 +1 @@\n\
             +hello\n"
        );
    }

    #[test]
    fn roots_are_the_nearest_repo_and_nested_repos_stay_out_of_the_parent() {
        let (fs, scanner, root) = repo();
        let nested = root.join("vendor/dep");
        scanner.init_repo(&nested, "dev", None).unwrap();
        fs.write(nested.join("x.rs"), "x\n").unwrap();
        fs.mkdir_p(root.join("a/b/c")).unwrap();
        fs.symlink(root.join("a"), "/tmp/alias").unwrap();
        assert_eq!(
            block_on(scanner.repo_root(&nested.join("."))),
            Some(nested.clone())
        );
        assert_eq!(
            block_on(scanner.repo_root(Path::new("/tmp/alias/b/c"))),
            Some(root.clone())
        );
        assert_eq!(block_on(scanner.repo_root(Path::new("/tmp"))), None);
        assert_eq!(block_on(scanner.repo_root(Path::new("/missing"))), None);
        assert_eq!(read(&scanner, &root).unwrap().unified_diff, "");
        let nested_state = read(&scanner, &nested).unwrap();
        assert_eq!(nested_state.branch, "dev");
        assert!(nested_state.unified_diff.contains("+++ b/x.rs"));
    }

    #[test]
    fn a_branch_switch_changes_the_branch_and_keeps_the_diff() {
        let (fs, scanner, root) = repo();
        fs.write(root.join("new.txt"), "n\n").unwrap();
        let before = read(&scanner, &root).unwrap();
        scanner.switch_branch(&root, "feature").unwrap();
        let after = read(&scanner, &root).unwrap();
        assert_eq!(after.branch, "feature");
        assert_eq!(after.unified_diff, before.unified_diff);
        assert!(fs.metadata(&root.join(".git/refs/heads/feature")).is_ok());
        scanner.switch_branch(&root, "main").unwrap();
        assert_eq!(read(&scanner, &root).unwrap().branch, "main");
    }

    #[test]
    fn removal_and_corruption_are_told_apart() {
        let (fs, scanner, root) = repo();
        fs.write(root.join(".git/HEAD"), "garbage").unwrap();
        assert!(matches!(
            read(&scanner, &root),
            Err(ScanError::Transient(_))
        ));
        fs.write(
            root.join(".git/HEAD"),
            "0123456789abcdef0123456789abcdef01234567\n",
        )
        .unwrap();
        assert_eq!(read(&scanner, &root).unwrap().branch, "");
        fs.remove_all(root.join(".git")).unwrap();
        assert!(matches!(read(&scanner, &root), Err(ScanError::Removed)));
        assert!(matches!(
            read(&scanner, Path::new("/gone")),
            Err(ScanError::Removed)
        ));
    }

    #[test]
    fn a_worktree_gitfile_whose_gitdir_vanished_is_removed() {
        let (fs, scanner, _root) = repo();
        let wt = PathBuf::from("/home/coder/wt");
        fs.mkdir_p("/home/coder/gitdirs/wt").unwrap();
        fs.write("/home/coder/gitdirs/wt/HEAD", "ref: refs/heads/feature\n")
            .unwrap();
        fs.write(wt.join(".git"), "gitdir: /home/coder/gitdirs/wt\n")
            .unwrap();
        assert_eq!(read(&scanner, &wt).unwrap().branch, "feature");
        fs.remove_all("/home/coder/gitdirs/wt").unwrap();
        assert!(matches!(read(&scanner, &wt), Err(ScanError::Removed)));
    }

    #[test]
    fn binary_and_oversized_diffs_are_summarised() {
        let (fs, scanner, root) = repo();
        fs.write(root.join("blob.bin"), vec![0u8, 1, 2]).unwrap();
        let diff = read(&scanner, &root).unwrap().unified_diff;
        assert!(
            diff.contains("Binary files /dev/null and b/blob.bin differ"),
            "{diff}"
        );
        fs.write(root.join("big.txt"), "line\n".repeat(MAX_TOTAL_DIFF / 4))
            .unwrap();
        let diff = read(&scanner, &root).unwrap().unified_diff;
        assert!(
            diff.starts_with("Total diff too large to show. Size: "),
            "{diff}"
        );
        assert!(
            diff.ends_with(" MiB. Showing branch and remote only."),
            "{diff}"
        );
    }
}
