//! Holes in the revocation protocol that turned a cancelled pass into ACCEPTED or stopped
//! checkpoints from syncing (issue 11), each shown closed end to end.

use std::process::Command;

use crate::util::{Run, Server, bin, issue_between, issue_now, issuer, root, verifier};

fn trust() -> String {
    root().join("keys-example/trust.toml").to_str().unwrap().to_owned()
}

/// `pass-server export` of `server` (with `extra` arguments) to `dir/usb.bin`, then
/// `pass-verifier import` of it into a fresh state `dir/other.bin`: the file and the import's run.
fn export_and_import(server: &Server, dir: &std::path::Path, extra: &[&str]) -> (std::path::PathBuf, Run) {
    let usb = dir.join("usb.bin");
    let export = Command::new(bin("pass-server"))
        .args(["export", "--data", server.data.to_str().unwrap(), "--out", usb.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let other = dir.join("other.bin");
    let run = verifier(&["import", usb.to_str().unwrap(), "--trust", &trust(), "--state", other.to_str().unwrap()]);
    (usb, run)
}

/// Revokes `serial` (issued with the example key, ledger in `dir`) on `server`.
fn revoke(server: &Server, dir: &std::path::Path, serial: u64) {
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir);
    let ledger = dir.join("ledger.sqlite");
    #[rustfmt::skip]
    let run = issuer(&[
        "revoke", &serial.to_string(), "--server", &server.url, "--token", &token,
        "--reason", "vehicle sold", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A server started without `--trust` is a normal configuration: checkpoints sync its
/// revocation data, and a revoked pass is then rejected.
#[test]
fn a_server_without_a_trust_list_can_be_synced_from() {
    let dir = tempfile::tempdir().unwrap();
    let (serial, _) = issue_now(dir.path(), "粤A12345");
    let server = Server::start_with(&dir.path().join("server"), None);
    revoke(&server, dir.path(), serial);

    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    let run = verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("the server publishes no trust list"), "{}", run.stdout);
    let png = dir.path().join("粤A12345.png");
    let scan = verifier(&["scan", png.to_str().unwrap(), "--trust", &trust(), "--state", state, "--json"]);
    assert_eq!(scan.code, 1, "{}", scan.stdout);
    assert_eq!(scan.json()["reason"], "revoked");
    // Up to date: a second sync is a 304 and changes nothing.
    let again = verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("current"), "{}", again.stdout);
}

/// A laptop clock set back after a sync does not revive an expired pass: checks never run
/// earlier than the newest signed time the checkpoint holds, and the clock is flagged.
#[test]
fn a_clock_set_back_does_not_revive_an_expired_pass() {
    let dir = tempfile::tempdir().unwrap();
    // Issued 20 days ago (the issuer's clock set back with faketime), valid until 10 days ago.
    let faketime = ["faketime", "-f", "-20d"];
    let (_, _) = issue_between(dir.path(), "粤A12345", -20 * 86_400, -10 * 86_400, &faketime);
    let server = Server::start(&dir.path().join("server"));
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    let run = verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // The checkpoint's clock set back 15 days: inside the pass's validity by its own reading.
    let png = dir.path().join("粤A12345.png");
    let run: Run = crate::util::faked(&bin("pass-verifier"), "-15d")
        .args(["scan", png.to_str().unwrap(), "--trust", &trust(), "--state", state, "--json"])
        .env("XDG_CONFIG_HOME", "/nonexistent-checkpass-test")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let verdict = run.json();
    assert_eq!(verdict["reason"], "expired", "{verdict}");
    assert!(verdict["warnings"].as_array().unwrap().contains(&"clock_behind".into()), "{verdict}");
}

/// A key withdrawn "for passes issued after T" cannot mint long-lived passes by backdating
/// `issued_at`: a pass claiming an issue before T but valid long after is refused, so every
/// pass the key can still make expires at most `max_lifetime_days` after T.
#[test]
fn a_backdated_pass_from_a_cut_off_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let admin = server.token(&["--admin"]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let cut_off = jiff::Timestamp::from_second((now - 10 * 86_400) as i64).unwrap();
    let body = format!(r#"{{"key_id":"f3c3dcf66c87927e","issued_after":"{cut_off}","reason":"key leaked"}}"#);
    assert_eq!(crate::util::http(&server.url, "POST", "/v1/revoked-keys", Some(&admin), Some(&body)).0, 200);
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    assert_eq!(verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]).code, 0);

    // What a thief with the key signs: "issued" before the cut-off, valid for most of a year.
    let key = pass_core::SecretKey::from_pem(&std::fs::read_to_string(root().join("keys-example/issuer.key")).unwrap())
        .unwrap();
    let mut pass = pass_core::Pass::realistic_example();
    pass.issued_at = now - 100 * 86_400;
    pass.valid_from = now - 86_400;
    pass.valid_until = now + 200 * 86_400;
    let forged = pass_core::envelope::to_text(&pass_core::envelope::sign(&pass, &key).unwrap());
    let run = verifier(&["check", &forged, "--trust", &trust(), "--state", state, "--json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["reason"], "lifetime_too_long", "{}", run.stdout);

    // The same key's honest passes from before the cut-off, within the bound, still pass.
    pass.issued_at = now - 20 * 86_400;
    pass.valid_until = now + 60 * 86_400;
    let honest = pass_core::envelope::to_text(&pass_core::envelope::sign(&pass, &key).unwrap());
    let run = verifier(&["check", &honest, "--trust", &trust(), "--state", state, "--json"]);
    assert_eq!(run.json()["verdict"], "accepted", "{}", run.stdout);
}

/// The production issuer has no way to set its issue time, and refuses passes valid longer
/// after issue than checkpoints accept.
#[test]
fn the_issuer_cannot_backdate_or_overextend() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::util::example_key(dir.path());
    let ledger = dir.path().join("ledger.sqlite");
    let png = dir.path().join("p.png");
    #[rustfmt::skip]
    let base = [
        "issue", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
        "--plate", "粤A12345", "--vehicle-type", "van", "--holder", "某公司", "--origin", "440114",
        "--destination", "440114", "--zone", "440114", "--cargo", "货物", "--out", png.to_str().unwrap(),
    ];
    let mut backdated = base.to_vec();
    backdated.extend(["--from", "2026-01-01", "--until", "2026-01-31", "--issued-at", "2025-12-01"]);
    let run = issuer(&backdated);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--issued-at"), "{}", run.stderr);
    let (from, until) = (
        jiff::Timestamp::now().to_string(),
        (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 200)).to_string(),
    );
    let mut long = base.to_vec();
    long.extend(["--from", &from, "--until", &until]);
    let run = issuer(&long);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("at most 92 days"), "{}", run.stderr);
    assert!(!png.exists(), "no pass printed");
}

