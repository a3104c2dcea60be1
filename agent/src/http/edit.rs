//! The HTTP answer of a failed edit-files request: each kind of
//! [`EditError`] has its status, and the message goes out unchanged.

use http::StatusCode;

use crate::files::edit::{EditError, EditErrorKind};

use super::error::ApiError;

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        let status = match e.kind {
            EditErrorKind::Invalid => StatusCode::BAD_REQUEST,
            EditErrorKind::Forbidden => StatusCode::FORBIDDEN,
            EditErrorKind::NotFound => StatusCode::NOT_FOUND,
            EditErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            EditErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_keeps_its_status_and_message() {
        for (kind, status) in [
            (EditErrorKind::Invalid, 400),
            (EditErrorKind::Forbidden, 403),
            (EditErrorKind::NotFound, 404),
            (EditErrorKind::TooLarge, 413),
            (EditErrorKind::Internal, 500),
        ] {
            let e = ApiError::from(EditError {
                kind,
                message: "why".into(),
            });
            assert_eq!(e.status.as_u16(), status, "{kind:?}");
            assert_eq!(e.body.message, "why");
        }
    }
}
