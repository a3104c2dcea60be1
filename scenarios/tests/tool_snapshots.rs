//! Snapshots of every chat tool's output, run against the real agent under
//! simulation (the snapshot layer of `docs/design.md#tests`; the tools are
//! described in `docs/design.md#clients`).
//!
//! Each case is data: the agent's world (files, scripted commands, bug
//! switches, faults), what a client does before (start processes, as some
//! chat, wait), and one tool call. It runs on a fresh simulated agent
//! ([`AgentRun`]): the agent's own HTTP server with its write-deadline layer,
//! the real SDK over turmoil TCP, the real tools. Paths are the simulation's
//! fixed ones (`/home/coder/project`), process ids come from the seed, and
//! durations from the sim clock with a fixed message latency and no
//! yield-point perturbation, so every value in a snapshot is exact: nothing
//! is redacted.
//!
//! The `.snap` files live in the top-level `snapshots/` folder, named
//! `tool_snapshots__<case>.snap` (the unit tests' snapshots against a fake
//! connection are `chat_tools__...`). Under `CI=true` a mismatch or a missing
//! snapshot fails and nothing is written; locally a mismatch writes a
//! `.snap.new` to review with `cargo insta review` (or accept everything
//! with `INSTA_UPDATE=always`).

use std::time::Duration;

use agent::http::chat::CHAT_ID_HEADER;
use agent::process::exec::SpawnSpec;
use agent::{Bug, BugSet};
use agent_sdk::{AgentConn, HttpAgentConn, StartProcessRequest};
use chat_tools::{ChatTools, ToolOptions};
use harness::agent_host::{AGENT_HOST, AgentRun, connect};
use harness::fault::Fault;
use harness::net::TurmoilConnector;
use harness::sched::SchedConfig;
use harness::sim_exec::{OnTerminate, Script};
use harness::sim_fs::{PROJECT, SimFs};
use harness::{Seed, SimConfig};
use serde_json::{Value, json};

/// The seed of every case: it fixes the process ids.
const SEED: Seed = Seed(7);
/// Two chats, for chat scoping.
const CHAT_A: &str = "2f1c9a6e-4b7d-4e0a-9c3b-5d8e7f6a1b20";
const CHAT_B: &str = "9d4b2c1a-7e6f-4a8b-b3c2-1e0f9a8d7c65";
/// A process id the agent never issued.
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn project(name: &str) -> String {
    format!("{PROJECT}/{name}")
}

/// What a client does before the tool call.
#[derive(Clone, Debug)]
enum Before {
    /// Starts `command` in the background, as `chat` if given. The last
    /// started id replaces every `"$ID"` string in the tool's arguments.
    Start {
        command: String,
        chat: Option<&'static str>,
    },
    /// Waits on the sim clock.
    Sleep(Duration),
}

/// One snapshot case.
#[derive(Clone, Debug)]
struct Case {
    tool: &'static str,
    args: Value,
    files: Vec<(String, Vec<u8>)>,
    scripts: Vec<(String, Script)>,
    /// On in the agent and in the tools.
    bugs: BugSet,
    faults: Vec<(Duration, Fault)>,
    before: Vec<Before>,
    /// The chat of the tool's connection.
    chat: Option<&'static str>,
    /// Files whose content after the call goes into the snapshot.
    show_files: Vec<String>,
    /// Whether the agent's process list after the call goes into it.
    show_processes: bool,
}

/// A call of `tool` with `args` on a fresh agent.
fn call(tool: &'static str, args: Value) -> Case {
    Case {
        tool,
        args,
        files: Vec::new(),
        scripts: Vec::new(),
        bugs: BugSet::none(),
        faults: Vec::new(),
        before: Vec::new(),
        chat: None,
        show_files: Vec::new(),
        show_processes: false,
    }
}

