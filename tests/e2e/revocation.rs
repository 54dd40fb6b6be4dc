//! Revocation end to end: the real server binary on 127.0.0.1:0, the issuer's `revoke`, the
//! verifier's `sync`/`import`, a deliberately faulty server, and a `kill -9` mid-load.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pass_core::revocation::{self, RevocationState};
use pass_core::{KeyId, SecretKey};

use crate::util::{Server, http, issuer, root, server, verifier};

const AT: &str = "2026-07-01T12:00:00+08:00";

fn example_trust() -> String {
    root().join("keys-example/trust.toml").to_str().unwrap().to_owned()
}

/// The example key, copied into `dir` (a key issues from one ledger: each test has its own).
fn example_key(dir: &Path) -> String {
    crate::util::example_key(dir).to_str().unwrap().to_owned()
}

fn example_key_id() -> KeyId {
    let pem = std::fs::read_to_string(root().join("keys-example/issuer.key")).unwrap();
    SecretKey::from_pem(&pem).unwrap().public_key().id()
}

fn authority() -> SecretKey {
    SecretKey::from_pem(&std::fs::read_to_string(root().join("keys-example/authority.key")).unwrap()).unwrap()
}

/// Issues a pass with the example key, issued at `issued_at` (the issuer's clock set there),
/// valid from 1 June to 31 August 2026; returns its serial.
fn issue(dir: &Path, name: &str, issued_at: &str) -> (u64, PathBuf) {
    let png = dir.join(format!("{name}.png"));
    let ledger = dir.join("ledger.sqlite");
    let run = crate::util::issuer_at(
        &format!("{issued_at} 00:00:00"),
        &[
            "issue",
            "--key",
            &example_key(dir),
            "--ledger",
            ledger.to_str().unwrap(),
            "--plate",
            "粤B54321",
            "--vehicle-type",
            "light-truck",
            "--holder",
            "花都汽车零部件有限公司",
            "--origin",
            "440114",
            "--destination",
            "320500",
            "--zone",
            "440000",
            "--zone",
            "320500",
            "--cargo",
            "汽车零部件",
            "--from",
            "2026-06-01",
            "--until",
            "2026-08-31",
            "--out",
            png.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    (run.json()["serial"].as_u64().unwrap(), png)
}

fn scan_reason(png: &Path, state: &Path) -> String {
    let run = verifier(&[
        "scan",
        png.to_str().unwrap(),
        "--trust",
        &example_trust(),
        "--state",
        state.to_str().unwrap(),
        "--at",
        AT,
        "--json",
    ]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    run.json()["reason"].as_str().unwrap_or("accepted").to_owned()
}

fn sync(url: &str, state: &Path) -> crate::util::Run {
    verifier(&[
        "sync",
        "--server",
        url,
        "--trust",
        &example_trust(),
        "--state",
        state.to_str().unwrap(),
        "--timeout",
        "3s",
    ])
}

#[test]
fn issue_revoke_sync_scan_and_key_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("server"));
    let state = dir.path().join("state.bin");
    let key_id = example_key_id().to_string();
    let office_token = srv.token(&["--issuer", &key_id]);
    let admin_token = srv.token(&["--admin"]);

    let (serial, png) = issue(dir.path(), "a", "2026-06-01");
    let (_, early) = issue(dir.path(), "early", "2026-06-01");
    let (_, late) = issue(dir.path(), "late", "2026-06-20");
    assert_eq!(scan_reason(&png, &state), "accepted");
    let never_synced = verifier(&[
        "scan",
        png.to_str().unwrap(),
        "--trust",
        &example_trust(),
        "--state",
        state.to_str().unwrap(),
        "--at",
        AT,
        "--json",
    ]);
    assert_eq!(never_synced.json()["warnings"], serde_json::json!(["zone_not_checked", "revocation_data_stale"]));

    let ledger = dir.path().join("ledger.sqlite");
    let revoke = || {
        issuer(&[
            "revoke",
            &serial.to_string(),
            "--server",
            &srv.url,
            "--token",
            &office_token,
            "--reason",
            "vehicle sold",
            "--key",
            &example_key(dir.path()),
            "--ledger",
            ledger.to_str().unwrap(),
        ])
    };
    let first_revoke = revoke();
    assert_eq!(first_revoke.code, 0, "{}", first_revoke.stderr);
    // Retrying is safe.
    let again = revoke();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("already revoked: 1"), "{}", again.stdout);

    let first = sync(&srv.url, &state);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(scan_reason(&png, &state), "revoked");
    assert_eq!(scan_reason(&early, &state), "accepted");
    // Checking "as of" July 2026 with data the server signed later: the clock looks behind.
    let behind = verifier(&[
        "scan",
        early.to_str().unwrap(),
        "--trust",
        &example_trust(),
        "--state",
        state.to_str().unwrap(),
        "--at",
        AT,
        "--zone",
        "440114",
        "--json",
    ]);
    assert_eq!(behind.json()["warnings"], serde_json::json!(["clock_behind"]));

    // Nothing new: the second sync costs one 304.
    let before = srv.metric("checkpass_not_modified_total");
    let second = sync(&srv.url, &state);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stdout.contains("current"), "{}", second.stdout);
    assert_eq!(srv.metric("checkpass_not_modified_total"), before + 1.0);

    // The authority revokes the key for passes issued after 2026-06-10.
    let body = format!(r#"{{"key_id":"{key_id}","issued_after":"2026-06-10T00:00:00+08:00","reason":"key leaked"}}"#);
    assert_eq!(http(&srv.url, "POST", "/v1/revoked-keys", Some(&admin_token), Some(&body)).0, 200);
    assert_eq!(sync(&srv.url, &state).code, 0);
    assert_eq!(scan_reason(&late, &state), "issuer_revoked");
    assert_eq!(scan_reason(&early, &state), "accepted");
    assert_eq!(scan_reason(&png, &state), "revoked");

    // A province-sized list, then a verifier offline for 50 revocations catches up with one
    // delta request.
    let many: Vec<String> = (5000..7000).map(|s: u64| s.to_string()).collect();
    let body = format!(r#"{{"key_id":"{key_id}","serials":[{}],"reason":"bulk"}}"#, many.join(","));
    assert_eq!(http(&srv.url, "POST", "/v1/revocations", Some(&admin_token), Some(&body)).0, 200);
    assert_eq!(sync(&srv.url, &state).code, 0);
    let serials: Vec<String> = (1000..1050).map(|s: u64| s.to_string()).collect();
    for chunk in serials.chunks(10) {
        let body = format!(r#"{{"key_id":"{key_id}","serials":[{}],"reason":"batch"}}"#, chunk.join(","));
        assert_eq!(http(&srv.url, "POST", "/v1/revocations", Some(&admin_token), Some(&body)).0, 200);
    }
    let deltas = srv.metric("checkpass_deltas_served_total");
    let snapshots = srv.metric("checkpass_snapshots_served_total");
    let requests = srv.metric(r#"checkpass_http_requests_total{route="GET /v1/revocations",status="200"}"#);
    let catch_up = sync(&srv.url, &state);
    assert_eq!(catch_up.code, 0, "{}", catch_up.stderr);
    assert_eq!(srv.metric("checkpass_deltas_served_total"), deltas + 1.0);
    assert_eq!(srv.metric("checkpass_snapshots_served_total"), snapshots);
    assert_eq!(
        srv.metric(r#"checkpass_http_requests_total{route="GET /v1/revocations",status="200"}"#),
        requests + 1.0
    );
    let status = verifier(&[
        "scan",
        png.to_str().unwrap(),
        "--trust",
        &example_trust(),
        "--state",
        state.to_str().unwrap(),
        "--at",
        AT,
    ]);
    assert!(status.stdout.contains("2051 revoked"), "{}", status.stdout);
}

#[test]
fn tokens_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    // Without a trust list the server knows no issuers, so made-up key ids get tokens (with
    // one, only listed keys do: trust_holes::one_token_cannot_break_every_checkpoint).
    let srv = Server::start_with(&dir.path().join("server"), None);
    let office_a = srv.token(&["--issuer", "0011223344556677"]);
    let body_b = r#"{"key_id":"8899aabbccddeeff","serials":[1],"reason":"test"}"#;
    let body_a = r#"{"key_id":"0011223344556677","serials":[1],"reason":"test"}"#;
    let (status, text) = http(&srv.url, "POST", "/v1/revocations", None, Some(body_a));
    assert_eq!(status, 401);
    assert!(text.contains("\"error\""), "{text}");
    assert_eq!(http(&srv.url, "POST", "/v1/revocations", Some("cpt_wrong"), Some(body_a)).0, 401);
    let (status, text) = http(&srv.url, "POST", "/v1/revocations", Some(&office_a), Some(body_b));
    assert_eq!(status, 403, "{text}");
    assert_eq!(http(&srv.url, "POST", "/v1/revocations", Some(&office_a), Some(body_a)).0, 200);
    let key_body = r#"{"key_id":"0011223344556677","reason":"test"}"#;
    assert_eq!(http(&srv.url, "POST", "/v1/revoked-keys", Some(&office_a), Some(key_body)).0, 403);
    let (status, text) = http(&srv.url, "POST", "/v1/revocations", Some(&office_a), Some("{not json"));
    assert_eq!(status, 400);
    assert!(text.contains("bad_json"), "{text}");
    let huge = format!(r#"{{"key_id":"0011223344556677","serials":[{}1],"reason":"x"}}"#, "1,".repeat(600_000));
    let (status, text) = http(&srv.url, "POST", "/v1/revocations", Some(&office_a), Some(&huge));
    assert_eq!(status, 413);
    assert!(text.contains("too_large"), "{text}");
    assert!(!srv.log().contains(&office_a), "tokens are never logged");
}

/// A server that answers every request with `response` (or never answers).
fn faulty_server(response: Fault) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !stop2.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            match &response {
                Fault::Body(body) => {
                    let head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body);
                }
                Fault::Truncated(body) => {
                    let head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len() * 2);
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body);
                }
                Fault::Huge => {
                    let size = 50 * 1024 * 1024;
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
                    let _ = stream.write_all(head.as_bytes());
                    let chunk = vec![0u8; 64 * 1024];
                    for _ in 0..size / chunk.len() {
                        if stream.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                }
                Fault::Silent => {
                    let mut buf = [0u8; 1];
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = stream.read(&mut buf);
                }
            }
        }
    });
    (url, stop)
}

