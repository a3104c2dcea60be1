//! `blocking-wait` (race R7 in `docs/races.md`): blocking output calls
//! (`wait=true`) registered around the moment a process exits.
//!
//! Scripted processes run for a seeded time; for each, several waiters send
//! their blocking call at seeded moments, most of them within a few
//! milliseconds of the scripted exit (so some land between the handler's
//! "closed?" check and its await), a few right after the start or after
//! the exit. Invariants:
//!
//! - `waiter-wakes-promptly`: every answer arrives within one sim tick plus
//!   network latency (and the sleeps of the two yield points on its path)
//!   of the later of the exit and the request's arrival. The exit's moment is the agent's
//!   own `proc.exit` trace event, published right before the buffer closes.
//!   A lost wake-up instead sleeps until the 5-minute cap.
//! - `waiter-gets-final`: the answer is the final one (`running: false`,
//!   the script's output and exit code).
//!
//! Catches `lost-wakeup` (the waiter registers for the close only after
//! checking it).

use std::time::Duration;

use agent_sdk::{AgentConn, OutputOptions};
use harness::prelude::*;
use tokio::time::Instant;

use crate::common::{
    FinalResult, connect, host_jobs, join_tasks, offset_by, racy_config, start_in_project,
};
use crate::invariants::{CALLS_SUCCEED, WAITER_GETS_FINAL, WAITER_WAKES_PROMPTLY};

/// See the module docs.
pub const BLOCKING_WAIT: ScenarioSpec = ScenarioSpec {
    name: "blocking-wait",
    summary: "blocking output calls registered around a process's exit wake within a tick plus latency (R7)",
    catches: &[Catch {
        bug: Bug::LostWakeup,
        within: 64,
    }],
    // The window is between the waiter's check and its await: longer
    // sleeps there (and before the exit is published) let a close land
    // inside it.
    config: racy_config(Duration::from_secs(20), Duration::from_millis(12)),
    build,
};

/// How long a waiter waits for its answer before calling the wake-up lost
/// (far below the agent's 5-minute cap, far above any honest answer).
const PATIENCE: Duration = Duration::from_secs(2);

/// One process and the moments its waiters send their calls.
#[derive(Clone, Debug)]
struct Job {
    command: String,
    script: Script,
    runtime: Duration,
    /// Milliseconds relative to the scripted exit (negative: before).
    waiters: Vec<i64>,
}

fn job(rng: &mut ChaCha8Rng, n: usize) -> Job {
    let runtime_ms = rng.random_range(30..=300);
    let script = Script::new()
        .write(format!("job{n} start\n"))
        .sleep(Duration::from_millis(runtime_ms))
        .write(format!("job{n} done\n"))
        .exit([0, 0, 1, 7][rng.random_range(0..4)]);
    let runtime_ms = i64::try_from(runtime_ms).unwrap_or(i64::MAX);
    let waiters = (0..rng.random_range(4..=10))
        .map(|_| match rng.random_range(0..20) {
            // Right after the start: registered long before the exit.
            0..=2 => -runtime_ms,
            // After the exit: must answer at once.
            3..=5 => rng.random_range(5..=30),
            // Around the exit: the race.
            _ => rng.random_range(-15..=5),
        })
        .collect();
    Job {
        command: format!("job-{n}"),
        script,
        runtime: Duration::from_millis(runtime_ms.unsigned_abs()),
        waiters,
    }
}

fn build(world: &mut SimWorld<'_>) {
    let jobs = host_jobs(world, 1..=2, job, |j| (j.command.clone(), j.script.clone()));
    let config = &BLOCKING_WAIT.config;
    // From the later of exit and arrival to the answer: the tick the
    // close wakes the handler in, the answer's trip back, and the two
    // yield points on the way (between the wait's check and its await,
    // between the handler's two reads), whose sleeps stand in for
    // preemption. A lost wake-up is late by minutes, not milliseconds.
    let slack = config.tick * 2 + config.sched.max_sleep * 2 + config.max_latency;
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    // A call opens a fresh connection: the handshake's round trip, then
    // the request, before the handler runs.
    let arrival = config.max_latency * 3;
    world.client("client", drive(inv, trace, jobs, arrival, slack));
}

/// The sim time (since the start) of the agent's `proc.exit` for `id`.
fn exit_time(trace: &Trace, id: &str) -> Option<Duration> {
    let prefix = format!("{id} ");
    trace
        .events()
        .into_iter()
        .find(|e| e.kind == "proc.exit" && e.detail.starts_with(&prefix))
        .map(|e| e.at)
}

fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

async fn drive(
    inv: Invariants,
    trace: Trace,
    jobs: Vec<Job>,
    arrival: Duration,
    slack: Duration,
) -> turmoil::Result {
    let conn = connect();
    let mut tasks = Vec::new();
    for job in jobs {
        let Some(id) = start_in_project(&conn, &inv, &job.command).await else {
            return Ok(());
        };
        let exits_at = Instant::now() + job.runtime;
        trace.record(
            "client.started",
            format!("{} (runs {:?}): {id}", job.command, job.runtime),
        );
        let expected = FinalResult::of(&job.script);
        for (w, offset) in job.waiters.iter().copied().enumerate() {
            let (conn, inv, trace) = (conn.clone(), inv.clone(), trace.clone());
            let (id, expected) = (id.clone(), expected.clone());
            let who = format!("{} ({id}) waiter {w}", job.command);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(offset_by(exits_at, offset)).await;
                let sent = now();
                let call = conn.process_output(&id, OutputOptions { wait: true });
                let answer = match tokio::time::timeout(PATIENCE, call).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => return inv.fail(CALLS_SUCCEED, "a waited answer", e),
                    Err(_) => {
                        return inv.fail(
                            WAITER_WAKES_PROMPTLY,
                            format!("{who}: an answer within {slack:?} of the exit"),
                            format!(
                                "none {PATIENCE:?} after sending at {sent:?} ({})",
                                match exit_time(&trace, &id) {
                                    Some(at) => format!("the agent published the exit at {at:?}"),
                                    None => "the agent never published the exit".to_string(),
                                }
                            ),
                        );
                    }
                };
                let answered = now();
                trace.record("client.answer", format!("{who}: sent at {sent:?}"));
                let final_ok = !answer.running
                    && answer.output == expected.output
                    && answer.exit_code == Some(expected.exit_code);
                if !inv.check(
                    WAITER_GETS_FINAL,
                    final_ok,
                    || format!("{who}: {}", expected.described()),
                    || {
                        format!(
                            "running={} {}",
                            answer.running,
                            FinalResult::describe_answer(&answer)
                        )
                    },
                ) {
                    return;
                }
                let Some(exit) = exit_time(&trace, &id) else {
                    return inv.fail(
                        WAITER_GETS_FINAL,
                        format!("{who}: an answer after the agent's exit event"),
                        "no proc.exit event",
                    );
                };
                let due = exit.max(sent + arrival) + slack;
                inv.check(
                    WAITER_WAKES_PROMPTLY,
                    answered <= due,
                    || format!("{who}: answered by {due:?} (exit {exit:?}, sent {sent:?})"),
                    || format!("answered at {answered:?}"),
                );
            }));
        }
    }
    join_tasks(&inv, tasks).await;
    Ok(())
}
