//! The matcher's cases, its size cap, and its equivalence with the
//! reference (window-by-window) matcher on random inputs.

use proptest::prelude::*;

use super::*;

/// One matcher case: content, search, replace, replace_all, and the
/// expected content or error.
fn check(
    content: &str,
    search: &str,
    replace: &str,
    all: bool,
    want: Result<(&str, Pass), MatchError>,
) {
    let got = apply_edit(content.as_bytes(), search, replace, all, usize::MAX)
        .map(|a| (String::from_utf8(a.content).expect("utf-8"), a.pass));
    let want = want.map(|(s, p)| (s.to_string(), p));
    assert_eq!(
        got, want,
        "content {content:?} search {search:?} replace {replace:?}"
    );
}

#[test]
fn exact_unique_match_is_replaced() {
    check("foo bar", "foo", "bar", false, Ok(("bar bar", Pass::Exact)));
}

#[test]
fn exact_ambiguity_reports_the_non_overlapping_count() {
    check("aaaa", "aa", "b", false, Err(MatchError::Ambiguous(2)));
    check(
        "foo bar foo baz foo",
        "foo",
        "x",
        false,
        Err(MatchError::Ambiguous(3)),
    );
}

#[test]
fn exact_replace_all_is_left_to_right_non_overlapping() {
    check("aaaaa", "aa", "b", true, Ok(("bba", Pass::Exact)));
}

#[test]
fn trailing_whitespace_pass_keeps_the_files_trailing_whitespace_and_never_folds() {
    check(
        "foo   \nbar\t\t\nbaz",
        "foo\nbar\nbaz",
        "replaced",
        false,
        Ok(("replaced   ", Pass::TrailingWhitespace)),
    );
    // A replacement without a final newline does not glue the next line on.
    check(
        "a  \nb\nc\n",
        "a\n",
        "X",
        false,
        Ok(("X  \nb\nc\n", Pass::TrailingWhitespace)),
    );
}

#[test]
fn crlf_lines_keep_their_endings_in_the_fuzzy_passes() {
    check(
        "x\r\ny \r\nz\r\n",
        "y\n",
        "Y\n",
        false,
        Ok(("x\r\nY \r\nz\r\n", Pass::TrailingWhitespace)),
    );
}

#[test]
fn a_search_with_extra_leading_spaces_keeps_the_next_line_on_its_own() {
    check(
        "alpha\nbeta\n",
        "  alpha",
        "ALPHA",
        false,
        Ok(("ALPHA\nbeta\n", Pass::Indentation)),
    );
}

#[test]
fn indentation_pass_matches_other_indents() {
    check(
        "\t\t\tdeep()\n\t\t\tnested()",
        "\tdeep()\n\tnested()",
        "\t\t\tdeep()\n\t\t\tchanged()",
        false,
        Ok(("\t\t\tdeep()\n\t\t\tchanged()", Pass::Indentation)),
    );
}

#[test]
fn fuzzy_replace_all_replaces_every_window() {
    check(
        "\t\talpha\n\t\tbeta\n\t\talpha\n\t\tgamma",
        "    alpha\n",
        "\t\tREPLACED\n",
        true,
        Ok((
            "\t\tREPLACED\n\t\tbeta\n\t\tREPLACED\n\t\tgamma",
            Pass::Indentation,
        )),
    );
}

#[test]
fn fuzzy_ambiguity_is_an_error() {
    check(
        "a \nb\na \n",
        "a\n",
        "x",
        false,
        Err(MatchError::Ambiguous(2)),
    );
}

#[test]
fn no_pass_matching_is_not_found() {
    let got = apply_edit(b"original content", "missing", "x", false, usize::MAX);
    assert!(matches!(got, Err(MatchError::NotFound { .. })), "{got:?}");
}

#[test]
fn empty_search_is_rejected_even_with_replace_all() {
    check("abc", "", "x", true, Err(MatchError::EmptySearch));
    check("", "", "x", false, Err(MatchError::EmptySearch));
}

