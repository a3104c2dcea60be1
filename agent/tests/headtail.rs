//! The head/tail buffer's contract: one test per upstream test of the
//! original buffer (same names, snake_case), then one per improvement, B1..B8
//! in `docs/races.md`.

use std::sync::Arc;

use agent::headtail::{
    HeadTailBuffer, LINE_TRUNCATION_SUFFIX, MAX_HEAD_BYTES, MAX_LINE_LENGTH, MAX_RENDERED_BYTES,
    MAX_TAIL_BYTES, Truncation,
};

/// A buffer of `(max_head, max_tail)` after `writes`.
fn filled(max_head: usize, max_tail: usize, writes: &[&[u8]]) -> HeadTailBuffer {
    let buf = HeadTailBuffer::sized(max_head, max_tail);
    for w in writes {
        assert_eq!(buf.write(w), w.len());
    }
    buf
}

/// Checks the snapshot, and that the info is absent (`None`) or reports
/// `original` / `omitted` with `retained` equal to the snapshot's length.
#[track_caller]
fn check_output(buf: &HeadTailBuffer, want: &str, info: Option<(u64, u64)>) {
    let (out, got) = buf.output();
    assert_eq!(out, want);
    let want_info = info.map(|(original, omitted)| Truncation {
        original_bytes: original,
        retained_bytes: want.len() as u64,
        omitted_bytes: omitted,
        strategy: "head_tail".into(),
    });
    assert_eq!(got, want_info);
}

fn marker(omitted: u64) -> String {
    format!("\n\n... [omitted {omitted} bytes] ...\n\n")
}

// ---- upstream tests -------------------------------------------------------

#[test]
fn empty_buffer() {
    let buf = HeadTailBuffer::new();
    check_output(&buf, "", None);
    assert_eq!(buf.len(), 0);
    assert!(buf.is_empty());
    assert_eq!(buf.total_written(), 0);
    assert!(buf.bytes().is_empty());
}

#[test]
fn small_output() {
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[b"hello world\n"]);
    check_output(&buf, "hello world\n", None);
    assert_eq!(buf.len(), 12);
    assert_eq!(buf.total_written(), 12);
}

#[test]
fn exactly_head_size() {
    let data = "x".repeat(MAX_HEAD_BYTES);
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[data.as_bytes()]);
    // One 16 KiB line: the line limit still applies, the info does not.
    let want = format!("{}{LINE_TRUNCATION_SUFFIX}", "x".repeat(2032));
    check_output(&buf, &want, None);
    let lines = "0123456789abcde\n".repeat(MAX_HEAD_BYTES / 16);
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[lines.as_bytes()]);
    check_output(&buf, &lines, None);
    assert_eq!(buf.len(), MAX_HEAD_BYTES);
}

#[test]
fn head_plus_tail_no_omission() {
    let buf = filled(10, 10, &[b"0123456789", b"abcdefghij"]);
    // Joined exactly as written: no marker, no fabricated newline (W3).
    check_output(&buf, "0123456789abcdefghij", Some((20, 0)));
}

#[test]
fn large_output_truncation() {
    let data = format!("{}{}{}", "A".repeat(10), "M".repeat(80), "Z".repeat(10));
    let buf = filled(10, 10, &[data.as_bytes()]);
    let want = format!("{}{}{}", "A".repeat(10), marker(80), "Z".repeat(10));
    check_output(&buf, &want, Some((100, 80)));
    assert!(want.contains("... [omitted 80 bytes] ..."));
    assert_eq!(buf.len(), 20);
}

#[test]
fn multi_mb_stays_bounded() {
    let buf = HeadTailBuffer::new();
    let chunk: Vec<u8> = (0..4097u32)
        .map(|i| b"abcdefghij\n"[i as usize % 11])
        .collect();
    let mut written = 0u64;
    while written < 5 << 20 {
        buf.write(&chunk);
        written += chunk.len() as u64;
    }
    assert_eq!(buf.total_written(), written);
    assert_eq!(buf.len(), MAX_HEAD_BYTES + MAX_TAIL_BYTES);
    let (out, info) = buf.output();
    let info = info.expect("truncated");
    assert!(out.len() <= MAX_RENDERED_BYTES);
    assert_eq!(info.original_bytes, written);
    assert_eq!(info.retained_bytes, out.len() as u64);
    assert!(info.omitted_bytes > 0);
}

