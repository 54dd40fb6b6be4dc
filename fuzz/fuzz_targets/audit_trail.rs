//! The office audit trail's verifier (`pass_core::audit::check`, what `pass-office audit
//! verify` runs over the database's rows, `audit.anchor` and the revocation server's head).
//!
//! Input: a mode byte. Raw mode: the rest is read as rows (`id|at|actor|action|detail|prev|hash`
//! lines), a recorded end and two anchor files' text, none signed. Edit mode: a genuine trail of
//! up to 40 rows with its head signed (latest, and an older one as the server's), then the
//! input as a list of edits: change a field of a row, delete, duplicate or swap rows, insert a
//! row, rewrite the recorded end, re-chain everything after, as a forger with the database file
//! but not the key would.
//!
//! Invariants: no panic; at most `MAX_PROBLEMS`; an unedited trail is whole; a trail called
//! whole is the genuine trail, row for row (the fuzzer cannot sign a head, so "whole" must mean
//! nothing was changed that the signed heads cover, and nothing added after the latest).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_core::SecretKey;
use pass_core::audit::{self, Anchor, Head, Row};

fn key() -> SecretKey {
    SecretKey::from_seed(&[0xC1; 32])
}

fn genuine(n: usize) -> Vec<Row> {
    let mut prev = audit::GENESIS.to_owned();
    (1..=n as i64)
        .map(|id| {
            let (actor, action, detail) = ("admin", ["login", "approve", "issue"][id as usize % 3], format!("application {id}"));
            let hash = audit::chain_hash(&prev, 1_780_000_000 + id as u64, actor, action, &detail);
            Row {
                id,
                at: 1_780_000_000 + id as u64,
                actor: actor.into(),
                action: action.into(),
                detail,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

fn rechain(rows: &mut [Row], from: usize) {
    let mut prev = if from == 0 { audit::GENESIS.to_owned() } else { rows[from - 1].hash.clone() };
    for row in &mut rows[from..] {
        row.prev_hash = prev;
        row.hash = audit::chain_hash(&row.prev_hash, row.at, &row.actor, &row.action, &row.detail);
        prev = row.hash.clone();
    }
}

fn end(rows: &[Row]) -> Option<String> {
    rows.last().map(|r| format!("{}:{}", r.id, r.hash))
}

fn run(rows: &[Row], end: Option<&str>, anchors: &[Anchor]) -> audit::Verdict {
    let verdict = audit::check(rows.iter().cloned().map(Ok::<_, ()>), end, anchors, &key().public_key())
        .expect("rows from memory");
    assert!(verdict.problems.len() <= audit::MAX_PROBLEMS);
    assert_eq!(verdict.rows, rows.len());
    for problem in &verdict.problems {
        let _ = problem.to_string();
    }
    verdict
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    if mode % 2 == 0 {
        // Raw: rows, an end and two anchors, all from the input.
        let parts: Vec<&[u8]> = rest.split(|b| *b == 0).collect();
        let rows: Vec<Row> = parts
            .first()
            .map(|p| text(p))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split('|').collect();
                let [id, at, actor, action, detail, prev, hash] = f[..] else { return None };
                Some(Row {
                    id: id.parse().ok()?,
                    at: at.parse().ok()?,
                    actor: actor.into(),
                    action: action.into(),
                    detail: detail.into(),
                    prev_hash: prev.into(),
                    hash: hash.into(),
                })
            })
            .collect();
        let recorded = parts.get(1).map(|p| text(p));
        let anchors: Vec<Anchor> = parts[2.min(parts.len())..]
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, p)| Anchor { source: format!("anchor {i}"), head: Head::parse(&text(p)), is_latest: i == 0 })
            .collect();
        let verdict = run(&rows, recorded.as_deref(), &anchors);
        // Nothing here is signed: a trail with a head to check is never whole.
        if !anchors.is_empty() {
            assert!(!verdict.problems.is_empty(), "an unsigned head passed");
        }
        return;
    }
    // Edits on a genuine, signed trail.
    let [n, server_at, edits @ ..] = rest else { return };
    let n = 1 + (*n as usize % 40);
    let original = genuine(n);
    let key = key();
    let latest = Anchor {
        source: "audit.anchor".into(),
        head: Some(Head::sign(n as i64, original[n - 1].hash.clone(), &key)),
        is_latest: true,
    };
    let at = 1 + (*server_at as usize % n);
    let server = Anchor {
        source: "server".into(),
        head: Some(Head::sign(at as i64, original[at - 1].hash.clone(), &key)),
        is_latest: false,
    };
    let anchors = [latest, server];
    assert!(run(&original, end(&original).as_deref(), &anchors).problems.is_empty(), "the genuine trail");
    let mut rows = original.clone();
    let mut recorded = end(&rows);
    for edit in edits.chunks(3) {
        let [op, a, b] = edit else { break };
        let len = rows.len();
        let i = if len == 0 { 0 } else { *a as usize % len };
        match op % 9 {
            0 if len > 0 => rows[i].detail.push(*b as char),
            1 if len > 0 => rows[i].at = rows[i].at.wrapping_add(u64::from(*b)),
            2 if len > 0 => rows[i].id = rows[i].id.wrapping_add(i64::from(*b as i8)),
            3 if len > 0 => {
                rows.remove(i);
            }
            4 if len > 0 => {
                let copy = rows[i].clone();
                rows.insert(i, copy);
            }
            5 if len > 1 => rows.swap(i, *b as usize % len),
            6 => {
                let id = rows.last().map_or(1, |r| r.id + 1);
                rows.push(Row {
                    id,
                    at: u64::from(*b),
                    actor: "admin".into(),
                    action: "approve".into(),
                    detail: "application 99".into(),
                    prev_hash: String::new(),
                    hash: String::new(),
                });
            }
            7 => {
                let len = rows.len();
                rechain(&mut rows, i.min(len));
                for (k, row) in rows.iter_mut().enumerate() {
                    if *b & 1 == 1 {
                        row.id = k as i64 + 1;
                    }
                }
                rechain(&mut rows, 0);
            }
            8 => recorded = if *b & 1 == 1 { end(&rows) } else { None },
            _ => {}
        }
    }
    let verdict = run(&rows, recorded.as_deref(), &anchors);
    if verdict.problems.is_empty() {
        assert_eq!(rows, original, "a changed trail was called whole");
    }
});
