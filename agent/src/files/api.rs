//! HTTP handlers of the file API under `/api/v0` (`docs/agent-api.md#files`):
//! query and body decoding only; the logic lives in [`super::read`],
//! [`super::write`] and [`super::edit`].

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::Agent;
use crate::http::chat::ChatContext;
use crate::http::error::json;
use crate::seams::offload;

use super::query::QueryParams;
use super::wire::{EditFilesRequest, ReadFileLinesLimits};
use super::write::BodyError;

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
        super::read::read_file_lines(
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
        Err(e) => e.into_response(),
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
        super::read::read_file(
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
        Err(e) => e.into_response(),
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
    match super::write::write_file(&agent, &chat, &path, upload).await {
        Ok(message) => json(Message { message }),
        Err(e) => e.into_response(),
    }
}

async fn edit_files(
    State(agent): State<Agent>,
    chat: ChatContext,
    body: crate::http::body::JsonBody,
) -> Response {
    let req: EditFilesRequest = match crate::http::body::decode_json(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let cx = super::edit::EditContext::of(&agent);
    match super::edit::edit_files(&cx, &chat.chat_and_ancestors(), &req).await {
        Ok(resp) => json(resp),
        Err(e) => crate::http::error::ApiError::from(e).into_response(),
    }
}
