//! Revocation data: which passes (per issuer key) and which issuer keys are revoked, as a
//! versioned state that only ever grows, published as signed snapshots and deltas.
//!
//! - A **snapshot** is the whole state at a version.
//! - A **delta** takes a holder of `from_version` to `to_version` and carries the SHA-256 digest
//!   of the resulting state, so the holder proves it ended exactly where the server is.
//! - Serial sets are Golomb-Rice coded ([`crate::rice`]).
//!
//! A verifier applies either with the same rules: never a lower version, never a state that
//! drops a revocation it has seen, never a key cut-off that is less strict.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::authority::{self, DocError, DocKind};
use crate::keys::{KEY_ID_LEN, KeyId, PublicKey};
use crate::rice::{self, Coded};

/// The largest serial a revocation may name: the largest a pass may carry.
pub use crate::model::MAX_SERIAL;
/// The most revoked serials one issuer key may have.
pub const MAX_REVOKED_PER_ISSUER: usize = 250_000;
/// The largest signed snapshot a server publishes: half of what a verifier accepts
/// (`authority::MAX_DOC_LEN`), so a full sync and a USB import always work.
pub const MAX_SNAPSHOT_LEN: usize = crate::authority::MAX_DOC_LEN / 2;

/// A revoked issuer key. `issued_after: None` revokes every pass it signed; `Some(t)` only
/// passes issued after `t` (a leaked key need not kill the passes signed before the leak).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRevocation {
    /// The key.
    pub key_id: [u8; KEY_ID_LEN],
    /// Cut-off, Unix seconds; `None` for every pass.
    pub issued_after: Option<u64>,
}

/// The stricter of two cut-offs (`None`, every pass, is strictest).
pub fn stricter(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    }
}

/// Why revocation data was refused. The holder keeps its last good state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The signed document is bad.
    #[error(transparent)]
    Document(#[from] DocError),
    /// A coded set is bad.
    #[error("revocation set: {0}")]
    Set(#[from] rice::RiceError),
    /// Older than what is held (a rollback).
    #[error("revocation data version {offered} is older than the version held ({held})")]
    Rollback {
        /// Version offered.
        offered: u64,
        /// Version held.
        held: u64,
    },
    /// A snapshot that lacks a revocation already seen.
    #[error("revocation data drops a revocation already seen ({0})")]
    DropsRevocation(String),
    /// A delta that does not start at the version held.
    #[error("delta from version {from} does not apply to the version held ({held})")]
    WrongBase {
        /// Delta's base.
        from: u64,
        /// Version held.
        held: u64,
    },
    /// The state after a delta is not the one the server signed.
    #[error("state after applying the delta does not match its signed digest")]
    DigestMismatch,
    /// Same version, different content (the server equivocates).
    #[error("version {0} offered with different content than held")]
    Equivocation(u64),
    /// Structurally invalid (duplicate key ids, to ≤ from, ...).
    #[error("revocation data is malformed: {0}")]
    Malformed(String),
}

/// A coded set of revoked serials of one issuer key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerSet {
    /// The issuer key.
    pub key_id: [u8; KEY_ID_LEN],
    /// Number of serials.
    pub count: u64,
    /// Rice parameter.
    pub k: u8,
    /// Rice-coded serials.
    pub data: Vec<u8>,
}

impl IssuerSet {
    fn encode(key_id: KeyId, serials: &BTreeSet<u64>) -> Self {
        let values: Vec<u64> = serials.iter().copied().collect();
        let Coded { count, k, data } = rice::encode(&values);
        Self { key_id: key_id.0, count, k, data }
    }

    fn decode(&self) -> Result<Vec<u64>, RevocationError> {
        let values = rice::decode(&Coded { count: self.count, k: self.k, data: self.data.clone() })?;
        if values.contains(&0) {
            return Err(RevocationError::Malformed("serial 0".into()));
        }
        Ok(values)
    }
}

/// Snapshot body (document kind 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Monotonic version; 0 is the empty state before any revocation.
    pub version: u64,
    /// When the server published this version, Unix seconds.
    pub issued_at: u64,
    /// Revoked serials per issuer key, sorted by key id.
    pub issuers: Vec<IssuerSet>,
    /// Revoked keys, sorted by key id.
    pub revoked_keys: Vec<KeyRevocation>,
}

