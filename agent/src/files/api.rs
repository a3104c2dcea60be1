//! HTTP handlers of the file API under `/api/v0` (spec section 4).

use axum::Router;

use crate::Agent;

/// The file routes, to be nested under `/api/v0`.
pub fn routes() -> Router<Agent> {
    Router::new()
}
