//! Seeds: one `u64` per run, split into independent named streams.
//!
//! turmoil's own rng, the workload, the fault plan, the yield-point
//! scheduler and the id source each draw from their own stream, derived from
//! a hash of `(seed, stream name)`. Adding a fault therefore never reshuffles
//! the workload. Also here: the CLI's seed syntax (decimal or `0x` hex),
//! seed ranges (`A..B`, `A..=B`) and shards (`K/N`).

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The seed of one simulation run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seed(pub u64);

/// Names of the streams the harness itself draws from. Scenarios may derive
/// more (any string), e.g. `"workload.reader-2"`.
pub mod stream {
    /// turmoil's `Builder::rng_seed` (network latency, message order).
    pub const TURMOIL: &str = "turmoil";
    /// The scenario's choices (commands, timings, how many clients).
    pub const WORKLOAD: &str = "workload";
    /// The fault plan (partitions, holds, crashes at seeded times).
    pub const FAULTS: &str = "faults";
    /// The yield-point scheduler's decisions.
    pub const YIELDS: &str = "yields";
    /// Process ids and other agent-side identifiers.
    pub const IDS: &str = "ids";
}

impl Seed {
    /// The `u64` derived for `stream`: stable across platforms and releases
    /// (FNV-1a of the name, mixed with the seed by splitmix64).
    pub fn derive(self, stream: &str) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        splitmix64(self.0 ^ splitmix64(h))
    }

    /// A fresh rng for `stream`.
    pub fn rng(self, stream: &str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.derive(stream))
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A seed, range or shard that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid seed {0:?}: expected a decimal or 0x-prefixed hex u64")]
    Seed(String),
    #[error("invalid seed range {0:?}: expected A..B or A..=B with A <= B")]
    Range(String),
    #[error("invalid shard {0:?}: expected K/N with 1 <= K <= N")]
    Shard(String),
}

impl FromStr for Seed {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => t.parse::<u64>(),
        };
        parsed
            .map(Seed)
            .map_err(|_| ParseError::Seed(s.to_string()))
    }
}

/// A half-open range of seeds (`A..B`; `A..=B` includes `B`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
}

impl SeedRange {
    pub fn new(range: Range<u64>) -> Self {
        SeedRange {
            start: range.start,
            end: range.end.max(range.start),
        }
    }

    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The seeds of this range that belong to `shard`, in order.
    pub fn seeds(&self, shard: Shard) -> impl Iterator<Item = Seed> + '_ {
        (self.start..self.end)
            .filter(move |s| shard.contains(Seed(*s)))
            .map(Seed)
    }
}

impl Default for SeedRange {
    /// `0..1000`, the default sweep (`docs/design.md#cli`).
    fn default() -> Self {
        SeedRange::new(0..1000)
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl FromStr for SeedRange {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError::Range(s.to_string());
        let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
            (a, b, true)
        } else if let Some((a, b)) = s.split_once("..") {
            (a, b, false)
        } else {
            return Err(err());
        };
        let start = a.parse::<Seed>().map_err(|_| err())?.0;
        let end = b.parse::<Seed>().map_err(|_| err())?.0;
        let end = if inclusive {
            end.checked_add(1).ok_or_else(err)?
        } else {
            end
        };
        if start > end {
            return Err(err());
        }
        Ok(SeedRange { start, end })
    }
}

/// Shard `k` of `n` (1-based, as `--shard 2/4`): the seeds `s` with
/// `s % n == k - 1`. Every seed belongs to exactly one shard, whatever the
/// range, so CI machines can split one sweep without coordinating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// The whole seed space.
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    pub fn contains(self, seed: Seed) -> bool {
        seed.0 % self.n == self.k - 1
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError::Shard(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let k: u64 = k.trim().parse().map_err(|_| err())?;
        let n: u64 = n.trim().parse().map_err(|_| err())?;
        if n == 0 || k == 0 || k > n {
            return Err(err());
        }
        Ok(Shard { k, n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn check_seed(input: &str, expected: Option<u64>) {
        assert_eq!(input.parse::<Seed>().ok().map(|s| s.0), expected, "{input}");
    }

    #[test]
    fn seeds_parse_as_decimal_or_hex() {
        check_seed("0", Some(0));
        check_seed("17", Some(17));
        check_seed("0x1f", Some(31));
        check_seed("0XFF", Some(255));
        check_seed("18446744073709551615", Some(u64::MAX));
        check_seed("-1", None);
        check_seed("0x", None);
        check_seed("12abc", None);
        check_seed("", None);
        check_seed("18446744073709551616", None);
    }

    fn check_range(input: &str, expected: Option<(u64, u64)>) {
        let got = input.parse::<SeedRange>().ok().map(|r| (r.start, r.end));
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn ranges_are_half_open_unless_inclusive() {
        check_range("0..1000", Some((0, 1000)));
        check_range("5..=5", Some((5, 6)));
        check_range("0x10..0x20", Some((16, 32)));
        check_range("7..7", Some((7, 7)));
        check_range("9..3", None);
        check_range("3", None);
        check_range("a..b", None);
    }

    fn check_shard(input: &str, expected: Option<(u64, u64)>) {
        let got = input.parse::<Shard>().ok().map(|s| (s.k, s.n));
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn shards_are_one_based() {
        check_shard("1/1", Some((1, 1)));
        check_shard("2/4", Some((2, 4)));
        check_shard("0/4", None);
        check_shard("5/4", None);
        check_shard("1/0", None);
        check_shard("1-4", None);
    }

    #[test]
    fn shards_partition_the_seed_space() {
        let range = SeedRange::new(0..103);
        let mut all: Vec<u64> = (1..=4)
            .flat_map(|k| {
                range
                    .seeds(Shard { k, n: 4 })
                    .map(|s| s.0)
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
    }

    #[test]
    fn streams_are_independent_and_stable() {
        let s = Seed(42);
        assert_ne!(s.derive(stream::WORKLOAD), s.derive(stream::FAULTS));
        assert_ne!(Seed(1).derive("x"), Seed(2).derive("x"));
        let a: u64 = s.rng("workload").random();
        let b: u64 = s.rng("workload").random();
        assert_eq!(a, b);
    }

    #[test]
    fn derived_values_are_pinned() {
        // If this changes, every seed anyone wrote down replays differently.
        assert_eq!(Seed(0).derive("turmoil"), PINNED_TURMOIL_0);
    }

    const PINNED_TURMOIL_0: u64 = 15_249_918_785_087_744_443;
}
