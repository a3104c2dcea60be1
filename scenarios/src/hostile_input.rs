//! `hostile-input` (the simulation half of the hostile-input tests,
//! `docs/design.md#tests`): a `fuzzer` host sends hostile HTTP requests to the
//! agent under simulation (turmoil network, `SimFs`, `SimExec`), drawn from the
//! same proptest strategies as `agent/tests/bad_input.rs` (the shared
//! `agent_testkit::hostile` module) with a proptest rng seeded from the run's
//! workload stream, so each seed is one fixed sequence of requests.
//!
//! Invariants, per request (the property of `bad_input.rs`):
//! * `hostile-answer-well-formed`: an answer comes (within
//!   [`ANSWER_WITHIN`]; the wait cap is 100 ms), and it is 2xx or 4xx or
//!   the documented 5xx for the route, every non-2xx is the JSON envelope,
//!   every success but a raw read is a JSON object;
//! * `rejected-request-changes-nothing`: unless a file-writing route
//!   answered 2xx, no file, directory or symlink anywhere in `SimFs`
//!   changed (content, mode, kind or target);
//! * no panic (the runner fails a run on any panic, the agent's guard
//!   would also turn one into a 500 the first invariant rejects).
//!
//! No historical switch belongs to this scenario; the tests show instead
//! that the generated input gets deep (2xx answers from every route,
//! rejections from the body limit, the documented 5xx).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::files::fs::{FileKind, Fs};
use agent_sdk::{AgentConn, Connector, OutputOptions, StartProcessRequest};
use bytes::Bytes;
use harness::net::TurmoilConnector;
use harness::prelude::*;
use harness::sim_fs::SimFs;
use http::Request;
use http_body_util::{BodyExt, Full};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::common::{AGENT, connect};
use crate::invariants::{
    CALLS_SUCCEED, GENERATOR, HOSTILE_ANSWER_WELL_FORMED, REJECTED_REQUEST_CHANGES_NOTHING,
};

use agent_testkit::hostile::{
    self, Answer, BODY_LIMIT, Concrete, Fill, SAFE_COMMANDS, check_answer, writes_files,
};

/// See the module docs.
pub const HOSTILE_INPUT: ScenarioSpec = ScenarioSpec {
    name: "hostile-input",
    summary: "generated hostile HTTP requests: well-formed 2xx/4xx or the documented 5xx, no panic, no file changed when rejected",
    catches: &[],
    config: SimConfig {
        duration: Duration::from_secs(30),
        ..SimConfig::DEFAULT
    },
    build,
};

/// The fuzzing host.
pub const FUZZER: &str = "fuzzer";

/// Requests per seed.
pub const REQUESTS: usize = 32;

/// Every request is answered well within this (the wait cap is 100 ms).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The trace event carrying each request's answer: `METHOD PATH -> STATUS`.
pub const ANSWER_EVENT: &str = "fuzz.answer";

fn build(world: &mut SimWorld<'_>) {
    let mut seed = [0u8; 32];
    world.rng(stream::WORKLOAD).fill(&mut seed);
    let config = agent::AgentConfig {
        body_limit: BODY_LIMIT,
        max_wait: Duration::from_millis(100),
        wait_delay: Duration::from_secs(1),
        ..agent_config(world.bugs())
    };
    let parts = harness::agent_host::host_agent(world, config, |parts| {
        if let Err(e) = sandbox(parts) {
            tracing::warn!(error = %e, "cannot seed the sandbox");
        }
    });
    let (inv, trace, fs) = (
        world.invariants().clone(),
        world.trace().clone(),
        parts.fs.clone(),
    );
    world.client(FUZZER, fuzz(inv, trace, fs, seed));
}

/// The sandbox of `bad_input.rs` in `SimFs`: files, a directory, a
/// symlink, and a repository (so `git/show` gets past its checks); plus a
/// script for every command a generated start may carry.
fn sandbox(parts: &harness::agent_host::SimParts) -> std::io::Result<()> {
    let root = Path::new(PROJECT);
    parts.fs.write(root.join("a.txt"), "alpha\nbeta\n")?;
    parts.fs.write(root.join("dir/b.txt"), "beta\r\nalpha")?;
    parts.fs.symlink(root.join("a.txt"), root.join("link"))?;
    parts.fs.mknod(root.join("fifo"), FileKind::Fifo)?;
    parts.scanner.init_repo(root, "main", None)?;
    parts.scanner.commit(root)?;
    for command in SAFE_COMMANDS {
        let script = match command {
            "true" => Script::new(),
            "false" => Script::new().exit(1),
            "echo x" => Script::new().write("x\n"),
            _ => Script::new().write("x\n").exit(3),
        };
        parts.scripts.insert(command, script);
    }
    parts
        .scripts
        .insert("sleep 600", Script::new().sleep(Duration::from_secs(600)));
    Ok(())
}

