//! Signed documents as plain files (docs/FORMAT.md, "Static layout"), so any web server, cache,
//! object store or CDN can carry them to checkpoints:
//!
//! ```text
//! v1/revocations          the signed snapshot
//! v1/heartbeat            the signed heartbeat
//! v1/trust                the signed trust list (absent when none is published)
//! v1/delta/<V>            a signed delta from version V to the current one, for the last N
//! v1/authorities          (a mirror) the root's signed authority list
//! v1/heartbeats           (a mirror) every authority's newest heartbeat, combined
//! authorities/<key id>/   (a mirror) one authority's v1/ files as above
//! ```
//!
//! `pass-server serve --publish DIR` writes an authority's own files after every commit and
//! heartbeat; `pass-server mirror` copies every listed authority's documents, each verified
//! against its key from the root's list, never older than what it holds. Each file is replaced
//! atomically, documents before the heartbeat that names them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use pass_core::authorities::{AuthorityEntry, AuthorityList};
use pass_core::authority::{self, DocKind, Heartbeat};
use pass_core::revocation::RevocationState;
use pass_core::rules;
use pass_core::{KeyId, PublicKey};
use pass_files::{self as files, Mode};

/// Deltas kept as files: from each of the last this many versions.
pub const STATIC_DELTAS: u64 = 16;

/// One authority's documents as files.
pub struct StaticDocs<'a> {
    /// The signed snapshot.
    pub snapshot: &'a [u8],
    /// The signed heartbeat naming it.
    pub heartbeat: &'a [u8],
    /// The signed trust list, when published.
    pub trust: Option<&'a [u8]>,
    /// Signed deltas to the snapshot's version, by their from-version.
    pub deltas: Vec<(u64, Vec<u8>)>,
}

/// Writes one authority's documents under `dir` (`dir/v1/...`): deltas, trust list and
/// snapshot first, the heartbeat last, each replaced atomically; deltas no longer listed are
/// removed.
pub fn write_static(dir: &Path, docs: &StaticDocs<'_>) -> std::io::Result<()> {
    let v1 = dir.join("v1");
    let delta_dir = v1.join("delta");
    std::fs::create_dir_all(&delta_dir)?;
    for (from, bytes) in &docs.deltas {
        files::write(&delta_dir.join(from.to_string()), bytes, 0o644, Mode::Replace)?;
    }
    match docs.trust {
        Some(trust) => files::write(&v1.join("trust"), trust, 0o644, Mode::Replace)?,
        None => remove_if_there(&v1.join("trust"))?,
    }
    files::write(&v1.join("revocations"), docs.snapshot, 0o644, Mode::Replace)?;
    files::write(&v1.join("heartbeat"), docs.heartbeat, 0o644, Mode::Replace)?;
    for entry in std::fs::read_dir(&delta_dir)? {
        let entry = entry?;
        let listed = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|from| docs.deltas.iter().any(|(f, _)| *f == from));
        if !listed {
            remove_if_there(&entry.path())?;
        }
    }
    Ok(())
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The directory of one authority's copy in a mirror.
pub fn authority_dir(out: &Path, id: KeyId) -> PathBuf {
    out.join("authorities").join(id.to_string())
}

/// What one mirror round did for one authority.
#[derive(Clone, Debug)]
pub struct MirrorLine {
    /// The authority's name.
    pub name: String,
    /// The revocation version held after the round.
    pub version: u64,
    /// Where it came from this round, or why no source gave it.
    pub outcome: Outcome,
}

/// How one authority's copy fared in a mirror round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its documents came from this source, checked.
    Copied(String),
    /// No source gave documents that verify and are not older than the copy held (which is
    /// kept): each source tried, and why it was passed over.
    Kept(Vec<(String, String)>),
}

/// An HTTP client for the mirror's fetches.
pub struct Fetcher {
    agent: ureq::Agent,
}

