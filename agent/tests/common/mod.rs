//! Shared support for the agent's integration tests: a real agent on a
//! loopback port (or on in-memory streams for paused-clock tests), a raw
//! HTTP client that shows status codes and transport errors as they are, and
//! a scripted `Exec` whose processes live on the tokio clock.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent::process::exec::{Exec, SpawnError, SpawnSpec, Spawned};
use agent::seams::FixedEnvInfo;
use agent::{Agent, AgentConfig, Seams};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::sync::mpsc;

// Not every test uses every item.
#[allow(unused_imports)]
pub use agent_testkit::{CHAT_A, CHAT_B, TEST_TOKEN, TestAgent, real_seams};

/// Waits (30 s at most) for a spawned `agent` binary's first stdout line,
/// `listening on ADDR`, and returns ADDR. The child must have been spawned
/// with `stdout(Stdio::piped())`.
pub async fn listening_addr(child: &mut tokio::process::Child) -> SocketAddr {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("agent starts")
        .expect("read")
        .expect("a line");
    first
        .strip_prefix("listening on ")
        .expect("listening line")
        .parse()
        .expect("socket address")
}

/// The raw client of a [`TestAgent`] (the agent's own tests only).
pub trait TestAgentExt {
    /// A client with the agent's token.
    fn client(&self) -> Client;
}

impl TestAgentExt for TestAgent {
    fn client(&self) -> Client {
        Client::tcp(self.addr).with_token(self.token())
    }
}

/// A fresh temporary home directory, a real agent whose home it is, and a
/// client of that agent. Keep the directory alive for the whole test.
pub async fn real_agent_in_temp_home() -> (tempfile::TempDir, TestAgent, Client) {
    let home = tempfile::tempdir().expect("home");
    let agent = TestAgent::real(home.path()).await;
    let client = agent.client();
    (home, agent, client)
}

/// A decoded answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub raw: Bytes,
}

impl Answer {
    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or_default()
    }
}

/// How the raw client reaches the agent.
#[derive(Clone)]
enum Dial {
    Tcp(SocketAddr),
    Duplex(mpsc::UnboundedSender<DuplexStream>),
}

/// A raw HTTP/1 client: one connection per request (like the SDK), any
/// method, path, headers and body; transport errors are returned as is.
/// It sends `Host: localhost` and `Content-Type: application/json`, and the
/// agent's token once given one; each can be replaced or dropped.
#[derive(Clone)]
pub struct Client {
    dial: Dial,
    headers: Vec<(String, String)>,
}

impl Client {
    /// A client without a token.
    pub fn tcp(addr: SocketAddr) -> Client {
        Client::new(Dial::Tcp(addr))
    }

    fn new(dial: Dial) -> Client {
        Client {
            dial,
            headers: vec![
                ("host".into(), "localhost".into()),
                ("content-type".into(), "application/json".into()),
            ],
        }
    }

    /// The same client sending `Authorization: Bearer <token>` (none for
    /// `None`).
    pub fn with_token(&self, token: Option<&str>) -> Client {
        match token {
            Some(t) => self.header("authorization", &format!("Bearer {t}")),
            None => self.without("authorization"),
        }
    }

    /// The same client with a `Coder-Chat-Id` header.
    pub fn chat(&self, chat: &str) -> Client {
        self.header("Coder-Chat-Id", chat)
    }

    /// The same client with `name: value` instead of any earlier `name`.
    pub fn header(&self, name: &str, value: &str) -> Client {
        let mut c = self.without(name);
        c.headers.push((name.to_string(), value.to_string()));
        c
    }

    /// The same client without the header `name`.
    pub fn without(&self, name: &str) -> Client {
        let mut c = self.clone();
        c.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        c
    }

