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
