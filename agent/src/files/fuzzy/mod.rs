//! The edit matcher: a three-pass cascade as a pure function over bytes (no
//! I/O), so it can be benchmarked and proptested.
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
//! onto it (the baseline fold). With `replace_all` every non-overlapping
//! window (greedy, left to right) is replaced; the original once replaced
//! only the first and still said ok.
//!
//! Every pass runs in time linear in the file plus the search: the exact
//! pass with `memmem` (worst-case linear), the line passes through
//! [`window::window_starts`], so a near miss cannot pin a CPU for seconds.
//!
//! The edited size is computed from the spans before anything is built and
//! refused beyond `max_result`: a `replace_all` of a one-byte search by a
//! large replacement would otherwise try to allocate their product.
//!
//! Fixed here: an empty search is rejected. The original treated it as a
//! substring everywhere, so `replace_all` wrote the replacement between every
//! character of the file.
//!
//! Content is bytes (files need not be UTF-8); search and replace are text.

use memchr::memmem;

use super::wire::FileEdit;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
pub mod window;

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
    /// The match is fine but its result would exceed the cap; `size`
    /// saturates at `u64::MAX`.
    #[error("the edited file would be {size} bytes, more than the maximum of {max} bytes")]
    TooLarge { size: u64, max: u64 },
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

/// Applies `edits` in order, each to the result of the previous one. Every
/// intermediate result is held to `max_result` bytes too, since each is
/// built in full.
pub fn apply_edits(
    content: &[u8],
    edits: &[FileEdit],
    max_result: usize,
) -> Result<Vec<u8>, MatchError> {
    let mut current = content.to_vec();
    for edit in edits {
        current = apply_edit(
            &current,
            &edit.search,
            &edit.replace,
            edit.replace_all,
            max_result,
        )?
        .content;
    }
    Ok(current)
}

/// Applies one search/replace to `content` through the cascade; a result
/// longer than `max_result` bytes is [`MatchError::TooLarge`], found before
/// it is allocated.
pub fn apply_edit(
    content: &[u8],
    search: &str,
    replace: &str,
    replace_all: bool,
    max_result: usize,
) -> Result<Applied, MatchError> {
    if search.is_empty() {
        return Err(MatchError::EmptySearch);
    }
    let replace = replace.as_bytes();
    if let Some(applied) = exact(content, search.as_bytes(), replace, replace_all, max_result)? {
        return Ok(applied);
    }

    let mut search_lines = split_lines(search.as_bytes());
    if search_lines.last().is_some_and(|l| l.is_empty()) {
        search_lines.pop();
    }
    // Where content line `i` starts, one more entry for the end: the pieces
    // of `split_lines`, at 8 bytes a line rather than a slice per line.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', content).map(|nl| nl + 1))
        .chain(std::iter::once(content.len()))
        .collect();
    for (pass, key) in [
        (
            Pass::TrailingWhitespace,
            trim_trailing as fn(&[u8]) -> &[u8],
        ),
        (Pass::Indentation, trim_unicode),
    ] {
        let haystack = line_starts.windows(2).map(|w| key(&content[w[0]..w[1]]));
        let needle: Vec<&[u8]> = search_lines.iter().map(|l| key(l)).collect();
        // All windows are kept even for a single replace: the ambiguity
        // message reports the full count.
        let starts = window::disjoint(&window::window_starts(haystack, &needle), needle.len());
        if starts.is_empty() {
            continue;
        }
        if !replace_all && starts.len() > 1 {
            return Err(MatchError::Ambiguous(starts.len()));
        }
        let spans = || {
            starts
                .iter()
                .map(|&start| (line_starts[start], line_starts[start + needle.len()]))
        };
        let removed = spans().map(|(start, end)| (end - start) as u64).sum();
        let capacity = checked_size(content.len(), starts.len(), removed, replace, max_result)?;
        return Ok(Applied {
            content: splice(content, spans(), replace, capacity),
            pass,
            replacements: starts.len(),
        });
    }
    Err(MatchError::NotFound)
}

/// Pass 1: `None` when `search` does not occur at all. The hits are counted
/// before they are replaced, so nothing is collected per hit.
fn exact(
    content: &[u8],
    search: &[u8],
    replace: &[u8],
    replace_all: bool,
    max_result: usize,
) -> Result<Option<Applied>, MatchError> {
    let finder = memmem::Finder::new(search);
    let hits = finder.find_iter(content).count();
    if hits == 0 {
        return Ok(None);
    }
    if !replace_all && hits > 1 {
        return Err(MatchError::Ambiguous(hits));
    }
    let removed = (hits as u64).saturating_mul(search.len() as u64);
    let capacity = checked_size(content.len(), hits, removed, replace, max_result)?;
    let spans = finder.find_iter(content).map(|at| (at, at + search.len()));
    Ok(Some(Applied {
        content: splice(content, spans, replace, capacity),
        pass: Pass::Exact,
        replacements: hits,
    }))
}

/// The size of `content_len` bytes once `count` disjoint spans totalling
/// `removed` bytes are each replaced by `replace_len` bytes, saturating at
/// `u64::MAX`.
fn result_size(content_len: usize, count: usize, removed: u64, replace_len: usize) -> u64 {
    let kept = (content_len as u64).saturating_sub(removed);
    let added = (replace_len as u64).saturating_mul(count as u64);
    kept.saturating_add(added)
}

/// The result's size as a capacity, or [`MatchError::TooLarge`] beyond
/// `max_result`.
fn checked_size(
    content_len: usize,
    count: usize,
    removed: u64,
    replace: &[u8],
    max_result: usize,
) -> Result<usize, MatchError> {
    let size = result_size(content_len, count, removed, replace.len());
    let too_large = MatchError::TooLarge {
        size,
        max: max_result as u64,
    };
    if size > max_result as u64 {
        return Err(too_large);
    }
    usize::try_from(size).map_err(|_| too_large)
}

/// Replaces each of the ascending, disjoint byte `spans` by `replace`;
/// `capacity` is the result's exact size.
fn splice(
    content: &[u8],
    spans: impl Iterator<Item = (usize, usize)>,
    replace: &[u8],
    capacity: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    let mut at = 0;
    for (start, end) in spans {
        out.extend_from_slice(&content[at..start]);
        out.extend_from_slice(replace);
        at = end;
    }
    out.extend_from_slice(&content[at..]);
    out
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
