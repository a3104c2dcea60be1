//! Rebuilding a matched line window from the replacement, position by
//! position: each replacement line is lead (indent), body, trail (trailing
//! spaces and tabs) and ending.
//!
//! A replacement line is paired with a search line (and so with the file
//! line that search line matched): by position in the common prefix and
//! suffix of search and replacement (lines equal once trimmed), by position
//! in the rewritten middle, and an inserted line (past the search's middle)
//! with the closer of the last prefix line and the first suffix line, by
//! indent. Then, for a line with a body:
//!
//! - paired: where search and replacement agree on the lead, the file's
//!   lead is written; likewise the trail; and the ending, where they agree
//!   on its shape (both newline, or both none).
//! - inserted: the lead is the file's indent unit times the file line's
//!   level plus the level the caller put the line at relative to its pair,
//!   each side measured in its own unit; when a unit cannot be told (mixed
//!   tabs and spaces, no indent), the file line's lead.
//!
//! A line that is only whitespace is written as the caller wrote it. Then
//! the endings: the forced ending (the file's dominant one) wins where set;
//! the last line keeps the file's missing final newline when the window
//! ends the file without one, and otherwise always ends in a newline, so
//! the line after the window is never glued on.

use super::{split_ending, trim_unicode};

/// Where built bytes go: a counter (to size the result before allocating)
/// or the result itself.
pub trait Out {
    fn put(&mut self, bytes: &[u8]);
    fn put_repeated(&mut self, unit: &[u8], times: usize);
}

impl Out for u64 {
    fn put(&mut self, bytes: &[u8]) {
        *self = self.saturating_add(bytes.len() as u64);
    }
    fn put_repeated(&mut self, unit: &[u8], times: usize) {
        let n = (unit.len() as u64).saturating_mul(times as u64);
        *self = self.saturating_add(n);
    }
}

impl Out for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_repeated(&mut self, unit: &[u8], times: usize) {
        for _ in 0..times {
            self.extend_from_slice(unit);
        }
    }
}

/// One matched window: its byte span in the file, its lines (as many as
/// the search's), and whether it ends the file on a line with no newline.
#[derive(Clone)]
pub struct Window<'c> {
    pub span: (usize, usize),
    pub matched: Vec<&'c [u8]>,
    pub at_unterminated_end: bool,
}

/// An indent unit: one tab, or some number of spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Tab,
    Spaces(usize),
}

impl Unit {
    fn bytes(self) -> (&'static [u8], usize) {
        match self {
            Unit::Tab => (b"\t", 1),
            Unit::Spaces(n) => (b" ", n),
        }
    }

    /// How many units `lead` is, when it is exactly a run of them.
    pub fn level(self, lead: &[u8]) -> Option<usize> {
        match self {
            Unit::Tab => lead.iter().all(|&b| b == b'\t').then_some(lead.len()),
            Unit::Spaces(n) => {
                (n > 0 && lead.len().is_multiple_of(n) && lead.iter().all(|&b| b == b' '))
                    .then(|| lead.len() / n)
            }
        }
    }
}

/// The indent unit of `lines`: a tab when every indented line with a body
/// is tab-indented, the GCD of the space counts when every one is
/// space-indented; none when they mix (across or within a lead) or nothing
/// is indented. Lines without a body carry no signal.
pub fn indent_unit<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<Unit> {
    let (mut tabs, mut spaces) = (false, 0usize);
    for line in lines {
        let (lead, body, _, _) = parts(line);
        if lead.is_empty() || body.is_empty() {
            continue;
        }
        if lead.iter().all(|&b| b == b'\t') {
            tabs = true;
        } else if lead.iter().all(|&b| b == b' ') {
            spaces = gcd(spaces, lead.len());
        } else {
            return None;
        }
    }
    match (tabs, spaces) {
        (true, 0) => Some(Unit::Tab),
        (false, n) if n > 0 => Some(Unit::Spaces(n)),
        _ => None,
    }
}

