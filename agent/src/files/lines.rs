//! The line reader behind `GET /read-file-lines` (`docs/agent-api.md#files`),
//! as a pure function over the file's bytes so it can be benchmarked and
//! proptested.
//!
//! Lines are split on `\n` only (a `\r` stays on its line) and a trailing
//! newline yields a final empty line that is counted and numbered. Each line
//! is rendered `N<TAB>line`, cut to `max_line_bytes` bytes plus
//! `... [truncated]`. The response budget is all-or-nothing: if the lines
//! asked for do not fit, the answer is an error and no content.

use super::goerr::lossy_per_byte;
use super::wire::{ReadFileLinesLimits, ReadFileLinesResponse};

const TRUNCATED: &[u8] = b"... [truncated]";

/// Renders lines `offset ..` (1-based; 0 means 1) of `data`, at most `limit`
/// of them (0 means `max_response_lines`). `file_size` is reported as given
/// (the size the caller's stat saw).
pub fn number_lines(
    data: &[u8],
    file_size: u64,
    offset: u64,
    limit: u64,
    limits: &ReadFileLinesLimits,
) -> ReadFileLinesResponse {
    if data.is_empty() {
        return ReadFileLinesResponse {
            success: true,
            file_size,
            ..Default::default()
        };
    }
    let total_lines = memchr::memchr_iter(b'\n', data).count() as u64 + 1;
    let offset = offset.max(1);
    if offset > total_lines {
        return failure(format!(
            "offset {offset} is beyond the file length of {total_lines} lines"
        ));
    }
    let limit = if limit == 0 {
        limits.max_response_lines
    } else {
        limit
    };
    let wanted = limit.min(total_lines - offset + 1);

    let mut content: Vec<u8> = Vec::new();
    let mut lines_read: u64 = 0;
    for (index, line) in lines_from(data, offset)
        .take(usize::try_from(wanted).unwrap_or(usize::MAX))
        .enumerate()
    {
        let number = offset + index as u64;
        let (body, truncated) = match usize::try_from(limits.max_line_bytes) {
            Ok(max) if line.len() > max => (&line[..max], true),
            _ => (line, false),
        };
        let rendered_len =
            decimal_len(number) + 1 + body.len() + if truncated { TRUNCATED.len() } else { 0 };
        let joiner = usize::from(lines_read > 0);
        let new_total = (content.len() + joiner + rendered_len) as u64;
        if new_total > limits.max_response_bytes {
            return failure(format!(
                "output would exceed {} bytes. Read less at a time using offset and limit parameters.",
                limits.max_response_bytes
            ));
        }
        if lines_read >= limits.max_response_lines {
            return failure(format!(
                "output would exceed {} lines. Read less at a time using offset and limit parameters.",
                limits.max_response_lines
            ));
        }
        if joiner == 1 {
            content.push(b'\n');
        }
        content.extend_from_slice(number.to_string().as_bytes());
        content.push(b'\t');
        content.extend_from_slice(body);
        if truncated {
            content.extend_from_slice(TRUNCATED);
        }
        lines_read += 1;
    }
    ReadFileLinesResponse {
        success: true,
        file_size,
        total_lines,
        lines_read,
        content: lossy_per_byte(&content),
        error: String::new(),
    }
}

/// An unsuccessful answer (still HTTP 200).
pub fn failure(error: String) -> ReadFileLinesResponse {
    ReadFileLinesResponse {
        success: false,
        error,
        ..Default::default()
    }
}

/// The lines of `data` (without their `\n`) starting at 1-based `first`.
fn lines_from(data: &[u8], first: u64) -> impl Iterator<Item = &[u8]> {
    let start = if first <= 1 {
        0
    } else {
        let skip = usize::try_from(first - 2).unwrap_or(usize::MAX);
        memchr::memchr_iter(b'\n', data)
            .nth(skip)
            .map_or(data.len(), |nl| nl + 1)
    };
    data[start..].split(|&b| b == b'\n')
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        data: &str,
        offset: u64,
        limit: u64,
        limits: ReadFileLinesLimits,
        want: Result<(&str, u64, u64), &str>,
    ) {
        let got = number_lines(data.as_bytes(), data.len() as u64, offset, limit, &limits);
        match want {
            Ok((content, total, read)) => {
                assert!(got.success, "{data:?}: {got:?}");
                assert_eq!(
                    (got.content.as_str(), got.total_lines, got.lines_read),
                    (content, total, read),
                    "{data:?}"
                );
            }
            Err(error) => {
                assert!(!got.success, "{data:?}: {got:?}");
                assert_eq!(got.error, error);
                assert_eq!(got.content, "");
            }
        }
    }

    fn defaults() -> ReadFileLinesLimits {
        ReadFileLinesLimits::default()
    }

    #[test]
    fn trailing_newline_is_a_numbered_empty_line() {
        check("a\nb\n", 0, 0, defaults(), Ok(("1\ta\n2\tb\n3\t", 3, 3)));
    }

    #[test]
    fn carriage_returns_stay_on_their_line() {
        check("a\r\nb", 1, 0, defaults(), Ok(("1\ta\r\n2\tb", 2, 2)));
    }

    #[test]
    fn offset_and_limit_select_a_range() {
        check("l1\nl2\nl3", 2, 1, defaults(), Ok(("2\tl2", 3, 1)));
        check("l1\nl2\nl3", 3, 10, defaults(), Ok(("3\tl3", 3, 1)));
        check(
            "l1\nl2\nl3",
            4,
            0,
            defaults(),
            Err("offset 4 is beyond the file length of 3 lines"),
        );
    }

    #[test]
    fn byte_budget_counts_numbers_tabs_and_joiners() {
        // "1\tab" (4) + "\n" + "2\tcd" (4) = 9 bytes.
        let fits = ReadFileLinesLimits {
            max_response_bytes: 9,
            ..defaults()
        };
        check("ab\ncd", 1, 0, fits, Ok(("1\tab\n2\tcd", 2, 2)));
        let tight = ReadFileLinesLimits {
            max_response_bytes: 8,
            ..defaults()
        };
        check(
            "ab\ncd",
            1,
            0,
            tight,
            Err(
                "output would exceed 8 bytes. Read less at a time using offset and limit parameters.",
            ),
        );
    }

    #[test]
    fn line_budget_only_bites_when_limit_exceeds_it() {
        let two = ReadFileLinesLimits {
            max_response_lines: 2,
            ..defaults()
        };
        check("a\nb\nc", 1, 0, two, Ok(("1\ta\n2\tb", 3, 2)));
        check(
            "a\nb\nc",
            1,
            3,
            two,
            Err(
                "output would exceed 2 lines. Read less at a time using offset and limit parameters.",
            ),
        );
    }

    #[test]
    fn long_lines_are_cut_in_bytes() {
        let small = ReadFileLinesLimits {
            max_line_bytes: 3,
            ..defaults()
        };
        check(
            "abcdef\nxy",
            1,
            0,
            small,
            Ok(("1\tabc... [truncated]\n2\txy", 2, 2)),
        );
    }

    #[test]
    fn empty_file_is_success_with_nothing() {
        let got = number_lines(b"", 0, 5, 5, &defaults());
        assert_eq!(
            got,
            ReadFileLinesResponse {
                success: true,
                ..Default::default()
            }
        );
    }
}
