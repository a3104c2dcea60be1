//! The HTTP layer: the router, chat-id scoping, the error envelope, and the
//! server with its write-deadline connection layer.

pub mod chat;
pub mod deadline;
pub mod error;
pub mod server;

use axum::Router;

use crate::Agent;

pub use chat::ChatContext;
pub use deadline::WriteDeadline;
pub use error::{ApiError, ErrorBody};
pub use server::serve;

/// The whole API: files at `/api/v0`, git at `/api/v0/git`, processes at
/// `/api/v0/processes`.
pub fn router(agent: Agent) -> Router {
    let body_limit = agent.config().body_limit;
    Router::new()
        .nest("/api/v0/processes", crate::process::api::routes())
        .nest("/api/v0/git", crate::git::api::routes())
        .nest("/api/v0", crate::files::api::routes())
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(agent)
}
