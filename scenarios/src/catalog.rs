//! The scenario catalog: which scenarios `agentsim` knows, listed once in
//! [`with_catalog!`](crate::with_catalog).
//!
//! - [`registered`]: the public catalog (`list`, `bugs`, a bare `sweep`).
//!   A scenario is registered once it runs against the real agent and
//!   catches each bug switch it declares within that switch's budget.
//! - [`selftests`]: the harness's own proofs; runnable by name, never
//!   listed, swept by default or shown in `bugs`.
//!
//! The same list drives the table-driven tests (`tests/catalog.rs`): every
//! entry passes its fixed seeds, catches each switch it declares within the
//! declared budget, and gives identical traces for the same seed; and every
//! bug switch is declared by some registered scenario.
//!
//! # Adding a scenario
//!
//! Write a module with one [`ScenarioSpec`](harness::ScenarioSpec) constant and its `build`
//! function, declare the module in `lib.rs` and add one line to
//! [`with_catalog!`](crate::with_catalog). A complete one, run here for
//! one seed:
//!
//! ```
//! use std::time::Duration;
//!
//! use agent_sdk::{AgentConn, OutputOptions};
//! use harness::prelude::*;
//! use scenarios::common::{FinalResult, agent_host_running, connect, start_in_project};
//!
//! /// A process writes a line and exits after a seeded delay; a blocking
//! /// read of it returns exactly that output and exit code.
//! pub const ECHO: ScenarioSpec = ScenarioSpec {
//!     name: "echo",
//!     summary: "a blocking read returns a process's final output and exit code",
//!     // With `stale-output-read` on, say, add
//!     // `Catch { bug: Bug::StaleOutputRead, within: 64 }`.
//!     catches: &[],
//!     config: SimConfig {
//!         duration: Duration::from_secs(10),
//!         ..SimConfig::DEFAULT
//!     },
//!     build,
//! };
//!
//! fn build(world: &mut SimWorld<'_>) {
//!     let mut rng = world.rng(stream::WORKLOAD);
//!     let script = Script::new()
//!         .sleep(Duration::from_millis(rng.random_range(0..=50)))
//!         .write("hello\n")
//!         .exit(rng.random_range(0..=2));
//!     let expected = FinalResult::of(&script);
//!     agent_host_running(world, [("greet".to_string(), script)]);
//!     let inv = world.invariants().clone();
//!     world.client("client", async move {
//!         let conn = connect();
//!         let Some(id) = start_in_project(&conn, &inv, "greet").await else {
//!             return Ok(());
//!         };
//!         match conn.process_output(&id, OutputOptions { wait: true }).await {
//!             Ok(r) => {
//!                 inv.check(
//!                     "wait-returns-final",
//!                     !r.running && expected.is_met_by(&r),
//!                     || expected.described(),
//!                     || FinalResult::describe_answer(&r),
//!                 );
//!             }
//!             Err(e) => inv.fail("calls-succeed", "an answer", e),
//!         }
//!         Ok(())
//!     });
//! }
//!
//! let outcome = harness::runner::run(&ECHO, Seed(1), &BugSet::none());
//! assert!(outcome.passed(), "{}", outcome.report());
//! ```

use harness::Scenario;

/// The catalog, listed once: expands to `$callback! { registered { .. }
/// selftests { .. } }`, each entry `module => scenario` (a `const`
/// [`ScenarioSpec`](harness::ScenarioSpec), or for the harness self-test a value implementing
/// [`Scenario`]). [`registered`] and [`selftests`] are built from it, and
/// `tests/catalog.rs` expands one test module per entry from it, so a
/// scenario added here is listed, swept and tested with nothing else to
/// register.
#[macro_export]
macro_rules! with_catalog {
    ($callback:ident) => {
        $callback! {
            registered {
                stale_output => $crate::stale_output::STALE_OUTPUT,
                lost_path_notification => $crate::lost_path_notification::LOST_PATH_NOTIFICATION,
                write_timeout_eof => $crate::write_timeout_eof::WRITE_TIMEOUT_EOF,
                chat_isolation => $crate::chat_isolation::CHAT_ISOLATION,
                concurrent_edits => $crate::concurrent_edits::CONCURRENT_EDITS,
                signal_vs_exit => $crate::signal_vs_exit::SIGNAL_VS_EXIT,
                blocking_wait => $crate::blocking_wait::BLOCKING_WAIT,
                flaky_network => $crate::flaky_network::FLAKY_NETWORK,
                agent_restart => $crate::agent_restart::AGENT_RESTART,
                hostile_input => $crate::hostile_input::HOSTILE_INPUT,
                mixed_processes => $crate::mixed_processes::MIXED_PROCESSES,
                mixed_files => $crate::mixed_files::MIXED_FILES,
                mixed_git => $crate::mixed_git::MIXED_GIT,
            }
            selftests {
                harness_selftest => ::harness::selftest::HarnessSelfTest,
            }
        }
    };
}

macro_rules! lists {
    (
        registered { $($r:ident => $rs:expr),* $(,)? }
        selftests { $($s:ident => $ss:expr),* $(,)? }
    ) => {
        /// The public catalog.
        pub fn registered() -> Vec<&'static dyn Scenario> {
            vec![$(&$rs),*]
        }

        /// Harness self-tests.
        pub fn selftests() -> Vec<&'static dyn Scenario> {
            vec![$(&$ss),*]
        }
    };
}

with_catalog!(lists);

/// Every scenario runnable by name.
pub fn all() -> Vec<&'static dyn Scenario> {
    let mut all = registered();
    all.extend(selftests());
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
