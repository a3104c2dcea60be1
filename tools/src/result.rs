//! What a tool hands back to the LLM: [`ToolResult`] (text + error flag),
//! the execute family's [`ExecuteResult`] JSON, the 32 KiB output cap and the
//! file-dump advisory note (`docs/design.md#clients`).

use std::sync::LazyLock;

use agent_sdk::{ProcessOutputResponse, Truncation};
use regex::Regex;
use serde::Serialize;

use crate::gojson;

/// The most process output handed to the model (`maxOutputToModel`).
pub const MAX_OUTPUT_TO_MODEL: usize = 32 << 10;

/// The note added to foreground commands that dump files.
pub const FILE_DUMP_NOTE: &str =
    "Consider using read_file instead of dumping file contents with shell commands.";

/// The note process_output adds while the process runs.
pub const STILL_RUNNING_NOTE: &str = "process is still running";

/// A tool's answer: text content, flagged when it is an error response.
///
/// "Error response" = plain text with `is_error`; "JSON result" = text holding
/// a JSON object, not flagged, even when it reports a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolResult {
    pub text: String,
    pub is_error: bool,
}

impl ToolResult {
    /// An error response (`NewTextErrorResponse`).
    pub fn error(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            is_error: true,
        }
    }

    /// A JSON result encoded as Go's `json.Marshal` would.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match gojson::marshal(value) {
            Ok(text) => ToolResult {
                text,
                is_error: false,
            },
            Err(e) => ToolResult::error(e.to_string()),
        }
    }

    /// The text parsed as JSON (key order kept), when it is JSON.
    pub fn parsed(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.text).ok()
    }
}

/// The execute family's result object. Field order is the JSON order; `exit_code`
/// and `wall_duration_ms` are never omitted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExecuteResult {
    pub success: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    pub exit_code: i64,
    pub wall_duration_ms: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncation>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub background_process_id: String,
}

impl ExecuteResult {
    /// The "error JSON" helper: `{success: false, exit_code: 0,
    /// wall_duration_ms: 0, error}`.
    pub fn failure(error: impl Into<String>) -> Self {
        ExecuteResult {
            error: error.into(),
            ..Default::default()
        }
    }

    /// An exited process: success iff the exit code (absent ⇒ 0) is 0.
    pub fn completed(resp: &ProcessOutputResponse) -> Self {
        let exit_code = exit_code(resp);
        ExecuteResult {
            success: exit_code == 0,
            output: truncate_output(&resp.output).to_string(),
            exit_code,
            truncated: resp.truncated.clone(),
            ..Default::default()
        }
    }

    /// A process still running when the caller stops waiting: partial output,
    /// exit code −1 and the id to re-attach with.
    pub fn still_running(resp: &ProcessOutputResponse, id: &str, error: String) -> Self {
        ExecuteResult {
            success: false,
            output: truncate_output(&resp.output).to_string(),
            exit_code: -1,
            error,
            truncated: resp.truncated.clone(),
            background_process_id: id.to_string(),
            ..Default::default()
        }
    }

    pub fn into_tool_result(self) -> ToolResult {
        ToolResult::json(&self)
    }
}

/// The exit code of an answer, absent ⇒ 0.
pub fn exit_code(resp: &ProcessOutputResponse) -> i64 {
    resp.exit_code.map(i64::from).unwrap_or(0)
}

/// Caps `output` at [`MAX_OUTPUT_TO_MODEL`] bytes, dropping a character the
/// cut would split, so the result is always valid UTF-8 (B5 in
/// `docs/races.md`).
pub fn truncate_output(output: &str) -> &str {
    truncate_at(output, MAX_OUTPUT_TO_MODEL)
}

/// The longest prefix of `output` of at most `cap` bytes that ends on a
/// character boundary (Go: cut, then drop the invalid bytes of the cut).
fn truncate_at(output: &str, cap: usize) -> &str {
    if output.len() <= cap {
        return output;
    }
    let mut end = cap;
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    &output[..end]
}

/// RE2 patterns of commands that dump whole files.
static FILE_DUMP_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^cat\s+",
        r"^(rg|grep)\s+.*--include-all",
        r"^(rg|grep)\s+-l\s+",
    ]
    .into_iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// The advisory note for a command that dumps file contents, if it does.
