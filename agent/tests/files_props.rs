//! Property tests of the file API: the matcher (exact spans, perturbed
//! blocks), the line reader against a naive model, and edit-files requests
//! over an in-memory filesystem (a failing request changes nothing; a
//! successful one writes exactly what the matcher computes).

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

mod files_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use agent::BugSet;
use agent::files::fuzzy::{Pass, apply_edit, apply_edits};
use agent::files::lines::number_lines;
use agent::files::wire::{EditFilesRequest, FileEdit, FileEdits, ReadFileLinesLimits};
use files_support::{MemFs, agent_over, call, post_json};
use http::StatusCode;
use proptest::prelude::*;

/// Text without the marker character `Q`.
fn plain(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ab c\t\n\r;{{}}é]{{0,{max}}}")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An exact search that occurs once replaces exactly its span: the bytes
    /// before and after it are untouched.
    #[test]
    fn exact_unique_search_changes_exactly_its_span(
        prefix in plain(60),
        left in plain(8),
        right in plain(8),
        suffix in plain(60),
        replace in plain(12),
        replace_all in any::<bool>(),
    ) {
        // A multi-line replacement's shared line ending becomes the file's
        // (pinned in `upstream_edit.rs`); a one-line one goes in verbatim.
        let replace = replace.replace(['\r', '\n'], "");
        // The single `Q` makes the needle occur exactly once.
        let needle = format!("{left}Q{right}");
        let content = format!("{prefix}{needle}{suffix}");
        let applied = apply_edit(content.as_bytes(), &needle, &replace, replace_all, usize::MAX).unwrap();
        prop_assert_eq!(applied.pass, Pass::Exact);
        prop_assert_eq!(applied.replacements, 1);
        prop_assert_eq!(applied.content, format!("{prefix}{replace}{suffix}").into_bytes());
    }
}

/// How a search block differs from the file's block.
#[derive(Clone, Copy, Debug)]
enum Perturbation {
    TrailingWhitespace,
    TabsForSpaces,
    IndentDepth,
}

/// A source-like line: indent and a body without edge whitespace.
fn code_line() -> impl Strategy<Value = (String, String)> {
    (
        proptest::string::string_regex("(\t|    ){0,3}").unwrap(),
        proptest::string::string_regex("([a-z(){};=]{1,6}( [a-z(){};=]{1,6}){0,3})?").unwrap(),
    )
}

