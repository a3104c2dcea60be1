//! The trace: every run's event log (sim time, host, task, kind, detail).
//!
//! The task is the request or background task whose code recorded the event
//! (`req3`, `conn2`, `exit 1fced053`; see [`sim_hooks::task`]), empty when
//! none is known. Yield-point decisions, known-bug branches taken, agent events, simulated
//! process activity, faults and the scenario's own steps all land here, in
//! the order they happened. The same seed must give a byte-identical trace
//! ([`hash`]); a violation prints the tail ([`timeline`]); `--trace
//! FILE` writes the whole log as JSON lines ([`write_json_lines`]).

use parking_lot::{Mutex, MutexGuard};
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// The host name used for events recorded outside any host (faults,
/// end-of-run checks).
pub const WORLD: &str = "world";

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Simulated time since the start of the run.
    #[serde(rename = "t_ns", serialize_with = "as_nanos")]
    pub at: Duration,
    #[serde(serialize_with = "as_str")]
    pub host: Arc<str>,
    /// The task that recorded it (`None`: not inside a labelled task).
    #[serde(serialize_with = "as_opt_str")]
    pub task: Option<Arc<str>>,
    pub kind: String,
    pub detail: String,
}

fn as_str<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn as_opt_str<S: serde::Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_deref().unwrap_or(""))
}

fn as_nanos<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Event {
    /// The event as one JSON object (no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>4}.{:06}s  {:<8} {:<14} {:<18} {}",
            self.at.as_secs(),
            self.at.subsec_micros(),
            self.host,
            self.task.as_deref().unwrap_or("-"),
            self.kind,
            self.detail
        )
    }
}

/// A shared, append-only event log. Cheap to clone; `Send + Sync` so tasks
/// spawned anywhere in the simulation can record.
#[derive(Clone, Default)]
pub struct Trace {
    events: Arc<Mutex<Vec<Event>>>,
    /// The runner's view of sim time, for events recorded outside a host.
    world_ns: Arc<AtomicU64>,
}

impl Trace {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Event>> {
        self.events.lock()
    }

    /// Records an event at the current sim time, attributed to the host
    /// whose code is running (or [`WORLD`]).
    pub fn record(&self, kind: impl Into<String>, detail: impl Into<String>) {
        let host = crate::host::current().unwrap_or_else(|| Arc::from(WORLD));
        let at = turmoil::sim_elapsed().unwrap_or_else(|| self.world_time());
        self.lock().push(Event {
            at,
            host,
            task: sim_hooks::current_task(),
            kind: kind.into(),
            detail: detail.into(),
        });
    }

    /// Records an event with an explicit time and host.
    pub fn record_at(
        &self,
        at: Duration,
        host: impl Into<Arc<str>>,
        kind: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.lock().push(Event {
            at,
            host: host.into(),
            task: None,
            kind: kind.into(),
            detail: detail.into(),
        });
    }

    /// Records an event with an explicit time, host and task (for events
    /// the world records on a task's behalf, such as a timer's firing).
    pub fn record_as(
        &self,
        at: Duration,
        host: Arc<str>,
        task: Option<Arc<str>>,
        kind: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.lock().push(Event {
            at,
            host,
            task,
            kind: kind.into(),
            detail: detail.into(),
        });
    }

    /// Sets the time used for events recorded outside any host.
    pub fn set_world_time(&self, at: Duration) {
        let ns = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.world_ns.store(ns, Ordering::Relaxed);
    }

    pub fn world_time(&self) -> Duration {
        Duration::from_nanos(self.world_ns.load(Ordering::Relaxed))
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// A stable 64-bit hash (FNV-1a) of the JSON-lines rendering: equal hashes
/// mean byte-identical traces for determinism checks.
pub fn hash(events: &[Event]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for e in events {
        for b in e.to_json().bytes().chain(std::iter::once(b'\n')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Writes every event as one JSON object per line.
pub fn write_json_lines(events: &[Event], mut out: impl Write) -> io::Result<()> {
    for e in events {
        writeln!(out, "{}", e.to_json())?;
    }
    out.flush()
}

/// The events as text, one per line.
pub fn lines(events: &[&Event]) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

/// The last `n` events, one per line, with the count of earlier ones.
pub fn timeline(events: &[Event], n: usize) -> String {
    let skip = events.len().saturating_sub(n);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("  ... {skip} earlier events\n"));
    }
    for e in &events[skip..] {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

/// The first index where two traces differ (`None` when identical).
pub fn first_difference(a: &[Event], b: &[Event]) -> Option<usize> {
    let common = a.iter().zip(b).position(|(x, y)| x != y);
    match common {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ms: u64, kind: &str) -> Event {
        Event {
            at: Duration::from_millis(ms),
            host: Arc::from("agent"),
            task: Some(Arc::from("req1")),
            kind: kind.to_string(),
            detail: "d".to_string(),
        }
    }

    #[test]
    fn json_lines_carry_time_host_kind_and_detail() {
        let mut out = Vec::new();
        write_json_lines(&[ev(1500, "yield")], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"t_ns\":1500000000,\"host\":\"agent\",\"task\":\"req1\",\"kind\":\"yield\",\"detail\":\"d\"}\n"
        );
    }

    #[test]
    fn hash_changes_with_any_field_and_order() {
        let base = hash(&[ev(1, "a"), ev(2, "b")]);
        assert_eq!(base, hash(&[ev(1, "a"), ev(2, "b")]));
        assert_ne!(base, hash(&[ev(2, "b"), ev(1, "a")]));
        assert_ne!(base, hash(&[ev(1, "a"), ev(3, "b")]));
        assert_ne!(base, hash(&[ev(1, "a")]));
    }

    #[test]
    fn timeline_shows_the_tail_and_counts_the_rest() {
        let events: Vec<Event> = (0..50).map(|i| ev(i, "k")).collect();
        let text = timeline(&events, 40);
        assert!(text.starts_with("  ... 10 earlier events\n"), "{text}");
        assert_eq!(text.lines().count(), 41);
        assert!(text.contains("   0.049000s  agent    req1"), "{text}");
    }

    #[test]
    fn first_difference_finds_changed_and_missing_events() {
        let a = vec![ev(1, "a"), ev(2, "b")];
        assert_eq!(first_difference(&a, &a), None);
        assert_eq!(first_difference(&a, &[ev(1, "a"), ev(2, "c")]), Some(1));
        assert_eq!(first_difference(&a, &a[..1]), Some(1));
    }

    #[test]
    fn events_outside_a_host_use_the_world_clock() {
        let trace = Trace::new();
        trace.set_world_time(Duration::from_millis(7));
        trace.record("fault", "hold agent client");
        let e = &trace.events()[0];
        assert_eq!((&*e.host, e.at), (WORLD, Duration::from_millis(7)));
    }
}
