//! `mixed-git`: generated git workloads (swarm testing) under faults,
//! watch reconnects and agent restarts, checked against a repository model
//! written apart from the agent ([`harness::model::git`]).
//!
//! One to three repositories, one to three chats. Per seed a random subset
//! of kinds is enabled, and the operations are drawn from it:
//!
//! - chats (each on its own host, over the SDK): edits and whole-file
//!   writes of their own files, new files, and closing their watch to
//!   resubscribe; now and then one idles past the write deadline;
//! - the developer (harness side, in the terminal: [`SimScanner`] on the
//!   shared sim filesystem): `git commit -a` of the working files, branch
//!   switches (`HEAD` rewritten, the branch's ref made as needed),
//!   deletions and new untracked files. A developer action waits for the
//!   chats' calls in flight on that repository (a per-repository lock), so
//!   the model always knows what was committed;
//! - faults: latency spikes, held links and short partitions on the chats'
//!   links; spikes and holds only on the watches' links (turmoil's TCP does
//!   not retransmit, so a dropped segment would corrupt a WebSocket where a
//!   real TCP would only delay it); and an agent crash with a restart,
//!   after every network episode has healed.
//!
//! A chat's call that fails in transit (a partition, the crash) may or may
//! not have reached the agent: the chat repeats it as a whole-file write of
//! the same content until one is acknowledged, so the model is exact again.
//! A call waits at most [`CALL_TIMEOUT`], longer than any hold or spike, so
//! a call given up was dropped, never delivered late.
//!
//! Each watch keeps, per repository, the last report of its current
//! connection. The operations run in rounds; after each round, at a
//! quiescent point (every call answered, the developer idle, the agent up;
//! after a restart every chat first rewrites one file per repository it
//! touched, since the restarted agent's PathStore is empty), the watches
//! either send `refresh` or wait for the fallback ticker, by seed.
//! Invariants:
//!
//! - `watch-reports-repo-state`: then every open watch's view equals the
//!   model's: for each repository the chat touched, the branch and the set
//!   of paths that differ from the last commit (empty right after a
//!   commit), and no other repository;
//! - `changes-after-edit`: for every acknowledged edit, each watch
//!   connection alive through the bound reports that repository after the
//!   edit was sent and within [`Bounds::scan`] (scan cooldown, round trip,
//!   yield sleeps and the longest fault delay) of the later of the
//!   acknowledgement and the connection's start; a connection that starts
//!   after the crash owes only the edits sent after the crash (the
//!   restarted agent never heard of the earlier ones);
//! - `watch-stays-open`: a watch ends only when its client closes it or
//!   within [`CRASH_BOUND`] of the crash, whatever its age;
//! - `watch-resumes`: after a restart each watch is connected again within
//!   [`RESUME_BOUND`] of the agent coming back;
//! - `calls-succeed`: calls fail only in transit, and a repeat succeeds.
//!
//! This scenario shortens the agent's write deadline to 1 s, its scan
//! cooldown to 100 ms and its fallback ticker to 300 ms (20 s, 1 s, 30 s
//! by default), so long-lived watches and ticker scans cost few steps; a
//! seed simulates about 1.5 s. The ticker stays longer than the scan
//! bound, so a scan request the watch drops is not hidden by the next
//! tick. The yield points sleep more often (35 %) and longer (up to
//! 10 ms) than by default, and each watch first connects about when its
//! chat's first call lands, so the two race (`paths-before-subscribe`).
//!
//! What a restart does to the bounds: the watch's end is expected within
//! [`CRASH_BOUND`] of the crash, a new connection within [`RESUME_BOUND`]
//! of the restart; `changes-after-edit` owes nothing across the outage
//! (a connection ends at the crash, the next owes only what the new agent
//! heard of), and the views are checked only after the restart, once
//! every chat has written again. A partition or a hold adds its length
//! (twice, for the call and the report) to the scan bound, a spike four
//! times its highest latency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_sdk::{AgentConn, EditFilesRequest, FileEdit, FileEdits, SdkError, ServerMessage};
use futures::StreamExt;
use harness::fault::{EpisodeSpec, Episodes};
use harness::model::git::{RepoModel, RepoView, diff_paths};
use harness::model::process::now;
use harness::prelude::*;
use harness::sim_fs::{HOME, SimFs};
use harness::sim_scanner::SimScanner;
use parking_lot::Mutex;
use tokio::sync::{Notify, RwLock};

use crate::common::{AGENT, chat_id, connect_as, join_tasks};
use crate::invariants::{
    CALLS_SUCCEED, CHANGES_AFTER_EDIT, GENERATOR, WATCH_CONNECTS, WATCH_REPORTS_REPO_STATE,
    WATCH_RESUMES, WATCH_STAYS_OPEN,
};

/// See the module docs.
pub const MIXED_GIT: ScenarioSpec = ScenarioSpec {
    name: "mixed-git",
    summary: "generated git workloads (swarm testing): edits, commits, branch switches, reconnects, restarts and faults; every watch ends at the model's branch and changed paths",
    catches: &[Catch {
        bug: Bug::PathsBeforeSubscribe,
        within: 128,
    }],
    // Yield points sleep more often and longer than by default, so a
    // chat's first call can land inside a watch's subscribe.
    config: SimConfig {
        duration: Duration::from_secs(60),
        sched: SchedConfig {
            p_sleep: 0.35,
            max_sleep: Duration::from_millis(10),
            ..SchedConfig::DEFAULT
        },
        ..SimConfig::DEFAULT
    },
    build,
};

