//! The agent under hostile HTTP input (issue 8 item 2; spec sections 0,
//! 2.2 and 4): proptest generates requests with random methods, paths
//! (known routes, unknown routes, ids with odd characters), query strings,
//! headers (malformed `Coder-Chat-Id` / `Coder-Ancestor-Chat-Ids` among
//! them), JSON bodies of the wrong shapes and types, invalid UTF-8 and
//! bodies beyond the size limit. They go to the router in process (tower
//! `oneshot`: fast, no sockets) and, in a shorter run, through the real
//! server on loopback.
//!
//! The property, for every request:
//! * the answer is 2xx or 4xx, or one of the spec's own 5xx for its route
//!   (e.g. a start in a missing workdir: 500 `Failed to start process.`);
//! * every non-2xx answer is the JSON envelope `{"message", "detail"?,
//!   "validations"?}` with `Content-Type: application/json`;
//! * nothing panics: in process a handler panic fails the case; over TCP the
//!   server's guard answers 500 `Internal server error.`, which the first
//!   rule rejects;
//! * no file in the sandbox changes, unless a file-writing route
//!   (`write-file`, `edit-files`) answered 2xx.
//!
//! Commands the fuzzer can start are harmless: a start body only ever
//! carries a command from [`SAFE_COMMANDS`], and [`assert_harmless`] decodes
//! every body with the agent's own wire type before it is sent. File paths
//! in generated input all point into the sandbox (or nowhere).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::process::wire::StartProcessRequest;
use agent::{Agent, AgentConfig};
use axum::Router;
use bytes::Bytes;
use common::{CHAT_A, CHAT_B, TestAgent, real_seams};
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The request body limit of the agents under test: small, so that bodies
/// beyond it stay cheap.
const BODY_LIMIT: usize = 2048;

/// The only commands a generated start request may carry.
const SAFE_COMMANDS: [&str; 4] = ["true", "false", "echo x", "echo x >&2; exit 3"];

/// Placeholders in generated input, filled in per agent.
const SANDBOX: &str = "{sandbox}";
const RUNNING: &str = "{running}";
const EXITED: &str = "{exited}";

// ---- Generated requests -----------------------------------------------------

/// A generated request, with placeholders.
#[derive(Clone, Debug)]
struct Hostile {
    method: Method,
    path: String,
    query: Option<String>,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: BodyGen,
}

#[derive(Clone, Debug)]
enum BodyGen {
    /// Raw bytes (empty, random, invalid UTF-8, broken JSON).
    Raw(Vec<u8>),
    /// A JSON value, possibly of the wrong shape for the route.
    Json(Value),
    /// A body of `len` bytes, beyond [`BODY_LIMIT`]; valid JSON when `json`.
    Huge { len: usize, json: bool },
}

fn method() -> impl Strategy<Value = Method> {
    let other = prop::sample::select(vec![
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::from_bytes(b"FUZZ").expect("method"),
    ]);
    prop_oneof![4 => Just(Method::GET), 4 => Just(Method::POST), 2 => other]
}

/// A process id path segment, already percent-encoded where needed.
fn id_segment() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        RUNNING,
        EXITED,
        "00000000-0000-4000-8000-000000000001",
        CHAT_A,
        "%FF",
        "%2F",
        "a%2Fb",
        "%00",
        "..",
        ".",
        "%2E%2E",
        "%20",
        "%E2%98%83",
        "%C3%28",
        "%25",
        "%7Bid%7D",
    ])
    .prop_map(str::to_string);
    let live = prop::sample::select(vec![RUNNING, EXITED]).prop_map(str::to_string);
    prop_oneof![
        4 => live,
        4 => fixed,
        2 => "[A-Za-z0-9._~-]{1,40}",
        1 => "[a-z]{1,8}".prop_map(|s| s.repeat(300)),
        2 => prop::collection::vec(any::<u8>(), 1..12).prop_map(|b| percent_encode_all(&b)),
    ]
}

fn percent_encode_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// What a generated path is, so that method and body can often be the
/// ones its route expects (a wrong method or shape stops at the first check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Start,
    List,
    Output,
    Signal,
    Watch,
    Show,
    ReadFile,
    WriteFile,
    EditFiles,
    Unknown,
}

impl Kind {
    fn method(self) -> Method {
        match self {
            Kind::Start | Kind::Signal | Kind::WriteFile | Kind::EditFiles => Method::POST,
            _ => Method::GET,
        }
    }
}

