//! A real agent served on a loopback port for the length of a test, and
//! its orderly shutdown. Kept free of the rest of `common` (only `agent` and
//! `tokio`) because the chat tools' real-mode smoke test includes this very
//! file (`#[path]`) to run its agent the same way: one copy of the
//! start/stop/leave-no-process-behind logic for both crates.

use std::net::SocketAddr;
use std::time::Duration;

use agent::{Agent, AgentConfig, Seams};
use tokio::sync::oneshot;

/// The token of a [`TestAgent`] whose config names none.
pub const TEST_TOKEN: &str = "test-token-5f1d0c2a9b7e4d63";

/// An agent served on `127.0.0.1:0` until [`TestAgent::stop`].
pub struct TestAgent {
    pub addr: SocketAddr,
    pub agent: Agent,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestAgent {
    /// Serves `config`, with [`TEST_TOKEN`] as its token unless it has one.
    pub async fn start(mut config: AgentConfig, seams: Seams) -> TestAgent {
        config.token.get_or_insert_with(|| TEST_TOKEN.to_string());
        TestAgent::start_as_configured(config, seams).await
    }

    /// Serves `config` as it is (no token: authentication off).
    pub async fn start_as_configured(config: AgentConfig, seams: Seams) -> TestAgent {
        let agent = Agent::new(config, seams);
        let _sweeper = agent.processes().spawn_sweeper();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(agent::http::serve(listener, agent.clone(), async move {
            let _ = rx.await;
        }));
        TestAgent {
            addr,
            agent,
            stop: Some(tx),
            server: Some(server),
        }
    }

    /// The bearer token the agent requires (`None`: authentication off).
    pub fn token(&self) -> Option<&str> {
        self.agent.config().token.as_deref()
    }

    /// Kills every process group, then stops the server.
    pub async fn stop(mut self) {
        self.agent.processes().shutdown().await;
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        // A test that failed before `stop`: leave no process behind.
        self.agent.processes().kill_all();
    }
}
