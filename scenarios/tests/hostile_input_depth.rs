//! The input `hostile-input` generates gets deep into the agent rather
//! than being rejected at the door (its generic promises are in
//! `tests/catalog.rs`).

use std::collections::BTreeSet;

use agent::BugSet;
use harness::Seed;
use scenarios::hostile_input::{ANSWER_EVENT, HOSTILE_INPUT};

/// `(route, status)` of every answer in seeds `0..n`, process ids
/// folded into `{id}`.
fn answers(n: u64) -> BTreeSet<(String, u16)> {
    let mut out = BTreeSet::new();
    for seed in 0..n {
        let o = harness::runner::run(&HOSTILE_INPUT, Seed(seed), &BugSet::none());
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

/// Within 128 seeds every route that can succeed does, the body limit
/// answers 413, a start is refused as given (400), a special file is
/// refused (400) and the original's own 5xx appear.
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
        ("read-file-lines", 400),
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

/// The FIFO in the simulated sandbox is reached and refused as a special
/// file (the refusal runs inline under simulation, so its mark is seen
/// here).
#[test]
fn generated_requests_reach_the_fifo_and_are_refused() {
    cov_mark::check!(special_file_refused);
    answers(64);
}
