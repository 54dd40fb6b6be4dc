//! The HTTP surface: routes, authentication, errors, metrics and limits.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pass_core::authority::{self, DocKind, Heartbeat, TrustDoc, TrustRef};
use pass_core::revocation::{self, RevocationState};
use pass_core::{KeyId, SecretKey};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::publish::{Answer, History, Published};
use crate::store::{Role, Store, StoreError, token_hash};

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

/// The signed heartbeat being served, for the current version.
pub struct Beat {
    /// The version it vouches for.
    pub version: u64,
    /// That version's state digest.
    pub digest: [u8; 32],
    /// The signed document.
    pub doc: Arc<[u8]>,
}
/// How long shared caches and mirrors may reuse a revocation answer without asking again.
const CACHE_CONTROL: &str = "public, max-age=30, must-revalidate";

/// The signed trust list being served.
pub struct TrustServed {
    /// Its version.
    pub version: u64,
    /// `"t<version>"`.
    pub etag: String,
    /// The signed document.
    pub doc: Arc<[u8]>,
    /// The key ids of the issuers it lists: revocations for other keys are refused.
    pub issuers: Vec<KeyId>,
    /// How heartbeats name it.
    pub reference: TrustRef,
}

impl TrustServed {
    /// Signs a trust list.
    pub fn new(version: u64, issued_at: u64, toml: String, key: &SecretKey) -> Self {
        let issuers = pass_core::TrustList::from_toml(&toml)
            .map(|list| list.issuers.iter().map(|i| i.key.id()).collect())
            .unwrap_or_default();
        let doc =
            authority::sign(DocKind::TrustList, &authority::encode_body(&TrustDoc { version, issued_at, toml }), key);
        let reference = TrustRef { version, digest: authority::trust_digest(&doc) };
        Self { version, etag: format!("\"t{version}\""), doc: doc.into(), issuers, reference }
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    revocations_added: AtomicU64,
    keys_revoked: AtomicU64,
    not_modified: AtomicU64,
    snapshots_served: AtomicU64,
    deltas_served: AtomicU64,
}

/// Shared server state.
pub struct AppState {
    /// The authority key that signs everything served.
    pub authority: SecretKey,
    /// The database; one writer at a time.
    pub store: Mutex<Store>,
    /// The state and history (changed only while holding `store`).
    pub history: RwLock<History>,
    /// The current published version.
    pub published: RwLock<Arc<Published>>,
    /// The signed trust list, when configured.
    pub trust: Option<TrustServed>,
    /// The signed heartbeat.
    pub beat: RwLock<Arc<Beat>>,
    /// Counters.
    pub metrics: Metrics,
    /// The clock (tests may fix it).
    pub clock: fn() -> u64,
}

/// The system clock, Unix seconds.
pub fn system_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl AppState {
    /// Builds the state from an open store: loads revocations, re-signs the snapshot when the
    /// stored one is missing or not by this key, loads tokens.
    pub fn new(store: Store, authority: SecretKey, trust: Option<TrustServed>) -> anyhow::Result<Self> {
        let check = store.integrity_check()?;
        if check != "ok" {
            anyhow::bail!("database integrity check failed: {check}");
        }
        let (state, changes) = store.load()?;
        let snapshot = match store.published()? {
            Some((version, bytes))
                if version == state.version
                    && authority::open(&bytes, &authority.public_key()).is_ok_and(|(k, _)| k == DocKind::Snapshot) =>
            {
                bytes
            }
            _ => {
                let bytes = revocation::sign_snapshot(&state.snapshot(), &authority);
                store.store_published(state.version, &bytes)?;
                bytes
            }
        };
        let published = Arc::new(Published::new(&state, snapshot));
        let reference = trust.as_ref().map(|t| t.reference);
        let beat = Arc::new(sign_beat(state.version, state.digest(), reference, system_clock(), &authority));
        Ok(Self {
            authority,
            store: Mutex::new(store),
            history: RwLock::new(History { state, changes }),
            published: RwLock::new(published),
            trust,
            beat: RwLock::new(beat),
            metrics: Metrics::default(),
            clock: system_clock,
        })
    }

    /// Re-signs the heartbeat for the current version at the current time.
    pub fn refresh_beat(&self) {
        let (version, digest) = {
            let beat = self.beat.read().unwrap_or_else(|p| p.into_inner());
            (beat.version, beat.digest)
        };
        let fresh = Arc::new(sign_beat(version, digest, self.trust_ref(), (self.clock)(), &self.authority));
        let mut beat = self.beat.write().unwrap_or_else(|p| p.into_inner());
        // A commit may have moved on meanwhile: never go back to an older version.
        if beat.version == version {
            *beat = fresh;
        }
    }

    /// How heartbeats name the trust list served, if one is.
    pub fn trust_ref(&self) -> Option<TrustRef> {
        self.trust.as_ref().map(|t| t.reference)
    }

    /// The current revocation version.
    pub fn current_version(&self) -> u64 {
        self.current().version
    }

    fn current(&self) -> Arc<Published> {
        self.published.read().map_or_else(|p| p.into_inner().clone(), |p| p.clone())
    }

    /// The role of a bearer token. The token list is read from the database at every request,
    /// so a removed token is refused at once, and the hash is compared in constant time with
    /// every stored one. `Ok(None)`: no such token; `Err`: the token store failed (a server
    /// fault, never a reason to tell the client its token is wrong). Blocking: call it off the
    /// async workers.
    fn role(&self, token: &str) -> Result<Option<Role>, AppError> {
        let hash = token_hash(token);
        let tokens = self.store.lock().map_err(AppError::internal)?.tokens().map_err(AppError::internal)?;
        let mut found = None;
        for (known, role) in &tokens {
            if bool::from(known.ct_eq(&hash)) {
                found = Some(*role);
            }
        }
        Ok(found)
    }
}

/// An error answer: a status and a JSON body `{"error": CODE, "message": TEXT}`. Internal
/// details go to the log, never to the client.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AppError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error": self.code, "message": self.message}))).into_response()
    }
}

