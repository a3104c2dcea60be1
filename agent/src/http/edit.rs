//! The HTTP answer of a failed file operation: each [`ErrorClass`] has its
//! status, and an [`EditError`]'s message goes out unchanged.

use http::StatusCode;

use crate::files::ErrorClass;
use crate::files::edit::EditError;

use super::error::ApiError;

/// 400 for the caller's mistakes, 403, 404, 413 for anything over a cap,
/// 500 when the file system failed.
pub(crate) fn class_status(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::Invalid => StatusCode::BAD_REQUEST,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        ApiError::new(class_status(e.kind), e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::edit::EditErrorKind;

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