impl Fetcher {
    /// A client with an overall per-request timeout.
    pub fn new(timeout: Duration) -> Fetcher {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("pass-server-mirror/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Fetcher { agent }
    }

    /// The body at `url`, `None` for a 404.
    pub fn get(&self, url: &str) -> Result<Option<Vec<u8>>> {
        let mut response = self.agent.get(url).call().with_context(|| url.to_owned())?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => anyhow::bail!("{url}: HTTP {status}"),
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(authority::MAX_DOC_LEN as u64)
            .read_to_vec()
            .with_context(|| url.to_owned())?;
        Ok(Some(body))
    }
}

/// The authority list to mirror: `given` (a signed file) or the newest that verifies from the
/// `from` bases; never older than the one `out` holds.
pub fn authority_list(
    fetcher: &Fetcher,
    root: &PublicKey,
    given: Option<&Path>,
    from: &[String],
    out: &Path,
    now: u64,
) -> Result<(AuthorityList, Vec<u8>)> {
    let mut offered: Vec<Vec<u8>> = Vec::new();
    if let Some(path) = given {
        offered
            .push(files::read_capped(path, authority::MAX_DOC_LEN as u64).with_context(|| path.display().to_string())?);
    }
    for base in from {
        if let Ok(Some(bytes)) = fetcher.get(&format!("{}/v1/authorities", base.trim_end_matches('/'))) {
            offered.push(bytes);
        }
    }
    let held = read_doc(&out.join("v1/authorities")).and_then(|b| Some((AuthorityList::open(&b, root).ok()?, b)));
    let mut best = held.clone();
    let mut refused = Vec::new();
    for bytes in offered {
        match rules::authority_list(held.as_ref().map(|(list, _)| list), &bytes, root, now) {
            Ok(list) => {
                if best.as_ref().is_none_or(|(b, _)| list.version > b.version) {
                    best = Some((list, bytes));
                }
            }
            Err(e) => refused.push(e.to_string()),
        }
    }
    best.ok_or_else(|| anyhow::anyhow!("no authority list signed by the root ({})", refused.join("; ")))
}

/// One mirror round: every authority in `list` copied into `out` from the first source that
/// gives documents verifying with its key, consistent with each other and not older than the
/// copy held; then the combined heartbeats and the list itself.
pub fn mirror_round(
    fetcher: &Fetcher,
    list: &AuthorityList,
    list_bytes: &[u8],
    from: &[String],
    out: &Path,
    now: u64,
) -> Result<Vec<MirrorLine>> {
    let mut lines = Vec::new();
    let mut beats: Vec<Vec<u8>> = Vec::new();
    let listed: Vec<KeyId> = list.authorities.iter().filter_map(AuthorityEntry::key_id).collect();
    for entry in &list.authorities {
        let (Some(id), Ok(key)) = (entry.key_id(), entry.public_key()) else { continue };
        let dir = authority_dir(out, id);
        let held = Held::read(&dir, &key);
        let mut sources: Vec<String> =
            from.iter().map(|b| format!("{}/authorities/{id}", b.trim_end_matches('/'))).collect();
        sources.extend(entry.urls.iter().map(|u| u.trim_end_matches('/').to_owned()));
        let mut tried = Vec::new();
        let mut outcome = None;
        for source in sources {
            match copy_from(fetcher, &source, &key, &held, &dir, now) {
                Ok(()) => {
                    outcome = Some(Outcome::Copied(source));
                    break;
                }
                Err(e) => tried.push((source, format!("{e:#}"))),
            }
        }
        let outcome = outcome.unwrap_or(Outcome::Kept(tried));
        let now_held = Held::read(&dir, &key);
        if let Some(beat) = &now_held.heartbeat_bytes {
            beats.push(beat.clone());
        }
        lines.push(MirrorLine { name: entry.name.clone(), version: now_held.revocations.version, outcome });
    }
    // An authority no longer listed is no longer carried.
    if let Ok(entries) = std::fs::read_dir(out.join("authorities")) {
        for entry in entries.flatten() {
            let gone = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<KeyId>().ok())
                .is_some_and(|id| !listed.contains(&id));
            if gone {
                std::fs::remove_dir_all(entry.path()).with_context(|| entry.path().display().to_string())?;
            }
        }
    }
    let v1 = out.join("v1");
    std::fs::create_dir_all(&v1)?;
    let refs: Vec<&[u8]> = beats.iter().map(Vec::as_slice).collect();
    // The list before the file that names it.
    files::write(&v1.join("authorities"), list_bytes, 0o644, Mode::Replace)?;
    let named = Some((list.version, pass_core::authorities::list_digest(list_bytes)));
    files::write(&v1.join("heartbeats"), &authority::combine_heartbeats(named, &refs), 0o644, Mode::Replace)?;
    Ok(lines)
}

