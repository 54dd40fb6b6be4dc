//! The office console end to end: an enterprise applies, a second person approves, the pass
//! printed and on the phone is ACCEPTED by the checkpoint binary; the reviewer revokes it
//! through a real `pass-server`, the checkpoint syncs and REJECTS it `revoked`, and the
//! driver's e-pass page says cancelled.

use std::path::Path;
use std::sync::Arc;

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
        assert_eq!(client.post("/login", &[("login", login), ("password", password)]).status, 303);
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
    let office = pass_office::Office::open(data, false, pass_office::system_clock()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            pass_office::serve(listener, Arc::new(office)).await.unwrap();
        });
    });
    (format!("http://{}", rx.recv().unwrap()), password)
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
    assert!(!page.text().contains("name=\"serial\""), "an enterprise cannot revoke");
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
