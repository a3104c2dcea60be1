//! The harness self-test scenario: proves the infrastructure end to end
//! with the pieces that exist independently of the agent's server.
//!
//! An `agent` host serves a miniature process API (two axum routes) over
//! [`TurmoilListener`]; it starts a seeded [`Script`] through [`SimExec`]
//! into a [`HeadTailBuffer`], publishes the exit after the drain like the
//! real exit task, and feeds the real [`PathStore`], whose subscriber runs
//! on the same host. A `client` host drives it through the SDK transport
//! ([`HttpAgentConn::send_json`] over [`TurmoilConnector`]) with several
//! concurrent pollers and one blocking waiter.
//!
//! The miniature output handler keeps the shape of race R1 (`docs/races.md`):
//! with `stale-output-read` on it reads the buffer before the process state,
//! with a yield point in between, so the harness must find seeds where a
//! "finished" answer carries stale output. It is a model of the race, not the
//! agent's code, so it is not in the public scenario catalog.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::git::PathStore;
use agent::headtail::HeadTailBuffer;
use agent::process::exec::{Exec, SpawnSpec};
use agent::process::wire::{ProcessOutputResponse, StartProcessRequest, StartProcessResponse};
use agent_sdk::HttpAgentConn;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use bytes::Bytes;
use http::Method;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_hooks::{Bug, BugSet};

use crate::ids::SeededIds;
use crate::invariant::Invariants;
use crate::net::{AGENT_PORT, TurmoilConnector, TurmoilListener, serve_plain};
use crate::scenario::{Catch, Scenario};
use crate::sched::yield_point;
use crate::seed::stream;
use crate::sim_exec::{Script, ScriptBook, SimExec};
use crate::sim_fs::PROJECT;
use crate::trace::Trace;
use crate::world::{SimConfig, SimWorld};

/// The command the workload runs.
const COMMAND: &str = "build";
/// How long the client lingers after its last answer.
const SETTLE: Duration = Duration::from_millis(100);
/// The blocking wait's cap in the miniature handler.
const WAIT_CAP: Duration = Duration::from_secs(10);

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct HarnessSelfTest;

impl Scenario for HarnessSelfTest {
    fn name(&self) -> &'static str {
        "harness-selftest"
    }

    fn summary(&self) -> &'static str {
        "harness self-test: miniature output API over turmoil, SimExec, PathStore (models R1)"
    }

    fn catches(&self) -> &'static [Catch] {
        &[Catch {
            bug: Bug::StaleOutputRead,
            within: 64,
        }]
    }

    fn config(&self) -> SimConfig {
        SimConfig {
            duration: Duration::from_secs(30),
            ..SimConfig::default()
        }
    }

    fn build(&self, world: &mut SimWorld<'_>) {
        let mut workload = world.rng(stream::WORKLOAD);
        let script = workload_script(&mut workload);
        let readers = workload.random_range(2..=4);
        let chat = uuid::Uuid::from_u128(workload.random());
        let expected = Expected {
            output: String::from_utf8_lossy(&script.output()).into_owned(),
            exit_code: script.exit_code(),
        };
        world.trace().record(
            "workload",
            format!(
                "{} bytes in {} steps, exit {}, {readers} pollers",
                expected.output.len(),
                script.steps.len(),
                expected.exit_code
            ),
        );

        let book = ScriptBook::new();
        book.insert(COMMAND, script);
        let trace = world.trace().clone();
        let mini = Arc::new(Mini {
            exec: SimExec::new(book, Duration::from_secs(5), trace.clone()),
            ids: SeededIds::new(world.rng(stream::IDS)),
            paths: PathStore::new(),
            procs: Mutex::default(),
            bugs: world.bugs().clone(),
            chat,
            trace: trace.clone(),
        });
        let watched: Arc<Mutex<Option<Vec<String>>>> = Arc::default();

        let (m, w) = (mini.clone(), watched.clone());
        world.host("agent", move || {
            let (mini, watched) = (m.clone(), w.clone());
            async move {
                tokio::spawn(watch_paths(mini.clone(), watched));
                let listener = TurmoilListener::bind(AGENT_PORT).await?;
                serve_plain(listener, router(mini)).await?;
                Ok(())
            }
        });

        let invariants = world.invariants().clone();
        let sleeps = world.rng("workload.pollers");
        let exp = expected.clone();
        world.client("client", async move {
            drive(invariants, trace, exp, readers, sleeps).await;
            Ok(())
        });

        world.at_end(move |inv| {
            let seen = watched.lock().map(|w| w.clone()).unwrap_or_default();
            inv.check_eq(
                "path-notification-delivered",
                &Some(vec![PROJECT.to_string()]),
                &seen,
            );
        });
    }
}

/// What a finished process must report.
#[derive(Clone, Debug)]
struct Expected {
    output: String,
    exit_code: i32,
}

