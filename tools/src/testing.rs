//! Test support: a scripted fake [`AgentConn`] and the snapshot settings.
//!
//! Each SDK method has its own queue of canned replies, served in order; a
//! reply can answer at once, after a delay on the (paused) tokio clock, or
//! never. Every request is recorded with the time it was made, so tests
//! assert on what the tool sent as well as what it returned.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_sdk::{
    AgentConn, EditFilesRequest, EditFilesResponse, GitWatch, ListProcessesResponse, OutputOptions,
    ProcessOutputResponse, ReadFileLinesLimits, ReadFileLinesResponse, SdkError,
    StartProcessRequest, StartProcessResponse,
};
use async_trait::async_trait;
use tokio::time::Instant;

use crate::{ConnResolver, ToolResult};

/// One canned reply.
#[derive(Debug)]
pub enum Reply<T> {
    Ok(T),
    Err(SdkError),
    /// Never answers; only the caller's deadline ends the call.
    Hang,
    /// Answers after a delay on the tokio clock.
    After(Duration, Box<Reply<T>>),
}

impl<T> Reply<T> {
    pub fn after(delay: Duration, reply: Reply<T>) -> Self {
        Reply::After(delay, Box::new(reply))
    }

    async fn serve(self) -> Result<T, SdkError> {
        let mut reply = self;
        loop {
            match reply {
                Reply::Ok(v) => return Ok(v),
                Reply::Err(e) => return Err(e),
                Reply::Hang => std::future::pending::<()>().await,
                Reply::After(delay, next) => {
                    tokio::time::sleep(delay).await;
                    reply = *next;
                }
            }
        }
    }
}

/// A request the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Start(StartProcessRequest),
    List,
    Output {
        id: String,
        wait: bool,
    },
    Signal {
        id: String,
        signal: String,
    },
    ReadFileLines {
        path: String,
        offset: i64,
        limit: i64,
        limits: ReadFileLinesLimits,
    },
    WriteFile {
        path: String,
        content: Vec<u8>,
    },
    EditFiles(EditFilesRequest),
}

#[derive(Default)]
struct Script {
    start: VecDeque<Reply<StartProcessResponse>>,
    list: VecDeque<Reply<ListProcessesResponse>>,
    output: VecDeque<Reply<ProcessOutputResponse>>,
    signal: VecDeque<Reply<()>>,
    read_lines: VecDeque<Reply<ReadFileLinesResponse>>,
    write: VecDeque<Reply<()>>,
    edit: VecDeque<Reply<EditFilesResponse>>,
    requests: Vec<(Duration, Request)>,
}

/// The scripted [`AgentConn`].
pub struct FakeConn {
    created: Instant,
    script: Mutex<Script>,
}

impl Default for FakeConn {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeConn {
    pub fn new() -> Self {
        FakeConn {
            created: Instant::now(),
            script: Mutex::new(Script::default()),
        }
    }

    fn with(self, f: impl FnOnce(&mut Script)) -> Self {
        f(&mut self.script.lock().unwrap());
        self
    }

    pub fn start(self, reply: Reply<StartProcessResponse>) -> Self {
        self.with(|s| s.start.push_back(reply))
    }
    pub fn list(self, reply: Reply<ListProcessesResponse>) -> Self {
        self.with(|s| s.list.push_back(reply))
    }
    pub fn output(self, reply: Reply<ProcessOutputResponse>) -> Self {
        self.with(|s| s.output.push_back(reply))
    }
    pub fn signal(self, reply: Reply<()>) -> Self {
        self.with(|s| s.signal.push_back(reply))
    }
    pub fn read_lines(self, reply: Reply<ReadFileLinesResponse>) -> Self {
        self.with(|s| s.read_lines.push_back(reply))
    }
    pub fn write(self, reply: Reply<()>) -> Self {
        self.with(|s| s.write.push_back(reply))
    }
    pub fn edit(self, reply: Reply<EditFilesResponse>) -> Self {
        self.with(|s| s.edit.push_back(reply))
    }

    /// Scripts a `process_output` wait that never answers (only the
    /// caller's deadline ends it), then the snapshot read that follows.
    pub fn wait_hangs_then(self, snapshot: Reply<ProcessOutputResponse>) -> Self {
        self.output(Reply::Hang).output(snapshot)
    }

