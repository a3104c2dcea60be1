//! turmoil networking glue: the agent's listener and the SDK's connector.
//!
//! [`TurmoilListener`] implements axum 0.8's `serve::Listener` over a
//! simulated `TcpListener`, which is what the agent's accept loop is generic
//! over; [`TurmoilConnector`] implements the SDK's [`Connector`] over a
//! simulated `TcpStream`. [`serve_plain`] is a minimal accept loop for the
//! harness's own self-tests (the agent has its own server with the
//! write-deadline layer); it turns off hyper's `Date` header, which reads
//! the real clock (`docs/design.md#determinism-rules`).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use agent_sdk::Connector;
use async_trait::async_trait;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

/// The port the agent listens on in every scenario.
pub const AGENT_PORT: u16 = 4000;

/// axum's `Listener` over turmoil TCP.
pub struct TurmoilListener {
    inner: turmoil::net::TcpListener,
}

impl TurmoilListener {
    /// Binds `0.0.0.0:port` on the current simulated host.
    pub async fn bind(port: u16) -> io::Result<Self> {
        let inner = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(TurmoilListener { inner })
    }

    pub fn new(inner: turmoil::net::TcpListener) -> Self {
        TurmoilListener { inner }
    }
}

impl axum::serve::Listener for TurmoilListener {
    type Io = turmoil::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok(accepted) => return accepted,
                // The trait wants accept errors retried; back off a little
                // on the sim clock so a persistent error cannot spin.
                Err(e) => {
                    tracing::debug!(error = %e, "simulated accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The SDK's connector over turmoil TCP: one new connection per call.
#[derive(Clone, Debug)]
pub struct TurmoilConnector {
    host: String,
    port: u16,
}

impl TurmoilConnector {
    /// Connects to `host:port`, `host` being a turmoil host name.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        TurmoilConnector {
            host: host.into(),
            port,
        }
    }

    /// The agent host of a scenario, on [`AGENT_PORT`].
    pub fn agent(host: impl Into<String>) -> Self {
        Self::new(host, AGENT_PORT)
    }
}

#[async_trait]
impl Connector for TurmoilConnector {
    type Io = turmoil::net::TcpStream;

    async fn connect(&self) -> io::Result<Self::Io> {
        turmoil::net::TcpStream::connect((self.host.as_str(), self.port)).await
    }

    fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Serves `router` on `listener` with plain HTTP/1 connections: no write
/// deadlines, no `Date` header, upgrades (WebSockets) enabled. Returns only
/// if the listener does.
pub async fn serve_plain<L>(mut listener: L, router: Router) -> io::Result<()>
where
    L: axum::serve::Listener,
{
    loop {
        let (io, _peer) = listener.accept().await;
        let router = router.clone();
        let service = hyper::service::service_fn(move |req| {
            let router = router.clone();
            async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        });
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .auto_date_header(false)
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades()
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "simulated connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_sdk::HttpAgentConn;
    use axum::routing::get;
    use http::Method;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_sdk_transport_reaches_an_axum_router_over_turmoil() {
        let mut sim = turmoil::Builder::new().build();
        sim.host("agent", || async {
            let router = Router::new().route(
                "/hello/{name}",
                get(
                    |axum::extract::Path(name): axum::extract::Path<String>| async move {
                        axum::Json(serde_json::json!({ "hello": name }))
                    },
                ),
            );
            serve_plain(TurmoilListener::bind(AGENT_PORT).await?, router).await?;
            Ok(())
        });
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        sim.client("client", async move {
            let conn = HttpAgentConn::new(TurmoilConnector::agent("agent"));
            let v: serde_json::Value = conn.send_json(Method::GET, "/hello/sim", None).await?;
            let missing = conn
                .send(Method::GET, "/nope", None, Default::default())
                .await?;
            *g.lock().unwrap() = Some((v, missing.status, missing.headers.contains_key("date")));
            Ok(())
        });
        sim.run().unwrap();
        let (v, status, has_date) = got.lock().unwrap().take().unwrap();
        assert_eq!(v, serde_json::json!({ "hello": "sim" }));
        assert_eq!(status, 404);
        assert!(!has_date, "the Date header reads the real clock");
    }

    #[test]
    fn websockets_upgrade_through_the_plain_loop() {
        use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade};
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;

        let mut sim = turmoil::Builder::new().build();
        sim.host("agent", || async {
            let router = Router::new().route(
                "/echo",
                get(|ws: WebSocketUpgrade| async move {
                    ws.on_upgrade(|mut socket| async move {
                        while let Some(Ok(AxMessage::Text(t))) = socket.recv().await {
                            if socket.send(AxMessage::Text(t)).await.is_err() {
                                break;
                            }
                        }
                    })
                }),
            );
            serve_plain(TurmoilListener::bind(AGENT_PORT).await?, router).await?;
            Ok(())
        });
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        sim.client("client", async move {
            let io = TurmoilConnector::agent("agent").connect().await?;
            let (mut ws, _) = tokio_tungstenite::client_async("ws://agent:4000/echo", io).await?;
            ws.send(Message::text("ping")).await?;
            let reply = ws.next().await.transpose()?;
            *g.lock().unwrap() = reply.map(|m| m.to_string());
            Ok(())
        });
        sim.run().unwrap();
        assert_eq!(got.lock().unwrap().as_deref(), Some("ping"));
    }
}
