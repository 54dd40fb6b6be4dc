//! Root mode: a checkpoint that recognises every authority the national root lists (trust
//! file `[root]`). One sync takes the root's signed authority list, then brings each listed
//! authority's own documents up to date, each checked with that authority's key exactly as a
//! single-authority sync checks them (docs/FORMAT.md, "Authority list" and "Static layout").
//!
//! Where documents come from, for each authority, first that works:
//! 1. a combined heartbeat file (`v1/heartbeats`) on a `--server` base: when the heartbeat it
//!    holds for the authority names exactly the data held, nothing more is fetched;
//! 2. each `--server` base: the authority's own URL as is, any other as a mirror holding the
//!    authority's copy under `authorities/<key id>/`;
//! 3. the URLs the authority list gives for it.
//!
//! At each, heartbeat first: revocations (a delta `v1/delta/<held version>` when the source
//! has it, else `v1/revocations`) only when the heartbeat names other data than held, the
//! trust list only when it names another one. A source whose documents are older than its
//! own heartbeat, or that do not verify, is passed over; an authority no source could bring up
//! to date keeps its last good state, and the sync says so by name.

use std::time::Duration;

use pass_core::authorities::{AuthorityEntry, AuthorityList, list_digest};
use pass_core::authority;
use pass_core::{KeyId, PublicKey};

use pass_core::rules;

use crate::state::LocalState;
use crate::sync::{self, Client, Fetched, SyncError};

/// What one authority's part of a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorityReport {
    /// The authority's name from the list.
    pub name: String,
    /// Its key id.
    pub key_id: Option<KeyId>,
    /// Where its data came from this time ("combined heartbeat", or a base URL).
    pub source: Option<String>,
    /// Revocation version before and after.
    pub from_version: u64,
    /// Revocation version after.
    pub to_version: u64,
    /// Up to when its data is confirmed by its own signed time.
    pub confirmed_at: Option<u64>,
    /// Why no source brought it up to date (its last good state is kept).
    pub error: Option<String>,
}

/// What a root-mode sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootedReport {
    /// The authority list's version held after the sync.
    pub list_version: u64,
    /// Why a newer authority list offered was refused (the one held is kept).
    pub list_error: Option<String>,
    /// Each listed authority, in the list's order.
    pub authorities: Vec<AuthorityReport>,
    /// Authorities whose state was dropped: no longer in the list.
    pub dropped: Vec<KeyId>,
    /// HTTP requests made.
    pub requests: usize,
    /// Bytes received in answer bodies.
    pub bytes: usize,
}

/// Counts requests and bytes over the clients of one sync.
struct Counter {
    timeout: Duration,
    requests: usize,
    bytes: usize,
}

impl Counter {
    fn get(&mut self, base: &str, path: &str, etag: Option<String>) -> Result<Fetched, SyncError> {
        self.requests += 1;
        let fetched = Client::new(base, self.timeout).get(path, etag)?;
        if let Fetched::Body(body) = &fetched {
            self.bytes += body.len();
        }
        Ok(fetched)
    }

