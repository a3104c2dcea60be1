//! Which invariant `write-timeout-eof` reports for each of its switches,
//! beyond the generic catch (`tests/catalog.rs`): the hidden write deadline
//! is caught at the bare SDK call while the tools' snapshot fallback still
//! returns the real result, and a missing fallback is caught at the tools
//! as a bare transport error without the process id.

use agent::{Bug, BugSet};
use harness::runner::{self, Failure, Outcome};
use harness::testkit::check_catches;
use harness::{Seed, Violation};
use scenarios::write_timeout_eof::{
    EXECUTE_INVARIANT, PROCESS_OUTPUT_INVARIANT, SDK_INVARIANT, WRITE_TIMEOUT_EOF,
};

fn violation(outcome: &Outcome) -> Violation {
    match &outcome.failure {
        Some(Failure::Violation(v)) => v.clone(),
        other => panic!("expected a violation, got {other:?}\n{}", outcome.report()),
    }
}

fn traced(outcome: &Outcome, kind: &str) -> usize {
    outcome.events.iter().filter(|e| e.kind == kind).count()
}

#[test]
fn write_deadline_hidden_is_caught_at_the_sdk_call() {
    let bugs = BugSet::none().with(Bug::WriteDeadlineHidden);
    let seed = check_catches(&WRITE_TIMEOUT_EOF, Bug::WriteDeadlineHidden, 8);
    let v = violation(&runner::run(&WRITE_TIMEOUT_EOF, seed, &bugs));
    assert_eq!(v.invariant, SDK_INVARIANT, "{v}");
}

#[test]
fn with_write_deadline_hidden_the_tools_still_return_the_real_result_through_their_fallback() {
    // The SDK call is checked last: a run failing on it alone shows
    // both tools' results held although both waits hit the EOF.
    let bugs = BugSet::none().with(Bug::WriteDeadlineHidden);
    for seed in (0..8).map(Seed) {
        let outcome = runner::run(&WRITE_TIMEOUT_EOF, seed, &bugs);
        let v = violation(&outcome);
        assert_eq!(v.invariant, SDK_INVARIANT, "seed {seed}: {v}");
        assert!(v.seen.starts_with("transport error"), "seed {seed}: {v}");
        assert_eq!(
            traced(&outcome, "tools.execute.snapshot_fallback"),
            1,
            "seed {seed}"
        );
        assert_eq!(
            traced(&outcome, "tools.process_output.snapshot_fallback"),
            1,
            "seed {seed}"
        );
    }
}

#[test]
fn no_snapshot_fallback_is_caught_at_the_tools_as_an_error_without_the_process_id() {
    // The scenario turns write-deadline-hidden on itself for this switch
    // (the fallback only matters after a transport error) and skips the
    // SDK-level check, so the catch is the tools' own.
    let bugs = BugSet::none().with(Bug::NoSnapshotFallback);
    let seed = check_catches(&WRITE_TIMEOUT_EOF, Bug::NoSnapshotFallback, 8);
    let v = violation(&runner::run(&WRITE_TIMEOUT_EOF, seed, &bugs));
    assert!(
        [EXECUTE_INVARIANT, PROCESS_OUTPUT_INVARIANT].contains(&v.invariant.as_str()),
        "{v}"
    );
    assert!(
        v.seen.contains("get process output: ")
            && v.seen
                .contains("connection closed before message completed")
            && !v.seen.contains("background_process_id")
            && !v.seen.contains("process_output with ID"),
        "a bare transport error without the process id: {v}"
    );
}
