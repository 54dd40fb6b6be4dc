//! The office console end to end: an enterprise applies, a second person approves, the pass
//! printed and on the phone is ACCEPTED by the checkpoint binary; the reviewer revokes it
//! through a real `pass-server`, the checkpoint syncs and REJECTS it `revoked`, and the
//! driver's e-pass page says cancelled.

use std::path::Path;

use crate::util::{Server, root, verifier};

/// A browser without script: a cookie, forms posted, redirects not followed.
struct Client {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
}

struct Answer {
    status: u16,
    location: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn csrf(&self) -> String {
        let text = self.text();
        let at = text.find("name=\"csrf\" value=\"").expect("a form") + 19;
        text[at..].split('"').next().unwrap().to_owned()
    }

    /// The value after `marker` up to the next `end`.
    fn after(&self, marker: &str, end: char) -> String {
        let text = self.text();
        let at = text.find(marker).unwrap_or_else(|| panic!("{marker:?} in {text}")) + marker.len();
        text[at..].split(end).next().unwrap().to_owned()
    }
}

impl Client {
    fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        Client { agent, base: base.to_owned(), cookie: None }
    }

    fn answer(&mut self, response: ureq::http::Response<ureq::Body>) -> Answer {
        let mut response = response;
        if let Some(cookie) = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        }
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
        Answer { status, location, body }
    }

    fn get(&mut self, path: &str) -> Answer {
        let mut request = self.agent.get(&format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.call().unwrap();
        self.answer(response)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut request = self.agent.post(&format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send_form(form.iter().copied()).unwrap();
        self.answer(response)
    }

    /// Logs in with a one-time password and sets `login`-password-1.
    fn login(base: &str, login: &str, password: &str) -> Client {
        let mut client = Client::new(base);
        let token = client.get("/login").csrf();
        assert_eq!(client.post("/login", &[("csrf", &token), ("login", login), ("password", password)]).status, 303);
        let csrf = client.get("/password").csrf();
        let new = format!("{login}-password-1");
        assert_eq!(client.post("/password", &[("csrf", &csrf), ("current", password), ("new", &new)]).status, 303);
        client
    }

    fn create(&mut self, login: &str, role: &str, org: &str) -> String {
        let csrf = self.get("/accounts").csrf();
        let page = self.post(
            "/accounts",
            &[("csrf", &csrf), ("login", login), ("role", role), ("org_name", org), ("org_code", "")],
        );
        assert_eq!(page.status, 200, "{}", page.text());
        page.after("<code class=\"otp\">", '<')
    }
}

fn start_office(data: &Path, key: &Path) -> (String, String) {
    let password = pass_office::init(data, key, "示例签发机关", (pass_office::system_clock())()).unwrap();
    let office = pass_office::Office::open(data, pass_office::Transport::Plain, pass_office::system_clock()).unwrap();
    let addr = pass_office::spawn_on_loopback(office);
    (format!("http://{addr}"), password)
}

#[test]
fn an_approved_pass_is_accepted_then_revoked_from_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let (base, password) = start_office(&dir.path().join("office"), &key);

    let mut admin = Client::login(&base, "admin", &password);
    let csrf = admin.get("/settings").csrf();
    let saved = admin.post("/settings", &[("csrf", &csrf), ("server", &server.url), ("token", &token)]);
    assert_eq!(saved.status, 200, "{}", saved.text());
    let enterprise = admin.create("dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let reviewer = admin.create("reviewer", "reviewer", "");
    let mut enterprise = Client::login(&base, "dongfeng", &enterprise);
    let mut reviewer = Client::login(&base, "reviewer", &reviewer);

    // Valid from yesterday for a month, so the checkpoint's real clock is inside it.
    let now = jiff::Timestamp::now().as_second();
    let day = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().strftime("%Y-%m-%d").to_string();
    let (from, until) = (day(now - 2 * 86_400), day(now + 30 * 86_400));
    let csrf = enterprise.get("/applications/new").csrf();
    #[rustfmt::skip]
    let applied = enterprise.post("/applications", &[
        ("csrf", &csrf), ("plate", "粤A12345"), ("vehicle_type", "heavy-truck"), ("driver", "张三"),
        ("co_drivers", "李四"), ("origin", "花都区"), ("destination", "浦东新区"), ("zones", "440114；310000"),
        ("cargo", "汽车零部件"), ("valid_from", &from), ("valid_until", &until),
    ]);
    assert_eq!(applied.status, 303, "{}", applied.text());
    let path = applied.location;
    let csrf = reviewer.get(&path).csrf();
    assert_eq!(reviewer.post(&format!("{path}/approve"), &[("csrf", &csrf)]).status, 303);

    // The PDF and the phone e-pass, as the enterprise downloads them, are ACCEPTED.
    let page = enterprise.get(&path);
    assert!(page.text().contains("下载通行证"), "printed: {}", page.text());
    let pdf = dir.path().join("passes.pdf");
    std::fs::write(&pdf, enterprise.get(&format!("{path}/pdf")).body).unwrap();
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png"])
        .arg(&pdf)
        .arg(dir.path().join("page"))
        .status()
        .unwrap();
    assert!(status.success());
    let link = format!("/e/{}", page.after("href=\"/e/", '"'));
    let mut driver = Client::new(&base);
    let png = dir.path().join("epass.png");
    std::fs::write(&png, driver.get(&format!("{link}/png")).body).unwrap();
    let trust = root().join("keys-example/trust.toml");
    let trust = trust.to_str().unwrap();
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    for image in [dir.path().join("page-1.png"), png.clone()] {
        let run = verifier(&[
            "scan",
            image.to_str().unwrap(),
            "--trust",
            trust,
            "--state",
            state,
            "--zone",
            "440114",
            "--json",
        ]);
        let verdict = run.json();
        assert_eq!(verdict["verdict"], "accepted", "{}: {verdict}", image.display());
        assert_eq!(verdict["pass"]["plate"], "粤A12345");
        assert_eq!(verdict["pass"]["crew"], serde_json::json!(["张三", "李四"]));
    }

    // The reviewer revokes it; the console sends it to the real server at once.
    assert!(!page.text().contains("/revoke\""), "an enterprise cannot revoke (it may only ask to cancel)");
    let reviewer_page = reviewer.get(&path);
    let serial = reviewer_page.after("name=\"serial\" value=\"", '"');
    let csrf = reviewer_page.csrf();
    let revoked =
        reviewer.post(&format!("{path}/revoke"), &[("csrf", &csrf), ("serial", &serial), ("reason", "vehicle sold")]);
    assert_eq!(revoked.status, 303);
    assert!(reviewer.get(&path).text().contains("已发送至注销服务器"), "sent: {}", reviewer.get(&path).text());
    // The checkpoint syncs and rejects it; the driver's page says cancelled, and the PNG is gone.
    let run = verifier(&["sync", "--server", &server.url, "--trust", trust, "--state", state]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run =
        verifier(&["scan", png.to_str().unwrap(), "--trust", trust, "--state", state, "--zone", "440114", "--json"]);
    assert_eq!(
        (run.json()["verdict"].as_str(), run.json()["reason"].as_str()),
        (Some("rejected"), Some("revoked")),
        "{}",
        run.stdout
    );
    let cancelled = driver.get(&link);
    assert!(cancelled.text().contains("已注销") && !cancelled.text().contains("<img"), "{}", cancelled.text());
    assert_eq!(driver.get(&format!("{link}/png")).status, 404);
}

/// A real browser clicks through the console: forms filled and submitted by their buttons, no
/// request made by the test itself. Screenshots of each screen go to `target/screenshots/`
/// (the README's). Hostile text typed into an enterprise's name runs no script.
#[test]
fn a_browser_clicks_through_the_console() {
    use std::time::Duration;

    use crate::station::{Browser, wait_for};
    use serde_json::Value;

    let dir = tempfile::tempdir().unwrap();
    let key = crate::util::example_key(dir.path());
    let (base, password) = start_office(&dir.path().join("office"), &key);
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let video = dir.path().join("none.y4m");
    std::fs::write(&video, b"").unwrap();
    let mut browser = Browser::launch(&format!("{base}/login"), &video);

    let js = |value: &str| serde_json::to_string(value).unwrap();
    // The page's path once it has loaded.
    let loaded = |browser: &mut Browser| -> String {
        wait_for("a page to load", Duration::from_secs(20), || {
            let state = browser.eval("document.readyState === 'complete' && !window.__submitted && location.protocol === 'http:' ? location.pathname : null");
            state.as_str().map(str::to_owned)
        })
    };
    // Fills the form whose action is `action` and clicks its submit button; the next page's path.
    let submit = |browser: &mut Browser, action: &str, values: &[(&str, &str)]| -> String {
        let fill: Vec<String> =
            values.iter().map(|(n, v)| format!("f.elements[{}].value = {};", js(n), js(v))).collect();
        let script = format!(
            "(() => {{ const f = [...document.forms].find(f => f.getAttribute('action') === {}); if (!f) return false;
               {} window.__submitted = true; f.querySelector('button[type=submit]').click(); return true; }})()",
            js(action),
            fill.join(" ")
        );
        assert_eq!(browser.eval(&script), Value::Bool(true), "a form posting to {action}");
        loaded(browser)
    };
    let go = |browser: &mut Browser, path: &str| -> String {
        browser.call("Page.navigate", serde_json::json!({"url": format!("{base}{path}")}));
        std::thread::sleep(Duration::from_millis(100));
        loaded(browser)
    };
    let text = |browser: &mut Browser, selector: &str| -> String {
        browser
            .eval(&format!("document.querySelector({})?.textContent ?? ''", js(selector)))
            .as_str()
            .unwrap_or("")
            .to_owned()
    };

    assert_eq!(loaded(&mut browser), "/login");
    browser.screenshot(&shots.join("office-login.png"));
    assert_eq!(submit(&mut browser, "/login", &[("login", "admin"), ("password", &password)]), "/password");
    let admin_password = "admin-password-1";
    assert_eq!(submit(&mut browser, "/password", &[("current", &password), ("new", admin_password)]), "/dashboard");

    // Accounts, by the admin's form; one enterprise named with markup.
    let create = |browser: &mut Browser, login: &str, role: &str, org: &str| -> String {
        go(browser, "/accounts");
        let values = [("login", login), ("role", role), ("org_name", org)];
        assert_eq!(submit(browser, "/accounts", &values), "/accounts");
        text(browser, "code.otp")
    };
    let enterprise = create(&mut browser, "dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let reviewer = create(&mut browser, "reviewer", "reviewer", "");
    create(&mut browser, "evil", "enterprise", "<img src=x onerror=\"document.title='pwned'\">");
    go(&mut browser, "/accounts");
    assert_ne!(browser.eval("document.title"), "pwned", "no script ran");
    assert_eq!(browser.eval("document.querySelectorAll('img').length"), 0, "the markup is text");
    assert!(text(&mut browser, "tbody").contains("<img src=x"), "shown as typed");

    let logout = |browser: &mut Browser| assert_eq!(submit(browser, "/logout", &[]), "/login");
    let login = |browser: &mut Browser, name: &str, one_time: &str| {
        assert_eq!(submit(browser, "/login", &[("login", name), ("password", one_time)]), "/password");
        let new = format!("{name}-password-1");
        submit(browser, "/password", &[("current", one_time), ("new", &new)]);
    };
    logout(&mut browser);
    login(&mut browser, "dongfeng", &enterprise);
    go(&mut browser, "/applications/new");
    #[rustfmt::skip]
    let form = [
        ("plate", "粤AD12345"), ("vehicle_type", "tractor"), ("driver", "张三"), ("co_drivers", "李四"),
        ("origin", "花都区"), ("destination", "浦东新区"), ("zones", "440114；310000"), ("cargo", "汽车零部件"),
        ("valid_from", "2026-12-01"), ("valid_until", "2026-12-20"),
    ];
    let fill: Vec<String> =
        form.iter().map(|(n, v)| format!("document.forms[1].elements[{}].value = {};", js(n), js(v))).collect();
    browser.eval(&fill.join(" "));
    browser.screenshot(&shots.join("office-application-form.png"));
    let page = submit(&mut browser, "/applications", &form);
    assert!(page.starts_with("/applications/"), "{page}");
    assert!(text(&mut browser, "strong.state").contains("待审核"));

    logout(&mut browser);
    login(&mut browser, "reviewer", &reviewer);
    go(&mut browser, "/queue");
    assert!(text(&mut browser, "tbody").contains("粤AD12345"));
    browser.screenshot(&shots.join("office-queue.png"));
    go(&mut browser, &page);
    assert_eq!(submit(&mut browser, &format!("{page}/approve"), &[]), page);
    let state = text(&mut browser, "strong.state");
    assert!(state.contains("已签发"), "{state}");
    browser.screenshot(&shots.join("office-approved.png"));

    // The driver's phone e-pass, on a phone-sized screen, no account.
    let link = browser.eval("document.querySelector('p.epass a').getAttribute('href')").as_str().unwrap().to_owned();
    logout(&mut browser);
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 400, "height": 820, "deviceScaleFactor": 2, "mobile": true}),
    );
    go(&mut browser, &link);
    assert!(text(&mut browser, ".plate").contains("粤AD12345"));
    let qr_share = browser.eval("document.querySelector('img.qr').getBoundingClientRect().width / window.innerWidth");
    assert!(qr_share.as_f64().unwrap() >= 0.6, "the QR code fills {qr_share} of the width");
    browser.screenshot(&shots.join("office-epass.png"));
}

