//! `flaky-network` (races R3 tool half, R11, R12 in `docs/races.md`): the chat
//! tools (`execute`, `process_output`) run on a `chatd` host over the SDK while
//! the link to the agent suffers seeded latency spikes, holds and partitions
//! (turmoil's network controls, through the fault plan).
//!
//! Invariants:
//! * `tool-result-is-true-or-names-process`: a tool answers with the
//!   process's true result (output, truncation and exit code as scripted),
//!   with output so far for a process still running, or with an error that
//!   names the process: `execute` carries it as `background_process_id` (the
//!   field the model re-attaches with); `process_output` is called with the
//!   id, and its errors are failures about that id (the SDK's error texts
//!   carry it in the URL, except the original's bare `context deadline
//!   exceeded`).
//!   The one exception is the original's own R11: a start that fails (`start
//!   process: ...`) has no id to give.
//! * `partial-output-is-a-prefix`: output of a running process (not yet
//!   truncated) is a prefix of what the script writes.
//! * `tool-call-bounded`: no call outlives its timeout plus [`MARGIN`].
//!   After its deadline a tool makes exactly one more request, the
//!   non-blocking snapshot bounded by its own budget ([`SNAPSHOT_BUDGET`]
//!   here, 30 s in the original), so the margin is that budget plus the timer
//!   slack of the simulation's tick.
//! * `no-output-lost`: once the network has healed, every scripted process
//!   the agent knows (orphans of failed starts included) reports exactly
//!   its scripted output (modulo head/tail truncation) and exit code, and
//!   the ids the tools gave are the agent's.
//!
//! The agent's wait cap is [`MAX_WAIT`] instead of 5 minutes: `execute`
//! re-issues its blocking read each time the cap answers "running" (R12's
//! immediate re-issue), so a call makes a new connection every
//! [`MAX_WAIT`], and one of them meeting a partition is a transport error
//! (connection refused) in the middle of a wait. That is the case
//! `no-snapshot-fallback` gets wrong: it returns the bare error without the
//! process id. Background starts have no timeout at all (the parent
//! context), so they happen before the first fault.
//!
//! Time is scaled to half of what the scenario first used (jobs run 50 ms
//! to 2 s, tool timeouts are 0.5 to 2 s, fault episodes last 50 to 750 ms,
//! the wait cap is 200 ms); only the link's base latency (2 to 8 ms) and
//! the simulation's tick keep their values. What the invariants judge is
//! the order of events (a wait cut by a fault, a re-issue meeting a
//! partition), never an absolute figure, and the shortest window (25 ms
//! between episodes or polls) stays three times the longest base latency.
//! Halved, a seed simulates about 3 s instead of 6 s.
//!
//! [`MARGIN`]: crate::common::tools::MARGIN
//! [`SNAPSHOT_BUDGET`]: crate::common::tools::SNAPSHOT_BUDGET

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agent_sdk::{AgentConn, OutputOptions};
use harness::fault::{EpisodeSpec, Episodes};
use harness::prelude::*;
use serde_json::json;
use tokio::time::Instant;

use crate::common::tools::{
    Answer, CHATD, Client, Job, Told, answer, check_execute, check_partial, check_true_result,
    describe,
};
use crate::common::{AGENT, FinalResult, connect};
use crate::invariants::{
    CLIENT_TASKS_COMPLETE, NO_OUTPUT_LOST, TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS,
};

/// See the module docs.
pub const FLAKY_NETWORK: ScenarioSpec = ScenarioSpec {
    name: "flaky-network",
    summary: "execute/process_output under latency, holds and partitions: true result or the process id, bounded, no output lost",
    catches: &[Catch {
        bug: Bug::NoSnapshotFallback,
        within: 64,
    }],
    config: SimConfig {
        min_latency: BASE_LATENCY.0,
        max_latency: BASE_LATENCY.1,
        duration: Duration::from_secs(60),
        ..SimConfig::DEFAULT
    },
    build,
};

