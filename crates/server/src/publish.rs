//! What the server serves: the signed snapshot of the current version (cached bytes and ETag),
//! signed deltas from any older version (built on demand, once however many ask at the same
//! time, cached per base version until the next change within [`MAX_DELTA_CACHE_BYTES`]), and
//! the signed trust list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
    /// Deltas built from this version (for metrics and tests).
    pub deltas_built: AtomicU64,
    deltas: Mutex<Deltas>,
    /// Bytes of deltas kept at most ([`MAX_DELTA_CACHE_BYTES`]).
    delta_cache_limit: usize,
}

/// The most bytes of signed deltas kept for one version. Without a bound, asking `?since=` for
/// each of thousands of old versions kept thousands of deltas, each up to a snapshot's size.
pub const MAX_DELTA_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Deltas to this version, by base version.
#[derive(Default)]
struct Deltas {
    slots: HashMap<u64, Arc<DeltaSlot>>,
    /// Bytes of the deltas kept in `slots`.
    bytes: usize,
}

/// One base version's delta: built by the first to ask, while any others asking at the same
/// time wait for it (one build, one copy in memory). `None`: the snapshot is smaller.
#[derive(Default)]
struct DeltaSlot {
    built: OnceLock<Option<Arc<[u8]>>>,
    /// Whether the delta was counted into the cache or taken out of it.
    settled: AtomicBool,
}

impl Published {
    /// Wraps a signed snapshot of `state`.
    pub fn new(state: &RevocationState, snapshot: Vec<u8>) -> Self {
        Self {
            version: state.version,
            etag: format!("\"r{}\"", state.version),
            snapshot: snapshot.into(),
            revoked: state.revoked_count(),
            deltas_built: AtomicU64::new(0),
            deltas: Mutex::new(Deltas::default()),
            delta_cache_limit: MAX_DELTA_CACHE_BYTES,
        }
    }

    /// The same, keeping at most `limit` bytes of deltas.
    pub fn with_delta_cache_limit(self, limit: usize) -> Self {
        Self { delta_cache_limit: limit, ..self }
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
        let lock = || published.deltas.lock().unwrap_or_else(|p| p.into_inner());
        let slot = Arc::clone(lock().slots.entry(since).or_default());
        let built = slot.built.get_or_init(|| {
            published.deltas_built.fetch_add(1, Ordering::Relaxed);
            let bytes: Arc<[u8]> = revocation::sign_delta(&self.delta_since(since), authority).into();
            (bytes.len() < published.snapshot.len()).then_some(bytes)
        });
        if !slot.settled.swap(true, Ordering::AcqRel) {
            // Kept while the version's deltas fit in the cache; otherwise served to those who
            // asked for it now, and forgotten.
            let mut deltas = lock();
            let len = built.as_ref().map_or(0, |b| b.len());
            if deltas.bytes + len <= published.delta_cache_limit {
                deltas.bytes += len;
            } else if deltas.slots.get(&since).is_some_and(|kept| Arc::ptr_eq(kept, &slot)) {
                deltas.slots.remove(&since);
            }
        }
        match built {
            Some(bytes) => Answer::Delta(Arc::clone(bytes)),
            None => Answer::Snapshot,
        }
    }

    /// The delta from `since` to the current version (unsigned).
    pub fn delta_since(&self, since: u64) -> Delta {
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

    /// Many versions, a delta asked from each: the cache keeps at most its bound in bytes, and
    /// every answer is still right. Many asking for the same delta at once: built once.
    #[test]
    fn delta_cache_is_bounded_and_built_once() {
        let key = SecretKey::from_seed(&[31; 32]);
        let mut state = RevocationState::default();
        let mut changes = BTreeMap::new();
        // A large version 1 (so every delta is smaller than the snapshot), then 60 small ones.
        let first: Vec<u64> = (1..5_000).map(|s| s * 13).collect();
        for v in 1..=60u64 {
            let serials = if v == 1 { first.clone() } else { (v * 1_000_000..v * 1_000_000 + 50).collect() };
            state.add_serials(KeyId([1; 8]), serials.iter().copied());
            state.version = v;
            let mut change = Change::default();
            change.serials.insert(KeyId([1; 8]), serials);
            changes.insert(v, change);
        }
        let history = History { state: state.clone(), changes };
        const LIMIT: usize = 4096;
        let published =
            Published::new(&state, revocation::sign_snapshot(&state.snapshot(), &key)).with_delta_cache_limit(LIMIT);
        let mut served = 0usize;
        for since in 1..60 {
            if let Answer::Delta(bytes) = history.answer(since, &published, &key) {
                served += bytes.len();
            }
        }
        let kept = published.deltas.lock().expect("lock").bytes;
        assert!(served > 2 * LIMIT, "the test asks for more than the cache holds: {served}");
        assert!(kept <= LIMIT && kept > 0, "{kept} bytes kept");
        let kept_sum: usize = published
            .deltas
            .lock()
            .expect("lock")
            .slots
            .values()
            .filter_map(|s| s.built.get().cloned().flatten())
            .map(|b| b.len())
            .sum();
        assert_eq!(kept_sum, kept, "the count is the bytes really kept");

        let fresh = Published::new(&state, revocation::sign_snapshot(&state.snapshot(), &key));
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| assert!(matches!(history.answer(2, &fresh, &key), Answer::Delta(_))));
            }
        });
        assert_eq!(fresh.deltas_built.load(Ordering::Relaxed), 1);
    }
}
