//! `/metrics` for Prometheus (text format): requests by route and status, their latencies,
//! the review queue, revocations not yet sent, mails waiting, the audit trail's unsigned rows.
//! Answered only to a scraper on this machine (a loopback peer, not a request a proxy
//! forwarded): the figures are the office's business, not the public's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Shared, blocking};
use crate::{Office, db};

/// The console's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: pass_http::latency::Latency,
}

/// Counts every request by its route (the path pattern, never the path: no tokens or ids in
/// labels) and status, and times it.
pub(super) async fn count(State(office): State<Shared>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("other", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let m = &office.metrics;
    if let Ok(mut requests) = m.requests.lock() {
        *requests.entry((format!("{method} {route}"), response.status().as_u16())).or_default() += 1;
    }
    m.latency.observe(seconds);
    response
}

/// The gauges read at each scrape.
fn gauges(office: &Office) -> anyhow::Result<Vec<(&'static str, &'static str, f64)>> {
    let now = office.now();
    let (figures, (mails, _)) = {
        let conn = office.db()?;
        (db::figures(&conn, now, now)?, db::mail_backlog(&conn)?)
    };
    let ledger = office.ledger()?;
    let key_id = office.key_id();
    let unsent = ledger.pending_revocations(key_id)?.len();
    let signed = crate::anchor::read(&office.data).map_or(0, |h| h.row);
    let head = crate::anchor::head(&*office.db()?)?.map_or(0, |(row, _)| row);
    Ok(vec![
        ("checkpass_office_applications_waiting", "Applications waiting for review.", figures.waiting as f64),
        (
            "checkpass_office_oldest_waiting_seconds",
            "Age of the oldest application waiting (0: none).",
            figures.oldest.map_or(0.0, |t| now.saturating_sub(t) as f64),
        ),
        ("checkpass_office_revocations_unsent", "Revocations not yet taken by the revocation server.", unsent as f64),
        ("checkpass_office_mails_waiting", "E-mails not yet taken by the SMTP server.", mails as f64),
        (
            "checkpass_office_server_last_taken_timestamp_seconds",
            "When the revocation server last took a revocation or an audit head (0: not since start).",
            office.server_took.load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
        ("checkpass_office_passes_valid", "Passes valid now, not revoked.", ledger.count_valid_at(key_id, now)? as f64),
        (
            "checkpass_office_audit_rows_unsigned",
            "Audit rows after the head the office key signed (above 0 for long: look).",
            head.saturating_sub(signed) as f64,
        ),
    ])
}

pub(super) async fn metrics(
    State(office): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let forwarded = headers.contains_key("x-real-ip")
        || headers.contains_key(header::FORWARDED)
        || headers.contains_key("x-forwarded-for");
    if !peer.ip().is_loopback() || forwarded {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let scraped = office.clone();
    let gauges = match blocking(office, gauges).await {
        Ok(gauges) => gauges,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response(),
    };
    let m = &scraped.metrics;
    let mut out = String::new();
    out.push_str("# HELP checkpass_office_http_requests_total Requests by route and status.\n");
    out.push_str("# TYPE checkpass_office_http_requests_total counter\n");
    if let Ok(requests) = m.requests.lock() {
        for ((route, status), n) in requests.iter() {
            out.push_str(&format!(
                "checkpass_office_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
            ));
        }
    }
    m.latency.render("checkpass_office_http_request_duration_seconds", "Time to answer a request.", &mut out);
    for (name, help, value) in gauges {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// `/healthz` for a service monitor or a load balancer: "ok" when both databases answer a
/// query, 503 otherwise. Says nothing else, to anyone.
pub(super) async fn health(State(office): State<Shared>) -> Response {
    let answered = blocking(office, |office| {
        office.db()?.query_row("SELECT 1", [], |_| Ok(()))?;
        office.ledger()?.next_serial(office.key_id())?;
        Ok(())
    })
    .await;
    match answered {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response(),
    }
}
