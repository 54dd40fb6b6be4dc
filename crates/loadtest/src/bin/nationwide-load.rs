//! Nationwide load test, for `scripts/load-test.sh nationwide` (which starts Debian's nginx on
//! an empty directory with `docs/nginx-static.conf` and runs this). Not a test: a bounded run
//! that prints a table.
//!
//! `nationwide-load DIR URL SECONDS`, time compressed (`TICK` stands for 5 minutes):
//! - **34 authorities** (one per province-level division), each with its own key, a trust list
//!   of 5 issuers and 1,000 revoked serials, published into DIR in the static layout by the
//!   mirror's own writer (`pass_server::mirror::write_static`), with the root's authority list
//!   and the combined heartbeat file. Every tick every heartbeat is re-signed, and 3 authorities
//!   revoke 20 more serials each (a new snapshot, and deltas from the last 16 versions);
//! - **10,000 checkpoints**, each syncing once a tick at its own moment, on a new connection
//!   per request, as `pass-verifier sync` does in root mode: the combined heartbeats; the
//!   authority list when the file names another than held; per authority whose heartbeat names
//!   a newer version, its delta (or snapshot). They start up to date; one sync in a hundred is a
//!   laptop that lost its state (the list, 34 snapshots and trust lists). These read versions
//!   without checking signatures, to keep the load generator light; **50 more checkpoints** run
//!   the checkpoint's own code (`pass_verifier::rooted::sync_rooted`) every tick, verifying
//!   everything, and must end with every authority current.
//!
//! Reports p50/p99 per request and the bytes and requests of an up-to-date sync.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use pass_core::authorities::{AuthorityEntry, AuthorityList, list_digest};
use pass_core::authority::{self, DocKind, Heartbeat, TrustDoc, TrustRef};
use pass_core::revocation::{self, Delta, RevocationState};
use pass_core::{KeyId, SecretKey};
use pass_loadtest::{SplitMix, percentile, request};
use pass_server::mirror::{self, StaticDocs};
use pass_server::publish::History;
use pass_server::store::Change;

/// Province-level divisions (GB/T 2260): 34.
const PROVINCES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82,
];
const CHECKPOINTS: usize = 10_000;
const CHECKING: usize = 50;
/// Five minutes, compressed.
const TICK: Duration = Duration::from_secs(10);
const CHANGING_PER_TICK: usize = 3;
const REVOKED_PER_CHANGE: u64 = 20;
const INITIAL_REVOKED: u64 = 1_000;
/// One sync in this many is a laptop that lost its state.
const FRESH_EVERY: u64 = 100;

/// One authority as its own server would hold it.
struct Authority {
    key: SecretKey,
    history: History,
    trust: Vec<u8>,
    trust_ref: TrustRef,
    heartbeat: Vec<u8>,
    next_serial: u64,
}

impl Authority {
    fn new(index: usize, province: u32) -> Authority {
        let key = SecretKey::from_seed(&[index as u8 + 1; 32]);
        let mut toml = String::new();
        for i in 0..5u8 {
            let issuer = SecretKey::from_seed(&[
                index as u8 + 1,
                i + 100,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
            ])
            .public_key();
            toml.push_str(&format!(
                "[[issuer]]\nname = \"office {province}-{i}\"\nkey_id = \"{}\"\npublic_key = \"{}\"\ndivision = \"{province}0{}00\"\n",
                issuer.id(),
                issuer.encode(),
                i + 1
            ));
        }
        let now = unix_now();
        let doc = TrustDoc { version: 1, issued_at: now, toml };
        let trust = authority::sign(DocKind::TrustList, &authority::encode_body(&doc), &key);
        let trust_ref = TrustRef { version: 1, digest: authority::trust_digest(&trust) };
        let mut state = RevocationState { version: 1, issued_at: now, ..RevocationState::default() };
        let issuer_id = issuer_key(index);
        state.add_serials(issuer_id, (1..=INITIAL_REVOKED).map(|s| s * 7));
        let mut authority = Authority {
            key,
            history: History { state, changes: Default::default() },
            trust,
            trust_ref,
            heartbeat: Vec::new(),
            next_serial: INITIAL_REVOKED * 7 + 1,
        };
        authority.beat();
        authority
    }

