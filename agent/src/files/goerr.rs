//! Error texts in the shape the Go agent produced them.
//!
//! The file API's messages reach the LLM verbatim (and upstream tests match
//! on them), so they follow Go: a failed filesystem call reads
//! `<op> <path>: <reason>` with Go's lowercase reason (`file does not
//! exist`, `permission denied`, `not a directory`), and quoted paths use Go's
//! `%q` rules. The reason is derived from the `io::ErrorKind` first, so the
//! real and the simulated filesystem produce identical texts.

use std::fmt;
use std::io;
use std::path::Path;

/// A failed filesystem call on one path (Go's `*os.PathError`).
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {reason}", reason = reason(.source))]
pub struct PathError {
    pub op: &'static str,
    pub path: String,
    #[source]
    pub source: io::Error,
}

impl PathError {
    pub fn new(op: &'static str, path: &Path, source: io::Error) -> Self {
        PathError {
            op,
            path: path.display().to_string(),
            source,
        }
    }

    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

/// Go's text for an I/O error: the `os.Err*` sentinel texts for the kinds the
/// API distinguishes, else the OS message without Rust's `(os error N)`
/// suffix and with a lowercase first letter, as `strerror` reads in Go.
pub fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "file does not exist".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::NotADirectory => "not a directory".into(),
        io::ErrorKind::IsADirectory => "is a directory".into(),
        io::ErrorKind::AlreadyExists => "file already exists".into(),
        _ => {
            let text = e.to_string();
            if e.raw_os_error().is_none() {
                return text;
            }
            let text = match text.find(" (os error ") {
                Some(i) => &text[..i],
                None => text.as_str(),
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

/// Formats `s` the way Go's `%q` verb does: double quotes, with `"` and `\`
/// escaped, the usual short escapes, and other control characters as
/// `\xNN` / `\uNNNN`. Printable Unicode stays as it is.
pub fn quote(s: &str) -> String {
    struct Quoted<'a>(&'a str);
    impl fmt::Display for Quoted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("\"")?;
            for c in self.0.chars() {
                match c {
                    '"' => f.write_str("\\\"")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\t' => f.write_str("\\t")?,
                    '\r' => f.write_str("\\r")?,
                    '\u{7}' => f.write_str("\\a")?,
                    '\u{8}' => f.write_str("\\b")?,
                    '\u{c}' => f.write_str("\\f")?,
                    '\u{b}' => f.write_str("\\v")?,
                    c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\x{:02x}", c as u32)?,
                    c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")
        }
    }
    Quoted(s).to_string()
}

/// Bytes to text the way Go's JSON encoder does it: every byte of an invalid
/// UTF-8 sequence becomes one U+FFFD (Rust's `from_utf8_lossy` would
/// collapse a truncated sequence into a single one).
pub fn lossy_per_byte(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for _ in chunk.invalid() {
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_like_go() {
        let cases = [
            (io::ErrorKind::NotFound, "file does not exist"),
            (io::ErrorKind::PermissionDenied, "permission denied"),
            (io::ErrorKind::NotADirectory, "not a directory"),
            (io::ErrorKind::IsADirectory, "is a directory"),
        ];
        for (kind, want) in cases {
            assert_eq!(reason(&io::Error::from(kind)), want);
        }
        assert_eq!(
            reason(&io::Error::from_raw_os_error(28)),
            "no space left on device"
        );
        assert_eq!(reason(&io::Error::other("rename failed")), "rename failed");
    }

    #[test]
    fn path_error_reads_op_path_reason() {
        let e = PathError::new(
            "open",
            Path::new("/tmp/x"),
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert_eq!(e.to_string(), "open /tmp/x: file does not exist");
    }

    #[test]
    fn quote_follows_go_percent_q() {
        let cases = [
            ("relative/path", r#""relative/path""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\there\n", r#""tab\there\n""#),
            ("\u{1}é", r#""\x01é""#),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "{input:?}");
        }
    }

    #[test]
    fn every_invalid_byte_becomes_one_replacement_character() {
        assert_eq!(lossy_per_byte(b"ok"), "ok");
        // A truncated 3-byte sequence is two invalid bytes: two U+FFFD.
        assert_eq!(lossy_per_byte(b"a\xe2\x82b"), "a\u{fffd}\u{fffd}b");
    }
}
