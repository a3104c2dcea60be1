//! The whole-request read deadline (Go's `http.Server.ReadTimeout`): a
//! request's body must have arrived within `read_timeout` of its headers.
//!
//! Without it a client that sends headers and part of a body, then goes
//! silent, holds its connection (and a handler) forever. [`ReadDeadlineBody`]
//! wraps the request body: a read that would still be waiting for the peer
//! at the deadline fails instead, and the shared [`ReadExpired`] flag tells
//! the server to answer 408 and close the connection, whatever the handler
//! made of the failed read. Data already received is always handed out, so
//! a handler that reads late is not punished for its own slowness.
//!
//! The timer is `tokio::time`, simulated under turmoil, and it is armed only
//! when a read actually has to wait.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Set once a request's body read hit its deadline.
#[derive(Clone, Debug, Default)]
pub struct ReadExpired(Arc<AtomicBool>);

impl ReadExpired {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The body read did not finish within the read timeout.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the read timeout")]
pub struct ReadTimedOut;

/// A request body whose reads fail once they would wait past `at`.
pub struct ReadDeadlineBody<B> {
    inner: B,
    at: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    expired: ReadExpired,
}

impl<B> ReadDeadlineBody<B> {
    pub fn new(inner: B, at: Instant, expired: ReadExpired) -> Self {
        ReadDeadlineBody {
            inner,
            at,
            timer: None,
            expired,
        }
    }
}

impl<B> Body for ReadDeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.expired.get() {
            return Poll::Ready(Some(Err(ReadTimedOut.into())));
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if frame.is_none() && this.timer.take().is_some() {
                crate::sim::event("timer.disarm", || {
                    "read deadline disarmed: the request body arrived".to_string()
                });
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let at = this.at;
        let timer = this.timer.get_or_insert_with(|| {
            // Traced when first waited on (the harness records its firing):
            // a hung run lists it as pending.
            crate::sim::event("timer.arm", || {
                let ahead = at.saturating_duration_since(Instant::now());
                format!(
                    "read deadline due in {:.3}s (the request body is still arriving)",
                    ahead.as_secs_f64()
                )
            });
            Box::pin(tokio::time::sleep_until(at))
        });
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                crate::sim::event("http.read_deadline", || {
                    "request body not received in time: answering 408 and closing".to_string()
                });
                this.expired.set();
                Poll::Ready(Some(Err(ReadTimedOut.into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Chunks = tokio::sync::mpsc::UnboundedSender<Result<Frame<Bytes>, std::io::Error>>;

    /// A body fed by the test through the returned sender.
    fn body(
        at: Instant,
    ) -> (
        Chunks,
        ReadDeadlineBody<impl Body<Data = Bytes, Error = std::io::Error> + Unpin>,
        ReadExpired,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = StreamBody::new(tokio_stream_like(rx));
        let expired = ReadExpired::default();
        (
            tx,
            ReadDeadlineBody::new(stream, at, expired.clone()),
            expired,
        )
    }

    fn tokio_stream_like(
        mut rx: tokio::sync::mpsc::UnboundedReceiver<Result<Frame<Bytes>, std::io::Error>>,
    ) -> impl futures::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Unpin {
        Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_reads_whole() {
        let start = Instant::now();
        let (tx, body, expired) = body(start + Duration::from_secs(1));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(900)).await;
            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"late but in time"))));
        });
        let bytes = body.collect().await.expect("in time").to_bytes();
        assert_eq!(&bytes[..], b"late but in time");
        assert!(!expired.get());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_at_the_deadline_and_sets_the_flag() {
        let start = Instant::now();
        let (tx, body, expired) = body(start + Duration::from_secs(1));
        tx.send(Ok(Frame::data(Bytes::from_static(b"part"))))
            .expect("send");
        let err = body.collect().await.expect_err("stalled");
        assert!(err.is::<ReadTimedOut>(), "{err}");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert!(expired.get());
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn data_already_received_is_handed_out_after_the_deadline() {
        let start = Instant::now();
        let (tx, body, expired) = body(start + Duration::from_secs(1));
        tx.send(Ok(Frame::data(Bytes::from_static(b"all"))))
            .expect("send");
        drop(tx);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let bytes = body.collect().await.expect("buffered").to_bytes();
        assert_eq!(&bytes[..], b"all");
        assert!(!expired.get());
    }
}
