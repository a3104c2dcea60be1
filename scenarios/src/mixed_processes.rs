//! `mixed-processes`: generated process workloads (swarm testing) checked
//! against a model, not against hand-picked expectations.
//!
//! Per seed, a random subset of operation kinds (output, blocking output,
//! signal, list, abandoned waits), output shapes (long lines, multi-byte and
//! invalid UTF-8, bursts, outputs past the head/tail sizes, grandchildren
//! holding the pipe) and fault kinds (latency spikes, held links) is
//! enabled, and each client chat draws its operations from those. Every
//! answer is checked against the process-table model
//! ([`harness::model::process`]), fed by the simulated processes themselves,
//! and the naive every-byte render ([`harness::model::headtail`]):
//!
//! - `output-matches-model`: a running answer renders a prefix (at a write
//!   boundary) of what the process wrote while the call was in flight; a
//!   finished one renders all of it with the status's exit code;
//! - `list-matches-model`: rows are the chat's own processes, running ones
//!   first, newest first, each agreeing with the process table;
//! - `signal-answers-200-or-409`, with 409 only once the shell has exited,
//!   and an acknowledged kill ends the process;
//! - `no-double-execution`: each acknowledged start spawned exactly once;
//! - `waiter-wakes-promptly` and `request-answers-promptly`: a blocking wait
//!   answers within ticks, yield sleeps and latency of the later of the exit
//!   and its arrival; every other call within its round trip and the yield
//!   sleeps on its path.
//!
//! Every drawn operation passes [`keep_op`] (key `chat{c}#{i} {op:?}`), so
//! `agentsim shrink` can leave operations out; a dropped one keeps its
//! think time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agent_sdk::{AgentConn, HttpAgentConn, OutputOptions, ProcessOutputResponse};
use harness::model::process::{Mark, ProcessTable, now};
use harness::net::TurmoilConnector;
use harness::prelude::*;
use harness::sim_exec::OnTerminate;
use parking_lot::Mutex;

use crate::common::{AGENT, agent_host, chat_id, connect_as, join_tasks, start_in_project};
use crate::invariants::{
    CALLS_SUCCEED, KILL_ENDS_PROCESS, LIST_MATCHES_MODEL, NO_DOUBLE_EXECUTION,
    OUTPUT_MATCHES_MODEL, REQUEST_ANSWERS_PROMPTLY, SIGNAL_ANSWERS_200_OR_409, WAIT_RETURNS_FINAL,
    WAITER_WAKES_PROMPTLY,
};

/// See the module docs.
pub const MIXED_PROCESSES: ScenarioSpec = ScenarioSpec {
    name: "mixed-processes",
    summary: "generated process workloads (swarm testing); every answer checked against a process-table and every-byte output model",
    catches: &[
        Catch {
            bug: Bug::StaleOutputRead,
            within: 64,
        },
        Catch {
            bug: Bug::LostWakeup,
            within: 64,
        },
    ],
    config: SimConfig {
        duration: Duration::from_secs(60),
        ..SimConfig::DEFAULT
    },
    build,
};

/// How long any output call may take before its wake-up is called lost:
/// far above every script's running time plus the wait delay, far below
/// the agent's 5-minute cap.
const PATIENCE: Duration = Duration::from_secs(10);

/// The client host.
const CLIENT: &str = "client";

type Conn = Arc<HttpAgentConn<TurmoilConnector>>;

/// Which operation, output and fault kinds this seed uses.
#[derive(Clone, Copy, Debug)]
struct Swarm {
    output: bool,
    wait: bool,
    signal: bool,
    list: bool,
    abandon: bool,
    long_lines: bool,
    multibyte: bool,
    invalid: bool,
    big: bool,
    no_newline: bool,
    grandchildren: bool,
    spikes: bool,
    holds: bool,
}

