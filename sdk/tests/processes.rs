//! The SDK's process calls end to end against a real agent on a loopback port
//! with real processes (`docs/design.md#clients`): start, list, output (with
//! wait), signal; chat headers; errors that carry status, message and detail;
//! escaped ids; and the write-timeout EOF as a transport error.

use std::time::Duration;

use agent::{AgentConfig, Bug, BugSet};
use agent_sdk::{
    AgentConn, HttpAgentConn, OutputOptions, SdkError, StartProcessRequest, TcpConnector,
};
use agent_testkit::{CHAT_A, CHAT_B, TestAgent};
use http::HeaderMap;

/// A real agent on `127.0.0.1:0`; processes are killed when dropped.
struct Served {
    agent: TestAgent,
    conn: HttpAgentConn<TcpConnector>,
    addr: std::net::SocketAddr,
    _home: tempfile::TempDir,
}

const TOKEN: &str = "sdk-processes-token";

/// Serves `config` with [`TOKEN`] as its token; the connection has it.
async fn serve(mut config: AgentConfig) -> Served {
    config.token.get_or_insert_with(|| TOKEN.to_string());
    let home = tempfile::tempdir().expect("home");
    let agent = TestAgent::real_with(config, home.path()).await;
    let addr = agent.addr;
    Served {
        agent,
        conn: HttpAgentConn::new(TcpConnector { addr }).with_token(TOKEN),
        addr,
        _home: home,
    }
}

fn start_req(command: &str) -> StartProcessRequest {
    StartProcessRequest {
        command: command.into(),
        ..StartProcessRequest::default()
    }
}

fn chat_headers(chat: &str, ancestors: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Coder-Chat-Id", chat.parse().expect("header"));
    if !ancestors.is_empty() {
        let json = serde_json::to_string(ancestors).expect("json");
        h.insert("Coder-Ancestor-Chat-Ids", json.parse().expect("header"));
    }
    h
}

const WAIT: OutputOptions = OutputOptions { wait: true };

#[tokio::test]
async fn start_list_output_and_signal_round_trip() {
    let s = serve(AgentConfig::default()).await;
    let started = s
        .conn
        .start_process(&start_req("echo out; echo err >&2; exit 3"))
        .await
        .expect("start");
    assert!(started.started);
    let out = s
        .conn
        .process_output(&started.id, WAIT)
        .await
        .expect("wait");
    assert_eq!(out.output, "out\nerr\n");
    assert!(!out.running);
    assert_eq!(out.exit_code, Some(3));

    let sleeper = s
        .conn
        .start_process(&start_req("sleep 300"))
        .await
        .expect("start")
        .id;
    let snapshot = s
        .conn
        .process_output(&sleeper, OutputOptions::default())
        .await
        .expect("snapshot");
    assert!(snapshot.running && snapshot.exit_code.is_none());
    let list = s.conn.list_processes().await.expect("list").processes;
    let ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec![sleeper.as_str(), started.id.as_str()]);

    s.conn
        .signal_process(&sleeper, "terminate")
        .await
        .expect("signal");
    let out = s.conn.process_output(&sleeper, WAIT).await.expect("wait");
    assert_eq!(out.exit_code, Some(-1));
}

