//! The scenario catalog: which scenarios `agentsim` knows.
//!
//! - [`registered`]: the public catalog (`list`, `bugs`, a bare `sweep`).
//!   A scenario is registered once it runs against the real agent and
//!   catches its bug switch within its stated budget.
//! - [`selftests`]: the harness's own proofs; runnable by name, never
//!   listed, swept by default or shown in `bugs`.
//! - [`pending`]: scenarios written against the SDK whose agent pieces
//!   (process API, git watch, the server's write-deadline layer) have not
//!   landed; runnable by name, expected to fail until they do.

use harness::Scenario;
use harness::selftest::HarnessSelfTest;

use crate::{
    AgentRestart, BlockingWait, ChatIsolation, ConcurrentEdits, FlakyNetwork, HostileInput,
    LostPathNotification, SignalVsExit, StaleOutput, WriteTimeoutEof,
};

/// The public catalog.
pub fn registered() -> Vec<&'static dyn Scenario> {
    vec![
        &StaleOutput,
        &LostPathNotification,
        &WriteTimeoutEof,
        &ChatIsolation,
        &ConcurrentEdits,
        &SignalVsExit,
        &BlockingWait,
        &FlakyNetwork,
        &AgentRestart,
        &HostileInput,
    ]
}

/// Harness self-tests.
pub fn selftests() -> Vec<&'static dyn Scenario> {
    vec![&HarnessSelfTest]
}

/// Written, not yet registered (see the module docs).
pub fn pending() -> Vec<&'static dyn Scenario> {
    Vec::new()
}

/// Every scenario runnable by name.
pub fn all() -> Vec<&'static dyn Scenario> {
    let mut all = registered();
    all.extend(selftests());
    all.extend(pending());
    all
}

/// Finds a scenario by name among [`all`].
pub fn lookup(name: &str) -> Option<&'static dyn Scenario> {
    all().into_iter().find(|s| s.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_kebab_case() {
        let names: Vec<&str> = all().iter().map(|s| s.name()).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for n in names {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{n}"
            );
        }
    }

    #[test]
    fn every_scenario_has_a_one_line_summary() {
        for s in all() {
            assert!(
                !s.summary().is_empty() && !s.summary().contains('\n'),
                "{}",
                s.name()
            );
        }
    }
}
