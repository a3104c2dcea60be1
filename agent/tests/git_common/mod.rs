//! Shared helpers of the git tests: temporary repositories driven by the
//! real `git`, an in-memory scanner for timing tests, a served agent with
//! an SDK connection, and a simulation hook that runs code at one named
//! yield point.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agent::files::fs::{Fs, Metadata, RealFs};
use agent::git::WatchHandler;
use agent::git::scanner::{GitCliScanner, RepoScanner, RepoState, ScanError};
use agent::git::wire::{RepoChange, ServerMessage};
use agent::seams::{SequentialIds, SystemClock, TokioClock};
use agent::sim::{HookGuard, SimHook};
use agent::{Agent, AgentConfig, Bug, Seams};
use agent_sdk::{GitWatch, HttpAgentConn, TcpConnector};
use async_trait::async_trait;
use futures::StreamExt;
use futures::future::BoxFuture;

// ---------------------------------------------------------------- git repos

/// Runs git in `dir` with a fixed identity; panics with git's output on
/// failure.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@test.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@test.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary directory whose path has its symlinks resolved, so it
/// compares equal to the roots git reports.
pub struct TempDir {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = std::fs::canonicalize(dir.path()).expect("canonicalize");
        TempDir { _dir: dir, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A repository with one commit (`README.md` = `# Test\n`), like upstream's
/// `initTestRepo`.
pub struct TestRepo {
    dir: TempDir,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = TempDir::new();
        init_repo(dir.path());
        std::fs::write(dir.path().join("README.md"), "# Test\n").expect("write");
        git(dir.path(), &["add", "README.md"]);
        git(dir.path(), &["commit", "-q", "-m", "initial commit"]);
        TestRepo { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The root as the wire's `repo_root`.
    pub fn root_str(&self) -> String {
        self.root().to_string_lossy().into_owned()
    }

    /// The absolute path of `rel`, as a PathStore path.
    pub fn file(&self, rel: &str) -> String {
        self.root().join(rel).to_string_lossy().into_owned()
    }

    /// Writes `rel` (creating parent directories) and returns its path.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> String {
        let path = self.root().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        path.to_string_lossy().into_owned()
    }

    pub fn git(&self, args: &[&str]) {
        git(self.root(), args);
    }
}

/// `git init` plus a local identity.
pub fn init_repo(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@test.com"]);
}

/// A watch handler on the real world: git CLI, disk, system clock.
pub fn real_handler() -> WatchHandler {
    WatchHandler::new(
        Arc::new(GitCliScanner::new()),
        Arc::new(RealFs),
        Arc::new(SystemClock),
        &AgentConfig::default(),
    )
}

/// The repositories of a `changes` message; panics on anything else.
pub fn repos(msg: &ServerMessage) -> &[RepoChange] {
    match msg {
        ServerMessage::Changes { repositories, .. } => repositories,
        other => panic!("expected a changes message, got {other:?}"),
    }
}

/// The only repository of a `changes` message.
pub fn only_repo(msg: &ServerMessage) -> &RepoChange {
    let repos = repos(msg);
    assert_eq!(repos.len(), 1, "expected one repository: {repos:?}");
    &repos[0]
}

// ------------------------------------------------------------ fake scanner

/// An in-memory scanner: a set of repository roots with their state. A
/// directory belongs to the longest root it starts with; a root that is
/// not in the set reads as removed. Counts reads.
#[derive(Default)]
pub struct FakeScanner {
    repos: Mutex<BTreeMap<PathBuf, RepoState>>,
    reads: AtomicUsize,
}

impl FakeScanner {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeScanner::default())
    }

    /// Creates or changes a repository; `diff` stands for its whole state.
    pub fn set(&self, root: &str, diff: &str) {
        let state = RepoState {
            branch: "main".into(),
            remote_origin: String::new(),
            unified_diff: diff.into(),
        };
        self.repos
            .lock()
            .expect("lock")
            .insert(PathBuf::from(root), state);
    }

