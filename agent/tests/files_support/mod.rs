//! Shared fixtures of the file-API tests: an agent over a real temp
//! directory whose filesystem calls can be intercepted (to model permission
//! errors, failing renames and races, like the upstream `testFs`), an
//! in-memory `Fs` for property tests, and request helpers that drive the
//! router with `tower::ServiceExt::oneshot`.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::files::fs::{FileKind, Fs, Metadata, RealFs};
use agent::http::ErrorBody;
use agent::seams::SequentialIds;
use agent::{Agent, AgentConfig, BugSet, Seams};
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A filesystem call, as an interceptor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Metadata,
    SymlinkMetadata,
    Canonicalize,
    Read,
    ReadRange,
    CreateDirAll,
    WriteNew,
    SetMode,
    /// The path is the rename's destination.
    Rename,
    RemoveFile,
    ReadDir,
    ReadLink,
}

/// Decides, before a call runs, whether it fails (and may block to stage a
/// race).
pub type Interceptor = Arc<dyn Fn(Call, &Path) -> Option<io::Error> + Send + Sync>;

/// [`RealFs`] with an interceptor in front of every call.
pub struct TestFs {
    inner: RealFs,
    intercept: Mutex<Option<Interceptor>>,
}

impl TestFs {
    pub fn new() -> Self {
        TestFs {
            inner: RealFs,
            intercept: Mutex::new(None),
        }
    }

    pub fn set(&self, f: impl Fn(Call, &Path) -> Option<io::Error> + Send + Sync + 'static) {
        *self.intercept.lock().unwrap() = Some(Arc::new(f));
    }

