//! The HTTP surface: routes, authentication, errors, metrics and limits.
//!
//! - [`state`]: the shared state (store, history, published snapshot, heartbeat, trust list)
//!   and committing a change: domain logic, no HTTP.
//! - `auth`: bearer tokens in front of every POST.
//! - [`error`]: the JSON error answers.
//! - [`metrics`]: counters and `/metrics`.
//! - `handlers`: the routes.

pub mod error;
pub mod metrics;
pub mod state;

mod auth;
mod handlers;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::AppError;
pub use metrics::Metrics;
pub use state::{AppState, Beat, CommitError, TrustServed, sign_beat, system_clock};

/// Largest request body.
pub const MAX_BODY: usize = 1024 * 1024;
/// Most serials in one revocation request.
pub const MAX_SERIALS_PER_REQUEST: usize = 10_000;
/// Longest revocation reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// Requests handled at once; more wait.
pub const MAX_CONCURRENT: usize = 1024;
/// A request that takes longer is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How far the newest signing time of the data kept may lie ahead of the clock when `serve`
/// starts (a clock corrected by NTP a little backwards): more is a clock that was set ahead.
pub const CLOCK_TOLERANCE: u64 = 300;
/// How often the heartbeat is re-signed (and with every new version): a checkpoint that syncs
/// learns its data is current as of at most this long ago.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(300);

/// The router with all routes and limits.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/revocations", get(handlers::get_revocations).post(handlers::post_revocations))
        .route("/v1/revoked-keys", axum::routing::post(handlers::post_revoked_keys))
        .route("/v1/trust", get(handlers::get_trust))
        .route("/v1/delta/{since}", get(handlers::get_delta))
        .route("/v1/authorities", get(handlers::get_authorities))
        .route("/v1/heartbeat", get(handlers::get_heartbeat))
        .route("/v1/audit-heads", axum::routing::post(handlers::post_audit_heads))
        .route("/v1/audit-heads/{key_id}", get(handlers::get_audit_head))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { AppError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::count_requests))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        // One limit for the whole server: a plain ConcurrencyLimitLayer on a router is cloned
        // per route, each with its own semaphore.
        .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Role, Store};
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::header;
    use pass_core::SecretKey;
    use tower::ServiceExt;

    const LISTED: &str = "f3c3dcf66c87927e";

    fn app_state(dir: &std::path::Path) -> Arc<AppState> {
        let store = Store::open(dir).expect("store");
        store.add_token("cpt_admin", Role::Admin, 1).expect("token");
        let key = SecretKey::from_seed(&[7; 32]);
        let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys-example/trust.toml"))
            .expect("example trust list");
        let trust = TrustServed::new(1, 1, toml, &key);
        Arc::new(AppState::new(store, key, Some(trust)).expect("state"))
    }

    async fn post(state: &Arc<AppState>, path: &str, body: String) -> (StatusCode, String) {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, "Bearer cpt_admin")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        let response = app(Arc::clone(state)).oneshot(request).await.expect("answer");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get(state: &Arc<AppState>, path: &str) -> String {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = app(Arc::clone(state)).oneshot(request).await.expect("answer");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        String::from_utf8_lossy(&body).into_owned()
    }

    fn metric(text: &str, name: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    }

    /// `/metrics` has the requests' latency histogram and the age of the heartbeat served: a
    /// server whose clock ran on 1,000 s past its newest heartbeat says 1000.
    #[tokio::test]
    async fn metrics_give_latency_and_the_heartbeat_age() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = app_state(dir.path());
        assert_eq!(get(&state, "/healthz").await, "ok\n");
        let text = get(&state, "/metrics").await;
        assert_eq!(metric(&text, "checkpass_http_request_duration_seconds_count"), 1.0, "{text}");
        assert_eq!(metric(&text, "checkpass_http_request_duration_seconds_bucket{le=\"+Inf\"}"), 1.0);
        assert!(metric(&text, "checkpass_heartbeat_age_seconds") <= 1.0, "{text}");

        fn later() -> u64 {
            system_clock() + 1000
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = app_state(dir.path());
        Arc::get_mut(&mut state).expect("only owner").clock = later;
        let age = metric(&get(&state, "/metrics").await, "checkpass_heartbeat_age_seconds");
        assert!((999.0..=1001.0).contains(&age), "{age}");
    }

    #[tokio::test]
    async fn a_key_outside_the_trust_list_cannot_be_revoked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = app_state(dir.path());
        let body = |key: &str| format!(r#"{{"key_id":"{key}","reason":"key leaked"}}"#);
        let (status, text) = post(&state, "/v1/revoked-keys", body("0011223344556677")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert!(text.contains("unknown_issuer"), "{text}");
        assert_eq!(state.current_version(), 0, "nothing committed");
        let (status, text) = post(&state, "/v1/revoked-keys", body(LISTED)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(state.current_version(), 1);
    }

    #[tokio::test]
    async fn a_failing_token_store_is_a_server_error_not_a_bad_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = app_state(dir.path());
        let body = format!(r#"{{"key_id":"{LISTED}","serials":[3],"reason":"sold"}}"#);
        // A database error: the token table is gone.
        state.store.lock().expect("store").execute_for_test("DROP TABLE tokens");
        let (status, text) = post(&state, "/v1/revocations", body.clone()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
        assert!(text.contains("\"internal\""), "{text}");
        // A poisoned lock: a thread panicked while holding the store.
        let dir = tempfile::tempdir().expect("tempdir");
        let state = app_state(dir.path());
        let poisoner = Arc::clone(&state);
        let _ = std::thread::spawn(move || {
            let _held = poisoner.store.lock();
            panic!("poisoning the store lock on purpose");
        })
        .join();
        let (status, text) = post(&state, "/v1/revocations", body).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    }
}
