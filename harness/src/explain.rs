//! Turns a failing run's trace into an explanation: which tasks a violation
//! involves and their events, and what was still pending when a run that
//! never finished was stopped.
//!
//! Everything here reads the trace only. The agent names its tasks
//! (`req3`, `conn2`, `exit-1fced053`) and puts process ids, commands and
//! connection names into its event details, so following those names from
//! the violation's text finds the requests, processes and connections that
//! raced.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::trace::Event;

/// How many events a failure report shows at most.
pub const MAX_EVENTS: usize = 60;

/// Kinds recorded by the agent's HTTP layer and by the process manager that
/// [`pending`] pairs up.
mod kind {
    pub const REQUEST: &str = "http.request";
    pub const RESPONSE: &str = "http.response";
    pub const ACCEPTED: &str = "http.accepted";
    pub const CLOSED: &str = "http.closed";
    pub const PROC_START: &str = "proc.start";
    pub const PROC_EXIT: &str = "proc.exit";
    pub const TIMER_ARM: &str = "timer.arm";
    pub const TIMER_FIRE: &str = "timer.fire";
    pub const TIMER_DISARM: &str = "timer.disarm";
}

/// A timer event's name: what comes before ` due in `, ` fired` or
/// ` disarmed` (`timer.arm`: `NAME due in S.SSSs[ ...]`; `timer.fire`:
/// `NAME fired[...]`; `timer.disarm`: `NAME disarmed[...]`).
fn timer_name(e: &Event) -> &str {
    let cut = match e.kind.as_str() {
        kind::TIMER_ARM => " due in ",
        kind::TIMER_FIRE => " fired",
        _ => " disarmed",
    };
    e.detail.split(cut).next().unwrap_or_default()
}

/// When an armed timer is due: its arm time plus the `due in S.SSSs`.
fn timer_due(e: &Event) -> Option<Duration> {
    let secs = e.detail.split(" due in ").nth(1)?.split('s').next()?;
    let secs: f64 = secs.parse().ok()?;
    Some(e.at + Duration::try_from_secs_f64(secs).ok()?)
}

fn secs(at: Duration) -> String {
    format!("{}.{:06}s", at.as_secs(), at.subsec_micros())
}

