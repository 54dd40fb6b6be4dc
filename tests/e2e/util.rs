//! Shared helpers: locating and running the binaries, making keys, trust lists and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary built from this workspace, next to the test executable's `deps/` folder; the
/// checkpoint's `pass-verifier` from its own target directory (`target/checkpoint`).
///
/// The first call builds the binaries the tests drive, in this test's profile, so a test never
/// drives a binary older than its sources; after `scripts/test.sh` has built them it is a no-op.
/// `pass-verifier` is built on its own, as a checkpoint's release build is: built together
/// with the issuer, Cargo would turn on pass-core's `sign` feature for it, and the tests would
/// drive a binary no checkpoint runs.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    if let Err(e) = BUILT.get_or_init(|| build_binaries(dir)) {
        panic!("building the binaries under test failed: {e}");
    }
    let path = match name {
        "pass-verifier" => checkpoint_dir(dir).join(name),
        _ => dir.join(name),
    };
    assert!(path.exists(), "{} is missing after the build", path.display());
    path
}

/// Where the checkpoint build of `pass-verifier` goes for the profile built into `profile_dir`:
/// `target/checkpoint/<profile>`.
fn checkpoint_dir(profile_dir: &Path) -> PathBuf {
    let target = profile_dir.parent().unwrap_or(profile_dir);
    target.join("checkpoint").join(profile_dir.file_name().unwrap_or_default())
}

/// `cargo build` of the issuer and the server into `profile_dir` (`target/debug` or
/// `target/<profile>`), and of `pass-verifier` on its own into [`checkpoint_dir`].
fn build_binaries(profile_dir: &Path) -> Result<(), String> {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => return Err(format!("unexpected target directory {}", profile_dir.display())),
    };
    let target_dir = profile_dir.parent().ok_or("no target directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = |packages: &[&str], target_dir: &Path| -> Result<(), String> {
        let mut command = Command::new(&cargo);
        // Without what `cargo test` sets for this test: ring's build script tracks
        // CARGO_MANIFEST_DIR, so inheriting it rebuilt ring and all above it, every run.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_for_tests = ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_BIN_NAME"]
                .contains(&name.as_ref())
                || ["CARGO_PKG_", "CARGO_PRIMARY_", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                    .iter()
                    .any(|p| name.starts_with(p));
            if set_for_tests {
                command.env_remove(name.as_ref());
            }
        }
        let status = command
            .current_dir(root())
            .args(["build", "--locked", "--quiet", "--bins"])
            .args(packages.iter().flat_map(|p| ["-p", p]))
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("cargo build exited with {status}")) }
    };
    build(&["pass-issuer", "pass-server", "pass-office"], target_dir)?;
    build(&["pass-verifier"], &target_dir.join("checkpoint"))
}

/// The result of running a binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Each stdout line as JSON.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    /// The first stdout line as JSON.
    pub fn json(&self) -> Value {
        self.json_lines().into_iter().next().unwrap_or_else(|| panic!("no output; stderr: {}", self.stderr))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        let run = Run {
            // Killed by a signal: 128 + the signal, as a shell reports it.
            code: o.status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + o.status.signal().unwrap_or(0)
            }),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "a binary panicked: {}", run.stderr);
        run
    }
}

/// Runs `pass-issuer` with `args`.
pub fn issuer(args: &[&str]) -> Run {
    run("pass-issuer", args)
}

/// Runs `pass-verifier` with `args`, isolated from the user's config.
pub fn verifier(args: &[&str]) -> Run {
    run("pass-verifier", args)
}

fn run(name: &str, args: &[&str]) -> Run {
    command(name).args(args).output().unwrap().into()
}

/// A command for binary `name`, isolated from the user's settings (environment and config
/// and data directories).
pub fn command(name: &str) -> Command {
    let mut command = Command::new(bin(name));
    for variable in
        ["CHECKPASS_TRUST", "CHECKPASS_ZONE", "CHECKPASS_CONFIG", "CHECKPASS_TZ", "CHECKPASS_STATE", "CHECKPASS_SERVER"]
    {
        command.env_remove(variable);
    }
    command.env("XDG_CONFIG_HOME", "/nonexistent-checkpass-test").env("XDG_DATA_HOME", "/nonexistent-checkpass-test");
    command
}

