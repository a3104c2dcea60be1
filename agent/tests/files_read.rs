//! `GET /read-file` and `GET /read-file-lines` through the router: the
//! upstream `TestReadFile` and `TestReadFileLines` tables, plus query
//! validation.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

mod files_support;

use agent::files::wire::ReadFileLinesResponse;
use files_support::{Call, Fixture, denied, enc, get};
use http::StatusCode;

/// What a `/read-file` row expects.
enum Want {
    Bytes(&'static [u8], &'static str),
    Error(StatusCode, &'static str),
}

#[tokio::test]
async fn read_file() {
    let fx = Fixture::new();
    let no_perms = fx.path("no-perms");
    fx.fs.set(move |_, p| (p == no_perms).then(denied));
    std::fs::create_dir(fx.path("a-directory")).unwrap();
    let file = fx.write("file", "content");
    let image = fx.write("file.png", "not really an image");
    let octet = "application/octet-stream";

    let rows: Vec<(&str, String, i64, i64, Want)> = vec![
        (
            "NoPath",
            "".into(),
            0,
            0,
            Want::Error(StatusCode::BAD_REQUEST, "\"path\" is required"),
        ),
        (
            "RelativePathDotSlash",
            "./relative".into(),
            0,
            0,
            Want::Error(StatusCode::BAD_REQUEST, "file path must be absolute"),
        ),
        (
            "RelativePath",
            "also-relative".into(),
            0,
            0,
            Want::Error(StatusCode::BAD_REQUEST, "file path must be absolute"),
        ),
        (
            "NegativeLimit",
            file.clone(),
            -10,
            0,
            Want::Error(StatusCode::BAD_REQUEST, "value is negative"),
        ),
        (
            "NegativeOffset",
            file.clone(),
            0,
            -10,
            Want::Error(StatusCode::BAD_REQUEST, "value is negative"),
        ),
        (
            "NonExistent",
            fx.p("does-not-exist"),
            0,
            0,
            Want::Error(StatusCode::NOT_FOUND, "file does not exist"),
        ),
        (
            "IsDir",
            fx.p("a-directory"),
            0,
            0,
            Want::Error(StatusCode::BAD_REQUEST, "not a file"),
        ),
        (
            "NoPermissions",
            fx.p("no-perms"),
            0,
            0,
            Want::Error(StatusCode::FORBIDDEN, "permission denied"),
        ),
        (
            "Defaults",
            file.clone(),
            0,
            0,
            Want::Bytes(b"content", octet),
        ),
        ("Limit1", file.clone(), 1, 0, Want::Bytes(b"c", octet)),
        ("Offset1", file.clone(), 0, 1, Want::Bytes(b"ontent", octet)),
        (
            "Limit1Offset2",
            file.clone(),
            1,
            2,
            Want::Bytes(b"n", octet),
        ),
        (
            "Limit7Offset0",
            file.clone(),
            7,
            0,
            Want::Bytes(b"content", octet),
        ),
        (
            "Limit100",
            file.clone(),
            100,
            0,
            Want::Bytes(b"content", octet),
        ),
        ("Offset7", file.clone(), 0, 7, Want::Bytes(b"", octet)),
        ("Offset100", file.clone(), 0, 100, Want::Bytes(b"", octet)),
        (
            "MimeTypePng",
            image.clone(),
            0,
            0,
            Want::Bytes(b"not really an image", "image/png"),
        ),
    ];
    for (name, path, limit, offset, want) in rows {
        let uri = format!(
            "/api/v0/read-file?path={}&offset={offset}&limit={limit}",
            enc(&path)
        );
        let reply = fx.call(get(&uri)).await;
        match want {
            Want::Bytes(bytes, mime) => {
                assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
                assert_eq!(&reply.body[..], bytes, "{name}");
                assert_eq!(reply.headers["content-type"], mime, "{name}");
                assert_eq!(
                    reply.headers["content-length"],
                    bytes.len().to_string().as_str(),
                    "{name}"
                );
            }
            Want::Error(status, text) => {
                assert_eq!(reply.status, status, "{name}: {}", reply.text());
                assert!(
                    reply.error_text().contains(text),
                    "{name}: {}",
                    reply.error_text()
                );
            }
        }
    }
}

#[tokio::test]
async fn read_file_lines() {
    let fx = Fixture::new();
    let no_perms = fx.path("no-perms-lines");
    fx.fs.set(move |_, p| (p == no_perms).then(denied));
    std::fs::create_dir(fx.path("a-directory-lines")).unwrap();
    let empty = fx.write("empty-file", "");
    let basic = fx.write("basic-file", "line1\nline2\nline3");
    let long = fx.write("long-line-file", "x".repeat(1025));
    let large = fx.write("large-file", vec![b'x'; (1 << 20) + 1]);
    let basic_size = "line1\nline2\nline3".len() as u64;
    let truncated = format!("1\t{}... [truncated]", "x".repeat(1024));

    // (name, path, offset, limit, Ok((content, total, read, size)) | Err(error))
    type Row<'a> = (
        &'a str,
        String,
        i64,
        i64,
        Result<(&'a str, u64, u64, u64), &'a str>,
    );
    let rows: Vec<Row<'_>> = vec![
        (
            "RelativePath",
            "relative/path".into(),
            0,
            0,
            Err("file path must be absolute: \"relative/path\""),
        ),
        (
            "NonExistent",
            fx.p("does-not-exist"),
            0,
            0,
            Err("file does not exist"),
        ),
        ("IsDir", fx.p("a-directory-lines"), 0, 0, Err("not a file")),
        (
            "NoPermissions",
            fx.p("no-perms-lines"),
            0,
            0,
            Err("permission denied"),
        ),
        ("EmptyFile", empty, 0, 0, Ok(("", 0, 0, 0))),
        (
            "BasicRead",
            basic.clone(),
            0,
            0,
            Ok(("1\tline1\n2\tline2\n3\tline3", 3, 3, basic_size)),
        ),
        (
            "Offset2",
            basic.clone(),
            2,
            0,
            Ok(("2\tline2\n3\tline3", 3, 2, basic_size)),
        ),
        (
            "Limit1",
            basic.clone(),
            0,
            1,
            Ok(("1\tline1", 3, 1, basic_size)),
        ),
        (
            "Offset2Limit1",
            basic.clone(),
            2,
            1,
            Ok(("2\tline2", 3, 1, basic_size)),
        ),
        (
            "OffsetBeyondFile",
            basic.clone(),
            100,
            0,
            Err("offset 100 is beyond the file length of 3 lines"),
        ),
        (
            "LongLineTruncation",
            long,
            0,
            0,
            Ok((truncated.as_str(), 1, 1, 1025)),
        ),
        ("LargeFile", large, 0, 0, Err("exceeds the maximum")),
    ];
    for (name, path, offset, limit, want) in rows {
        let uri = format!(
            "/api/v0/read-file-lines?path={}&offset={offset}&limit={limit}",
            enc(&path)
        );
        let reply = fx.call(get(&uri)).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
        let resp: ReadFileLinesResponse = reply.json();
        match want {
            Ok((content, total, read, size)) => {
                assert!(resp.success, "{name}: {resp:?}");
                assert_eq!(
                    (
                        resp.content.as_str(),
                        resp.total_lines,
                        resp.lines_read,
                        resp.file_size
                    ),
                    (content, total, read, size),
                    "{name}"
                );
            }
            Err(error) => {
                assert!(!resp.success, "{name}: {resp:?}");
                assert!(resp.error.contains(error), "{name}: {}", resp.error);
                assert_eq!(resp.content, "", "{name}: no partial content");
            }
        }
    }
}