/// A path, its kind and a query: a generic one, or now and then one made
/// for the route (several parameters must all be right to get deep into
/// the handler).
fn route() -> impl Strategy<Value = (String, Kind, Option<String>)> {
    let known = prop::sample::select(vec![
        ("/api/v0/processes/start", Kind::Start),
        ("/api/v0/processes/list", Kind::List),
        ("/api/v0/git/watch", Kind::Watch),
        ("/api/v0/git/show", Kind::Show),
        ("/api/v0/read-file-lines", Kind::ReadFile),
        ("/api/v0/read-file", Kind::ReadFile),
        ("/api/v0/write-file", Kind::WriteFile),
        ("/api/v0/edit-files", Kind::EditFiles),
    ])
    .prop_map(|(p, k)| (p.to_string(), k));
    let with_id = (
        id_segment(),
        prop::sample::select(vec![("output", Kind::Output), ("signal", Kind::Signal)]),
    )
        .prop_map(|(id, (op, k))| (format!("/api/v0/processes/{id}/{op}"), k));
    let fixed_unknown = prop::sample::select(vec![
        "/",
        "/api",
        "/api/v0",
        "/api/v0/",
        "/api/v0/processes",
        "/api/v0/processes/",
        "/api/v0/processes/start/",
        "/api/v0/processes/list/",
        "/api/v1/processes/list",
        "//api/v0/processes/list",
        "/API/V0/PROCESSES/LIST",
        "/api/v0/git",
        "/api/v0/git/",
        "/api/v0/processes/%6Cist",
        "/api/v0/processes/list%00",
    ])
    .prop_map(|p| (p.to_string(), Kind::Unknown));
    let unknown_with_id = (
        id_segment(),
        prop::sample::select(vec!["", "/", "/kill", "/output/x", "/signal/"]),
    )
        .prop_map(|(id, rest)| (format!("/api/v0/processes/{id}{rest}"), Kind::Unknown));
    let random = prop::collection::vec(prop_oneof!["[A-Za-z0-9._~-]{0,12}", id_segment()], 0..5)
        .prop_map(|segments| (format!("/{}", segments.join("/")), Kind::Unknown));
    let any_query =
        |paths: BoxedStrategy<(String, Kind)>| (paths, query()).prop_map(|((p, k), q)| (p, k, q));
    let file_paths = prop::sample::select(vec![
        ("/api/v0/read-file-lines", Kind::ReadFile),
        ("/api/v0/read-file", Kind::ReadFile),
        ("/api/v0/write-file", Kind::WriteFile),
    ]);
    prop_oneof![
        5 => any_query(known.boxed()),
        5 => any_query(with_id.boxed()),
        2 => any_query(fixed_unknown.boxed()),
        1 => any_query(unknown_with_id.boxed()),
        1 => any_query(random.boxed()),
        2 => show_query().prop_map(|q| ("/api/v0/git/show".to_string(), Kind::Show, Some(q))),
        2 => (file_paths, file_query()).prop_map(|((p, k), q)| (p.to_string(), k, Some(q))),
    ]
}

/// All three `git/show` parameters, with values that reach git.
fn show_query() -> impl Strategy<Value = String> {
    let root = prop::sample::select(vec!["{sandbox}", "{sandbox}/dir", "{sandbox}/missing", ""]);
    let git_ref = prop::sample::select(vec![
        "HEAD",
        "HEAD~5",
        "",
        "-p",
        "--output={sandbox}/injected",
        "HEAD:a.txt",
    ]);
    let path = prop::sample::select(vec!["a.txt", "missing.txt", "", "../a.txt", "dir"]);
    (root, git_ref, path).prop_map(|(root, r, p)| {
        serde_urlencoded::to_string([("repo_root", root), ("ref", r), ("path", p)])
            .unwrap_or_default()
    })
}

/// Every file path the generator uses: inside the sandbox, or a bare
/// relative name (which the agent must reject; [`cwd_listing`] would show
/// it written next to the test instead).
fn file_path() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{sandbox}",
        "{sandbox}/a.txt",
        "{sandbox}/dir",
        "{sandbox}/dir/b.txt",
        "{sandbox}/dir/../a.txt",
        "{sandbox}/link",
        "{sandbox}/missing.txt",
        "{sandbox}/new/c.txt",
        "{sandbox}/a.txt/x",
        "{sandbox}/.a.txt.tmp.00000000",
        "rel.txt",
        "",
        " ",
    ])
}

/// The file API's parameters, with paths into the sandbox.
fn file_query() -> impl Strategy<Value = String> {
    let path = file_path();
    let number = prop::sample::select(vec!["0", "1", "2", "-1", "x", "", "99999999999999999999"]);
    let key = prop::sample::select(vec![
        "offset",
        "limit",
        "max_file_size",
        "max_line_bytes",
        "max_response_lines",
        "max_response_bytes",
        "unknown",
    ]);
    (path, prop::collection::vec((key, number), 0..3)).prop_map(|(path, rest)| {
        let mut pairs = vec![("path", path)];
        pairs.extend(rest);
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    })
}

