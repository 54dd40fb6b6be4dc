//! The server's shared state and the one way it changes: committing revocations.

use std::sync::{Arc, Mutex, RwLock};

use pass_core::authority::{self, DocKind, Heartbeat, TrustDoc, TrustRef};
use pass_core::revocation::{self, RevocationState};
use pass_core::{KeyId, SecretKey};
use subtle::ConstantTimeEq;

use super::error::AppError;
use super::metrics::Metrics;
use crate::publish::{History, Published};
use crate::store::{Role, Store, StoreError, token_hash};

/// The signed heartbeat being served, for the current version.
pub struct Beat {
    /// The version it vouches for.
    pub version: u64,
    /// That version's state digest.
    pub digest: [u8; 32],
    /// When it was signed, Unix seconds.
    pub issued_at: u64,
    /// The signed document.
    pub doc: Arc<[u8]>,
}

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
    /// The national root's signed authority list, served as given (`--authorities`): the
    /// signed document and `"a<version>"`.
    pub authorities: Option<(Arc<[u8]>, String)>,
    /// Where to write the signed documents as plain files after every commit and heartbeat
    /// (`--publish`), and the lock that keeps two writers from interleaving.
    pub publish: Option<(std::path::PathBuf, Mutex<()>)>,
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
            authorities: None,
            publish: None,
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
        drop(beat);
        self.publish_static();
    }

    /// How heartbeats name the trust list served, if one is.
    pub fn trust_ref(&self) -> Option<TrustRef> {
        self.trust.as_ref().map(|t| t.reference)
    }

    /// The current revocation version.
    pub fn current_version(&self) -> u64 {
        self.current().version
    }

    pub(crate) fn current(&self) -> Arc<Published> {
        self.published.read().map_or_else(|p| p.into_inner().clone(), |p| p.clone())
    }

    /// The role of a bearer token. The token list is read from the database at every request,
    /// so a removed token is refused at once, and the hash is compared in constant time with
    /// every stored one. `Ok(None)`: no such token; `Err`: the token store failed (a server
    /// fault, never a reason to tell the client its token is wrong). Blocking: call it off the
    /// async workers.
    pub(super) fn role(&self, token: &str) -> Result<Option<Role>, AppError> {
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

/// A heartbeat for `version` with `digest`, naming the trust list served (if any), signed at
/// `now`.
pub fn sign_beat(version: u64, digest: [u8; 32], trust: Option<TrustRef>, now: u64, key: &SecretKey) -> Beat {
    let doc = Heartbeat { version, digest, issued_at: now, trust }.sign(key);
    Beat { version, digest, issued_at: now, doc: doc.into() }
}

/// Why a change could not be committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The change would pass a limit (too many serials for one issuer, a snapshot too large):
    /// nothing was written.
    #[error("{0}")]
    Limit(String),
    /// The store or a lock failed: nothing was acknowledged.
    #[error("{0}")]
    Internal(String),
}

impl AppState {
    /// Commits a change durably and publishes the new snapshot and heartbeat before returning
    /// (blocking: call it off the async workers): `Ok` means on disk and served. Returns the
    /// version and how many serials or keys were new.
    pub fn commit(
        &self,
        serials: &[(KeyId, u64)],
        keys: &[(KeyId, Option<u64>)],
        reason: &str,
    ) -> Result<(u64, usize), CommitError> {
        let internal = |e: &dyn std::fmt::Display| CommitError::Internal(e.to_string());
        let mut store = self.store.lock().map_err(|e| internal(&e))?;
        let mut history = self.history.write().map_err(|e| internal(&e))?;
        let mut next: RevocationState = history.state.clone();
        let now = (self.clock)();
        let committed =
            store.commit_change(&mut next, serials, keys, reason, now, &self.authority).map_err(|e| match e {
                StoreError::Limit(message) => CommitError::Limit(message),
                e => internal(&e),
            })?;
        let Some((snapshot, change)) = committed else {
            return Ok((history.state.version, 0));
        };
        let added = change.serials.values().map(Vec::len).sum::<usize>() + change.keys.len();
        history.changes.insert(next.version, change);
        let published = Arc::new(Published::new(&next, snapshot));
        // The heartbeat follows the new version before the answer: a checkpoint that syncs
        // right after sees the new data confirmed.
        *self.beat.write().map_err(|e| internal(&e))? =
            Arc::new(sign_beat(next.version, next.digest(), self.trust_ref(), now, &self.authority));
        history.state = next;
        *self.published.write().map_err(|e| internal(&e))? = published;
        let version = history.state.version;
        drop(history);
        self.publish_static();
        Ok((version, added))
    }

    /// Writes the current signed documents as plain files (`--publish`): the snapshot, the
    /// heartbeat, the trust list and a delta from each of the last versions. A failure is
    /// logged; the server goes on serving.
    pub fn publish_static(&self) {
        let Some((dir, lock)) = &self.publish else { return };
        let _one_writer = lock.lock().unwrap_or_else(|p| p.into_inner());
        let published = self.current();
        let beat = self.beat.read().unwrap_or_else(|p| p.into_inner()).doc.clone();
        let deltas = {
            let history = self.history.read().unwrap_or_else(|p| p.into_inner());
            let version = history.state.version;
            if version != published.version {
                // A commit landed between the reads: it publishes again itself.
                return;
            }
            (version.saturating_sub(crate::mirror::STATIC_DELTAS).max(1)..version)
                .map(|from| (from, pass_core::revocation::sign_delta(&history.delta_since(from), &self.authority)))
                .collect()
        };
        let docs = crate::mirror::StaticDocs {
            snapshot: &published.snapshot,
            heartbeat: &beat,
            trust: self.trust.as_ref().map(|t| &t.doc[..]),
            deltas,
        };
        if let Err(e) = crate::mirror::write_static(dir, &docs) {
            tracing::error!(dir = %dir.display(), error = %e, "publishing the documents as files failed");
        }
    }
}
