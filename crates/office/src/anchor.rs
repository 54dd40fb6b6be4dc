//! The audit trail's head, signed with the office key and kept outside the database: after
//! every request that added to the trail, the console signs the last row's number and chain
//! hash ([`pass_core::audit`]) and writes them to `audit.anchor` in the data directory (whole
//! or nothing). `pass-office audit verify` checks the chain against it: a row edited and the
//! chain recomputed, rows deleted and renumbered, a row appended, the tail cut off with the
//! recorded end rewritten, or every row deleted — each leaves a trail whose head is not the
//! signed one, and signing a new head takes the office key.
//!
//! What it does not stop: someone who can write the data directory itself may put back an
//! older `audit.anchor` together with an older trail; and rows someone adds to the database
//! while the console runs are signed with the console's next change. Keeping copies of the
//! anchor elsewhere (a backup, another machine) closes the first; sending each head to the
//! authority's server is the next step.

use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension as _};

use crate::Office;

/// The anchor file in the data directory.
pub const ANCHOR_FILE: &str = "audit.anchor";

/// A signed head: the last row's number and chain hash, and the office key's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The row.
    pub row: i64,
    /// Its chain hash.
    pub hash: String,
    /// The signature ([`pass_core::audit::sign_head`]).
    pub signature: [u8; 64],
}

impl Anchor {
    fn text(&self) -> String {
        format!("{} {} {}\n", self.row, self.hash, URL_SAFE_NO_PAD.encode(self.signature))
    }

    fn parse(text: &str) -> Option<Anchor> {
        let mut words = text.split_whitespace();
        let row = words.next()?.parse().ok()?;
        let hash = words.next()?.to_owned();
        let signature = URL_SAFE_NO_PAD.decode(words.next()?).ok()?.try_into().ok()?;
        words.next().is_none().then_some(Anchor { row, hash, signature })
    }

    /// The anchor in `data`, if there is one that parses.
    pub fn read(data: &Path) -> Option<Anchor> {
        let text = pass_files::read_to_string_capped(&data.join(ANCHOR_FILE), 4096).ok()?;
        Anchor::parse(&text)
    }
}

/// The trail's last row and its chain hash.
pub fn head(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()
}

/// Signs the trail's head and writes it to the anchor file, when it moved since the last time.
pub fn seal(office: &Office) -> anyhow::Result<()> {
    let Some((row, hash)) = head(&*office.db()?)? else { return Ok(()) };
    let mut sealed = office.sealed.lock().map_err(|_| anyhow::anyhow!("the seal lock is poisoned"))?;
    if *sealed == Some(row) {
        return Ok(());
    }
    write(&office.data, row, hash, &pass_issuer::keyfile::load_secret(&office.key)?)?;
    *sealed = Some(row);
    Ok(())
}

/// Signs row `row`'s chain hash with `key` into the anchor file in `data` (whole or nothing).
fn write(data: &Path, row: i64, hash: String, key: &pass_core::SecretKey) -> anyhow::Result<()> {
    let anchor = Anchor { row, signature: pass_core::audit::sign_head(row, &hash, key), hash };
    let path = data.join(ANCHOR_FILE);
    pass_files::write(&path, anchor.text().as_bytes(), 0o600, pass_files::Mode::Replace)
        .with_context(|| path.display().to_string())
}

/// Signs the head of the trail in `data` with the key at `key` (for `init`, before any console
/// runs).
pub fn seal_directory(data: &Path, conn: &Connection, key: &pass_core::SecretKey) -> anyhow::Result<()> {
    let Some((row, hash)) = head(conn)? else { return Ok(()) };
    write(data, row, hash, key)
}

/// What is wrong with the trail in `data` measured against its signed head (nothing: empty).
pub fn check(data: &Path, conn: &Connection, key: &pass_core::PublicKey) -> rusqlite::Result<Vec<String>> {
    let mut problems = Vec::new();
    let Some(anchor) = Anchor::read(data) else {
        problems.push(format!("the trail's signed head ({ANCHOR_FILE}) is missing or damaged"));
        return Ok(problems);
    };
    if !pass_core::audit::verify_head(anchor.row, &anchor.hash, &anchor.signature, key) {
        problems.push(format!("{ANCHOR_FILE} is not signed by the office key"));
        return Ok(problems);
    }
    let held: Option<String> =
        conn.query_row("SELECT hash FROM audit WHERE id = ?1", [anchor.row], |r| r.get(0)).optional()?;
    match held {
        None => problems.push(format!("row {}, the signed head, is gone (rows deleted at the end)", anchor.row)),
        Some(hash) if hash != anchor.hash => {
            problems.push(format!("row {}, the signed head, is not the row that was signed (rewritten)", anchor.row));
        }
        Some(_) => {}
    }
    let after: i64 = conn.query_row("SELECT count(*) FROM audit WHERE id > ?1", [anchor.row], |r| r.get(0))?;
    if after > 0 {
        problems.push(format!("{after} row(s) after the signed head, not signed (added without the office key)"));
    }
    Ok(problems)
}
