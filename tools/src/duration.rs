//! Go-compatible durations: `time.ParseDuration` and `Duration.String()`.
//!
//! The LLM passes `timeout` / `wait_timeout` as Go duration strings and the
//! tools echo durations back inside messages (`command timed out after 10s`),
//! so both directions must match Go byte for byte, error texts included
//! (`docs/design.md#clients`).

use std::fmt;
use std::time::Duration;

/// Nanoseconds per unit, as Go's `unitMap`.
const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// `1 << 63`: the magnitude bound Go checks against while accumulating.
const LIMIT: u64 = 1 << 63;

/// A signed count of nanoseconds, like Go's `time.Duration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub i64);

/// Why a duration string did not parse. Displays as Go's error text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Malformed or out of range.
    #[error("time: invalid duration {}", quote(.0))]
    Invalid(String),
    /// A number without a unit, e.g. `"30"`.
    #[error("time: missing unit in duration {}", quote(.0))]
    MissingUnit(String),
    /// A unit Go does not know, e.g. `"3d"`.
    #[error("time: unknown unit {} in duration {}", quote(.unit), quote(.input))]
    UnknownUnit { unit: String, input: String },
}

impl GoDuration {
    pub const ZERO: GoDuration = GoDuration(0);

    /// Whole milliseconds, truncated toward zero like Go's `Milliseconds()`.
    pub fn as_millis(self) -> i64 {
        self.0 / 1_000_000
    }

    /// The positive part as a std duration; `None` for zero or negative
    /// (a context with such a timeout is already expired).
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.0)
            .ok()
            .filter(|n| *n > 0)
            .map(Duration::from_nanos)
    }

    /// Parses like Go's `time.ParseDuration`:
    /// `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare `0`.
    pub fn parse(input: &str) -> Result<GoDuration, DurationError> {
        let invalid = || DurationError::Invalid(input.to_string());
        let mut s = input.as_bytes();
        let mut neg = false;
        if let Some(&c) = s.first()
            && (c == b'-' || c == b'+')
        {
            neg = c == b'-';
            s = &s[1..];
        }
        if s == b"0" {
            return Ok(GoDuration::ZERO);
        }
        if s.is_empty() {
            return Err(invalid());
        }
        let mut total: u64 = 0;
        while !s.is_empty() {
            if !(s[0] == b'.' || s[0].is_ascii_digit()) {
                return Err(invalid());
            }
            let before = s.len();
            let (mut v, rest) = leading_int(s).ok_or_else(invalid)?;
            s = rest;
            let pre = before != s.len();

            let mut post = false;
            let (mut f, mut scale) = (0u64, 1f64);
            if s.first() == Some(&b'.') {
                s = &s[1..];
                let before = s.len();
                let (ff, sc, rest) = leading_fraction(s);
                (f, scale, s) = (ff, sc, rest);
                post = before != s.len();
            }
            if !pre && !post {
                return Err(invalid());
            }

            let unit_len = s
                .iter()
                .position(|c| *c == b'.' || c.is_ascii_digit())
                .unwrap_or(s.len());
            if unit_len == 0 {
                return Err(DurationError::MissingUnit(input.to_string()));
            }
            let (unit_bytes, rest) = s.split_at(unit_len);
            s = rest;
            // The unit ends at an ASCII byte or the end, so it is whole UTF-8.
            let unit_str = String::from_utf8_lossy(unit_bytes).into_owned();
            let unit = match unit_str.as_str() {
                "ns" => NANOSECOND,
                "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
                "ms" => MILLISECOND,
                "s" => SECOND,
                "m" => MINUTE,
                "h" => HOUR,
                _ => {
                    return Err(DurationError::UnknownUnit {
                        unit: unit_str,
                        input: input.to_string(),
                    });
                }
            };
            if v > LIMIT / unit {
                return Err(invalid());
            }
            v *= unit;
            if f > 0 {
                // Go computes the fraction in float64 (nanosecond-accurate
                // up to hours); the cast truncates like Go's conversion.
                v += (f as f64 * (unit as f64 / scale)) as u64;
                if v > LIMIT {
                    return Err(invalid());
                }
            }
            total += v;
            if total > LIMIT {
                return Err(invalid());
            }
        }
        if neg {
            // total <= 1 << 63, so the negation always fits.
            return Ok(GoDuration((total as i64).wrapping_neg()));
        }
        i64::try_from(total).map(GoDuration).map_err(|_| invalid())
    }
}

impl From<Duration> for GoDuration {
    /// Saturates at Go's largest duration (about 292 years).
    fn from(d: Duration) -> Self {
        GoDuration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl std::str::FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GoDuration::parse(s)
    }
}

