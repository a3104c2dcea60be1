//! The HTTP transport every call goes through: one connection per request,
//! the token and extra headers, and the error envelope of a non-2xx answer.

use parking_lot::Mutex;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};

use crate::connector::Connector;
use crate::error::SdkError;

/// A raw answer: status, headers and the collected body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// [`AgentConn`] over HTTP/1, one connection per request.
pub struct HttpAgentConn<C: Connector> {
    pub(crate) connector: Arc<C>,
    extra_headers: Mutex<HeaderMap>,
    /// `Bearer <token>`, sent with every request and WebSocket upgrade.
    authorization: Option<HeaderValue>,
}

impl<C: Connector> HttpAgentConn<C> {
    /// A connection that sends no token (for an agent run with `--no-auth`).
    pub fn new(connector: C) -> Self {
        HttpAgentConn {
            connector: Arc::new(connector),
            extra_headers: Mutex::new(HeaderMap::new()),
            authorization: None,
        }
    }

    /// The same connection, authenticating with the agent's bearer `token`.
    /// A token that cannot be a header value is sent as no token at all
    /// (the agent answers 401).
    pub fn with_token(mut self, token: impl AsRef<str>) -> Self {
        self.authorization = HeaderValue::from_str(&format!("Bearer {}", token.as_ref()))
            .ok()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        self
    }

    /// Every header a request carries besides `Host` and `Content-Type`:
    /// the token, then the caller's extra headers (chat ids).
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut headers = self.extra_headers.lock().clone();
        if let Some(auth) = &self.authorization {
            headers
                .entry(http::header::AUTHORIZATION)
                .or_insert_with(|| auth.clone());
        }
        headers
    }

    pub(crate) fn replace_headers(&self, headers: HeaderMap) {
        *self.extra_headers.lock() = headers;
    }

    /// The URL used in error texts.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.connector.authority(), path_and_query)
    }

    /// Sends one request on a fresh connection and collects the answer.
    /// `path_and_query` must already be escaped.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> Result<RawResponse, SdkError> {
        let url = self.url(path_and_query);
        let transport = |reason: String| SdkError::Transport {
            method: method.to_string(),
            url: url.clone(),
            reason,
        };
        let io = self
            .connector
            .connect()
            .await
            .map_err(|e| transport(format!("dial agent: {e}")))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                .await
                .map_err(|e| transport(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(http::header::HOST, self.connector.authority())
            .header(http::header::CONNECTION, "close");
        if let Some(ct) = content_type {
            builder = builder.header(http::header::CONTENT_TYPE, ct);
        }
        let mut req = builder
            .body(Full::new(body))
            .map_err(|e| transport(e.to_string()))?;
        for (k, v) in self.headers().iter() {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        let result = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(e.to_string()))?
                .to_bytes();
            Ok(RawResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        driver.abort();
        result
    }

    /// Sends a request and decodes a 2xx JSON answer, or the error envelope.
    pub async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<T, SdkError> {
        let ct = body.as_ref().map(|_| "application/json");
        let raw = self
            .send(method.clone(), path_and_query, ct, body.unwrap_or_default())
            .await?;
        self.check(&method, path_and_query, &raw)?;
        serde_json::from_slice(&raw.body).map_err(|e| SdkError::Decode {
            method: method.to_string(),
            url: self.url(path_and_query),
            reason: e.to_string(),
        })
    }

    /// Turns a non-2xx answer into [`SdkError::Status`].
    pub fn check(
        &self,
        method: &Method,
        path_and_query: &str,
        raw: &RawResponse,
    ) -> Result<(), SdkError> {
        if (200..300).contains(&raw.status) {
            return Ok(());
        }
        let envelope: agent_wire::ErrorBody =
            serde_json::from_slice(&raw.body).unwrap_or_else(|_| agent_wire::ErrorBody {
                message: String::from_utf8_lossy(&raw.body).into_owned(),
                ..Default::default()
            });
        Err(SdkError::Status {
            method: method.to_string(),
            url: self.url(path_and_query),
            status: raw.status,
            message: envelope.message,
            detail: envelope.detail,
        })
    }
}

/// Encodes a JSON request body (no HTML escaping: serde_json never does it).
pub(crate) fn json_body<T: serde::Serialize>(v: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// Header value helper for callers building extra headers.
pub fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}
