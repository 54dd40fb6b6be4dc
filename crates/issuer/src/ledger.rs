//! The issuance ledger: an embedded SQLite database that hands out serials and records every
//! pass issued, with all its fields and its signed bytes.
//!
//! A serial is taken, the pass signed and recorded in one `BEGIN IMMEDIATE` transaction, so two
//! processes never get the same serial (the second waits for the first), and a crash before the
//! commit leaves nothing behind (that serial was never printed). Serials come from a per-key
//! counter, not from `max(serial)`, so they are never reused. WAL and `synchronous=FULL`: once
//! `issue` returns, the record survives a power cut.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pass_core::{KeyId, Pass};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// How long an issuer waits for another one holding the ledger (a batch being signed).
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// File name of the ledger beside the key when none is given.
pub const DEFAULT_FILE: &str = "ledger.sqlite";
/// The schema, one step a version (`pass_files::migrate`).
const SCHEMA: [&str; 3] = [
    // 1: serials, passes, revocations to send.
    "CREATE TABLE IF NOT EXISTS serial_counter (
                     key_id      TEXT PRIMARY KEY,
                     next_serial INTEGER NOT NULL CHECK (next_serial >= 1)
                 );
                 CREATE TABLE IF NOT EXISTS passes (
                     key_id       TEXT NOT NULL,
                     serial       INTEGER NOT NULL,
                     kind         TEXT NOT NULL,
                     plate        TEXT NOT NULL,
                     vehicle_type TEXT NOT NULL,
                     holder       TEXT NOT NULL,
                     org_code     TEXT,
                     driver       TEXT, -- the crew's names, joined with 、 (the pass itself is the envelope)
                     origin       TEXT NOT NULL,
                     destination  TEXT NOT NULL,
                     zones        TEXT NOT NULL,
                     cargo        TEXT NOT NULL,
                     valid_from   INTEGER NOT NULL,
                     valid_until  INTEGER NOT NULL,
                     issued_at    INTEGER NOT NULL,
                     supersedes   INTEGER,
                     envelope     BLOB NOT NULL,
                     PRIMARY KEY (key_id, serial)
                 );
                 CREATE INDEX IF NOT EXISTS passes_plate ON passes (plate);
                 CREATE TABLE IF NOT EXISTS revocations (
                     key_id       TEXT NOT NULL,
                     serial       INTEGER NOT NULL,
                     reason       TEXT NOT NULL,
                     requested_at INTEGER NOT NULL,
                     sent_at      INTEGER,
                     PRIMARY KEY (key_id, serial)
                 );",
    // 2: the batch files issued (by content hash), so one is not issued twice by mistake.
    "CREATE TABLE IF NOT EXISTS batches (
                     sha256     TEXT PRIMARY KEY,
                     file_name  TEXT NOT NULL,
                     rows       INTEGER NOT NULL,
                     issued_at  INTEGER NOT NULL,
                     serials    TEXT NOT NULL
                 );",
    // 3: the ledger's own id and the key it issues for (`Ledger::bind`).
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
];
const SCHEMA_VERSION: usize = SCHEMA.len();

/// Why the ledger could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// SQLite failed (locked for too long, disk full, corrupt file, ...).
    #[error("ledger {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer checkpass.
    #[error("ledger {0} has schema version {1}; this program knows version {SCHEMA_VERSION}")]
    NewerSchema(PathBuf, i64),
    /// The same batch file was issued before.
    #[error("this file was already issued (serials {serials}); pass --again to issue it once more")]
    RepeatedBatch {
        /// Serials of the earlier run(s).
        serials: String,
        /// When.
        issued_at: u64,
    },
    /// A recorded pass cannot be read back.
    #[error("ledger {0}: {1}")]
    Corrupt(PathBuf, String),
    /// The ledger issues for another key.
    #[error("ledger {path} issues for key {bound}, not {key}: use that key, or this key's own ledger")]
    OtherKey {
        /// The ledger.
        path: PathBuf,
        /// The key it is bound to.
        bound: String,
        /// The key given.
        key: KeyId,
    },
    /// The key already issues from another ledger: serials from a second one would repeat.
    #[error(
        "key {key} already issues from the ledger at {other} ({marker} says so): a second ledger would hand \
         out its serials again. Use --ledger {other}, or move to this ledger with \
         `pass-issuer import-ledger {other} --key KEY --ledger {this}`"
    )]
    SecondLedger {
        /// The key.
        key: KeyId,
        /// The ledger it issues from.
        other: String,
        /// This ledger.
        this: String,
        /// The file beside the key that names its ledger.
        marker: String,
    },
}

