//! A real Chromium driving the office console as a person does: pages loaded, forms filled and
//! submitted by their buttons, and every page checked as people see it: on a 390 px phone
//! nothing is wider than the screen, and axe-core (npm) finds nothing serious at 1366×768.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::station::Browser;
use crate::util::{root, wait_for};

/// A Chromium tab on the console at `base`.
pub(crate) struct Tab {
    browser: Browser,
    base: String,
    /// Where screenshots go (`target/screenshots/`, the README's).
    pub(crate) shots: PathBuf,
    /// What [`Tab::check`] found wrong, page by page.
    pub(crate) problems: Vec<String>,
    /// Pages checked.
    pub(crate) checked: usize,
}

impl Deref for Tab {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl DerefMut for Tab {
    fn deref_mut(&mut self) -> &mut Browser {
        &mut self.browser
    }
}

/// A JavaScript string literal of `value`.
pub(crate) fn js(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

impl Tab {
    /// Chromium on `{base}{path}` (no webcam: an empty video file).
    pub(crate) fn launch(base: &str, path: &str, scratch: &Path) -> Tab {
        let video = scratch.join("none.y4m");
        std::fs::write(&video, b"").unwrap();
        let shots = root().join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let browser = Browser::launch(&format!("{base}{path}"), &video);
        Tab { browser, base: base.to_owned(), shots, problems: Vec::new(), checked: 0 }
    }

    /// The page's path once it has loaded.
    pub(crate) fn loaded(&mut self) -> String {
        wait_for("a page to load", Duration::from_secs(90), || {
            // Asked while a page is going away, the answer is an error: not loaded yet.
            let expression = "document.readyState === 'complete' && !window.__submitted && location.protocol === 'http:' ? location.pathname : null";
            let state = self.try_call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}));
            state.ok()?["result"]["value"].as_str().map(str::to_owned)
        })
    }

    /// Fills the form whose action is `action` and clicks its submit button; the next page's
    /// path.
    pub(crate) fn submit(&mut self, action: &str, values: &[(&str, &str)]) -> String {
        let fill: Vec<String> =
            values.iter().map(|(n, v)| format!("f.elements[{}].value = {};", js(n), js(v))).collect();
        let script = format!(
            "(() => {{ const f = [...document.forms].find(f => f.getAttribute('action') === {}); if (!f) return false;
               {} window.__submitted = true; const b = f.querySelector('button[type=submit]');
               setTimeout(() => b.click(), 0); return true; }})()",
            js(action),
            fill.join(" ")
        );
        assert_eq!(self.eval(&script), Value::Bool(true), "a form posting to {action}");
        self.loaded()
    }

    /// Goes to `url` (another origin than the console's, say); the path loaded.
    pub(crate) fn open_url(&mut self, url: &str) -> String {
        self.eval("window.__submitted = true");
        self.call("Page.navigate", json!({ "url": url }));
        self.loaded()
    }

    /// Reloads the page; the path loaded.
    pub(crate) fn reload(&mut self) -> String {
        self.eval("window.__submitted = true");
        self.call("Page.reload", json!({}));
        self.loaded()
    }

    /// Goes to `path`; the path loaded.
    pub(crate) fn go(&mut self, path: &str) -> String {
        // The page being left is marked, so `loaded` never reads it as the next one.
        self.eval("window.__submitted = true");
        let url = format!("{}{path}", self.base);
        self.call("Page.navigate", json!({ "url": url }));
        self.loaded()
    }

    /// The text of the first element matching `selector` ("" when none).
    pub(crate) fn text(&mut self, selector: &str) -> String {
        self.eval(&format!("document.querySelector({})?.textContent ?? ''", js(selector)))
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// What the page's own fetch of `path` gets (with its cookies), as bytes.
    pub(crate) fn fetch(&mut self, path: &str) -> Vec<u8> {
        use base64::Engine as _;
        let script = format!(
            "fetch({}).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status)).then(b => {{
               let s = ''; const u = new Uint8Array(b); for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); return btoa(s); }})",
            js(path)
        );
        let answer =
            self.call("Runtime.evaluate", json!({"expression": script, "awaitPromise": true, "returnByValue": true}));
        let data = answer["result"]["value"].as_str().unwrap_or_else(|| panic!("fetching {path}: {answer}"));
        base64::engine::general_purpose::STANDARD.decode(data).unwrap()
    }

    /// Logs in by the form; a one-time password is replaced by `{name}-password-1`.
    pub(crate) fn login(&mut self, name: &str, password: &str) {
        self.go("/login");
        let next = self.submit("/login", &[("login", name), ("password", password)]);
        if next == "/password" {
            let new = format!("{name}-password-1");
            self.submit("/password", &[("current", password), ("new", &new)]);
        }
    }

    /// Logs out by the header's button.
    pub(crate) fn logout(&mut self) {
        assert_eq!(self.submit("/logout", &[]), "/login");
    }

    /// Creates an account by the admin's form; its one-time password.
    pub(crate) fn create(&mut self, login: &str, role: &str, org: &str) -> String {
        self.go("/accounts");
        let values = [("login", login), ("role", role), ("org_name", org)];
        assert_eq!(self.submit("/accounts", &values), "/accounts");
        self.text("code.otp")
    }

    /// Checks the page shown as `name`: on a 390×844 phone nothing is wider than the screen,
    /// and at 1366×768 axe-core finds no serious or critical violation. Screenshots of both go
    /// to `target/screenshots/pages/`. Problems are collected in [`Tab::problems`].
    pub(crate) fn check(&mut self, name: &str) {
        let dir = self.shots.join("pages");
        std::fs::create_dir_all(&dir).unwrap();
        self.checked += 1;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
        );
        let width = self.eval("document.documentElement.scrollWidth").as_u64().unwrap_or(u64::MAX);
        if width > 390 {
            let wide = self.eval(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
                   .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')).join(', ')",
            );
            self.problems.push(format!("{name}: {width} px wide on a 390 px phone ({wide})"));
        }
        self.screenshot(&dir.join(format!("{name}-390.png")));
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false}),
        );
        let axe = axe_source();
        self.call("Runtime.evaluate", json!({ "expression": axe }));
        let run = "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))";
        let found =
            self.call("Runtime.evaluate", json!({"expression": run, "awaitPromise": true, "returnByValue": true}));
        match found["result"]["value"].as_array() {
            Some(violations) => {
                self.problems.extend(violations.iter().map(|v| format!("{name}: axe {}", v.as_str().unwrap_or("?"))))
            }
            None => self.problems.push(format!("{name}: axe did not run: {found}")),
        }
        self.screenshot(&dir.join(format!("{name}-1366.png")));
        self.call("Emulation.clearDeviceMetricsOverride", json!({}));
    }

    /// Goes to `path` and [`checks`](Tab::check) it as `name`.
    pub(crate) fn visit(&mut self, path: &str, name: &str) {
        self.go(path);
        self.check(name);
    }
}

/// axe-core's script, installed from npm by `scripts/test.sh` into `target/axe/`.
fn axe_source() -> String {
    let path = root().join("target/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; ./scripts/test.sh installs axe-core from npm", path.display()))
}
