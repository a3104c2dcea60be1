//! Why a search was not found, in words a model can act on, appended to the
//! not-found error:
//!
//! - a miscounted repeated character: a search line that equals file lines
//!   but for how many times one character repeats (`Your search has 32 "─"
//!   (U+2500); the file has 37 at line 2.`);
//! - else swapped arguments: the replacement is what the file holds (`Did
//!   you swap "search" and "replace"? Your replace string appears at line
//!   12, 47.`);
//! - then, always, the closest region: the window of the file where most
//!   search lines match once trimmed, with its line range and count.
//!
//! All of it is bounded: the miscount check looks at a few search lines,
//! each against every file line in one linear walk; the closest region is
//! found by letting each file line vote for the window starts it supports,
//! skipping search lines so common they would make the voting quadratic,
//! then recounting the winner exactly. The text is capped in length.

use std::collections::HashMap;
use std::fmt::Write as _;

use memchr::memmem;

use super::{lines_of, split_lines, trim_unicode, window};

/// Search lines checked for a miscounted character.
const MISCOUNT_LINES: usize = 16;
/// Lines listed for one hint before "and N more".
const LISTED: usize = 5;
/// Hint sentences before "and N more".
const SENTENCES: usize = 3;
/// A search line repeated more often than this does not vote for the
/// closest region (it is recounted exactly for the winner).
const MAX_VOTES_PER_LINE: usize = 8;
/// The most bytes the whole explanation takes.
const MAX_TEXT: usize = 480;

/// The hints for a search that matched nowhere: empty, or `". "` followed
/// by sentences.
pub fn explain(content: &[u8], search: &str, replace: &str) -> String {
    let file: Vec<&[u8]> = split_lines(content).into_iter().map(trim_unicode).collect();
    let search_lines: Vec<&[u8]> = lines_of(search.as_bytes())
        .into_iter()
        .map(trim_unicode)
        .collect();
    let budget = 8 * (content.len() + search.len()) + (1 << 16);
    let mut sentences = miscounts(&file, &search_lines, budget);
    if sentences.is_empty()
        && let Some(swap) = swapped(content, &file, replace)
    {
        sentences.push(swap);
    }
    if sentences.len() > SENTENCES {
        let more = sentences.len() - SENTENCES;
        sentences.truncate(SENTENCES);
        sentences.push(format!("And {more} more."));
    }
    sentences.push(closest(&file, &search_lines));
    let mut text = String::from(". ");
    text.push_str(&sentences.join(" "));
    cap(text)
}

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary.
fn cap(mut text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
    text
}

/// `1, 2, 3 and 4 more` of ascending line numbers.
fn list(numbers: &[String]) -> String {
    let mut text = numbers
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if numbers.len() > LISTED {
        let _ = write!(text, " and {} more", numbers.len() - LISTED);
    }
    text
}

/// When `a` and `b` are equal but for the count of one character: that
/// character and its counts in `a` and `b`. A character seen fewer than
/// twice on both sides is not a repetition and gives nothing.
fn miscount(a: &str, b: &str) -> Option<(char, usize, usize)> {
    if a == b {
        return None;
    }
    // The first difference shows the character: the side with the longer
    // run has it there.
    let mut ca = a.chars();
    let mut cb = b.chars();
    let (x, y) = loop {
        match (ca.next(), cb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => break (x, y),
        }
    };
    [x, y].into_iter().flatten().find_map(|c| {
        let others = |d: &char| *d != c;
        if !a.chars().filter(others).eq(b.chars().filter(others)) {
            return None;
        }
        let count = |s: &str| s.chars().filter(|&d| d == c).count();
        let (na, nb) = (count(a), count(b));
        (na != nb && (na >= 2 || nb >= 2)).then_some((c, na, nb))
    })
}

