//! Rendering the LLM snapshot (`output()`): pieces, lines, the size cap.
//!
//! The rules are stated in the module docs of [`super`]; this file implements
//! them reading the ring in place (under the buffer's lock), copying each
//! shown byte once, into a `String` allocated once at its final size:
//!
//! 1. *Plan*: each piece (the head, the tail, or both joined) becomes a short
//!    list of [`Seg`]s. Runs of lines of at most [`MAX_LINE_LENGTH`] bytes
//!    that are valid UTF-8 stay borrowed (`Run`); a longer line keeps a
//!    borrowed prefix (`Trunc`). Only lines with invalid bytes, and the one
//!    line that may straddle the ring's wrap point, are materialised
//!    (`Owned`). Finding the long lines costs one `memrchr` per 2 KiB window,
//!    not one call per line.
//! 2. *Fit*: if the whole would exceed [`MAX_RENDERED_BYTES`], whole lines
//!    are dropped: from the end of the head first, then from the start of
//!    the tail, so the newest bytes are the last to go.
//! 3. *Emit*: copy the chosen parts and the marker.

use std::fmt::Write as _;

use memchr::{memchr, memrchr};

use super::ring::View;
use super::utf8::{floor_char_boundary, incomplete_suffix_len, is_continuation};
use super::{LINE_TRUNCATION_SUFFIX, MAX_LINE_LENGTH, MAX_RENDERED_BYTES, STRATEGY, Truncation};

/// Bytes a truncated line keeps before its suffix.
const KEEP: usize = MAX_LINE_LENGTH - LINE_TRUNCATION_SUFFIX.len();

const MARKER_PREFIX: &str = "\n\n... [omitted ";
const MARKER_SUFFIX: &str = " bytes] ...\n\n";

/// Renders a snapshot of `v`. See the module docs of [`super`] for the rules.
pub(super) fn render(v: View<'_>) -> (String, Option<Truncation>) {
    let total = v.total;
    if total == 0 {
        return (String::new(), None);
    }
    let head_len = v.head.len() as u64;
    let tail_len = (v.tail[0].len() + v.tail[1].len()) as u64;
    let stored_gap = total - head_len - tail_len;

    if stored_gap == 0 {
        // Head and tail are contiguous: one piece, joined exactly as written
        // (B3 in `docs/races.md`, fixed).
        let mut segs = Vec::new();
        build_piece(&[v.head, v.tail[0], v.tail[1]], 0, &mut segs);
        let size: usize = segs.iter().map(Seg::rendered).sum();
        if size <= MAX_RENDERED_BYTES {
            let mut out = String::with_capacity(size);
            segs.iter().for_each(|s| s.push_to(&mut out));
            let info = (total > head_len).then(|| truncation(total, out.len(), 0));
            return (out, info);
        }
        let (head, tail) = split_groups(segs, head_len);
        return fit(&head, &tail, total);
    }

    // Something was omitted: two pieces, each cut on a character boundary.
    let cut = incomplete_suffix_len(v.head);
    let head_piece = &v.head[..v.head.len() - cut];
    let (tail_piece, skip) = skip_continuations(v.tail);
    let mut head = Vec::new();
    build_piece(&[head_piece], 0, &mut head);
    let mut tail = Vec::new();
    build_piece(&tail_piece, total - tail_len + skip as u64, &mut tail);
    let gap = stored_gap + (cut + skip) as u64;
    let head_size: usize = head.iter().map(Seg::rendered).sum();
    let tail_size: usize = tail.iter().map(Seg::rendered).sum();
    let size = head_size + marker_len(gap) + tail_size;
    if size <= MAX_RENDERED_BYTES {
        let mut out = String::with_capacity(size);
        head.iter().for_each(|s| s.push_to(&mut out));
        push_marker(&mut out, gap);
        tail.iter().for_each(|s| s.push_to(&mut out));
        let info = truncation(total, out.len(), gap);
        return (out, Some(info));
    }
    fit(&head, &tail, total)
}

fn truncation(total: u64, retained: usize, omitted: u64) -> Truncation {
    Truncation {
        original_bytes: total,
        retained_bytes: retained as u64,
        omitted_bytes: omitted,
        strategy: STRATEGY.to_string(),
    }
}