pub fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The level (in the file's unit) an inserted line goes at: the file
/// line's level plus how far the caller put the line from its pair, in the
/// caller's unit. `None` when a lead is not a whole number of its unit or
/// the level would be negative.
pub fn translated_level(
    inserted_lead: &[u8],
    pair_search_lead: &[u8],
    pair_file_lead: &[u8],
    caller: Unit,
    file: Unit,
) -> Option<usize> {
    let wanted = caller.level(inserted_lead)?;
    let search_base = caller.level(pair_search_lead)?;
    let file_base = file.level(pair_file_lead)?;
    (file_base + wanted).checked_sub(search_base)
}

/// A line's lead (spaces and tabs), body, trail (spaces and tabs) and
/// ending.
pub fn parts(line: &[u8]) -> (&[u8], &[u8], &[u8], &'static [u8]) {
    let (body, ending) = split_ending(line);
    let lead_len = body
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(body.len());
    let (lead, rest) = body.split_at(lead_len);
    let mid_len = rest
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    let (mid, trail) = rest.split_at(mid_len);
    (lead, mid, trail, ending)
}

fn is_newline(ending: &[u8]) -> bool {
    ending == b"\n" || ending == b"\r\n"
}

/// Whether two endings have the same shape: equal, or both a newline.
fn same_shape(a: &[u8], b: &[u8]) -> bool {
    a == b || (is_newline(a) && is_newline(b))
}

/// What is known of an edit before any window: its lines, how they align,
/// and the caller's indent unit.
pub struct Template<'e> {
    search: Vec<&'e [u8]>,
    replace: Vec<&'e [u8]>,
    prefix: usize,
    suffix: usize,
    caller_unit: Option<Unit>,
    forced: Option<&'static [u8]>,
}

