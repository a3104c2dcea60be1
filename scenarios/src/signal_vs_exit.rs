//! `signal-vs-exit` (races R10 and R4 in `docs/races.md`): signals sent while
//! a process exits.
//!
//! Scripted processes run for a seeded time (some leave a grandchild
//! draining the pipe a little longer); several signallers each send one
//! signal at a seeded moment around the exit, and one waiter makes the
//! blocking output call. Invariants:
//!
//! - `signal-answers-200-or-409`: a signal racing the exit is delivered
//!   (200) or finds the process gone (409), never 500 (R10; the group can
//!   vanish between the running check and the send). Catches
//!   `signal-esrch-500`.
//! - `exit-code-kept`: the exit code is never lost (R4). A *stubborn*
//!   process ignores `terminate` (the only signal it gets), so it must
//!   report exactly its script's output and exit code; a *mortal* one may
//!   report -1 only if some signal to it was delivered. Catches
//!   `reaper-steals` (a reap-everything loop taking the status first).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_sdk::{AgentConn, OutputOptions, ProcessOutputResponse, SdkError};
use harness::prelude::*;
use harness::sim_exec::OnTerminate;
use tokio::time::Instant;

use crate::common::{
    FinalResult, connect, host_jobs, join_task, join_tasks, offset_by, racy_config,
    start_in_project,
};
use crate::invariants::{
    CALLS_SUCCEED, EXIT_CODE_KEPT, SIGNAL_ANSWERS_200_OR_409, WAIT_RETURNS_FINAL,
};

/// See the module docs.
pub const SIGNAL_VS_EXIT: ScenarioSpec = ScenarioSpec {
    name: "signal-vs-exit",
    summary: "signals racing a process's exit get 200 or 409, never 500 (R10), and the exit code is never lost (R4)",
    catches: &[
        Catch {
            bug: Bug::SignalEsrch500,
            within: 32,
        },
        Catch {
            bug: Bug::ReaperSteals,
            within: 32,
        },
    ],
    // A signal that checked "running" just before the exit must still be
    // in flight when the group vanishes: longer sleeps at the yield
    // points between check and send, and between drain and publish.
    config: racy_config(Duration::from_secs(20), Duration::from_millis(10)),
    build,
};

/// How a process takes signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Ignores `terminate` and only ever gets `terminate`: its result is
    /// exactly its script's.
    Stubborn,
    /// Dies of `kill` and `terminate`.
    Mortal,
}

/// One signal: when (relative to the process's scripted exit) and which.
#[derive(Clone, Debug)]
struct Shot {
    /// Milliseconds after the scripted exit (negative: before).
    offset_ms: i64,
    signal: &'static str,
}

/// One process of the workload and how it is signalled.
#[derive(Clone, Debug)]
struct Job {
    command: String,
    kind: Kind,
    script: Script,
    /// Everything the process and its grandchild write, in order.
    output: String,
    exit_code: i32,
    /// The shell's running time.
    runtime: Duration,
    shots: Vec<Shot>,
}

fn job(rng: &mut ChaCha8Rng, n: usize) -> Job {
    let kind = if n == 0 || rng.random_bool(0.5) {
        Kind::Stubborn
    } else {
        Kind::Mortal
    };
    let reaction = match kind {
        Kind::Stubborn => OnTerminate::Ignore,
        Kind::Mortal => OnTerminate::Die,
    };
    let runtime = Duration::from_millis(rng.random_range(20..=300));
    let exit_code = [0, 0, 1, 2, 42][rng.random_range(0..5)];
    let (start, end) = (format!("job{n} start\n"), format!("job{n} end\n"));
    let mut script = Script::new()
        .write(start.clone())
        .sleep(runtime)
        .on_terminate(reaction);
    let mut output = start + &end;
    // R10's window is wider while a grandchild still holds the pipe.
    if rng.random_bool(0.3) {
        let late = format!("job{n} grandchild\n");
        let child = Script::new()
            .sleep(Duration::from_millis(rng.random_range(1..=20)))
            .write(late.clone())
            .on_terminate(reaction);
        script = script.background(child);
        output.push_str(&late);
    }
    let script = script.write(end).exit(exit_code);
    let shots = (0..rng.random_range(3..=8))
        .map(|_| Shot {
            offset_ms: rng.random_range(-15..=10),
            signal: match kind {
                Kind::Stubborn => "terminate",
                Kind::Mortal => ["kill", "terminate"][rng.random_range(0..2)],
            },
        })
        .collect();
    Job {
        command: format!("job-{n}"),
        kind,
        script,
        output,
        exit_code,
        runtime,
        shots,
    }
}