impl Case {
    fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.to_string(), content.into()));
        self
    }

    fn script(mut self, command: &str, script: Script) -> Self {
        self.scripts.push((command.to_string(), script));
        self
    }

    fn bug(mut self, bug: Bug) -> Self {
        self.bugs = self.bugs.with(bug);
        self
    }

    fn fault(mut self, at: Duration, fault: Fault) -> Self {
        self.faults.push((at, fault));
        self
    }

    fn start(self, command: &str) -> Self {
        self.start_as(None, command)
    }

    fn start_as(mut self, chat: Option<&'static str>, command: &str) -> Self {
        self.before.push(Before::Start {
            command: command.to_string(),
            chat,
        });
        self
    }

    fn sleep(mut self, d: Duration) -> Self {
        self.before.push(Before::Sleep(d));
        self
    }

    fn chat(mut self, chat: &'static str) -> Self {
        self.chat = Some(chat);
        self
    }

    fn show_file(mut self, path: &str) -> Self {
        self.show_files.push(path.to_string());
        self
    }

    fn show_processes(mut self) -> Self {
        self.show_processes = true;
        self
    }
}

/// Exact durations: one fixed message latency, yield points pass straight
/// through, room for the 5-minute server wait cap.
fn sim_config() -> SimConfig {
    SimConfig {
        tick: ms(1),
        min_latency: ms(2),
        max_latency: ms(2),
        duration: secs(15 * 60),
        sched: SchedConfig {
            p_pass: 1.0,
            p_sleep: 0.0,
            ..SchedConfig::default()
        },
    }
}

/// Commands the book has no script for, computed like a tiny shell:
/// `env` prints the environment the agent gave the process, `cat FILE`
/// reads the simulated filesystem, `echo` echoes.
fn shell(fs: SimFs) -> impl Fn(&SpawnSpec) -> Option<Script> + Send + Sync + 'static {
    move |spec| {
        let words: Vec<&str> = spec.command.split_whitespace().collect();
        match words.as_slice() {
            ["env"] => {
                let env: String = spec.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                Some(Script::new().write(env))
            }
            ["cat", path] => {
                let full = match &spec.workdir {
                    Some(dir) if !path.starts_with('/') => dir.join(path),
                    _ => path.into(),
                };
                Some(match fs.read_string(&full) {
                    Ok(text) => Script::new().write(text),
                    Err(_) => Script::new()
                        .write(format!("cat: {path}: No such file or directory\n"))
                        .exit(1),
                })
            }
            ["echo", rest @ ..] => Some(Script::new().write(format!("{}\n", rest.join(" ")))),
            _ => None,
        }
    }
}

/// A connection as `chat` (none: unscoped).
fn conn_as(chat: Option<&str>) -> HttpAgentConn<TurmoilConnector> {
    let conn = connect();
    if let Some(chat) = chat {
        let mut headers = http::HeaderMap::new();
        headers.insert(CHAT_ID_HEADER, chat.parse().expect("chat header"));
        conn.set_extra_headers(headers);
    }
    conn
}

/// `args` with every `"$ID"` string replaced by `id`.
fn substitute(args: &Value, id: Option<&str>) -> Value {
    match (args, id) {
        (Value::String(s), Some(id)) if s == "$ID" => Value::String(id.to_string()),
        (Value::Array(items), _) => Value::Array(items.iter().map(|v| substitute(v, id)).collect()),
        (Value::Object(map), _) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, id)))
                .collect(),
        ),
        (other, _) => other.clone(),
    }
}

