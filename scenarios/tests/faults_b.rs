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

mod hostile_input {
    use std::collections::BTreeSet;

    use super::*;
    use harness::Seed;
    use scenarios::HostileInput;
    use scenarios::hostile_input::ANSWER_EVENT;

    #[test]
    fn passes_seeds_0_to_256() {
        check_passes(&HostileInput, 0..256);
    }

    #[test]
    fn is_deterministic() {
        check_deterministic(&HostileInput, 0..8, &BugSet::none());
    }

    /// `(route, status)` of every answer in seeds `0..n`, process ids
    /// folded into `{id}`.
    fn answers(n: u64) -> BTreeSet<(String, u16)> {
        let mut out = BTreeSet::new();
        for seed in 0..n {
            let o = harness::runner::run(&HostileInput, Seed(seed), &BugSet::none());
            for e in o.events.iter().filter(|e| e.kind == ANSWER_EVENT) {
                let Some((request, status)) = e.detail.rsplit_once(" -> ") else {
                    continue;
                };
                let path = request.split_once(' ').map(|(_, p)| p).unwrap_or("");
                let route = match path.strip_prefix("/api/v0/processes/") {
                    Some(rest) if rest.ends_with("/output") => "processes/{id}/output",
                    Some(rest) if rest.ends_with("/signal") => "processes/{id}/signal",
                    _ => path.strip_prefix("/api/v0/").unwrap_or(path),
                };
                out.insert((route.to_string(), status.parse().unwrap_or(0)));
            }
        }
        out
    }

    /// The generated input is not all rejected at the door: within 128
    /// seeds every route that can succeed does, the body limit answers 413,
    /// a start is refused as given (400) and the spec's own 5xx appear.
    #[test]
    fn generated_requests_get_deep_into_every_route() {
        let seen = answers(128);
        let ok: BTreeSet<&str> = seen
            .iter()
            .filter(|(_, s)| (200..300).contains(s))
            .map(|(r, _)| r.as_str())
            .collect();
        for route in [
            "processes/start",
            "processes/list",
            "processes/{id}/output",
            "processes/{id}/signal",
            "read-file",
            "read-file-lines",
            "write-file",
            "edit-files",
        ] {
            assert!(ok.contains(route), "no 2xx from {route}: {seen:?}");
        }
        for (route, status) in [
            ("processes/start", 400),
            ("git/watch", 500),
            ("edit-files", 413),
            ("processes/{id}/output", 404),
        ] {
            assert!(
                seen.contains(&(route.to_string(), status)),
                "no {status} from {route}"
            );
        }
    }
}
