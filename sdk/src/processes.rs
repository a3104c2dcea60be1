//! Process API calls (`docs/agent-api.md#processes`).

use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::connector::Connector;
use crate::error::SdkError;
use crate::transport::{HttpAgentConn, json_body};
use agent_wire::process::{
    ListProcessesResponse, ProcessOutputResponse, StartProcessRequest, StartProcessResponse,
};

/// Options of an output call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// Block until the process exits or the server's cap (`?wait=true`).
    pub wait: bool,
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Escapes one path segment (a process id), unlike the original.
pub fn escape_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl<C: Connector> HttpAgentConn<C> {
    pub(crate) async fn http_start_process(
        &self,
        req: &StartProcessRequest,
    ) -> Result<StartProcessResponse, SdkError> {
        self.send_json(
            Method::POST,
            "/api/v0/processes/start",
            Some(json_body(req)),
        )
        .await
    }

    pub(crate) async fn http_list_processes(&self) -> Result<ListProcessesResponse, SdkError> {
        self.send_json(Method::GET, "/api/v0/processes/list", None)
            .await
    }

    pub(crate) async fn http_process_output(
        &self,
        id: &str,
        opts: OutputOptions,
    ) -> Result<ProcessOutputResponse, SdkError> {
        let mut path = format!("/api/v0/processes/{}/output", escape_segment(id));
        if opts.wait {
            path.push_str("?wait=true");
        }
        self.send_json(Method::GET, &path, None).await
    }

    pub(crate) async fn http_signal_process(&self, id: &str, signal: &str) -> Result<(), SdkError> {
        let path = format!("/api/v0/processes/{}/signal", escape_segment(id));
        let body = json_body(&serde_json::json!({ "signal": signal }));
        let _: serde_json::Value = self.send_json(Method::POST, &path, Some(body)).await?;
        Ok(())
    }
}
