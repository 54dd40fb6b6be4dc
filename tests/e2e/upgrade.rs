//! Upgrades: what the release of 2026-12-06 wrote opens with today's code (fixtures made by
//! `scripts/make-upgrade-fixtures.sh` with that release's binaries, kept in
//! `tests/fixtures/release-2026-12-06/`): an office data directory, a revocation server's
//! database, a checkpoint's state file and an issuing ledger, each a test of its own.

use std::path::{Path, PathBuf};

use crate::util::{Server, http, issuer, root, verifier};

fn fixture(part: &str) -> PathBuf {
    root().join("tests/fixtures/release-2026-12-06").join(part)
}

/// A copy of a fixture directory in `dir` (the tests never change the kept files).
fn copy(part: &str, dir: &Path) -> PathBuf {
    let to = dir.join(part);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(fixture(part)).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

/// The office: migrated in place (accounts' setters, notices and mail, drivers for search),
/// its accounts log in, the issued application and the waiting one are there, and its audit
/// trail is whole against the head the old release signed.
#[test]
fn an_office_from_the_last_release_opens() {
    let dir = tempfile::tempdir().unwrap();
    let data = copy("office", dir.path());
    // The key moved with the machine: its new path in the settings, as IT would set it.
    let key = crate::util::example_key(dir.path());
    let conn = rusqlite::Connection::open(data.join("office.sqlite")).unwrap();
    conn.execute("UPDATE settings SET value = ?1 WHERE name = 'key'", [key.to_str().unwrap()]).unwrap();
    drop(conn);
    let (report, _) = pass_office::anchor::verify(&data, None).unwrap();
    assert!(report.verdict.problems.is_empty(), "the old trail is whole: {report:?}");
    let office = pass_office::Office::open(&data, pass_office::Transport::Plain, pass_office::system_clock()).unwrap();
    let base = format!("http://{}", pass_office::spawn_on_loopback(office));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let log_in = |login: &str, password: &str| -> String {
        let mut form = agent.get(&format!("{base}/login")).call().unwrap();
        let cookie = form.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
        let body = form.body_mut().read_to_string().unwrap();
        let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let answer = agent
            .post(&format!("{base}/login"))
            .header("Cookie", &cookie)
            .send_form([("csrf", csrf.as_str()), ("login", login), ("password", password)])
            .unwrap();
        assert_eq!(answer.status(), 303, "{login} logs in");
        answer.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned()
    };
    let page = |cookie: &str, path: &str| -> String {
        let mut answer = agent.get(&format!("{base}{path}")).header("Cookie", cookie).call().unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        answer.body_mut().read_to_string().unwrap()
    };
    let reviewer = log_in("reviewer", "reviewer-password-1");
    let all = page(&reviewer, "/applications");
    assert!(all.contains("共 2 份申请") && all.contains("粤A12345") && all.contains("粤A54321"), "{all}");
    let by_driver = page(&reviewer, "/applications?q=%E6%9D%8E%E5%9B%9B");
    assert!(by_driver.contains("共 2 份申请"), "drivers from the old rows are searchable: {by_driver}");
    let enterprise = log_in("dongfeng", "dongfeng-password-1");
    assert!(page(&enterprise, "/applications?state=issued").contains("共 1 份申请"));
    assert!(page(&enterprise, "/passes.csv").contains("粤A12345"), "its pass exports");
}

/// The revocation server: its database migrated (audit heads, the offices' serials), its
/// version and revocations served, its old issuer token still good.
#[test]
fn a_server_database_from_the_last_release_opens() {
    let dir = tempfile::tempdir().unwrap();
    let data = copy("server", dir.path());
    let server = Server::start(&data);
    let run = verifier(&[
        "sync",
        "--server",
        &server.url,
        "--trust",
        root().join("keys-example/trust.toml").to_str().unwrap(),
        "--state",
        dir.path().join("fresh.bin").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("version 0 → 2"), "the two revocations the old server held: {}", run.stdout);
    let token = std::fs::read_to_string(fixture("server-issuer-token.txt")).unwrap();
    let body = r#"{"key_id":"f3c3dcf66c87927e","serials":[11],"reason":"after the upgrade"}"#;
    let (status, text) = http(&server.url, "POST", "/v1/revocations", Some(token.trim()), Some(body));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"version\":3"), "{text}");
}

/// A checkpoint's state file: read as it was (version 2, both revocations), and a pass the
/// old issuer made is checked against it.
#[test]
fn a_checkpoint_state_from_the_last_release_opens() {
    let dir = tempfile::tempdir().unwrap();
    let state = copy("checkpoint", dir.path()).join("state.bin");
    let trust = root().join("keys-example/trust.toml");
    let run = verifier(&["status", "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("version 2"), "{}", run.stdout);
    let png = fixture("issuer/pass.png");
    #[rustfmt::skip]
    let scan = verifier(&["scan", png.to_str().unwrap(), "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap(),
        "--at", "2026-12-15T12:00:00+08:00", "--zone", "440114", "--json"]);
    assert_eq!(scan.json()["verdict"], "accepted", "{}", scan.stdout);
}

/// An issuing ledger: its pass listed, and the next pass takes the next serial.
#[test]
fn an_issuing_ledger_from_the_last_release_opens() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = copy("issuer", dir.path()).join("ledger.sqlite");
    let run = issuer(&["list", "--ledger", ledger.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("粤B54321"), "{}", run.stdout);
    let opened = pass_issuer::ledger::Ledger::open(&ledger).unwrap();
    let key_id: pass_core::KeyId = "f3c3dcf66c87927e".parse().unwrap();
    assert_eq!(opened.next_serial(key_id).unwrap(), 2);
}
