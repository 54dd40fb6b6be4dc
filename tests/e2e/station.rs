//! The live station in a real browser: Debian's Chromium, headless, with a fake webcam that
//! plays a video of a pass issued at test time (camsim frames written as y4m). The page is read
//! through the DevTools protocol; the scan log through `pass-verifier log`.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pass_camsim::video;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

use crate::util::{Server, bin, issue_now, issuer, root, verifier, wait_for};

/// A y4m video for Chromium's fake webcam: blank frames, the code for 2.5 s, blank again.
/// Chromium loops the file; the blank tail (4 s) is longer than the station's grace, so the
/// checks below finish within one pass of the loop.
fn video(path: &Path, code: &[u8]) {
    video::write_y4m(path, &video::presentation(code, 5, 25, 40)).unwrap();
}

/// A headless Chromium on `url` with `video` as its webcam; killed (with its children) on drop.
pub(crate) struct Browser {
    child: Child,
    devtools: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) fn launch(url: &str, video: &Path) -> Browser {
        let chromium = ["chromium", "chromium-browser"]
            .into_iter()
            .find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()))
            .expect("chromium is missing: ./scripts/test.sh installs Debian's chromium");
        let profile = tempfile::tempdir().unwrap();
        let mut command = Command::new(chromium);
        command
            .arg("--headless=new")
            .args(pass_issuer::print::CHROMIUM_QUIET)
            .args([
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                // A laptop's screen: the whole verdict must fit it.
                "--window-size=1366,768",
            ])
            .arg(format!("--use-file-for-fake-video-capture={}", video.display()))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().unwrap();
        eprintln!("[station test] chromium pid {}", child.id());
        // Chromium writes the DevTools port it picked into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let port = wait_for("Chromium's DevTools port", Duration::from_secs(30), || {
            std::fs::read_to_string(&port_file).ok()?.lines().next()?.trim().parse::<u16>().ok()
        });
        let page = wait_for("the station page in Chromium", Duration::from_secs(30), || {
            let text = ureq::get(&format!("http://127.0.0.1:{port}/json/list"))
                .call()
                .ok()?
                .body_mut()
                .read_to_string()
                .ok()?;
            let list: Value = serde_json::from_str(&text).ok()?;
            list.as_array()?
                .iter()
                .find(|t| t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url)))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
        });
        let (devtools, _) = tungstenite::connect(page).unwrap();
        Browser { child, devtools, next_id: 0, _profile: profile }
    }

    /// One DevTools call; its `result`.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params).unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// One DevTools call; its `result`, or the error it answered.
    pub(crate) fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.devtools.send(tungstenite::Message::Text(message.into())).unwrap();
        loop {
            let tungstenite::Message::Text(text) = self.devtools.read().unwrap() else { continue };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] == id {
                return match answer.get("error") {
                    Some(error) => Err(error.to_string()),
                    None => Ok(answer["result"].clone()),
                };
            }
        }
    }

    /// The page's state on `<body>`, once the page has loaded.
    fn state(&mut self) -> Value {
        let expression = "({...document.body.dataset, sync: document.getElementById('st-sync').textContent})";
        wait_for("the page to load", Duration::from_secs(30), || {
            let result = self.try_call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}));
            result.ok().map(|r| r["result"]["value"].clone()).filter(|v| v.is_object())
        })
    }

    /// Evaluates `expression` in the page; its value.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}))["result"]["value"]
            .clone()
    }

    pub(crate) fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium's helper processes end when the browser process does.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pass-verifier station` on 127.0.0.1:0; killed on drop.
pub(crate) struct StationProcess {
    child: Child,
    url: String,
}

impl Drop for StationProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The station's own WebSocket, as its page uses it.
pub(crate) struct StationSocket(tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>);

impl StationProcess {
    /// The address the station listens on.
    pub(crate) fn address(&self) -> std::net::SocketAddr {
        let host = self.url.trim_start_matches("http://").split('/').next().unwrap();
        host.parse().unwrap()
    }

    pub(crate) fn connect(&self) -> StationSocket {
        use tungstenite::client::IntoClientRequest;
        let (base, token) = self.url.split_once("/?token=").unwrap();
        let mut request =
            format!("{}/ws?token={token}", base.replace("http://", "ws://")).into_client_request().unwrap();
        request.headers_mut().insert("origin", base.parse().unwrap());
        StationSocket(tungstenite::connect(request).unwrap().0)
    }
}