/// The agent's cap on a blocking output read (`maxWaitDuration`).
pub const MAX_WAIT: Duration = Duration::from_millis(200);

/// The link's normal latency.
const BASE_LATENCY: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(8));

/// How many `process_output` calls the model makes on one process at most.
const MAX_POLLS: usize = 40;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Lines of at most ~80 bytes (so line capping never applies and a
/// partial answer is a prefix of the whole), now and then enough of them
/// for the head/tail buffer to truncate.
fn job_script(rng: &mut ChaCha8Rng, n: usize) -> Script {
    let chunks = rng.random_range(1..=5);
    let runtime = rng.random_range(50..=2_000u64);
    let mut script = Script::new();
    for i in 0..chunks {
        script = script.sleep(ms(runtime / chunks));
        let lines = if rng.random_bool(0.1) {
            rng.random_range(300..=500)
        } else {
            rng.random_range(1..=20)
        };
        let body: String = (0..lines)
            .map(|l| format!("job{n} chunk{i} line{l} {}\n", "x".repeat(l % 50)))
            .collect();
        script = script.write(body);
    }
    script.exit([0, 0, 1, 2][rng.random_range(0..4)])
}

fn plan(rng: &mut ChaCha8Rng) -> Vec<Job> {
    let foreground = rng.random_range(2..=3);
    (0..=foreground)
        .map(|n| {
            let script = job_script(rng, n);
            // Job 0 runs in the background, started before any fault.
            let (timeout, start_at) = if n == 0 {
                (None, Duration::ZERO)
            } else {
                (
                    Some(ms(rng.random_range(500..=2_000))),
                    ms(rng.random_range(0..=750)),
                )
            };
            Job {
                command: format!("job-{n}"),
                expected: FinalResult::of(&script),
                script,
                timeout,
                start_at,
                polls: (0..MAX_POLLS)
                    .map(|_| {
                        (
                            ms(rng.random_range(250..=1_500)),
                            ms(rng.random_range(25..=150)),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

fn episodes(rng: &mut ChaCha8Rng) -> Episodes {
    let spec = EpisodeSpec {
        a: CHATD.into(),
        b: AGENT.into(),
        base: BASE_LATENCY,
        count: 3..=6,
        first: ms(50)..ms(250),
        gap: ms(25)..ms(200),
        hold: ms(50)..ms(600),
        partition: ms(50)..ms(500),
        spike: ms(150)..ms(750),
        spike_max: ms(15)..ms(150),
    };
    Episodes::draw(&spec, rng)
}

fn build(world: &mut SimWorld<'_>) {
    let jobs = plan(&mut world.rng(stream::WORKLOAD));
    let faults = episodes(&mut world.rng(stream::FAULTS));
    let config = agent::AgentConfig {
        max_wait: MAX_WAIT,
        ..agent_config(world.bugs())
    };
    let parts = harness::agent_host::host_agent(world, config, |_| {});
    for job in &jobs {
        parts
            .scripts
            .insert(job.command.clone(), job.script.clone());
    }
    for (at, fault) in faults.faults {
        world.fault(at, fault);
    }
    let client = Client::new(world, connect());
    world.client(CHATD, drive(client, jobs, faults.healed_at));
}

/// Checks one `process_output` answer; returns whether the model saw the
/// process finish.
fn check_output(inv: &Invariants, job: &Job, id: &str, a: &Answer) -> bool {
    let who = format!("process_output {} ({id})", job.command);
    if !a.error.is_empty() {
        // The model named the process in the call; the error text names it
        // too (the SDK's URL) except for a deadline, which is the original's
        // bare `context deadline exceeded`.
        inv.check(
            TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS,
            !a.success && a.output.is_empty(),
            || format!("{who}: a failure without output"),
            || describe(a),
        );
        return false;
    }
    if a.note == chat_tools::result::STILL_RUNNING_NOTE {
        check_partial(inv, &who, a, &job.script);
        return false;
    }
    check_true_result(inv, &who, a, &job.expected);
    true
}

/// One job as the model runs it: execute, then process_output on the id
/// until the process is seen to finish.
async fn run_job(c: Client, job: Job) -> Told {
    tokio::time::sleep(job.start_at).await;
    let r = c.call("execute", job.execute_args(), job.timeout).await;
    let Some(a) = answer(&c.inv, "execute", &r) else {
        return Told::StartFailed;
    };
    let told = check_execute(&c.inv, &job, &a);
    let Told::Id(id) = &told else {
        return told;
    };
    for (wait, think) in &job.polls {
        tokio::time::sleep(*think).await;
        let args = json!({"process_id": id, "wait_timeout": format!("{}ms", wait.as_millis())});
        let r = c.call("process_output", args, Some(*wait)).await;
        let Some(a) = answer(&c.inv, "process_output", &r) else {
            break;
        };
        if check_output(&c.inv, &job, id, &a) {
            break;
        }
    }
    told
}

async fn drive(c: Client, jobs: Vec<Job>, healed_at: Duration) -> turmoil::Result {
    let start = Instant::now();
    let told: Arc<Mutex<BTreeMap<String, Told>>> = Arc::default();
    let tasks: Vec<_> = jobs
        .iter()
        .cloned()
        .map(|job| {
            let (c, told) = (c.clone(), told.clone());
            tokio::spawn(async move {
                let command = job.command.clone();
                let t = run_job(c, job).await;
                told.lock().insert(command, t);
            })
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            c.inv
                .fail(CLIENT_TASKS_COMPLETE, "every tool task finishes", e);
        }
    }
    // The final check runs on a healed network.
    tokio::time::sleep_until(start + healed_at).await;
    let told = told.lock().clone();
    final_check(&c, &jobs, &told).await;
    Ok(())
}

/// `no-output-lost`: every process the agent knows finishes with its
/// scripted output, and the ids the tools gave are the agent's.
async fn final_check(c: &Client, jobs: &[Job], told: &BTreeMap<String, Told>) {
    let list = match c.conn.list_processes().await {
        Ok(l) => l,
        Err(e) => return c.inv.fail(NO_OUTPUT_LOST, "a process list", e),
    };
    for job in jobs {
        let ids: Vec<&str> = list
            .processes
            .iter()
            .filter(|p| p.command == job.command)
            .map(|p| p.id.as_str())
            .collect();
        c.trace.record(
            "chatd.final",
            format!(
                "{}: told {:?}, the agent has {ids:?}",
                job.command,
                told.get(&job.command)
            ),
        );
        let ok = match told.get(&job.command) {
            Some(Told::Id(id)) => ids == [id.as_str()],
            Some(Told::Finished) => ids.len() == 1,
            // R11: the start may or may not have reached the agent.
            Some(Told::StartFailed) | None => ids.len() <= 1,
        };
        c.inv.check(
            NO_OUTPUT_LOST,
            ok,
            || {
                format!(
                    "{}: one process, as told {:?}",
                    job.command,
                    told.get(&job.command)
                )
            },
            || format!("processes {ids:?}"),
        );
        for id in ids {
            check_final_output(c, job, id).await;
        }
    }
}

async fn check_final_output(c: &Client, job: &Job, id: &str) {
    let exp = &job.expected;
    for _ in 0..MAX_POLLS {
        match c
            .conn
            .process_output(id, OutputOptions { wait: true })
            .await
        {
            Ok(r) if r.running => continue,
            Ok(r) => {
                c.inv.check(
                    NO_OUTPUT_LOST,
                    exp.is_met_by(&r),
                    || format!("{} ({id}): {}", job.command, exp.described()),
                    || FinalResult::describe_answer(&r),
                );
                return;
            }
            Err(e) => return c.inv.fail(NO_OUTPUT_LOST, "a final snapshot", e),
        }
    }
    c.inv.fail(
        NO_OUTPUT_LOST,
        format!("{} ({id}) exits", job.command),
        "still running",
    );
}
