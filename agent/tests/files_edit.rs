//! `POST /edit-files` through the router: the upstream `TestEditFiles`
//! table, permissions, symlinks, diffs, PathStore, and the fixes: empty
//! search (R8), duplicate entries merged and aliases refused (R9), per-file
//! serialisation of concurrent edits (R16; races in `docs/races.md`). The
//! matcher's own upstream tables are in `upstream_edit.rs`.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

mod files_support;

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use agent::files::wire::{
    EditFilesRequest, EditFilesResponse, FileEdit, FileEditResult, FileEdits,
};
use agent::{Agent, Bug, BugSet};
use axum::body::Body;
use files_support::{
    Call, Fixture, Reply, call, check_failure_records_no_path, check_follows_symlinks,
    check_preserves_permissions, check_records_the_path_for_chat_and_ancestors, denied, post,
    post_json,
};
use http::StatusCode;

const EDIT_FILES: &str = "/api/v0/edit-files";

fn edit(search: &str, replace: &str) -> FileEdit {
    FileEdit {
        search: search.into(),
        replace: replace.into(),
        replace_all: false,
    }
}

fn edit_all(search: &str, replace: &str) -> FileEdit {
    FileEdit {
        replace_all: true,
        ..edit(search, replace)
    }
}

fn entry(path: &str, edits: Vec<FileEdit>) -> FileEdits {
    FileEdits {
        path: path.into(),
        edits,
    }
}

fn request(files: Vec<FileEdits>) -> EditFilesRequest {
    EditFilesRequest {
        files,
        include_diff: false,
    }
}

/// A request with one file entry holding one edit.
fn one_edit(path: &str, search: &str, replace: &str) -> EditFilesRequest {
    request(vec![entry(path, vec![edit(search, replace)])])
}

/// The `POST /edit-files` request carrying `req`.
fn post_edits(req: &EditFilesRequest) -> http::Request<Body> {
    post_json(EDIT_FILES, req)
}

async fn send(fx: &Fixture, req: &EditFilesRequest) -> Reply {
    fx.call(post_edits(req)).await
}

