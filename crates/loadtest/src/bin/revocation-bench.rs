//! Revocation data sizes, for `scripts/bench-revocations.sh` (which adds the HTTP throughput
//! runs against nginx). Prints a table and prepares a server data directory:
//!
//! `revocation-bench DATA_DIR SNAPSHOT_FILE` — 1,000,000 issued serials, 10,000 revoked at
//! random (seeded), committed through the real store; then 100 more; prints the snapshot and
//! delta sizes with the reference points of BRIEF.md, and writes the final snapshot for nginx.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pass_core::revocation::{self, RevocationState};
use pass_core::{KeyId, SecretKey};
use pass_loadtest::SplitMix;
use pass_server::publish::{Answer, History, Published};
use pass_server::store::Store;

const ISSUED: u64 = 1_000_000;
const REVOKED: usize = 10_000;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(data), Some(out)) = (args.next().map(PathBuf::from), args.next().map(PathBuf::from)) else {
        anyhow::bail!("usage: revocation-bench DATA_DIR SNAPSHOT_FILE");
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let authority = SecretKey::from_pem(&std::fs::read_to_string(root.join("keys-example/authority.key"))?)?;
    let key = KeyId(*b"benchkey");
    let mut rng = SplitMix(20_220_401);
    let mut set = BTreeSet::new();
    while set.len() < REVOKED {
        set.insert(rng.draw() % ISSUED + 1);
    }
    let mut store = Store::open(&data)?;
    let mut state = RevocationState::default();
    let serials: Vec<(KeyId, u64)> = set.iter().map(|s| (key, *s)).collect();
    let (snapshot, first) = store
        .commit_change(&mut state, &serials, &[], "bench", 1_780_000_000, &authority)?
        .ok_or_else(|| anyhow::anyhow!("nothing committed: is {} a fresh directory?", data.display()))?;
    let before = state.clone();
    let mut more = Vec::new();
    while more.len() < 100 {
        let s = rng.draw() % ISSUED + 1;
        if !state.is_revoked(key, s) && !more.contains(&(key, s)) {
            more.push((key, s));
        }
    }
    let (final_snapshot, second) = store
        .commit_change(&mut state, &more, &[], "bench", 1_780_000_600, &authority)?
        .ok_or_else(|| anyhow::anyhow!("nothing committed"))?;
    let mut changes = std::collections::BTreeMap::new();
    changes.insert(before.version, first);
    changes.insert(state.version, second);
    let history = History { state: state.clone(), changes };
    let published = Published::new(&state, final_snapshot.clone());
    let Answer::Delta(delta) = history.answer(before.version, &published, &authority) else {
        anyhow::bail!("expected a delta");
    };
    let mut check = before.clone();
    check.apply_document(&delta, &authority.public_key())?;
    assert_eq!(check, state, "the delta reproduces the state");
    let coded: usize = revocation::RevocationState::snapshot(&before).issuers.iter().map(|s| s.data.len()).sum();
    std::fs::write(&out, &final_snapshot)?;

    println!("| revocation data, 1,000,000 issued, 10,000 random revoked | bytes |");
    println!("|---|---|");
    println!("| signed snapshot (header, Rice-coded set, signature) | {} |", snapshot.len());
    println!("| of which the Rice-coded serial set | {coded} |");
    println!("| goal | ≤ 12,288 (12 KB) |");
    println!("| information-theoretic floor (BRIEF.md) | ≈ 10,100 |");
    println!("| gzipped Bitstring Status List (BRIEF.md) | ≈ 14,000 |");
    println!("| signed delta for 100 new revocations | {} |", delta.len());
    println!("| signed snapshot after them (served by the HTTP runs) | {} |", final_snapshot.len());
    Ok(())
}
