//! `POST /write-file` through the router: the upstream `TestWriteFile`
//! table, I/O-error, permission, symlink and PathStore tests, and the
//! guarantee that a failed write leaves the original byte-identical.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

mod files_support;

use axum::body::Body;
use files_support::{
    Call, Fixture, chat_id, check_failure_records_no_path, check_follows_symlinks,
    check_preserves_permissions, check_records_the_path_for_chat_and_ancestors, denied, enc, post,
    with_chat,
};
use http::StatusCode;

fn write_uri(path: &str) -> String {
    format!("/api/v0/write-file?path={}", enc(path))
}

#[tokio::test]
async fn write_file() {
    let fx = Fixture::new();
    let no_perms_file = fx.path("no-perms-file");
    let no_perms_dir = fx.path("no-perms-dir");
    // Like the upstream fixture: opening, creating and renaming are denied;
    // looking at the link itself (lstat) is not.
    fx.fs.set(move |call, p| {
        let guarded = p == no_perms_file || p == no_perms_dir;
        (guarded && call != Call::SymlinkMetadata).then(denied)
    });
    std::fs::create_dir(fx.path("directory")).unwrap();
    let file = fx.write("file", "content");

    // (name, path, written bytes | (status, error text))
    type Row<'a> = (&'a str, String, Result<&'a [u8], (StatusCode, &'a str)>);
    let rows: Vec<Row<'_>> = vec![
        (
            "NoPath",
            "".into(),
            Err((StatusCode::BAD_REQUEST, "\"path\" is required")),
        ),
        (
            "RelativePathDotSlash",
            "./relative".into(),
            Err((StatusCode::BAD_REQUEST, "file path must be absolute")),
        ),
        (
            "RelativePath",
            "also-relative".into(),
            Err((StatusCode::BAD_REQUEST, "file path must be absolute")),
        ),
        (
            "NonExistent",
            fx.p("nested/does-not-exist"),
            Ok(b"now it does exist"),
        ),
        (
            "IsDir",
            fx.p("directory"),
            Err((StatusCode::BAD_REQUEST, "is a directory")),
        ),
        (
            "IsNotDir",
            format!("{file}/file2"),
            Err((StatusCode::BAD_REQUEST, "not a directory")),
        ),
        (
            "NoPermissionsFile",
            fx.p("no-perms-file"),
            Err((StatusCode::FORBIDDEN, "permission denied")),
        ),
        (
            "NoPermissionsDir",
            fx.p("no-perms-dir/within-no-perm-dir"),
            Err((StatusCode::FORBIDDEN, "permission denied")),
        ),
    ];
    for (name, path, want) in rows {
        let body = match want {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => b"ignored".to_vec(),
        };
        let reply = fx.call(post(&write_uri(&path), body)).await;
        match want {
            Ok(bytes) => {
                assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
                assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}");
                let msg: serde_json::Value = reply.json();
                assert_eq!(
                    msg["message"],
                    format!("Successfully wrote to \"{path}\""),
                    "{name}"
                );
            }
            Err((status, text)) => reply.assert_error(status, text, name),
        }
    }
    assert_eq!(fx.read("file"), b"content");
}

#[tokio::test]
async fn write_file_reports_io_error() {
    let fx = Fixture::new();
    let path = fx.write("write-io-error", "original");
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"partial new content"),
        Err(std::io::Error::other("simulated I/O error")),
    ];
    let body = Body::from_stream(futures::stream::iter(chunks));
    let reply = fx.call(post(&write_uri(&path), body)).await;
    reply.assert_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "simulated I/O error",
        "failing body",
    );
    assert_eq!(fx.read("write-io-error"), b"original");
    assert_no_temp_files(&fx);
}

#[tokio::test]
async fn write_file_preserves_permissions() {
    check_preserves_permissions(|path| post(&write_uri(path), "#!/bin/sh\necho world\n")).await;
}

#[tokio::test]
async fn write_file_follows_symlinks() {
    check_follows_symlinks(
        "original",
        |link| post(&write_uri(link), "updated"),
        "updated",
    )
    .await;
}

#[tokio::test]
async fn write_file_through_a_relative_symlinked_directory() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.path("target-dir")).unwrap();
    fx.symlink("alias", "target-dir");
    let reply = fx
        .call(post(&write_uri(&fx.p("alias/new/file.txt")), "hi"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(fx.read("target-dir/new/file.txt"), b"hi");
    assert!(fx.is_symlink("alias"));
}

#[tokio::test]
async fn write_file_symlink_loop_is_a_500() {
    let fx = Fixture::new();
    let path = fx.symlink("a", "b");
    fx.symlink("b", "a");
    let reply = fx.call(post(&write_uri(&path), "x")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.error_text(),
        format!("resolve symlink \"{path}\": too many levels of symlinks resolving \"{path}\"")
    );
}

/// Every step of the atomic write that can fail, failing: the original
/// stays byte-identical and no temp file is left behind.
#[tokio::test]
async fn failed_write_leaves_the_original_byte_identical() {
    let cases: [(&str, Call, StatusCode, &str); 3] = [
        (
            "temp create denied",
            Call::WriteNew,
            StatusCode::FORBIDDEN,
            "permission denied",
        ),
        (
            "temp write fails",
            Call::WriteNew,
            StatusCode::INTERNAL_SERVER_ERROR,
            "no space left on device",
        ),
        (
            "rename fails",
            Call::Rename,
            StatusCode::INTERNAL_SERVER_ERROR,
            "rename failed",
        ),
    ];
    for (name, failing, status, text) in cases {
        let fx = Fixture::new();
        let original: &[u8] = b"original \x00\xff bytes\r\n";
        let path = fx.write("target", original);
        fx.fs.set(move |call, _| {
            (call == failing).then(|| match (name, call) {
                ("temp create denied", _) => denied(),
                ("temp write fails", _) => std::io::Error::from_raw_os_error(28),
                _ => std::io::Error::other("rename failed"),
            })
        });
        let reply = fx.call(post(&write_uri(&path), "new")).await;
        reply.assert_error(status, text, name);
        assert_eq!(fx.read("target"), original, "{name}");
        fx.fs.set(|_, _| None);
        assert_no_temp_files(&fx);
    }
}

#[tokio::test]
async fn handle_write_file_chat_headers_updates_path_store() {
    check_records_the_path_for_chat_and_ancestors(|fx| {
        let path = fx.p("test.txt");
        let request = post(&write_uri(&path), "hello world");
        (path, request)
    })
    .await;
}

#[tokio::test]
async fn handle_write_file_no_chat_headers_no_path_store_update() {
    let fx = Fixture::new();
    let reply = fx
        .call(post(&write_uri(&fx.p("test.txt")), "hello world"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(fx.agent.paths().len(), 0);
}

#[tokio::test]
async fn handle_write_file_failure_no_path_store_update() {
    let request = post(&write_uri("relative/path.txt"), "hello world");
    check_failure_records_no_path(request, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn path_store_records_the_path_as_requested_not_the_link_target() {
    let fx = Fixture::new();
    let real = fx.write("real.txt", "x");
    let link = fx.symlink("link.txt", &real);
    let chat = chat_id(4);
    let reply = fx
        .call(with_chat(post(&write_uri(&link), "y"), chat, &[]))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(fx.agent.paths().get_paths(chat), Some(vec![link]));
}

fn assert_no_temp_files(fx: &Fixture) {
    let leftovers: Vec<String> = std::fs::read_dir(fx.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}
