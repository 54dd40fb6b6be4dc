//! What the server serves: the signed snapshot of the current version (cached bytes and ETag),
//! signed deltas from any older version (built on demand, cached per base version until the
//! next change), and the signed trust list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use pass_core::revocation::{self, Delta, RevocationState};
use pass_core::{KeyId, SecretKey};

use crate::store::Change;

/// One published version.
pub struct Published {
    /// The version.
    pub version: u64,
    /// Strong ETag shared by every revocation URL at this version: `"r<version>"`.
    pub etag: String,
    /// The signed snapshot.
    pub snapshot: Arc<[u8]>,
    /// Number of revoked serials (for metrics).
    pub revoked: usize,
    deltas: Mutex<HashMap<u64, Arc<[u8]>>>,
}

impl Published {
    /// Wraps a signed snapshot of `state`.
    pub fn new(state: &RevocationState, snapshot: Vec<u8>) -> Self {
        Self {
            version: state.version,
            etag: format!("\"r{}\"", state.version),
            snapshot: snapshot.into(),
            revoked: state.revoked_count(),
            deltas: Mutex::new(HashMap::new()),
        }
    }

    /// The ETag a client holding `version` sends.
    pub fn etag_for(version: u64) -> String {
        format!("\"r{version}\"")
    }
}

/// The revocation history needed to answer `?since=V`.
pub struct History {
    /// The current state.
    pub state: RevocationState,
    /// What each version added.
    pub changes: BTreeMap<u64, Change>,
}

/// What to send for `?since=V`.
pub enum Answer {
    /// The full snapshot (V unknown, in the future, or a delta would be larger).
    Snapshot,
    /// A signed delta.
    Delta(Arc<[u8]>),
}

impl History {
    /// The answer for a client at `since`, caching deltas in `published`.
    pub fn answer(&self, since: u64, published: &Published, authority: &SecretKey) -> Answer {
        if since == 0 || since > self.state.version {
            return Answer::Snapshot;
        }
        if let Some(cached) = published.deltas.lock().ok().and_then(|d| d.get(&since).cloned()) {
            return Answer::Delta(cached);
        }
        let delta = self.delta_since(since);
        let bytes: Arc<[u8]> = revocation::sign_delta(&delta, authority).into();
        if bytes.len() >= published.snapshot.len() {
            return Answer::Snapshot;
        }
        if let Ok(mut cache) = published.deltas.lock() {
            // Bounded: at most one entry per older version, dropped at the next change.
            if cache.len() < 10_000 {
                cache.insert(since, bytes.clone());
            }
        }
        Answer::Delta(bytes)
    }

    fn delta_since(&self, since: u64) -> Delta {
        let mut added: BTreeMap<KeyId, BTreeSet<u64>> = BTreeMap::new();
        let mut keys: BTreeSet<KeyId> = BTreeSet::new();
        for (_, change) in self.changes.range(since + 1..) {
            for (key, list) in &change.serials {
                added.entry(*key).or_default().extend(list);
            }
            keys.extend(change.keys.keys());
        }
        self.state.delta(since, &added, &keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_bring_any_older_version_up_to_date() {
        let key = SecretKey::from_seed(&[31; 32]);
        let mut states = vec![RevocationState::default()];
        let mut changes = BTreeMap::new();
        for v in 1..=5u64 {
            let mut next = states.last().cloned().unwrap_or_default();
            next.version = v;
            next.issued_at = 100 + v;
            // Version 1 is a large list, so that deltas are smaller than the snapshot.
            let serials: Vec<u64> =
                if v == 1 { (1..2000).map(|s| s * 7).collect() } else { (v * 100_000..v * 100_000 + 3).collect() };
            next.add_serials(KeyId([1; 8]), serials.iter().copied());
            let mut change = Change::default();
            change.serials.insert(KeyId([1; 8]), serials);
            if v == 3 {
                next.add_key(KeyId([2; 8]), Some(50));
                change.keys.insert(KeyId([2; 8]), Some(50));
            }
            changes.insert(v, change);
            states.push(next);
        }
        let current = states[5].clone();
        let history = History { state: current.clone(), changes };
        let published = Published::new(&current, revocation::sign_snapshot(&current.snapshot(), &key));
        for (since, held) in states.iter().enumerate().take(5).skip(1) {
            let Answer::Delta(bytes) = history.answer(since as u64, &published, &key) else {
                panic!("expected a delta from {since}");
            };
            let mut holder = held.clone();
            holder.apply_document(&bytes, &key.public_key()).expect("applies");
            assert_eq!(holder, current);
        }
        assert!(matches!(history.answer(0, &published, &key), Answer::Snapshot));
        assert!(matches!(history.answer(9, &published, &key), Answer::Snapshot));
    }
}
