//! `pass-office`: the issuing office's web console. Enterprises apply for passes, a reviewer
//! who did not enter an application approves it (which signs, through pass-issuer's ledger and
//! issuing code: there is no second way to sign or take a serial), and the enterprise
//! downloads the printed passes. Every action goes into a hash-chained audit trail.
//!
//! - [`db`]: the console's SQLite database (accounts, sessions, applications, notices, mail
//!   queue, audit).
//! - [`anchor`]: the audit trail's head, signed with the office key, kept outside the database
//!   and sent to the revocation server.
//! - [`auth`]: passwords (argon2id), session ids (stored hashed), CSRF tokens, lockout.
//! - [`login`]: logging in under a race: failure slots reserved before argon2, checks capped.
//! - [`workflow`]: what the console does (submit, edit, withdraw, renew, approve → issue →
//!   print → e-pass, reject, revoke, send revocations, notices), with no HTTP types.
//! - [`backup`]: backups and restores that never hand out a serial twice.
//! - [`records`]: the export of issued passes (CSV, .xlsx) and statistics by enterprise and week.
//! - [`mail`]: e-mail notices over SMTP and the queue's sender.
//! - [`web`]: the routes by area, each handler given its checked session; [`pages`]: the
//!   HTML, escaped at compile time (maud).
//! - [`tls`]: the console's own TLS listener.
//!
//! A data directory holds `office.sqlite`, `ledger.sqlite` (the issuance ledger, bound to the
//! office key) and `pdf/`. The key stays where the office keeps it; its path is a setting.

pub mod anchor;
pub mod auth;
pub mod backup;
pub mod db;
pub mod login;
pub mod mail;
pub mod pages;
pub mod records;
pub mod tls;
pub mod web;
pub mod workflow;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::Connection;

/// The console's database file in the data directory.
pub const DB_FILE: &str = "office.sqlite";
/// The issuance ledger in the data directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";
/// The login of the account `init` makes.
pub const ADMIN_LOGIN: &str = "admin";

/// Writes one line to standard error, and carries on when it cannot (a full disk, a closed
/// pipe): `eprintln!` panics then, and a panic in a request's worker left the client with an
/// empty reply.
pub fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The time source: Unix seconds. The binary uses the system clock; tests drive their own.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Creates the data directory's database and ledger for the office key at `key`, and the
/// admin account; its one-time password (shown once, stored only as a hash). Refuses a
/// directory already set up.
pub fn init(data: &Path, key: &Path, office: &str, now: u64) -> anyhow::Result<String> {
    std::fs::create_dir_all(data).with_context(|| data.display().to_string())?;
    restrict(data)?;
    pass_files::probe_writable(data).with_context(|| format!("cannot write into {}", data.display()))?;
    let key = std::fs::canonicalize(key).with_context(|| key.display().to_string())?;
    let secret = pass_issuer::keyfile::load_secret(&key)?;
    let key_id = secret.public_key().id();
    drop(secret);
    let mut conn = open_db(data)?;
    if db::setting(&conn, "office")?.is_some() {
        anyhow::bail!("{} is already set up for an office; nothing changed", data.display());
    }
    let mut ledger = pass_issuer::ledger::Ledger::open(&data.join(LEDGER_FILE))?;
    ledger.bind(key_id, &key)?;
    let password = auth::one_time_password().context("no randomness for a password")?;
    let hash = auth::hash_password(&password)?;
    let tx = conn.transaction()?;
    db::set_setting(&tx, "office", office)?;
    db::set_setting(&tx, "key", &key.to_string_lossy())?;
    db::create_account(&tx, ADMIN_LOGIN, db::Role::Admin, &hash, true, None, db::SERVER, now)?;
    db::audit(&tx, now, "init", "init", &format!("office {office:?}, key {key_id}"))?;
    tx.commit()?;
    anchor::seal_directory(data, &conn, &pass_issuer::keyfile::load_secret(&key)?)?;
    Ok(password)
}

