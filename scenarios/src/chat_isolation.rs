//! `chat-isolation` (race R5 in `docs/races.md`): several chats, each with its
//! own SDK connection (its `Coder-Chat-Id` header) and its own processes, plus
//! now and then a caller without a chat and a process it started. Every chat
//! runs a seeded sequence of calls concurrently with the others, and tries the
//! ids of other chats' processes it has learnt. Invariants:
//!
//! - `no-cross-chat-output`: output of another chat's process is 404
//!   `Process "<id>" not found.`; an own process's output holds only the
//!   chat's own lines.
//! - `no-cross-chat-signal`: a signal to another chat's process is 404 and
//!   reaches nothing.
//! - `list-is-scoped`: a chat's list shows exactly its own processes
//!   (chat-less ones are hidden); a caller without a chat sees everyone's.
//! - `chatless-process-visible`: output of a chat-less process is allowed
//!   to a chat (the documented asymmetry, `docs/agent-api.md#processes`).
//! - `own-process-untouched`: every process ends with exactly its script's
//!   output and exit code.
//!
//! Catches `chat-id-unchecked`.

use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use agent_sdk::{AgentConn, HttpAgentConn, OutputOptions, SdkError};
use harness::net::TurmoilConnector;
use harness::prelude::*;
use uuid::Uuid;

use crate::common::{
    FinalResult, agent_host_running, chat_id, connect, connect_as, join_tasks, start_in_project,
};
use crate::invariants::{
    CALLS_SUCCEED, CHATLESS_PROCESS_VISIBLE, LIST_IS_SCOPED, NO_CROSS_CHAT_OUTPUT,
    NO_CROSS_CHAT_SIGNAL, OWN_PROCESS_UNTOUCHED,
};

/// See the module docs.
pub const CHAT_ISOLATION: ScenarioSpec = ScenarioSpec {
    name: "chat-isolation",
    summary: "chats never read another chat's output, signal its processes or see them listed (R5)",
    catches: &[Catch {
        bug: Bug::ChatIdUnchecked,
        within: 8,
    }],
    config: SimConfig {
        duration: Duration::from_secs(20),
        ..SimConfig::DEFAULT
    },
    build,
};

type Conn = Arc<HttpAgentConn<TurmoilConnector>>;

/// One call of a caller's sequence. `pick` chooses among the candidates
/// known when the call is made.
#[derive(Clone, Copy, Debug)]
enum Op {
    OwnOutput(u32),
    /// Output of another chat's process.
    ProbeOutput(u32),
    /// `kill` to another chat's process.
    ProbeSignal(u32),
    List,
    /// Output of a process started without a chat.
    ChatlessOutput(u32),
}

/// One caller: a chat, or (`chat: None`) a caller without chat context.
#[derive(Clone, Debug)]
struct Caller {
    /// `chat0`, `chat1`, ... or `nochat`: the prefix of every line its
    /// processes write.
    name: String,
    chat: Option<Uuid>,
    jobs: Vec<(String, Script)>,
    /// Gap before each call, in ms.
    ops: Vec<(u64, Op)>,
}

/// A started process, as the callers learn of it.
#[derive(Clone, Debug)]
struct Started {
    owner: String,
    chat: Option<Uuid>,
    id: String,
    command: String,
}

/// What every caller has started so far (ids "leak" between chats: the
/// probes use them).
#[derive(Clone, Default)]
struct Registry(Arc<Mutex<Vec<Started>>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Vec<Started>> {
        self.0.lock()
    }

    fn add(&self, s: Started) {
        self.lock().push(s);
    }

    /// The `pick`-th (modulo) started process matching `keep`.
    fn pick(&self, pick: u32, keep: impl Fn(&Started) -> bool) -> Option<Started> {
        let all = self.lock();
        let candidates: Vec<&Started> = all.iter().filter(|s| keep(s)).collect();
        if candidates.is_empty() {
            return None;
        }
        let i = pick as usize % candidates.len();
        Some(candidates[i].clone())
    }

    fn ids(&self, keep: impl Fn(&Started) -> bool) -> BTreeSet<String> {
        self.lock()
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.id.clone())
            .collect()
    }
}

fn job(rng: &mut ChaCha8Rng, owner: &str, n: usize) -> (String, Script) {
    let script = Script::new()
        .write(format!("{owner} job{n} secret {}\n", rng.random::<u32>()))
        .sleep(Duration::from_millis(rng.random_range(100..=600)))
        .write(format!("{owner} job{n} done\n"))
        .exit([0, 0, 1, 3][rng.random_range(0..4)]);
    (format!("{owner}-job-{n}"), script)
}

