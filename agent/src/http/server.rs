//! The agent's HTTP server: its own accept loop, generic over a listener
//! (axum's [`Listener`]: `tokio::net::TcpListener` for real, a turmoil
//! listener under simulation), serving the router with hyper's HTTP/1
//! connection builder.
//!
//! `axum::serve` is not used because it has no per-connection hook: every
//! accepted stream is wrapped in the write-deadline layer
//! ([`super::deadline`]), and a per-connection service arms the deadline
//! (now + `write_timeout`) when a request's headers have been read and puts a
//! [`WriteDeadline`] handle into the request's extensions. The same service
//! is the outer middleware of the original: panic recovery (500) and the
//! access log (with the caller's `chat_id`).
//!
//! Limits against clients that hold connections open: hyper's header read
//! timeout runs from the moment a connection is accepted (and again between
//! requests), so a connection that sends nothing is closed after
//! `header_read_timeout`; a request's body must arrive within
//! `read_timeout` of its headers ([`super::read_deadline`], else 408 and the
//! connection is closed); and at most `max_connections` connections
//! (upgraded WebSockets included) are served at once, any beyond that are
//! closed as soon as they are accepted.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use futures::FutureExt;
use http::{HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::deadline::{ConnDeadline, DeadlineIo, WriteDeadline};
use super::read_deadline::{ReadDeadlineBody, ReadExpired};
use super::trace::RequestTag;
use super::{ApiError, ChatContext};
use crate::{Agent, Bug};

/// Serves the agent's API on `listener` until `shutdown` resolves; then
/// stops accepting, asks every open connection to finish its in-flight
/// request and close, and returns once all have.
///
/// Blocking requests (`wait=true`) end when their process exits, so a
/// caller that wants a prompt shutdown closes the process manager first.
///
/// The stop signal is a [`CancellationToken`], not a `watch` channel: a
/// `watch` spreads its waiters over several wait lists picked by the
/// runtime's rng, so under simulation connections would stop in an order
/// the seed does not decide; the token wakes them in the order they began
/// to wait.
pub async fn serve<L>(mut listener: L, agent: Agent, shutdown: impl Future<Output = ()> + Send)
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    let router = super::router(agent.clone());
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    // A permit per served connection, held by its stream: an upgraded
    // WebSocket keeps its permit after its connection task has ended.
    let slots = Arc::new(Semaphore::new(agent.config().max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            (io, addr) = listener.accept() => {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(
                        ?addr,
                        max_connections = agent.config().max_connections,
                        "too many connections; closing the new one"
                    );
                    crate::sim::event("http.connection_refused", || format!("{addr:?}"));
                    drop(io);
                    continue;
                };
                tracing::debug!(?addr, "accepted connection");
                let conn = sim_hooks::next_id("connection");
                crate::sim::event("http.accepted", || format!("conn{conn} from {addr:?}"));
                connections.spawn(crate::sim::task(
                    || format!("conn{conn}"),
                    serve_connection(
                        Slotted { io, _slot: slot },
                        agent.clone(),
                        router.clone(),
                        stop.clone(),
                    ),
                ));
            }
        }
    }
    drop(listener);
    stop.cancel();
    while connections.join_next().await.is_some() {}
    tracing::info!("server stopped");
}

/// Serves one accepted connection (HTTP/1 with upgrades) until the peer
/// closes it, it fails (e.g. a write after its deadline), or `stop` is
/// cancelled (then the in-flight request finishes first).
pub async fn serve_connection<I>(io: I, agent: Agent, router: Router, stop: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let conn_deadline = ConnDeadline::new();
    let io = TokioIo::new(DeadlineIo::new(io, conn_deadline.clone()));
    let service = {
        let agent = agent.clone();
        hyper::service::service_fn(move |req| {
            handle_request(req, router.clone(), agent.clone(), conn_deadline.clone())
        })
    };
    let config = agent.config();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .auto_date_header(config.http_date_header);
    let conn = builder.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let stopped = stop.cancelled();
    let mut stopping = false;
    let result = tokio::select! {
        biased;
        result = conn.as_mut() => result,
        () = stopped => {
            stopping = true;
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    crate::sim::event("http.closed", || why_closed(&result, stopping));
    if let Err(error) = result {
        // A write after the deadline lands here: the connection is dropped
        // without a status line and the client sees an EOF.
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Why a connection ended, in words (for the simulation trace).
fn why_closed(result: &Result<(), hyper::Error>, stopping: bool) -> String {
    let error = match result {
        Ok(()) if stopping => return "closed: the server is shutting down".to_string(),
        Ok(()) => return "closed: the client hung up (EOF) or asked to close".to_string(),
        Err(e) => e,
    };
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::TimedOut => {
                    "closed: write deadline passed; dropped without a status line (the client sees EOF)"
                        .to_string()
                }
                std::io::ErrorKind::ConnectionReset => "closed: reset by the client".to_string(),
                _ => format!("closed: {io}"),
            };
        }
        source = e.source();
    }
    if error.is_timeout() {
        "closed: no request headers within the header read timeout".to_string()
    } else if error.is_incomplete_message() {
        "closed: the client hung up mid-request".to_string()
    } else {
        format!("closed: {error}")
    }
}

/// The per-request part of the connection service: arms the write
/// deadline, hands the request its deadline handle, recovers panics and
/// writes the access log.
async fn handle_request(
    mut req: Request<Incoming>,
    router: Router,
    agent: Agent,
    conn_deadline: Arc<ConnDeadline>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    conn_deadline.set(Some(started + agent.config().write_timeout));
    // `write-deadline-hidden`: the handle cannot reach the connection, as
    // when the status-capturing wrapper lacked `Unwrap` (race R3,
    // `docs/races.md`).
    let handle = if agent.bug(Bug::WriteDeadlineHidden) {
        WriteDeadline::hidden()
    } else {
        WriteDeadline::new(conn_deadline.clone())
    };
    req.extensions_mut().insert(handle);

    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let chat = ChatContext::from_headers(req.headers());
    let tag = RequestTag::received(&method, req.uri(), &chat);
    let read_timeout = agent.config().read_timeout;
    let expired = ReadExpired::default();
    let req = req.map(|body| {
        Body::new(ReadDeadlineBody::new(
            body,
            started + read_timeout,
            expired.clone(),
        ))
    });
    let handled = tag.run(AssertUnwindSafe(router.oneshot(req)).catch_unwind());
    let mut response = match handled.await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%method, %path, panic = %message, "handler panicked");
            crate::sim::event("http.panic", || format!("{method} {path}: {message}"));
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
                .with_detail(message)
                .into_response()
        }
    };
    if expired.get() {
        // Whatever the handler made of its failed read, the client was too
        // slow: 408, and the connection (with the rest of the body still
        // unread on it) is closed.
        crate::sim::event("http.read_timeout", || format!("{method} {path}"));
        response = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "Request body not received in time.",
        )
        .with_detail(format!(
            "the whole request must arrive within {read_timeout:?} of its headers"
        ))
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // Hijacked (WebSocket): deadlines no longer apply.
        conn_deadline.set(None);
    }
    tracing::info!(
        target: "agent::http::access",
        %method,
        %path,
        status = response.status().as_u16(),
        chat_id = chat.chat_id.map(tracing::field::display),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    let status = response.status();
    Ok(response.map(|body| tag.respond(status, body)))
}

/// An accepted stream holding its connection slot until it is dropped.
struct Slotted<I> {
    io: I,
    _slot: OwnedSemaphorePermit,
}

impl<I: AsyncRead + Unpin> AsyncRead for Slotted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Slotted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
