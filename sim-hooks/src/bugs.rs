//! Known-bug switches: each historical race of the original agent, kept as a
//! named runtime switch (default off) so the harness can prove it catches it.
//!
//! A switch is one `if` at the place where fixed and buggy code differ, never
//! a second code path. Where the buggy branch is taken the code calls
//! [`crate::bug_taken`], which records it in the simulation trace.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One historical bug. The string names are the CLI's `--bug NAME` values;
/// the ids (R1, ...) are the races of `docs/races.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// R1: the output handler reads the buffer before the process info.
    StaleOutputRead,
    /// R2: the git watch reads paths before subscribing to the PathStore.
    PathsBeforeSubscribe,
    /// R3: the status-capturing middleware hides the connection, so the
    /// blocking output handler cannot extend its write deadline.
    WriteDeadlineHidden,
    /// R3 (tool half): the tools give up on a transport error instead of
    /// taking a snapshot.
    NoSnapshotFallback,
    /// R5: output/signal skip the chat-id check.
    ChatIdUnchecked,
    /// R16: edits of one file are not serialised, so concurrent edit-files
    /// requests can lose an acknowledged update.
    UnserialisedEdits,
    /// R10: a signal that finds the process group gone answers 500 instead of
    /// 409.
    SignalEsrch500,
    /// R4: a reap-everything loop steals the manager's wait status.
    ReaperSteals,
    /// R7: the blocking wait checks "closed" before registering for the
    /// wake-up, so a close in between is lost.
    LostWakeup,
}

impl Bug {
    pub const ALL: [Bug; 9] = [
        Bug::StaleOutputRead,
        Bug::PathsBeforeSubscribe,
        Bug::WriteDeadlineHidden,
        Bug::NoSnapshotFallback,
        Bug::ChatIdUnchecked,
        Bug::UnserialisedEdits,
        Bug::SignalEsrch500,
        Bug::ReaperSteals,
        Bug::LostWakeup,
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
        }
    }
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
    fn unknown_bug_name_lists_the_known_ones() {
        let err = "nope".parse::<Bug>().expect_err("unknown");
        assert!(err.to_string().contains("stale-output-read"), "{err}");
    }
}