fn perturb(p: Perturbation, (indent, body): &(String, String), extra: &str) -> String {
    match p {
        Perturbation::TrailingWhitespace => format!("{indent}{body}{extra}"),
        Perturbation::TabsForSpaces => {
            let swapped = if indent.contains('\t') {
                indent.replace('\t', "    ")
            } else {
                indent.replace("    ", "\t")
            };
            format!("{swapped}{body}")
        }
        Perturbation::IndentDepth => format!("{extra}{indent}{body}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A unique block whose search copy has trailing whitespace, tabs for
    /// spaces or another indent depth still matches in pass 2 or 3, and
    /// every line outside the block stays byte-identical.
    #[test]
    fn perturbed_unique_block_matches_fuzzily_and_keeps_other_lines(
        before in proptest::collection::vec(code_line(), 0..8),
        block in proptest::collection::vec(code_line(), 1..5),
        after in proptest::collection::vec(code_line(), 0..8),
        perturbation in prop_oneof![
            Just(Perturbation::TrailingWhitespace),
            Just(Perturbation::TabsForSpaces),
            Just(Perturbation::IndentDepth),
        ],
        extra in proptest::string::string_regex("[ \t]{1,4}").unwrap(),
        search_ends_in_newline in any::<bool>(),
    ) {
        let mut block = block;
        // The marker makes the block's first line unique in the file.
        block[0].1 = format!("unique_marker{}", block[0].1);
        // A search without a final newline cannot express an empty last
        // line (Go's split drops it), so the block ends in a real line.
        if let Some(last) = block.last_mut().filter(|l| l.1.is_empty()) {
            last.1 = "end".into();
        }
        let render = |lines: &[(String, String)]| -> String {
            lines.iter().map(|(i, b)| format!("{i}{b}\n")).collect()
        };
        let content = format!("{}{}{}", render(&before), render(&block), render(&after));
        let mut search = block
            .iter()
            .map(|l| perturb(perturbation, l, &extra))
            .collect::<Vec<_>>()
            .join("\n");
        if search_ends_in_newline {
            search.push('\n');
        }
        prop_assume!(!content.contains(&search));
        let replace = "REPLACED\n";
        let applied = apply_edit(content.as_bytes(), &search, replace, false, usize::MAX).unwrap();
        prop_assert!(applied.pass != Pass::Exact);
        let want = format!("{}{replace}{}", render(&before), render(&after));
        prop_assert_eq!(String::from_utf8(applied.content).unwrap(), want);
    }
}

/// The line reader's contract written the obvious way.
fn naive_lines(
    data: &str,
    offset: u64,
    limit: u64,
    l: &ReadFileLinesLimits,
) -> Result<(String, u64, u64), String> {
    if data.is_empty() {
        return Ok((String::new(), 0, 0));
    }
    let lines: Vec<&str> = data.split('\n').collect();
    let total = lines.len() as u64;
    let offset = offset.max(1);
    if offset > total {
        return Err(format!(
            "offset {offset} is beyond the file length of {total} lines"
        ));
    }
    let limit = if limit == 0 {
        l.max_response_lines
    } else {
        limit
    };
    let end = (offset - 1 + limit).min(total);
    let mut out: Vec<String> = Vec::new();
    for n in offset..=end {
        let line = lines[(n - 1) as usize];
        let shown = if line.len() as u64 > l.max_line_bytes {
            format!("{}... [truncated]", &line[..l.max_line_bytes as usize])
        } else {
            line.to_string()
        };
        let mut next = out.clone();
        next.push(format!("{n}\t{shown}"));
        if next.join("\n").len() as u64 > l.max_response_bytes {
            return Err(format!(
                "output would exceed {} bytes. Read less at a time using offset and limit parameters.",
                l.max_response_bytes
            ));
        }
        if out.len() as u64 >= l.max_response_lines {
            return Err(format!(
                "output would exceed {} lines. Read less at a time using offset and limit parameters.",
                l.max_response_lines
            ));
        }
        out = next;
    }
    Ok((out.join("\n"), total, out.len() as u64))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn line_reader_matches_a_naive_model(
        data in proptest::string::string_regex("[ab\r\n]{0,40}").unwrap(),
        offset in 0u64..12,
        limit in 0u64..8,
        max_line_bytes in 0u64..6,
        max_response_lines in 0u64..7,
        max_response_bytes in 0u64..50,
    ) {
        let limits = ReadFileLinesLimits {
            max_file_size: 1 << 20,
            max_line_bytes,
            max_response_lines,
            max_response_bytes,
        };
        let got = number_lines(data.as_bytes(), data.len() as u64, offset, limit, &limits);
        match naive_lines(&data, offset, limit, &limits) {
            Ok((content, total, read)) => {
                prop_assert!(got.success, "{:?}", got);
                prop_assert_eq!(got.content, content);
                prop_assert_eq!((got.total_lines, got.lines_read), (total, read));
                prop_assert_eq!(got.file_size, data.len() as u64);
            }
            Err(error) => {
                prop_assert!(!got.success);
                prop_assert_eq!(got.error, error);
                prop_assert_eq!(got.content, "");
            }
        }
    }
}

/// One edit: a slice of a file's text as the search (mostly of the file
/// being edited, so requests succeed as well as fail), or a random string
/// when the slice length is 0.
fn any_edit() -> impl Strategy<Value = (Option<usize>, usize, usize, String, String, bool)> {
    (
        prop_oneof![4 => Just(None), 1 => (0usize..3).prop_map(Some)],
        0usize..40,
        prop_oneof![1 => Just(0usize), 6 => 3usize..14],
        proptest::string::string_regex("[ab\n]{0,3}").unwrap(),
        proptest::string::string_regex("[abX\n]{0,4}").unwrap(),
        any::<bool>(),
    )
}

/// The edits of one entry: rarely none (a 400), usually one or two.
fn any_edits() -> impl Strategy<Value = Vec<(Option<usize>, usize, usize, String, String, bool)>> {
    (0usize..10).prop_flat_map(|k| {
        let size = if k == 0 { 0..1 } else { 1..3 };
        proptest::collection::vec(any_edit(), size)
    })
}

/// A path: mostly one of the three files, sometimes a missing, relative or
/// empty one.
fn any_name() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..3, 1 => 3usize..NAMES.len()]
}

const NAMES: [&str; 6] = ["/w/f0", "/w/f1", "/w/f2", "/w/missing", "rel", ""];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any request that fails leaves every file byte-identical; any that
    /// succeeds writes exactly what the matcher computes.
    #[test]
    fn edit_files_is_all_or_nothing(
        contents in proptest::collection::vec(proptest::string::string_regex("[a-e \n]{0,30}").unwrap(), 3),
        entries in proptest::collection::vec(
            (any_name(), any_edits()),
            1..3,
        ),
    ) {
        let fs = Arc::new(MemFs::new());
        for (i, c) in contents.iter().enumerate() {
            fs.put(NAMES[i], c.as_bytes());
        }
        let files: Vec<FileEdits> = entries
            .iter()
            .map(|(name, edits)| FileEdits {
                path: NAMES[*name].to_string(),
                edits: edits
                    .iter()
                    .map(|(other, at, len, random, replace, all)| {
                        let src = other.unwrap_or(*name).min(2);
                        let text = contents[src].as_bytes();
                        let start = at % text.len().max(1);
                        let end = (start + len).min(text.len());
                        let search = if *len == 0 {
                            random.clone()
                        } else {
                            String::from_utf8_lossy(&text[start..end]).into_owned()
                        };
                        FileEdit { search, replace: replace.clone(), replace_all: *all }
                    })
                    .collect(),
            })
            .collect();
        let before = fs.snapshot();
        let agent = agent_over(fs.clone(), BugSet::none());
        let req = EditFilesRequest { files: files.clone(), include_diff: false };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = rt.block_on(call(&agent, post_json("/api/v0/edit-files", &req))).status;
        let after = fs.snapshot();

        if status == StatusCode::OK {
            let mut want: BTreeMap<PathBuf, Vec<u8>> = before.clone();
            for f in &files {
                let path = PathBuf::from(&f.path);
                // Entries for one path merge, in request order.
                let edited = apply_edits(&want[&path], &f.edits, usize::MAX).unwrap();
                want.insert(path, edited);
            }
            prop_assert_eq!(after, want);
        } else {
            prop_assert_eq!(after, before, "status {}", status);
        }
    }
}