/// Adds an admin account on the server itself (`pass-office admin add`), with the console
/// stopped (its lock is taken): admins are never made in the console, so no admin can make
/// another and hold both passwords. Returns the one-time password, shown once.
pub fn add_admin(data: &Path, login: &str, now: u64) -> anyhow::Result<String> {
    let mut conn = open_db(data)?;
    let key = PathBuf::from(db::setting(&conn, "key")?.with_context(|| format!("{} is not set up", data.display()))?);
    let lock_path = data.join("serve.lock");
    let lock = pass_files::open_lock(&lock_path).with_context(|| lock_path.display().to_string())?;
    anyhow::ensure!(lock.try_lock().is_ok(), "pass-office serve is running on {}: stop it first", data.display());
    anyhow::ensure!(login::is_valid_login(login), "a login is 1 to 64 characters, without spaces");
    anyhow::ensure!(db::account_by_login(&conn, login)?.is_none(), "the login {login:?} exists already");
    let password = auth::one_time_password().context("no randomness for a password")?;
    let hash = auth::hash_password(&password)?;
    let tx = conn.transaction()?;
    db::create_account(&tx, login, db::Role::Admin, &hash, true, None, db::SERVER, now)?;
    db::audit(&tx, now, db::SERVER, "account_created", &format!("{login} (admin)"))?;
    tx.commit()?;
    anchor::seal_directory(data, &conn, &pass_issuer::keyfile::load_secret(&key)?)?;
    Ok(password)
}

/// Signs the audit trail's current head in `data` (`pass-office audit seal`), with the console
/// stopped (its lock is taken): for rows a person checked that the console would not sign.
/// Returns the row signed.
pub fn seal_audit(data: &Path) -> anyhow::Result<i64> {
    let conn = open_db(data)?;
    let key = PathBuf::from(db::setting(&conn, "key")?.with_context(|| format!("{} is not set up", data.display()))?);
    let lock_path = data.join("serve.lock");
    let lock = pass_files::open_lock(&lock_path).with_context(|| lock_path.display().to_string())?;
    anyhow::ensure!(lock.try_lock().is_ok(), "pass-office serve is running on {}: stop it first", data.display());
    anchor::seal_directory(data, &conn, &pass_issuer::keyfile::load_secret(&key)?)?;
    Ok(anchor::head(&conn)?.map_or(0, |(row, _)| row))
}

/// The data directory and its databases are the owner's alone (0700, 0600): they hold password
/// hashes, sessions and the issuance ledger. Applied at `init` and whenever the console opens
/// a directory (one set up by an older release is tightened).
fn restrict(data: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let set = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("making {} private", path.display()))
        };
        set(data, 0o700)?;
        for base in [DB_FILE, LEDGER_FILE] {
            for suffix in ["", "-wal", "-shm"] {
                let path = data.join(format!("{base}{suffix}"));
                if path.symlink_metadata().is_ok_and(|m| m.file_type().is_file()) {
                    set(&path, 0o600)?;
                }
            }
        }
    }
    Ok(())
}

fn open_db(data: &Path) -> anyhow::Result<Connection> {
    let path = data.join(DB_FILE);
    let conn = pass_files::open_sqlite(&path, std::time::Duration::from_secs(5))
        .with_context(|| path.display().to_string())?;
    db::migrate(&conn).with_context(|| path.display().to_string())?;
    // The audit rows this connection wrote: a temporary table, seen by no other connection,
    // so the console signs only its own rows (`anchor::seal`).
    conn.execute_batch("CREATE TEMP TABLE IF NOT EXISTS audit_mine (id INTEGER PRIMARY KEY);")?;
    Ok(conn)
}

/// How browsers reach the console: what its cookies and its login throttle may assume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP on loopback.
    Plain,
    /// The console's own TLS: cookies are `Secure`.
    Tls,
    /// A TLS-terminating proxy at this address in front: cookies are `Secure`, and the
    /// `X-Real-IP` it sets names the client. From any other peer the header is ignored.
    BehindProxy(std::net::IpAddr),
}

impl Transport {
    /// Browsers reach the console over TLS: cookies carry `Secure`.
    pub fn secure(self) -> bool {
        self != Transport::Plain
    }
}

