//! An issuing office's audit trail: the hash chain its rows form, the head the office key
//! signs (the last row's number and chain hash), and the one check of a trail against its
//! recorded end and every signed head known (the anchor file beside the database, the head the
//! authority's server received).
//!
//! Whoever can write the console's database but holds neither the office key nor the signed
//! heads kept elsewhere cannot rewrite, append to, truncate or empty the trail unseen: each
//! leaves a trail whose rows do not chain, or whose head is not a signed one. The signature is
//! domain-separated from every other signature the key makes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::keys::PublicKey;

/// The domain a head's signature is made over.
const DOMAIN: &[u8] = b"checkpass office audit head v1\0";

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest chain hash text accepted in a head (a SHA-256 in hex is 64).
const MAX_HASH_CHARS: usize = 128;

fn message(row: i64, hash: &str) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(&row.to_le_bytes());
    message.extend_from_slice(&(hash.len() as u64).to_le_bytes());
    message.extend_from_slice(hash.as_bytes());
    message
}

/// Signs the head: row `row`, whose chain hash is `hash`.
#[cfg(feature = "sign")]
pub fn sign_head(row: i64, hash: &str, key: &crate::keys::SecretKey) -> [u8; 64] {
    use ed25519_dalek::Signer as _;
    key.signing_key().sign(&message(row, hash)).to_bytes()
}

/// Whether `signature` is the office key's over this head (`verify_strict`).
pub fn verify_head(row: i64, hash: &str, signature: &[u8; 64], key: &PublicKey) -> bool {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verifying_key().verify_strict(&message(row, hash), &signature).is_ok()
}

/// The chain hash of a row: SHA-256 over the previous row's hash and this row's fields, each
/// length-prefixed, in hex.
pub fn chain_hash(prev: &str, at: u64, actor: &str, action: &str, detail: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"checkpass office audit v1\0");
    for part in [prev.as_bytes(), &at.to_le_bytes(), actor.as_bytes(), action.as_bytes(), detail.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One row of the trail, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Its number: 1, 2, 3… without gaps.
    pub id: i64,
    /// When (Unix seconds).
    pub at: u64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Details.
    pub detail: String,
    /// The row before's hash ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This row's hash ([`chain_hash`]).
    pub hash: String,
}

/// A signed head: the last row's number and chain hash, and the office key's signature.
/// As text (the anchor file): `ROW HASH SIGNATURE`, the signature in unpadded base64url; as
/// JSON (`/v1/audit-heads`): the same three fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The row.
    pub row: i64,
    /// Its chain hash.
    pub hash: String,
    /// The signature ([`sign_head`]), unpadded base64url.
    pub signature: String,
}

impl Head {
    /// Signs row `row`, whose chain hash is `hash`.
    #[cfg(feature = "sign")]
    pub fn sign(row: i64, hash: String, key: &crate::keys::SecretKey) -> Head {
        let signature = URL_SAFE_NO_PAD.encode(sign_head(row, &hash, key));
        Head { row, hash, signature }
    }

    /// Whether the office key signed it (and its fields are in range).
    pub fn verifies(&self, key: &PublicKey) -> bool {
        let signature: Option<[u8; 64]> =
            URL_SAFE_NO_PAD.decode(&self.signature).ok().and_then(|bytes| bytes.try_into().ok());
        self.row > 0
            && self.hash.len() <= MAX_HASH_CHARS
            && signature.is_some_and(|signature| verify_head(self.row, &self.hash, &signature, key))
    }

    /// The anchor file's line.
    pub fn text(&self) -> String {
        format!("{} {} {}\n", self.row, self.hash, self.signature)
    }

    /// Reads an anchor file's line (`None`: not one).
    pub fn parse(text: &str) -> Option<Head> {
        let mut words = text.split_whitespace();
        let row = words.next()?.parse().ok()?;
        let hash = words.next()?.to_owned();
        let signature = words.next()?.to_owned();
        words.next().is_none().then_some(Head { row, hash, signature })
    }
}

/// A place a signed head is kept, and what it proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Where it came from, for messages ("audit.anchor", "the authority's server").
    pub source: String,
    /// The head found there; `None`: there is none, or it does not parse.
    pub head: Option<Head>,
    /// Whether rows after the head are wrong: true for the anchor the console signs after
    /// every change; false for a copy sent elsewhere now and then, which may lag behind.
    pub is_latest: bool,
}

