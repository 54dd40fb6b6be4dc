//! The checkpoint's scan log: one row per announced verdict, in an embedded SQLite database
//! beside the state file (`scanlog.sqlite`). No images are stored, only what the screen showed.
//!
//! A row is committed (WAL, `synchronous=FULL`) before the station shows its verdict, so a
//! verdict seen on screen is in the log even after `kill -9`. The row's `last_seen` and `frames`
//! grow while the pass stays in view; those updates are written at most once a second.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// Why the log could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// SQLite failed (file system, damaged database).
    #[error("scan log {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The log's directory could not be created.
    #[error("scan log {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The database was written by a newer version of checkpass.
    #[error("scan log {0} has a newer schema ({1}); use a newer pass-verifier")]
    NewerSchema(PathBuf, i64),
}

/// How a pass reached the station.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// The live camera.
    Camera,
    /// The text form, typed, pasted or from a keyboard-wedge scanner.
    Text,
    /// An uploaded photo.
    Photo,
}

impl Source {
    /// The stable name stored in the log.
    pub fn name(self) -> &'static str {
        match self {
            Source::Camera => "camera",
            Source::Text => "text",
            Source::Photo => "photo",
        }
    }

    fn from_name(name: &str) -> Source {
        match name {
            "text" => Source::Text,
            "photo" => Source::Photo,
            _ => Source::Camera,
        }
    }
}

/// One announced verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Row id (0 before it is written).
    pub id: i64,
    /// When it was announced, Unix seconds.
    pub at: u64,
    /// `accepted` or `rejected`.
    pub verdict: String,
    /// The reason code of a rejection.
    pub reason: Option<String>,
    /// The pass's serial, when the envelope could be read.
    pub serial: Option<u64>,
    /// The issuer's key id (hex), when the envelope could be read.
    pub key_id: Option<String>,
    /// The plate, when the pass could be read.
    pub plate: Option<String>,
    /// The pass number (the office's division and the serial), when the pass could be read.
    pub pass_number: Option<String>,
    /// The crew as shown (`张三（驾驶员）、李四`), when the pass could be read.
    pub crew: Option<String>,
    /// First frame with the pass in view, Unix milliseconds.
    pub first_seen_ms: u64,
    /// Last frame with the pass in view, Unix milliseconds.
    pub last_seen_ms: u64,
    /// Frames that showed the pass.
    pub frames: u64,
    /// How the pass came in.
    pub source: Source,
    /// Age of the revocation data when it was checked, seconds (`None`: no data).
    pub revocation_age: Option<u64>,
    /// Warning codes, comma-separated.
    pub warnings: String,
}

/// Earlier announcements of the same pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenBefore {
    /// How many times it was announced since the start of the day.
    pub count: u64,
    /// When it was first announced that day, Unix seconds.
    pub first_at: u64,
}

/// The open scan log.
pub struct ScanLog {
    conn: Connection,
    path: PathBuf,
}

/// The schema, one step a version (`pass_files::migrate`).
const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS scans (
                id INTEGER PRIMARY KEY,
                at INTEGER NOT NULL,
                verdict TEXT NOT NULL,
                reason TEXT,
                serial INTEGER,
                key_id TEXT,
                plate TEXT,
                first_seen_ms INTEGER NOT NULL,
                last_seen_ms INTEGER NOT NULL,
                frames INTEGER NOT NULL,
                source TEXT NOT NULL,
                revocation_age INTEGER,
                warnings TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS scans_at ON scans(at);
            CREATE INDEX IF NOT EXISTS scans_pass ON scans(key_id, serial, at);",
    // 2: the pass number and the crew, as the screen showed them.
    "ALTER TABLE scans ADD COLUMN pass_number TEXT;
     ALTER TABLE scans ADD COLUMN crew TEXT;",
];

impl ScanLog {
    /// The log's file beside the state file.
    pub fn path_beside(state_path: &Path) -> PathBuf {
        state_path.with_file_name("scanlog.sqlite")
    }

    /// Opens (or creates) the log.
    pub fn open(path: &Path) -> Result<ScanLog, LogError> {
        let err = |source| LogError::Sqlite { path: path.to_owned(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LogError::Io { path: path.to_owned(), source })?;
        }
        let conn = pass_files::open_sqlite(path, std::time::Duration::from_secs(5)).map_err(err)?;
        pass_files::migrate(&conn, &SCHEMA).map_err(|e| match e {
            pass_files::MigrateError::Newer(version) => LogError::NewerSchema(path.to_owned(), version),
            pass_files::MigrateError::Sqlite(source) => LogError::Sqlite { path: path.to_owned(), source },
        })?;
        Ok(ScanLog { conn, path: path.to_owned() })
    }

