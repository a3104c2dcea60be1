//! The JSON error envelope every non-2xx answer carries:
//! `{"message", "detail"?, "validations"?: [{"field", "detail"}]}`.

use serde::{Deserialize, Serialize};

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    pub field: String,
    pub detail: String,
}

/// The envelope as sent on the wire (codersdk.Response).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validations: Option<Vec<Validation>>,
}
