//! The agent under hostile HTTP input (the contract is `docs/agent-api.md`; the
//! findings are the W-series of `docs/races.md`): proptest generates requests
//! with random methods, paths (known routes, unknown routes, ids with odd
//! characters), query strings, headers (malformed `Coder-Chat-Id` /
//! `Coder-Ancestor-Chat-Ids` among them), JSON bodies of the wrong shapes and
//! types, invalid UTF-8 and bodies beyond the size limit. They go to the router
//! in process (tower `oneshot`: fast, no sockets) and, in a shorter run,
//! through the real server on loopback.
//!
//! The property, for every request:
//! * the answer is 2xx or 4xx, or one of the documented 5xx for its route
//!   (e.g. a start whose spawn fails: 500 `Failed to start process.`);
//! * every non-2xx answer is the JSON envelope `{"message", "detail"?,
//!   "validations"?}` with `Content-Type: application/json`;
//! * nothing panics: in process a handler panic fails the case; over TCP the
//!   server's guard answers 500 `Internal server error.`, which the first
//!   rule rejects;
//! * no file in the sandbox changes, unless a file-writing route
//!   (`write-file`, `edit-files`) answered 2xx;
//! * a request without the token, with a wrong one, a foreign `Host` or a
//!   foreign `Origin` is refused (401 or 403).
//!
//! The generators and the answer check live in `hostile/mod.rs`, shared
//! with the `hostile-input` simulation scenario. Commands the fuzzer can
//! start are harmless: a start body only ever carries a command from
//! `SAFE_COMMANDS`, and `assert_harmless` decodes every body with the
//! agent's own wire type before it is sent. File paths in generated input
//! all point into the sandbox (or nowhere).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::{Agent, AgentConfig};
use agent_testkit::hostile;
use axum::Router;
use bytes::Bytes;
use common::{TestAgent, TestAgentExt, real_seams};
use hostile::{
    Access, Answer, BODY_LIMIT, Concrete, Fill, access_headers, check_answer, confined, hostile,
    writes_files,
};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tower::ServiceExt;

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
    /// A FIFO (never opened: reading one without a writer blocks).
    Special,
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
        // Reading a FIFO without a writer used to block the server.
        nix::unistd::mkfifo(
            &root.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .expect("fifo");
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
        } else if !meta.is_file() {
            out.insert(path, Entry::Special);
        } else {
            use std::os::unix::fs::PermissionsExt;
            let content = std::fs::read(&path).unwrap_or_default();
            let mode = meta.permissions().mode();
            out.insert(path, Entry::File { content, mode });
        }
    }
}

/// The token of the agents under test.
const TOKEN: &str = "bad-input-token";

/// The agent's config: small body limit, short wait cap, a token.
fn config() -> AgentConfig {
    AgentConfig {
        token: Some(TOKEN.into()),
        body_limit: BODY_LIMIT,
        max_wait: Duration::from_millis(100),
        wait_delay: Duration::from_secs(1),
        ..AgentConfig::default()
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

/// Checks one answer against the property (see the module docs).
fn check(
    c: &Concrete,
    a: &Answer,
    before: &Snapshot,
    after: &Snapshot,
) -> Result<(), TestCaseError> {
    check_answer(c, a)?;
    if !(200..300).contains(&a.status) || !writes_files(c) {
        prop_assert!(
            before == after,
            "{} {} -> {}: the sandbox changed: {:?}",
            c.method,
            c.path_and_query,
            a.status,
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
        token: TOKEN.into(),
        host: "localhost".into(),
    }
}

/// Answers per route and status, printed at the end of a run (see them
/// with `--nocapture`) to show how deep the generated input gets.
#[derive(Default)]
struct Tally(parking_lot::Mutex<BTreeMap<(String, u16), u32>>);

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
        let mut map = self.0.lock();
        *map.entry((format!("{} {route}", c.method), a.status))
            .or_default() += 1;
    }

    fn print(&self) {
        let map = self.0.lock();
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
        headers: access_headers(TOKEN, "localhost", Access::Granted),
        body: Bytes::new(),
        access: Access::Granted,
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

/// An upload the agent rejects (beyond the body limit) leaves no trace,
/// not even the parent directories of its path (found by the
/// `hostile-input` simulation: `write-file?path=<sandbox>/new/c.txt` with a
/// huge body answered 413 and left `new/` behind).
#[tokio::test]
async fn a_rejected_upload_creates_no_parent_directory() {
    let sandbox = Sandbox::new();
    let (router, _home) = plain_router();
    let before = sandbox.snapshot();
    let uri = format!(
        "/api/v0/write-file?path={}/new/deeper/c.txt",
        sandbox.root()
    );
    let c = Concrete {
        method: Method::POST,
        path: "/api/v0/write-file".into(),
        path_and_query: uri.clone(),
        headers: access_headers(TOKEN, "localhost", Access::Granted),
        body: Bytes::from(vec![b'x'; BODY_LIMIT + 1]),
        access: Access::Granted,
    };
    let a = send_oneshot(&router, &c).await;
    assert_eq!(a.status, 413, "{uri}: {:?}", a.body);
    assert_eq!(
        sandbox.snapshot(),
        before,
        "{:?}",
        diff(&before, &sandbox.snapshot())
    );
    // Within the limit, the parents are made and the file written.
    let c = Concrete {
        body: Bytes::from_static(b"ok\n"),
        ..c
    };
    let a = send_oneshot(&router, &c).await;
    assert_eq!(a.status, 200, "{uri}: {:?}", a.body);
    let written = std::fs::read(format!("{}/new/deeper/c.txt", sandbox.root())).unwrap();
    assert_eq!(written, b"ok\n");
}