/// Runs `case` on a fresh simulated agent and returns the reviewable view:
/// the error flag, the result (parsed when it is JSON, key order kept), and
/// what the case asked to show afterwards.
fn run_case(case: &Case) -> Value {
    let run = AgentRun {
        sim: sim_config(),
        ..AgentRun::new(SEED, case.bugs.clone())
    };
    let world = case.clone();
    let client = case.clone();
    let outcome = run.run(
        move |w, parts| {
            for (path, content) in world.files {
                parts.fs.write(&path, content).expect("seed file");
            }
            for (command, script) in world.scripts {
                parts.scripts.insert(command, script);
            }
            parts.scripts.set_fallback(shell(parts.fs.clone()));
            for (at, fault) in world.faults {
                w.fault(at, fault);
            }
        },
        move |parts| async move {
            let case = client;
            let mut id = None;
            for step in &case.before {
                match step {
                    Before::Start { command, chat } => {
                        let req = StartProcessRequest {
                            command: command.clone(),
                            background: true,
                            ..StartProcessRequest::default()
                        };
                        let started = conn_as(*chat).start_process(&req).await;
                        id = Some(started.expect("start before the call").id);
                    }
                    Before::Sleep(d) => tokio::time::sleep(*d).await,
                }
            }
            let args = substitute(&case.args, id.as_deref());
            let tools = ChatTools::new(ToolOptions::with_bugs(case.bugs.clone()));
            let result = tools.call(case.tool, &conn_as(case.chat), args).await;
            let mut view = json!({
                "is_error": result.is_error,
                "result": result.parsed().unwrap_or_else(|| Value::String(result.text.clone())),
            });
            if case.show_processes {
                let list = connect().list_processes().await.expect("list processes");
                view["processes_after"] = serde_json::to_value(list.processes).expect("JSON");
            }
            if !case.show_files.is_empty() {
                let files: serde_json::Map<String, Value> = case
                    .show_files
                    .iter()
                    .map(|p| {
                        let content = parts.fs.read_string(p).unwrap_or_else(|e| format!("<{e}>"));
                        (p.clone(), Value::String(content))
                    })
                    .collect();
                view["files_after"] = Value::Object(files);
            }
            view
        },
    );
    outcome.unwrap_or_else(|o| panic!("{}", o.report()))
}

/// Runs `case` and compares its view with `snapshots/tool_snapshots__<name>.snap`.
fn check(name: &str, case: Case) {
    let view = run_case(&case);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
    settings.set_omit_expression(true);
    settings.set_info(&json!({"tool": case.tool, "args": case.args}));
    settings.bind(|| insta::assert_json_snapshot!(name, view));
}

// ---- execute (upstream execute_test.go) -------------------------------------

/// A long-running dev server.
fn server() -> Script {
    Script::new().write("listening on :3000\n").sleep(secs(600))
}

#[test]
fn execute_empty_command() {
    check(
        "execute_empty_command",
        call("execute", json!({"command": ""})),
    );
}

#[test]
fn execute_foreground_success() {
    check(
        "execute_foreground_success",
        call("execute", json!({"command": "echo hello"})).show_processes(),
    );
}

#[test]
fn execute_sends_the_non_interactive_environment() {
    check(
        "execute_sends_the_non_interactive_environment",
        call("execute", json!({"command": "env"})),
    );
}

#[test]
fn execute_foreground_non_zero_exit() {
    let script = Script::new()
        .write("running 3 tests\n")
        .sleep(ms(120))
        .write("test parse ... FAILED\n")
        .exit(42);
    check(
        "execute_foreground_non_zero_exit",
        call("execute", json!({"command": "make test"})).script("make test", script),
    );
}

#[test]
fn execute_background() {
    check(
        "execute_background",
        call(
            "execute",
            json!({"command": "npm run dev", "run_in_background": true}),
        )
        .script("npm run dev", server())
        .show_processes(),
    );
}

#[test]
fn execute_trailing_ampersand_runs_in_background_without_it() {
    check(
        "execute_trailing_ampersand_runs_in_background_without_it",
        call("execute", json!({"command": "npm run dev &"}))
            .script("npm run dev", server())
            .show_processes(),
    );
}

#[test]
fn execute_trailing_ampersand_after_a_compound_command() {
    check(
        "execute_trailing_ampersand_after_a_compound_command",
        call(
            "execute",
            json!({"command": "npm install && npm run dev &"}),
        )
        .script("npm install && npm run dev", server())
        .show_processes(),
    );
}

#[test]
fn execute_trailing_double_ampersand_stays_foreground() {
    let syntax_error = Script::new()
        .write("sh: 1: Syntax error: end of file unexpected\n")
        .exit(2);
    check(
        "execute_trailing_double_ampersand_stays_foreground",
        call("execute", json!({"command": "make &&"}))
            .script("make &&", syntax_error)
            .show_processes(),
    );
}

#[test]
fn execute_trailing_pipe_ampersand_stays_foreground() {
    let syntax_error = Script::new()
        .write("sh: 1: Syntax error: \"&\" unexpected\n")
        .exit(2);
    check(
        "execute_trailing_pipe_ampersand_stays_foreground",
        call("execute", json!({"command": "make |&"}))
            .script("make |&", syntax_error)
            .show_processes(),
    );
}