/// A running console's state.
pub struct Office {
    db: Mutex<Connection>,
    data: PathBuf,
    key: PathBuf,
    /// The office key's public half, read once at start-up.
    public: pass_core::PublicKey,
    /// The office's division from the `.pub` beside its key, read once at start-up.
    division: Option<pass_core::Division>,
    name: String,
    /// How browsers reach the console.
    transport: Transport,
    clock: Clock,
    /// Logins: the per-address throttle, the per-account lockout, the cap on password checks.
    throttle: login::Throttle,
    /// Held while an application's state is read and changed (approve, reject, edit), so an
    /// edit cannot slip between a reviewer's check and the signing.
    decisions: Mutex<()>,
    /// The audit row last signed into the anchor file.
    sealed: Mutex<Option<i64>>,
    /// The audit row whose signed head the revocation server last took.
    head_sent: Mutex<Option<i64>>,
    /// When the revocation server last took something from this console (a revocation or an
    /// audit head), Unix seconds; 0 never since start. For `/metrics`.
    pub(crate) server_took: std::sync::atomic::AtomicU64,
    /// Told when the signed head moved, so the sender sends it at once.
    head_moved: tokio::sync::Notify,
    /// Told when mail may be waiting, so the mail sender looks at once.
    mail_moved: tokio::sync::Notify,
    /// Counters for `/metrics`.
    metrics: web::metrics::Metrics,
    _lock: std::fs::File,
}

impl Office {
    /// Opens a data directory set up by [`init`], holding its lock: a second console on the
    /// same directory is refused.
    pub fn open(data: &Path, transport: Transport, clock: Clock) -> anyhow::Result<Office> {
        let conn = open_db(data)?;
        let name = db::setting(&conn, "office")?
            .with_context(|| format!("{} is not set up: run pass-office init first", data.display()))?;
        let key = PathBuf::from(db::setting(&conn, "key")?.context("no key setting")?);
        let public = pass_issuer::keyfile::load_secret(&key)?.public_key();
        // The office's division, from the `.pub` beside its key: the first six digits of its
        // pass numbers. Without it numbers are bare serials, which the operator must know.
        let division = pass_issuer::office::office_division(&key);
        if division.is_none() {
            log(format_args!(
                "pass-office: warning: {} names no division (or is missing): pass numbers will be bare serials; \
                 put the office's issuer.pub, made with `pass-issuer keygen --division CODE`, beside the key",
                key.with_extension("pub").display()
            ));
        }
        restrict(data)?;
        let lock_path = data.join("serve.lock");
        let lock = pass_files::open_lock(&lock_path).with_context(|| lock_path.display().to_string())?;
        if lock.try_lock().is_err() {
            anyhow::bail!("another pass-office serve is running on {}", data.display());
        }
        Ok(Office {
            db: Mutex::new(conn),
            data: data.to_owned(),
            key,
            public,
            division,
            name,
            transport,
            clock,
            throttle: login::Throttle::default(),
            decisions: Mutex::new(()),
            sealed: Mutex::new(anchor::read(data).map(|h| h.row)),
            head_sent: Mutex::new(None),
            server_took: std::sync::atomic::AtomicU64::new(0),
            head_moved: tokio::sync::Notify::new(),
            mail_moved: tokio::sync::Notify::new(),
            metrics: web::metrics::Metrics::default(),
            _lock: lock,
        })
    }

    /// Now, by the office's clock.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// Whether browsers reach the console over HTTPS (its own TLS, or a TLS proxy).
    pub fn serves_https(&self) -> bool {
        !matches!(self.transport, Transport::Plain)
    }

    /// Wakes the mail sender: mail may be waiting.
    pub fn mail_waiting(&self) {
        self.mail_moved.notify_one();
    }

    /// The office's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock over application decisions (see the field).
    pub(crate) fn decisions(&self) -> anyhow::Result<std::sync::MutexGuard<'_, ()>> {
        self.decisions.lock().map_err(|_| anyhow::anyhow!("the decisions lock is poisoned"))
    }

    /// The database, locked (a poisoned lock is an internal error, never a pass).
    pub fn db(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Connection>> {
        self.db.lock().map_err(|_| anyhow::anyhow!("the database lock is poisoned"))
    }

    /// The office key's id.
    pub fn key_id(&self) -> pass_core::KeyId {
        self.public.id()
    }

    /// The office key's public half (print QA checks against it).
    pub fn public_key(&self) -> &pass_core::PublicKey {
        &self.public
    }

    /// The office's division: the first six digits of its pass numbers.
    pub fn division(&self) -> Option<pass_core::Division> {
        self.division
    }

    /// The issuance ledger.
    pub fn ledger(&self) -> anyhow::Result<pass_issuer::ledger::Ledger> {
        Ok(pass_issuer::ledger::Ledger::open(&self.data.join(LEDGER_FILE))?)
    }

    /// Where a pass's phone e-pass PNG is kept.
    pub fn epass_png_path(&self, serial: u64) -> PathBuf {
        self.data.join("epass").join(format!("{serial}.png"))
    }

    /// What the printed pages and the e-pass say about the office.
    pub fn page_info(&self) -> pass_issuer::print::PageInfo {
        pass_issuer::print::PageInfo {
            title: pass_issuer::print::DEFAULT_TITLE.into(),
            office: self.name().to_owned(),
            division: self.division(),
            tz: pass_core::time::default_zone(),
        }
    }

    /// Where an application's PDF is kept.
    pub fn pdf_path(&self, application: i64) -> PathBuf {
        self.data.join("pdf").join(format!("application-{application}.pdf"))
    }
}