/// The router with all routes and limits.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/revocations", get(get_revocations).post(post_revocations))
        .route("/v1/revoked-keys", axum::routing::post(post_revoked_keys))
        .route("/v1/trust", get(get_trust))
        .route("/v1/heartbeat", get(get_heartbeat))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .fallback(|| async { AppError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        // One limit for the whole server: a plain ConcurrencyLimitLayer on a router is cloned
        // per route, each with its own semaphore.
        .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .with_state(state)
}

/// Route labels for metrics, as static strings so counting allocates nothing.
const ROUTES: &[&str] = &["/v1/revocations", "/v1/revoked-keys", "/v1/trust", "/healthz", "/metrics"];

async fn count_requests(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let route = ROUTES.iter().copied().find(|r| Some(*r) == matched).unwrap_or("other");
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        _ => "OTHER",
    };
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Ok(mut requests) = state.metrics.requests.lock() {
        *requests.entry((method, route, status)).or_default() += 1;
    }
    response
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        // A weak validator (W/"r7") names the same version: the documents are the same bytes.
        .any(|t| {
            let t = t.trim();
            t == etag || t.strip_prefix("W/") == Some(etag) || t == "*"
        })
}

/// A heartbeat for `version` with `digest`, naming the trust list served (if any), signed at
/// `now`.
pub fn sign_beat(version: u64, digest: [u8; 32], trust: Option<TrustRef>, now: u64, key: &SecretKey) -> Beat {
    let doc = Heartbeat { version, digest, issued_at: now, trust }.sign(key);
    Beat { version, digest, doc: doc.into() }
}