type Conn = Arc<agent_sdk::HttpAgentConn<harness::net::TurmoilConnector>>;

const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
const SCAN_COOLDOWN: Duration = Duration::from_millis(100);
const FALLBACK: Duration = Duration::from_millis(300);

/// How long a chat's call may take before it is given up as dropped:
/// longer than any hold plus the round trip at the highest spike.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(800);

/// Pause between two attempts of a call that failed in transit.
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// Attempts of one call: enough to outlast a partition or an outage.
const ATTEMPTS: u32 = 40;

/// How soon after the crash a watch sees its stream end: the FIN's
/// latency and a tick, with room.
pub const CRASH_BOUND: Duration = Duration::from_millis(50);

/// How soon after the agent is back every watch is connected again: an
/// attempt pending at the restart is accepted then, else the next comes
/// within [`RECONNECT_EVERY`]; the handshake; room for a held link.
pub const RESUME_BOUND: Duration = Duration::from_millis(500);

/// Each watch connect attempt gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A watch's reconnect interval.
const RECONNECT_EVERY: Duration = Duration::from_millis(50);

/// How long a long-lived watch's chat idles: past the write deadline.
const LONG_IDLE: Duration = Duration::from_millis(1_200);

/// No chat call starts this long before the crash until the agent is
/// back, so the crash cuts only watches: one connection per client host
/// (see `Fault::Crash`). Calls cut mid-flight are `agent-restart`'s.
const CRASH_GUARD: Duration = Duration::from_millis(60);

/// The link latency pinned from just before the crash on: a crash sends
/// its FINs in tokio's teardown order, so their latencies must not be
/// drawn (see `Fault::Crash`).
const PINNED: Duration = Duration::from_millis(3);

const BRANCHES: [&str; 4] = ["main", "feature-a", "feature-b", "release"];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn repo_root(r: usize) -> PathBuf {
    if r == 0 {
        PathBuf::from(PROJECT)
    } else {
        PathBuf::from(format!("{HOME}/repo-{r}"))
    }
}

fn root_name(r: usize) -> String {
    repo_root(r).to_string_lossy().into_owned()
}

fn own_file(c: usize, k: usize) -> String {
    format!("c{c}-{k}.txt")
}

/// A file's content at `version`: unique per path and version, so every
/// write changes the file and a rewritten file never equals an old one.
fn content(path: &str, version: u64) -> String {
    format!("{path}\nversion {version}\n")
}

/// Own files per chat and repository.
const OWN_FILES: usize = 2;

/// Which kinds this seed uses.
#[derive(Clone, Copy, Debug)]
struct Swarm {
    edit: bool,
    write: bool,
    create: bool,
    resubscribe: bool,
    long_watch: bool,
    commit: bool,
    switch: bool,
    delete: bool,
    untracked: bool,
    /// Quiescent points ask for a scan (`refresh`) instead of waiting for
    /// the fallback ticker.
    refresh: bool,
    /// The developer commits every repository at the very end.
    end_commit: bool,
    spikes: bool,
    holds: bool,
    partitions: bool,
    restart: bool,
}

impl Swarm {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let mut on = |p: f64| rng.random_bool(p);
        Swarm {
            edit: on(0.7),
            write: on(0.5),
            create: on(0.4),
            resubscribe: on(0.4),
            long_watch: on(0.1),
            commit: on(0.7),
            switch: on(0.5),
            delete: on(0.4),
            untracked: on(0.4),
            refresh: on(0.5),
            end_commit: on(0.3),
            spikes: on(0.3),
            holds: on(0.3),
            partitions: on(0.3),
            restart: on(0.3),
        }
    }
}

/// A chat's generated operation.
#[derive(Clone, Debug)]
enum Op {
    /// edit-files of one own file: its whole content to the next version.
    Edit { repo: usize, file: usize },
    /// write-file of one own file.
    Write { repo: usize, file: usize },
    /// write-file of a new file.
    Create { repo: usize },
    /// The chat's watch closes and connects again.
    Resubscribe,
    /// Nothing for a while (the watch lives on).
    Idle(Duration),
}

/// The developer's generated operation.
#[derive(Clone, Debug)]
enum DevOp {
    Commit(usize),
    /// Switch to `BRANCHES[i]` (the next one if that is checked out).
    Switch(usize, usize),
    /// Delete the `pick`-th working file (modulo their number).
    Delete(usize, usize),
    Untracked(usize),
}

/// A generated operation with a label for traces (and, later, for
/// dropping it while shrinking).
#[derive(Clone, Debug)]
enum Any {
    Chat(usize, Op),
    Dev(DevOp),
}

struct ChatPlan {
    id: uuid::Uuid,
    watch: bool,
    /// When the watch first connects: about when the first call lands,
    /// so the two race.
    watch_delay: Duration,
    /// Per round: (gap in ms, op).
    rounds: Vec<Vec<(u64, Op)>>,
}

struct Plan {
    sw: Swarm,
    repos: usize,
    chats: Vec<ChatPlan>,
    dev: Vec<Vec<(u64, DevOp)>>,
}

