//! Hostile HTTP requests for the agent, shared by the agent's `bad_input.rs`
//! (router in process, real server on loopback) and the `hostile-input`
//! simulation scenario: proptest strategies
//! for methods, paths, query strings, headers, JSON bodies of the wrong
//! shapes, invalid UTF-8 and bodies beyond [`BODY_LIMIT`]; placeholders for
//! the sandbox and two live process ids ([`Fill`]); the guards that keep
//! generated input harmless; and the property every answer must have
//! ([`check_answer`]):
//! * the answer is 2xx or 4xx, or one of the documented 5xx for its route
//!   (e.g. a start whose spawn fails: 500 `Failed to start process.`);
//! * every non-2xx answer is the JSON envelope `{"message", "detail"?,
//!   "validations"?}` with `Content-Type: application/json`;
//! * every success but a raw file read is a JSON object;
//! * a request without the agent's token, with a wrong one, with a foreign
//!   `Host` or with a foreign `Origin` ([`Access`]) is refused with its own
//!   status (401 or 403), whatever its route, method and body.
//!
//! Every other request carries the agent's token, an allowed `Host` and,
//! unless the generator picked one, `Content-Type: application/json`.
//!
//! The callers add the rest: no panic, and no file changed unless a
//! file-writing route ([`writes_files`]) answered 2xx.

use std::path::{Path, PathBuf};

use agent::process::wire::StartProcessRequest;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use crate::{CHAT_A, CHAT_B};

/// The request body limit of the agents under test: small, so that bodies
/// beyond it stay cheap.
pub const BODY_LIMIT: usize = 2048;

/// The only commands a generated start request may carry.
pub const SAFE_COMMANDS: [&str; 4] = ["true", "false", "echo x", "echo x >&2; exit 3"];

/// Placeholders in generated input, filled in per agent.
pub const SANDBOX: &str = "{sandbox}";
pub const RUNNING: &str = "{running}";
pub const EXITED: &str = "{exited}";

// ---- Generated requests -----------------------------------------------------

/// A generated request, with placeholders.
#[derive(Clone, Debug)]
pub struct Hostile {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(&'static str, Vec<u8>)>,
    pub body: BodyGen,
    pub access: Access,
}

/// Who a request claims to come from: mostly the agent's own client, now
/// and then a caller the access guard must refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The token, an allowed `Host`, no `Origin`.
    Granted,
    NoToken,
    WrongToken,
    /// A DNS-rebinding page: its own name as `Host`.
    ForeignHost,
    /// A web page: a foreign `Origin`.
    ForeignOrigin,
}

/// The `Host` a DNS-rebinding page sends.
pub const FOREIGN_HOST: &str = "evil.attacker.example";
/// The `Origin` a foreign web page sends.
pub const FOREIGN_ORIGIN: &str = "http://evil.example";

impl Access {
    /// The status the guard refuses this access with (`None`: let through).
    pub fn refused_with(self) -> Option<u16> {
        match self {
            Access::Granted => None,
            Access::NoToken | Access::WrongToken => Some(401),
            Access::ForeignHost | Access::ForeignOrigin => Some(403),
        }
    }
}

pub fn access() -> impl Strategy<Value = Access> {
    prop_oneof![
        24 => Just(Access::Granted),
        1 => Just(Access::NoToken),
        1 => Just(Access::WrongToken),
        1 => Just(Access::ForeignHost),
        1 => Just(Access::ForeignOrigin),
    ]
}

#[derive(Clone, Debug)]
pub enum BodyGen {
    /// Raw bytes (empty, random, invalid UTF-8, broken JSON).
    Raw(Vec<u8>),
    /// A JSON value, possibly of the wrong shape for the route.
    Json(Value),
    /// A body of `len` bytes, beyond [`BODY_LIMIT`]; valid JSON when `json`.
    Huge { len: usize, json: bool },
}

