//! `agent-restart`: the agent host crashes in the middle of calls and
//! comes back (turmoil `crash`, then `bounce` after a seeded downtime,
//! possibly none). Its process table and PathStore are in memory and lost;
//! the filesystem and the repository survive.
//!
//! Meanwhile, each on its own client host:
//! * `chatd` runs an `execute` of a long job (in flight at the crash), and
//!   once the agent is back an `execute` of a fresh job and a
//!   `process_output` on the lost process;
//! * `sdk-user` makes a bare SDK blocking read (`wait=true`, no timeout of
//!   its own) on a background server process;
//! * `watcher` keeps the chat's git watch, with the client-side reconnect
//!   loop a chat keeps: on each (re)connection it re-adds its path by
//!   writing a file with its chat id (the PathStore forgot it), then waits
//!   for a `changes` message showing that write.
//!
//! Invariants:
//! * `clear-error-not-hang`: every request in flight at the crash fails
//!   within [`CRASH_BOUND`] (a crashed process's sockets are closed by its
//!   OS, so the peer sees the connection end): the bare SDK read gets a
//!   transport error, the watch stream ends. A *new* connection to the
//!   down host is neither accepted nor refused: turmoil keeps its SYN until
//!   the host is back, as TCP keeps retransmitting one, so only a timeout
//!   bounds it. The `execute` cut by the crash therefore answers within
//!   [`CRASH_BOUND`] plus its snapshot budget (its wait fails at once; its
//!   one snapshot waits for the agent, which answers 404, or gives up at the
//!   budget), always with the process id; and the watch's reconnect loop
//!   puts [`CONNECT_TIMEOUT`] on each attempt.
//! * `tool-result-is-true-or-names-process` (as in `flaky-network`), and
//!   every tool call returns within its timeout plus the margin.
//! * `watch-resumes`: a `changes` message showing the write made after the
//!   restart arrives within [`RESUME_BOUND`] of the agent coming back.
//! * `agent-serves-after-restart`: the fresh job's `execute` returns its
//!   true result; `process_output` on the lost id is a 404 failure.
//!
//! `no-snapshot-fallback` is caught on every seed: the interrupted wait is
//! a transport error, and the buggy tool returns it without the id.
//!
//! The outage is drawn at half the scale first used: the crash comes 200
//! to 750 ms into the run and the agent stays down up to 750 ms (or not at
//! all). What is checked is relative to the crash and the restart (the
//! bounds above), so only the seconds simulated per seed shrink; the
//! agent's own timers (the 1 s scan cooldown) keep their values.

use std::time::Duration;

use agent_sdk::{AgentConn, OutputOptions, ServerMessage, StartProcessRequest};
use futures::StreamExt;
use harness::prelude::*;
use serde_json::json;
use tokio::time::Instant;

use crate::common::tools::{
    CHATD, Client, Job, SNAPSHOT_BUDGET, Told, answer, check_execute, describe,
};
use crate::common::{AGENT, agent_host, chat_id, connect_as, seed_repo};
use crate::invariants::{
    AGENT_SERVES_AFTER_RESTART, CALLS_SUCCEED, CLEAR_ERROR_NOT_HANG, WATCH_RESUMES,
};

/// See the module docs.
pub const AGENT_RESTART: ScenarioSpec = ScenarioSpec {
    name: "agent-restart",
    summary: "the agent crashes mid-call and restarts: clear errors, no hang, the git watch reconnects and resumes",
    catches: &[Catch {
        bug: Bug::NoSnapshotFallback,
        within: 8,
    }],
    config: SimConfig {
        min_latency: LATENCY,
        max_latency: LATENCY,
        duration: Duration::from_secs(30),
        ..SimConfig::DEFAULT
    },
    build,
};

/// How soon after the crash a request in flight fails: the FIN of the dead
/// sockets takes one message latency (at most 5 ms here) and the tick. 50 ms
/// is ample and still far below any timeout in play.
pub const CRASH_BOUND: Duration = Duration::from_millis(50);

/// Each reconnect attempt of the watch gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How soon after the agent is back the watch shows the re-added path:
/// an attempt pending at the restart is accepted then (its SYN was kept),
/// else the next comes within [`RECONNECT_EVERY`]; then the WebSocket
/// handshake, the write, and one scan (at most one 1 s scan cooldown if a
/// scan had just run), with network headroom.
pub const RESUME_BOUND: Duration = Duration::from_secs(2);

/// The watch's reconnect interval.
pub const RECONNECT_EVERY: Duration = Duration::from_millis(100);

/// The file the chat writes to get its path (back) into the PathStore.
const NOTES: &str = "notes.md";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// When the agent goes down and comes back, from the start of the run.
#[derive(Clone, Copy, Debug)]
struct Outage {
    crash_at: Duration,
    back_at: Duration,
}