impl<'e> Template<'e> {
    pub fn new(search: &[&'e [u8]], replace: &'e [u8], forced: Option<&'static [u8]>) -> Self {
        let replace = super::lines_of(replace);
        let same = |a: &[u8], b: &[u8]| trim_unicode(a) == trim_unicode(b);
        let most = search.len().min(replace.len());
        let prefix = (0..most)
            .take_while(|&i| same(search[i], replace[i]))
            .count();
        let suffix = (0..most - prefix)
            .take_while(|&k| same(search[search.len() - 1 - k], replace[replace.len() - 1 - k]))
            .count();
        // The replacement's leads inform the unit too, so a one-line
        // search still yields one from the lines it inserts.
        let caller_unit = indent_unit(search.iter().chain(&replace).copied());
        Template {
            search: search.to_vec(),
            replace,
            prefix,
            suffix,
            caller_unit,
            forced,
        }
    }

    /// The search line replacement line `i` is paired with, and whether
    /// `i` is an inserted line.
    fn pair(&self, i: usize) -> (usize, bool) {
        let (n_s, n_r) = (self.search.len(), self.replace.len());
        let (prefix, suffix) = (self.prefix, self.suffix);
        if i < prefix {
            return (i, false);
        }
        if i + suffix >= n_r {
            return (i + n_s - n_r, false);
        }
        if i - prefix < n_s - prefix - suffix {
            return (i, false);
        }
        let lead = parts(self.replace[i]).0;
        let first_suffix = n_s - suffix;
        let pair = match (prefix > 0, suffix > 0) {
            (true, true) => {
                let prefix_lead = parts(self.replace[prefix - 1]).0;
                let suffix_lead = parts(self.replace[n_r - suffix]).0;
                if lead != suffix_lead && lead == prefix_lead {
                    prefix - 1
                } else {
                    first_suffix
                }
            }
            (false, true) => first_suffix,
            (true, false) => prefix - 1,
            (false, false) => i.min(n_s - 1),
        };
        (pair, true)
    }

    /// Writes the rebuilt window; `matched` has one line per search line.
    pub fn emit(&self, matched: &[&[u8]], at_unterminated_end: bool, out: &mut impl Out) {
        let file_unit = indent_unit(matched.iter().copied());
        let n_r = self.replace.len();
        for (i, &line) in self.replace.iter().enumerate() {
            let last = i + 1 == n_r;
            let (pair, inserted) = self.pair(i);
            let (s_lead, _, s_trail, s_end) = parts(self.search[pair]);
            let (r_lead, r_mid, r_trail, r_end) = parts(line);
            let (c_lead, _, c_trail, c_end) = parts(matched[pair]);

            let mut lead: &[u8] = r_lead;
            let mut level = None;
            let mut trail = r_trail;
            if r_mid.is_empty() {
                // A blank line is written as the caller wrote it.
            } else if inserted {
                lead = c_lead;
                if let (Some(caller), Some(file)) = (self.caller_unit, file_unit) {
                    level =
                        translated_level(r_lead, s_lead, c_lead, caller, file).map(|l| (file, l));
                }
            } else {
                if s_lead == r_lead {
                    lead = c_lead;
                }
                if s_trail == r_trail {
                    trail = c_trail;
                }
            }

            let mut ending = r_end;
            if !inserted && same_shape(s_end, r_end) {
                ending = c_end;
                if c_end.is_empty() && !last {
                    ending = r_end;
                }
            }
            if inserted && last && at_unterminated_end {
                ending = b"";
            }
            if let Some(forced) = self.forced
                && (!last || !at_unterminated_end)
            {
                ending = forced;
            }
            if last && !at_unterminated_end && ending.is_empty() {
                ending = self.forced.unwrap_or(b"\n");
            }

            match level {
                Some((unit, times)) => {
                    let (bytes, per) = unit.bytes();
                    out.put_repeated(bytes, per.saturating_mul(times));
                }
                None => out.put(lead),
            }
            out.put(r_mid);
            out.put(trail);
            out.put(ending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indent_unit_is_a_tab_or_the_gcd_of_space_leads() {
        let check = |lines: &[&str], want: Option<Unit>| {
            let got = indent_unit(lines.iter().map(|l| l.as_bytes()));
            assert_eq!(got, want, "{lines:?}");
        };
        check(&[], None);
        check(&["foo\n", "bar\n"], None);
        check(&["\tfoo\n", "\t\tbar\n"], Some(Unit::Tab));
        check(&["    foo\n", "        bar\n"], Some(Unit::Spaces(4)));
        check(&["  foo\n", "    bar\n"], Some(Unit::Spaces(2)));
        check(&["    foo\n", "      bar\n"], Some(Unit::Spaces(2)));
        check(&["\tfoo\n", "    bar\n"], None);
        check(&["\t    foo\n"], None);
        check(&[" \tfoo\n"], None);
        // A whitespace-only line carries no signal.
        check(&["    foo\n", "  \n", "    bar\n"], Some(Unit::Spaces(4)));
        check(&["  \n", "    \n"], None);
        check(&["\n", "    foo\n"], Some(Unit::Spaces(4)));
    }

    #[test]
    fn gcd_of_lead_lengths() {
        for (a, b, want) in [
            (0, 0, 0),
            (0, 4, 4),
            (4, 0, 4),
            (4, 4, 4),
            (3, 5, 1),
            (4, 6, 2),
            (8, 12, 4),
            (2, 4, 2),
        ] {
            assert_eq!(gcd(a, b), want, "gcd({a}, {b})");
        }
    }

    #[test]
    fn a_level_is_a_whole_run_of_the_unit() {
        let check = |lead: &str, unit: Unit, want: Option<usize>| {
            assert_eq!(unit.level(lead.as_bytes()), want, "{lead:?} in {unit:?}");
        };
        check("", Unit::Spaces(4), Some(0));
        check("    ", Unit::Spaces(4), Some(1));
        check("      ", Unit::Spaces(2), Some(3));
        check("\t\t", Unit::Tab, Some(2));
        check("   ", Unit::Spaces(4), None);
        check("\t ", Unit::Spaces(2), None);
    }

    #[test]
    fn an_inserted_line_keeps_its_relative_level_in_the_files_unit() {
        let check = |r: &str, s: &str, c: &str, caller: Unit, file: Unit, want: Option<&str>| {
            let got = translated_level(r.as_bytes(), s.as_bytes(), c.as_bytes(), caller, file).map(
                |level| {
                    let mut out = Vec::new();
                    let (bytes, per) = file.bytes();
                    out.put_repeated(bytes, per * level);
                    String::from_utf8(out).expect("utf-8")
                },
            );
            assert_eq!(got.as_deref(), want, "{r:?} {s:?} {c:?}");
        };
        let (sp4, sp2, tab) = (Unit::Spaces(4), Unit::Spaces(2), Unit::Tab);
        check("        ", "    ", "\t", sp4, tab, Some("\t\t"));
        check("    ", "    ", "\t", sp4, tab, Some("\t"));
        check("", "        ", "\t", sp4, tab, None);
        check("   ", "    ", "\t", sp4, tab, None);
        check("        ", "    ", "    ", sp4, sp2, Some("      "));
        check("    ", "  ", "\t", sp2, tab, Some("\t\t"));
    }
}
