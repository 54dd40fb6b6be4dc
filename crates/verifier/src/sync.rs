//! Syncing revocation data and the trust list from a revocation server (or a file on a USB
//! stick), with every check applied before anything is kept: the authority's signature, no
//! rollback, no dropped revocation, the delta's state digest, size caps and timeouts.
//!
//! Protocol: `GET /v1/revocations?since=V` with `If-None-Match: "rV"`. The server answers 304
//! when `V` is current, a signed delta from `V` when it can, or a full signed snapshot.
//! `GET /v1/trust` with `If-None-Match: "tV"` likewise for the signed trust list.
//! `GET /v1/heartbeat`: the signed statement "version V (digest D) is current as of T"; the
//! data counts as confirmed only by it (or by its own signing time), never by a 304.

use std::time::Duration;

use pass_core::PublicKey;
use pass_core::authority::{self, DocKind};
use pass_core::rules;

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
    /// A document broke the rules every holder applies (`pass_core::rules`): revocation data
    /// going back or losing a serial, a trust list or heartbeat refused, a document signed
    /// too far ahead of this computer's clock.
    #[error(transparent)]
    Rule(#[from] rules::RuleError),
    /// The trust list failed a check.
    #[error("trust list refused: {0}")]
    Trust(String),
    /// The heartbeat failed a check.
    #[error("heartbeat refused: {0}")]
    Heartbeat(String),
    /// The local trust file names no `[authority]`.
    #[error("the local trust list has no [authority] section: cannot check signed data")]
    NoAuthority,
    /// A file to import is not what an import takes (the documents in it are checked as a
    /// sync checks them, and refused with their own errors).
    #[error("{0}")]
    Import(String),
    /// Several servers were given for a single authority.
    #[error("--server: one server for a single authority (a [root] trust file takes several)")]
    OneServer,
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
    /// Why the heartbeat was refused or missing, when it was (the data then stays confirmed
    /// only as of its own signing time and turns stale).
    pub heartbeat_error: Option<String>,
    /// Up to when the data held is confirmed by signed time, after the sync.
    pub confirmed_at: Option<u64>,
    /// Whether the authority's heartbeat names a newer trust list than the one held after the
    /// sync (withheld or rolled back on the way).
    pub trust_stale: bool,
}

/// An HTTP client for one server.
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

pub(crate) enum Fetched {
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

    pub(crate) fn get(&self, path: &str, etag: Option<String>) -> Result<Fetched, SyncError> {
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
            let (next, changed) = rules::revocations(&state.revocations, &body, authority, now)?;
            report.revocations_current = !changed;
            report.to_version = next.version;
            if changed {
                state.revocation_doc = Some(body);
            }
            state.revocations = next;
        }
    }
    // The heartbeat before the trust list: it names the trust list that is current, so an older
    // one offered after it is refused, and one withheld is seen.
    let beat = match client.get("/v1/heartbeat", None) {
        Ok(Fetched::Body(body)) => apply_heartbeat(state, &body, authority, now),
        Ok(Fetched::NotModified) => Err(SyncError::Heartbeat("answered 304 without a heartbeat".into())),
        Err(e) => Err(e),
    };
    report.heartbeat_error = beat.err().map(|e| e.to_string());
    let held_trust = state.trust_doc(authority).map_or(0, |d| d.version);
    let etag = (held_trust > 0).then(|| format!("\"t{held_trust}\""));
    report.trust_published = true;
    let trust = match client.get("/v1/trust", etag) {
        Ok(Fetched::NotModified) => Ok(()),
        Ok(Fetched::Body(body)) => apply_trust(state, &body, authority, now),
        Err(SyncError::Status { status: 404, .. }) => {
            report.trust_published = false;
            Ok(())
        }
        Err(e) => Err(e),
    };
    // A missing or refused trust list never throws away good revocation data.
    report.trust_error = trust.err().map(|e| e.to_string());
    report.trust_version = state.trust_doc(authority).map_or(0, |d| d.version);
    report.trust_stale = state.trust_stale(authority);
    report.confirmed_at = state.confirmed_at(authority);
    state.last_sync = Some(now);
    Ok(report)
}

