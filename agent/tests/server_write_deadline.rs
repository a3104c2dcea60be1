//! The server's write-deadline layer (`docs/agent-api.md#conventions`,
//! Timeouts; races R3 and R6 in `docs/races.md`): a blocking `wait=true`
//! request outlives the write timeout only because its handler moves its
//! connection's deadline; with `write-deadline-hidden` it cannot, and the
//! client gets an EOF-style transport error when the handler finishes.
//!
//! Two families: real TCP with real processes and a 1 s write timeout, and the
//! real timeouts (20 s, 5 min, 30 s) on a paused clock with scripted processes
//! over in-memory streams.

mod common;

use std::time::Duration;

use agent::{AgentConfig, Bug, BugSet};
use common::{TestAgent, TestAgentExt, real_seams, scripted_agent, serve_in_memory};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// What a blocking output request ended with.
#[derive(Debug)]
enum Outcome {
    /// 200 with the final (exited) result.
    Final { output: String, exit_code: i64 },
    /// 200 with a still-running snapshot (the wait cap).
    StillRunning,
    /// The connection closed before an answer: hyper's `IncompleteMessage`.
    Eof,
}

async fn blocking_output(client: &common::Client, id: &str) -> Outcome {
    let path = format!("/api/v0/processes/{id}/output?wait=true");
    match client.send(Method::GET, &path, "").await {
        Ok(a) => {
            assert_eq!(a.status, 200, "{:?}", a.json);
            if a.json["running"] == true {
                Outcome::StillRunning
            } else {
                Outcome::Final {
                    output: a.json["output"].as_str().unwrap_or_default().to_string(),
                    exit_code: a.json["exit_code"].as_i64().unwrap_or(i64::MIN),
                }
            }
        }
        Err(e) if e.is_incomplete_message() => Outcome::Eof,
        Err(e) => panic!("unexpected transport error: {e:?}"),
    }
}

// ---- Real TCP, real processes, 1 s write timeout, a 3 s process -----------

async fn real_agent(bugs: BugSet) -> (tempfile::TempDir, TestAgent) {
    let home = tempfile::tempdir().expect("home");
    let config = AgentConfig {
        write_timeout: Duration::from_secs(1),
        bugs,
        ..AgentConfig::default()
    };
    let seams = real_seams(&config, Some(home.path().to_path_buf()));
    let agent = TestAgent::start(config, seams).await;
    (home, agent)
}

#[tokio::test]
async fn wait_outlives_the_write_timeout_when_the_handler_extends_its_deadline() {
    let (_home, agent) = real_agent(BugSet::none()).await;
    let c = agent.client();
    let id = c.start("sleep 3; echo finished").await;
    match blocking_output(&c, &id).await {
        Outcome::Final { output, exit_code } => {
            assert_eq!(output, "finished\n");
            assert_eq!(exit_code, 0);
        }
        other => panic!("expected the final result, got {other:?}"),
    }
    agent.stop().await;
}

#[tokio::test]
async fn write_deadline_hidden_turns_a_long_wait_into_an_eof() {
    cov_mark::check!(write_deadline_hidden);
    let (_home, agent) = real_agent(BugSet::none().with(Bug::WriteDeadlineHidden)).await;
    let c = agent.client();
    let id = c.start("sleep 3; echo finished").await;
    let outcome = blocking_output(&c, &id).await;
    assert!(matches!(outcome, Outcome::Eof), "R3: {outcome:?}");
    // The command itself succeeded: only the answer was lost.
    let a = c.output(&id).await;
    assert_eq!(a.json["exit_code"], 0);
    assert_eq!(a.json["output"], "finished\n");
    agent.stop().await;
}

#[tokio::test]
async fn write_deadline_hidden_does_not_affect_answers_within_the_timeout() {
    let (_home, agent) = real_agent(BugSet::none().with(Bug::WriteDeadlineHidden)).await;
    let c = agent.client();
    let id = c.start("echo quick").await;
    assert!(matches!(
        blocking_output(&c, &id).await,
        Outcome::Final { exit_code: 0, .. }
    ));
    agent.stop().await;
}

// ---- The real timeouts on a paused clock -----------------------------------

