//! The simulated wall clock: a fixed epoch plus turmoil's simulated time.
//!
//! turmoil's default epoch is the real clock, which would leak into every
//! `*_at_unix` field and `scanned_at` stamp; the harness always sets
//! [`epoch()`] on the builder and reads time back through turmoil.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent::seams::WallClock;

/// The simulations' epoch in Unix seconds: 2024-01-01T00:00:00Z.
pub const EPOCH_UNIX_SECS: u64 = 1_704_067_200;

/// The simulations' epoch, [`EPOCH_UNIX_SECS`].
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_SECS)
}

/// [`WallClock`] over turmoil's clock. Outside a running host (setup,
/// teardown) it reads the epoch itself.
#[derive(Clone, Copy, Debug)]
pub struct SimClock {
    epoch: SystemTime,
}

impl SimClock {
    /// A clock for a simulation whose builder epoch is `epoch`.
    pub fn new(epoch: SystemTime) -> Self {
        SimClock { epoch }
    }
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock::new(epoch())
    }
}

impl WallClock for SimClock {
    fn now(&self) -> SystemTime {
        match turmoil::since_epoch() {
            Some(d) => UNIX_EPOCH + d,
            None => self.epoch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_advances_with_simulated_time_from_the_epoch() {
        let mut sim = turmoil::Builder::new().epoch(epoch()).build();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        sim.client("c", async move {
            let clock = SimClock::new(epoch());
            s.lock().unwrap().push(clock.now_unix());
            tokio::time::sleep(Duration::from_secs(3)).await;
            s.lock().unwrap().push(clock.now_unix());
            Ok(())
        });
        sim.run().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![1_704_067_200, 1_704_067_203]);
        assert_eq!(SimClock::default().now(), epoch());
    }
}
