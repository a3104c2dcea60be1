//! `mixed-files`: generated file workloads (swarm testing) over the file
//! API and the git watch, checked against a serial model of the
//! acknowledged operations.
//!
//! Chats share files made of owned slots, owned `replace_all` pairs and a
//! common append log ([`harness::model::files`]), and each owns a private
//! file. Per seed a random subset of operation kinds is enabled: exact,
//! trailing-whitespace and indentation-insensitive searches, `replace_all`,
//! appends, several edits per file, several files per request (overlapping
//! sets in random orders, private files included), whole-file rewrites,
//! reads, and a git watch per chat (sometimes living past the write
//! deadline, shortened here to 3 s, as the scan cooldown is to 250 ms, so
//! that long lives cost few steps). Invariants:
//!
//! - `acknowledged-edit-kept`: a read shows every slot at least at its
//!   value acknowledged before the read was sent and at most at the value
//!   last asked for, every acknowledged append exactly once, a private file
//!   exactly as last acknowledged;
//! - `final-file-matches-model`: each shared file ends as the serial
//!   application of the acknowledged operations, appends in an order that
//!   respects real time, none twice ([`check_final`]);
//! - `request-answers-promptly`: every call answers within its round trip,
//!   the yield sleeps on its path and one lock hold per other chat;
//! - `changes-after-edit`: a chat's watch reports the repository after each
//!   of its acknowledged edits within the scan cooldown plus round trip,
//!   and its last report shows the chat's final lines;
//! - `watch-stays-open`: the watch never ends while both sides are up,
//!   whatever its age.
//!
//! Fault kinds are a per-seed choice too, drawn from the `faults` stream
//! (so a seed's workload does not depend on them): latency spikes and
//! held links on the client's link, never partitions (a dropped segment
//! would corrupt the watch's WebSocket rather than delay it). Each adds
//! its longest delay to the bounds above.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agent::git::wire::ServerMessage;
use agent_sdk::{AgentConn, EditFilesRequest, FileEdit, FileEdits, HttpAgentConn};
use futures::StreamExt;
use harness::fault::{EpisodeSpec, Episodes};
use harness::model::files::{Append, END, SlotFile, check_final, pair_token, slot_line};
use harness::model::process::now;
use harness::net::TurmoilConnector;
use harness::prelude::*;
use parking_lot::Mutex;
use rand::seq::SliceRandom;

use crate::common::{AGENT, chat_id, connect, connect_as, join_tasks, seed_repo};
use crate::invariants::{
    ACKNOWLEDGED_EDIT_KEPT, CALLS_SUCCEED, CHANGES_AFTER_EDIT, FINAL_FILE_MATCHES_MODEL,
    REQUEST_ANSWERS_PROMPTLY, WATCH_CONNECTS, WATCH_STAYS_OPEN,
};

/// See the module docs.
pub const MIXED_FILES: ScenarioSpec = ScenarioSpec {
    name: "mixed-files",
    summary: "generated file and git-watch workloads (swarm testing); final files equal the serial application of acknowledged edits",
    catches: &[
        Catch {
            bug: Bug::UnserialisedEdits,
            within: 32,
        },
        // Overlapping multi-file edits in opposite orders deadlock; first
        // failing seed 29, 8 of seeds 0..200 hang.
        Catch {
            bug: Bug::EditLockOrder,
            within: 128,
        },
    ],
    config: SimConfig {
        duration: Duration::from_secs(60),
        ..SimConfig::DEFAULT
    },
    build,
};

type Conn = Arc<HttpAgentConn<TurmoilConnector>>;

/// Owned slots per chat and shared file.
const SLOTS: usize = 2;

/// The agent's write deadline here: shorter than its 20 s default so a
/// watch outlives it cheaply (every sim millisecond is a step).
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// The agent's scan cooldown here (1 s by default), for the same reason.
const SCAN_COOLDOWN: Duration = Duration::from_millis(250);

