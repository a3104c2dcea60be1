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

/// Every start `i`, ascending and overlapping ones included, where
/// `haystack[i..i + needle.len()] == needle`. Empty for an empty needle.
///
/// The haystack is streamed, once: time is linear in the number of keys
/// plus the bytes of the search's keys and of the file keys that pass a
/// cheap filter; memory is linear in the needle plus the starts found. The
/// map is only looked up, never iterated, so its order cannot reach a
/// result.
pub fn window_starts<'k>(
    haystack: impl IntoIterator<Item = &'k [u8]>,
    needle: &[&[u8]],
) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    let mut ids: HashMap<&[u8], usize> = HashMap::with_capacity(needle.len());
    let mut filter = Filter::new(needle.len());
    let pattern: Vec<usize> = needle
        .iter()
        .map(|&key| {
            filter.insert(key);
            let next = ids.len();
            *ids.entry(key).or_insert(next)
        })
        .collect();
    // Search ids are below `needle.len()`, so `usize::MAX` never matches.
    let text = haystack.into_iter().map(|key| {
        if filter.may_contain(key) {
            ids.get(key).copied().unwrap_or(usize::MAX)
        } else {
            usize::MAX
        }
    });
    kmp(&pattern, text)
}

/// A prefilter on the search's keys, so most file lines skip the map's
/// (keyed, DoS-resistant, slower) hash: first the key's length, then a
/// one-hash Bloom filter over a cheap unkeyed fingerprint. Lines crafted to
/// pass it only send every line to the map, which stays linear.
struct Filter {
    /// `lengths[n]`: some search key is `n` bytes long.
    lengths: Vec<bool>,
    bits: Vec<u64>,
    /// `64 - log2(bit count)`: a fingerprint's top bits pick its bit.
    shift: u32,
}

impl Filter {
    /// About 8 bits per key, so few lines that are not in the search pass.
    fn new(keys: usize) -> Self {
        let bit_count = keys
            .saturating_mul(8)
            .clamp(1024, 1 << 30)
            .next_power_of_two();
        Filter {
            lengths: Vec::new(),
            bits: vec![0; bit_count / 64],
            shift: 64 - bit_count.trailing_zeros(),
        }
    }

    fn slot(&self, key: &[u8]) -> (usize, u64) {
        // The top bits of the fingerprint, below `bit_count`.
        let bit = (fingerprint(key) >> self.shift) as usize;
        (bit / 64, 1 << (bit % 64))
    }

    /// Memory stays linear: a key's length is at most the search's size.
    fn insert(&mut self, key: &[u8]) {
        if self.lengths.len() <= key.len() {
            self.lengths.resize(key.len() + 1, false);
        }
        self.lengths[key.len()] = true;
        let (word, mask) = self.slot(key);
        self.bits[word] |= mask;
    }

    fn may_contain(&self, key: &[u8]) -> bool {
        if !self.lengths.get(key.len()).copied().unwrap_or(false) {
            return false;
        }
        let (word, mask) = self.slot(key);
        self.bits[word] & mask != 0
    }
}

