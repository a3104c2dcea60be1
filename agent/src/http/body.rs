//! Request bodies: JSON decoding with the spec's error envelope, shared by
//! every JSON endpoint so an oversized or malformed body answers the same way.

use axum::extract::rejection::BytesRejection;
use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// Decodes a JSON body as Go's `httpapi.Read` does: any decode error
/// (syntax, wrong type, empty body) is 400 `Request body must be valid
/// JSON.` with the decoder's text as detail; an oversized body is 413.
pub fn decode_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
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
