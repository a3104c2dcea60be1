//! Every catalog entry keeps its promises, one test module per entry
//! (expanded from [`scenarios::with_catalog!`], so a new scenario is tested
//! with nothing to add here):
//!
//! - `passes_seeds_0_to_256`: the fixed agent passes every seed;
//! - `catches_each_declared_switch_within_its_budget`: with a switch it
//!   declares on, some seed below the declared budget fails, and that seed
//!   replays with the identical trace;
//! - `is_deterministic`: the same seed twice gives byte-identical traces,
//!   with every switch off and with each declared switch on.
//!
//! And every bug switch is declared by some registered scenario, so every
//! switch has a catch test by construction.
//!
//! Replay one seed: `SIM_SEED=N cargo test -p scenarios --test catalog
//! <module>::` (add `SIM_TRACE=FILE` for the JSON-lines trace,
//! `-- --nocapture` to see the timeline); for a scenario declaring several
//! switches, `SIM_BUG=NAME` replays only that one.

use std::ops::Range;

use agent::{Bug, BugSet};
use harness::Scenario;
use harness::testkit::{check_declared_catches, check_deterministic, check_passes};

/// The seeds the fixed agent must pass.
const PASS_SEEDS: Range<u64> = 0..256;

/// The seeds run twice for the determinism checks.
const DETERMINISM_SEEDS: Range<u64> = 0..8;

fn passes(scenario: &dyn Scenario) {
    check_passes(scenario, PASS_SEEDS);
}

fn deterministic(scenario: &dyn Scenario) {
    check_deterministic(scenario, DETERMINISM_SEEDS, &BugSet::none());
}

fn deterministic_with_each_switch(scenario: &dyn Scenario) {
    for c in scenario.catches() {
        check_deterministic(scenario, DETERMINISM_SEEDS, &BugSet::none().with(c.bug));
    }
}

macro_rules! catalog_tests {
    (
        registered { $($r:ident => $rs:expr),* $(,)? }
        selftests { $($s:ident => $ss:expr),* $(,)? }
    ) => {
        $(catalog_tests!(@entry $r => $rs);)*
        $(catalog_tests!(@entry $s => $ss);)*
    };
    (@entry $module:ident => $scenario:expr) => {
        mod $module {
            use super::*;

            fn scenario() -> &'static dyn Scenario {
                &$scenario
            }

            #[test]
            fn passes_seeds_0_to_256() {
                passes(scenario());
            }

            #[test]
            fn catches_each_declared_switch_within_its_budget() {
                check_declared_catches(scenario());
            }

            #[test]
            fn is_deterministic() {
                deterministic(scenario());
            }

            #[test]
            fn is_deterministic_with_each_declared_switch_on() {
                deterministic_with_each_switch(scenario());
            }
        }
    };
}

scenarios::with_catalog!(catalog_tests);

#[test]
fn every_bug_switch_is_declared_by_a_registered_scenario() {
    let declared: Vec<Bug> = scenarios::catalog::registered()
        .iter()
        .flat_map(|s| s.catches().iter().map(|c| c.bug))
        .collect();
    let undeclared: Vec<&str> = Bug::ALL
        .iter()
        .filter(|b| !declared.contains(b))
        .map(|b| b.name())
        .collect();
    assert!(
        undeclared.is_empty(),
        "switches no registered scenario declares: {undeclared:?}"
    );
}