#[tokio::test]
async fn read_file_lines_no_path_is_a_query_error() {
    let fx = Fixture::new();
    let reply = fx
        .call(get("/api/v0/read-file-lines?path=&offset=0&limit=0"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.error_text().contains("is required"),
        "{}",
        reply.error_text()
    );
}

#[tokio::test]
async fn empty_file_answers_only_success() {
    let fx = Fixture::new();
    let path = fx.write("empty", "");
    let reply = fx
        .call(get(&format!("/api/v0/read-file-lines?path={}", enc(&path))))
        .await;
    assert_eq!(reply.text(), r#"{"success":true}"#);
}

#[tokio::test]
async fn read_file_lines_limits_are_query_parameters() {
    let fx = Fixture::new();
    let path = fx.write("f", "aaaa\nbbbb\ncccc");
    let cases = [
        (
            "max_line_bytes=2",
            Ok("1\taa... [truncated]\n2\tbb... [truncated]\n3\tcc... [truncated]"),
        ),
        ("max_response_lines=2", Ok("1\taaaa\n2\tbbbb")),
        (
            "max_response_lines=2&limit=3",
            Err(
                "output would exceed 2 lines. Read less at a time using offset and limit parameters.",
            ),
        ),
        (
            "max_response_bytes=10",
            Err(
                "output would exceed 10 bytes. Read less at a time using offset and limit parameters.",
            ),
        ),
        (
            "max_file_size=3",
            Err(
                "file is 14 bytes which exceeds the maximum of 3 bytes. Use grep, sed, or awk to extract the content you need, or use offset and limit to read a portion.",
            ),
        ),
    ];
    for (params, want) in cases {
        let uri = format!("/api/v0/read-file-lines?path={}&{params}", enc(&path));
        let resp: ReadFileLinesResponse = fx.call(get(&uri)).await.json();
        match want {
            Ok(content) => assert_eq!(
                (resp.success, resp.content.as_str()),
                (true, content),
                "{params}"
            ),
            Err(error) => assert_eq!(
                (resp.success, resp.error.as_str()),
                (false, error),
                "{params}"
            ),
        }
    }
}

#[tokio::test]
async fn query_validation_rejects_unknown_negative_and_non_numeric_parameters() {
    let fx = Fixture::new();
    let path = fx.write("f", "x");
    let cases = [
        (
            "read-file-lines",
            "bogus=1",
            "Query param \"bogus\" is not a valid query param",
        ),
        (
            "read-file",
            "bogus=1",
            "Query param \"bogus\" is not a valid query param",
        ),
        ("read-file-lines", "max_line_bytes=-1", "value is negative"),
        (
            "read-file-lines",
            "offset=abc",
            "strconv.ParseInt: parsing \"abc\": invalid syntax",
        ),
        (
            "read-file",
            "limit=99999999999999999999",
            "value out of range",
        ),
    ];
    for (endpoint, params, detail) in cases {
        let uri = format!("/api/v0/{endpoint}?path={}&{params}", enc(&path));
        let reply = fx.call(get(&uri)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{endpoint}?{params}");
        let text = reply.error_text();
        assert!(
            text.starts_with("Query parameters have invalid values."),
            "{text}"
        );
        assert!(text.contains(detail), "{endpoint}?{params}: {text}");
    }
    let write = fx
        .call(files_support::post(
            &format!("/api/v0/write-file?path={}&mode=1", enc(&path)),
            "y",
        ))
        .await;
    assert_eq!(write.status, StatusCode::BAD_REQUEST);
    assert_eq!(fx.read("f"), b"x", "a rejected write touches nothing");
}

#[tokio::test]
async fn invalid_utf8_becomes_one_replacement_character_per_byte() {
    let fx = Fixture::new();
    let path = fx.write("bin", b"ok\xe2\x82\n\xff");
    let resp: ReadFileLinesResponse = fx
        .call(get(&format!("/api/v0/read-file-lines?path={}", enc(&path))))
        .await
        .json();
    assert_eq!(resp.content, "1\tok\u{fffd}\u{fffd}\n2\t\u{fffd}");
}

#[tokio::test]
async fn read_file_reports_unexpected_errors_as_500() {
    let fx = Fixture::new();
    let path = fx.write("f", "x");
    fx.fs
        .set(|call, _| (call == Call::ReadRange).then(|| std::io::Error::other("disk on fire")));
    let reply = fx
        .call(get(&format!("/api/v0/read-file?path={}", enc(&path))))
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.error_text(), format!("open {path}: disk on fire"));
}

/// The file routes are nested at `/api/v0` next to `/api/v0/processes`;
/// both must keep answering once the process routes exist.
#[tokio::test]
async fn file_routes_coexist_with_routes_nested_under_them() {
    use axum::Router;
    use axum::routing::get as route_get;
    use tower::ServiceExt;

    let fx = Fixture::new();
    let path = fx.write("f", "x");
    let router = Router::new()
        .nest(
            "/api/v0/processes",
            Router::new().route("/list", route_get(|| async { "listed" })),
        )
        .nest("/api/v0", agent::http::files::routes())
        .with_state(fx.agent.clone());
    let listed = router
        .clone()
        .oneshot(get("/api/v0/processes/list"))
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let read = router
        .oneshot(get(&format!("/api/v0/read-file?path={}", enc(&path))))
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
}
