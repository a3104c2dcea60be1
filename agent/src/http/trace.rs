//! Request identities for the simulation trace.
//!
//! Under simulation every request gets a per-run number (`req1`, `req2`,
//! ...) and runs as a task of that name ([`sim_hooks::task`]), so each trace
//! event inside its handler (a yield point, a file operation, a bug branch)
//! says which request caused it. The request's life is traced as
//! `http.request` (method, path and query, chat), `http.response` (status,
//! when the handler hands the head to the connection) and `http.body_done`
//! (or `http.body_dropped` when the connection ended first). Without an
//! installed hook none of this allocates or records anything.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::ChatContext;

/// One request's identity in the trace (inert outside a simulation).
#[derive(Clone, Debug, Default)]
pub struct RequestTag {
    label: Option<Arc<str>>,
}

impl RequestTag {
    /// Numbers the request and records its arrival on connection `conn`.
    pub fn received(method: &Method, uri: &Uri, chat: &ChatContext) -> RequestTag {
        let id = sim_hooks::next_id("request");
        if id == 0 {
            return RequestTag::default();
        }
        let label: Arc<str> = Arc::from(format!("req{id}"));
        let conn = sim_hooks::current_task();
        sim_hooks::with_task(Some(&label), || {
            sim_hooks::event("http.request", || {
                let chat = match chat.chat_id {
                    Some(id) => format!("chat {id}"),
                    None => "no chat".to_string(),
                };
                match &conn {
                    Some(conn) => format!("{method} {uri} ({chat}) on {conn}"),
                    None => format!("{method} {uri} ({chat})"),
                }
            })
        });
        RequestTag { label: Some(label) }
    }

    /// Runs `fut` (the handler) as this request's task.
    pub fn run<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        let label = self.label.clone();
        sim_hooks::task(move || label.as_deref().unwrap_or("").to_string(), fut)
    }

    /// Records the answer's status and wraps its body so the end of the
    /// body is traced too.
    pub fn respond(&self, status: StatusCode, body: Body) -> Body {
        let Some(label) = &self.label else {
            return body;
        };
        sim_hooks::with_task(Some(label), || {
            sim_hooks::event("http.response", || {
                format!("{status}: head handed to the connection")
            })
        });
        Body::new(TracedBody {
            inner: body,
            label: label.clone(),
            bytes: 0,
            done: false,
        })
    }
}

/// A response body that records when it was fully written (or dropped).
struct TracedBody {
    inner: Body,
    label: Arc<str>,
    bytes: u64,
    done: bool,
}

impl HttpBody for TracedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.finish("http.body_done", "body handed over"),
            Poll::Ready(Some(Err(_))) => this.finish("http.body_error", "body failed"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl TracedBody {
    fn finish(&mut self, kind: &'static str, what: &str) {
        if self.done {
            return;
        }
        self.done = true;
        let bytes = self.bytes;
        sim_hooks::with_task(Some(&self.label), || {
            sim_hooks::event(kind, || format!("{what} after {bytes} bytes"))
        });
    }
}

impl Drop for TracedBody {
    fn drop(&mut self) {
        // hyper drops a body it has fully sent without a final poll when
        // the length was known; only a short body means the connection
        // ended first.
        let complete = self.inner.size_hint().exact().is_some_and(|left| left == 0);
        if complete {
            self.finish("http.body_done", "body handed over");
        } else {
            self.finish(
                "http.body_dropped",
                "connection ended before the body was written",
            );
        }
    }
}