    fn beat(&mut self) {
        let s = &self.history.state;
        self.heartbeat =
            Heartbeat { version: s.version, digest: s.digest(), issued_at: unix_now(), trust: Some(self.trust_ref) }
                .sign(&self.key);
    }

    /// A new version with `n` more revoked serials.
    fn revoke(&mut self, index: usize, n: u64) {
        let issuer = issuer_key(index);
        let serials: Vec<u64> = (self.next_serial..self.next_serial + n).collect();
        self.next_serial += n;
        let state = &mut self.history.state;
        state.add_serials(issuer, serials.iter().copied());
        state.version += 1;
        state.issued_at = unix_now();
        let mut change = Change::default();
        change.serials.insert(issuer, serials);
        self.history.changes.insert(state.version, change);
        self.beat();
    }

    fn write(&self, dir: &Path) -> std::io::Result<()> {
        let s = &self.history.state;
        let snapshot = revocation::sign_snapshot(&s.snapshot(), &self.key);
        let deltas = (s.version.saturating_sub(mirror::STATIC_DELTAS).max(1)..s.version)
            .map(|from| (from, revocation::sign_delta(&self.history.delta_since(from), &self.key)))
            .collect();
        let docs = StaticDocs { snapshot: &snapshot, heartbeat: &self.heartbeat, trust: Some(&self.trust), deltas };
        mirror::write_static(dir, &docs)
    }
}

fn issuer_key(index: usize) -> KeyId {
    KeyId([index as u8 + 1, 0xAB, 0, 0, 0, 0, 0, 1])
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Publishes every authority and the mirror's own files.
fn publish(dir: &Path, authorities: &[Authority], list: &AuthorityList, list_bytes: &[u8]) -> anyhow::Result<()> {
    for a in authorities {
        a.write(&mirror::authority_dir(dir, a.key.public_key().id()))?;
    }
    let v1 = dir.join("v1");
    std::fs::create_dir_all(&v1)?;
    pass_files::write(&v1.join("authorities"), list_bytes, 0o644, pass_files::Mode::Replace)?;
    let beats: Vec<&[u8]> = authorities.iter().map(|a| &a.heartbeat[..]).collect();
    let combined = authority::combine_heartbeats(Some((list.version, list_digest(list_bytes))), &beats);
    pass_files::write(&v1.join("heartbeats"), &combined, 0o644, pass_files::Mode::Replace)?;
    Ok(())
}

#[derive(Default)]
struct Tally {
    ms: Mutex<HashMap<&'static str, Vec<f64>>>,
    up_to_date_syncs: AtomicU64,
    up_to_date_bytes: AtomicU64,
    up_to_date_requests: AtomicU64,
    syncs: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, e: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < 20 {
            errors.push(e);
        }
    }
}

/// The version a heartbeat names, read without checking its signature (load generator only).
fn beat_version(beat: &[u8]) -> Option<u64> {
    let body = beat.get(authority::HEADER_LEN..beat.len().checked_sub(64)?)?;
    let (version, _): (u64, _) = postcard::take_from_bytes(body).ok()?;
    Some(version)
}