/// What a mirror holds for one authority (each document re-verified; one that does not verify
/// counts as not held).
#[derive(Default)]
struct Held {
    revocations: RevocationState,
    heartbeat: Option<Heartbeat>,
    heartbeat_bytes: Option<Vec<u8>>,
    trust: Option<authority::TrustDoc>,
}

/// A document file as held, under the size any document may have.
fn read_doc(path: &Path) -> Option<Vec<u8>> {
    files::read_capped(path, authority::MAX_DOC_LEN as u64).ok()
}

impl Held {
    fn read(dir: &Path, key: &PublicKey) -> Held {
        let mut held = Held::default();
        if let Some(bytes) = read_doc(&dir.join("v1/revocations")) {
            let mut state = RevocationState::default();
            if state.apply_document(&bytes, key).is_ok() {
                held.revocations = state;
            }
        }
        if let Some(bytes) = read_doc(&dir.join("v1/heartbeat"))
            && let Ok(beat) = Heartbeat::open(&bytes, key)
        {
            held.heartbeat = Some(beat);
            held.heartbeat_bytes = Some(bytes);
        }
        if let Some(bytes) = read_doc(&dir.join("v1/trust"))
            && let Ok((DocKind::TrustList, body)) = authority::open(&bytes, key)
        {
            held.trust = authority::decode_body::<authority::TrustDoc>(body).ok();
        }
        held
    }
}

/// Copies one authority's documents from `source` into `dir`, or says why not: each checked by
/// the rules a checkpoint applies ([`pass_core::rules`], the clock `now` included), and against
/// each other (the heartbeat names the snapshot and the trust list served with it).
fn copy_from(fetcher: &Fetcher, source: &str, key: &PublicKey, held: &Held, dir: &Path, now: u64) -> Result<()> {
    let need = |what: &str| -> Result<Vec<u8>> {
        fetcher.get(&format!("{source}/v1/{what}"))?.ok_or_else(|| anyhow::anyhow!("no v1/{what} there"))
    };
    let beat_bytes = need("heartbeat")?;
    let beat = match rules::heartbeat(held.heartbeat.as_ref(), &beat_bytes, key, now)? {
        Some(beat) => beat,
        None if held.heartbeat_bytes.as_deref() == Some(&beat_bytes[..]) => Heartbeat::open(&beat_bytes, key)?,
        None => anyhow::bail!("its heartbeat is older than the one held"),
    };
    let snapshot = need("revocations")?;
    if snapshot.get(3) != Some(&(DocKind::Snapshot as u8)) {
        anyhow::bail!("v1/revocations is not a snapshot");
    }
    let (state, _) = rules::revocations(&held.revocations, &snapshot, key, now).context("the revocation snapshot")?;
    if beat.version != state.version || beat.digest != state.digest() {
        anyhow::bail!("its heartbeat names version {}, its snapshot is version {}", beat.version, state.version);
    }
    let trust = match beat.trust {
        None => None,
        Some(named) => {
            let doc = need("trust")?;
            rules::trust(held.trust.as_ref(), Some(named), &doc, key, now).context("the trust list")?;
            if authority::trust_digest(&doc) != named.digest {
                anyhow::bail!("its trust list is not the one its heartbeat names");
            }
            Some(doc)
        }
    };
    let mut deltas = Vec::new();
    for from in state.version.saturating_sub(STATIC_DELTAS).max(1)..state.version {
        let Ok(Some(delta)) = fetcher.get(&format!("{source}/v1/delta/{from}")) else { continue };
        let Ok((DocKind::Delta, body)) = authority::open(&delta, key) else { continue };
        let Ok(parsed) = authority::decode_body::<pass_core::revocation::Delta>(body) else { continue };
        if parsed.from_version == from && parsed.to_version == state.version && parsed.state_digest == state.digest() {
            deltas.push((from, delta));
        }
    }
    write_static(dir, &StaticDocs { snapshot: &snapshot, heartbeat: &beat_bytes, trust: trust.as_deref(), deltas })
        .with_context(|| dir.display().to_string())
}
