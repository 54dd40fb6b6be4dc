//! Holes in the revocation protocol that turned a cancelled pass into ACCEPTED or stopped
//! checkpoints from syncing (issue 11), each shown closed end to end.

use std::process::Command;

use crate::util::{Run, Server, bin, issue_between, issue_now, issuer, root, verifier};

fn trust() -> String {
    root().join("keys-example/trust.toml").to_str().unwrap().to_owned()
}

/// Revokes `serial` (issued with the example key, ledger in `dir`) on `server`.
fn revoke(server: &Server, dir: &std::path::Path, serial: u64) {
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = root().join("keys-example/issuer.key");
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
    let run: Run = Command::new("faketime")
        .args(["-f", "-15d"])
        .arg(bin("pass-verifier"))
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
    let key = root().join("keys-example/issuer.key");
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
