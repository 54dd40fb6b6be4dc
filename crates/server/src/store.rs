//! The server's durable state: an embedded SQLite database (WAL, `synchronous=FULL`).
//!
//! Every accepted change is one `BEGIN IMMEDIATE` transaction that records the revocations,
//! bumps the version, and stores the newly signed snapshot: when it commits, the revocation is
//! on disk and in the snapshot that `export` and a restarted server serve. A version records
//! what it added, so any older version can be brought up to date with a delta.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pass_core::revocation::{self, RevocationState};
use pass_core::{KeyId, SecretKey};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "checkpass-server.sqlite";
/// The schema, one step a version (`pass_files::migrate`).
const SCHEMA: [&str; 4] = [
    // 1: versions, revocations, revoked keys, tokens, the published snapshot, trust lists.
    "CREATE TABLE versions (
                     version      INTEGER PRIMARY KEY,
                     published_at INTEGER NOT NULL
                 );
                 CREATE TABLE revocations (
                     key_id     TEXT NOT NULL,
                     serial     INTEGER NOT NULL,
                     reason     TEXT NOT NULL,
                     version    INTEGER NOT NULL REFERENCES versions (version),
                     PRIMARY KEY (key_id, serial)
                 );
                 CREATE TABLE revoked_keys (
                     key_id       TEXT NOT NULL,
                     issued_after INTEGER,
                     reason       TEXT NOT NULL,
                     version      INTEGER NOT NULL REFERENCES versions (version),
                     PRIMARY KEY (key_id, version)
                 );
                 CREATE TABLE tokens (
                     hash       BLOB PRIMARY KEY,
                     role       TEXT NOT NULL CHECK (role IN ('admin', 'issuer')),
                     key_id     TEXT,
                     created_at INTEGER NOT NULL
                 );
                 CREATE TABLE published (
                     id       INTEGER PRIMARY KEY CHECK (id = 1),
                     version  INTEGER NOT NULL,
                     snapshot BLOB NOT NULL
                 );
                 CREATE TABLE trust_versions (
                     version   INTEGER PRIMARY KEY,
                     sha256    BLOB NOT NULL,
                     issued_at INTEGER NOT NULL
                 );",
    // 2: the issuers of the trust list last served, so tokens are given only for keys the
    // server knows.
    "CREATE TABLE IF NOT EXISTS trust_issuers (key_id TEXT PRIMARY KEY);",
    // 3: the audit trail heads offices sent, every one kept.
    "CREATE TABLE audit_heads (
         key_id      TEXT NOT NULL,
         row         INTEGER NOT NULL,
         hash        TEXT NOT NULL,
         signature   TEXT NOT NULL,
         received_at INTEGER NOT NULL,
         PRIMARY KEY (key_id, row)
     );",
    // 4: the highest next serial each office reported (for restoring its ledger).
    "CREATE TABLE office_serials (key_id TEXT PRIMARY KEY, next_serial INTEGER NOT NULL);",
];

/// Why an office's audit head was not kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The server holds a newer head, or another hash for this row: the trail went back or
    /// was rewritten.
    #[error(
        "this server holds row {held_row} ({held_hash}) for this key; the head sent (row {row}) goes back or differs"
    )]
    Conflict {
        /// The newest row held.
        held_row: i64,
        /// Its hash.
        held_hash: String,
        /// The row sent.
        row: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one version added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Serials revoked, per issuer key.
    pub serials: BTreeMap<KeyId, Vec<u64>>,
    /// Keys revoked or made stricter, with their (new) cut-off.
    pub keys: BTreeMap<KeyId, Option<u64>>,
}

/// Who a bearer token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// May do everything.
    Admin,
    /// May revoke passes of this issuer key only.
    Issuer(KeyId),
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// Data in the database is inconsistent.
    #[error("database {0}: {1}")]
    Corrupt(PathBuf, String),
    /// The change would break a limit that keeps the revocation data syncable; nothing was
    /// written.
    #[error("{0}")]
    Limit(String),
}

