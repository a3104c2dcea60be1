//! Fault plans: network and host faults at chosen sim times.
//!
//! A scenario draws its faults from the `faults` stream (so adding one
//! never reshuffles the workload) and schedules them on the world; the
//! runner applies each between simulation steps once its time has come, and
//! records it in the trace. [`Episodes`] draws a seeded series of
//! non-overlapping network faults on one link (holds, partitions, latency
//! spikes), each undone before the next begins.

use std::collections::BTreeSet;
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
    /// Drops messages from the first host to the second only (an
    /// asymmetric failure: the other direction still delivers).
    PartitionOneway(String, String),
    RepairOneway(String, String),
    /// Stops a host's software (its tasks are dropped). Its connections
    /// close (FIN) as its process's OS would close them, in tokio's
    /// task-teardown order, which follows process-global task ids rather
    /// than the seed: keep one connection per peer host in flight at a
    /// crash and the link latency fixed, or that order reaches the trace
    /// (see the `agent-restart` scenario). Messages sent to the host while
    /// it is down wait on the link until it is bounced.
    Crash(String),
    /// Restarts a host's software.
    Bounce(String),
    /// Sets the latency of the link between two hosts to a range: each
    /// message takes `min` to `max` (turmoil samples within it).
    Latency {
        a: String,
        b: String,
        min: Duration,
        max: Duration,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Hold(a, b) => write!(f, "hold {a} <-> {b}"),
            Fault::Release(a, b) => write!(f, "release {a} <-> {b}"),
            Fault::Partition(a, b) => write!(f, "partition {a} <-> {b}"),
            Fault::Repair(a, b) => write!(f, "repair {a} <-> {b}"),
            Fault::PartitionOneway(a, b) => write!(f, "partition {a} -> {b}"),
            Fault::RepairOneway(a, b) => write!(f, "repair {a} -> {b}"),
            Fault::Crash(h) => write!(f, "crash {h}"),
            Fault::Bounce(h) => write!(f, "bounce {h}"),
            Fault::Latency { a, b, min, max } => {
                write!(f, "latency {a} <-> {b} {min:?}..{max:?}")
            }
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
            Fault::PartitionOneway(a, b) => sim.partition_oneway(a.as_str(), b.as_str()),
            Fault::RepairOneway(a, b) => sim.repair_oneway(a.as_str(), b.as_str()),
            Fault::Crash(h) => sim.crash(h.as_str()),
            Fault::Bounce(h) => sim.bounce(h.as_str()),
            Fault::Latency { a, b, min, max } => {
                // Fixed at `min`, then the maximum raised: a range.
                sim.set_link_latency(a.as_str(), b.as_str(), *min);
                sim.set_link_max_message_latency(a.as_str(), b.as_str(), (*max).max(*min));
            }
        }
    }

    /// The fault that undoes this one, if there is one: release a hold,
    /// repair a partition, bring a crashed host back. Latency has no
    /// inverse here (the caller knows the range to go back to).
    pub fn undo(&self) -> Option<Fault> {
        match self {
            Fault::Hold(a, b) => Some(Fault::Release(a.clone(), b.clone())),
            Fault::Partition(a, b) => Some(Fault::Repair(a.clone(), b.clone())),
            Fault::PartitionOneway(a, b) => Some(Fault::RepairOneway(a.clone(), b.clone())),
            Fault::Crash(h) => Some(Fault::Bounce(h.clone())),
            _ => None,
        }
    }
}

impl Fault {
    /// Whether `self` ends `earlier`, a fault still in effect: its undo
    /// (release after hold, repair after partition, bounce after crash),
    /// or a second latency setting on the same link (the restore after a
    /// spike).
    fn ends(&self, earlier: &Fault) -> bool {
        if earlier.undo().as_ref() == Some(self) {
            return true;
        }
        match (earlier, self) {
            (Fault::Latency { a, b, .. }, Fault::Latency { a: c, b: d, .. }) => {
                (a, b) == (c, d) || (a, b) == (d, c)
            }
            _ => false,
        }
    }
}

/// One fault a scenario drew, as the shrinker sees it: `fault#N`, numbered
/// in the order the scenario scheduled them, with its end if one was
/// scheduled (dropping a fault drops its end too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultDraw {
    pub number: u32,
    pub at: Duration,
    pub fault: Fault,
    /// When the fault that ends it is scheduled.
    pub until: Option<Duration>,
    /// Left out by the run's schedule.
    pub dropped: bool,
}

impl FaultDraw {
    /// `fault#N`: the key a schedule file drops it by.
    pub fn key(&self) -> String {
        format!("fault#{}", self.number)
    }
}

impl fmt::Display for FaultDraw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fault#{} {} at {:.3}s",
            self.number,
            self.fault,
            self.at.as_secs_f64()
        )?;
        if let Some(until) = self.until {
            write!(f, " until {:.3}s", until.as_secs_f64())?;
        }
        Ok(())
    }
}