impl Outage {
    /// The crash and the restart as instants of the sim clock (every host
    /// starts at zero).
    fn instants(self) -> (Instant, Instant) {
        let start = Instant::now();
        (start + self.crash_at, start + self.back_at)
    }
}

/// The host making a bare SDK call.
pub const SDK_USER: &str = "sdk-user";
/// The host keeping the chat's git watch.
pub const WATCHER: &str = "watcher";

/// The one latency of every link. A crash sends the FIN of every dying
/// connection at once, in tokio's task-teardown order, which follows
/// process-global task ids rather than the seed; with a fixed latency and
/// one in-flight connection per client host, that order cannot reach the
/// trace (turmoil steps hosts in a fixed order).
const LATENCY: Duration = Duration::from_millis(3);

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let chat = chat_id(&mut rng);
    let long = Job::foreground(
        "long-build",
        Script::new()
            .write("building\n")
            .sleep(ms(rng.random_range(3_000..=5_000)))
            .write("built\n"),
        ms(6_000),
    );
    let fresh_script = Script::new()
        .write("checking\n")
        .sleep(ms(rng.random_range(50..=500)))
        .write("ok\n")
        .exit([0, 1][rng.random_range(0..2)]);
    let fresh = Job::foreground("fresh-check", fresh_script, ms(3_000));
    let server = Script::new()
        .write("listening\n")
        .sleep(Duration::from_secs(60));

    let mut faults = world.rng(stream::FAULTS);
    let crash_at = ms(faults.random_range(200..=750));
    let downtime = if faults.random_bool(0.2) {
        Duration::ZERO
    } else {
        ms(faults.random_range(1..=750))
    };
    let outage = Outage {
        crash_at,
        back_at: crash_at + downtime,
    };

    let parts = agent_host(world, seed_repo);
    for job in [&long, &fresh] {
        parts
            .scripts
            .insert(job.command.clone(), job.script.clone());
    }
    parts.scripts.insert("dev-server", server);
    world.fault(outage.crash_at, Fault::Crash(AGENT.into()));
    world.fault(outage.back_at, Fault::Bounce(AGENT.into()));

    // One host per in-flight connection (see `config`).
    let client = |world: &SimWorld<'_>| Client::new(world, connect_as(chat));
    let (chatd, user, watcher) = (client(world), client(world), client(world));
    world.client(CHATD, async move {
        let (crash, back) = outage.instants();
        let lost = interrupted_execute(chatd.clone(), crash, long).await;
        after_restart(&chatd, back, fresh, lost).await;
        Ok(())
    });
    world.client(SDK_USER, async move {
        let (crash, _) = outage.instants();
        bare_blocking_read(user, crash).await;
        Ok(())
    });
    world.client(WATCHER, async move {
        let (crash, back) = outage.instants();
        watch(watcher, chat, crash, back).await;
        Ok(())
    });
}

/// Checks that something that failed at `now` did so within `bound` of
/// the crash (it was in flight then).
fn check_failed_promptly(c: &Client, what: &str, crash: Instant, bound: Duration) {
    let now = Instant::now();
    c.inv.check(
        CLEAR_ERROR_NOT_HANG,
        now >= crash && now <= crash + bound,
        || format!("{what} fails within {bound:?} after the crash"),
        || {
            if now < crash {
                format!("it ended {:?} before the crash", crash - now)
            } else {
                format!("it ended {:?} after the crash", now - crash)
            }
        },
    );
}

/// The long job's `execute`, in flight when the agent crashes. Returns the
/// id the tool gave.
async fn interrupted_execute(c: Client, crash: Instant, job: Job) -> Option<String> {
    let r = c.call("execute", job.execute_args(), job.timeout).await;
    let a = answer(&c.inv, "execute", &r)?;
    let told = check_execute(&c.inv, &job, &a);
    c.inv.check(
        CLEAR_ERROR_NOT_HANG,
        matches!(told, Told::Id(_)) && !a.error.is_empty(),
        || "execute of a job cut by the crash: an error with the process id".into(),
        || describe(&a),
    );
    check_failed_promptly(
        &c,
        "execute cut by the crash",
        crash,
        CRASH_BOUND + SNAPSHOT_BUDGET,
    );
    match told {
        Told::Id(id) => Some(id),
        _ => None,
    }
}

/// A plain SDK user: start a server, block on its output with no timeout.
async fn bare_blocking_read(c: Client, crash: Instant) {
    let req = StartProcessRequest {
        command: "dev-server".into(),
        background: true,
        ..StartProcessRequest::default()
    };
    let id = match c.conn.start_process(&req).await {
        Ok(r) => r.id,
        Err(e) => return c.inv.fail(CALLS_SUCCEED, "a started server", e),
    };
    let r = c
        .conn
        .process_output(&id, OutputOptions { wait: true })
        .await;
    c.trace.record(
        "chatd.blocking_read",
        format!("{r:?}").chars().take(200).collect::<String>(),
    );
    c.inv.check(
        CLEAR_ERROR_NOT_HANG,
        r.as_ref().is_err_and(|e| e.is_transport()),
        || "the blocking read of a process killed by the crash: a transport error".into(),
        || format!("{r:?}"),
    );
    check_failed_promptly(&c, "the blocking read", crash, CRASH_BOUND);
}

