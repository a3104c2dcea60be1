//! HTTP handlers under `/api/v0/processes` (spec 2.2).

use axum::Router;

use crate::Agent;

/// The process routes, to be nested under `/api/v0/processes`.
pub fn routes() -> Router<Agent> {
    Router::new()
}