    /// A body, or `None` for a 404 (the source does not carry it).
    fn body(&mut self, base: &str, path: &str) -> Result<Option<Vec<u8>>, SyncError> {
        match self.get(base, path, None) {
            Ok(Fetched::Body(body)) => Ok(Some(body)),
            Ok(Fetched::NotModified) => Err(SyncError::Status { url: format!("{base}{path}"), status: 304 }),
            Err(SyncError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// An authority list named by a combined heartbeat file: its version and digest.
type ListRef = (u64, [u8; 32]);

/// The path of an authority's documents under a mirror base.
pub fn mirror_prefix(key_id: KeyId) -> String {
    format!("/authorities/{key_id}")
}

/// One root-mode sync of `state` from `bases` (the `--server` URLs: mirrors or authorities'
/// own servers). `Err` only when no authority list is held or could be had; otherwise every
/// authority's outcome is in the report, and the caller saves `state`.
pub fn sync_rooted(
    bases: &[String],
    timeout: Duration,
    root: &PublicKey,
    state: &mut LocalState,
    now: u64,
) -> Result<RootedReport, SyncError> {
    let bases: Vec<String> = bases.iter().map(|b| b.trim_end_matches('/').to_owned()).collect();
    let mut counter = Counter { timeout, requests: 0, bytes: 0 };
    let mut report = RootedReport::default();

    // Combined heartbeats first, from every base that has them: they may say the list held is
    // the one served there, and they bring every authority's heartbeat in one request.
    let mut combined: Vec<(String, Option<ListRef>, Vec<Vec<u8>>)> = Vec::new();
    for base in &bases {
        if let Ok(Some(bytes)) = counter.body(base, "/v1/heartbeats")
            && let Ok(file) = authority::split_heartbeats(&bytes)
        {
            combined.push((base.clone(), file.list, file.beats.into_iter().map(<[u8]>::to_vec).collect()));
        }
    }

    // The authority list: the newest that verifies, never older than the one held.
    let held = state.authority_list(root);
    let held_ref = held.as_ref().zip(state.authority_list.as_deref()).map(|(l, bytes)| (l.version, list_digest(bytes)));
    let mut best: Option<(AuthorityList, Vec<u8>)> = None;
    let mut errors = Vec::new();
    for base in &bases {
        let names_held = combined.iter().any(|(b, list, _)| b == base && list.is_some() && *list == held_ref);
        if names_held {
            continue;
        }
        let etag = held.as_ref().map(|l| format!("\"a{}\"", l.version));
        let bytes = match counter.get(base, "/v1/authorities", etag) {
            Ok(Fetched::Body(bytes)) => bytes,
            Ok(Fetched::NotModified) => continue,
            Err(SyncError::Status { status: 404, .. }) => continue,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let list = match rules::authority_list(held.as_ref(), &bytes, root, now) {
            Ok(list) => list,
            Err(e) => {
                errors.push(format!("{base}: {e}"));
                continue;
            }
        };
        match &best {
            Some((b, _)) if b.version > list.version => {}
            Some((b, _)) if b.version == list.version && *b != list => {
                errors.push(format!("{base}: version {} offered with other content by another server", list.version));
            }
            _ => best = Some((list, bytes)),
        }
    }
    if !errors.is_empty() {
        report.list_error = Some(errors.join("; "));
    }
    let list = match (best, held) {
        (Some((list, bytes)), _) => {
            state.authority_list = Some(bytes);
            list
        }
        (None, Some(held)) => held,
        (None, None) => {
            return Err(SyncError::Trust(format!(
                "no authority list signed by the root from any server{}",
                report.list_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            )));
        }
    };
    report.list_version = list.version;

    // An authority the list no longer names: its data goes, its issuers stop verifying.
    let listed: Vec<KeyId> = list.authorities.iter().filter_map(AuthorityEntry::key_id).collect();
    report.dropped = state.authorities.keys().copied().filter(|id| !listed.contains(id)).collect();
    state.authorities.retain(|id, _| listed.contains(id));

    for entry in &list.authorities {
        let mut line = AuthorityReport { name: entry.name.clone(), key_id: entry.key_id(), ..Default::default() };
        let (Some(id), Ok(key)) = (entry.key_id(), entry.public_key()) else { continue };
        let held = state.authorities.get(&id).cloned().unwrap_or_default();
        line.from_version = held.revocations.version;
        if !entry.active_at(now) {
            line.error = Some("outside its validity window in the authority list".into());
            line.to_version = held.revocations.version;
            report.authorities.push(line);
            continue;
        }
        let beats: Vec<&[u8]> = combined.iter().flat_map(|(_, _, beats)| beats).map(Vec::as_slice).collect();
        let own_given = bases.iter().any(|base| entry.urls.iter().any(|u| u.trim_end_matches('/') == base));
        let (mut next, confirmed) = apply_combined(&held, &beats, &key, own_given, now);
        let mut result = Err("no source".to_owned());
        if confirmed {
            result = Ok("combined heartbeat".to_owned());
        } else {
            let mut tried = Vec::new();
            for base in sources(&bases, entry, id) {
                let mut attempt = next.clone();
                match fetch(&mut counter, &base, &key, &mut attempt, now) {
                    Ok(()) => {
                        next = attempt;
                        result = Ok(base);
                        break;
                    }
                    Err(e) => tried.push(format!("{base}: {e}")),
                }
            }
            if result.is_err() {
                result = Err(tried.join("; "));
            }
        }
        match result {
            Ok(source) => {
                next.last_sync = Some(now);
                line.source = Some(source);
                state.authorities.insert(id, next);
            }
            Err(e) => line.error = Some(e),
        }
        let kept = state.authorities.get(&id);
        line.to_version = kept.map_or(0, |s| s.revocations.version);
        line.confirmed_at = kept.and_then(|s| s.confirmed_at(&key));
        report.authorities.push(line);
    }
    report.requests = counter.requests;
    report.bytes = counter.bytes;
    Ok(report)
}

/// One authority's data held, with the heartbeats of this round's combined files applied, and
/// whether they confirm it current. They do only when the newest heartbeat held came from a
/// combined file this round (never a heartbeat from an earlier sync), it names exactly the data
/// held, and the authority's own server is not among the bases given (`own_given`): its own
/// heartbeat is then always asked, whatever a mirror says. A heartbeat that does not verify or
/// goes back is skipped.
pub fn apply_combined(
    held: &LocalState,
    beats: &[&[u8]],
    key: &PublicKey,
    own_given: bool,
    now: u64,
) -> (LocalState, bool) {
    let mut next = held.clone();
    for beat in beats {
        let _ = sync::apply_heartbeat(&mut next, beat, key, now);
    }
    let served_now = next.heartbeat.as_ref().is_some_and(|held| beats.iter().any(|beat| beat == held));
    let confirmed = served_now && !own_given && current(&next, key);
    (next, confirmed)
}

/// Where to look for an authority's documents, in order: the `--server` bases that are the
/// authority's own URLs, then the other bases (as mirrors), then its own URLs from the list.
fn sources(bases: &[String], entry: &AuthorityEntry, id: KeyId) -> Vec<String> {
    let own: Vec<String> = entry.urls.iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
    let mut out: Vec<String> = Vec::new();
    // The authority's own URLs given as bases first: a mirror cannot withhold what they serve.
    for base in bases.iter().filter(|b| own.contains(b)).chain(bases.iter().filter(|b| !own.contains(b))) {
        let url = if own.contains(base) { base.clone() } else { format!("{base}{}", mirror_prefix(id)) };
        if !out.contains(&url) {
            out.push(url);
        }
    }
    for url in own {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// Whether the newest heartbeat held names exactly the revocation data and trust list held.
fn current(state: &LocalState, key: &PublicKey) -> bool {
    let Some(beat) = state.heartbeat(key) else { return false };
    let revocations = beat.version == state.revocations.version && beat.digest == state.revocations.digest();
    let trust = match beat.trust {
        None => true,
        Some(named) => state.trust_doc.as_ref().is_some_and(|doc| authority::trust_digest(doc) == named.digest),
    };
    revocations && trust
}

/// Brings one authority's state up to date from one source: heartbeat first, then what it
/// says is missing. Errors when the source's documents do not verify or do not reach its own
/// heartbeat.
fn fetch(
    counter: &mut Counter,
    base: &str,
    key: &PublicKey,
    state: &mut LocalState,
    now: u64,
) -> Result<(), SyncError> {
    let beat = counter
        .body(base, "/v1/heartbeat")?
        .ok_or_else(|| SyncError::Status { url: format!("{base}/v1/heartbeat"), status: 404 })?;
    sync::apply_heartbeat(state, &beat, key, now)?;
    let named = state.heartbeat(key).ok_or_else(|| SyncError::Heartbeat("no heartbeat kept".into()))?;
    if named.version != state.revocations.version || named.digest != state.revocations.digest() {
        let held = state.revocations.version;
        let mut applied = false;
        if held > 0
            && let Ok(Some(delta)) = counter.body(base, &format!("/v1/delta/{held}"))
            && let Ok((next, _)) = rules::revocations(&state.revocations, &delta, key, now)
        {
            state.revocation_doc = Some(delta);
            state.revocations = next;
            applied = true;
        }
        if !applied {
            let doc = counter
                .body(base, &format!("/v1/revocations?since={held}"))?
                .ok_or_else(|| SyncError::Status { url: format!("{base}/v1/revocations"), status: 404 })?;
            let (next, changed) = rules::revocations(&state.revocations, &doc, key, now)?;
            if changed {
                state.revocation_doc = Some(doc);
            }
            state.revocations = next;
        }
    }
    if let Some(trust) = named.trust
        && state.trust_doc.as_ref().is_none_or(|doc| authority::trust_digest(doc) != trust.digest)
    {
        let doc = counter
            .body(base, "/v1/trust")?
            .ok_or_else(|| SyncError::Trust("the heartbeat names a trust list the source does not have".into()))?;
        sync::apply_trust(state, &doc, key, now)?;
    }
    if !current(state, key) {
        return Err(SyncError::Heartbeat(format!(
            "the documents reach version {}, older than the source's own heartbeat (version {})",
            state.revocations.version, named.version
        )));
    }
    Ok(())
}

/// One authority as the checkpoint holds it.
#[derive(Clone, Debug)]
pub struct AuthorityStatus {
    /// Its name from the list.
    pub name: String,
    /// Its key.
    pub key: PublicKey,
    /// Within its validity window now.
    pub active: bool,
    /// Whether any data from it is held.
    pub synced: bool,
    /// Its revocation data version held.
    pub version: u64,
    /// Up to when its data is confirmed by its own signed time.
    pub confirmed_at: Option<u64>,
    /// Its newest signed time held.
    pub newest_signed_at: u64,
    /// Its heartbeat names a newer trust list than the one held.
    pub trust_stale: bool,
}

/// What root mode makes of the state: the trust list in force and who vouches for each issuer.
#[derive(Clone, Debug, Default)]
pub struct RootedView {
    /// The authority list's version held (0: none yet).
    pub list_version: u64,
    /// The authorities, in the list's order.
    pub authorities: Vec<AuthorityStatus>,
    /// The authority (index into `authorities`) of each synced issuer.
    pub owner: std::collections::HashMap<KeyId, usize>,
    /// Issuer entries refused: `issuer_outside_authority` and the like, one line each.
    pub refused: Vec<String>,
    /// The newest signed time held across the list and every authority.
    pub newest_signed_at: u64,
    /// When the root signed the list held.
    pub list_issued_at: u64,
}

impl RootedView {
    /// The trusted time floor for a pass vouched for by authority `owner` (an index into
    /// `authorities`) when the clock says `clock`: the clock, but never earlier than the root's
    /// list or that authority's own newest signed time. Another authority's signed time never
    /// moves it: one province's clock (up to 24 h ahead is taken) must not expire another
    /// province's passes early.
    pub fn floor_for(&self, owner: Option<usize>, clock: u64) -> u64 {
        let own = owner.and_then(|i| self.authorities.get(i)).map_or(0, |a| a.newest_signed_at);
        clock.max(self.list_issued_at).max(own)
    }

    /// Whether the root's list held is older than [`pass_core::authorities::MAX_LIST_AGE`] at
    /// `clock` (a list is held: without one nothing is trusted anyway).
    pub fn list_stale(&self, clock: u64) -> bool {
        self.list_version > 0 && clock.saturating_sub(self.list_issued_at) > pass_core::authorities::MAX_LIST_AGE
    }

    /// The view of `state` under `root`, and the trust list in force: the local file's issuers,
    /// then each active authority's synced issuers whose home division lies in its provinces
    /// (a local entry for the same key wins). An issuer key that more than one authority lists
    /// is refused for all of them, with a warning naming them: who speaks for an office is the
    /// authority whose provinces hold it, never the order of the root's list.
    pub fn new(
        local: &pass_core::TrustList,
        state: &LocalState,
        root: &PublicKey,
        now: u64,
    ) -> (pass_core::TrustList, RootedView) {
        let mut trust = local.clone();
        let mut view = RootedView::default();
        let Some(list) = state.authority_list(root) else { return (trust, view) };
        view.list_version = list.version;
        view.newest_signed_at = list.issued_at;
        view.list_issued_at = list.issued_at;
        // Each authority's issuers that pass its own rules, before deciding who owns a key.
        let mut claims: Vec<(pass_core::trust::TrustedIssuer, usize)> = Vec::new();
        for entry in &list.authorities {
            let (Some(id), Ok(key)) = (entry.key_id(), entry.public_key()) else { continue };
            let held = state.authorities.get(&id);
            let status = AuthorityStatus {
                name: entry.name.clone(),
                key,
                active: entry.active_at(now),
                synced: held.is_some_and(|h| h.heartbeat.is_some() || h.revocation_doc.is_some()),
                version: held.map_or(0, |h| h.revocations.version),
                confirmed_at: held.and_then(|h| h.confirmed_at(&key)),
                newest_signed_at: held.map_or(0, |h| h.newest_signed_at(Some(&key))),
                trust_stale: held.is_some_and(|h| h.trust_stale(&key)),
            };
            view.newest_signed_at = view.newest_signed_at.max(status.newest_signed_at);
            let index = view.authorities.len();
            if status.active
                && let Some(doc) = held.and_then(|h| h.trust_doc(&key))
                && let Ok(synced) = pass_core::TrustList::from_toml(&doc.toml)
            {
                for issuer in synced.issuers {
                    match issuer.division {
                        Some(d) if entry.governs(d) => claims.push((issuer, index)),
                        division => {
                            let home = division.map_or_else(|| "no division".to_owned(), |d| d.to_string());
                            view.refused.push(format!(
                                "issuer_outside_authority: {} ({home}) is not in {}'s provinces",
                                issuer.name, entry.name
                            ));
                        }
                    }
                }
            }
            view.authorities.push(status);
        }
        for (issuer, index) in claims.iter().cloned() {
            let id = issuer.key.id();
            let claimants: Vec<usize> =
                claims.iter().filter(|(other, _)| other.key.id() == id).map(|(_, i)| *i).collect();
            if claimants.iter().any(|i| *i != index) {
                if claimants.first() == Some(&index) {
                    let names: Vec<&str> = claimants.iter().map(|i| view.authorities[*i].name.as_str()).collect();
                    view.refused.push(format!(
                        "issuer_claimed_twice: key {id} ({}) is listed by {}: refused for all of them",
                        issuer.name,
                        names.join(" and ")
                    ));
                }
                continue;
            }
            if trust.issuer(id).is_some() || view.owner.contains_key(&id) {
                continue;
            }
            view.owner.insert(id, index);
            trust.issuers.push(issuer);
        }
        (trust, view)
    }

    /// Authorities no data has come from yet (active ones).
    pub fn never_synced(&self) -> Vec<&str> {
        self.authorities.iter().filter(|a| a.active && !a.synced).map(|a| a.name.as_str()).collect()
    }
}

/// Root mode's import from a file (a USB stick), with the checks of a sync, all or nothing: the
/// root's authority list (kind 5, never rolled back), or an authority's document (snapshot,
/// delta, heartbeat, trust list: the authority is the one the list names by the document's key
/// id, and its own rules apply), or a bundle of them (`pass-server export`). Returns a line.
pub fn import_rooted(bytes: &[u8], root: &PublicKey, state: &mut LocalState, now: u64) -> Result<String, SyncError> {
    if bytes.len() as u64 > sync::MAX_BODY {
        return Err(SyncError::TooLarge("import file".into()));
    }
    let refused = SyncError::Import;
    if bytes.starts_with(&authority::BUNDLE_MAGIC) {
        let docs = authority::unbundle(bytes).map_err(|e| refused(e.to_string()))?;
        if docs.is_empty() {
            return Err(refused("the bundle holds no document".into()));
        }
        let mut next = state.clone();
        let mut said = Vec::new();
        for doc in docs {
            if doc.starts_with(&authority::BUNDLE_MAGIC) {
                return Err(refused("a bundle inside a bundle".into()));
            }
            said.push(import_rooted(doc, root, &mut next, now)?);
        }
        *state = next;
        return Ok(said.join("; "));
    }
    if bytes.get(3) == Some(&(authority::DocKind::AuthorityList as u8)) {
        let list = rules::authority_list(state.authority_list(root).as_ref(), bytes, root, now)?;
        let listed: Vec<KeyId> = list.authorities.iter().filter_map(AuthorityEntry::key_id).collect();
        state.authorities.retain(|id, _| listed.contains(id));
        state.authority_list = Some(bytes.to_vec());
        return Ok(format!("authority list version {}", list.version));
    }
    let list = state.authority_list(root).ok_or_else(|| {
        refused(
            "this checkpoint holds no authority list from the root yet: import the root's list first \
                 (`pass-server export --authorities LIST` puts it in the export)"
                .into(),
        )
    })?;
    let id = bytes
        .get(4..authority::HEADER_LEN)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(KeyId)
        .ok_or_else(|| refused("not a checkpass document".into()))?;
    let entry = list
        .authority(id)
        .ok_or_else(|| refused(format!("signed by key {id}, which the root's authority list does not name")))?;
    let key = entry.public_key().map_err(|e| refused(e.to_string()))?;
    let mut held = state.authorities.get(&id).cloned().unwrap_or_default();
    let said = sync::import(bytes, &key, &mut held, now)?;
    state.authorities.insert(id, held);
    Ok(format!("{}: {said}", entry.name))
}

/// One root-mode sync of the state file at `path`, as [`sync::sync_file`] does for one
/// authority: holds its lock from load to save, loads it checked against the root, syncs and
/// saves. `Err` when the state file cannot be used or no authority list could be had.
pub fn sync_rooted_file(
    bases: &[String],
    timeout: Duration,
    root: &PublicKey,
    path: &std::path::Path,
    now: u64,
) -> Result<(LocalState, RootedReport), sync::RoundError> {
    let _lock = crate::state::lock(path)?;
    let mut state = LocalState::load_rooted(path, root)?;
    let report = sync_rooted(bases, timeout, root, &mut state, now)?;
    state.save(path)?;
    Ok((state, report))
}

#[cfg(test)]
mod tests {
    use pass_core::SecretKey;
    use pass_core::authorities::AuthorityEntry;
    use pass_core::authority::{DocKind, TrustDoc};

    use super::*;

    /// A trust list signed by `key` naming `issuers`, each with its home division.
    fn trust_doc(key: &SecretKey, issuers: &[(&SecretKey, &str)]) -> Vec<u8> {
        let toml: String = issuers
            .iter()
            .map(|(issuer, division)| {
                let public = issuer.public_key();
                format!(
                    "[[issuer]]\nname = \"某签发机关\"\nkey_id = \"{}\"\npublic_key = \"{}\"\ndivision = \"{division}\"\n",
                    public.id(),
                    public.encode()
                )
            })
            .collect();
        authority::sign(
            DocKind::TrustList,
            &authority::encode_body(&TrustDoc { version: 1, issued_at: 1_000, toml }),
            key,
        )
    }

    /// N4: Jiangsu lists Guangdong's office key with a Jiangsu division, and the root's list
    /// names Jiangsu first. The key must not become Jiangsu's (checked against Jiangsu's
    /// revocations, numbered as Jiangsu's): it is refused for both, with a warning naming both.
    /// Before, the first authority in the list took it.
    #[test]
    fn an_issuer_key_two_authorities_list_is_refused_for_both() {
        let root = SecretKey::from_seed(&[50; 32]);
        let (gd, js) = (SecretKey::from_seed(&[51; 32]), SecretKey::from_seed(&[52; 32]));
        let (huadu, kunshan) = (SecretKey::from_seed(&[53; 32]), SecretKey::from_seed(&[54; 32]));
        let entry = |name: &str, key: &SecretKey, province: u32| AuthorityEntry {
            name: name.into(),
            key: key.public_key().verifying_key().to_bytes(),
            provinces: vec![province],
            urls: Vec::new(),
            not_before: None,
            not_after: None,
        };
        // Jiangsu first: the order must not decide.
        let list = AuthorityList {
            version: 1,
            issued_at: 1_000,
            authorities: vec![entry("江苏省", &js, 320_000), entry("广东省", &gd, 440_000)],
        };
        let mut state = LocalState { authority_list: Some(list.sign(&root)), ..LocalState::default() };
        let mut gd_state = LocalState::default();
        sync::apply_trust(&mut gd_state, &trust_doc(&gd, &[(&huadu, "440114")]), &gd.public_key(), 2_000).expect("gd");
        // Jiangsu lists Guangdong's office as its own, and its own Kunshan office.
        let mut js_state = LocalState::default();
        let js_doc = trust_doc(&js, &[(&huadu, "320583"), (&kunshan, "320583")]);
        sync::apply_trust(&mut js_state, &js_doc, &js.public_key(), 2_000).expect("js");
        state.authorities.insert(gd.public_key().id(), gd_state);
        state.authorities.insert(js.public_key().id(), js_state);
        let (trust, view) = RootedView::new(&pass_core::TrustList::default(), &state, &root.public_key(), 2_000);
        assert!(trust.issuer(huadu.public_key().id()).is_none(), "claimed twice: trusted by nobody");
        assert!(!view.owner.contains_key(&huadu.public_key().id()));
        let warning = view.refused.iter().find(|r| r.starts_with("issuer_claimed_twice")).expect("a warning");
        assert!(warning.contains("江苏省") && warning.contains("广东省"), "{warning}");
        assert_eq!(view.refused.iter().filter(|r| r.starts_with("issuer_claimed_twice")).count(), 1, "one warning");
        assert!(trust.issuer(kunshan.public_key().id()).is_some(), "Jiangsu's own office stays trusted");
        assert_eq!(view.owner.get(&kunshan.public_key().id()), Some(&0));
    }

    /// One authority signing ahead (its clock up to 24 h fast, which a sync takes) moves the
    /// time floor for its own passes only, never for another authority's.
    #[test]
    fn one_authoritys_signed_time_moves_only_its_own_floor() {
        let status = |name: &str, newest_signed_at| AuthorityStatus {
            name: name.into(),
            key: SecretKey::from_seed(&[60; 32]).public_key(),
            active: true,
            synced: true,
            version: 1,
            confirmed_at: None,
            newest_signed_at,
            trust_stale: false,
        };
        let clock = 1_800_000_000;
        let ahead = clock + 20 * 3600;
        let view = RootedView {
            authorities: vec![status("广东省", clock - 60), status("江苏省", ahead)],
            newest_signed_at: ahead,
            list_issued_at: clock - 3600,
            ..RootedView::default()
        };
        assert_eq!(view.floor_for(Some(0), clock), clock, "Guangdong's passes: Jiangsu's clock does not count");
        assert_eq!(view.floor_for(Some(1), clock), ahead, "Jiangsu's own passes: its signed time is the floor");
        assert_eq!(view.floor_for(None, clock - 7200), clock - 3600, "the root's list is a floor for all");
    }
}
