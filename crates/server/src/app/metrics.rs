//! Counters, and `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::AppState;

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub(crate) requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    pub(crate) revocations_added: AtomicU64,
    pub(crate) keys_revoked: AtomicU64,
    pub(crate) not_modified: AtomicU64,
    pub(crate) snapshots_served: AtomicU64,
    pub(crate) deltas_served: AtomicU64,
    pub(crate) latency: pass_http::latency::Latency,
}

/// Route labels for metrics, as static strings so counting allocates nothing.
const ROUTES: &[&str] = &["/v1/revocations", "/v1/revoked-keys", "/v1/trust", "/healthz", "/metrics"];

pub(super) async fn count_requests(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let route = ROUTES.iter().copied().find(|r| Some(*r) == matched).unwrap_or("other");
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        _ => "OTHER",
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.latency.observe(started.elapsed().as_secs_f64());
    let status = response.status().as_u16();
    if let Ok(mut requests) = state.metrics.requests.lock() {
        *requests.entry((method, route, status)).or_default() += 1;
    }
    response
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let published = state.current();
    let m = &state.metrics;
    let mut out = String::new();
    out.push_str("# HELP checkpass_http_requests_total HTTP requests by route and status.\n");
    out.push_str("# TYPE checkpass_http_requests_total counter\n");
    if let Ok(requests) = m.requests.lock() {
        for ((method, route, status), n) in requests.iter() {
            out.push_str(&format!(
                "checkpass_http_requests_total{{route=\"{method} {route}\",status=\"{status}\"}} {n}\n"
            ));
        }
    }
    m.latency.render("checkpass_http_request_duration_seconds", "Time to answer a request.", &mut out);
    let counters = [
        ("checkpass_revocations_added_total", "Serials newly revoked since start.", &m.revocations_added),
        ("checkpass_keys_revoked_total", "Issuer key revocations added or tightened since start.", &m.keys_revoked),
        ("checkpass_not_modified_total", "Revocation requests answered 304.", &m.not_modified),
        ("checkpass_snapshots_served_total", "Full snapshots served.", &m.snapshots_served),
        ("checkpass_deltas_served_total", "Deltas served.", &m.deltas_served),
        ("checkpass_deltas_built_total", "Deltas built for the current version.", &published.deltas_built),
    ];
    for (name, help, value) in counters {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            value.load(Ordering::Relaxed)
        ));
    }
    let gauges = [
        ("checkpass_snapshot_version", "Current revocation version.", published.version),
        ("checkpass_snapshot_bytes", "Size of the signed snapshot.", published.snapshot.len() as u64),
        ("checkpass_revoked_serials", "Revoked serials in the snapshot.", published.revoked as u64),
    ];
    for (name, help, value) in gauges {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
    }
    // Checkpoints warn when the heartbeat they hold is old: an age above the re-signing
    // interval means the server stopped re-signing (its clock, its key, a stuck writer).
    let beat = state.beat.read().map(|b| b.issued_at).unwrap_or_else(|p| p.into_inner().issued_at);
    let age = (state.clock)().saturating_sub(beat);
    out.push_str(&format!(
        "# HELP checkpass_heartbeat_age_seconds Age of the signed heartbeat served.\n\
         # TYPE checkpass_heartbeat_age_seconds gauge\ncheckpass_heartbeat_age_seconds {age}\n"
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
