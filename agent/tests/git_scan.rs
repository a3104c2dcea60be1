//! The watch handler's subscribe and scan on real repositories
//! (`docs/agent-api.md#git`; upstream `agentgit_test.go`), with the real `git`
//! CLI in temporary directories. Scans are called directly, so no timer is
//! involved.

mod git_common;

use std::sync::Arc;

use agent::AgentConfig;
use agent::files::fs::RealFs;
use agent::git::WatchHandler;
use agent::git::scanner::{GitCliScanner, MAX_TOTAL_DIFF_SIZE};
use agent::git::wire::{RepoChange, ServerMessage};
use agent::seams::SystemClock;
use git_common::{TempDir, TestRepo, git, init_repo, only_repo, real_handler};

/// Subscribes `paths` on a fresh handler and checks whether a root was
/// added.
async fn subscribed(paths: &[String], want_added: bool) -> WatchHandler {
    let h = real_handler();
    assert_eq!(h.subscribe(paths).await, want_added, "subscribe {paths:?}");
    h
}

/// Scans and returns the only repository entry.
async fn scan_one(h: &WatchHandler) -> RepoChange {
    let msg = h.scan().await.expect("a changes message");
    only_repo(&msg).clone()
}

/// Scans and checks that nothing is emitted.
async fn check_no_message(h: &WatchHandler, why: &str) {
    let msg = h.scan().await;
    assert!(msg.is_none(), "{why}: {msg:?}");
}

/// Checks that `diff` contains every `present` and none of `absent`.
fn check_diff(diff: &str, present: &[&str], absent: &[&str]) {
    for p in present {
        assert!(diff.contains(p), "diff lacks {p:?}:\n{diff}");
    }
    for a in absent {
        assert!(!diff.contains(a), "diff has {a:?}:\n{diff}");
    }
}

#[tokio::test]
async fn subscribe_bulk_paths_and_dedupes() {
    let repo = TestRepo::new();
    let h = subscribed(&[repo.file("a.go"), repo.file("b.go")], true).await;
    assert!(
        !h.subscribe(&[repo.file("a.go")]).await,
        "duplicate subscribe"
    );
    assert_eq!(h.roots(), vec![repo.root().to_path_buf()]);
}

#[tokio::test]
async fn subscribe_non_git_paths_ignored() {
    let dir = TempDir::new();
    let file = dir.path().join("file.txt").to_string_lossy().into_owned();
    let h = subscribed(&[file], false).await;
    check_no_message(&h, "no roots").await;
}

#[tokio::test]
async fn subscribe_relative_paths_ignored() {
    subscribed(&["relative/path.go".to_string()], false).await;
}

#[tokio::test]
async fn subscribe_empty_paths() {
    let h = subscribed(&[], false).await;
    check_no_message(&h, "scan with no repos").await;
}

#[tokio::test]
async fn subscribe_missing_directories_are_ignored() {
    let repo = TestRepo::new();
    let missing = repo.file("no/such/dir/file.go");
    subscribed(&[missing], false).await;
    subscribed(&["/nonexistent-root/a/b.go".to_string()], false).await;
}

#[tokio::test]
async fn subscribe_a_directory_resolves_from_the_directory_itself() {
    // The repo's own root, given as a directory, is inside the repo; its
    // parent is not.
    let repo = TestRepo::new();
    let h = subscribed(&[repo.root_str()], true).await;
    assert_eq!(h.roots(), vec![repo.root().to_path_buf()]);
}

#[tokio::test]
async fn subscribe_cleans_the_path_before_resolving() {
    let repo = TestRepo::new();
    repo.write("sub/x.go", "package x\n");
    let messy = format!("{}/sub/../sub/./x.go", repo.root_str());
    let h = subscribed(&[messy], true).await;
    assert_eq!(h.roots(), vec![repo.root().to_path_buf()]);
}

