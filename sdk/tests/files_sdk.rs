//! The SDK's file methods end to end: the agent's router served on a
//! loopback port, the SDK over real TCP.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use agent::{Agent, AgentConfig, Seams};
use agent_sdk::{
    AgentConn, EditFilesRequest, FileEdit, FileEdits, HttpAgentConn, ReadFileLinesLimits,
    TcpConnector,
};
use http::HeaderMap;

struct Served {
    agent: Agent,
    conn: HttpAgentConn<TcpConnector>,
    dir: tempfile::TempDir,
}

const TOKEN: &str = "sdk-files-token";

async fn serve() -> Served {
    let config = AgentConfig {
        token: Some(TOKEN.into()),
        ..AgentConfig::default()
    };
    let agent = Agent::new(config, Seams::real(Duration::from_secs(5)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = agent::http::router(agent.clone());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Served {
        agent,
        conn: HttpAgentConn::new(TcpConnector { addr }).with_token(TOKEN),
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Served {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn edit(path: &str, search: &str, replace: &str) -> FileEdits {
    FileEdits {
        path: path.into(),
        edits: vec![FileEdit {
            search: search.into(),
            replace: replace.into(),
            replace_all: false,
        }],
    }
}

#[tokio::test]
async fn write_read_and_edit_round_trip() {
    let s = serve().await;
    let path = s.path("notes.txt");
    s.conn
        .write_file(&path, b"one\ntwo\nthree".to_vec())
        .await
        .unwrap();

    let lines = s
        .conn
        .read_file_lines(&path, 2, 0, ReadFileLinesLimits::default())
        .await
        .unwrap();
    assert!(lines.success, "{lines:?}");
    assert_eq!(
        (lines.content.as_str(), lines.total_lines),
        ("2\ttwo\n3\tthree", 3)
    );

    let (bytes, content_type) = s.conn.read_file(&path, 4, 3).await.unwrap();
    assert_eq!(
        (bytes.as_slice(), content_type.as_str()),
        (&b"two"[..], "text/plain; charset=utf-8")
    );

    let resp = s
        .conn
        .edit_files(&EditFilesRequest {
            files: vec![edit(&path, "two", "TWO")],
            include_diff: true,
        })
        .await
        .unwrap();
    let files = resp.files.unwrap();
    assert_eq!(files[0].path, path);
    assert!(files[0].diff.contains("-two\n+TWO\n"), "{}", files[0].diff);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\nTWO\nthree");
}

#[tokio::test]
async fn paths_the_original_sdk_mangled_arrive_intact() {
    let s = serve().await;
    for name in ["a&b.txt", "a b+c.txt", "hash#q?.txt", "100%.txt", "ünï.txt"] {
        let path = s.path(name);
        s.conn
            .write_file(&path, name.as_bytes().to_vec())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), name.as_bytes(), "{name}");
        let (bytes, _) = s.conn.read_file(&path, 0, 0).await.unwrap();
        assert_eq!(bytes, name.as_bytes(), "{name}");
        let lines = s
            .conn
            .read_file_lines(&path, 1, 0, ReadFileLinesLimits::default())
            .await
            .unwrap();
        assert_eq!(lines.content, format!("1\t{name}"));
    }
}

#[tokio::test]
async fn agent_errors_become_status_errors_with_the_message() {
    let s = serve().await;
    let path = s.path("f.txt");
    s.conn.write_file(&path, b"foo foo".to_vec()).await.unwrap();
    let err = s
        .conn
        .edit_files(&EditFilesRequest {
            files: vec![edit(&path, "foo", "bar")],
            include_diff: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let text = err.to_string();
    assert!(text.contains("unexpected status code 400"), "{text}");
    assert!(
        text.contains("search string matches 2 occurrences"),
        "{text}"
    );

    let missing = s
        .conn
        .read_file(&s.path("missing"), 0, 0)
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    let negative = s
        .conn
        .read_file_lines(&path, -1, 0, ReadFileLinesLimits::default())
        .await
        .unwrap_err();
    assert_eq!(negative.status(), Some(400));
    assert!(
        negative
            .to_string()
            .contains("Query parameters have invalid values."),
        "{negative}"
    );
}

#[tokio::test]
async fn chat_headers_feed_the_path_store() {
    let s = serve().await;
    let chat = uuid::Uuid::from_bytes([7; 16]);
    let mut headers = HeaderMap::new();
    headers.insert("Coder-Chat-Id", chat.to_string().parse().unwrap());
    s.conn.set_extra_headers(headers);
    let path = s.path("tracked.txt");
    s.conn.write_file(&path, b"x".to_vec()).await.unwrap();
    assert_eq!(s.agent.paths().get_paths(chat), Some(vec![path]));
}