/// Delta body (document kind 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// The version this delta applies to.
    pub from_version: u64,
    /// The version it produces.
    pub to_version: u64,
    /// When `to_version` was published, Unix seconds.
    pub issued_at: u64,
    /// Serials revoked in between, per issuer key.
    pub additions: Vec<IssuerSet>,
    /// Key revocations added or made stricter in between.
    pub revoked_keys: Vec<KeyRevocation>,
    /// SHA-256 of the resulting state ([`RevocationState::digest`]).
    pub state_digest: [u8; 32],
}

/// The revocation state a server publishes and a verifier holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationState {
    /// Version held; 0 before any data.
    pub version: u64,
    /// When that version was published, Unix seconds; 0 before any data.
    pub issued_at: u64,
    /// Revoked serials per issuer key.
    pub serials: BTreeMap<KeyId, BTreeSet<u64>>,
    /// Revoked keys and their cut-offs.
    pub keys: BTreeMap<KeyId, Option<u64>>,
}

impl RevocationState {
    /// Whether pass `serial` of issuer `key_id` is revoked.
    pub fn is_revoked(&self, key_id: KeyId, serial: u64) -> bool {
        self.serials.get(&key_id).is_some_and(|s| s.contains(&serial))
    }

    /// Whether issuer key `key_id` is revoked for a pass issued at `issued_at`.
    pub fn key_revoked_for(&self, key_id: KeyId, issued_at: u64) -> bool {
        match self.keys.get(&key_id) {
            None => false,
            Some(None) => true,
            Some(Some(after)) => issued_at > *after,
        }
    }

    /// Number of revoked serials, all issuers.
    pub fn revoked_count(&self) -> usize {
        self.serials.values().map(BTreeSet::len).sum()
    }

    /// Adds revocations (server side); returns how many serials were new.
    pub fn add_serials(&mut self, key_id: KeyId, serials: impl IntoIterator<Item = u64>) -> usize {
        let set = self.serials.entry(key_id).or_default();
        serials.into_iter().filter(|s| set.insert(*s)).count()
    }

    /// Revokes a key, keeping the stricter cut-off; returns whether anything changed.
    pub fn add_key(&mut self, key_id: KeyId, issued_after: Option<u64>) -> bool {
        let merged = match self.keys.get(&key_id) {
            Some(held) => stricter(*held, issued_after),
            None => issued_after,
        };
        self.keys.insert(key_id, merged) != Some(merged)
    }

