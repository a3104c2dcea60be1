//! Every scenario's two promises (DESIGN.md section 5) plus determinism:
//! the fixed agent passes a fixed seed set, the bug switch is caught within
//! the stated budget (and the failing seed replays identically), and the
//! same seed twice gives a byte-identical trace.
//!
//! Replay one seed: `SIM_SEED=N cargo test -p scenarios <module>` (add
//! `SIM_TRACE=FILE` for the JSON-lines trace, `-- --nocapture` to see the
//! timeline).

use agent::{Bug, BugSet};
use harness::testkit::{check_catches, check_deterministic, check_passes};

mod harness_selftest {
    use super::*;
    use harness::selftest::HarnessSelfTest;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&HarnessSelfTest, 0..256);
    }

    #[test]
    fn catches_stale_output_read_within_64_seeds() {
        check_catches(&HarnessSelfTest, Bug::StaleOutputRead, 64);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&HarnessSelfTest, 0..8, &BugSet::none());
    }
}

mod stale_output {
    use super::*;
    use scenarios::StaleOutput;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&StaleOutput, 0..256);
    }

    #[test]
    fn catches_stale_output_read_within_64_seeds() {
        check_catches(&StaleOutput, Bug::StaleOutputRead, 64);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&StaleOutput, 0..8, &BugSet::none());
    }
}

mod lost_path_notification {
    use super::*;
    use scenarios::LostPathNotification;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&LostPathNotification, 0..256);
    }

    #[test]
    fn catches_paths_before_subscribe_within_64_seeds() {
        check_catches(&LostPathNotification, Bug::PathsBeforeSubscribe, 64);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&LostPathNotification, 0..8, &BugSet::none());
    }
}

mod write_timeout_eof {
    use super::*;
    use scenarios::WriteTimeoutEof;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&WriteTimeoutEof, 0..256);
    }

    #[test]
    fn catches_write_deadline_hidden_within_8_seeds() {
        check_catches(&WriteTimeoutEof, Bug::WriteDeadlineHidden, 8);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&WriteTimeoutEof, 0..8, &BugSet::none());
    }
}
