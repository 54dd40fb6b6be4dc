//! Files as the three checkpass programs read and write them, in one place.
//!
//! - Writes are whole or not at all: a temp file in the target's directory, fsync, then a
//!   rename ([`Mode::Replace`]) or a link that fails when the name exists ([`Mode::CreateNew`],
//!   for keys), then an fsync of the directory. A crash leaves the old file or the new one,
//!   never half of either, and no temp file behind. On a file system without hard links or
//!   `RENAME_NOREPLACE` (FAT through FUSE), a new key is written to a name claimed with
//!   `O_EXCL` instead: still never over an existing file, and removed again if writing fails.
//! - A target that exists and is not a regular file (a device such as `/dev/full`, a FIFO, a
//!   symlink) is refused: renaming over it would replace the device or the link itself.
//! - Reads take regular files only (a FIFO would block the reader for ever, `/dev/zero` never
//!   ends), and are capped while reading, not by the size the file reports, so a file that
//!   grows while it is read is refused after `max + 1` bytes instead of filling memory.
//!
//! # Layout
//! - [`write()`] and [`Mode`]: atomic writes.
//! - [`read_capped`] and [`read_to_string_capped`]: bounded reads, with the caps of
//!   [`MAX_KEY_FILE`] and [`MAX_TEXT_FILE`].
//! - [`open_sqlite`]: the issuance ledger, the server's store and the scan log, opened alike
//!   (WAL, `synchronous=FULL`, waiting for another process's lock).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Largest key file read (a PEM secret key or a public key file is well under 1 KiB).
pub const MAX_KEY_FILE: u64 = 16 * 1024;
/// Largest text file read: trust lists and configuration (thousands of issuers fit).
pub const MAX_TEXT_FILE: u64 = 4 * 1024 * 1024;

/// Whether the target may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Fail with [`io::ErrorKind::AlreadyExists`] when the target exists (keys).
    CreateNew,
    /// Replace the target atomically (rendered passes, state files).
    Replace,
}

/// Writes `contents` to `path` atomically with Unix permissions `perm`.
///
/// Errors: [`io::ErrorKind::AlreadyExists`] for [`Mode::CreateNew`] over an existing name,
/// [`io::ErrorKind::InvalidInput`] when the target exists and is not a regular file, and any
/// error of the file system; the target is untouched in every case.
pub fn write(path: &Path, contents: &[u8], perm: u32, mode: Mode) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(_) if mode == Mode::CreateNew => {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "the file exists"));
        }
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "exists and is not a regular file (a device, FIFO, symlink or directory); refusing to replace it",
            ));
        }
        _ => {}
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(perm));
    #[cfg(not(unix))]
    let _ = perm; // only Unix has permission bits to set
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    // On failure the PersistError owns the temp file, which deletes it when dropped.
    match mode {
        Mode::CreateNew => match temp.persist_noclobber(path) {
            Ok(_) => {}
            // The directory took the temp file, so a refused link means the file system has
            // no links (FAT): claim the name exclusively and write in place.
            Err(e) if no_links(&e.error) => write_exclusive(path, contents, perm)?,
            Err(e) => return Err(e.error),
        },
        Mode::Replace => {
            temp.persist(path).map_err(|e| e.error)?;
        }
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn no_links(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported | io::ErrorKind::InvalidInput)
}

fn write_exclusive(path: &Path, contents: &[u8], perm: u32) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, perm);
    #[cfg(not(unix))]
    let _ = perm;
    let mut file = options.open(path)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Checks, without writing anything that stays, that [`write()`] could put a file at `path`: its
/// directory exists and takes new files, and `path` is absent or a regular file. Run before
/// spending anything that cannot be given back (a serial from the ledger).
pub fn check_writable(path: &Path) -> io::Result<()> {
    if let Ok(meta) = path.symlink_metadata()
        && !meta.file_type().is_file()
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "exists and is not a regular file (a device, FIFO, symlink or directory)",
        ));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    tempfile::Builder::new().prefix(".checkpass-probe.").tempfile_in(dir).map(drop)
}