/// Applies a signed trust-list document: a newer version replaces the held one; the same
/// version must be the same list; an older one is a rollback, and so is one older than the
/// version the authority's newest heartbeat names (a replay to a checkpoint that holds none).
/// `now`: this computer's clock (a document signed too far ahead of it is refused).
pub fn apply_trust(state: &mut LocalState, bytes: &[u8], authority: &PublicKey, now: u64) -> Result<(), SyncError> {
    let named = state.heartbeat(authority).and_then(|b| b.trust);
    if rules::trust(state.trust_doc(authority).as_ref(), named, bytes, authority, now)?.is_some() {
        state.trust_doc = Some(bytes.to_vec());
    }
    Ok(())
}

/// Keeps a signed heartbeat when it is newer than the one held (a replayed older one changes
/// nothing). Whether it confirms the data held is for [`LocalState::confirmed_at`] to say.
/// `now`: this computer's clock (a heartbeat signed too far ahead of it is refused).
pub fn apply_heartbeat(state: &mut LocalState, bytes: &[u8], authority: &PublicKey, now: u64) -> Result<(), SyncError> {
    if rules::heartbeat(state.heartbeat(authority).as_ref(), bytes, authority, now)?.is_some() {
        state.heartbeat = Some(bytes.to_vec());
    }
    Ok(())
}

/// Imports a signed document from a file (a USB stick): a revocation snapshot or delta, a
/// trust list, or a bundle of them with a heartbeat (`pass-server export --authority-key`),
/// with exactly the checks of a sync; all or nothing. `now`: this computer's clock. Returns a
/// one-line description.
pub fn import(bytes: &[u8], authority: &PublicKey, state: &mut LocalState, now: u64) -> Result<String, SyncError> {
    if bytes.len() as u64 > MAX_BODY {
        return Err(SyncError::TooLarge("import file".into()));
    }
    if bytes.starts_with(&authority::BUNDLE_MAGIC) {
        let docs = authority::unbundle(bytes).map_err(|e| SyncError::Import(e.to_string()))?;
        if docs.is_empty() {
            return Err(SyncError::Import("the bundle holds no document".into()));
        }
        let mut next = state.clone();
        let mut said = Vec::new();
        for doc in docs {
            if doc.starts_with(&authority::BUNDLE_MAGIC) {
                return Err(SyncError::Import("a bundle inside a bundle".into()));
            }
            said.push(import(doc, authority, &mut next, now)?);
        }
        *state = next;
        return Ok(said.join("; "));
    }
    if bytes.get(3) == Some(&(DocKind::Heartbeat as u8)) {
        apply_heartbeat(state, bytes, authority, now)?;
        return Ok("heartbeat".into());
    }
    if bytes.get(3) == Some(&(DocKind::TrustList as u8)) {
        apply_trust(state, bytes, authority, now)?;
        let version = state.trust_doc(authority).map_or(0, |d| d.version);
        return Ok(format!("trust list version {version}"));
    }
    let (next, changed) = rules::revocations(&state.revocations, bytes, authority, now)?;
    let from = state.revocations.version;
    if changed {
        state.revocation_doc = Some(bytes.to_vec());
    }
    state.revocations = next;
    Ok(if changed {
        format!("revocation data version {from} → {}", state.revocations.version)
    } else {
        format!("revocation data already current (version {from})")
    })
}

