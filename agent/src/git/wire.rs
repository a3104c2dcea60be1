//! Wire types of the git watch (spec 5.4).

use serde::{Deserialize, Serialize};

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
    Changes {
        scanned_at: String,
        repositories: Vec<RepoChange>,
    },
    Error {
        message: String,
    },
}

/// A client-to-server message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMessage {
    #[serde(rename = "type")]
    pub kind: String,
}

impl ClientMessage {
    pub fn refresh() -> Self {
        ClientMessage {
            kind: "refresh".into(),
        }
    }
}
