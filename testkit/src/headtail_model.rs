//! A naive reference model of the agent's output buffer, written apart from
//! the code under test so an oracle never asks the buffer what it should have
//! answered.
//!
//! It keeps every byte and applies the rendering rules of
//! `docs/agent-api.md#process-output` line by line: the first
//! [`HEAD`] bytes, the last [`TAIL`] bytes past them, the marker between,
//! long lines cut to whole characters, invalid UTF-8 replaced per maximal
//! invalid subpart, cuts on character boundaries (a head-end incomplete
//! character and tail-start continuation bytes count as omitted), and
//! whole lines dropped from the middle so the render never exceeds [`CAP`].
//! No ring, no windows, no fast paths: slow and obviously right.

use agent::headtail::Truncation;

/// Bytes kept from the start of the output.
pub const HEAD: usize = 16384;
/// Bytes kept from the end of the output.
pub const TAIL: usize = 16384;
/// The rendered snapshot never exceeds this (the chat tools' cap).
pub const CAP: usize = 32768;
/// Longest line rendered whole, in rendered bytes.
pub const MAX_LINE: usize = 2048;
/// What a cut long line keeps at most, before the suffix.
const KEEP: usize = MAX_LINE - SUFFIX.len();
const SUFFIX: &str = " ... [truncated]";

fn marker(omitted: usize) -> String {
    format!("\n\n... [omitted {omitted} bytes] ...\n\n")
}

/// One rendered line at stream offsets `start..end`.
struct Line {
    start: usize,
    end: usize,
    text: String,
}

/// The render of `all` (every byte written so far) with the default sizes.
pub fn render(all: &[u8]) -> (String, Option<Truncation>) {
    render_sized(all, HEAD, TAIL)
}

/// The render of `all` with a head of `max_head` and a tail of `max_tail`
/// bytes.
pub fn render_sized(all: &[u8], max_head: usize, max_tail: usize) -> (String, Option<Truncation>) {
    let n = all.len();
    if n == 0 {
        return (String::new(), None);
    }
    let hn = n.min(max_head);
    let tn = hn.max(n.saturating_sub(max_tail));
    let info = |out: &str, omitted: usize| Truncation {
        original_bytes: n as u64,
        retained_bytes: out.len() as u64,
        omitted_bytes: omitted as u64,
        strategy: "head_tail".into(),
    };
    if hn == tn {
        let lines = lines(all, 0, n);
        let out: String = lines.iter().map(|l| l.text.as_str()).collect();
        if out.len() <= CAP {
            let info = (n > hn).then(|| info(&out, 0));
            return (out, info);
        }
        let (head, tail): (Vec<Line>, Vec<Line>) = lines.into_iter().partition(|l| l.start < hn);
        let (out, omitted) = fit(n, &head, &tail);
        let info = info(&out, omitted);
        return (out, Some(info));
    }
    let h = hn - incomplete_char_at_end(&all[..hn]);
    let t = tn
        + all[tn..]
            .iter()
            .take(3)
            .take_while(|&&b| b & 0xC0 == 0x80)
            .count();
    let head = lines(all, 0, h);
    let tail = lines(all, t, n);
    let mut out: String = head.iter().map(|l| l.text.as_str()).collect();
    out.push_str(&marker(t - h));
    out.extend(tail.iter().map(|l| l.text.as_str()));
    if out.len() <= CAP {
        let info = info(&out, t - h);
        return (out, Some(info));
    }
    let (out, omitted) = fit(n, &head, &tail);
    let info = info(&out, omitted);
    (out, Some(info))
}

/// Whole lines only: newest tail lines first, then the oldest head lines if
/// the whole tail fit, within the cap less the largest marker.
fn fit(n: usize, head: &[Line], tail: &[Line]) -> (String, usize) {
    let budget = CAP - marker(n).len();
    let mut used = 0;
    let mut kept_tail = Vec::new();
    for line in tail.iter().rev() {
        if used + line.text.len() > budget {
            break;
        }
        used += line.text.len();
        kept_tail.push(line);
    }
    kept_tail.reverse();
    let mut kept_head = Vec::new();
    if kept_tail.len() == tail.len() {
        for line in head {
            if used + line.text.len() > budget {
                break;
            }
            used += line.text.len();
            kept_head.push(line);
        }
    }
    let h = kept_head.last().map_or(0, |l| l.end);
    let t = kept_tail.first().map_or(n, |l| l.start);
    let mut out: String = kept_head.iter().map(|l| l.text.as_str()).collect();
    out.push_str(&marker(t - h));
    out.extend(kept_tail.iter().map(|l| l.text.as_str()));
    (out, t - h)
}

/// The lines of `all[from..to]`, each rendered.
fn lines(all: &[u8], from: usize, to: usize) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = from;
    for raw in all[from..to].split_inclusive(|&b| b == b'\n') {
        let nl = raw.last() == Some(&b'\n');
        let content = &raw[..raw.len() - usize::from(nl)];
        let mut text = String::from_utf8_lossy(content).into_owned();
        if text.len() > MAX_LINE {
            let mut cut = KEEP;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(SUFFIX);
        }
        if nl {
            text.push('\n');
        }
        lines.push(Line {
            start,
            end: start + raw.len(),
            text,
        });
        start += raw.len();
    }
    lines
}

/// How many trailing bytes of `b` are a character cut short: the shortest
/// suffix that std calls "incomplete" rather than invalid.
fn incomplete_char_at_end(b: &[u8]) -> usize {
    (1..=b.len().min(3))
        .find(|&k| {
            matches!(std::str::from_utf8(&b[b.len() - k..]),
                Err(e) if e.valid_up_to() == 0 && e.error_len().is_none())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_renders_as_written_without_truncation() {
        assert_eq!(render(b"hello\n"), ("hello\n".to_string(), None));
        assert_eq!(render(b""), (String::new(), None));
    }

    #[test]
    fn omitted_middle_shows_the_marker_between_head_and_tail() {
        let all = [&[b'A'; 10][..], &[b'M'; 80], &[b'Z'; 10]].concat();
        let (out, info) = render_sized(&all, 10, 10);
        assert_eq!(out, format!("AAAAAAAAAA{}ZZZZZZZZZZ", marker(80)));
        let info = info.expect("truncated");
        assert_eq!(
            (info.original_bytes, info.omitted_bytes, info.retained_bytes),
            (100, 80, out.len() as u64)
        );
    }

    #[test]
    fn long_lines_are_cut_to_the_line_limit() {
        let (out, _) = render(&[b'x'; 5000]);
        assert_eq!(out.len(), MAX_LINE);
        assert!(out.ends_with(SUFFIX));
    }

    #[test]
    fn the_render_never_exceeds_the_cap_even_with_invalid_bytes() {
        let all: Vec<u8> = std::iter::repeat_n(&b"\x80\x80\n"[..], 20_000)
            .flatten()
            .copied()
            .collect();
        let (out, info) = render(&all);
        assert!(out.len() <= CAP);
        assert!(info.is_some());
    }

    #[test]
    fn a_multi_byte_character_split_at_the_head_end_counts_as_omitted() {
        let mut all = vec![b'a'; 9];
        all.extend_from_slice("é".as_bytes());
        all.extend_from_slice(&[b'z'; 30]);
        let (out, info) = render_sized(&all, 10, 10);
        assert!(
            out.starts_with("aaaaaaaaa\n\n... [omitted 22 bytes]"),
            "{out:?}"
        );
        assert_eq!(info.map(|i| i.omitted_bytes), Some(22));
    }
}