fn chat_op(rng: &mut ChaCha8Rng, sw: &Swarm, mine: &[usize], watch: bool) -> Op {
    let repo = mine[rng.random_range(0..mine.len())];
    let file = rng.random_range(0..OWN_FILES);
    let mut kinds = Vec::new();
    for (on, k) in [
        (sw.edit, 0),
        (sw.write, 1),
        (sw.create, 2),
        (sw.resubscribe && watch, 3),
        (sw.long_watch && watch, 4),
    ] {
        if on {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        kinds.push(0);
    }
    match kinds[rng.random_range(0..kinds.len())] {
        1 => Op::Write { repo, file },
        2 => Op::Create { repo },
        3 => Op::Resubscribe,
        4 if rng.random_bool(0.3) => Op::Idle(LONG_IDLE),
        _ => Op::Edit { repo, file },
    }
}

fn dev_op(rng: &mut ChaCha8Rng, sw: &Swarm, repos: usize) -> Option<DevOp> {
    let r = rng.random_range(0..repos);
    let mut kinds = Vec::new();
    for (on, k) in [
        (sw.commit, 0),
        (sw.switch, 1),
        (sw.delete, 2),
        (sw.untracked, 3),
    ] {
        if on {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        return None;
    }
    Some(match kinds[rng.random_range(0..kinds.len())] {
        1 => DevOp::Switch(r, rng.random_range(0..BRANCHES.len())),
        2 => DevOp::Delete(r, rng.random_range(0..64)),
        3 => DevOp::Untracked(r),
        _ => DevOp::Commit(r),
    })
}

fn plan(rng: &mut ChaCha8Rng) -> Plan {
    let sw = Swarm::draw(rng);
    let repos = rng.random_range(1..=3);
    let rounds = rng.random_range(1..=2);
    let n = rng.random_range(1..=3);
    let chats = (0..n)
        .map(|c| {
            let mut mine: Vec<usize> = (0..repos).filter(|_| rng.random_bool(0.6)).collect();
            if mine.is_empty() {
                mine.push(rng.random_range(0..repos));
            }
            // Chat 0 always watches: every seed checks a watch.
            let watch = c == 0 || rng.random_bool(0.7);
            let rounds = (0..rounds)
                .map(|round| {
                    (0..rng.random_range(1..=5))
                        .map(|i| {
                            // The first call races the watch's subscribe.
                            let gap = if round == 0 && i == 0 {
                                rng.random_range(0..=3)
                            } else {
                                rng.random_range(0..=60)
                            };
                            (gap, chat_op(rng, &sw, &mine, watch))
                        })
                        .collect()
                })
                .collect();
            ChatPlan {
                id: chat_id(rng),
                watch,
                watch_delay: ms(rng.random_range(0..=15)),
                rounds,
            }
        })
        .collect();
    let dev = (0..rounds)
        .map(|round| {
            let mut ops: Vec<(u64, DevOp)> = (0..rng.random_range(0..=3))
                .filter_map(|_| dev_op(rng, &sw, repos).map(|o| (rng.random_range(0..=100), o)))
                .collect();
            if sw.end_commit && round + 1 == rounds {
                ops.extend((0..repos).map(|r| (0, DevOp::Commit(r))));
            }
            ops
        })
        .collect();
    Plan {
        sw,
        repos,
        chats,
        dev,
    }
}

/// When the agent crashes and comes back.
#[derive(Clone, Copy, Debug)]
struct Outage {
    crash_at: Duration,
    back_at: Duration,
}

impl Outage {
    /// Whether `t` is in the outage or just after it (the listener may
    /// not be up in the very step of the bounce).
    fn covers(&self, t: Duration) -> bool {
        t >= self.crash_at && t <= self.back_at + RESUME_BOUND
    }
}

/// Bounds derived from the configuration and the seed's faults.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// From an acknowledged edit (or a watch's start) to its report.
    scan: Duration,
    /// The same when no scan can be cooling down: no earlier edit of the
    /// chat gave its watch a repository to scan.
    first: Duration,
}

/// The seed's network episodes on every link; returns the longest extra
/// delay a message can suffer and when the last one heals.
fn faults(
    world: &mut SimWorld<'_>,
    sw: &Swarm,
    links: Vec<(String, bool)>,
    rng: &mut ChaCha8Rng,
) -> (Duration, Duration) {
    let base = SimConfig::DEFAULT;
    let mut extra = Duration::ZERO;
    let mut healed = Duration::ZERO;
    if !(sw.spikes || sw.holds || sw.partitions) {
        return (extra, healed);
    }
    for (host, watch) in links {
        let partitions = !watch;
        let spec = EpisodeSpec {
            a: host,
            b: AGENT.into(),
            base: (base.min_latency, base.max_latency),
            count: 1..=3,
            first: ms(20)..ms(300),
            gap: ms(20)..ms(200),
            hold: ms(20)..ms(300),
            partition: ms(20)..ms(300),
            spike: ms(50)..ms(300),
            spike_max: ms(10)..ms(40),
        };
        let episodes = Episodes::draw(&spec, rng);
        for pair in episodes.faults.chunks(2) {
            let [(at, start), (end_at, end)] = pair else {
                continue;
            };
            let len = end_at.saturating_sub(*at);
            let keep = match start {
                Fault::Hold(..) => sw.holds,
                Fault::Partition(..) | Fault::PartitionOneway(..) => sw.partitions && partitions,
                Fault::Latency { .. } => sw.spikes,
                _ => false,
            };
            if !keep {
                continue;
            }
            extra = extra.max(match start {
                Fault::Latency { max, .. } => *max * 4,
                _ => len * 2,
            });
            healed = healed.max(*end_at);
            world.fault(*at, start.clone());
            world.fault(*end_at, end.clone());
        }
    }
    (extra, healed)
}

/// Where the chats' calls and watches run. One host for all calls and
/// watches, unless the seed needs more: with a restart, one host per chat
/// (a crash's FINs must go to distinct hosts, see `Fault::Crash`); with
/// partitions, the watches apart from the calls (their links see only
/// holds and spikes). Few hosts keep a step cheap.
#[derive(Clone, Copy, Debug)]
struct Layout {
    per_chat: bool,
    split: bool,
}

impl Layout {
    fn of(sw: &Swarm) -> Self {
        Layout {
            per_chat: sw.restart,
            split: sw.partitions,
        }
    }

    fn calls(self, c: usize) -> String {
        if self.per_chat {
            format!("chat{c}")
        } else {
            "chatd".into()
        }
    }

    fn watch(self, c: usize) -> String {
        match (self.split, self.per_chat) {
            (false, _) => self.calls(c),
            (true, true) => format!("watch{c}"),
            (true, false) => "watchd".into(),
        }
    }

    /// Every client host, each once, and whether it keeps a watch.
    fn hosts(self, chats: &[ChatPlan]) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = Vec::new();
        for (c, p) in chats.iter().enumerate() {
            let mut add = |h: String, watch: bool| match out.iter_mut().find(|(o, _)| *o == h) {
                Some((_, w)) => *w |= watch,
                None => out.push((h, watch)),
            };
            add(self.calls(c), false);
            if p.watch {
                add(self.watch(c), true);
            }
        }
        out
    }
}

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let plan = plan(&mut rng);
    let sw = plan.sw;
    let n = plan.chats.len();
    let mut model = Model {
        repos: Vec::new(),
        versions: BTreeMap::new(),
        touched: vec![BTreeSet::new(); n],
        acked: vec![Vec::new(); n],
        created: vec![0; n],
        dev_files: 0,
        dev_ops: Vec::new(),
    };
    let mut seed_files = Vec::new();
    for r in 0..plan.repos {
        let mut files = BTreeMap::new();
        files.insert("README.md".to_string(), format!("# repo {r}\n"));
        for c in 0..n {
            for k in 0..OWN_FILES {
                let path = own_file(c, k);
                files.insert(path.clone(), content(&path, 0));
                model.versions.insert((r, path), 0);
            }
        }
        seed_files.push(files.clone());
        model.repos.push(RepoModel::committed("main", files));
    }
    let config = agent::AgentConfig {
        write_timeout: WRITE_TIMEOUT,
        scan_cooldown: SCAN_COOLDOWN,
        fallback_scan_interval: FALLBACK,
        ..agent_config(world.bugs())
    };
    let parts = host_agent(world, config, |parts| {
        for (r, files) in seed_files.iter().enumerate() {
            let root = repo_root(r);
            let made = parts
                .scanner
                .init_repo(&root, "main", Some("https://example.com/r.git"))
                .and_then(|_| {
                    files
                        .iter()
                        .try_for_each(|(p, c)| parts.fs.write(root.join(p), c.clone()))
                })
                .and_then(|_| parts.scanner.commit(&root));
            if let Err(e) = made {
                tracing::warn!(error = %e, "cannot seed a repository");
            }
        }
    });

    let mut frng = world.rng(stream::FAULTS);
    let layout = Layout::of(&sw);
    let (extra, healed) = faults(world, &sw, layout.hosts(&plan.chats), &mut frng);
    let outage = sw.restart.then(|| {
        let crash_at = ms(frng.random_range(100..=600)).max(healed + ms(100));
        let down = if frng.random_bool(0.2) {
            Duration::ZERO
        } else {
            ms(frng.random_range(1..=300))
        };
        Outage {
            crash_at,
            back_at: crash_at + down,
        }
    });
    if let Some(o) = outage {
        for (host, _) in layout.hosts(&plan.chats) {
            world.fault(
                o.crash_at.saturating_sub(ms(20)),
                Fault::Latency {
                    a: host,
                    b: AGENT.into(),
                    min: PINNED,
                    max: PINNED,
                },
            );
        }
        world.fault(o.crash_at, Fault::Crash(AGENT.into()));
        world.fault(o.back_at, Fault::Bounce(AGENT.into()));
    }

    let config = &MIXED_GIT.config;
    let (tick, sleep, latency) = (config.tick, config.sched.max_sleep, config.max_latency);
    // The trigger's trip (the edit's answer is sent after it), a scan's
    // yield sleeps and ticks, the message's trip back, once per chat that
    // may hold a lock the scan's path waits for.
    let slack = latency * 4 + tick * 4 + (sleep * 2 + tick * 2) * (n as u32 + 1);
    let bounds = Bounds {
        scan: SCAN_COOLDOWN + slack + extra,
        first: slack + extra,
    };
    world.trace().record(
        "client.swarm",
        format!("{sw:?} repos {} chats {n} outage {outage:?}", plan.repos),
    );
    let conns: Vec<Conn> = plan.chats.iter().map(|p| connect_as(p.id)).collect();
    let ctx = Arc::new(Ctx {
        inv: world.invariants().clone(),
        trace: world.trace().clone(),
        model: Mutex::new(model),
        locks: (0..plan.repos).map(|_| RwLock::new(())).collect(),
        watches: plan
            .chats
            .iter()
            .map(|p| p.watch.then(|| Arc::new(WatchSlot::default())))
            .collect(),
        phase: Mutex::new(Phase {
            released: 0,
            done: vec![0; plan.dev.len()],
            retouched: false,
        }),
        changed: Notify::new(),
        bounds,
        outage,
        sw,
        fs: parts.fs.clone(),
        scanner: parts.scanner.clone(),
        conns: conns.clone(),
    });
    // Each host's tasks; the developer (and the quiescent checks) run on
    // chat 0's.
    type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
    let mut tasks: BTreeMap<String, Vec<Task>> = BTreeMap::new();
    let mut dev = Some(plan.dev);
    for (c, p) in plan.chats.into_iter().enumerate() {
        if p.watch {
            let w = watch_loop(ctx.clone(), c, conns[c].clone(), p.id, p.watch_delay);
            tasks.entry(layout.watch(c)).or_default().push(Box::pin(w));
        }
        let calls = tasks.entry(layout.calls(c)).or_default();
        if let Some(d) = dev.take() {
            calls.push(Box::pin(dev_loop(ctx.clone(), d)));
        }
        calls.push(Box::pin(chat_loop(ctx.clone(), c, p.rounds)));
    }
    for (host, jobs) in tasks {
        let inv = ctx.inv.clone();
        world.client(&host, async move {
            let handles: Vec<_> = jobs.into_iter().map(tokio::spawn).collect();
            join_tasks(&inv, handles).await;
            Ok(())
        });
    }
}