/// Skips up to three leading continuation bytes of the tail: the rest of a
/// character whose start was omitted (or stray bytes that would only render
/// as U+FFFD).
fn skip_continuations(tail: [&[u8]; 2]) -> ([&[u8]; 2], usize) {
    let [mut a, mut b] = tail;
    let mut skip = 0;
    while skip < 3 {
        let first = if let Some(&x) = a.first() {
            x
        } else if let Some(&x) = b.first() {
            x
        } else {
            break;
        };
        if !is_continuation(first) {
            break;
        }
        if a.is_empty() {
            b = &b[1..];
        } else {
            a = &a[1..];
        }
        skip += 1;
    }
    ([a, b], skip)
}

/// One planned part of a piece, at stream offsets `start..end`.
#[derive(Debug)]
struct Seg<'a> {
    start: u64,
    end: u64,
    body: Body<'a>,
}

#[derive(Debug)]
enum Body<'a> {
    /// Whole lines (the last may lack its `\n`), each at most
    /// [`MAX_LINE_LENGTH`] bytes, valid UTF-8, rendered verbatim.
    Run(&'a str),
    /// One line longer than [`MAX_LINE_LENGTH`]: its kept prefix, then the
    /// suffix, then `\n` if the line had one.
    Trunc(&'a str, bool),
    /// One line rendered ahead of time (invalid bytes, or the line crossing
    /// the ring's wrap point).
    Owned(String),
}

impl Seg<'_> {
    fn rendered(&self) -> usize {
        match &self.body {
            Body::Run(s) => s.len(),
            Body::Trunc(kept, nl) => kept.len() + LINE_TRUNCATION_SUFFIX.len() + usize::from(*nl),
            Body::Owned(s) => s.len(),
        }
    }

    fn push_to(&self, out: &mut String) {
        match &self.body {
            Body::Run(s) => out.push_str(s),
            Body::Trunc(kept, nl) => {
                out.push_str(kept);
                out.push_str(LINE_TRUNCATION_SUFFIX);
                if *nl {
                    out.push('\n');
                }
            }
            Body::Owned(s) => out.push_str(s),
        }
    }
}

/// Plans the piece made of `slices` (logically concatenated, starting at
/// stream offset `base`) into `segs`. A line crossing from one slice into the
/// next is gathered into a small stack buffer, at most its first
/// `MAX_LINE_LENGTH + 1` bytes, which is all its rendering needs.
fn build_piece<'a>(slices: &[&'a [u8]], base: u64, segs: &mut Vec<Seg<'a>>) {
    let Some(last) = slices.iter().rposition(|s| !s.is_empty()) else {
        return;
    };
    let mut pending: Option<Pending> = None;
    let mut off = base;
    for (i, &s) in slices.iter().enumerate().take(last + 1) {
        if s.is_empty() {
            continue;
        }
        let mut rest = s;
        let mut rest_off = off;
        if let Some(p) = pending.as_mut() {
            match memchr(b'\n', s) {
                Some(j) => {
                    p.extend(&s[..=j]);
                    segs.push(p.finish(true));
                    pending = None;
                    rest = &s[j + 1..];
                    rest_off += j as u64 + 1;
                }
                None => {
                    p.extend(s);
                    off += s.len() as u64;
                    continue;
                }
            }
        }
        if i == last {
            scan_block(rest, rest_off, segs);
        } else {
            let cut = memrchr(b'\n', rest).map_or(0, |j| j + 1);
            scan_block(&rest[..cut], rest_off, segs);
            if cut < rest.len() {
                let mut p = Pending::new(rest_off + cut as u64);
                p.extend(&rest[cut..]);
                pending = Some(p);
            }
        }
        off += s.len() as u64;
    }
    if let Some(p) = pending {
        segs.push(p.finish(false));
    }
}

/// A line being gathered across slices.
struct Pending {
    buf: [u8; MAX_LINE_LENGTH + 1],
    /// Bytes held in `buf` (its first bytes of the line).
    held: usize,
    /// Bytes of the line seen so far, `\n` included.
    len: usize,
    start: u64,
}