    fn check(&self, call: Call, path: &Path) -> io::Result<()> {
        let f = self.intercept.lock().unwrap().clone();
        match f.and_then(|f| f(call, path)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Fs for TestFs {
    fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        self.check(Call::Metadata, path)?;
        self.inner.metadata(path)
    }
    fn symlink_metadata(&self, path: &Path) -> io::Result<Metadata> {
        self.check(Call::SymlinkMetadata, path)?;
        self.inner.symlink_metadata(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(Call::Canonicalize, path)?;
        self.inner.canonicalize(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.check(Call::Read, path)?;
        self.inner.read(path)
    }
    fn read_range(&self, path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Vec<u8>> {
        self.check(Call::ReadRange, path)?;
        self.inner.read_range(path, offset, limit)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check(Call::CreateDirAll, path)?;
        self.inner.create_dir_all(path)
    }
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.check(Call::WriteNew, path)?;
        self.inner.write_new(path, data)
    }
    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.check(Call::SetMode, path)?;
        self.inner.set_mode(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(Call::Rename, to)?;
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check(Call::RemoveFile, path)?;
        self.inner.remove_file(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.check(Call::ReadDir, path)?;
        self.inner.read_dir(path)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(Call::ReadLink, path)?;
        self.inner.read_link(path)
    }
}

/// Whether `path` is, or lies under, `root`.
pub fn under(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}

pub fn denied() -> io::Error {
    io::Error::from(io::ErrorKind::PermissionDenied)
}

/// An agent over a temp directory and an interceptable real filesystem.
pub struct Fixture {
    pub agent: Agent,
    pub fs: Arc<TestFs>,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_bugs(BugSet::none())
    }

    pub fn with_bugs(bugs: BugSet) -> Self {
        let fs = Arc::new(TestFs::new());
        let agent = agent_over(fs.clone(), bugs);
        Fixture {
            agent,
            fs,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A path inside the temp directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Makes `name` a symlink to `target` (absolute, or relative to the
    /// link's directory) and returns the link's path.
    pub fn symlink(&self, name: &str, target: impl AsRef<Path>) -> String {
        std::os::unix::fs::symlink(target, self.path(name)).unwrap();
        self.p(name)
    }

    /// Whether `name` is (still) a symlink.
    pub fn is_symlink(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.path(name))
            .unwrap()
            .file_type()
            .is_symlink()
    }

    pub async fn call(&self, req: Request<Body>) -> Reply {
        call(&self.agent, req).await
    }
}

/// The token of the file tests' agents.
pub const TOKEN: &str = "files-test-token";

/// An agent whose filesystem is `fs` (everything else real, ids sequential).
pub fn agent_over(fs: Arc<dyn Fs>, bugs: BugSet) -> Agent {
    let config = AgentConfig {
        bugs,
        token: Some(TOKEN.into()),
        ..AgentConfig::default()
    };
    let seams = Seams {
        fs,
        ids: Arc::new(SequentialIds::default()),
        ..Seams::real(Duration::from_secs(5))
    };
    Agent::new(config, seams)
}

/// A collected answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("decode {:?}: {e}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an error answer: `status` and `text` within the error text;
    /// `what` names the case in a failure message.
    pub fn assert_error(&self, status: StatusCode, text: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text());
        assert!(
            self.error_text().contains(text),
            "{what}: {:?} lacks {text:?}",
            self.error_text()
        );
    }

    /// The envelope read like the Go SDK's error text: message, detail and
    /// every validation.
    pub fn error_text(&self) -> String {
        let e: ErrorBody = self.json();
        let mut out = e.message;
        if let Some(d) = e.detail {
            out.push_str(": ");
            out.push_str(&d);
        }
        for v in e.validations.unwrap_or_default() {
            out.push_str(&format!("\n{}: {}", v.field, v.detail));
        }
        out
    }
}

/// Sends `req` to the agent's router as its own client would: `Host:
/// localhost`, the agent's token and, on a POST, `Content-Type:
/// application/json` are added unless `req` has them.
pub async fn call(agent: &Agent, mut req: Request<Body>) -> Reply {
    let post = req.method() == http::Method::POST;
    let h = req.headers_mut();
    h.entry(http::header::HOST)
        .or_insert_with(|| http::HeaderValue::from_static("localhost"));
    if let Some(token) = &agent.config().token {
        h.entry(http::header::AUTHORIZATION)
            .or_insert_with(|| format!("Bearer {token}").parse().unwrap());
    }
    if post {
        h.entry(http::header::CONTENT_TYPE)
            .or_insert_with(|| http::HeaderValue::from_static("application/json"));
    }
    call_as_is(agent, req).await
}

/// Sends `req` to the agent's router exactly as it is.
pub async fn call_as_is(agent: &Agent, req: Request<Body>) -> Reply {
    let resp = agent::http::router(agent.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).body(body.into()).unwrap()
}

pub fn post_json(uri: &str, value: &impl serde::Serialize) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

/// Adds the chat headers to a request.
pub fn with_chat(
    mut req: Request<Body>,
    chat: uuid::Uuid,
    ancestors: &[uuid::Uuid],
) -> Request<Body> {
    let h = req.headers_mut();
    h.insert("Coder-Chat-Id", chat.to_string().parse().unwrap());
    if !ancestors.is_empty() {
        let list: Vec<String> = ancestors.iter().map(|a| a.to_string()).collect();
        h.insert(
            "Coder-Ancestor-Chat-Ids",
            serde_json::to_string(&list).unwrap().parse().unwrap(),
        );
    }
    req
}

/// Fixed chat ids for the PathStore tests.
pub fn chat_id(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

// ---- checks shared by the file-changing endpoints (edit, write) ----------

/// Checks that a change keeps the file's mode: the file is an 0755 script
/// echoing `hello`, and `change` builds, for its path, the request that
/// makes it echo `world`.
pub async fn check_preserves_permissions(change: impl FnOnce(&str) -> Request<Body>) {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    let path = fx.write("script.sh", "#!/bin/sh\necho hello\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let reply = fx.call(change(&path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(fx.read("script.sh"), b"#!/bin/sh\necho world\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the original file's permissions must survive");
}

/// Checks that a change through a symlink lands in the link's target and
/// leaves the link a link: `real.txt` holds `original`, `change` builds the
/// request for the link's path, and afterwards `real.txt` holds `changed`.
pub async fn check_follows_symlinks(
    original: &str,
    change: impl FnOnce(&str) -> Request<Body>,
    changed: &str,
) {
    let fx = Fixture::new();
    let real = fx.write("real.txt", original);
    let link = fx.symlink("link.txt", &real);
    let reply = fx.call(change(&link)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(fx.is_symlink("link.txt"), "symlink was replaced");
    assert_eq!(fx.read("real.txt"), changed.as_bytes());
}

/// Checks that a successful change sent with chat headers records the
/// changed path for the chat and for its ancestor. `change` prepares the
/// fixture and returns the path it changes and the request (without the
/// chat headers).
pub async fn check_records_the_path_for_chat_and_ancestors(
    change: impl FnOnce(&Fixture) -> (String, Request<Body>),
) {
    let fx = Fixture::new();
    let (path, request) = change(&fx);
    let (chat, ancestor) = (chat_id(1), chat_id(2));
    let reply = fx.call(with_chat(request, chat, &[ancestor])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(fx.agent.paths().get_paths(chat), Some(vec![path.clone()]));
    assert_eq!(fx.agent.paths().get_paths(ancestor), Some(vec![path]));
}

/// Checks that a change failing with `status`, sent with a chat header,
/// records nothing for the chat.
pub async fn check_failure_records_no_path(request: Request<Body>, status: StatusCode) {
    let fx = Fixture::new();
    let chat = chat_id(3);
    let reply = fx.call(with_chat(request, chat, &[])).await;
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(fx.agent.paths().get_paths(chat), None);
}

/// A small in-memory filesystem: files and directories under `/`, no
/// symlinks. What the simulation harness will do at scale.
#[derive(Default)]
pub struct MemFs {
    inner: Mutex<MemTree>,
}

#[derive(Default)]
struct MemTree {
    files: BTreeMap<PathBuf, (Vec<u8>, u32)>,
    dirs: BTreeSet<PathBuf>,
}

impl MemFs {
    pub fn new() -> Self {
        let fs = MemFs::default();
        fs.inner.lock().unwrap().dirs.insert(PathBuf::from("/"));
        fs
    }

    pub fn put(&self, path: &str, content: &[u8]) {
        let path = PathBuf::from(path);
        self.create_dir_all(path.parent().unwrap()).unwrap();
        self.inner
            .lock()
            .unwrap()
            .files
            .insert(path, (content.to_vec(), 0o644));
    }

    /// Every file and its content, for whole-tree comparisons.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.inner
            .lock()
            .unwrap()
            .files
            .iter()
            .map(|(p, (c, _))| (p.clone(), c.clone()))
            .collect()
    }
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl MemTree {
    fn meta(&self, path: &Path) -> io::Result<Metadata> {
        if let Some((c, mode)) = self.files.get(path) {
            return Ok(Metadata {
                kind: FileKind::File,
                len: c.len() as u64,
                mode: *mode,
            });
        }
        if self.dirs.contains(path) {
            return Ok(Metadata {
                kind: FileKind::Dir,
                len: 0,
                mode: 0o755,
            });
        }
        // A file in the way of an ancestor makes the path impossible.
        if path.ancestors().skip(1).any(|a| self.files.contains_key(a)) {
            return Err(io::Error::from(io::ErrorKind::NotADirectory));
        }
        Err(not_found())
    }
}

impl Fs for MemFs {
    fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        self.inner.lock().unwrap().meta(path)
    }
    fn symlink_metadata(&self, path: &Path) -> io::Result<Metadata> {
        self.metadata(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.metadata(path).map(|_| path.to_path_buf())
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let t = self.inner.lock().unwrap();
        match t.files.get(path) {
            Some((c, _)) => Ok(c.clone()),
            None if t.dirs.contains(path) => Err(io::Error::from(io::ErrorKind::IsADirectory)),
            None => Err(not_found()),
        }
    }
    fn read_range(&self, path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Vec<u8>> {
        let all = self.read(path)?;
        let start = (offset as usize).min(all.len());
        let end = limit.map_or(all.len(), |l| (start + l as usize).min(all.len()));
        Ok(all[start..end].to_vec())
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut t = self.inner.lock().unwrap();
        for a in path.ancestors() {
            if t.files.contains_key(a) {
                return Err(io::Error::from(io::ErrorKind::NotADirectory));
            }
        }
        for a in path.ancestors() {
            t.dirs.insert(a.to_path_buf());
        }
        Ok(())
    }
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut t = self.inner.lock().unwrap();
        if t.files.contains_key(path) || t.dirs.contains(path) {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        if !path.parent().is_some_and(|p| t.dirs.contains(p)) {
            return Err(not_found());
        }
        t.files.insert(path.to_path_buf(), (data.to_vec(), 0o644));
        Ok(())
    }
    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        let mut t = self.inner.lock().unwrap();
        let f = t.files.get_mut(path).ok_or_else(not_found)?;
        f.1 = mode;
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut t = self.inner.lock().unwrap();
        if t.dirs.contains(to) {
            return Err(io::Error::from(io::ErrorKind::IsADirectory));
        }
        let f = t.files.remove(from).ok_or_else(not_found)?;
        t.files.insert(to.to_path_buf(), f);
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut t = self.inner.lock().unwrap();
        t.files.remove(path).map(|_| ()).ok_or_else(not_found)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let t = self.inner.lock().unwrap();
        if !t.dirs.contains(path) {
            return Err(not_found());
        }
        let names: BTreeSet<String> = t
            .files
            .keys()
            .chain(t.dirs.iter())
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        Ok(names.into_iter().collect())
    }
}
