//! The routes: revocation data, the trust list, the heartbeat, and posting revocations.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pass_core::KeyId;
use pass_core::api::{AuditHeadRequest, RevokeAnswer, RevokeKeyAnswer, RevokeKeyRequest, RevokeRequest};
use pass_core::revocation;
use serde::Deserialize;

use super::error::AppError;
use super::state::AppState;
use super::{MAX_BODY, MAX_REASON_CHARS, MAX_SERIALS_PER_REQUEST};
use crate::publish::Answer;
use crate::store::{HeadError, Role};

/// How long shared caches and mirrors may reuse a revocation answer without asking again.
const CACHE_CONTROL: &str = "public, max-age=30, must-revalidate";

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

pub(super) async fn get_heartbeat(State(state): State<Arc<AppState>>) -> Response {
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
pub(super) struct Since {
    since: Option<u64>,
}

pub(super) async fn get_revocations(
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

/// `/v1/delta/V`: the same answer as `/v1/revocations?since=V`, by a path a static copy of
/// the documents can also have (docs/FORMAT.md, "Static layout").
pub(super) async fn get_delta(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(since): axum::extract::Path<u64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    get_revocations(State(state), Ok(Query(Since { since: Some(since) })), headers).await
}

/// `/v1/authorities`: the root's signed authority list this server was given, for checkpoints
/// in root mode; `404` when it has none.
pub(super) async fn get_authorities(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some((doc, etag)) = &state.authorities else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "no_authority_list",
            "this server publishes no authority list",
        ));
    };
    if not_modified(&headers, etag) {
        return Ok(not_modified_response(etag));
    }
    Ok(signed_response(doc.clone(), etag))
}

pub(super) async fn get_trust(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(trust) = &state.trust else {
        return Err(AppError::new(StatusCode::NOT_FOUND, "no_trust_list", "this server publishes no trust list"));
    };
    if not_modified(&headers, &trust.etag) {
        return Ok(not_modified_response(&trust.etag));
    }
    Ok(signed_response(trust.doc.clone(), &trust.etag))
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

pub(super) async fn post_revocations(
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
    let already_revoked = (request.serials.len() - added) as u64;
    let answer = RevokeAnswer {
        key_id: request.key_id,
        serials: request.serials,
        version,
        added: added as u64,
        already_revoked,
    };
    Ok(axum::Json(answer).into_response())
}

pub(super) async fn post_revoked_keys(
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
    Ok(axum::Json(RevokeKeyAnswer { version, changed: changed > 0 }).into_response())
}

/// An office sends its audit trail's signed head: kept unless it goes back (409).
pub(super) async fn post_audit_heads(
    State(state): State<Arc<AppState>>,
    role: axum::Extension<Role>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    use base64::Engine as _;
    let request: AuditHeadRequest = json_body(body)?;
    let public = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&request.public_key)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| pass_core::PublicKey::from_bytes(&bytes).ok())
        .ok_or_else(|| AppError::new(StatusCode::BAD_REQUEST, "bad_key", "public_key: 32 bytes, unpadded base64url"))?;
    let key_id = public.id();
    if let Role::Issuer(own) = *role
        && own != key_id
    {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may only send its own office's head",
        ));
    }
    check_known_issuer(&state, key_id)?;
    if !request.head.verifies(&public) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
            "the head is not signed by this key",
        ));
    }
    let now = (state.clock)();
    let kept = tokio::task::spawn_blocking(move || {
        state
            .store
            .lock()
            .map_err(AppError::internal)?
            .add_audit_head(key_id, &request.head, request.next_serial, now)
            .map_err(|e| match e {
                HeadError::Conflict { .. } => {
                    tracing::warn!(%key_id, "audit head refused: {e}");
                    AppError::new(StatusCode::CONFLICT, "audit_head_goes_back", e.to_string())
                }
                HeadError::Store(e) => AppError::internal(e),
            })
    })
    .await
    .map_err(AppError::internal)??;
    Ok(axum::Json(kept).into_response())
}

/// The newest audit head an office sent.
pub(super) async fn get_audit_head(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(key_id): axum::extract::Path<String>,
) -> Result<Response, AppError> {
    let key_id: KeyId = key_id
        .parse()
        .map_err(|_| AppError::new(StatusCode::BAD_REQUEST, "bad_key_id", "a key id is 16 hex digits"))?;
    let held = tokio::task::spawn_blocking(move || {
        state.store.lock().map_err(AppError::internal)?.audit_head(key_id).map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)??;
    match held {
        Some(answer) => {
            let mut response = axum::Json(answer).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        None => {
            Err(AppError::new(StatusCode::NOT_FOUND, "no_head", format!("no audit head was sent for key {key_id}")))
        }
    }
}

/// Commits on a blocking thread: a 2xx means on disk and served.
async fn commit(
    state: Arc<AppState>,
    serials: Vec<(KeyId, u64)>,
    keys: Vec<(KeyId, Option<u64>)>,
    reason: String,
) -> Result<(u64, usize), AppError> {
    Ok(tokio::task::spawn_blocking(move || state.commit(&serials, &keys, &reason))
        .await
        .map_err(AppError::internal)??)
}