#[test]
fn unicode_whitespace_counts_in_pass_three_but_invalid_utf8_does_not() {
    check(
        "\u{a0}\u{2003}key\u{3000}\n",
        "key\n",
        "K\n",
        false,
        Ok(("K\n", Pass::Indentation)),
    );
    assert_eq!(trim_unicode(b"\xa0x\xa0"), b"\xa0x\xa0");
    assert_eq!(trim_unicode(b" \x0bx\x0c "), b"x");
    assert_eq!(trim_unicode(b"   "), b"");
}

#[test]
fn split_lines_keeps_endings_and_a_final_piece() {
    assert_eq!(split_lines(b""), vec![&b""[..]]);
    assert_eq!(split_lines(b"a\nb"), vec![&b"a\n"[..], b"b"]);
    assert_eq!(split_lines(b"a\n"), vec![&b"a\n"[..], b""]);
}

#[test]
fn edits_apply_in_order_to_the_previous_result() {
    let edits = [
        FileEdit {
            search: "foo".into(),
            replace: "bar".into(),
            replace_all: false,
        },
        FileEdit {
            search: "bar".into(),
            replace: "qux".into(),
            replace_all: true,
        },
    ];
    assert_eq!(
        apply_edits(b"foo bar", &edits, usize::MAX),
        Ok(b"qux qux".to_vec())
    );
    let ambiguous = [
        FileEdit {
            search: "foo".into(),
            replace: "bar".into(),
            replace_all: false,
        },
        FileEdit {
            search: "bar".into(),
            replace: "qux".into(),
            replace_all: false,
        },
    ];
    assert_eq!(
        apply_edits(b"foo bar", &ambiguous, usize::MAX),
        Err(MatchError::Ambiguous(2))
    );
}

/// The case that made the window-by-window matcher quadratic: every search
/// line but the last matches every file line, in both line passes.
#[test]
fn near_miss_of_a_long_block_is_not_found() {
    for line in ["  a\n", "a  \n"] {
        let content = line.repeat(100_000);
        let search = format!("{}b", "a\n".repeat(19_999));
        let got = apply_edit(content.as_bytes(), &search, "x", false, usize::MAX);
        assert!(
            matches!(got, Err(MatchError::NotFound { .. })),
            "file of {line:?}: {got:?}"
        );
    }
}

/// One cap case: the edit's result is `want`, allowed at exactly its size
/// and refused one byte below, with the size it would have had.
fn check_cap(content: &str, search: &str, replace: &str, all: bool, want: &str, pass: Pass) {
    let size = want.len();
    let got = apply_edit(content.as_bytes(), search, replace, all, size)
        .map(|a| (String::from_utf8(a.content).expect("utf-8"), a.pass));
    assert_eq!(got, Ok((want.to_string(), pass)), "at max {size}");
    let got = apply_edit(content.as_bytes(), search, replace, all, size - 1);
    let want = MatchError::TooLarge {
        size: size as u64,
        max: size as u64 - 1,
    };
    assert_eq!(got, Err(want), "at max {}", size - 1);
}

#[test]
fn result_of_exactly_the_maximum_is_allowed_and_one_byte_more_is_too_large() {
    check_cap("abc", "b", "XY", false, "aXYc", Pass::Exact);
    check_cap("abab", "b", "XYZ", true, "aXYZaXYZ", Pass::Exact);
    check_cap(
        "a  \nb\n",
        "a\n",
        "X\n",
        false,
        "X  \nb\n",
        Pass::TrailingWhitespace,
    );
    check_cap(
        " a\nb\n a\n",
        "a \n",
        "XY\n",
        true,
        " XY\nb\n XY\n",
        Pass::Indentation,
    );
}

#[test]
fn the_cap_bounds_the_result_not_the_original() {
    let got = apply_edit(b"aaaa", "aaaa", "", false, 0).map(|a| a.content);
    assert_eq!(got, Ok(Vec::new()));
}

#[test]
fn huge_replace_all_is_too_large_before_anything_is_allocated() {
    // 100 KB of one-byte hits, each replaced by 1 MiB: about 100 GB, which
    // would abort the process if the matcher tried to allocate it.
    let content = vec![b'a'; 100_000];
    let replace = "x".repeat(1 << 20);
    let max = 64 << 20;
    let got = apply_edit(&content, "a", &replace, true, max);
    let size = 100_000 * (1u64 << 20);
    assert_eq!(
        got,
        Err(MatchError::TooLarge {
            size,
            max: max as u64
        })
    );
    assert_eq!(
        got.unwrap_err().to_string(),
        format!("the edited file would be {size} bytes, more than the maximum of 67108864 bytes")
    );
}

