//! The matcher written the obvious way, to check the fast one against, byte
//! for byte and error for error: every window compared in turn (quadratic
//! on a near miss), lines compared by body with the ending rule spelled out
//! rather than folded into a key, hits found by trying every offset. It
//! shares only the line-by-line rebuild ([`super::splice`], pinned by its
//! own tables) and the miss hints. It has no size cap.

use super::{
    Applied, Endings, MatchError, Pass, hints, lines_of, splice, split_ending, split_lines,
};

/// Go's `strings.TrimRight(s, " \t")`.
fn trim_right(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while end > 0 && matches!(s[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    &s[..end]
}

/// Whether two endings may pair: a missing one pairs with anything, and
/// `\n` with `\r\n`.
fn endings_pair(a: &[u8], b: &[u8]) -> bool {
    a.is_empty() || b.is_empty() || a == b || (a.ends_with(b"\n") && b.ends_with(b"\n"))
}

fn pass_two_equal(a: &[u8], b: &[u8]) -> bool {
    let (ab, ae) = split_ending(a);
    let (bb, be) = split_ending(b);
    endings_pair(ae, be) && trim_right(ab) == trim_right(bb)
}

fn pass_three_equal(a: &[u8], b: &[u8]) -> bool {
    let (ab, ae) = split_ending(a);
    let (bb, be) = split_ending(b);
    endings_pair(ae, be) && super::trim_unicode(ab) == super::trim_unicode(bb)
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
    let search_lines = lines_of(search.as_bytes());
    let endings = Endings::new(content, &search_lines, replace.as_bytes());

    // Pass 1: every offset, left to right, skipping past each hit.
    let s = search.as_bytes();
    let mut hits = Vec::new();
    let mut at = 0;
    while at + s.len() <= content.len() {
        if &content[at..at + s.len()] == s {
            hits.push(at);
            at += s.len();
        } else {
            at += 1;
        }
    }
    if !hits.is_empty() {
        if !replace_all && hits.len() > 1 {
            return Err(MatchError::Ambiguous(hits.len()));
        }
        let mut out = Vec::new();
        let mut from = 0;
        for &hit in &hits {
            out.extend_from_slice(&content[from..hit]);
            out.extend_from_slice(&endings.exact_replace);
            from = hit + s.len();
        }
        out.extend_from_slice(&content[from..]);
        return Ok(Applied {
            content: out,
            pass: Pass::Exact,
            replacements: hits.len(),
        });
    }
    if endings.caller_intent {
        return Err(MatchError::EndingsNotFound {
            hints: hints::explain(content, search, replace),
        });
    }

    let lines = split_lines(content);
    let m = search_lines.len();
    let template = splice::Template::new(&search_lines, replace.as_bytes(), endings.forced);
    for (pass, equal) in [
        (
            Pass::TrailingWhitespace,
            pass_two_equal as fn(&[u8], &[u8]) -> bool,
        ),
        (Pass::Indentation, pass_three_equal),
    ] {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + m <= lines.len() {
            if (0..m).all(|j| equal(lines[i + j], search_lines[j])) {
                starts.push(i);
                i += m;
            } else {
                i += 1;
            }
        }
        if starts.is_empty() {
            continue;
        }
        if !replace_all && starts.len() > 1 {
            return Err(MatchError::Ambiguous(starts.len()));
        }
        let mut out = Vec::new();
        let mut next = 0;
        for &start in &starts {
            for line in &lines[next..start] {
                out.extend_from_slice(line);
            }
            let matched = &lines[start..start + m];
            let rest_empty = lines[start + m..].iter().all(|l| l.is_empty());
            let unterminated = rest_empty && split_ending(matched[m - 1]).1.is_empty();
            template.emit(matched, unterminated, &mut out);
            next = start + m;
        }
        for line in &lines[next..] {
            out.extend_from_slice(line);
        }
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