/// Values for query parameters and JSON strings other than file paths.
fn hostile_value() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "true",
        "TRUE",
        "1",
        "0",
        "-1",
        "2",
        "99999999999999999999999",
        "1e3",
        "",
        " ",
        "null",
        "{sandbox}",
        "{sandbox}/dir",
        "{sandbox}/missing",
        "relative",
        "HEAD",
        "HEAD:a.txt",
        "--output={sandbox}/injected",
        "-p",
        "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "not-a-uuid",
        "%FF",
        "\u{0}",
        "\u{2603}",
    ])
    .prop_map(str::to_string);
    prop_oneof![4 => fixed, 1 => "[ -~]{0,16}"]
}

fn query() -> impl Strategy<Value = Option<String>> {
    let key = prop::sample::select(vec![
        "wait",
        "offset",
        "limit",
        "max_file_size",
        "max_line_bytes",
        "max_response_lines",
        "max_response_bytes",
        "repo_root",
        "ref",
        "chat_id",
        "unknown",
        "",
    ]);
    let pair = prop_oneof![
        1 => file_path().prop_map(|p| ("path", p.to_string())),
        5 => (key, hostile_value()),
    ];
    let pairs =
        prop::collection::vec(pair, 0..6).prop_map(|pairs| serde_urlencoded::to_string(pairs).ok());
    let junk = prop::sample::select(vec![
        "%zz",
        "&&&",
        "=",
        "a=b=c",
        "wait",
        "wait=true&wait=false",
        "%FF=%FF",
        "path=%FF%FE",
        "path=%C3%28",
        "wait=%C3%28",
        "path",
        "path=&path=rel.txt",
        "offset=1&offset=x",
    ])
    .prop_map(|s| Some(s.to_string()));
    prop_oneof![3 => Just(None), 4 => pairs, 2 => junk]
}

