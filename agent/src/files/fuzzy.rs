//! The edit matcher: the baseline three-pass cascade of spec 4.4, as a pure
//! function over bytes (no I/O), so it can be benchmarked and proptested.
//!
//! 1. Exact substring. With `replace_all` every non-overlapping occurrence
//!    (left to right) is replaced; otherwise more than one occurrence is an
//!    ambiguity error.
//! 2. Line windows, lines compared after stripping trailing `' '`, `'\t'`,
//!    `'\r'`, `'\n'`.
//! 3. Line windows, lines compared after stripping all leading and trailing
//!    Unicode whitespace.
//!
//! Lines keep their `\n` (content `"a\nb\n"` has the lines `"a\n"`, `"b\n"`
//! and a final empty one); a search ending in `\n` drops its final empty
//! line. A window is spliced out whole, line endings included, and `replace`
//! goes in verbatim, so a `replace` without a final `\n` glues the next line
//! onto it (the baseline fold, R13). With `replace_all` every
//! non-overlapping window is replaced (#23480; the original once replaced
//! only the first and still said ok).
//!
//! Fixed here: an empty search is rejected (R8). The original treated it as a
//! substring everywhere, so `replace_all` wrote the replacement between every
//! character of the file.
//!
//! Content is bytes (files need not be UTF-8); search and replace are text.

use memchr::memmem;

use super::wire::FileEdit;

/// Why an edit does not apply. The texts are what the LLM reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("search string must not be empty; include the text you want to match")]
    EmptySearch,
    #[error(
        "search string matches {0} occurrences (expected exactly 1). Include more surrounding \
         context to make the match unique, or set replace_all to true"
    )]
    Ambiguous(usize),
    #[error(
        "search string not found in file. Verify the search string matches the file content \
         exactly, including whitespace and indentation"
    )]
    NotFound,
}

/// Which pass of the cascade matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Byte-exact substring.
    Exact,
    /// Line windows ignoring trailing whitespace.
    TrailingWhitespace,
    /// Line windows ignoring leading and trailing whitespace.
    Indentation,
}

/// A successful edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub content: Vec<u8>,
    pub pass: Pass,
    /// How many spans (substrings or line windows) were replaced.
    pub replacements: usize,
}

/// Applies `edits` in order, each to the result of the previous one.
pub fn apply_edits(content: &[u8], edits: &[FileEdit]) -> Result<Vec<u8>, MatchError> {
    let mut current = content.to_vec();
    for edit in edits {
        current = apply_edit(&current, &edit.search, &edit.replace, edit.replace_all)?.content;
    }
    Ok(current)
}

/// Applies one search/replace to `content` through the cascade.
pub fn apply_edit(
    content: &[u8],
    search: &str,
    replace: &str,
    replace_all: bool,
) -> Result<Applied, MatchError> {
    if search.is_empty() {
        return Err(MatchError::EmptySearch);
    }
    if let Some(applied) = exact(content, search.as_bytes(), replace.as_bytes(), replace_all)? {
        return Ok(applied);
    }

    let content_lines = split_lines(content);
    let mut search_lines = split_lines(search.as_bytes());
    if search_lines.last().is_some_and(|l| l.is_empty()) {
        search_lines.pop();
    }
    for (pass, key) in [
        (
            Pass::TrailingWhitespace,
            trim_trailing as fn(&[u8]) -> &[u8],
        ),
        (Pass::Indentation, trim_unicode),
    ] {
        let haystack: Vec<&[u8]> = content_lines.iter().map(|l| key(l)).collect();
        let needle: Vec<&[u8]> = search_lines.iter().map(|l| key(l)).collect();
        let windows = windows(&haystack, &needle);
        if windows.is_empty() {
            continue;
        }
        if !replace_all && windows.len() > 1 {
            return Err(MatchError::Ambiguous(windows.len()));
        }
        // Byte offset where content line `i` starts (`len` past the end).
        let line_start = |i: usize| -> usize {
            content_lines.get(i).map_or(content.len(), |l| {
                l.as_ptr() as usize - content.as_ptr() as usize
            })
        };
        let spans: Vec<(usize, usize)> = windows
            .iter()
            .map(|&start| (line_start(start), line_start(start + needle.len())))
            .collect();
        return Ok(Applied {
            content: splice(content, &spans, replace.as_bytes()),
            pass,
            replacements: spans.len(),
        });
    }
    Err(MatchError::NotFound)
}

/// Pass 1. `None` when `search` does not occur at all.
fn exact(
    content: &[u8],
    search: &[u8],
    replace: &[u8],
    replace_all: bool,
) -> Result<Option<Applied>, MatchError> {
    let finder = memmem::Finder::new(search);
    let mut hits = finder.find_iter(content);
    let Some(first) = hits.next() else {
        return Ok(None);
    };
    let spans: Vec<(usize, usize)> = if replace_all {
        std::iter::once(first)
            .chain(hits)
            .map(|at| (at, at + search.len()))
            .collect()
    } else {
        let more = hits.count();
        if more > 0 {
            return Err(MatchError::Ambiguous(more + 1));
        }
        vec![(first, first + search.len())]
    };
    Ok(Some(Applied {
        content: splice(content, &spans, replace),
        pass: Pass::Exact,
        replacements: spans.len(),
    }))
}

