//! Workload operations the shrinker can leave out.
//!
//! A generated workload asks [`keep_op`] before each operation it drew.
//! The answer is `true` unless the run's schedule drops that operation's
//! key, so a seeded run does exactly what the seed drew; `agentsim shrink`
//! drops operations (halves, then one at a time) and keeps each drop after
//! which the run still fails the same way. Keys must be stable for a seed
//! (derived from what was drawn, not from what happened earlier in the
//! run) and contain no line break: a schedule file names them as
//! `drop op KEY`.
//!
//! The pattern, after the workload is drawn in full (so dropping one
//! operation never shifts the draws of the next):
//!
//! ```
//! # let ops = ["Start", "Wait"];
//! # let c = 0;
//! for (i, op) in ops.iter().enumerate() {
//!     if !harness::workload::keep_op(&format!("chat{c}#{i} {op:?}")) {
//!         continue;
//!     }
//!     // ... perform `op`
//! }
//! ```
//!
//! A dropped operation should keep its think time (sleep the drawn gap,
//! then skip), so the operations after it still meet the seed's faults at
//! the same moments. Callable from `build` and from client tasks alike:
//! it reads the gate the runner installs on the simulation thread, and
//! keeps everything outside a run.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use crate::trace::Trace;

/// One operation a workload asked about, in the order first asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpDraw {
    pub key: String,
    /// Left out by the run's schedule.
    pub dropped: bool,
}

/// The run's gate: which keys to drop, and what was asked.
pub(crate) struct Gate {
    dropped: BTreeSet<String>,
    asked: RefCell<Vec<OpDraw>>,
    seen: RefCell<BTreeSet<String>>,
    trace: Trace,
}

thread_local! {
    static GATE: RefCell<Option<Rc<Gate>>> = const { RefCell::new(None) };
}

/// Removes the gate when the run ends (or unwinds).
pub(crate) struct GateGuard(Rc<Gate>);

impl GateGuard {
    /// Every operation asked about, in order.
    pub(crate) fn asked(&self) -> Vec<OpDraw> {
        self.0.asked.borrow().clone()
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        GATE.with(|g| g.borrow_mut().take());
    }
}

/// Installs the gate for one run on this thread.
pub(crate) fn install(dropped: BTreeSet<String>, trace: Trace) -> GateGuard {
    let gate = Rc::new(Gate {
        dropped,
        asked: RefCell::new(Vec::new()),
        seen: RefCell::new(BTreeSet::new()),
        trace,
    });
    GATE.with(|g| *g.borrow_mut() = Some(gate.clone()));
    GateGuard(gate)
}

/// Whether the workload should perform the operation `key` (see the
/// module docs). A dropped operation is recorded in the trace
/// (`op.dropped`); asking twice about one key gives the same answer.
pub fn keep_op(key: &str) -> bool {
    let Some(gate) = GATE.with(|g| g.borrow().clone()) else {
        return true;
    };
    let dropped = gate.dropped.contains(key);
    if gate.seen.borrow_mut().insert(key.to_string()) {
        gate.asked.borrow_mut().push(OpDraw {
            key: key.to_string(),
            dropped,
        });
    }
    if dropped {
        gate.trace
            .record("op.dropped", format!("{key}: left out by the schedule"));
    }
    !dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_kept_unless_the_schedule_drops_it() {
        assert!(keep_op("outside a run"));
        let trace = Trace::new();
        let guard = install(["b".to_string()].into(), trace.clone());
        let answers: Vec<bool> = ["a", "b", "c", "b"].iter().map(|k| keep_op(k)).collect();
        assert_eq!(answers, [true, false, true, false]);
        let asked: Vec<(String, bool)> = guard
            .asked()
            .into_iter()
            .map(|o| (o.key, o.dropped))
            .collect();
        assert_eq!(
            asked,
            [("a", false), ("b", true), ("c", false)].map(|(k, d)| (k.to_string(), d))
        );
        assert_eq!(trace.events().len(), 2);
        drop(guard);
        assert!(keep_op("b"));
    }
}