#[tokio::test]
async fn subscribe_through_a_symlink_resolves_to_the_real_root() {
    let repo = TestRepo::new();
    let links = TempDir::new();
    let link = links.path().join("link");
    std::os::unix::fs::symlink(repo.root(), &link).expect("symlink");
    let via_link = link.join("README.md").to_string_lossy().into_owned();
    let h = subscribed(&[via_link], true).await;
    assert_eq!(h.roots(), vec![repo.root().to_path_buf()]);
}

#[tokio::test]
async fn scan_returns_repo_changes() {
    let repo = TestRepo::new();
    let file = repo.write("new.go", "package main\n");
    let h = subscribed(&[file], true).await;
    let msg = h.scan().await.expect("changes");
    let ServerMessage::Changes { scanned_at, .. } = &msg else {
        panic!("not a changes message: {msg:?}");
    };
    assert!(scanned_at.ends_with('Z'), "UTC RFC 3339: {scanned_at}");
    let change = only_repo(&msg);
    assert_eq!(change.repo_root, repo.root_str());
    assert!(!change.branch.is_empty());
    assert!(!change.removed);
    check_diff(&change.unified_diff, &["new.go", "+package main"], &[]);
}

#[tokio::test]
async fn scan_reports_branch_and_remote_origin() {
    let repo = TestRepo::new();
    repo.git(&["checkout", "-q", "-b", "feature/x"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://example.com/org/repo.git",
    ]);
    let h = subscribed(&[repo.file("README.md")], true).await;
    let change = scan_one(&h).await;
    assert_eq!(change.branch, "feature/x");
    assert_eq!(change.remote_origin, "https://example.com/org/repo.git");
    assert_eq!(change.unified_diff, "", "clean repo");
}

#[tokio::test]
async fn scan_on_a_detached_head_has_no_branch() {
    let repo = TestRepo::new();
    repo.git(&["checkout", "-q", "--detach"]);
    let h = subscribed(&[repo.file("README.md")], true).await;
    assert_eq!(scan_one(&h).await.branch, "");
}

#[tokio::test]
async fn scan_of_a_repo_without_commits_shows_untracked_files() {
    let dir = TempDir::new();
    init_repo(dir.path());
    std::fs::write(dir.path().join("first.txt"), "hello\n").expect("write");
    let file = dir.path().join("first.txt").to_string_lossy().into_owned();
    let h = subscribed(&[file], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["first.txt", "+hello"],
        &[],
    );
}

#[tokio::test]
async fn scan_shows_untracked_files_with_spaces_in_their_names() {
    let repo = TestRepo::new();
    let file = repo.write("with space.txt", "spaced\n");
    let h = subscribed(&[file], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["with space.txt", "+spaced"],
        &[],
    );
}

#[tokio::test]
async fn scan_respects_gitignore() {
    let repo = TestRepo::new();
    repo.write(".gitignore", "*.log\nbuild/\n");
    repo.git(&["add", ".gitignore"]);
    repo.git(&["commit", "-q", "-m", "add gitignore"]);
    let main = repo.write("main.go", "package main\n");
    repo.write("util.go", "package util\n");
    repo.write("debug.log", "some log output\n");
    repo.write("error.log", "some error\n");
    repo.write("build/output.bin", "binary\n");

    let h = subscribed(&[main], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["main.go", "util.go"],
        &["debug.log", "error.log", "output.bin"],
    );
}

#[tokio::test]
async fn scan_respects_gitignore_nested_negation() {
    let repo = TestRepo::new();
    repo.write(".gitignore", "node_modules/\n");
    repo.git(&["add", ".gitignore"]);
    repo.git(&["commit", "-q", "-m", "add gitignore"]);
    // A nested .gitignore with "!*" must not override the parent rule.
    let stubs = "site/node_modules/.pnpm/tailwindcss@3.4.18/node_modules/tailwindcss/stubs";
    repo.write(&format!("{stubs}/.gitignore"), "!*\n");
    repo.write(&format!("{stubs}/config.full.js"), "module.exports = {}\n");
    repo.write(&format!("{stubs}/tailwind.config.js"), "// tw config\n");
    let main = repo.write("main.go", "package main\n");

    let h = subscribed(&[main], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["main.go"],
        &["config.full.js", "tailwind.config.js"],
    );
}

