//! The edit matcher: a three-pass cascade as a pure function over bytes (no
//! I/O), so it can be benchmarked and proptested.
//!
//! 1. Exact substring. With `replace_all` every non-overlapping occurrence
//!    (left to right) is replaced; otherwise more than one occurrence is an
//!    ambiguity error.
//! 2. Line windows, lines compared without their ending (`\n` or `\r\n`)
//!    and trailing spaces and tabs.
//! 3. Line windows, lines compared without leading and trailing Unicode
//!    whitespace.
//!
//! Lines keep their ending (content `"a\nb\n"` has the lines `"a\n"`,
//! `"b\n"` and a final empty one); a search or replace ending in `\n` drops
//! its final empty line. Endings never stop two lines from pairing: `\n` and
//! `\r\n` are interchangeable and a missing ending (the last line of a file
//! or of a search) pairs with anything.
//!
//! A line-pass window is rebuilt line by line by [`splice`], so the file's
//! shape survives a loosely typed search: where search and replace agree on
//! a line's indent, trailing whitespace or ending, the file's own bytes are
//! kept (a CRLF file stays CRLF, tabs stay tabs); where they disagree the
//! caller meant the change and the replacement's bytes win. Inserted lines
//! take the file's indent at their nesting level. A replacement without a
//! final newline never glues the next line onto itself, and the file's
//! final-newline state is kept.
//!
//! Line endings: when the replacement's lines share one ending it is
//! rewritten to the file's dominant one, in every pass. When search and
//! replacement each share an ending and the two differ, the caller asked
//! to change endings: only an exact match may apply then, anything else is
//! not found, so `\n`/`\r\n` interchange cannot bridge a search that is not
//! in the file.
//!
//! Every pass runs in time linear in the file plus the search: the exact
//! pass with `memmem` (worst-case linear), the line passes through
//! [`window::window_starts`], so a near miss cannot pin a CPU for seconds.
//! A miss is explained by [`hints`] within the same bound.
//!
//! The edited size is computed before anything is built and refused beyond
//! `max_result`: a `replace_all` of a one-byte search by a large replacement
//! would otherwise try to allocate their product.
//!
//! Fixed here: an empty search is rejected (R8). The original treated it as
//! a substring everywhere, so `replace_all` wrote the replacement between
//! every character of the file.
//!
//! Content is bytes (files need not be UTF-8); search and replace are text.

use memchr::memmem;

use super::wire::FileEdit;

pub mod hints;
#[cfg(test)]
mod reference;
pub mod splice;
#[cfg(test)]
mod tests;
pub mod window;

/// The base sentence of a miss; hints follow it.
const NOT_FOUND: &str = "search string not found in file. Verify the search string matches the \
                         file content exactly, including whitespace and indentation";
/// The base sentence of a miss when the caller asked to change endings.
const NOT_FOUND_ENDINGS: &str = "search string not found in file. Verify the search string \
                                 matches the file content exactly, including whitespace, \
                                 indentation, and line endings";

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
    /// No pass matched; `hints` is empty or starts with `". "`.
    #[error("{NOT_FOUND}{hints}")]
    NotFound { hints: String },
    /// Search and replacement disagree on line endings (the caller wants
    /// them changed) and the search is not in the file byte for byte.
    #[error("{NOT_FOUND_ENDINGS}{hints}")]
    EndingsNotFound { hints: String },
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
    /// Line windows ignoring endings and trailing whitespace.
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

/// What an edit's search and replacement say about line endings, worked
/// out once before any pass.
pub struct Endings {
    /// The ending every replaced line is given (the file's dominant one),
    /// when the replacement's lines share one.
    pub forced: Option<&'static [u8]>,
    /// Search and replacement each share an ending and they differ.
    pub caller_intent: bool,
    /// The replacement pass 1 inserts.
    pub exact_replace: Vec<u8>,
}

impl Endings {
    pub fn new(content: &[u8], search_lines: &[&[u8]], replace: &[u8]) -> Self {
        let replace_lines = lines_of(replace);
        let search_shared = shared_ending(search_lines);
        let replace_shared = shared_ending(&replace_lines);
        let forced = replace_shared.map(|_| dominant_ending(content));
        let caller_intent = matches!((search_shared, replace_shared), (Some(s), Some(r)) if s != r);
        let exact_replace = match forced {
            Some(f) if !caller_intent && replace_shared != Some(f) => {
                rewrite_inner_endings(&replace_lines, f)
            }
            _ => replace.to_vec(),
        };
        Endings {
            forced,
            caller_intent,
            exact_replace,
        }
    }
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
    let search_lines = lines_of(search.as_bytes());
    let endings = Endings::new(content, &search_lines, replace.as_bytes());
    if let Some(applied) = exact(
        content,
        search.as_bytes(),
        &endings.exact_replace,
        replace_all,
        max_result,
    )? {
        return Ok(applied);
    }
    if endings.caller_intent {
        return Err(MatchError::EndingsNotFound {
            hints: hints::explain(content, search, replace),
        });
    }