    /// Scripts a `process_output` wait that fails with `error` (a dropped
    /// connection, an unknown id), then the snapshot read that follows.
    pub fn wait_fails_then(self, error: SdkError, snapshot: Reply<ProcessOutputResponse>) -> Self {
        self.output(Reply::Err(error)).output(snapshot)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Request> {
        let script = self.script.lock().unwrap();
        script.requests.iter().map(|(_, r)| r.clone()).collect()
    }

    /// When each request was received, relative to the fake's creation.
    pub fn request_times(&self) -> Vec<Duration> {
        let script = self.script.lock().unwrap();
        script.requests.iter().map(|(t, _)| *t).collect()
    }

    /// The only start request; panics unless exactly one was made.
    pub fn start_request(&self) -> StartProcessRequest {
        let starts: Vec<StartProcessRequest> = self
            .requests()
            .into_iter()
            .filter_map(|r| match r {
                Request::Start(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(starts.len(), 1, "start requests: {starts:?}");
        starts.into_iter().next().unwrap()
    }

    /// Records `request` and takes the next reply from the chosen queue.
    fn take<T>(
        &self,
        request: Request,
        queue: impl FnOnce(&mut Script) -> &mut VecDeque<Reply<T>>,
    ) -> Reply<T> {
        let mut script = self.script.lock().unwrap();
        let what = format!("{request:?}");
        script.requests.push((self.created.elapsed(), request));
        queue(&mut script)
            .pop_front()
            .unwrap_or_else(|| panic!("fake conn: no scripted reply for {what}"))
    }
}

#[async_trait]
impl AgentConn for FakeConn {
    async fn start_process(
        &self,
        req: &StartProcessRequest,
    ) -> Result<StartProcessResponse, SdkError> {
        self.take(Request::Start(req.clone()), |s| &mut s.start)
            .serve()
            .await
    }
    async fn list_processes(&self) -> Result<ListProcessesResponse, SdkError> {
        self.take(Request::List, |s| &mut s.list).serve().await
    }
    async fn process_output(
        &self,
        id: &str,
        opts: OutputOptions,
    ) -> Result<ProcessOutputResponse, SdkError> {
        let request = Request::Output {
            id: id.to_string(),
            wait: opts.wait,
        };
        self.take(request, |s| &mut s.output).serve().await
    }
    async fn signal_process(&self, id: &str, signal: &str) -> Result<(), SdkError> {
        let request = Request::Signal {
            id: id.to_string(),
            signal: signal.to_string(),
        };
        self.take(request, |s| &mut s.signal).serve().await
    }
    async fn read_file_lines(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
        limits: ReadFileLinesLimits,
    ) -> Result<ReadFileLinesResponse, SdkError> {
        let request = Request::ReadFileLines {
            path: path.to_string(),
            offset,
            limit,
            limits,
        };
        self.take(request, |s| &mut s.read_lines).serve().await
    }
    async fn read_file(
        &self,
        path: &str,
        _offset: i64,
        _limit: i64,
    ) -> Result<(Vec<u8>, String), SdkError> {
        panic!("fake conn: read_file({path}) is not used by the tools")
    }
    async fn write_file(&self, path: &str, content: Vec<u8>) -> Result<(), SdkError> {
        let request = Request::WriteFile {
            path: path.to_string(),
            content,
        };
        self.take(request, |s| &mut s.write).serve().await
    }
    async fn edit_files(&self, req: &EditFilesRequest) -> Result<EditFilesResponse, SdkError> {
        self.take(Request::EditFiles(req.clone()), |s| &mut s.edit)
            .serve()
            .await
    }
    async fn watch_git(&self, _chat_id: Option<uuid::Uuid>) -> Result<GitWatch, SdkError> {
        panic!("fake conn: watch_git is not used by the tools")
    }
    fn set_extra_headers(&self, _headers: http::HeaderMap) {}
}

/// A resolver answering with a fixed connection or error, counting calls.
pub struct FixedResolver {
    pub answer: Result<Arc<FakeConn>, String>,
    pub calls: Mutex<usize>,
}

impl FixedResolver {
    pub fn conn(conn: FakeConn) -> Self {
        FixedResolver {
            answer: Ok(Arc::new(conn)),
            calls: Mutex::new(0),
        }
    }
    pub fn error(text: &str) -> Self {
        FixedResolver {
            answer: Err(text.to_string()),
            calls: Mutex::new(0),
        }
    }
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

#[async_trait]
impl ConnResolver for FixedResolver {
    async fn resolve(&self) -> Result<Arc<dyn AgentConn>, String> {
        *self.calls.lock().unwrap() += 1;
        self.answer.clone().map(|c| c as Arc<dyn AgentConn>)
    }
}

// ---- canned values -------------------------------------------------------

pub fn started(id: &str) -> Reply<StartProcessResponse> {
    Reply::Ok(StartProcessResponse {
        id: id.to_string(),
        started: true,
    })
}

pub fn exited(output: &str, code: i32) -> Reply<ProcessOutputResponse> {
    Reply::Ok(ProcessOutputResponse {
        output: output.to_string(),
        truncated: None,
        running: false,
        exit_code: Some(code),
    })
}

pub fn running(output: &str) -> Reply<ProcessOutputResponse> {
    Reply::Ok(ProcessOutputResponse {
        output: output.to_string(),
        truncated: None,
        running: true,
        exit_code: None,
    })
}

/// The transport error a client sees when the server closes the connection
/// mid-answer (the write-timeout EOF).
pub fn eof(path: &str) -> SdkError {
    SdkError::Transport {
        method: "GET".into(),
        url: format!("http://agent:4{path}"),
        reason: "EOF".into(),
    }
}

/// A non-2xx answer from the agent.
pub fn status(
    method: &str,
    path: &str,
    code: u16,
    message: &str,
    detail: Option<&str>,
) -> SdkError {
    SdkError::Status {
        method: method.into(),
        url: format!("http://agent:4{path}"),
        status: code,
        message: message.into(),
        detail: detail.map(str::to_string),
    }
}

pub fn output_req(id: &str, wait: bool) -> Request {
    Request::Output {
        id: id.to_string(),
        wait,
    }
}

// ---- snapshots -------------------------------------------------------------

/// Insta settings that keep snapshot files in the top-level `snapshots/`.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
    // The snapshot's name says what it shows; the macro plumbing would not.
    settings.set_omit_expression(true);
    settings
}

/// The reviewable form of a result: the flag and the text, parsed when it
/// is JSON (key order kept).
pub fn view(result: &ToolResult) -> serde_json::Value {
    serde_json::json!({
        "is_error": result.is_error,
        "result": result
            .parsed()
            .unwrap_or_else(|| serde_json::Value::String(result.text.clone())),
    })
}

/// Asserts a JSON snapshot of a tool result under `snapshots/`.
macro_rules! assert_result_snapshot {
    ($name:expr, $result:expr) => {{
        let _guard = $crate::testing::snapshot_settings().bind_to_scope();
        insta::assert_json_snapshot!($name, $crate::testing::view(&$result));
    }};
}
pub(crate) use assert_result_snapshot;