/// The model of every repository and what the chats did.
struct Model {
    repos: Vec<RepoModel>,
    /// (repo, path) → the last version written (never reused).
    versions: BTreeMap<(usize, String), u64>,
    /// Per chat: the repositories it has an acknowledged write in.
    touched: Vec<BTreeSet<usize>>,
    /// Per chat: its acknowledged writes.
    acked: Vec<Vec<Acked>>,
    /// Per chat: new files made so far.
    created: Vec<u32>,
    dev_files: u32,
    /// The developer's operations: (repo, at).
    dev_ops: Vec<(usize, Duration)>,
}

/// One acknowledged write or edit: the attempt that succeeded.
#[derive(Clone, Copy, Debug)]
struct Acked {
    repo: usize,
    sent: Duration,
    acked: Duration,
}

/// Round bookkeeping: actors wait for `released` to reach their round.
struct Phase {
    released: usize,
    /// Per round: chats done with it.
    done: Vec<usize>,
    /// The chats' paths were written again after the restart.
    retouched: bool,
}

/// What a chat's watch saw.
#[derive(Default)]
struct WatchState {
    /// Per repository root, the last report of the current connection.
    view: BTreeMap<String, RepoView>,
    /// Every report: (received at, root).
    reports: Vec<(Duration, String)>,
    /// Connections: (connected at, ended at).
    lives: Vec<(Duration, Option<Duration>)>,
    stopped: bool,
}