impl StationSocket {
    /// Submits a text form (typed, pasted or from a keyboard-wedge scanner); the answer.
    pub(crate) fn check_text(&mut self, text: &str) -> Value {
        self.0.send(tungstenite::Message::Text(json!({"type": "text", "text": text}).to_string().into())).unwrap();
        loop {
            let tungstenite::Message::Text(message) = self.0.read().unwrap() else { continue };
            let message: Value = serde_json::from_str(&message).unwrap();
            if message["type"] == "result" {
                return message;
            }
        }
    }
}

pub(crate) fn start_station(args: &[&str]) -> StationProcess {
    start_station_as(crate::util::command("pass-verifier"), args)
}

/// `station` run by `command` (the checkpoint binary, or its Windows build under wine).
pub(crate) fn start_station_as(mut command: Command, args: &[&str]) -> StationProcess {
    let mut child = command
        .arg("station")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("checkpoint station: open ").unwrap_or_else(|| panic!("station said {line:?}"));
    StationProcess { url: url.to_owned(), child }
}

/// Shows `code` to the station through the fake webcam; returns the page's state once the
/// presentation is over (the pass has left the view), and the browser for more.
pub(crate) fn present(station: &StationProcess, dir: &Path, name: &str, code: &[u8]) -> (Value, Browser) {
    let file = dir.join(format!("{name}.y4m"));
    video(&file, code);
    eprintln!("[station test] video {name} written; launching chromium");
    let mut browser = Browser::launch(&station.url, &file);
    eprintln!("[station test] chromium connected");
    wait_for(&format!("an announcement of the {name} pass"), Duration::from_secs(60), || {
        let state = browser.state();
        (state["announcements"] != "0").then_some(())
    });
    // The code is in view for 2.5 s of the 7 s loop, then blank for 4 s: the presentation is
    // over when the station says so (its grace after the code was last seen), before the loop
    // brings the code back.
    let state = wait_for(&format!("the end of the {name} presentation"), Duration::from_secs(30), || {
        let state = browser.state();
        (state["presenting"] == "0").then_some(state)
    });
    (state, browser)
}

/// The whole verdict fits a 1366×768 laptop screen: no element of it below the fold (the
/// footer's top) or past the right edge, nothing to scroll, and the validity on one line.
fn the_verdict_fits_the_screen(browser: &mut Browser) {
    let fold = browser.eval(
        "(() => { const out = []; const w = window.innerWidth;
           // Above the footer (the manual input bar), which lies over the bottom of the page.
           const h = Math.min(window.innerHeight, document.querySelector('footer').getBoundingClientRect().top);
           for (const el of document.querySelectorAll('#verdict *')) {
             const r = el.getBoundingClientRect();
             if (r.width === 0 && r.height === 0) continue;
             if (r.bottom > h + 0.5 || r.right > w + 0.5) out.push(`${el.id || el.tagName} ${r.bottom}x${r.right}`);
           }
           const verdict = document.getElementById('verdict');
           if (verdict.scrollHeight > verdict.clientHeight + 1) out.push(`scrolls ${verdict.scrollHeight}>${verdict.clientHeight}`);
           const valid = document.getElementById('v-valid');
           const one_line = valid.getBoundingClientRect().height < 1.6 * parseFloat(getComputedStyle(valid).fontSize);
           return {outside: out, size: [w, h], one_line}; })()",
    );
    // The window is 1366×768; the page gets what the browser's own frame leaves of it.
    assert_eq!(fold["size"][0], 1366, "{fold}");
    assert!(fold["size"][1].as_f64().unwrap() <= 768.0, "{fold}");
    assert_eq!(fold["one_line"], true, "the validity wraps: {fold}");
    assert_eq!(fold["outside"], json!([]), "parts of the verdict off the screen: {fold}");
}