/// 2 to 6 chunks of 1 to 400 bytes with short sleeps in between; the exit
/// follows the last chunk at once (R1: last bytes, then exit).
fn workload_script(rng: &mut ChaCha8Rng) -> Script {
    let mut script = Script::new();
    let chunks = rng.random_range(2..=6);
    for i in 0..chunks {
        if i > 0 {
            script = script.sleep(Duration::from_millis(rng.random_range(0..=40)));
        }
        let len = rng.random_range(1..=400);
        let line: String = (0..len)
            .map(|j| char::from(b'a' + ((i * 7 + j) % 26) as u8))
            .collect();
        script = script.write(format!("{i}:{line}\n"));
    }
    let code = [0, 0, 1, 2, 42][rng.random_range(0..5)];
    script.exit(code)
}

struct ProcState {
    running: bool,
    exit_code: Option<i32>,
}

struct Proc {
    buffer: Arc<HeadTailBuffer>,
    state: Mutex<ProcState>,
}

impl Proc {
    fn info(&self) -> (bool, Option<i32>) {
        match self.state.lock() {
            Ok(s) => (s.running, s.exit_code),
            Err(p) => (p.get_ref().running, p.get_ref().exit_code),
        }
    }
}

/// The miniature agent.
struct Mini {
    exec: SimExec,
    ids: SeededIds,
    paths: PathStore,
    procs: Mutex<BTreeMap<String, Arc<Proc>>>,
    bugs: BugSet,
    chat: uuid::Uuid,
    trace: Trace,
}

fn router(mini: Arc<Mini>) -> Router {
    Router::new()
        .route("/start", post(start))
        .route("/output/{id}", get(output))
        .with_state(mini)
}

async fn start(
    State(mini): State<Arc<Mini>>,
    Json(req): Json<StartProcessRequest>,
) -> Result<Json<StartProcessResponse>, (StatusCode, String)> {
    let id = mini.ids.next_uuid().to_string();
    let buffer = Arc::new(HeadTailBuffer::new());
    let spec = SpawnSpec {
        command: req.command,
        workdir: req.workdir.clone().map(Into::into),
        env: Vec::new(),
    };
    let spawned = mini
        .exec
        .spawn(spec, buffer.clone())
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.0))?;
    let proc = Arc::new(Proc {
        buffer,
        state: Mutex::new(ProcState {
            running: true,
            exit_code: None,
        }),
    });
    if let Ok(mut procs) = mini.procs.lock() {
        procs.insert(id.clone(), proc.clone());
    }
    let (m, workdir) = (mini.clone(), req.workdir.unwrap_or_default());
    tokio::spawn(async move {
        // The exit task: the future resolves after the drain; publish,
        // then wake waiters, then feed the PathStore (the agent's order).
        let status = spawned.exit.await;
        yield_point("selftest.exit.before_publish").await;
        if let Ok(mut s) = proc.state.lock() {
            s.running = false;
            s.exit_code = Some(status.exit_code());
        }
        proc.buffer.close();
        m.trace
            .record("selftest.exit", format!("published {status:?}"));
        m.paths.add_paths(&[m.chat], &[workdir]).await;
    });
    Ok(Json(StartProcessResponse { id, started: true }))
}

#[derive(serde::Deserialize)]
struct OutputQuery {
    wait: Option<String>,
}

async fn output(
    State(mini): State<Arc<Mini>>,
    Path(id): Path<String>,
    Query(q): Query<OutputQuery>,
) -> Result<Json<ProcessOutputResponse>, StatusCode> {
    let proc = mini
        .procs
        .lock()
        .ok()
        .and_then(|p| p.get(&id).cloned())
        .ok_or(StatusCode::NOT_FOUND)?;
    if q.wait.as_deref() == Some("true") {
        let _ = tokio::time::timeout(WAIT_CAP, proc.buffer.wait_closed()).await;
    }
    let ((running, exit_code), (output, truncated)) = if mini.bugs.is_on(Bug::StaleOutputRead) {
        sim_hooks::bug_taken(Bug::StaleOutputRead);
        let out = proc.buffer.output();
        yield_point("selftest.output.between_reads").await;
        (proc.info(), out)
    } else {
        let info = proc.info();
        yield_point("selftest.output.between_reads").await;
        (info, proc.buffer.output())
    };
    Ok(Json(ProcessOutputResponse {
        output,
        truncated,
        running,
        exit_code,
    }))
}

/// Subscribes first, then reads (the fixed order of R2), and records the
/// paths seen after every notification.
async fn watch_paths(mini: Arc<Mini>, watched: Arc<Mutex<Option<Vec<String>>>>) {
    let mut sub = mini.paths.subscribe(mini.chat);
    let record = |paths: Option<Vec<String>>| {
        mini.trace.record("selftest.watch", format!("{paths:?}"));
        if let Ok(mut w) = watched.lock() {
            *w = paths;
        }
    };
    record(mini.paths.get_paths(mini.chat));
    while sub.changed().await.is_some() {
        record(mini.paths.get_paths(mini.chat));
    }
}

/// Checks one answer against the invariant and returns whether it was
/// final.
fn check_answer(inv: &Invariants, exp: &Expected, who: &str, r: &ProcessOutputResponse) -> bool {
    if r.running {
        return false;
    }
    inv.check(
        "final-output-complete",
        r.output == exp.output && r.exit_code == Some(exp.exit_code),
        || {
            format!(
                "{who}: running=false with {} output bytes and exit {}",
                exp.output.len(),
                exp.exit_code
            )
        },
        || {
            format!(
                "{who}: running=false with {} output bytes and exit {:?}",
                r.output.len(),
                r.exit_code
            )
        },
    );
    true
}