enum Fault {
    Body(Vec<u8>),
    Truncated(Vec<u8>),
    Huge,
    Silent,
}

fn snapshot(version: u64, serials: &[u64]) -> Vec<u8> {
    let mut state = RevocationState { version, issued_at: 1_780_000_000 + version, ..Default::default() };
    state.add_serials(example_key_id(), serials.iter().copied());
    revocation::sign_snapshot(&state.snapshot(), &authority())
}

#[test]
fn a_faulty_server_never_costs_the_last_good_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.bin");
    let (revoked, revoked_png) = issue(dir.path(), "revoked", "2026-06-01");
    let (_, fine_png) = issue(dir.path(), "fine", "2026-06-01");
    // The last good state: version 2, the first pass revoked (from a USB stick).
    let good = dir.path().join("good.bin");
    std::fs::write(&good, snapshot(2, &[revoked, 900])).unwrap();
    let run =
        verifier(&["import", good.to_str().unwrap(), "--trust", &example_trust(), "--state", state.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let held = std::fs::read(&state).unwrap();

    let mut tampered = snapshot(3, &[revoked, 900, 901]);
    *tampered.last_mut().unwrap() ^= 1;
    let faults: Vec<(&str, Fault, &str)> = vec![
        ("tampered signature", Fault::Body(tampered), "bad signature"),
        ("older version", Fault::Body(snapshot(1, &[revoked, 900])), "older than the version held"),
        ("drops a revocation", Fault::Body(snapshot(3, &[900])), "drops a revocation"),
        ("truncated body", Fault::Truncated(snapshot(3, &[revoked, 900, 901])), "truncated"),
        ("50 MB body", Fault::Huge, "larger than"),
        ("never answers", Fault::Silent, "did not answer in time"),
        ("garbage", Fault::Body(b"<html>502 Bad Gateway</html>".to_vec()), "not a checkpass authority document"),
    ];
    for (what, fault, expect) in faults {
        let (url, stop) = faulty_server(fault);
        let started = std::time::Instant::now();
        let run = sync(&url, &state);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(run.code, 2, "{what}: {} {}", run.stdout, run.stderr);
        assert!(run.stderr.contains(expect), "{what}: {}", run.stderr);
        assert!(run.stderr.contains("keeping the last good state"), "{what}: {}", run.stderr);
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: took {:?}", started.elapsed());
        assert_eq!(std::fs::read(&state).unwrap(), held, "{what}: state changed");
        assert_eq!(scan_reason(&revoked_png, &state), "revoked", "{what}");
        assert_eq!(scan_reason(&fine_png, &state), "accepted", "{what}");
    }
}

#[test]
fn usb_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let srv = Server::start(&data);
    let (serial, png) = issue(dir.path(), "p", "2026-06-01");
    let admin = srv.token(&["--admin"]);
    let body = format!(r#"{{"key_id":"{}","serials":[{serial}],"reason":"stolen"}}"#, example_key_id());
    assert_eq!(http(&srv.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
    drop(srv);
    let stick = dir.path().join("usb-snapshot.bin");
    let run = server(&["export", "--data", data.to_str().unwrap(), "--out", stick.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let state = dir.path().join("state.bin");
    let run =
        verifier(&["import", stick.to_str().unwrap(), "--trust", &example_trust(), "--state", state.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(scan_reason(&png, &state), "revoked");
    // Importing the same file again changes nothing and is fine; an older one is refused.
    assert_eq!(
        verifier(&["import", stick.to_str().unwrap(), "--trust", &example_trust(), "--state", state.to_str().unwrap()])
            .code,
        0
    );
}

/// A FAT file system in an image file, mounted for the test: the kernel's vfat on a loop device
/// where the machine allows it, else fusefat (a real FAT16 image through FUSE; this machine's
/// kernel has no vfat). `None` where neither can run: a failure in CI, a counted skip elsewhere
/// (`util::missing_prerequisite`).
struct FatStick {
    mount: PathBuf,
    fuse: bool,
}

impl FatStick {
    fn mount(dir: &Path) -> Option<FatStick> {
        let image = dir.join("stick.img");
        let mount = dir.join("stick");
        std::fs::create_dir_all(&mount).unwrap();
        std::fs::File::create(&image).unwrap().set_len(32 << 20).unwrap();
        let ok = |cmd: &mut std::process::Command| cmd.output().is_ok_and(|o| o.status.success());
        if !ok(std::process::Command::new("mkfs.vfat").arg(&image)) {
            crate::util::missing_prerequisite("usb_round_trip_on_a_fat_stick", "mkfs.vfat is missing (dosfstools)");
            return None;
        }
        if ok(std::process::Command::new("mount").args(["-t", "vfat", "-o", "loop"]).arg(&image).arg(&mount)) {
            return Some(FatStick { mount, fuse: false });
        }
        if ok(std::process::Command::new("fusefat").args(["-o", "rw+"]).arg(&image).arg(&mount)) {
            return Some(FatStick { mount, fuse: true });
        }
        crate::util::missing_prerequisite(
            "usb_round_trip_on_a_fat_stick",
            "neither a loop-mounted vfat nor fusefat works here",
        );
        None
    }
}

impl Drop for FatStick {
    fn drop(&mut self) {
        // fusefat's mount goes with fusermount (fuse 2) or fusermount3 (fuse 3); umount as well.
        let unmounted = |program: &str, args: &[&str]| {
            std::process::Command::new(program).args(args).arg(&self.mount).status().is_ok_and(|s| s.success())
        };
        let _ = (self.fuse && (unmounted("fusermount", &["-u"]) || unmounted("fusermount3", &["-u"])))
            || unmounted("umount", &[]);
    }
}

/// Export and import on a FAT stick, as checkpoints without a network get their data: FAT has
/// no hard links, no permissions and no symlinks, so every write there must be a plain
/// temporary file renamed over the old one. The verifier's state and its lock live on the stick
/// too (a laptop that boots from one), and an office writes a new key onto one.
#[test]
fn usb_round_trip_on_a_fat_stick() {
    let dir = tempfile::tempdir().unwrap();
    let Some(stick) = FatStick::mount(dir.path()) else { return };
    // Prove it is FAT: a hard link is refused there.
    std::fs::write(stick.mount.join("probe"), b"x").unwrap();
    assert!(std::fs::hard_link(stick.mount.join("probe"), stick.mount.join("probe2")).is_err(), "not a FAT mount");

    let data = dir.path().join("server");
    let srv = Server::start(&data);
    let (first, first_png) = issue(dir.path(), "p1", "2026-06-01");
    let (second, second_png) = issue(dir.path(), "p2", "2026-06-01");
    let admin = srv.token(&["--admin"]);
    let revoke = |serial: u64| {
        let body = format!(r#"{{"key_id":"{}","serials":[{serial}],"reason":"stolen"}}"#, example_key_id());
        assert_eq!(http(&srv.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
    };
    let file = stick.mount.join("revocations.bin");
    let state = stick.mount.join("checkpoint").join("state.bin");
    let key = root().join("keys-example/authority.key");
    let (data_arg, file_arg, key_arg) = (data.to_str().unwrap(), file.to_str().unwrap(), key.to_str().unwrap());
    let round = || {
        let run = server(&["export", "--data", data_arg, "--out", file_arg, "--authority-key", key_arg]);
        assert_eq!(run.code, 0, "export onto FAT: {}", run.stderr);
        let run = verifier(&["import", file_arg, "--trust", &example_trust(), "--state", state.to_str().unwrap()]);
        assert_eq!(run.code, 0, "import from FAT into a state on FAT: {}", run.stderr);
        assert!(run.stdout.contains("heartbeat"), "{}", run.stdout);
    };
    revoke(first);
    round();
    assert_eq!(scan_reason(&first_png, &state), "revoked");
    assert_eq!(scan_reason(&second_png, &state), "accepted");
    // The second export replaces the file on the stick, the second import the state.
    revoke(second);
    round();
    assert_eq!(scan_reason(&first_png, &state), "revoked");
    assert_eq!(scan_reason(&second_png, &state), "revoked");
    // A new office key onto the stick (no hard links there): written, and never overwritten.
    let keys = stick.mount.join("keys");
    let run = issuer(&["keygen", "--out", keys.to_str().unwrap(), "--name", "FAT office"]);
    assert_eq!(run.code, 0, "keygen onto FAT: {}", run.stderr);
    let written = std::fs::read(keys.join("issuer.key")).unwrap();
    assert!(SecretKey::from_pem(std::str::from_utf8(&written).unwrap()).is_ok());
    let run = issuer(&["keygen", "--out", keys.to_str().unwrap(), "--name", "FAT office"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("refusing to overwrite"), "{}", run.stderr);
    assert_eq!(std::fs::read(keys.join("issuer.key")).unwrap(), written);
    let left: Vec<String> = std::fs::read_dir(&stick.mount)
        .unwrap()
        .chain(std::fs::read_dir(state.parent().unwrap()).unwrap())
        .chain(std::fs::read_dir(&keys).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|name| !name.starts_with('.') || name.ends_with(".lock")),
        "temporary files left: {left:?}"
    );
}

#[test]
fn kill_9_mid_load_loses_no_acknowledged_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let mut srv = Server::start(&data);
    let admin = srv.token(&["--admin"]);
    let key_id = example_key_id();
    let acked = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4u64)
        .map(|c| {
            let (url, admin, acked, count) = (srv.url.clone(), admin.clone(), acked.clone(), count.clone());
            std::thread::spawn(move || {
                for i in 0..250u64 {
                    let serial = c * 1000 + i + 1;
                    let body = format!(r#"{{"key_id":"{key_id}","serials":[{serial}],"reason":"load"}}"#);
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(10)))
                        .build()
                        .into();
                    let result = agent
                        .post(format!("{url}/v1/revocations"))
                        .header("Authorization", &format!("Bearer {admin}"))
                        .send(body);
                    match result {
                        Ok(r) if r.status().is_success() => {
                            acked.lock().unwrap().push(serial);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::SeqCst) < 500 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.child.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    srv.child.wait().unwrap();
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 500, "only {} acknowledged", acked.len());
    assert!(acked.len() < 1000, "the kill landed after the load ended");

    let srv = Server::start(&data);
    let (status, _) = http(&srv.url, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let snapshot = agent
        .get(format!("{}/v1/revocations", srv.url))
        .call()
        .unwrap()
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .unwrap();
    let mut state = RevocationState::default();
    state.apply_document(&snapshot, &authority().public_key()).unwrap();
    let missing: Vec<_> = acked.iter().filter(|s| !state.is_revoked(key_id, **s)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}

/// `pass-issuer revoke` counts a revocation as sent only when the server's answer names the
/// key, the serials and a version: a fake or misconfigured server answering `200 {}` used to
/// mark it sent, so it was never sent again and silently lost (the escaping of a server's
/// error body is tested in `pass_issuer::revoke`).
#[test]
fn revoke_trusts_only_an_answer_that_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let (serial, _) = issue(dir.path(), "p", "2026-06-01");
    let ledger = dir.path().join("ledger.sqlite");
    let key = example_key(dir.path());
    let revoke = |url: &str| {
        #[rustfmt::skip]
        let run = issuer(&[
            "revoke", &serial.to_string(), "--server", url, "--token", "cpt_test", "--reason", "sold",
            "--key", &key, "--ledger", ledger.to_str().unwrap(),
        ]);
        run
    };
    let sent = || {
        let run = issuer(&["show", &serial.to_string(), "--json", "--key", &key, "--ledger", ledger.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()["revocation"]["sent"].as_bool()
    };
    for body in [&b"{}"[..], b"", br#"{"version":3,"added":1,"already_revoked":0}"#] {
        let (url, stop) = faulty_server(Fault::Body(body.to_vec()));
        let run = revoke(&url);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(run.code, 2, "{}: {} {}", String::from_utf8_lossy(body), run.stdout, run.stderr);
        assert!(run.stderr.contains("did not confirm"), "{}", run.stderr);
        assert_eq!(sent(), Some(false), "still to be sent");
    }
    // A real server confirms; the ledger then counts it sent.
    let srv = Server::start(&dir.path().join("server"));
    let token = srv.token(&["--issuer", &example_key_id().to_string()]);
    #[rustfmt::skip]
    let run = issuer(&[
        "revoke", &serial.to_string(), "--server", &srv.url, "--token", &token, "--reason", "sold",
        "--key", &key, "--ledger", ledger.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("plain http"), "loopback is not warned: {}", run.stderr);
    assert_eq!(sent(), Some(true));
    // A refusal shows the server's error.
    let run = revoke(&srv.url);
    assert_eq!(run.code, 2, "a wrong token is refused");
    assert!(run.stderr.contains("HTTP 401") && run.stderr.contains("unauthorized"), "{}", run.stderr);
}

/// `/v1/audit-heads`: an office's token sends its own key's signed heads; the server keeps
/// them and serves the newest, and refuses a head another key signed, another office's, a
/// forged signature, one that goes back and another hash for the newest row.
#[test]
fn audit_heads_are_kept_and_never_go_back() {
    use base64::Engine as _;
    use pass_core::audit::Head;
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("server"));
    let other = SecretKey::from_seed(&[0x52; 32]);
    // The example trust list names only the example key: the server refuses tokens and heads
    // for keys it does not publish, so the office here is the example key.
    let key = pass_issuer::keyfile::load_secret(Path::new(&example_key(dir.path()))).unwrap();
    let token = srv.token(&["--issuer", &key.public_key().id().to_string()]);
    let body = |key: &SecretKey, head: &Head| {
        let public_key =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key().verifying_key().to_bytes());
        serde_json::to_string(&pass_core::api::AuditHeadRequest { public_key, head: head.clone(), next_serial: None })
            .unwrap()
    };
    let post =
        |key: &SecretKey, head: &Head| http(&srv.url, "POST", "/v1/audit-heads", Some(&token), Some(&body(key, head)));
    let get = || http(&srv.url, "GET", &format!("/v1/audit-heads/{}", key.public_key().id()), None, None);
    assert_eq!(get().0, 404, "none yet");
    let five = Head::sign(5, "aa".into(), &key);
    assert_eq!(post(&key, &five).0, 200);
    assert_eq!(post(&key, &five).0, 200, "the same head again");
    let (status, text) = get();
    assert_eq!(status, 200);
    let held: pass_core::api::AuditHeadAnswer = serde_json::from_str(&text).unwrap();
    assert_eq!(held.head, five);
    let (status, text) = post(&key, &Head::sign(4, "bb".into(), &key));
    assert_eq!((status, text.contains("audit_head_goes_back")), (409, true), "{text}");
    assert_eq!(post(&key, &Head::sign(5, "cc".into(), &key)).0, 409, "another hash for the newest row");
    let forged = Head { row: 9, hash: "dd".into(), signature: Head::sign(9, "ee".into(), &key).signature };
    assert_eq!(post(&key, &forged).0, 422, "a signature over another head");
    assert_eq!(post(&other, &Head::sign(9, "dd".into(), &other)).0, 403, "another key than the token's");
    assert_eq!(http(&srv.url, "POST", "/v1/audit-heads", None, Some(&body(&key, &five))).0, 401);
    assert_eq!(post(&key, &Head::sign(6, "ff".into(), &key)).0, 200);
    let (_, text) = get();
    assert!(text.contains("\"row\":6"), "{text}");
}

/// Issue 34, restore drill (b): the server is backed up, 3 more revocations are synced by a
/// checkpoint, the data is lost and the backup restored with the snapshot its `--publish`
/// directory kept: the checkpoint accepts the server's next update, and every revoked pass
/// stays REJECTED. (Restored from the backup alone it would sign version 2 again, which the
/// checkpoint, at 4, rightly refuses.)
#[test]
fn a_restored_server_loses_no_revocation_and_goes_on_from_the_newest_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let published = dir.path().join("www");
    let key = root().join("keys-example/authority.key");
    let trust = root().join("keys-example/trust.toml");
    let start = || Server::start_as(&data, &key, Some(&trust), &["--publish", published.to_str().unwrap()]);
    let server = start();
    let admin = server.token(&["--admin"]);
    let passes: Vec<(u64, PathBuf)> = (1..=5).map(|i| issue(dir.path(), &format!("pass{i}"), "2026-06-01")).collect();
    let revoke = |url: &str, serial: u64| {
        let body = format!(r#"{{"key_id":"{}","serials":[{serial}],"reason":"drill"}}"#, example_key_id());
        let (status, text) = http(url, "POST", "/v1/revocations", Some(&admin), Some(&body));
        assert_eq!(status, 200, "{text}");
    };
    let state = dir.path().join("checkpoint.bin");
    revoke(&server.url, passes[0].0);
    assert_eq!(sync(&server.url, &state).code, 0);
    let backup = dir.path().join("server-backup.sqlite");
    let run = crate::util::server(&["backup", "--data", data.to_str().unwrap(), "--out", backup.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (serial, _) in &passes[1..4] {
        revoke(&server.url, *serial);
    }
    let synced = sync(&server.url, &state);
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    for (_, png) in &passes[..4] {
        assert_eq!(scan_reason(png, &state), "revoked");
    }

    // The data is lost; the backup restored, with the snapshot the web server still serves.
    drop(server);
    std::fs::remove_dir_all(&data).unwrap();
    // Without --recover-from (optional) the backup alone comes back, with a warning that says
    // what is missing and what to give; served so, its next version is below the checkpoint's,
    // which refuses it and stays on what it holds.
    let bare = dir.path().join("bare");
    let run = crate::util::server(&[
        "restore",
        backup.to_str().unwrap(),
        "--data",
        bare.to_str().unwrap(),
        "--authority-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("version 1 in the backup, 1 now"), "{}", run.stdout);
    assert!(
        run.stderr.contains("warning: restored without --recover-from") && run.stderr.contains("v1/revocations"),
        "{}",
        run.stderr
    );
    {
        let bare_server = Server::start_as(&bare, &key, Some(&trust), &[]);
        revoke(&bare_server.url, passes[4].0);
        let refused = sync(&bare_server.url, &state);
        assert_ne!(refused.code, 0, "a checkpoint refuses a version below its own: {}", refused.stdout);
        assert_eq!(scan_reason(&passes[3].1, &state), "revoked", "and keeps what it held");
    }
    std::fs::remove_dir_all(&bare).unwrap();
    let snapshot = published.join("v1/revocations");
    #[rustfmt::skip]
    let run = crate::util::server(&[
        "restore", backup.to_str().unwrap(), "--data", data.to_str().unwrap(),
        "--authority-key", key.to_str().unwrap(), "--recover-from", snapshot.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("version 1 in the backup, 4 now"), "{}", run.stdout);
    // A forged snapshot (another key) is refused, and nothing is written.
    let elsewhere = dir.path().join("elsewhere");
    let forged = dir.path().join("forged");
    std::fs::write(
        &forged,
        pass_core::revocation::sign_snapshot(&RevocationState::default().snapshot(), &SecretKey::from_seed(&[9; 32])),
    )
    .unwrap();
    #[rustfmt::skip]
    let run = crate::util::server(&[
        "restore", backup.to_str().unwrap(), "--data", elsewhere.to_str().unwrap(),
        "--authority-key", key.to_str().unwrap(), "--recover-from", forged.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0);
    assert!(!elsewhere.exists(), "nothing written");

    // Served again: the next revocation is version 5, which the checkpoint takes.
    let server = start();
    revoke(&server.url, passes[4].0);
    let synced = sync(&server.url, &state);
    assert_eq!(synced.code, 0, "the checkpoint takes the restored server's next update: {}", synced.stderr);
    for (_, png) in &passes {
        assert_eq!(scan_reason(png, &state), "revoked", "{}", png.display());
    }
}
