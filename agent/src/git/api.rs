//! HTTP handlers under `/api/v0/git`: the watch WebSocket and `show`.

use axum::Router;

use crate::Agent;

/// The git routes, to be nested under `/api/v0/git`.
pub fn routes() -> Router<Agent> {
    Router::new()
}