    fn err(&self) -> impl FnOnce(rusqlite::Error) -> LogError + '_ {
        move |source| LogError::Sqlite { path: self.path.clone(), source }
    }

    /// Writes an announcement and returns its row id; committed to disk when this returns.
    pub fn record(&self, entry: &Entry) -> Result<i64, LogError> {
        self.conn
            .execute(
                "INSERT INTO scans (at, verdict, reason, serial, key_id, plate, first_seen_ms, last_seen_ms,
                                    frames, source, revocation_age, warnings, pass_number, crew)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    entry.at as i64,
                    entry.verdict,
                    entry.reason,
                    entry.serial.map(|s| s as i64),
                    entry.key_id,
                    entry.plate,
                    entry.first_seen_ms as i64,
                    entry.last_seen_ms as i64,
                    entry.frames as i64,
                    entry.source.name(),
                    entry.revocation_age.map(|a| a as i64),
                    entry.warnings,
                    entry.pass_number,
                    entry.crew,
                ],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records that the announced pass is still in view.
    pub fn update_seen(&self, id: i64, last_seen_ms: u64, frames: u64) -> Result<(), LogError> {
        self.conn
            .execute(
                "UPDATE scans SET last_seen_ms = ?2, frames = ?3 WHERE id = ?1",
                params![id, last_seen_ms as i64, frames as i64],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Announcements of pass `serial` of `key_id` at or after `since` (Unix seconds).
    pub fn seen_since(&self, key_id: &str, serial: u64, since: u64) -> Result<Option<SeenBefore>, LogError> {
        let row: Option<(i64, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT COUNT(*), MIN(at) FROM scans WHERE key_id = ?1 AND serial = ?2 AND at >= ?3",
                params![key_id, serial as i64, since as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        Ok(match row {
            Some((count, Some(first))) if count > 0 => {
                Some(SeenBefore { count: count as u64, first_at: first.max(0) as u64 })
            }
            _ => None,
        })
    }

    /// Accepted and rejected announcements at or after `since` (Unix seconds).
    pub fn counts_since(&self, since: u64) -> Result<(u64, u64), LogError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(verdict = 'accepted'), 0), COALESCE(SUM(verdict <> 'accepted'), 0)
                 FROM scans WHERE at >= ?1",
                params![since as i64],
                |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, i64>(1)?.max(0) as u64)),
            )
            .map_err(self.err())
    }

    /// Every row at or after `since`, oldest first.
    pub fn entries_since(&self, since: u64) -> Result<Vec<Entry>, LogError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, at, verdict, reason, serial, key_id, plate, first_seen_ms, last_seen_ms, frames, source,
                        revocation_age, warnings, pass_number, crew
                 FROM scans WHERE at >= ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map(params![since as i64], |r| {
                Ok(Entry {
                    id: r.get(0)?,
                    at: r.get::<_, i64>(1)?.max(0) as u64,
                    verdict: r.get(2)?,
                    reason: r.get(3)?,
                    serial: r.get::<_, Option<i64>>(4)?.map(|s| s.max(0) as u64),
                    key_id: r.get(5)?,
                    plate: r.get(6)?,
                    first_seen_ms: r.get::<_, i64>(7)?.max(0) as u64,
                    last_seen_ms: r.get::<_, i64>(8)?.max(0) as u64,
                    frames: r.get::<_, i64>(9)?.max(0) as u64,
                    source: Source::from_name(&r.get::<_, String>(10)?),
                    revocation_age: r.get::<_, Option<i64>>(11)?.map(|a| a.max(0) as u64),
                    warnings: r.get(12)?,
                    pass_number: r.get(13)?,
                    crew: r.get(14)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }
}

/// Why entries could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing failed (a closed pipe, a full disk).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A CSV row could not be written.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// An entry could not be made JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// How `pass-verifier log` writes entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// One line each, for people.
    Lines,
    /// One JSON object per line, times in RFC 3339.
    Json,
    /// CSV, every text cell safe from spreadsheet formulas.
    Csv,
}

/// One row of `log --csv` (text cells through `csv_cell`: a plate crafted as a formula is
/// shown as text in a spreadsheet).
#[derive(Serialize)]
struct LogRow<'a> {
    id: i64,
    at: String,
    verdict: String,
    reason: String,
    serial: Option<u64>,
    key_id: String,
    plate: String,
    pass_number: String,
    crew: String,
    first_seen: String,
    last_seen: String,
    frames: u64,
    source: &'a str,
    revocation_age_s: Option<u64>,
    warnings: String,
}

