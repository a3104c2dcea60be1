//! The HTTP layer: the router behind its access guard, the handlers of each
//! domain ([`process`], [`files`], [`git`]) with the mapping of their errors
//! to the envelope, chat-id scoping, and the server with its deadlines and
//! connection cap.

pub mod body;
pub mod chat;
pub mod deadline;
mod edit;
pub mod error;
pub mod files;
pub mod git;
pub mod guard;
pub mod process;
pub mod query;
pub mod read_deadline;
pub mod server;
pub mod trace;

use axum::Router;

use crate::Agent;

pub use chat::ChatContext;
pub use deadline::WriteDeadline;
pub use error::{ApiError, ErrorBody};
pub use server::serve;

/// The whole API: files at `/api/v0`, git at `/api/v0/git`, processes at
/// `/api/v0/processes`. An unknown route or a method a route does not serve
/// gets the JSON envelope too (axum's own answers have an empty body).
/// Every request, fallbacks included, passes the [`guard`] first.
pub fn router(agent: Agent) -> Router {
    let body_limit = agent.config().body_limit;
    let access = guard::Access::from_config(agent.config());
    let routes = Router::new()
        .nest("/api/v0/processes", process::routes())
        .nest("/api/v0/git", git::routes())
        .nest("/api/v0", files::routes())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit));
    guard::protect(routes, access).with_state(agent)
}

/// 404 for a path no route matches (coderd's `httpapi.RouteNotFound`).
async fn route_not_found() -> ApiError {
    ApiError::not_found("Route not found.")
}

/// 405 for a known path with a method it does not serve; axum adds the
/// `Allow` header.
async fn method_not_allowed(method: http::Method) -> ApiError {
    ApiError::new(http::StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
        .with_detail(format!("{method} is not supported by this route"))
}
