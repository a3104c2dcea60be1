//! `flaky-network` (issue 8; spec 6.1, 6.2, R3 tool half, R11, R12): the
//! chat tools (`execute`, `process_output`) run on a `chatd` host over the
//! SDK while the link to the agent suffers seeded latency spikes, holds and
//! partitions (turmoil's network controls, through the fault plan).
//!
//! Invariants:
//! * `tool-result-is-true-or-names-process`: a tool answers with the
//!   process's true result (output, truncation and exit code as scripted),
//!   with output so far for a process still running, or with an error that
//!   names the process: `execute` carries it as `background_process_id` (the
//!   field the model re-attaches with); `process_output` is called with the
//!   id, and its errors are failures about that id (the SDK's error texts
//!   carry it in the URL, except the spec's bare `context deadline
//!   exceeded`).
//!   The one exception is the spec's own R11: a start that fails (`start
//!   process: ...`) has no id to give.
//! * `partial-output-is-a-prefix`: output of a running process (not yet
//!   truncated) is a prefix of what the script writes.
//! * `tool-call-bounded`: no call outlives its timeout plus [`MARGIN`].
//!   After its deadline a tool makes exactly one more request, the
//!   non-blocking snapshot bounded by its own budget ([`SNAPSHOT_BUDGET`]
//!   here, 30 s in the spec), so the margin is that budget plus the timer
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
//! process id. Background starts have no timeout at all (spec 6.1 step 4:
//! the parent context), so they happen before the first fault.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::Bug;
use agent::headtail::Truncation;
use agent_sdk::{AgentConn, HttpAgentConn, OutputOptions};
use chat_tools::result::truncate_output;
use chat_tools::{ChatTools, ToolOptions, ToolResult};
use harness::agent_host::agent_config;
use harness::fault::{EpisodeSpec, Episodes};
use harness::net::TurmoilConnector;
use harness::seed::stream;
use harness::sim_exec::Script;
use harness::{Invariants, Scenario, SimConfig, SimWorld, Trace};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use crate::common::{AGENT, FinalResult, connect};

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlakyNetwork;

/// The host running the chat tools.
pub const CHATD: &str = "chatd";

/// The tools' snapshot budget in this scenario (`snapshotTimeout`, 30 s in
/// the spec): the one request a tool makes after its deadline.
pub const SNAPSHOT_BUDGET: Duration = Duration::from_secs(2);

/// How late a timer may fire: it fires at the first tick at or after its
/// instant, and a call has two (its deadline, then the snapshot's).
pub const TIMER_SLACK: Duration = Duration::from_millis(10);

/// How far past its timeout a tool call may run.
pub const MARGIN: Duration = SNAPSHOT_BUDGET.saturating_add(TIMER_SLACK);

/// The agent's cap on a blocking output read (`maxWaitDuration`).
pub const MAX_WAIT: Duration = Duration::from_millis(400);

/// The link's normal latency.
const BASE_LATENCY: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(8));

/// How many `process_output` calls the model makes on one process at most.
const MAX_POLLS: usize = 40;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One scripted command and how the model runs it.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub command: String,
    pub script: Script,
    pub expected: FinalResult,
    /// `None`: `run_in_background`; else the foreground timeout.
    pub timeout: Option<Duration>,
    pub start_at: Duration,
    /// `wait_timeout` of each `process_output` call, and the model's
    /// turn before it.
    pub polls: Vec<(Duration, Duration)>,
}

impl Job {
    /// A foreground job started at once, without `process_output` calls.
    pub fn foreground(command: &str, script: Script, timeout: Duration) -> Job {
        Job {
            command: command.to_string(),
            expected: FinalResult::of(&script),
            script,
            timeout: Some(timeout),
            start_at: Duration::ZERO,
            polls: Vec::new(),
        }
    }

    /// `execute`'s arguments for this job.
    pub fn execute_args(&self) -> serde_json::Value {
        match self.timeout {
            Some(t) => json!({"command": self.command, "timeout": format!("{}ms", t.as_millis())}),
            None => json!({"command": self.command, "run_in_background": true}),
        }
    }
}

/// What the tools told the model about a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Told {
    /// The start failed (R11): no id.
    StartFailed,
    /// A process id, from a background start or a failed wait.
    Id(String),
    /// The final result, without an id.
    Finished,
}