#[tokio::test]
async fn scan_delta_emission() {
    let repo = TestRepo::new();
    let dirty = repo.write("dirty.go", "package dirty\n");
    let h = subscribed(std::slice::from_ref(&dirty), true).await;

    check_diff(&scan_one(&h).await.unified_diff, &["dirty.go"], &[]);
    // Baseline (no heartbeat): nothing changed, nothing emitted.
    check_no_message(&h, "unchanged repo").await;

    std::fs::remove_file(&dirty).expect("remove");
    let clean = scan_one(&h).await;
    assert_eq!(clean.unified_diff, "", "reverted repo emits a clean delta");
    check_no_message(&h, "clean and unchanged").await;
}

#[tokio::test]
async fn scan_delta_detects_content_changes() {
    let repo = TestRepo::new();
    let readme = repo.write("README.md", "# Edit 1\n");
    let h = subscribed(std::slice::from_ref(&readme), true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["README.md", "+# Edit 1"],
        &[],
    );
    check_no_message(&h, "unchanged").await;

    // Same status (modified), different content: still a change.
    repo.write("README.md", "# Edit 2\nMore lines\nEven more\n");
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["README.md", "+# Edit 2"],
        &[],
    );

    // An untracked file stays "added" throughout; edits still emit.
    let untracked = repo.write("untracked.go", "package main\n");
    assert!(!h.subscribe(&[untracked]).await, "same repo");
    check_diff(&scan_one(&h).await.unified_diff, &["untracked.go"], &[]);
    check_no_message(&h, "unchanged").await;
    repo.write("untracked.go", "package main\n\nfunc init() {}\n");
    check_diff(&scan_one(&h).await.unified_diff, &["+func init() {}"], &[]);
}

#[tokio::test]
async fn scan_rate_limiting() {
    // The cooldown lives in the run loop: direct scans run back to back.
    let repo = TestRepo::new();
    let h = subscribed(&[repo.file("file.go")], true).await;
    let first = scan_one(&h).await;
    assert_eq!(first.unified_diff, "", "the first scan always emits");
    repo.write("new.go", "package x\n");
    check_diff(&scan_one(&h).await.unified_diff, &["new.go"], &[]);
}

#[tokio::test]
async fn subscribe_deeply_nested_file() {
    let repo = TestRepo::new();
    let deep = repo.write("a/b/c/deep.go", "package deep\n");
    let h = subscribed(&[deep], true).await;
    let change = scan_one(&h).await;
    assert_eq!(change.repo_root, repo.root_str());
    check_diff(&change.unified_diff, &["a/b/c/deep.go"], &[]);
}

#[tokio::test]
async fn subscribe_nested_git_repos() {
    let outer = TestRepo::new();
    let inner = outer.root().join("subproject");
    std::fs::create_dir_all(&inner).expect("mkdir");
    init_repo(&inner);
    std::fs::write(inner.join("inner.go"), "package inner\n").expect("write");
    git(&inner, &["add", "inner.go"]);
    git(&inner, &["commit", "-q", "-m", "inner commit"]);
    std::fs::write(inner.join("dirty.go"), "package inner\n").expect("write");

    let dirty = inner.join("dirty.go").to_string_lossy().into_owned();
    let h = subscribed(&[dirty], true).await;
    let change = scan_one(&h).await;
    assert_eq!(
        change.repo_root,
        inner.to_string_lossy(),
        "the nearest root"
    );
    check_diff(&change.unified_diff, &["dirty.go"], &[]);
}

/// First scan emits the repo; after `break_it`, the next emits it as
/// removed with nothing else set, and the one after emits nothing.
async fn check_removal(repo_root: &str, dirty: String, break_it: impl FnOnce()) {
    let h = subscribed(&[dirty], true).await;
    let first = scan_one(&h).await;
    assert!(!first.removed);
    break_it();
    let removed = scan_one(&h).await;
    assert_eq!(
        removed,
        RepoChange {
            repo_root: repo_root.to_string(),
            branch: String::new(),
            remote_origin: String::new(),
            unified_diff: String::new(),
            removed: true,
        }
    );
    assert!(h.roots().is_empty(), "evicted");
    check_no_message(&h, "evicted repo").await;
}

