//! Go-compatible text encodings the LLM sees: `json.Marshal` output and
//! `%q` quoting.
//!
//! The original tools marshal their results with Go's `json.Marshal`, which
//! HTML-escapes `<`, `>` and `&` and escapes U+2028 / U+2029 (the SDK's request
//! bodies do not). Field order comes from the Rust types: structs keep
//! declaration order, maps are `BTreeMap`s (Go sorts map keys).

use serde::Serialize;

/// Encodes `value` as Go's `json.Marshal` would (compact, HTML-escaped).
pub fn marshal<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let plain = serde_json::to_string(value)?;
    Ok(html_escape(&plain))
}

/// Applies Go's HTML-safe escapes to compact JSON. These characters can only
/// occur inside JSON strings, so a plain replacement is exact.
fn html_escape(json: &str) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `%q` (`strconv.Quote`) for the strings tools echo back in errors.
///
/// ASCII is exact. Beyond ASCII, Go keeps printable characters and escapes
/// the rest; we approximate "printable" as neither a control character nor
/// whitespace (Go's `IsPrint` also rejects a few format characters).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if c.is_control() || c.is_whitespace() || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xFFFF {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marshal_escapes_html_like_go() {
        let v = serde_json::json!({"output": "a && b <x> \u{2028}", "n": 1});
        assert_eq!(
            marshal(&v).unwrap(),
            r#"{"output":"a \u0026\u0026 b \u003cx\u003e \u2028","n":1}"#
        );
    }

    #[test]
    fn marshal_escapes_control_characters_like_go() {
        let v = serde_json::json!("\u{1b}[0m\t\n\r\u{8}\u{c}\u{7f}");
        // DEL passes through unescaped in both encoders.
        assert_eq!(marshal(&v).unwrap(), "\"\\u001b[0m\\t\\n\\r\\b\\f\u{7f}\"");
    }

    proptest::proptest! {
        #[test]
        fn marshalled_strings_decode_back_unchanged(s in "\\PC*|[<>&\u{2028}\u{2029}\"\\\\\u{0}-\u{1f}]*") {
            let text = marshal(&s).unwrap();
            proptest::prop_assert!(!text.contains(['<', '>', '&']));
            let back: String = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn quote_matches_go_percent_q() {
        for (input, want) in [
            ("30", r#""30""#),
            ("", r#""""#),
            (r#"a"b\c"#, r#""a\"b\\c""#),
            ("tab\there\n", r#""tab\there\n""#),
            ("\u{1b}\u{7f}", r#""\x1b\x7f""#),
            ("héllo ✓", r#""héllo ✓""#),
            ("nb\u{a0}sp", r#""nb\u00a0sp""#),
        ] {
            assert_eq!(quote(input), want, "{input:?}");
        }
    }
}