impl Swarm {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let mut on = || rng.random_bool(0.5);
        Swarm {
            output: on(),
            wait: on(),
            signal: on(),
            list: on(),
            abandon: on(),
            long_lines: on(),
            multibyte: on(),
            invalid: on(),
            big: on(),
            no_newline: on(),
            grandchildren: on(),
            spikes: on(),
            holds: on(),
        }
    }
}

/// One chunk of output in the shape the seed allows.
fn chunk(rng: &mut ChaCha8Rng, sw: &Swarm, tag: &str) -> Vec<u8> {
    let mut shapes = vec![0];
    for (on, shape) in [
        (sw.long_lines, 1),
        (sw.multibyte, 2),
        (sw.invalid, 3),
        (sw.big, 4),
        (sw.no_newline, 5),
    ] {
        if on {
            shapes.push(shape);
        }
    }
    match shapes[rng.random_range(0..shapes.len())] {
        1 => {
            let mut v = vec![b'a' + rng.random_range(0..26u8); rng.random_range(2000..=6000)];
            v.push(b'\n');
            v
        }
        2 => {
            const UNITS: [&str; 5] = ["é", "€", "😀", "ab", "\n"];
            // Now and then past the head, so a character straddles its end.
            let n = if rng.random_bool(0.3) {
                rng.random_range(5000..=12000)
            } else {
                rng.random_range(1..=3000)
            };
            (0..n)
                .flat_map(|_| UNITS[rng.random_range(0..UNITS.len())].bytes())
                .collect()
        }
        3 => {
            const BYTES: [u8; 9] = [0x80, 0xBF, 0xC3, 0xE2, 0x82, 0xF0, 0x9F, 0xFF, b'\n'];
            (0..rng.random_range(1..=40))
                .map(|_| BYTES[rng.random_range(0..BYTES.len())])
                .collect()
        }
        4 => {
            let lines = rng.random_range(200..=2500);
            let mut v = Vec::new();
            for i in 0..lines {
                v.extend_from_slice(format!("{tag} burst line {i}\n").as_bytes());
            }
            v
        }
        5 => format!("{tag} partial {}", rng.random_range(0..1000)).into_bytes(),
        _ => format!("{tag} line {}\n", rng.random_range(0..1000)).into_bytes(),
    }
}

fn script(rng: &mut ChaCha8Rng, sw: &Swarm, tag: &str) -> Script {
    let mut s = Script::new();
    for i in 0..rng.random_range(0..=6) {
        if i > 0 && rng.random_bool(0.7) {
            s = s.sleep(Duration::from_millis(rng.random_range(0..=60)));
        }
        s = s.write(chunk(rng, sw, tag));
        if sw.grandchildren && rng.random_bool(0.15) {
            let child = Script::new()
                .sleep(Duration::from_millis(rng.random_range(0..=150)))
                .write(chunk(rng, sw, &format!("{tag}.child")));
            s = s.background(child);
        }
    }
    s.on_terminate(
        [
            OnTerminate::Die,
            OnTerminate::Exit(143),
            OnTerminate::Ignore,
        ][rng.random_range(0..3)],
    )
    .exit([0, 0, 0, 1, 2, 127][rng.random_range(0..6)])
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Start,
    /// Plain reads a few milliseconds apart until the process is seen
    /// finished, at most this many.
    Output(u32),
    Wait,
    Signal(&'static str),
    List,
    Abandon(u64),
}

fn ops(rng: &mut ChaCha8Rng, sw: &Swarm) -> Vec<(u64, Op)> {
    let mut kinds = vec![0, 0];
    for (on, k) in [
        (sw.output, 1),
        (sw.wait, 2),
        (sw.signal, 3),
        (sw.list, 4),
        (sw.abandon, 5),
    ] {
        if on {
            kinds.push(k);
        }
    }
    (0..rng.random_range(3..=14))
        .map(|_| {
            let op = match kinds[rng.random_range(0..kinds.len())] {
                1 => Op::Output(rng.random_range(1..=60)),
                2 => Op::Wait,
                3 => Op::Signal(if rng.random_bool(0.5) {
                    "kill"
                } else {
                    "terminate"
                }),
                4 => Op::List,
                5 => Op::Abandon(rng.random_range(0..=40)),
                _ => Op::Start,
            };
            (rng.random_range(0..=40), op)
        })
        .collect()
}

/// Bounds derived from the configuration and the seed's faults.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// From the exit future resolving to the exit being reported.
    publish: Duration,
    /// From sending a call to the handler running (handshake, request).
    arrival: Duration,
    /// Ticks, yield sleeps and the answer's trip back.
    slack: Duration,
}