#[tokio::test]
async fn scan_deleted_repo_emits_removed() {
    let repo = TestRepo::new();
    let dirty = repo.write("dirty.go", "package dirty\n");
    let root = repo.root().to_path_buf();
    check_removal(&repo.root_str(), dirty, || {
        std::fs::remove_dir_all(&root).expect("rm repo")
    })
    .await;
}

#[tokio::test]
async fn scan_deleted_git_dir_emits_removed() {
    let repo = TestRepo::new();
    let dirty = repo.write("dirty.go", "package dirty\n");
    let dot_git = repo.root().join(".git");
    check_removal(&repo.root_str(), dirty, || {
        std::fs::remove_dir_all(&dot_git).expect("rm .git")
    })
    .await;
}

#[tokio::test]
async fn scan_deleted_worktree_gitdir_emits_removed() {
    let main = TestRepo::new();
    let base = TempDir::new();
    let worktree = base.path().join("wt");
    main.git(&["branch", "worktree-branch"]);
    main.git(&[
        "worktree",
        "add",
        "-q",
        &worktree.to_string_lossy(),
        "worktree-branch",
    ]);
    std::fs::write(worktree.join("dirty.go"), "package dirty\n").expect("write");
    let dirty = worktree.join("dirty.go").to_string_lossy().into_owned();
    let gitdir = main.root().join(".git/worktrees/wt");
    let dot_git_file = worktree.join(".git");
    check_removal(&worktree.to_string_lossy(), dirty, || {
        std::fs::remove_dir_all(&gitdir).expect("rm gitdir");
        assert!(dot_git_file.is_file(), "the .git file is still there");
    })
    .await;
}

#[tokio::test]
async fn scan_transient_error_does_not_remove_repo() {
    let repo = TestRepo::new();
    let dirty = repo.write("dirty.go", "package dirty\n");
    let h = subscribed(&[dirty], true).await;
    assert!(!scan_one(&h).await.removed);

    let head = repo.root().join(".git/HEAD");
    let good_head = std::fs::read(&head).expect("read HEAD");
    std::fs::write(&head, "corrupt").expect("corrupt HEAD");
    // A broken repo that still exists: nothing emitted, root kept.
    check_no_message(&h, "transient error").await;
    assert_eq!(h.roots(), vec![repo.root().to_path_buf()]);

    std::fs::write(&head, good_head).expect("repair HEAD");
    repo.write("new.go", "package main\n");
    let change = scan_one(&h).await;
    assert!(!change.removed);
    assert_eq!(change.repo_root, repo.root_str());
    check_diff(&change.unified_diff, &["new.go"], &[]);
}

#[tokio::test]
async fn scan_large_file_too_large_to_diff() {
    // 1 MiB of text: its diff stays under the 3 MiB cap and is shown.
    let repo = TestRepo::new();
    let content: Vec<u8> = (0..1024 * 1024)
        .map(|i| {
            if i % 80 == 79 {
                b'\n'
            } else {
                b'A' + (i % 26) as u8
            }
        })
        .collect();
    let large = repo.write("large.txt", content);
    let h = subscribed(&[large], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["large.txt"],
        &["Total diff too large"],
    );
}

#[tokio::test]
async fn scan_large_file_delta_tracking() {
    let repo = TestRepo::new();
    let big = repo.write("big.dat", vec![b'X'; 3 * 1024 * 1024]);
    let h = subscribed(std::slice::from_ref(&big), true).await;
    scan_one(&h).await;
    check_no_message(&h, "unchanged").await;
    std::fs::remove_file(&big).expect("remove");
    check_diff(&scan_one(&h).await.unified_diff, &[], &["big.dat"]);
}