/// Something wrong with a trail. (Each variant's fields are named in its line.)
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Problem {
    /// Rows numbered `from` to `to` are missing.
    Gap { from: i64, to: i64 },
    /// A row does not name the row before's hash.
    NotLinked { row: i64 },
    /// A row's hash does not match its contents.
    Edited { row: i64 },
    /// The recorded end (`row:hash`) names another last row.
    EndMoved { last: i64, recorded: String },
    /// Rows exist but no end is recorded.
    NoEnd,
    /// There is no signed head at `source`, or it does not parse.
    NoHead { source: String },
    /// The head at `source` is not signed by the office key.
    HeadNotSigned { source: String },
    /// The signed head's row is gone.
    HeadGone { source: String, row: i64 },
    /// The signed head's row holds another hash.
    HeadRewritten { source: String, row: i64 },
    /// Rows after the latest signed head.
    Unsigned { source: String, rows: u64 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Gap { from, to } => write!(f, "rows {from} to {to} are missing (deleted)"),
            Problem::NotLinked { row } => {
                write!(f, "row {row} does not follow the row before it (a row was deleted or inserted)")
            }
            Problem::Edited { row } => write!(f, "row {row} was edited: its hash does not match its contents"),
            Problem::EndMoved { last, recorded } => {
                write!(f, "the trail ends at row {last}, but its last row was {recorded} (rows deleted at the end)")
            }
            Problem::NoEnd => write!(f, "the trail's recorded end is missing"),
            Problem::NoHead { source } => write!(f, "the trail's signed head ({source}) is missing or damaged"),
            Problem::HeadNotSigned { source } => write!(f, "the head in {source} is not signed by the office key"),
            Problem::HeadGone { source, row } => {
                write!(f, "row {row}, the head signed in {source}, is gone (rows deleted, or an older trail put back)")
            }
            Problem::HeadRewritten { source, row } => {
                write!(f, "row {row}, the head signed in {source}, is not the row that was signed (rewritten)")
            }
            Problem::Unsigned { source, rows } => {
                write!(f, "{rows} row(s) after the head signed in {source}, not signed (added without the office key)")
            }
        }
    }
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Rows read.
    pub rows: usize,
    /// What is wrong; empty: the trail is whole.
    pub problems: Vec<Problem>,
}

/// Most problems reported (a trail of a million edited rows says so in a page, not a million
/// lines).
pub const MAX_PROBLEMS: usize = 1000;