/// The execute family's result object, as the model reads it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Answer {
    pub success: bool,
    pub output: String,
    pub exit_code: i64,
    pub error: String,
    pub truncated: Option<Truncation>,
    pub note: String,
    pub background_process_id: String,
}

/// Lines of at most ~80 bytes (so line capping never applies and a
/// partial answer is a prefix of the whole), now and then enough of them
/// for the head/tail buffer to truncate.
fn job_script(rng: &mut ChaCha8Rng, n: usize) -> Script {
    let chunks = rng.random_range(1..=5);
    let runtime = rng.random_range(100..=4_000u64);
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
                    Some(ms(rng.random_range(1_000..=4_000))),
                    ms(rng.random_range(0..=1_500)),
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
                            ms(rng.random_range(500..=3_000)),
                            ms(rng.random_range(50..=300)),
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
        first: ms(100)..ms(500),
        gap: ms(50)..ms(400),
        hold: ms(100)..ms(1_200),
        partition: ms(100)..ms(1_000),
        spike: ms(300)..ms(1_500),
        spike_max: ms(30)..ms(300),
    };
    Episodes::draw(&spec, rng)
}

impl Scenario for FlakyNetwork {
    fn name(&self) -> &'static str {
        "flaky-network"
    }

    fn summary(&self) -> &'static str {
        "execute/process_output under latency, holds and partitions: true result or the process id, bounded, no output lost"
    }

    fn catches(&self) -> &'static [Bug] {
        &[Bug::NoSnapshotFallback]
    }

    fn config(&self) -> SimConfig {
        SimConfig {
            min_latency: BASE_LATENCY.0,
            max_latency: BASE_LATENCY.1,
            duration: Duration::from_secs(60),
            ..SimConfig::default()
        }
    }

    fn build(&self, world: &mut SimWorld<'_>) {
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
}

/// What every task of the `chatd` host shares.
#[derive(Clone)]
pub(crate) struct Client {
    pub inv: Invariants,
    pub trace: Trace,
    pub conn: Arc<HttpAgentConn<TurmoilConnector>>,
    pub tools: ChatTools,
}

impl Client {
    /// The world's invariants and trace, `conn`, and the tools with this
    /// scenario's snapshot budget and the run's bug switches.
    pub fn new(world: &SimWorld<'_>, conn: Arc<HttpAgentConn<TurmoilConnector>>) -> Client {
        Client {
            inv: world.invariants().clone(),
            trace: world.trace().clone(),
            conn,
            tools: ChatTools::new(ToolOptions {
                snapshot_timeout: SNAPSHOT_BUDGET,
                ..ToolOptions::with_bugs(world.bugs().clone())
            }),
        }
    }

    /// Calls `tool` and checks it returned within `timeout` + [`MARGIN`]
    /// (no bound when `timeout` is `None`).
    pub async fn call(
        &self,
        tool: &str,
        args: serde_json::Value,
        timeout: Option<Duration>,
    ) -> ToolResult {
        let start = Instant::now();
        let result = self
            .tools
            .call(tool, self.conn.as_ref(), args.clone())
            .await;
        let took = start.elapsed();
        let summary = match serde_json::from_str::<Answer>(&result.text) {
            Ok(a) if !result.is_error => describe(&a),
            _ => result.text.chars().take(160).collect(),
        };
        self.trace.record(
            format!("chatd.{tool}"),
            format!("{args} -> {took:?}: {summary}"),
        );
        if let Some(timeout) = timeout {
            self.inv.check(
                "tool-call-bounded",
                took <= timeout + MARGIN,
                || format!("{tool} {args} returns within {:?}", timeout + MARGIN),
                || format!("it took {took:?}"),
            );
        }
        result
    }
}

/// Decodes an execute-family JSON result; an error response (plain text)
/// is a violation, since every call here has valid arguments.
pub(crate) fn answer(inv: &Invariants, tool: &str, r: &ToolResult) -> Option<Answer> {
    let decoded = (!r.is_error)
        .then(|| serde_json::from_str::<Answer>(&r.text).ok())
        .flatten();
    if decoded.is_none() {
        inv.fail(
            "tool-answers-json",
            format!("{tool}: a JSON result"),
            &r.text,
        );
    }
    decoded
}

