//! `concurrent-edits`: several chats edit the same files at once, over the
//! SDK (edit-files and write-file) on the simulated filesystem, and no
//! acknowledged change may be lost.
//!
//! Two kinds of shared file:
//!
//! - *counter* files hold one line per chat, `chatN count=K`. Only chat N
//!   bumps its line (search `count=K`, replace `count=K+1`), in one or
//!   several counter files per edit-files request, so it always knows what
//!   its line says: a search that fails means an acknowledged bump of its
//!   own was overwritten.
//! - *journal* files hold `version=V` and notes before an `end` line. Any
//!   chat inserts a note (search `end`); the journal's owner rewrites the
//!   whole file with the next version through write-file (dropping the
//!   notes, legitimately).
//!
//! Half the edits are sent loosely typed, as a model would: the search with
//! extra leading spaces and no newline, with trailing spaces, or with CRLF
//! endings against the LF file ([`Shape`]). They go through the matcher's
//! line passes, which must rewrite only the chat's own line and keep the
//! file's shape (a glued or doubled line loses or corrupts another chat's
//! count, which the reads catch).
//!
//! Every chat also reads files while the others edit. Invariant
//! `acknowledged-edit-kept`: a read started after a change was acknowledged
//! shows it (each counter at least its acknowledged value, the version at
//! least the acknowledged one, every acknowledged note unless a rewrite may
//! have come after it), an own bump never fails, and the files' final
//! contents hold every acknowledged change. Catches `unserialised-edits`.
//!
//! A bump names its counter files (at least two exist) in a random order,
//! so two chats' bumps often name the same files in opposite orders: with
//! `edit-lock-order` on, each takes one file's lock and waits for the
//! other's, and the run hangs (invariant `run-completes`, naming both
//! requests and the files they wait for).

use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agent_sdk::{AgentConn, EditFilesRequest, FileEdit, FileEdits, HttpAgentConn};
use harness::net::TurmoilConnector;
use harness::prelude::*;
use rand::seq::SliceRandom;
use tokio::time::Instant;

use crate::common::{agent_host, chat_id, connect, connect_as};
use crate::invariants::{ACKNOWLEDGED_EDIT_KEPT, CALLS_SUCCEED, CLIENT_TASKS_COMPLETE};

/// See the module docs.
pub const CONCURRENT_EDITS: ScenarioSpec = ScenarioSpec {
    name: "concurrent-edits",
    summary: "chats edit and rewrite the same files concurrently; no acknowledged edit is lost",
    catches: &[
        Catch {
            bug: Bug::UnserialisedEdits,
            within: 32,
        },
        // First failing seed 16 (66 of seeds 0..1000 hang).
        Catch {
            bug: Bug::EditLockOrder,
            within: 64,
        },
    ],
    config: SimConfig {
        duration: Duration::from_secs(20),
        ..SimConfig::DEFAULT
    },
    build,
};

type Conn = Arc<HttpAgentConn<TurmoilConnector>>;

fn counters_path(k: usize) -> String {
    format!("{PROJECT}/counters-{k}.txt")
}

fn journal_path(k: usize) -> String {
    format!("{PROJECT}/journal-{k}.md")
}

fn counter_line(chat: usize, count: u32) -> String {
    format!("chat{chat} count={count}\n")
}

fn counters_content(k: usize, counts: &[u32]) -> String {
    let mut s = format!("# counters {k}\n");
    for (chat, n) in counts.iter().enumerate() {
        s.push_str(&counter_line(chat, *n));
    }
    s
}

fn journal_content(k: usize, version: u32) -> String {
    format!("# journal {k}\nversion={version}\nend\n")
}

/// How an edit's search and replacement are typed.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// The file's line byte for byte (the exact pass).
    Exact,
    /// Two leading spaces and no newline (the indentation pass).
    LeadingSpaces,
    /// Trailing spaces on search and replacement (the trailing pass).
    TrailingSpaces,
    /// CRLF endings against the LF file (the trailing pass).
    Crlf,
}

