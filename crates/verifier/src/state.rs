//! The checkpoint's local state: the revocation data and the signed trust list it has synced,
//! and when it last confirmed them with the server. Written atomically (temp file, fsync,
//! rename); a damaged file is refused loudly, never silently replaced by an empty state.
//!
//! ```text
//! "CPVS" | version 0x03 | postcard(StoredState) | SHA-256 of everything before
//! ```
//!
//! The checksum catches damage, not an edit: anyone who can write the file can recompute it.
//! So the revocation data is checked against the authority's signature whenever it is loaded
//! ([`LocalState::load_verified`]): the last signed snapshot or delta applied is kept with it
//! and must end exactly at the state held (or the heartbeat held must name it), and the trust
//! list and heartbeat are kept as received and verified on every use. Versions 1 and 2 of
//! the file (without the signed document) still load, vouched for by their heartbeat.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pass_core::authorities::AuthorityList;
use pass_core::authority::{self, DocKind, Heartbeat, TrustDoc};
use pass_core::revocation::{RevocationState, Snapshot};
use pass_core::trust::TrustedIssuer;
use pass_core::{KeyId, PublicKey, TrustList};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use pass_files::{self as files, Mode};

const MAGIC: &[u8; 4] = b"CPVS";
const VERSION: u8 = 4;
/// Largest state file read.
pub const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// Why the state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// File system error.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file on disk holds newer data than what was about to be written over it.
    #[error("state file {0} holds revocation version {1}, newer than {2}: not overwritten")]
    Older(PathBuf, u64, u64),
    /// The file is damaged (checksum, magic, encoding), or holds data its signers do not vouch for.
    #[error("state file {0} is damaged ({1}); move it away and sync again")]
    Damaged(PathBuf, Damage),
}