#[test]
fn ambiguity_is_reported_before_size() {
    let got = apply_edit(b"a a", "a", &"x".repeat(100), false, 10);
    assert_eq!(got, Err(MatchError::Ambiguous(2)));
}

#[test]
fn result_size_saturates_instead_of_overflowing() {
    assert_eq!(result_size(10, 2, 2, 3), 14);
    assert_eq!(result_size(10, 2, 2, usize::MAX), u64::MAX);
}

#[test]
fn every_intermediate_result_of_a_sequence_is_capped() {
    let edit = |search: &str, replace: &str| FileEdit {
        search: search.into(),
        replace: replace.into(),
        replace_all: false,
    };
    // Grows to 6 bytes, then shrinks back to 1: the first result is over 5.
    let edits = [edit("a", "bbbbbb"), edit("bbbbbb", "c")];
    assert_eq!(
        apply_edits(b"a", &edits, 5),
        Err(MatchError::TooLarge { size: 6, max: 5 })
    );
    assert_eq!(apply_edits(b"a", &edits, 6), Ok(b"c".to_vec()));
}

/// Content line pieces: few enough that windows repeat, overlap and nearly
/// match. The last indent is a lone byte that is not UTF-8 (content only).
const INDENTS: [&[u8]; 7] = [
    b"",
    b" ",
    b"  ",
    b"\t",
    "\u{a0}".as_bytes(),
    "\u{2003}".as_bytes(),
    b"\xa0",
];
/// The last two differ only in the middle (same cheap fingerprint).
const BODIES: [&str; 6] = [
    "a",
    "b",
    "",
    "a b",
    "0123456789abcdef-X-0123456789abcdef",
    "0123456789abcdef-Y-0123456789abcdef",
];
const TRAILS: [&str; 6] = ["", " ", "\t", "\r", "\u{3000}", "\x0b"];
const ENDINGS: [&str; 2] = ["\n", "\r\n"];
const REPLACES: [&str; 9] = [
    "",
    "X",
    "X\n",
    "\n",
    "XYZ\r\n",
    "a\n  X\n",
    "\ta\n\t\tX\r\n\tb",
    "X\r\nY\r\n",
    "  a b  \n",
];

/// A line as indices into the piece tables: indent, body, trail, ending.
type Line = (usize, usize, usize, usize);

fn line(indents: usize) -> impl Strategy<Value = Line> {
    (
        0..indents,
        0..BODIES.len(),
        0..TRAILS.len(),
        0..ENDINGS.len(),
    )
}

