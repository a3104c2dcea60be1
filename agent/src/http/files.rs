//! HTTP handlers of the file API under `/api/v0` (`docs/agent-api.md#files`):
//! query and body decoding, and the envelope of every read and write error;
//! the logic lives in [`crate::files`].

use std::io;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::body::{JsonBody, decode_json};
use super::chat::ChatContext;
use super::edit::class_status;
use super::error::{ApiError, json};
use super::query::QueryParams;
use crate::Agent;
use crate::files::ErrorClass;
use crate::files::edit::{self, EditContext, EditLimits};
use crate::files::read::{ReadError, SpecialFile};
use crate::files::wire::{EditFilesRequest, ReadFileLinesLimits};
use crate::files::write::{BodyError, WriteError};
use crate::seams::offload;

/// The file routes, to be nested under `/api/v0`.
pub fn routes() -> Router<Agent> {
    Router::new()
        .route("/read-file-lines", get(read_file_lines))
        .route("/read-file", get(read_file))
        .route("/write-file", post(write_file))
        .route("/edit-files", post(edit_files))
}

/// A plain `{"message"}` success body.
#[derive(Serialize)]
struct Message {
    message: String,
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

async fn read_file_lines(State(agent): State<Agent>, RawQuery(raw): RawQuery) -> Response {
    let defaults = ReadFileLinesLimits::default();
    let mut q = QueryParams::new(raw.as_deref());
    let path = q.required_string("path");
    let offset = q.non_negative_i64("offset", 1);
    let limit = q.non_negative_i64("limit", 0);
    let mut limit_param = |name: &str, default: u64| {
        unsigned(q.non_negative_i64(name, i64::try_from(default).unwrap_or(i64::MAX)))
    };
    let limits = ReadFileLinesLimits {
        max_file_size: limit_param("max_file_size", defaults.max_file_size),
        max_line_bytes: limit_param("max_line_bytes", defaults.max_line_bytes),
        max_response_lines: limit_param("max_response_lines", defaults.max_response_lines),
        max_response_bytes: limit_param("max_response_bytes", defaults.max_response_bytes),
    };
    if let Err(e) = q.finish() {
        return e.into_response();
    }
    let fs = agent.seams().fs.clone();
    let max_read = agent.config().max_read_size;
    let read = offload(agent.seams().offload.as_ref(), move || {
        crate::files::read::read_file_lines(
            fs.as_ref(),
            &path,
            unsigned(offset),
            unsigned(limit),
            &limits,
            max_read,
        )
    });
    match read.await {
        Ok(answer) => json(answer),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn read_file(State(agent): State<Agent>, RawQuery(raw): RawQuery) -> Response {
    let mut q = QueryParams::new(raw.as_deref());
    let path = q.required_string("path");
    let offset = q.non_negative_i64("offset", 0);
    let limit = q.non_negative_i64("limit", 0);
    if let Err(e) = q.finish() {
        return e.into_response();
    }
    let fs = agent.seams().fs.clone();
    let max_read = agent.config().max_read_size;
    let read = offload(agent.seams().offload.as_ref(), move || {
        crate::files::read::read_file(
            fs.as_ref(),
            &path,
            unsigned(offset),
            unsigned(limit),
            max_read,
        )
    });
    match read.await {
        Ok(range) => {
            let len = range.bytes.len();
            let mut resp = (StatusCode::OK, Body::from(range.bytes)).into_response();
            let headers = resp.headers_mut();
            let content_type = HeaderValue::from_str(&range.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            headers.insert(header::CONTENT_TYPE, content_type);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            resp
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn write_file(
    State(agent): State<Agent>,
    chat: ChatContext,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Response {
    let mut q = QueryParams::new(raw.as_deref());
    let path = q.required_string("path");
    if let Err(e) = q.finish() {
        return e.into_response();
    }
    let limit = agent.config().body_limit;
    let upload = async move {
        axum::body::to_bytes(body, limit).await.map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                BodyError::TooLarge
            } else {
                BodyError::Read(e.to_string())
            }
        })
    };
    match crate::files::write::write_file(&agent.file_io(), &path, upload).await {
        Ok(message) => {
            agent
                .paths()
                .add_paths(&chat.chat_and_ancestors(), &[path.to_string()])
                .await;
            json(Message { message })
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn edit_files(State(agent): State<Agent>, chat: ChatContext, body: JsonBody) -> Response {
    let req: EditFilesRequest = match decode_json(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let cx = EditContext {
        io: agent.file_io(),
        paths: agent.paths(),
        limits: EditLimits::of(agent.config()),
    };
    match edit::edit_files(&cx, &chat.chat_and_ancestors(), &req).await {
        Ok(resp) => json(resp),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The status of a failed open or read by the error's kind: 404 missing,
/// 403 denied, 400 when a path component is a file (the caller's mistake; Go
/// answered 500, as write-file already answers 400 for it), else 500.
pub fn open_status(kind: io::ErrorKind) -> StatusCode {
    class_status(ErrorClass::of_io(kind))
}

/// A special file is the caller's mistake: 400.
impl From<SpecialFile> for ApiError {
    fn from(e: SpecialFile) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

/// 400 for a relative path, a directory or a special file; a failed open by
/// [`open_status`]; 413 for a range larger than one answer may be.
impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        let status = match &e {
            ReadError::NotAbsolute(_) | ReadError::Special(_) | ReadError::NotAFile(_) => {
                StatusCode::BAD_REQUEST
            }
            ReadError::Open(open) => open_status(open.kind()),
            ReadError::RangeTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The caller's mistakes (a relative path, a directory or special file in
/// the way, a file where a parent directory should be) are 400, a denied
/// directory or file 403, a body over the limit 413, the rest 500.
impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        let denied_or = |kind: io::ErrorKind, other: StatusCode| match kind {
            io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            _ => other,
        };
        let status = match &e {
            WriteError::NotAbsolute(_) | WriteError::IsADirectory(_) | WriteError::Special(_) => {
                StatusCode::BAD_REQUEST
            }
            WriteError::Resolve { .. } | WriteError::BodyRead { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            WriteError::Mkdir(mkdir) => match mkdir.kind() {
                io::ErrorKind::NotADirectory => StatusCode::BAD_REQUEST,
                kind => denied_or(kind, StatusCode::INTERNAL_SERVER_ERROR),
            },
            WriteError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WriteError::TempDenied(_) => StatusCode::FORBIDDEN,
            WriteError::Write { source, .. } => {
                denied_or(source.kind(), StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        ApiError::new(status, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_open_answers_by_its_kind() {
        for (kind, status) in [
            (io::ErrorKind::NotFound, StatusCode::NOT_FOUND),
            (io::ErrorKind::PermissionDenied, StatusCode::FORBIDDEN),
            (io::ErrorKind::NotADirectory, StatusCode::BAD_REQUEST),
            (io::ErrorKind::Other, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            assert_eq!(open_status(kind), status, "{kind:?}");
        }
    }
}
