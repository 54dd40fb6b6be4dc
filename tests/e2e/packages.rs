//! The Debian packages `scripts/package.sh` builds, installed as a bureau's IT would install
//! them, into a Debian 12 made by debootstrap (`target/debian-bookworm`, made once and kept;
//! the packages' declared dependencies installed into it with apt):
//! - `dpkg -i` the four packages: the system users and state directories are made;
//! - the revocation server and the console run with their units' own command lines (the
//!   `ExecStart=` of the installed unit, its `EnvironmentFile=` and state directory) and
//!   configuration files, as their users, with keys made by the packaged `pass-issuer keygen`:
//!   `/healthz` answers, and the console's login page;
//! - a pass the packaged issuer signs is ACCEPTED by the packaged verifier; the desktop launcher
//!   starts the station with `/etc/checkpass/station.env`, opens its page (a stand-in
//!   `xdg-open`: the chroot has no desktop) and syncs from the packaged server;
//! - `dpkg -r` keeps the data (a reinstall finds the console set up); `dpkg -P` deletes it.
//!
//! And they ask for glibc 2.28 at most (linked against it with zig), so the checkpoint's
//! package works on a Debian 11 (`target/debian-bullseye`) as on the distributions built on
//! Debian 10 and 11.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{missing_prerequisite, root, wait_for};

const TEST: &str = "packages::the_packages_install_serve_keep_their_data_and_purge_in_a_debian_chroot";
const PACKAGES: [&str; 4] = ["pass-server", "pass-office", "pass-issuer", "pass-verifier"];

/// The four `.deb` files `scripts/package.sh` wrote.
fn debs() -> Vec<PathBuf> {
    let dir = root().join("target/package");
    PACKAGES
        .iter()
        .map(|name| {
            let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
                entries.flatten().map(|e| e.path()).find(|p| {
                    let file = p.file_name().unwrap().to_string_lossy().into_owned();
                    file.starts_with(&format!("{name}_")) && file.ends_with(".deb")
                })
            });
            found.unwrap_or_else(|| panic!("no {name}_*.deb in {}: ./scripts/package.sh builds it", dir.display()))
        })
        .collect()
}

fn run(mut command: impl std::borrow::BorrowMut<Command>) -> String {
    let command = command.borrow_mut();
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command:?}: {said}");
    said
}

/// A command run inside the chroot, as `user` (root when `None`), with a clean environment.
fn inside(chroot: &Path, user: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new("chroot");
    if let Some(user) = user {
        command.arg(format!("--userspec={user}:{user}"));
    }
    let home = user.map_or("/root".to_owned(), |u| format!("/var/lib/{u}"));
    command
        .arg(chroot)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", home)
        .env("LANG", "C.UTF-8");
    command
}

