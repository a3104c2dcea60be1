//! Real-mode smoke test (the real-world layer of `docs/design.md#tests`): the
//! chat tools through the real SDK (`HttpAgentConn` over loopback TCP) against
//! a real agent running real processes in a temporary directory.
//!
//! The agent runs in-process: `agent::http::serve` on a `127.0.0.1:0`
//! listener with `Seams::real`, which is exactly what the `agent` binary
//! runs. The binary itself is not used because cargo builds a crate's
//! binaries only for that crate's own integration tests, so from
//! `chat-tools` it may not exist yet; the binary is covered by
//! `agent/tests/server_binary.rs`.
//!
//! Outputs that vary between runs (durations, ids, timestamps) are checked by
//! shape: the expected JSON holds a placeholder (`<ms>`, `<uuid>`, `<unix>`)
//! where the value varies, and the exact value everywhere else, key order
//! included.

use std::path::{Path, PathBuf};

use agent::{AgentConfig, Seams};
use agent_sdk::{HttpAgentConn, TcpConnector};
use agent_testkit::TestAgent;
use chat_tools::{ChatTools, ToolResult};
use serde_json::{Value, json};

/// A real agent on loopback, the tools and a connection to it.
struct Smoke {
    dir: tempfile::TempDir,
    agent: TestAgent,
    conn: HttpAgentConn<TcpConnector>,
    tools: ChatTools,
}

impl Smoke {
    async fn start() -> Smoke {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = AgentConfig {
            dir: Some(dir.path().to_path_buf()),
            ..AgentConfig::default()
        };
        let seams = Seams::real(config.wait_delay);
        let agent = TestAgent::start(config, seams).await;
        let addr = agent.addr;
        let conn = HttpAgentConn::new(TcpConnector { addr });
        let conn = match agent.token() {
            Some(token) => conn.with_token(token),
            None => conn,
        };
        Smoke {
            dir,
            agent,
            conn,
            tools: ChatTools::default(),
        }
    }

    /// The working directory as the shell reports it (`pwd`).
    fn dir(&self) -> PathBuf {
        self.dir.path().canonicalize().expect("canonical dir")
    }

    fn dir_str(&self) -> String {
        self.dir().display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.dir().join(name).display().to_string()
    }

    async fn call(&self, tool: &str, args: Value) -> ToolResult {
        self.tools.call(tool, &self.conn, args).await
    }

    /// Calls `tool` and checks its JSON result against `expected` by shape.
    async fn check(&self, tool: &str, args: Value, expected: Value) -> Value {
        let result = self.call(tool, args.clone()).await;
        assert_shape(&result, &expected, &format!("{tool} {args}"));
        result.parsed().expect("JSON")
    }

    /// Starts `args` in the background through `execute` (by the flag or a
    /// trailing `&`), checks the immediate answer, and returns the id.
    async fn start_in_background(&self, args: Value) -> String {
        let started = self
            .check(
                "execute",
                args,
                json!({
                    "success": true,
                    "exit_code": 0,
                    "wall_duration_ms": 0,
                    "background_process_id": UUID,
                }),
            )
            .await;
        str_field(&started, "background_process_id")
    }

    /// Starts `command` in the background, waits for it to exit cleanly
    /// with `output` (both checked), and returns its id.
    async fn run_in_background_to_a_clean_exit(&self, command: &str, output: &str) -> String {
        let id = self
            .start_in_background(json!({"command": command, "run_in_background": true}))
            .await;
        self.check_exits_cleanly(&id, output).await;
        id
    }

    /// Waits (up to 30 s) through `process_output` for process `id` to exit
    /// with code 0 and checks its output; empty output is omitted from the
    /// result, like Go's omitempty.
    async fn check_exits_cleanly(&self, id: &str, output: &str) {
        let mut expected = json!({"success": true, "exit_code": 0, "wall_duration_ms": 0});
        if !output.is_empty() {
            expected = json!({
                "success": true,
                "output": output,
                "exit_code": 0,
                "wall_duration_ms": 0,
            });
        }
        self.check(
            "process_output",
            json!({"process_id": id, "wait_timeout": "30s"}),
            expected,
        )
        .await;
    }

    /// Sends `signal` to process `id` through `process_signal` and checks
    /// the success message.
    async fn check_signal_sent(&self, id: &str, signal: &str) {
        self.check(
            "process_signal",
            json!({"process_id": id, "signal": signal}),
            json!({
                "message": format!("signal \"{signal}\" sent to process {id}"),
                "success": true,
            }),
        )
        .await;
    }

    /// Kills every process group, then stops the server.
    async fn stop(self) {
        self.agent.stop().await;
    }
}

/// Placeholders in expected JSON for values that vary between runs.
const MS: &str = "<ms>";
const UUID: &str = "<uuid>";
const UNIX: &str = "<unix>";