impl Bounds {
    fn new(config: &SimConfig, extra: Duration) -> Self {
        let (tick, sleep, latency) = (config.tick, config.sched.max_sleep, config.max_latency);
        Bounds {
            publish: sleep + tick * 2,
            arrival: latency * 3 + extra,
            slack: tick * 2 + sleep * 3 + latency + extra,
        }
    }
}

/// One started process as its chat knows it.
#[derive(Clone, Debug)]
struct Proc {
    id: String,
    command: String,
    /// When an acknowledged kill was answered.
    killed: Option<Duration>,
}

/// What every chat has started: chat → processes in start order.
#[derive(Clone, Default)]
struct Started(Arc<Mutex<BTreeMap<usize, Vec<Proc>>>>);

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let sw = Swarm::draw(&mut rng);
    let chats = rng.random_range(1..=3);
    let mut plans = Vec::new();
    let mut scripts = Vec::new();
    for c in 0..chats {
        let ops = ops(&mut rng, &sw);
        let starts = ops.iter().filter(|(_, o)| matches!(o, Op::Start)).count();
        for k in 0..starts {
            let command = format!("c{c}-p{k}");
            scripts.push((command.clone(), script(&mut rng, &sw, &command)));
        }
        plans.push((chat_id(&mut rng), ops));
    }
    let table = Arc::new(Mutex::new(None));
    let t = table.clone();
    agent_host(world, |parts| {
        *t.lock() = Some(ProcessTable::observing(&parts.scripts));
        for (command, script) in scripts {
            parts.scripts.insert(command, script);
        }
    });
    let Some(table) = table.lock().take() else {
        return;
    };
    let extra = faults(world, &sw);
    let bounds = Bounds::new(&MIXED_PROCESSES.config, extra);
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world.trace().record("client.swarm", format!("{sw:?}"));
    world.client(CLIENT, drive(inv, trace, table, plans, bounds));
}

/// Schedules the seed's faults on the client's link; returns the longest
/// extra delay one message can suffer.
fn faults(world: &mut SimWorld<'_>, sw: &Swarm) -> Duration {
    let mut rng = world.rng(stream::FAULTS);
    let mut extra = Duration::ZERO;
    let mut at = Duration::ZERO;
    let base = SimConfig::DEFAULT;
    for _ in 0..rng.random_range(0..=4) {
        at += Duration::from_millis(rng.random_range(10..=300));
        let len = Duration::from_millis(rng.random_range(10..=200));
        let (c, a) = (CLIENT.to_string(), AGENT.to_string());
        if sw.spikes && rng.random_bool(0.5) {
            let max = Duration::from_millis(rng.random_range(5..=40));
            extra = extra.max(max * 3);
            world.fault(
                at,
                Fault::Latency {
                    a: c.clone(),
                    b: a.clone(),
                    min: base.min_latency,
                    max,
                },
            );
            world.fault(
                at + len,
                Fault::Latency {
                    a: c,
                    b: a,
                    min: base.min_latency,
                    max: base.max_latency,
                },
            );
        } else if sw.holds {
            extra = extra.max(len * 2);
            world.fault(at, Fault::Hold(c.clone(), a.clone()));
            world.fault(at + len, Fault::Release(c, a));
        }
        at += len;
    }
    extra
}