    pub fn remove(&self, root: &str) {
        self.repos.lock().expect("lock").remove(Path::new(root));
    }

    /// How many repository reads happened.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl RepoScanner for FakeScanner {
    fn available(&self) -> bool {
        true
    }

    async fn repo_root(&self, dir: &Path) -> Option<PathBuf> {
        let repos = self.repos.lock().expect("lock");
        repos
            .keys()
            .filter(|root| dir.starts_with(root))
            .max_by_key(|root| root.components().count())
            .cloned()
    }

    async fn read_repo(&self, root: &Path) -> Result<RepoState, ScanError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let repos = self.repos.lock().expect("lock");
        repos.get(root).cloned().ok_or(ScanError::Removed)
    }
}

/// A filesystem where nothing exists (fake repositories have no files, so
/// every path resolves from its parent directory).
pub struct NoFs;

fn not_found<T>() -> io::Result<T> {
    Err(io::Error::from(io::ErrorKind::NotFound))
}

impl Fs for NoFs {
    fn metadata(&self, _: &Path) -> io::Result<Metadata> {
        not_found()
    }
    fn symlink_metadata(&self, _: &Path) -> io::Result<Metadata> {
        not_found()
    }
    fn canonicalize(&self, _: &Path) -> io::Result<PathBuf> {
        not_found()
    }
    fn read(&self, _: &Path) -> io::Result<Vec<u8>> {
        not_found()
    }
    fn read_range(&self, _: &Path, _: u64, _: Option<u64>) -> io::Result<Vec<u8>> {
        not_found()
    }
    fn create_dir_all(&self, _: &Path) -> io::Result<()> {
        not_found()
    }
    fn write_new(&self, _: &Path, _: &[u8]) -> io::Result<()> {
        not_found()
    }
    fn set_mode(&self, _: &Path, _: u32) -> io::Result<()> {
        not_found()
    }
    fn rename(&self, _: &Path, _: &Path) -> io::Result<()> {
        not_found()
    }
    fn remove_file(&self, _: &Path) -> io::Result<()> {
        not_found()
    }
    fn read_dir(&self, _: &Path) -> io::Result<Vec<String>> {
        not_found()
    }
}

/// 2026-03-01T12:00:00Z, the wall clock's start in paused-clock tests.
pub const EPOCH_SECS: u64 = 1_772_366_400;

/// A handler over `scanner` with a wall clock that follows tokio's
/// (paused) clock from [`EPOCH_SECS`].
pub fn fake_handler(scanner: Arc<FakeScanner>) -> WatchHandler {
    WatchHandler::new(
        scanner,
        Arc::new(NoFs),
        Arc::new(TokioClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS),
        )),
        &AgentConfig::default(),
    )
}

// ------------------------------------------------------------ served agent

/// An agent on the real seams, with the given configuration.
pub fn real_agent(mut config: AgentConfig) -> Agent {
    config.token.get_or_insert_with(|| TOKEN.to_string());
    let seams = Seams::real(config.wait_delay);
    Agent::new(config, seams)
}

/// An agent whose scanner is `scanner`, on tokio's (paused) clock, with
/// the given bug switches and no heartbeat.
///
/// The heartbeat is off because a paused clock over real sockets jumps to
/// the next timer while a pong is still in flight: the agent would see a
/// ping unanswered for a whole interval that never really passed.
pub fn fake_agent(scanner: Arc<dyn RepoScanner>, bugs: &[Bug]) -> Agent {
    let mut config = AgentConfig {
        ping_interval: Duration::from_secs(24 * 3600),
        ..AgentConfig::default()
    };
    for bug in bugs {
        config.bugs.insert(*bug);
    }
    fake_agent_with(scanner, config)
}