impl Pending {
    fn new(start: u64) -> Self {
        Pending {
            buf: [0; MAX_LINE_LENGTH + 1],
            held: 0,
            len: 0,
            start,
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        let n = (self.buf.len() - self.held).min(bytes.len());
        self.buf[self.held..self.held + n].copy_from_slice(&bytes[..n]);
        self.held += n;
        self.len += bytes.len();
    }

    fn finish<'a>(&self, nl: bool) -> Seg<'a> {
        let content = self.len - usize::from(nl);
        let long = content > MAX_LINE_LENGTH;
        // A short line is held whole; a long one by its first bytes, all
        // content.
        let prefix = &self.buf[..self.held.min(content)];
        Seg {
            start: self.start,
            end: self.start + self.len as u64,
            body: Body::Owned(render_line(prefix, long, nl)),
        }
    }
}

/// Plans one contiguous block whose last line may lack its `\n`.
///
/// Invariant: `p` is a line start. A window of `MAX_LINE_LENGTH + 1` bytes
/// from `p` that holds a `\n` proves every line starting before that `\n` is
/// short, so the scan jumps to the last one; a window without `\n` is a long
/// line.
fn scan_block<'a>(b: &'a [u8], base: u64, segs: &mut Vec<Seg<'a>>) {
    let n = b.len();
    let mut run = 0;
    let mut p = 0;
    while p < n {
        let wend = (p + MAX_LINE_LENGTH + 1).min(n);
        if let Some(i) = memrchr(b'\n', &b[p..wend]) {
            p += i + 1;
            continue;
        }
        if wend - p <= MAX_LINE_LENGTH {
            break; // the last line, short and without `\n`
        }
        let content_end = memchr(b'\n', &b[wend..]).map_or(n, |i| wend + i);
        let nl = content_end < n;
        let end = content_end + usize::from(nl);
        flush_run(&b[run..p], base + run as u64, segs);
        segs.push(long_line(
            &b[p..wend],
            base + p as u64,
            base + end as u64,
            nl,
        ));
        p = end;
        run = end;
    }
    flush_run(&b[run..], base + run as u64, segs);
}

/// A long line, given the first `MAX_LINE_LENGTH + 1` bytes of its content.
fn long_line(prefix: &[u8], start: u64, end: u64, nl: bool) -> Seg<'_> {
    let body = match kept_prefix(prefix) {
        Some(kept) => Body::Trunc(kept, nl),
        None => Body::Owned(render_line(prefix, true, nl)),
    };
    Seg { start, end, body }
}

/// The kept part of a long line when its first [`KEEP`] bytes are valid
/// UTF-8 (the common case): its longest prefix of whole characters within
/// `KEEP` bytes. `None` when invalid bytes come first (the lossy path).
fn kept_prefix(content: &[u8]) -> Option<&str> {
    // `from_utf8` has a word-at-a-time ASCII fast path; `utf8_chunks` walks
    // byte by byte, several times slower on the hot snapshot path.
    let head = &content[..content.len().min(KEEP + 3)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    (valid.len() >= KEEP).then(|| &valid[..floor_char_boundary(valid, KEEP)])
}

/// Short lines: one borrowed run when valid UTF-8 (the common case), else
/// line by line.
fn flush_run<'a>(b: &'a [u8], base: u64, segs: &mut Vec<Seg<'a>>) {
    if b.is_empty() {
        return;
    }
    if let Ok(s) = std::str::from_utf8(b) {
        segs.push(Seg {
            start: base,
            end: base + b.len() as u64,
            body: Body::Run(s),
        });
        return;
    }
    let mut off = base;
    for line in b.split_inclusive(|&c| c == b'\n') {
        let end = off + line.len() as u64;
        let body = match std::str::from_utf8(line) {
            Ok(s) => Body::Run(s),
            Err(_) => {
                let nl = line.last() == Some(&b'\n');
                let content = &line[..line.len() - usize::from(nl)];
                Body::Owned(render_line(content, false, nl))
            }
        };
        segs.push(Seg {
            start: off,
            end,
            body,
        });
        off = end;
    }
}