    /// SHA-256 over a canonical encoding of the content (not the version or time).
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"checkpass revocation state v1\0");
        for (key, serials) in self.serials.iter().filter(|(_, s)| !s.is_empty()) {
            h.update(key.0);
            h.update((serials.len() as u64).to_le_bytes());
            for s in serials {
                h.update(s.to_le_bytes());
            }
        }
        h.update([0xFF]);
        for (key, cut) in &self.keys {
            h.update(key.0);
            match cut {
                None => h.update([0]),
                Some(t) => {
                    h.update([1]);
                    h.update(t.to_le_bytes());
                }
            }
        }
        h.finalize().into()
    }

    /// The snapshot of this state.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: self.version,
            issued_at: self.issued_at,
            issuers: self
                .serials
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(k, s)| IssuerSet::encode(*k, s))
                .collect(),
            revoked_keys: self.keys.iter().map(|(k, c)| KeyRevocation { key_id: k.0, issued_after: *c }).collect(),
        }
    }

    /// The delta from an older state of the same history (`self` is newer) to this one.
    pub fn delta_from(&self, older: &RevocationState) -> Delta {
        let added: BTreeMap<KeyId, BTreeSet<u64>> = self
            .serials
            .iter()
            .map(|(k, s)| {
                (*k, older.serials.get(k).map_or_else(|| s.clone(), |old| s.difference(old).copied().collect()))
            })
            .collect();
        let changed_keys: BTreeSet<KeyId> =
            self.keys.iter().filter(|(k, c)| older.keys.get(*k) != Some(*c)).map(|(k, _)| *k).collect();
        self.delta(older.version, &added, &changed_keys)
    }

    /// The delta that takes a holder of `from_version` to this state, given the serials added
    /// and the keys whose revocation changed since then (a server knows these from its log).
    pub fn delta(
        &self,
        from_version: u64,
        added: &BTreeMap<KeyId, BTreeSet<u64>>,
        changed_keys: &BTreeSet<KeyId>,
    ) -> Delta {
        Delta {
            from_version,
            to_version: self.version,
            issued_at: self.issued_at,
            additions: added.iter().filter(|(_, s)| !s.is_empty()).map(|(k, s)| IssuerSet::encode(*k, s)).collect(),
            revoked_keys: changed_keys
                .iter()
                .filter_map(|k| self.keys.get(k).map(|c| KeyRevocation { key_id: k.0, issued_after: *c }))
                .collect(),
            state_digest: self.digest(),
        }
    }

    /// Builds a state from a snapshot, checking its structure.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<Self, RevocationError> {
        let mut state = RevocationState { version: snapshot.version, issued_at: snapshot.issued_at, ..Self::default() };
        for set in &snapshot.issuers {
            let key = KeyId(set.key_id);
            if state.serials.contains_key(&key) {
                return Err(RevocationError::Malformed(format!("key {key} listed twice")));
            }
            state.serials.insert(key, set.decode()?.into_iter().collect());
        }
        for revoked in &snapshot.revoked_keys {
            let key = KeyId(revoked.key_id);
            if state.keys.insert(key, revoked.issued_after).is_some() {
                return Err(RevocationError::Malformed(format!("revoked key {key} listed twice")));
            }
        }
        Ok(state)
    }

    /// Replaces this state with a newer snapshot, if it keeps everything already seen.
    pub fn apply_snapshot(&mut self, snapshot: &Snapshot) -> Result<bool, RevocationError> {
        if snapshot.version < self.version {
            return Err(RevocationError::Rollback { offered: snapshot.version, held: self.version });
        }
        let next = Self::from_snapshot(snapshot)?;
        for (key, serials) in &self.serials {
            let offered = next.serials.get(key);
            if let Some(missing) = serials.iter().find(|s| offered.is_none_or(|o| !o.contains(s))) {
                return Err(RevocationError::DropsRevocation(format!("serial {missing} of key {key}")));
            }
        }
        for (key, cut) in &self.keys {
            match next.keys.get(key) {
                Some(offered) if stricter(*offered, *cut) == *offered => {}
                _ => return Err(RevocationError::DropsRevocation(format!("revoked key {key}"))),
            }
        }
        if snapshot.version == self.version {
            if next.digest() != self.digest() {
                return Err(RevocationError::Equivocation(snapshot.version));
            }
            return Ok(false);
        }
        *self = next;
        Ok(true)
    }

    /// Applies a delta; on any error the state is unchanged.
    pub fn apply_delta(&mut self, delta: &Delta) -> Result<bool, RevocationError> {
        if delta.to_version < self.version {
            return Err(RevocationError::Rollback { offered: delta.to_version, held: self.version });
        }
        if delta.from_version != self.version {
            return Err(RevocationError::WrongBase { from: delta.from_version, held: self.version });
        }
        if delta.to_version == delta.from_version {
            return if delta.state_digest == self.digest() { Ok(false) } else { Err(RevocationError::DigestMismatch) };
        }
        let mut next = self.clone();
        for set in &delta.additions {
            next.add_serials(KeyId(set.key_id), set.decode()?);
        }
        for revoked in &delta.revoked_keys {
            next.add_key(KeyId(revoked.key_id), revoked.issued_after);
        }
        if next.digest() != delta.state_digest {
            return Err(RevocationError::DigestMismatch);
        }
        next.version = delta.to_version;
        next.issued_at = delta.issued_at;
        *self = next;
        Ok(true)
    }

    /// Whether `doc`, a signed snapshot or delta, vouches for exactly this state: a snapshot of
    /// it, or a delta that ends at it (its version, signing time and state digest). A verifier
    /// keeps the last document it applied, and checks its stored state against it when it
    /// loads the state again, so a state file edited on the disk is caught.
    pub fn signed_by(&self, doc: &[u8], authority: &PublicKey) -> bool {
        match authority::open(doc, authority) {
            Ok((DocKind::Snapshot, body)) => authority::decode_body::<Snapshot>(body)
                .ok()
                .and_then(|snapshot| Self::from_snapshot(&snapshot).ok())
                .is_some_and(|signed| signed == *self),
            Ok((DocKind::Delta, body)) => authority::decode_body::<Delta>(body).is_ok_and(|delta| {
                delta.to_version == self.version
                    && delta.issued_at == self.issued_at
                    && delta.state_digest == self.digest()
            }),
            _ => false,
        }
    }

    /// Applies a signed snapshot or delta document; returns whether the state changed.
    pub fn apply_document(&mut self, bytes: &[u8], authority: &PublicKey) -> Result<bool, RevocationError> {
        match authority::open(bytes, authority)? {
            (DocKind::Snapshot, body) => self.apply_snapshot(&authority::decode_body(body)?),
            (DocKind::Delta, body) => self.apply_delta(&authority::decode_body(body)?),
            (kind, _) => Err(DocError::WrongKind(kind as u8).into()),
        }
    }
}

