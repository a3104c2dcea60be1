//! SDK errors. A non-2xx answer carries method, URL, status, message and
//! detail, and renders as the Go SDK's text (`docs/design.md#clients`), which
//! the chat tools embed in their results.

/// An error from an SDK call.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SdkError {
    /// The agent answered with a non-2xx status.
    #[error("{method} {url}: unexpected status code {status}: {message}{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        method: String,
        url: String,
        status: u16,
        message: String,
        detail: Option<String>,
    },
    /// The connection failed or closed before a complete answer (EOF).
    #[error("{method} {url}: {reason}")]
    Transport {
        method: String,
        url: String,
        reason: String,
    },
    /// The answer was not the JSON we expected.
    #[error("{method} {url}: decode response: {reason}")]
    Decode {
        method: String,
        url: String,
        reason: String,
    },
}

impl SdkError {
    /// The HTTP status, when the agent answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            SdkError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the connection failed rather than the agent answering.
    pub fn is_transport(&self) -> bool {
        matches!(self, SdkError::Transport { .. })
    }
}