/// A planned fault: what, when, and which drawn fault it starts or ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub at: Duration,
    pub fault: Fault,
    /// The [`FaultDraw::number`] it belongs to.
    pub number: u32,
    /// Left out: recorded in the trace, not applied.
    pub dropped: bool,
}

impl fmt::Display for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault#{} {}", self.number, self.fault)
    }
}

/// Faults ordered by time (stable for equal times), numbered as drawn.
///
/// A fault that ends an earlier one still in effect ([`Fault::undo`], or a
/// latency setting on a link whose latency an earlier fault changed) shares
/// that fault's number, so a schedule that drops `fault#N` drops a whole
/// episode and never leaves a release without its hold.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    pending: Vec<Planned>,
    draws: Vec<FaultDraw>,
    /// Numbers to leave out (from the run's schedule).
    dropped: BTreeSet<u32>,
}

impl FaultPlan {
    /// Leaves out the faults numbered in `dropped` (set before `add`).
    pub fn drop_faults(&mut self, dropped: BTreeSet<u32>) {
        self.dropped = dropped;
    }

    pub fn add(&mut self, at: Duration, fault: Fault) {
        let open = self
            .draws
            .iter()
            .rposition(|d| d.until.is_none() && fault.ends(&d.fault));
        let number = match open {
            Some(i) => {
                self.draws[i].until = Some(at);
                self.draws[i].number
            }
            None => {
                let number = u32::try_from(self.draws.len()).unwrap_or(u32::MAX);
                self.draws.push(FaultDraw {
                    number,
                    at,
                    fault: fault.clone(),
                    until: None,
                    dropped: self.dropped.contains(&number),
                });
                number
            }
        };
        let index = self.pending.partition_point(|p| p.at <= at);
        self.pending.insert(
            index,
            Planned {
                at,
                fault,
                number,
                dropped: self.dropped.contains(&number),
            },
        );
    }

    /// Removes and returns every fault due at `now`, in order (dropped
    /// ones included, marked).
    pub fn due(&mut self, now: Duration) -> Vec<Planned> {
        let n = self.pending.partition_point(|p| p.at <= now);
        self.pending.drain(..n).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The faults still to come, in order.
    pub fn pending(&self) -> &[Planned] {
        &self.pending
    }

    /// Every fault drawn so far, by number.
    pub fn draws(&self) -> &[FaultDraw] {
        &self.draws
    }
}

/// Non-overlapping fault episodes on one link, drawn from a seeded rng:
/// each is a hold, a partition (both ways or one way, either direction)
/// or a latency spike with its own length,
/// separated by healthy gaps. Overlaps are avoided on purpose: turmoil's
/// `release` heals a partition and `repair` strands held messages, so
/// mixing them would test turmoil rather than the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Episodes {
    /// `(at, fault)` pairs in time order, each episode's start and end.
    pub faults: Vec<(Duration, Fault)>,
    /// When the last episode ends: the link is healthy from then on.
    pub healed_at: Duration,
}

/// What [`Episodes::draw`] chooses from.
#[derive(Clone, Debug)]
pub struct EpisodeSpec {
    /// The link's two hosts.
    pub a: String,
    pub b: String,
    /// The link's normal latency, restored after a spike.
    pub base: (Duration, Duration),
    /// How many episodes.
    pub count: std::ops::RangeInclusive<u32>,
    /// When the first one may start.
    pub first: std::ops::Range<Duration>,
    /// Healthy time between two episodes.
    pub gap: std::ops::Range<Duration>,
    pub hold: std::ops::Range<Duration>,
    pub partition: std::ops::Range<Duration>,
    /// A spike's length, and its latency range's maximum (its minimum is
    /// a fifth of that).
    pub spike: std::ops::Range<Duration>,
    pub spike_max: std::ops::Range<Duration>,
}

fn between(rng: &mut impl rand::Rng, r: &std::ops::Range<Duration>) -> Duration {
    let (lo, hi) = (r.start.as_millis() as u64, r.end.as_millis() as u64);
    Duration::from_millis(if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    })
}

