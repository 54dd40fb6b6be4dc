//! Backups of the revocation server's database, and restores that lose no revocation.
//!
//! A database restored from an older backup would sign versions lower than the checkpoints
//! hold (every checkpoint would refuse its updates, rightly) and would have forgotten the
//! revocations made since the backup. The published snapshot is signed and carries the whole
//! set: `restore --recover-from` takes any such snapshot a mirror, a static web server or the
//! authority's own `--publish` directory kept (verified with the authority key), records every
//! revocation in it, and goes on from its version, so the next change is newer than anything a
//! checkpoint holds.

use std::path::Path;

use anyhow::Context as _;
use pass_core::SecretKey;
use pass_core::revocation::RevocationState;

use crate::store::{DB_FILE, Store};

/// Writes a consistent copy of the server's database in `data` to `out` (a new file, 0600);
/// the server may be running.
pub fn backup(data: &Path, out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(!out.exists(), "{} exists: a backup never replaces a file", out.display());
    let conn = pass_files::open_sqlite(&data.join(DB_FILE), std::time::Duration::from_secs(30))?;
    let tmp = out.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    conn.execute("VACUUM INTO ?1", [tmp.to_string_lossy()]).context("copying the database")?;
    let bytes = pass_files::read_capped(&tmp, 8 << 30);
    let _ = std::fs::remove_file(&tmp);
    pass_files::write(out, &bytes?, 0o600, pass_files::Mode::CreateNew).with_context(|| out.display().to_string())
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The version the backup held.
    pub backup_version: u64,
    /// The version the data is at now.
    pub version: u64,
}

/// Restores the backup `file` into `data` (missing or empty), then takes back from each signed
/// snapshot in `seen` (verified with `authority`'s key) what the backup lacks.
pub fn restore(
    file: &Path,
    data: &Path,
    authority: &SecretKey,
    seen: &[Vec<u8>],
    now: u64,
) -> anyhow::Result<Restored> {
    if data.exists() {
        let empty = std::fs::read_dir(data).with_context(|| data.display().to_string())?.next().is_none();
        anyhow::ensure!(empty, "{} is not empty: a restore goes into a new or empty directory", data.display());
    }
    // Every snapshot checked before anything is written.
    let public = authority.public_key();
    let mut states = Vec::new();
    for doc in seen {
        let mut state = RevocationState::default();
        state
            .apply_document(doc, &public)
            .context("a --recover-from file is not a revocation snapshot this authority signed")?;
        states.push(state);
    }
    let bytes = pass_files::read_capped(file, 8 << 30).with_context(|| file.display().to_string())?;
    anyhow::ensure!(bytes.starts_with(b"SQLite format 3\0"), "{} is not a server backup", file.display());
    std::fs::create_dir_all(data).with_context(|| data.display().to_string())?;
    let target = data.join(DB_FILE);
    pass_files::write(&target, &bytes, 0o600, pass_files::Mode::CreateNew)
        .with_context(|| target.display().to_string())?;
    let result = (|| -> anyhow::Result<Restored> {
        let mut store = Store::open(data)?;
        let check = store.integrity_check()?;
        anyhow::ensure!(check == "ok", "the backup's database is damaged: {check}");
        let (mut state, _) = store.load()?;
        let backup_version = state.version;
        for seen in &states {
            store.recover(&mut state, seen, now, authority)?;
        }
        Ok(Restored { backup_version, version: state.version })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(data);
    }
    result
}