/// Serves `office` on a new 127.0.0.1 port from a thread of its own (for tests, examples and
/// benches that drive it over HTTP); its address.
pub fn spawn_on_loopback(office: Office) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let _ = tx.send(listener.local_addr()?);
            serve(listener, Arc::new(office), std::future::pending()).await
        })
    });
    rx.recv().unwrap_or_else(|_| panic!("the console did not start on 127.0.0.1"))
}

/// Connections one address may hold at once: a browser opens six or so; an office behind a
/// NAT shares one address among its clerks.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// Serves the console on `listener` until `shutdown` completes, through [`pass_http::serve`]
/// (a header-read timeout that closes slowloris connections, connections per address and in
/// all, a write deadline, a bounded drain), and sends the revocations not yet sent every
/// minute (backing off to 15 minutes while the server does not answer).
pub async fn serve<L: pass_http::Accept>(
    listener: L,
    office: Arc<Office>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let sender = office.clone();
    let sending = tokio::spawn(async move {
        let mut wait = std::time::Duration::from_secs(60);
        loop {
            tokio::time::sleep(wait).await;
            let office = sender.clone();
            let sent = tokio::task::spawn_blocking(move || {
                let sent = workflow::send_pending(&office);
                if let Err(e) = anchor::seal(&office) {
                    log(format_args!("pass-office: signing the audit trail's head: {e:#}"));
                }
                sent
            })
            .await;
            wait = match sent {
                Ok(Ok(true)) => std::time::Duration::from_secs(60),
                Ok(Err(e)) => {
                    log(format_args!("pass-office: sending revocations: {e:#}"));
                    (wait * 2).min(std::time::Duration::from_secs(900))
                }
                _ => (wait * 2).min(std::time::Duration::from_secs(900)),
            };
        }
    });
    // The audit trail's signed head goes to the revocation server as soon as it moves (and
    // every minute, backing off to 15 while the server does not take it).
    let heads = office.clone();
    let sending_heads = tokio::spawn(async move {
        let mut wait = std::time::Duration::from_secs(60);
        loop {
            tokio::select! {
                _ = heads.head_moved.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            let office = heads.clone();
            let sent = tokio::task::spawn_blocking(move || anchor::send(&office)).await;
            wait = match sent {
                Ok(Ok(())) => std::time::Duration::from_secs(60),
                Ok(Err(e)) => {
                    log(format_args!("pass-office: {e:#}"));
                    (wait * 2).min(std::time::Duration::from_secs(900))
                }
                Err(_) => (wait * 2).min(std::time::Duration::from_secs(900)),
            };
        }
    });
    // E-mail notices: at once when a change may have queued one, else every 30 s (a mail that
    // failed waits its own growing time: `mail::send_due`).
    let mailer = office.clone();
    let sending_mail = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = mailer.mail_moved.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            }
            let office = mailer.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || mail::send_due(&office)).await {
                log(format_args!("pass-office: sending mail: {e:#}"));
            }
        }
    });
    // Behind a proxy every connection comes from the proxy: only the limit in all applies.
    let per_address =
        if matches!(office.transport, Transport::BehindProxy(_)) { usize::MAX } else { MAX_CONNECTIONS_PER_ADDRESS };
    let options = pass_http::Options::new(per_address);
    let served = pass_http::serve(listener, web::router(office), options, shutdown).await;
    sending.abort();
    sending_heads.abort();
    sending_mail.abort();
    served
}