/// One issuer token cannot grow the revocation data past what checkpoints accept: serials are
/// bounded, each issuer has a cap, the snapshot has a cap; tokens and revocations are only for
/// keys the server's trust list knows. Every checkpoint can still sync afterwards.
#[test]
fn one_token_cannot_break_every_checkpoint() {
    use crate::util::http;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let office = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let admin = server.token(&["--admin"]);
    let post = |token: &str, key: &str, serials: &[u64]| {
        let list: Vec<String> = serials.iter().map(u64::to_string).collect();
        let body = format!(r#"{{"key_id":"{key}","serials":[{}],"reason":"test"}}"#, list.join(","));
        http(&server.url, "POST", "/v1/revocations", Some(token), Some(&body))
    };

    // A serial no office can have issued.
    let (status, body) = post(&office, "f3c3dcf66c87927e", &[u64::MAX]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("99999999"), "{body}");
    // A key the trust list does not know: no token, no revocations.
    let run = Command::new(bin("pass-server"))
        .args(["token", "add", "--data", server.data.to_str().unwrap(), "--issuer", "0123456789abcdef"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("not in the trust list"));
    let (status, body) = post(&admin, "0123456789abcdef", &[1]);
    assert_eq!(status, 422, "{body}");

    // Up to the per-issuer cap (250,000 random serials under the bound), then refused.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        1 + x % 99_999_999
    };
    let mut accepted = 0;
    let refused = loop {
        let batch: Vec<u64> = (0..10_000).map(|_| random()).collect();
        let (status, body) = post(&office, "f3c3dcf66c87927e", &batch);
        if status != 200 {
            break (status, body);
        }
        accepted += serde_json::from_str::<serde_json::Value>(&body).unwrap()["added"].as_u64().unwrap();
        assert!(accepted <= 250_000, "past the cap: {accepted}");
    };
    assert_eq!(refused.0, 422, "{}", refused.1);
    assert!(refused.1.contains("limit is 250000 per issuer"), "{}", refused.1);
    assert!(accepted > 240_000, "{accepted}");

    // Every checkpoint can still sync, and a USB export still imports.
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    let run = verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (usb, run) = export_and_import(&server, dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let size = std::fs::metadata(&usb).unwrap().len();
    eprintln!("snapshot at the per-issuer cap: {size} bytes");
    assert!(size < pass_core::revocation::MAX_SNAPSHOT_LEN as u64);
}

/// Answers every request with `304 Not Modified`, forever: a stuck cache, or anyone on the
/// path who wants to hide new revocations. It holds no key.
fn fake_304_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    url
}

/// Freshness comes only from signed time: a server that answers 304 to everything cannot
/// make stale revocation data look current; the real server's signed heartbeat does.
#[test]
fn freshness_cannot_be_faked_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let (serial, _) = issue_now(dir.path(), "粤A12345");
    revoke(&server, dir.path(), serial);
    let (_, _) = issue_now(dir.path(), "粤B54321");
    let png = dir.path().join("粤B54321.png");
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();

    let run = verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("confirmed current as of"), "{}", run.stdout);
    let fresh = verifier(&["scan", png.to_str().unwrap(), "--trust", &trust(), "--state", state, "--json"]);
    assert_eq!(fresh.json()["warnings"], serde_json::json!(["zone_not_checked"]), "{}", fresh.stdout);

    // Two days later, only the fake server answers.
    let later = |args: &[&str]| -> Run {
        crate::util::faked(&bin("pass-verifier"), "+2d")
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent-checkpass-test")
            .output()
            .unwrap()
            .into()
    };
    let fake = fake_304_server();
    let run = later(&["sync", "--server", &fake, "--trust", &trust(), "--state", state]);
    assert!(run.stdout.contains("current"), "exit {:?}\nstdout: {}\nstderr: {}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("warning: no valid signed heartbeat"), "a line of its output: {}", run.stdout);
    let scan = later(&["scan", png.to_str().unwrap(), "--trust", &trust(), "--state", state, "--json"]);
    let verdict = scan.json();
    assert_eq!(verdict["verdict"], "accepted", "{verdict}");
    assert!(
        verdict["warnings"].as_array().unwrap().contains(&"revocation_data_stale".into()),
        "a 304 confirms nothing: {verdict}"
    );

    // A USB export with the authority key carries a heartbeat; it imports and confirms.
    let key = root().join("keys-example/authority.key");
    let (_, run) = export_and_import(&server, dir.path(), &["--authority-key", key.to_str().unwrap()]);
    let other = dir.path().join("other.bin");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("heartbeat"), "{}", run.stdout);
    let scan =
        verifier(&["scan", png.to_str().unwrap(), "--trust", &trust(), "--state", other.to_str().unwrap(), "--json"]);
    assert_eq!(scan.json()["warnings"], serde_json::json!(["zone_not_checked"]), "{}", scan.stdout);
}