/// Renders `lines`, the last one without its ending unless `ends`.
fn render(lines: &[Line], ends: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &(indent, body, trail, ending)) in lines.iter().enumerate() {
        out.extend_from_slice(INDENTS[indent]);
        out.extend_from_slice(BODIES[body].as_bytes());
        out.extend_from_slice(TRAILS[trail].as_bytes());
        if ends || i + 1 < lines.len() {
            out.extend_from_slice(ENDINGS[ending].as_bytes());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The linear matcher gives exactly the reference's result (content,
    /// pass, count, error), and its cap refuses exactly the results longer
    /// than the maximum. The search is either random lines or a run of the
    /// file's bodies at some offset with its own whitespace, so hits in
    /// every pass, near misses and ambiguity are all common.
    #[test]
    fn linear_matcher_agrees_with_the_reference(
        content_lines in proptest::collection::vec(line(INDENTS.len()), 0..24),
        content_ends in any::<bool>(),
        search_lines in proptest::collection::vec(line(INDENTS.len() - 1), 1..5),
        search_ends in any::<bool>(),
        from_content in proptest::option::weighted(0.7, any::<prop::sample::Index>()),
        replace in 0..REPLACES.len(),
        replace_all in any::<bool>(),
        max in 0usize..64,
    ) {
        let mut search_lines = search_lines;
        if let Some(at) = from_content.filter(|_| !content_lines.is_empty()) {
            let at = at.index(content_lines.len());
            for (s, c) in search_lines.iter_mut().zip(&content_lines[at..]) {
                s.1 = c.1;
            }
        }
        let content = render(&content_lines, content_ends);
        let search = String::from_utf8(render(&search_lines, search_ends)).unwrap();
        let replace = REPLACES[replace];

        let want = reference::apply_edit(&content, &search, replace, replace_all);
        let got = apply_edit(&content, &search, replace, replace_all, usize::MAX);
        prop_assert_eq!(&got, &want);

        let capped = apply_edit(&content, &search, replace, replace_all, max);
        let want_capped = match want {
            Ok(a) if a.content.len() > max => Err(MatchError::TooLarge {
                size: a.content.len() as u64,
                max: max as u64,
            }),
            other => other,
        };
        prop_assert_eq!(capped, want_capped);
    }
}

/// One miss: the hints after the base sentence, exactly.
fn check_hints(content: &str, search: &str, replace: &str, want: &str) {
    let got = apply_edit(content.as_bytes(), search, replace, false, usize::MAX);
    let Err(MatchError::NotFound { hints }) = got else {
        panic!("{search:?} in {content:?}: not a miss: {got:?}");
    };
    assert_eq!(hints, want, "{search:?} in {content:?}");
}

#[test]
fn a_miss_names_a_swap_lines_in_order_and_truncated() {
    check_hints(
        "alpha\nbeta\n",
        "ALPHA",
        "alpha",
        ". Did you swap \"search\" and \"replace\"? Your replace string appears at line 1. \
         No line of the search string was found anywhere in the file.",
    );
    check_hints(
        &"x\n".repeat(12),
        "y",
        "x",
        ". Did you swap \"search\" and \"replace\"? Your replace string appears at line 1, 2, \
         3, 4, 5 and 7 more. No line of the search string was found anywhere in the file.",
    );
}

#[test]
fn a_miscounted_character_comes_before_a_swap_and_lists_every_candidate() {
    let rule = |n: usize| format!("+{}+", "-".repeat(n));
    check_hints(
        &format!("{}\nmid\n{}\n", rule(7), rule(3)),
        &rule(5),
        "mid",
        ". Your search has 5 \"-\" (U+002D); the file has 7 at line 1, 3 at line 3. \
         No line of the search string was found anywhere in the file.",
    );
}

#[test]
fn more_than_three_hints_are_summed_up() {
    let content = "a==1\nb==2\nc==3\nd==4\n";
    check_hints(
        content,
        "a=1\nb=2\nc=3\nd=4\n",
        "x",
        ". Your search has 1 \"=\" (U+003D); the file has 2 at line 1. Your search has 1 \"=\" \
         (U+003D); the file has 2 at line 2. Your search has 1 \"=\" (U+003D); the file has 2 \
         at line 3. And 1 more. No line of the search string was found anywhere in the file.",
    );
}

#[test]
fn the_closest_region_is_named_with_its_lines_and_count() {
    check_hints(
        "package main\n\nfunc main() {\n\tx := 1\n\tprint(x)\n}\n",
        "func main() {\n    x := 1\n    print(y)\n}\n",
        "func main() {}\n",
        ". Closest match: lines 3-6 of the file, where 3 of 4 search lines match ignoring \
         surrounding whitespace; search line 3 is the first that differs.",
    );
}

#[test]
fn hints_stay_short_however_many_candidates_there_are() {
    // Four search lines, each miscounted against a thousand file lines far
    // down the file, with a replacement found everywhere too.
    let mut content = "filler\n".repeat(100_000);
    for k in 0..1000 {
        let letter = ["a", "b", "c", "d"][k % 4];
        content.push_str(&format!("{letter}#{}\n", "=".repeat(2 + k % 3)));
    }
    let search = "a#=\nb#=\nc#=\nd#=\n";
    let got = apply_edit(content.as_bytes(), search, "filler", false, usize::MAX);
    let Err(MatchError::NotFound { hints }) = got else {
        panic!("not a miss: {got:?}");
    };
    assert!(hints.len() <= 480, "{} bytes: {hints}", hints.len());
    assert!(hints.contains("And "), "{hints}");
}