/// An agent whose scanner is `scanner`, on tokio's (paused) clock.
pub fn fake_agent_with(scanner: Arc<dyn RepoScanner>, mut config: AgentConfig) -> Agent {
    config.token.get_or_insert_with(|| TOKEN.to_string());
    let mut seams = Seams::real(config.wait_delay);
    seams.scanner = scanner;
    seams.fs = Arc::new(NoFs);
    seams.ids = Arc::new(SequentialIds::default());
    seams.clock = Arc::new(TokioClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS),
    ));
    Agent::new(config, seams)
}

/// Serves the agent's router on a loopback port; the server task ends with
/// the test's runtime.
pub async fn serve(agent: Agent) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = agent::http::router(agent);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The token of the git tests' agents (unless their config names another).
pub const TOKEN: &str = "git-test-token";

/// An SDK connection with [`TOKEN`].
pub fn conn(addr: SocketAddr) -> HttpAgentConn<TcpConnector> {
    HttpAgentConn::new(TcpConnector { addr }).with_token(TOKEN)
}

/// Opens a watch for `chat` through the SDK.
pub async fn watch(addr: SocketAddr, chat: Option<uuid::Uuid>) -> GitWatch {
    use agent_sdk::AgentConn;
    conn(addr).watch_git(chat).await.expect("watch_git")
}

/// Upper bound for a message that must come (real git, real time). Only a
/// guard against hanging: nothing asserts on how long it took.
pub const MESSAGE_GUARD: Duration = Duration::from_secs(60);

/// The next server message; panics if the stream ends, fails, or nothing
/// comes within `guard`.
pub async fn next_message(watch: &mut GitWatch, guard: Duration) -> ServerMessage {
    match tokio::time::timeout(guard, watch.next()).await {
        Ok(Some(Ok(msg))) => msg,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch closed"),
        Err(_) => panic!("no message within {guard:?}"),
    }
}

/// Asserts that nothing arrives within `window` (use on a paused clock).
pub async fn check_silent(watch: &mut GitWatch, window: Duration) {
    if let Ok(item) = tokio::time::timeout(window, watch.next()).await {
        panic!("expected no message within {window:?}, got {item:?}");
    }
}

// -------------------------------------------------------------- sim hook

type Action = Box<dyn Fn() -> BoxFuture<'static, ()>>;

/// A simulation hook that runs an action at one named yield point (each
/// time it is reached) and counts hits per point; every other point is a
/// no-op.
pub struct AtYieldPoint {
    point: &'static str,
    action: Action,
    hits: Mutex<BTreeMap<&'static str, usize>>,
    bugs: Mutex<Vec<Bug>>,
}

impl AtYieldPoint {
    /// Installs the hook on this thread (the current-thread runtime's)
    /// until the guard drops.
    pub fn install(
        point: &'static str,
        action: impl Fn() -> BoxFuture<'static, ()> + 'static,
    ) -> (Rc<AtYieldPoint>, HookGuard) {
        let hook = Rc::new(AtYieldPoint {
            point,
            action: Box::new(action),
            hits: Mutex::new(BTreeMap::new()),
            bugs: Mutex::new(Vec::new()),
        });
        let guard = agent::sim::install(hook.clone());
        (hook, guard)
    }

    pub fn hits(&self, point: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(point)
            .copied()
            .unwrap_or(0)
    }

    pub fn bugs_taken(&self) -> Vec<Bug> {
        self.bugs.lock().expect("lock").clone()
    }
}

impl SimHook for AtYieldPoint {
    fn yield_point(&self, name: &'static str) -> BoxFuture<'static, ()> {
        *self.hits.lock().expect("lock").entry(name).or_default() += 1;
        if name == self.point {
            (self.action)()
        } else {
            Box::pin(async {})
        }
    }

    fn bug_taken(&self, bug: Bug) {
        self.bugs.lock().expect("lock").push(bug);
    }

    fn event(&self, _kind: &'static str, _detail: String) {}
}