#[test]
fn execute_background_flag_keeps_a_trailing_ampersand() {
    check(
        "execute_background_flag_keeps_a_trailing_ampersand",
        call(
            "execute",
            json!({"command": "npm run dev &", "run_in_background": true}),
        )
        .script("npm run dev &", server())
        .show_processes(),
    );
}

#[test]
fn execute_timeout_returns_partial_output_and_the_process_id() {
    let slow = Script::new()
        .write("compiling 1/3\n")
        .sleep(ms(20))
        .write("compiling 2/3\n")
        .sleep(secs(30))
        .write("compiling 3/3\n");
    check(
        "execute_timeout_returns_partial_output_and_the_process_id",
        call(
            "execute",
            json!({"command": "cargo build", "timeout": "50ms"}),
        )
        .script("cargo build", slow),
    );
}

#[test]
fn execute_invalid_timeout() {
    check(
        "execute_invalid_timeout",
        call("execute", json!({"command": "ls", "timeout": "5 minutes"})),
    );
}

#[test]
fn execute_start_process_error() {
    check(
        "execute_start_process_error",
        call(
            "execute",
            json!({"command": "ls", "workdir": "/nonexistent"}),
        ),
    );
}

#[test]
fn execute_background_start_error() {
    check(
        "execute_background_start_error",
        call(
            "execute",
            json!({"command": "npm run dev", "workdir": "/nonexistent", "run_in_background": true}),
        ),
    );
}

#[test]
fn execute_process_output_error_gives_the_cause_and_the_process_id() {
    // The agent restarts while the tool waits: the wait's connection dies
    // and the restarted agent no longer knows the process.
    check(
        "execute_process_output_error_gives_the_cause_and_the_process_id",
        call("execute", json!({"command": "cargo build"}))
            .script("cargo build", Script::new().sleep(secs(5)))
            .fault(secs(1), Fault::Bounce(AGENT_HOST.into())),
    );
}

/// A command finishing after the 20 s write timeout.
fn build_25s() -> Script {
    Script::new()
        .write("building\n")
        .sleep(secs(25))
        .write("done\n")
}

#[test]
fn execute_transport_error_recovery_process_done() {
    // The handler cannot extend its write deadline: the answer at exit
    // (25 s) is lost, the snapshot finds the process exited.
    check(
        "execute_transport_error_recovery_process_done",
        call("execute", json!({"command": "make all", "timeout": "1m"}))
            .script("make all", build_25s())
            .bug(Bug::WriteDeadlineHidden),
    );
}

#[test]
fn execute_transport_error_process_still_running() {
    // The answer at the server's 5-minute wait cap is lost, the snapshot
    // finds the process still running.
    let long = Script::new().write("soak test started\n").sleep(secs(400));
    check(
        "execute_transport_error_process_still_running",
        call("execute", json!({"command": "make soak", "timeout": "10m"}))
            .script("make soak", long)
            .bug(Bug::WriteDeadlineHidden),
    );
}

#[test]
fn execute_no_snapshot_fallback_loses_the_result() {
    check(
        "execute_no_snapshot_fallback_loses_the_result",
        call("execute", json!({"command": "make all", "timeout": "1m"}))
            .script("make all", build_25s())
            .bug(Bug::WriteDeadlineHidden)
            .bug(Bug::NoSnapshotFallback),
    );
}

#[test]
fn execute_cat_gets_the_file_dump_note() {
    check(
        "execute_cat_gets_the_file_dump_note",
        call("execute", json!({"command": "cat README.md"}))
            .file(&project("README.md"), "# demo\nA small project.\n"),
    );
}

#[test]
fn execute_a_command_merely_starting_with_cat_gets_no_note() {
    check(
        "execute_a_command_merely_starting_with_cat_gets_no_note",
        call("execute", json!({"command": "concatenate parts"})),
    );
}

#[test]
fn execute_grep_include_all_gets_the_file_dump_note() {
    let hits = Script::new().write("src/main.rs:3:// TODO: parse flags\n");
    check(
        "execute_grep_include_all_gets_the_file_dump_note",
        call(
            "execute",
            json!({"command": "grep -rn --include-all TODO src"}),
        )
        .script("grep -rn --include-all TODO src", hits),
    );
}