/// Writes `entries` to `out` as `format` says, times in `tz`.
pub fn export(
    entries: &[Entry],
    format: Export,
    tz: &jiff::tz::TimeZone,
    mut out: impl std::io::Write,
) -> Result<(), ExportError> {
    let time = |secs: u64| pass_core::time::rfc3339(secs, tz);
    let time_ms = |ms: u64| pass_core::time::rfc3339(ms / 1000, tz);
    match format {
        Export::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            for e in entries {
                let cell = |text: &str| pass_core::view::csv_cell(text).into_owned();
                writer.serialize(LogRow {
                    id: e.id,
                    at: time(e.at),
                    verdict: cell(&e.verdict),
                    reason: cell(e.reason.as_deref().unwrap_or_default()),
                    serial: e.serial,
                    key_id: cell(e.key_id.as_deref().unwrap_or_default()),
                    plate: cell(e.plate.as_deref().unwrap_or_default()),
                    pass_number: cell(e.pass_number.as_deref().unwrap_or_default()),
                    crew: cell(e.crew.as_deref().unwrap_or_default()),
                    first_seen: time_ms(e.first_seen_ms),
                    last_seen: time_ms(e.last_seen_ms),
                    frames: e.frames,
                    source: e.source.name(),
                    revocation_age_s: e.revocation_age,
                    warnings: cell(&e.warnings),
                })?;
            }
            writer.flush()?;
        }
        Export::Json => {
            for e in entries {
                let mut value = serde_json::to_value(e)?;
                value["at"] = serde_json::json!(time(e.at));
                value["first_seen"] = serde_json::json!(time_ms(e.first_seen_ms));
                value["last_seen"] = serde_json::json!(time_ms(e.last_seen_ms));
                writeln!(out, "{value}")?;
            }
        }
        Export::Lines => {
            for e in entries {
                writeln!(
                    out,
                    "{}  {:8}  {:22}  {:10}  serial {:>8}  {} frames  {}",
                    pass_core::time::human(e.at, tz),
                    e.verdict,
                    e.reason.as_deref().unwrap_or("-"),
                    e.plate.as_deref().unwrap_or("-"),
                    e.serial.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    e.frames,
                    e.source.name(),
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

    use super::*;

    fn entry(at: u64, verdict: &str, serial: u64) -> Entry {
        Entry {
            id: 0,
            at,
            verdict: verdict.into(),
            reason: (verdict != "accepted").then(|| "revoked".into()),
            serial: Some(serial),
            key_id: Some("f3c3dcf66c87927e".into()),
            plate: Some("粤A12345".into()),
            pass_number: Some(format!("440114{serial:06}")),
            crew: Some("张三（驾驶员）、李四".into()),
            first_seen_ms: at * 1000,
            last_seen_ms: at * 1000,
            frames: 1,
            source: Source::Camera,
            revocation_age: Some(60),
            warnings: String::new(),
        }
    }

    #[test]
    fn records_counts_and_finds_earlier_scans() {
        let dir = tempfile::tempdir().unwrap();
        let path = ScanLog::path_beside(&dir.path().join("state.bin"));
        let log = ScanLog::open(&path).unwrap();
        let id = log.record(&entry(1000, "accepted", 7)).unwrap();
        log.update_seen(id, 1_004_500, 42).unwrap();
        log.record(&entry(2000, "rejected", 8)).unwrap();
        log.record(&entry(3000, "accepted", 7)).unwrap();
        drop(log);

        let log = ScanLog::open(&path).unwrap();
        assert_eq!(log.counts_since(0).unwrap(), (2, 1));
        assert_eq!(log.counts_since(1500).unwrap(), (1, 1));
        assert_eq!(log.seen_since("f3c3dcf66c87927e", 7, 0).unwrap(), Some(SeenBefore { count: 2, first_at: 1000 }));
        assert_eq!(log.seen_since("f3c3dcf66c87927e", 9, 0).unwrap(), None);
        let rows = log.entries_since(0).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].last_seen_ms, rows[0].frames), (1_004_500, 42));
        assert_eq!(rows[1].reason.as_deref(), Some("revoked"));
    }
}
