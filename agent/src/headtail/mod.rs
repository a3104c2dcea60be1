//! Bounded process output: the head/tail buffer (spec section 1).
//!
//! Interim version with the final public API; the head/tail issue replaces
//! the internals (ring, UTF-8 safety, cap, benches).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Bytes kept from the start of the output.
pub const MAX_HEAD_BYTES: usize = 16384;
/// Bytes kept from the end of the output.
pub const MAX_TAIL_BYTES: usize = 16384;

/// Truncation record (`ProcessTruncation` on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    pub original_bytes: u64,
    pub retained_bytes: u64,
    pub omitted_bytes: u64,
    pub strategy: String,
}

/// Process output with bounded memory and a blocking wait for close.
pub struct HeadTailBuffer {
    state: Mutex<Vec<u8>>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for HeadTailBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadTailBuffer {
    pub fn new() -> Self {
        Self::sized(MAX_HEAD_BYTES, MAX_TAIL_BYTES)
    }

    pub fn sized(_max_head: usize, _max_tail: usize) -> Self {
        HeadTailBuffer {
            state: Mutex::new(Vec::new()),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Appends `p`; never blocks on readers, never fails.
    pub fn write(&self, p: &[u8]) -> usize {
        if let Ok(mut s) = self.state.lock() {
            s.extend_from_slice(p);
        }
        p.len()
    }

    /// The LLM snapshot and its truncation info.
    pub fn output(&self) -> (String, Option<Truncation>) {
        let s = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        (String::from_utf8_lossy(&s).into_owned(), None)
    }

    pub fn total_written(&self) -> u64 {
        self.state.lock().map(|s| s.len() as u64).unwrap_or(0)
    }

    /// Marks the output complete and wakes every waiter.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once [`close`](Self::close) has been called (at once if it
    /// already was). Wrap in a timeout for a bounded wait.
    pub async fn wait_closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}
