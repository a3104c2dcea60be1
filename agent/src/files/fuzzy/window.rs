//! Finding a run of lines inside another in time linear in both.
//!
//! The line passes compare lines by a key (the line with some whitespace
//! stripped). Comparing the search against every window of the file costs
//! file lines × search lines on a near miss, which a hostile or unlucky
//! search turns into seconds of CPU. Instead each distinct search key gets a
//! small integer, each file line becomes its key's integer (or "not in the
//! search"), and Knuth–Morris–Pratt finds the search's integer sequence in
//! the file's.
//!
//! This is kept apart from the passes so a matcher with other line rules can
//! reuse it: it only needs a key per line.

use std::collections::HashMap;
use std::hash::Hash;

/// Every start `i`, ascending and overlapping ones included, where
/// `haystack[i..i + needle.len()] == needle`. Empty for an empty needle.
///
/// Time and memory are linear in `haystack.len() + needle.len()` plus the
/// cost of hashing each key once. The map is only looked up, never iterated,
/// so its order cannot reach a result.
pub fn window_starts<K: Eq + Hash>(haystack: &[K], needle: &[K]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return Vec::new();
    }
    let mut ids: HashMap<&K, usize> = HashMap::with_capacity(needle.len());
    let pattern: Vec<usize> = needle
        .iter()
        .map(|key| {
            let next = ids.len();
            *ids.entry(key).or_insert(next)
        })
        .collect();
    // Search ids are below `needle.len()`, so `usize::MAX` never matches.
    let text = haystack
        .iter()
        .map(|key| ids.get(key).copied().unwrap_or(usize::MAX));
    kmp(&pattern, text)
}

/// The windows of length `len` a greedy left-to-right scan keeps from the
/// ascending `starts`: each one that begins at or after the end of the last
/// one kept. This is what replacing "every non-overlapping window" means.
pub fn disjoint(starts: &[usize], len: usize) -> Vec<usize> {
    let mut free_from = 0;
    starts
        .iter()
        .copied()
        .filter(|&start| {
            let keep = start >= free_from;
            if keep {
                free_from = start + len;
            }
            keep
        })
        .collect()
}

/// Knuth–Morris–Pratt: every start of `pattern` (non-empty) in `text`.
fn kmp(pattern: &[usize], text: impl Iterator<Item = usize>) -> Vec<usize> {
    let m = pattern.len();
    // border[i]: length of the longest proper prefix of `pattern[..=i]` that
    // is also its suffix.
    let mut border = vec![0; m];
    let mut k = 0;
    for i in 1..m {
        while k > 0 && pattern[i] != pattern[k] {
            k = border[k - 1];
        }
        if pattern[i] == pattern[k] {
            k += 1;
        }
        border[i] = k;
    }
    let mut found = Vec::new();
    // How many pattern items the text matches so far (always below `m`
    // between iterations).
    let mut matched = 0;
    for (i, item) in text.enumerate() {
        while matched > 0 && item != pattern[matched] {
            matched = border[matched - 1];
        }
        if item == pattern[matched] {
            matched += 1;
        }
        if matched == m {
            found.push(i + 1 - m);
            matched = border[m - 1];
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious quadratic definition of [`window_starts`].
    fn naive(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
        if needle.is_empty() {
            return Vec::new();
        }
        haystack
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect()
    }

    fn check(haystack: &str, needle: &str, all: &[usize], kept: &[usize]) {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        let starts = window_starts(h, n);
        assert_eq!(starts, all, "starts of {needle:?} in {haystack:?}");
        assert_eq!(disjoint(&starts, n.len()), kept, "kept of {needle:?}");
    }

    #[test]
    fn overlapping_starts_are_all_found_and_the_greedy_scan_keeps_disjoint_ones() {
        check("aaaa", "aa", &[0, 1, 2], &[0, 2]);
        check("ababa", "aba", &[0, 2], &[0]);
        check("aabaabaab", "aab", &[0, 3, 6], &[0, 3, 6]);
    }

    #[test]
    fn items_absent_from_the_needle_never_match() {
        check("xaxbab", "ab", &[4], &[4]);
        check("abc", "abd", &[], &[]);
    }

    #[test]
    fn an_empty_or_longer_needle_has_no_windows() {
        check("abc", "", &[], &[]);
        check("ab", "abc", &[], &[]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Small alphabets make borders (self-overlapping needles) common.
        #[test]
        fn window_starts_agrees_with_the_naive_definition(
            haystack in proptest::collection::vec(0u8..3, 0..40),
            needle in proptest::collection::vec(0u8..3, 0..6),
        ) {
            prop_assert_eq!(window_starts(&haystack, &needle), naive(&haystack, &needle));
        }
    }
}