/// One row of the upstream table. Paths are names inside the fixture's
/// directory; `$` stands for that directory in edit paths.
struct Row {
    name: &'static str,
    contents: Vec<(&'static str, &'static str)>,
    edits: Vec<FileEdits>,
    expected: Vec<(&'static str, &'static str)>,
    error: Option<(StatusCode, Vec<&'static str>)>,
}

fn row(name: &'static str) -> Row {
    Row {
        name,
        contents: vec![],
        edits: vec![],
        expected: vec![],
        error: None,
    }
}

impl Row {
    fn file(mut self, name: &'static str, content: &'static str) -> Self {
        self.contents.push((name, content));
        self
    }
    fn edit(mut self, path: &str, edits: Vec<FileEdit>) -> Self {
        self.edits.push(entry(path, edits));
        self
    }
    fn expect(mut self, name: &'static str, content: &'static str) -> Self {
        self.expected.push((name, content));
        self
    }
    fn fails(mut self, status: StatusCode, texts: Vec<&'static str>) -> Self {
        self.error = Some((status, texts));
        self
    }
}

#[tokio::test]
async fn edit_files() {
    let bad = StatusCode::BAD_REQUEST;
    let rows = vec![
        row("NoFiles").fails(bad, vec!["must specify at least one file"]),
        row("NoPath")
            .edit("", vec![edit("foo", "bar")])
            .fails(bad, vec!["\"path\" is required"]),
        row("RelativePathDotSlash")
            .edit("./relative", vec![edit("foo", "bar")])
            .fails(bad, vec!["file path must be absolute"]),
        row("RelativePath")
            .edit("also-relative", vec![edit("foo", "bar")])
            .fails(bad, vec!["file path must be absolute"]),
        row("NoEdits")
            .edit("$/no-edits", vec![])
            .fails(bad, vec!["must specify at least one edit"]),
        row("NonExistent")
            .edit("$/does-not-exist", vec![edit("foo", "bar")])
            .fails(StatusCode::NOT_FOUND, vec!["file does not exist"]),
        row("IsDir")
            .edit("$/directory", vec![edit("foo", "bar")])
            .fails(bad, vec!["not a file"]),
        row("NoPermissions")
            .edit("$/no-perms-file", vec![edit("foo", "bar")])
            .fails(StatusCode::FORBIDDEN, vec!["permission denied"]),
        row("FailRename")
            .file("fail-rename", "foo bar")
            .edit("$/fail-rename", vec![edit("foo", "bar")])
            .fails(StatusCode::INTERNAL_SERVER_ERROR, vec!["rename failed"])
            .expect("fail-rename", "foo bar"),
        row("Edit1")
            .file("edit1", "foo bar")
            .edit("$/edit1", vec![edit("foo", "bar")])
            .expect("edit1", "bar bar"),
        row("EditEditAmbiguous")
            .file("edit-edit", "foo bar")
            .edit("$/edit-edit", vec![edit("foo", "bar"), edit("bar", "qux")])
            .fails(bad, vec!["matches 2 occurrences"])
            .expect("edit-edit", "foo bar"),
        row("EditEditReplaceAll")
            .file("edit-edit-ra", "foo bar")
            .edit(
                "$/edit-edit-ra",
                vec![edit("foo", "bar"), edit_all("bar", "qux")],
            )
            .expect("edit-edit-ra", "qux qux"),
        row("Multiline")
            .file("multiline", "foo\nbar\nbaz\nqux")
            .edit("$/multiline", vec![edit("bar\nbaz", "frob")])
            .expect("multiline", "foo\nfrob\nqux"),
        row("Multifile")
            .file("file1", "file 1")
            .file("file2", "file 2")
            .file("file3", "file 3")
            .edit("$/file1", vec![edit("file", "edited1")])
            .edit("$/file2", vec![edit("file", "edited2")])
            .edit("$/file3", vec![edit("file", "edited3")])
            .expect("file1", "edited1 1")
            .expect("file2", "edited2 2")
            .expect("file3", "edited3 3"),
        // The file's trailing whitespace on the first matched line
        // survives: search and replace agree there (none on either).
        row("TrailingWhitespace")
            .file("trailing-ws", "foo   \nbar\t\t\nbaz")
            .edit("$/trailing-ws", vec![edit("foo\nbar\nbaz", "replaced")])
            .expect("trailing-ws", "replaced   "),
        row("TabsVsSpaces")
            .file("tabs-vs-spaces", "\tif true {\n\t\tfoo()\n\t}")
            .edit(
                "$/tabs-vs-spaces",
                vec![edit(
                    "    if true {\n        foo()\n    }",
                    "\tif true {\n\t\tbar()\n\t}",
                )],
            )
            .expect("tabs-vs-spaces", "\tif true {\n\t\tbar()\n\t}"),
        row("DifferentIndentDepth")
            .file("indent-depth", "\t\t\tdeep()\n\t\t\tnested()")
            .edit(
                "$/indent-depth",
                vec![edit(
                    "\tdeep()\n\tnested()",
                    "\t\t\tdeep()\n\t\t\tchanged()",
                )],
            )
            .expect("indent-depth", "\t\t\tdeep()\n\t\t\tchanged()"),
        row("ExactMatchPreferred")
            .file("exact-preferred", "hello world")
            .edit(
                "$/exact-preferred",
                vec![edit("hello world", "goodbye world")],
            )
            .expect("exact-preferred", "goodbye world"),
        row("NoMatchErrors")
            .file("no-match", "original content")
            .edit(
                "$/no-match",
                vec![edit("this does not exist in the file", "whatever")],
            )
            .fails(bad, vec!["search string not found in file"])
            .expect("no-match", "original content"),
        row("AmbiguousExactMatch")
            .file("ambig-exact", "foo bar foo baz foo")
            .edit("$/ambig-exact", vec![edit("foo", "qux")])
            .fails(bad, vec!["matches 3 occurrences"])
            .expect("ambig-exact", "foo bar foo baz foo"),
        row("ReplaceAllExact")
            .file("ra-exact", "foo bar foo baz foo")
            .edit("$/ra-exact", vec![edit_all("foo", "qux")])
            .expect("ra-exact", "qux bar qux baz qux"),
        // Every window goes through the same splice as a single replace.
        row("ReplaceAllFuzzyTrailing")
            .file("ra-fuzzy-trail", "hello   \nworld\nhello   \nagain")
            .edit("$/ra-fuzzy-trail", vec![edit_all("hello\n", "bye\n")])
            .expect("ra-fuzzy-trail", "bye   \nworld\nbye   \nagain"),
        row("ReplaceAllFuzzyIndent")
            .file(
                "ra-fuzzy-indent",
                "\t\talpha\n\t\tbeta\n\t\talpha\n\t\tgamma",
            )
            .edit(
                "$/ra-fuzzy-indent",
                vec![edit_all("    alpha\n", "\t\tREPLACED\n")],
            )
            .expect(
                "ra-fuzzy-indent",
                "\t\tREPLACED\n\t\tbeta\n\t\tREPLACED\n\t\tgamma",
            ),
        row("MixedWhitespaceMultiline")
            .file(
                "mixed-ws",
                "func main() {\n\tresult := compute()\n\tfmt.Println(result)\n}",
            )
            .edit(
                "$/mixed-ws",
                vec![edit(
                    "  result := compute()\n  fmt.Println(result)\n",
                    "\tresult := compute()\n\tlog.Println(result)\n",
                )],
            )
            .expect(
                "mixed-ws",
                "func main() {\n\tresult := compute()\n\tlog.Println(result)\n}",
            ),
        row("MultiError")
            .file("file8", "file 8")
            .edit("$/no-perms-file", vec![edit("file", "edited7")])
            .edit("$/file8", vec![edit("file", "edited8")])
            .edit("$/file9", vec![edit("file", "edited9")])
            .expect("file8", "file 8")
            // The higher status wins: 404 over 403.
            .fails(
                StatusCode::NOT_FOUND,
                vec![
                    "no-perms-file: permission denied",
                    "file9: file does not exist",
                ],
            ),
        row("AtomicMultiFile_OneFailsNoneWritten")
            .file("atomic-a", "aaa")
            .file("atomic-b", "bbb")
            .file("atomic-c", "ccc")
            .edit("$/atomic-a", vec![edit("aaa", "AAA")])
            .edit("$/atomic-b", vec![edit("NOTFOUND", "XXX")])
            .edit("$/atomic-c", vec![edit("ccc", "CCC")])
            .fails(bad, vec!["search string not found"])
            .expect("atomic-a", "aaa")
            .expect("atomic-b", "bbb")
            .expect("atomic-c", "ccc"),
    ];

    for r in rows {
        let fx = Fixture::new();
        let no_perms = fx.path("no-perms-file");
        let fail_rename = fx.path("fail-rename");
        fx.fs.set(move |call, p| {
            if p == no_perms && call != Call::SymlinkMetadata {
                return Some(denied());
            }
            (p == fail_rename && call == Call::Rename)
                .then(|| std::io::Error::other("rename failed"))
        });
        std::fs::create_dir(fx.path("directory")).unwrap();
        for (name, content) in &r.contents {
            fx.write(name, content);
        }
        let dir = fx.dir.path().display().to_string();
        let files = r
            .edits
            .iter()
            .map(|e| entry(&e.path.replace('$', &dir), e.edits.clone()))
            .collect();
        let reply = send(&fx, &request(files)).await;
        match &r.error {
            None => assert_eq!(reply.status, StatusCode::OK, "{}: {}", r.name, reply.text()),
            Some((status, texts)) => {
                for text in texts {
                    reply.assert_error(*status, text, r.name);
                }
            }
        }
        for (name, content) in &r.expected {
            assert_eq!(
                String::from_utf8(fx.read(name)).unwrap(),
                *content,
                "{}: {name}",
                r.name
            );
        }
    }
}

#[tokio::test]
async fn edit_files_multi_error_joins_messages_in_request_order() {
    let fx = Fixture::new();
    let a = fx.write("a", "x");
    let reply = send(
        &fx,
        &request(vec![
            entry("", vec![edit("x", "y")]),
            entry(&a, vec![edit("missing", "y")]),
            entry("rel", vec![edit("x", "y")]),
        ]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let not_found = agent::files::fuzzy::apply_edit(b"x", "missing", "y", false, usize::MAX)
        .expect_err("not found");
    assert_eq!(
        reply.error_text(),
        format!("\"path\" is required\nedit {a}: {not_found}\nfile path must be absolute: \"rel\"")
    );
}

#[tokio::test]
async fn edit_files_bad_json_is_400() {
    let fx = Fixture::new();
    let reply = fx.call(post(EDIT_FILES, "{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .error_text()
            .starts_with("Request body must be valid JSON."),
        "{}",
        reply.error_text()
    );
}

#[tokio::test]
async fn edit_files_preserves_permissions() {
    check_preserves_permissions(|path| post_edits(&one_edit(path, "hello", "world"))).await;
}

#[tokio::test]
async fn edit_files_follows_symlinks() {
    let change = |link: &str| post_edits(&one_edit(link, "hello", "goodbye"));
    check_follows_symlinks("hello world", change, "goodbye world").await;
}

/// Runs an include_diff request that must succeed.
async fn diffs(fx: &Fixture, files: Vec<FileEdits>) -> EditFilesResponse {
    let req = EditFilesRequest {
        files,
        include_diff: true,
    };
    let reply = send(fx, &req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

/// Runs a one-edit include_diff request on `path` that must succeed, and
/// returns its only file result.
async fn one_diff(fx: &Fixture, path: &str, search: &str, replace: &str) -> FileEditResult {
    let files = diffs(fx, one_edit(path, search, replace).files)
        .await
        .files
        .unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

#[tokio::test]
async fn edit_files_file_results_diff_requested_single_file() {
    let fx = Fixture::new();
    let path = fx.write("diff-single", "hello world\n");
    let file = one_diff(&fx, &path, "hello", "HELLO").await;
    assert_eq!(file.path, path);
    assert_eq!(
        file.diff,
        format!("--- {path}\n+++ {path}\n@@ -1 +1 @@\n-hello world\n+HELLO world\n")
    );
}

#[tokio::test]
async fn edit_files_file_results_diff_requested_no_op_edit() {
    let fx = Fixture::new();
    let path = fx.write("diff-noop", "same\n");
    let file = one_diff(&fx, &path, "same", "same").await;
    assert_eq!(
        (file.path.as_str(), file.diff.as_str()),
        (path.as_str(), "")
    );
}

#[tokio::test]
async fn edit_files_file_results_diff_not_requested() {
    let fx = Fixture::new();
    let path = fx.write("diff-off", "hello\n");
    let reply = send(&fx, &one_edit(&path, "hello", "HELLO")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let resp: EditFilesResponse = reply.json();
    assert_eq!(
        resp.files, None,
        "files must be absent when include_diff is false"
    );
    assert_eq!(resp.message.as_deref(), Some("Successfully edited file(s)"));
}

#[tokio::test]
async fn edit_files_file_results_diff_requested_multi_file_preserves_order() {
    let fx = Fixture::new();
    let (a, b, c) = (
        fx.write("a", "A\n"),
        fx.write("b", "B\n"),
        fx.write("c", "C\n"),
    );
    let resp = diffs(
        &fx,
        vec![
            entry(&a, vec![edit("A", "a")]),
            entry(&b, vec![edit("B", "b")]),
            entry(&c, vec![edit("C", "c")]),
        ],
    )
    .await;
    let files = resp.files.unwrap();
    let want = [(&a, "-A", "+a"), (&b, "-B", "+b"), (&c, "-C", "+c")];
    assert_eq!(files.len(), 3);
    for (i, (path, old, new)) in want.into_iter().enumerate() {
        assert_eq!(&files[i].path, path);
        assert!(
            files[i].diff.contains(old) && files[i].diff.contains(new),
            "{}",
            files[i].diff
        );
    }
}

#[tokio::test]
async fn edit_files_file_results_diff_requested_multi_edit_same_file() {
    let fx = Fixture::new();
    let path = fx.write("diff-multi-edit", "one\ntwo\nthree\n");
    let resp = diffs(
        &fx,
        vec![entry(
            &path,
            vec![edit("one", "ONE"), edit("three", "THREE")],
        )],
    )
    .await;
    let diff = &resp.files.unwrap()[0].diff;
    for line in ["-one", "+ONE", "-three", "+THREE"] {
        assert!(
            diff.contains(line),
            "{line} missing from the diff against the original:\n{diff}"
        );
    }
}

#[tokio::test]
async fn edit_files_file_results_diff_requested_symlink_reports_original_path() {
    let fx = Fixture::new();
    let real = fx.write("real.txt", "hello\n");
    let link = fx.symlink("link.txt", &real);
    let file = one_diff(&fx, &link, "hello", "HELLO").await;
    assert_eq!(file.path, link);
    assert!(
        file.diff.starts_with(&format!("--- {link}\n+++ {link}\n")),
        "{}",
        file.diff
    );
}

#[tokio::test]
async fn handle_edit_files_chat_headers_updates_path_store() {
    check_records_the_path_for_chat_and_ancestors(|fx| {
        let path = fx.write("test.txt", "hello");
        let request = post_edits(&one_edit(&path, "hello", "world"));
        (path, request)
    })
    .await;
}

#[tokio::test]
async fn handle_edit_files_failure_no_path_store_update() {
    let request = post_edits(&one_edit("/nonexistent/file.txt", "hello", "world"));
    check_failure_records_no_path(request, StatusCode::NOT_FOUND).await;
}

/// R8: an empty search used to match everywhere; with `replace_all` it
/// wrote the replacement between every character of the file.
#[tokio::test]
async fn empty_search_is_rejected_with_guidance() {
    for replace_all in [false, true] {
        for content in ["abc", ""] {
            let fx = Fixture::new();
            let path = fx.write("f", content);
            let e = FileEdit {
                replace_all,
                ..edit("", "X")
            };
            let reply = send(&fx, &request(vec![entry(&path, vec![e])])).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{content:?} all={replace_all}"
            );
            assert_eq!(
                reply.error_text(),
                format!(
                    "edit {path}: search string must not be empty; include the text you want to match"
                )
            );
            assert_eq!(fx.read("f"), content.as_bytes(), "file untouched");
        }
    }
}

/// A result over the agent's `max_edit_result` is refused as 413 from its
/// computed size, before it is built, and the file is left untouched.
#[tokio::test]
async fn edit_whose_result_exceeds_the_maximum_is_413() {
    let fx = Fixture::new();
    let content = "a".repeat(64 * 1024);
    let path = fx.write("f", &content);
    let max = agent::AgentConfig::default().max_edit_result;
    // One byte per hit over max / hits: the result is just over the maximum.
    let replace = "x".repeat(usize::try_from(max).unwrap() / content.len() + 1);
    let e = edit_all("a", &replace);
    let reply = send(&fx, &request(vec![entry(&path, vec![e])])).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let size = (content.len() * replace.len()) as u64;
    assert_eq!(
        reply.error_text(),
        format!(
            "edit {path}: the edited file would be {size} bytes, more than the maximum of {max} bytes"
        )
    );
    assert_eq!(fx.read("f"), content.as_bytes(), "file untouched");
}

/// R9: entries naming one file by one cleaned path are merged, their
/// edits applied in request order, one read and one write; the original
/// read the file once per entry and the later write silently dropped the
/// earlier entry's edits.
#[tokio::test]
async fn entries_naming_one_file_are_merged_in_request_order() {
    cov_mark::check!(edit_duplicate_path_merged);
    let fx = Fixture::new();
    let path = fx.write("dup.txt", "alpha beta");
    let other = fx.write("other.txt", "gamma");
    fx.write("sub/keep", "");
    let dotted = fx.p("./dup.txt");
    let back = fx.p("sub/../dup.txt");
    let reply = send(
        &fx,
        &request(vec![
            entry(&path, vec![edit("alpha", "ALPHA")]),
            entry(&other, vec![edit("gamma", "GAMMA")]),
            entry(&dotted, vec![edit("beta", "BETA")]),
            // Sees the earlier entries' result: request order.
            entry(&back, vec![edit("ALPHA BETA", "done")]),
        ]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(fx.read("dup.txt"), b"done");
    assert_eq!(fx.read("other.txt"), b"GAMMA");
}

#[tokio::test]
async fn a_merged_entry_that_fails_fails_the_whole_file() {
    let fx = Fixture::new();
    let path = fx.write("dup.txt", "alpha beta");
    let reply = send(
        &fx,
        &request(vec![
            entry(&path, vec![edit("alpha", "ALPHA")]),
            entry(&fx.p("./dup.txt"), vec![edit("missing", "x")]),
        ]),
    )
    .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "search string not found", "merged");
    assert_eq!(fx.read("dup.txt"), b"alpha beta", "nothing is written");
}

/// Two paths that reach one file through a symlink are refused: merging
/// would hide an aliasing the caller did not mean.
#[tokio::test]
async fn two_paths_aliasing_one_file_through_a_symlink_are_rejected() {
    cov_mark::check!(edit_duplicate_path_rejected);
    let fx = Fixture::new();
    let real = fx.write("real.txt", "alpha beta");
    let other = fx.write("other.txt", "gamma");
    let link = fx.symlink("link.txt", &real);
    for (first, second) in [(&real, &link), (&link, &real)] {
        let reply = send(
            &fx,
            &request(vec![
                entry(first, vec![edit("alpha", "ALPHA")]),
                entry(&other, vec![edit("gamma", "GAMMA")]),
                entry(second, vec![edit("beta", "BETA")]),
            ]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{second}");
        assert_eq!(
            reply.error_text(),
            format!(
                "duplicate file path \"{second}\" aliases \"{first}\" (same real file): combine \
                 edits into a single entry's \"edits\" list"
            )
        );
        assert_eq!(fx.read("real.txt"), b"alpha beta");
        assert_eq!(fx.read("other.txt"), b"gamma", "nothing is written");
    }
}

/// Stages the lost-update race on `path`: the first request to read the
/// file waits until either a second request reads it too (the unserialised
/// bug) or the agent shows the second request queued on the file's lock
/// (the fix), so both outcomes are reached without timing luck.
fn stage_read_race(fx: &Fixture, path: PathBuf) {
    let agent: Arc<Mutex<Option<Agent>>> = Arc::new(Mutex::new(Some(fx.agent.clone())));
    let readers = Arc::new((Mutex::new(0usize), Condvar::new()));
    fx.fs.set(move |call, p| {
        if !matches!(call, Call::Read | Call::ReadRange) || p != path {
            return None;
        }
        let (count, cv) = &*readers;
        let mut n = count.lock().unwrap();
        *n += 1;
        cv.notify_all();
        if *n > 1 {
            return None;
        }
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let queued = agent
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|a| a.file_locks().contenders(&path) >= 2);
            if *n >= 2 || queued {
                return None;
            }
            assert!(Instant::now() < give_up, "the second request never arrived");
            n = cv.wait_timeout(n, Duration::from_millis(5)).unwrap().0;
        }
    });
}

/// Two concurrent requests editing different lines of one file.
async fn race_two_edits(bugs: BugSet) -> (Vec<StatusCode>, String) {
    let fx = Fixture::with_bugs(bugs);
    let path = fx.write("shared.txt", "alpha\nbeta\n");
    stage_read_race(&fx, fx.path("shared.txt"));
    let tasks: Vec<_> = [("alpha", "ALPHA"), ("beta", "BETA")]
        .into_iter()
        .map(|(s, r)| {
            let agent = fx.agent.clone();
            let req = post_edits(&one_edit(&path, s, r));
            tokio::spawn(async move { call(&agent, req).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    fx.fs.set(|_, _| None);
    (statuses, String::from_utf8(fx.read("shared.txt")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_of_one_file_never_lose_an_update() {
    let (statuses, content) = race_two_edits(BugSet::none()).await;
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::OK]);
    assert_eq!(content, "ALPHA\nBETA\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unserialised_edits_switch_loses_an_acknowledged_update() {
    let (statuses, content) = race_two_edits(BugSet::none().with(Bug::UnserialisedEdits)).await;
    assert_eq!(
        statuses,
        vec![StatusCode::OK, StatusCode::OK],
        "both were acknowledged"
    );
    assert!(
        content == "ALPHA\nbeta\n" || content == "alpha\nBETA\n",
        "exactly one update survives: {content:?}"
    );
}

#[tokio::test]
async fn unserialised_edits_switch_skips_the_file_lock() {
    cov_mark::check!(unserialised_edits);
    let fx = Fixture::with_bugs(BugSet::none().with(Bug::UnserialisedEdits));
    let path = fx.write("f", "a");
    let reply = send(&fx, &one_edit(&path, "a", "b")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn file_locks_are_released_after_each_request() {
    let fx = Fixture::new();
    let path = fx.write("f", "a");
    let ok = send(&fx, &one_edit(&path, "a", "b")).await;
    let failed = send(&fx, &one_edit(&path, "zzz", "b")).await;
    assert_eq!(
        (ok.status, failed.status),
        (StatusCode::OK, StatusCode::BAD_REQUEST)
    );
    assert_eq!(fx.agent.file_locks().contenders(&fx.path("f")), 0);
}

#[tokio::test]
async fn a_failed_phase_two_write_leaves_the_original_byte_identical() {
    let fx = Fixture::new();
    let original: &[u8] = b"keep \xff me\r\n";
    let path = fx.write("f", original);
    fx.fs
        .set(|call, _| (call == Call::WriteNew).then(|| std::io::Error::from_raw_os_error(28)));
    let reply = send(&fx, &one_edit(&path, "keep", "lose")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.error_text(),
        format!("write {path}: no space left on device")
    );
    assert_eq!(fx.read("f"), original);
}