/// A fresh issuer key in `dir` named `name`, and a trust list trusting it at `dir/trust.toml`.
pub fn office(dir: &Path, name: &str) -> PathBuf {
    let run = issuer(&["keygen", "--out", dir.to_str().unwrap(), "--name", name]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let public = std::fs::read_to_string(dir.join("issuer.pub")).unwrap();
    let public: String = public.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    let trust = dir.join("trust.toml");
    std::fs::write(&trust, format!("[[issuer]]\n{public}")).unwrap();
    trust
}

/// The realistic pass of the brief, issued with the key in `dir` to `png`; returns the
/// `--json` output.
pub fn issue_realistic(dir: &Path, png: &Path, extra: &[&str]) -> Value {
    let key = dir.join("issuer.key");
    let mut args = vec![
        "issue",
        "--key",
        key.to_str().unwrap(),
        "--plate",
        "粤A12345",
        "--vehicle-type",
        "heavy-truck",
        "--holder",
        "东风日产乘用车公司花都工厂",
        "--driver",
        "张三",
        "--origin",
        "440114",
        "--destination",
        "310115",
        "--zone",
        "440114",
        "--zone",
        "310000",
        "--zone",
        "320500",
        "--cargo",
        "汽车零部件",
        "--from",
        "2022-04-01",
        "--until",
        "2022-04-30",
        "--out",
        png.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let run = issuer_at("2022-03-31 01:30:00", &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

/// Runs `pass-issuer` with its clock set to `at` (UTC, "YYYY-MM-DD hh:mm:ss", running from
/// there) by libfaketime: how the tests issue passes in the past, with no test door in the
/// production binary.
pub fn issuer_at(at: &str, args: &[&str]) -> Run {
    faked(&bin("pass-issuer"), &format!("@{at}"))
        .args(args)
        .env("TZ", "UTC")
        .env("XDG_CONFIG_HOME", "/nonexistent-checkpass-test")
        .output()
        .unwrap_or_else(|e| panic!("faketime: {e} (./scripts/test.sh installs Debian's faketime)"))
        .into()
}

/// `program` with its clock faked by libfaketime, `spec` as `faketime -f` takes it (`@2022-03-31
/// 01:30:00`, `-20d`, `+2d`). The library is preloaded directly: the `faketime` wrapper opens a
/// named semaphore per process id, and one left behind by a killed run made a later run with
/// the same pid fail ("sem_open: File exists"). The wrapper is the fallback where the library
/// is elsewhere.
pub fn faked(program: &Path, spec: &str) -> Command {
    let library = ["x86_64-linux-gnu", "aarch64-linux-gnu", ""]
        .into_iter()
        .map(|arch| PathBuf::from(format!("/usr/lib/{arch}/faketime/libfaketime.so.1").replace("//", "/")))
        .find(|p| p.exists());
    match library {
        Some(library) => {
            let mut command = Command::new(program);
            command.env("LD_PRELOAD", library).env("FAKETIME", spec);
            command
        }
        None => {
            let mut command = Command::new("faketime");
            command.args(["-f", spec]).arg(program);
            command
        }
    }
}

/// Inside the realistic pass's validity window.
pub const DURING: &str = "2022-04-10T12:00:00+08:00";

/// `scan --json` of `image` with `trust` and extra args.
pub fn scan(image: &Path, trust: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["scan", image.to_str().unwrap(), "--trust", trust.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    verifier(&args)
}

/// A `pass-server serve` process on 127.0.0.1:0, killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
    pub data: PathBuf,
    stderr_log: PathBuf,
}

impl Server {
    /// Starts the server binary with the example authority key and trust list.
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, Some(&root().join("keys-example/trust.toml")))
    }

    /// Starts the server binary with the example authority key and `trust` (or none: a server
    /// that publishes only revocation data).
    pub fn start_with(data: &Path, trust: Option<&Path>) -> Server {
        Server::start_as(data, &root().join("keys-example/authority.key"), trust, &[])
    }

    /// Starts the server binary with the authority key `key`, `trust` and `extra` arguments.
    pub fn start_as(data: &Path, key: &Path, trust: Option<&Path>, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let stderr_log = data.with_extension("log");
        let log = std::fs::File::create(&stderr_log).unwrap();
        let mut child = Command::new(bin("pass-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--authority-key")
            .arg(key)
            .args(trust.map(|t| vec![std::ffi::OsString::from("--trust"), t.into()]).unwrap_or_default())
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        // The server prints its address once it is bound; a dead server closes stdout.
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("server said {line:?}")).to_owned();
        Server { child, url, data: data.to_owned(), stderr_log }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// A new token (`--issuer KEY` or `--admin`).
    pub fn token(&self, role: &[&str]) -> String {
        let mut args = vec!["token", "add", "--data", self.data.to_str().unwrap()];
        args.extend_from_slice(role);
        let run = run("pass-server", &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout.lines().last().unwrap().to_owned()
    }

    /// A metric's value from /metrics.
    pub fn metric(&self, name: &str) -> f64 {
        let text = http(&self.url, "GET", "/metrics", None, None).1;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or_else(|| panic!("no metric {name} in {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `pass-server` with `args`.
pub fn server(args: &[&str]) -> Run {
    run("pass-server", args)
}

/// One HTTP request; returns (status, body).
pub fn http(base: &str, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{base}{path}");
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.call()
        }
        (_, body) => {
            let mut r = agent.post(&url).header("Content-Type", "application/json");
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.send(body.unwrap_or("").to_owned())
        }
    }
    .unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().with_config().limit(64 << 20).read_to_string().unwrap_or_default())
}

/// Issues the realistic pass with the example key, valid from yesterday for 30 days; its bytes.
pub fn issue_now(dir: &Path, plate: &str) -> (u64, Vec<u8>) {
    issue_between(dir, plate, -86_400, 30 * 86_400, &[])
}

/// Issues the realistic pass with the example key (ledger in `dir`, PNG at `dir/PLATE.png`),
/// valid from `from` to `until` seconds from now, running the issuer under `wrapper` (e.g.
/// `faketime -f -20d`); its serial and bytes.
pub fn issue_between(dir: &Path, plate: &str, from: i64, until: i64, wrapper: &[&str]) -> (u64, Vec<u8>) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let rfc3339 = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().to_string();
    let (from, until) = (rfc3339(now + from), rfc3339(now + until));
    let key = example_key(dir);
    let ledger = dir.join("ledger.sqlite");
    let png = dir.join(format!("{plate}.png"));
    #[rustfmt::skip]
    let args = [
        "issue", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
        "--plate", plate, "--vehicle-type", "heavy-truck", "--holder", "东风日产乘用车公司花都工厂",
        "--driver", "张三", "--co-driver", "李四", "--origin", "440114", "--destination", "310115",
        "--zone", "440114", "--zone", "310000", "--zone", "320500", "--cargo", "汽车零部件",
        "--from", &from, "--until", &until, "--out", png.to_str().unwrap(), "--json",
    ];
    let run: Run = match wrapper {
        [] => issuer(&args),
        ["faketime", "-f", spec] => faked(&bin("pass-issuer"), spec).args(args).output().unwrap().into(),
        [program, wrapper_args @ ..] => {
            Command::new(program).args(wrapper_args).arg(bin("pass-issuer")).args(args).output().unwrap().into()
        }
    };
    assert_eq!(run.code, 0, "{}", run.stderr);
    let issued = run.json();
    (issued["serial"].as_u64().unwrap(), pass_core::envelope::from_text(issued["text"].as_str().unwrap()).unwrap())
}

/// The example issuer key, copied (mode 0600, with its `.pub`) into `dir/example-key/`: a key
/// issues from one ledger only (its `issuer.ledger` marker names it), so each test's ledger
/// needs a key of its own, as each office has.
pub fn example_key(dir: &Path) -> PathBuf {
    let keys = dir.join("example-key");
    let key = keys.join("issuer.key");
    if !key.exists() {
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::copy(root().join("keys-example/issuer.pub"), keys.join("issuer.pub")).unwrap();
        let pem = std::fs::read(root().join("keys-example/issuer.key")).unwrap();
        let mut file = std::fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        std::io::Write::write_all(&mut file.write(true).create_new(true).open(&key).unwrap(), &pem).unwrap();
    }
    key
}

/// A test that cannot run on this machine for want of `what` (a kernel module, a FUSE device).
/// In CI (`CI` set, as `.ci/run` does) that is a failure: the prerequisite must be there. On a
/// developer's machine the test is skipped, and the skip is written to
/// `target/test-skips.txt`, which `scripts/test.sh` counts and prints at the end of its run.
pub fn missing_prerequisite(test: &str, what: &str) {
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("{test}: {what} (a missing prerequisite fails in CI)");
    }
    eprintln!("SKIPPED {test}: {what}");
    let log = root().join("target/test-skips.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = std::io::Write::write_all(&mut file, format!("{test}: {what}\n").as_bytes());
    }
}

/// Debian's nginx, run from a config template in `docs/` with its `@...@` fields filled in
/// (`@PREFIX@` and `@LISTEN@` by this helper, on a free loopback port); killed when dropped.
pub struct Nginx {
    child: std::process::Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl Nginx {
    /// Starts nginx under `dir` (made traversable for its unprivileged workers) from
    /// `template` (a path under the repository root) with `fill`; `None` when nginx is not
    /// installed (a failure in CI: [`missing_prerequisite`]).
    pub fn start(test: &str, dir: &Path, template: &str, fill: &[(&str, &str)]) -> Option<Nginx> {
        use std::os::unix::fs::PermissionsExt as _;
        let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists()) else {
            missing_prerequisite(test, "nginx (Debian's nginx package; ./scripts/test.sh installs it)");
            return None;
        };
        // nginx's workers run as an unprivileged user: they must reach the prefix.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(&prefix).unwrap();
        std::fs::set_permissions(&prefix, std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut config = std::fs::read_to_string(root().join(template)).unwrap();
        config = config.replace("@PREFIX@", prefix.to_str().unwrap()).replace("@LISTEN@", &format!("127.0.0.1:{port}"));
        for (field, value) in fill {
            config = config.replace(field, value);
        }
        let config_path = prefix.join("nginx.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(nginx)
            .args(["-e", prefix.join("error.log").to_str().unwrap(), "-p", prefix.to_str().unwrap(), "-c"])
            .arg(&config_path)
            .args(["-g", "daemon off;"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
                panic!("nginx ended ({status}): {log}");
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "nginx did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(Nginx { child, port })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 100 ms until it gives a value, failing the test after `limit`: the one
/// way the end-to-end tests wait for something to happen.
pub fn wait_for<T>(what: &str, limit: std::time::Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A slowloris client against `addr`: the start of a request, then one more header line every
/// 4 s, never ending the head. How long until the service closed the connection (`None`: still
/// open after 60 s).
pub fn slowloris(addr: std::net::SocketAddr) -> Option<std::time::Duration> {
    use std::io::{Read as _, Write as _};
    let started = std::time::Instant::now();
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(4))).ok()?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").ok()?;
    let mut buf = [0u8; 512];
    while started.elapsed() < std::time::Duration::from_secs(60) {
        match stream.read(&mut buf) {
            // Closed (an answer such as 408 first is fine: the connection is what counts).
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if stream.write_all(b"X-Slow: 1\r\n").is_err() {
                    return Some(started.elapsed());
                }
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// A real SMTP server for the console's e-mail: Python's aiosmtpd (installed by
/// `scripts/test.sh` into `target/pylib`) on 127.0.0.1, writing what it takes to a maildir;
/// killed on drop.
pub struct SmtpServer {
    child: std::process::Child,
    /// Its port.
    pub port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts one on a free port (or `port`), its maildir under `dir`.
    pub fn start(dir: &Path, port: Option<u16>) -> SmtpServer {
        let pylib = root().join("target/pylib");
        assert!(pylib.join("aiosmtpd").is_dir(), "{}: ./scripts/test.sh installs aiosmtpd from PyPI", pylib.display());
        let port =
            port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        // aiosmtpd's Mailbox makes the maildir (with tmp, new, cur) only when it is missing.
        let maildir = dir.join("maildir");
        std::fs::create_dir_all(dir).unwrap();
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .env("PYTHONPATH", &pylib)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs aiosmtpd");
        wait_for("the SMTP server to listen", std::time::Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        SmtpServer { child, port, maildir }
    }

    /// Every message it took, as text.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay on a port of its own to `target`: the network between a browser and the
/// console, which [`Relay::cut`] takes away (its listener closed, every connection shut), as a
/// phone without signal sees it.
pub struct Relay {
    /// The relay's port on 127.0.0.1.
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    /// Relays 127.0.0.1:(a free port) to `target`.
    pub fn start(target: std::net::SocketAddr) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stopped, kept) = (stop.clone(), open.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = std::net::TcpStream::connect(target) else { continue };
                let mut list = kept.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        Relay { port, stop, open }
    }

    /// Takes the network away: no new connection, every open one shut.
    pub fn cut(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        wait_for("the relay to close", std::time::Duration::from_secs(5), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err().then_some(())
        });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}
