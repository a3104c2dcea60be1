//! Git watch (spec section 5): the PathStore, the scanner seam and the
//! watch WebSocket.

pub mod api;
pub mod pathstore;
pub mod scanner;
pub mod wire;

pub use pathstore::{PathStore, Subscription};