async fn drive(
    inv: Invariants,
    trace: Trace,
    table: ProcessTable,
    plans: Vec<(uuid::Uuid, Vec<(u64, Op)>)>,
    bounds: Bounds,
) -> turmoil::Result {
    let started = Started::default();
    let tasks: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(me, (chat, ops))| {
            let chat = Chat {
                me,
                conn: connect_as(chat),
                inv: inv.clone(),
                trace: trace.clone(),
                table: table.clone(),
                started: started.clone(),
                bounds,
                waits: Vec::new(),
            };
            tokio::spawn(chat.run(ops))
        })
        .collect();
    join_tasks(&inv, tasks).await;
    if inv.violated() {
        return Ok(());
    }
    let started = started.0.lock().clone();
    let acked: BTreeMap<String, ()> = started
        .values()
        .flatten()
        .map(|p| (p.command.clone(), ()))
        .collect();
    for (command, log) in table.logs() {
        let want = u32::from(acked.contains_key(&command));
        inv.check(
            NO_DOUBLE_EXECUTION,
            log.spawns == want,
            || format!("{command}: spawned {want} time(s)"),
            || format!("{} spawns", log.spawns),
        );
    }
    for p in started.values().flatten() {
        let Some((finished, _)) = table.facts(&p.command).and_then(|l| l.finished) else {
            continue;
        };
        if let Some(killed) = p.killed {
            inv.check(
                KILL_ENDS_PROCESS,
                finished <= killed + bounds.publish,
                || format!("{}: finished by {killed:?} (kill answered)", p.command),
                || format!("finished at {finished:?}"),
            );
        }
    }
    Ok(())
}

/// One chat's client.
struct Chat {
    me: usize,
    conn: Conn,
    inv: Invariants,
    trace: Trace,
    table: ProcessTable,
    started: Started,
    bounds: Bounds,
    waits: Vec<tokio::task::JoinHandle<()>>,
}