impl Shape {
    fn pick(rng: &mut ChaCha8Rng) -> Self {
        match rng.random_range(0..8) {
            0..=3 => Shape::Exact,
            4 | 5 => Shape::LeadingSpaces,
            6 => Shape::TrailingSpaces,
            _ => Shape::Crlf,
        }
    }

    /// `line` (ending in `\n`) typed this way.
    fn typed(self, line: &str) -> String {
        let body = line.strip_suffix('\n').unwrap_or(line);
        match self {
            Shape::Exact => line.to_string(),
            Shape::LeadingSpaces => format!("  {body}"),
            Shape::TrailingSpaces => format!("{body}  \n"),
            Shape::Crlf => format!("{body}\r\n"),
        }
    }

    /// Search and replacement of an edit turning `from` into `to`. Only
    /// the CRLF shape types the replacement too (its endings become the
    /// file's); the others mistype the search alone, as a model that
    /// misjudged the indent or the trailing whitespace.
    fn edit(self, from: &str, to: &str) -> FileEdit {
        let replace = match self {
            Shape::Crlf => to.split_inclusive('\n').map(|l| self.typed(l)).collect(),
            _ => to.to_string(),
        };
        FileEdit {
            search: self.typed(from),
            replace,
            replace_all: false,
        }
    }
}

/// One call of a chat's sequence.
#[derive(Clone, Debug)]
enum Op {
    /// Bump the chat's line in these counter files (one request).
    Bump(Vec<usize>, Shape),
    /// Insert a note into this journal.
    Note(usize, Shape),
    /// Rewrite this (owned) journal with its next version.
    Rewrite(usize),
    /// Read a counter file (`false`) or a journal (`true`).
    Read(bool, usize),
}

struct Plan {
    counters: usize,
    journals: usize,
    /// Per chat: gap (ms) before each call, and the call.
    chats: Vec<Vec<(u64, Op)>>,
}

/// Who owns journal `k` (the only one rewriting it).
fn owner(k: usize, chats: usize) -> usize {
    k % chats
}

fn plan(rng: &mut ChaCha8Rng) -> Plan {
    let chats = rng.random_range(2..=4);
    // Two or more: multi-file bumps over overlapping sets (R17).
    let counters = rng.random_range(2..=3);
    let journals = rng.random_range(1..=2);
    let ops = |rng: &mut ChaCha8Rng, me: usize| -> Vec<(u64, Op)> {
        let owned: Vec<usize> = (0..journals).filter(|k| owner(*k, chats) == me).collect();
        (0..rng.random_range(6..=14))
            .map(|_| {
                let op = match rng.random_range(0..20) {
                    0..=9 => {
                        let mut files: Vec<usize> =
                            (0..counters).filter(|_| rng.random_bool(0.5)).collect();
                        if files.is_empty() {
                            files.push(rng.random_range(0..counters));
                        }
                        files.shuffle(rng);
                        Op::Bump(files, Shape::pick(rng))
                    }
                    10..=13 => Op::Note(rng.random_range(0..journals), Shape::pick(rng)),
                    14..=16 if !owned.is_empty() => {
                        Op::Rewrite(owned[rng.random_range(0..owned.len())])
                    }
                    14..=16 => Op::Note(rng.random_range(0..journals), Shape::pick(rng)),
                    _ => {
                        let journal = rng.random_bool(0.5);
                        let n = if journal { journals } else { counters };
                        Op::Read(journal, rng.random_range(0..n))
                    }
                };
                (rng.random_range(0..=15), op)
            })
            .collect()
    };
    Plan {
        counters,
        journals,
        chats: (0..chats).map(|me| ops(rng, me)).collect(),
    }
}

/// An acknowledged (or in-flight) change of a journal, with its sim times.
#[derive(Clone, Debug)]
struct Change {
    started: Instant,
    /// `None` while in flight.
    acked: Option<Instant>,
    /// The note's line, or the version written.
    what: Entry,
}

#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Note(String),
    Version(u32),
}

/// What the chats have asked for and what was acknowledged.
#[derive(Default)]
struct History {
    /// (counter file, chat) → acknowledged count.
    acked: BTreeMap<(usize, usize), u32>,
    /// (counter file, chat) → highest count a request may have set.
    issued: BTreeMap<(usize, usize), u32>,
    /// Journal → its changes, in start order.
    journal: BTreeMap<usize, Vec<Change>>,
}

