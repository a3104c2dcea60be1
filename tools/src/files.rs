//! The file tools (`docs/design.md#clients`): `read_file` (line-numbered
//! pages), `edit_files` (search and replace, atomic per call) and `write_file`.

use std::collections::BTreeMap;

use agent_sdk::{AgentConn, EditFilesRequest, FileEdit, FileEdits};
use serde::Deserialize;

use crate::options::ToolOptions;
use crate::result::ToolResult;

/// `read_file`'s arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReadFileArgs {
    #[serde(deserialize_with = "crate::nullable")]
    pub path: String,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// `edit_files`' arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditFilesArgs {
    #[serde(deserialize_with = "crate::nullable")]
    pub files: Vec<EditFileArg>,
}

/// One file's edits in `edit_files`' arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditFileArg {
    #[serde(deserialize_with = "crate::nullable")]
    pub path: String,
    #[serde(deserialize_with = "crate::nullable")]
    pub edits: Vec<EditArg>,
}

/// One search-and-replace in `edit_files`' arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditArg {
    #[serde(deserialize_with = "crate::nullable")]
    pub search: String,
    #[serde(deserialize_with = "crate::nullable")]
    pub replace: String,
    #[serde(deserialize_with = "crate::nullable")]
    pub replace_all: bool,
}

/// `write_file`'s arguments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct WriteFileArgs {
    #[serde(deserialize_with = "crate::nullable")]
    pub path: String,
    #[serde(deserialize_with = "crate::nullable")]
    pub content: String,
}

pub(crate) const READ_DESCRIPTION: &str = "Read a file from the workspace. Returns its content \
with line numbers. offset is the 1-based line number to start from (default 1) and limit the \
number of lines to return (default 2000). Page through large files with offset and limit.";

pub(crate) const EDIT_DESCRIPTION: &str = "Make search-and-replace edits to one or more files in \
the workspace. Each file can take several edits, applied atomically.";

pub(crate) const WRITE_DESCRIPTION: &str = "Write a file to the workspace, replacing its content.";

pub(crate) fn read_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Absolute path of the file to read."
            },
            "offset": {
                "type": "integer",
                "description": "1-based line number to start reading from (default 1)."
            },
            "limit": {
                "type": "integer",
                "description": "Number of lines to read (default 2000)."
            }
        },
        "required": ["path"]
    })
}

pub(crate) fn edit_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "description": "The files to edit, each with its edits.",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {
                            "type": "string",
                            "description": "Absolute path of the file to edit."
                        },
                        "edits": {
                            "type": "array",
                            "description": "Edits applied in order; all or none are written.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "search": {
                                        "type": "string",
                                        "description": "The text to find."
                                    },
                                    "replace": {
                                        "type": "string",
                                        "description": "The text to put in its place."
                                    },
                                    "replace_all": {
                                        "type": "boolean",
                                        "description": "Replace every occurrence instead of \
    requiring exactly one."
                                    }
                                },
                                "required": ["search", "replace"]
                            }
                        }
                    },
                    "required": ["path", "edits"]
                }
            }
        },
        "required": ["files"]
    })
}

pub(crate) fn write_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Absolute path of the file to write."
            },
            "content": {
                "type": "string",
                "description": "The file's new content."
            }
        },
        "required": ["path", "content"]
    })
}

/// `{"ok": true}`, the file tools' success.
fn ok() -> ToolResult {
    ToolResult::json(&BTreeMap::from([("ok", true)]))
}

/// Runs `read_file` on `conn`.
pub(crate) async fn read(
    opts: &ToolOptions,
    conn: &dyn AgentConn,
    args: ReadFileArgs,
) -> ToolResult {
    if args.path.is_empty() {
        return ToolResult::error("path is required");
    }
    let offset = args.offset.unwrap_or(1);
    let limit = args.limit.unwrap_or(0);
    match conn
        .read_file_lines(&args.path, offset, limit, opts.read_file_limits)
        .await
    {
        Err(e) => ToolResult::error(e.to_string()),
        Ok(resp) if !resp.success => ToolResult::error(resp.error),
        Ok(resp) => {
            // A Go map: keys sorted.
            let body: BTreeMap<&str, serde_json::Value> = BTreeMap::from([
                ("content", resp.content.into()),
                ("file_size", resp.file_size.into()),
                ("lines_read", resp.lines_read.into()),
                ("total_lines", resp.total_lines.into()),
            ]);
            ToolResult::json(&body)
        }
    }
}

/// Runs `edit_files` on `conn`.
pub(crate) async fn edit(conn: &dyn AgentConn, args: EditFilesArgs) -> ToolResult {
    if args.files.is_empty() {
        return ToolResult::error("files is required");
    }
    let request = EditFilesRequest {
        files: args
            .files
            .into_iter()
            .map(|f| FileEdits {
                path: f.path,
                edits: f
                    .edits
                    .into_iter()
                    .map(|e| FileEdit {
                        search: e.search,
                        replace: e.replace,
                        replace_all: e.replace_all,
                    })
                    .collect(),
            })
            .collect(),
        include_diff: false,
    };
    match conn.edit_files(&request).await {
        Ok(_) => ok(),
        Err(e) => ToolResult::error(e.to_string()),
    }
}

/// Runs `write_file` on `conn`.
pub(crate) async fn write(conn: &dyn AgentConn, args: WriteFileArgs) -> ToolResult {
    if args.path.is_empty() {
        return ToolResult::error("path is required");
    }
    match conn.write_file(&args.path, args.content.into_bytes()).await {
        Ok(()) => ok(),
        Err(e) => ToolResult::error(e.to_string()),
    }
}