fn build(world: &mut SimWorld<'_>) {
    let jobs = host_jobs(world, 2..=3, job, |j| (j.command.clone(), j.script.clone()));
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world.client("client", drive(inv, trace, jobs));
}

/// Checks one signal's answer; returns whether it was delivered.
fn check_signal(inv: &Invariants, who: &str, answer: &Result<(), SdkError>) -> bool {
    match answer {
        Ok(()) => true,
        Err(e) if e.status() == Some(409) => false,
        Err(e) => {
            inv.fail(
                SIGNAL_ANSWERS_200_OR_409,
                format!("{who}: 200 or 409"),
                e.to_string(),
            );
            false
        }
    }
}

/// Checks the final answer of `job` given whether any signal reached it.
fn check_final(inv: &Invariants, job: &Job, delivered: bool, r: &ProcessOutputResponse) {
    let who = &job.command;
    if r.running {
        inv.fail(
            WAIT_RETURNS_FINAL,
            format!("{who}: running=false"),
            "running=true",
        );
        return;
    }
    match job.kind {
        Kind::Stubborn => {
            inv.check(
                EXIT_CODE_KEPT,
                r.output == job.output && r.exit_code == Some(job.exit_code),
                || {
                    format!(
                        "{who} (ignores terminate): {:?}, exit {}",
                        job.output, job.exit_code
                    )
                },
                || format!("{who}: {:?}, exit {:?}", r.output, r.exit_code),
            );
        }
        Kind::Mortal => {
            let allowed: &[i32] = if delivered {
                &[job.exit_code, -1]
            } else {
                &[job.exit_code]
            };
            inv.check(
                EXIT_CODE_KEPT,
                r.exit_code.is_some_and(|c| allowed.contains(&c)),
                || format!("{who} (signal delivered: {delivered}): exit code in {allowed:?}"),
                || format!("{who}: {}", FinalResult::describe_answer(r)),
            );
        }
    }
}

async fn drive(inv: Invariants, trace: Trace, jobs: Vec<Job>) -> turmoil::Result {
    let conn = connect();
    let mut runs = Vec::new();
    for job in jobs {
        let Some(id) = start_in_project(&conn, &inv, &job.command).await else {
            return Ok(());
        };
        let exits_at = Instant::now() + job.runtime;
        trace.record(
            "client.started",
            format!(
                "{} ({:?}, runs {:?}): {id}",
                job.command, job.kind, job.runtime
            ),
        );
        let delivered = Arc::new(Mutex::new(false));
        let mut tasks = Vec::new();
        for (k, shot) in job.shots.iter().cloned().enumerate() {
            let (conn, inv, trace, id) = (conn.clone(), inv.clone(), trace.clone(), id.clone());
            let delivered = delivered.clone();
            let who = format!("{} shot {k} ({})", job.command, shot.signal);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(offset_by(exits_at, shot.offset_ms)).await;
                let answer = conn.signal_process(&id, shot.signal).await;
                trace.record(
                    "client.signal",
                    format!(
                        "{who}: {}",
                        answer
                            .as_ref()
                            .map_or_else(|e| e.to_string(), |()| "200".into())
                    ),
                );
                if check_signal(&inv, &who, &answer)
                    && let Ok(mut d) = delivered.lock()
                {
                    *d = true;
                }
            }));
        }
        let (c, i) = (conn.clone(), inv.clone());
        let waiter = tokio::spawn(async move {
            match c.process_output(&id, OutputOptions { wait: true }).await {
                Ok(r) => Some(r),
                Err(e) => {
                    i.fail(CALLS_SUCCEED, "a waited answer", e);
                    None
                }
            }
        });
        runs.push((job, delivered, tasks, waiter));
    }
    for (job, delivered, tasks, waiter) in runs {
        join_tasks(&inv, tasks).await;
        if let Some(Some(r)) = join_task(&inv, waiter).await {
            let delivered = delivered.lock().map(|d| *d).unwrap_or(true);
            check_final(&inv, &job, delivered, &r);
        }
    }
    Ok(())
}