/// The true result, as the tools render it.
fn is_final(a: &Answer, exp: &FinalResult) -> bool {
    a.error.is_empty()
        && a.note.is_empty()
        && a.success == (exp.exit_code == 0)
        && a.exit_code == i64::from(exp.exit_code)
        && a.truncated == exp.truncated
        && a.output == truncate_output(&exp.output)
}

pub(crate) fn describe(a: &Answer) -> String {
    let error: String = a.error.chars().take(120).collect();
    format!(
        "success={} exit={} error={error:?} note={:?} id={:?} {}",
        a.success,
        a.exit_code,
        a.note,
        a.background_process_id,
        FinalResult::describe(&a.output, &a.truncated, None)
    )
}

/// The answer of a finished process is its true result.
fn check_true_result(inv: &Invariants, who: &str, a: &Answer, exp: &FinalResult) {
    inv.check(
        "tool-result-is-true-or-names-process",
        is_final(a, exp),
        || format!("{who}: {}", exp.described()),
        || describe(a),
    );
}

/// Output so far: untruncated, it is a prefix of what the script writes.
fn check_partial(inv: &Invariants, who: &str, a: &Answer, script: &Script) {
    if a.truncated.is_some() {
        return;
    }
    let written = String::from_utf8_lossy(&script.output()).into_owned();
    inv.check(
        "partial-output-is-a-prefix",
        written.starts_with(&a.output),
        || format!("{who}: a prefix of the {} scripted bytes", written.len()),
        || describe(a),
    );
}

/// Checks one `execute` answer; returns what the model learnt.
pub(crate) fn check_execute(inv: &Invariants, job: &Job, a: &Answer) -> Told {
    let who = format!("execute {}", job.command);
    if job.timeout.is_none() {
        if a.error.starts_with("start background process: ") {
            return Told::StartFailed;
        }
        let ok = inv.check(
            "tool-result-is-true-or-names-process",
            a.error.is_empty() && !a.background_process_id.is_empty(),
            || format!("{who}: a background process id"),
            || describe(a),
        );
        return if ok {
            Told::Id(a.background_process_id.clone())
        } else {
            Told::StartFailed
        };
    }
    if a.error.is_empty() {
        check_true_result(inv, &who, a, &job.expected);
        return Told::Finished;
    }
    if a.error.starts_with("start process: ") {
        return Told::StartFailed;
    }
    inv.check(
        "tool-result-is-true-or-names-process",
        !a.background_process_id.is_empty(),
        || format!("{who}: an error with background_process_id"),
        || describe(a),
    );
    check_partial(inv, &who, a, &job.script);
    Told::Id(a.background_process_id.clone())
}

/// Checks one `process_output` answer; returns whether the model saw the
/// process finish.
fn check_output(inv: &Invariants, job: &Job, id: &str, a: &Answer) -> bool {
    let who = format!("process_output {} ({id})", job.command);
    if !a.error.is_empty() {
        // The model named the process in the call; the error text names it
        // too (the SDK's URL) except for a deadline, which is the spec's
        // bare `context deadline exceeded`.
        inv.check(
            "tool-result-is-true-or-names-process",
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
                told.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(command, t);
            })
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            c.inv
                .fail("client-tasks-complete", "every tool task finishes", e);
        }
    }
    // The final check runs on a healed network.
    tokio::time::sleep_until(start + healed_at).await;
    let told = told.lock().unwrap_or_else(|p| p.into_inner()).clone();
    final_check(&c, &jobs, &told).await;
    Ok(())
}

/// `no-output-lost`: every process the agent knows finishes with its
/// scripted output, and the ids the tools gave are the agent's.
async fn final_check(c: &Client, jobs: &[Job], told: &BTreeMap<String, Told>) {
    let list = match c.conn.list_processes().await {
        Ok(l) => l,
        Err(e) => return c.inv.fail("no-output-lost", "a process list", e),
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
            "no-output-lost",
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
                    "no-output-lost",
                    exp.is_met_by(&r),
                    || format!("{} ({id}): {}", job.command, exp.described()),
                    || FinalResult::describe_answer(&r),
                );
                return;
            }
            Err(e) => return c.inv.fail("no-output-lost", "a final snapshot", e),
        }
    }
    c.inv.fail(
        "no-output-lost",
        format!("{} ({id}) exits", job.command),
        "still running",
    );
}