#[test]
fn a_pass_held_up_to_the_camera_gives_one_verdict_on_screen_and_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let trust = root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    let (trust, state_arg) = (trust.to_str().unwrap(), state.to_str().unwrap());

    let (good_serial, good) = issue_now(dir.path(), "粤A12345");
    let (revoked_serial, revoked) = issue_now(dir.path(), "粤B54321");
    let (_, mut forged) = issue_now(dir.path(), "粤C11111");
    let last = forged.len() - 1;
    forged[last] ^= 0x01;

    // The office revokes one pass on a real server; the checkpoint syncs before the shift.
    let data = dir.path().join("server");
    let server = Server::start(&data);
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let ledger = dir.path().join("ledger.sqlite");
    #[rustfmt::skip]
    let run = issuer(&[
        "revoke", &revoked_serial.to_string(), "--server", &server.url, "--token", &token,
        "--reason", "vehicle sold", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = verifier(&["sync", "--server", &server.url, "--trust", trust, "--state", state_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    eprintln!("[station test] synced; starting the station");
    let station = start_station(&[
        "--trust",
        trust,
        "--state",
        state_arg,
        "--zone",
        "440114",
        "--sync",
        &server.url,
        "--every",
        "10m",
    ]);

    let (page, mut browser) = present(&station, dir.path(), "accepted", &good);
    assert_eq!(page["verdict"], "accepted", "{page}");
    assert_eq!(page["plate"], "粤A12345", "{page}");
    assert_eq!(page["announcements"], "1", "one announcement for one presentation: {page}");
    assert!(!page["sync"].as_str().unwrap_or("").contains("failed"), "the background sync ran: {page}");
    // The screen as the officer sees it (README): shown again by the second look, so take it now,
    // and before the checks below, so that a failing one can be looked at.
    let shot_dir = root().join("target/screenshots");
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join("station-accepted.png");
    browser.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a real screenshot");
    // The crew under the plate, and the pass number officers read out over the phone.
    let text = |browser: &mut Browser, id: &str| browser.eval(&format!("document.getElementById('{id}').textContent"));
    assert_eq!(text(&mut browser, "v-crew"), "张三（驾驶员）、李四");
    assert_eq!(text(&mut browser, "v-number"), format!("440114{good_serial:06}").as_str());
    the_verdict_fits_the_screen(&mut browser);
    drop(browser);

    let (page, mut browser) = present(&station, dir.path(), "revoked", &revoked);
    assert_eq!((page["verdict"].as_str(), page["reason"].as_str()), (Some("rejected"), Some("revoked")), "{page}");
    assert_eq!(page["plate"], "粤B54321");
    assert_eq!(page["announcements"], "1", "{page}");
    browser.screenshot(&shot_dir.join("station-rejected.png"));
    the_verdict_fits_the_screen(&mut browser);
    drop(browser);

    let (page, browser) = present(&station, dir.path(), "forged", &forged);
    assert_eq!(
        (page["verdict"].as_str(), page["reason"].as_str()),
        (Some("rejected"), Some("bad_signature")),
        "{page}"
    );
    assert_eq!(page["plate"], "", "nothing of a forged pass is shown");
    assert_eq!(page["announcements"], "1", "{page}");
    drop(browser);

    // A page from another origin is refused, and so is a request without the token.
    let (base, token) = station.url.split_once("/?token=").unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let foreign = agent.get(&format!("{base}/?token={token}")).header("Origin", "http://evil.example").call().unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(agent.get(&format!("{base}/")).call().unwrap().status(), 403);
    assert_eq!(agent.get(&station.url).call().unwrap().status(), 200);

    // kill -9 (Child::kill is SIGKILL): nothing the screen announced is missing from the log.
    drop(station);

    // One log row per presentation, with what the screen showed.
    let log = verifier(&["log", "--json", "--state", state_arg]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    let rows = log.json_lines();
    let summary: Vec<(Option<u64>, &str)> =
        rows.iter().map(|r| (r["serial"].as_u64(), r["reason"].as_str().unwrap_or("accepted"))).collect();
    assert_eq!(summary, [(Some(good_serial), "accepted"), (Some(revoked_serial), "revoked"), (None, "bad_signature")]);
    assert!(rows[0]["frames"].as_u64().unwrap() >= 2, "the row counts the frames in view: {}", rows[0]);
    let csv = verifier(&["log", "--csv", "--state", state_arg]);
    assert_eq!(csv.stdout.lines().count(), 4, "{}", csv.stdout);
    assert!(csv.stdout.starts_with("id,at,verdict,reason,serial"), "{}", csv.stdout);
    assert!(csv.stdout.lines().next().unwrap().contains("pass_number,crew"), "{}", csv.stdout);
    assert!(csv.stdout.contains(&format!("440114{good_serial:06},张三（驾驶员）、李四")), "{}", csv.stdout);
    assert_eq!(verifier(&["log", "--json", "--state", state_arg, "--since", "2000-01-01"]).json_lines().len(), 3);
    assert_eq!(verifier(&["log", "--json", "--state", state_arg, "--since", "2100-01-01"]).stdout, "");
}

/// Only loopback: the station refuses to listen anywhere else.
#[test]
fn the_station_listens_on_loopback_only() {
    let trust = root().join("keys-example/trust.toml");
    for listen in ["0.0.0.0:0", "192.0.2.1:8477", "[::]:0"] {
        let run = verifier(&["station", "--listen", listen, "--trust", trust.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{listen}: {}", run.stderr);
        assert!(run.stderr.contains("loopback"), "{}", run.stderr);
    }
}

/// `--open` with no browser to open still starts the station, and says what to do.
#[test]
fn the_station_starts_without_a_browser_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let trust = root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    let mut child = Command::new(bin("pass-verifier"))
        .args(["station", "--listen", "127.0.0.1:0", "--open", "--trust", trust.to_str().unwrap()])
        .arg("--state")
        .arg(&state)
        .env("PATH", dir.path())
        .env("XDG_CONFIG_HOME", "/nonexistent-checkpass-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("checkpoint station: open ").unwrap().to_owned();
    let page = ureq::get(&url).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(page.contains("data-verdict=\"idle\""));
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("open the address above by hand"), "{stderr}");
}

/// `station --log FILE` keeps its scan log there (not beside the state file), and
/// `log --log FILE` exports it: a pass typed into the station's text box (the keyboard-wedge
/// way in) over the station's own WebSocket.
#[test]
fn the_scan_log_goes_where_log_says() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = issue_now(dir.path(), "粤B54321");
    let text = pass_core::envelope::to_text(&bytes);
    let trust = root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    let log = dir.path().join("elsewhere").join("gate-3.sqlite");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    #[rustfmt::skip]
    let station = start_station(&[
        "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap(),
        "--zone", "440114", "--log", log.to_str().unwrap(),
    ]);
    let result = station.connect().check_text(&text);
    assert_eq!(result["verdict"]["verdict"], "accepted", "{result}");
    drop(station);

    let export = verifier(&["log", "--json", "--log", log.to_str().unwrap()]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let rows = export.json_lines();
    assert_eq!(rows.len(), 1, "{}", export.stdout);
    assert_eq!(rows[0]["plate"], "粤B54321", "{}", export.stdout);
    assert!(!dir.path().join("scanlog.sqlite").exists(), "nothing beside the state file");
}

/// A running station takes revocations that another process brings: an import from a USB stick
/// (no network at all) or a `sync`. It used to keep the state it loaded at start until its own
/// background sync succeeded, so a pass revoked by an import stayed ACCEPTED.
#[test]
fn a_running_station_takes_an_import_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let trust = root().join("keys-example/trust.toml");
    let state = dir.path().join("state.bin");
    let (trust, state_arg) = (trust.to_str().unwrap(), state.to_str().unwrap());
    let (serial, bytes) = issue_now(dir.path(), "粤B54321");
    let text = pass_core::envelope::to_text(&bytes);

    let station = start_station(&["--trust", trust, "--state", state_arg, "--zone", "440114"]);
    let mut socket = station.connect();
    assert_eq!(socket.check_text(&text)["verdict"]["verdict"], "accepted");

    // The office revokes the pass; the authority exports a bundle onto a stick.
    let data = dir.path().join("server");
    let server = Server::start(&data);
    let admin = server.token(&["--admin"]);
    let body = format!(r#"{{"key_id":"f3c3dcf66c87927e","serials":[{serial}],"reason":"stolen"}}"#);
    assert_eq!(crate::util::http(&server.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
    drop(server);
    let stick = dir.path().join("bundle.bin");
    #[rustfmt::skip]
    let run = crate::util::server(&[
        "export", "--data", data.to_str().unwrap(), "--out", stick.to_str().unwrap(),
        "--authority-key", root().join("keys-example/authority.key").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // Another process imports it while the station runs: the very next check is REJECTED.
    let run = verifier(&["import", stick.to_str().unwrap(), "--trust", trust, "--state", state_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let imported = Instant::now();
    let answer = socket.check_text(&text);
    assert!(imported.elapsed() < Duration::from_secs(1), "answered in {:?}", imported.elapsed());
    assert_eq!(
        (answer["verdict"]["verdict"].as_str(), answer["verdict"]["reason"].as_str()),
        (Some("rejected"), Some("revoked")),
        "{answer}"
    );

    // A damaged state file is not taken: the station keeps the last good data and says so.
    std::fs::write(&state, b"damaged").unwrap();
    let answer = socket.check_text(&text);
    assert_eq!(answer["verdict"]["reason"], "revoked", "{answer}");
}
