//! Behaviour of every tool against the scripted [`FakeConn`]: spec 6 and
//! the upstream cases of spec 8.6. Timing-dependent cases run on tokio's
//! paused clock, so durations in results are exact.

mod execute;
mod files;
mod process;
mod registry;

use serde_json::Value;

use crate::testing::FakeConn;
use crate::{ChatTools, ToolOptions, ToolResult};

/// Calls `tool` with `args` on `conn` with default options.
async fn call(conn: &FakeConn, tool: &str, args: Value) -> ToolResult {
    ChatTools::default().call(tool, conn, args).await
}

/// Calls `tool` with `args` on `conn` with `options`.
async fn call_with(options: ToolOptions, conn: &FakeConn, tool: &str, args: Value) -> ToolResult {
    ChatTools::new(options).call(tool, conn, args).await
}

/// The result's JSON, which must not be an error response.
fn json_of(result: &ToolResult) -> Value {
    assert!(
        !result.is_error,
        "unexpected error response: {}",
        result.text
    );
    result
        .parsed()
        .unwrap_or_else(|| panic!("not JSON: {}", result.text))
}

/// Asserts an error response with exactly `text`.
fn assert_error_response(result: &ToolResult, text: &str) {
    assert_eq!(result, &ToolResult::error(text));
}