/// Starts a scripted `sleep 25; echo done` (the 20 s write timeout,
/// handler done at 25 s) and measures the blocking request.
async fn paused_wait(config: AgentConfig, script: &str) -> (Outcome, Duration) {
    let (agent, _) = scripted_agent(config);
    let c = serve_in_memory(agent);
    let id = c.start(script).await;
    let t0 = Instant::now();
    let outcome = blocking_output(&c, &id).await;
    (outcome, t0.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_25s_wait_answers_at_25s_with_the_fix() {
    let (outcome, elapsed) = paused_wait(AgentConfig::default(), "sleep 25; echo done").await;
    assert!(
        matches!(outcome, Outcome::Final { ref output, exit_code: 0 } if output == "done\n"),
        "{outcome:?}"
    );
    assert_eq!(elapsed, Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn a_25s_wait_gets_eof_at_25s_not_20s_with_write_deadline_hidden() {
    let config = AgentConfig {
        bugs: BugSet::none().with(Bug::WriteDeadlineHidden),
        ..AgentConfig::default()
    };
    let (outcome, elapsed) = paused_wait(config, "sleep 25; echo done").await;
    assert!(matches!(outcome, Outcome::Eof), "{outcome:?}");
    // The EOF arrives when the handler finishes, as in Go.
    assert_eq!(elapsed, Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn a_wait_under_the_write_timeout_is_unaffected_by_the_switch() {
    let config = AgentConfig {
        bugs: BugSet::none().with(Bug::WriteDeadlineHidden),
        ..AgentConfig::default()
    };
    let (outcome, elapsed) = paused_wait(config, "sleep 19; echo done").await;
    assert!(matches!(outcome, Outcome::Final { .. }), "{outcome:?}");
    assert_eq!(elapsed, Duration::from_secs(19));
}

#[tokio::test(start_paused = true)]
async fn the_wait_cap_answers_running_within_the_headroom() {
    // 5 min cap, deadline 5 min + 30 s: the capped answer gets through.
    let (outcome, elapsed) = paused_wait(AgentConfig::default(), "sleep 3600").await;
    assert!(matches!(outcome, Outcome::StillRunning), "{outcome:?}");
    assert_eq!(elapsed, Duration::from_secs(300));
}

#[tokio::test(start_paused = true)]
async fn without_headroom_the_capped_answer_misses_its_deadline() {
    // R6: deadline == wait cap, so the capped answer is written at the
    // deadline and fails.
    let config = AgentConfig {
        wait_deadline_headroom: Duration::ZERO,
        ..AgentConfig::default()
    };
    let (outcome, elapsed) = paused_wait(config, "sleep 3600").await;
    assert!(matches!(outcome, Outcome::Eof), "R6: {outcome:?}");
    assert_eq!(elapsed, Duration::from_secs(300));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_its_headers_is_closed_after_the_header_timeout() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(agent::http::serve(
        common::DuplexListener::new(rx),
        agent,
        std::future::pending(),
    ));
    let (mut client, server) = tokio::io::duplex(1024);
    tx.send(server).expect("listener");
    let t0 = Instant::now();
    client
        .write_all(b"GET /api/v0/processes/list HTTP/1.1\r\nHost: a\r\n")
        .await
        .expect("partial headers");
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest).await;
    assert_eq!(t0.elapsed(), Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn a_client_leaving_ends_its_blocking_wait() {
    let (agent, _) = scripted_agent(AgentConfig::default());
    let process = agent
        .processes()
        .start(agent::process::manager::StartRequest {
            command: "sleep 1000".into(),
            ..Default::default()
        })
        .await
        .expect("start");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(agent::http::serve(
        common::DuplexListener::new(rx),
        agent,
        std::future::pending(),
    ));
    let idle = std::sync::Arc::strong_count(process.buffer());
    let (mut client, server) = tokio::io::duplex(1024);
    tx.send(server).expect("listener");
    let request = format!(
        "GET /api/v0/processes/{}/output?wait=true HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\n\r\n",
        process.id(),
        common::TEST_TOKEN
    );
    client.write_all(request.as_bytes()).await.expect("request");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        std::sync::Arc::strong_count(process.buffer()),
        idle + 1,
        "the handler is waiting on the buffer"
    );
    drop(client);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        std::sync::Arc::strong_count(process.buffer()),
        idle,
        "the handler was dropped with the connection"
    );
    assert!(process.is_running());
}