#[test]
fn long_line_truncation() {
    let line = "L".repeat(2548);
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[line.as_bytes(), b"\n"]);
    let (out, info) = buf.output();
    assert_eq!(info, None);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].len(), MAX_LINE_LENGTH);
    assert!(lines[0].ends_with("... [truncated]"));
    assert_eq!(
        out,
        format!("{}{LINE_TRUNCATION_SUFFIX}\n", "L".repeat(2032))
    );
}

#[test]
fn long_line_in_tail() {
    let long = "T".repeat(3000);
    let buf = filled(
        20,
        5000,
        &[
            b"head line here\nmore\n",
            b"x\n",
            long.as_bytes(),
            b"\nend\n",
        ],
    );
    let (out, info) = buf.output();
    assert!(out.contains("... [truncated]"), "{out}");
    assert_eq!(info.map(|i| i.omitted_bytes), Some(0));
    assert!(out.ends_with(&format!(
        "{}{LINE_TRUNCATION_SUFFIX}\nend\n",
        "T".repeat(2032)
    )));
}

#[test]
fn concurrent_writes() {
    check_concurrent_writers(10, 1000);
}

#[test]
fn truncation_info_fields() {
    let buf = filled(10, 10, &[&[b'q'; 50]]);
    let (out, info) = buf.output();
    let info = info.expect("truncated");
    assert_eq!(info.original_bytes, 50);
    assert_eq!(info.omitted_bytes, 30);
    assert_eq!(info.retained_bytes, out.len() as u64);
    assert!(info.retained_bytes > 0);
    assert_eq!(info.strategy, "head_tail");
    // Field order on the wire.
    assert_eq!(
        serde_json::to_string(&info).expect("json"),
        format!(
            r#"{{"original_bytes":50,"retained_bytes":{},"omitted_bytes":30,"strategy":"head_tail"}}"#,
            out.len()
        )
    );
}

#[test]
fn multiple_small_writes() {
    let buf = HeadTailBuffer::new();
    for b in b"hello world" {
        buf.write(&[*b]);
    }
    check_output(&buf, "hello world", None);
}

#[test]
fn write_empty_slice() {
    let buf = HeadTailBuffer::new();
    assert_eq!(buf.write(b""), 0);
    assert_eq!(buf.total_written(), 0);
    check_output(&buf, "", None);
}

#[test]
fn reset() {
    let buf = filled(10, 10, &[&[b'r'; 100]]);
    buf.close();
    buf.reset();
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.total_written(), 0);
    assert!(!buf.is_closed());
    check_output(&buf, "", None);
    buf.write(b"again");
    check_output(&buf, "again", None);
}

#[test]
fn bytes_returns_copy() {
    let buf = filled(4, 4, &[b"abcdefghij"]);
    let mut copy = buf.bytes();
    assert_eq!(copy, b"abcdghij");
    copy.fill(b'!');
    assert_eq!(buf.bytes(), b"abcdghij");
}

#[test]
fn ring_buffer_wraparound() {
    let buf = filled(5, 10, &[b"01234", b"0123456789", b"abcdefghij", b"ABCDE"]);
    let (out, info) = buf.output();
    assert!(out.ends_with("fghijABCDE"), "{out:?}");
    assert_eq!(out, format!("01234{}fghijABCDE", marker(15)));
    assert_eq!(info.map(|i| i.omitted_bytes), Some(15));
}

#[test]
fn multiple_lines_truncated() {
    let text = format!("short one\n{}\nshort two\n", "m".repeat(5000));
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[text.as_bytes()]);
    let (out, _) = buf.output();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "short one");
    assert!(lines[1].ends_with("... [truncated]"));
    assert_eq!(lines[1].len(), MAX_LINE_LENGTH);
    assert_eq!(lines[2], "short two");
}

// ---- improvements (B1..B8) ------------------------------------------------