/// The file beside a key that names the one ledger it issues from: `issuer.key` →
/// `issuer.ledger`.
pub fn marker_path(key: &Path) -> PathBuf {
    key.with_extension("ledger")
}

/// What the marker beside a key says.
struct Marker {
    ledger_id: String,
    ledger: String,
}

impl Marker {
    fn parse(text: &str) -> Option<Marker> {
        let field = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)?.trim().strip_prefix('=')).map(|v| v.trim().to_owned())
        };
        Some(Marker { ledger_id: field("ledger_id")?, ledger: field("ledger")? })
    }

    fn text(&self) -> String {
        format!(
            "# The one issuance ledger this key issues from (pass-issuer): never two, or serials repeat.\n\
             ledger_id = {}\nledger = {}\n",
            self.ledger_id, self.ledger
        )
    }
}

/// A pass as recorded in the ledger.
#[derive(Clone, Debug)]
pub struct Record {
    /// Signer.
    pub key_id: KeyId,
    /// The pass.
    pub pass: Pass,
    /// The signed envelope bytes.
    pub envelope: Vec<u8>,
}

/// Identifies a batch file, to refuse issuing the same file twice.
#[derive(Clone, Debug)]
pub struct BatchInfo {
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The file's name, for the record.
    pub file_name: String,
    /// Issue it even if it was issued before.
    pub again: bool,
    /// Issue time, Unix seconds.
    pub now: u64,
}

/// Filters for [`Ledger::list`]; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Exact plate.
    pub plate: Option<String>,
    /// Part of the holder name.
    pub holder: Option<String>,
    /// Valid at this instant.
    pub valid_at: Option<u64>,
    /// This serial.
    pub serial: Option<u64>,
}

fn insert_pass(tx: &rusqlite::Transaction<'_>, key_id: &str, pass: &Pass, envelope: &[u8]) -> rusqlite::Result<()> {
    let zones: Vec<String> = pass.zones.iter().map(ToString::to_string).collect();
    tx.prepare_cached(
        "INSERT INTO passes (key_id, serial, kind, plate, vehicle_type, holder, org_code, driver, origin,
                             destination, zones, cargo, valid_from, valid_until, issued_at, supersedes, envelope)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        key_id,
        pass.serial as i64,
        pass.kind.name(),
        pass.plate,
        pass.vehicle_type.name(),
        pass.holder,
        pass.org_code,
        (!pass.crew.is_empty()).then(|| pass.crew.join("、")),
        pass.origin.to_string(),
        pass.destination.to_string(),
        zones.join(" "),
        pass.cargo,
        pass.valid_from as i64,
        pass.valid_until as i64,
        pass.issued_at as i64,
        pass.supersedes.map(|s| s as i64),
        envelope,
    ])?;
    Ok(())
}

/// Copies every pass, revocation and batch of `key` from the attached database `old`, and
/// continues the serial counter after the higher of the two, in one transaction.
fn copy_key(conn: &mut Connection, key: &str) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("INSERT OR IGNORE INTO main.meta (name, value) VALUES ('key_id', ?1)", [key])?;
    let copied = tx.execute("INSERT OR IGNORE INTO main.passes SELECT * FROM old.passes WHERE key_id = ?1", [key])?;
    tx.execute("INSERT OR IGNORE INTO main.revocations SELECT * FROM old.revocations WHERE key_id = ?1", [key])?;
    tx.execute("INSERT OR IGNORE INTO main.batches SELECT * FROM old.batches", [])?;
    tx.execute(
        "INSERT INTO main.serial_counter (key_id, next_serial)
         SELECT ?1, max(coalesce((SELECT next_serial FROM old.serial_counter WHERE key_id = ?1), 1),
                        coalesce((SELECT next_serial FROM main.serial_counter WHERE key_id = ?1), 1))
         WHERE true
         ON CONFLICT (key_id) DO UPDATE SET next_serial = excluded.next_serial",
        [key],
    )?;
    tx.commit()?;
    Ok(copied)
}

