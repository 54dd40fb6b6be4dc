//! `pass-server`: the authority's revocation and trust-list server.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use pass_core::{SecretKey, TrustList};
use pass_files::{self as files, Mode};
use pass_server::app::{self, AppState, TrustServed};
use pass_server::store::{Role, Store};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cli::{AuthoritiesCommand, Cli, Command, ServeArgs, TokenCommand};

/// Loads the authority key (PKCS#8 PEM); the PEM text is zeroized after parsing.
fn load_secret(path: &Path) -> Result<SecretKey> {
    if let Some(mode) = files::loose_permissions(path) {
        eprintln!(
            "pass-server: warning: {} is readable or writable by others (mode {mode:o}); run chmod 600 on it",
            path.display()
        );
    }
    let text = zeroize::Zeroizing::new(
        files::read_to_string_capped(path, files::MAX_KEY_FILE).with_context(|| format!("{}", path.display()))?,
    );
    SecretKey::from_pem(&text).with_context(|| format!("{}", path.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args, false),
        Command::Publish { out, authority } => {
            let server = ServeArgs {
                authority,
                listen: None,
                authorities: None,
                publish: Some(out),
                re_sign: false,
                max_connections_per_address: pass_http::limits::DEFAULT_PER_ADDRESS,
            };
            serve(server, true)
        }
        Command::Backup { data, out } => pass_server::backup::backup(&data, &out)
            .map(|()| println!("backed up {} to {}", data.display(), out.display())),
        Command::Restore { backup, data, authority_key, recover_from } => {
            restore(&backup, &data, &authority_key, &recover_from)
        }
        Command::Token { command: TokenCommand::Add { data, issuer, admin } } => token_add(&data, issuer, admin),
        Command::Token { command: TokenCommand::List { data } } => token_list(&data),
        Command::Token { command: TokenCommand::Remove { data, id } } => token_remove(&data, &id),
        Command::Export { data, out, authority_key, trust, authorities } => {
            export(&data, &out, authority_key.as_deref(), trust.as_deref(), authorities.as_deref())
        }
        Command::Mirror { root, authorities, from, out, every } => {
            mirror(&root, authorities.as_deref(), &from, &out, every.as_deref())
        }
        Command::Authorities { command: AuthoritiesCommand::Sign { root_key, list, out } } => {
            sign_authorities(&root_key, &list, &out)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pass-server: error: {}", pass_core::one_line_error(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// `pass-server restore`: the backup, then what the signed snapshots show.
fn restore(backup: &Path, data: &Path, key: &Path, recover_from: &[PathBuf]) -> Result<()> {
    let key = load_secret(key)?;
    let seen: Vec<Vec<u8>> = recover_from
        .iter()
        .map(|p| {
            files::read_capped(p, pass_core::revocation::MAX_SNAPSHOT_LEN as u64)
                .with_context(|| p.display().to_string())
        })
        .collect::<Result<_>>()?;
    let restored = pass_server::backup::restore(backup, data, &key, &seen, pass_server::app::system_clock())?;
    println!(
        "restored {} into {}: version {} in the backup, {} now",
        backup.display(),
        data.display(),
        restored.backup_version,
        restored.version
    );
    if seen.is_empty() {
        eprintln!(
            "pass-server: warning: restored without --recover-from: revocations made after the backup are missing, and \
             checkpoints that synced them refuse this server's next versions; give a signed snapshot a mirror or the \
             --publish directory holds (v1/revocations)"
        );
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data: Option<PathBuf>,
    authority_key: Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    trust: Option<PathBuf>,
    log_json: Option<bool>,
}

/// Serves until stopped, or with `once` writes the documents as files (`--publish`) and exits.
fn serve(args: ServeArgs, once: bool) -> Result<()> {
    let config: ConfigFile = match &args.authority.config {
        Some(path) => toml::from_str(
            &files::read_to_string_capped(path, files::MAX_TEXT_FILE).with_context(|| format!("{}", path.display()))?,
        )
        .with_context(|| format!("{}", path.display()))?,
        None => ConfigFile::default(),
    };
    let data = args.authority.data.or(config.data).context("--data DIR is required")?;
    let key_path = args.authority.authority_key.or(config.authority_key).context("--authority-key FILE is required")?;
    let listen = args.listen.or(config.listen).unwrap_or_else(|| ([127, 0, 0, 1], 8080).into());
    let trust_path = args.authority.trust.or(config.trust);
    init_logging(args.authority.log_json || config.log_json.unwrap_or(false));

    let authority = load_secret(&key_path)?;
    // Operator mistakes that would start a server every checkpoint refuses, or one that fails
    // every write: refused here with one line each.
    let _lock = lock_data_dir(&data)?;
    let mut store = Store::open(&data)?;
    let now = app::system_clock();
    let newest = store.newest_signed_at()?;
    if newest > now + app::CLOCK_TOLERANCE && !args.re_sign {
        bail!(
            "the data in {} is signed at {}, {} after this machine's clock ({}). If this clock is wrong, fix it \
             and start again. If it is right, the data was signed while the clock was ahead, and every checkpoint \
             that took it is warned: start once with --re-sign to publish it again as of now",
            data.display(),
            pass_core::time::rfc3339(newest, &jiff::tz::TimeZone::UTC),
            pass_core::time::age(newest - now),
            pass_core::time::rfc3339(now, &jiff::tz::TimeZone::UTC),
        );
    }
    if args.re_sign {
        let (mut state, _) = store.load()?;
        let from = state.version;
        store.re_sign(&mut state, now, &authority)?;
        tracing::warn!(from, to = state.version, "revocation data re-signed at the current time");
    }
    let trust = match &trust_path {
        Some(path) => {
            let text = files::read_to_string_capped(path, files::MAX_TEXT_FILE)
                .with_context(|| format!("{}", path.display()))?;
            let list = TrustList::from_toml(&text).with_context(|| format!("{}", path.display()))?;
            if let Some(named) = &list.authority
                && named.key != authority.public_key()
            {
                bail!(
                    "--authority-key {} is key {}, but {} names key {} as its [authority]: every checkpoint would refuse this server's data",
                    key_path.display(),
                    authority.public_key().id(),
                    path.display(),
                    named.key.id()
                );
            }
            let (version, issued_at) =
                store.trust_version(&Sha256::digest(text.as_bytes()).into(), app::system_clock(), args.re_sign)?;
            let served = TrustServed::new(version, issued_at, text, &authority);
            store.set_trust_issuers(&served.issuers)?;
            Some(served)
        }
        None => None,
    };
    let mut state = AppState::new(store, authority, trust)?;
    if let Some(path) = &args.authorities {
        state.authorities = Some(served_authority_list(path)?);
    }
    if let Some(dir) = &args.publish {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        state.publish = Some((dir.clone(), std::sync::Mutex::new(())));
        state.publish_static();
        if once {
            eprintln!("pass-server: wrote version {} as files to {}", state.current_version(), dir.display());
            return Ok(());
        }
    }
    let state = Arc::new(state);
    let options = pass_http::Options::new(args.max_connections_per_address);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = pass_http::bind(listen).with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, version = state.current_version(), "serving");
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        pass_server::run(listener, state, options, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Takes the data directory for this process: a second server on the same directory would
/// serve a stale version forever. Also checks that the directory is writable, so a read-only
/// one fails now rather than on every revocation. The lock is held until the returned file is
/// dropped (at exit).
fn lock_data_dir(data: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(data).with_context(|| format!("creating the data directory {}", data.display()))?;
    pass_files::probe_writable(data)
        .with_context(|| format!("the data directory {} is not writable", data.display()))?;
    let path = data.join("server.lock");
    let file = pass_files::open_lock(&path).with_context(|| format!("{}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("the data directory {} is in use by another pass-server; stop it first", data.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested; draining");
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHECKPASS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn token_add(data: &Path, issuer: Option<pass_core::KeyId>, admin: bool) -> Result<()> {
    let role = match (issuer, admin) {
        (Some(key), false) => Role::Issuer(key),
        (None, true) => Role::Admin,
        _ => bail!("give exactly one of --issuer KEY_ID or --admin"),
    };
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random generator: {e}"))?;
    let token = format!("cpt_{}", URL_SAFE_NO_PAD.encode(secret));
    let store = Store::open(data)?;
    if let Role::Issuer(key) = role {
        let known = store.trust_issuers()?;
        if !known.is_empty() && !known.contains(&key.to_string()) {
            bail!(
                "key {key} is not in the trust list this server publishes (it knows {}); add the office to the trust list first",
                known.join(", ")
            );
        }
    }
    store.add_token(&token, role, app::system_clock())?;
    match role {
        Role::Admin => eprintln!("pass-server: new admin token (shown once; only its hash is stored):"),
        Role::Issuer(key) => {
            eprintln!("pass-server: new token for issuer {key} (shown once; only its hash is stored):")
        }
    }
    println!("{token}");
    Ok(())
}

fn token_list(data: &Path) -> Result<()> {
    for (id, role, created) in Store::open(data)?.list_tokens()? {
        let role = match role {
            Role::Admin => "admin".to_owned(),
            Role::Issuer(key) => format!("issuer {key}"),
        };
        println!("{id}  {role:<23}  created {}", pass_core::time::rfc3339(created, &pass_core::time::default_zone()));
    }
    Ok(())
}

fn token_remove(data: &Path, id: &str) -> Result<()> {
    if !Store::open(data)?.remove_token(id)? {
        bail!("no token with id {id:?} (16 hex digits from `pass-server token list`)");
    }
    eprintln!("pass-server: token {id} removed; it is refused from the next request on");
    Ok(())
}

/// The root's public key from its .pub file or a trust file's [root] section.
fn root_key(path: &Path) -> Result<pass_core::PublicKey> {
    let text = files::read_to_string_capped(path, files::MAX_TEXT_FILE).with_context(|| path.display().to_string())?;
    if let Ok((_, key)) = pass_core::keys::PublicKeyFile::parse(&text) {
        return Ok(key);
    }
    let trust = TrustList::from_toml(&text).with_context(|| path.display().to_string())?;
    trust
        .root
        .map(|r| r.key)
        .with_context(|| format!("{}: neither a .pub file nor a trust file with [root]", path.display()))
}

/// `pass-server mirror`: one round, or one every `every`.
fn mirror(root: &Path, authorities: Option<&Path>, from: &[String], out: &Path, every: Option<&str>) -> Result<()> {
    use pass_server::mirror;
    let root = root_key(root)?;
    let every = every.map(parse_every).transpose()?;
    let fetcher = mirror::Fetcher::new(std::time::Duration::from_secs(20));
    loop {
        let now = pass_server::app::system_clock();
        let round = mirror::authority_list(&fetcher, &root, authorities, from, out, now).and_then(|(list, bytes)| {
            Ok((list.version, mirror::mirror_round(&fetcher, &list, &bytes, from, out, now)?))
        });
        let all_ok = match round {
            Ok((version, lines)) => {
                eprintln!("pass-server: mirrored authority list version {version} into {}", out.display());
                for line in &lines {
                    match &line.outcome {
                        mirror::Outcome::Copied(source) => {
                            eprintln!("  {}: version {} from {source}", line.name, line.version);
                        }
                        mirror::Outcome::Kept(tried) => {
                            let why: Vec<String> = tried.iter().map(|(source, e)| format!("{source}: {e}")).collect();
                            eprintln!("  warning: {}: keeping version {}: {}", line.name, line.version, why.join("; "));
                        }
                    }
                }
                lines.iter().all(|l| matches!(l.outcome, mirror::Outcome::Copied(_)))
            }
            Err(e) => {
                eprintln!("pass-server: mirror: {}", pass_core::one_line_error(e.as_ref()));
                false
            }
        };
        match every {
            Some(every) => std::thread::sleep(every),
            None if all_ok => return Ok(()),
            None => bail!("some authorities could not be mirrored (their copies held are kept)"),
        }
    }
}

fn parse_every(text: &str) -> Result<std::time::Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().with_context(|| format!("--every {text}: e.g. 30s, 5m"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => bail!("--every {text}: e.g. 30s, 5m, 1h"),
    };
    if seconds < 10 {
        bail!("--every {text}: at least 10s");
    }
    Ok(std::time::Duration::from_secs(seconds))
}

/// A signed authority list to serve: read whole, its header and body checked (the root's
/// signature is for each checkpoint to check with its own root key), and its ETag.
fn served_authority_list(path: &Path) -> Result<(Arc<[u8]>, String)> {
    use pass_core::authority::{DocKind, HEADER_LEN, MAGIC};
    let bytes = files::read_capped(path, pass_core::authority::MAX_DOC_LEN as u64)
        .with_context(|| path.display().to_string())?;
    if bytes.len() < HEADER_LEN + 64 || bytes[..2] != MAGIC || bytes[3] != DocKind::AuthorityList as u8 {
        bail!("{}: not a signed authority list (pass-server authorities sign makes one)", path.display());
    }
    let list: pass_core::authorities::AuthorityList =
        pass_core::authority::decode_body(&bytes[HEADER_LEN..bytes.len() - 64])
            .with_context(|| path.display().to_string())?;
    list.check().with_context(|| path.display().to_string())?;
    Ok((bytes.into(), format!("\"a{}\"", list.version)))
}

/// Signs the root's authority list: the rules checked before signing, the output never
/// overwritten (a signed list is a published fact: a new one takes a new version).
fn sign_authorities(root_key: &Path, list: &Path, out: &Path) -> Result<()> {
    let root = load_secret(root_key)?;
    let text = files::read_to_string_capped(list, files::MAX_TEXT_FILE).with_context(|| list.display().to_string())?;
    let list = pass_core::authorities::AuthorityList::from_toml(&text, app::system_clock())
        .with_context(|| list.display().to_string())?;
    let signed = list.sign(&root);
    files::write(out, &signed, 0o644, Mode::CreateNew).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "pass-server: signed authority list version {} ({} authorit{}, {} bytes) with root key {} to {}",
        list.version,
        list.authorities.len(),
        if list.authorities.len() == 1 { "y" } else { "ies" },
        signed.len(),
        root.public_key().id(),
        out.display()
    );
    Ok(())
}

fn export(
    data: &Path,
    out: &Path,
    authority_key: Option<&Path>,
    trust: Option<&Path>,
    authorities: Option<&Path>,
) -> Result<()> {
    if !data.join(pass_server::store::DB_FILE).exists() {
        bail!("{}: no server database here", data.display());
    }
    let store = Store::open(data)?;
    let Some((version, snapshot)) = store.published()? else {
        bail!("no snapshot has been published yet: start the server once");
    };
    let mut docs: Vec<Vec<u8>> = Vec::new();
    let mut what = Vec::new();
    if let Some(path) = authorities {
        docs.push(served_authority_list(path)?.0.to_vec());
        what.push("the root's authority list");
    }
    docs.push(snapshot.clone());
    what.push("snapshot");
    if let Some(path) = authority_key {
        let authority = load_secret(path)?;
        let (state, _) = store.load()?;
        if state.version != version {
            bail!(
                "the stored snapshot (version {version}) is not the stored state's ({}): start the server once",
                state.version
            );
        }
        pass_core::authority::open(&snapshot, &authority.public_key())
            .with_context(|| format!("{}: not the key that signed this server's data", path.display()))?;
        let served = match trust {
            None => None,
            Some(path) => {
                let text = files::read_to_string_capped(path, files::MAX_TEXT_FILE)
                    .with_context(|| path.display().to_string())?;
                TrustList::from_toml(&text).with_context(|| path.display().to_string())?;
                let now = app::system_clock();
                let (version, issued_at) = store.trust_version(&Sha256::digest(text.as_bytes()).into(), now, false)?;
                Some(TrustServed::new(version, issued_at, text, &authority))
            }
        };
        if let Some(served) = &served {
            docs.push(served.doc.to_vec());
            what.push("trust list");
        }
        // The heartbeat names the trust list carried (none without --trust).
        let named = served.as_ref().map(|s| s.reference);
        docs.push(app::sign_beat(version, state.digest(), named, app::system_clock(), &authority).doc.to_vec());
        what.push("heartbeat");
    } else {
        what.push("(no heartbeat: give --authority-key to confirm it as of now)");
    }
    let bytes = if docs.len() == 1 {
        snapshot
    } else {
        pass_core::authority::bundle(&docs.iter().map(Vec::as_slice).collect::<Vec<_>>())
    };
    files::write(out, &bytes, 0o644, Mode::Replace).with_context(|| format!("writing {}", out.display()))?;
    let what = what.join(", ");
    eprintln!("pass-server: wrote {what}, version {version} ({} bytes), to {}", bytes.len(), out.display());
    Ok(())
}
