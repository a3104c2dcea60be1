//! Known-bug switches: each historical race of the original agent, kept as a
//! named runtime switch (default off) so the harness can prove it catches it.
//!
//! A switch is one `if` at the place where fixed and buggy code differ, never
//! a second code path: `if take_bug(&bugs, Bug::X) { buggy } else { fixed }`.
//! [`take_bug`] records the taken branch in the simulation trace and hits the
//! switch's coverage mark ([`Bug::mark`]), so no site can forget either.
//!
//! One central enum rather than a declaration per implementing crate: the
//! switch set is the catalog's contract. `agentsim bugs`, `--bug NAME` and the
//! catalog test ("every switch is declared by a scenario that catches it")
//! each need the closed list, and an exhaustive `match` proves at compile
//! time that every switch has a name, a summary and a mark. The enum carries
//! no implementation, only names, so it adds no dependency: every crate
//! that implements a switch (the agent, the chat tools, the harness) already
//! depends on this bottom crate. Switches declared in their own crates would
//! need a link-time registry (`inventory`/`linkme`) to be listed and parsed,
//! with its order decided by the linker. Each variant's doc names the crate
//! that implements it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One historical bug. The string names are the CLI's `--bug NAME` values;
/// the ids (R1, ...) are the races of `docs/races.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// R1: the output handler reads the buffer before the process info
    /// (agent, `process::access`).
    StaleOutputRead,
    /// R2: the git watch reads paths before subscribing to the PathStore
    /// (agent, `git::watch`).
    PathsBeforeSubscribe,
    /// R3: the status-capturing middleware hides the connection, so the
    /// blocking output handler cannot extend its write deadline (agent,
    /// `http::deadline`).
    WriteDeadlineHidden,
    /// R3 (tool half): the tools give up on a transport error instead of
    /// taking a snapshot (chat-tools).
    NoSnapshotFallback,
    /// R5: output/signal skip the chat-id check (agent, `process::access`).
    ChatIdUnchecked,
    /// R16: edits of one file are not serialised, so concurrent edit-files
    /// requests can lose an acknowledged update (agent, `files`).
    UnserialisedEdits,
    /// R10: a signal that finds the process group gone answers 500 instead of
    /// 409 (agent, `process::manager`).
    SignalEsrch500,
    /// R4: a reap-everything loop steals the manager's wait status (harness,
    /// the simulated exec; the real exec reaps only its own children).
    ReaperSteals,
    /// R7: the blocking wait checks "closed" before registering for the
    /// wake-up, so a close in between is lost (agent, `headtail::wait`).
    LostWakeup,
    /// R17: a multi-file edit takes its files' locks in request order, not
    /// sorted, so two edits naming the same files in opposite orders can
    /// each hold one and wait for the other forever (agent, `files`).
    EditLockOrder,
}

impl Bug {
    pub const ALL: [Bug; 10] = [
        Bug::StaleOutputRead,
        Bug::PathsBeforeSubscribe,
        Bug::WriteDeadlineHidden,
        Bug::NoSnapshotFallback,
        Bug::ChatIdUnchecked,
        Bug::UnserialisedEdits,
        Bug::SignalEsrch500,
        Bug::ReaperSteals,
        Bug::LostWakeup,
        Bug::EditLockOrder,
    ];

    /// The switch's CLI name, e.g. `stale-output-read`.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleOutputRead => "stale-output-read",
            Bug::PathsBeforeSubscribe => "paths-before-subscribe",
            Bug::WriteDeadlineHidden => "write-deadline-hidden",
            Bug::NoSnapshotFallback => "no-snapshot-fallback",
            Bug::ChatIdUnchecked => "chat-id-unchecked",
            Bug::UnserialisedEdits => "unserialised-edits",
            Bug::SignalEsrch500 => "signal-esrch-500",
            Bug::ReaperSteals => "reaper-steals",
            Bug::LostWakeup => "lost-wakeup",
            Bug::EditLockOrder => "edit-lock-order",
        }
    }

    /// One line saying what the switch brings back.
    pub fn summary(self) -> &'static str {
        match self {
            Bug::StaleOutputRead => {
                "output read before info: a final status paired with stale output (R1)"
            }
            Bug::PathsBeforeSubscribe => {
                "watch reads paths before subscribing: a path added in between is never watched (R2)"
            }
            Bug::WriteDeadlineHidden => {
                "blocking output cannot extend its write deadline: EOF after 20 s (R3)"
            }
            Bug::NoSnapshotFallback => {
                "tools return a bare transport error instead of a snapshot (R3, tool half)"
            }
            Bug::ChatIdUnchecked => "output/signal skip the chat check: cross-chat access (R5)",
            Bug::UnserialisedEdits => "edits of one file are not serialised: lost updates",
            Bug::SignalEsrch500 => "a signal racing exit answers 500 instead of 409 (R10)",
            Bug::ReaperSteals => "a reap-everything loop steals the exit status (R4)",
            Bug::LostWakeup => {
                "blocking wait checks before registering: a close in between is lost (R7)"
            }
            Bug::EditLockOrder => {
                "file locks taken in request order: opposite multi-file edits deadlock (R17)"
            }
        }
    }
}