#[derive(Default)]
struct WatchSlot {
    state: Mutex<WatchState>,
    resubscribe: Notify,
    refresh: Notify,
    stop: Notify,
}

struct Ctx {
    inv: Invariants,
    trace: Trace,
    model: Mutex<Model>,
    /// Per repository: chats' calls share it, the developer takes it alone.
    locks: Vec<RwLock<()>>,
    watches: Vec<Option<Arc<WatchSlot>>>,
    phase: Mutex<Phase>,
    /// Signalled whenever the phase or a watch's connection changes.
    changed: Notify,
    bounds: Bounds,
    outage: Option<Outage>,
    sw: Swarm,
    fs: SimFs,
    scanner: SimScanner,
    conns: Vec<Conn>,
}

/// Waits until `ready` holds: checked on every [`Ctx::changed`] signal,
/// and every 100 ms for conditions on time.
async fn until(changed: &Notify, mut ready: impl FnMut() -> bool) {
    loop {
        let signal = changed.notified();
        tokio::pin!(signal);
        signal.as_mut().enable();
        if ready() {
            return;
        }
        tokio::select! {
            biased;
            () = signal => {}
            () = tokio::time::sleep(ms(100)) => {}
        }
    }
}

async fn chat_loop(ctx: Arc<Ctx>, c: usize, rounds: Vec<Vec<(u64, Op)>>) {
    for (round, ops) in rounds.into_iter().enumerate() {
        until(&ctx.changed, || ctx.phase.lock().released >= round).await;
        for (i, (gap, op)) in ops.into_iter().enumerate() {
            tokio::time::sleep(ms(gap)).await;
            if ctx.inv.violated() {
                break;
            }
            if !keep_op(&format!("chat{c} r{round}#{i} {op:?}")) {
                continue;
            }
            if !run_op(&ctx, Any::Chat(c, op)).await {
                break;
            }
        }
        ctx.phase.lock().done[round] += 1;
        ctx.changed.notify_waiters();
    }
}