impl Chat {
    async fn run(mut self, ops: Vec<(u64, Op)>) {
        let mut pick = 0usize;
        let mut start_no = 0;
        for (i, (gap, op)) in ops.into_iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            if self.inv.violated() {
                return;
            }
            // Numbered as drawn, so a dropped start leaves the next one its
            // own command and script.
            let start = start_no;
            if matches!(op, Op::Start) {
                start_no += 1;
            }
            pick = pick.wrapping_mul(31).wrapping_add(gap as usize + 7);
            // A dropped operation keeps its think time (slept above).
            if !keep_op(&format!("chat{}#{i} {op:?}", self.me)) {
                continue;
            }
            self.trace
                .record("client.call", format!("chat{}: {op:?}", self.me));
            let target = self.pick(pick, start_no);
            match (op, target) {
                (Op::Start, _) => self.start(start).await,
                (Op::Output(polls), Some(p)) => {
                    for i in 0..polls {
                        tokio::time::sleep(Duration::from_millis(u64::from(i % 6))).await;
                        if !self.output(&p, false).await {
                            break;
                        }
                    }
                }
                (Op::Wait, Some(p)) => {
                    let checker = self.checker();
                    self.waits.push(tokio::spawn(async move {
                        checker.output(&p, true).await;
                    }));
                }
                (Op::Signal(sig), Some(p)) => self.signal(&p, sig).await,
                (Op::List, _) => self.list().await,
                (Op::Abandon(after), Some(p)) => self.abandon(&p, after).await,
                _ => {}
            }
        }
        let waits = std::mem::take(&mut self.waits);
        join_tasks(&self.inv, waits).await;
        // Every process must end with its final answer.
        let mine = self.mine();
        for p in mine {
            self.output(&p, true).await;
        }
    }

    fn mine(&self) -> Vec<Proc> {
        self.started
            .0
            .lock()
            .get(&self.me)
            .cloned()
            .unwrap_or_default()
    }

    /// A process of this chat chosen by `n` among the `drawn` starts
    /// drawn so far: the newest one half the time (the likeliest to be
    /// running). Chosen by draw, not among the processes started, so a
    /// start the shrinker drops takes its own targets with it and leaves
    /// the others' alone.
    fn pick(&self, n: usize, drawn: usize) -> Option<Proc> {
        let k = if n.is_multiple_of(2) {
            drawn.checked_sub(1)?
        } else {
            n % drawn.max(1)
        };
        let command = format!("c{}-p{k}", self.me);
        self.mine().into_iter().find(|p| p.command == command)
    }

    fn checker(&self) -> Checker {
        Checker {
            conn: self.conn.clone(),
            inv: self.inv.clone(),
            table: self.table.clone(),
            bounds: self.bounds,
        }
    }

    /// Whether the process was still running (and the answer checked).
    async fn output(&self, p: &Proc, wait: bool) -> bool {
        self.checker().output(p, wait).await
    }

    /// Starts the chat's `n`th drawn process (`c{chat}-p{n}`).
    async fn start(&mut self, n: usize) {
        let command = format!("c{}-p{n}", self.me);
        let sent = now();
        let Some(id) = start_in_project(&self.conn, &self.inv, &command).await else {
            return;
        };
        self.checker().prompt(&command, "start", sent);
        self.trace
            .record("client.started", format!("{command}: {id}"));
        self.started
            .0
            .lock()
            .entry(self.me)
            .or_default()
            .push(Proc {
                id,
                command,
                killed: None,
            });
    }

    async fn signal(&self, p: &Proc, signal: &str) {
        let sent = now();
        let answer = self.conn.signal_process(&p.id, signal).await;
        let answered = now();
        let log = self.table.facts(&p.command).unwrap_or_default();
        let who = format!("{} {signal} sent at {sent:?}", p.command);
        match answer {
            Ok(()) => {
                let ok = log
                    .finished
                    .as_ref()
                    .is_none_or(|(at, _)| *at + self.bounds.publish >= sent);
                self.inv.check(
                    SIGNAL_ANSWERS_200_OR_409,
                    ok,
                    || format!("{who}: 409 (finished at {:?})", log.finished),
                    || "200".into(),
                );
                if signal == "kill"
                    && let Some(mine) = self
                        .started
                        .0
                        .lock()
                        .get_mut(&self.me)
                        .and_then(|v| v.iter_mut().find(|q| q.id == p.id))
                {
                    mine.killed.get_or_insert(answered);
                }
            }
            Err(e) if e.status() == Some(409) => {
                self.inv.check(
                    SIGNAL_ANSWERS_200_OR_409,
                    log.shell_exited.is_some_and(|t| t <= answered),
                    || format!("{who}: 200 (the shell has not exited)"),
                    || "409".into(),
                );
            }
            Err(e) => self
                .inv
                .fail(SIGNAL_ANSWERS_200_OR_409, format!("{who}: 200 or 409"), e),
        }
        self.checker().prompt(&p.command, "signal", sent);
    }

    async fn list(&self) {
        let known = self.mine();
        let sent = now();
        let rows = match self.conn.list_processes().await {
            Ok(r) => r.processes,
            Err(e) => return self.inv.fail(CALLS_SUCCEED, "a list answer", e),
        };
        self.checker().prompt("list", "list", sent);
        let order: BTreeMap<&str, usize> = known
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let prefix = format!("c{}-p", self.me);
        let mut last: Option<(bool, usize)> = None;
        for row in &rows {
            // A row not yet known is a start in flight: its command is ours
            // and it is the newest.
            let rank = order.get(row.id.as_str()).copied().unwrap_or(usize::MAX);
            let ok = row.command.starts_with(&prefix)
                && order.contains_key(row.id.as_str())
                && self
                    .table
                    .check_row(&row.command, sent, row, self.bounds.publish)
                    .map_err(|m| {
                        self.inv.fail(
                            LIST_MATCHES_MODEL,
                            format!("chat{} row {}: {}", self.me, row.command, m.expected),
                            m.seen,
                        )
                    })
                    .is_ok();
            let sorted = last.is_none_or(|(running, r)| {
                (running && !row.running) || (running == row.running && rank < r)
            });
            if !self.inv.check(
                LIST_MATCHES_MODEL,
                ok && sorted,
                || format!("chat{}: own rows, running first, newest first", self.me),
                || format!("{rows:?}"),
            ) {
                return;
            }
            last = Some((row.running, rank));
        }
        let cap = agent::process::manager::MAX_LIST_PROCESSES;
        self.inv.check(
            LIST_MATCHES_MODEL,
            rows.len() >= known.len().min(cap) && rows.len() <= cap,
            || format!("chat{}: min({}, {cap}) rows", self.me, known.len()),
            || format!("{} rows", rows.len()),
        );
    }

    /// A blocking call given up after `after` ms, then a plain read.
    async fn abandon(&self, p: &Proc, after: u64) {
        let call = self
            .conn
            .process_output(&p.id, OutputOptions { wait: true });
        let _ = tokio::time::timeout(Duration::from_millis(after), call).await;
        self.output(p, false).await;
    }
}