/// `writers` threads each write `lines` numbered lines; totals add up, the
/// retained bytes stay bounded and every snapshot stays under the cap.
fn check_concurrent_writers(writers: usize, lines: usize) {
    let buf = Arc::new(HeadTailBuffer::new());
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let buf = Arc::clone(&buf);
            std::thread::spawn(move || {
                let mut written = 0u64;
                for i in 0..lines {
                    let line = format!("writer {w} line {i}\n");
                    written += buf.write(line.as_bytes()) as u64;
                    if i % 97 == 0 {
                        let (out, _) = buf.output();
                        assert!(out.len() <= MAX_RENDERED_BYTES);
                    }
                }
                written
            })
        })
        .collect();
    let written: u64 = handles.into_iter().map(|h| h.join().expect("writer")).sum();
    assert_eq!(buf.total_written(), written);
    assert_eq!(
        buf.len() as u64,
        written.min((MAX_HEAD_BYTES + MAX_TAIL_BYTES) as u64)
    );
    let (out, info) = buf.output();
    assert!(out.len() <= MAX_RENDERED_BYTES);
    let info = info.expect("past the head");
    assert_eq!(info.original_bytes, written);
    assert_eq!(info.retained_bytes, out.len() as u64);
    // Writes are never interleaved: apart from the head's last line and the
    // tail's first (cut by the head/tail boundaries), every line is whole.
    let (head, tail) = out.split_once(&marker(info.omitted_bytes)).expect("marker");
    let head_lines: Vec<&str> = head.lines().collect();
    let inner = head_lines[..head_lines.len() - 1]
        .iter()
        .copied()
        .chain(tail.lines().skip(1));
    for line in inner {
        let words: Vec<&str> = line.split(' ').collect();
        assert!(
            matches!(words[..], ["writer", w, "line", i] if w.parse::<usize>().is_ok() && i.parse::<usize>().is_ok()),
            "{line:?}"
        );
    }
}

#[test]
fn eight_writer_threads_keep_totals_and_bounds() {
    check_concurrent_writers(8, 20_000);
}

/// Renders `writes` into a `(max_head, max_tail)` buffer and compares with
/// `want` and the omitted count (`None` = no info).
#[track_caller]
fn check_render(
    max_head: usize,
    max_tail: usize,
    writes: &[&[u8]],
    want: &str,
    omitted: Option<u64>,
) {
    let buf = filled(max_head, max_tail, writes);
    let total = writes.iter().map(|w| w.len() as u64).sum();
    check_output(&buf, want, omitted.map(|o| (total, o)));
}

#[test]
fn no_cut_splits_a_multibyte_character() {
    let euro = "€".as_bytes(); // E2 82 AC
    // Head ends inside "€": its first two bytes are dropped, counted omitted.
    check_render(
        5,
        3,
        &[b"abc", euro, b"-----", b"xyz"],
        &format!("abc{}xyz", marker(8)),
        Some(8),
    );
    // Tail starts inside "€": its last byte is skipped.
    check_render(
        3,
        4,
        &[b"abc", b"-----", euro, b"xyz"],
        &format!("abc{}xyz", marker(8)),
        Some(8),
    );
    // Both at once, with a 4-byte character at the tail start.
    let smile = "😀".as_bytes();
    check_render(
        4,
        6,
        &[b"ab", euro, b"-", smile, b"wxyz"],
        &format!("ab{}wxyz", marker(8)),
        Some(8),
    );
    // A whole character right at a cut is kept.
    check_render(
        5,
        5,
        &[b"ab", euro, b"-", euro, b"yz"],
        &format!("ab€{}€yz", marker(1)),
        Some(1),
    );
}

#[test]
fn line_truncation_never_splits_a_character() {
    // 2031 ASCII bytes then "€": byte 2032 falls inside it, so the line
    // keeps 2031 bytes (2047 with the suffix).
    let line = format!("{}€{}\n", "a".repeat(2031), "b".repeat(100));
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[line.as_bytes()]);
    check_output(
        &buf,
        &format!("{}{LINE_TRUNCATION_SUFFIX}\n", "a".repeat(2031)),
        None,
    );
}

