//! The per-connection write-deadline layer: a model of Go's
//! `http.Server.WriteTimeout` (`docs/agent-api.md#conventions`, Timeouts;
//! races R3 and R6 in `docs/races.md`).
//!
//! Go arms a write deadline on the connection when a request's headers are
//! read. The handler is not cancelled when it passes; the response is
//! written when the handler returns, and if that write comes after the
//! deadline it fails, the connection is closed without a status line and
//! the client sees an EOF. A handler may move its own connection's deadline
//! (Go's `ResponseController.SetWriteDeadline`).
//!
//! Here that is three pieces:
//! - [`ConnDeadline`]: the connection's current deadline, shared between the
//!   IO wrapper and the request handles;
//! - [`DeadlineIo`]: wraps the accepted stream; a write (or flush) at or after
//!   the deadline fails with [`io::ErrorKind::TimedOut`], and a write still
//!   pending when the deadline passes fails then, as a Go write would;
//! - [`WriteDeadline`]: the per-request handle the server puts into each
//!   request's extensions, through which a handler moves the deadline.
//!
//! All times are `tokio::time::Instant`, so paused and simulated clocks work.
//! Under simulation the deadline is traced as the connection's timer
//! (`timer.arm`, `timer.disarm`; the harness records `timer.fire` when it
//! passes), so the trace shows the moment it passed and a hung run lists
//! the deadlines still pending.

use parking_lot::Mutex;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The write deadline of one connection (`None`: no deadline).
#[derive(Debug, Default)]
pub struct ConnDeadline {
    at: Mutex<Option<Instant>>,
    /// Under simulation, the task of the connection (the first to set
    /// it), which the deadline's trace events are attributed to.
    owner: Mutex<Option<Arc<str>>>,
}

impl ConnDeadline {
    pub fn new() -> Arc<Self> {
        Arc::new(ConnDeadline::default())
    }

    /// Replaces the deadline (`None` clears it, e.g. after an upgrade).
    pub fn set(&self, at: Option<Instant>) {
        *self.at.lock() = at;
        self.trace_timer(at);
    }

    /// Under simulation, traces the deadline as the connection's timer
    /// (`timer.arm` / `timer.disarm`, whoever moved it): a passed deadline
    /// changes nothing until the next write, so the harness, which keeps
    /// armed timers, records `timer.fire` at the instant it passes, and a
    /// hung run lists it if it is still pending.
    fn trace_timer(&self, at: Option<Instant>) {
        let owner = {
            let mut owner = self.owner.lock();
            if owner.is_none() {
                *owner = crate::sim::current_task();
            }
            owner.clone()
        };
        crate::sim::with_task(owner.as_ref(), || match at {
            Some(at) => crate::sim::event("timer.arm", || {
                let ahead = at.saturating_duration_since(Instant::now());
                format!(
                    "write deadline due in {:.3}s: a response written after it is refused (the client sees EOF)",
                    ahead.as_secs_f64()
                )
            }),
            None => crate::sim::event("timer.disarm", || {
                "write deadline disarmed (the connection was upgraded)".to_string()
            }),
        });
    }

    /// The current deadline.
    pub fn get(&self) -> Option<Instant> {
        *self.at.lock()
    }

    /// Whether a write now would fail.
    fn expired(&self) -> bool {
        self.get().is_some_and(|at| Instant::now() >= at)
    }
}

fn deadline_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "write deadline exceeded")
}

/// Traces a write refused because the deadline `at` has passed.
fn trace_refused(at: Option<Instant>, what: &str) {
    crate::sim::event("http.write_deadline", || {
        let late = at.map(|at| Instant::now().saturating_duration_since(at));
        format!(
            "{what}: the write deadline (armed when the request's headers arrived) passed {:.3}s ago",
            late.unwrap_or_default().as_secs_f64()
        )
    });
}

/// A stream whose writes fail once its connection's deadline has passed.
pub struct DeadlineIo<I> {
    inner: I,
    deadline: Arc<ConnDeadline>,
    /// Wakes a pending write when the deadline passes.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<I> DeadlineIo<I> {
    pub fn new(inner: I, deadline: Arc<ConnDeadline>) -> Self {
        DeadlineIo {
            inner,
            deadline,
            timer: None,
        }
    }

    pub fn get_ref(&self) -> &I {
        &self.inner
    }

    /// Fails if the deadline has passed; called before every write.
    fn check(&self) -> io::Result<()> {
        if self.deadline.expired() {
            trace_refused(self.deadline.get(), "write refused");
            Err(deadline_error())
        } else {
            Ok(())
        }
    }

