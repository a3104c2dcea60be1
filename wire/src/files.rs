//! Wire types of the file API (`docs/agent-api.md#files`).

use serde::{Deserialize, Serialize};

/// `GET /read-file-lines` response. Every key but `success` is omitted when
/// zero or empty, so an empty file answers `{"success": true}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadFileLinesResponse {
    pub success: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub file_size: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_lines: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lines_read: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The limits of a read-file-lines call (defaults in
/// `docs/agent-api.md#files`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadFileLinesLimits {
    pub max_file_size: u64,
    pub max_line_bytes: u64,
    pub max_response_lines: u64,
    pub max_response_bytes: u64,
}

impl Default for ReadFileLinesLimits {
    fn default() -> Self {
        ReadFileLinesLimits {
            max_file_size: 1_048_576,
            max_line_bytes: 1024,
            max_response_lines: 2000,
            max_response_bytes: 32768,
        }
    }
}

/// Go's JSON decoding: a missing or `null` field is the zero value.
fn zero_if_null<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One search/replace. Missing or `null` fields decode as empty / false,
/// as in Go, so the API can answer with its own messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdit {
    #[serde(default, deserialize_with = "zero_if_null")]
    pub search: String,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub replace: String,
    #[serde(
        default,
        deserialize_with = "zero_if_null",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub replace_all: bool,
}

/// The edits of one file, applied in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdits {
    #[serde(default, deserialize_with = "zero_if_null")]
    pub path: String,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub edits: Vec<FileEdit>,
}

/// `POST /edit-files` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditFilesRequest {
    #[serde(default, deserialize_with = "zero_if_null")]
    pub files: Vec<FileEdits>,
    #[serde(
        default,
        deserialize_with = "zero_if_null",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub include_diff: bool,
}

/// One file's diff in an `include_diff` answer; `path` as the caller gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEditResult {
    pub path: String,
    pub diff: String,
    /// Why `diff` is empty although the file changed (too large to diff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /edit-files` success body: `files` only when `include_diff`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditFilesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileEditResult>>,
}