#[tokio::test]
async fn errors_carry_status_message_and_detail_in_the_go_text() {
    let s = serve(AgentConfig::default()).await;
    let err = s
        .conn
        .process_output("missing", OutputOptions::default())
        .await
        .expect_err("404");
    assert_eq!(
        err,
        SdkError::Status {
            method: "GET".into(),
            url: format!("http://{}/api/v0/processes/missing/output", s.addr),
            status: 404,
            message: "Process \"missing\" not found.".into(),
            detail: None,
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "GET http://{}/api/v0/processes/missing/output: unexpected status code 404: \
             Process \"missing\" not found.",
            s.addr
        )
    );

    let mut bad_dir = start_req("true");
    bad_dir.workdir = Some("/no/such/dir".into());
    let err = s.conn.start_process(&bad_dir).await.expect_err("400");
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().ends_with(
            "unexpected status code 400: Working directory \"/no/such/dir\" does not exist."
        ),
        "{err}"
    );

    let id = s
        .conn
        .start_process(&start_req("sleep 300"))
        .await
        .expect("start")
        .id;
    let err = s.conn.signal_process(&id, "hup").await.expect_err("400");
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().contains("Unsupported signal \"hup\""),
        "{err}"
    );

    // A spawn the agent cannot make: 500 with the cause as the detail.
    s.agent.agent.processes().shutdown().await;
    let err = s
        .conn
        .start_process(&start_req("true"))
        .await
        .expect_err("500");
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string()
            .ends_with("unexpected status code 500: Failed to start process.: manager is closed"),
        "{err}"
    );
}

#[tokio::test]
async fn ids_are_escaped_into_the_path() {
    // The original interpolated ids raw; these would hit other routes or
    // lose their tail. Escaped, the agent sees the exact id.
    let s = serve(AgentConfig::default()).await;
    for id in [
        "a/b",
        "x?wait=true",
        "frag#ment",
        "with space",
        "100%",
        "../list",
    ] {
        let err = s
            .conn
            .process_output(id, OutputOptions::default())
            .await
            .expect_err("unknown id");
        match err {
            SdkError::Status {
                status, message, ..
            } => {
                assert_eq!(status, 404, "{id}");
                assert_eq!(message, format!("Process {id:?} not found."));
            }
            other => panic!("{id}: {other}"),
        }
    }
}

#[tokio::test]
async fn extra_headers_scope_calls_to_a_chat() {
    let s = serve(AgentConfig::default()).await;
    s.conn.set_extra_headers(chat_headers(CHAT_A, &[CHAT_B]));
    let id = s
        .conn
        .start_process(&start_req("echo mine"))
        .await
        .expect("start")
        .id;
    s.conn.process_output(&id, WAIT).await.expect("own output");
    assert_eq!(
        s.conn.list_processes().await.expect("list").processes.len(),
        1
    );

    s.conn.set_extra_headers(chat_headers(CHAT_B, &[]));
    assert!(
        s.conn
            .list_processes()
            .await
            .expect("list")
            .processes
            .is_empty()
    );
    let err = s
        .conn
        .process_output(&id, OutputOptions::default())
        .await
        .expect_err("other chat");
    assert_eq!(err.status(), Some(404));

    s.conn.set_extra_headers(HeaderMap::new());
    assert_eq!(
        s.conn.list_processes().await.expect("list").processes.len(),
        1
    );
}

/// A 3 s process behind a 1 s write timeout, waited on through the SDK.
async fn wait_past_write_timeout(
    bugs: BugSet,
) -> Result<agent_sdk::ProcessOutputResponse, SdkError> {
    let s = serve(AgentConfig {
        write_timeout: Duration::from_secs(1),
        bugs,
        ..AgentConfig::default()
    })
    .await;
    let id = s
        .conn
        .start_process(&start_req("sleep 3; echo done"))
        .await
        .expect("start")
        .id;
    s.conn.process_output(&id, WAIT).await
}

#[tokio::test]
async fn sdk_wait_returns_the_final_result_past_the_write_timeout() {
    let out = wait_past_write_timeout(BugSet::none())
        .await
        .expect("final result");
    assert_eq!(out.output, "done\n");
    assert_eq!(out.exit_code, Some(0));
}

#[tokio::test]
async fn sdk_wait_is_a_transport_eof_with_write_deadline_hidden() {
    let err = wait_past_write_timeout(BugSet::none().with(Bug::WriteDeadlineHidden))
        .await
        .expect_err("R3: EOF");
    assert!(err.is_transport(), "{err:?}");
    assert!(
        err.to_string()
            .contains("connection closed before message completed"),
        "{err}"
    );
}
