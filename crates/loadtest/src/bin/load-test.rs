//! Load test of a running `pass-server`, for `scripts/load-test.sh` (which starts the server on
//! a fresh data directory, adds the office tokens and runs this). Not a test: a bounded run
//! that prints a table.
//!
//! `load-test URL AUTHORITY_PUB SECONDS TOKEN_FILE...` — at once, for SECONDS:
//! - **checkpoints** (2,000): each syncs every `SYNC_EVERY` seconds on a new connection, as a
//!   laptop does: the first time (and in one sync of ten, a laptop that lost its state) without
//!   `since`, which is answered with a snapshot; otherwise `since=` its version and
//!   `If-None-Match`, answered 304 or with a delta. Every 200 is opened with the authority key;
//!   50 of the checkpoints also apply every document to a full revocation state, so a delta that
//!   does not chain is an error;
//! - **offices** (one per token file): post their share of 10,000 revocations in batches of
//!   100, spread over the first half of the run; a serial counts as acknowledged when its POST answered 200;
//! - **idle connections** (1,000): half send nothing, half half a header; each one closed by the
//!   server is opened again;
//! - **`/healthz`**: every 50 ms on a new connection.
//!
//! Then the final snapshot must hold every acknowledged serial, and no answer may be an error.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use pass_core::authority::{self, DocKind};
use pass_core::revocation::{Delta, RevocationState, Snapshot};
use pass_core::{KeyId, PublicKey};
use pass_loadtest::{SplitMix, percentile, request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHECKPOINTS: usize = 2_000;
const CHECKING: usize = 50;
const SYNC_EVERY: Duration = Duration::from_secs(10);
const REVOCATIONS: usize = 10_000;
const BATCH: usize = 100;
const IDLE: usize = 1_000;
const HEALTH_EVERY: Duration = Duration::from_millis(50);
#[derive(Default)]
struct Tally {
    sync_ms: Mutex<Vec<f64>>,
    post_ms: Mutex<Vec<f64>>,
    health_ms: Mutex<Vec<f64>>,
    snapshots: AtomicU64,
    deltas: AtomicU64,
    not_modified: AtomicU64,
    idle_reopened: AtomicU64,
    errors: Mutex<Vec<String>>,
    acknowledged: Mutex<Vec<(KeyId, u64)>>,
}

impl Tally {
    fn error(&self, what: String) {
        let mut errors = self.errors.lock().expect("errors");
        if errors.len() < 20 {
            eprintln!("error: {what}");
        }
        errors.push(what);
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

async fn checkpoint(n: usize, addr: Arc<str>, authority: PublicKey, tally: Arc<Tally>, until: Instant) {
    let mut rng = SplitMix(n as u64);
    // Spread the first syncs over one interval.
    tokio::time::sleep(SYNC_EVERY.mul_f64((rng.draw() % 1000) as f64 / 1000.0)).await;
    let mut held: Option<(u64, String)> = None;
    let mut full = (n < CHECKING).then(RevocationState::default);
    while Instant::now() < until {
        let lost = rng.draw().is_multiple_of(10);
        let head = match (&held, lost) {
            (Some((version, etag)), false) => {
                format!("GET /v1/revocations?since={version} HTTP/1.1\r\nIf-None-Match: {etag}\r\n")
            }
            _ => "GET /v1/revocations HTTP/1.1\r\n".to_owned(),
        };
        let start = Instant::now();
        match request(&addr, &head, b"").await {
            Ok(reply) if reply.status == 304 => {
                tally.sync_ms.lock().expect("tally").push(ms(start));
                tally.not_modified.fetch_add(1, Ordering::Relaxed);
            }
            Ok(reply) if reply.status == 200 => {
                tally.sync_ms.lock().expect("tally").push(ms(start));
                let version = match authority::open(&reply.body, &authority) {
                    Ok((DocKind::Snapshot, body)) => {
                        tally.snapshots.fetch_add(1, Ordering::Relaxed);
                        authority::decode_body::<Snapshot>(body).map(|s| s.version)
                    }
                    Ok((DocKind::Delta, body)) => {
                        tally.deltas.fetch_add(1, Ordering::Relaxed);
                        authority::decode_body::<Delta>(body).map(|d| d.to_version)
                    }
                    Ok((kind, _)) => Err(authority::DocError::WrongKind(kind as u8)),
                    Err(e) => Err(e),
                };
                let version = version
                    .map_err(|e| {
                        tally.error(format!("checkpoint {n}: a 200 that is not a signed snapshot or delta: {e}"))
                    })
                    .ok();
                // A lost-state sync gets a snapshot, which must keep everything held.
                if let Some(state) = full.as_mut()
                    && let Err(e) = state.apply_document(&reply.body, &authority)
                {
                    tally.error(format!("checkpoint {n}: the answer does not apply: {e}"));
                }
                match (version, reply.etag) {
                    (Some(version), Some(etag)) => held = Some((version, etag)),
                    (Some(_), None) => tally.error(format!("checkpoint {n}: no ETag")),
                    (None, _) => {} // reported above
                }
            }
            Ok(reply) => tally.error(format!("checkpoint {n}: status {}", reply.status)),
            Err(e) => tally.error(format!("checkpoint {n}: {e:#}")),
        }
        tokio::time::sleep(SYNC_EVERY.min(until.saturating_duration_since(Instant::now()))).await;
    }
}

async fn office(
    n: usize,
    token: String,
    key: KeyId,
    share: usize,
    addr: Arc<str>,
    tally: Arc<Tally>,
    run: Duration,
) -> anyhow::Result<()> {
    let mut rng = SplitMix(1_000 + n as u64);
    let batches = share.div_ceil(BATCH);
    // Spread the batches over the first half of the run: deltas while they land, then 304s.
    let pause = run.mul_f64(0.5) / batches as u32;
    let mut posted = BTreeSet::new();
    for _ in 0..batches {
        let want = BATCH.min(share - posted.len());
        let mut serials = Vec::with_capacity(want);
        while serials.len() < want {
            let serial = rng.draw() % 50_000_000 + 1;
            if posted.insert(serial) {
                serials.push(serial);
            }
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "key_id": key.to_string(), "serials": serials, "reason": "load test",
        }))?;
        let head = format!(
            "POST /v1/revocations HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        let start = Instant::now();
        match request(&addr, &head, &body).await {
            Ok(reply) if reply.status == 200 => {
                tally.post_ms.lock().expect("tally").push(ms(start));
                tally.acknowledged.lock().expect("tally").extend(serials.iter().map(|s| (key, *s)));
            }
            Ok(reply) => tally.error(format!(
                "office {n}: POST status {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            )),
            Err(e) => tally.error(format!("office {n}: POST {e:#}")),
        }
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

/// Holds one idle connection open until the end, opening it again whenever the server closes it.
async fn idle(n: usize, addr: Arc<str>, tally: Arc<Tally>, until: Instant) {
    let mut first = true;
    while Instant::now() < until {
        let Ok(mut stream) = TcpStream::connect(&*addr).await else {
            tally.error(format!("idle {n}: connect failed"));
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if !first {
            tally.idle_reopened.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        if n % 2 == 1 {
            let _ = stream.write_all(b"GET /v1/revocations HTTP/1.1\r\nHost: ").await;
        }
        let mut sink = [0u8; 512];
        let left = until.saturating_duration_since(Instant::now());
        // Ends when the server closes the connection (read returns 0 or an error).
        let _ = tokio::time::timeout(left, async { while matches!(stream.read(&mut sink).await, Ok(1..)) {} }).await;
    }
}

async fn health(addr: Arc<str>, tally: Arc<Tally>, until: Instant) {
    let mut tick = tokio::time::interval(HEALTH_EVERY);
    while Instant::now() < until {
        tick.tick().await;
        let start = Instant::now();
        match request(&addr, "GET /healthz HTTP/1.1\r\n", b"").await {
            Ok(reply) if reply.status == 200 => tally.health_ms.lock().expect("tally").push(ms(start)),
            Ok(reply) => tally.error(format!("healthz: status {}", reply.status)),
            Err(e) => tally.error(format!("healthz: {e:#}")),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, authority_pub, seconds, tokens @ ..] = args.as_slice() else {
        bail!("usage: load-test URL AUTHORITY_PUB SECONDS TOKEN_FILE...");
    };
    ensure!(!tokens.is_empty(), "at least one office token file");
    let addr: Arc<str> = url.trim_start_matches("http://").trim_end_matches('/').into();
    let entry: toml::Table = toml::from_str(&std::fs::read_to_string(authority_pub)?)?;
    let authority = PublicKey::parse(
        entry.get("public_key").and_then(|v| v.as_str()).context("public_key in the authority's .pub file")?,
        None,
    )?;
    let run = Duration::from_secs(seconds.parse()?);
    let start = Instant::now();
    let until = start + run;
    let tally = Arc::new(Tally::default());

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..IDLE {
        tasks.spawn(idle(n, addr.clone(), tally.clone(), until));
    }
    tasks.spawn(health(addr.clone(), tally.clone(), until));
    for n in 0..CHECKPOINTS {
        tasks.spawn(checkpoint(n, addr.clone(), authority, tally.clone(), until));
    }
    let mut offices = tokio::task::JoinSet::new();
    for (n, file) in tokens.iter().enumerate() {
        // The file: the token, then the issuer key id it may revoke for.
        let text = std::fs::read_to_string(file)?;
        let mut words = text.split_whitespace();
        let (Some(token), Some(key)) = (words.next(), words.next()) else { bail!("{file}: token and key id") };
        let key: KeyId = key.parse().map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        let share = REVOCATIONS / tokens.len() + usize::from(n < REVOCATIONS % tokens.len());
        offices.spawn(office(n, token.to_owned(), key, share, addr.clone(), tally.clone(), run));
    }
    while let Some(done) = offices.join_next().await {
        done??;
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();

    // Every acknowledged serial must be in the final snapshot.
    let reply = request(&addr, "GET /v1/revocations HTTP/1.1\r\n", b"").await?;
    ensure!(reply.status == 200, "final snapshot: status {}", reply.status);
    let (_, body) = authority::open(&reply.body, &authority)?;
    let last = RevocationState::from_snapshot(&authority::decode_body(body)?)?;
    let acknowledged = tally.acknowledged.lock().expect("tally").clone();
    let missing = acknowledged.iter().filter(|(key, serial)| !last.is_revoked(*key, *serial)).count();

    let mut sync = tally.sync_ms.lock().expect("tally").clone();
    let mut post = tally.post_ms.lock().expect("tally").clone();
    let mut health = tally.health_ms.lock().expect("tally").clone();
    let errors = tally.errors.lock().expect("tally").len();
    let max = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
    println!(
        "{CHECKPOINTS} checkpoints syncing every {}s, {} offices posting {REVOCATIONS} revocations in batches of {BATCH}, {IDLE} idle connections, {:.0} s",
        SYNC_EVERY.as_secs(),
        tokens.len(),
        elapsed.as_secs_f64()
    );
    println!();
    println!("| requests | count | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    let (p50, p99) = (percentile(&mut sync, 0.5), percentile(&mut sync, 0.99));
    println!("| syncs | {} | {p50:.2} | {p99:.2} | {:.1} |", sync.len(), max(&sync));
    let (p50, p99) = (percentile(&mut post, 0.5), percentile(&mut post, 0.99));
    println!("| revocation posts (100 serials) | {} | {p50:.2} | {p99:.2} | {:.1} |", post.len(), max(&post));
    let (p50, health_p99) = (percentile(&mut health, 0.5), percentile(&mut health, 0.99));
    println!("| /healthz | {} | {p50:.2} | {health_p99:.2} | {:.1} |", health.len(), max(&health));
    println!();
    println!(
        "sync answers: {} snapshots, {} deltas, {} not modified (304); idle connections closed by the server and opened again: {}",
        tally.snapshots.load(Ordering::Relaxed),
        tally.deltas.load(Ordering::Relaxed),
        tally.not_modified.load(Ordering::Relaxed),
        tally.idle_reopened.load(Ordering::Relaxed)
    );
    println!(
        "acknowledged revocations: {}; in the final snapshot (version {}): {}; missing: {missing}; error answers: {errors}",
        acknowledged.len(),
        last.version,
        acknowledged.len() - missing
    );
    ensure!(missing == 0, "{missing} acknowledged revocations are missing from the final snapshot");
    ensure!(errors == 0, "{errors} requests failed");
    ensure!(health_p99 < 50.0, "/healthz p99 is {health_p99:.1} ms, over the goal of 50 ms");
    println!("goals met: every acknowledged revocation served, no error answers, /healthz p99 under 50 ms");
    Ok(())
}
