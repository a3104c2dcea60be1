//! Timers the code under test arms, as the trace tells them: the harness
//! records each one's firing at the simulated instant it is due.
//!
//! Agent code traces a timer as `timer.arm` (`NAME due in S.SSSs[: what
//! happens then]`) and `timer.disarm` (`NAME disarmed...`). A deadline that
//! passes often changes nothing until the code next looks at it (a write
//! deadline is checked by the next write), so rather than waking the code
//! under test, which could change what it does, the harness keeps the
//! armed timers and the world records `timer.fire` for each when its time
//! comes, attributed to the task that armed it. A timer ends when it is
//! re-armed, disarmed, its task ends (its request answered, its
//! connection closed) or its host crashes; what is still armed when a run stops is listed in
//! a hung run's report (see [`crate::explain::pending`]).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

/// One armed timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Armed {
    pub host: Arc<str>,
    pub task: Option<Arc<str>>,
    pub name: String,
    pub armed_at: Duration,
    pub due: Duration,
    /// What happens when it fires (the arm event's text after the due
    /// time), with its leading separator.
    pub then: String,
}

impl Armed {
    /// The `timer.fire` event's detail.
    pub fn fired(&self) -> String {
        format!(
            "{} fired (armed at {}.{:06}s){}",
            self.name,
            self.armed_at.as_secs(),
            self.armed_at.subsec_micros(),
            self.then
        )
    }
}

/// The armed timers of one run, in arming order.
#[derive(Default)]
pub struct Timers {
    armed: RefCell<Vec<Armed>>,
}

/// Splits a `timer.arm` detail into its name, due delay and the rest.
fn parse_arm(detail: &str) -> Option<(&str, Duration, &str)> {
    let (name, rest) = detail.split_once(" due in ")?;
    let (secs, then) = rest.split_once('s')?;
    let secs: f64 = secs.parse().ok()?;
    Some((name, Duration::try_from_secs_f64(secs).ok()?, then))
}

impl Timers {
    /// Follows one trace event (kind, detail) recorded by `task` on `host`
    /// at `now`.
    pub fn observe(
        &self,
        kind: &str,
        detail: &str,
        host: &Arc<str>,
        task: Option<&Arc<str>>,
        now: Duration,
    ) {
        let same = |a: &Armed| &a.host == host && a.task.as_ref() == task;
        match kind {
            "timer.arm" => {
                let Some((name, delay, then)) = parse_arm(detail) else {
                    return;
                };
                let mut armed = self.armed.borrow_mut();
                armed.retain(|a| !(same(a) && a.name == name));
                armed.push(Armed {
                    host: host.clone(),
                    task: task.cloned(),
                    name: name.to_string(),
                    armed_at: now,
                    due: now + delay,
                    then: then.to_string(),
                });
            }
            "timer.disarm" | "timer.fire" => {
                let name = detail
                    .split(" disarmed")
                    .next()
                    .and_then(|d| d.split(" fired").next())
                    .unwrap_or_default();
                self.armed
                    .borrow_mut()
                    .retain(|a| !(same(a) && a.name == name));
            }
            "http.response" | "http.closed" => {
                let mut armed = self.armed.borrow_mut();
                if !armed.is_empty() {
                    armed.retain(|a| !same(a));
                }
            }
            _ => {}
        }
    }

    /// Forgets the timers of `host` (it crashed: its tasks are gone).
    pub fn forget_host(&self, host: &str) {
        self.armed.borrow_mut().retain(|a| &*a.host != host);
    }

    /// Removes and returns the timers due at or before `now`, by due time
    /// (arming order for equal times).
    pub fn due(&self, now: Duration) -> Vec<Armed> {
        let mut armed = self.armed.borrow_mut();
        if armed.iter().all(|a| a.due > now) {
            return Vec::new();
        }
        let (mut due, rest): (Vec<Armed>, Vec<Armed>) = armed.drain(..).partition(|a| a.due <= now);
        *armed = rest;
        due.sort_by_key(|a| a.due);
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_timer_fires_when_due_unless_rearmed_disarmed_or_its_task_ended() {
        let t = Timers::default();
        let host: Arc<str> = Arc::from("agent");
        let conn = |n: u32| Some(Arc::<str>::from(format!("conn{n}")));
        let arm = "write deadline due in 2.000s: refused";
        t.observe("timer.arm", arm, &host, conn(1).as_ref(), ms(10));
        t.observe("timer.arm", arm, &host, conn(2).as_ref(), ms(20));
        t.observe("timer.arm", arm, &host, conn(3).as_ref(), ms(30));
        t.observe("timer.arm", arm, &host, conn(1).as_ref(), ms(500));
        t.observe("http.closed", "closed", &host, conn(2).as_ref(), ms(600));
        let disarm = "write deadline disarmed (upgraded)";
        t.observe("timer.disarm", disarm, &host, conn(3).as_ref(), ms(700));
        t.observe(
            "timer.arm",
            "read deadline due in 1.000s",
            &host,
            None,
            ms(800),
        );
        assert!(t.due(ms(1799)).is_empty());
        let fired: Vec<(Duration, String)> =
            t.due(ms(3000)).iter().map(|a| (a.due, a.fired())).collect();
        assert_eq!(
            fired,
            [
                (
                    ms(1800),
                    "read deadline fired (armed at 0.800000s)".to_string()
                ),
                (
                    ms(2500),
                    "write deadline fired (armed at 0.500000s): refused".to_string()
                ),
            ]
        );
        assert!(t.due(ms(9000)).is_empty());
        t.observe("timer.arm", arm, &host, conn(4).as_ref(), ms(9000));
        t.forget_host("agent");
        assert!(t.due(ms(99_000)).is_empty());
    }
}