#[test]
fn execute_rg_list_files_gets_the_file_dump_note() {
    let hits = Script::new().write("src/main.rs\nsrc/lib.rs\n");
    check(
        "execute_rg_list_files_gets_the_file_dump_note",
        call("execute", json!({"command": "rg -l TODO"})).script("rg -l TODO", hits),
    );
}

#[test]
fn execute_recursive_grep_gets_no_note() {
    let hits = Script::new().write("src/main.rs:// TODO: parse flags\n");
    check(
        "execute_recursive_grep_gets_no_note",
        call("execute", json!({"command": "grep -r TODO src"})).script("grep -r TODO src", hits),
    );
}

// ---- process_output ---------------------------------------------------------

#[test]
fn process_output_running() {
    check(
        "process_output_running",
        call("process_output", json!({"process_id": "$ID"}))
            .script("npm run dev", server())
            .start("npm run dev"),
    );
}

#[test]
fn process_output_exited() {
    let tests = Script::new()
        .write("running 12 tests\n")
        .sleep(secs(3))
        .write("test result: ok. 12 passed\n");
    check(
        "process_output_exited",
        call("process_output", json!({"process_id": "$ID"}))
            .script("cargo test", tests)
            .start("cargo test"),
    );
}

#[test]
fn process_output_immediate_snapshot() {
    check(
        "process_output_immediate_snapshot",
        call(
            "process_output",
            json!({"process_id": "$ID", "wait_timeout": "0s"}),
        )
        .script("npm run dev", server())
        .start("npm run dev")
        .sleep(ms(10)),
    );
}

#[test]
fn process_output_after_a_transport_error() {
    check(
        "process_output_after_a_transport_error",
        call(
            "process_output",
            json!({"process_id": "$ID", "wait_timeout": "1m"}),
        )
        .script("make all", build_25s())
        .bug(Bug::WriteDeadlineHidden)
        .start("make all"),
    );
}

#[test]
fn process_output_no_snapshot_fallback_loses_the_result() {
    check(
        "process_output_no_snapshot_fallback_loses_the_result",
        call(
            "process_output",
            json!({"process_id": "$ID", "wait_timeout": "1m"}),
        )
        .script("make all", build_25s())
        .bug(Bug::WriteDeadlineHidden)
        .bug(Bug::NoSnapshotFallback)
        .start("make all"),
    );
}

#[test]
fn process_output_unknown_id() {
    check(
        "process_output_unknown_id",
        call("process_output", json!({"process_id": UNKNOWN_ID})),
    );
}

#[test]
fn process_output_of_another_chats_process() {
    check(
        "process_output_of_another_chats_process",
        call("process_output", json!({"process_id": "$ID"}))
            .script("npm run dev", server())
            .start_as(Some(CHAT_A), "npm run dev")
            .chat(CHAT_B),
    );
}

#[test]
fn process_output_empty_id() {
    check(
        "process_output_empty_id",
        call("process_output", json!({"process_id": ""})),
    );
}

#[test]
fn process_output_invalid_wait_timeout() {
    check(
        "process_output_invalid_wait_timeout",
        call(
            "process_output",
            json!({"process_id": UNKNOWN_ID, "wait_timeout": "soon"}),
        ),
    );
}

// ---- process_list, process_signal -------------------------------------------

/// Three processes: chat A's server (running) and failing test run
/// (exited 1), and chat B's watcher (running).
fn three_processes(case: Case) -> Case {
    case.script("npm run dev", server())
        .script(
            "npm test",
            Script::new().write("1 failing\n").sleep(ms(30)).exit(1),
        )
        .script("tsc --watch", Script::new().sleep(secs(600)))
        .start_as(Some(CHAT_A), "npm run dev")
        .start_as(Some(CHAT_A), "npm test")
        .start_as(Some(CHAT_B), "tsc --watch")
        .sleep(ms(100))
}

#[test]
fn process_list_unscoped() {
    check(
        "process_list_unscoped",
        three_processes(call("process_list", json!({}))),
    );
}

