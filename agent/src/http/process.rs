//! HTTP handlers under `/api/v0/processes` (`docs/agent-api.md#processes`)
//! and the envelope of every [`process::Error`].
//!
//! Every answer other than 2xx is the JSON envelope of
//! [`ApiError`]; axum's own rejections (body too large, undecodable path)
//! are mapped to it, so no input reaches a plain-text error or a panic.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use tokio::time::Instant;

use super::body::{JsonBody, decode_json};
use super::chat::ChatContext;
use super::deadline::WriteDeadline;
use super::error::{ApiError, json};
use crate::Agent;
use crate::process::exec::Signal;
use crate::process::manager::StartRequest;
use crate::process::wire::{
    ListProcessesResponse, SignalProcessRequest, StartProcessRequest, StartProcessResponse,
};
use crate::process::{self, SignalFailure, StartError, access};

/// The process routes, to be nested under `/api/v0/processes`.
pub fn routes() -> Router<Agent> {
    Router::new()
        .route("/start", post(start))
        .route("/list", get(list))
        .route("/{id}/output", get(output))
        .route("/{id}/signal", post(signal))
}

/// The envelope of a failed process operation: a start refused as given
/// (NUL bytes, a bad environment name, a missing workdir) is a 400, other
/// start failures a 500; a signal to an exited process a 409.
impl From<process::Error> for ApiError {
    fn from(e: process::Error) -> Self {
        match e {
            process::Error::NotFound(id) => {
                ApiError::not_found(format!("Process {id:?} not found."))
            }
            process::Error::Start(StartError::Invalid(message)) => ApiError::bad_request(message),
            process::Error::Start(other) => {
                ApiError::internal("Failed to start process.").with_detail(other.to_string())
            }
            process::Error::Signal {
                id,
                source: SignalFailure::NotRunning,
            } => ApiError::new(
                StatusCode::CONFLICT,
                format!("Process {id:?} is not running."),
            ),
            process::Error::Signal {
                source: SignalFailure::Failed(detail),
                ..
            } => ApiError::internal("Failed to signal process.").with_detail(detail),
        }
    }
}

/// The `{id}` path segment, or a 400 envelope if it cannot be decoded.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id).map_err(|rejection| {
        ApiError::bad_request("Invalid process id in path.").with_detail(rejection.body_text())
    })
}

/// `POST /start`. After a start with a chat context, a task feeds the
/// PathStore once the process is done.
async fn start(
    State(agent): State<Agent>,
    chat: ChatContext,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let req: StartProcessRequest = decode_json(body)?;
    if req.command.is_empty() {
        return Err(ApiError::bad_request("Command is required."));
    }
    let workdir = req.workdir.clone().filter(|w| !w.is_empty());
    let process = agent
        .processes()
        .start(StartRequest {
            command: req.command,
            workdir: workdir.clone(),
            env: req.env.unwrap_or_default(),
            background: req.background,
            chat_id: chat.chat_id,
        })
        .await
        .map_err(process::Error::from)?;

    let chats = chat.chat_and_ancestors();
    if !chats.is_empty() {
        let agent = agent.clone();
        let process = process.clone();
        tokio::spawn(async move {
            process.done().await;
            match workdir {
                Some(dir) => agent.paths().add_paths(&chats, &[dir]).await,
                None => agent.paths().notify(&chats),
            }
        });
    }
    Ok(json(StartProcessResponse {
        id: process.id().to_string(),
        started: true,
    }))
}

/// `GET /list`.
async fn list(State(agent): State<Agent>, chat: ChatContext) -> Response {
    json(ListProcessesResponse {
        processes: agent.processes().list(chat.chat_id),
    })
}

/// Whether the query asks to block: the first `wait` value, in any of Go's
/// `strconv.ParseBool` true spellings (`1`, `t`, `T`, `TRUE`, `true`,
/// `True`); anything else does not block.
fn wants_wait(query: Option<&str>) -> bool {
    let Some(query) = query else {
        return false;
    };
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "wait"))
        .is_some_and(|(_, v)| super::query::parse_bool(&v) == Some(true))
}

/// `GET /{id}/output[?wait=true]`. A blocking read first moves the
/// connection's write deadline past the longest wait.
async fn output(
    State(agent): State<Agent>,
    chat: ChatContext,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    deadline: Option<Extension<WriteDeadline>>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let bugs = &agent.config().bugs;
    let process = agent
        .processes()
        .get(&id)
        .ok_or_else(|| process::Error::NotFound(id.clone()))?;
    access::check_visible(&process, chat.chat_id, bugs)?;

    if wants_wait(query.as_deref()) {
        let config = agent.config();
        let until = Instant::now() + config.max_wait + config.wait_deadline_headroom;
        let moved = match &deadline {
            Some(Extension(handle)) => handle.set(until).map_err(|e| e.to_string()),
            None => Err("feature not supported".to_string()),
        };
        if let Err(error) = moved {
            tracing::error!(%error, id = %id, "extend write deadline for blocking process output");
        }
        access::wait_for_exit(&process, config.max_wait, bugs).await;
    }
    Ok(json(access::read_output(&process, bugs).await))
}

/// `POST /{id}/signal`. The chat check comes before the body is parsed; an
/// unknown id is reported after the body checks, as in Go.
async fn signal(
    State(agent): State<Agent>,
    chat: ChatContext,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let process = agent.processes().get(&id);
    if let Some(process) = &process {
        access::check_visible(process, chat.chat_id, &agent.config().bugs)?;
    }
    let req: SignalProcessRequest = decode_json(body)?;
    if req.signal.is_empty() {
        return Err(ApiError::bad_request("Signal is required."));
    }
    let Some(sig) = Signal::from_wire(&req.signal) else {
        return Err(ApiError::bad_request(format!(
            "Unsupported signal {:?}. Use \"kill\" or \"terminate\".",
            req.signal
        )));
    };
    let process = process.ok_or_else(|| process::Error::NotFound(id.clone()))?;
    match agent.processes().signal(&process, sig).await {
        Ok(()) => Ok(json(serde_json::json!({
            "message": format!("Signal {:?} sent to process {:?}.", sig.wire_name(), id),
        }))),
        Err(source) => Err(process::Error::Signal { id, source }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_wait_value_blocks_when_it_is_a_true_spelling() {
        for (query, blocks) in [
            (None, false),
            (Some("wait=true"), true),
            (Some("x=1&wait=true"), true),
            (Some("wait=1"), true),
            (Some("wait=TRUE"), true),
            (Some("wait=t"), true),
            (Some("wait=yes"), false),
            (Some("wait="), false),
            (Some("wait=false&wait=true"), false),
            (Some("%zz=&wait=true"), true),
        ] {
            assert_eq!(wants_wait(query), blocks, "{query:?}");
        }
    }
}