#[tokio::test]
async fn scan_total_diff_too_large_for_wire() {
    // 100 files of 50 KiB: about 5 MiB of diff in total.
    let repo = TestRepo::new();
    let paths: Vec<String> = (0..100)
        .map(|i| {
            let content: Vec<u8> = (0..50 * 1024)
                .map(|j| b'A' + ((i + j) % 26) as u8)
                .collect();
            repo.write(&format!("file_{i:03}.txt"), content)
        })
        .collect();
    let h = subscribed(&paths, true).await;
    let change = scan_one(&h).await;
    let diff = &change.unified_diff;
    assert!(
        diff.starts_with("Total diff too large to show. Size: ")
            && diff.ends_with(" MiB. Showing branch and remote only."),
        "{diff}"
    );
    assert!(diff.len() < MAX_TOTAL_DIFF_SIZE);
    assert!(!change.branch.is_empty(), "branch still reported");
}

#[tokio::test]
async fn scan_binary_file_diff() {
    let repo = TestRepo::new();
    let bin = repo.write("image.png", b"hello\x00world\x00binary");
    let h = subscribed(&[bin], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["image.png", "Binary"],
        &["\0"],
    );
}

#[tokio::test]
async fn scan_binary_file_modified_diff() {
    let dir = TempDir::new();
    init_repo(dir.path());
    let bin = dir.path().join("data.bin");
    std::fs::write(&bin, b"v1\x00\x01\x02").expect("write");
    git(dir.path(), &["add", "data.bin"]);
    git(dir.path(), &["commit", "-q", "-m", "add binary"]);
    std::fs::write(&bin, b"v2\x00\x03\x04\x05").expect("write");

    let h = subscribed(&[bin.to_string_lossy().into_owned()], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &["data.bin", "Binary"],
        &["\0"],
    );
}

#[tokio::test]
async fn scan_file_diff_too_large_for_wire() {
    // One 512 KiB file: only the total cap applies with the git CLI.
    let repo = TestRepo::new();
    let content: Vec<u8> = (0..512 * 1024).map(|i| b'A' + (i % 26) as u8).collect();
    let big = repo.write("big_diff.txt", content);
    let h = subscribed(&[big], true).await;
    let change = scan_one(&h).await;
    check_diff(&change.unified_diff, &["big_diff.txt"], &[]);
    assert!(!change.branch.is_empty());
}

#[tokio::test]
async fn get_repo_changes_staged_modified_deleted() {
    let repo = TestRepo::new();
    let readme = repo.write("README.md", "# Modified\n");
    repo.write("staged.go", "package staged\n");
    repo.git(&["add", "staged.go"]);
    repo.write("untracked.txt", "hello\n");
    let h = subscribed(&[readme], true).await;
    check_diff(
        &scan_one(&h).await.unified_diff,
        &[
            "--- a/README.md",
            "+++ b/README.md",
            "-# Test",
            "+# Modified",
            "staged.go",
            "+package staged",
            "untracked.txt",
            "+hello",
        ],
        &[],
    );
}

#[tokio::test]
async fn without_a_git_binary_nothing_is_watched_or_scanned() {
    let repo = TestRepo::new();
    let h = WatchHandler::new(
        Arc::new(GitCliScanner::with_binary("/nonexistent/bin/git")),
        Arc::new(RealFs),
        Arc::new(SystemClock),
        &AgentConfig::default(),
    );
    assert!(!h.subscribe(&[repo.write("x.go", "package x\n")]).await);
    assert!(h.roots().is_empty());
    check_no_message(&h, "no git").await;
}

#[tokio::test]
async fn scans_list_repositories_in_root_order() {
    let (a, b) = (TestRepo::new(), TestRepo::new());
    let h = real_handler();
    assert!(
        h.subscribe(&[b.write("b.go", "b\n"), a.write("a.go", "a\n")])
            .await
    );
    let msg = h.scan().await.expect("changes");
    let ServerMessage::Changes { repositories, .. } = msg else {
        panic!("not changes");
    };
    let mut want = vec![a.root_str(), b.root_str()];
    want.sort();
    let got: Vec<String> = repositories.into_iter().map(|r| r.repo_root).collect();
    assert_eq!(got, want);
}
