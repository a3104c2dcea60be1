//! Git watch (`docs/agent-api.md#git`): the PathStore, the scanner seam, the
//! per-connection watch handler and the HTTP endpoints.

pub mod api;
pub mod pathstore;
pub mod scanner;
pub mod watch;
pub use agent_wire::git as wire;

pub use pathstore::{PathStore, Subscription};
pub use watch::WatchHandler;
