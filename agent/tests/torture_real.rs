//! Torture tests of the real side: a real agent on loopback, real `sh`
//! processes, real sockets, many iterations of the patterns the simulation
//! models (fast exits with large output, grandchildren holding the pipe,
//! signals racing the exit, WebSockets older than the write deadline).
//!
//! `TORTURE_ITERS=N` sets the iterations of each loop (default 8, which
//! keeps the file within seconds); a long run is e.g. `TORTURE_ITERS=500
//! cargo test --release -p agent --test torture_real`. Nothing here asserts
//! on durations except guards that stop a hung test.

use std::time::Duration;

use agent::AgentConfig;
use agent_sdk::{
    AgentConn, HttpAgentConn, OutputOptions, ProcessOutputResponse, StartProcessRequest,
    TcpConnector,
};
use agent_testkit::TestAgent;
use futures::StreamExt;

const TOKEN: &str = "torture-token";
const WAIT: OutputOptions = OutputOptions { wait: true };
/// Stops a hung call; no honest call here takes a fraction of it.
const GUARD: Duration = Duration::from_secs(30);

fn iters() -> usize {
    std::env::var("TORTURE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// A real agent with `config` (and [`TOKEN`]) and a connection to it.
struct Served {
    agent: TestAgent,
    conn: std::sync::Arc<HttpAgentConn<TcpConnector>>,
    _home: tempfile::TempDir,
}

async fn serve(mut config: AgentConfig) -> Served {
    config.token = Some(TOKEN.to_string());
    let home = tempfile::tempdir().expect("home");
    let agent = TestAgent::real_with(config, home.path()).await;
    let conn = HttpAgentConn::new(TcpConnector { addr: agent.addr }).with_token(TOKEN);
    Served {
        agent,
        conn: std::sync::Arc::new(conn),
        _home: home,
    }
}

async fn start(conn: &HttpAgentConn<TcpConnector>, command: &str) -> String {
    let req = StartProcessRequest {
        command: command.into(),
        ..StartProcessRequest::default()
    };
    let started = tokio::time::timeout(GUARD, conn.start_process(&req)).await;
    started.expect("start in time").expect("start").id
}

async fn wait(conn: &HttpAgentConn<TcpConnector>, id: &str) -> ProcessOutputResponse {
    let answer = tokio::time::timeout(GUARD, conn.process_output(id, WAIT)).await;
    let answer = answer.expect("answer in time").expect("answer");
    assert!(!answer.running, "a waited answer is final: {answer:?}");
    answer
}

/// `seq 1 n` prints this many bytes.
fn seq_bytes(n: u64) -> u64 {
    (1..=n).map(|i| i.to_string().len() as u64 + 1).sum()
}

/// Checks a finished `seq 1 n`: every byte counted, the last line kept.
fn check_seq(n: u64, answer: &ProcessOutputResponse) {
    assert_eq!(answer.exit_code, Some(0), "{n}");
    let total = answer
        .truncated
        .as_ref()
        .map_or(answer.output.len() as u64, |t| t.original_bytes);
    assert_eq!(total, seq_bytes(n), "seq 1 {n}: every byte counted");
    let shown = format!("\n{}", answer.output);
    assert!(
        shown.ends_with(&format!("\n{n}\n")),
        "seq 1 {n}: last line kept"
    );
    assert!(
        answer.output.len() <= 32 * 1024,
        "the render stays under the cap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fast_exiting_processes_with_large_output_lose_no_byte() {
    let s = serve(AgentConfig::default()).await;
    let mut tasks = Vec::new();
    for i in 0..iters() {
        let conn = s.conn.clone();
        tasks.push(tokio::spawn(async move {
            // From a few lines to well past head and tail.
            let n = [1, 10, 3_000, 20_000, 100_000][i % 5];
            let id = start(&conn, &format!("seq 1 {n}")).await;
            check_seq(n, &wait(&conn, &id).await);
            // A plain read after the exit says the same.
            let again = conn.process_output(&id, OutputOptions::default()).await;
            check_seq(n, &again.expect("answer"));
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    s.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grandchildren_holding_the_pipe_are_waited_for_up_to_the_wait_delay() {
    let config = AgentConfig {
        wait_delay: Duration::from_millis(500),
        ..AgentConfig::default()
    };
    let s = serve(config).await;
    for _ in 0..iters().div_ceil(2) {
        // The grandchild finishes within the delay: its output is kept and
        // the exit is clean.
        let id = start(&s.conn, "(sleep 0.05; echo late) & echo early").await;
        let answer = wait(&s.conn, &id).await;
        assert_eq!(
            (answer.output.as_str(), answer.exit_code),
            ("early\nlate\n", Some(0))
        );
        // It outlives the delay: the pipe is closed, the success becomes a
        // wait error (-1), and what came before is kept.
        let id = start(&s.conn, "(sleep 30; echo never) & echo early").await;
        let answer = wait(&s.conn, &id).await;
        assert_eq!(
            (answer.output.as_str(), answer.exit_code),
            ("early\n", Some(-1))
        );
    }
    s.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_racing_the_exit_answer_200_or_409_and_keep_a_true_exit_code() {
    let s = serve(AgentConfig::default()).await;
    let mut tasks = Vec::new();
    for i in 0..iters() * 2 {
        let conn = s.conn.clone();
        tasks.push(tokio::spawn(async move {
            let id = start(&conn, "echo x; exit 3").await;
            // Sleep 0..2 ms: sometimes before the exit, sometimes after.
            tokio::time::sleep(Duration::from_micros((i as u64 * 397) % 2000)).await;
            let signal = if i % 2 == 0 { "kill" } else { "terminate" };
            let status = match conn.signal_process(&id, signal).await {
                Ok(()) => 200,
                Err(e) => e.status().unwrap_or_else(|| panic!("transport error: {e}")),
            };
            let answer = wait(&conn, &id).await;
            assert!(status == 200 || status == 409, "{signal}: {status}");
            // 409 means it had exited on its own; 200 may have come first.
            let allowed: &[i32] = if status == 409 { &[3] } else { &[3, -1] };
            let code = answer.exit_code.expect("exit code");
            assert!(
                allowed.contains(&code),
                "{signal} answered {status}, exit {code}"
            );
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    s.agent.stop().await;
}

/// Reads `watch` until `stop` (answering the agent's pings, as any client
/// that reads does); returns why it ended early, if it did.
async fn read_until(
    mut watch: agent_sdk::git::GitWatchReceiver,
    stop: std::sync::Arc<tokio::sync::Notify>,
) -> Option<String> {
    loop {
        let next = tokio::select! {
            biased;
            () = stop.notified() => return None,
            m = watch.next() => m,
        };
        match next {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Some(e.to_string()),
            None => return Some("the stream ended".into()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn websockets_stay_open_past_the_write_deadline() {
    // A short write deadline and ping interval, so a watch outlives both
    // many times within a second.
    let config = AgentConfig {
        write_timeout: Duration::from_millis(200),
        ping_interval: Duration::from_millis(50),
        ..AgentConfig::default()
    };
    let s = serve(config).await;
    let mut senders = Vec::new();
    let mut readers = Vec::new();
    for i in 0..iters().clamp(2, 64) {
        let chat = uuid::Uuid::from_u128(0x7000 + i as u128);
        let w = tokio::time::timeout(GUARD, s.conn.watch_git(Some(chat))).await;
        let (tx, rx) = w.expect("watch in time").expect("watch").split();
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        readers.push((stop.clone(), tokio::spawn(read_until(rx, stop))));
        senders.push(tx);
    }
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        for tx in &mut senders {
            tx.refresh().await.expect("a refresh on an open watch");
        }
    }
    for (stop, reader) in readers {
        stop.notify_one();
        assert_eq!(reader.await.expect("reader"), None, "the watch ended early");
    }
    for mut tx in senders {
        tx.close().await.expect("clean close");
    }
    s.agent.stop().await;
}