/// The permission bits of `path` that let group or others read or write it (a secret key
/// should have none), or `None` when there are none or it cannot be told.
pub fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Reads at most `max` bytes of `path`, which must be a regular file (or a symlink to one): a
/// FIFO, socket or device is refused before it is opened ([`io::ErrorKind::InvalidInput`]),
/// since opening a FIFO blocks until a writer comes, for ever, with whatever lock the caller
/// holds. A longer file (or one that grows while read) is [`io::ErrorKind::FileTooLarge`],
/// found by reading one byte past `max`.
pub fn read_capped(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let regular = |meta: &std::fs::Metadata| {
        if meta.is_file() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a device, FIFO, socket or directory)"))
        }
    };
    regular(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    // Replaced between the two looks: checked again on what was opened.
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// [`read_capped`] as UTF-8 text ([`io::ErrorKind::InvalidData`] when it is not).
pub fn read_to_string_capped(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, max)?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Opens (creating, never truncating) the lock file at `path` for writing, refusing a symlink
/// there: a link planted in a data directory must not make a program lock, create or write
/// a file elsewhere. The caller then takes the lock on it.
pub fn open_lock(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(file)
}

/// Checks that files can be created in `dir`, with a new file of a random name made with
/// `O_EXCL` (never one of a predictable name, which a planted symlink could point elsewhere),
/// synced and removed again.
pub fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = tempfile::Builder::new().prefix(".write-probe-").tempfile_in(dir)?;
    probe.as_file().sync_all()?;
    probe.close()
}

/// Why a database's schema could not be brought up to date.
#[derive(Debug)]
pub enum MigrateError {
    /// The file has a newer schema version than this program knows (a newer checkpass wrote it).
    Newer(i64),
    /// SQLite failed; the version the file had is kept (each step is one transaction).
    Sqlite(rusqlite::Error),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Newer(version) => write!(
                f,
                "the file has schema version {version}, newer than this program knows: a newer checkpass wrote it"
            ),
            MigrateError::Sqlite(e) => write!(f, "SQLite: {e}"),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Newer(_) => None,
            MigrateError::Sqlite(e) => Some(e),
        }
    }
}

/// Brings a database's schema (`PRAGMA user_version`) up to date: `steps[i]` is the SQL that
/// takes version `i` to `i + 1`, run with the version bump in one `BEGIN IMMEDIATE`
/// transaction, so two programs opening a new file at once apply each step once. The one way
/// the issuance ledger, the server's store and the scan log keep their schemas.
pub fn migrate(conn: &rusqlite::Connection, steps: &[&str]) -> Result<(), MigrateError> {
    let version = |conn: &rusqlite::Connection| -> rusqlite::Result<i64> {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
    };
    let known = steps.len() as i64;
    let at = version(conn).map_err(MigrateError::Sqlite)?;
    if at > known {
        return Err(MigrateError::Newer(at));
    }
    for (from, step) in steps.iter().enumerate().skip(usize::try_from(at).unwrap_or(0)) {
        let from = from as i64;
        let apply = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE;")?;
            // Another process may have taken this step meanwhile: look again inside the lock.
            if version(conn)? == from {
                conn.execute_batch(step)?;
                conn.pragma_update(None, "user_version", from + 1)?;
            }
            conn.execute_batch("COMMIT;")
        };
        if let Err(e) = apply() {
            let _ = conn.execute_batch("ROLLBACK;");
            return Err(MigrateError::Sqlite(e));
        }
    }
    Ok(())
}