/// One of `good`, or random bytes that may not even be a valid header
/// value (those are dropped when the request is built).
fn header_bytes(good: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let good = prop::sample::select(good).prop_map(String::into_bytes);
    prop_oneof![
        3 => good,
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let mut chat_values = strings(&[CHAT_A, CHAT_B, "", "not-a-uuid", "null"]);
    chat_values.extend([
        format!("{{{CHAT_A}}}"),
        format!("urn:uuid:{CHAT_A}"),
        format!("  {CHAT_A}  "),
        format!("{CHAT_A}, {CHAT_B}"),
        CHAT_A.to_uppercase(),
        CHAT_A.replace('-', ""),
    ]);
    let mut ancestor_values = strings(&["[", "]", "[]", "null", "{}", "\"x\"", "[[]]", ""]);
    ancestor_values.extend([
        format!("[\"{CHAT_B}\"]"),
        format!("[\"{CHAT_B}\", \"junk\", 3, null, {{}}]"),
        serde_json::to_string(&vec![CHAT_B; 100]).expect("json"),
    ]);
    let content_types = strings(&[
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]);
    let other = || header_bytes(strings(&["*/*", "gzip", "x"]));
    let one_header = prop_oneof![
        3 => header_bytes(chat_values).prop_map(|v| ("coder-chat-id", v)),
        3 => header_bytes(ancestor_values).prop_map(|v| ("coder-ancestor-chat-ids", v)),
        2 => header_bytes(content_types).prop_map(|v| ("content-type", v)),
        1 => other().prop_map(|v| ("accept", v)),
        1 => other().prop_map(|v| ("accept-encoding", v)),
        1 => other().prop_map(|v| ("x-junk", v)),
    ];
    prop::collection::vec(one_header, 0..4)
}

/// A JSON value of any shape; object keys come from the API's field names
/// except `command` and `path` (only [`start_body`] and [`edit_body`] write
/// those, with safe values).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_value().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let key = prop::sample::select(vec![
            "signal",
            "workdir",
            "env",
            "background",
            "files",
            "edits",
            "search",
            "replace",
            "replace_all",
            "include_diff",
            "content",
            "type",
            "",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A start request: each field missing, of the right type or of a wrong
/// one; the command, when it is a string, is always a safe one.
fn start_body() -> impl Strategy<Value = Value> {
    let command = prop_oneof![
        4 => prop::sample::select(SAFE_COMMANDS.to_vec()).prop_map(Value::from),
        1 => Just(Value::from("")),
        1 => json_value().prop_filter("not a string", |v| !v.is_string()),
    ];
    let workdir = prop_oneof![
        3 => prop::sample::select(vec![
            "{sandbox}",
            "{sandbox}/dir",
            "{sandbox}/missing",
            "{sandbox}/a.txt",
            "",
            "relative",
        ])
        .prop_map(Value::from),
        1 => json_value(),
    ];
    let env_key = prop::sample::select(vec!["A", "HOME", "", "A=B", "\u{0}", "LANG"]);
    let env = prop_oneof![
        3 => prop::collection::btree_map(env_key, hostile_value().prop_map(Value::from), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        1 => json_value(),
    ];
    let background = prop_oneof![3 => any::<bool>().prop_map(Value::Bool), 1 => json_value()];
    (
        prop::option::of(command),
        prop::option::of(workdir),
        prop::option::of(env),
        prop::option::of(background),
    )
        .prop_map(|(command, workdir, env, background)| {
            let mut map = serde_json::Map::new();
            for (k, v) in [
                ("command", command),
                ("workdir", workdir),
                ("env", env),
                ("background", background),
            ] {
                if let Some(v) = v {
                    map.insert(k.to_string(), v);
                }
            }
            Value::Object(map)
        })
}

fn signal_body() -> impl Strategy<Value = Value> {
    let signal = prop_oneof![
        3 => prop::sample::select(vec!["kill", "terminate", "", "KILL", "SIGKILL", "hup", "9"])
            .prop_map(Value::from),
        1 => json_value(),
    ];
    prop::option::of(signal).prop_map(|s| match s {
        Some(s) => json!({ "signal": s }),
        None => json!({}),
    })
}

/// An edit-files request whose paths all point into the sandbox.
fn edit_body() -> impl Strategy<Value = Value> {
    let path = file_path();
    let text = prop::sample::select(vec!["alpha", "beta", "", "\n", "zzz", "a"]);
    let edit = (text.clone(), text, any::<bool>())
        .prop_map(|(s, r, all)| json!({"search": s, "replace": r, "replace_all": all}));
    let file = (path, prop::collection::vec(edit, 0..3))
        .prop_map(|(p, edits)| json!({"path": p, "edits": edits}));
    prop::collection::vec(file, 0..3).prop_map(|files| json!({ "files": files }))
}

fn body() -> impl Strategy<Value = BodyGen> {
    let broken = prop::sample::select(vec![
        &b"{"[..],
        b"{not json",
        b"[]",
        b"null",
        b"\"str\"",
        b"5",
        b"{\"signal\": \"\xff\xfe\"}",
        b"{\"command\": \"\xff\"}",
        b"\xef\xbb\xbf{}",
        b"{}{}",
        b"{\"signal\": \"kill\"} trailing",
        b"{\"signal\": \"kill\", \"signal\": \"terminate\"}",
    ])
    .prop_map(|b| BodyGen::Raw(b.to_vec()));
    prop_oneof![
        3 => Just(BodyGen::Raw(Vec::new())),
        3 => start_body().prop_map(BodyGen::Json),
        2 => signal_body().prop_map(BodyGen::Json),
        1 => edit_body().prop_map(BodyGen::Json),
        2 => json_value().prop_map(BodyGen::Json),
        2 => broken,
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(BodyGen::Raw),
        1 => (BODY_LIMIT + 1..BODY_LIMIT * 4, any::<bool>())
            .prop_map(|(len, json)| BodyGen::Huge { len, json }),
    ]
}

/// Mostly a body of the route's own shape (with wrong types inside),
/// otherwise any body.
fn body_for(kind: Kind) -> BoxedStrategy<BodyGen> {
    let own = match kind {
        Kind::Start => start_body().prop_map(BodyGen::Json).boxed(),
        Kind::Signal => signal_body().prop_map(BodyGen::Json).boxed(),
        Kind::EditFiles => edit_body().prop_map(BodyGen::Json).boxed(),
        Kind::WriteFile => "[ -~\\n]{0,64}"
            .prop_map(|s| BodyGen::Raw(s.into_bytes()))
            .boxed(),
        _ => return body().boxed(),
    };
    prop_oneof![2 => own, 1 => body()].boxed()
}

fn hostile() -> impl Strategy<Value = Hostile> {
    route().prop_flat_map(|(path, kind, query)| {
        let method = prop_oneof![3 => Just(kind.method()), 1 => method()];
        (method, headers(), body_for(kind)).prop_map(move |(method, headers, body)| Hostile {
            method,
            path: path.clone(),
            query: query.clone(),
            headers,
            body,
        })
    })
}

// ---- Sandbox and rig --------------------------------------------------------

/// What a sandbox entry looks like, to tell whether it changed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File {
        content: Vec<u8>,
        mode: u32,
    },
    Link(PathBuf),
    /// A name in the test's working directory, where a relative path would
    /// land if the agent accepted one.
    Present,
}

