//! Syncing revocation data and the trust list from a revocation server (or a file on a USB
//! stick), with every check applied before anything is kept: the authority's signature, no
//! rollback, no dropped revocation, the delta's state digest, size caps and timeouts.
//!
//! Protocol: `GET /v1/revocations?since=V` with `If-None-Match: "rV"`. The server answers 304
//! when `V` is current, a signed delta from `V` when it can, or a full signed snapshot.
//! `GET /v1/trust` with `If-None-Match: "tV"` likewise for the signed trust list.

use std::time::Duration;

use pass_core::PublicKey;
use pass_core::authority::{self, DocError, DocKind, TrustDoc};
use pass_core::revocation::RevocationError;

use crate::state::LocalState;

/// Largest response body accepted.
pub const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Why a sync or import was refused. The last good state is kept in every case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Could not connect, or the server did not answer in time.
    #[error("{url}: {message}")]
    Network {
        /// What was requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an unexpected status.
    #[error("{url}: unexpected HTTP status {status}")]
    Status {
        /// What was requested.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body is larger than [`MAX_BODY`].
    #[error("{0}: response is larger than {MAX_BODY} bytes")]
    TooLarge(String),
    /// The body ended early or could not be read.
    #[error("{url}: response body is truncated or unreadable: {message}")]
    Body {
        /// What was requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The revocation data failed a check.
    #[error("revocation data refused: {0}")]
    Revocations(#[from] RevocationError),
    /// The trust list failed a check.
    #[error("trust list refused: {0}")]
    Trust(String),
    /// The local trust file names no `[authority]`.
    #[error("the local trust list has no [authority] section: cannot check signed data")]
    NoAuthority,
}

/// What a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Revocation version before.
    pub from_version: u64,
    /// Revocation version after.
    pub to_version: u64,
    /// Whether revocations were already current (304 or an empty delta).
    pub revocations_current: bool,
    /// Bytes of revocation data received.
    pub revocation_bytes: usize,
    /// Trust list version after (0: none).
    pub trust_version: u64,
    /// Whether the server publishes a signed trust list (a server run without `--trust`
    /// answers 404, a normal configuration).
    pub trust_published: bool,
    /// Why the trust list was refused, when it was: the revocation data is kept all the same,
    /// since the two documents are signed separately.
    pub trust_error: Option<String>,
}

/// An HTTP client for one server.
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

enum Fetched {
    NotModified,
    Body(Vec<u8>),
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) with an overall per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("pass-verifier/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent, base: base.trim_end_matches('/').to_owned() }
    }

    fn get(&self, path: &str, etag: Option<String>) -> Result<Fetched, SyncError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.agent.get(&url);
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        let mut response =
            request.call().map_err(|e| SyncError::Network { url: url.clone(), message: network_message(&e) })?;
        match response.status().as_u16() {
            304 => return Ok(Fetched::NotModified),
            200 => {}
            status => return Err(SyncError::Status { url, status }),
        }
        let body = response.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => SyncError::TooLarge(url.clone()),
            e => SyncError::Body { url: url.clone(), message: network_message(&e) },
        })?;
        Ok(Fetched::Body(body))
    }
}

fn network_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "the server did not answer in time".into(),
        e => e.to_string(),
    }
}

/// Syncs revocations, then the trust list. An error with the revocation data refuses the
/// whole sync (`Err`, nothing kept); a missing trust list (404) is normal, and a refused one is
/// reported in [`SyncReport::trust_error`] while the revocation data is kept. The caller saves
/// `state` when this returns `Ok`.
pub fn sync(client: &Client, authority: &PublicKey, state: &mut LocalState, now: u64) -> Result<SyncReport, SyncError> {
    let held = state.revocations.version;
    let mut report = SyncReport { from_version: held, to_version: held, ..SyncReport::default() };
    let etag = (held > 0).then(|| format!("\"r{held}\""));
    match client.get(&format!("/v1/revocations?since={held}"), etag)? {
        Fetched::NotModified => report.revocations_current = true,
        Fetched::Body(body) => {
            report.revocation_bytes = body.len();
            let mut next = state.revocations.clone();
            let changed = next.apply_document(&body, authority)?;
            report.revocations_current = !changed;
            report.to_version = next.version;
            state.revocations = next;
        }
    }
    let held_trust = state.trust_doc(authority).map_or(0, |d| d.version);
    let etag = (held_trust > 0).then(|| format!("\"t{held_trust}\""));
    report.trust_published = true;
    let trust = match client.get("/v1/trust", etag) {
        Ok(Fetched::NotModified) => Ok(()),
        Ok(Fetched::Body(body)) => apply_trust(state, &body, authority),
        Err(SyncError::Status { status: 404, .. }) => {
            report.trust_published = false;
            Ok(())
        }
        Err(e) => Err(e),
    };
    // A missing or refused trust list never throws away good revocation data.
    report.trust_error = trust.err().map(|e| e.to_string());
    report.trust_version = state.trust_doc(authority).map_or(0, |d| d.version);
    state.last_sync = Some(now);
    Ok(report)
}

/// Applies a signed trust-list document: a newer version replaces the held one; the same
/// version must be the same list; an older one is a rollback.
pub fn apply_trust(state: &mut LocalState, bytes: &[u8], authority: &PublicKey) -> Result<(), SyncError> {
    let doc: TrustDoc = match authority::open(bytes, authority) {
        Ok((DocKind::TrustList, body)) => authority::decode_body(body).map_err(|e| SyncError::Trust(e.to_string()))?,
        Ok((kind, _)) => return Err(SyncError::Trust(DocError::WrongKind(kind as u8).to_string())),
        Err(e) => return Err(SyncError::Trust(e.to_string())),
    };
    pass_core::TrustList::from_toml(&doc.toml).map_err(|e| SyncError::Trust(e.to_string()))?;
    match state.trust_doc(authority) {
        Some(held) if doc.version < held.version => {
            Err(SyncError::Trust(format!("version {} is older than the version held ({})", doc.version, held.version)))
        }
        Some(held) if doc.version == held.version && doc != held => {
            Err(SyncError::Trust(format!("version {} offered with different content than held", doc.version)))
        }
        _ => {
            state.trust_doc = Some(bytes.to_vec());
            Ok(())
        }
    }
}

/// Imports a signed document from a file (a USB stick): a revocation snapshot or delta, or a
/// trust list, with exactly the checks of a sync. Returns a one-line description.
pub fn import(bytes: &[u8], authority: &PublicKey, state: &mut LocalState) -> Result<String, SyncError> {
    if bytes.len() as u64 > MAX_BODY {
        return Err(SyncError::TooLarge("import file".into()));
    }
    if bytes.get(3) == Some(&(DocKind::TrustList as u8)) {
        apply_trust(state, bytes, authority)?;
        let version = state.trust_doc(authority).map_or(0, |d| d.version);
        return Ok(format!("trust list version {version}"));
    }
    let mut next = state.revocations.clone();
    let changed = next.apply_document(bytes, authority)?;
    let from = state.revocations.version;
    state.revocations = next;
    Ok(if changed {
        format!("revocation data version {from} → {}", state.revocations.version)
    } else {
        format!("revocation data already current (version {from})")
    })
}

/// Parses `30s`, `5m`, `1h`, `2d` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 30s, 5m, 1h, 2d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?} is not a duration like 30s, 5m, 1h, 2d")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }
}