pub fn method() -> impl Strategy<Value = Method> {
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
pub fn id_segment() -> impl Strategy<Value = String> {
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

pub fn percent_encode_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// What a generated path is, so that method and body can often be the
/// ones its route expects (a wrong method or shape stops at the first check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
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
    pub fn method(self) -> Method {
        match self {
            Kind::Start | Kind::Signal | Kind::WriteFile | Kind::EditFiles => Method::POST,
            _ => Method::GET,
        }
    }
}

/// A path, its kind and a query: a generic one, or now and then one made
/// for the route (several parameters must all be right to get deep into
/// the handler).
pub fn route() -> impl Strategy<Value = (String, Kind, Option<String>)> {
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
pub fn show_query() -> impl Strategy<Value = String> {
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
pub fn file_path() -> impl Strategy<Value = &'static str> {
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
        "{sandbox}/fifo",
        "rel.txt",
        "",
        " ",
    ])
}

/// The file API's parameters, with paths into the sandbox.
pub fn file_query() -> impl Strategy<Value = String> {
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
pub fn hostile_value() -> impl Strategy<Value = String> {
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

pub fn query() -> impl Strategy<Value = Option<String>> {
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
pub fn header_bytes(good: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let good = prop::sample::select(good).prop_map(String::into_bytes);
    prop_oneof![
        3 => good,
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn headers() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
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
    // Half of them JSON: any other type stops a JSON route at its door.
    let content_types = strings(&[
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;charset=UTF-8",
        "application/json-seq",
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
pub fn json_value() -> impl Strategy<Value = Value> {
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
pub fn start_body() -> impl Strategy<Value = Value> {
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

pub fn signal_body() -> impl Strategy<Value = Value> {
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

/// An edit-files request whose paths all point into the sandbox: mostly
/// any mix of files and edits, now and then one edit of one existing file
/// that can apply (every file and edit of a request must, for a 2xx).
pub fn edit_body() -> impl Strategy<Value = Value> {
    let path = file_path();
    let text = prop::sample::select(vec!["alpha", "beta", "", "\n", "zzz", "a"]);
    let edit = (text.clone(), text, any::<bool>())
        .prop_map(|(s, r, all)| json!({"search": s, "replace": r, "replace_all": all}));
    let file = (path, prop::collection::vec(edit, 0..3))
        .prop_map(|(p, edits)| json!({"path": p, "edits": edits}));
    let any_files = prop::collection::vec(file, 0..3).prop_map(|files| json!({ "files": files }));
    let existing = prop::sample::select(vec!["{sandbox}/a.txt", "{sandbox}/dir/b.txt"]);
    let replace = prop::sample::select(vec!["gamma", "beta", ""]);
    let plausible = (existing, replace).prop_map(
        |(p, r)| json!({"files": [{"path": p, "edits": [{"search": "alpha", "replace": r}]}]}),
    );
    prop_oneof![3 => any_files, 1 => plausible]
}

pub fn body() -> impl Strategy<Value = BodyGen> {
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
        1 => huge(),
    ]
}

/// A body beyond [`BODY_LIMIT`].
pub fn huge() -> impl Strategy<Value = BodyGen> {
    (BODY_LIMIT + 1..BODY_LIMIT * 4, any::<bool>())
        .prop_map(|(len, json)| BodyGen::Huge { len, json })
}

/// Mostly a body of the route's own shape (with wrong types inside),
/// otherwise any body, now and then one beyond the limit.
pub fn body_for(kind: Kind) -> BoxedStrategy<BodyGen> {
    let own = match kind {
        Kind::Start => start_body().prop_map(BodyGen::Json).boxed(),
        Kind::Signal => signal_body().prop_map(BodyGen::Json).boxed(),
        Kind::EditFiles => edit_body().prop_map(BodyGen::Json).boxed(),
        Kind::WriteFile => "[ -~\\n]{0,64}"
            .prop_map(|s| BodyGen::Raw(s.into_bytes()))
            .boxed(),
        _ => return body().boxed(),
    };
    prop_oneof![6 => own, 3 => body(), 1 => huge()].boxed()
}

pub fn hostile() -> impl Strategy<Value = Hostile> {
    route().prop_flat_map(|(path, kind, query)| {
        let method = prop_oneof![3 => Just(kind.method()), 1 => method()];
        (method, headers(), body_for(kind), access()).prop_map(
            move |(method, headers, body, access)| Hostile {
                method,
                path: path.clone(),
                query: query.clone(),
                headers,
                body,
                access,
            },
        )
    })
}

/// A request with its placeholders filled in. `headers` holds every
/// header to send but `Connection`, `Host` included.
#[derive(Debug)]
pub struct Concrete {
    pub method: Method,
    pub path: String,
    pub path_and_query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub access: Access,
}

/// An answer, from either transport.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: http::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Placeholder values and credentials for one agent.
pub struct Fill {
    pub sandbox: String,
    pub running: String,
    pub exited: String,
    /// The agent's bearer token.
    pub token: String,
    /// A `Host` value the agent accepts.
    pub host: String,
}

impl Fill {
    /// Fills the placeholders, also where a query encoder escaped their
    /// braces (the values themselves need no escaping in a query).
    pub fn text(&self, s: &str) -> String {
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

    pub fn concrete(&self, h: &Hostile) -> Concrete {
        let path = self.text(&h.path);
        let path_and_query = match &h.query {
            Some(q) => format!("{path}?{}", self.text(q)),
            None => path.clone(),
        };
        let mut headers: Vec<(HeaderName, HeaderValue)> = h
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let value = HeaderValue::from_bytes(value).ok()?;
                Some((HeaderName::from_static(name), value))
            })
            .collect();
        if !headers
            .iter()
            .any(|(name, _)| name == http::header::CONTENT_TYPE)
        {
            headers.push((
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ));
        }
        headers.extend(access_headers(&self.token, &self.host, h.access));
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
            access: h.access,
        };
        assert_harmless(&c.body);
        if c.path.ends_with("/write-file") || c.path.ends_with("/edit-files") {
            assert_confined(&c, &self.sandbox);
        }
        c
    }
}

/// The headers of `access` to an agent whose token is `token` and that
/// accepts `host`: `Host`, `Authorization`, `Origin`.
pub fn access_headers(token: &str, host: &str, access: Access) -> Vec<(HeaderName, HeaderValue)> {
    let value = |s: &str| HeaderValue::from_str(s).expect("a header value");
    let host = match access {
        Access::ForeignHost => FOREIGN_HOST,
        _ => host,
    };
    let mut out = vec![(http::header::HOST, value(host))];
    match access {
        Access::NoToken => {}
        Access::WrongToken => out.push((
            http::header::AUTHORIZATION,
            value(&format!("Bearer x{token}")),
        )),
        _ => out.push((
            http::header::AUTHORIZATION,
            value(&format!("Bearer {token}")),
        )),
    }
    if access == Access::ForeignOrigin {
        out.push((http::header::ORIGIN, value(FOREIGN_ORIGIN)));
    }
    out
}

/// Refuses to send a file-writing request with a path the generator should
/// not make: an absolute path outside the sandbox, or a relative one with a
/// directory in it (a bare name would show in the working directory).
pub fn assert_confined(c: &Concrete, sandbox: &str) {
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
pub fn json_paths(v: &Value, out: &mut Vec<String>) {
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

pub fn confined(sandbox: &Path, p: &str) -> bool {
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
pub fn assert_harmless(body: &[u8]) {
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

/// The 5xx message `docs/agent-api.md` gives the route of `path`, if any.
pub fn spec_5xx(path: &str) -> Option<&'static str> {
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
pub fn writes_files(c: &Concrete) -> bool {
    c.method == Method::POST
        && matches!(c.path.as_str(), "/api/v0/write-file" | "/api/v0/edit-files")
}

/// Checks one answer against the property's first three rules (see the
/// module docs); whether files changed is the caller's to check, with
/// [`writes_files`].
pub fn check_answer(c: &Concrete, a: &Answer) -> Result<(), TestCaseError> {
    let what = format!(
        "{} {} -> {} {:?}",
        c.method,
        c.path_and_query,
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    match c.access.refused_with() {
        Some(status) => {
            prop_assert_eq!(a.status, status, "{}: {:?} must be refused", what, c.access)
        }
        None => {
            let message = a.json()["message"].as_str().unwrap_or_default().to_string();
            prop_assert!(
                a.status != 401
                    && !(a.status == 403
                        && ["Host not allowed.", "Origin not allowed."]
                            .contains(&message.as_str())),
                "{}: the agent's own client was refused",
                what
            );
        }
    }
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
                    "{what}: a 5xx the API contract does not give this route"
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
    Ok(())
}
