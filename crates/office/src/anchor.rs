//! The audit trail's head, signed with the office key and kept outside the database.
//!
//! - After every request that added to the trail, the console signs the last row's number and
//!   chain hash ([`pass_core::audit::Head`]) into `audit.anchor` in the data directory (whole
//!   or nothing). It signs only rows its own connection wrote: a row another process put into
//!   the database while the console runs is never signed, and `audit verify` names it.
//! - The console sends each new head to the authority's revocation server (the one its
//!   revocations go to), which keeps every head and refuses one that goes back
//!   (`/v1/audit-heads`). So someone who can write the data directory and puts back an older
//!   `audit.anchor` with an older trail is caught by the head the server holds.
//!
//! `pass-office audit verify` checks the chain against both ([`pass_core::audit::check`]): a
//! row edited and the chain recomputed, rows deleted and renumbered, a row appended, the tail
//! cut off with the recorded end rewritten, every row deleted, or an older copy put back — each
//! leaves a trail whose head is not a signed one, and signing a new head takes the office key.

use std::path::Path;

use anyhow::Context as _;
use pass_core::audit::{Anchor, Head};
use rusqlite::{Connection, OptionalExtension as _};

use crate::{Office, db};

/// The anchor file in the data directory.
pub const ANCHOR_FILE: &str = "audit.anchor";

/// The head in `data`'s anchor file (unchecked; `None`: missing or does not parse).
pub fn read(data: &Path) -> Option<Head> {
    let text = pass_files::read_to_string_capped(&data.join(ANCHOR_FILE), 4096).ok()?;
    Head::parse(&text)
}

/// The anchor file as [`pass_core::audit::check`] takes it: the latest head.
pub fn local(data: &Path) -> Anchor {
    Anchor { source: ANCHOR_FILE.into(), head: read(data), is_latest: true }
}

/// The trail's last row and its chain hash.
pub fn head(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()
}

/// Signs the trail's head into the anchor file when it moved since the head signed there, and
/// only when every row since was written by this console's connection; otherwise an error that
/// says how many rows are not its own (they stay unsigned, and `audit verify` reports them).
pub fn seal(office: &Office) -> anyhow::Result<()> {
    let mut sealed = office.sealed.lock().map_err(|_| anyhow::anyhow!("the seal lock is poisoned"))?;
    let conn = office.db()?;
    let Some((row, hash)) = head(&conn)? else { return Ok(()) };
    if *sealed == Some(row) {
        return Ok(());
    }
    let signed = read(&office.data).filter(|h| h.verifies(&office.public)).map_or(0, |h| h.row);
    let foreign: i64 = conn.query_row(
        "SELECT count(*) FROM audit WHERE id > ?1 AND id NOT IN (SELECT id FROM temp.audit_mine)",
        [signed],
        |r| r.get(0),
    )?;
    drop(conn);
    anyhow::ensure!(
        foreign == 0,
        "{foreign} audit row(s) after row {signed} were not written by this console: the trail's head is left \
         unsigned; check them with `pass-office audit verify` and `audit export`, then sign with `pass-office audit seal`"
    );
    write(&office.data, row, hash, &pass_issuer::keyfile::load_secret(&office.key)?)?;
    *sealed = Some(row);
    office.head_moved.notify_one();
    // Every change is an audit row, and only a change queues mail: the mail sender looks now,
    // not after every request.
    office.mail_waiting();
    Ok(())
}

/// Signs row `row`'s chain hash with `key` into the anchor file in `data` (whole or nothing).
fn write(data: &Path, row: i64, hash: String, key: &pass_core::SecretKey) -> anyhow::Result<()> {
    let path = data.join(ANCHOR_FILE);
    pass_files::write(&path, Head::sign(row, hash, key).text().as_bytes(), 0o600, pass_files::Mode::Replace)
        .with_context(|| path.display().to_string())
}

/// Signs the head of the trail in `data` with `key`, whatever wrote it (`init`, and
/// `pass-office audit seal` after a person checked the rows).
pub fn seal_directory(data: &Path, conn: &Connection, key: &pass_core::SecretKey) -> anyhow::Result<()> {
    let Some((row, hash)) = head(conn)? else { return Ok(()) };
    write(data, row, hash, key)
}