async fn get_heartbeat(State(state): State<Arc<AppState>>) -> Response {
    let doc = state.beat.read().map_or_else(|p| p.into_inner().doc.clone(), |b| b.doc.clone());
    let mut response = Response::new(Body::from(Bytes::from_owner(doc)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    // Re-signed every few minutes: a cache must not hold it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn signed_response(bytes: Arc<[u8]>, etag: &str) -> Response {
    let mut response = Response::new(Body::from(Bytes::from_owner(bytes)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}

fn not_modified_response(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

#[derive(Deserialize)]
struct Since {
    since: Option<u64>,
}

async fn get_revocations(
    State(state): State<Arc<AppState>>,
    query: Result<Query<Since>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Query(Since { since }) =
        query.map_err(|_| AppError::new(StatusCode::BAD_REQUEST, "bad_query", "since must be a version number"))?;
    let published = state.current();
    // A checkpoint that says it holds the current version is current, ETag or not.
    if not_modified(&headers, &published.etag) || (since == Some(published.version) && published.version > 0) {
        state.metrics.not_modified.fetch_add(1, Ordering::Relaxed);
        return Ok(not_modified_response(&published.etag));
    }
    let answer = match since {
        None => Answer::Snapshot,
        Some(since) => {
            // Building and signing a delta is CPU work: off the async workers (cached once built).
            let (state, published) = (Arc::clone(&state), Arc::clone(&published));
            tokio::task::spawn_blocking(move || {
                let history = state.history.read().map_err(AppError::internal)?;
                Ok::<_, AppError>(if history.state.version != published.version {
                    // A change landed between the two reads; the snapshot is always consistent.
                    Answer::Snapshot
                } else {
                    history.answer(since, &published, &state.authority)
                })
            })
            .await
            .map_err(AppError::internal)??
        }
    };
    Ok(match answer {
        Answer::Snapshot => {
            state.metrics.snapshots_served.fetch_add(1, Ordering::Relaxed);
            signed_response(published.snapshot.clone(), &published.etag)
        }
        Answer::Delta(bytes) => {
            state.metrics.deltas_served.fetch_add(1, Ordering::Relaxed);
            signed_response(bytes, &published.etag)
        }
    })
}

async fn get_trust(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(trust) = &state.trust else {
        return Err(AppError::new(StatusCode::NOT_FOUND, "no_trust_list", "this server publishes no trust list"));
    };
    if not_modified(&headers, &trust.etag) {
        return Ok(not_modified_response(&trust.etag));
    }
    Ok(signed_response(trust.doc.clone(), &trust.etag))
}

/// Every POST needs a valid bearer token, checked before the body is read: a request with a
/// bad token costs the server no body. The role goes to the handler as an extension.
async fn require_token(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
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

fn json_body<T: for<'de> Deserialize<'de>>(body: Result<Bytes, BytesRejection>) -> Result<T, AppError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("bodies are limited to {MAX_BODY} bytes"))
        } else {
            AppError::new(StatusCode::BAD_REQUEST, "bad_body", "the request body could not be read")
        }
    })?;
    serde_json::from_slice(&body).map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "bad_json", e.to_string()))
}

fn check_reason(reason: &str) -> Result<(), AppError> {
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "bad_reason",
            format!("reason: 1 to {MAX_REASON_CHARS} characters, no control characters"),
        ));
    }
    Ok(())
}

/// Revocations name keys of the trust list this server publishes (any key when it publishes
/// none): a typo in a key id must not become a revocation nobody will ever match.
fn check_known_issuer(state: &AppState, key_id: KeyId) -> Result<(), AppError> {
    match &state.trust {
        Some(trust) if !trust.issuers.contains(&key_id) => Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_issuer",
            format!("key {key_id} is not in the trust list this server publishes"),
        )),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    key_id: KeyId,
    serials: Vec<u64>,
    reason: String,
}