#[test]
fn process_list_scoped_to_a_chat() {
    check(
        "process_list_scoped_to_a_chat",
        three_processes(call("process_list", json!({}))).chat(CHAT_A),
    );
}

#[test]
fn process_list_empty() {
    check("process_list_empty", call("process_list", json!({})));
}

#[test]
fn process_signal_terminate() {
    check(
        "process_signal_terminate",
        call(
            "process_signal",
            json!({"process_id": "$ID", "signal": "terminate"}),
        )
        .script("npm run dev", server().on_terminate(OnTerminate::Exit(143)))
        .start("npm run dev")
        .show_processes(),
    );
}

#[test]
fn process_signal_kill() {
    check(
        "process_signal_kill",
        call(
            "process_signal",
            json!({"process_id": "$ID", "signal": "kill"}),
        )
        .script("npm run dev", server().on_terminate(OnTerminate::Ignore))
        .start("npm run dev")
        .show_processes(),
    );
}

#[test]
fn process_signal_exited_process() {
    check(
        "process_signal_exited_process",
        call(
            "process_signal",
            json!({"process_id": "$ID", "signal": "terminate"}),
        )
        .start("echo done")
        .sleep(ms(50)),
    );
}

#[test]
fn process_signal_unknown_id() {
    check(
        "process_signal_unknown_id",
        call(
            "process_signal",
            json!({"process_id": UNKNOWN_ID, "signal": "kill"}),
        ),
    );
}

#[test]
fn process_signal_of_another_chats_process() {
    check(
        "process_signal_of_another_chats_process",
        call(
            "process_signal",
            json!({"process_id": "$ID", "signal": "kill"}),
        )
        .script("npm run dev", server())
        .start_as(Some(CHAT_A), "npm run dev")
        .chat(CHAT_B),
    );
}

#[test]
fn process_signal_invalid_signal() {
    check(
        "process_signal_invalid_signal",
        call(
            "process_signal",
            json!({"process_id": UNKNOWN_ID, "signal": "hup"}),
        ),
    );
}

// ---- read_file --------------------------------------------------------------

const MAIN_GO: &str = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n";

fn read(path: &str) -> Case {
    call("read_file", json!({"path": path}))
}

#[test]
fn read_file_plain() {
    check(
        "read_file_plain",
        read(&project("main.go")).file(&project("main.go"), MAIN_GO),
    );
}

#[test]
fn read_file_offset_and_limit() {
    let lines: String = (1..=20).map(|i| format!("line {i}\n")).collect();
    check(
        "read_file_offset_and_limit",
        call(
            "read_file",
            json!({"path": project("log.txt"), "offset": 5, "limit": 3}),
        )
        .file(&project("log.txt"), lines),
    );
}

#[test]
fn read_file_long_lines_are_cut() {
    let content = format!("short\n{}\nend", "y".repeat(1500));
    check(
        "read_file_long_lines_are_cut",
        read(&project("data.min.js")).file(&project("data.min.js"), content),
    );
}

#[test]
fn read_file_too_large() {
    let big = "z".repeat((1 << 20) + 1);
    check(
        "read_file_too_large",
        read(&project("big.bin")).file(&project("big.bin"), big),
    );
}

#[test]
fn read_file_beyond_the_end() {
    check(
        "read_file_beyond_the_end",
        call(
            "read_file",
            json!({"path": project("main.go"), "offset": 50}),
        )
        .file(&project("main.go"), MAIN_GO),
    );
}

#[test]
fn read_file_relative_path() {
    check(
        "read_file_relative_path",
        read("main.go").file(&project("main.go"), MAIN_GO),
    );
}

#[test]
fn read_file_directory() {
    check("read_file_directory", read(PROJECT));
}

#[test]
fn read_file_missing() {
    check("read_file_missing", read(&project("nope.txt")));
}

#[test]
fn read_file_empty_path() {
    check("read_file_empty_path", read(""));
}

#[test]
fn read_file_empty_file() {
    check(
        "read_file_empty_file",
        read(&project("empty.txt")).file(&project("empty.txt"), ""),
    );
}

// ---- edit_files -------------------------------------------------------------