/// The open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Hashes a bearer token for storage and lookup (tokens are never stored in clear).
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::new().chain_update(b"checkpass token v1\0").chain_update(token.as_bytes()).finalize().into()
}

/// The reason recorded for a version published again unchanged ([`Store::re_sign`]).
pub const RE_SIGN: &str = "re-signed at the current time (the data was signed while the clock was ahead)";

impl Store {
    /// Keeps an office's signed audit head (checked by the caller) unless it goes back: a row
    /// below the newest held, or the newest row with another hash. The same head again is kept
    /// once. Returns the head now newest.
    pub fn add_audit_head(
        &mut self,
        key_id: KeyId,
        head: &pass_core::audit::Head,
        next_serial: Option<u64>,
        now: u64,
    ) -> Result<pass_core::api::AuditHeadAnswer, HeadError> {
        let path = self.path.clone();
        let err = move |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&err)?;
        let held: Option<(i64, String)> = tx
            .query_row(
                "SELECT row, hash FROM audit_heads WHERE key_id = ?1 ORDER BY row DESC LIMIT 1",
                [key_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(&err)?;
        match held {
            Some((held_row, held_hash)) if held_row > head.row || (held_row == head.row && held_hash != head.hash) => {
                return Err(HeadError::Conflict { held_row, held_hash, row: head.row });
            }
            Some((held_row, _)) if held_row == head.row => {}
            _ => {
                tx.execute(
                    "INSERT INTO audit_heads (key_id, row, hash, signature, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![key_id.to_string(), head.row, head.hash, head.signature, now as i64],
                )
                .map_err(&err)?;
            }
        }
        if let Some(next) = next_serial.and_then(|n| i64::try_from(n).ok()) {
            tx.execute(
                "INSERT INTO office_serials (key_id, next_serial) VALUES (?1, ?2)
                 ON CONFLICT (key_id) DO UPDATE SET next_serial = max(next_serial, excluded.next_serial)",
                params![key_id.to_string(), next],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        self.audit_head(key_id)?.ok_or_else(|| {
            HeadError::Store(StoreError::Corrupt(self.path.clone(), "an audit head kept is gone".into()))
        })
    }

    /// The newest audit head an office sent for `key_id`.
    pub fn audit_head(&self, key_id: KeyId) -> Result<Option<pass_core::api::AuditHeadAnswer>, StoreError> {
        self.conn
            .query_row(
                "SELECT row, hash, signature, received_at,
                        (SELECT next_serial FROM office_serials s WHERE s.key_id = h.key_id)
                 FROM audit_heads h WHERE key_id = ?1 ORDER BY row DESC LIMIT 1",
                [key_id.to_string()],
                |r| {
                    Ok(pass_core::api::AuditHeadAnswer {
                        key_id,
                        head: pass_core::audit::Head { row: r.get(0)?, hash: r.get(1)?, signature: r.get(2)? },
                        received_at: r.get::<_, i64>(3)?.max(0) as u64,
                        next_serial: r.get::<_, Option<i64>>(4)?.map(|n| n.max(0) as u64),
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Opens (creating) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DB_FILE);
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Corrupt(data_dir.to_owned(), format!("cannot create data directory: {e}")))?;
        let conn = pass_files::open_sqlite(&path, Duration::from_secs(30)).map_err(err)?;
        let store = Self { conn, path };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        pass_files::migrate(&self.conn, &SCHEMA).map_err(|e| match e {
            pass_files::MigrateError::Newer(version) => StoreError::Corrupt(
                self.path.clone(),
                format!("schema version {version} is newer than this server's ({})", SCHEMA.len()),
            ),
            pass_files::MigrateError::Sqlite(source) => StoreError::Sqlite { path: self.path.clone(), source },
        })
    }

    /// Loads the whole state and the change of every version.
    pub fn load(&self) -> Result<(RevocationState, BTreeMap<u64, Change>), StoreError> {
        let mut state = RevocationState::default();
        let mut history: BTreeMap<u64, Change> = BTreeMap::new();
        let corrupt = |what: String| StoreError::Corrupt(self.path.clone(), what);
        let mut stmt =
            self.conn.prepare("SELECT version, published_at FROM versions ORDER BY version").map_err(self.err())?;
        let versions = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).map_err(self.err())?;
        for row in versions {
            let (version, at) = row.map_err(self.err())?;
            state.version = version as u64;
            state.issued_at = at as u64;
            history.entry(version as u64).or_default();
        }
        let mut stmt = self
            .conn
            .prepare("SELECT key_id, serial, version FROM revocations ORDER BY version")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
            .map_err(self.err())?;
        for row in rows {
            let (key, serial, version) = row.map_err(self.err())?;
            let key: KeyId = key.parse().map_err(|e| corrupt(format!("{e}")))?;
            state.add_serials(key, [serial as u64]);
            history.entry(version as u64).or_default().serials.entry(key).or_default().push(serial as u64);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT key_id, issued_after, version FROM revoked_keys ORDER BY version")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, i64>(2)?)))
            .map_err(self.err())?;
        for row in rows {
            let (key, after, version) = row.map_err(self.err())?;
            let key: KeyId = key.parse().map_err(|e| corrupt(format!("{e}")))?;
            state.add_key(key, after.map(|a| a as u64));
            history.entry(version as u64).or_default().keys.insert(key, state.keys[&key]);
        }
        Ok((state, history))
    }

    /// Records a change under a new version and stores the signed snapshot of the resulting
    /// state, in one transaction. `state` is the state before; it is updated only on commit.
    /// Returns the new signed snapshot, or `None` when nothing was new (no new version).
    pub fn commit_change(
        &mut self,
        state: &mut RevocationState,
        serials: &[(KeyId, u64)],
        keys: &[(KeyId, Option<u64>)],
        reason: &str,
        now: u64,
        authority: &SecretKey,
    ) -> Result<Option<(Vec<u8>, Change)>, StoreError> {
        let mut next = state.clone();
        let mut change = Change::default();
        for (key, serial) in serials {
            if next.add_serials(*key, [*serial]) == 1 {
                change.serials.entry(*key).or_default().push(*serial);
            }
        }
        for (key, after) in keys {
            if next.add_key(*key, *after) {
                change.keys.insert(*key, next.keys[key]);
            }
        }
        if change == Change::default() && reason != RE_SIGN {
            return Ok(None);
        }
        for key in change.serials.keys() {
            let held = next.serials.get(key).map_or(0, |s| s.len());
            if held > revocation::MAX_REVOKED_PER_ISSUER {
                return Err(StoreError::Limit(format!(
                    "issuer {key} would have {held} revoked serials; the limit is {} per issuer",
                    revocation::MAX_REVOKED_PER_ISSUER
                )));
            }
        }
        next.version = state.version + 1;
        // Signed at this machine's clock, never later: one clock set ahead for a while must not
        // leave every later version dated in the future too (`serve` refuses to start on data
        // dated ahead of its clock; `--re-sign` publishes it again as of now).
        next.issued_at = now;
        let snapshot = revocation::sign_snapshot(&next.snapshot(), authority);
        if snapshot.len() > revocation::MAX_SNAPSHOT_LEN {
            return Err(StoreError::Limit(format!(
                "the signed revocation snapshot would be {} bytes; the limit is {} so that every checkpoint can sync it",
                snapshot.len(),
                revocation::MAX_SNAPSHOT_LEN
            )));
        }
        self.write_version(&next, &change, reason, &snapshot)?;
        *state = next;
        Ok(Some((snapshot, change)))
    }

    /// Records `change` as version `next.version` (signed at `next.issued_at`) and stores its
    /// signed snapshot, in one transaction.
    fn write_version(
        &mut self,
        next: &RevocationState,
        change: &Change,
        reason: &str,
        snapshot: &[u8],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let version = next.version as i64;
        tx.execute(
            "INSERT INTO versions (version, published_at) VALUES (?1, ?2)",
            params![version, next.issued_at as i64],
        )
        .map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO revocations (key_id, serial, reason, version) VALUES (?1, ?2, ?3, ?4)")
                .map_err(err)?;
            for (key, serials) in &change.serials {
                for serial in serials {
                    insert.execute(params![key.to_string(), *serial as i64, reason, version]).map_err(err)?;
                }
            }
            let mut insert_key = tx
                .prepare_cached(
                    "INSERT INTO revoked_keys (key_id, issued_after, reason, version) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for (key, after) in &change.keys {
                insert_key.execute(params![key.to_string(), after.map(|a| a as i64), reason, version]).map_err(err)?;
            }
        }
        tx.execute(
            "INSERT INTO published (id, version, snapshot) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot",
            params![version, snapshot],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Takes back what a restored (older) database lacks from `seen`, a state this authority
    /// signed and a checkpoint or mirror holds (its published snapshot): every revocation in it
    /// recorded under its version, and the data goes on from there. When the database held
    /// something `seen` lacks (it was not older), the union is published as a version after it.
    /// Returns the version the data is now at; nothing changes when `seen` is not newer.
    pub fn recover(
        &mut self,
        state: &mut RevocationState,
        seen: &RevocationState,
        now: u64,
        authority: &SecretKey,
    ) -> Result<u64, StoreError> {
        if seen.version <= state.version {
            return Ok(state.version);
        }
        let mut next = state.clone();
        let mut change = Change::default();
        for (key, set) in &seen.serials {
            for serial in set {
                if next.add_serials(*key, [*serial]) == 1 {
                    change.serials.entry(*key).or_default().push(*serial);
                }
            }
        }
        for (key, after) in &seen.keys {
            if next.add_key(*key, *after) {
                change.keys.insert(*key, next.keys[key]);
            }
        }
        let (version, issued_at) = if next.digest() == seen.digest() {
            (seen.version, seen.issued_at)
        } else {
            (seen.version + 1, now.max(seen.issued_at))
        };
        next.version = version;
        next.issued_at = issued_at;
        let snapshot = revocation::sign_snapshot(&next.snapshot(), authority);
        let reason = format!("recovered after a restore, from a signed snapshot of version {}", seen.version);
        self.write_version(&next, &change, &reason, &snapshot)?;
        *state = next;
        Ok(version)
    }

    /// The last signed snapshot stored, with its version.
    pub fn published(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.conn
            .query_row("SELECT version, snapshot FROM published WHERE id = 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .optional()
            .map_err(self.err())
    }

    /// Stores a signed snapshot of the current version (at start-up, when none is stored yet
    /// or the authority key changed).
    pub fn store_published(&self, version: u64, snapshot: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO published (id, version, snapshot) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot",
                params![version as i64, snapshot],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Remembers the key ids of the trust list being served (replacing the last one's).
    pub fn set_trust_issuers(&mut self, issuers: &[KeyId]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute("DELETE FROM trust_issuers", []).map_err(err)?;
        for key in issuers {
            tx.execute("INSERT OR IGNORE INTO trust_issuers (key_id) VALUES (?1)", params![key.to_string()])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The key ids of the trust list last served (empty: the server has never had one).
    pub fn trust_issuers(&self) -> Result<Vec<String>, StoreError> {
        let mut statement =
            self.conn.prepare("SELECT key_id FROM trust_issuers ORDER BY key_id").map_err(self.err())?;
        let rows = statement.query_map([], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<Result<Vec<String>, _>>().map_err(self.err())
    }

    /// Records the trust list's content hash; returns its version and signing time, a new
    /// version when the content changed (or, with `re_sign`, in any case).
    pub fn trust_version(&self, sha256: &[u8; 32], now: u64, re_sign: bool) -> Result<(u64, u64), StoreError> {
        let latest: Option<(i64, Vec<u8>, i64)> = self
            .conn
            .query_row("SELECT version, sha256, issued_at FROM trust_versions ORDER BY version DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(self.err())?;
        match latest {
            Some((version, hash, at)) if hash == sha256 && !re_sign => Ok((version as u64, at as u64)),
            other => {
                let version = other.map_or(1, |(v, _, _)| v + 1);
                self.conn
                    .execute(
                        "INSERT INTO trust_versions (version, sha256, issued_at) VALUES (?1, ?2, ?3)",
                        params![version, sha256.as_slice(), now as i64],
                    )
                    .map_err(self.err())?;
                Ok((version as u64, now))
            }
        }
    }

    /// The signing time of the data being served (the latest revocation version and the latest
    /// trust list), Unix seconds: `serve` compares it with the clock.
    pub fn newest_signed_at(&self) -> Result<u64, StoreError> {
        let at: i64 = self
            .conn
            .query_row(
                "SELECT max(coalesce((SELECT published_at FROM versions ORDER BY version DESC LIMIT 1), 0),
                            coalesce((SELECT issued_at FROM trust_versions ORDER BY version DESC LIMIT 1), 0))",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        Ok(at.max(0) as u64)
    }

    /// Publishes the revocation data again, unchanged, as a new version signed at `now`: the
    /// recovery for data signed while this machine's clock was ahead.
    pub fn re_sign(
        &mut self,
        state: &mut RevocationState,
        now: u64,
        authority: &SecretKey,
    ) -> Result<Option<(Vec<u8>, Change)>, StoreError> {
        self.commit_change(state, &[], &[], RE_SIGN, now, authority)
    }

    /// Stores a new token's hash.
    pub fn add_token(&self, token: &str, role: Role, now: u64) -> Result<(), StoreError> {
        let (role, key) = match role {
            Role::Admin => ("admin", None),
            Role::Issuer(key) => ("issuer", Some(key.to_string())),
        };
        self.conn
            .execute(
                "INSERT INTO tokens (hash, role, key_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash(token).as_slice(), role, key, now as i64],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Every token as (id, role, created at): the id is the first 16 hex digits of its hash,
    /// enough to remove it, nothing to use it with.
    pub fn list_tokens(&self) -> Result<Vec<(String, Role, u64)>, StoreError> {
        Ok(self
            .token_rows()?
            .into_iter()
            .map(|(hash, role, created)| (hash[..8].iter().map(|b| format!("{b:02x}")).collect(), role, created))
            .collect())
    }

    /// Removes the token whose id (from [`Store::list_tokens`]) is `id`; whether one was removed.
    pub fn remove_token(&self, id: &str) -> Result<bool, StoreError> {
        let Some(prefix) = (id.len() == 16)
            .then(|| (0..8).map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).ok()).collect::<Option<Vec<u8>>>())
            .flatten()
        else {
            return Ok(false);
        };
        let removed = self
            .conn
            .execute("DELETE FROM tokens WHERE substr(hash, 1, 8) = ?1", params![prefix])
            .map_err(self.err())?;
        Ok(removed > 0)
    }

    /// Runs raw SQL (tests break the database with it).
    #[cfg(test)]
    pub(crate) fn execute_for_test(&self, sql: &str) {
        self.conn.execute_batch(sql).expect("test SQL runs");
    }

    /// Every token hash with its role.
    pub fn tokens(&self) -> Result<Vec<([u8; 32], Role)>, StoreError> {
        Ok(self.token_rows()?.into_iter().map(|(hash, role, _)| (hash, role)).collect())
    }

    /// Every token: hash, role, creation time, oldest first.
    fn token_rows(&self) -> Result<Vec<([u8; 32], Role, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, role, key_id, created_at FROM tokens ORDER BY created_at")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, role, key, created) = row.map_err(self.err())?;
            let hash: [u8; 32] =
                hash.try_into().map_err(|_| StoreError::Corrupt(self.path.clone(), "token hash length".into()))?;
            let role = match (role.as_str(), key) {
                ("admin", _) => Role::Admin,
                ("issuer", Some(key)) => Role::Issuer(
                    key.parse().map_err(|e| StoreError::Corrupt(self.path.clone(), format!("token key id: {e}")))?,
                ),
                _ => return Err(StoreError::Corrupt(self.path.clone(), "token role".into())),
            };
            out.push((hash, role, created.max(0) as u64));
        }
        Ok(out)
    }

    /// Runs SQLite's integrity check.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(self.err())
    }
}
