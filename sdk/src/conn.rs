//! The `AgentConn` trait, and its implementation over HTTP: the calls
//! themselves live with their endpoints (`processes`, `files`, `git`), the
//! transport in `transport`.

use async_trait::async_trait;
use http::HeaderMap;

use crate::connector::Connector;
use crate::error::SdkError;
use crate::git::GitWatch;
pub use crate::processes::OutputOptions;
pub use crate::transport::{HttpAgentConn, RawResponse, header_value};
use agent_wire::files::{
    EditFilesRequest, EditFilesResponse, ReadFileLinesLimits, ReadFileLinesResponse,
};
use agent_wire::process::{
    ListProcessesResponse, ProcessOutputResponse, StartProcessRequest, StartProcessResponse,
};

/// What the chat tools need from an agent. Cancel a call by dropping its
/// future (e.g. `tokio::time::timeout`).
#[async_trait]
pub trait AgentConn: Send + Sync {
    async fn start_process(
        &self,
        req: &StartProcessRequest,
    ) -> Result<StartProcessResponse, SdkError>;
    async fn list_processes(&self) -> Result<ListProcessesResponse, SdkError>;
    async fn process_output(
        &self,
        id: &str,
        opts: OutputOptions,
    ) -> Result<ProcessOutputResponse, SdkError>;
    async fn signal_process(&self, id: &str, signal: &str) -> Result<(), SdkError>;
    async fn read_file_lines(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
        limits: ReadFileLinesLimits,
    ) -> Result<ReadFileLinesResponse, SdkError>;
    /// Returns the bytes and the content type.
    async fn read_file(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<u8>, String), SdkError>;
    async fn write_file(&self, path: &str, content: Vec<u8>) -> Result<(), SdkError>;
    async fn edit_files(&self, req: &EditFilesRequest) -> Result<EditFilesResponse, SdkError>;
    async fn watch_git(&self, chat_id: Option<uuid::Uuid>) -> Result<GitWatch, SdkError>;
    /// Replaces the extra headers sent with later calls (chat headers).
    fn set_extra_headers(&self, headers: HeaderMap);
}

#[async_trait]
impl<C: Connector> AgentConn for HttpAgentConn<C> {
    async fn start_process(
        &self,
        req: &StartProcessRequest,
    ) -> Result<StartProcessResponse, SdkError> {
        self.http_start_process(req).await
    }
    async fn list_processes(&self) -> Result<ListProcessesResponse, SdkError> {
        self.http_list_processes().await
    }
    async fn process_output(
        &self,
        id: &str,
        opts: OutputOptions,
    ) -> Result<ProcessOutputResponse, SdkError> {
        self.http_process_output(id, opts).await
    }
    async fn signal_process(&self, id: &str, signal: &str) -> Result<(), SdkError> {
        self.http_signal_process(id, signal).await
    }
    async fn read_file_lines(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
        limits: ReadFileLinesLimits,
    ) -> Result<ReadFileLinesResponse, SdkError> {
        self.http_read_file_lines(path, offset, limit, limits).await
    }
    async fn read_file(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<u8>, String), SdkError> {
        self.http_read_file(path, offset, limit).await
    }
    async fn write_file(&self, path: &str, content: Vec<u8>) -> Result<(), SdkError> {
        self.http_write_file(path, content).await
    }
    async fn edit_files(&self, req: &EditFilesRequest) -> Result<EditFilesResponse, SdkError> {
        self.http_edit_files(req).await
    }
    async fn watch_git(&self, chat_id: Option<uuid::Uuid>) -> Result<GitWatch, SdkError> {
        self.http_watch_git(chat_id).await
    }
    fn set_extra_headers(&self, headers: HeaderMap) {
        self.replace_headers(headers)
    }
}
