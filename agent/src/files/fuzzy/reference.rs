//! The matcher as it was before the line passes became linear: every
//! window compared in turn, quadratic on a near miss. Kept only to check the
//! fast matcher against, byte for byte and error for error; it has no size
//! cap.

use memchr::memmem;

use super::{Applied, MatchError, Pass, split_lines, trim_trailing, trim_unicode};

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