async fn post_revocations(
    State(state): State<Arc<AppState>>,
    role: axum::Extension<Role>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let role = *role;
    let request: RevokeRequest = json_body(body)?;
    if let Role::Issuer(own) = role
        && own != request.key_id
    {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may only revoke its own issuer's passes",
        ));
    }
    if request.serials.is_empty() || request.serials.len() > MAX_SERIALS_PER_REQUEST {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "bad_serials",
            format!("1 to {MAX_SERIALS_PER_REQUEST} serials per request"),
        ));
    }
    if let Some(bad) = request.serials.iter().find(|s| **s == 0 || **s > revocation::MAX_SERIAL) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "bad_serials",
            format!("serial {bad} cannot exist: serials run from 1 to {}", revocation::MAX_SERIAL),
        ));
    }
    check_known_issuer(&state, request.key_id)?;
    check_reason(&request.reason)?;
    let serials: Vec<(KeyId, u64)> = request.serials.iter().map(|s| (request.key_id, *s)).collect();
    let (version, added) = commit(state.clone(), serials, Vec::new(), request.reason).await?;
    state.metrics.revocations_added.fetch_add(added as u64, Ordering::Relaxed);
    tracing::info!(key_id = %request.key_id, requested = request.serials.len(), added, version, "revocations committed");
    Ok(axum::Json(json!({
        "key_id": request.key_id.to_string(),
        "serials": request.serials,
        "version": version,
        "added": added,
        "already_revoked": request.serials.len() - added,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeKeyRequest {
    key_id: KeyId,
    /// RFC 3339; passes issued after it are revoked. Absent or null: every pass.
    issued_after: Option<String>,
    reason: String,
}

async fn post_revoked_keys(
    State(state): State<Arc<AppState>>,
    role: axum::Extension<Role>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    if *role != Role::Admin {
        return Err(AppError::new(StatusCode::FORBIDDEN, "forbidden", "revoking a key needs an admin token"));
    }
    let request: RevokeKeyRequest = json_body(body)?;
    check_known_issuer(&state, request.key_id)?;
    check_reason(&request.reason)?;
    let cut = match &request.issued_after {
        None => None,
        Some(text) => Some(
            pass_core::time::parse_instant(text, &pass_core::time::default_zone(), pass_core::time::Bound::StartOfDay)
                .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "bad_time", e.to_string()))?,
        ),
    };
    let (version, changed) = commit(state.clone(), Vec::new(), vec![(request.key_id, cut)], request.reason).await?;
    state.metrics.keys_revoked.fetch_add(changed as u64, Ordering::Relaxed);
    tracing::info!(key_id = %request.key_id, issued_after = ?cut, version, "key revocation committed");
    Ok(axum::Json(json!({"version": version, "changed": changed > 0})).into_response())
}

/// Commits a change durably on a blocking thread and publishes the new snapshot before
/// returning: a 2xx means on disk and served.
async fn commit(
    state: Arc<AppState>,
    serials: Vec<(KeyId, u64)>,
    keys: Vec<(KeyId, Option<u64>)>,
    reason: String,
) -> Result<(u64, usize), AppError> {
    tokio::task::spawn_blocking(move || {
        let mut store = state.store.lock().map_err(AppError::internal)?;
        let mut history = state.history.write().map_err(AppError::internal)?;
        let mut next: RevocationState = history.state.clone();
        let now = (state.clock)();
        let committed =
            store.commit_change(&mut next, &serials, &keys, &reason, now, &state.authority).map_err(|e| match e {
                StoreError::Limit(message) => AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "limit", message),
                e => AppError::internal(e),
            })?;
        let Some((snapshot, change)) = committed else {
            return Ok((history.state.version, 0));
        };
        let added = change.serials.values().map(Vec::len).sum::<usize>() + change.keys.len();
        history.changes.insert(next.version, change);
        let published = Arc::new(Published::new(&next, snapshot));
        // The heartbeat follows the new version before the answer: a checkpoint that syncs
        // right after sees the new data confirmed.
        *state.beat.write().map_err(AppError::internal)? =
            Arc::new(sign_beat(next.version, next.digest(), state.trust_ref(), now, &state.authority));
        history.state = next;
        *state.published.write().map_err(AppError::internal)? = published;
        Ok((history.state.version, added))
    })
    .await
    .map_err(AppError::internal)?
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
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