/// Consumes leading `[0-9]*`; `None` on overflow (Go's `errLeadingInt`).
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Consumes leading `[0-9]*` of a fraction; stops gaining precision on
/// overflow instead of failing, as Go does.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let digit = u64::from(s[i] - b'0');
        i += 1;
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + digit;
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[i..])
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let mut u = self.0.unsigned_abs();
        // Built right to left, like Go's fixed buffer.
        let mut out: Vec<u8> = Vec::with_capacity(32);
        if u < SECOND {
            out.push(b's');
            let prec = match u {
                0 => {
                    return f.write_str("0s");
                }
                u if u < MICROSECOND => {
                    out.push(b'n');
                    0
                }
                u if u < MILLISECOND => {
                    // "µ" (U+00B5) reversed byte-wise.
                    out.extend_from_slice(&[0xB5, 0xC2]);
                    3
                }
                _ => {
                    out.push(b'm');
                    6
                }
            };
            u = push_frac(&mut out, u, prec);
            push_int(&mut out, u);
        } else {
            out.push(b's');
            u = push_frac(&mut out, u, 9);
            push_int(&mut out, u % 60);
            u /= 60;
            if u > 0 {
                out.push(b'm');
                push_int(&mut out, u % 60);
                u /= 60;
                if u > 0 {
                    out.push(b'h');
                    push_int(&mut out, u);
                }
            }
        }
        if neg {
            out.push(b'-');
        }
        out.reverse();
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// Pushes (reversed) the fraction `v / 10^prec` without trailing zeros, and
/// the point only when a digit was written; returns the integer part.
fn push_frac(out: &mut Vec<u8>, mut v: u64, prec: u32) -> u64 {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print = print || digit != 0;
        if print {
            out.push(b'0' + digit);
        }
        v /= 10;
    }
    if print {
        out.push(b'.');
    }
    v
}

/// Pushes (reversed) the decimal digits of `v`.
fn push_int(out: &mut Vec<u8>, mut v: u64) {
    if v == 0 {
        out.push(b'0');
        return;
    }
    while v > 0 {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
    }
}

/// The `time` package's own quoting for error texts: `"` and `\` escaped,
/// and every byte of a non-ASCII or control character as `\xNN`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if !(' '..'\u{80}').contains(&c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` and expects `want` (nanoseconds) or Go's error text.
    fn check(input: &str, want: Result<i64, &str>) {
        let got = GoDuration::parse(input)
            .map(|d| d.0)
            .map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(str::to_string), "parse({input:?})");
    }

    #[test]
    fn parses_what_go_parses() {
        let ms = 1_000_000i64;
        let s = 1_000 * ms;
        for (input, want) in [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("300ms", 300 * ms),
            ("1.5s", 1_500 * ms),
            ("2m", 120 * s),
            ("1h30m", 5_400 * s),
            ("-1s", -s),
            ("+5s", 5 * s),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("1.s", s),
            (".5s", 500 * ms),
            ("10us", 10_000),
            ("10\u{b5}s", 10_000),
            ("10\u{3bc}s", 10_000),
            ("3ns", 3),
            ("0.1h", 360 * s),
            ("1.0000000000000000000001s", s),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("52.763797000ms", 52_763_797),
        ] {
            check(input, Ok(want));
        }
    }

    #[test]
    fn rejects_what_go_rejects_with_go_error_texts() {
        for (input, want) in [
            ("30", r#"time: missing unit in duration "30""#),
            ("00", r#"time: missing unit in duration "00""#),
            ("1h30", r#"time: missing unit in duration "1h30""#),
            ("", r#"time: invalid duration """#),
            ("-", r#"time: invalid duration "-""#),
            ("s", r#"time: invalid duration "s""#),
            (".s", r#"time: invalid duration ".s""#),
            ("1s ", r#"time: unknown unit "s " in duration "1s ""#),
            ("3d", r#"time: unknown unit "d" in duration "3d""#),
            ("1 s", r#"time: unknown unit " s" in duration "1 s""#),
            ("10Ms", r#"time: unknown unit "Ms" in duration "10Ms""#),
            (
                "9223372036854775808ns",
                r#"time: invalid duration "9223372036854775808ns""#,
            ),
            ("3000000h", r#"time: invalid duration "3000000h""#),
            (
                "1é",
                r#"time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9""#,
            ),
            ("\"5", r#"time: invalid duration "\"5""#),
        ] {
            check(input, Err(want));
        }
    }

    #[test]
    fn renders_like_go_duration_string() {
        let ms = 1_000_000i64;
        let s = 1_000 * ms;
        for (nanos, want) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (500 * ms, "500ms"),
            (2_200 * ms / 1_000, "2.2ms"),
            (10 * s, "10s"),
            (1_500 * ms, "1.5s"),
            (90 * s, "1m30s"),
            (3_600 * s, "1h0m0s"),
            (5_400 * s, "1h30m0s"),
            (-s, "-1s"),
            (-50 * ms, "-50ms"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(GoDuration(nanos).to_string(), want, "{nanos}ns");
        }
    }

    #[test]
    fn render_then_parse_round_trips() {
        for nanos in [1, 999, 1_000_001, 59_999_999_999, 3_600_000_000_001, -42] {
            let text = GoDuration(nanos).to_string();
            assert_eq!(GoDuration::parse(&text).map(|d| d.0), Ok(nanos), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_duration_renders_to_text_that_parses_back(n in proptest::num::i64::ANY) {
            let text = GoDuration(n).to_string();
            proptest::prop_assert_eq!(GoDuration::parse(&text), Ok(GoDuration(n)), "{}", text);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,12}|[-+.0-9a-zµμ]{0,12}") {
            let _ = GoDuration::parse(&s);
        }
    }

    #[test]
    fn only_positive_durations_become_std_durations() {
        assert_eq!(GoDuration(0).to_std(), None);
        assert_eq!(GoDuration(-5).to_std(), None);
        assert_eq!(GoDuration(5).to_std(), Some(Duration::from_nanos(5)));
        assert_eq!(GoDuration::from(Duration::from_secs(10)).to_string(), "10s");
        assert_eq!(GoDuration(1_999_999).as_millis(), 1);
    }
}
