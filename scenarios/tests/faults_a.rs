//! The fault scenarios of issue 8 (part A): chat isolation, concurrent
//! edits, signal vs exit, blocking wait. Each makes the promises of
//! DESIGN.md section 5 plus determinism: the fixed agent passes seeds
//! 0..256, each bug switch is caught within the stated budget (and the
//! failing seed replays identically), and the same seed twice gives a
//! byte-identical trace.
//!
//! Replay one seed: `SIM_SEED=N cargo test -p scenarios --test faults_a
//! <module>` (add `SIM_TRACE=FILE` for the JSON-lines trace,
//! `-- --nocapture` to see the timeline).

use agent::{Bug, BugSet};
use harness::testkit::{check_catches, check_deterministic, check_passes};

mod chat_isolation {
    use super::*;
    use scenarios::ChatIsolation;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&ChatIsolation, 0..256);
    }

    #[test]
    fn catches_chat_id_unchecked_within_8_seeds() {
        check_catches(&ChatIsolation, Bug::ChatIdUnchecked, 8);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&ChatIsolation, 0..8, &BugSet::none());
    }
}

mod concurrent_edits {
    use super::*;
    use scenarios::ConcurrentEdits;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&ConcurrentEdits, 0..256);
    }

    #[test]
    fn catches_unserialised_edits_within_32_seeds() {
        check_catches(&ConcurrentEdits, Bug::UnserialisedEdits, 32);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&ConcurrentEdits, 0..8, &BugSet::none());
    }
}

mod signal_vs_exit {
    use super::*;
    use scenarios::SignalVsExit;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&SignalVsExit, 0..256);
    }

    #[test]
    fn catches_signal_esrch_500_within_32_seeds() {
        check_catches(&SignalVsExit, Bug::SignalEsrch500, 32);
    }

    #[test]
    fn catches_reaper_steals_within_32_seeds() {
        check_catches(&SignalVsExit, Bug::ReaperSteals, 32);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&SignalVsExit, 0..8, &BugSet::none());
    }

    #[test]
    fn is_deterministic_with_the_reaper() {
        check_deterministic(&SignalVsExit, 0..8, &BugSet::none().with(Bug::ReaperSteals));
    }
}

mod blocking_wait {
    use super::*;
    use scenarios::BlockingWait;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&BlockingWait, 0..256);
    }

    #[test]
    fn catches_lost_wakeup_within_64_seeds() {
        check_catches(&BlockingWait, Bug::LostWakeup, 64);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&BlockingWait, 0..8, &BugSet::none());
    }
}