/// How long a long-lived watch waits before its last edit: past the
/// write deadline.
const LONG_WATCH: Duration = Duration::from_secs(4);

fn shared_path(k: usize) -> String {
    format!("{PROJECT}/shared-{k}.txt")
}

fn private_path(c: usize) -> String {
    format!("{PROJECT}/own-{c}.txt")
}

fn private_content(c: usize, version: u32, filler: usize) -> String {
    let mut s = format!("owner c{c}\nversion {version}\n");
    for i in 0..filler {
        s.push_str(&format!("c{c} filler line {i}\n"));
    }
    s
}

fn slot_key(c: usize, j: usize) -> String {
    format!("c{c}.s{j}")
}

fn pair_key(c: usize) -> String {
    format!("c{c}")
}

/// Which kinds this seed uses.
#[derive(Clone, Copy, Debug)]
struct Swarm {
    trailing: bool,
    indent: bool,
    replace_all: bool,
    append: bool,
    multi_edit: bool,
    multi_file: bool,
    private: bool,
    rewrite: bool,
    read: bool,
    watch: bool,
    long_watch: bool,
}

impl Swarm {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let mut on = |p: f64| rng.random_bool(p);
        Swarm {
            trailing: on(0.5),
            indent: on(0.5),
            replace_all: on(0.5),
            append: on(0.6),
            multi_edit: on(0.5),
            multi_file: on(0.6),
            private: on(0.5),
            rewrite: on(0.5),
            read: on(0.6),
            watch: on(0.5),
            long_watch: on(0.2),
        }
    }
}

/// How a slot's search is written.
#[derive(Clone, Copy, Debug)]
enum Style {
    Exact,
    TrailingSpace,
    Indented,
}

/// One change inside an edit-files request.
#[derive(Clone, Copy, Debug)]
enum Change {
    Slot(usize, Style),
    Pair,
    Append,
    /// The private file's version line.
    Private,
}

#[derive(Clone, Debug)]
enum Op {
    /// One edit-files request: per file (`None`: the private one), its
    /// changes.
    Edit(Vec<(Option<usize>, Vec<Change>)>),
    Rewrite(usize),
    Read(Option<usize>),
}

struct Plan {
    files: usize,
    chats: Vec<(uuid::Uuid, Vec<(u64, Op)>)>,
    sw: Swarm,
}

fn change(rng: &mut ChaCha8Rng, sw: &Swarm) -> Change {
    let mut kinds = vec![0];
    for (on, k) in [(sw.replace_all, 1), (sw.append, 2)] {
        if on {
            kinds.push(k);
        }
    }
    match kinds[rng.random_range(0..kinds.len())] {
        1 => Change::Pair,
        2 => Change::Append,
        _ => {
            let mut styles = vec![Style::Exact];
            if sw.trailing {
                styles.push(Style::TrailingSpace);
            }
            if sw.indent {
                styles.push(Style::Indented);
            }
            Change::Slot(
                rng.random_range(0..SLOTS),
                styles[rng.random_range(0..styles.len())],
            )
        }
    }
}

fn op(rng: &mut ChaCha8Rng, sw: &Swarm, files: usize) -> Op {
    if sw.rewrite && rng.random_bool(0.15) {
        return Op::Rewrite(rng.random_range(0..=40));
    }
    if sw.read && rng.random_bool(0.2) {
        let private = sw.private && rng.random_bool(0.3);
        return Op::Read((!private).then(|| rng.random_range(0..files)));
    }
    let mut targets: Vec<Option<usize>> = if sw.multi_file {
        (0..files)
            .filter(|_| rng.random_bool(0.5))
            .map(Some)
            .collect()
    } else {
        Vec::new()
    };
    if sw.private && (targets.is_empty() || rng.random_bool(0.3)) && rng.random_bool(0.5) {
        targets.push(None);
    }
    if targets.is_empty() {
        targets.push(Some(rng.random_range(0..files)));
    }
    targets.shuffle(rng);
    let edits = targets
        .into_iter()
        .map(|t| {
            let changes = match t {
                None => vec![Change::Private],
                Some(_) => {
                    let n = if sw.multi_edit {
                        rng.random_range(1..=3)
                    } else {
                        1
                    };
                    let mut cs: Vec<Change> = Vec::new();
                    for _ in 0..n {
                        let c = change(rng, sw);
                        // One edit per slot, pair and append per request:
                        // a second would search what the first replaced.
                        let dup = cs.iter().any(|d| match (d, &c) {
                            (Change::Slot(a, _), Change::Slot(b, _)) => a == b,
                            (Change::Pair, Change::Pair) | (Change::Append, Change::Append) => true,
                            _ => false,
                        });
                        if !dup {
                            cs.push(c);
                        }
                    }
                    cs
                }
            };
            (t, changes)
        })
        .collect();
    Op::Edit(edits)
}