impl History {
    fn counts(&self, map: &BTreeMap<(usize, usize), u32>, file: usize, chats: usize) -> Vec<u32> {
        (0..chats)
            .map(|c| map.get(&(file, c)).copied().unwrap_or(0))
            .collect()
    }

    /// The version a read of journal `k` started at `read` must show at
    /// least, and the notes it must contain: those acknowledged before it
    /// with no rewrite that may have come after them (one not acknowledged
    /// before the note started). Call it once the read is answered, so that
    /// every rewrite the read may have seen is known.
    fn journal_floor(&self, k: usize, read: Instant) -> (u32, Vec<String>) {
        let changes = self.journal.get(&k).map(Vec::as_slice).unwrap_or(&[]);
        let acked_before = |c: &Change| c.acked.is_some_and(|a| a < read);
        let version = changes
            .iter()
            .filter(|c| acked_before(c))
            .filter_map(|c| match c.what {
                Entry::Version(v) => Some(v),
                Entry::Note(_) => None,
            })
            .max()
            .unwrap_or(0);
        let notes = changes
            .iter()
            .filter(|c| acked_before(c))
            .filter_map(|note| {
                let Entry::Note(text) = &note.what else {
                    return None;
                };
                let rewritten_after = changes.iter().any(|w| {
                    matches!(w.what, Entry::Version(_)) && w.acked.is_none_or(|a| a >= note.started)
                });
                (!rewritten_after).then(|| text.clone())
            })
            .collect();
        (version, notes)
    }
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<History>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, History> {
        self.0.lock()
    }
}

fn build(world: &mut SimWorld<'_>) {
    let mut rng = world.rng(stream::WORKLOAD);
    let plan = plan(&mut rng);
    let chats: Vec<uuid::Uuid> = plan.chats.iter().map(|_| chat_id(&mut rng)).collect();
    let n = chats.len();
    agent_host(world, |parts| {
        let zero = vec![0; n];
        let seeded = (0..plan.counters)
            .map(|k| (counters_path(k), counters_content(k, &zero)))
            .chain((0..plan.journals).map(|k| (journal_path(k), journal_content(k, 0))))
            .try_for_each(|(path, content)| parts.fs.write(path, content));
        if let Err(e) = seeded {
            tracing::warn!(error = %e, "cannot seed the shared files");
        }
    });
    let (inv, trace) = (world.invariants().clone(), world.trace().clone());
    world.client("chatd", drive(inv, trace, plan, chats));
}

async fn drive(
    inv: Invariants,
    trace: Trace,
    plan: Plan,
    chats: Vec<uuid::Uuid>,
) -> turmoil::Result {
    let shared = Shared::default();
    let n = chats.len();
    let tasks: Vec<_> = plan
        .chats
        .into_iter()
        .zip(chats)
        .enumerate()
        .map(|(me, (ops, chat))| {
            let chat = Chat {
                me,
                chats: n,
                conn: connect_as(chat),
                inv: inv.clone(),
                trace: trace.clone(),
                shared: shared.clone(),
                counts: BTreeMap::new(),
                versions: BTreeMap::new(),
                notes: 0,
            };
            tokio::spawn(chat.run(ops))
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            inv.fail(CLIENT_TASKS_COMPLETE, "every client task finishes", e);
        }
    }
    if inv.violated() {
        return Ok(());
    }
    // Everything is acknowledged now: the files must hold all of it.
    let reader = Chat {
        me: usize::MAX,
        chats: n,
        conn: connect(),
        inv: inv.clone(),
        trace,
        shared,
        counts: BTreeMap::new(),
        versions: BTreeMap::new(),
        notes: 0,
    };
    for k in 0..plan.counters {
        if !reader.read(false, k, true).await {
            return Ok(());
        }
    }
    for k in 0..plan.journals {
        if !reader.read(true, k, true).await {
            return Ok(());
        }
    }
    Ok(())
}

