//! Behaviour of every tool against the scripted [`FakeConn`]
//! (`docs/design.md#clients`) and the upstream test cases. Timing-dependent
//! cases run on tokio's paused clock, so durations in results are exact.

mod execute;
mod files;
mod process;
mod registry;

use serde_json::Value;

use crate::testing::FakeConn;
use crate::{ChatTools, ToolOptions, ToolResult};

/// The blocking output read of process `proc-1`.
const WAIT_PATH: &str = "/api/v0/processes/proc-1/output?wait=true";
/// The snapshot output read of process `proc-1`.
const SNAPSHOT_PATH: &str = "/api/v0/processes/proc-1/output";

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

/// Checks that `tool` answers `args` with exactly the error response `text`
/// and sends the agent nothing: argument checks come before any request.
async fn check_rejected(tool: &str, args: Value, text: &str) {
    let conn = FakeConn::new();
    let result = call(&conn, tool, args.clone()).await;
    assert_eq!(result, ToolResult::error(text), "{tool} {args}");
    assert!(conn.requests().is_empty(), "{tool} {args}");
}

/// Checks that `tool` answers arguments that do not decode (a wrong type,
/// not an object) with an `invalid parameters: ` error response and sends
/// the agent nothing.
async fn check_invalid_parameters(tool: &str, args: Value) {
    let conn = FakeConn::new();
    let result = call(&conn, tool, args.clone()).await;
    assert!(result.is_error, "{tool} {args}: {}", result.text);
    assert!(
        result.text.starts_with("invalid parameters: "),
        "{tool} {args}: {}",
        result.text
    );
    assert!(conn.requests().is_empty(), "{tool} {args}");
}