async fn dev_loop(ctx: Arc<Ctx>, rounds: Vec<Vec<(u64, DevOp)>>) {
    let chats = ctx.conns.len();
    for (round, ops) in rounds.into_iter().enumerate() {
        for (i, (gap, op)) in ops.into_iter().enumerate() {
            tokio::time::sleep(ms(gap)).await;
            if ctx.inv.violated() {
                break;
            }
            if !keep_op(&format!("dev r{round}#{i} {op:?}")) {
                continue;
            }
            if !run_op(&ctx, Any::Dev(op)).await {
                break;
            }
        }
        until(&ctx.changed, || {
            ctx.inv.violated() || ctx.phase.lock().done[round] == chats
        })
        .await;
        if ctx.inv.violated() {
            break;
        }
        let last = round + 1 == ctx.phase.lock().done.len();
        quiescent_check(&ctx, round, last).await;
        ctx.phase.lock().released = round + 1;
        ctx.changed.notify_waiters();
    }
    if !ctx.inv.violated() {
        check_timeliness(&ctx);
    }
    for w in ctx.watches.iter().flatten() {
        w.state.lock().stopped = true;
        w.stop.notify_one();
    }
}

/// Runs one generated operation; false ends the actor's round (a
/// violation was reported).
async fn run_op(ctx: &Ctx, op: Any) -> bool {
    // The one place every generated operation passes; the loops ask
    // `keep_op` first, so the shrinker can drop any of them by key.
    ctx.trace.record("client.op", format!("{op:?}"));
    match op {
        Any::Chat(c, Op::Resubscribe) => {
            if let Some(w) = &ctx.watches[c] {
                w.resubscribe.notify_one();
            }
            true
        }
        Any::Chat(_, Op::Idle(d)) => {
            tokio::time::sleep(d).await;
            true
        }
        Any::Chat(c, Op::Edit { repo, file }) => {
            write_own(ctx, c, repo, own_file(c, file), true).await
        }
        Any::Chat(c, Op::Write { repo, file }) => {
            write_own(ctx, c, repo, own_file(c, file), false).await
        }
        Any::Chat(c, Op::Create { repo }) => {
            let path = {
                let mut m = ctx.model.lock();
                m.created[c] += 1;
                format!("c{c}-new{}.txt", m.created[c])
            };
            write_own(ctx, c, repo, path, false).await
        }
        Any::Dev(op) => dev(ctx, op).await,
    }
}

/// A chat writes `path` in `repo` to its next version: an edit of the
/// whole content (when asked and the file exists) or a write; repeated as
/// a write while it fails in transit.
async fn write_own(ctx: &Ctx, c: usize, repo: usize, path: String, edit: bool) -> bool {
    let _shared = ctx.locks[repo].read().await;
    let (old, new) = {
        let mut m = ctx.model.lock();
        let old = m.repos[repo].file(&path).map(str::to_string);
        let v = m.versions.entry((repo, path.clone())).or_insert(0);
        *v += 1;
        (old, content(&path, *v))
    };
    let full = repo_root(repo).join(&path).to_string_lossy().into_owned();
    let conn = &ctx.conns[c];
    let mut attempt = 0;
    // When the first attempt was sent: a repeat may find it already
    // applied and reported.
    let mut sent = None;
    loop {
        if let Some(o) = ctx.outage {
            let t = now();
            if t + CRASH_GUARD >= o.crash_at && t < o.back_at {
                tokio::time::sleep(o.back_at - t).await;
            }
        }
        sent.get_or_insert_with(now);
        let call = async {
            match (&old, edit && attempt == 0) {
                (Some(old), true) => {
                    let req = EditFilesRequest {
                        files: vec![FileEdits {
                            path: full.clone(),
                            edits: vec![FileEdit {
                                search: old.clone(),
                                replace: new.clone(),
                                replace_all: false,
                            }],
                        }],
                        include_diff: false,
                    };
                    conn.edit_files(&req).await.map(|_| ())
                }
                _ => conn.write_file(&full, new.clone().into_bytes()).await,
            }
        };
        let result = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(r) => r,
            Err(_) => Err(SdkError::Transport {
                method: "POST".into(),
                url: full.clone(),
                reason: format!("no answer within {CALL_TIMEOUT:?}"),
            }),
        };
        match result {
            Ok(()) => break,
            Err(e) if e.is_transport() && attempt + 1 < ATTEMPTS => {
                ctx.trace
                    .record("client.retry", format!("chat{c} {path}: {e}"));
                attempt += 1;
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Err(e) => {
                ctx.inv.fail(
                    CALLS_SUCCEED,
                    format!("chat{c}: a write of its own {path} in repo {repo} succeeds"),
                    e,
                );
                return false;
            }
        }
    }
    let mut m = ctx.model.lock();
    m.repos[repo].write(&path, new);
    m.touched[c].insert(repo);
    m.acked[c].push(Acked {
        repo,
        sent: sent.unwrap_or_default(),
        acked: now(),
    });
    true
}