pub fn detect_file_dump(command: &str) -> Option<&'static str> {
    FILE_DUMP_PATTERNS
        .iter()
        .any(|re| re.is_match(command))
        .then_some(FILE_DUMP_NOTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_dump_detection_matches_the_upstream_cases() {
        // (name, command, note expected): TestDetectFileDump plus edges.
        for (name, command, hit) in [
            ("CatFile", "cat foo.txt", true),
            ("NotCatPrefix", "concatenate foo", false),
            ("GrepIncludeAll", "grep -r foo --include-all .", true),
            ("RgListFiles", "rg -l foo", true),
            ("GrepRecursive", "grep -r x", false),
            ("LeadingWhitespace", "  cat foo.txt", false),
            ("Sudo", "sudo cat foo.txt", false),
            ("CatTab", "cat\tfoo", true),
            ("CatAlone", "cat", false),
            ("GrepListFiles", "grep -l x .", true),
        ] {
            let got = detect_file_dump(command);
            assert_eq!(got.is_some(), hit, "{name}: {command:?}");
            if hit {
                assert_eq!(got, Some(FILE_DUMP_NOTE));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn truncation_keeps_the_longest_whole_character_prefix(
            s in "[a-z€😀é]{0,24}",
            cap in 0usize..40,
        ) {
            let cut = truncate_at(&s, cap);
            proptest::prop_assert!(s.starts_with(cut));
            proptest::prop_assert!(cut.len() <= cap);
            if s.len() <= cap {
                proptest::prop_assert_eq!(cut, s.as_str());
            } else {
                // The next character would not have fitted.
                let next = s[cut.len()..].chars().next().map_or(0, char::len_utf8);
                proptest::prop_assert!(cut.len() + next > cap);
            }
        }
    }

    #[test]
    fn output_at_the_cap_is_kept_whole() {
        let s = "a".repeat(MAX_OUTPUT_TO_MODEL);
        assert_eq!(truncate_output(&s).len(), MAX_OUTPUT_TO_MODEL);
        assert_eq!(truncate_output("short"), "short");
    }

    #[test]
    fn output_over_the_cap_is_cut_at_the_cap() {
        let s = "a".repeat(MAX_OUTPUT_TO_MODEL + 10);
        assert_eq!(truncate_output(&s).len(), MAX_OUTPUT_TO_MODEL);
    }

    #[test]
    fn a_cut_inside_a_multibyte_character_drops_the_character() {
        // "€" is 3 bytes; place one so it straddles the cap at each offset.
        for before in 1..=2 {
            let s = format!("{}€tail", "a".repeat(MAX_OUTPUT_TO_MODEL - before));
            let cut = truncate_output(&s);
            assert_eq!(cut.len(), MAX_OUTPUT_TO_MODEL - before, "offset {before}");
            assert!(cut.chars().all(|c| c == 'a'));
        }
        let s = format!("{}€tail", "a".repeat(MAX_OUTPUT_TO_MODEL - 3));
        assert!(truncate_output(&s).ends_with('€'));
    }

    #[test]
    fn execute_result_keeps_go_field_order_and_omissions() {
        let failure = ExecuteResult::failure("start process: boom");
        assert_eq!(
            ToolResult::json(&failure).text,
            r#"{"success":false,"exit_code":0,"wall_duration_ms":0,"error":"start process: boom"}"#
        );
        let full = ExecuteResult {
            success: false,
            output: "partial".into(),
            exit_code: -1,
            wall_duration_ms: 50,
            error: "command timed out after 50ms".into(),
            truncated: Some(Truncation {
                original_bytes: 10,
                retained_bytes: 5,
                omitted_bytes: 5,
                strategy: "head_tail".into(),
            }),
            note: FILE_DUMP_NOTE.into(),
            background_process_id: "proc-1".into(),
        };
        let keys: Vec<String> = ToolResult::json(&full)
            .parsed()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "success",
                "output",
                "exit_code",
                "wall_duration_ms",
                "error",
                "truncated",
                "note",
                "background_process_id"
            ]
        );
    }
}