/// A cheap hash of `key`'s length and its first and last 16 bytes (all of
/// it when shorter): constant time per line whatever its length. Keys that
/// differ only in the middle share it and go on to the map.
fn fingerprint(key: &[u8]) -> u64 {
    let n = key.len();
    let (w0, w1, w2, w3) = if n >= 16 {
        // Fixed-size reads: `at + 8 <= n` always holds here.
        let word = |at: usize| {
            key.get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes)
        };
        (word(0), word(8), word(n - 16), word(n - 8))
    } else {
        let mut padded = [0; 16];
        padded[..n].copy_from_slice(key);
        let [a, b] = [&padded[..8], &padded[8..]]
            .map(|half| <[u8; 8]>::try_from(half).map_or(0, u64::from_le_bytes));
        (a, b, 0, 0)
    };
    // Multiply-and-fold mixing, as in wyhash; the top bits are used.
    let mum = |a: u64, b: u64| {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let h = mum(w0 ^ 0xa076_1d64_78bd_642f, w1 ^ 0xe703_7ed1_a0b4_28db)
        ^ mum(w2 ^ 0x8ebc_6af0_9c88_c6e3, w3 ^ 0x5899_65cc_7537_4cc3)
        ^ n as u64;
    mum(h, 0x1d8e_4e27_c47d_124f)
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

    /// Keys by index: short, long, empty, sharing a prefix, and two that
    /// differ only in the middle (same length, first and last 16 bytes, so
    /// the same fingerprint: only the map tells them apart).
    const KEYS: [&[u8]; 6] = [
        b"a",
        b"",
        b"  let value = compute(input);",
        b"  let value",
        b"0123456789abcdef-X-0123456789abcdef",
        b"0123456789abcdef-Y-0123456789abcdef",
    ];

    fn keys(indices: &[u8]) -> Vec<&'static [u8]> {
        indices.iter().map(|&i| KEYS[usize::from(i)]).collect()
    }

    /// How many of `absent` the filter built from `present` lets through.
    fn passed(present: &[Vec<u8>], absent: &[Vec<u8>]) -> usize {
        let mut filter = Filter::new(present.len());
        for key in present {
            filter.insert(key);
        }
        absent.iter().filter(|k| filter.may_contain(k)).count()
    }

    /// Lines of one length that differ only in bytes `from..from + 8`.
    fn lines_differing_at(from: usize, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
        range
            .map(|i| {
                let mut line = b"fn example_line_of_forty_bytes_long() {}".to_vec();
                line[from..from + 8].copy_from_slice(format!("{i:08}").as_bytes());
                line
            })
            .collect()
    }

    #[test]
    fn the_filter_lets_few_absent_lines_through_wherever_they_differ() {
        // The filter only saves work: a line it lets through still goes to
        // the map. But one that lets everything through makes a miss scan
        // every line's key in full, so its false-positive rate is part of
        // its contract. 100 keys in 1024 bits pass about 10% of absent keys.
        // Bytes 16..24 of a 40-byte line are its middle, which the fingerprint
        // leaves to the map by design.
        for from in [0, 8, 24, 32] {
            let present = lines_differing_at(from, 0..100);
            let absent = lines_differing_at(from, 1000..2000);
            let through = passed(&present, &absent);
            assert!(
                through < 250,
                "{through} of 1000 absent lines differing at bytes {from}..{} passed",
                from + 8
            );
        }
        // A length no key has never passes.
        assert_eq!(
            passed(&lines_differing_at(0, 0..100), &[b"short".to_vec()]),
            0
        );
    }

    /// The obvious quadratic definition of [`window_starts`].
    fn naive(haystack: &[&[u8]], needle: &[&[u8]]) -> Vec<usize> {
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

    /// `haystack` and `needle` are digits naming [`KEYS`].
    fn check(haystack: &str, needle: &str, all: &[usize], kept: &[usize]) {
        let index = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
        let (h, n) = (keys(&index(haystack)), keys(&index(needle)));
        let starts = window_starts(h.iter().copied(), &n);
        assert_eq!(starts, all, "starts of {needle:?} in {haystack:?}");
        assert_eq!(disjoint(&starts, n.len()), kept, "kept of {needle:?}");
    }

    #[test]
    fn overlapping_starts_are_all_found_and_the_greedy_scan_keeps_disjoint_ones() {
        check("0000", "00", &[0, 1, 2], &[0, 2]);
        check("23232", "232", &[0, 2], &[0]);
        check("001001001", "001", &[0, 3, 6], &[0, 3, 6]);
    }

    #[test]
    fn items_absent_from_the_needle_never_match() {
        check("303123", "12", &[3], &[3]);
        check("012", "013", &[], &[]);
        check("4554", "45", &[0], &[0]);
        check("4554", "54", &[2], &[2]);
    }

    #[test]
    fn an_empty_or_longer_needle_has_no_windows() {
        check("012", "", &[], &[]);
        check("01", "012", &[], &[]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Small alphabets make borders (self-overlapping needles) common.
        #[test]
        fn window_starts_agrees_with_the_naive_definition(
            haystack in proptest::collection::vec(0u8..6, 0..40),
            needle in proptest::collection::vec(0u8..6, 0..6),
        ) {
            let (haystack, needle) = (keys(&haystack), keys(&needle));
            prop_assert_eq!(
                window_starts(haystack.iter().copied(), &needle),
                naive(&haystack, &needle)
            );
        }
    }
}