/// One file's edits as `(search, replace, replace_all)`.
fn edits(path: &str, list: &[(&str, &str, bool)]) -> Value {
    let edits: Vec<Value> = list
        .iter()
        .map(|(s, r, all)| {
            let mut e = json!({"search": s, "replace": r});
            if *all {
                e["replace_all"] = json!(true);
            }
            e
        })
        .collect();
    json!({"path": path, "edits": edits})
}

/// `edit_files` on `files`, showing every edited path afterwards.
fn edit(files: Vec<Value>) -> Case {
    let mut case = call("edit_files", json!({"files": files.clone()}));
    for f in &files {
        if let Some(p) = f["path"].as_str()
            && !case.show_files.iter().any(|s| s == p)
        {
            case = case.show_file(p);
        }
    }
    case
}

const CONFIG: &str = "port: 8080\nhost: localhost\ndebug: false\n";

#[test]
fn edit_files_exact() {
    let path = project("config.yaml");
    check(
        "edit_files_exact",
        edit(vec![edits(&path, &[("port: 8080", "port: 9090", false)])]).file(&path, CONFIG),
    );
}

#[test]
fn edit_files_fuzzy_trailing_whitespace() {
    let path = project("config.yaml");
    check(
        "edit_files_fuzzy_trailing_whitespace",
        edit(vec![edits(
            &path,
            &[(
                "host: localhost\ndebug: false\n",
                "host: 0.0.0.0\ndebug: true\n",
                false,
            )],
        )])
        .file(&path, "port: 8080\nhost: localhost  \ndebug: false\t\n"),
    );
}

#[test]
fn edit_files_fuzzy_indentation() {
    let path = project("main.go");
    check(
        "edit_files_fuzzy_indentation",
        edit(vec![edits(
            &path,
            &[(
                "    fmt.Println(\"hi\")\n",
                "\tfmt.Println(\"hello\")\n",
                false,
            )],
        )])
        .file(&path, MAIN_GO),
    );
}

#[test]
fn edit_files_ambiguous() {
    let path = project("config.yaml");
    check(
        "edit_files_ambiguous",
        edit(vec![edits(&path, &[("o", "0", false)])]).file(&path, CONFIG),
    );
}

#[test]
fn edit_files_no_match() {
    let path = project("config.yaml");
    check(
        "edit_files_no_match",
        edit(vec![edits(&path, &[("port: 80\n", "port: 81\n", false)])]).file(&path, CONFIG),
    );
}

#[test]
fn edit_files_replace_all() {
    let path = project("config.yaml");
    check(
        "edit_files_replace_all",
        edit(vec![edits(&path, &[("o", "0", true)])]).file(&path, CONFIG),
    );
}

#[test]
fn edit_files_empty_search() {
    let path = project("config.yaml");
    check(
        "edit_files_empty_search",
        edit(vec![edits(&path, &[("", "x", false)])]).file(&path, "abc\n"),
    );
}

#[test]
fn edit_files_empty_search_with_replace_all() {
    // The baseline matcher put the replacement between every character
    // (race R8 in `docs/races.md`); the agent rejects an empty search instead.
    let path = project("config.yaml");
    check(
        "edit_files_empty_search_with_replace_all",
        edit(vec![edits(&path, &[("", "x", true)])]).file(&path, "abc\n"),
    );
}

#[test]
fn edit_files_duplicate_path() {
    // The baseline let each entry edit the original and the last write win
    // (R9); the agent merges entries for one path, in request order.
    let path = project("config.yaml");
    check(
        "edit_files_duplicate_path",
        edit(vec![
            edits(&path, &[("port: 8080", "port: 9090", false)]),
            edits(&path, &[("debug: false", "debug: true", false)]),
        ])
        .file(&path, CONFIG),
    );
}

#[test]
fn edit_files_extra_leading_spaces_keep_the_next_line() {
    // The baseline wrote "ALPHAbeta\n": the window's newline went with it.
    let path = project("notes.txt");
    check(
        "edit_files_extra_leading_spaces_keep_the_next_line",
        edit(vec![edits(&path, &[("  alpha", "ALPHA", false)])]).file(&path, "alpha\nbeta\n"),
    );
}

