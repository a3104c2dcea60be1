//! Property tests of the refined matcher as a whole: a request it refuses
//! writes nothing, whatever whitespace, indent and line endings the file
//! and the search carry; and an exact match is still plain substring
//! replacement, as it was before the matcher was refined.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

mod files_support;

use std::sync::Arc;

use agent::BugSet;
use agent::files::fuzzy::{MatchError, Pass, apply_edit, apply_edits};
use agent::files::wire::{EditFilesRequest, FileEdit, FileEdits};
use files_support::{MemFs, agent_over, call, post_json};
use http::StatusCode;
use proptest::prelude::*;

/// A line of a source-like file: indent, body, trailing whitespace, ending.
fn line() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just(""), Just("\t"), Just("  "), Just("    "), Just("\t\t")],
        prop_oneof![Just("a"), Just("b()"), Just("if x {"), Just("}"), Just("")],
        prop_oneof![3 => Just(""), 1 => Just(" "), 1 => Just("\t")],
        prop_oneof![3 => Just("\n"), 1 => Just("\r\n")],
    )
        .prop_map(|(i, b, t, e)| format!("{i}{b}{t}{e}"))
}

/// Some lines, the last one maybe without its ending.
fn text(lines: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    (proptest::collection::vec(line(), lines), any::<bool>()).prop_map(|(lines, cut)| {
        let mut s: String = lines.concat();
        if cut {
            while s.ends_with(['\n', '\r']) {
                s.pop();
            }
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the request, a refusal leaves the file byte-identical and a
    /// success writes exactly what the matcher computes. The search is
    /// mostly the file's own lines re-indented, so all three passes, near
    /// misses and ambiguity all occur.
    #[test]
    fn a_refused_edit_writes_nothing(
        content in text(0..10),
        from in any::<prop::sample::Index>(),
        take in 1usize..4,
        reindent in prop_oneof![Just(""), Just("  "), Just("\t"), Just("        ")],
        own in text(1..3),
        use_own in proptest::bool::weighted(0.3),
        replace in text(0..4),
        replace_all in any::<bool>(),
    ) {
        let lines: Vec<&str> = content.split_inclusive('\n').collect();
        let search = if use_own || lines.is_empty() {
            own
        } else {
            let at = from.index(lines.len());
            lines[at..(at + take).min(lines.len())]
                .iter()
                .map(|l| format!("{reindent}{}", l.trim_start()))
                .collect()
        };
        let fs = Arc::new(MemFs::new());
        fs.put("/w/f", content.as_bytes());
        let before = fs.snapshot();
        let agent = agent_over(fs.clone(), BugSet::none());
        let edits = vec![FileEdit { search, replace, replace_all }];
        let req = EditFilesRequest {
            files: vec![FileEdits { path: "/w/f".into(), edits: edits.clone() }],
            include_diff: false,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let reply = rt.block_on(call(&agent, post_json("/api/v0/edit-files", &req)));
        let after = fs.snapshot();
        let computed = apply_edits(content.as_bytes(), &edits, usize::MAX);
        if reply.status == StatusCode::OK {
            let mut want = before.clone();
            want.insert("/w/f".into(), computed.unwrap());
            prop_assert_eq!(after, want);
        } else {
            prop_assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            prop_assert!(computed.is_err(), "refused although the matcher applies");
            prop_assert_eq!(after, before);
        }
    }

    /// Without carriage returns, an exact hit is replaced verbatim, left to
    /// right and non-overlapping, exactly as `str::replace` does; more than
    /// one hit without `replace_all` is ambiguous.
    #[test]
    fn exact_matches_are_plain_substring_replacement(
        content in proptest::string::string_regex("[ab \t\n{}]{1,40}").unwrap(),
        at in any::<prop::sample::Index>(),
        len in 1usize..5,
        replace in proptest::string::string_regex("[xy \t\n]{0,6}").unwrap(),
        replace_all in any::<bool>(),
    ) {
        // A slice of the content: it occurs at least once (ASCII only, so
        // any byte range is a string).
        let start = at.index(content.len());
        let search = &content[start..(start + len).min(content.len())];
        let hits = content.matches(search).count();
        let got = apply_edit(content.as_bytes(), search, &replace, replace_all, usize::MAX);
        if hits > 1 && !replace_all {
            prop_assert_eq!(got, Err(MatchError::Ambiguous(hits)));
        } else {
            let applied = got.unwrap();
            prop_assert_eq!(applied.pass, Pass::Exact);
            prop_assert_eq!(applied.replacements, hits);
            prop_assert_eq!(
                String::from_utf8(applied.content).unwrap(),
                content.replace(search, &replace)
            );
        }
    }
}
