//! Request bodies: JSON decoding with the JSON error envelope
//! (`docs/agent-api.md#conventions`), shared by every JSON endpoint so a
//! mistyped, oversized or malformed body answers the same way.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON endpoint's body with its `Content-Type`, read by [`decode_json`].
#[derive(Debug)]
pub struct JsonBody {
    content_type: Option<HeaderValue>,
    body: Result<Bytes, BytesRejection>,
}

impl JsonBody {
    pub fn new(content_type: Option<HeaderValue>, body: Result<Bytes, BytesRejection>) -> Self {
        JsonBody { content_type, body }
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
        let body = Bytes::from_request(req, state).await;
        Ok(JsonBody { content_type, body })
    }
}

/// Whether `value` is `application/json`, parameters (`; charset=utf-8`)
/// allowed.
fn is_json(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Decodes a JSON body as Go's `httpapi.Read` does: any decode error
/// (syntax, wrong type, empty body) is 400 `Request body must be valid
/// JSON.` with the decoder's text as detail; an oversized body is 413.
///
/// A body not labelled `application/json` is 415 before anything else: a
/// web page can send a cross-origin `text/plain` or form POST without a
/// CORS preflight, never an `application/json` one.
pub fn decode_json<T: DeserializeOwned>(body: JsonBody) -> Result<T, ApiError> {
    if !is_json(body.content_type.as_ref()) {
        let given = body
            .content_type
            .as_ref()
            .map(|v| format!("{:?}", String::from_utf8_lossy(v.as_bytes())))
            .unwrap_or_else(|| "none".to_string());
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        )
        .with_detail(format!("the request's Content-Type is {given}")));
    }
    let bytes = body.body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
                .with_detail(rejection.body_text())
        } else {
            ApiError::bad_request("Failed to read request body.").with_detail(rejection.body_text())
        }
    })?;
    let invalid = |detail: String| {
        ApiError::bad_request("Request body must be valid JSON.").with_detail(detail)
    };
    // Every request body is an object: serde would also accept an array
    // for a struct, Go's decoder does not.
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if value.is_null() {
        // Go decodes `null` into a struct as a no-op: all zero values.
        value = serde_json::Value::Object(serde_json::Map::new());
    }
    if !value.is_object() {
        return Err(invalid(format!(
            "invalid type: {}, expected a JSON object",
            json_kind(&value)
        )));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(content_type: Option<&str>) -> u16 {
        let body = JsonBody::new(
            content_type.map(|c| HeaderValue::from_str(c).expect("value")),
            Ok(Bytes::from_static(b"{}")),
        );
        match decode_json::<serde_json::Value>(body) {
            Ok(_) => 200,
            Err(e) => e.status.as_u16(),
        }
    }

    #[test]
    fn only_application_json_bodies_are_decoded() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert_eq!(status(Some(ok)), 200, "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json-patch+json",
            "",
        ] {
            assert_eq!(status(Some(refused)), 415, "{refused}");
        }
        assert_eq!(status(None), 415, "no Content-Type");
    }
}