/// Signs a snapshot as a document.
#[cfg(feature = "sign")]
pub fn sign_snapshot(snapshot: &Snapshot, key: &crate::keys::SecretKey) -> Vec<u8> {
    authority::sign(DocKind::Snapshot, &authority::encode_body(snapshot), key)
}

/// Signs a delta as a document.
#[cfg(feature = "sign")]
pub fn sign_delta(delta: &Delta, key: &crate::keys::SecretKey) -> Vec<u8> {
    authority::sign(DocKind::Delta, &authority::encode_body(delta), key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn state(version: u64, serials: &[u64]) -> RevocationState {
        let mut s = RevocationState { version, issued_at: 1000 + version, ..Default::default() };
        s.add_serials(KeyId([1; 8]), serials.iter().copied());
        s
    }

    #[test]
    fn snapshots_and_deltas_reach_the_same_state() {
        let key = SecretKey::from_seed(&[21; 32]);
        let old = state(3, &[1, 5, 9]);
        let mut new = state(7, &[1, 5, 9, 10, 400]);
        new.add_key(KeyId([2; 8]), Some(5000));
        let mut holder = old.clone();
        assert!(holder.apply_document(&sign_delta(&new.delta_from(&old), &key), &key.public_key()).expect("applies"));
        assert_eq!(holder, new);
        let mut fresh = RevocationState::default();
        assert!(fresh.apply_document(&sign_snapshot(&new.snapshot(), &key), &key.public_key()).expect("applies"));
        assert_eq!(fresh, new);
        assert!(new.is_revoked(KeyId([1; 8]), 400));
        assert!(new.key_revoked_for(KeyId([2; 8]), 5001));
        assert!(!new.key_revoked_for(KeyId([2; 8]), 5000));
    }

    #[test]
    fn rollbacks_drops_and_forgeries_are_refused() {
        let held = state(5, &[1, 2, 3]);
        let mut h = held.clone();
        assert!(matches!(h.apply_snapshot(&state(4, &[1, 2, 3]).snapshot()), Err(RevocationError::Rollback { .. })));
        assert!(matches!(h.apply_snapshot(&state(6, &[1, 3]).snapshot()), Err(RevocationError::DropsRevocation(_))));
        assert!(matches!(h.apply_snapshot(&state(5, &[1, 2, 3, 4]).snapshot()), Err(RevocationError::Equivocation(5))));
        let mut lying = state(6, &[1, 2, 3, 4]).delta_from(&held);
        lying.state_digest[0] ^= 1;
        assert_eq!(h.apply_delta(&lying), Err(RevocationError::DigestMismatch));
        let gap = state(9, &[1, 2, 3, 4]).delta_from(&state(7, &[1, 2, 3]));
        assert!(matches!(h.apply_delta(&gap), Err(RevocationError::WrongBase { .. })));
        assert_eq!(h, held, "the last good state is kept");

        let mut keys = RevocationState::default();
        keys.add_key(KeyId([2; 8]), Some(100));
        let mut looser = keys.clone();
        looser.version = 1;
        looser.keys.insert(KeyId([2; 8]), Some(200));
        assert!(matches!(keys.apply_snapshot(&looser.snapshot()), Err(RevocationError::DropsRevocation(_))));
        assert!(!keys.add_key(KeyId([2; 8]), Some(150)), "a looser cut-off changes nothing");
        assert!(keys.add_key(KeyId([2; 8]), None));
    }

    #[test]
    fn an_empty_delta_confirms_the_state() {
        let held = state(5, &[1, 2, 3]);
        let mut h = held.clone();
        assert_eq!(h.apply_delta(&held.delta_from(&held)), Ok(false));
    }
}