/// Checks output answers (shared with the spawned blocking calls).
#[derive(Clone)]
struct Checker {
    conn: Conn,
    inv: Invariants,
    table: ProcessTable,
    bounds: Bounds,
}

impl Checker {
    /// Checks one output answer; whether it said running.
    async fn output(&self, p: &Proc, wait: bool) -> bool {
        let sent: Mark = self.table.mark(&p.command);
        let call = self.conn.process_output(&p.id, OutputOptions { wait });
        let Ok(answer) = tokio::time::timeout(PATIENCE, call).await else {
            self.inv.fail(
                WAITER_WAKES_PROMPTLY,
                format!("{} (wait {wait}): an answer", p.command),
                format!("none {PATIENCE:?} after sending at {:?}", sent.at),
            );
            return false;
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                self.inv.fail(CALLS_SUCCEED, "an output answer", e);
                return false;
            }
        };
        let answered = now();
        if let Err(m) = self
            .table
            .check_output(&p.command, sent, &answer, self.bounds.publish)
        {
            self.inv.fail(
                OUTPUT_MATCHES_MODEL,
                format!(
                    "{} (wait {wait}, sent {:?}): {}",
                    p.command, sent.at, m.expected
                ),
                m.seen,
            );
            return false;
        }
        if wait {
            self.waited(p, sent.at, answered, &answer);
        } else {
            self.prompt(&p.command, "output", sent.at);
        }
        answer.running
    }

    /// A blocking answer is final and prompt.
    fn waited(&self, p: &Proc, sent: Duration, answered: Duration, answer: &ProcessOutputResponse) {
        if !self.inv.check(
            WAIT_RETURNS_FINAL,
            !answer.running,
            || format!("{}: running=false", p.command),
            || "running=true".into(),
        ) {
            return;
        }
        let finished = self
            .table
            .facts(&p.command)
            .and_then(|l| l.finished)
            .map_or(sent, |(at, _)| at);
        let due = finished.max(sent + self.bounds.arrival) + self.bounds.slack;
        self.inv.check(
            WAITER_WAKES_PROMPTLY,
            answered <= due,
            || {
                format!(
                    "{}: answered by {due:?} (finished {finished:?}, sent {sent:?})",
                    p.command
                )
            },
            || format!("answered at {answered:?}"),
        );
    }

    /// A call that never blocks answers within its round trip.
    fn prompt(&self, what: &str, call: &str, sent: Duration) {
        let answered = now();
        let due = sent + self.bounds.arrival + self.bounds.slack;
        self.inv.check(
            REQUEST_ANSWERS_PROMPTLY,
            answered <= due,
            || format!("{what} {call} sent at {sent:?}: answered by {due:?}"),
            || format!("answered at {answered:?}"),
        );
    }
}