async fn drive(inv: Invariants, trace: Trace, exp: Expected, readers: u32, mut sleeps: ChaCha8Rng) {
    let conn = Arc::new(HttpAgentConn::new(TurmoilConnector::agent("agent")));
    let req = StartProcessRequest {
        command: COMMAND.into(),
        workdir: Some(PROJECT.into()),
        ..StartProcessRequest::default()
    };
    let body = Bytes::from(serde_json::to_vec(&req).unwrap_or_default());
    let started: StartProcessResponse =
        match conn.send_json(Method::POST, "/start", Some(body)).await {
            Ok(s) => s,
            Err(e) => {
                inv.fail("calls-succeed", "a started process", e);
                return;
            }
        };
    trace.record("client.started", started.id.clone());

    let mut tasks = Vec::new();
    for r in 0..readers {
        let (conn, inv, exp, trace) = (conn.clone(), inv.clone(), exp.clone(), trace.clone());
        let gaps: Vec<u64> = (0..200).map(|_| sleeps.random_range(1..=15)).collect();
        let path = format!("/output/{}", started.id);
        tasks.push(tokio::spawn(async move {
            let who = format!("poller {r}");
            for gap in gaps {
                match conn
                    .send_json::<ProcessOutputResponse>(Method::GET, &path, None)
                    .await
                {
                    Ok(resp) => {
                        trace.record(
                            "client.output",
                            format!(
                                "{who}: running={} {} bytes",
                                resp.running,
                                resp.output.len()
                            ),
                        );
                        if check_answer(&inv, &exp, &who, &resp) {
                            return;
                        }
                    }
                    Err(e) => {
                        inv.fail("calls-succeed", "an output answer", format!("{who}: {e}"));
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(gap)).await;
            }
            inv.fail("poller-sees-exit", "running=false within 200 polls", who);
        }));
    }
    let (c, i, e, t) = (conn.clone(), inv.clone(), exp.clone(), trace.clone());
    let path = format!("/output/{}?wait=true", started.id);
    tasks.push(tokio::spawn(async move {
        match c
            .send_json::<ProcessOutputResponse>(Method::GET, &path, None)
            .await
        {
            Ok(resp) => {
                t.record("client.waited", format!("running={}", resp.running));
                let final_answer = check_answer(&i, &e, "waiter", &resp);
                i.check(
                    "wait-returns-final",
                    final_answer,
                    || "running=false".into(),
                    || "running=true".into(),
                );
            }
            Err(err) => i.fail("calls-succeed", "a waited answer", err),
        }
    }));
    for task in tasks {
        if let Err(e) = task.await {
            inv.fail("client-tasks-complete", "every client task finishes", e);
        }
    }
    // Let the agent finish what follows the exit (the PathStore feed)
    // before the run ends and the end-of-run checks look.
    tokio::time::sleep(SETTLE).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner;
    use crate::seed::Seed;
    use crate::testkit;

    #[test]
    fn the_fixed_model_passes_every_seed() {
        testkit::check_passes(&HarnessSelfTest, 0..64);
    }

    #[test]
    fn the_stale_read_is_caught_within_64_seeds() {
        testkit::check_catches(&HarnessSelfTest, Bug::StaleOutputRead, 64);
    }

    #[test]
    fn the_same_seed_gives_a_byte_identical_trace() {
        testkit::check_deterministic(&HarnessSelfTest, 0..4, &BugSet::none());
        testkit::check_deterministic(
            &HarnessSelfTest,
            0..4,
            &BugSet::none().with(Bug::StaleOutputRead),
        );
    }

    #[test]
    fn different_seeds_explore_different_runs() {
        let hashes: std::collections::BTreeSet<u64> = (0..20)
            .map(|s| runner::run(&HarnessSelfTest, Seed(s), &BugSet::none()).trace_hash)
            .collect();
        assert!(
            hashes.len() >= 18,
            "only {} distinct runs of 20",
            hashes.len()
        );
    }

    #[test]
    fn a_run_counts_its_yield_points_and_the_bug_branch() {
        let bugs = BugSet::none().with(Bug::StaleOutputRead);
        let outcome = runner::run(&HarnessSelfTest, Seed(1), &bugs);
        let hits = &outcome.coverage.yield_hits;
        for point in [
            "selftest.output.between_reads",
            "selftest.exit.before_publish",
            "pathstore.between_store_and_notify",
        ] {
            assert!(
                hits.get(point).copied().unwrap_or(0) > 0,
                "{point}: {hits:?}"
            );
        }
        assert!(
            outcome
                .coverage
                .bugs_taken
                .get("stale-output-read")
                .copied()
                .unwrap_or(0)
                > 0
        );
        let hosts: std::collections::BTreeSet<&str> =
            outcome.events.iter().map(|e| &*e.host).collect();
        assert_eq!(hosts, ["agent", "client", "world"].into_iter().collect());
    }
}