type Snapshot = BTreeMap<PathBuf, Entry>;

/// A temporary directory with files, a directory, a symlink and a git
/// repository (so that `git/show` gets past its checks).
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("sandbox");
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "alpha\nbeta\n").expect("a.txt");
        std::fs::create_dir(root.join("dir")).expect("dir");
        std::fs::write(root.join("dir/b.txt"), "beta\r\nalpha").expect("b.txt");
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link")).expect("link");
        let git = |args: &[&str]| {
            // Without git the show route answers 400 and the rest still runs.
            let _ = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(root)
                .output();
        };
        git(&["init", "-q"]);
        git(&["add", "a.txt"]);
        git(&["commit", "-q", "-m", "init"]);
        Sandbox { dir }
    }

    fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Every entry under the root except git's own files, and the names in
    /// the working directory.
    fn snapshot(&self) -> Snapshot {
        let mut out = Snapshot::new();
        walk(self.dir.path(), &mut out);
        if let Ok(entries) = std::fs::read_dir(".") {
            for entry in entries.flatten() {
                out.insert(entry.path(), Entry::Present);
            }
        }
        out
    }
}

fn walk(dir: &Path, out: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            out.insert(path, Entry::Link(target));
        } else if meta.is_dir() {
            out.insert(path.clone(), Entry::Dir);
            walk(&path, out);
        } else {
            use std::os::unix::fs::PermissionsExt;
            let content = std::fs::read(&path).unwrap_or_default();
            let mode = meta.permissions().mode();
            out.insert(path, Entry::File { content, mode });
        }
    }
}

/// The agent's config: small body limit, short wait cap.
fn config() -> AgentConfig {
    AgentConfig {
        body_limit: BODY_LIMIT,
        max_wait: Duration::from_millis(100),
        wait_delay: Duration::from_secs(1),
        ..AgentConfig::default()
    }
}

/// A request with its placeholders filled in.
#[derive(Debug)]
struct Concrete {
    method: Method,
    path: String,
    path_and_query: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

/// An answer, from either transport.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: http::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Placeholder values for one agent.
struct Fill {
    sandbox: String,
    running: String,
    exited: String,
}

impl Fill {
    /// Fills the placeholders, also where a query encoder escaped their
    /// braces (the values themselves need no escaping in a query).
    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (placeholder, value) in [
            (SANDBOX, &self.sandbox),
            (RUNNING, &self.running),
            (EXITED, &self.exited),
        ] {
            let escaped = placeholder.replace('{', "%7B").replace('}', "%7D");
            out = out.replace(placeholder, value).replace(&escaped, value);
        }
        out
    }

    fn concrete(&self, h: &Hostile) -> Concrete {
        let path = self.text(&h.path);
        let path_and_query = match &h.query {
            Some(q) => format!("{path}?{}", self.text(q)),
            None => path.clone(),
        };
        let headers = h
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let value = HeaderValue::from_bytes(value).ok()?;
                Some((HeaderName::from_static(name), value))
            })
            .collect();
        let body = match &h.body {
            BodyGen::Raw(b) => Bytes::from(b.clone()),
            BodyGen::Json(v) => Bytes::from(self.text(&v.to_string())),
            BodyGen::Huge { len, json: false } => Bytes::from(vec![b'x'; *len]),
            BodyGen::Huge { len, json: true } => {
                let pad = "x".repeat(len.saturating_sub(32));
                Bytes::from(json!({"command": "true", "pad": pad}).to_string())
            }
        };
        let c = Concrete {
            method: h.method.clone(),
            path,
            path_and_query,
            headers,
            body,
        };
        assert_harmless(&c.body);
        if c.path.ends_with("/write-file") || c.path.ends_with("/edit-files") {
            assert_confined(&c, &self.sandbox);
        }
        c
    }
}

/// Refuses to send a file-writing request with a path the generator should
/// not make: an absolute path outside the sandbox, or a relative one with a
/// directory in it (a bare name would show in the working directory).
fn assert_confined(c: &Concrete, sandbox: &str) {
    let query = c
        .path_and_query
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("");
    let mut paths: Vec<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "path")
        .map(|(_, v)| v)
        .collect();
    if let Ok(body) = serde_json::from_slice::<Value>(&c.body) {
        json_paths(&body, &mut paths);
    }
    for p in paths {
        assert!(
            confined(Path::new(sandbox), &p),
            "the generator produced a path outside the sandbox: {p:?}"
        );
    }
}