/// Sends the head signed in the anchor file to the revocation server, when there is one in the
/// settings and the head moved since the last one it took. A server that refuses it as going
/// back is logged loudly: the trail here is older than one this office signed before.
pub fn send(office: &Office) -> anyhow::Result<()> {
    let (server, token) = {
        let conn = office.db()?;
        (db::setting(&conn, "revocation_server")?, db::setting(&conn, "revocation_token")?)
    };
    let (Some(server), Some(token)) = (server, token) else { return Ok(()) };
    let Some(head) = read(&office.data).filter(|h| h.verifies(&office.public)) else { return Ok(()) };
    let mut sent = office.head_sent.lock().map_err(|_| anyhow::anyhow!("the sent-head lock is poisoned"))?;
    if *sent == Some(head.row) {
        return Ok(());
    }
    // With the ledger's next serial: the server keeps the highest, for a restore (`restore`).
    let next_serial = office.ledger()?.next_serial(office.public.id())?;
    pass_issuer::revoke::send_audit_head(&server, &token, &office.public, &head, Some(next_serial))
        .with_context(|| format!("sending the audit trail's head (row {})", head.row))?;
    office.server_took.store(office.now(), std::sync::atomic::Ordering::Relaxed);
    *sent = Some(head.row);
    Ok(())
}

/// The head the revocation server at `server` holds for `key`, as [`pass_core::audit::check`]
/// takes it (a copy that may lag behind). `Ok(None)`: the server holds none.
pub fn from_server(server: &str, key: &pass_core::PublicKey) -> anyhow::Result<Option<Anchor>> {
    let held = pass_issuer::revoke::fetch_audit_head(server, key.id())?;
    Ok(held.map(|answer| Anchor {
        source: format!("the revocation server {}", pass_core::view::printable(server)),
        head: Some(answer.head),
        is_latest: false,
    }))
}

/// What `pass-office audit verify` found.
#[derive(Debug)]
pub struct Report {
    /// The check against the anchor file and the server's head.
    pub verdict: pass_core::audit::Verdict,
    /// What was checked against, or could not be (for the reader, not problems).
    pub notes: Vec<String>,
}

/// Checks the trail in `data` against `audit.anchor` and the head the revocation server holds
/// (`server`, or the one in the console's settings). The flag says whether a server's head
/// vouched for it: no server set, none holding a head, or one not reached is a note, not a
/// pass, and the command exits 3 (the settings live in the same database as the trail: give
/// `--server` with the authority's address you know to be sure which server is asked).
pub fn verify(data: &Path, server: Option<&str>) -> anyhow::Result<(Report, bool)> {
    let conn = pass_files::open_sqlite(&data.join(crate::DB_FILE), std::time::Duration::from_secs(5))
        .with_context(|| data.join(crate::DB_FILE).display().to_string())?;
    let key = db::setting(&conn, "key")?
        .ok_or_else(|| anyhow::anyhow!("{}: not set up (no office key recorded)", data.display()))?;
    let public = pass_issuer::office::public_of(Path::new(&key))?;
    let mut anchors = vec![local(data)];
    let mut notes = Vec::new();
    let mut reached = false;
    let server = match server {
        Some(server) => Some(server.to_owned()),
        None => db::setting(&conn, "revocation_server")?,
    };
    match server.as_deref().map(|server| (server, from_server(server, &public))) {
        None => notes.push("no revocation server set: checked against audit.anchor only".into()),
        Some((server, Ok(None))) => notes.push(format!(
            "{} holds no head for this office: checked against audit.anchor only",
            pass_core::view::printable(server)
        )),
        Some((server, Ok(Some(anchor)))) => {
            reached = true;
            let row = anchor.head.as_ref().map_or(0, |h| h.row);
            notes.push(format!("checked against the head {} holds (row {row})", pass_core::view::printable(server)));
            anchors.push(anchor);
        }
        Some((_, Err(e))) => {
            notes.push(format!("NOT checked against the revocation server: {e:#}"));
        }
    }
    let verdict = db::verify_audit(&conn, &anchors, &public)?;
    Ok((Report { verdict, notes }, reached))
}