/// One future-dated signature (the authority's clock 400 days ahead) must not make every
/// checkpoint reject every pass for ever: a checkpoint refuses data signed more than a day
/// ahead of its clock and keeps its last good state; the server, its clock fixed, refuses to
/// start on data dated in its future, and `--re-sign` publishes the data again as of now.
#[test]
fn a_clock_set_ahead_at_the_authority_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let (_, bytes) = crate::util::issue_now(dir.path(), "粤A12345");
    let text = pass_core::envelope::to_text(&bytes);
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    let check = || verifier(&["check", &text, "--trust", &trust(), "--state", state, "--zone", "440114", "--json"]);

    // A good state first, from the server with a right clock.
    let server = Server::start(&data);
    assert_eq!(verifier(&["sync", "--server", &server.url, "--trust", &trust(), "--state", state]).code, 0);
    let admin = server.token(&["--admin"]);
    drop(server);
    let held = std::fs::read(state).unwrap();

    // The authority's clock jumps 400 days ahead; it signs a revocation of another pass then.
    // (libfaketime preloaded into the server itself: the `faketime` wrapper would leave the
    // server running, its child, when killed.)
    let libfaketime = std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path().join("faketime/libfaketimeMT.so.1")))
        .find(|p| p.exists())
        .expect("libfaketime: ./scripts/test.sh installs Debian's faketime");
    let mut ahead = Command::new(bin("pass-server"))
        .env("LD_PRELOAD", &libfaketime)
        .env("FAKETIME", "+400d")
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data.to_str().unwrap(), "--authority-key"])
        .arg(root().join("keys-example/authority.key"))
        .arg("--trust")
        .arg(root().join("keys-example/trust.toml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(ahead.stdout.take().unwrap()), &mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let body = r#"{"key_id":"f3c3dcf66c87927e","serials":[9000],"reason":"test"}"#;
    assert_eq!(crate::util::http(&url, "POST", "/v1/revocations", Some(&admin), Some(body)).0, 200);
    let run = verifier(&["sync", "--server", &url, "--trust", &trust(), "--state", state]);
    let _ = ahead.kill();
    let _ = ahead.wait();
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("ahead of this computer's clock"), "{}", run.stderr);
    assert_eq!(std::fs::read(state).unwrap(), held, "the last good state is kept");
    let verdict = check().json();
    assert_eq!(verdict["verdict"], "accepted", "{verdict}");

    // The authority's clock is fixed: the server refuses to start on data from its future.
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data", data.to_str().unwrap()];
        let key = root().join("keys-example/authority.key");
        args.extend(["--authority-key", key.to_str().unwrap()]);
        args.extend_from_slice(extra);
        crate::util::server(&args)
    };
    let run = serve(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--re-sign"), "says how to recover: {}", run.stderr);
    // --re-sign publishes it again as of now; checkpoints take it.
    let mut resigned = crate::util::command("pass-server");
    resigned
        .args(["serve", "--listen", "127.0.0.1:0", "--re-sign", "--data", data.to_str().unwrap(), "--authority-key"])
        .arg(root().join("keys-example/authority.key"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = resigned.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    let run = verifier(&["sync", "--server", &url, "--trust", &trust(), "--state", state]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(check().json()["verdict"], "accepted");
    // And a plain start works again.
    drop(Server::start(&data));
}