/// Replaces each of the sorted, disjoint byte `spans` by `replace`.
fn splice(content: &[u8], spans: &[(usize, usize)], replace: &[u8]) -> Vec<u8> {
    let removed: usize = spans.iter().map(|(a, b)| b - a).sum();
    let mut out = Vec::with_capacity(content.len() - removed + replace.len() * spans.len());
    let mut at = 0;
    for &(start, end) in spans {
        out.extend_from_slice(&content[at..start]);
        out.extend_from_slice(replace);
        at = end;
    }
    out.extend_from_slice(&content[at..]);
    out
}

/// Start indices of the matching windows of `needle` in `haystack`, greedy
/// left to right and non-overlapping. All are collected even for a single
/// replace: the ambiguity message reports the full count.
fn windows(haystack: &[&[u8]], needle: &[&[u8]]) -> Vec<usize> {
    let mut found = Vec::new();
    let m = needle.len();
    if m == 0 || m > haystack.len() {
        return found;
    }
    let mut i = 0;
    while i + m <= haystack.len() {
        if haystack[i..i + m] == *needle {
            found.push(i);
            i += m;
        } else {
            i += 1;
        }
    }
    found
}

/// Splits after every `\n`, like Go's `strings.SplitAfter(s, "\n")`: the
/// pieces concatenate back to `s`, and there is always a final piece (empty
/// when `s` ends in `\n` or is empty).
pub fn split_lines(s: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', s).count() + 1);
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', s) {
        lines.push(&s[start..=nl]);
        start = nl + 1;
    }
    lines.push(&s[start..]);
    lines
}

/// Pass 2's key: the line without trailing spaces, tabs, `\r` and `\n`.
pub fn trim_trailing(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// Pass 3's key: the line without leading and trailing Unicode whitespace
/// (Go's `strings.TrimSpace`: invalid UTF-8 is never whitespace).
pub fn trim_unicode(line: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < line.len() {
        match space_at(line, start) {
            Some(width) => start += width,
            None => break,
        }
    }
    let mut end = line.len();
    while end > start {
        match space_before(&line[start..end]) {
            Some(width) => end -= width,
            None => break,
        }
    }
    &line[start..end]
}

/// Go's `unicode.IsSpace` on ASCII (note `\v`, which Rust's
/// `is_ascii_whitespace` leaves out).
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// The width of the whitespace character starting at `at`, if it is one.
fn space_at(s: &[u8], at: usize) -> Option<usize> {
    let lead = s[at];
    if lead < 0x80 {
        return ascii_space(lead).then_some(1);
    }
    let width = match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let bytes = s.get(at..at + width)?;
    let c = std::str::from_utf8(bytes).ok()?.chars().next()?;
    c.is_whitespace().then_some(width)
}

/// The width of the whitespace character ending `s`, if it is one.
fn space_before(s: &[u8]) -> Option<usize> {
    let last = *s.last()?;
    if last < 0x80 {
        return ascii_space(last).then_some(1);
    }
    // Walk back over continuation bytes to the lead byte (at most 4 bytes).
    let start = (s.len().saturating_sub(4)..s.len())
        .rev()
        .find(|&i| s[i] & 0xc0 != 0x80)?;
    let c = std::str::from_utf8(&s[start..]).ok()?;
    let mut chars = c.chars();
    let ch = chars.next()?;
    (chars.next().is_none() && ch.is_whitespace()).then_some(s.len() - start)
}

#[cfg(test)]
mod tests {
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
        let got = apply_edit(content.as_bytes(), search, replace, all)
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
    fn trailing_whitespace_pass_splices_whole_lines_and_folds() {
        // Baseline fold: the window's endings are consumed with it.
        check(
            "foo   \nbar\t\t\nbaz",
            "foo\nbar\nbaz",
            "replaced",
            false,
            Ok(("replaced", Pass::TrailingWhitespace)),
        );
        check(
            "a  \nb\nc\n",
            "a\n",
            "X",
            false,
            Ok(("Xb\nc\n", Pass::TrailingWhitespace)),
        );
    }

    #[test]
    fn crlf_lines_lose_their_endings_in_the_fuzzy_passes() {
        check(
            "x\r\ny \r\nz\r\n",
            "y\n",
            "Y\n",
            false,
            Ok(("x\r\nY\nz\r\n", Pass::TrailingWhitespace)),
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
        check(
            "original content",
            "missing",
            "x",
            false,
            Err(MatchError::NotFound),
        );
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
        assert_eq!(apply_edits(b"foo bar", &edits), Ok(b"qux qux".to_vec()));
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
            apply_edits(b"foo bar", &ambiguous),
            Err(MatchError::Ambiguous(2))
        );
    }
}
