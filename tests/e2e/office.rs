//! The office console end to end: an enterprise applies, a second person approves, the pass
//! printed and on the phone is ACCEPTED by the checkpoint binary; the reviewer revokes it
//! through a real `pass-server`, the checkpoint syncs and REJECTS it `revoked`, and the
//! driver's e-pass page says cancelled.

use std::path::Path;

use crate::util::{Server, root, verifier, wait_for};

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

    /// Saves the revocation server and the office's token in the settings (an admin).
    fn save_server(&mut self, url: &str, token: &str) {
        let csrf = self.get("/settings").csrf();
        let saved = self.post("/settings", &[("csrf", &csrf), ("server", url), ("token", token)]);
        assert_eq!(saved.status, 200, "{}", saved.text());
    }
}

/// A console on `data` with the office key at `key`: its address, the first admin's one-time
/// password, and a second admin's (`admin2`, made on the server as `pass-office admin add`
/// does: reviewers it sets up may approve what the first admin's accounts enter).
fn start_office(data: &Path, key: &Path) -> (String, String, String) {
    let now = (pass_office::system_clock())();
    let password = pass_office::init(data, key, "示例签发机关", now).unwrap();
    let second = pass_office::add_admin(data, "admin2", now).unwrap();
    let office = pass_office::Office::open(data, pass_office::Transport::Plain, pass_office::system_clock()).unwrap();
    let addr = pass_office::spawn_on_loopback(office);
    (format!("http://{addr}"), password, second)
}

#[test]
fn an_approved_pass_is_accepted_then_revoked_from_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let (base, password, second) = start_office(&dir.path().join("office"), &key);

    let mut admin = Client::login(&base, "admin", &password);
    admin.save_server(&server.url, &token);
    let enterprise = admin.create("dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let reviewer = Client::login(&base, "admin2", &second).create("reviewer", "reviewer", "");
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
    let revoked = reviewer.post(
        &format!("{path}/revoke"),
        &[("csrf", &csrf), ("serial", &serial), ("reason", "vehicle sold"), ("confirm", "1")],
    );
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
    // The saved image's link now says the pass is cancelled.
    let png = driver.get(&format!("{link}/png"));
    assert_eq!(png.status, 410);
    assert!(png.text().contains("已注销") && png.text().contains("CANCELLED"), "the PNG's link says cancelled");
}

