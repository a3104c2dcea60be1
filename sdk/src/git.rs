//! The git watch stream (spec 5.2, 7). Filled in by the git-watch issue.

use crate::conn::HttpAgentConn;
use crate::connector::Connector;
use crate::error::SdkError;

/// A live git watch: server messages in, `refresh` out.
pub struct GitWatch {
    _private: (),
}

impl<C: Connector> HttpAgentConn<C> {
    pub(crate) async fn http_watch_git(
        &self,
        _chat_id: Option<uuid::Uuid>,
    ) -> Result<GitWatch, SdkError> {
        Err(SdkError::Transport {
            method: "GET".into(),
            url: "/api/v0/git/watch".into(),
            reason: "not implemented yet".into(),
        })
    }
}