/// What is wrong with a state file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// Larger than [`MAX_STATE_BYTES`].
    #[error("too large")]
    TooLarge,
    /// Not a state file of a version this program reads.
    #[error("not a checkpass state file")]
    NotAStateFile,
    /// The checksum does not match its contents.
    #[error("checksum mismatch")]
    Checksum,
    /// Its structure does not decode.
    #[error("{0}")]
    Encoding(#[from] authority::DocError),
    /// Its revocation data breaks the format's rules.
    #[error("{0}")]
    Revocations(#[from] pass_core::revocation::RevocationError),
    /// Its revocation data is not what the authority signed.
    #[error("its revocation data is not what the authority signed (edited, or from another authority)")]
    NotVouched,
    /// Root mode: authority data without the root's list.
    #[error("authority data without the root's authority list")]
    NoAuthorityList,
    /// Root mode: the root's list does not verify.
    #[error("{0}")]
    AuthorityList(String),
    /// Root mode: an authority's data is not what it signed.
    #[error("the revocation data of {0} is not what it signed")]
    AuthorityNotVouched(String),
}

#[derive(Serialize, Deserialize)]
struct StoredState {
    revocations: Snapshot,
    trust_doc: Option<Vec<u8>>,
    last_sync: Option<u64>,
    heartbeat: Option<Vec<u8>>,
    revocation_doc: Option<Vec<u8>>,
}

/// Version 4: the single authority's state as in version 3, then (root mode) the root's
/// authority list and each authority's state by its key id.
#[derive(Serialize, Deserialize)]
struct StoredStateV4 {
    own: StoredState,
    authority_list: Option<Vec<u8>>,
    authorities: Vec<(KeyId, StoredState)>,
}

/// Version 2 of the file, before the signed revocation document was kept.
#[derive(Deserialize)]
struct StoredStateV2 {
    revocations: Snapshot,
    trust_doc: Option<Vec<u8>>,
    last_sync: Option<u64>,
    heartbeat: Option<Vec<u8>>,
}

/// Version 1 of the file, before heartbeats: read and carried forward.
#[derive(Deserialize)]
struct StoredStateV1 {
    revocations: Snapshot,
    trust_doc: Option<Vec<u8>>,
    last_sync: Option<u64>,
}

/// What the verifier holds.
#[derive(Clone, Debug, Default)]
pub struct LocalState {
    /// Revocation data.
    pub revocations: RevocationState,
    /// The signed trust-list document last accepted, as received.
    pub trust_doc: Option<Vec<u8>>,
    /// When the server was last reached (a 200 or a 304), Unix seconds, local clock: for
    /// display only. Freshness comes from signed time alone (see [`LocalState::confirmed_at`]).
    pub last_sync: Option<u64>,
    /// The newest signed heartbeat received, as received.
    pub heartbeat: Option<Vec<u8>>,
    /// The last signed revocation document (snapshot or delta) applied, as received: it vouches
    /// for `revocations` ([`RevocationState::signed_by`]).
    pub revocation_doc: Option<Vec<u8>>,
    /// Root mode (`[root]` in the trust file): the root's signed authority list last accepted,
    /// as received. The fields above then stay empty.
    pub authority_list: Option<Vec<u8>>,
    /// Root mode: each listed authority's own state (revocations, trust list, heartbeat), by
    /// the authority's key id.
    pub authorities: BTreeMap<KeyId, LocalState>,
}

impl LocalState {
    /// Loads the state; a missing file is the empty state.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let bytes = match pass_files::read_capped(path, MAX_STATE_BYTES) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                return Err(StateError::Damaged(path.to_owned(), Damage::TooLarge));
            }
            Err(source) => return Err(StateError::Io { path: path.to_owned(), source }),
        };
        Self::from_bytes(&bytes).map_err(|why| StateError::Damaged(path.to_owned(), why))
    }

    /// Parses the contents of a state file (magic, version, checksum, then the structure of
    /// the revocation data); the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Damage> {
        if bytes.len() < MAGIC.len() + 1 + 32 || &bytes[..4] != MAGIC || !matches!(bytes[4], 1..=VERSION) {
            return Err(Damage::NotAStateFile);
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err(Damage::Checksum);
        }
        let stored: StoredState = match bytes[4] {
            1 => {
                let v1: StoredStateV1 = authority::decode_body(&body[5..])?;
                StoredState {
                    revocations: v1.revocations,
                    trust_doc: v1.trust_doc,
                    last_sync: v1.last_sync,
                    heartbeat: None,
                    revocation_doc: None,
                }
            }
            2 => {
                let v2: StoredStateV2 = authority::decode_body(&body[5..])?;
                StoredState {
                    revocations: v2.revocations,
                    trust_doc: v2.trust_doc,
                    last_sync: v2.last_sync,
                    heartbeat: v2.heartbeat,
                    revocation_doc: None,
                }
            }
            3 => authority::decode_body(&body[5..])?,
            _ => {
                let v4: StoredStateV4 = authority::decode_body(&body[5..])?;
                let mut state = Self::from_stored(v4.own)?;
                state.authority_list = v4.authority_list;
                for (id, stored) in v4.authorities {
                    state.authorities.insert(id, Self::from_stored(stored)?);
                }
                return Ok(state);
            }
        };
        Self::from_stored(stored)
    }

    fn from_stored(stored: StoredState) -> Result<Self, Damage> {
        let revocations = RevocationState::from_snapshot(&stored.revocations)?;
        Ok(Self {
            revocations,
            trust_doc: stored.trust_doc,
            last_sync: stored.last_sync,
            heartbeat: stored.heartbeat,
            revocation_doc: stored.revocation_doc,
            authority_list: None,
            authorities: BTreeMap::new(),
        })
    }

    fn to_stored(&self) -> StoredState {
        StoredState {
            revocations: self.revocations.snapshot(),
            trust_doc: self.trust_doc.clone(),
            last_sync: self.last_sync,
            heartbeat: self.heartbeat.clone(),
            revocation_doc: self.revocation_doc.clone(),
        }
    }

    /// The contents of the state file (the current version of the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let stored = StoredStateV4 {
            own: self.to_stored(),
            authority_list: self.authority_list.clone(),
            authorities: self.authorities.iter().map(|(id, state)| (*id, state.to_stored())).collect(),
        };
        let mut bytes = MAGIC.to_vec();
        bytes.push(VERSION);
        bytes.extend_from_slice(&authority::encode_body(&stored));
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        bytes
    }

    /// Loads the state and checks its revocation data against the authority's signature
    /// ([`LocalState::vouched`]); a state the authority's signatures do not vouch for is
    /// [`StateError::Damaged`]. Without an authority there is nothing to check against.
    pub fn load_verified(path: &Path, authority: Option<&PublicKey>) -> Result<Self, StateError> {
        let state = Self::load(path)?;
        match authority {
            Some(authority) if !state.vouched(authority) => {
                Err(StateError::Damaged(path.to_owned(), Damage::NotVouched))
            }
            _ => Ok(state),
        }
    }

    /// Root mode: loads the state and checks it against the root: the authority list against
    /// the root's signature, and each authority's data against that authority's key from the
    /// list ([`LocalState::vouched`]). Anything that does not verify is [`StateError::Damaged`];
    /// the state of an authority the list no longer names is dropped (its passes no longer
    /// verify, and its data vouches for nothing).
    pub fn load_rooted(path: &Path, root: &PublicKey) -> Result<Self, StateError> {
        let mut state = Self::load(path)?;
        let damaged = |why: Damage| StateError::Damaged(path.to_owned(), why);
        let list = match &state.authority_list {
            None if state.authorities.is_empty() => return Ok(state),
            None => return Err(damaged(Damage::NoAuthorityList)),
            Some(bytes) => {
                AuthorityList::open(bytes, root).map_err(|e| damaged(Damage::AuthorityList(e.to_string())))?
            }
        };
        let mut kept = BTreeMap::new();
        for (id, held) in std::mem::take(&mut state.authorities) {
            let Some(entry) = list.authority(id) else { continue };
            let key = entry.public_key().map_err(|e| damaged(Damage::AuthorityList(e.to_string())))?;
            if !held.vouched(&key) {
                return Err(damaged(Damage::AuthorityNotVouched(entry.name.clone())));
            }
            kept.insert(id, held);
        }
        state.authorities = kept;
        Ok(state)
    }

    /// Root mode: the root's authority list held, re-verified with the root key.
    pub fn authority_list(&self, root: &PublicKey) -> Option<AuthorityList> {
        AuthorityList::open(self.authority_list.as_ref()?, root).ok()
    }

    /// Whether the authority's signatures vouch for the revocation data held: the empty state
    /// before any data, the last signed document applied, or a heartbeat naming exactly this
    /// version and digest.
    pub fn vouched(&self, authority: &PublicKey) -> bool {
        self.revocations == RevocationState::default()
            || self.revocation_doc.as_ref().is_some_and(|doc| self.revocations.signed_by(doc, authority))
            || self
                .heartbeat(authority)
                .is_some_and(|b| b.version == self.revocations.version && b.digest == self.revocations.digest())
    }

    /// Saves the state atomically; never over a file that holds a newer revocation version
    /// (hold [`lock`] from load to save so that cannot even be attempted).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        if let Ok(on_disk) = Self::load(path) {
            if on_disk.revocations.version > self.revocations.version {
                return Err(StateError::Older(path.to_owned(), on_disk.revocations.version, self.revocations.version));
            }
            for (id, held) in &on_disk.authorities {
                let ours = self.authorities.get(id).map_or(0, |s| s.revocations.version);
                // An authority dropped from the list may go; one kept never goes back.
                if self.authorities.contains_key(id) && held.revocations.version > ours {
                    return Err(StateError::Older(path.to_owned(), held.revocations.version, ours));
                }
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io { path: dir.to_owned(), source })?;
        }
        files::write(path, &self.to_bytes(), 0o644, Mode::Replace)
            .map_err(|source| StateError::Io { path: path.to_owned(), source })
    }

    /// The synced trust list, re-verified with the authority key.
    pub fn trust_doc(&self, authority: &PublicKey) -> Option<TrustDoc> {
        let bytes = self.trust_doc.as_ref()?;
        match authority::open(bytes, authority) {
            Ok((DocKind::TrustList, body)) => authority::decode_body(body).ok(),
            _ => None,
        }
    }

    /// The newest heartbeat held, re-verified with the authority key.
    pub fn heartbeat(&self, authority: &PublicKey) -> Option<Heartbeat> {
        Heartbeat::open(self.heartbeat.as_ref()?, authority).ok()
    }

    /// Whether the newest heartbeat held names a trust list newer than (or, at the same version,
    /// other than) the one held: a trust list withheld or rolled back on the way.
    pub fn trust_stale(&self, authority: &PublicKey) -> bool {
        let Some(named) = self.heartbeat(authority).and_then(|b| b.trust) else { return false };
        match (self.trust_doc(authority), &self.trust_doc) {
            (Some(held), Some(bytes)) => {
                held.version < named.version
                    || (held.version == named.version && authority::trust_digest(bytes) != named.digest)
            }
            _ => true,
        }
    }

    /// Up to when the revocation data held is known to be current, from signed time only: the
    /// snapshot's own signing time, or a later heartbeat that names exactly this version and
    /// state digest. A 304, a replayed heartbeat or one for other data confirms nothing.
    pub fn confirmed_at(&self, authority: &PublicKey) -> Option<u64> {
        let own = Some(self.revocations.issued_at).filter(|t| *t > 0);
        let beat = self
            .heartbeat(authority)
            .filter(|b| b.version == self.revocations.version && b.digest == self.revocations.digest())
            .map(|b| b.issued_at);
        own.max(beat)
    }

    /// The newest signed time held (revocations, heartbeat or trust list): the trusted time
    /// floor; the clock must not be behind it.
    pub fn newest_signed_at(&self, authority: Option<&PublicKey>) -> u64 {
        let trust = authority.and_then(|a| self.trust_doc(a)).map_or(0, |d| d.issued_at);
        let beat = authority.and_then(|a| self.heartbeat(a)).map_or(0, |b| b.issued_at);
        self.revocations.issued_at.max(trust).max(beat)
    }
}