#[test]
fn edit_files_crlf_file_stays_crlf() {
    let path = project("win.txt");
    check(
        "edit_files_crlf_file_stays_crlf",
        edit(vec![edits(
            &path,
            &[(
                "line one\nline two\n",
                "line one\nINSERTED\nline two\n",
                false,
            )],
        )])
        .file(&path, "line one\r\nline two\r\nline three\r\n"),
    );
}

#[test]
fn edit_files_inserted_lines_take_the_files_indent() {
    let path = project("main.go");
    check(
        "edit_files_inserted_lines_take_the_files_indent",
        edit(vec![edits(
            &path,
            &[(
                "    x := getValue()",
                "    x, err := getValue()\n    if err != nil {\n        log.Fatal(err)\n    }",
                false,
            )],
        )])
        .file(
            &path,
            "func main() {\n\tx := getValue()\n\tfmt.Println(x)\n}\n",
        ),
    );
}

#[test]
fn edit_files_ending_change_needs_an_exact_search() {
    // Search and replace disagree on endings: the caller wants them
    // changed, so only a byte-exact search may apply.
    let path = project("win.txt");
    check(
        "edit_files_ending_change_needs_an_exact_search",
        edit(vec![edits(&path, &[("x\ny\n", "X\r\nY\r\n", false)])]).file(&path, "x\r\ny\r\nz\r\n"),
    );
}

#[test]
fn edit_files_hint_swapped_search_and_replace() {
    let path = project("config.yaml");
    check(
        "edit_files_hint_swapped_search_and_replace",
        edit(vec![edits(&path, &[("port: 9090", "port: 8080", false)])]).file(&path, CONFIG),
    );
}

#[test]
fn edit_files_hint_miscounted_character() {
    let path = project("banner.txt");
    let rule = |n: usize| format!("\u{250c}{}\u{2510}", "\u{2500}".repeat(n));
    check(
        "edit_files_hint_miscounted_character",
        edit(vec![edits(&path, &[(&rule(32), "=", false)])])
            .file(&path, format!("title\n{}\nbody\n", rule(37))),
    );
}

#[test]
fn edit_files_hint_closest_match() {
    let path = project("main.go");
    check(
        "edit_files_hint_closest_match",
        edit(vec![edits(
            &path,
            &[(
                "func main() {\n\tx := getValue()\n\tfmt.Println(y)\n}",
                "func main() {}",
                false,
            )],
        )])
        .file(
            &path,
            "package main\n\nfunc main() {\n\tx := getValue()\n\tfmt.Println(x)\n}\n",
        ),
    );
}

#[test]
fn edit_files_multi_file_failure_writes_nothing() {
    let (a, b) = (project("config.yaml"), project("main.go"));
    check(
        "edit_files_multi_file_failure_writes_nothing",
        edit(vec![
            edits(&a, &[("port: 8080", "port: 9090", false)]),
            edits(&b, &[("fmt.Printf", "log.Printf", false)]),
        ])
        .file(&a, CONFIG)
        .file(&b, MAIN_GO),
    );
}

#[test]
fn edit_files_missing_file() {
    let path = project("nope.txt");
    check(
        "edit_files_missing_file",
        edit(vec![edits(&path, &[("a", "b", false)])]),
    );
}

#[test]
fn edit_files_no_files() {
    check(
        "edit_files_no_files",
        call("edit_files", json!({"files": []})),
    );
}

// ---- write_file -------------------------------------------------------------

#[test]
fn write_file_creates_parents() {
    let path = project("docs/notes.md");
    check(
        "write_file_creates_parents",
        call("write_file", json!({"path": path, "content": "# Notes\n"})).show_file(&path),
    );
}

#[test]
fn write_file_onto_a_directory() {
    check(
        "write_file_onto_a_directory",
        call("write_file", json!({"path": PROJECT, "content": "x"})),
    );
}

#[test]
fn write_file_relative_path() {
    check(
        "write_file_relative_path",
        call("write_file", json!({"path": "notes.md", "content": "x"})),
    );
}

#[test]
fn write_file_empty_path() {
    check(
        "write_file_empty_path",
        call("write_file", json!({"path": "", "content": "x"})),
    );
}
