//! The process manager's own contract (`docs/agent-api.md#processes`), on
//! scripted processes and a paused clock: reaping after 5 minutes, the list's
//! deterministic tie-break and cap, the exit task's order, Close, and the
//! Close-vs-start race (R15 in `docs/races.md`).

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use agent::headtail::HeadTailBuffer;
use agent::process::exec::{Exec, SpawnError, SpawnSpec, Spawned};
use agent::process::manager::{StartError, StartRequest};
use agent::{Agent, AgentConfig};
use common::{SharedScriptedExec, scripted_agent, serve_in_memory};

fn req(command: &str) -> StartRequest {
    StartRequest {
        command: command.to_string(),
        ..StartRequest::default()
    }
}

#[tokio::test(start_paused = true)]
async fn list_reaps_processes_that_exited_more_than_five_minutes_ago() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let c = serve_in_memory(agent.clone());
    let old = c.start("echo old").await;
    c.wait(&old).await;
    tokio::time::sleep(Duration::from_secs(200)).await;
    let young = c.start("echo young").await;
    c.wait(&young).await;

    // Exactly 5 min after the first exit: not yet older than the reap age.
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(c.list().await.len(), 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids: Vec<_> = c.list().await.iter().map(|p| p["id"].clone()).collect();
    assert_eq!(ids, vec![serde_json::json!(young)]);
    assert_eq!(c.output(&old).await.status, 404, "reaped ⇒ unknown");
    assert_eq!(c.signal(&old, "kill").await.status, 404);
}

#[tokio::test(start_paused = true)]
async fn a_chat_scoped_list_reaps_other_chats_processes_too() {
    // R14: kept as the original behaves.
    let (agent, _) = scripted_agent(AgentConfig::default());
    let c = serve_in_memory(agent);
    let id = c.chat(common::CHAT_B).start("echo b").await;
    c.wait(&id).await;
    tokio::time::sleep(Duration::from_secs(301)).await;
    assert!(c.chat(common::CHAT_A).list().await.is_empty());
    assert_eq!(c.chat(common::CHAT_B).output(&id).await.status, 404);
}

#[tokio::test(start_paused = true)]
async fn list_breaks_ties_by_newest_start_and_caps_at_ten() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let c = serve_in_memory(agent);
    // All in the same second (the clock is paused).
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(c.start("sleep 100").await);
    }
    let listed: Vec<String> = c
        .list()
        .await
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect();
    let expected: Vec<String> = ids.iter().rev().take(10).cloned().collect();
    assert_eq!(listed, expected);
}

#[tokio::test(start_paused = true)]
async fn the_exit_is_published_before_the_buffer_closes_and_done_fires() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let p = agent
        .processes()
        .start(req("echo a; sleep 5; echo b; exit 7"))
        .await
        .expect("start");
    assert!(p.is_running() && !p.buffer().is_closed() && !p.is_done());
    p.buffer().wait_closed().await;
    // Whoever the closed buffer wakes sees the exit and every byte.
    let info = p.info();
    assert!(!info.running);
    assert_eq!(info.exit_code, Some(7));
    assert_eq!(info.exited_at_unix, Some(info.started_at_unix + 5));
    assert_eq!(p.buffer().output().0, "a\nb\n");
    p.done().await;
}

#[tokio::test(start_paused = true)]
async fn close_kills_every_process_waits_for_it_and_refuses_new_starts() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let p = agent
        .processes()
        .start(req("sleep 1000"))
        .await
        .expect("start");
    let t0 = tokio::time::Instant::now();
    agent.processes().close().await;
    assert_eq!(t0.elapsed(), Duration::ZERO, "killed, not waited out");
    assert!(p.is_done());
    assert_eq!(p.info().exit_code, Some(-1));
    assert_eq!(
        agent.processes().start(req("echo late")).await.err(),
        Some(StartError::Closed)
    );
    let c = serve_in_memory(agent);
    let a = c
        .post("/api/v0/processes/start", r#"{"command": "echo late"}"#)
        .await;
    assert_eq!(a.status, 500);
    assert_eq!(a.message(), "Failed to start process.");
    assert_eq!(a.json["detail"], "manager is closed");
}

/// An `Exec` that closes the manager while a start is between its two
/// `closed` checks (R15): the spawn happens, then Close runs.
struct ClosesDuringSpawn {
    inner: SharedScriptedExec,
    agent: Arc<OnceLock<Agent>>,
}

impl Exec for ClosesDuringSpawn {
    fn spawn(&self, spec: SpawnSpec, output: Arc<HeadTailBuffer>) -> Result<Spawned, SpawnError> {
        let spawned = self.inner.spawn(spec, output)?;
        if let Some(agent) = self.agent.get() {
            // Close with no registered process completes without awaiting.
            futures::executor::block_on(agent.processes().close());
        }
        Ok(spawned)
    }
}

#[tokio::test(start_paused = true)]
async fn a_start_racing_close_kills_its_process_and_reports_closed() {
    cov_mark::check!(start_raced_close);
    let (template, exec) = scripted_agent(AgentConfig::default());
    let slot = Arc::new(OnceLock::new());
    let mut seams = template.seams().clone();
    seams.exec = Arc::new(ClosesDuringSpawn {
        inner: SharedScriptedExec(exec),
        agent: slot.clone(),
    });
    let agent = Agent::new(AgentConfig::default(), seams);
    let _ = slot.set(agent.clone());
    let t0 = tokio::time::Instant::now();
    let result = agent.processes().start(req("sleep 1000")).await;
    assert_eq!(result.err(), Some(StartError::Closed));
    assert_eq!(t0.elapsed(), Duration::ZERO, "killed, not left running");
    assert!(agent.processes().all().is_empty(), "never registered");
}