fn caller(rng: &mut ChaCha8Rng, name: String, chat: Option<Uuid>) -> Caller {
    let jobs = (0..rng.random_range(1..=2))
        .map(|n| job(rng, &name, n))
        .collect();
    let ops = (0..rng.random_range(4..=12))
        .map(|_| {
            let pick = rng.random();
            let op = match (chat.is_some(), rng.random_range(0..10)) {
                (_, 0..=1) => Op::OwnOutput(pick),
                (true, 2..=4) => Op::ProbeOutput(pick),
                (true, 5..=6) => Op::ProbeSignal(pick),
                (_, 7..=8) => Op::List,
                _ => Op::ChatlessOutput(pick),
            };
            (rng.random_range(0..=60), op)
        })
        .collect();
    Caller {
        name,
        chat,
        jobs,
        ops,
    }
}

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let mut callers: Vec<Caller> = (0..rng.random_range(2..=3))
        .map(|c| {
            let chat = chat_id(&mut rng);
            caller(&mut rng, format!("chat{c}"), Some(chat))
        })
        .collect();
    if rng.random_bool(0.5) {
        callers.push(caller(&mut rng, "nochat".into(), None));
    }
    agent_host_running(world, callers.iter().flat_map(|c| c.jobs.iter().cloned()));
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world.client("chatd", drive(inv, trace, callers));
}

async fn drive(inv: Invariants, trace: Trace, callers: Vec<Caller>) -> turmoil::Result {
    let registry = Registry::default();
    let commands: BTreeSet<String> = callers
        .iter()
        .flat_map(|c| c.jobs.iter().map(|(cmd, _)| cmd.clone()))
        .collect();
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|c| {
            let run = Run {
                conn: c.chat.map_or_else(connect, connect_as),
                inv: inv.clone(),
                trace: trace.clone(),
                registry: registry.clone(),
                commands: commands.clone(),
                caller: c,
            };
            tokio::spawn(run.go())
        })
        .collect();
    join_tasks(&inv, tasks).await;
    Ok(())
}

/// One caller's run: start its processes, make its calls, then wait for
/// its processes and check their results.
struct Run {
    conn: Conn,
    inv: Invariants,
    trace: Trace,
    registry: Registry,
    commands: BTreeSet<String>,
    caller: Caller,
}

/// Whether `e` is the 404 the agent gives for another chat's process.
fn is_not_found(e: &SdkError, id: &str) -> bool {
    matches!(e, SdkError::Status { status: 404, message, .. }
        if *message == format!("Process {id:?} not found."))
}

impl Run {
    fn me(&self) -> &str {
        &self.caller.name
    }

    async fn go(self) {
        let mut mine = Vec::new();
        for (command, script) in &self.caller.jobs {
            let Some(id) = start_in_project(&self.conn, &self.inv, command).await else {
                return;
            };
            self.trace
                .record("client.started", format!("{}: {command} {id}", self.me()));
            self.registry.add(Started {
                owner: self.caller.name.clone(),
                chat: self.caller.chat,
                id: id.clone(),
                command: command.clone(),
            });
            mine.push((id, FinalResult::of(script)));
        }
        for (gap, op) in self.caller.ops.clone() {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            if !self.call(op).await {
                return;
            }
        }
        for (id, exp) in mine {
            match self
                .conn
                .process_output(&id, OutputOptions { wait: true })
                .await
            {
                Ok(r) => {
                    self.inv.check(
                        OWN_PROCESS_UNTOUCHED,
                        !r.running && r.output == exp.output && r.exit_code == Some(exp.exit_code),
                        || {
                            format!(
                                "{} {id}: {:?}, exit {}",
                                self.me(),
                                exp.output,
                                exp.exit_code
                            )
                        },
                        || {
                            format!(
                                "running={} {:?}, exit {:?}",
                                r.running, r.output, r.exit_code
                            )
                        },
                    );
                }
                Err(e) => self.inv.fail(CALLS_SUCCEED, "a waited answer", e),
            }
        }
    }

    /// The `pick`-th process of another chat (the probes' targets).
    fn other_chats(&self, pick: u32) -> Option<Started> {
        let me = self.caller.chat;
        self.registry
            .pick(pick, |s| s.chat.is_some() && s.chat != me)
    }

