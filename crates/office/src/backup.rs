//! Backups that lose nothing: `pass-office backup` writes a consistent copy of a data
//! directory (both databases, the audit trail's signed head, the printed PDFs; never the key)
//! as a tar archive; `pass-office restore` puts it into an empty directory.
//!
//! A ledger restored from an older backup would hand out again the serials issued since the
//! backup: two passes with one number, and revoking one revokes both. So a restore raises the
//! ledger's next serial above every serial handed out before the loss: the console reports its
//! next serial to the revocation server with each audit head, the server keeps the highest, and
//! the restore asks it; or the operator gives `--next-serial` (one above the highest pass number
//! known to be issued). Without either the restore refuses, and nothing is written.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::{DB_FILE, LEDGER_FILE, anchor, db};

/// What a backup archive names itself by (its first entry).
const MANIFEST: &str = "CHECKPASS-OFFICE-BACKUP";
/// The largest archive entry restored (a database of years of work is far smaller).
const MAX_ENTRY: u64 = 8 << 30;

/// Writes a consistent copy of the data directory `data` to `out` (a new file, 0600, whole or
/// nothing); a console may be running. Returns the entries written.
pub fn backup(data: &Path, out: &Path, now: u64) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(!out.exists(), "{} exists: a backup never replaces a file", out.display());
    let work = data.join(format!(".backup-{now}-{}", std::process::id()));
    std::fs::create_dir(&work).with_context(|| work.display().to_string())?;
    let result = (|| -> anyhow::Result<Vec<String>> {
        // SQLite's own consistent copy of each database (a read transaction, the writer goes on).
        for name in [DB_FILE, LEDGER_FILE] {
            let conn = pass_files::open_sqlite(&data.join(name), std::time::Duration::from_secs(30))?;
            conn.execute("VACUUM INTO ?1", [work.join(name).to_string_lossy()])
                .with_context(|| format!("copying {name}"))?;
        }
        let mut archive = tar::Builder::new(Vec::new());
        let mut names = Vec::new();
        let mut add = |archive: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]| -> anyhow::Result<()> {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(now);
            header.set_cksum();
            archive.append_data(&mut header, name, bytes)?;
            names.push(name.to_owned());
            Ok(())
        };
        add(&mut archive, MANIFEST, format!("checkpass office backup v1\nmade at {now}\n").as_bytes())?;
        for name in [DB_FILE, LEDGER_FILE] {
            add(&mut archive, name, &pass_files::read_capped(&work.join(name), MAX_ENTRY)?)?;
        }
        if let Ok(text) = pass_files::read_capped(&data.join(anchor::ANCHOR_FILE), 4096) {
            add(&mut archive, anchor::ANCHOR_FILE, &text)?;
        }
        let pdfs = data.join("pdf");
        if let Ok(entries) = std::fs::read_dir(&pdfs) {
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            files.sort();
            for file in files {
                let Some(name) = file.file_name().and_then(|n| n.to_str()).filter(|n| safe_pdf_name(n)) else {
                    continue;
                };
                add(&mut archive, &format!("pdf/{name}"), &pass_files::read_capped(&file, MAX_ENTRY)?)?;
            }
        }
        let bytes = archive.into_inner()?;
        pass_files::write(out, &bytes, 0o600, pass_files::Mode::CreateNew)
            .with_context(|| out.display().to_string())?;
        Ok(names)
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn safe_pdf_name(name: &str) -> bool {
    name.ends_with(".pdf") && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The serial the ledger will issue next.
    pub next_serial: u64,
    /// Where that floor came from.
    pub floor: String,
}

/// Restores the archive `archive` into `data` (missing, or an empty directory), raising the
/// ledger's next serial to the revocation server's record and `next_serial` (the higher);
/// refuses, writing nothing, when neither is had.
pub fn restore(archive: &Path, data: &Path, next_serial: Option<u64>, now: u64) -> anyhow::Result<Restored> {
    if data.exists() {
        let empty = std::fs::read_dir(data).with_context(|| data.display().to_string())?.next().is_none();
        anyhow::ensure!(empty, "{} is not empty: a restore goes into a new or empty directory", data.display());
    }
    let staging =
        data.with_file_name(format!(".{}.restoring", data.file_name().and_then(|n| n.to_str()).unwrap_or("office")));
    anyhow::ensure!(
        !staging.exists(),
        "{} exists (an earlier restore was cut short): remove it first",
        staging.display()
    );
    std::fs::create_dir_all(staging.join("pdf")).with_context(|| staging.display().to_string())?;
    let result = unpack_and_raise(archive, &staging, next_serial, now);
    match result {
        Ok(restored) => {
            if data.exists() {
                std::fs::remove_dir(data)?;
            }
            std::fs::rename(&staging, data).with_context(|| format!("moving the restore into {}", data.display()))?;
            Ok(restored)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn unpack_and_raise(archive: &Path, staging: &Path, next_serial: Option<u64>, now: u64) -> anyhow::Result<Restored> {
    let file = std::fs::File::open(archive).with_context(|| archive.display().to_string())?;
    let mut tar = tar::Archive::new(file);
    let mut seen_manifest = false;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        anyhow::ensure!(entry.header().entry_type().is_file(), "{name}: not a plain file in a backup");
        anyhow::ensure!(entry.size() <= MAX_ENTRY, "{name}: larger than any backup holds");
        let target = match name.as_str() {
            MANIFEST => {
                let mut text = String::new();
                entry.by_ref().take(4096).read_to_string(&mut text)?;
                anyhow::ensure!(text.starts_with("checkpass office backup v1"), "not a checkpass office backup");
                seen_manifest = true;
                continue;
            }
            _ if !seen_manifest => anyhow::bail!("not a checkpass office backup (no {MANIFEST} first)"),
            DB_FILE | LEDGER_FILE | anchor::ANCHOR_FILE => staging.join(&name),
            _ => match name.strip_prefix("pdf/").filter(|n| safe_pdf_name(n)) {
                Some(pdf) => staging.join("pdf").join(pdf),
                None => anyhow::bail!("{name}: not a file a backup holds"),
            },
        };
        let mut bytes = Vec::new();
        entry.by_ref().take(MAX_ENTRY).read_to_end(&mut bytes)?;
        pass_files::write(&target, &bytes, 0o600, pass_files::Mode::CreateNew)
            .with_context(|| target.display().to_string())?;
    }
    anyhow::ensure!(
        staging.join(DB_FILE).exists() && staging.join(LEDGER_FILE).exists(),
        "the backup lacks a database"
    );
    let conn = pass_files::open_sqlite(&staging.join(DB_FILE), std::time::Duration::from_secs(5))?;
    db::migrate(&conn)?;
    let key = PathBuf::from(db::setting(&conn, "key")?.context("the backup names no office key")?);
    let key_id = pass_issuer::office::public_of(&key)
        .with_context(|| format!("the office key the backup names ({}) must be where it was", key.display()))?
        .id();
    let server = db::setting(&conn, "revocation_server")?;
    let mut ledger = pass_issuer::ledger::Ledger::open(&staging.join(LEDGER_FILE))?;
    let held = ledger.next_serial(key_id)?;
    let reported = match server.as_deref() {
        Some(server) => pass_issuer::revoke::fetch_audit_head(server, key_id)
            .map(|answer| answer.and_then(|a| a.next_serial))
            .map_err(|e| e.to_string()),
        None => Err("no revocation server is set".to_owned()),
    };
    let (floor, said) = match (&reported, next_serial) {
        (Ok(Some(n)), Some(given)) => {
            ((*n).max(given), format!("the revocation server's record ({n}) and --next-serial {given}"))
        }
        (Ok(Some(n)), None) => (*n, format!("the revocation server's record ({n})")),
        (_, Some(given)) => (given, format!("--next-serial {given}")),
        (Ok(None), None) => anyhow::bail!(
            "the revocation server holds no record of this office's serials: give --next-serial N, one above the highest \
             pass number known to be issued (the last printed PDF or e-pass), so no serial is handed out twice"
        ),
        (Err(e), None) => anyhow::bail!(
            "cannot ask the revocation server which serials were issued after the backup ({e}): give --next-serial N, \
             one above the highest pass number known to be issued, so no serial is handed out twice"
        ),
    };
    let next = ledger.raise_next_serial(key_id, floor)?;
    let mut conn = conn;
    let tx = conn.transaction()?;
    let detail = format!("restored from a backup: next serial {held} → {next} ({said})");
    db::audit(&tx, now, db::SERVER, "restore", &detail)?;
    tx.commit()?;
    // The restore's own row, signed (a console signs only rows it wrote itself).
    anchor::seal_directory(staging, &conn, &pass_issuer::keyfile::load_secret(&key)?)?;
    Ok(Restored { next_serial: next, floor: said })
}
