//! Error answers: a status and a JSON body `{"error": CODE, "message": TEXT}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::CommitError;

/// An error answer: a status and a JSON body `{"error": CODE, "message": TEXT}`. Internal
/// details go to the log, never to the client.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AppError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error": self.code, "message": self.message}))).into_response()
    }
}

impl From<CommitError> for AppError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Limit(message) => AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "limit", message),
            CommitError::Internal(e) => AppError::internal(e),
        }
    }
}
