//! UTF-8 helpers for the snapshot: where a cut may fall, and how invalid
//! bytes are replaced.
//!
//! Invalid input is decoded the way [`String::from_utf8_lossy`] does it: each
//! *maximal invalid subpart* (Unicode's "substitution of maximal subparts",
//! the WHATWG encoding standard's rule) becomes one U+FFFD. So a truncated
//! sequence such as `E2 82` followed by `A` gives one U+FFFD then `A`, while
//! a stray `80 80` gives two. Go's JSON encoder, which the original relied
//! on, replaces every invalid byte with its own U+FFFD instead; the two agree
//! on lone bytes and differ on truncated multi-byte sequences.

/// Length of a trailing *incomplete* character at the end of `bytes`: a lead
/// byte followed by fewer continuation bytes than it announces, all of them
/// valid so far (e.g. `E2 82` of `E2 82 AC`). Such a tail is what a byte cut
/// through a character leaves behind; 0 when `bytes` ends on a complete
/// character or on bytes that are invalid anyway.
pub(super) fn incomplete_suffix_len(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(3) {
        let b = bytes[n - back];
        if is_continuation(b) {
            continue;
        }
        let width = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return 0,
        };
        if back >= width {
            return 0;
        }
        // `error_len() == None` is std's own verdict "valid so far, cut short".
        return match std::str::from_utf8(&bytes[n - back..]) {
            Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => back,
            _ => 0,
        };
    }
    0
}

/// Whether `b` is a UTF-8 continuation byte (`10xx_xxxx`).
#[inline]
pub(super) fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The largest char boundary of `s` at or below `at` (std's
/// `floor_char_boundary` is newer than our minimum Rust version).
pub(super) fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_incomplete(bytes: &[u8], want: usize) {
        assert_eq!(incomplete_suffix_len(bytes), want, "{bytes:02x?}");
    }

    #[test]
    fn incomplete_suffix_is_a_cut_character_only() {
        check_incomplete(b"", 0);
        check_incomplete(b"abc", 0);
        check_incomplete("a€".as_bytes(), 0);
        check_incomplete(&"a€".as_bytes()[..3], 2);
        check_incomplete(&"a€".as_bytes()[..2], 1);
        check_incomplete(&"😀".as_bytes()[..3], 3);
        check_incomplete(&"😀".as_bytes()[..1], 1);
        // Invalid, not incomplete: an overlong lead, a lone continuation, a
        // surrogate lead pair, a lead followed by ASCII.
        check_incomplete(&[b'a', 0xC0], 0);
        check_incomplete(&[b'a', 0x80], 0);
        check_incomplete(&[0xED, 0xA0], 0);
        check_incomplete(&[0xE2, b'a'], 0);
        check_incomplete(&[0x80, 0x80, 0x80], 0);
    }

    #[test]
    fn floor_char_boundary_backs_off_to_a_character_start() {
        let s = "ab€";
        assert_eq!(floor_char_boundary(s, 3), 2);
        assert_eq!(floor_char_boundary(s, 4), 2);
        assert_eq!(floor_char_boundary(s, 5), 5);
        assert_eq!(floor_char_boundary(s, 9), 5);
    }

    #[test]
    fn lossy_replaces_each_maximal_invalid_subpart_once() {
        // `E2 82` is one truncated sequence: one U+FFFD; two stray
        // continuation bytes: two.
        assert_eq!(String::from_utf8_lossy(&[0xE2, 0x82, b'A']), "\u{FFFD}A");
        assert_eq!(String::from_utf8_lossy(&[0x80, 0x80]), "\u{FFFD}\u{FFFD}");
    }
}
