//! Wire types of the git watch (`docs/agent-api.md#git`).

use serde::{Deserialize, Serialize};

/// One repository's entry in a `changes` message: its state, or
/// `removed: true` (then branch, remote and diff are empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoChange {
    pub repo_root: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_origin: String,
    #[serde(default)]
    pub unified_diff: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

/// A server-to-client message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// One or more repositories changed since the last message.
    Changes {
        /// RFC 3339 UTC time the scan started.
        scanned_at: String,
        repositories: Vec<RepoChange>,
    },
    /// The client sent something the server does not understand.
    Error { message: String },
}

/// A client-to-server message. A missing `type` decodes as the empty
/// type, which the server answers as unknown (like Go's zero value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMessage {
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl ClientMessage {
    /// The only client message type the server understands.
    pub const REFRESH: &'static str = "refresh";

    /// Asks the server to rescan now (subject to its cooldown).
    pub fn refresh() -> Self {
        ClientMessage {
            kind: Self::REFRESH.into(),
        }
    }

    /// Whether this is a `refresh` request.
    pub fn is_refresh(&self) -> bool {
        self.kind == Self::REFRESH
    }
}

/// The answer of `GET /api/v0/git/show`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitShowResponse {
    pub contents: String,
}