/// Asserts that `result` is a JSON result (not an error response) matching
/// `expected` by shape.
fn assert_shape(result: &ToolResult, expected: &Value, what: &str) {
    assert!(
        !result.is_error,
        "{what}: unexpected error response: {}",
        result.text
    );
    let actual = result
        .parsed()
        .unwrap_or_else(|| panic!("{what}: not JSON: {}", result.text));
    if let Err(e) = matches_shape(&actual, expected, "$") {
        panic!(
            "{what}: {e}\n  actual:   {}\n  expected: {expected}",
            result.text
        );
    }
}

/// Whether `actual` has the shape of `expected`: equal everywhere, key
/// order included, except where `expected` holds a placeholder.
fn matches_shape(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(p), Value::Number(n)) if p == MS => n
            .as_u64()
            .map(drop)
            .ok_or_else(|| format!("{at}: {n} is not a duration in ms")),
        (Value::String(p), Value::String(s)) if p == UUID => uuid::Uuid::parse_str(s)
            .map(drop)
            .map_err(|e| format!("{at}: {s:?} is not a uuid: {e}")),
        (Value::String(p), Value::Number(n)) if p == UNIX => n
            .as_i64()
            .filter(|t| *t > 1_600_000_000)
            .map(drop)
            .ok_or_else(|| format!("{at}: {n} is not a recent Unix time")),
        (Value::Object(e), Value::Object(a)) => {
            let (ek, ak): (Vec<_>, Vec<_>) = (e.keys().collect(), a.keys().collect());
            if ek != ak {
                return Err(format!("{at}: keys {ak:?}, expected {ek:?}"));
            }
            e.iter()
                .try_for_each(|(k, ev)| matches_shape(&a[k], ev, &format!("{at}.{k}")))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{at}: {} items, expected {}", a.len(), e.len()));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .try_for_each(|(i, (ev, av))| matches_shape(av, ev, &format!("{at}[{i}]")))
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: {actual}, expected {expected}")),
    }
}

#[test]
fn shape_placeholders_accept_only_their_shape_and_key_order_counts() {
    let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let expected = json!({"a": MS, "b": UUID, "c": UNIX, "d": [1, "x"]});
    let ok = json!({"a": 12, "b": id, "c": 1_700_000_000, "d": [1, "x"]});
    assert_eq!(matches_shape(&ok, &expected, "$"), Ok(()));
    for bad in [
        json!({"a": -1, "b": id, "c": 1_700_000_000, "d": [1, "x"]}),
        json!({"a": 12, "b": "proc-1", "c": 1_700_000_000, "d": [1, "x"]}),
        json!({"a": 12, "b": id, "c": 5, "d": [1, "x"]}),
        json!({"a": 12, "b": id, "c": 1_700_000_000, "d": [1, "y"]}),
        json!({"a": 12, "b": id, "c": 1_700_000_000, "d": [1]}),
        json!({"b": id, "a": 12, "c": 1_700_000_000, "d": [1, "x"]}),
        json!({"a": 12, "b": id, "c": 1_700_000_000}),
    ] {
        assert!(matches_shape(&bad, &expected, "$").is_err(), "{bad}");
    }
}

fn str_field(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_string()
}