    async fn send_on<I>(&self, io: I, req: Request<Full<Bytes>>) -> Result<Answer, hyper::Error>
    where
        I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let result = async {
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let raw = resp.into_body().collect().await?.to_bytes();
            let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            Ok(Answer { status, json, raw })
        }
        .await;
        driver.abort();
        result
    }

    /// Sends one request; `Err` is a transport error (e.g. EOF before the
    /// answer: `is_incomplete_message()`).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Result<Answer, hyper::Error> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("connection", "close");
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let req = builder.body(Full::new(body.into())).expect("request");
        self.dial_and_send(req).await
    }

    /// The status of a WebSocket upgrade request to `path` with this
    /// client's headers (101 when the agent accepts it).
    pub async fn upgrade_status(&self, path: &str) -> u16 {
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let req = builder.body(Full::new(Bytes::new())).expect("request");
        self.dial_and_send(req).await.expect("transport").status
    }

    async fn dial_and_send(&self, req: Request<Full<Bytes>>) -> Result<Answer, hyper::Error> {
        match &self.dial {
            Dial::Tcp(addr) => {
                let io = tokio::net::TcpStream::connect(addr).await.expect("connect");
                self.send_on(io, req).await
            }
            Dial::Duplex(tx) => {
                let (client, server) = tokio::io::duplex(64 * 1024);
                tx.send(server).expect("listener alive");
                self.send_on(client, req).await
            }
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, Bytes::new())
            .await
            .expect("transport")
    }

    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.send(Method::POST, path, body.to_string())
            .await
            .expect("transport")
    }

    /// Starts `command` (optionally in `workdir`) and returns its id.
    pub async fn start(&self, command: &str) -> String {
        self.start_json(serde_json::json!({ "command": command }))
            .await
    }

    pub async fn start_json(&self, body: Value) -> String {
        let a = self
            .post("/api/v0/processes/start", &body.to_string())
            .await;
        assert_eq!(a.status, 200, "start: {:?}", a.json);
        assert_eq!(a.json["started"], true);
        let id = a.json["id"].as_str().expect("id").to_string();
        assert!(!id.is_empty());
        id
    }

    pub async fn output(&self, id: &str) -> Answer {
        self.get(&format!("/api/v0/processes/{id}/output")).await
    }

    /// `wait=true`: blocks until the process exits (or the cap).
    pub async fn wait(&self, id: &str) -> Answer {
        self.get(&format!("/api/v0/processes/{id}/output?wait=true"))
            .await
    }

    pub async fn list(&self) -> Vec<Value> {
        let a = self.get("/api/v0/processes/list").await;
        assert_eq!(a.status, 200);
        a.json["processes"].as_array().expect("array").clone()
    }

    pub async fn signal(&self, id: &str, signal: &str) -> Answer {
        self.post(
            &format!("/api/v0/processes/{id}/signal"),
            &serde_json::json!({ "signal": signal }).to_string(),
        )
        .await
    }
}

/// A listener over in-memory streams (the paused-clock tests' network):
/// every [`Client`] request dials a fresh duplex pair.
pub struct DuplexListener {
    rx: mpsc::UnboundedReceiver<DuplexStream>,
}

impl DuplexListener {
    pub fn new(rx: mpsc::UnboundedReceiver<DuplexStream>) -> Self {
        DuplexListener { rx }
    }
}

impl axum::serve::Listener for DuplexListener {
    type Io = DuplexStream;
    type Addr = &'static str;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(io) => (io, "duplex"),
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok("duplex")
    }
}

/// An agent served over [`DuplexListener`] (for paused-clock tests); the
/// client has the agent's token.
pub fn serve_in_memory(agent: Agent) -> Client {
    let (tx, rx) = mpsc::unbounded_channel();
    let token = agent.config().token.clone();
    tokio::spawn(agent::http::serve(
        DuplexListener { rx },
        agent,
        std::future::pending(),
    ));
    Client::new(Dial::Duplex(tx)).with_token(token.as_deref())
}

/// The testkit's scripted process model: a command is `;`-separated steps
/// `echo TEXT`, `sleep SECS` (fractions allowed) and `exit CODE` on the
/// tokio clock; [`ScriptedExec::vanish_groups`] makes every group send
/// answer ESRCH (race R10 in `docs/races.md`).
pub use agent_testkit::scripted::ScriptedExec;

/// The `Exec` handed to the agent, sharing state with the test.
pub struct SharedScriptedExec(pub Arc<ScriptedExec>);

impl Exec for SharedScriptedExec {
    fn spawn(
        &self,
        spec: SpawnSpec,
        output: Arc<agent::headtail::HeadTailBuffer>,
    ) -> Result<Spawned, SpawnError> {
        self.0.spawn(spec, output)
    }
}

/// An agent on scripted processes, a fixed home, sequential ids and a wall
/// clock on the tokio clock: for `start_paused` tests. Its token is
/// [`TEST_TOKEN`] unless `config` names one.
pub fn scripted_agent(mut config: AgentConfig) -> (Agent, Arc<ScriptedExec>) {
    config.token.get_or_insert_with(|| TEST_TOKEN.to_string());
    let exec = Arc::new(ScriptedExec::new(config.wait_delay));
    let mut seams = Seams::real(config.wait_delay);
    seams.exec = Arc::new(SharedScriptedExec(exec.clone()));
    seams.ids = Arc::new(agent::seams::SequentialIds::default());
    seams.clock = Arc::new(agent::seams::TokioClock::new(
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    seams.env = Arc::new(FixedEnvInfo {
        home: Some(PathBuf::from("/home/coder")),
        vars: vec![("PATH".into(), "/usr/bin".into())],
    });
    (Agent::new(config, seams), exec)
}

/// Builds a JSON env map.
pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