/// What a path in `SimFs` is, to tell whether it changed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Dir { mode: u32 },
    File { content: Vec<u8>, mode: u32 },
    Link(PathBuf),
    Special(FileKind),
    Unreadable,
}

type Snapshot = BTreeMap<PathBuf, Entry>;

/// Every entry of the whole tree.
fn snapshot(fs: &SimFs) -> Snapshot {
    let mut out = Snapshot::new();
    walk(fs, Path::new("/"), &mut out);
    out
}

fn walk(fs: &SimFs, dir: &Path, out: &mut Snapshot) {
    let Ok(names) = fs.read_dir(dir) else {
        out.insert(dir.to_path_buf(), Entry::Unreadable);
        return;
    };
    for name in names {
        let path = dir.join(name);
        let entry = match fs.symlink_metadata(&path) {
            Err(_) => Entry::Unreadable,
            Ok(m) => match m.kind {
                FileKind::Symlink => Entry::Link(fs.read_link(&path).unwrap_or_default()),
                FileKind::Dir => {
                    walk(fs, &path, out);
                    Entry::Dir { mode: m.mode }
                }
                FileKind::File => Entry::File {
                    content: fs.read(&path).unwrap_or_default(),
                    mode: m.mode,
                },
                kind => Entry::Special(kind),
            },
        };
        out.insert(path, entry);
    }
}

fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let changed = after
        .iter()
        .filter(|(p, e)| before.get(*p) != Some(e))
        .map(|(p, _)| format!("changed or new: {}", p.display()));
    let removed = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .map(|p| format!("removed: {}", p.display()));
    changed.chain(removed).collect()
}

/// Starts the placeholder processes: one running for the whole run, one
/// exited.
async fn fixtures() -> Result<Fill, agent_sdk::SdkError> {
    let conn = connect();
    let start = |command: &str| StartProcessRequest {
        command: command.to_string(),
        workdir: Some(PROJECT.into()),
        ..StartProcessRequest::default()
    };
    let running = conn.start_process(&start("sleep 600")).await?.id;
    let exited = conn.start_process(&start("true")).await?.id;
    while conn
        .process_output(&exited, OutputOptions { wait: true })
        .await?
        .running
    {}
    Ok(Fill {
        sandbox: PROJECT.to_string(),
        running,
        exited,
        token: harness::agent_host::token().unwrap_or_default(),
        host: AGENT.to_string(),
    })
}

/// Sends one request on a fresh connection, as `bad_input.rs` does over TCP.
async fn send(c: &Concrete) -> Result<Answer, String> {
    let io = TurmoilConnector::agent(AGENT)
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(c.method.clone())
        .uri(c.path_and_query.as_str())
        .header("connection", "close")
        .body(Full::new(c.body.clone()))
        .map_err(|e| format!("not a request: {e}"))?;
    for (k, v) in &c.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    let result = async {
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Bytes = resp.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>(Answer {
            status,
            headers,
            body,
        })
    }
    .await;
    driver.abort();
    result.map_err(|e| format!("transport error: {e}"))
}

async fn fuzz(inv: Invariants, trace: Trace, fs: SimFs, seed: [u8; 32]) -> turmoil::Result {
    let fill = match fixtures().await {
        Ok(f) => f,
        Err(e) => {
            inv.fail(CALLS_SUCCEED, "the placeholder processes", e);
            return Ok(());
        }
    };
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = hostile::hostile();
    for _ in 0..REQUESTS {
        let h = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(e) => {
                inv.fail(GENERATOR, "a hostile request", e);
                break;
            }
        };
        let c = fill.concrete(&h);
        let what = format!("{} {}", c.method, c.path_and_query);
        let before = snapshot(&fs);
        let answer = match tokio::time::timeout(ANSWER_WITHIN, send(&c)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                inv.fail(HOSTILE_ANSWER_WELL_FORMED, format!("{what}: an answer"), e);
                break;
            }
            Err(_) => {
                inv.fail(
                    HOSTILE_ANSWER_WELL_FORMED,
                    format!("{what}: an answer within {ANSWER_WITHIN:?}"),
                    "none",
                );
                break;
            }
        };
        trace.record(
            ANSWER_EVENT,
            format!(
                "{} {} -> {}",
                c.method,
                c.path.chars().take(120).collect::<String>(),
                answer.status
            ),
        );
        if let Err(e) = check_answer(&c, &answer) {
            inv.fail(
                HOSTILE_ANSWER_WELL_FORMED,
                "the property of bad_input.rs",
                e,
            );
            break;
        }
        let after = snapshot(&fs);
        if !((200..300).contains(&answer.status) && writes_files(&c)) {
            let ok = inv.check(
                REJECTED_REQUEST_CHANGES_NOTHING,
                before == after,
                || format!("{what} -> {}: no change in SimFs", answer.status),
                || format!("{:?}", diff(&before, &after)),
            );
            if !ok {
                break;
            }
        }
    }
    Ok(())
}
