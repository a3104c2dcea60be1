//! A real agent served on a loopback port for the length of a test, and
//! its orderly shutdown: one copy of the start/stop/leave-no-process-behind
//! logic for the agent's, the SDK's and the chat tools' tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent::seams::FixedEnvInfo;
use agent::{Agent, AgentConfig, Seams};
use tokio::sync::oneshot;

/// The token of a [`TestAgent`] whose config names none.
pub const TEST_TOKEN: &str = "test-token-5f1d0c2a9b7e4d63";

/// Real seams with a fixed home directory and the real environment.
pub fn real_seams(config: &AgentConfig, home: Option<PathBuf>) -> Seams {
    let mut seams = Seams::real(config.wait_delay);
    seams.env = Arc::new(FixedEnvInfo {
        home,
        vars: std::env::vars().collect(),
    });
    seams
}

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

    /// An agent with real seams, default config, home = `home`.
    pub async fn real(home: &Path) -> TestAgent {
        TestAgent::real_with(AgentConfig::default(), home).await
    }

    /// An agent with real seams, `config`, home = `home`.
    pub async fn real_with(config: AgentConfig, home: &Path) -> TestAgent {
        let seams = real_seams(&config, Some(home.to_path_buf()));
        TestAgent::start(config, seams).await
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