/// Marks `serial` for revocation (idempotent; the first reason is kept).
fn insert_revocation(
    tx: &rusqlite::Transaction<'_>,
    key_id: &str,
    serial: u64,
    reason: &str,
    now: u64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO revocations (key_id, serial, reason, requested_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![key_id, serial as i64, reason, now as i64])?;
    Ok(())
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl Ledger {
    /// Opens (creating when needed) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let err = |source| LedgerError::Sqlite { path: path.to_owned(), source };
        let conn = pass_files::open_sqlite(path, BUSY_TIMEOUT).map_err(err)?;
        let ledger = Self { conn, path: path.to_owned() };
        ledger.migrate()?;
        Ok(ledger)
    }

    fn err(&self) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
        |source| LedgerError::Sqlite { path: self.path.clone(), source }
    }

    fn migrate(&self) -> Result<(), LedgerError> {
        pass_files::migrate(&self.conn, &SCHEMA).map_err(|e| match e {
            pass_files::MigrateError::Newer(version) => LedgerError::NewerSchema(self.path.clone(), version),
            pass_files::MigrateError::Sqlite(source) => LedgerError::Sqlite { path: self.path.clone(), source },
        })
    }

    /// This ledger's id, made at random the first time it is asked for.
    pub fn id(&self) -> Result<String, LedgerError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| self.corrupt(format!("no random id: {e}")))?;
        let fresh: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.conn
            .execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('ledger_id', ?1)", [&fresh])
            .map_err(self.err())?;
        self.meta("ledger_id")?.ok_or_else(|| self.corrupt("no ledger id".into()))
    }

    fn meta(&self, name: &str) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Refuses to read this ledger as `key_id`'s when it issues for another key (`list` and
    /// `show` would otherwise number its passes with the other office's division).
    pub fn check_key(&self, key_id: KeyId) -> Result<(), LedgerError> {
        match self.meta("key_id")? {
            Some(bound) if bound != key_id.to_string() => {
                Err(LedgerError::OtherKey { path: self.path.clone(), bound, key: key_id })
            }
            _ => Ok(()),
        }
    }

    /// Binds this ledger and the key at `key_path` to each other before anything is issued or
    /// revoked with them: the ledger records the key on first use and refuses any other, and
    /// the file beside the key ([`marker_path`], made once, never overwritten) names this
    /// ledger, so a second ledger for the same key (`--ledger other.sqlite`), which would hand
    /// out serial 1 again, is refused. [`Ledger::import`] moves a key to another ledger.
    pub fn bind(&mut self, key_id: KeyId, key_path: &Path) -> Result<(), LedgerError> {
        let key = key_id.to_string();
        self.conn
            .execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('key_id', ?1)", [&key])
            .map_err(self.err())?;
        let bound = self.meta("key_id")?.unwrap_or_default();
        if bound != key {
            return Err(LedgerError::OtherKey { path: self.path.clone(), bound, key: key_id });
        }
        let id = self.id()?;
        let marker = marker_path(key_path);
        let mine = Marker { ledger_id: id.clone(), ledger: self.absolute_path() };
        let claimed = pass_files::write(&marker, mine.text().as_bytes(), 0o644, pass_files::Mode::CreateNew);
        match claimed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = pass_files::read_to_string_capped(&marker, 4096)
                    .map_err(|e| self.corrupt(format!("{}: {e}", marker.display())))?;
                let held = Marker::parse(&text)
                    .ok_or_else(|| self.corrupt(format!("{}: not a ledger marker", marker.display())))?;
                if held.ledger_id == id {
                    Ok(())
                } else {
                    Err(LedgerError::SecondLedger {
                        key: key_id,
                        other: held.ledger,
                        this: self.absolute_path(),
                        marker: marker.display().to_string(),
                    })
                }
            }
            Err(e) => Err(self.corrupt(format!("{}: {e}", marker.display()))),
        }
    }

    /// Takes over key `key_id` from the ledger at `from`: every pass, revocation and batch of
    /// that key is copied here, the serial counter continues after the higher of the two, and
    /// the key's marker names this ledger from now on. The old ledger is left as it was (and
    /// refused for this key afterwards).
    pub fn import(&mut self, from: &Path, key_id: KeyId, key_path: &Path) -> Result<usize, LedgerError> {
        let old = Ledger::open(from)?;
        let key = key_id.to_string();
        if let Some(bound) = old.meta("key_id")?
            && bound != key
        {
            return Err(LedgerError::OtherKey { path: from.to_owned(), bound, key: key_id });
        }
        if old.id()? == self.id()? {
            return Ok(0);
        }
        drop(old);
        let path = self.path.clone();
        let err = |source| LedgerError::Sqlite { path: path.clone(), source };
        // Attached outside the transaction (SQLite attaches no file inside one), and detached
        // whatever happens.
        self.conn.execute("ATTACH DATABASE ?1 AS old", [from.to_string_lossy()]).map_err(err)?;
        let copied = copy_key(&mut self.conn, &key);
        let detached = self.conn.execute("DETACH DATABASE old", []);
        let copied = copied.map_err(err)?;
        detached.map_err(err)?;
        let bound = self.meta("key_id")?.unwrap_or_default();
        if bound != key {
            return Err(LedgerError::OtherKey { path: self.path.clone(), bound, key: key_id });
        }
        let mine = Marker { ledger_id: self.id()?, ledger: self.absolute_path() };
        pass_files::write(&marker_path(key_path), mine.text().as_bytes(), 0o644, pass_files::Mode::Replace)
            .map_err(|e| self.corrupt(format!("{}: {e}", marker_path(key_path).display())))?;
        Ok(copied)
    }

    fn absolute_path(&self) -> String {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()).display().to_string()
    }

    /// Takes the next serial for `key_id`, calls `build(serial)` to make and sign the pass, and
    /// records it, all in one transaction. When `build` fails nothing is recorded. A pass that
    /// supersedes another marks the old serial for revocation in the same transaction, with
    /// `reason` and the new serial: a reissue is recorded whole or not at all.
    /// `build`'s own error type comes back as it is (the issuing module's, typed).
    pub fn issue<E: From<LedgerError>>(
        &mut self,
        key_id: KeyId,
        reason: &str,
        now: u64,
        build: impl FnOnce(u64) -> Result<(Pass, Vec<u8>), E>,
    ) -> Result<Record, E> {
        let path = self.path.clone();
        let err = |source| E::from(LedgerError::Sqlite { path: path.clone(), source });
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let id = key_id.to_string();
        let next: Option<i64> = tx
            .query_row("SELECT next_serial FROM serial_counter WHERE key_id = ?1", [&id], |r| r.get(0))
            .optional()
            .map_err(err)?;
        let serial = next.unwrap_or(1);
        let (pass, envelope) = build(serial as u64)?;
        debug_assert_eq!(pass.serial, serial as u64);
        tx.execute(
            "INSERT INTO serial_counter (key_id, next_serial) VALUES (?1, ?2)
             ON CONFLICT (key_id) DO UPDATE SET next_serial = excluded.next_serial",
            params![id, serial + 1],
        )
        .map_err(err)?;
        insert_pass(&tx, &id, &pass, &envelope).map_err(err)?;
        if let Some(old) = pass.supersedes {
            insert_revocation(&tx, &id, old, &format!("{reason} (serial {serial})"), now).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(Record { key_id, pass, envelope })
    }

    /// Issues a batch in one transaction: refuses a file already issued (by content hash)
    /// unless `again`, takes `count` consecutive serials, calls `build(serial, index)` for each,
    /// records every pass and the batch. Either the whole batch is recorded or nothing.
    pub fn issue_batch<E: From<LedgerError>>(
        &mut self,
        key_id: KeyId,
        batch: &BatchInfo,
        count: usize,
        mut build: impl FnMut(u64, usize) -> Result<(Pass, Vec<u8>), E>,
    ) -> Result<Vec<Record>, E> {
        let path = self.path.clone();
        let err = |source| E::from(LedgerError::Sqlite { path: path.clone(), source });
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let previous: Option<(String, i64)> = tx
            .query_row("SELECT serials, issued_at FROM batches WHERE sha256 = ?1", [&batch.sha256], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(err)?;
        if let Some((serials, at)) = &previous
            && !batch.again
        {
            return Err(LedgerError::RepeatedBatch { serials: serials.clone(), issued_at: *at as u64 }.into());
        }
        let id = key_id.to_string();
        let next: Option<i64> = tx
            .query_row("SELECT next_serial FROM serial_counter WHERE key_id = ?1", [&id], |r| r.get(0))
            .optional()
            .map_err(err)?;
        let first = next.unwrap_or(1);
        let mut records = Vec::with_capacity(count);
        for index in 0..count {
            let serial = first + index as i64;
            let (pass, envelope) = build(serial as u64, index)?;
            insert_pass(&tx, &id, &pass, &envelope).map_err(err)?;
            records.push(Record { key_id, pass, envelope });
        }
        tx.execute(
            "INSERT INTO serial_counter (key_id, next_serial) VALUES (?1, ?2)
             ON CONFLICT (key_id) DO UPDATE SET next_serial = excluded.next_serial",
            params![id, first + count as i64],
        )
        .map_err(err)?;
        let serials = if count == 0 { String::new() } else { format!("{}-{}", first, first + count as i64 - 1) };
        tx.execute(
            "INSERT INTO batches (sha256, file_name, rows, issued_at, serials) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sha256) DO UPDATE SET issued_at = excluded.issued_at, serials = batches.serials || ', ' || excluded.serials",
            params![batch.sha256, batch.file_name, count as i64, batch.now as i64, serials],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(records)
    }

    /// Passes matching the filters, by serial.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key_id, envelope FROM passes
                 WHERE (?1 IS NULL OR plate = ?1)
                   AND (?2 IS NULL OR instr(holder, ?2) > 0)
                   AND (?3 IS NULL OR (valid_from <= ?3 AND valid_until >= ?3))
                   AND (?4 IS NULL OR serial = ?4)
                 ORDER BY key_id, serial",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(
                params![
                    filter.plate,
                    filter.holder,
                    filter.valid_at.map(|t| t as i64),
                    filter.serial.map(|s| s as i64)
                ],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (key, envelope) = row.map_err(self.err())?;
            let key_id: KeyId = key.parse().map_err(|e: pass_core::keys::KeyError| self.corrupt(e.to_string()))?;
            let pass = pass_core::Envelope::decode(&envelope).map_err(|e| self.corrupt(e.to_string()))?.pass;
            out.push(Record { key_id, pass, envelope });
        }
        Ok(out)
    }

    /// Whether `serial` of `key_id` is marked for revocation, and why.
    pub fn revocation(&self, key_id: KeyId, serial: u64) -> Result<Option<(String, bool)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT reason, sent_at IS NOT NULL FROM revocations WHERE key_id = ?1 AND serial = ?2",
                params![key_id.to_string(), serial as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    fn corrupt(&self, what: String) -> LedgerError {
        LedgerError::Corrupt(self.path.clone(), what)
    }

    /// Serials among `serials` that this ledger never issued for `key_id`.
    pub fn unknown_serials(&self, key_id: KeyId, serials: &[u64]) -> Result<Vec<u64>, LedgerError> {
        let mut stmt =
            self.conn.prepare("SELECT 1 FROM passes WHERE key_id = ?1 AND serial = ?2").map_err(self.err())?;
        let mut unknown = Vec::new();
        for serial in serials {
            if !stmt.exists(params![key_id.to_string(), *serial as i64]).map_err(self.err())? {
                unknown.push(*serial);
            }
        }
        Ok(unknown)
    }

    /// Records that `serials` are to be revoked (idempotent; the first reason is kept).
    pub fn record_revocations(
        &mut self,
        key_id: KeyId,
        serials: &[u64],
        reason: &str,
        now: u64,
    ) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let err = |source| LedgerError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let id = key_id.to_string();
        for serial in serials {
            insert_revocation(&tx, &id, *serial, reason, now).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// How many passes of `key_id` are valid at `at` and not marked for revocation.
    pub fn count_valid_at(&self, key_id: KeyId, at: u64) -> Result<u64, LedgerError> {
        self.count_where(key_id, at, "p.valid_from <= ?2 AND p.valid_until >= ?2")
    }

    /// How many passes of `key_id` are issued but not valid yet at `at` (they start later), and
    /// not marked for revocation.
    pub fn count_upcoming_at(&self, key_id: KeyId, at: u64) -> Result<u64, LedgerError> {
        self.count_where(key_id, at, "p.valid_from > ?2")
    }

    fn count_where(&self, key_id: KeyId, at: u64, condition: &str) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM passes p WHERE p.key_id = ?1 AND {condition}
                     AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.key_id = p.key_id AND r.serial = p.serial)"
                ),
                params![key_id.to_string(), at as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(self.err())
    }

    /// The serial the next pass of `key_id` will take.
    pub fn next_serial(&self, key_id: KeyId) -> Result<u64, LedgerError> {
        let next: Option<i64> = self
            .conn
            .query_row("SELECT next_serial FROM serial_counter WHERE key_id = ?1", [key_id.to_string()], |r| r.get(0))
            .optional()
            .map_err(self.err())?;
        Ok(next.unwrap_or(1).max(1) as u64)
    }

    /// Makes the next pass of `key_id` take at least `serial` (never lowers it): after a ledger
    /// is restored from a backup, the serials issued since the backup are never handed out again.
    pub fn raise_next_serial(&mut self, key_id: KeyId, serial: u64) -> Result<u64, LedgerError> {
        let serial = i64::try_from(serial).map_err(|_| self.corrupt(format!("serial {serial} out of range")))?;
        self.conn
            .execute(
                "INSERT INTO serial_counter (key_id, next_serial) VALUES (?1, ?2)
                 ON CONFLICT (key_id) DO UPDATE SET next_serial = max(next_serial, excluded.next_serial)",
                params![key_id.to_string(), serial.max(1)],
            )
            .map_err(self.err())?;
        self.next_serial(key_id)
    }

    /// Every revocation of `key_id` recorded: serial → reason.
    pub fn revocations(&self, key_id: KeyId) -> Result<std::collections::BTreeMap<u64, String>, LedgerError> {
        let mut statement =
            self.conn.prepare("SELECT serial, reason FROM revocations WHERE key_id = ?1").map_err(self.err())?;
        let rows = statement
            .query_map([key_id.to_string()], |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Revocations of `key_id` recorded but not yet acknowledged by the server: serial and
    /// reason, oldest first.
    pub fn pending_revocations(&self, key_id: KeyId) -> Result<Vec<(u64, String)>, LedgerError> {
        let mut statement = self
            .conn
            .prepare("SELECT serial, reason FROM revocations WHERE key_id = ?1 AND sent_at IS NULL ORDER BY requested_at, serial")
            .map_err(self.err())?;
        let rows = statement
            .query_map([key_id.to_string()], |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Marks revocations as acknowledged by the server.
    pub fn mark_sent(&mut self, key_id: KeyId, serials: &[u64], now: u64) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let err = |source| LedgerError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        for serial in serials {
            tx.execute(
                "UPDATE revocations SET sent_at = ?3 WHERE key_id = ?1 AND serial = ?2 AND sent_at IS NULL",
                params![key_id.to_string(), *serial as i64, now as i64],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The serials every run of a batch file (by the SHA-256 of its bytes) was issued under, in
    /// order; `None` when no such file was issued.
    pub fn batch_serials(&self, sha256: &str) -> Result<Option<Vec<u64>>, LedgerError> {
        let ranges: Option<String> = self
            .conn
            .query_row("SELECT serials FROM batches WHERE sha256 = ?1", [sha256], |r| r.get(0))
            .optional()
            .map_err(self.err())?;
        let Some(ranges) = ranges else { return Ok(None) };
        let mut serials = Vec::new();
        for range in ranges.split(", ").filter(|r| !r.is_empty()) {
            let bad = || self.corrupt(format!("batch {sha256}: serial range {range:?}"));
            let (first, last) = range.split_once('-').unwrap_or((range, range));
            let (first, last): (u64, u64) = (first.parse().map_err(|_| bad())?, last.parse().map_err(|_| bad())?);
            if last < first || last - first > 1_000_000 {
                return Err(bad());
            }
            serials.extend(first..=last);
        }
        Ok(Some(serials))
    }

    /// The records of `serials` for `key_id`, in that order; serials this ledger never issued
    /// for the key are left out (see [`Ledger::unknown_serials`]).
    pub fn records(&self, key_id: KeyId, serials: &[u64]) -> Result<Vec<Record>, LedgerError> {
        let mut out = Vec::with_capacity(serials.len());
        for serial in serials {
            let filter = ListFilter { serial: Some(*serial), ..ListFilter::default() };
            out.extend(self.list(&filter)?.into_iter().filter(|r| r.key_id == key_id));
        }
        Ok(out)
    }

    /// The signed envelope of every pass recorded for `key_id`, by serial.
    pub fn envelopes(&self, key_id: KeyId) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT serial, envelope FROM passes WHERE key_id = ?1 ORDER BY serial")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([key_id.to_string()], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_count_up_and_failed_builds_leave_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.sqlite");
        let mut ledger = Ledger::open(&path).expect("opens");
        let id = KeyId([1; 8]);
        let pass = |serial| {
            let mut p = crate::issue::tests::request().into_pass(serial, 1_648_700_000);
            p.serial = serial;
            Ok::<_, LedgerError>((p, vec![serial as u8]))
        };
        assert_eq!(ledger.issue(id, "", 0, pass).expect("issues").pass.serial, 1);
        assert!(ledger.issue(id, "", 0, |_| Err(LedgerError::Corrupt(path.clone(), "signing failed".into()))).is_err());
        assert_eq!(ledger.issue(id, "", 0, pass).expect("issues").pass.serial, 2);
        assert_eq!(ledger.issue(KeyId([2; 8]), "", 0, pass).expect("issues").pass.serial, 1);
        drop(ledger);
        let mut reopened = Ledger::open(&path).expect("reopens");
        assert_eq!(reopened.issue(id, "", 0, pass).expect("issues").pass.serial, 3);
        assert_eq!(reopened.envelopes(id).expect("lists").len(), 3);
    }

    /// A key issues from one ledger: a second ledger for it is refused (it would hand out
    /// serial 1 again, and revoking one pass would revoke both), a ledger refuses another key,
    /// and `import` moves a key to another ledger with its serials continuing.
    #[test]
    fn a_key_issues_from_one_ledger() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_path = dir.path().join("issuer.key");
        let key = KeyId([1; 8]);
        let pass =
            |serial| Ok::<_, LedgerError>((crate::issue::tests::request().into_pass(serial, 1_648_700_000), vec![1]));
        let first_path = dir.path().join("ledger.sqlite");
        let mut first = Ledger::open(&first_path).expect("opens");
        first.bind(key, &key_path).expect("binds");
        first.issue(key, "", 0, pass).expect("serial 1");
        first.issue(key, "", 0, pass).expect("serial 2");
        first.bind(key, &key_path).expect("the same ledger again");
        assert!(matches!(first.bind(KeyId([2; 8]), &dir.path().join("other.key")), Err(LedgerError::OtherKey { .. })));

        let mut second = Ledger::open(&dir.path().join("other.sqlite")).expect("opens");
        let refused = second.bind(key, &key_path).expect_err("a second ledger");
        assert!(matches!(refused, LedgerError::SecondLedger { .. }), "{refused}");
        assert!(refused.to_string().contains("ledger.sqlite"), "{refused}");

        assert_eq!(second.import(&first_path, key, &key_path).expect("imports"), 2);
        second.bind(key, &key_path).expect("now the key's ledger");
        assert_eq!(second.issue(key, "", 0, pass).expect("issues").pass.serial, 3, "serials go on");
        assert!(matches!(first.bind(key, &key_path), Err(LedgerError::SecondLedger { .. })));
    }
}