/// One sentence per (search line, character) miscounted against some file
/// lines, in search-line order. Each comparison is charged both lines'
/// lengths against `budget` bytes, so a long search line against many file
/// lines stays linear; comparisons past the budget are skipped.
fn miscounts(file: &[&[u8]], search: &[&[u8]], mut budget: usize) -> Vec<String> {
    let mut sentences = Vec::new();
    // Checked once, not once per search line.
    let file: Vec<Option<&str>> = file.iter().map(|l| std::str::from_utf8(l).ok()).collect();
    for line in search.iter().take(MISCOUNT_LINES) {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if line.is_empty() {
            continue;
        }
        // Groups in the order their character is first seen.
        let mut groups: Vec<(char, usize, Vec<String>)> = Vec::new();
        for (n, candidate) in file.iter().enumerate() {
            let Some(candidate) = *candidate else {
                continue;
            };
            let cost = line.len() + candidate.len();
            if cost > budget {
                break;
            }
            budget -= cost;
            let Some((c, ours, theirs)) = miscount(line, candidate) else {
                continue;
            };
            let at = format!("{theirs} at line {}", n + 1);
            match groups.iter_mut().find(|g| g.0 == c) {
                Some(group) => group.2.push(at),
                None => groups.push((c, ours, vec![at])),
            }
        }
        for (c, ours, at) in groups {
            sentences.push(format!(
                "Your search has {ours} \"{}\" (U+{:04X}); the file has {}.",
                c.escape_debug(),
                u32::from(c),
                list(&at)
            ));
        }
    }
    sentences
}