/// Takes the state file for one load-apply-save (a sync, an import): another process doing
/// the same waits. Released when the returned file is dropped.
pub fn lock(path: &Path) -> Result<std::fs::File, StateError> {
    let name = path.file_name().map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let lock_path = path.with_file_name(format!("{name}.lock"));
    let io = |source| StateError::Io { path: lock_path.clone(), source };
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = pass_files::open_lock(&lock_path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}

/// The local trust list extended with the issuers of the synced, signed trust list. An issuer
/// named in both keeps the local entry (the operator's own configuration wins).
pub fn effective_trust(local: &TrustList, state: &LocalState) -> TrustList {
    let mut trust = local.clone();
    let Some(authority) = &local.authority else { return trust };
    let Some(doc) = state.trust_doc(&authority.key) else { return trust };
    if let Ok(synced) = TrustList::from_toml(&doc.toml) {
        let extra: Vec<TrustedIssuer> =
            synced.issuers.into_iter().filter(|i| trust.issuer(i.key.id()).is_none()).collect();
        trust.issuers.extend(extra);
    }
    trust
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_older_state_never_overwrites_a_newer_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.bin");
        let _lock = lock(&path).expect("locks");
        let mut newer = LocalState::default();
        newer.revocations.version = 5;
        newer.save(&path).expect("saves");
        let mut older = LocalState::default();
        older.revocations.version = 4;
        assert!(matches!(older.save(&path), Err(StateError::Older(_, 5, 4))));
        assert_eq!(LocalState::load(&path).expect("loads").revocations.version, 5);
        // A file in the old format (version 1, no heartbeat) still loads.
        let mut v1 = b"CPVS\x01".to_vec();
        #[derive(serde::Serialize)]
        struct V1 {
            revocations: Snapshot,
            trust_doc: Option<Vec<u8>>,
            last_sync: Option<u64>,
        }
        v1.extend(authority::encode_body(&V1 {
            revocations: newer.revocations.snapshot(),
            trust_doc: None,
            last_sync: Some(9),
        }));
        let sum = Sha256::digest(&v1);
        v1.extend_from_slice(&sum);
        std::fs::write(&path, v1).expect("writes");
        let loaded = LocalState::load(&path).expect("a version-1 file loads");
        assert_eq!((loaded.revocations.version, loaded.last_sync, loaded.heartbeat), (5, Some(9), None));
    }

    use super::*;
    use pass_core::KeyId;

    /// Anyone who can write the state file can recompute its checksum: a revocation removed
    /// that way (or one added) is caught when the state is loaded, against the authority's
    /// signature on the last document applied.
    #[test]
    fn an_edited_state_file_is_refused_when_loaded() {
        use pass_core::SecretKey;
        use pass_core::revocation::sign_snapshot;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.bin");
        let key = SecretKey::from_seed(&[21; 32]);
        let authority = key.public_key();
        let mut data = RevocationState { version: 3, issued_at: 1_000, ..RevocationState::default() };
        data.add_serials(KeyId([3; 8]), [7, 9]);
        let mut state = LocalState::default();
        crate::sync::import(&sign_snapshot(&data.snapshot(), &key), &authority, &mut state, 2_000).expect("imports");
        state.save(&path).expect("saves");
        assert_eq!(LocalState::load_verified(&path, Some(&authority)).expect("vouched").revocations, data);

        let mut edited = LocalState::load(&path).expect("loads");
        edited.revocations = RevocationState { version: 3, issued_at: 1_000, ..RevocationState::default() };
        edited.revocations.add_serials(KeyId([3; 8]), [9]);
        std::fs::write(&path, edited.to_bytes()).expect("writes");
        assert!(matches!(LocalState::load_verified(&path, Some(&authority)), Err(StateError::Damaged(..))));
        // Signed by another key: not this authority's data either.
        let other = SecretKey::from_seed(&[22; 32]).public_key();
        state.save(&dir.path().join("other.bin")).expect("saves");
        assert!(LocalState::load_verified(&dir.path().join("other.bin"), Some(&other)).is_err());
    }

    /// Root mode: the state keeps the root's list and each authority's data; loading checks
    /// the list against the root and each authority's data against its own key from the list,
    /// drops an authority the list no longer names, and refuses an edit. A version-3 file (one
    /// authority) still loads.
    #[test]
    fn a_rooted_state_is_checked_against_the_root_and_each_authority() {
        use pass_core::SecretKey;
        use pass_core::authorities::AuthorityEntry;
        use pass_core::revocation::sign_snapshot;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.bin");
        let root = SecretKey::from_seed(&[40; 32]);
        let (gd, js) = (SecretKey::from_seed(&[41; 32]), SecretKey::from_seed(&[42; 32]));
        let entry = |key: &SecretKey, province: u32| AuthorityEntry {
            name: format!("{province}"),
            key: key.public_key().verifying_key().to_bytes(),
            provinces: vec![province],
            urls: Vec::new(),
            not_before: None,
            not_after: None,
        };
        let list =
            AuthorityList { version: 1, issued_at: 1_000, authorities: vec![entry(&gd, 440_000), entry(&js, 320_000)] };
        let mut state = LocalState { authority_list: Some(list.sign(&root)), ..LocalState::default() };
        for key in [&gd, &js] {
            let mut data = RevocationState { version: 2, issued_at: 1_000, ..RevocationState::default() };
            data.add_serials(KeyId([9; 8]), [5, 6]);
            let mut held = LocalState::default();
            crate::sync::import(&sign_snapshot(&data.snapshot(), key), &key.public_key(), &mut held, 2_000)
                .expect("imports");
            state.authorities.insert(key.public_key().id(), held);
        }
        state.save(&path).expect("saves");
        let loaded = LocalState::load_rooted(&path, &root.public_key()).expect("loads");
        assert_eq!(loaded.authorities.len(), 2);
        assert_eq!(loaded.authority_list(&root.public_key()), Some(list.clone()));
        // Another root: the list does not verify.
        assert!(LocalState::load_rooted(&path, &SecretKey::from_seed(&[43; 32]).public_key()).is_err());
        // Jiangsu's data edited (a serial taken out): refused on load.
        let mut edited = loaded.clone();
        let js_state = edited.authorities.get_mut(&js.public_key().id()).expect("held");
        js_state.revocations = RevocationState { version: 2, issued_at: 1_000, ..RevocationState::default() };
        js_state.revocations.add_serials(KeyId([9; 8]), [5]);
        std::fs::write(&path, edited.to_bytes()).expect("writes");
        assert!(matches!(LocalState::load_rooted(&path, &root.public_key()), Err(StateError::Damaged(..))));
        // Jiangsu's data moved under Guangdong's key id: not what Guangdong signed.
        let mut moved = loaded.clone();
        let js_held = moved.authorities.remove(&js.public_key().id()).expect("held");
        moved.authorities.insert(gd.public_key().id(), js_held);
        std::fs::write(&path, moved.to_bytes()).expect("writes");
        assert!(LocalState::load_rooted(&path, &root.public_key()).is_err());
        // A list without Jiangsu: its data is dropped on load.
        let shorter = AuthorityList { version: 2, authorities: vec![entry(&gd, 440_000)], ..list };
        let mut dropped = loaded;
        dropped.authority_list = Some(shorter.sign(&root));
        std::fs::write(&path, dropped.to_bytes()).expect("writes");
        let reloaded = LocalState::load_rooted(&path, &root.public_key()).expect("loads");
        assert_eq!(reloaded.authorities.keys().copied().collect::<Vec<_>>(), [gd.public_key().id()]);
        // A version-3 file: one authority, no list.
        let mut v3 = b"CPVS\x03".to_vec();
        let own = LocalState::default();
        v3.extend(authority::encode_body(&own.to_stored()));
        let sum = Sha256::digest(&v3);
        v3.extend_from_slice(&sum);
        let loaded = LocalState::from_bytes(&v3).expect("a version-3 file loads");
        assert!(loaded.authorities.is_empty() && loaded.authority_list.is_none());
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.bin");
        assert_eq!(LocalState::load(&path).expect("missing is empty").revocations.version, 0);
        let mut state = LocalState::default();
        state.revocations.version = 4;
        state.revocations.add_serials(KeyId([3; 8]), [7, 9]);
        state.revocations.add_key(KeyId([4; 8]), Some(77));
        state.last_sync = Some(123);
        state.save(&path).expect("saves");
        let back = LocalState::load(&path).expect("loads");
        assert_eq!(back.revocations, state.revocations);
        assert_eq!(back.last_sync, Some(123));
        let mut bytes = std::fs::read(&path).expect("reads");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&path, &bytes).expect("writes");
        assert!(matches!(LocalState::load(&path), Err(StateError::Damaged(..))));
    }
}