#[test]
fn invalid_bytes_become_one_replacement_per_maximal_subpart() {
    // A truncated sequence (E2 82) is one U+FFFD; stray bytes one each.
    check_render(
        64,
        64,
        &[b"a\xE2\x82b\x80\x80c\xFFd"],
        "a\u{FFFD}b\u{FFFD}\u{FFFD}c\u{FFFD}d",
        None,
    );
    // Line lengths count the replacement's three bytes: 700 stray bytes
    // render as 2100 bytes and are cut.
    let line = [0x80u8; 700];
    let want = format!("{}{LINE_TRUNCATION_SUFFIX}", "\u{FFFD}".repeat(677));
    check_render(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[&line], &want, None);
}

#[test]
fn a_line_across_head_and_tail_stays_one_line_when_nothing_is_omitted() {
    let line = "w".repeat(20_000);
    let buf = filled(MAX_HEAD_BYTES, MAX_TAIL_BYTES, &[line.as_bytes(), b"\n"]);
    check_output(
        &buf,
        &format!("{}{LINE_TRUNCATION_SUFFIX}\n", "w".repeat(2032)),
        Some((20_001, 0)),
    );
}

#[test]
fn the_snapshot_never_exceeds_the_tools_cap_and_keeps_the_newest_bytes() {
    // 80-byte lines fill head and tail: head + marker + tail would be
    // ~32,800 bytes. The head gives up its last lines; the tail stays whole.
    let buf = HeadTailBuffer::new();
    let mut all = Vec::new();
    for i in 0..2000 {
        let line = format!("{i:079}\n");
        buf.write(line.as_bytes());
        all.extend_from_slice(line.as_bytes());
    }
    let (out, info) = buf.output();
    let info = info.expect("truncated");
    assert!(out.len() <= MAX_RENDERED_BYTES, "{}", out.len());
    let tail = &all[all.len() - MAX_TAIL_BYTES..];
    assert!(out.as_bytes().ends_with(tail));
    let head_shown = out.find("\n\n... [omitted").expect("marker");
    assert_eq!(&out.as_bytes()[..head_shown], &all[..head_shown]);
    assert_eq!(head_shown % 80, 0, "the head keeps whole lines");
    assert_eq!(
        info.omitted_bytes,
        all.len() as u64 - head_shown as u64 - MAX_TAIL_BYTES as u64
    );
}

#[test]
fn a_zero_head_still_renders_the_tail() {
    check_render(
        0,
        8,
        &[b"abcdefghijkl"],
        &format!("{}efghijkl", marker(4)),
        Some(4),
    );
}

#[test]
fn a_zero_tail_reports_what_went_past_the_head() {
    check_render(
        4,
        0,
        &[b"abcdefghijkl"],
        &format!("abcd{}", marker(8)),
        Some(8),
    );
}

#[test]
fn a_write_larger_than_the_ring_keeps_its_last_bytes() {
    let big: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let buf = filled(3, 16, &[b"xy", &big, b"!"]);
    let mut want = b"xya".to_vec();
    want.extend_from_slice(&big[big.len() - 15..]);
    want.push(b'!');
    assert_eq!(buf.bytes(), want);
}

#[test]
fn snapshots_taken_during_writes_are_consistent() {
    // A writer appends numbered lines; every snapshot's tail must be a run
    // of consecutive lines (a torn snapshot would mix old and new ring bytes).
    let buf = Arc::new(HeadTailBuffer::sized(0, 4096));
    let writer = {
        let buf = Arc::clone(&buf);
        std::thread::spawn(move || {
            for i in 0..200_000u32 {
                buf.write(format!("{i:09}\n").as_bytes());
            }
        })
    };
    let mut checked = 0;
    while !writer.is_finished() || checked == 0 {
        let (out, _) = buf.output();
        let Some((_, tail)) = out.rsplit_once(" ...\n\n") else {
            continue;
        };
        let numbers: Vec<u32> = tail
            .lines()
            .filter(|l| l.len() == 9)
            .map(|l| l.parse().expect("number"))
            .collect();
        for pair in numbers.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "torn snapshot");
        }
        checked += 1;
    }
    writer.join().expect("writer");
}