/// Words in `text` that name something in the trace: process ids (UUIDs),
/// commands in backticks, task labels such as `conn3`.
fn names_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`'
            && let Some(len) = text.get(i + 1..).and_then(|rest| rest.find('`'))
        {
            out.push(text[i..i + len + 2].to_string());
            i += len + 2;
            continue;
        }
        if let Some(candidate) = text.get(i..i + 36)
            && is_uuid(candidate)
        {
            out.push(candidate.to_string());
            i += 36;
            continue;
        }
        i += 1;
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let numbered = ["conn", "req"].iter().any(|p| {
            word.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        let exit_task = word
            .strip_prefix("exit-")
            .is_some_and(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        let is_label = numbered || exit_task;
        if is_label {
            out.push(word.to_string());
        }
    }
    out
}

/// Whether `hay` contains `name` as a whole word (`req1` is not in `req12`).
fn mentions(hay: &str, name: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
    hay.match_indices(name).any(|(i, _)| {
        !word(hay[..i].chars().next_back()) && !word(hay[i + name.len()..].chars().next())
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The tasks a failure involves and the events that tell their story.
#[derive(Debug, Default)]
pub struct Story<'a> {
    /// Task labels, in order of first appearance.
    pub tasks: Vec<String>,
    pub events: Vec<&'a Event>,
}

/// Follows the names in `seed_text` (the violation's expected and seen
/// texts) through the trace: every task whose events mention one of them
/// is involved, and the names its events mention are followed in turn
/// (twice; a `resume` line, which lists every task that ran meanwhile, is
/// context and not a lead), so a process id leads to the request that started it, its exit
/// task and its simulated process, and a request leads to its connection.
pub fn story<'a>(events: &'a [Event], seed_text: &str) -> Story<'a> {
    let mut keys: BTreeSet<String> = names_in(seed_text).into_iter().collect();
    let mut tasks: BTreeSet<String> = BTreeSet::new();
    for _round in 0..3 {
        let mut found = Vec::new();
        for e in events {
            let task = e.task.as_deref();
            let named = e.kind != "resume" && keys.iter().any(|k| mentions(&e.detail, k));
            let own = task.is_some_and(|t| tasks.contains(t) || keys.contains(t));
            if named || own {
                if let Some(t) = task {
                    found.push(t.to_string());
                }
                if e.kind != "resume" {
                    found.extend(names_in(&e.detail));
                }
            }
        }
        let before = (keys.len(), tasks.len());
        for name in found {
            let is_task = events
                .iter()
                .any(|e| e.task.as_deref() == Some(name.as_str()));
            if is_task {
                tasks.insert(name.clone());
            }
            keys.insert(name);
        }
        if (keys.len(), tasks.len()) == before {
            break;
        }
    }
    // Requests among them that were never answered are the story when
    // there are any: those, their connections, and the background tasks
    // (exit tasks, processes) involved.
    let unanswered: BTreeSet<String> = unanswered(events)
        .into_iter()
        .filter(|t| tasks.contains(t))
        .collect();
    let focused = !unanswered.is_empty();
    if focused {
        let conns: Vec<String> = events
            .iter()
            .filter(|e| {
                e.kind == kind::REQUEST && e.task.as_deref().is_some_and(|t| unanswered.contains(t))
            })
            .filter_map(|e| e.detail.rsplit(' ').next().map(str::to_string))
            .collect();
        tasks.retain(|t| {
            unanswered.contains(t)
                || conns.contains(t)
                || !(t.starts_with("req") || t.starts_with("conn"))
        });
    }
    let mut order: Vec<String> = Vec::new();
    let mut picked = Vec::new();
    for e in events {
        let own = e.task.as_deref().is_some_and(|t| tasks.contains(t));
        let named = !focused && e.kind != "resume" && keys.iter().any(|k| mentions(&e.detail, k));
        let always = matches!(e.kind.as_str(), "violation" | "fault");
        if own || named || always {
            if let Some(t) = e.task.as_deref()
                && own
                && !order.iter().any(|o| o == t)
            {
                order.push(t.to_string());
            }
            picked.push(e);
        }
    }
    Story {
        tasks: order,
        events: picked,
    }
}

/// The tasks of requests that were received and never answered.
fn unanswered(events: &[Event]) -> BTreeSet<String> {
    let mut open = BTreeSet::new();
    for e in events {
        let Some(task) = e.task.as_deref() else {
            continue;
        };
        match e.kind.as_str() {
            kind::REQUEST => {
                open.insert(task.to_string());
            }
            kind::RESPONSE => {
                open.remove(task);
            }
            _ => {}
        }
    }
    open
}

/// What was still open when a run was stopped: requests without an
/// answer (and where their task was last seen), connections still open,
/// processes that never exited, timers armed and neither fired nor
/// disarmed (a timer of a task ends with its request's answer or its
/// connection's close). One line each, oldest first.
pub fn pending(events: &[Event]) -> Vec<String> {
    let mut timers: BTreeMap<(&str, &str), &Event> = BTreeMap::new();
    let mut requests: BTreeMap<&str, &Event> = BTreeMap::new();
    let mut conns: BTreeMap<&str, &Event> = BTreeMap::new();
    let mut procs: BTreeMap<String, &Event> = BTreeMap::new();
    let mut last_seen: BTreeMap<&str, &Event> = BTreeMap::new();
    for e in events {
        let task = e.task.as_deref().unwrap_or("");
        if !task.is_empty() {
            last_seen.insert(task, e);
        }
        match e.kind.as_str() {
            kind::REQUEST => {
                requests.insert(task, e);
            }
            kind::RESPONSE => {
                requests.remove(task);
                timers.retain(|(t, _), _| *t != task);
            }
            kind::TIMER_ARM => {
                timers.insert((task, timer_name(e)), e);
            }
            kind::TIMER_FIRE | kind::TIMER_DISARM => {
                timers.remove(&(task, timer_name(e)));
            }
            kind::ACCEPTED => {
                if let Some(conn) = e.detail.split_whitespace().next() {
                    conns.insert(conn, e);
                }
            }
            kind::CLOSED => {
                conns.remove(task);
                timers.retain(|(t, _), _| *t != task);
            }
            kind::PROC_START => {
                if let Some(id) = e.detail.split_whitespace().next() {
                    procs.insert(id.to_string(), e);
                }
            }
            kind::PROC_EXIT => {
                if let Some(id) = e.detail.split_whitespace().next() {
                    procs.remove(id);
                }
            }
            _ => {}
        }
    }
    let mut lines: Vec<(Duration, String)> = Vec::new();
    for (task, e) in &requests {
        let mut line = format!(
            "request {task} ({}) received at {}, never answered",
            e.detail,
            secs(e.at)
        );
        if let Some(last) = last_seen.get(task) {
            line.push_str(&format!(
                "; its task was last seen at {}: {} {}",
                secs(last.at),
                last.kind,
                last.detail
            ));
        }
        lines.push((e.at, line));
    }
    for (conn, e) in &conns {
        lines.push((e.at, format!("connection {conn} ({}) still open", e.detail)));
    }
    for e in procs.values() {
        lines.push((
            e.at,
            format!(
                "process {} started at {}, never exited",
                e.detail,
                secs(e.at)
            ),
        ));
    }
    for ((task, name), e) in &timers {
        let due = timer_due(e).map_or_else(String::new, |d| format!(", due at {}", secs(d)));
        let task = if task.is_empty() { "-" } else { task };
        lines.push((
            e.at,
            format!(
                "timer: {name} of {task} armed at {}{due}, neither fired nor disarmed",
                secs(e.at)
            ),
        ));
    }
    lines.sort_by_key(|(at, _)| *at);
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn ev(ms: u64, task: &str, kind: &str, detail: &str) -> Event {
        Event {
            at: Duration::from_millis(ms),
            host: Arc::from("agent"),
            task: (!task.is_empty()).then(|| Arc::from(task)),
            kind: kind.to_string(),
            detail: detail.to_string(),
        }
    }

    const ID: &str = "1fced053-e435-4491-ba73-788c7885ae8a";

    fn run() -> Vec<Event> {
        vec![
            ev(1, "conn1", "http.accepted", "conn1 from 192.168.0.2:5000"),
            ev(
                1,
                "req1",
                "http.request",
                "POST /api/v0/processes (no chat) on conn1",
            ),
            ev(
                2,
                "req1",
                "proc.start",
                &format!("{ID} `job-0` (watched by exit-1fced053)"),
            ),
            ev(2, "proc `job-0` sh", "exec.write", "`job-0` wrote 3 bytes"),
            ev(3, "req1", "http.response", "200 OK"),
            ev(3, "conn2", "http.accepted", "conn2 from 192.168.0.3:5000"),
            ev(
                4,
                "req2",
                "http.request",
                "GET /api/v0/git/show (no chat) on conn2",
            ),
            ev(
                5,
                "req3",
                "http.request",
                &format!("GET /api/v0/processes/{ID}/output on conn1"),
            ),
            ev(
                6,
                "req3",
                "yield",
                "#4 headtail.wait: yield x1: other tasks may run",
            ),
        ]
    }

    #[test]
    fn the_story_follows_a_process_id_to_its_requests_processes_and_connections() {
        let mut events = run();
        events.push(ev(7, "req3", "http.response", "200 OK"));
        let story = story(&events, &format!("output of {ID}"));
        assert_eq!(
            story.tasks,
            ["conn1", "req1", "proc `job-0` sh", "req3"],
            "{story:?}"
        );
        assert!(
            story
                .events
                .iter()
                .all(|e| e.task.as_deref() != Some("req2"))
        );
    }

    #[test]
    fn an_unanswered_request_narrows_the_story_to_it_its_connection_and_background_tasks() {
        let events = run();
        let story = story(&events, &format!("output of {ID}"));
        assert_eq!(
            story.tasks,
            ["conn1", "proc `job-0` sh", "req3"],
            "{story:?}"
        );
    }

    #[test]
    fn names_are_found_in_text_with_multibyte_characters() {
        let text = format!("é `job-0` ü {ID} on conn12 ✓");
        assert_eq!(
            names_in(&text),
            ["`job-0`".to_string(), ID.to_string(), "conn12".to_string()]
        );
    }

    #[test]
    fn pending_lists_timers_neither_fired_nor_disarmed_until_their_task_ends() {
        let mut events = run();
        events.extend([
            ev(7, "conn1", "timer.arm", "write deadline due in 2.000s"),
            ev(7, "conn2", "timer.arm", "write deadline due in 2.000s"),
            ev(8, "req3", "timer.arm", "read deadline due in 0.500s (body)"),
            ev(8, "req2", "timer.arm", "read deadline due in 0.500s (body)"),
            ev(9, "req2", "timer.fire", "read deadline fired"),
            ev(9, "conn2", "timer.arm", "write deadline due in 1.000s"),
        ]);
        let timers: Vec<String> = pending(&events)
            .into_iter()
            .filter(|l| l.starts_with("timer: "))
            .collect();
        assert_eq!(
            timers,
            [
                "timer: write deadline of conn1 armed at 0.007000s, due at 2.007000s, neither fired nor disarmed",
                "timer: read deadline of req3 armed at 0.008000s, due at 0.508000s, neither fired nor disarmed",
                "timer: write deadline of conn2 armed at 0.009000s, due at 1.009000s, neither fired nor disarmed",
            ]
        );
        events.push(ev(10, "conn1", "http.closed", "closed: EOF"));
        events.push(ev(
            10,
            "conn2",
            "timer.disarm",
            "write deadline disarmed (upgraded)",
        ));
        events.push(ev(11, "req3", "http.response", "200 OK"));
        assert!(
            !pending(&events).iter().any(|l| l.starts_with("timer: ")),
            "{:#?}",
            pending(&events)
        );
    }

    #[test]
    fn pending_lists_unanswered_requests_open_connections_and_running_processes() {
        let lines = pending(&run());
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines[0].starts_with("connection conn1 "), "{lines:#?}");
        assert!(
            lines[1].starts_with(&format!("process {ID} `job-0`")),
            "{lines:#?}"
        );
        assert!(
            lines[4].contains("request req3 (GET /api/v0/processes/")
                && lines[4].ends_with(
                    "last seen at 0.006000s: yield #4 headtail.wait: yield x1: other tasks may run"
                ),
            "{lines:#?}"
        );
    }
}
