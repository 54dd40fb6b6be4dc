//! The checkpoint on Windows: `pass-verifier.exe` (cross-built with Debian's mingw-w64 by
//! `scripts/test.sh`, as `scripts/package.sh` zips it) run under Debian's wine scans a pass PNG
//! (ACCEPTED), syncs from a `pass-server` on loopback (a pass revoked there is then REJECTED),
//! and its station serves a page that Linux Chromium with a fake camera turns into an ACCEPTED
//! verdict. Debian's wine 8 lacks `bcryptprimitives.dll` (Rust's std calls its `ProcessPrng`
//! on Windows 10 and later): a one-function test DLL stands in for it beside the .exe, under
//! wine only, never shipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Server, issue_now, issuer, root};

/// The Windows build and the test DLL, copied into `dir`.
fn windows_build(dir: &Path) -> PathBuf {
    let exe = root().join("target/checkpoint/x86_64-pc-windows-gnu/release/pass-verifier.exe");
    let shim = root().join("target/windows/bcryptprimitives.dll");
    for file in [&exe, &shim] {
        assert!(file.exists(), "{}: ./scripts/test.sh cross-builds it (mingw-w64, wine)", file.display());
    }
    std::fs::copy(&exe, dir.join("pass-verifier.exe")).unwrap();
    std::fs::copy(&shim, dir.join("bcryptprimitives.dll")).unwrap();
    dir.join("pass-verifier.exe")
}

/// `wine pass-verifier.exe`, its own wine prefix under `prefix`, no wine chatter.
fn wine(exe: &Path, prefix: &Path) -> Command {
    let mut command = Command::new("wine");
    command.arg(exe).env("WINEPREFIX", prefix).env("WINEDEBUG", "-all").current_dir(exe.parent().unwrap());
    command
}

#[test]
fn the_windows_checkpoint_scans_syncs_and_runs_its_station_under_wine() {
    let dir = tempfile::tempdir().unwrap();
    let exe = windows_build(dir.path());
    let prefix = dir.path().join("wineprefix");
    let trust = root().join("keys-example/trust.toml");
    let trust = trust.to_str().unwrap();
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = wine(&exe, &prefix).args(args).output().expect("wine runs (./scripts/test.sh installs it)");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, version, _) = run(&["--version"]);
    assert_eq!(code, Some(0), "the .exe runs under wine");
    assert!(version.contains("no signing code"), "{version}");

    // A pass PNG: ACCEPTED.
    let (_, good) = issue_now(dir.path(), "粤A12345");
    let (revoked_serial, _) = issue_now(dir.path(), "粤B54321");
    let png = dir.path().join("粤A12345.png");
    let (code, out, err) =
        run(&["scan", png.to_str().unwrap(), "--trust", trust, "--state", state, "--zone", "440114", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let verdict: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["verdict"], "accepted", "{out}");

    // A sync from a pass-server on loopback: the pass revoked there is REJECTED.
    let server = Server::start(&dir.path().join("server"));
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let ledger = dir.path().join("ledger.sqlite");
    #[rustfmt::skip]
    let revoked = issuer(&[
        "revoke", &revoked_serial.to_string(), "--server", &server.url, "--token", &token, "--reason", "vehicle sold",
        "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
    ]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let (code, out, err) = run(&["sync", "--server", &server.url, "--trust", trust, "--state", state]);
    assert_eq!(code, Some(0), "{out}{err}");
    let other = dir.path().join("粤B54321.png");
    let (_, out, _) =
        run(&["scan", other.to_str().unwrap(), "--trust", trust, "--state", state, "--zone", "440114", "--json"]);
    let verdict: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((verdict["verdict"].as_str(), verdict["reason"].as_str()), (Some("rejected"), Some("revoked")), "{out}");

    // The station, under wine; Linux Chromium with a fake camera showing the good pass.
    let mut command = wine(&exe, &prefix);
    command.env("WINEDEBUG", "-all");
    let station = crate::station::start_station_as(command, &["--trust", trust, "--state", state, "--zone", "440114"]);
    let (page, mut browser) = crate::station::present(&station, dir.path(), "windows", &good);
    assert_eq!(page["verdict"], "accepted", "{page}");
    assert_eq!(page["plate"], "粤A12345", "{page}");
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    browser.screenshot(&shots.join("station-windows.png"));
    drop(browser);
    drop(station);
    // wine's server outlives its programs a little: stopped before the prefix goes.
    let _ = Command::new("wineserver").arg("-k").env("WINEPREFIX", &prefix).status();
}