/// One chat's state: what it knows of its own lines and journals.
struct Chat {
    me: usize,
    chats: usize,
    conn: Conn,
    inv: Invariants,
    trace: Trace,
    shared: Shared,
    /// Counter file → this chat's acknowledged count.
    counts: BTreeMap<usize, u32>,
    /// Owned journal → last version written.
    versions: BTreeMap<usize, u32>,
    notes: u32,
}

impl Chat {
    async fn run(mut self, ops: Vec<(u64, Op)>) {
        for (gap, op) in ops {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            self.trace
                .record("client.call", format!("chat{}: {op:?}", self.me));
            let ok = match op {
                Op::Bump(files, shape) => self.bump(&files, shape).await,
                Op::Note(k, shape) => self.note(k, shape).await,
                Op::Rewrite(k) => self.rewrite(k).await,
                Op::Read(journal, k) => self.read(journal, k, false).await,
            };
            if !ok {
                return;
            }
        }
    }

    fn failed(&self, what: &str, e: impl std::fmt::Display) -> bool {
        self.inv.fail(CALLS_SUCCEED, what, e);
        false
    }

    async fn bump(&mut self, files: &[usize], shape: Shape) -> bool {
        let me = self.me;
        let req = EditFilesRequest {
            files: files
                .iter()
                .map(|k| {
                    let n = self.counts.get(k).copied().unwrap_or(0);
                    FileEdits {
                        path: counters_path(*k),
                        edits: vec![shape.edit(&counter_line(me, n), &counter_line(me, n + 1))],
                    }
                })
                .collect(),
            include_diff: false,
        };
        {
            let mut h = self.shared.lock();
            for k in files {
                *h.issued.entry((*k, me)).or_default() += 1;
            }
        }
        match self.conn.edit_files(&req).await {
            Ok(_) => {
                let mut h = self.shared.lock();
                for k in files {
                    let n = self.counts.entry(*k).or_default();
                    *n += 1;
                    h.acked.insert((*k, me), *n);
                }
                true
            }
            Err(e) if e.status() == Some(400) => {
                let expected: Vec<String> = files
                    .iter()
                    .map(|k| {
                        let n = self.counts.get(k).copied().unwrap_or(0);
                        format!("counters-{k}.txt: chat{me} count={n}")
                    })
                    .collect();
                self.inv.fail(
                    ACKNOWLEDGED_EDIT_KEPT,
                    format!("chat{me}'s own acknowledged lines {expected:?}"),
                    e,
                );
                false
            }
            Err(e) => self.failed("an edit-files answer", e),
        }
    }

    async fn note(&mut self, k: usize, shape: Shape) -> bool {
        self.notes += 1;
        let text = format!("note chat{}.{}", self.me, self.notes);
        let req = EditFilesRequest {
            files: vec![FileEdits {
                path: journal_path(k),
                edits: vec![shape.edit("end\n", &format!("{text}\nend\n"))],
            }],
            include_diff: false,
        };
        let at = self.begin(k, Entry::Note(text));
        match self.conn.edit_files(&req).await {
            Ok(_) => self.ack(k, at),
            Err(e) => self.failed("an edit-files answer", e),
        }
    }

    async fn rewrite(&mut self, k: usize) -> bool {
        let version = self.versions.get(&k).copied().unwrap_or(0) + 1;
        let content = journal_content(k, version).into_bytes();
        let at = self.begin(k, Entry::Version(version));
        match self.conn.write_file(&journal_path(k), content).await {
            Ok(()) => {
                self.versions.insert(k, version);
                self.ack(k, at)
            }
            Err(e) => self.failed("a write-file answer", e),
        }
    }

    /// Records a journal change as started; returns its index.
    fn begin(&self, k: usize, what: Entry) -> usize {
        let mut h = self.shared.lock();
        let changes = h.journal.entry(k).or_default();
        changes.push(Change {
            started: Instant::now(),
            acked: None,
            what,
        });
        changes.len() - 1
    }

    fn ack(&self, k: usize, index: usize) -> bool {
        let mut h = self.shared.lock();
        if let Some(c) = h.journal.get_mut(&k).and_then(|c| c.get_mut(index)) {
            c.acked = Some(Instant::now());
        }
        true
    }