// ---- execute ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_in_the_foreground_returns_the_output_and_exit_code_0() {
    let s = Smoke::start().await;
    // The working directory and the non-interactive environment are real.
    s.check(
        "execute",
        json!({"command": "echo hello; pwd; echo \"$TERM $PAGER $CODER_CHAT_AGENT\""}),
        json!({
            "success": true,
            "output": format!("hello\n{}\ndumb cat true\n", s.dir_str()),
            "exit_code": 0,
            "wall_duration_ms": MS,
        }),
    )
    .await;
    // An explicit workdir is used as given.
    let sub = s.dir().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    s.check(
        "execute",
        json!({"command": "pwd", "workdir": sub.display().to_string()}),
        json!({
            "success": true,
            "output": format!("{}\n", sub.display()),
            "exit_code": 0,
            "wall_duration_ms": MS,
        }),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_dumping_a_file_gets_the_read_file_note() {
    let s = Smoke::start().await;
    std::fs::write(s.dir().join("notes.txt"), "a note\n").expect("write");
    s.check(
        "execute",
        json!({"command": "cat notes.txt"}),
        json!({
            "success": true,
            "output": "a note\n",
            "exit_code": 0,
            "wall_duration_ms": MS,
            "note": "Consider using read_file instead of dumping file contents with shell commands.",
        }),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_with_a_non_zero_exit_is_not_a_success() {
    let s = Smoke::start().await;
    // stdout and stderr share one pipe, in write order.
    s.check(
        "execute",
        json!({"command": "echo out; echo oops >&2; exit 3"}),
        json!({
            "success": false,
            "output": "out\noops\n",
            "exit_code": 3,
            "wall_duration_ms": MS,
        }),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_in_the_background_then_process_output_waits_for_the_exit() {
    let s = Smoke::start().await;
    s.run_in_background_to_a_clean_exit(
        "echo started; sleep 0.3; echo finished",
        "started\nfinished\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_timing_out_gives_a_process_id_to_reattach_signal_and_read() {
    let s = Smoke::start().await;
    let timed_out = s
        .check(
            "execute",
            json!({"command": "echo partial; sleep 60", "timeout": "1s"}),
            json!({
                "success": false,
                "output": "partial\n",
                "exit_code": -1,
                "wall_duration_ms": MS,
                "error": "command timed out after 1s",
                "background_process_id": UUID,
            }),
        )
        .await;
    assert!(
        timed_out["wall_duration_ms"].as_u64() >= Some(1000),
        "the call waited for its timeout: {timed_out}"
    );
    let id = str_field(&timed_out, "background_process_id");

    // Still running: an immediate snapshot says so.
    s.check(
        "process_output",
        json!({"process_id": id, "wait_timeout": "0s"}),
        json!({
            "success": true,
            "output": "partial\n",
            "exit_code": 0,
            "wall_duration_ms": 0,
            "note": "process is still running",
        }),
    )
    .await;
    s.check_signal_sent(&id, "kill").await;
    // Killed by a signal: exit code -1, output kept.
    s.check(
        "process_output",
        json!({"process_id": id, "wait_timeout": "30s"}),
        json!({
            "success": false,
            "output": "partial\n",
            "exit_code": -1,
            "wall_duration_ms": 0,
        }),
    )
    .await;
    s.stop().await;
}

// ---- process_list, process_signal -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_list_shows_running_processes_first_with_their_details() {
    let s = Smoke::start().await;
    let done = s.run_in_background_to_a_clean_exit("true", "").await;
    // A trailing `&` is promoted to a background process without it.
    s.start_in_background(json!({"command": "sleep 60 &"}))
        .await;

    let list = s
        .check(
            "process_list",
            json!({}),
            json!({"processes": [
                {
                    "id": UUID,
                    "command": "sleep 60",
                    "workdir": s.dir.path().display().to_string(),
                    "background": true,
                    "running": true,
                    "started_at_unix": UNIX,
                },
                {
                    "id": done,
                    "command": "true",
                    "workdir": s.dir.path().display().to_string(),
                    "background": true,
                    "running": false,
                    "exit_code": 0,
                    "started_at_unix": UNIX,
                    "exited_at_unix": UNIX,
                },
            ]}),
        )
        .await;
    let sleeper = str_field(&list["processes"][0], "id");
    s.check_signal_sent(&sleeper, "terminate").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_signal_on_an_exited_or_unknown_process_reports_the_agent_error() {
    let s = Smoke::start().await;
    let exited = s.run_in_background_to_a_clean_exit("exit 0", "").await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    // (process, signal, the agent's status and message)
    for (id, signal, agent_error) in [
        (
            exited.as_str(),
            "terminate",
            format!("409: Process \"{exited}\" is not running."),
        ),
        (
            unknown,
            "kill",
            format!("404: Process \"{unknown}\" not found."),
        ),
    ] {
        let url = format!("POST http://{}/api/v0/processes/{id}/signal", s.agent.addr);
        s.check(
            "process_signal",
            json!({"process_id": id, "signal": signal}),
            json!({
                "success": false,
                "exit_code": 0,
                "wall_duration_ms": 0,
                "error": format!("signal process: {url}: unexpected status code {agent_error}"),
            }),
        )
        .await;
    }
    s.stop().await;
}

// ---- file tools -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_file_returns_numbered_lines_of_a_real_file() {
    let s = Smoke::start().await;
    std::fs::write(s.dir().join("a.txt"), "line1\nline2\nline3").expect("write");
    s.check(
        "read_file",
        json!({"path": s.path("a.txt")}),
        json!({
            "content": "1\tline1\n2\tline2\n3\tline3",
            "file_size": 17,
            "lines_read": 3,
            "total_lines": 3,
        }),
    )
    .await;
    s.check(
        "read_file",
        json!({"path": s.path("a.txt"), "offset": 2, "limit": 1}),
        json!({
            "content": "2\tline2",
            "file_size": 17,
            "lines_read": 1,
            "total_lines": 3,
        }),
    )
    .await;
    let relative = s.call("read_file", json!({"path": "a.txt"})).await;
    assert_eq!(
        relative,
        ToolResult::error("file path must be absolute: \"a.txt\"")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_then_edit_files_change_the_real_file() {
    let s = Smoke::start().await;
    let path = s.path("new/b.txt");
    s.check(
        "write_file",
        json!({"path": path, "content": "hello world\n"}),
        json!({"ok": true}),
    )
    .await;
    assert_eq!(read(Path::new(&path)), "hello world\n");
    s.check(
        "edit_files",
        json!({"files": [{"path": path, "edits": [{"search": "world", "replace": "there"}]}]}),
        json!({"ok": true}),
    )
    .await;
    assert_eq!(read(Path::new(&path)), "hello there\n");

    // A failed edit is an error response and writes nothing.
    let missing = s
        .call(
            "edit_files",
            json!({"files": [{"path": path, "edits": [{"search": "absent", "replace": "x"}]}]}),
        )
        .await;
    assert!(missing.is_error, "{missing:?}");
    assert!(
        missing.text.contains("search string not found in file"),
        "{}",
        missing.text
    );
    assert_eq!(read(Path::new(&path)), "hello there\n");
    s.stop().await;
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}