impl Episodes {
    /// Draws episodes from `rng` (use the run's `faults` stream).
    pub fn draw(spec: &EpisodeSpec, rng: &mut impl rand::Rng) -> Episodes {
        let (a, b) = (spec.a.clone(), spec.b.clone());
        let mut faults = Vec::new();
        let count = rng.random_range(spec.count.clone());
        let mut at = between(rng, &spec.first);
        for i in 0..count {
            if i > 0 {
                at += between(rng, &spec.gap);
            }
            let (start, end, length) = match rng.random_range(0..4) {
                0 => (
                    Fault::Hold(a.clone(), b.clone()),
                    Fault::Release(a.clone(), b.clone()),
                    between(rng, &spec.hold),
                ),
                1 => (
                    Fault::Partition(a.clone(), b.clone()),
                    Fault::Repair(a.clone(), b.clone()),
                    between(rng, &spec.partition),
                ),
                2 => {
                    let (from, to) = if rng.random_bool(0.5) {
                        (a.clone(), b.clone())
                    } else {
                        (b.clone(), a.clone())
                    };
                    (
                        Fault::PartitionOneway(from.clone(), to.clone()),
                        Fault::RepairOneway(from, to),
                        between(rng, &spec.partition),
                    )
                }
                _ => {
                    let max = between(rng, &spec.spike_max);
                    let latency = |min, max| Fault::Latency {
                        a: a.clone(),
                        b: b.clone(),
                        min,
                        max,
                    };
                    (
                        latency(max / 5, max),
                        latency(spec.base.0, spec.base.1),
                        between(rng, &spec.spike),
                    )
                }
            };
            faults.push((at, start));
            at += length;
            faults.push((at, end));
        }
        Episodes {
            faults,
            healed_at: at,
        }
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
        let due: Vec<String> = plan.due(ms(15)).iter().map(|p| p.to_string()).collect();
        assert_eq!(due, ["fault#1 hold a <-> b", "fault#1 release a <-> b"]);
        assert_eq!(plan.due(ms(100)).len(), 1);
        assert!(plan.is_empty());
    }

    fn latency(a: &str, b: &str, max: u64) -> Fault {
        Fault::Latency {
            a: a.into(),
            b: b.into(),
            min: Duration::from_millis(1),
            max: Duration::from_millis(max),
        }
    }

    /// (fault, number it gets, dropped) for faults added in order.
    fn check_numbering(faults: &[Fault], dropped: &[u32], want: &[(u32, bool)]) {
        let mut plan = FaultPlan::default();
        plan.drop_faults(dropped.iter().copied().collect());
        for (i, f) in faults.iter().enumerate() {
            plan.add(Duration::from_millis(i as u64), f.clone());
        }
        let got: Vec<(u32, bool)> = plan
            .due(Duration::MAX)
            .iter()
            .map(|p| (p.number, p.dropped))
            .collect();
        assert_eq!(got, want, "{faults:?}");
    }

    #[test]
    fn an_undo_or_a_latency_restore_shares_the_number_of_the_fault_it_ends() {
        let (a, b) = (|| "a".to_string(), || "b".to_string());
        check_numbering(
            &[
                Fault::Hold(a(), b()),
                Fault::Release(a(), b()),
                Fault::Crash(b()),
                latency("a", "b", 40),
                Fault::Bounce(b()),
                latency("b", "a", 5),
                Fault::Release(a(), b()),
            ],
            &[],
            &[
                (0, false),
                (0, false),
                (1, false),
                (2, false),
                (1, false),
                (2, false),
                (3, false),
            ],
        );
        check_numbering(
            &[
                Fault::Partition(a(), b()),
                Fault::Repair(a(), b()),
                Fault::Partition(a(), b()),
                Fault::Repair(a(), b()),
            ],
            &[1],
            &[(0, false), (0, false), (1, true), (1, true)],
        );
    }

    fn spec() -> EpisodeSpec {
        let ms = Duration::from_millis;
        EpisodeSpec {
            a: "a".into(),
            b: "b".into(),
            base: (ms(1), ms(5)),
            count: 1..=6,
            first: ms(100)..ms(200),
            gap: ms(10)..ms(50),
            hold: ms(20)..ms(80),
            partition: ms(20)..ms(80),
            spike: ms(20)..ms(80),
            spike_max: ms(20)..ms(100),
        }
    }

    #[test]
    fn episodes_alternate_start_and_undo_in_time_order_and_end_healed() {
        use rand::SeedableRng;
        for seed in 0..64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let e = Episodes::draw(&spec(), &mut rng);
            assert!(e.faults.len() >= 2 && e.faults.len().is_multiple_of(2));
            assert!(e.faults.windows(2).all(|w| w[0].0 <= w[1].0), "{e:?}");
            for pair in e.faults.chunks(2) {
                let (start, end) = (&pair[0].1, &pair[1].1);
                match start.undo() {
                    Some(undo) => assert_eq!(&undo, end),
                    None => assert!(matches!(end, Fault::Latency { min, max, .. }
                            if (*min, *max) == (Duration::from_millis(1), Duration::from_millis(5)))),
                }
            }
            assert_eq!(
                e.healed_at,
                e.faults.last().map(|f| f.0).unwrap_or_default()
            );
        }
        let mut again = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut once = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        assert_eq!(
            Episodes::draw(&spec(), &mut again),
            Episodes::draw(&spec(), &mut once)
        );
    }
}