/// The console behind Debian's nginx with TLS, configured by `docs/nginx-office.conf` (the
/// README's): pages come over https, the session cookie is `Secure`, the security headers pass
/// through; the console itself listens on loopback with `--behind-proxy`.
#[test]
fn the_console_behind_nginx_with_tls() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::{Command, Stdio};

    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists()) else {
        crate::util::missing_prerequisite(
            "the_console_behind_nginx_with_tls",
            "nginx (Debian's nginx package; ./scripts/test.sh installs it)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // nginx's workers run as an unprivileged user: they must reach the prefix.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prefix = dir.path().join("nginx");
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::set_permissions(&prefix, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (cert, key_pem) = (prefix.join("cert.pem"), prefix.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key_pem)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    // The console on loopback, behind the proxy.
    let key = crate::util::example_key(dir.path());
    let data = dir.path().join("office");
    let password = pass_office::init(&data, &key, "示例签发机关", (pass_office::system_clock())()).unwrap();
    let office =
        pass_office::Office::open(&data, pass_office::Transport::BehindProxy, pass_office::system_clock()).unwrap();
    let addr = pass_office::spawn_on_loopback(office);
    let upstream = addr;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let template = std::fs::read_to_string(root().join("docs/nginx-office.conf")).unwrap();
    let config = template
        .replace("@PREFIX@", prefix.to_str().unwrap())
        .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
        .replace("@CERT@", cert.to_str().unwrap())
        .replace("@KEY@", key_pem.to_str().unwrap())
        .replace("@UPSTREAM@", &upstream.to_string());
    let config_path = prefix.join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(nginx)
        .args(["-e", prefix.join("error.log").to_str().unwrap(), "-p", prefix.to_str().unwrap(), "-c"])
        .arg(&config_path)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
            panic!("nginx ended ({status}): {log}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "nginx did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _nginx = Kill(child);

    let pem = std::fs::read(&cert).unwrap();
    let roots = ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_pem(&pem).unwrap().to_owned()]);
    let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
    let agent: ureq::Agent =
        ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).max_redirects(0).build().into();
    let base = format!("https://127.0.0.1:{port}");
    let mut page = agent.get(&format!("{base}/login")).call().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("content-security-policy").is_some(), "the console's headers pass through");
    assert!(page.headers().get("strict-transport-security").is_some());
    let login_cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(login_cookie.contains("; Secure"), "{login_cookie}");
    let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
    let body = page.body_mut().read_to_string().unwrap();
    let token = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let login = agent
        .post(&format!("{base}/login"))
        .header("Cookie", &login_cookie)
        .send_form([("csrf", token.as_str()), ("login", "admin"), ("password", password.as_str())])
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let next = agent.get(&format!("{base}/password")).header("Cookie", session).call().unwrap();
    assert_eq!(next.status(), 200, "the session works through the proxy");
}