/// Declares each switch's coverage mark once: [`Bug::mark`] names it and
/// [`take_bug`] hits it (`cov_mark::hit!` takes an identifier, not a string).
macro_rules! marks {
    ($($bug:ident => $mark:ident),* $(,)?) => {
        impl Bug {
            /// The coverage mark [`take_bug`] hits: the CLI name in snake
            /// case, e.g. `stale_output_read`, which tests check with
            /// `cov_mark::check!(stale_output_read)`.
            pub fn mark(self) -> &'static str {
                match self {
                    $(Bug::$bug => stringify!($mark),)*
                }
            }
        }

        fn hit_mark(bug: Bug) {
            match bug {
                $(Bug::$bug => cov_mark::hit!($mark),)*
            }
        }
    };
}

marks! {
    StaleOutputRead => stale_output_read,
    PathsBeforeSubscribe => paths_before_subscribe,
    WriteDeadlineHidden => write_deadline_hidden,
    NoSnapshotFallback => no_snapshot_fallback,
    ChatIdUnchecked => chat_id_unchecked,
    UnserialisedEdits => unserialised_edits,
    SignalEsrch500 => signal_esrch_500,
    ReaperSteals => reaper_steals,
    LostWakeup => lost_wakeup,
    EditLockOrder => edit_lock_order,
}

/// Whether `bug` is switched on in `bugs`; if it is, records the taken
/// branch in the trace ([`crate::bug_taken`]) and hits the switch's
/// coverage mark. The one call at every switch site:
/// `if take_bug(&bugs, Bug::X) { buggy } else { fixed }`.
pub fn take_bug(bugs: &BugSet, bug: Bug) -> bool {
    if !bugs.is_on(bug) {
        return false;
    }
    taken(bug);
    true
}

/// Records a taken buggy branch (trace and coverage mark) where the switch
/// was checked earlier and only decided a value, e.g. a deadline handle that
/// cannot reach its connection: the branch is taken where the value is used.
/// Everywhere else, [`take_bug`].
pub fn taken(bug: Bug) {
    crate::bug_taken(bug);
    hit_mark(bug);
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown bug switch name.
#[derive(Debug, thiserror::Error)]
#[error("unknown bug switch {0:?} (known: {known})", known = Bug::ALL.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownBug(pub String);

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBug(s.to_string()))
    }
}

/// The set of switches turned on. Empty (all fixed) by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BugSet(BTreeSet<Bug>);

impl BugSet {
    pub fn none() -> Self {
        BugSet::default()
    }

    pub fn with(mut self, bug: Bug) -> Self {
        self.0.insert(bug);
        self
    }

    pub fn insert(&mut self, bug: Bug) {
        self.0.insert(bug);
    }

    pub fn is_on(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }

    pub fn iter(&self) -> impl Iterator<Item = Bug> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Bug> for BugSet {
    fn from_iter<T: IntoIterator<Item = Bug>>(iter: T) -> Self {
        BugSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bug_name_round_trips() {
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>().ok(), Some(bug));
        }
    }

    #[test]
    fn every_mark_is_the_cli_name_in_snake_case() {
        for bug in Bug::ALL {
            assert_eq!(bug.mark(), bug.name().replace('-', "_"), "{bug}");
        }
    }

    #[test]
    fn a_switch_that_is_on_is_taken_and_hits_its_mark() {
        cov_mark::check_count!(stale_output_read, 1);
        let on = BugSet::none().with(Bug::StaleOutputRead);
        assert!(take_bug(&on, Bug::StaleOutputRead));
        assert!(!take_bug(&on, Bug::LostWakeup));
    }

    #[test]
    fn a_switch_that_is_off_is_not_taken_and_hits_nothing() {
        cov_mark::check_count!(chat_id_unchecked, 0);
        assert!(!take_bug(&BugSet::none(), Bug::ChatIdUnchecked));
    }

    #[test]
    fn unknown_bug_name_lists_the_known_ones() {
        let err = "nope".parse::<Bug>().expect_err("unknown");
        assert!(err.to_string().contains("stale-output-read"), "{err}");
    }
}