fn plan(rng: &mut ChaCha8Rng) -> Plan {
    let sw = Swarm::draw(rng);
    let files = rng.random_range(1..=3);
    let chats = (0..rng.random_range(2..=3))
        .map(|_| {
            let ops = (0..rng.random_range(3..=12))
                .map(|_| (rng.random_range(0..=15), op(rng, &sw, files)))
                .collect();
            (chat_id(rng), ops)
        })
        .collect();
    Plan { files, chats, sw }
}

/// The initial model of shared file `k`.
fn shared_model(k: usize, chats: usize) -> SlotFile {
    SlotFile {
        title: format!("shared-{k}"),
        slots: (0..chats)
            .flat_map(|c| (0..SLOTS).map(move |j| (slot_key(c, j), 0)))
            .collect(),
        pairs: (0..chats).map(|c| (pair_key(c), 0)).collect(),
    }
}

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let plan = plan(&mut rng);
    let chats = plan.chats.len();
    let files = plan.files;
    let filler: Vec<usize> = (0..chats)
        .map(|_| {
            if rng.random_bool(0.2) {
                rng.random_range(1000..=4000)
            } else {
                rng.random_range(0..=20)
            }
        })
        .collect();
    let f = filler.clone();
    let config = agent::AgentConfig {
        write_timeout: WRITE_TIMEOUT,
        scan_cooldown: SCAN_COOLDOWN,
        ..agent_config(world.bugs())
    };
    host_agent(world, config, |parts| {
        seed_repo(parts);
        let seeded = (0..files)
            .map(|k| (shared_path(k), shared_model(k, chats).render(&[])))
            .chain((0..chats).map(|c| (private_path(c), private_content(c, 0, f[c]))))
            .try_for_each(|(path, content)| parts.fs.write(path, content));
        if let Err(e) = seeded {
            tracing::warn!(error = %e, "cannot seed the shared files");
        }
    });
    let config = &MIXED_FILES.config;
    let (tick, sleep, latency) = (config.tick, config.sched.max_sleep, config.max_latency);
    // A call: the handshake and request, the answer back, ticks, and the
    // two yield points of an edit or write, once per chat that may hold a
    // lock it waits for.
    let extra = faults(world);
    let prompt = latency * 4 + tick * 2 + (sleep * 2 + tick * 2) * (chats as u32 + 1) + extra;
    let scan = SCAN_COOLDOWN + prompt;
    let bounds = Bounds { prompt, scan };
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world
        .trace()
        .record("client.swarm", format!("{:?}", plan.sw));
    world.client("chatd", drive(inv, trace, plan, filler, bounds));
}