/// The developer's operation, on the sim filesystem, with the
/// repository's calls drained.
async fn dev(ctx: &Ctx, op: DevOp) -> bool {
    let r = match op {
        DevOp::Commit(r) | DevOp::Switch(r, _) | DevOp::Delete(r, _) | DevOp::Untracked(r) => r,
    };
    let _alone = ctx.locks[r].write().await;
    let root = repo_root(r);
    let mut m = ctx.model.lock();
    m.dev_ops.push((r, now()));
    let done = match op {
        DevOp::Commit(_) => {
            m.repos[r].commit();
            ctx.scanner.commit(&root)
        }
        DevOp::Switch(_, i) => {
            let mut name = BRANCHES[i];
            if name == m.repos[r].branch() {
                name = BRANCHES[(i + 1) % BRANCHES.len()];
            }
            m.repos[r].switch(name);
            ctx.scanner.switch_branch(&root, name)
        }
        DevOp::Delete(_, pick) => {
            let paths: Vec<String> = m.repos[r].paths().map(str::to_string).collect();
            if paths.is_empty() {
                return true;
            }
            let path = &paths[pick % paths.len()];
            m.repos[r].delete(path);
            ctx.fs.remove_all(root.join(path))
        }
        DevOp::Untracked(_) => {
            m.dev_files += 1;
            let path = format!("dev-{}.txt", m.dev_files);
            let text = content(&path, 0);
            m.repos[r].write(&path, text.clone());
            ctx.fs.write(root.join(&path), text)
        }
    };
    ctx.inv.check(
        GENERATOR,
        done.is_ok(),
        || format!("the developer's {op:?} on the sim filesystem"),
        || format!("{done:?}"),
    )
}

/// The watch of chat `c`, reconnecting after a planned close or the crash.
async fn watch_loop(ctx: Arc<Ctx>, c: usize, conn: Conn, chat: uuid::Uuid, delay: Duration) {
    let Some(slot) = ctx.watches[c].clone() else {
        return;
    };
    tokio::time::sleep(delay).await;
    loop {
        let Some(watch) = connect_watch(&ctx, &slot, c, &conn, chat).await else {
            return;
        };
        {
            let mut s = slot.state.lock();
            s.view.clear();
            s.lives.push((now(), None));
        }
        ctx.changed.notify_waiters();
        ctx.trace.record("client.watching", format!("chat{c}"));
        let (mut tx, mut rx) = watch.split();
        let ended = loop {
            tokio::select! {
                biased;
                () = slot.stop.notified() => break None,
                () = slot.resubscribe.notified() => break None,
                () = slot.refresh.notified() => {
                    if let Err(e) = tx.refresh().await {
                        break Some(e.to_string());
                    }
                }
                next = rx.next() => match next {
                    Some(Ok(ServerMessage::Changes { repositories, .. })) => {
                        let mut s = slot.state.lock();
                        let at = now();
                        for r in repositories {
                            s.reports.push((at, r.repo_root.clone()));
                            if r.removed {
                                s.view.remove(&r.repo_root);
                            } else {
                                let view = RepoView {
                                    branch: r.branch,
                                    changed: diff_paths(&r.unified_diff),
                                };
                                s.view.insert(r.repo_root, view);
                            }
                        }
                    }
                    Some(Ok(ServerMessage::Error { message })) => {
                        ctx.inv.fail(WATCH_STAYS_OPEN, format!("chat{c}: no error message"), message);
                        return;
                    }
                    Some(Err(e)) => break Some(e.to_string()),
                    None => break Some("the stream ended".into()),
                },
            }
        };
        let at = now();
        if let Some((_, end)) = slot.state.lock().lives.last_mut() {
            *end = Some(at);
        }
        match ended {
            None => {
                let _ = tx.close().await;
                if slot.state.lock().stopped {
                    return;
                }
            }
            Some(why) => {
                let crashed = ctx
                    .outage
                    .is_some_and(|o| at >= o.crash_at && at <= o.crash_at + CRASH_BOUND);
                if !crashed {
                    ctx.inv.fail(
                        WATCH_STAYS_OPEN,
                        format!("chat{c}: the watch open while agent and client are up"),
                        why,
                    );
                    return;
                }
                ctx.trace
                    .record("client.watch_ended", format!("chat{c}: {why}"));
            }
        }
    }
}