/// Where the replacement already is in the file: exactly, or else as a run
/// of lines equal once trimmed.
fn swapped(content: &[u8], file: &[&[u8]], replace: &str) -> Option<String> {
    if replace.trim().is_empty() {
        return None;
    }
    let mut lines: Vec<usize> = Vec::new();
    let mut line = 1;
    let mut seen = 0;
    for at in memmem::find_iter(content, replace.as_bytes()) {
        line += memchr::memchr_iter(b'\n', &content[seen..at]).count();
        seen = at;
        if lines.last() != Some(&line) {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        let needle: Vec<&[u8]> = lines_of(replace.as_bytes())
            .into_iter()
            .map(trim_unicode)
            .collect();
        let starts = window::window_starts(file.iter().copied(), &needle);
        lines = window::disjoint(&starts, needle.len())
            .into_iter()
            .map(|s| s + 1)
            .collect();
    }
    if lines.is_empty() {
        return None;
    }
    let numbers: Vec<String> = lines.iter().map(usize::to_string).collect();
    Some(format!(
        "Did you swap \"search\" and \"replace\"? Your replace string appears at line {}.",
        list(&numbers)
    ))
}

/// The closest region of the file to the search, compared line by line
/// once trimmed.
pub fn closest(file: &[&[u8]], search: &[&[u8]]) -> String {
    match closest_window(file, search) {
        None => "No line of the search string was found anywhere in the file.".to_string(),
        Some(w) => {
            let mut text = format!(
                "Closest match: lines {}-{} of the file, where {} of {} search lines match \
                 ignoring surrounding whitespace",
                w.first_line, w.last_line, w.matching, w.search_lines
            );
            if let Some(d) = w.first_difference {
                let _ = write!(text, "; search line {d} is the first that differs");
            }
            text.push('.');
            text
        }
    }
}

/// The best window found by [`closest_window`].
#[derive(Debug, PartialEq, Eq)]
pub struct Closest {
    /// 1-based, inclusive, clamped to the file.
    pub first_line: usize,
    pub last_line: usize,
    pub matching: usize,
    pub search_lines: usize,
    /// 1-based search line.
    pub first_difference: Option<usize>,
}

/// The window start (search line 0's place, possibly before the file or
/// running past it) where the most search lines equal their file line;
/// the earliest on a tie; `None` when no line matches anywhere. Work is
/// linear in the file times [`MAX_VOTES_PER_LINE`] plus the search.
pub fn closest_window(file: &[&[u8]], search: &[&[u8]]) -> Option<Closest> {
    let m = search.len();
    if m == 0 || file.is_empty() {
        return None;
    }
    // Looked up, never iterated: its order cannot reach the answer.
    let mut places: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (j, &line) in search.iter().enumerate() {
        places.entry(line).or_default().push(j);
    }
    // votes[i + m - 1 - j]: window start i - j.
    let mut votes = vec![0u32; file.len() + m];
    for (i, &line) in file.iter().enumerate() {
        let Some(js) = places.get(line) else {
            continue;
        };
        if js.len() > MAX_VOTES_PER_LINE {
            continue;
        }
        for &j in js {
            votes[i + m - 1 - j] += 1;
        }
    }
    // The earliest best; a frequent line alone (no votes) still counts.
    let best = votes.iter().copied().max().unwrap_or(0);
    let slot = if best == 0 {
        let (i, j) = file
            .iter()
            .enumerate()
            .find_map(|(i, line)| places.get(line).and_then(|js| js.first()).map(|&j| (i, j)))?;
        i + m - 1 - j
    } else {
        votes.iter().position(|&v| v == best)?
    };
    let start = slot as isize - (m as isize - 1);
    let mut matching = 0;
    let mut first_difference = None;
    for (j, &line) in search.iter().enumerate() {
        let i = start + j as isize;
        let same = usize::try_from(i)
            .ok()
            .and_then(|i| file.get(i))
            .is_some_and(|&f| f == line);
        if same {
            matching += 1;
        } else if first_difference.is_none() {
            first_difference = Some(j + 1);
        }
    }
    let first = start.max(0) as usize;
    let last = ((start + m as isize - 1).max(0) as usize).min(file.len() - 1);
    Some(Closest {
        first_line: first + 1,
        last_line: last.max(first) + 1,
        matching,
        search_lines: m,
        first_difference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<&[u8]> {
        split_lines(s.as_bytes())
            .into_iter()
            .map(trim_unicode)
            .collect()
    }

    #[test]
    fn a_miscounted_repeated_character_is_named_with_its_counts() {
        let check = |a: &str, b: &str, want: Option<(char, usize, usize)>| {
            assert_eq!(miscount(a, b), want, "{a:?} vs {b:?}");
        };
        let dashes = |n: usize| "─".repeat(n);
        check(&dashes(32), &dashes(37), Some(('─', 32, 37)));
        check(
            &format!("// {}", dashes(3)),
            &format!("// {}", dashes(2)),
            Some(('─', 3, 2)),
        );
        check("a==b", "a===b", Some(('=', 2, 3)));
        check("ab", "abb", Some(('b', 1, 2)));
        // Once on each side at most is not a repetition.
        check("a", "ab", None);
        check("abc", "abd", None);
        check("abc", "abc", None);
    }

    #[test]
    fn the_closest_window_is_the_one_most_search_lines_match() {
        let file = lines("a\nb\nc\nd\ne\n");
        let got = closest_window(&file, &lines("a\nb\nX")).expect("a window");
        assert_eq!(
            got,
            Closest {
                first_line: 1,
                last_line: 3,
                matching: 2,
                search_lines: 3,
                first_difference: Some(3)
            }
        );
        let got = closest_window(&file, &lines("X\nd\ne\nY")).expect("a window");
        assert_eq!((got.first_line, got.last_line, got.matching), (3, 6, 2));
        assert_eq!(closest_window(&file, &lines("X\nY")), None);
    }

    #[test]
    fn frequent_search_lines_do_not_make_the_vote_quadratic_but_still_count() {
        // Every search line is the same blank line: no votes, yet the
        // winner is recounted exactly.
        let (file_text, search_text) = ("\n".repeat(50), "\n".repeat(20));
        let file = lines(&file_text);
        let search = lines(&search_text);
        let got = closest_window(&file, &search[..20]).expect("a window");
        assert_eq!((got.first_line, got.matching), (1, 20));
    }
}
