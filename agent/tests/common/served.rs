//! A real agent served on a loopback port for the length of a test, and
//! its orderly shutdown. Kept free of the rest of `common` (only `agent` and
//! `tokio`) because the chat tools' real-mode smoke test includes this very
//! file (`#[path]`) to run its agent the same way: one copy of the
//! start/stop/leave-no-process-behind logic for both crates.

use std::net::SocketAddr;
use std::time::Duration;

use agent::{Agent, AgentConfig, Seams};
use tokio::sync::oneshot;

/// An agent served on `127.0.0.1:0` until [`TestAgent::stop`].
pub struct TestAgent {
    pub addr: SocketAddr,
    pub agent: Agent,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestAgent {
    pub async fn start(config: AgentConfig, seams: Seams) -> TestAgent {
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
