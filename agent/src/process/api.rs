//! HTTP handlers under `/api/v0/processes` (`docs/agent-api.md#processes`).
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

use super::exec::Signal;
use super::manager::{Process, SignalFailure, StartError, StartRequest};
use super::wire::{
    ListProcessesResponse, ProcessOutputResponse, SignalProcessRequest, StartProcessRequest,
    StartProcessResponse,
};
use crate::http::body::{JsonBody, decode_json};
use crate::http::deadline::WriteDeadline;
use crate::http::error::json;
use crate::http::{ApiError, ChatContext};
use crate::{Agent, Bug};

/// The process routes, to be nested under `/api/v0/processes`.
pub fn routes() -> Router<Agent> {
    Router::new()
        .route("/start", post(start))
        .route("/list", get(list))
        .route("/{id}/output", get(output))
        .route("/{id}/signal", post(signal))
}

/// The `{id}` path segment, or a 400 envelope if it cannot be decoded.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id).map_err(|rejection| {
        ApiError::bad_request("Invalid process id in path.").with_detail(rejection.body_text())
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Process {id:?} not found."))
}

/// Visibility for output/signal: a caller with a chat may not touch another
/// chat's process (404, not 403). `chat-id-unchecked` skips the check.
fn authorize(agent: &Agent, chat: &ChatContext, process: &Process) -> Result<(), ApiError> {
    if process.visible_to(chat.chat_id) {
        return Ok(());
    }
    if agent.bug(Bug::ChatIdUnchecked) {
        crate::sim::bug_taken(Bug::ChatIdUnchecked);
        cov_mark::hit!(chat_id_unchecked);
        return Ok(());
    }
    Err(not_found(process.id()))
}

/// `POST /start`. A request the manager refuses as given (NUL bytes, a bad
/// environment name, a missing workdir) is a 400; other start failures are a
/// 500. After a start with a chat context, a task feeds the PathStore once the
/// process is done.
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
        .map_err(|e| match e {
            StartError::Invalid(message) => ApiError::bad_request(message),
            other => ApiError::internal("Failed to start process.").with_detail(other.to_string()),
        })?;

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

/// Whether the query asks to block: only the exact first value
/// `wait=true` counts (Go's `Query().Get("wait") == "true"`).
fn wants_wait(query: Option<&str>) -> bool {
    let Some(query) = query else {
        return false;
    };
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "wait"))
        .is_some_and(|(_, v)| v == "true")
}

/// `GET /{id}/output[?wait=true]`.
async fn output(
    State(agent): State<Agent>,
    chat: ChatContext,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    deadline: Option<Extension<WriteDeadline>>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let process = agent.processes().get(&id).ok_or_else(|| not_found(&id))?;
    authorize(&agent, &chat, &process)?;

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
        // Bounded by the cap; the client leaving drops this whole future (hyper
        // drops the handler when the connection closes). `lost-wakeup` checks
        // before registering for the wake-up (race R7, `docs/races.md`).
        let buffer = process.buffer().clone();
        tokio::select! {
            biased;
            () = buffer.wait_closed_with(agent.bug(Bug::LostWakeup)) => {}
            () = tokio::time::sleep(config.max_wait) => {}
        }
    }

    // Info before output (upstream #25646, U6): the exit is published only
    // after every byte is in the buffer, so "exited" makes the following read
    // final. `stale-output-read` swaps the two reads (R1).
    let (info, (output, truncated)) = if agent.bug(Bug::StaleOutputRead) {
        crate::sim::bug_taken(Bug::StaleOutputRead);
        cov_mark::hit!(stale_output_read);
        let out = process.buffer().output();
        crate::yield_point!("proc.output.between_info_and_output");
        (process.info(), out)
    } else {
        let info = process.info();
        crate::yield_point!("proc.output.between_info_and_output");
        (info, process.buffer().output())
    };
    Ok(json(ProcessOutputResponse {
        output,
        truncated,
        running: info.running,
        exit_code: if info.running { None } else { info.exit_code },
    }))
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
        authorize(&agent, &chat, process)?;
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
    let process = process.ok_or_else(|| not_found(&id))?;
    match agent.processes().signal(&process, sig).await {
        Ok(()) => Ok(json(serde_json::json!({
            "message": format!("Signal {:?} sent to process {:?}.", sig.wire_name(), id),
        }))),
        Err(SignalFailure::NotRunning) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Process {id:?} is not running."),
        )),
        Err(SignalFailure::Failed(detail)) => {
            Err(ApiError::internal("Failed to signal process.").with_detail(detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_first_wait_value_true_blocks() {
        for (query, blocks) in [
            (None, false),
            (Some("wait=true"), true),
            (Some("x=1&wait=true"), true),
            (Some("wait=1"), false),
            (Some("wait=TRUE"), false),
            (Some("wait="), false),
            (Some("wait=false&wait=true"), false),
            (Some("%zz=&wait=true"), true),
        ] {
            assert_eq!(wants_wait(query), blocks, "{query:?}");
        }
    }
}