    // Where content line `i` starts, one more entry for the end: the pieces
    // of `split_lines`, at 8 bytes a line rather than a slice per line.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', content).map(|nl| nl + 1))
        .chain(std::iter::once(content.len()))
        .collect();
    let piece = |i: usize| &content[line_starts[i]..line_starts[i + 1]];
    let pieces = line_starts.len() - 1;
    let template = splice::Template::new(&search_lines, replace.as_bytes(), endings.forced);
    for (pass, key) in [
        (Pass::TrailingWhitespace, trailing_key as fn(&[u8]) -> &[u8]),
        (Pass::Indentation, trim_unicode),
    ] {
        let haystack = (0..pieces).map(|i| key(piece(i)));
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
        let m = needle.len();
        let windows = starts.iter().map(|&start| {
            let matched: Vec<&[u8]> = (start..start + m).map(piece).collect();
            splice::Window {
                span: (line_starts[start], line_starts[start + m]),
                at_unterminated_end: at_unterminated_end(&matched),
                matched,
            }
        });
        let mut size = 0u64;
        build(content, windows.clone(), &template, &mut size);
        if size > max_result as u64 {
            return Err(MatchError::TooLarge {
                size,
                max: max_result as u64,
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        build(content, windows, &template, &mut out);
        return Ok(Applied {
            content: out,
            pass,
            replacements: starts.len(),
        });
    }
    Err(MatchError::NotFound {
        hints: hints::explain(content, search, replace),
    })
}

/// Writes `content` with each window rebuilt from `template` into `out`
/// (a byte count or the bytes themselves).
pub fn build<'c>(
    content: &[u8],
    windows: impl Iterator<Item = splice::Window<'c>>,
    template: &splice::Template<'_>,
    out: &mut impl splice::Out,
) {
    let mut at = 0;
    for w in windows {
        out.put(&content[at..w.span.0]);
        template.emit(&w.matched, w.at_unterminated_end, out);
        at = w.span.1;
    }
    out.put(&content[at..]);
}

/// Whether a window ends the file on a line with no newline. Only the
/// file's last piece can lack a line ending, so the window's last line
/// alone tells: no look at what follows is needed.
pub fn at_unterminated_end(matched: &[&[u8]]) -> bool {
    matched.last().is_some_and(|l| split_ending(l).1.is_empty())
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
        content: splice_verbatim(content, spans, replace, capacity),
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
fn splice_verbatim(
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

/// The lines of a search or replacement: [`split_lines`] without the final
/// empty piece (none at all for an empty text).
pub fn lines_of(s: &[u8]) -> Vec<&[u8]> {
    let mut lines = split_lines(s);
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// A line's body and its ending: `\r\n`, `\n`, or empty.
pub fn split_ending(line: &[u8]) -> (&[u8], &'static [u8]) {
    if let Some(body) = line.strip_suffix(b"\r\n") {
        (body, b"\r\n")
    } else if let Some(body) = line.strip_suffix(b"\n") {
        (body, b"\n")
    } else {
        (line, b"")
    }
}

/// The ending all of `lines` share (an unterminated last line aside), if
/// there are at least two lines and they agree.
pub fn shared_ending(lines: &[&[u8]]) -> Option<&'static [u8]> {
    if lines.len() < 2 {
        return None;
    }
    let mut shared: Option<&'static [u8]> = None;
    for (i, line) in lines.iter().enumerate() {
        let ending = split_ending(line).1;
        if ending.is_empty() {
            if i + 1 == lines.len() {
                continue;
            }
            return None;
        }
        match shared {
            None => shared = Some(ending),
            Some(s) if s != ending => return None,
            Some(_) => {}
        }
    }
    shared
}

/// `\r\n` when more of `content`'s lines end in it than in a bare `\n`;
/// `\n` otherwise (ties and files without newlines included).
pub fn dominant_ending(content: &[u8]) -> &'static [u8] {
    let (mut crlf, mut lf) = (0usize, 0usize);
    for nl in memchr::memchr_iter(b'\n', content) {
        if nl > 0 && content[nl - 1] == b'\r' {
            crlf += 1;
        } else {
            lf += 1;
        }
    }
    if crlf > lf { b"\r\n" } else { b"\n" }
}

/// `lines` joined with every ending but the last one's replaced by
/// `ending`; a line without an ending stays without.
pub fn rewrite_inner_endings(lines: &[&[u8]], ending: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let (body, own) = split_ending(line);
        out.extend_from_slice(body);
        if i + 1 == lines.len() {
            out.extend_from_slice(own);
        } else if !own.is_empty() {
            out.extend_from_slice(ending);
        }
    }
    out
}

/// Pass 2's key: the line without its ending and trailing spaces and tabs.
pub fn trailing_key(line: &[u8]) -> &[u8] {
    let body = split_ending(line).0;
    let end = body
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    &body[..end]
}

/// Pass 3's key: the line without leading and trailing Unicode whitespace
/// (Go's `strings.TrimSpace`: invalid UTF-8 is never whitespace). The
/// ending is whitespace, so it goes too.
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
