//! The git watch stream (`docs/agent-api.md#git`): a WebSocket to
//! `GET /api/v0/git/watch[?chat_id=]` over the connector's byte stream. Server
//! messages come in as a typed [`Stream`]; `refresh` (or any client message)
//! goes out through [`GitWatch::refresh`] / [`GitWatch::send`].
//! [`GitWatch::split`] gives separate halves for a reader task and a sender
//! task.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::connector::Connector;
use crate::error::SdkError;
use crate::transport::HttpAgentConn;
use agent_wire::git::{ClientMessage, ServerMessage};

/// Largest server message accepted (the agent caps a repository's diff at
/// 3 MiB, so 4 MiB leaves room for the envelope).
pub const WATCH_READ_LIMIT: usize = 4 << 20;

/// The watch path, with the chat id when there is one.
fn watch_path(chat_id: Option<uuid::Uuid>) -> String {
    match chat_id {
        Some(chat) => format!("/api/v0/git/watch?chat_id={chat}"),
        None => "/api/v0/git/watch".to_string(),
    }
}

/// Any connector stream, boxed so [`GitWatch`] is one type for every
/// connector.
trait WatchIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> WatchIo for T {}

type Ws = WebSocketStream<Box<dyn WatchIo>>;

/// A live git watch: server messages in, client messages out.
pub struct GitWatch {
    ws: Ws,
    url: String,
}

impl std::fmt::Debug for GitWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitWatch").field("url", &self.url).finish()
    }
}

fn transport(url: &str, reason: impl ToString) -> SdkError {
    SdkError::Transport {
        method: "GET".into(),
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// Decodes one data frame as a server message.
fn decode(url: &str, data: &[u8]) -> Result<ServerMessage, SdkError> {
    serde_json::from_slice(data).map_err(|e| SdkError::Decode {
        method: "GET".into(),
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// Polls the socket for the next server message, skipping control frames.
/// A closed connection ends the stream.
fn poll_message<S>(
    mut ws: Pin<&mut S>,
    url: &str,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<ServerMessage, SdkError>>>
where
    S: Stream<Item = Result<Message, WsError>>,
{
    loop {
        let item = match ready!(ws.as_mut().poll_next(cx)) {
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => None,
            Some(Err(e)) => Some(Err(transport(url, e))),
            Some(Ok(Message::Text(text))) => Some(decode(url, text.as_bytes())),
            Some(Ok(Message::Binary(data))) => Some(decode(url, &data)),
            // Pings are answered by the protocol layer while we read; a
            // close frame is followed by the end of the stream.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(_))) => continue,
        };
        return Poll::Ready(item);
    }
}

fn encode(msg: &ClientMessage) -> Message {
    Message::Text(serde_json::to_string(msg).unwrap_or_default().into())
}

impl GitWatch {
    /// The watch URL, as used in error texts.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the agent to rescan now (it still honours its cooldown).
    pub async fn refresh(&mut self) -> Result<(), SdkError> {
        self.send(&ClientMessage::refresh()).await
    }

    /// Sends any client message (the agent answers unknown types with an
    /// `error` message).
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), SdkError> {
        self.ws
            .send(encode(msg))
            .await
            .map_err(|e| transport(&self.url, e))
    }

    /// Closes the watch cleanly (normal closure) and waits for the agent's
    /// reply.
    pub async fn close(mut self) -> Result<(), SdkError> {
        match self.ws.close(None).await {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {}
            Err(e) => return Err(transport(&self.url, e)),
        }
        while let Some(Ok(_)) = self.ws.next().await {}
        Ok(())
    }

    /// Splits into a sender (refresh) and a receiver (server messages)
    /// usable from different tasks.
    pub fn split(self) -> (GitWatchSender, GitWatchReceiver) {
        let (sink, stream) = self.ws.split();
        (
            GitWatchSender {
                sink,
                url: self.url.clone(),
            },
            GitWatchReceiver {
                stream,
                url: self.url,
            },
        )
    }
}

impl Stream for GitWatch {
    type Item = Result<ServerMessage, SdkError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        poll_message(Pin::new(&mut this.ws), &this.url, cx)
    }
}

/// The sending half of a split [`GitWatch`].
pub struct GitWatchSender {
    sink: SplitSink<Ws, Message>,
    url: String,
}

impl GitWatchSender {
    /// Asks the agent to rescan now.
    pub async fn refresh(&mut self) -> Result<(), SdkError> {
        self.send(&ClientMessage::refresh()).await
    }

    /// Sends any client message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), SdkError> {
        self.sink
            .send(encode(msg))
            .await
            .map_err(|e| transport(&self.url, e))
    }

    /// Starts a clean close; the receiver ends once the agent replies.
    pub async fn close(&mut self) -> Result<(), SdkError> {
        match self.sink.close().await {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => Ok(()),
            Err(e) => Err(transport(&self.url, e)),
        }
    }
}

/// The receiving half of a split [`GitWatch`]: a stream of server
/// messages.
pub struct GitWatchReceiver {
    stream: SplitStream<Ws>,
    url: String,
}

impl Stream for GitWatchReceiver {
    type Item = Result<ServerMessage, SdkError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        poll_message(Pin::new(&mut this.stream), &this.url, cx)
    }
}

impl<C: Connector> HttpAgentConn<C> {
    pub(crate) async fn http_watch_git(
        &self,
        chat_id: Option<uuid::Uuid>,
    ) -> Result<GitWatch, SdkError> {
        let path = watch_path(chat_id);
        let url = self.url(&path);
        let mut request = format!("ws://{}{}", self.connector.authority(), path)
            .into_client_request()
            .map_err(|e| transport(&url, e))?;
        for (name, value) in self.headers().iter() {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let io = self
            .connector
            .connect()
            .await
            .map_err(|e| transport(&url, format!("dial agent: {e}")))?;
        let io: Box<dyn WatchIo> = Box::new(io);
        let config = WebSocketConfig::default()
            .max_message_size(Some(WATCH_READ_LIMIT))
            .max_frame_size(Some(WATCH_READ_LIMIT));
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(request, io, Some(config))
                .await
                .map_err(|e| match e {
                    // The agent answered without upgrading: its error
                    // envelope, as for any other call.
                    WsError::Http(response) => {
                        let status = response.status().as_u16();
                        let body = response.body().clone().unwrap_or_default();
                        let envelope: agent_wire::ErrorBody = serde_json::from_slice(&body)
                            .unwrap_or_else(|_| agent_wire::ErrorBody {
                                message: String::from_utf8_lossy(&body).into_owned(),
                                ..Default::default()
                            });
                        SdkError::Status {
                            method: "GET".into(),
                            url: url.clone(),
                            status,
                            message: envelope.message,
                            detail: envelope.detail,
                        }
                    }
                    other => transport(&url, other),
                })?;
        Ok(GitWatch { ws, url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_id_goes_in_the_query() {
        assert_eq!(watch_path(None), "/api/v0/git/watch");
        let chat = uuid::Uuid::from_u128(1);
        assert_eq!(
            watch_path(Some(chat)),
            "/api/v0/git/watch?chat_id=00000000-0000-0000-0000-000000000001"
        );
    }
}
