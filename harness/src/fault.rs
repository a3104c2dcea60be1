//! Fault plans: network and host faults at chosen sim times.
//!
//! A scenario draws its faults from the `faults` stream (so adding one
//! never reshuffles the workload) and schedules them on the world; the
//! runner applies each between simulation steps once its time has come, and
//! records it in the trace.

use std::fmt;
use std::time::Duration;

/// One fault. Hosts are turmoil host names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Holds messages between two hosts (delivered on release).
    Hold(String, String),
    Release(String, String),
    /// Drops messages between two hosts.
    Partition(String, String),
    Repair(String, String),
    /// Stops a host's software (its tasks are dropped).
    Crash(String),
    /// Restarts a host's software.
    Bounce(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Hold(a, b) => write!(f, "hold {a} <-> {b}"),
            Fault::Release(a, b) => write!(f, "release {a} <-> {b}"),
            Fault::Partition(a, b) => write!(f, "partition {a} <-> {b}"),
            Fault::Repair(a, b) => write!(f, "repair {a} <-> {b}"),
            Fault::Crash(h) => write!(f, "crash {h}"),
            Fault::Bounce(h) => write!(f, "bounce {h}"),
        }
    }
}

impl Fault {
    pub(crate) fn apply(&self, sim: &mut turmoil::Sim<'_>) {
        match self {
            Fault::Hold(a, b) => sim.hold(a.as_str(), b.as_str()),
            Fault::Release(a, b) => sim.release(a.as_str(), b.as_str()),
            Fault::Partition(a, b) => sim.partition(a.as_str(), b.as_str()),
            Fault::Repair(a, b) => sim.repair(a.as_str(), b.as_str()),
            Fault::Crash(h) => sim.crash(h.as_str()),
            Fault::Bounce(h) => sim.bounce(h.as_str()),
        }
    }
}

/// Faults ordered by time (stable for equal times).
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    pending: Vec<(Duration, Fault)>,
}

impl FaultPlan {
    pub fn add(&mut self, at: Duration, fault: Fault) {
        let index = self.pending.partition_point(|(t, _)| *t <= at);
        self.pending.insert(index, (at, fault));
    }

    /// Removes and returns every fault due at `now`, in order.
    pub fn due(&mut self, now: Duration) -> Vec<(Duration, Fault)> {
        let n = self.pending.partition_point(|(t, _)| *t <= now);
        self.pending.drain(..n).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_come_due_in_time_order_and_stably() {
        let ms = Duration::from_millis;
        let mut plan = FaultPlan::default();
        plan.add(ms(20), Fault::Crash("b".into()));
        plan.add(ms(10), Fault::Hold("a".into(), "b".into()));
        plan.add(ms(10), Fault::Release("a".into(), "b".into()));
        assert!(plan.due(ms(5)).is_empty());
        let due: Vec<String> = plan
            .due(ms(15))
            .iter()
            .map(|(_, f)| f.to_string())
            .collect();
        assert_eq!(due, ["hold a <-> b", "release a <-> b"]);
        assert_eq!(plan.due(ms(100)).len(), 1);
        assert!(plan.is_empty());
    }
}