/// Renders one line from (a prefix of) its content: decoded lossily; if the
/// decoded text exceeds [`MAX_LINE_LENGTH`] (always so when `long`), cut to
/// its longest prefix of whole characters within [`KEEP`] bytes plus the
/// suffix; then `\n` if `nl`.
fn render_line(content: &[u8], long: bool, nl: bool) -> String {
    if long && let Some(kept) = kept_prefix(content) {
        let mut out = String::with_capacity(MAX_LINE_LENGTH + 1);
        out.push_str(kept);
        out.push_str(LINE_TRUNCATION_SUFFIX);
        if nl {
            out.push('\n');
        }
        return out;
    }
    if !long {
        let decoded = String::from_utf8_lossy(content);
        if decoded.len() <= MAX_LINE_LENGTH {
            let mut out = decoded.into_owned();
            if nl {
                out.push('\n');
            }
            return out;
        }
    }
    let mut out = String::with_capacity(MAX_LINE_LENGTH + 1);
    for chunk in content.utf8_chunks() {
        let valid = chunk.valid();
        if out.len() + valid.len() > KEEP {
            out.push_str(&valid[..floor_char_boundary(valid, KEEP - out.len())]);
            break;
        }
        out.push_str(valid);
        if !chunk.invalid().is_empty() {
            if out.len() + char::REPLACEMENT_CHARACTER.len_utf8() > KEEP {
                break;
            }
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
    out.push_str(LINE_TRUNCATION_SUFFIX);
    if nl {
        out.push('\n');
    }
    out
}

/// Splits a joined piece's plan into the head group (lines starting before
/// stream offset `at`) and the tail group (the rest).
fn split_groups(segs: Vec<Seg<'_>>, at: u64) -> (Vec<Seg<'_>>, Vec<Seg<'_>>) {
    let mut head = Vec::new();
    let mut tail = Vec::new();
    for seg in segs {
        if seg.start >= at {
            tail.push(seg);
            continue;
        }
        match seg.body {
            Body::Run(text) if seg.end > at => {
                let local = (at - seg.start) as usize;
                let bytes = text.as_bytes();
                let cut = if bytes[local - 1] == b'\n' {
                    local
                } else {
                    memchr(b'\n', &bytes[local..]).map_or(text.len(), |i| local + i + 1)
                };
                let mid = seg.start + cut as u64;
                head.push(Seg {
                    start: seg.start,
                    end: mid,
                    body: Body::Run(&text[..cut]),
                });
                if cut < text.len() {
                    tail.push(Seg {
                        start: mid,
                        end: seg.end,
                        body: Body::Run(&text[cut..]),
                    });
                }
            }
            _ => head.push(seg),
        }
    }
    (head, tail)
}

/// The over-the-cap case: keep whole lines, the tail's newest first, then the
/// head's oldest, within the cap less room for the largest possible marker.
fn fit(head: &[Seg<'_>], tail: &[Seg<'_>], total: u64) -> (String, Option<Truncation>) {
    let budget = MAX_RENDERED_BYTES - marker_len(total);

    // Tail, from its end.
    let mut tail_size = 0;
    let mut tail_from = tail.len();
    let mut tail_part: Option<(&str, u64)> = None;
    while tail_from > 0 {
        let seg = &tail[tail_from - 1];
        let r = seg.rendered();
        if tail_size + r <= budget {
            tail_size += r;
            tail_from -= 1;
            continue;
        }
        if let Body::Run(text) = seg.body {
            let q = suffix_cut(text, budget - tail_size);
            if q < text.len() {
                tail_part = Some((&text[q..], seg.start + q as u64));
                tail_size += text.len() - q;
            }
        }
        break;
    }
    let tail_whole = tail_from == 0 && tail_part.is_none();
    let tail_cut = match (tail_part, tail.get(tail_from)) {
        (Some((_, start)), _) => start,
        (None, Some(seg)) => seg.start,
        (None, None) => total,
    };

    // Head, from its start, only if the whole tail fit.
    let mut head_size = 0;
    let mut head_to = 0;
    let mut head_part: Option<(&str, u64)> = None;
    if tail_whole {
        let room = budget - tail_size;
        while head_to < head.len() {
            let seg = &head[head_to];
            let r = seg.rendered();
            if head_size + r <= room {
                head_size += r;
                head_to += 1;
                continue;
            }
            if let Body::Run(text) = seg.body {
                let e = prefix_cut(text, room - head_size);
                if e > 0 {
                    head_part = Some((&text[..e], seg.start + e as u64));
                    head_size += e;
                }
            }
            break;
        }
    }
    let head_cut = match (head_part, head_to) {
        (Some((_, end)), _) => end,
        (None, 0) => 0,
        (None, n) => head[n - 1].end,
    };

    let omitted = tail_cut - head_cut;
    let mut out = String::with_capacity(head_size + marker_len(omitted) + tail_size);
    head[..head_to].iter().for_each(|s| s.push_to(&mut out));
    if let Some((text, _)) = head_part {
        out.push_str(text);
    }
    push_marker(&mut out, omitted);
    if let Some((text, _)) = tail_part {
        out.push_str(text);
    }
    tail[tail_from..].iter().for_each(|s| s.push_to(&mut out));
    let info = truncation(total, out.len(), omitted);
    (out, Some(info))
}

/// The end of the last whole line of `text` within its first `room` bytes.
fn prefix_cut(text: &str, room: usize) -> usize {
    if room >= text.len() {
        return text.len();
    }
    memrchr(b'\n', &text.as_bytes()[..room]).map_or(0, |i| i + 1)
}

/// The start of the first whole line of `text` within its last `room` bytes.
fn suffix_cut(text: &str, room: usize) -> usize {
    if room >= text.len() {
        return 0;
    }
    let bytes = text.as_bytes();
    let q = text.len() - room;
    if bytes[q - 1] == b'\n' {
        return q;
    }
    memchr(b'\n', &bytes[q..]).map_or(text.len(), |i| q + i + 1)
}

fn marker_len(omitted: u64) -> usize {
    let digits = omitted.checked_ilog10().map_or(1, |d| d as usize + 1);
    MARKER_PREFIX.len() + digits + MARKER_SUFFIX.len()
}

fn push_marker(out: &mut String, omitted: u64) {
    out.push_str(MARKER_PREFIX);
    // Writing into a String cannot fail.
    let _ = write!(out, "{omitted}");
    out.push_str(MARKER_SUFFIX);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_len_matches_the_rendered_marker() {
        for n in [0, 1, 9, 10, 99, 100, 65_535, u64::MAX] {
            let mut s = String::new();
            push_marker(&mut s, n);
            assert_eq!(s.len(), marker_len(n), "{n}");
        }
    }

    #[test]
    fn cuts_fall_on_line_boundaries() {
        assert_eq!(prefix_cut("ab\ncd\nef", 7), 6);
        assert_eq!(prefix_cut("ab\ncd\nef", 5), 3);
        assert_eq!(prefix_cut("ab\ncd\nef", 2), 0);
        assert_eq!(suffix_cut("ab\ncd\nef", 5), 3);
        assert_eq!(suffix_cut("ab\ncd\nef", 4), 6);
        assert_eq!(suffix_cut("ab\ncd\nef", 1), 8);
    }

    #[test]
    fn a_line_across_slices_renders_like_a_contiguous_one() {
        let text = format!("a\n{}\nb€c\n", "x".repeat(3000));
        let bytes = text.as_bytes();
        for split in [
            0,
            1,
            2,
            5,
            2040,
            2049,
            2050,
            3001,
            3002,
            3005,
            3006,
            bytes.len(),
        ] {
            let mut joined = Vec::new();
            build_piece(&[bytes], 0, &mut joined);
            let mut parted = Vec::new();
            build_piece(&[&bytes[..split], &bytes[split..]], 0, &mut parted);
            let render = |segs: &[Seg<'_>]| {
                let mut s = String::new();
                segs.iter().for_each(|x| x.push_to(&mut s));
                s
            };
            assert_eq!(render(&parted), render(&joined), "split at {split}");
        }
    }
}