/// The seed's fault kinds (latency spikes, held links, each on or off),
/// drawn from the `faults` stream so the workload stays as it was, and
/// their episodes on the client's link. Returns the longest extra delay a
/// call or a watch report can suffer: a hold's length twice, a spike's
/// highest latency once per message of a call.
fn faults(world: &mut SimWorld<'_>) -> Duration {
    let mut rng = world.rng(stream::FAULTS);
    let (spikes, holds) = (rng.random_bool(0.3), rng.random_bool(0.3));
    if !(spikes || holds) {
        return Duration::ZERO;
    }
    let ms = Duration::from_millis;
    let spec = EpisodeSpec {
        a: "chatd".into(),
        b: AGENT.into(),
        base: (
            MIXED_FILES.config.min_latency,
            MIXED_FILES.config.max_latency,
        ),
        count: 1..=3,
        first: ms(20)..ms(400),
        gap: ms(20)..ms(300),
        hold: ms(20)..ms(200),
        partition: ms(20)..ms(200),
        spike: ms(50)..ms(300),
        spike_max: ms(10)..ms(40),
    };
    let episodes = Episodes::draw(&spec, &mut rng);
    let mut extra = Duration::ZERO;
    for pair in episodes.faults.chunks(2) {
        let [(at, start), (end_at, end)] = pair else {
            continue;
        };
        let keep = match start {
            Fault::Hold(..) => holds,
            Fault::Latency { .. } => spikes,
            // A dropped segment would corrupt the watch's stream (no
            // retransmission in the simulated TCP), not delay it.
            _ => false,
        };
        if !keep {
            continue;
        }
        extra = extra.max(match start {
            Fault::Latency { max, .. } => *max * 4,
            _ => end_at.saturating_sub(*at) * 2,
        });
        world.fault(*at, start.clone());
        world.fault(*end_at, end.clone());
    }
    world.trace().record(
        "client.faults",
        format!("spikes {spikes}, holds {holds}, extra {extra:?}"),
    );
    extra
}

#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// Any call, from sending to its answer.
    prompt: Duration,
    /// From an acknowledged edit to its watch's report.
    scan: Duration,
}

/// What every chat asked for and what was acknowledged.
#[derive(Default)]
struct History {
    /// (file, key) → acknowledged value.
    acked: BTreeMap<(usize, String), u32>,
    /// (file, key) → highest value asked for.
    issued: BTreeMap<(usize, String), u32>,
    /// File → appends.
    appends: BTreeMap<usize, Vec<Append>>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<History>>);