/// A real browser clicks through the console, as the issue's acceptance says: the admin makes
/// an enterprise, a clerk and a reviewer and sets the revocation server; the enterprise applies
/// for 2 trucks by the form (place suggestions shown as it types) and 50 by an .xlsx; the
/// reviewer approves; the enterprise downloads the PDF and two phone e-passes; the checkpoint
/// binary ACCEPTS a rasterised page, an e-pass PNG and webcam frames of the e-pass on a phone
/// screen; the reviewer revokes one pass, a real `pass-server` gets it, and after `sync` the
/// pass is REJECTED `revoked` and its e-pass page says cancelled. Forms are filled and submitted
/// by their buttons. Hostile text typed into an enterprise's name and a cargo runs no script.
/// Screenshots of each screen go to `target/screenshots/` (the README's).
#[test]
fn a_browser_clicks_through_the_console() {
    use std::time::Duration;

    use crate::util::wait_for;
    use crate::web::{Tab, js};
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let server_token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let (base, password, second_admin) = start_office(&dir.path().join("office"), &key);
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let smtp = crate::util::SmtpServer::start(&dir.path().join("smtp"), None);
    let mut browser = Tab::launch(&base, "/login", dir.path());
    // Every page is checked as it is met (`Tab::check`): no wider than a 390 px phone, nothing
    // serious for axe-core at 1366×768; the problems are asserted at the end.
    assert_eq!(browser.loaded(), "/login");
    browser.check("login");
    browser.screenshot(&shots.join("office-login.png"));
    assert_eq!(browser.submit("/login", &[("login", "admin"), ("password", &password)]), "/password");
    let admin_password = "admin-password-1";
    assert_eq!(browser.submit("/password", &[("current", &password), ("new", admin_password)]), "/dashboard");
    browser.check("admin-dashboard");
    browser.visit("/password", "password");
    browser.go("/settings");
    assert_eq!(browser.submit("/settings", &[("server", &server.url), ("token", &server_token)]), "/settings");
    browser.check("admin-settings");
    // E-mail notices through a real SMTP server.
    let smtp_server = format!("127.0.0.1:{}", smtp.port);
    #[rustfmt::skip]
    assert_eq!(browser.submit("/settings/mail", &[
        ("smtp_server", &smtp_server), ("smtp_security", "none"), ("smtp_from", "office@example.gov.cn"),
    ]), "/settings/mail");
    assert!(browser.text("p.notice").contains("邮件设置已保存"), "{}", browser.text("main"));

    let enterprise = browser.create("dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let clerk = browser.create("clerk", "clerk", "");
    browser.create("evil", "enterprise", "<img src=x onerror=\"document.title='pwned'\">");
    browser.go("/accounts");
    assert_ne!(browser.eval("document.title"), "pwned", "no script ran");
    assert_eq!(browser.eval("document.querySelectorAll('img').length"), 0, "the markup is text");
    let accounts = browser.text("tbody");
    assert!(accounts.contains("<img src=x") && accounts.contains("clerk"), "shown as typed: {accounts}");
    browser.check("admin-accounts");
    browser.visit("/queue", "admin-queue");
    browser.visit("/audit", "admin-audit");
    browser.go("/accounts");
    assert_eq!(browser.submit("/accounts", &[("login", ""), ("role", "clerk")]), "/accounts");
    browser.check("admin-accounts-error");
    browser.visit("/applications/999999", "not-found");

    // The clerk's first login: a one-time password replaced, then the queue (empty).
    browser.logout();
    browser.login("clerk", &clerk);
    browser.visit("/queue", "clerk-queue");
    browser.visit("/applications", "clerk-applications");
    browser.visit("/applications/new", "clerk-new");
    browser.submit("/applications", &[("plate", "粤A1234"), ("origin", "火星区")]);
    browser.check("clerk-new-errors");
    browser.visit("/applications/upload", "clerk-upload");
    browser.logout();
    // The reviewer is set up by a second admin (made on the server): four eyes across
    // accounts, since the first admin set up the enterprise and the clerk.
    browser.login("admin2", &second_admin);
    let reviewer = browser.create("reviewer", "reviewer", "");
    browser.logout();

    // Valid from two days ago for a month, so the checkpoint's real clock is inside it.
    let now = jiff::Timestamp::now().as_second();
    let day = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().strftime("%Y-%m-%d").to_string();
    let (from, until) = (day(now - 2 * 86_400), day(now + 30 * 86_400));
    browser.login("dongfeng", &enterprise);
    browser.go("/password");
    assert_eq!(browser.submit("/account/email", &[("email", "fleet@dongfeng.example.cn")]), "/password");
    browser.go("/applications/new");
    browser.check("enterprise-new");
    // Typing part of a name offers the places it may be, code and full name.
    browser.eval(
        "(() => { const i = document.forms[1].elements.origin; i.value = '花都'; i.dispatchEvent(new Event('input')); })()",
    );
    let offered = wait_for("place suggestions", Duration::from_secs(10), || {
        let options = browser.eval(
            "[...document.querySelectorAll('#places-origin option')].map(o => o.value + ' ' + o.label).join('|')",
        );
        options.as_str().filter(|o| !o.is_empty()).map(str::to_owned)
    });
    assert!(offered.contains("440114 广州市花都区"), "{offered}");
    #[rustfmt::skip]
    let truck = |plate: &'static str, cargo: &'static str| -> Vec<(&'static str, String)> { vec![
        ("plate", plate.into()), ("vehicle_type", "tractor".into()), ("driver", "张三".into()), ("co_drivers", "李四".into()),
        ("origin", "440114".into()), ("destination", "浦东新区".into()), ("zones", "440114；310000".into()),
        ("cargo", cargo.into()), ("valid_from", from.clone()), ("valid_until", until.clone()),
    ]};
    let pairs = |fields: &[(&'static str, String)]| fields.iter().map(|(n, v)| (*n, v.clone())).collect::<Vec<_>>();
    let first = pairs(&truck("粤AD12345", "汽车零部件"));
    let first: Vec<(&str, &str)> = first.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let fill: Vec<String> =
        first.iter().map(|(n, v)| format!("document.forms[1].elements[{}].value = {};", js(n), js(v))).collect();
    browser.eval(&fill.join(" "));
    browser.screenshot(&shots.join("office-application-form.png"));
    let one = browser.submit("/applications", &first);
    assert!(one.starts_with("/applications/"), "{one}");
    assert!(browser.text("strong.state").contains("待审核"));
    browser.check("enterprise-application-waiting");
    // A cargo of markup (at most 32 characters): shown as text, and `title` never set.
    let hostile = "<script>title=2</script><b>x</b>";
    browser.go("/applications/new");
    let second = pairs(&truck("粤AD67890", "x"));
    let mut second: Vec<(&str, &str)> = second.iter().map(|(n, v)| (*n, v.as_str())).collect();
    second.retain(|(n, _)| *n != "cargo");
    second.push(("cargo", hostile));
    let two = browser.submit("/applications", &second);
    assert!(two.starts_with("/applications/") && two != one, "{two}: {}", browser.text("main"));
    assert_eq!(browser.eval("typeof window.title"), "undefined", "no script ran");
    assert_eq!(browser.eval("document.querySelectorAll('main b, main script').length"), 0, "the markup is text");
    assert!(browser.text("main").contains(hostile), "the cargo shown as typed");

    // 50 trucks by the spreadsheet the enterprise keeps, chosen in the file input.
    let xlsx = dir.path().join("车队.xlsx");
    std::fs::write(&xlsx, fleet_xlsx(50, &from, &until)).unwrap();
    browser.go("/applications/upload");
    let document = browser.call("DOM.getDocument", json!({}));
    let input = browser
        .call("DOM.querySelector", json!({"nodeId": document["root"]["nodeId"], "selector": "input[type=file]"}));
    browser.call("DOM.setFileInputFiles", json!({"files": [xlsx.to_str().unwrap()], "nodeId": input["nodeId"]}));
    let fifty = browser.submit("/applications/upload", &[]);
    assert!(fifty.starts_with("/applications/") && fifty != two, "{fifty}: {}", browser.text("main"));
    assert_eq!(browser.eval("document.querySelectorAll('tr.vehicle').length"), 50);
    browser.check("enterprise-application-50");
    browser.visit("/applications", "enterprise-applications");
    browser.visit("/applications/upload", "enterprise-upload");
    // A list with errors: the error table, at its row and column.
    let bad = dir.path().join("bad.csv");
    let rows = "车牌号,车辆类型,驾驶员,起点,终点,通行区域,货物,有效期起,有效期止\r\n粤A1234,heavy-truck,张三,火星区,310115,440114,汽车零部件,2026-12-01,2027-12-31\r\n";
    std::fs::write(&bad, rows).unwrap();
    let document = browser.call("DOM.getDocument", json!({}));
    let input = browser
        .call("DOM.querySelector", json!({"nodeId": document["root"]["nodeId"], "selector": "input[type=file]"}));
    browser.call("DOM.setFileInputFiles", json!({"files": [bad.to_str().unwrap()], "nodeId": input["nodeId"]}));
    assert_eq!(browser.submit("/applications/upload", &[]), "/applications/upload");
    assert!(browser.text("table.errors").contains("第2行"), "{}", browser.text("main"));
    browser.check("enterprise-upload-errors");
    browser.logout();

    // The reviewer: the queue, then each application approved (signed, printed, checked).
    browser.login("reviewer", &reviewer);
    browser.visit("/queue", "reviewer-queue");
    let queue = browser.text("tbody");
    assert!(queue.contains("粤AD12345") && queue.contains("粤AD67890"), "{queue}");
    browser.screenshot(&shots.join("office-queue.png"));
    browser.visit("/dashboard", "reviewer-dashboard");
    browser.visit("/applications", "reviewer-applications");
    // A search by plate finds the one application.
    browser.go("/applications");
    assert_eq!(browser.submit("/applications", &[("q", "AD678")]), "/applications");
    assert!(browser.text("p.count-line").contains("共 1 份申请"), "{}", browser.text("main"));
    assert!(browser.text("tbody").contains("粤AD67890"));
    browser.check("reviewer-search");
    browser.visit(&format!("{two}/vehicles/0"), "reviewer-edit");
    // Two approved together from the queue (bulk), each under four eyes.
    browser.go("/queue");
    let pick = |path: &str| format!("a{}", path.rsplit('/').next().unwrap());
    let script = format!(
        "(() => {{ for (const name of [{}, {}]) document.querySelector(`input[name=${{name}}]`).checked = true; return true; }})()",
        js(&pick(&two)),
        js(&pick(&fifty))
    );
    assert_eq!(browser.eval(&script), json!(true));
    assert_eq!(browser.submit("/applications/approve", &[]), "/queue");
    assert!(browser.text("p.notice").contains("已批准并签发 2 份申请"), "{}", browser.text("main"));
    browser.check("reviewer-queue-after-bulk");
    for page in [&two, &fifty] {
        browser.go(page);
        let state = browser.text("strong.state");
        assert!(state.contains("已签发") || state.contains("已打印"), "{page}: {state}");
    }
    // The third, from its own page.
    browser.go(&one);
    browser.check("reviewer-application-waiting");
    // Approve asks first: the count, the plates, then the one button.
    browser.go(&format!("{one}/approve"));
    assert!(browser.text("main").contains("签发 1 张"), "{}", browser.text("main"));
    browser.check("reviewer-confirm-approve");
    assert_eq!(browser.submit(&format!("{one}/approve"), &[]), one);
    let state = browser.text("strong.state");
    assert!(state.contains("已签发") || state.contains("已打印"), "{one}: {state}");
    assert!(browser.text("main").contains("下载通行证"), "{one} printed");
    // The export of the 52 passes, opened as CSV and checked.
    let csv = String::from_utf8(browser.fetch("/passes.csv")).unwrap();
    let csv = csv.strip_prefix('\u{FEFF}').expect("a BOM for Excel");
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("通行证编号,车牌号,车辆类型,持证单位"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 52, "{csv}");
    assert!(rows.iter().any(|r| r.contains(",粤AD12345,") && r.contains(",有效,")), "{csv}");
    browser.visit("/statistics", "reviewer-statistics");
    assert!(browser.text("tbody").contains("52"), "{}", browser.text("main"));
    browser.screenshot(&shots.join("office-approved.png"));
    browser.check("reviewer-application-issued");
    browser.logout();

    // The enterprise downloads the PDF (a real download) and two phone e-passes.
    browser.login("dongfeng", "dongfeng-password-1");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    browser.call("Page.setDownloadBehavior", json!({"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}));
    browser.go(&one);
    assert_eq!(
        browser.eval("(() => { const a = document.querySelector('a.download'); a?.click(); return !!a; })()"),
        true
    );
    let pdf = wait_for("the PDF download", Duration::from_secs(30), || {
        let file = std::fs::read_dir(&downloads)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "pdf"))?;
        let bytes = std::fs::read(&file).ok()?;
        (bytes.starts_with(b"%PDF") && bytes.trim_ascii_end().ends_with(b"%%EOF")).then_some(file)
    });
    let link = |browser: &mut Tab, page: &str, png: bool| -> String {
        browser.go(page);
        let selector = if png { "p.epass a[href$='/png']" } else { "p.epass a:not([href$='/png'])" };
        browser
            .eval(&format!("document.querySelector({}).getAttribute('href')", js(selector)))
            .as_str()
            .unwrap()
            .to_owned()
    };
    browser.check("enterprise-application-issued");
    // The inbox says each approval, and so does the mail the enterprise got.
    browser.visit("/inbox", "enterprise-inbox");
    assert!(browser.text("ul.inbox").contains("已批准"), "{}", browser.text("main"));
    let mail = wait_for("the approval's e-mail", Duration::from_secs(30), || {
        smtp.messages()
            .into_iter()
            .filter(|m| m.contains("fleet@dongfeng.example.cn"))
            .map(|m| mail_text(&m))
            .find(|m| m.contains("已批准"))
    });
    assert!(mail.contains("通行证"), "{mail}");
    // The fleet manager's sheet of the drivers' links.
    browser.visit(&format!("{one}/links"), "enterprise-links");
    assert_eq!(browser.eval("document.querySelectorAll('figure.link-card img').length"), json!(1));
    let epass_page = link(&mut browser, &one, false);
    let png_one = dir.path().join("epass-1.png");
    let png_path = link(&mut browser, &one, true);
    std::fs::write(&png_one, browser.fetch(&png_path)).unwrap();
    let png_two = dir.path().join("epass-2.png");
    let png_path = link(&mut browser, &two, true);
    std::fs::write(&png_two, browser.fetch(&png_path)).unwrap();
    browser.logout();

    // The driver's phone e-pass, on a phone-sized screen, no account.
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 400, "height": 820, "deviceScaleFactor": 2, "mobile": true}),
    );
    browser.go(&epass_page);
    assert!(browser.text(".plate").contains("粤AD12345"));
    let qr_share = browser.eval("document.querySelector('img.qr').getBoundingClientRect().width / window.innerWidth");
    assert!(qr_share.as_f64().unwrap() >= 0.6, "the QR code fills {qr_share} of the width");
    browser.screenshot(&shots.join("office-epass.png"));
    browser.call("Emulation.clearDeviceMetricsOverride", json!({}));
    browser.check("epass");

    // The checkpoint: a page of the PDF at 150 dpi, both e-pass PNGs, and the e-pass on a phone
    // held up to the webcam (camsim's phone-screen models over the real PNG) are ACCEPTED.
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-f", "1", "-l", "1"])
        .arg(&pdf)
        .arg(dir.path().join("page"))
        .status()
        .unwrap();
    assert!(status.success());
    let page = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).find(|p| {
        p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("page-"))
            && p.extension().is_some_and(|e| e == "png")
    });
    let page = page.expect("a rasterised page");
    let frames = phone_frames(&png_one, dir.path());
    std::fs::copy(frames.last().unwrap(), shots.join("office-epass-webcam.png")).unwrap();
    let trust = root().join("keys-example/trust.toml");
    let trust = trust.to_str().unwrap();
    let state = dir.path().join("state.bin");
    let state = state.to_str().unwrap();
    let scan = |image: &Path| {
        verifier(&["scan", image.to_str().unwrap(), "--trust", trust, "--state", state, "--zone", "440114", "--json"])
            .json()
    };
    let mut expected =
        vec![(page.clone(), "粤AD12345"), (png_one.clone(), "粤AD12345"), (png_two.clone(), "粤AD67890")];
    expected.extend(frames.iter().map(|f| (f.clone(), "粤AD12345")));
    for (image, plate) in &expected {
        let verdict = scan(image);
        assert_eq!(verdict["verdict"], "accepted", "{}: {verdict}", image.display());
        assert_eq!(verdict["pass"]["plate"], *plate, "{}", image.display());
        assert_eq!(verdict["pass"]["crew"], json!(["张三", "李四"]));
    }

    // The driver opens the e-pass once (through a relay standing for the phone's network),
    // then the network goes (the relay cut, and DevTools offline): a reload still shows the
    // code, from the page's service worker, and a screenshot of it is ACCEPTED.
    let console: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let relay = crate::util::Relay::start(console);
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 400, "height": 820, "deviceScaleFactor": 2, "mobile": true}),
    );
    browser.open_url(&format!("http://127.0.0.1:{}{epass_page}", relay.port));
    wait_for("the e-pass kept for offline use", Duration::from_secs(30), || {
        let ready = browser.eval("document.body.dataset.offline === 'ready' && !!navigator.serviceWorker.controller");
        ready.as_bool().filter(|r| *r)
    });
    relay.cut();
    browser.call(
        "Network.emulateNetworkConditions",
        json!({"offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
    );
    browser.reload();
    assert!(browser.text(".plate").contains("粤AD12345"), "offline: {}", browser.text("body"));
    assert_eq!(browser.eval("document.querySelectorAll('img.qr').length"), json!(1), "the code, offline");
    let offline = dir.path().join("epass-offline.png");
    browser.screenshot(&offline);
    std::fs::copy(&offline, shots.join("office-epass-offline.png")).unwrap();
    let verdict = scan(&offline);
    assert_eq!(verdict["verdict"], "accepted", "the offline e-pass, from a screenshot: {verdict}");
    browser.call(
        "Network.emulateNetworkConditions",
        json!({"offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
    );
    browser.call("Emulation.clearDeviceMetricsOverride", json!({}));

    // The reviewer revokes the first truck's pass; the console sends it to the real server.
    browser.login("reviewer", "reviewer-password-1");
    browser.go(&one);
    // Revoke asks first (it cannot be undone), then revokes.
    assert_eq!(
        browser.submit(&format!("{one}/revoke"), &[("reason", "车辆已售 vehicle sold")]),
        format!("{one}/revoke")
    );
    assert!(browser.text("main").contains("注销后不能恢复"), "{}", browser.text("main"));
    browser.check("reviewer-confirm-revoke");
    assert_eq!(browser.submit(&format!("{one}/revoke"), &[]), one);
    let revoked = browser.text("p.revoked");
    assert!(revoked.contains("已发送至注销服务器"), "sent: {revoked}");
    browser.logout();
    // The checkpoint syncs and rejects it; the second truck's pass still passes.
    let run = verifier(&["sync", "--server", &server.url, "--trust", trust, "--state", state]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for image in [&png_one, &frames[0], &page] {
        let verdict = scan(image);
        assert_eq!(
            (verdict["verdict"].as_str(), verdict["reason"].as_str()),
            (Some("rejected"), Some("revoked")),
            "{verdict}"
        );
    }
    assert_eq!(scan(&png_two)["verdict"], "accepted");
    // The driver's page says cancelled, in the browser.
    browser.go(&epass_page);
    let body = browser.text("body");
    assert!(body.contains("已注销") && body.contains("CANCELLED"), "{body}");
    assert_eq!(browser.eval("document.querySelectorAll('img.qr').length"), 0, "no code left to show");
    browser.check("epass-cancelled");
    let problems = std::mem::take(&mut browser.problems);
    assert!(problems.is_empty(), "{} of {} pages:\n{}", problems.len(), browser.checked, problems.join("\n"));
}

/// A fleet list as an enterprise keeps it in Excel: Chinese headers, division codes typed as
/// numbers, dates as text.
fn fleet_xlsx(rows: u32, from: &str, until: &str) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let headers =
        ["车牌号", "车辆类型", "驾驶员", "副驾驶/随车人员", "起点", "终点", "通行区域", "货物", "有效期起", "有效期止"];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=rows {
        sheet.write_string(r, 0, format!("粤B{r:05}")).unwrap();
        sheet.write_string(r, 1, "半挂牵引车").unwrap();
        sheet.write_string(r, 2, "王五").unwrap();
        sheet.write_string(r, 3, "").unwrap();
        sheet.write_number(r, 4, 440114.0).unwrap();
        sheet.write_number(r, 5, 320583.0).unwrap();
        sheet.write_string(r, 6, "440000;320000").unwrap();
        sheet.write_string(r, 7, "汽车零部件").unwrap();
        sheet.write_string(r, 8, from).unwrap();
        sheet.write_string(r, 9, until).unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// Webcam frames of the e-pass `png` shown on a phone held up to the camera: camsim's
/// phone-screen model (pixel grid, reflections) and its harder one (moiré, tilt, glare), at
/// the mild and moderate severities; written beside it, their paths.
fn phone_frames(png: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let screen = image::open(png).unwrap().to_luma8();
    // Where the code is: rqrr's grid bounds on the clean screenshot.
    let mut prepared = rqrr::PreparedImage::prepare(screen.clone());
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one code on the e-pass");
    let bounds = grids[0].bounds;
    let (xs, ys) = (bounds.map(|p| f64::from(p.x)), bounds.map(|p| f64::from(p.y)));
    let centre = (xs.iter().sum::<f64>() / 4.0, ys.iter().sum::<f64>() / 4.0);
    let side = ((xs[1] - xs[0]).hypot(ys[1] - ys[0]) + (xs[2] - xs[1]).hypot(ys[2] - ys[1])) / 2.0;
    let code = pass_camsim::ScreenCode { centre, side, modules: rqrr::BitGrid::size(&grids[0].grid) };
    let mut frames = Vec::new();
    for (i, (category, severity)) in [
        (pass_camsim::Category::Phone, 1.0 / 3.0),
        (pass_camsim::Category::Phone, 2.0 / 3.0),
        (pass_camsim::Category::PhoneHard, 1.0 / 3.0),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = pass_camsim::Spec { category, severity, seed: 7 + i as u64, size: (1280, 720) };
        let frame = pass_camsim::photograph_screen(spec, &screen, code);
        let path = dir.join(format!("phone-frame-{i}.png"));
        frame.image.save(&path).unwrap();
        frames.push(path);
    }
    frames
}

/// The console behind Debian's nginx with TLS, configured by `docs/nginx-office.conf` (the
/// README's): pages come over https, the session cookie is `Secure`, the security headers pass
/// through; the console itself listens on loopback with `--behind-proxy`.
#[test]
fn the_console_behind_nginx_with_tls() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (cert, key_pem) = (certs.join("cert.pem"), certs.join("key.pem"));
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
    let office = pass_office::Office::open(
        &data,
        pass_office::Transport::BehindProxy([127, 0, 0, 1].into()),
        pass_office::system_clock(),
    )
    .unwrap();
    let addr = pass_office::spawn_on_loopback(office);
    let fill =
        [("@CERT@", cert.to_str().unwrap()), ("@KEY@", key_pem.to_str().unwrap()), ("@UPSTREAM@", &addr.to_string())];
    let Some(nginx) =
        crate::util::Nginx::start("the_console_behind_nginx_with_tls", dir.path(), "docs/nginx-office.conf", &fill)
    else {
        return;
    };
    let port = nginx.port;

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

/// AU: the console sends its audit trail's signed head to the revocation server as it moves;
/// an older copy of the data directory put back (its trail and its own `audit.anchor`, both
/// genuine, only older) passes the local check but fails `audit verify` against the server's
/// head, and the server refuses the older head. A row another process adds to the database
/// while the console runs is never signed by it: `audit verify` names it, and `audit seal`
/// will not run beside a running console.
#[test]
fn an_older_trail_put_back_or_a_row_slipped_in_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let data = dir.path().join("office");
    let (base, password, _) = start_office(&data, &key);
    let public = pass_issuer::office::public_of(&key).unwrap();
    let held = |data: &Path| pass_office::anchor::read(data).map(|h| h.row);
    let server_row =
        || pass_issuer::revoke::fetch_audit_head(&server.url, public.id()).unwrap().map(|answer| answer.head.row);

    let mut admin = Client::login(&base, "admin", &password);
    admin.save_server(&server.url, &token);
    let sent = crate::util::wait_for("the first head on the server", std::time::Duration::from_secs(30), || {
        server_row().filter(|row| Some(*row) == held(&data))
    });
    // The console's /metrics says when the server last took something from it.
    let metrics = admin.get("/metrics").text();
    let taken: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("checkpass_office_server_last_taken_timestamp_seconds "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - 120.0..=now + 1.0).contains(&taken), "{taken} (now {now})");

    // A backup taken now: the database and its anchor, both genuine.
    let old = dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    let live = rusqlite::Connection::open(data.join("office.sqlite")).unwrap();
    live.execute("VACUUM INTO ?1", [old.join("office.sqlite").to_str().unwrap()]).unwrap();
    std::fs::copy(data.join("audit.anchor"), old.join("audit.anchor")).unwrap();

    // Work goes on; the server follows the head.
    admin.create("dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let newer = crate::util::wait_for("a newer head on the server", std::time::Duration::from_secs(30), || {
        server_row().filter(|row| *row > sent && Some(*row) == held(&data))
    });
    let (report, reached) = pass_office::anchor::verify(&data, None).unwrap();
    assert!(reached && report.verdict.problems.is_empty(), "{report:?}");
    assert!(report.notes.iter().any(|n| n.contains(&format!("row {newer}"))), "{report:?}");

    // The backup put back: whole by its own anchor, BROKEN by the server's.
    let (alone, reached) = pass_office::anchor::verify(&old, Some("http://127.0.0.1:9")).unwrap();
    assert!(!reached && alone.verdict.problems.is_empty(), "without the server it looks whole: {alone:?}");
    let (report, _) = pass_office::anchor::verify(&old, None).unwrap();
    assert!(
        matches!(&report.verdict.problems[..], [pass_core::audit::Problem::HeadGone { row, .. }] if *row == newer),
        "{report:?}"
    );
    // The same through the command line an operator runs: exit 0 whole (the server named in
    // the console's settings vouched), 3 whole by the anchor but no server reached (--server
    // gives another), 1 broken, naming the row the server holds.
    let verify = |data: &Path, server: Option<&str>| {
        let mut command = crate::util::command("pass-office");
        command.args(["audit", "verify", "--data", data.to_str().unwrap()]);
        if let Some(server) = server {
            command.args(["--server", server]);
        }
        let out = command.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (code, said) = verify(&data, None);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = verify(&old, Some("http://127.0.0.1:9"));
    assert_eq!(code, Some(3), "{said}");
    let (code, said) = verify(&old, Some(&server.url));
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains(&newer.to_string()), "{said}");

    // …and the server will not take its older head.
    let old_head = pass_office::anchor::read(&old).unwrap();
    let refused = pass_issuer::revoke::send_audit_head(&server.url, &token, &public, &old_head, None).unwrap_err();
    assert!(refused.to_string().contains("409"), "{refused}");
    assert_eq!(server_row(), Some(newer), "the server's head did not go back");

    // A row slipped into the live database, chained and recorded as a careful forger would.
    let (last, prev): (i64, String) = live
        .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let hash = pass_core::audit::chain_hash(&prev, 1, "admin", "approve", "application 9");
    live.execute(
        "INSERT INTO audit (at, actor, action, detail, prev_hash, hash) VALUES (1, 'admin', 'approve', 'application 9', ?1, ?2)",
        [&prev, &hash],
    )
    .unwrap();
    live.execute("UPDATE settings SET value = ?1 WHERE name = 'audit_head'", [format!("{}:{hash}", last + 1)]).unwrap();
    // The console's next change is its own, but the head is not signed past the slipped row.
    admin.create("reviewer", "reviewer", "");
    let (report, _) = pass_office::anchor::verify(&data, None).unwrap();
    assert!(
        report.verdict.problems.iter().any(|p| matches!(p, pass_core::audit::Problem::Unsigned { rows: 2, .. })),
        "{report:?}"
    );
    assert_eq!(held(&data), Some(newer), "the anchor stayed at the last row the console wrote before it");
    let running = pass_office::seal_audit(&data).unwrap_err();
    assert!(running.to_string().contains("stop it first"), "{running}");
}

/// The text of a mail as aiosmtpd stored it: the body after the headers, decoded from base64
/// or quoted-printable as the header says.
fn mail_text(message: &str) -> String {
    use base64::Engine as _;
    let (head, body) = message.split_once("\n\n").or_else(|| message.split_once("\r\n\r\n")).unwrap_or((message, ""));
    if head.contains("Content-Transfer-Encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        return String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(joined).unwrap_or_default())
            .into_owned();
    }
    if head.contains("Content-Transfer-Encoding: quoted-printable") {
        let mut bytes = Vec::new();
        let soft = body.replace("=\r\n", "").replace("=\n", "");
        let mut rest = soft.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'='
                && tail.len() >= 2
                && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap_or("zz"), 16)
            {
                bytes.push(v);
                rest = &tail[2..];
                continue;
            }
            bytes.push(b);
            rest = tail;
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    body.to_owned()
}

/// Issue 33, notices: the reviewer hears of a new application and the enterprise of its
/// approval, in the console's inbox and by e-mail through a real SMTP server (aiosmtpd); the
/// settings page's test mail arrives; with the SMTP server gone, a revocation's mail waits and
/// the settings page says so with the error; once the server is back and the settings saved,
/// it arrives: retried and shown, never lost.
#[test]
fn notices_reach_the_inbox_and_the_mailbox_and_a_failed_mail_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = crate::util::SmtpServer::start(&dir.path().join("smtp"), None);
    let key = crate::util::example_key(dir.path());
    let (base, password, second) = start_office(&dir.path().join("office"), &key);
    let mut admin = Client::login(&base, "admin", &password);
    let csrf = admin.get("/settings").csrf();
    let server = format!("127.0.0.1:{}", smtp.port);
    #[rustfmt::skip]
    let saved = admin.post("/settings/mail", &[
        ("csrf", &csrf), ("smtp_server", &server), ("smtp_security", "none"), ("smtp_from", "office@example.gov.cn"),
        ("smtp_user", ""), ("smtp_password", ""),
    ]);
    assert!(saved.text().contains("邮件设置已保存"), "{}", saved.text());
    let csrf = admin.get("/settings").csrf();
    let tested = admin.post("/settings/mail/test", &[("csrf", &csrf), ("test_to", "it@example.gov.cn")]);
    assert!(tested.text().contains("测试邮件已发出"), "{}", tested.text());
    assert!(smtp.messages().iter().any(|m| m.contains("it@example.gov.cn")), "the test mail arrived");

    let enterprise = admin.create("dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let reviewer = Client::login(&base, "admin2", &second).create("reviewer", "reviewer", "");
    let mut enterprise = Client::login(&base, "dongfeng", &enterprise);
    let mut reviewer = Client::login(&base, "reviewer", &reviewer);
    for (client, address) in [(&mut enterprise, "fleet@dongfeng.example.cn"), (&mut reviewer, "review@example.gov.cn")]
    {
        let csrf = client.get("/password").csrf();
        assert_eq!(client.post("/account/email", &[("csrf", &csrf), ("email", address)]).status, 303);
    }
    let now = jiff::Timestamp::now().as_second();
    let day = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().strftime("%Y-%m-%d").to_string();
    let csrf = enterprise.get("/applications/new").csrf();
    #[rustfmt::skip]
    let applied = enterprise.post("/applications", &[
        ("csrf", &csrf), ("plate", "粤A12345"), ("vehicle_type", "heavy-truck"), ("driver", "张三"), ("origin", "花都区"),
        ("destination", "浦东新区"), ("zones", "440114"), ("cargo", "汽车零部件"),
        ("valid_from", &day(now)), ("valid_until", &day(now + 20 * 86_400)),
    ]);
    assert_eq!(applied.status, 303, "{}", applied.text());
    let path = applied.location;
    let inbox = reviewer.get("/inbox").text();
    assert!(inbox.contains("新申请") && inbox.contains("待审核"), "{inbox}");
    assert!(reviewer.get("/queue").text().contains("条未读"), "the header counts it");
    let csrf = reviewer.get(&path).csrf();
    assert_eq!(reviewer.post(&format!("{path}/approve"), &[("csrf", &csrf)]).status, 303);
    assert!(enterprise.get("/inbox").text().contains("已批准，签发 1 张通行证"));
    let to =
        |who: &str| smtp.messages().into_iter().filter(|m| m.contains(who)).map(|m| mail_text(&m)).collect::<Vec<_>>();
    let approved = wait_for("the approval's mail", std::time::Duration::from_secs(30), || {
        to("fleet@dongfeng.example.cn").into_iter().find(|m| m.contains("已批准"))
    });
    assert!(approved.contains("签发 1 张通行证"), "{approved}");
    assert!(to("review@example.gov.cn").iter().any(|m| m.contains("新申请")), "the reviewer's mail");

    // The SMTP server goes away; a revocation's mail waits, and the settings page says so.
    let port = smtp.port;
    drop(smtp);
    let page = reviewer.get(&path);
    let serial = page.after("name=\"serial\" value=\"", '"');
    #[rustfmt::skip]
    let revoked = reviewer.post(&format!("{path}/revoke"), &[("csrf", &page.csrf()), ("serial", &serial), ("reason", "车辆已售"), ("confirm", "1")]);
    assert_eq!(revoked.status, 303, "{}", revoked.text());
    assert!(enterprise.get("/inbox").text().contains("已注销"), "the inbox has it at once");
    let waiting = wait_for("the failed send to show", std::time::Duration::from_secs(30), || {
        let text = admin.get("/settings").text();
        (text.contains("最近一次发送失败") && text.contains("<strong>1</strong>")).then_some(text)
    });
    assert!(waiting.contains("待发送"), "{waiting}");
    // Back, and the settings saved again: the mail goes.
    let smtp = crate::util::SmtpServer::start(&dir.path().join("smtp-again"), Some(port));
    let csrf = admin.get("/settings").csrf();
    #[rustfmt::skip]
    admin.post("/settings/mail", &[
        ("csrf", &csrf), ("smtp_server", &server), ("smtp_security", "none"), ("smtp_from", "office@example.gov.cn"),
        ("smtp_user", ""), ("smtp_password", ""),
    ]);
    let revoked = wait_for("the revocation's mail after the retry", std::time::Duration::from_secs(30), || {
        smtp.messages().into_iter().map(|m| mail_text(&m)).find(|m| m.contains("已注销"))
    });
    assert!(revoked.contains("车辆已售"), "{revoked}");
    assert!(admin.get("/settings").text().contains("<strong>0</strong>"), "nothing waits");
}

/// Logs in with a password already set (no one-time password to replace).
fn log_in(base: &str, login: &str, password: &str) -> Client {
    let mut client = Client::new(base);
    let token = client.get("/login").csrf();
    assert_eq!(client.post("/login", &[("csrf", &token), ("login", login), ("password", password)]).status, 303);
    client
}

/// Issue 34, restore drill (a): the office is backed up, 5 more passes are issued, the data
/// directory is lost and the backup restored: the next pass's serial is none of the 5 (the
/// revocation server kept the console's next serial, reported with its audit heads). Without
/// the server and without `--next-serial`, the restore refuses and writes nothing.
#[test]
fn a_restored_office_never_hands_out_a_serial_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let token = server.token(&["--issuer", "f3c3dcf66c87927e"]);
    let key = crate::util::example_key(dir.path());
    let data = dir.path().join("office");
    let (base, password, second) = start_office(&data, &key);
    let mut admin = Client::login(&base, "admin", &password);
    admin.save_server(&server.url, &token);
    let enterprise = admin.create("dongfeng", "enterprise", "东风日产乘用车公司花都工厂");
    let reviewer = Client::login(&base, "admin2", &second).create("reviewer", "reviewer", "");
    let mut enterprise = Client::login(&base, "dongfeng", &enterprise);
    let mut reviewer = Client::login(&base, "reviewer", &reviewer);
    let now = jiff::Timestamp::now().as_second();
    let day = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().strftime("%Y-%m-%d").to_string();
    let (from, until) = (day(now), day(now + 20 * 86_400));
    let apply_and_approve = |enterprise: &mut Client, reviewer: &mut Client, plates: &[&str]| {
        let mut rows = vec!["车牌号,车辆类型,驾驶员,起点,终点,通行区域,货物,有效期起,有效期止".to_owned()];
        rows.extend(
            plates.iter().map(|p| format!("{p},heavy-truck,张三,440114,310115,440114,汽车零部件,{from},{until}")),
        );
        let csv = rows.join("\n") + "\n";
        let csrf = enterprise.get("/applications/upload").csrf();
        let boundary = "----checkpass-restore-drill";
        let mut body =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").into_bytes();
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fleet.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n").into_bytes());
        let response = enterprise
            .agent
            .post(&format!("{}/applications/upload", enterprise.base))
            .header("Cookie", enterprise.cookie.as_deref().unwrap())
            .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
            .send(&body[..])
            .unwrap();
        let uploaded = enterprise.answer(response);
        assert_eq!(uploaded.status, 303, "{}", uploaded.text());
        let path = uploaded.location;
        let csrf = reviewer.get(&path).csrf();
        assert_eq!(reviewer.post(&format!("{path}/approve"), &[("csrf", &csrf)]).status, 303);
    };
    let public = pass_issuer::office::public_of(&key).unwrap();
    let reported = || {
        pass_issuer::revoke::fetch_audit_head(&server.url, public.id()).unwrap().and_then(|answer| answer.next_serial)
    };
    apply_and_approve(&mut enterprise, &mut reviewer, &["粤A10001"]);
    wait_for("the server to hear of serial 1", std::time::Duration::from_secs(30), || {
        (reported() == Some(2)).then_some(())
    });
    let backup = dir.path().join("office-backup.tar");
    let run = std::process::Command::new(crate::util::bin("pass-office"))
        .args(["backup", "--data", data.to_str().unwrap(), "--out", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // Five more after the backup: serials 2 to 6.
    apply_and_approve(&mut enterprise, &mut reviewer, &["粤A10002", "粤A10003", "粤A10004", "粤A10005", "粤A10006"]);
    wait_for("the server to hear of serials 2-6", std::time::Duration::from_secs(30), || {
        (reported() == Some(7)).then_some(())
    });

    // An office with no revocation server: restored without --next-serial, refused, nothing
    // written; with it, the floor is the one given.
    let lone = dir.path().join("lone");
    let lone_key = crate::util::example_key(&dir.path().join("lone-key"));
    pass_office::init(&lone, &lone_key, "无服务器的签发机关", now as u64).unwrap();
    let lone_backup = dir.path().join("lone.tar");
    pass_office::backup::backup(&lone, &lone_backup, now as u64).unwrap();
    let blind = dir.path().join("lone-restored");
    let refused = pass_office::backup::restore(&lone_backup, &blind, None, now as u64).unwrap_err();
    assert!(refused.to_string().contains("--next-serial"), "{refused}");
    assert!(!blind.exists() && !dir.path().join(".lone-restored.restoring").exists(), "nothing written");
    let given = pass_office::backup::restore(&lone_backup, &blind, Some(40), now as u64).unwrap();
    assert_eq!(given.next_serial, 40);
    assert!(
        pass_office::backup::restore(&lone_backup, &blind, Some(40), now as u64).is_err(),
        "never into a used directory"
    );
    // The data directory is lost (the console that ran on it is left with deleted files), and
    // the backup restored where it was: the next serial is above all six.
    std::fs::remove_dir_all(&data).unwrap();
    let restored = data.clone();
    let said = pass_office::backup::restore(&backup, &restored, None, now as u64).unwrap();
    assert_eq!(said.next_serial, 7, "{said:?}");
    let office =
        pass_office::Office::open(&restored, pass_office::Transport::Plain, pass_office::system_clock()).unwrap();
    let base = format!("http://{}", pass_office::spawn_on_loopback(office));
    let mut enterprise = log_in(&base, "dongfeng", "dongfeng-password-1");
    let mut reviewer = log_in(&base, "reviewer", "reviewer-password-1");
    apply_and_approve(&mut enterprise, &mut reviewer, &["粤A10007"]);
    let ledger = pass_issuer::ledger::Ledger::open(&restored.join("ledger.sqlite")).unwrap();
    let serials: Vec<u64> =
        ledger.list(&pass_issuer::ledger::ListFilter::default()).unwrap().iter().map(|r| r.pass.serial).collect();
    assert_eq!(serials, [1, 7], "the pass after the restore is none of the five issued after the backup");
    let (report, _) = pass_office::anchor::verify(&restored, None).unwrap();
    assert!(
        report.verdict.problems.iter().all(|p| !matches!(p, pass_core::audit::Problem::Unsigned { .. })),
        "{report:?}"
    );
}