    /// Reads a counter file or a journal and checks it against what was
    /// acknowledged before the read started (`last`: everything is, and
    /// the counters must match exactly).
    async fn read(&self, journal: bool, k: usize, last: bool) -> bool {
        let started = Instant::now();
        // Counters only grow: their floor is fixed when the read starts.
        // A journal's floor is taken once the read is answered, when every
        // rewrite that may have come before the read is known.
        let (counters_floor, path) = if journal {
            (None, journal_path(k))
        } else {
            let h = self.shared.lock();
            (Some(h.counts(&h.acked, k, self.chats)), counters_path(k))
        };
        let content = match self.conn.read_file(&path, 0, 0).await {
            Ok((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => return self.failed("a read-file answer", e),
        };
        let who = if last {
            "final read".to_string()
        } else {
            format!("chat{} read", self.me)
        };
        match counters_floor {
            Some(acked) => {
                let issued = {
                    let h = self.shared.lock();
                    h.counts(&h.issued, k, self.chats)
                };
                let seen: Vec<Option<u32>> =
                    (0..self.chats).map(|c| parse_count(&content, c)).collect();
                let ok = seen
                    .iter()
                    .zip(acked.iter().zip(&issued))
                    .all(|(s, (a, i))| {
                        s.is_some_and(|s| if last { s == *a } else { *a <= s && s <= *i })
                    });
                self.inv.check(
                    ACKNOWLEDGED_EDIT_KEPT,
                    ok,
                    || {
                        if last {
                            format!("{who} of counters-{k}.txt: counts {acked:?}")
                        } else {
                            format!(
                                "{who} of counters-{k}.txt: counts at least {acked:?}, at most {issued:?}"
                            )
                        }
                    },
                    || format!("{seen:?} in {content:?}"),
                )
            }
            None => {
                let (version, notes) = self.shared.lock().journal_floor(k, started);
                let seen = parse_version(&content);
                let missing: Vec<&String> = notes
                    .iter()
                    .filter(|n| !content.lines().any(|l| l == n.as_str()))
                    .collect();
                self.inv.check(
                    ACKNOWLEDGED_EDIT_KEPT,
                    seen.is_some_and(|v| v >= version) && missing.is_empty(),
                    || format!("{who} of journal-{k}.md: version >= {version} and notes {notes:?}"),
                    || format!("version {seen:?}, missing {missing:?} in {content:?}"),
                )
            }
        }
    }
}

fn parse_count(content: &str, chat: usize) -> Option<u32> {
    let prefix = format!("chat{chat} count=");
    content
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
}

fn parse_version(content: &str) -> Option<u32> {
    content
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape of a bump, applied by the matcher to a counters file,
    /// changes exactly the chat's own line.
    #[test]
    fn every_shape_bumps_only_its_own_line() {
        let before = counters_content(0, &[3, 10, 1]);
        for shape in [
            Shape::Exact,
            Shape::LeadingSpaces,
            Shape::TrailingSpaces,
            Shape::Crlf,
        ] {
            let edit = shape.edit(&counter_line(1, 10), &counter_line(1, 11));
            let after = agent::files::fuzzy::apply_edits(before.as_bytes(), &[edit], usize::MAX)
                .expect("applies");
            assert_eq!(
                String::from_utf8(after).expect("utf-8"),
                counters_content(0, &[3, 11, 1]),
                "{shape:?}"
            );
            let note = shape.edit("end\n", "note x\nend\n");
            let after = agent::files::fuzzy::apply_edits(
                journal_content(0, 2).as_bytes(),
                &[note],
                usize::MAX,
            )
            .expect("applies");
            assert_eq!(
                String::from_utf8(after).expect("utf-8"),
                "# journal 0\nversion=2\nnote x\nend\n",
                "{shape:?}"
            );
        }
    }

    #[test]
    fn counter_and_journal_lines_parse_back() {
        let c = counters_content(0, &[3, 0, 12]);
        assert_eq!(
            (0..4).map(|chat| parse_count(&c, chat)).collect::<Vec<_>>(),
            [Some(3), Some(0), Some(12), None]
        );
        assert_eq!(parse_version(&journal_content(1, 7)), Some(7));
    }
}