async fn drive(
    inv: Invariants,
    trace: Trace,
    plan: Plan,
    filler: Vec<usize>,
    bounds: Bounds,
) -> turmoil::Result {
    let shared = Shared::default();
    let n = plan.chats.len();
    let sw = plan.sw;
    let tasks: Vec<_> = plan
        .chats
        .into_iter()
        .enumerate()
        .map(|(me, (chat, ops))| {
            let c = Chat {
                me,
                chat,
                chats: n,
                conn: connect_as(chat),
                inv: inv.clone(),
                trace: trace.clone(),
                shared: shared.clone(),
                bounds,
                values: BTreeMap::new(),
                private_version: 0,
                filler: filler[me],
                appends: 0,
                edits: Vec::new(),
            };
            tokio::spawn(c.run(ops, sw))
        })
        .collect();
    join_tasks(&inv, tasks).await;
    if inv.violated() {
        return Ok(());
    }
    let conn = connect();
    for k in 0..plan.files {
        let content = match conn.read_file(&shared_path(k), 0, 0).await {
            Ok((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                inv.fail(CALLS_SUCCEED, "a read-file answer", e);
                return Ok(());
            }
        };
        let h = shared.0.lock();
        let mut model = shared_model(k, n);
        for (key, v) in model.slots.iter_mut().chain(model.pairs.iter_mut()) {
            *v = h.acked.get(&(k, key.clone())).copied().unwrap_or(0);
        }
        let appends = h.appends.get(&k).cloned().unwrap_or_default();
        if let Err(m) = check_final(&model, &appends, &content) {
            inv.fail(
                FINAL_FILE_MATCHES_MODEL,
                format!("shared-{k}: {}", m.expected),
                m.seen,
            );
            return Ok(());
        }
    }
    Ok(())
}

/// One acknowledged edit of a chat: sent and acknowledged at.
type Acked = (Duration, Duration);

struct Chat {
    me: usize,
    chat: uuid::Uuid,
    chats: usize,
    conn: Conn,
    inv: Invariants,
    trace: Trace,
    shared: Shared,
    bounds: Bounds,
    /// (file, key) → own acknowledged value.
    values: BTreeMap<(usize, String), u32>,
    private_version: u32,
    filler: usize,
    appends: u32,
    edits: Vec<Acked>,
}

/// What the chat's watch saw: `changes` messages for the project (receipt
/// time, diff), and whether it ended early.
#[derive(Default)]
struct Seen {
    changes: Vec<(Duration, String)>,
    ended: Option<String>,
}

impl Chat {
    async fn run(mut self, ops: Vec<(u64, Op)>, sw: Swarm) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = tokio_util_stop();
        let watch = if sw.watch {
            match self.conn.watch_git(Some(self.chat)).await {
                Ok(mut ws) => {
                    let (seen, stop) = (seen.clone(), stop.clone());
                    Some(tokio::spawn(async move {
                        loop {
                            let next = tokio::select! {
                                biased;
                                () = stop.notified() => break,
                                m = ws.next() => m,
                            };
                            let mut s = seen.lock();
                            match next {
                                Some(Ok(ServerMessage::Changes { repositories, .. })) => {
                                    if let Some(r) =
                                        repositories.iter().find(|r| r.repo_root == PROJECT)
                                    {
                                        s.changes.push((now(), r.unified_diff.clone()));
                                    }
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => {
                                    s.ended = Some(e.to_string());
                                    break;
                                }
                                None => {
                                    s.ended = Some("the stream ended".into());
                                    break;
                                }
                            }
                        }
                        let _ = ws.close().await;
                    }))
                }
                Err(e) => {
                    self.inv.fail(WATCH_CONNECTS, "a watch", e);
                    None
                }
            }
        } else {
            None
        };
        let last = ops.len().saturating_sub(1);
        for (i, (gap, op)) in ops.into_iter().enumerate() {
            if i == last && watch.is_some() && sw.long_watch {
                tokio::time::sleep(LONG_WATCH).await;
            }
            tokio::time::sleep(Duration::from_millis(gap)).await;
            if self.inv.violated() {
                break;
            }
            if !keep_op(&format!("chat{}#{i} {op:?}", self.me)) {
                continue;
            }
            self.trace
                .record("client.call", format!("chat{}: {op:?}", self.me));
            let ok = match op {
                Op::Edit(edits) => self.edit(&edits).await,
                Op::Rewrite(extra) => self.rewrite(extra).await,
                Op::Read(Some(k)) => self.read_shared(k).await,
                Op::Read(None) => self.read_private().await,
            };
            if !ok {
                break;
            }
        }
        if let Some(task) = watch {
            if !self.inv.violated() {
                tokio::time::sleep(self.bounds.scan).await;
            }
            stop.notify_one();
            join_tasks(&self.inv, [task]).await;
            if !self.inv.violated() {
                self.check_watch(&seen.lock());
            }
        }
    }

    fn check_watch(&self, seen: &Seen) {
        let who = format!("chat{}", self.me);
        if let Some(why) = &seen.ended {
            self.inv.fail(
                WATCH_STAYS_OPEN,
                format!("{who}: the watch open while agent and client are up"),
                why,
            );
            return;
        }
        for (sent, acked) in &self.edits {
            let due = *acked + self.bounds.scan;
            let ok = seen.changes.iter().any(|(at, _)| at > sent && *at <= due);
            if !self.inv.check(
                CHANGES_AFTER_EDIT,
                ok,
                || format!("{who}: a changes message for {PROJECT} in {sent:?}..={due:?}"),
                || {
                    format!(
                        "messages at {:?}",
                        seen.changes.iter().map(|(t, _)| *t).collect::<Vec<_>>()
                    )
                },
            ) {
                return;
            }
        }
        // The last report after the last edit shows the chat's own final
        // lines (nobody else changes them).
        let Some((sent, _)) = self.edits.last() else {
            return;
        };
        let Some((_, diff)) = seen.changes.iter().rev().find(|(at, _)| at > sent) else {
            return;
        };
        for ((k, key), v) in &self.values {
            if key.contains(".s") {
                let line = format!("+{}", slot_line(key, *v));
                self.inv.check(
                    CHANGES_AFTER_EDIT,
                    diff.contains(&line),
                    || format!("{who}: the last diff shows {line:?} of shared-{k}"),
                    || format!("{} diff bytes", diff.len()),
                );
            }
        }
    }

    fn prompt(&self, what: &str, sent: Duration) -> bool {
        let answered = now();
        let due = sent + self.bounds.prompt;
        self.inv.check(
            REQUEST_ANSWERS_PROMPTLY,
            answered <= due,
            || {
                format!(
                    "chat{} {what} sent at {sent:?}: answered by {due:?}",
                    self.me
                )
            },
            || format!("answered at {answered:?}"),
        )
    }

    fn value(&self, k: usize, key: &str) -> u32 {
        self.values.get(&(k, key.to_string())).copied().unwrap_or(0)
    }

    async fn edit(&mut self, edits: &[(Option<usize>, Vec<Change>)]) -> bool {
        let me = self.me;
        let mut bumps: Vec<(usize, String)> = Vec::new();
        let mut appended: Vec<(usize, usize)> = Vec::new();
        let mut private = false;
        let mut files = Vec::new();
        for (target, changes) in edits {
            let Some(k) = *target else {
                let v = self.private_version;
                private = true;
                files.push(FileEdits {
                    path: private_path(me),
                    edits: vec![FileEdit {
                        search: format!("version {v}\n"),
                        replace: format!("version {}\n", v + 1),
                        replace_all: false,
                    }],
                });
                continue;
            };
            let mut fe = Vec::new();
            for c in changes {
                fe.push(match *c {
                    Change::Slot(j, style) => {
                        let key = slot_key(me, j);
                        let v = self.value(k, &key);
                        let line = slot_line(&key, v);
                        let search = match style {
                            Style::Exact => line.clone(),
                            Style::TrailingSpace => line.replace('\n', " \t \n"),
                            Style::Indented => format!("    {line}"),
                        };
                        bumps.push((k, key.clone()));
                        FileEdit {
                            search,
                            replace: slot_line(&key, v + 1),
                            replace_all: false,
                        }
                    }
                    Change::Pair => {
                        let key = pair_key(me);
                        let v = self.value(k, &key);
                        bumps.push((k, key.clone()));
                        FileEdit {
                            search: pair_token(&key, v),
                            replace: pair_token(&key, v + 1),
                            replace_all: true,
                        }
                    }
                    Change::Append => {
                        self.appends += 1;
                        let line = format!("c{me} append {}", self.appends);
                        let mut h = self.shared.0.lock();
                        let log = h.appends.entry(k).or_default();
                        log.push(Append {
                            line: line.clone(),
                            sent: now(),
                            acked: None,
                        });
                        appended.push((k, log.len() - 1));
                        FileEdit {
                            search: END.into(),
                            replace: format!("{line}\n{END}"),
                            replace_all: false,
                        }
                    }
                    Change::Private => continue,
                });
            }
            files.push(FileEdits {
                path: shared_path(k),
                edits: fe,
            });
        }
        {
            let mut h = self.shared.0.lock();
            for (k, key) in &bumps {
                *h.issued.entry((*k, key.clone())).or_default() += 1;
            }
        }
        let sent = now();
        let req = EditFilesRequest {
            files,
            include_diff: false,
        };
        if let Err(e) = self.conn.edit_files(&req).await {
            self.inv.fail(
                ACKNOWLEDGED_EDIT_KEPT,
                format!("chat{me}: an edit of its own acknowledged lines succeeds"),
                e,
            );
            return false;
        }
        let acked = now();
        self.edits.push((sent, acked));
        let mut h = self.shared.0.lock();
        for (k, key) in bumps {
            let v = self.values.entry((k, key.clone())).or_default();
            *v += 1;
            h.acked.insert((k, key), *v);
        }
        for (k, i) in appended {
            if let Some(a) = h.appends.get_mut(&k).and_then(|l| l.get_mut(i)) {
                a.acked = Some(acked);
            }
        }
        drop(h);
        if private {
            self.private_version += 1;
        }
        self.prompt("edit-files", sent)
    }

    async fn rewrite(&mut self, extra: usize) -> bool {
        let v = self.private_version + 1;
        self.filler = (self.filler + extra) % 5000;
        let content = private_content(self.me, v, self.filler);
        let sent = now();
        if let Err(e) = self
            .conn
            .write_file(&private_path(self.me), content.into_bytes())
            .await
        {
            self.inv.fail(CALLS_SUCCEED, "a write-file answer", e);
            return false;
        }
        self.private_version = v;
        self.edits.push((sent, now()));
        self.prompt("write-file", sent)
    }

    async fn read_private(&self) -> bool {
        let sent = now();
        let Some(content) = self.read(&private_path(self.me)).await else {
            return false;
        };
        let want = private_content(self.me, self.private_version, self.filler);
        self.inv.check(
            ACKNOWLEDGED_EDIT_KEPT,
            content == want,
            || format!("chat{}: own-{}.txt as last acknowledged", self.me, self.me),
            || {
                format!(
                    "{} bytes, first line {:?}",
                    content.len(),
                    content.lines().nth(1)
                )
            },
        ) && self.prompt("read-file", sent)
    }

    async fn read(&self, path: &str) -> Option<String> {
        match self.conn.read_file(path, 0, 0).await {
            Ok((bytes, _)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => {
                self.inv.fail(CALLS_SUCCEED, "a read-file answer", e);
                None
            }
        }
    }

    async fn read_shared(&self, k: usize) -> bool {
        let sent = now();
        let (floor, acked_appends) = {
            let h = self.shared.0.lock();
            let floor = h.acked.clone();
            let appends: Vec<String> = h
                .appends
                .get(&k)
                .into_iter()
                .flatten()
                .filter(|a| a.acked.is_some())
                .map(|a| a.line.clone())
                .collect();
            (floor, appends)
        };
        let Some(content) = self.read(&shared_path(k)).await else {
            return false;
        };
        let ceiling = self.shared.0.lock().issued.clone();
        let model = shared_model(k, self.chats);
        for (key, _) in model.slots.iter().chain(&model.pairs) {
            let lo = floor.get(&(k, key.clone())).copied().unwrap_or(0);
            let hi = ceiling.get(&(k, key.clone())).copied().unwrap_or(0);
            let seen = (lo..=hi).find(|v| {
                content.contains(&slot_line(key, *v))
                    || content.contains(&format!("{0} and {0}", pair_token(key, *v)))
            });
            if !self.inv.check(
                ACKNOWLEDGED_EDIT_KEPT,
                seen.is_some(),
                || format!("chat{} read of shared-{k}: {key} in v{lo}..=v{hi}", self.me),
                || format!("{content:?}"),
            ) {
                return false;
            }
        }
        for line in acked_appends {
            let n = content.lines().filter(|l| *l == line).count();
            if !self.inv.check(
                ACKNOWLEDGED_EDIT_KEPT,
                n == 1,
                || format!("chat{} read of shared-{k}: {line:?} once", self.me),
                || format!("{n} times in {content:?}"),
            ) {
                return false;
            }
        }
        self.prompt("read-file", sent)
    }
}

/// The watch task's stop signal: a `Notify` with one waiter.
fn tokio_util_stop() -> Arc<tokio::sync::Notify> {
    Arc::new(tokio::sync::Notify::new())
}