/// Checks a trail, oldest row first, against its recorded end (`row:hash`, kept beside it) and
/// the signed heads in `anchors`. A trail in an initialised office always has rows and a
/// signed head: an empty or headless trail is broken. Reads the rows once, holding none.
pub fn check<E>(
    rows: impl IntoIterator<Item = Result<Row, E>>,
    recorded_end: Option<&str>,
    anchors: &[Anchor],
    key: &PublicKey,
) -> Result<Verdict, E> {
    let mut problems = Vec::new();
    let push = |problems: &mut Vec<Problem>, problem| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(problem);
        }
    };
    // The heads that verify; each marked when its row is met with the signed hash.
    let mut heads: Vec<(&Anchor, &Head, Option<bool>, u64)> = Vec::new();
    for anchor in anchors {
        match &anchor.head {
            None => push(&mut problems, Problem::NoHead { source: anchor.source.clone() }),
            Some(head) if !head.verifies(key) => {
                push(&mut problems, Problem::HeadNotSigned { source: anchor.source.clone() })
            }
            Some(head) => heads.push((anchor, head, None, 0)),
        }
    }
    let (mut prev, mut last_id, mut count) = (GENESIS.to_owned(), 0i64, 0usize);
    for row in rows {
        let row = row?;
        count += 1;
        if row.id != last_id.saturating_add(1) {
            push(&mut problems, Problem::Gap { from: last_id.saturating_add(1), to: row.id.saturating_sub(1) });
        }
        if row.prev_hash != prev {
            push(&mut problems, Problem::NotLinked { row: row.id });
        }
        if chain_hash(&row.prev_hash, row.at, &row.actor, &row.action, &row.detail) != row.hash {
            push(&mut problems, Problem::Edited { row: row.id });
        }
        for (_, head, seen, after) in &mut heads {
            if row.id == head.row {
                *seen = Some(seen.unwrap_or(true) && row.hash == head.hash);
            } else if row.id > head.row {
                *after += 1;
            }
        }
        (prev, last_id) = (row.hash, row.id);
    }
    match recorded_end {
        Some(end) if end != format!("{last_id}:{prev}") => {
            push(&mut problems, Problem::EndMoved { last: last_id, recorded: end.to_owned() })
        }
        None if count > 0 => push(&mut problems, Problem::NoEnd),
        _ => {}
    }
    for (anchor, head, seen, after) in heads {
        let source = anchor.source.clone();
        match seen {
            None => push(&mut problems, Problem::HeadGone { source, row: head.row }),
            Some(false) => push(&mut problems, Problem::HeadRewritten { source, row: head.row }),
            Some(true) if anchor.is_latest && after > 0 => {
                push(&mut problems, Problem::Unsigned { source, rows: after })
            }
            Some(true) => {}
        }
    }
    Ok(Verdict { rows: count, problems })
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn trail(n: i64) -> Vec<Row> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|id| {
                let hash = chain_hash(&prev, id as u64, "admin", "login", "");
                Row {
                    id,
                    at: id as u64,
                    actor: "admin".into(),
                    action: "login".into(),
                    detail: String::new(),
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                }
            })
            .collect()
    }

    fn run(rows: &[Row], anchors: &[Anchor], key: &SecretKey) -> Vec<Problem> {
        let end = rows.last().map(|r| format!("{}:{}", r.id, r.hash));
        check(rows.iter().cloned().map(Ok::<_, ()>), end.as_deref(), anchors, &key.public_key())
            .expect("rows from memory")
            .problems
    }

    fn anchor(rows: &[Row], at: usize, key: &SecretKey, is_latest: bool) -> Anchor {
        let row = &rows[at - 1];
        Anchor { source: "here".into(), head: Some(Head::sign(row.id, row.hash.clone(), key)), is_latest }
    }

    #[test]
    fn a_head_verifies_only_as_signed() {
        let key = SecretKey::from_seed(&[70; 32]);
        let signature = sign_head(12, "ab12", &key);
        assert!(verify_head(12, "ab12", &signature, &key.public_key()));
        assert!(!verify_head(11, "ab12", &signature, &key.public_key()), "another row");
        assert!(!verify_head(12, "ab13", &signature, &key.public_key()), "another hash");
        assert!(!verify_head(12, "ab12", &signature, &SecretKey::from_seed(&[71; 32]).public_key()), "another key");
        let head = Head::sign(3, "ab".into(), &key);
        assert_eq!(Head::parse(&head.text()), Some(head.clone()));
        assert!(head.verifies(&key.public_key()));
        assert!(!Head { row: 4, ..head }.verifies(&key.public_key()));
    }

    #[test]
    fn a_whole_trail_passes_and_every_rewrite_is_named() {
        let key = SecretKey::from_seed(&[72; 32]);
        let rows = trail(5);
        assert_eq!(run(&rows, &[anchor(&rows, 5, &key, true)], &key), []);
        // A lagging copy elsewhere may be older; the latest may not.
        assert_eq!(run(&rows, &[anchor(&rows, 3, &key, false)], &key), []);
        assert!(matches!(run(&rows, &[anchor(&rows, 3, &key, true)], &key)[..], [Problem::Unsigned { rows: 2, .. }]));
        // An older trail put back, held against a head sent elsewhere.
        let newer = anchor(&trail(7), 7, &key, false);
        assert!(matches!(run(&rows, &[newer], &key)[..], [Problem::HeadGone { row: 7, .. }]));
        // Re-chained from an edit: the signed head's row is another row now.
        let mut edited = trail(5);
        edited[2].detail = "nothing".into();
        let mut prev = GENESIS.to_owned();
        for row in &mut edited {
            row.prev_hash = prev.clone();
            row.hash = chain_hash(&prev, row.at, &row.actor, &row.action, &row.detail);
            prev = row.hash.clone();
        }
        assert!(matches!(
            run(&edited, &[anchor(&rows, 5, &key, true)], &key)[..],
            [Problem::HeadRewritten { row: 5, .. }]
        ));
        // No head, a head another key signed, an empty trail.
        assert!(matches!(
            run(&rows, &[Anchor { source: "x".into(), head: None, is_latest: true }], &key)[..],
            [Problem::NoHead { .. }]
        ));
        let other = SecretKey::from_seed(&[73; 32]);
        assert!(matches!(run(&rows, &[anchor(&rows, 5, &other, true)], &key)[..], [Problem::HeadNotSigned { .. }]));
        assert!(matches!(run(&[], &[anchor(&rows, 5, &key, true)], &key)[..], [Problem::HeadGone { .. }]));
    }
}
