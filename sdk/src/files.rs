//! File API calls (spec section 7). Filled in by the file-API issue.

use crate::conn::HttpAgentConn;
use crate::connector::Connector;
use crate::error::SdkError;
use crate::{EditFilesRequest, EditFilesResponse, ReadFileLinesLimits, ReadFileLinesResponse};

fn unimplemented_call(what: &str) -> SdkError {
    SdkError::Transport {
        method: "GET".into(),
        url: what.into(),
        reason: "not implemented yet".into(),
    }
}

impl<C: Connector> HttpAgentConn<C> {
    pub(crate) async fn http_read_file_lines(
        &self,
        _path: &str,
        _offset: i64,
        _limit: i64,
        _limits: ReadFileLinesLimits,
    ) -> Result<ReadFileLinesResponse, SdkError> {
        Err(unimplemented_call("read-file-lines"))
    }

    pub(crate) async fn http_read_file(
        &self,
        _path: &str,
        _offset: i64,
        _limit: i64,
    ) -> Result<(Vec<u8>, String), SdkError> {
        Err(unimplemented_call("read-file"))
    }

    pub(crate) async fn http_write_file(
        &self,
        _path: &str,
        _content: Vec<u8>,
    ) -> Result<(), SdkError> {
        Err(unimplemented_call("write-file"))
    }

    pub(crate) async fn http_edit_files(
        &self,
        _req: &EditFilesRequest,
    ) -> Result<EditFilesResponse, SdkError> {
        Err(unimplemented_call("edit-files"))
    }
}