/// The git watch with its reconnect loop; done once a `changes` message
/// shows the write made after the restart.
async fn watch(c: Client, chat: uuid::Uuid, crash: Instant, back: Instant) {
    let file = format!("{PROJECT}/{NOTES}");
    let mut generation = 0u32;
    let give_up = back + RESUME_BOUND;
    loop {
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, c.conn.watch_git(Some(chat))).await;
        let attempt = attempt.unwrap_or_else(|_| {
            Err(agent_sdk::SdkError::Transport {
                method: "GET".into(),
                url: "git watch".into(),
                reason: format!("no connection within {CONNECT_TIMEOUT:?}"),
            })
        });
        let mut w = match attempt {
            Ok(w) => w,
            Err(e) => {
                c.inv.check(
                    CLEAR_ERROR_NOT_HANG,
                    Instant::now() >= crash,
                    || "the watch connects while the agent is up".into(),
                    || e.to_string(),
                );
                if Instant::now() > give_up {
                    c.inv.fail(
                        WATCH_RESUMES,
                        format!("a watch within {RESUME_BOUND:?} of the restart"),
                        e,
                    );
                    return;
                }
                tokio::time::sleep(RECONNECT_EVERY).await;
                continue;
            }
        };
        let after_restart = Instant::now() >= back;
        c.trace
            .record("chatd.watching", format!("generation {generation}"));
        // The PathStore may have forgotten us: add the path again.
        let marker = format!("generation {generation}");
        if let Err(e) = c
            .conn
            .write_file(&file, format!("{marker}\n").into_bytes())
            .await
        {
            c.trace.record("chatd.write_failed", e.to_string());
            generation += 1;
            continue;
        }
        loop {
            let next =
                tokio::time::timeout_at(give_up.max(Instant::now()) + RESUME_BOUND, w.next()).await;
            match next {
                Ok(Some(Ok(ServerMessage::Changes { repositories, .. }))) => {
                    let seen = repositories
                        .iter()
                        .any(|r| r.repo_root == PROJECT && r.unified_diff.contains(&marker));
                    if seen {
                        c.trace.record("chatd.watch_saw", marker.clone());
                    }
                    if seen && after_restart {
                        c.inv.check(
                            WATCH_RESUMES,
                            Instant::now() <= back + RESUME_BOUND,
                            || format!("the re-added path's changes within {RESUME_BOUND:?} of the restart"),
                            || format!("{:?} after it", Instant::now() - back),
                        );
                        let _ = w.close().await;
                        return;
                    }
                }
                Ok(Some(Ok(ServerMessage::Error { message }))) => {
                    c.inv.fail(WATCH_RESUMES, "no error message", message);
                    return;
                }
                Ok(None) | Ok(Some(Err(_))) => {
                    c.trace
                        .record("chatd.watch_ended", format!("generation {generation}"));
                    check_failed_promptly(&c, "the git watch", crash, CRASH_BOUND);
                    break;
                }
                Err(_) => {
                    c.inv.fail(
                        WATCH_RESUMES,
                        "a changes message or the watch's end",
                        "nothing: the watch hangs",
                    );
                    return;
                }
            }
        }
        generation += 1;
    }
}

/// Once the agent is back: a fresh job gives its true result, and the
/// process the crash took is a prompt failure.
async fn after_restart(c: &Client, back: Instant, fresh: Job, lost: Option<String>) {
    tokio::time::sleep_until(back).await;
    let mut served = false;
    for _ in 0..10 {
        let r = c.call("execute", fresh.execute_args(), fresh.timeout).await;
        let Some(a) = answer(&c.inv, "execute", &r) else {
            return;
        };
        match check_execute(&c.inv, &fresh, &a) {
            Told::Finished => {
                served = true;
                break;
            }
            // The listener may not be up in the very step of the bounce.
            Told::StartFailed => tokio::time::sleep(RECONNECT_EVERY).await,
            Told::Id(_) => break,
        }
    }
    c.inv.check(
        AGENT_SERVES_AFTER_RESTART,
        served,
        || format!("{}: its true result within 10 attempts", fresh.command),
        || "no result".into(),
    );
    if let Some(id) = lost {
        let wait = ms(1_000);
        let args = json!({"process_id": id, "wait_timeout": "1s"});
        let r = c.call("process_output", args, Some(wait)).await;
        if let Some(a) = answer(&c.inv, "process_output", &r) {
            c.inv.check(
                AGENT_SERVES_AFTER_RESTART,
                !a.success && a.error.contains("404"),
                || format!("process_output on {id}, lost with the old agent: a 404 failure"),
                || describe(&a),
            );
        }
    }
}
