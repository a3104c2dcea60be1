//! Chat context from the `Coder-Chat-Id` / `Coder-Ancestor-Chat-Ids` headers
//! (`docs/agent-api.md#conventions`): a missing header or an unparsable UUID
//! means no chat context (a non-chat caller); bad ancestor entries are skipped.

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;
use uuid::Uuid;

pub const CHAT_ID_HEADER: &str = "Coder-Chat-Id";
pub const ANCESTOR_CHAT_IDS_HEADER: &str = "Coder-Ancestor-Chat-Ids";

/// The caller's chat, if any, and its ancestors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatContext {
    pub chat_id: Option<Uuid>,
    pub ancestors: Vec<Uuid>,
}

impl ChatContext {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let chat_id = headers
            .get(CHAT_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| Uuid::parse_str(s.trim()).ok());
        let ancestors = headers
            .get(ANCESTOR_CHAT_IDS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| serde_json::from_str::<Vec<serde_json::Value>>(s).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
            .collect();
        ChatContext { chat_id, ancestors }
    }

    /// The chat and its ancestors, for PathStore updates; empty without a chat.
    pub fn chat_and_ancestors(&self) -> Vec<Uuid> {
        match self.chat_id {
            Some(c) => std::iter::once(c)
                .chain(self.ancestors.iter().copied())
                .collect(),
            None => Vec::new(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ChatContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ChatContext::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(chat: Option<&str>, ancestors: Option<&str>) -> ChatContext {
        let mut h = HeaderMap::new();
        if let Some(c) = chat {
            h.insert(CHAT_ID_HEADER, c.parse().expect("header"));
        }
        if let Some(a) = ancestors {
            h.insert(ANCESTOR_CHAT_IDS_HEADER, a.parse().expect("header"));
        }
        ChatContext::from_headers(&h)
    }

    const A: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    const B: &str = "16fd2706-8baf-433b-82eb-8c7fada847da";

    #[test]
    fn missing_or_invalid_chat_header_means_no_chat() {
        assert_eq!(ctx(None, None).chat_id, None);
        assert_eq!(ctx(Some("not-a-uuid"), None).chat_id, None);
    }

    #[test]
    fn bad_ancestor_entries_are_skipped_individually() {
        let c = ctx(Some(A), Some(&format!(r#"["{B}", "junk", 3]"#)));
        assert_eq!(c.chat_id, Uuid::parse_str(A).ok());
        assert_eq!(c.ancestors, vec![Uuid::parse_str(B).expect("uuid")]);
        assert_eq!(c.chat_and_ancestors().len(), 2);
    }
}
