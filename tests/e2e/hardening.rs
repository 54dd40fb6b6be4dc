//! Untrusted text never reaches a terminal or a spreadsheet as commands; a sync loop cannot
//! hammer a server (issue 12, items 10-12).

use crate::util::{issuer, root, verifier};

/// A QR code's text and a file name full of terminal escapes are shown escaped.
#[test]
fn terminal_escapes_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred";
    let png = pass_issuer::render::Qr::new(hostile.as_bytes()).unwrap().to_png(8).unwrap();
    let path = dir.path().join("photo\u{1b}[31m.png");
    std::fs::write(&path, png).unwrap();
    let run = verifier(&["decode", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'), "{:?}", run.stdout);
    assert!(run.stdout.contains("\\u{1b}]0;pwned\\u{7}"), "{}", run.stdout);
    let trust = root().join("keys-example/trust.toml");
    let run = verifier(&["scan", path.to_str().unwrap(), "--trust", trust.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
    assert!(run.stdout.contains("not_a_pass"), "{}", run.stdout);
}

/// A holder named like a formula is exported as text.
#[test]
fn spreadsheet_formulas_are_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::util::example_key(dir.path());
    let ledger = dir.path().join("ledger.sqlite");
    let png = dir.path().join("p.png");
    let holder = "=HYPERLINK(\"http://x.example\",\"点击\")";
    #[rustfmt::skip]
    let run = issuer(&[
        "issue", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
        "--plate", "粤A12345", "--vehicle-type", "van", "--holder", holder, "--origin", "440114",
        "--destination", "440114", "--zone", "440114", "--cargo=-1+1", "--from", "2026-12-01",
        "--until", "2026-12-31", "--out", png.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let csv = issuer(&["list", "--ledger", ledger.to_str().unwrap(), "--csv"]).stdout;
    let row = csv.lines().nth(1).unwrap();
    assert!(row.contains(r#""'=HYPERLINK(""http://x.example"",""点击"")""#), "{row}");
    assert!(row.contains(",'-1+1,"), "{row}");
    assert!(!row.contains(",=") && !row.contains(",\"="), "{row}");
}

/// `--every` has a floor and durations cannot overflow.
#[test]
fn a_sync_loop_cannot_hammer() {
    let trust = root().join("keys-example/trust.toml");
    let trust = trust.to_str().unwrap();
    for every in ["0s", "1s", "29s"] {
        let run = verifier(&["sync", "--server", "http://127.0.0.1:9", "--every", every, "--trust", trust]);
        assert_eq!(run.code, 2, "{every}: {}", run.stderr);
        assert!(run.stderr.contains("at least 30s"), "{}", run.stderr);
    }
    let run =
        verifier(&["sync", "--server", "http://127.0.0.1:9", "--every", "99999999999999999999d", "--trust", trust]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a duration"), "{}", run.stderr);
}

/// `sync --every` goes on after any failure, saying each one: a damaged state file (which it
/// used to end on, as on a lock or settings error, while only network errors were retried) is
/// reported every round and left as it is for the operator, never replaced.
#[test]
fn a_sync_loop_reports_a_damaged_state_and_goes_on() {
    use std::io::BufRead;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.bin");
    std::fs::write(&state, b"CPVS damaged on the disk").unwrap();
    let trust = root().join("keys-example/trust.toml");
    let mut child = crate::util::command("pass-verifier")
        .args(["sync", "--server", "http://127.0.0.1:9", "--every", "30s", "--trust"])
        .arg(&trust)
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("damaged") && line.contains("next try in"), "{line}");
    // Still running: the loop waits for its next round instead of ending.
    assert!(child.try_wait().unwrap().is_none(), "the sync loop ended");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(std::fs::read(&state).unwrap(), b"CPVS damaged on the disk", "left for the operator");
}

/// Operator mistakes that used to start a broken server are refused at start-up, one line each.
#[test]
fn a_broken_server_configuration_refuses_to_start() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let serve = |data: &std::path::Path, key: &std::path::Path| {
        let output = Command::new(crate::util::bin("pass-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--authority-key")
            .arg(key)
            .arg("--trust")
            .arg(root().join("keys-example/trust.toml"))
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    // An authority key that is not the trust list's [authority].
    let other = dir.path().join("other");
    let run = issuer(&["keygen", "--out", other.to_str().unwrap(), "--name", "another authority", "--authority"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (code, stderr) = serve(&dir.path().join("data1"), &other.join("authority.key"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("every checkpoint would refuse"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    // A second server on the same data directory.
    let first = crate::util::Server::start(&dir.path().join("data2"));
    let (code, stderr) = serve(&first.data, &root().join("keys-example/authority.key"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("in use by another pass-server"), "{stderr}");
    // A data directory it cannot write to (procfs refuses new files, even to root).
    let (code, stderr) = serve(std::path::Path::new("/proc/1"), &root().join("keys-example/authority.key"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not writable"), "{stderr}");
}

/// A bad output path costs no serial; a key file others can read is used with a warning.
#[test]
fn bad_output_paths_cost_no_serial_and_loose_keys_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("issuer.key");
    std::fs::copy(root().join("keys-example/issuer.key"), &key).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let issue = |out: &str| {
        #[rustfmt::skip]
        let run = issuer(&[
            "issue", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
            "--plate", "粤A12345", "--vehicle-type", "van", "--holder", "某公司", "--origin", "440114",
            "--destination", "440114", "--zone", "440114", "--cargo", "货物", "--from", "2026-12-01",
            "--until", "2026-12-31", "--out", out, "--json",
        ]);
        run
    };
    let run = issue("/nonexistent/x.png");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot write /nonexistent/x.png"), "{}", run.stderr);
    let run = issue("/dev/full");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let good = dir.path().join("p.png");
    let run = issue(good.to_str().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["serial"], 1, "the failed attempts took no serial");
    #[cfg(unix)]
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
}

/// Tokens can be listed and withdrawn, a withdrawn token is refused at once by the running
/// server, a bad token is refused before its body is read, and the office's token never needs
/// to be on a command line.
#[test]
fn tokens_are_withdrawn_at_once_and_kept_off_command_lines() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let server = crate::util::Server::start(&dir.path().join("server"));
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let (serial, _) = crate::util::issue_now(dir.path(), "粤A12345");
    let key = crate::util::example_key(dir.path());
    let ledger = dir.path().join("ledger.sqlite");
    let revoke = |serial: u64, token_source: &str| {
        let mut child = Command::new(crate::util::bin("pass-issuer"))
            .args(["revoke", &serial.to_string(), "--server", &server.url, "--reason", "sold", "--key"])
            .arg(&key)
            .arg("--ledger")
            .arg(&ledger)
            .args(["--token-file", token_source])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{token}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let run = revoke(serial, "-");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    assert!(revoke(serial, file.to_str().unwrap()).status.success(), "from a file");
    let from_env = Command::new(crate::util::bin("pass-issuer"))
        .args(["revoke", &serial.to_string(), "--server", &server.url, "--reason", "sold", "--key"])
        .arg(&key)
        .arg("--ledger")
        .arg(&ledger)
        .env("CHECKPASS_TOKEN", &token)
        .output()
        .unwrap();
    assert!(from_env.status.success(), "from CHECKPASS_TOKEN: {}", String::from_utf8_lossy(&from_env.stderr));

    // A bad token announcing a 2 MiB body, of which nothing is sent: answered 401 at once, so
    // the body was never waited for, let alone read.
    {
        use std::io::Read;
        let addr = server.url.strip_prefix("http://").unwrap();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let head = "POST /v1/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cpt_wrong\r\n\
                    Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 401");
    }

    // List, remove, and the running server refuses it on the next request.
    let data = server.data.to_str().unwrap();
    let list = Command::new(crate::util::bin("pass-server")).args(["token", "list", "--data", data]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(!list.contains(&token), "the list shows ids, never tokens");
    let id = list.lines().find(|l| l.contains("issuer f3c3dcf66c87927e")).unwrap().split_whitespace().next().unwrap();
    let removed =
        Command::new(crate::util::bin("pass-server")).args(["token", "remove", "--data", data, id]).output().unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    let body = r#"{"key_id":"f3c3dcf66c87927e","serials":[5],"reason":"x"}"#;
    assert_eq!(crate::util::http(&server.url, "POST", "/v1/revocations", Some(&token), Some(body)).0, 401);
}

/// Every file the programs read is capped while reading: /dev/zero, directly or behind a
/// symlink, is refused at once.
#[cfg(unix)]
#[test]
fn endless_files_are_refused_while_reading() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let trust = root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    let started = std::time::Instant::now();
    let run =
        verifier(&["import", "/dev/zero", "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    let zero_key = dir.path().join("issuer.key");
    std::os::unix::fs::symlink("/dev/zero", &zero_key).unwrap();
    let run = issuer(&["show", "1", "--key", zero_key.to_str().unwrap()]);
    assert_ne!(run.code, 0);
    let run = issuer(&["trust-entry", "--key", zero_key.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let server = Command::new(crate::util::bin("pass-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--authority-key")
        .arg(&zero_key)
        .output()
        .unwrap();
    assert_eq!(server.status.code(), Some(2), "{}", String::from_utf8_lossy(&server.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "capped, not read to the end");
}

/// `import` of a FIFO is refused before it is opened: opening it for reading used to block for
/// ever, holding the state file's lock, so every sync behind it waited too.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_not_waited_on() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stick.bin");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let trust = root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    // `import` from a stick, and `scan` of a photo (I-2: it waited for a writer for ever).
    for command in ["import", "scan"] {
        let mut child = Command::new(crate::util::bin("pass-verifier"))
            .arg(command)
            .arg(&fifo)
            .arg("--trust")
            .arg(&trust)
            .arg("--state")
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command} of a FIFO still waiting after 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{command}: {stderr}");
    }
}

/// Syncs at once on one state file: each waits for the other, and the file ends at the
/// server's version.
#[test]
fn concurrent_syncs_never_write_an_older_state() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let server = crate::util::Server::start(&dir.path().join("server"));
    let admin = server.token(&["--admin"]);
    let state = dir.path().join("state.bin");
    let trust = root().join("keys-example/trust.toml");
    let mut children = Vec::new();
    for round in 0..6u64 {
        let body = format!(r#"{{"key_id":"f3c3dcf66c87927e","serials":[{}],"reason":"x"}}"#, round + 1);
        assert_eq!(crate::util::http(&server.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
        children.push(
            Command::new(crate::util::bin("pass-verifier"))
                .args(["sync", "--server", &server.url, "--trust", trust.to_str().unwrap(), "--state"])
                .arg(&state)
                .env("XDG_CONFIG_HOME", "/nonexistent-checkpass-test")
                .spawn()
                .unwrap(),
        );
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let run = verifier(&[
        "sync",
        "--server",
        &server.url,
        "--trust",
        trust.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(run.stdout.contains("current (version 6)"), "{}", run.stdout);
}

/// An up-to-date checkpoint gets a 304 whether it says so by `since` or by a weak ETag.
#[test]
fn up_to_date_checkpoints_get_a_304_either_way() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::util::Server::start(&dir.path().join("server"));
    let admin = server.token(&["--admin"]);
    let body = r#"{"key_id":"f3c3dcf66c87927e","serials":[7],"reason":"x"}"#;
    assert_eq!(crate::util::http(&server.url, "POST", "/v1/revocations", Some(&admin), Some(body)).0, 200);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let get = |path: &str, etag: Option<&str>| {
        let mut request = agent.get(&format!("{}{path}", server.url));
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        request.call().unwrap().status().as_u16()
    };
    assert_eq!(get("/v1/revocations?since=1", None), 304);
    assert_eq!(get("/v1/revocations?since=0", None), 200);
    assert_eq!(get("/v1/revocations", Some("W/\"r1\"")), 304);
    assert_eq!(get("/v1/revocations", Some("\"r0\"")), 200);
    assert_eq!(get("/v1/heartbeat", None), 200);
}

/// Idle and half-sent connections are closed after the header timeout, so they cannot pile up
/// until the server runs out of file descriptors; when it does run out (here: 128 allowed), it
/// says so in its log, and `/healthz` answers again once the idle connections are gone.
#[cfg(unix)]
#[test]
fn idle_connections_cannot_exhaust_the_server() {
    use std::io::{BufRead, Read, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut child = Command::new("prlimit")
        .args(["--nofile=128:128", "--"])
        .arg(crate::util::bin("pass-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--authority-key")
        .arg(root().join("keys-example/authority.key"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap().to_owned();
    let healthz = || {
        let mut stream = TcpStream::connect(&addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.starts_with("HTTP/1.1 200").then_some(())
    };
    assert!(healthz().is_some());

    // 200 connections that send nothing or half a header: more than the server may hold.
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut stream = TcpStream::connect(&addr).unwrap();
            if i % 2 == 1 {
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            stream
        })
        .collect();
    // Every one the server accepted is closed by it after the header timeout (15 s).
    for stream in &mut idle {
        stream.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => {} // an error answer (408) before closing
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open after {:?}", started.elapsed()),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(45), "closed by the timeout: {:?}", started.elapsed());
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(20);
    while healthz().is_none() {
        assert!(Instant::now() < deadline, "/healthz did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("connection limit reached"), "{log}");
}

/// `pass-server serve` checks that its data directory is writable without a file of a
/// predictable name (it created `.write-probe-<pid>`, truncating whatever a symlink planted
/// there pointed to), and refuses a symlink as its lock file.
#[cfg(unix)]
#[test]
fn planted_symlinks_in_the_data_directory_are_not_followed() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    // The server's pid is one of the next few thousand: a link for each.
    let mut probe = Command::new("true").spawn().unwrap();
    let base = probe.id();
    probe.wait().unwrap();
    let planted = base..base + 3000;
    for pid in planted.clone() {
        std::os::unix::fs::symlink(&victim, data.join(format!(".write-probe-{pid}"))).unwrap();
    }
    let server = crate::util::Server::start(&data);
    let pid = server.child.id();
    drop(server);
    assert!(planted.contains(&pid), "pid {pid} outside the planted range: run again");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "the planted link's target was written");

    std::fs::remove_file(data.join("server.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, data.join("server.lock")).unwrap();
    let run = crate::util::server(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.to_str().unwrap(),
        "--authority-key",
        root().join("keys-example/authority.key").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
}

/// One client address cannot take the connections everyone else needs: a flood of connections
/// from 127.0.0.1 (idle, or reading a response at a few bytes a second) against a server short
/// of file descriptors gets at most `--max-connections-per-address` of them, and `/healthz`
/// from another address (::1) is answered at once, while the flood still holds its
/// connections. (The write deadline that ends a slow reader's response is tested in
/// `pass_server::limits`.)
#[test]
fn one_address_cannot_take_every_connection() {
    use std::io::{BufRead, Read, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        crate::util::missing_prerequisite("one_address_cannot_take_every_connection", "no IPv6 loopback (::1)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("prlimit")
        .args(["--nofile=128:128", "--"])
        .arg(crate::util::bin("pass-server"))
        .args(["serve", "--listen", "[::]:0", "--max-connections-per-address", "16", "--data"])
        .arg(dir.path().join("data"))
        .arg("--authority-key")
        .arg(root().join("keys-example/authority.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    let healthz = |host: &str| {
        let mut stream = TcpStream::connect((host, port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.starts_with("HTTP/1.1 200").then_some(())
    };
    assert!(healthz("::1").is_some());
    // 200 connections from 127.0.0.1, more than the server has descriptors for; half send a
    // request and never read the answer.
    let flood: Vec<TcpStream> = (0..200)
        .filter_map(|i| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
            if i % 2 == 1 {
                let _ = stream.write_all(b"GET /v1/revocations HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            Some(stream)
        })
        .collect();
    assert!(healthz("::1").is_some(), "another address is served during the flood");
    // The flood's address gets its share and no more: most of its connections were closed.
    let mut closed = 0;
    for mut stream in flood {
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut byte = [0u8; 1];
        // Closed: an end of stream or a reset; still open: the read timed out (or an answer).
        let open =
            |e: &std::io::Error| matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut);
        match stream.read(&mut byte) {
            Ok(0) => closed += 1,
            Err(e) if !open(&e) => closed += 1,
            _ => {}
        }
    }
    assert!(closed >= 150, "{closed} of 200 closed at once");
    let _ = child.kill();
    let _ = child.wait();
}

/// A slowloris client (a request head that never ends, one more header line every 4 s) is
/// closed within 30 s by each of the three services, all served by pass-http: the office
/// console (which kept such a connection open for over a minute before), the checkpoint's
/// station and the revocation server.
#[test]
fn a_slowloris_connection_is_closed_by_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::util::example_key(dir.path());
    let data = dir.path().join("office");
    pass_office::init(&data, &key, "示例签发机关", (pass_office::system_clock())()).unwrap();
    let office = pass_office::Office::open(&data, pass_office::Transport::Plain, pass_office::system_clock()).unwrap();
    let console = pass_office::spawn_on_loopback(office);
    let trust = crate::util::root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    let station =
        crate::station::start_station(&["--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap()]);
    let station_addr = station.address();
    let server = crate::util::Server::start(&dir.path().join("server"));
    let server_addr = server.url.trim_start_matches("http://").parse().unwrap();
    let clients: Vec<_> = [("console", console), ("station", station_addr), ("server", server_addr)]
        .into_iter()
        .map(|(name, addr)| std::thread::spawn(move || (name, crate::util::slowloris(addr))))
        .collect();
    for client in clients {
        let (name, closed) = client.join().unwrap();
        assert!(
            closed.is_some_and(|after| after < std::time::Duration::from_secs(30)),
            "{name}: a slowloris connection was {closed:?} (None: still open after 60 s)"
        );
    }
    drop((station, server));
}
