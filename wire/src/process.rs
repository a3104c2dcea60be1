//! Wire types of the process API (`docs/agent-api.md#processes`). Field
//! order is the JSON order.

use serde::{Deserialize, Serialize};

/// Decodes `null` (and a missing field, with `default`) as the zero value,
/// as Go's decoder leaves a field alone on `null`.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A missing or `null` `command` decodes as `""`, so the handler answers
/// `Command is required.` as the original does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartProcessRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Request environment; a map sorted by key, as Go marshals maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub background: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartProcessResponse {
    pub id: String,
    pub started: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub id: String,
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    pub background: bool,
    pub running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub started_at_unix: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited_at_unix: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListProcessesResponse {
    pub processes: Vec<ProcessInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessOutputResponse {
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncation>,
    pub running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// Truncation record of an output answer (`ProcessTruncation` on the
/// wire); the agent's head/tail buffer fills it in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// Every byte the process wrote.
    pub original_bytes: u64,
    /// Byte length of the rendered snapshot, marker included.
    pub retained_bytes: u64,
    /// Input bytes between the last shown before the marker and the first
    /// shown after it.
    pub omitted_bytes: u64,
    /// The buffer's strategy, always `"head_tail"`.
    pub strategy: String,
}

/// A missing or `null` `signal` decodes as `""` (`Signal is required.`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalProcessRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pub signal: String,
}
