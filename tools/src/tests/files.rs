//! `read_file`, `edit_files`, `write_file` (`docs/design.md#clients`).

use agent_sdk::{
    EditFilesRequest, EditFilesResponse, FileEdit, FileEdits, ReadFileLinesLimits,
    ReadFileLinesResponse,
};
use serde_json::json;

use super::{assert_error_response, call, call_with, check_rejected};
use crate::testing::{FakeConn, Reply, Request, assert_result_snapshot, eof, status};
use crate::{ChatTools, RESOLVER_MISSING, ToolOptions};

fn read_req(path: &str, offset: i64, limit: i64) -> Request {
    Request::ReadFileLines {
        path: path.into(),
        offset,
        limit,
        limits: ReadFileLinesLimits::default(),
    }
}

fn lines(content: &str, total: u64, read: u64, size: u64) -> Reply<ReadFileLinesResponse> {
    Reply::Ok(ReadFileLinesResponse {
        success: true,
        file_size: size,
        total_lines: total,
        lines_read: read,
        content: content.into(),
        error: String::new(),
    })
}

// ---- read_file -----------------------------------------------------------------

#[tokio::test]
async fn read_file_requires_a_path() {
    for args in [json!({}), json!({"path": ""}), json!({"path": null})] {
        check_rejected("read_file", args, "path is required").await;
    }
}

#[tokio::test]
async fn read_file_sends_offset_1_limit_0_and_the_default_limits_by_default() {
    let conn = FakeConn::new().read_lines(lines("1\tpackage main\n", 1, 1, 13));
    let result = call(&conn, "read_file", json!({"path": "/home/coder/main.go"})).await;
    assert_eq!(conn.requests(), [read_req("/home/coder/main.go", 1, 0)]);
    // A Go map: keys sorted.
    assert_eq!(
        result.text,
        r#"{"content":"1\tpackage main\n","file_size":13,"lines_read":1,"total_lines":1}"#
    );
    assert_result_snapshot!("read_file_plain", result);
}

#[tokio::test]
async fn read_file_passes_offset_and_limit_and_the_configured_limits() {
    let limits = ReadFileLinesLimits {
        max_file_size: 10,
        max_line_bytes: 20,
        max_response_lines: 30,
        max_response_bytes: 40,
    };
    let options = ToolOptions {
        read_file_limits: limits,
        ..Default::default()
    };
    let conn = FakeConn::new().read_lines(lines("5\te\n", 9, 1, 18));
    let args = json!({"path": "/f", "offset": 5, "limit": 1});
    call_with(options, &conn, "read_file", args).await;
    assert_eq!(
        conn.requests(),
        [Request::ReadFileLines {
            path: "/f".into(),
            offset: 5,
            limit: 1,
            limits
        }]
    );
}

#[tokio::test]
async fn read_file_zero_fields_are_still_present() {
    // An empty file: the agent omits every zero key, the tool does not.
    let conn = FakeConn::new().read_lines(lines("", 0, 0, 0));
    let result = call(&conn, "read_file", json!({"path": "/empty"})).await;
    assert_eq!(
        result.text,
        r#"{"content":"","file_size":0,"lines_read":0,"total_lines":0}"#
    );
}

#[tokio::test]
async fn read_file_unsuccessful_answer_is_an_error_response_with_its_text() {
    let conn = FakeConn::new().read_lines(Reply::Ok(ReadFileLinesResponse {
        success: false,
        error: "offset 50 is beyond the file length of 3 lines".into(),
        ..Default::default()
    }));
    let result = call(&conn, "read_file", json!({"path": "/f", "offset": 50})).await;
    assert_error_response(&result, "offset 50 is beyond the file length of 3 lines");
}

#[tokio::test]
async fn read_file_transport_error_is_an_error_response_with_its_text() {
    let conn = FakeConn::new().read_lines(Reply::Err(eof("/api/v0/read-file-lines")));
    let result = call(&conn, "read_file", json!({"path": "/f"})).await;
    assert_error_response(&result, "GET http://agent:4/api/v0/read-file-lines: EOF");
    assert_result_snapshot!("read_file_transport_error", result);
}