/// A minimal Debian `suite` (bookworm, bullseye) to install into, made once by debootstrap
/// under target/ for `test`.
fn base_system(test: &str, suite: &str) -> Option<PathBuf> {
    let dir = root().join(format!("target/debian-{suite}"));
    if dir.join(".checkpass-ready").exists() {
        return Some(dir);
    }
    if !is_root() {
        missing_prerequisite(test, "root, for debootstrap and chroot");
        return None;
    }
    if Command::new("debootstrap").arg("--version").output().is_err() {
        missing_prerequisite(test, "debootstrap (Debian's package; ./scripts/test.sh installs it)");
        return None;
    }
    let partial = root().join(format!("target/debian-{suite}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(&dir);
    run(Command::new("debootstrap").args(["--variant=minbase", suite]).arg(&partial).arg(debian_mirror()));
    run(inside(&partial, None, &["apt-get", "update", "-qq"]));
    std::fs::write(partial.join(".checkpass-ready"), "").unwrap();
    std::fs::rename(&partial, &dir).unwrap();
    Some(dir)
}

/// The Debian mirror this machine's apt uses (debian.sources or sources.list), else Debian's.
fn debian_mirror() -> String {
    let sources = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let listed = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    sources
        .lines()
        .filter_map(|l| l.strip_prefix("URIs:"))
        .chain(listed.lines().filter(|l| l.starts_with("deb ")).filter_map(|l| l.split_whitespace().nth(1)))
        .map(str::trim)
        .find(|uri| !uri.contains("security"))
        .unwrap_or("http://deb.debian.org/debian")
        .to_owned()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The packages' `Depends:` (first of each set of alternatives, versions dropped), as apt names.
fn declared_dependencies(debs: &[PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    for deb in debs {
        let depends = run(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Depends"));
        for item in depends.trim().split(',') {
            let first = item.split('|').next().unwrap().split('(').next().unwrap().trim().to_owned();
            if !first.is_empty() && !names.contains(&first) {
                names.push(first);
            }
        }
    }
    names
}

/// A program started inside the chroot, killed (its whole process group) when dropped; its
/// standard error goes to `log`, which a failing assertion shows.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn start(mut command: Command, log: PathBuf) -> Running {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let stderr = std::fs::File::create(&log).unwrap();
        Running { child: command.stdout(Stdio::piped()).stderr(stderr).spawn().unwrap(), log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// A unit's `ExecStart=` as systemd would run it: `${NAME}` replaced by its value and a bare
/// `$NAME` split into words, from the unit's `EnvironmentFile=` and `STATE_DIRECTORY`.
fn exec_start(chroot: &Path, unit: &str) -> Vec<String> {
    let text = std::fs::read_to_string(chroot.join("lib/systemd/system").join(unit)).unwrap();
    let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
    let mut vars: Vec<(String, String)> = Vec::new();
    if let Some(state) = field("StateDirectory=") {
        vars.push(("STATE_DIRECTORY".into(), format!("/var/lib/{state}")));
    }
    if let Some(file) = field("EnvironmentFile=") {
        let env = std::fs::read_to_string(chroot.join(file.trim_start_matches('/'))).unwrap();
        for line in env.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (key, value) = line.split_once('=').unwrap();
            vars.push((key.into(), value.into()));
        }
    }
    let value = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut argv = Vec::new();
    for word in field("ExecStart=").unwrap().split_whitespace() {
        if let Some(name) = word.strip_prefix('$').filter(|n| !n.starts_with('{')) {
            argv.extend(value(name).split_whitespace().map(str::to_owned));
        } else {
            let mut word = word.to_owned();
            while let Some(start) = word.find("${") {
                let end = start + word[start..].find('}').unwrap();
                word.replace_range(start..=end, &value(&word[start + 2..end]));
            }
            argv.push(word);
        }
    }
    argv
}

/// A backup unit's `ExecStart=/bin/sh -c '…'`: the script, with systemd's `$$` and `%%`
/// unescaped.
fn exec_start_script(chroot: &Path, unit: &str) -> String {
    let text = std::fs::read_to_string(chroot.join("lib/systemd/system").join(unit)).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix("ExecStart=/bin/sh -c '")).unwrap();
    line.strip_suffix('\'').unwrap().replace("$$", "$").replace("%%", "%")
}

/// The files in a directory of the chroot.
fn listing(chroot: &Path, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(chroot.join(dir.trim_start_matches('/')))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `url`: (status, body), or `None` while nothing answers.
fn get(url: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent.get(url).call().ok()?;
    Some((response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default()))
}

/// Replaces the one line of `file` (in the chroot) that starts with `key`: what an operator
/// does to a configuration file.
fn configure(chroot: &Path, file: &str, key: &str, line: &str) {
    let path = chroot.join(file.trim_start_matches('/'));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with(key)).count(), 1, "{file}: one {key} line:\n{text}");
    let edited: Vec<&str> = text.lines().map(|l| if l.starts_with(key) { line } else { l }).collect();
    std::fs::write(&path, edited.join("\n") + "\n").unwrap();
}

fn mode_and_owner(chroot: &Path, path: &str) -> String {
    run(inside(chroot, None, &["stat", "-c", "%a %U", path])).trim().to_owned()
}

#[test]
fn the_packages_install_serve_keep_their_data_and_purge_in_a_debian_chroot() {
    let debs = debs();
    let Some(chroot) = base_system(TEST, "bookworm") else { return };
    let chroot = chroot.as_path();

    // A clean start: what an earlier run left (it may have failed half way) goes.
    let _ = inside(chroot, None, &["dpkg", "--purge"]).args(PACKAGES).output();
    for user in ["checkpass-server", "checkpass-mirror", "checkpass-office"] {
        let _ = inside(chroot, None, &["userdel", user]).output();
    }
    let _ = std::fs::remove_dir_all(chroot.join("etc/checkpass"));
    let _ = std::fs::remove_dir_all(chroot.join("tmp/checkpass"));
    #[rustfmt::skip]
    let left = [
        "var/lib/checkpass-office", "var/lib/checkpass-server", "var/lib/checkpass-mirror",
        "var/backups/checkpass-office", "var/backups/checkpass-server", "root/.local/share/checkpass",
    ];
    for dir in left {
        let _ = std::fs::remove_dir_all(chroot.join(dir));
    }

    // What the packages declare they need, from Debian (the chroot's apt), then dpkg -i.
    let dependencies = declared_dependencies(&debs);
    for needed in ["chromium", "poppler-utils", "fonts-wqy-zenhei", "libc6"] {
        assert!(dependencies.iter().any(|d| d == needed), "{needed} declared: {dependencies:?}");
    }
    let mut apt = inside(chroot, None, &["apt-get", "install", "-y", "-qq", "--no-install-recommends"]);
    run(apt.args(&dependencies).env("DEBIAN_FRONTEND", "noninteractive"));
    std::fs::create_dir_all(chroot.join("tmp/checkpass")).unwrap();
    std::fs::set_permissions(chroot.join("tmp/checkpass"), std::os::unix::fs::PermissionsExt::from_mode(0o1777))
        .unwrap();
    let mut inside_debs = Vec::new();
    for deb in &debs {
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(deb, chroot.join("tmp/checkpass").join(&name)).unwrap();
        inside_debs.push(format!("/tmp/checkpass/{name}"));
    }
    let install = || run(inside(chroot, None, &["dpkg", "-i"]).args(&inside_debs));
    eprintln!("[packages] {}", install());

    for name in PACKAGES {
        let version = run(inside(chroot, None, &[&format!("/usr/bin/{name}"), "--version"]));
        assert!(version.starts_with(&format!("{name} ")), "{version}");
        if name == "pass-verifier" {
            assert!(version.contains("no signing code"), "the checkpoint's build: {version}");
        }
    }
    assert_eq!(mode_and_owner(chroot, "/var/lib/checkpass-server"), "700 checkpass-server");
    assert_eq!(mode_and_owner(chroot, "/var/lib/checkpass-office"), "700 checkpass-office");
    assert_eq!(mode_and_owner(chroot, "/var/lib/checkpass-mirror"), "755 checkpass-mirror");
    for conffile in ["server.toml", "mirror.env", "office.env", "station.env"] {
        assert!(chroot.join("etc/checkpass").join(conffile).exists(), "{conffile}");
    }

    // Keys, as README's "Install on a server" makes them: the authority's, then the office's,
    // each readable by its service's user only.
    run(inside(
        chroot,
        None,
        &["pass-issuer", "keygen", "--authority", "--out", "/etc/checkpass", "--name", "测试管理局"],
    ));
    run(inside(chroot, None, &["chown", "checkpass-server:", "/etc/checkpass/authority.key"]));
    let office_key = ["keygen", "--out", "/etc/checkpass/office-key", "--name", "测试签发机关", "--division", "440114"];
    run(inside(chroot, None, &["pass-issuer"]).args(office_key));
    run(inside(chroot, None, &["chown", "-R", "checkpass-office:", "/etc/checkpass/office-key"]));
    assert_eq!(mode_and_owner(chroot, "/etc/checkpass/office-key/issuer.key"), "600 checkpass-office");
    // The trust list: the authority and the office, as the authority hands it out.
    let public = |file: &str| {
        let text = std::fs::read_to_string(chroot.join("etc/checkpass").join(file)).unwrap();
        text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
    };
    let trust =
        format!("[authority]\n{}\n\n[[issuer]]\n{}\n", public("authority.pub"), public("office-key/issuer.pub"));
    std::fs::write(chroot.join("etc/checkpass/trust.toml"), trust).unwrap();

    // The revocation server: its unit's command line, its configuration file.
    let server_port = free_port();
    configure(chroot, "/etc/checkpass/server.toml", "listen =", &format!("listen = \"127.0.0.1:{server_port}\""));
    configure(chroot, "/etc/checkpass/server.toml", "# trust =", "trust = \"/etc/checkpass/trust.toml\"");
    let argv = exec_start(chroot, "checkpass-server.service");
    assert_eq!(argv, ["/usr/bin/pass-server", "serve", "--config", "/etc/checkpass/server.toml"]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let logs = chroot.join("tmp/checkpass");
    let server_run = Running::start(inside(chroot, Some("checkpass-server"), &argv), logs.join("server.log"));
    let server = format!("http://127.0.0.1:{server_port}");
    let (status, body) = wait_for("the packaged server", Duration::from_secs(30), || get(&format!("{server}/healthz")));
    assert_eq!((status, body.as_str()), (200, "ok\n"), "{}", server_run.log());

    // The console: initialised by its user, then its unit's command line with office.env.
    let init = ["init", "--data", "/var/lib/checkpass-office", "--key", "/etc/checkpass/office-key/issuer.key"];
    let said =
        run(inside(chroot, Some("checkpass-office"), &["pass-office"]).args(init).args(["--office", "测试签发机关"]));
    assert!(said.contains("one-time password: "), "{said}");
    let office_port = free_port();
    configure(chroot, "/etc/checkpass/office.env", "LISTEN=", &format!("LISTEN=127.0.0.1:{office_port}"));
    let argv = exec_start(chroot, "checkpass-office.service");
    assert_eq!(argv[..4], ["/usr/bin/pass-office", "serve", "--data", "/var/lib/checkpass-office"]);
    assert!(argv.ends_with(&["--behind-proxy".to_owned(), "127.0.0.1".to_owned()]), "office.env's OPTIONS: {argv:?}");
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let console = Running::start(inside(chroot, Some("checkpass-office"), &argv), logs.join("office.log"));
    let office = format!("http://127.0.0.1:{office_port}");
    let (status, body) =
        wait_for("the packaged console", Duration::from_secs(30), || get(&format!("{office}/healthz")));
    assert_eq!((status, body.as_str()), (200, "ok\n"), "{}", console.log());
    let (status, login) = get(&format!("{office}/login")).unwrap();
    assert!(status == 200 && login.contains("测试签发机关") && login.contains("登录"), "{status} {login}");

    // The backup timers' services, while both serve: a new file each, in /var/backups.
    for (who, ext) in [("office", ".tar"), ("server", ".sqlite")] {
        let script = exec_start_script(chroot, &format!("checkpass-{who}-backup.service"));
        run(inside(chroot, Some(&format!("checkpass-{who}")), &["/bin/sh", "-c", &script]));
        let made = listing(chroot, &format!("/var/backups/checkpass-{who}"));
        assert!(made.len() == 1 && made[0].starts_with(&format!("{who}-")) && made[0].ends_with(ext), "{made:?}");
    }
    let archive = format!("/var/backups/checkpass-office/{}", listing(chroot, "/var/backups/checkpass-office")[0]);
    let members = run(inside(chroot, None, &["tar", "tf", &archive]));
    assert!(members.contains("office.sqlite") && members.contains("ledger.sqlite"), "{members}");
    assert!(!members.lines().any(|m| m.ends_with(".key")), "never a key in a backup: {members}");
    drop(console);

    // The office's command line signs a pass; the checkpoint's verifier accepts it.
    // Valid from today for 30 days (a pass may not be longer than 92).
    let today = run(inside(chroot, None, &["date", "+%F"])).trim().to_owned();
    let until = run(inside(chroot, None, &["date", "-d", "+30 days", "+%F"])).trim().to_owned();
    #[rustfmt::skip]
    let issue = [
        "issue", "--key", "/etc/checkpass/office-key/issuer.key", "--plate", "粤A12345",
        "--vehicle-type", "heavy-truck", "--holder", "测试物流公司", "--origin", "440114",
        "--destination", "440114", "--zone", "440114", "--cargo", "汽车零部件",
        "--from", &today, "--until", &until, "--out", "/tmp/checkpass/pass.png",
    ];
    // As the console's user, on the console's ledger, to which `init` bound the key: the
    // issuer refuses a second ledger for it.
    run(inside(chroot, Some("checkpass-office"), &["pass-issuer"])
        .args(issue)
        .args(["--ledger", "/var/lib/checkpass-office/ledger.sqlite"]));

    // The desktop launcher: valid, and it starts the station with station.env, which opens its
    // page (xdg-open, here a stand-in that writes down the address) and syncs from the server.
    let desktop = chroot.join("usr/share/applications/checkpass-station.desktop");
    let entry = std::fs::read_to_string(&desktop).unwrap();
    assert!(entry.contains("\nExec=checkpass-station\n") && entry.contains("Name[zh_CN]=检查站扫码核验"), "{entry}");
    match Command::new("desktop-file-validate").arg(&desktop).output() {
        Ok(out) => assert!(out.status.success() && out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout)),
        Err(_) => {
            missing_prerequisite(TEST, "desktop-file-validate (desktop-file-utils; ./scripts/test.sh installs it)")
        }
    }
    assert!(chroot.join("usr/share/icons/hicolor/scalable/apps/checkpass-station.svg").exists());
    configure(chroot, "/etc/checkpass/station.env", "ZONE=", "ZONE=花都区");
    configure(chroot, "/etc/checkpass/station.env", "SERVER=", &format!("SERVER={server}"));
    // Not the default 8477, which a station the machine runs may hold.
    let station_port = free_port();
    configure(chroot, "/etc/checkpass/station.env", "LISTEN=", &format!("LISTEN=127.0.0.1:{station_port}"));
    std::fs::create_dir_all(chroot.join("tmp/checkpass/bin")).unwrap();
    let opener = chroot.join("tmp/checkpass/bin/xdg-open");
    std::fs::write(&opener, "#!/bin/sh\necho \"$1\" > /tmp/checkpass/opened\n").unwrap();
    std::fs::set_permissions(&opener, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut launcher = inside(chroot, None, &["checkpass-station"]);
    launcher.env("PATH", "/tmp/checkpass/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut station = Running::start(launcher, logs.join("station.log"));
    let url = wait_for("the launcher to open the station's page", Duration::from_secs(30), || {
        let opened = std::fs::read_to_string(chroot.join("tmp/checkpass/opened")).ok().filter(|u| u.ends_with('\n'));
        assert!(opened.is_some() || !station.log().contains("error"), "{}", station.log());
        opened
    });
    let url = url.trim();
    assert!(url.starts_with(&format!("http://127.0.0.1:{station_port}/?token=")), "{url}");
    let (status, page) = get(url).unwrap();
    assert!(status == 200 && page.contains("station.js"), "{status} {page}");
    let state = chroot.join("root/.local/share/checkpass/state.bin");
    let synced = || state.exists().then_some(());
    wait_for("the station's first sync from the packaged server", Duration::from_secs(30), synced);
    let stdout = station.child.stdout.take().unwrap();
    drop(station);
    let said: Vec<String> = std::io::BufReader::new(stdout).lines().map_while(Result::ok).collect();
    assert!(said.iter().any(|l| l.starts_with(&format!("checkpoint station: open {url}"))), "{said:?}");
    // The state the station synced, and the place from station.env: the pass is ACCEPTED with
    // current revocation data (no warning that it is missing or stale).
    let scanned = run(inside(
        chroot,
        None,
        &[
            "pass-verifier",
            "scan",
            "/tmp/checkpass/pass.png",
            "--trust",
            "/etc/checkpass/trust.toml",
            "--zone",
            "440114",
            "--json",
        ],
    ));
    let verdict: serde_json::Value = serde_json::from_str(scanned.lines().next().unwrap()).unwrap();
    assert_eq!(verdict["verdict"], "accepted", "{scanned}");
    assert_eq!(verdict["warnings"], serde_json::json!([]), "{scanned}");

    drop(server_run);

    // dpkg -r: the programs go, the data and the configuration stay; a reinstall finds them.
    run(inside(chroot, None, &["dpkg", "-r"]).args(PACKAGES));
    assert!(!chroot.join("usr/bin/pass-office").exists());
    for kept in [
        "var/lib/checkpass-office/office.sqlite",
        "var/lib/checkpass-office/ledger.sqlite",
        "etc/checkpass/office.env",
        "etc/checkpass/server.toml",
        "etc/checkpass/office-key/issuer.key",
    ] {
        assert!(chroot.join(kept).exists(), "dpkg -r kept {kept}");
    }
    assert!(std::fs::read_dir(chroot.join("var/lib/checkpass-server")).unwrap().next().is_some());
    install();
    let again = inside(chroot, Some("checkpass-office"), &["pass-office"])
        .args(init)
        .args(["--office", "另一个"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && said.contains("already set up"), "the reinstalled console's data: {said}");
    let configured = std::fs::read_to_string(chroot.join("etc/checkpass/office.env")).unwrap();
    assert!(configured.contains(&format!("LISTEN=127.0.0.1:{office_port}")), "the operator's office.env kept");
    let console = Running::start(inside(chroot, Some("checkpass-office"), &argv), logs.join("office-again.log"));
    let (status, _) =
        wait_for("the reinstalled console", Duration::from_secs(30), || get(&format!("{office}/healthz")));
    assert_eq!(status, 200, "{}", console.log());
    drop(console);

    // dpkg -P: the data and the configuration files go; the keys the operator made stay, and
    // so do the system users (a backup elsewhere may still be theirs).
    run(inside(chroot, None, &["dpkg", "-P"]).args(PACKAGES));
    for gone in [
        "var/lib/checkpass-office",
        "var/lib/checkpass-server",
        "var/lib/checkpass-mirror",
        "etc/checkpass/office.env",
        "etc/checkpass/server.toml",
        "etc/checkpass/station.env",
        "usr/share/applications/checkpass-station.desktop",
    ] {
        assert!(!chroot.join(gone).exists(), "dpkg -P removed {gone}");
    }
    assert!(chroot.join("etc/checkpass/office-key/issuer.key").exists(), "a key is never deleted");
    for who in ["office", "server"] {
        assert_eq!(
            listing(chroot, &format!("/var/backups/checkpass-{who}")).len(),
            1,
            "backups outlive an installation"
        );
    }
    run(inside(chroot, None, &["getent", "passwd", "checkpass-office"]));
}

/// The newest `GLIBC_` symbol version `binary` asks for, as (major, minor).
fn newest_glibc(binary: &Path) -> (u32, u32) {
    let symbols = run(Command::new("objdump").arg("-T").arg(binary));
    symbols
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let version: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .unwrap()
}

/// The packages ask for no C library newer than glibc 2.28 (Debian 10, and UOS 20 built on
/// it; Kylin V10 has 2.31), in their binaries' symbols and in their `Depends:`; the
/// checkpoint's and the server's packages install into a Debian 11 (glibc 2.31, older than
/// this machine's) and work there: a pass the issuer signed is ACCEPTED.
#[test]
fn the_packages_need_glibc_2_28_and_the_checkpoint_works_on_debian_11() {
    const TEST: &str = "packages::the_packages_need_glibc_2_28_and_the_checkpoint_works_on_debian_11";
    let debs = debs();
    let unpacked = tempfile::tempdir().unwrap();
    for (name, deb) in PACKAGES.iter().zip(&debs) {
        let depends = run(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Depends"));
        assert!(depends.starts_with("libc6 (>= 2."), "{name}: {depends}");
        let dir = unpacked.path().join(name);
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&dir));
        let newest = newest_glibc(&dir.join("usr/bin").join(name));
        assert!(newest <= (2, 28), "{name} asks for GLIBC_{}.{}", newest.0, newest.1);
    }
    let Some(chroot) = base_system(TEST, "bullseye") else { return };
    let chroot = chroot.as_path();
    let _ = inside(chroot, None, &["dpkg", "--purge", "pass-verifier", "pass-server"]).output();
    let _ = std::fs::remove_dir_all(chroot.join("tmp/checkpass"));
    std::fs::create_dir_all(chroot.join("tmp/checkpass")).unwrap();
    let glibc = run(inside(chroot, None, &["/lib/x86_64-linux-gnu/libc.so.6"]));
    assert!(glibc.contains("release version 2.31"), "Debian 11's C library: {glibc}");
    let mut install = inside(chroot, None, &["dpkg", "-i"]);
    for (name, deb) in PACKAGES.iter().zip(&debs).filter(|(n, _)| ["pass-verifier", "pass-server"].contains(n)) {
        std::fs::copy(deb, chroot.join(format!("tmp/checkpass/{name}.deb"))).unwrap();
        install.arg(format!("/tmp/checkpass/{name}.deb"));
    }
    run(install);
    let version = run(inside(chroot, None, &["pass-server", "--version"]));
    assert!(version.starts_with("pass-server "), "{version}");
    let work = tempfile::tempdir().unwrap();
    crate::util::issue_now(work.path(), "粤A12345");
    std::fs::copy(work.path().join("粤A12345.png"), chroot.join("tmp/checkpass/pass.png")).unwrap();
    std::fs::copy(root().join("keys-example/trust.toml"), chroot.join("tmp/checkpass/trust.toml")).unwrap();
    #[rustfmt::skip]
    let scanned = run(inside(chroot, None, &[
        "pass-verifier", "scan", "/tmp/checkpass/pass.png", "--trust", "/tmp/checkpass/trust.toml",
        "--zone", "440114", "--state", "/tmp/checkpass/state.bin", "--json",
    ]));
    let verdict: serde_json::Value = serde_json::from_str(scanned.lines().next().unwrap()).unwrap();
    assert_eq!(verdict["verdict"], "accepted", "{scanned}");
    run(inside(chroot, None, &["dpkg", "--purge", "pass-verifier", "pass-server"]));
}