    /// After the inner write returned `Pending`: arms a timer for the
    /// deadline so the write fails when it passes instead of hanging.
    fn pending_until_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(at) = self.deadline.get() else {
            return Poll::Pending;
        };
        let timer = match &mut self.timer {
            Some(t) => {
                if t.deadline() != at {
                    t.as_mut().reset(at);
                }
                t
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        ready!(timer.as_mut().poll(cx));
        trace_refused(Some(at), "pending write failed");
        Poll::Ready(deadline_error())
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for DeadlineIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.pending_until_deadline(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.pending_until_deadline(cx).map(Err),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.pending_until_deadline(cx).map(Err),
            ready => ready,
        }
    }

    /// Closing is always allowed: it is how the failed connection ends.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Moving the deadline failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The handle cannot reach the connection (Go: "feature not supported",
    /// when a response-writer wrapper lacks `Unwrap`).
    #[error("feature not supported")]
    NotSupported,
}

/// How a request's handle reaches its connection.
#[derive(Clone, Debug)]
enum Reach {
    Connection(Arc<ConnDeadline>),
    /// The status-capturing middleware hides the connection (bug switch
    /// `write-deadline-hidden`, race R3).
    HiddenByMiddleware,
}

/// A request's handle on its connection's write deadline, found in the
/// request's extensions when served by [`crate::http::server`].
#[derive(Clone, Debug)]
pub struct WriteDeadline {
    reach: Reach,
}

impl WriteDeadline {
    /// A handle that reaches `conn`.
    pub fn new(conn: Arc<ConnDeadline>) -> Self {
        WriteDeadline {
            reach: Reach::Connection(conn),
        }
    }

    /// A handle that cannot reach its connection (`write-deadline-hidden`).
    pub fn hidden() -> Self {
        WriteDeadline {
            reach: Reach::HiddenByMiddleware,
        }
    }

    /// Moves the connection's write deadline to `at`.
    pub fn set(&self, at: Instant) -> Result<(), DeadlineError> {
        match &self.reach {
            Reach::Connection(conn) => {
                conn.set(Some(at));
                crate::sim::event("http.deadline_moved", || {
                    let ahead = at.saturating_duration_since(Instant::now());
                    format!(
                        "write deadline moved to {:.3}s from now",
                        ahead.as_secs_f64()
                    )
                });
                Ok(())
            }
            Reach::HiddenByMiddleware => {
                crate::bugs::taken(crate::Bug::WriteDeadlineHidden);
                Err(DeadlineError::NotSupported)
            }
        }
    }

    /// The connection's current deadline, if the handle reaches it.
    pub fn get(&self) -> Option<Instant> {
        match &self.reach {
            Reach::Connection(conn) => conn.get(),
            Reach::HiddenByMiddleware => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn pair(
        deadline: Arc<ConnDeadline>,
    ) -> (DeadlineIo<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (a, b) = tokio::io::duplex(16);
        (DeadlineIo::new(a, deadline), b)
    }

    #[tokio::test(start_paused = true)]
    async fn writes_before_the_deadline_pass_through() {
        let d = ConnDeadline::new();
        d.set(Some(Instant::now() + Duration::from_secs(20)));
        let (mut io, mut peer) = pair(d);
        tokio::time::sleep(Duration::from_secs(19)).await;
        io.write_all(b"hello").await.expect("write");
        let mut buf = [0u8; 5];
        peer.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"hello");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_at_or_after_the_deadline_fails_with_timed_out() {
        let d = ConnDeadline::new();
        d.set(Some(Instant::now() + Duration::from_secs(20)));
        let (mut io, _peer) = pair(d);
        tokio::time::sleep(Duration::from_secs(20)).await;
        let err = io.write_all(b"late").await.expect_err("deadline passed");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_on_a_slow_reader_fails_when_the_deadline_passes() {
        let d = ConnDeadline::new();
        let start = Instant::now();
        d.set(Some(start + Duration::from_secs(20)));
        let (mut io, _peer) = pair(d);
        // 64 bytes into a 16-byte duplex nobody reads: blocks, then fails at 20 s.
        let err = io.write_all(&[b'x'; 64]).await.expect_err("blocked write");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn moving_the_deadline_through_the_handle_lets_a_late_write_through() {
        let d = ConnDeadline::new();
        d.set(Some(Instant::now() + Duration::from_secs(20)));
        let handle = WriteDeadline::new(d.clone());
        let (mut io, _peer) = pair(d);
        handle
            .set(Instant::now() + Duration::from_secs(60))
            .expect("reachable");
        tokio::time::sleep(Duration::from_secs(30)).await;
        io.write_all(b"ok").await.expect("deadline moved");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hidden_handle_cannot_move_the_deadline() {
        cov_mark::check!(write_deadline_hidden);
        let d = ConnDeadline::new();
        d.set(Some(Instant::now() + Duration::from_secs(20)));
        let handle = WriteDeadline::hidden();
        assert_eq!(
            handle.set(Instant::now() + Duration::from_secs(60)),
            Err(DeadlineError::NotSupported)
        );
        let (mut io, _peer) = pair(d);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(io.write_all(b"late").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn no_deadline_means_writes_never_time_out() {
        let (mut io, mut peer) = pair(ConnDeadline::new());
        tokio::time::sleep(Duration::from_secs(3600)).await;
        io.write_all(b"any time").await.expect("no deadline");
        let mut buf = [0u8; 8];
        peer.read_exact(&mut buf).await.expect("read");
    }
}