/// The shortest `--every` accepted: thousands of checkpoints share one server.
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// Why one round of a periodic sync did nothing: the network or the server (a [`SyncError`]),
/// or the state file itself (damaged, unreadable, not writable: reported, never replaced).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoundError {
    /// The sync was refused; the last good state is kept.
    #[error("sync refused, keeping the last good state: {0}")]
    Sync(#[from] SyncError),
    /// The state file could not be locked, read or written: nothing was changed.
    #[error("{0}")]
    State(#[from] crate::state::StateError),
    /// The settings (config, trust list) could not be read.
    #[error(transparent)]
    Settings(Box<crate::settings::SettingsError>),
}

/// One sync of the state file at `path`: holds its lock from load to save (another process
/// syncing or importing waits), loads it (a damaged file is an error: the operator must see
/// it, and it is never replaced by a state held in memory), syncs and saves. Returns the new
/// state and what the sync did.
pub fn sync_file(
    client: &Client,
    authority: &PublicKey,
    path: &std::path::Path,
    now: u64,
) -> Result<(LocalState, SyncReport), RoundError> {
    let _lock = crate::state::lock(path)?;
    let mut state = LocalState::load_verified(path, Some(authority))?;
    let report = sync(client, authority, &mut state, now)?;
    state.save(path)?;
    Ok((state, report))
}

/// When the next round of a periodic sync runs: every `every` while rounds succeed; after a
/// failure, twice, four, then eight times as long (at most an hour more than `every`), each
/// with ±10% jitter so that thousands of checkpoints do not call at the same second.
#[derive(Clone, Debug)]
pub struct Backoff {
    every: Duration,
    failures: u32,
}

impl Backoff {
    /// A schedule for rounds every `every`.
    pub fn new(every: Duration) -> Self {
        Self { every, failures: 0 }
    }

    /// The wait before the next round, after a round that succeeded (`ok`) or failed;
    /// `jitter` in 0..=1 picks the point in the ±10% window.
    pub fn after(&mut self, ok: bool, jitter: f64) -> Duration {
        self.failures = if ok { 0 } else { self.failures.saturating_add(1) };
        let base = self.every.saturating_mul(1 << self.failures.min(3)).min(self.every + Duration::from_secs(3600));
        base.mul_f64(0.9 + 0.2 * jitter.clamp(0.0, 1.0))
    }

    /// Failed rounds in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A jitter in 0..=1 from the clock's nanoseconds (no need for a random generator here).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1001) / 1000.0
}

/// Runs `round` every `every` for ever (the CLI's `sync --every` and the station's background
/// sync). A failed round never ends the loop: its error is written to standard error with the
/// time of the next try, and the wait backs off ([`Backoff`]).
pub fn run_every<T>(every: Duration, mut round: impl FnMut() -> Result<T, RoundError>) -> ! {
    let mut backoff = Backoff::new(every);
    loop {
        let result = round();
        let wait = backoff.after(result.is_ok(), jitter());
        if let Err(e) = result {
            eprintln!(
                "pass-verifier: {e} (failed {} time(s) in a row; next try in {} s)",
                backoff.failures(),
                wait.as_secs()
            );
        }
        std::thread::sleep(wait);
    }
}

/// A duration that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration like 30s, 5m, 1h, 2d")]
pub struct BadDuration(pub String);

/// Parses `30s`, `5m`, `1h 30m`, `2d` (jiff's friendly format; days are 24 hours) or a number
/// of seconds. Negative and out-of-range values are errors, never an overflow.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let text = text.trim();
    let bad = || BadDuration(text.to_owned());
    let span: jiff::Span = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = text.parse().map_err(|_| bad())?;
        jiff::Span::new().try_seconds(secs).map_err(|_| bad())?
    } else {
        text.parse().map_err(|_| bad())?
    };
    let duration = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).map_err(|_| bad())?;
    Duration::try_from(duration).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::SecretKey;
    use pass_core::authority::{Heartbeat, TrustDoc};
    use pass_core::revocation::{RevocationState, sign_snapshot};

    /// The clock of these tests: after every signing time they use.
    const NOW: u64 = 100_000;

    #[test]
    fn only_a_matching_newer_heartbeat_confirms() {
        let key = SecretKey::from_seed(&[21; 32]);
        let authority = key.public_key();
        let mut data = RevocationState { version: 4, issued_at: 1_000, ..RevocationState::default() };
        data.add_serials(SecretKey::from_seed(&[22; 32]).public_key().id(), [5, 9]);
        let mut state = LocalState::default();
        import(&sign_snapshot(&data.snapshot(), &key), &authority, &mut state, NOW).expect("snapshot");
        assert_eq!(state.confirmed_at(&authority), Some(1_000), "the data vouches for itself");

        let beat = |version, digest, at| Heartbeat { version, digest, issued_at: at, trust: None }.sign(&key);
        // A heartbeat for this version and content confirms it as of its own time.
        apply_heartbeat(&mut state, &beat(4, data.digest(), 5_000), &authority, NOW).expect("heartbeat");
        assert_eq!(state.confirmed_at(&authority), Some(5_000));
        // A replayed older heartbeat confirms nothing new and does not move it back.
        apply_heartbeat(&mut state, &beat(4, data.digest(), 2_000), &authority, NOW).expect("heartbeat");
        assert_eq!(state.confirmed_at(&authority), Some(5_000));
        // A newer heartbeat for a version this checkpoint does not hold confirms nothing, but
        // still raises the trusted time floor.
        apply_heartbeat(&mut state, &beat(5, [0; 32], 9_000), &authority, NOW).expect("heartbeat");
        assert_eq!(state.confirmed_at(&authority), Some(1_000));
        assert_eq!(state.newest_signed_at(Some(&authority)), 9_000);
        // The same version with other content (a forked server) confirms nothing.
        apply_heartbeat(&mut state, &beat(4, [7; 32], 10_000), &authority, NOW).expect("heartbeat");
        assert_eq!(state.confirmed_at(&authority), Some(1_000));
        // Signed by anyone else: refused.
        let other = SecretKey::from_seed(&[23; 32]);
        let forged = Heartbeat { version: 4, digest: data.digest(), issued_at: 20_000, trust: None }.sign(&other);
        assert!(apply_heartbeat(&mut state, &forged, &authority, NOW).is_err());
    }

    #[test]
    fn bundles_import_whole_or_not_at_all() {
        let key = SecretKey::from_seed(&[21; 32]);
        let authority = key.public_key();
        let data = RevocationState { version: 2, issued_at: 1_000, ..RevocationState::default() };
        let snapshot = sign_snapshot(&data.snapshot(), &key);
        let beat = Heartbeat { version: 2, digest: data.digest(), issued_at: 3_000, trust: None }.sign(&key);
        let mut state = LocalState::default();
        let said = import(&authority::bundle(&[&snapshot, &beat]), &authority, &mut state, NOW).expect("bundle");
        assert!(said.contains("heartbeat"), "{said}");
        assert_eq!(state.confirmed_at(&authority), Some(3_000));
        let mut bad = beat.clone();
        bad[20] ^= 1;
        let mut fresh = LocalState::default();
        assert!(import(&authority::bundle(&[&snapshot, &bad]), &authority, &mut fresh, NOW).is_err());
        assert_eq!(fresh.revocations.version, 0, "nothing kept from a bundle with a bad part");
        let nested = authority::bundle(&[&authority::bundle(&[&snapshot])]);
        assert!(import(&nested, &authority, &mut fresh, NOW).is_err());
    }

    #[test]
    fn failures_back_off_and_success_resets() {
        let every = Duration::from_secs(60);
        let mut backoff = Backoff::new(every);
        assert_eq!(backoff.after(true, 0.5), every);
        let waits: Vec<u64> = (0..5).map(|_| backoff.after(false, 0.5).as_secs()).collect();
        assert_eq!(waits, [120, 240, 480, 480, 480]);
        assert_eq!(backoff.failures(), 5);
        assert_eq!(backoff.after(true, 0.5), every, "a success goes back to the period");
        assert_eq!(backoff.after(true, 0.0), Duration::from_secs(54), "jitter -10%");
        assert_eq!(backoff.after(true, 1.0), Duration::from_secs(66), "jitter +10%");
        // A long period backs off by at most an hour.
        let mut long = Backoff::new(Duration::from_secs(7200));
        for _ in 0..4 {
            long.after(false, 0.5);
        }
        assert_eq!(long.after(false, 0.5), Duration::from_secs(10_800));
    }

    #[test]
    fn a_damaged_state_file_is_reported_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.bin");
        std::fs::write(&path, b"CPVS\x02 not a state file at all, damaged on the disk....").expect("writes");
        let before = std::fs::read(&path).expect("reads");
        // No server needed: the file is refused before any request.
        let client = Client::new("http://127.0.0.1:9", Duration::from_secs(1));
        let authority = pass_core::SecretKey::from_seed(&[21; 32]).public_key();
        let err = sync_file(&client, &authority, &path, 0).expect_err("refused");
        assert!(matches!(err, RoundError::State(crate::state::StateError::Damaged(..))), "{err}");
        assert_eq!(std::fs::read(&path).expect("reads"), before, "left as it was for the operator");
    }

    /// A document signed far ahead of this computer's clock (an authority's clock a year
    /// ahead) is refused and the last good state kept; within the allowed skew it is taken.
    #[test]
    fn signed_time_far_ahead_of_the_clock_is_refused() {
        let key = SecretKey::from_seed(&[21; 32]);
        let authority = key.public_key();
        let ahead = NOW + pass_core::verdict::MAX_SIGNED_AHEAD + 1;
        let data = RevocationState { version: 2, issued_at: ahead, ..RevocationState::default() };
        let mut state = LocalState::default();
        let err = import(&sign_snapshot(&data.snapshot(), &key), &authority, &mut state, NOW).expect_err("refused");
        assert!(matches!(err, SyncError::Rule(rules::RuleError::SignedAhead { .. })), "{err}");
        assert_eq!(state.revocations.version, 0, "nothing kept");
        let beat = Heartbeat { version: 2, digest: data.digest(), issued_at: ahead, trust: None }.sign(&key);
        assert!(apply_heartbeat(&mut state, &beat, &authority, NOW).is_err());
        assert!(state.heartbeat.is_none());
        let trust = authority::sign(
            DocKind::TrustList,
            &authority::encode_body(&TrustDoc { version: 1, issued_at: ahead, toml: String::new() }),
            &key,
        );
        assert!(apply_trust(&mut state, &trust, &authority, NOW).is_err());
        // An hour ahead (a clock a little slow here) is fine.
        let near = RevocationState { version: 2, issued_at: NOW + 3600, ..RevocationState::default() };
        import(&sign_snapshot(&near.snapshot(), &key), &authority, &mut state, NOW).expect("within the skew");
    }

    /// The heartbeat names the current trust list: a checkpoint holding an older one is told
    /// (`trust_stale`), and an older list replayed to it afterwards is refused, also when it
    /// holds none at all.
    #[test]
    fn the_heartbeat_names_the_current_trust_list() {
        let key = SecretKey::from_seed(&[21; 32]);
        let authority = key.public_key();
        let list = |version| {
            authority::sign(
                DocKind::TrustList,
                &authority::encode_body(&TrustDoc { version, issued_at: 1_000 + version, toml: String::new() }),
                &key,
            )
        };
        let (v1, v2) = (list(1), list(2));
        let beat = |trust: &[u8], version| {
            let named = authority::TrustRef { version, digest: authority::trust_digest(trust) };
            Heartbeat { version: 0, digest: [0; 32], issued_at: 5_000, trust: Some(named) }.sign(&key)
        };
        let mut state = LocalState::default();
        assert!(!state.trust_stale(&authority), "no heartbeat: nothing to compare with");
        apply_trust(&mut state, &v1, &authority, NOW).expect("v1");
        apply_heartbeat(&mut state, &beat(&v2, 2), &authority, NOW).expect("heartbeat");
        assert!(state.trust_stale(&authority), "v2 is out, v1 held (v2 withheld: a 404)");
        apply_trust(&mut state, &v2, &authority, NOW).expect("v2");
        assert!(!state.trust_stale(&authority));
        // A fresh checkpoint that has the heartbeat refuses the replayed v1.
        let mut fresh = LocalState::default();
        apply_heartbeat(&mut fresh, &beat(&v2, 2), &authority, NOW).expect("heartbeat");
        assert!(fresh.trust_stale(&authority));
        let err = apply_trust(&mut fresh, &v1, &authority, NOW).expect_err("replayed v1");
        assert!(err.to_string().contains("older than the version 2"), "{err}");
        assert!(fresh.trust_doc.is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err(), "no overflow");
        assert!(parse_duration("18446744073709551615").is_err(), "no overflow");
    }
}