/// Every string under a `path` key.
fn json_paths(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == "path" => out.push(s.clone()),
                    v => json_paths(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| json_paths(v, out)),
        _ => {}
    }
}

fn confined(sandbox: &Path, p: &str) -> bool {
    use std::path::Component;
    if !p.starts_with('/') {
        return !p.contains('/');
    }
    let mut normal = PathBuf::from("/");
    for part in Path::new(p).components() {
        match part {
            Component::Normal(name) => normal.push(name),
            Component::ParentDir => {
                normal.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    normal.starts_with(sandbox)
}

/// Refuses to send a body the agent would start as anything but a safe
/// command: decoded as the agent decodes a start request (only an object
/// can be one; serde alone would also read an array positionally).
fn assert_harmless(body: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if !value.is_object() {
        return;
    }
    if let Ok(req) = serde_json::from_value::<StartProcessRequest>(value) {
        assert!(
            req.command.is_empty() || SAFE_COMMANDS.contains(&req.command.as_str()),
            "the generator produced an unsafe command: {:?}",
            req.command
        );
    }
}

#[test]
fn the_path_guard_allows_only_the_sandbox_and_bare_names() {
    let root = Path::new("/tmp/sb");
    for ok in [
        "/tmp/sb",
        "/tmp/sb/a.txt",
        "/tmp/sb/dir/../a.txt",
        "rel.txt",
        "",
        " ",
    ] {
        assert!(confined(root, ok), "{ok}");
    }
    for bad in [
        "/tmp/sb/../x",
        "/etc/passwd",
        "/tmp/sbx/a",
        "dir/a.txt",
        "../a.txt",
        "/",
    ] {
        assert!(!confined(root, bad), "{bad}");
    }
}

/// The 5xx message the spec gives the route of `path`, if any.
fn spec_5xx(path: &str) -> Option<&'static str> {
    if path == "/api/v0/git/watch" {
        return Some("Failed to accept WebSocket.");
    }
    match path.strip_prefix("/api/v0/processes/")? {
        "start" => Some("Failed to start process."),
        p if p.ends_with("/signal") && p.matches('/').count() == 1 => {
            Some("Failed to signal process.")
        }
        _ => None,
    }
}

/// Routes that may change files when they succeed.
fn writes_files(c: &Concrete) -> bool {
    c.method == Method::POST
        && matches!(c.path.as_str(), "/api/v0/write-file" | "/api/v0/edit-files")
}

/// Checks one answer against the property (see the module docs).
fn check(
    c: &Concrete,
    a: &Answer,
    before: &Snapshot,
    after: &Snapshot,
) -> Result<(), TestCaseError> {
    let what = format!(
        "{} {} -> {} {:?}",
        c.method,
        c.path_and_query,
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    let ok = (200..300).contains(&a.status);
    let head = c.method == Method::HEAD;
    if !ok {
        let ct = a.header(http::header::CONTENT_TYPE).unwrap_or_default();
        prop_assert!(
            ct.starts_with("application/json"),
            "{what}: content type {ct:?}"
        );
        if !(head && a.body.is_empty()) {
            let v: Value = serde_json::from_slice(&a.body)
                .map_err(|e| TestCaseError::fail(format!("{what}: not JSON: {e}")))?;
            let envelope = v
                .as_object()
                .ok_or_else(|| TestCaseError::fail(format!("{what}: not an object")))?;
            prop_assert!(
                envelope
                    .keys()
                    .all(|k| ["message", "detail", "validations"].contains(&k.as_str())),
                "{what}: keys beyond the envelope"
            );
            let message = envelope.get("message").and_then(Value::as_str);
            prop_assert!(message.is_some_and(|m| !m.is_empty()), "{what}: no message");
            prop_assert!(
                envelope.get("detail").is_none_or(Value::is_string),
                "{what}: detail not a string"
            );
            if a.status >= 500 {
                prop_assert!(
                    a.status == 500 && message == spec_5xx(&c.path),
                    "{what}: a 5xx the spec does not give this route"
                );
            }
        }
    }
    prop_assert!(
        ok || (400..600).contains(&a.status),
        "{what}: neither 2xx, 4xx nor 5xx"
    );
    // Every success but a raw file read is a JSON object too.
    if ok && !head && c.path != "/api/v0/read-file" {
        let ct = a.header(http::header::CONTENT_TYPE).unwrap_or_default();
        prop_assert!(
            ct.starts_with("application/json"),
            "{what}: content type {ct:?}"
        );
        prop_assert!(a.json().is_object(), "{what}: not a JSON object");
    }
    if !(ok && writes_files(c)) {
        prop_assert!(
            before == after,
            "{what}: the sandbox changed: {:?}",
            diff(before, after)
        );
    }
    Ok(())
}

fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, e) in after {
        if before.get(p) != Some(e) {
            out.push(format!("changed or new: {}", p.display()));
        }
    }
    for p in before.keys() {
        if !after.contains_key(p) {
            out.push(format!("removed: {}", p.display()));
        }
    }
    out
}

/// Starts the fixture processes: one that runs for the whole test and one
/// that has exited.
async fn fixtures(agent: &Agent, sandbox: &Sandbox) -> Fill {
    use agent::process::manager::StartRequest;
    let start = |command: &str| StartRequest {
        command: command.to_string(),
        workdir: Some(sandbox.root()),
        env: BTreeMap::new(),
        background: false,
        chat_id: None,
    };
    let running = agent
        .processes()
        .start(start("sleep 600"))
        .await
        .expect("start sleep");
    let exited = agent
        .processes()
        .start(start("true"))
        .await
        .expect("start true");
    exited.done().await;
    Fill {
        sandbox: sandbox.root(),
        running: running.id().to_string(),
        exited: exited.id().to_string(),
    }
}

/// Answers per route and status, printed at the end of a run (see them
/// with `--nocapture`) to show how deep the generated input gets.
#[derive(Default)]
struct Tally(std::sync::Mutex<BTreeMap<(String, u16), u32>>);

impl Tally {
    fn add(&self, c: &Concrete, a: &Answer) {
        let known = [
            "/api/v0/processes/start",
            "/api/v0/processes/list",
            "/api/v0/git/watch",
            "/api/v0/git/show",
            "/api/v0/read-file-lines",
            "/api/v0/read-file",
            "/api/v0/write-file",
            "/api/v0/edit-files",
        ];
        let id_route = c
            .path
            .strip_prefix("/api/v0/processes/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(_, op)| ["output", "signal"].contains(&op).then_some(op));
        let route = match id_route {
            Some(op) => format!("{{id}}/{op}"),
            None if known.contains(&c.path.as_str()) => c.path["/api/v0/".len()..].to_string(),
            None => "(unknown)".to_string(),
        };
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((format!("{} {route}", c.method), a.status))
            .or_default() += 1;
    }

    fn print(&self) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, status), n) in map.iter() {
            eprintln!("{route:>32} {status} x{n}");
        }
    }
}