/// Connects the watch, retrying while the agent is down; `None` once
/// stopped or after a violation.
async fn connect_watch(
    ctx: &Ctx,
    slot: &WatchSlot,
    c: usize,
    conn: &Conn,
    chat: uuid::Uuid,
) -> Option<agent_sdk::GitWatch> {
    loop {
        if slot.state.lock().stopped || ctx.inv.violated() {
            return None;
        }
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, conn.watch_git(Some(chat))).await;
        let e = match attempt {
            Ok(Ok(w)) => return Some(w),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no connection within {CONNECT_TIMEOUT:?}"),
        };
        let t = now();
        if !ctx.outage.is_some_and(|o| o.covers(t)) {
            let name = if ctx.outage.is_some_and(|o| t > o.back_at) {
                WATCH_RESUMES
            } else {
                WATCH_CONNECTS
            };
            ctx.inv
                .fail(name, format!("chat{c}: a watch while the agent is up"), e);
            return None;
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}

/// After a round: once the agent is up and every watch connected, each
/// watch's view equals the model's.
async fn quiescent_check(ctx: &Ctx, round: usize, last: bool) {
    let bound = ctx.bounds.scan;
    let settle = if ctx.sw.refresh {
        bound
    } else {
        FALLBACK + bound
    };
    if let Some(o) = ctx.outage {
        let retouched = ctx.phase.lock().retouched;
        // A crash due before the views would be checked is waited out (at
        // the end, any crash: every restart seed restarts).
        if !retouched && (last || o.crash_at <= now() + settle + RESUME_BOUND) {
            tokio::time::sleep(o.back_at.saturating_sub(now())).await;
            retouch(ctx).await;
            ctx.phase.lock().retouched = true;
        }
    }
    // Every watch connected since the restart (if any).
    let since = ctx.outage.map(|o| o.back_at);
    let deadline = now() + RESUME_BOUND;
    for (c, w) in ctx.watches.iter().enumerate() {
        let Some(w) = w else { continue };
        let connected = || {
            let s = w.state.lock();
            s.lives.last().is_some_and(|(from, to)| {
                to.is_none() && since.is_none_or(|b| *from >= b || now() < b)
            })
        };
        until(&ctx.changed, || {
            connected() || now() > deadline || ctx.inv.violated()
        })
        .await;
        if ctx.inv.violated() {
            return;
        }
        if !connected() {
            ctx.inv.fail(
                WATCH_RESUMES,
                format!("chat{c}: a watch connected within {RESUME_BOUND:?}"),
                "none",
            );
            return;
        }
        if ctx.sw.refresh {
            w.refresh.notify_one();
        }
    }
    tokio::time::sleep(settle).await;
    if ctx.inv.violated() {
        return;
    }
    let m = ctx.model.lock();
    for (c, w) in ctx.watches.iter().enumerate() {
        let Some(w) = w else { continue };
        let want: BTreeMap<String, RepoView> = m.touched[c]
            .iter()
            .map(|r| (root_name(*r), m.repos[*r].view()))
            .collect();
        let seen = w.state.lock().view.clone();
        let show = |v: &BTreeMap<String, RepoView>| {
            v.iter()
                .map(|(r, view)| format!("{r}: {view}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !ctx.inv.check(
            WATCH_REPORTS_REPO_STATE,
            seen == want,
            || format!("chat{c} after round {round}: {}", show(&want)),
            || show(&seen),
        ) {
            return;
        }
    }
}

/// After the restart: each chat writes one of its files in every
/// repository it touched again, as a chat's next tool call would, so the
/// new agent's PathStore knows them.
async fn retouch(ctx: &Ctx) {
    let todo: Vec<(usize, usize)> = {
        let m = ctx.model.lock();
        m.touched
            .iter()
            .enumerate()
            .flat_map(|(c, rs)| rs.iter().map(move |r| (c, *r)))
            .collect()
    };
    for (c, r) in todo {
        // Own file 0, or a new file if the developer deleted it.
        if !write_own(ctx, c, r, own_file(c, 0), true).await {
            return;
        }
    }
}

/// `changes-after-edit` over the whole run.
fn check_timeliness(ctx: &Ctx) {
    let m = ctx.model.lock();
    let bound = ctx.bounds.scan;
    let end = now();
    for (c, w) in ctx.watches.iter().enumerate() {
        let Some(w) = w else { continue };
        let s = w.state.lock();
        for (from, to) in &s.lives {
            let to = to.unwrap_or(end);
            for e in &m.acked[c] {
                // A connection after the crash owes nothing for edits the
                // old agent took.
                if ctx
                    .outage
                    .is_some_and(|o| *from >= o.crash_at && e.sent < o.crash_at)
                {
                    continue;
                }
                if e.acked > to {
                    continue;
                }
                // A new connection's first scan, or the first scan with a
                // repository, waits for no cooldown.
                let after_crash = |t: Duration| {
                    ctx.outage
                        .is_none_or(|o| *from < o.crash_at || t >= o.crash_at)
                };
                let cooled = m.acked[c]
                    .iter()
                    .any(|o| o.sent < e.sent && o.sent < e.acked && after_crash(o.sent));
                let due = e.acked.max(*from) + if cooled { bound } else { ctx.bounds.first };
                if due > to {
                    continue;
                }
                // A commit (or deletion) in between may bring the
                // repository back to what the watch last reported: then
                // nothing changed for it to report. A new connection's
                // first report is owed either way.
                let first = e.acked < *from;
                let undone = m
                    .dev_ops
                    .iter()
                    .any(|(r, at)| *r == e.repo && *at >= e.sent && *at <= due);
                if undone && !first {
                    continue;
                }
                let root = root_name(e.repo);
                let ok = s
                    .reports
                    .iter()
                    .any(|(at, r)| *r == root && at > &e.sent && at >= from && *at <= due);
                if !ctx.inv.check(
                    CHANGES_AFTER_EDIT,
                    ok,
                    || {
                        format!(
                            "chat{c}: the watch connected at {from:?} reports {root} after the edit sent at {:?}, by {due:?}",
                            e.sent
                        )
                    },
                    || {
                        let times: Vec<Duration> = s
                            .reports
                            .iter()
                            .filter(|(_, r)| *r == root)
                            .map(|(t, _)| *t)
                            .collect();
                        format!("reports of it at {times:?}")
                    },
                ) {
                    return;
                }
            }
        }
    }
}
