//! Invariants: what a scenario checks while the run goes and at its end.
//!
//! A scenario hands an [`Invariants`] handle to its hosts; the first
//! violation is kept (later ones are only traced) and the runner stops the
//! simulation after the step in which it happened.

use parking_lot::{Mutex, MutexGuard};
use std::fmt;
use std::sync::Arc;

use crate::trace::Trace;

/// One broken invariant: its name, what was expected, what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: String,
    pub expected: String,
    pub seen: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invariant violated: {}", self.invariant)?;
        writeln!(f, "  expected: {}", self.expected)?;
        write!(f, "  seen:     {}", self.seen)
    }
}

/// Shared recorder of violations. Cheap to clone, `Send + Sync`.
#[derive(Clone, Default)]
pub struct Invariants {
    first: Arc<Mutex<Option<Violation>>>,
    trace: Trace,
}

impl Invariants {
    pub fn new(trace: Trace) -> Self {
        Invariants {
            first: Arc::default(),
            trace,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Violation>> {
        self.first.lock()
    }

    /// Records a violation of `invariant`.
    pub fn fail(&self, invariant: &str, expected: impl fmt::Display, seen: impl fmt::Display) {
        let v = Violation {
            invariant: invariant.to_string(),
            expected: expected.to_string(),
            seen: seen.to_string(),
        };
        self.trace.record(
            "violation",
            format!("{}: expected {}, seen {}", v.invariant, v.expected, v.seen),
        );
        let mut first = self.lock();
        if first.is_none() {
            *first = Some(v);
        }
    }

    /// Records a violation unless `ok`; returns `ok`. The texts are only
    /// built on failure.
    pub fn check(
        &self,
        invariant: &str,
        ok: bool,
        expected: impl FnOnce() -> String,
        seen: impl FnOnce() -> String,
    ) -> bool {
        if !ok {
            self.fail(invariant, expected(), seen());
        }
        ok
    }

    /// Records a violation unless `seen == expected` (shown with `Debug`).
    pub fn check_eq<T: fmt::Debug + PartialEq>(
        &self,
        invariant: &str,
        expected: &T,
        seen: &T,
    ) -> bool {
        self.check(
            invariant,
            expected == seen,
            || format!("{expected:?}"),
            || format!("{seen:?}"),
        )
    }

    /// Whether any invariant was violated.
    pub fn violated(&self) -> bool {
        self.lock().is_some()
    }

    /// The first violation, if any.
    pub fn first(&self) -> Option<Violation> {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_violation_wins_and_every_one_is_traced() {
        let trace = Trace::new();
        let inv = Invariants::new(trace.clone());
        assert!(inv.check_eq("same", &1, &1));
        assert!(!inv.violated());
        assert!(!inv.check_eq("first", &1, &2));
        inv.fail("second", "a", "b");
        let v = inv.first().unwrap();
        assert_eq!(
            (v.invariant.as_str(), v.expected.as_str(), v.seen.as_str()),
            ("first", "1", "2")
        );
        assert_eq!(trace.len(), 2);
    }

    #[test]
    fn a_violation_renders_name_expected_and_seen() {
        let v = Violation {
            invariant: "final-output".into(),
            expected: "\"abc\"".into(),
            seen: "\"ab\"".into(),
        };
        assert_eq!(
            v.to_string(),
            "invariant violated: final-output\n  expected: \"abc\"\n  seen:     \"ab\""
        );
    }
}