/// One lightweight checkpoint: syncs once a tick at its own offset until `until`.
async fn checkpoint(
    n: usize,
    addr: Arc<str>,
    ids: Arc<Vec<KeyId>>,
    start: Arc<Vec<u64>>,
    list_ref: (u64, [u8; 32]),
    tally: Arc<Tally>,
    until: Instant,
) {
    let mut rng = SplitMix(n as u64 * 7919 + 1);
    let mut held: Vec<u64> = start.to_vec();
    let mut held_list = Some(list_ref);
    tokio::time::sleep(Duration::from_millis(rng.draw() % TICK.as_millis() as u64)).await;
    while Instant::now() < until {
        let started = Instant::now();
        if rng.draw().is_multiple_of(FRESH_EVERY) {
            held = vec![0; ids.len()];
            held_list = None;
        }
        let (mut requests, mut bytes) = (0u64, 0u64);
        let mut get = async |path: String, kind: &'static str| -> Option<Vec<u8>> {
            let t = Instant::now();
            let reply = request(&addr, &format!("GET {path} HTTP/1.1\r\n"), b"").await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            tally.ms.lock().unwrap_or_else(|p| p.into_inner()).entry(kind).or_default().push(ms);
            requests += 1;
            match reply {
                Ok(r) if r.status == 200 => {
                    bytes += r.body.len() as u64;
                    Some(r.body)
                }
                Ok(r) => {
                    tally.error(format!("{path}: HTTP {}", r.status));
                    None
                }
                Err(e) => {
                    tally.error(format!("{path}: {e:#}"));
                    None
                }
            }
        };
        let mut ok = true;
        let combined = get("/v1/heartbeats".into(), "combined heartbeats").await;
        let parsed = combined.as_deref().and_then(|c| authority::split_heartbeats(c).ok());
        match parsed {
            None => ok = false,
            Some(file) => {
                if file.list != held_list {
                    ok &= get("/v1/authorities".into(), "authority list").await.is_some();
                    held_list = file.list;
                }
                for (i, beat) in file.beats.iter().enumerate() {
                    let (Some(version), Some(id)) = (beat_version(beat), ids.get(i)) else { continue };
                    if version == held[i] {
                        continue;
                    }
                    let base = format!("/authorities/{id}/v1");
                    if held[i] == 0 {
                        ok &= get(format!("{base}/trust"), "trust list").await.is_some();
                    }
                    let delta =
                        if held[i] > 0 { get(format!("{base}/delta/{}", held[i]), "delta").await } else { None };
                    let to = match delta
                        .as_deref()
                        .map(|d| authority::decode_body::<Delta>(&d[authority::HEADER_LEN..d.len() - 64]))
                    {
                        Some(Ok(d)) => Some(d.to_version),
                        _ => get(format!("{base}/revocations"), "snapshot").await.map(|_| version),
                    };
                    match to {
                        Some(v) => held[i] = v.max(held[i]),
                        None => ok = false,
                    }
                }
            }
        }
        tally.syncs.fetch_add(1, Ordering::Relaxed);
        if ok && requests == 1 {
            tally.up_to_date_syncs.fetch_add(1, Ordering::Relaxed);
            tally.up_to_date_bytes.fetch_add(bytes, Ordering::Relaxed);
            tally.up_to_date_requests.fetch_add(requests, Ordering::Relaxed);
        }
        tokio::time::sleep(TICK.saturating_sub(started.elapsed())).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url, secs] = &args[..] else {
        anyhow::bail!("usage: nationwide-load DIR URL SECONDS");
    };
    let dir = PathBuf::from(dir);
    let secs: u64 = secs.parse().context("SECONDS")?;
    let addr: Arc<str> = url.trim_start_matches("http://").trim_end_matches('/').into();

    // The root, the authorities and the mirror's directory.
    let made = Instant::now();
    let root = SecretKey::from_seed(&[0xAA; 32]);
    let mut authorities: Vec<Authority> = PROVINCES.iter().enumerate().map(|(i, p)| Authority::new(i, *p)).collect();
    let list = AuthorityList {
        version: 1,
        issued_at: unix_now(),
        authorities: PROVINCES
            .iter()
            .zip(&authorities)
            .map(|(p, a)| AuthorityEntry {
                name: format!("authority {p}0000"),
                key: a.key.public_key().verifying_key().to_bytes(),
                provinces: vec![p * 10_000],
                urls: Vec::new(),
                not_before: None,
                not_after: None,
            })
            .collect(),
    };
    list.check()?;
    let list_bytes = list.sign(&root);
    publish(&dir, &authorities, &list, &list_bytes)?;
    let ids: Arc<Vec<KeyId>> = Arc::new(authorities.iter().map(|a| a.key.public_key().id()).collect());
    let start: Arc<Vec<u64>> = Arc::new(authorities.iter().map(|a| a.history.state.version).collect());
    let list_ref = (list.version, list_digest(&list_bytes));
    eprintln!("34 authorities published in {:.1} s", made.elapsed().as_secs_f64());

    let tally = Arc::new(Tally::default());
    let until = Instant::now() + Duration::from_secs(secs);

    // The authorities: every tick, heartbeats re-signed and three new versions.
    let publisher = {
        let dir = dir.clone();
        std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut rng = SplitMix(42);
            let mut versions = 0;
            while Instant::now() < until {
                std::thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
                for _ in 0..CHANGING_PER_TICK {
                    let i = (rng.draw() % authorities.len() as u64) as usize;
                    authorities[i].revoke(i, REVOKED_PER_CHANGE);
                    versions += 1;
                }
                for a in &mut authorities {
                    a.beat();
                }
                publish(&dir, &authorities, &list, &list_bytes)?;
            }
            Ok(versions)
        })
    };

    // The checking checkpoints: the checkpoint's own sync code, every tick.
    let root_public = root.public_key();
    let mut checking = Vec::new();
    for n in 0..CHECKING {
        let url = url.clone();
        let tally = Arc::clone(&tally);
        checking.push(tokio::task::spawn_blocking(move || {
            let mut state = pass_verifier::state::LocalState::default();
            let mut ok_rounds = 0u64;
            std::thread::sleep(Duration::from_millis(n as u64 * TICK.as_millis() as u64 / CHECKING as u64));
            let mut last = None;
            while Instant::now() < until {
                let started = Instant::now();
                match pass_verifier::rooted::sync_rooted(
                    std::slice::from_ref(&url),
                    Duration::from_secs(20),
                    &root_public,
                    &mut state,
                    unix_now(),
                ) {
                    Ok(report) if report.authorities.iter().all(|a| a.error.is_none()) => ok_rounds += 1,
                    Ok(report) => tally.error(format!(
                        "checking checkpoint {n}: {:?}",
                        report.authorities.iter().find_map(|a| a.error.clone())
                    )),
                    Err(e) => tally.error(format!("checking checkpoint {n}: {e}")),
                }
                last = Some(state.authorities.values().map(|s| s.revocations.version).collect::<Vec<_>>());
                std::thread::sleep(
                    TICK.saturating_sub(started.elapsed()).min(until.saturating_duration_since(Instant::now())),
                );
            }
            (ok_rounds, last)
        }));
    }
    let mut tasks = Vec::new();
    for n in 0..CHECKPOINTS {
        tasks.push(tokio::spawn(checkpoint(
            n,
            Arc::clone(&addr),
            Arc::clone(&ids),
            Arc::clone(&start),
            list_ref,
            Arc::clone(&tally),
            until,
        )));
    }
    for task in tasks {
        task.await?;
    }
    let versions = publisher.join().map_err(|_| anyhow::anyhow!("the publisher panicked"))??;
    let mut checking_rounds = 0;
    for task in checking {
        checking_rounds += task.await?.0;
    }

    println!(
        "nationwide load: {CHECKPOINTS} checkpoints + {CHECKING} verifying every document, 34 authorities, one tick ({} s) standing for 5 minutes, {secs} s; {versions} new versions published",
        TICK.as_secs()
    );
    println!();
    println!("| request | count | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    let mut worst_p99 = 0.0f64;
    let mut ms = tally.ms.lock().unwrap_or_else(|p| p.into_inner());
    for kind in ["combined heartbeats", "authority list", "delta", "snapshot", "trust list"] {
        let values = ms.entry(kind).or_default();
        let count = values.len();
        let (p50, p99, max) = (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0));
        if count > 0 {
            worst_p99 = worst_p99.max(p99);
        }
        println!("| {kind} | {count} | {p50:.2} | {p99:.2} | {max:.1} |");
    }
    let syncs = tally.syncs.load(Ordering::Relaxed);
    let current = tally.up_to_date_syncs.load(Ordering::Relaxed).max(1);
    let bytes = tally.up_to_date_bytes.load(Ordering::Relaxed) as f64 / current as f64;
    let requests = tally.up_to_date_requests.load(Ordering::Relaxed) as f64 / current as f64;
    println!();
    println!(
        "{syncs} syncs; {current} up to date: {requests:.0} request, {bytes:.0} bytes each; checking checkpoints: {checking_rounds} verified syncs"
    );
    let errors = tally.errors.lock().unwrap_or_else(|p| p.into_inner());
    for e in errors.iter() {
        println!("error: {e}");
    }
    ensure!(errors.is_empty(), "errors during the run");
    ensure!(worst_p99 < 50.0, "p99 {worst_p99:.1} ms: goal under 50 ms");
    ensure!(requests <= 2.0 && bytes <= 8_192.0, "an up-to-date sync: goal at most 2 requests and 8 KB");
    Ok(())
}
