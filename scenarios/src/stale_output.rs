//! `stale-output` (race R1 in `docs/races.md`): scripted processes write in
//! chunks and exit while clients read their output concurrently, plain and
//! `wait=true`. Invariant: an answer saying `running: false` carries the final
//! output and exit code. Catches `stale-output-read`.

use std::time::Duration;

use agent_sdk::{AgentConn, OutputOptions, ProcessOutputResponse};
use harness::prelude::*;

use crate::common::{FinalResult, connect, host_jobs, join_tasks, start_in_project};
use crate::invariants::{
    CALLS_SUCCEED, FINISHED_ANSWER_IS_FINAL, POLLER_SEES_EXIT, WAIT_RETURNS_FINAL,
};

/// See the module docs.
pub const STALE_OUTPUT: ScenarioSpec = ScenarioSpec {
    name: "stale-output",
    summary: "processes exit while clients read output; a finished answer must carry the final output (R1)",
    catches: &[Catch {
        bug: Bug::StaleOutputRead,
        within: 64,
    }],
    config: SimConfig {
        duration: Duration::from_secs(30),
        ..SimConfig::DEFAULT
    },
    build,
};

/// 2 to 8 chunks, now and then large ones so the head/tail buffer
/// truncates; the exit follows the last chunk at once.
fn job(rng: &mut ChaCha8Rng, n: usize) -> Script {
    let mut script = Script::new();
    for i in 0..rng.random_range(2..=8) {
        if i > 0 {
            script = script.sleep(Duration::from_millis(rng.random_range(0..=30)));
        }
        let len = if rng.random_bool(0.25) {
            rng.random_range(8_000..=40_000)
        } else {
            rng.random_range(1..=2_000)
        };
        let body: String = (0..len)
            .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
            .collect();
        script = script.write(format!("job{n} chunk{i} {body}\n"));
    }
    script.exit([0, 0, 1, 2, 127][rng.random_range(0..5)])
}

fn check(inv: &Invariants, exp: &FinalResult, who: &str, r: &ProcessOutputResponse) -> bool {
    if r.running {
        return false;
    }
    inv.check(
        FINISHED_ANSWER_IS_FINAL,
        exp.is_met_by(r),
        || format!("{who}: {}", exp.described()),
        || format!("{who}: {}", FinalResult::describe_answer(r)),
    );
    true
}

fn build(world: &mut SimWorld<'_>) {
    let jobs: Vec<(String, Script, u32)> = host_jobs(
        world,
        1..=2,
        |rng, n| (format!("job-{n}"), job(rng, n), rng.random_range(2..=3)),
        |(command, script, _)| (command.clone(), script.clone()),
    );
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    let mut gaps = world.rng("workload.gaps");
    let plan: Vec<(String, FinalResult, Vec<Vec<u64>>)> = jobs
        .iter()
        .map(|(cmd, script, pollers)| {
            let polls = (0..*pollers)
                .map(|_| (0..500).map(|_| gaps.random_range(1..=10)).collect())
                .collect();
            (cmd.clone(), FinalResult::of(script), polls)
        })
        .collect();
    world.client("client", drive(inv, trace, plan));
}

async fn drive(
    inv: Invariants,
    trace: Trace,
    plan: Vec<(String, FinalResult, Vec<Vec<u64>>)>,
) -> turmoil::Result {
    let conn = connect();
    let mut tasks = Vec::new();
    for (command, exp, polls) in plan {
        let Some(id) = start_in_project(&conn, &inv, &command).await else {
            return Ok(());
        };
        trace.record("client.started", format!("{command}: {id}"));
        for (p, gaps) in polls.into_iter().enumerate() {
            let (conn, inv, exp, id) = (conn.clone(), inv.clone(), exp.clone(), id.clone());
            let who = format!("{command} ({id}) poller {p}");
            tasks.push(tokio::spawn(async move {
                for gap in gaps {
                    match conn
                        .process_output(&id, OutputOptions { wait: false })
                        .await
                    {
                        Ok(r) if check(&inv, &exp, &who, &r) => return,
                        Ok(_) => {}
                        Err(e) => return inv.fail(CALLS_SUCCEED, "an answer", e),
                    }
                    tokio::time::sleep(Duration::from_millis(gap)).await;
                }
                inv.fail(POLLER_SEES_EXIT, "running=false within 500 polls", who);
            }));
        }
        let (c, i, e) = (conn.clone(), inv.clone(), exp.clone());
        let waiter = format!("{command} ({id}) waiter");
        tasks.push(tokio::spawn(async move {
            match c.process_output(&id, OutputOptions { wait: true }).await {
                Ok(r) => {
                    let done = check(&i, &e, &waiter, &r);
                    i.check(
                        WAIT_RETURNS_FINAL,
                        done,
                        || "running=false".into(),
                        || "running=true".into(),
                    );
                }
                Err(err) => i.fail(CALLS_SUCCEED, "a waited answer", err),
            }
        }));
    }
    join_tasks(&inv, tasks).await;
    Ok(())
}
