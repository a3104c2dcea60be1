//! `GET /api/v0/git/show?repo_root=&path=&ref=` (`docs/agent-api.md#git`;
//! upstream `api_test.go`) against real repositories, plus the watch endpoint
//! answering a plain (non-upgrade) request.

mod git_common;

use agent::AgentConfig;
use agent::git::wire::GitShowResponse;
use agent::http::ErrorBody;
use bytes::Bytes;
use git_common::{TempDir, TestRepo, conn, real_agent, serve};
use http::Method;

/// A GET on the served agent: status and body.
async fn get(path_and_query: &str) -> (u16, Bytes) {
    let addr = serve(real_agent(AgentConfig::default())).await;
    let raw = conn(addr)
        .send(Method::GET, path_and_query, None, Bytes::new())
        .await
        .expect("answer");
    (raw.status, raw.body)
}

fn show_url(params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).expect("encode");
    format!("/api/v0/git/show?{query}")
}

/// `show` of `path` at `HEAD` in `root`.
async fn show(root: &str, path: &str) -> (u16, Bytes) {
    get(&show_url(&[
        ("repo_root", root),
        ("path", path),
        ("ref", "HEAD"),
    ]))
    .await
}

/// Checks an error answer: status and envelope message.
fn check_error((status, body): (u16, Bytes), want_status: u16, want_message: &str) {
    assert_eq!(status, want_status, "{}", String::from_utf8_lossy(&body));
    let envelope: ErrorBody = serde_json::from_slice(&body).expect("error envelope");
    assert!(
        envelope.message.contains(want_message),
        "{:?} lacks {want_message:?}",
        envelope.message
    );
}

#[tokio::test]
async fn git_show_returns_file_at_head() {
    let repo = TestRepo::new();
    repo.write("hello.txt", "committed content\n");
    repo.git(&["add", "hello.txt"]);
    repo.git(&["commit", "-q", "-m", "add hello"]);
    repo.write("hello.txt", "working tree content\n");

    let (status, body) = show(&repo.root_str(), "hello.txt").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let resp: GitShowResponse = serde_json::from_slice(&body).expect("json");
    assert_eq!(resp.contents, "committed content\n");
}

#[tokio::test]
async fn git_show_file_not_found() {
    let repo = TestRepo::new();
    check_error(
        show(&repo.root_str(), "nonexistent.txt").await,
        404,
        "File not found.",
    );
}

#[tokio::test]
async fn git_show_invalid_repo_root() {
    let dir = TempDir::new();
    let root = dir.path().to_string_lossy().into_owned();
    check_error(show(&root, "file.txt").await, 400, "Not a git repository.");
}

#[tokio::test]
async fn git_show_binary_file() {
    let repo = TestRepo::new();
    repo.write("binary.dat", b"hello\x00world");
    repo.git(&["add", "binary.dat"]);
    repo.git(&["commit", "-q", "-m", "add binary"]);
    check_error(
        show(&repo.root_str(), "binary.dat").await,
        422,
        "binary file",
    );
}

#[tokio::test]
async fn git_show_file_too_large() {
    let repo = TestRepo::new();
    repo.write("large.txt", "x".repeat(512 * 1024 + 1));
    repo.git(&["add", "large.txt"]);
    repo.git(&["commit", "-q", "-m", "add large file"]);
    check_error(
        show(&repo.root_str(), "large.txt").await,
        422,
        "file too large",
    );
}

#[tokio::test]
async fn git_show_a_file_of_exactly_512_kib_is_shown() {
    let repo = TestRepo::new();
    repo.write("edge.txt", "y".repeat(512 * 1024));
    repo.git(&["add", "edge.txt"]);
    repo.git(&["commit", "-q", "-m", "add edge file"]);
    let (status, _) = show(&repo.root_str(), "edge.txt").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn git_show_requires_every_parameter() {
    let repo = TestRepo::new();
    let root = repo.root_str();
    let full = [
        ("repo_root", root.as_str()),
        ("path", "README.md"),
        ("ref", "HEAD"),
    ];
    for missing in 0..full.len() {
        let params: Vec<(&str, &str)> = full
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, p)| *p)
            .collect();
        check_error(
            get(&show_url(&params)).await,
            400,
            "Missing required query parameters.",
        );
        let mut empty = full;
        empty[missing].1 = "";
        check_error(
            get(&show_url(&empty)).await,
            400,
            "Missing required query parameters.",
        );
    }
    let (status, _) = get(&show_url(&full)).await;
    assert_eq!(status, 200, "all three given");
}

#[tokio::test]
async fn watch_without_a_websocket_upgrade_is_a_500() {
    check_error(
        get("/api/v0/git/watch").await,
        500,
        "Failed to accept WebSocket.",
    );
}
