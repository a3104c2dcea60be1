//! The repository model behind the git-watch oracle: per repository the
//! checked-out branch, the last commit's tree and the working tree, as the
//! acknowledged writes and the developer's own actions (commit, branch
//! switch, delete, new file) left them. From it, [`RepoModel::view`] is what
//! a watch must eventually report: the branch and the set of paths that
//! differ between the working tree and the last commit.
//!
//! Written apart from the agent and from `SimScanner`: it never reads the
//! simulated filesystem. The only thing it reads of an answer is the list
//! of paths in a unified diff ([`diff_paths`]).

use std::collections::{BTreeMap, BTreeSet};

/// One repository as the people using it changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoModel {
    branch: String,
    committed: BTreeMap<String, String>,
    working: BTreeMap<String, String>,
}

/// What a watch reports of one repository, reduced to what the model
/// decides: the branch and the changed paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoView {
    pub branch: String,
    pub changed: BTreeSet<String>,
}

impl std::fmt::Display for RepoView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let changed: Vec<&str> = self.changed.iter().map(String::as_str).collect();
        write!(
            f,
            "branch {:?}, changed [{}]",
            self.branch,
            changed.join(", ")
        )
    }
}

impl RepoModel {
    /// A repository on `branch` whose working tree is `files`, all
    /// committed.
    pub fn committed(branch: &str, files: BTreeMap<String, String>) -> Self {
        RepoModel {
            branch: branch.to_string(),
            committed: files.clone(),
            working: files,
        }
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The working content of `path` (relative to the root), if it exists.
    pub fn file(&self, path: &str) -> Option<&str> {
        self.working.get(path).map(String::as_str)
    }

    /// The working tree's paths, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.working.keys().map(String::as_str)
    }

    /// An acknowledged write (or edit) left `content` at `path`.
    pub fn write(&mut self, path: &str, content: String) {
        self.working.insert(path.to_string(), content);
    }

    /// `rm path`.
    pub fn delete(&mut self, path: &str) {
        self.working.remove(path);
    }

    /// `git add -A && git commit`: the last commit becomes the working
    /// tree. Returns whether there was anything to commit.
    pub fn commit(&mut self) -> bool {
        let changed = self.committed != self.working;
        self.committed = self.working.clone();
        changed
    }

    /// `git switch -c branch` (or to an existing one at the same commit):
    /// the branch changes, the trees do not.
    pub fn switch(&mut self, branch: &str) {
        self.branch = branch.to_string();
    }

    /// Paths that differ between the working tree and the last commit:
    /// modified, deleted and new (untracked) files.
    pub fn changed(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .committed
            .iter()
            .filter(|(p, c)| self.working.get(*p) != Some(*c))
            .map(|(p, _)| p.clone())
            .collect();
        out.extend(
            self.working
                .keys()
                .filter(|p| !self.committed.contains_key(*p))
                .cloned(),
        );
        out
    }

    /// What a watch must report once it has scanned.
    pub fn view(&self) -> RepoView {
        RepoView {
            branch: self.branch.clone(),
            changed: self.changed(),
        }
    }
}

/// The paths a unified diff in `git diff` format names (`diff --git a/P
/// b/P` headers). Paths with spaces are not supported (the workloads use
/// none).
pub fn diff_paths(unified_diff: &str) -> BTreeSet<String> {
    unified_diff
        .lines()
        .filter_map(|l| l.strip_prefix("diff --git a/"))
        .filter_map(|rest| rest.split_once(" b/").map(|(a, _)| a.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoModel {
        let files = [("README.md", "# r\n"), ("a.txt", "a1\n")]
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .into_iter()
            .collect();
        RepoModel::committed("main", files)
    }

    fn set(paths: &[&str]) -> BTreeSet<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn changed_paths_are_modified_deleted_and_new_files_until_a_commit() {
        let mut r = repo();
        assert_eq!(r.changed(), set(&[]));
        r.write("a.txt", "a2\n".into());
        r.delete("README.md");
        r.write("new.txt", "n\n".into());
        assert_eq!(r.changed(), set(&["README.md", "a.txt", "new.txt"]));
        assert!(r.commit());
        assert_eq!(r.view(), RepoView::default().with_branch("main"));
        assert!(!r.commit(), "nothing left to commit");
    }

    #[test]
    fn writing_back_the_committed_content_is_no_change_and_a_switch_keeps_the_trees() {
        let mut r = repo();
        r.write("a.txt", "a2\n".into());
        r.write("a.txt", "a1\n".into());
        assert_eq!(r.changed(), set(&[]));
        r.write("b.txt", "b\n".into());
        r.switch("feature");
        assert_eq!(
            r.view(),
            RepoView {
                branch: "feature".into(),
                changed: set(&["b.txt"]),
            }
        );
    }

    #[test]
    fn diff_paths_reads_the_file_headers_only() {
        let diff = "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-diff --git a/no b/no\n+y\n\
                    diff --git a/d/n.txt b/d/n.txt\nnew file mode 100644\n";
        assert_eq!(diff_paths(diff), set(&["x.txt", "d/n.txt"]));
        assert_eq!(diff_paths(""), set(&[]));
    }

    impl RepoView {
        fn with_branch(mut self, b: &str) -> Self {
            self.branch = b.into();
            self
        }
    }
}
