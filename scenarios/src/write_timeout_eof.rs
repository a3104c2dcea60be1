//! `write-timeout-eof` (spec R3): a client starts a process that outlives
//! the 20 s write timeout and makes the SDK's blocking output call
//! (`wait=true`). Invariant: the call returns the process's final result,
//! never a transport error. Catches `write-deadline-hidden`.

use std::time::Duration;

use agent::Bug;
use agent_sdk::{AgentConn, OutputOptions, StartProcessRequest};
use harness::seed::stream;
use harness::sim_exec::Script;
use harness::{Scenario, SimConfig, SimWorld};
use rand::Rng;

use crate::common::{FinalResult, agent_host, connect};

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriteTimeoutEof;

impl Scenario for WriteTimeoutEof {
    fn name(&self) -> &'static str {
        "write-timeout-eof"
    }

    fn summary(&self) -> &'static str {
        "a blocking output call on a process outliving the 20 s write timeout must return its result (R3)"
    }

    fn catches(&self) -> &'static [Bug] {
        &[Bug::WriteDeadlineHidden]
    }

    fn config(&self) -> SimConfig {
        SimConfig {
            duration: Duration::from_secs(120),
            ..SimConfig::default()
        }
    }

    fn build(&self, world: &mut SimWorld<'_>) {
        let mut rng = world.rng(stream::WORKLOAD);
        let runtime = Duration::from_millis(rng.random_range(21_000..=60_000));
        let script = Script::new()
            .write("started\n")
            .sleep(runtime)
            .write("done\n")
            .exit([0, 1, 3][rng.random_range(0..3)]);
        let expected = FinalResult::of(&script);
        let parts = agent_host(world, |_| {});
        parts.scripts.insert("long-build", script);
        let (inv, trace) = (world.invariants().clone(), world.trace().clone());
        world.client("client", async move {
            let conn = connect();
            let req = StartProcessRequest {
                command: "long-build".into(),
                ..StartProcessRequest::default()
            };
            let id = match conn.start_process(&req).await {
                Ok(r) => r.id,
                Err(e) => {
                    inv.fail("calls-succeed", "a started process", e);
                    return Ok(());
                }
            };
            trace.record("client.started", format!("{id}, runs {runtime:?}"));
            match conn.process_output(&id, OutputOptions { wait: true }).await {
                Ok(r) => {
                    inv.check(
                        "blocking-output-returns-final",
                        !r.running
                            && r.output == expected.output
                            && r.exit_code == Some(expected.exit_code),
                        || {
                            FinalResult::describe(
                                &expected.output,
                                &expected.truncated,
                                Some(expected.exit_code),
                            )
                        },
                        || {
                            format!(
                                "running={} {}",
                                r.running,
                                FinalResult::describe(&r.output, &r.truncated, r.exit_code)
                            )
                        },
                    );
                }
                Err(e) => inv.fail(
                    "blocking-output-returns-final",
                    "the process's final result",
                    format!("transport error: {e}"),
                ),
            }
            Ok(())
        });
    }
}