    /// Makes one call and checks it; false once an invariant failed.
    async fn call(&self, op: Op) -> bool {
        self.trace
            .record("client.call", format!("{}: {op:?}", self.me()));
        match op {
            Op::OwnOutput(pick) => {
                let Some(s) = self.registry.pick(pick, |s| s.owner == self.caller.name) else {
                    return true;
                };
                self.own_output(&s).await
            }
            Op::ProbeOutput(pick) => {
                let Some(s) = self.other_chats(pick) else {
                    return true;
                };
                let answer = self
                    .conn
                    .process_output(&s.id, OutputOptions { wait: false })
                    .await;
                match answer {
                    Err(e) if is_not_found(&e, &s.id) => true,
                    Err(e) if e.is_transport() => self.transport(e),
                    Err(e) => self.inv.check(
                        NO_CROSS_CHAT_OUTPUT,
                        false,
                        || format!("{} reading {} ({}): 404", self.me(), s.command, s.id),
                        || e.to_string(),
                    ),
                    Ok(r) => self.inv.check(
                        NO_CROSS_CHAT_OUTPUT,
                        false,
                        || format!("{} reading {} ({}): 404", self.me(), s.command, s.id),
                        || format!("200 with {}'s output {:?}", s.owner, r.output),
                    ),
                }
            }
            Op::ProbeSignal(pick) => {
                let Some(s) = self.other_chats(pick) else {
                    return true;
                };
                match self.conn.signal_process(&s.id, "kill").await {
                    Err(e) if is_not_found(&e, &s.id) => true,
                    Err(e) if e.is_transport() => self.transport(e),
                    answer => self.inv.check(
                        NO_CROSS_CHAT_SIGNAL,
                        false,
                        || format!("{} killing {} ({}): 404", self.me(), s.command, s.id),
                        || answer.map_or_else(|e| e.to_string(), |()| "200".into()),
                    ),
                }
            }
            Op::ChatlessOutput(pick) => {
                let Some(s) = self.registry.pick(pick, |s| s.chat.is_none()) else {
                    return true;
                };
                match self
                    .conn
                    .process_output(&s.id, OutputOptions { wait: false })
                    .await
                {
                    Ok(_) => true,
                    Err(e) if e.is_transport() => self.transport(e),
                    Err(e) => self.inv.check(
                        CHATLESS_PROCESS_VISIBLE,
                        false,
                        || format!("{} reading chat-less {}: 200", self.me(), s.id),
                        || e.to_string(),
                    ),
                }
            }
            Op::List => self.list().await,
        }
    }

    async fn own_output(&self, s: &Started) -> bool {
        match self
            .conn
            .process_output(&s.id, OutputOptions { wait: false })
            .await
        {
            Ok(r) => {
                let prefix = format!("{} ", self.caller.name);
                self.inv.check(
                    NO_CROSS_CHAT_OUTPUT,
                    r.output.lines().all(|l| l.starts_with(&prefix)),
                    || {
                        format!(
                            "{} reading its {}: only lines of {}",
                            self.me(),
                            s.command,
                            s.owner
                        )
                    },
                    || format!("{:?}", r.output),
                )
            }
            Err(e) => {
                self.inv.fail(CALLS_SUCCEED, "an own process's output", e);
                false
            }
        }
    }

    async fn list(&self) -> bool {
        // Everything acknowledged before the call must be listed.
        let me = self.caller.chat;
        let before = match me {
            Some(_) => self.registry.ids(|s| s.chat == me),
            None => self.registry.ids(|_| true),
        };
        let listed = match self.conn.list_processes().await {
            Ok(l) => l.processes,
            Err(e) => {
                self.inv.fail(CALLS_SUCCEED, "a list", e);
                return false;
            }
        };
        let ids: BTreeSet<String> = listed.iter().map(|p| p.id.clone()).collect();
        match me {
            // A chat's own processes were all started before its calls.
            Some(_) => self.inv.check(
                LIST_IS_SCOPED,
                ids == before,
                || format!("{} lists exactly its own {before:?}", self.me()),
                || format!("{:?}", described(&listed)),
            ),
            // Others may be starting right now: a superset of the
            // acknowledged ones, all from the workload.
            None => self.inv.check(
                LIST_IS_SCOPED,
                ids.is_superset(&before)
                    && listed.iter().all(|p| self.commands.contains(&p.command)),
                || format!("nochat lists every process, at least {before:?}"),
                || format!("{:?}", described(&listed)),
            ),
        }
    }

    fn transport(&self, e: SdkError) -> bool {
        self.inv.fail(CALLS_SUCCEED, "an answer", e);
        false
    }
}

fn described(listed: &[agent_sdk::ProcessInfo]) -> Vec<String> {
    listed
        .iter()
        .map(|p| format!("{} {}", p.command, p.id))
        .collect()
}
