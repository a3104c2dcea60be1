//! File API calls (`docs/agent-api.md#files`). Query values are percent-escaped
//! (the original interpolated them raw, so `/tmp/a&b` became `path=/tmp/a` plus
//! an unknown parameter, and `+` became a space: W17 in `docs/races.md`).

use bytes::Bytes;
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::connector::Connector;
use crate::error::SdkError;
use crate::transport::{HttpAgentConn, json_body};
use agent_wire::files::{
    EditFilesRequest, EditFilesResponse, ReadFileLinesLimits, ReadFileLinesResponse,
};

/// Characters left as they are in a query value: RFC 3986 unreserved plus
/// `/`, so paths stay readable in logs and error texts.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Escapes one query value.
pub fn escape_query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

impl<C: Connector> HttpAgentConn<C> {
    pub(crate) async fn http_read_file_lines(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
        limits: ReadFileLinesLimits,
    ) -> Result<ReadFileLinesResponse, SdkError> {
        // Every parameter is always sent, as the original SDK does.
        let uri = format!(
            "/api/v0/read-file-lines?path={}&offset={offset}&limit={limit}&max_file_size={}\
             &max_line_bytes={}&max_response_lines={}&max_response_bytes={}",
            escape_query_value(path),
            limits.max_file_size,
            limits.max_line_bytes,
            limits.max_response_lines,
            limits.max_response_bytes,
        );
        self.send_json(Method::GET, &uri, None).await
    }

    pub(crate) async fn http_read_file(
        &self,
        path: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<u8>, String), SdkError> {
        let uri = format!(
            "/api/v0/read-file?path={}&offset={offset}&limit={limit}",
            escape_query_value(path)
        );
        let raw = self.send(Method::GET, &uri, None, Bytes::new()).await?;
        self.check(&Method::GET, &uri, &raw)?;
        let content_type = raw
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((raw.body.to_vec(), content_type))
    }

    pub(crate) async fn http_write_file(
        &self,
        path: &str,
        content: Vec<u8>,
    ) -> Result<(), SdkError> {
        let uri = format!("/api/v0/write-file?path={}", escape_query_value(path));
        let raw = self
            .send(
                Method::POST,
                &uri,
                Some("application/octet-stream"),
                Bytes::from(content),
            )
            .await?;
        self.check(&Method::POST, &uri, &raw)
    }

    pub(crate) async fn http_edit_files(
        &self,
        req: &EditFilesRequest,
    ) -> Result<EditFilesResponse, SdkError> {
        self.send_json(Method::POST, "/api/v0/edit-files", Some(json_body(req)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_that_the_original_mangled_are_escaped() {
        let cases = [
            ("/tmp/a&b", "/tmp/a%26b"),
            ("/tmp/a b+c", "/tmp/a%20b%2Bc"),
            ("/x/#?%", "/x/%23%3F%25"),
            ("/ü", "/%C3%BC"),
        ];
        for (raw, want) in cases {
            assert_eq!(escape_query_value(raw), want);
        }
    }
}