/// Opens (creating) the SQLite database at `path` as every checkpass database is kept: WAL and
/// `synchronous=FULL` (a committed write survives a power cut), and a lock held by another
/// process waited for up to `busy`. Switching to WAL does not go through SQLite's busy handler:
/// when another process is creating or writing the same file at that moment, SQLite answers
/// "database is locked" at once, so that is retried here until `busy` has passed.
pub fn open_sqlite(path: &Path, busy: std::time::Duration) -> rusqlite::Result<rusqlite::Connection> {
    // A new database is created 0600 before SQLite opens it, so that it (and the journal files
    // SQLite makes with the database's mode) are the owner's alone: they hold password hashes,
    // sessions and tokens.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
        if let Err(e) = created
            && e.kind() != io::ErrorKind::AlreadyExists
        {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("{}: {e}", path.display())),
            ));
        }
    }
    // Not through a symlink: a link planted where a database or scan log is kept must not send
    // the writes elsewhere.
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )?;
    conn.busy_timeout(busy)?;
    let deadline = std::time::Instant::now() + busy;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn replace_writes_whole_files_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass.png");
        write(&path, b"one", 0o644, Mode::Replace).unwrap();
        write(&path, b"two", 0o644, Mode::Replace).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["pass.png"]);
    }

    #[test]
    fn create_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        write(&path, b"secret", 0o600, Mode::CreateNew).unwrap();
        let err = write(&path, b"other", 0o600, Mode::CreateNew).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(names(dir.path()), ["issuer.key"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_to_replace_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write(&link, b"new", 0o644, Mode::Replace).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        let err = write(Path::new("/dev/null"), b"new", 0o644, Mode::Replace).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(names(dir.path()), ["link", "target"]);
    }

    #[test]
    fn migrations_run_in_order_once_and_refuse_a_newer_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let conn = open_sqlite(&path, std::time::Duration::from_secs(1)).unwrap();
        let steps = ["CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y INTEGER;"];
        migrate(&conn, &steps[..1]).unwrap();
        migrate(&conn, &steps).unwrap();
        migrate(&conn, &steps).unwrap();
        conn.execute("INSERT INTO a (x, y) VALUES (1, 2)", []).unwrap();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, 2);
        assert!(matches!(migrate(&conn, &steps[..1]), Err(MigrateError::Newer(2))));
        // A failing step changes nothing.
        assert!(matches!(migrate(&conn, &[steps[0], steps[1], "NOT SQL"]), Err(MigrateError::Sqlite(_))));
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, 2);
    }

    /// A symlink where a lock file or a database is kept is refused, and its target untouched.
    #[cfg(unix)]
    #[test]
    fn planted_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        for name in ["server.lock", "scanlog.sqlite"] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        assert!(open_lock(&dir.path().join("server.lock")).is_err());
        assert!(open_sqlite(&dir.path().join("scanlog.sqlite"), std::time::Duration::from_secs(1)).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // A plain lock file is made, and kept as it is when opened again.
        let lock = dir.path().join("state.lock");
        open_lock(&lock).unwrap();
        std::fs::write(&lock, b"x").unwrap();
        open_lock(&lock).unwrap();
        assert_eq!(std::fs::read(&lock).unwrap(), b"x");
        // The probe leaves nothing behind.
        probe_writable(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn reads_are_capped_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5).unwrap(), b"12345");
        assert_eq!(read_capped(&path, 4).unwrap_err().kind(), io::ErrorKind::FileTooLarge);
        #[cfg(unix)]
        assert_eq!(read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(read_to_string_capped(&path, 10).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn two_processes_opening_a_new_sqlite_file_at_once_both_get_it() {
        // Two issuers started together on a new ledger both switch it to WAL; SQLite answers
        // one of them "database is locked" at once (each would wait for the other), without
        // asking the busy handler. Both must open it and write.
        let dir = tempfile::tempdir().unwrap();
        for round in 0..40 {
            let path = dir.path().join(format!("ledger-{round}.sqlite"));
            let start = std::sync::Arc::new(std::sync::Barrier::new(2));
            let openers: Vec<_> = (0..2)
                .map(|i| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        let conn = open_sqlite(&path, std::time::Duration::from_secs(10))?;
                        conn.execute_batch(&format!(
                            "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS t (x INTEGER); INSERT INTO t VALUES ({i}); COMMIT;"
                        ))?;
                        conn.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
                    })
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap().map_err(|e| format!("round {round}: {e}")), Ok("wal".to_owned()));
            }
        }
    }

    #[test]
    fn a_lock_held_past_the_wait_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held.sqlite");
        let held = rusqlite::Connection::open(&path).unwrap();
        held.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE t (x INTEGER);").unwrap();
        let err = open_sqlite(&path, std::time::Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy));
    }
}