/// Every request is answered well within this (the wait cap is 100 ms).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

fn no_answer(c: &Concrete) -> TestCaseError {
    TestCaseError::fail(format!(
        "{} {}: no answer within {ANSWER_WITHIN:?}",
        c.method, c.path_and_query
    ))
}

/// Case count: `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

// ---- In process -------------------------------------------------------------

async fn send_oneshot(router: &Router, c: &Concrete) -> Answer {
    let mut req = Request::builder()
        .method(c.method.clone())
        .uri(c.path_and_query.as_str())
        .body(axum::body::Body::from(c.body.clone()))
        .expect("a valid request");
    for (k, v) in &c.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

#[test]
fn hostile_requests_to_the_router_get_well_formed_answers_and_change_no_file() {
    let rt = runtime();
    let sandbox = Sandbox::new();
    let home = tempfile::tempdir().expect("home");
    let config = config();
    let agent = Agent::new(
        config.clone(),
        real_seams(&config, Some(home.path().into())),
    );
    let router = agent::http::router(agent.clone());
    let fill = rt.block_on(fixtures(&agent, &sandbox));
    let tally = Tally::default();
    let result = runner(cases(256)).run(&hostile(), |h| {
        let c = fill.concrete(&h);
        let before = sandbox.snapshot();
        let answer = rt
            .block_on(async {
                tokio::time::timeout(ANSWER_WITHIN, send_oneshot(&router, &c)).await
            })
            .map_err(|_| no_answer(&c))?;
        tally.add(&c, &answer);
        check(&c, &answer, &before, &sandbox.snapshot())
    });
    tally.print();
    rt.block_on(agent.processes().shutdown());
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---- Through the real server ------------------------------------------------

async fn send_tcp(addr: std::net::SocketAddr, c: &Concrete) -> Result<Answer, hyper::Error> {
    let io = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(c.method.clone())
        .uri(c.path_and_query.as_str())
        .header("host", "agent")
        .header("connection", "close")
        .body(Full::new(c.body.clone()))
        .expect("a valid request");
    for (k, v) in &c.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    let result = async {
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
    .await;
    driver.abort();
    result
}

#[test]
fn hostile_requests_over_tcp_get_well_formed_answers_and_the_server_stays_up() {
    let rt = runtime();
    let sandbox = Sandbox::new();
    let home = tempfile::tempdir().expect("home");
    let config = config();
    let seams = real_seams(&config, Some(home.path().into()));
    let server = rt.block_on(TestAgent::start(config, seams));
    let fill = rt.block_on(fixtures(&server.agent, &sandbox));
    let addr = server.addr;
    let tally = Tally::default();
    let result = runner(cases(32)).run(&hostile(), |h| {
        let c = fill.concrete(&h);
        let before = sandbox.snapshot();
        let answer = rt
            .block_on(async { tokio::time::timeout(ANSWER_WITHIN, send_tcp(addr, &c)).await })
            .map_err(|_| no_answer(&c))?
            .map_err(|e| {
                TestCaseError::fail(format!(
                    "{} {}: transport error {e}",
                    c.method, c.path_and_query
                ))
            })?;
        tally.add(&c, &answer);
        check(&c, &answer, &before, &sandbox.snapshot())
    });
    tally.print();
    // Still serving after all of it.
    let list = rt.block_on(server.client().get("/api/v0/processes/list"));
    rt.block_on(server.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(list.status, 200);
}

// ---- Regressions found by the generator ------------------------------------

/// A router over real seams, for one-off requests.
fn plain_router() -> (Router, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("home");
    let config = config();
    let agent = Agent::new(
        config.clone(),
        real_seams(&config, Some(home.path().into())),
    );
    (agent::http::router(agent), home)
}

async fn request(router: &Router, method: Method, uri: &str) -> Answer {
    let c = Concrete {
        method,
        path: uri.split('?').next().unwrap_or_default().to_string(),
        path_and_query: uri.to_string(),
        headers: Vec::new(),
        body: Bytes::new(),
    };
    send_oneshot(router, &c).await
}

/// Asserts `a` is the JSON envelope with `status` and `message`.
fn assert_envelope(a: &Answer, status: u16, message: &str, what: &str) {
    assert_eq!(a.status, status, "{what}: {:?}", a.body);
    assert_eq!(
        a.header(http::header::CONTENT_TYPE),
        Some("application/json"),
        "{what}"
    );
    assert_eq!(a.json()["message"], message, "{what}");
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let (router, _home) = plain_router();
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/api/v0/processes"),
        (Method::GET, "/api/v0/processes/list/"),
        (Method::POST, "/api/v0/processes/x/kill"),
        (Method::GET, "/api/v0/processes/x/output/more"),
        (Method::DELETE, "/api/v1/processes/list"),
    ] {
        let a = request(&router, method.clone(), path).await;
        assert_envelope(&a, 404, "Route not found.", &format!("{method} {path}"));
    }
}

#[tokio::test]
async fn a_known_route_with_another_method_is_a_json_405_with_allow() {
    let (router, _home) = plain_router();
    for (method, path, allow) in [
        (Method::GET, "/api/v0/processes/start", "POST"),
        (Method::POST, "/api/v0/processes/list", "GET,HEAD"),
        (Method::DELETE, "/api/v0/processes/x/output", "GET,HEAD"),
        (Method::GET, "/api/v0/processes/x/signal", "POST"),
        (Method::PUT, "/api/v0/git/show", "GET,HEAD"),
    ] {
        let what = format!("{method} {path}");
        let a = request(&router, method.clone(), path).await;
        assert_envelope(&a, 405, "Method not allowed.", &what);
        assert_eq!(a.header(http::header::ALLOW), Some(allow), "{what}");
    }
}

#[tokio::test]
async fn git_show_never_reads_the_ref_as_a_git_option() {
    let sandbox = Sandbox::new();
    let (router, _home) = plain_router();
    let root = sandbox.root();
    let before = sandbox.snapshot();
    // `git show --output=<file>:a.txt` would write <file>.
    let uri = format!("/api/v0/git/show?repo_root={root}&ref=--output={root}/injected&path=a.txt");
    let a = request(&router, Method::GET, &uri).await;
    assert_envelope(&a, 404, "File not found.", &uri);
    assert_eq!(
        sandbox.snapshot(),
        before,
        "{:?}",
        diff(&before, &sandbox.snapshot())
    );
    // A real ref still works.
    let uri = format!("/api/v0/git/show?repo_root={root}&ref=HEAD&path=a.txt");
    let a = request(&router, Method::GET, &uri).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["contents"], "alpha\nbeta\n");
}
