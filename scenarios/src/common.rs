//! What the agent-backed scenarios share: the agent host, the client
//! connection, and expected results computed from a script.

use std::sync::Arc;

use agent::headtail::{HeadTailBuffer, Truncation};
use agent::http::chat::CHAT_ID_HEADER;
use agent_sdk::{AgentConn, HttpAgentConn};
use harness::SimWorld;
use harness::agent_host::{self, SimParts, agent_config};
use harness::net::TurmoilConnector;
use harness::sim_exec::Script;

/// The agent's host name in every scenario.
pub const AGENT: &str = agent_host::AGENT_HOST;

/// Registers the agent host (before any client, DESIGN.md section 9) with
/// the run's bug switches; `setup` seeds files, scripts and repositories.
pub fn agent_host(world: &mut SimWorld<'_>, setup: impl FnOnce(&SimParts)) -> SimParts {
    let config = agent_config(world.bugs());
    agent_host::host_agent(world, config, setup)
}

/// An SDK connection to the agent host.
pub fn connect() -> Arc<HttpAgentConn<TurmoilConnector>> {
    Arc::new(agent_host::connect())
}

/// An SDK connection that speaks for `chat` (its `Coder-Chat-Id` header on
/// every call): one connection per chat, as chatd keeps.
pub fn connect_as(chat: uuid::Uuid) -> Arc<HttpAgentConn<TurmoilConnector>> {
    let conn = connect();
    let mut headers = http::HeaderMap::new();
    if let Some(v) = agent_sdk::conn::header_value(&chat.to_string()) {
        headers.insert(CHAT_ID_HEADER, v);
    }
    conn.set_extra_headers(headers);
    conn
}

/// A chat id drawn from a workload rng.
pub fn chat_id(rng: &mut impl rand::Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// What a finished process must report: the final snapshot of everything
/// the script wrote, and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalResult {
    pub output: String,
    pub truncated: Option<Truncation>,
    pub exit_code: i32,
}

impl FinalResult {
    pub fn of(script: &Script) -> Self {
        let buffer = HeadTailBuffer::new();
        buffer.write(&script.output());
        let (output, truncated) = buffer.output();
        FinalResult {
            output,
            truncated,
            exit_code: script.exit_code(),
        }
    }

    /// A short description for violation texts (outputs can be 32 KiB).
    pub fn describe(
        output: &str,
        truncated: &Option<Truncation>,
        exit_code: Option<i32>,
    ) -> String {
        format!(
            "{} output bytes, truncated {:?}, exit {exit_code:?}",
            output.len(),
            truncated.as_ref().map(|t| t.original_bytes)
        )
    }
}
