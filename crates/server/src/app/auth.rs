//! Bearer tokens: every POST needs one, checked before its body is read.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use super::state::AppState;

/// Every POST needs a valid bearer token, checked before the body is read: a request with a
/// bad token costs the server no body. The role goes to the handler as an extension.
pub(super) async fn require_token(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let unauthorized = || AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required");
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 256);
    let Some(token) = token else { return unauthorized().into_response() };
    let role =
        tokio::task::spawn_blocking(move || state.role(&token)).await.unwrap_or_else(|e| Err(AppError::internal(e)));
    match role {
        Ok(Some(role)) => {
            request.extensions_mut().insert(role);
            next.run(request).await
        }
        Ok(None) => unauthorized().into_response(),
        Err(e) => e.into_response(),
    }
}