#[tokio::test]
async fn read_file_content_is_html_escaped_like_go() {
    let conn = FakeConn::new().read_lines(lines("1\tif a < b && c > d {\n", 1, 1, 21));
    let result = call(&conn, "read_file", json!({"path": "/f.go"})).await;
    assert!(
        result
            .text
            .contains(r#""1\tif a \u003c b \u0026\u0026 c \u003e d {\n""#),
        "{}",
        result.text
    );
}

// ---- edit_files ----------------------------------------------------------------

#[tokio::test]
async fn edit_files_requires_files() {
    for args in [json!({}), json!({"files": []}), json!({"files": null})] {
        check_rejected("edit_files", args, "files is required").await;
    }
}

#[tokio::test]
async fn edit_files_sends_every_edit_and_answers_ok() {
    let conn = FakeConn::new().edit(Reply::Ok(EditFilesResponse::default()));
    let args = json!({"files": [
        {"path": "/a.txt", "edits": [
            {"search": "foo", "replace": "bar"},
            {"search": "x", "replace": "y", "replace_all": true}
        ]},
        {"path": "/b.txt", "edits": [{"search": "1", "replace": "2"}]}
    ]});
    let result = call(&conn, "edit_files", args).await;
    assert_eq!(result.text, r#"{"ok":true}"#);
    let edit = |search: &str, replace: &str, replace_all| FileEdit {
        search: search.into(),
        replace: replace.into(),
        replace_all,
    };
    assert_eq!(
        conn.requests(),
        [Request::EditFiles(EditFilesRequest {
            files: vec![
                FileEdits {
                    path: "/a.txt".into(),
                    edits: vec![edit("foo", "bar", false), edit("x", "y", true)],
                },
                FileEdits {
                    path: "/b.txt".into(),
                    edits: vec![edit("1", "2", false)],
                },
            ],
            include_diff: false,
        })]
    );
    assert_result_snapshot!("edit_files_ok", result);
}

#[tokio::test]
async fn edit_files_agent_error_is_an_error_response_with_its_text() {
    let conn = FakeConn::new().edit(Reply::Err(status(
        "POST",
        "/api/v0/edit-files",
        400,
        "Failed to apply edits.",
        Some("/a.txt: search string not found"),
    )));
    let args = json!({"files": [{"path": "/a.txt", "edits": [{"search": "zz", "replace": ""}]}]});
    let result = call(&conn, "edit_files", args).await;
    assert_error_response(
        &result,
        "POST http://agent:4/api/v0/edit-files: unexpected status code 400: Failed to apply edits.: /a.txt: search string not found",
    );
    assert_result_snapshot!("edit_files_error", result);
}

// ---- write_file ----------------------------------------------------------------

#[tokio::test]
async fn write_file_requires_a_path() {
    check_rejected("write_file", json!({"content": "x"}), "path is required").await;
}

#[tokio::test]
async fn write_file_sends_the_content_and_answers_ok() {
    let conn = FakeConn::new().write(Reply::Ok(()));
    let args = json!({"path": "/home/coder/new.txt", "content": "héllo\n"});
    let result = call(&conn, "write_file", args).await;
    assert_eq!(result.text, r#"{"ok":true}"#);
    assert_eq!(
        conn.requests(),
        [Request::WriteFile {
            path: "/home/coder/new.txt".into(),
            content: "héllo\n".as_bytes().to_vec()
        }]
    );
    // Missing content writes an empty file, as Go's zero value does.
    let conn = FakeConn::new().write(Reply::Ok(()));
    call(&conn, "write_file", json!({"path": "/e"})).await;
    assert_eq!(
        conn.requests(),
        [Request::WriteFile {
            path: "/e".into(),
            content: vec![]
        }]
    );
}

#[tokio::test]
async fn write_file_error_is_an_error_response_with_its_text() {
    let conn = FakeConn::new().write(Reply::Err(status(
        "POST",
        "/api/v0/write-file?path=/etc/passwd",
        403,
        "Permission denied.",
        None,
    )));
    let result = call(
        &conn,
        "write_file",
        json!({"path": "/etc/passwd", "content": ""}),
    )
    .await;
    assert_error_response(
        &result,
        "POST http://agent:4/api/v0/write-file?path=/etc/passwd: unexpected status code 403: Permission denied.",
    );
}

#[tokio::test]
async fn file_tools_need_a_resolver() {
    for tool in ["read_file", "edit_files", "write_file"] {
        let result = ChatTools::default()
            .call_resolved(tool, None, json!({"path": "/x"}))
            .await;
        assert_error_response(&result, RESOLVER_MISSING);
    }
}
