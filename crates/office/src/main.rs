//! `pass-office`: the issuing office's web console (see the crate docs and the README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "pass-office", version, about = "checkpass issuing office console")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up a data directory for an office key: the database, the ledger and an admin
    /// account, whose one-time password is printed once.
    Init {
        /// Data directory (created when missing).
        #[arg(long)]
        data: PathBuf,
        /// The office's secret key (it stays where it is; its path is recorded).
        #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
        key: PathBuf,
        /// The office's name, shown on every page and pass.
        #[arg(long)]
        office: String,
    },
    /// Serve the console.
    Serve {
        /// Data directory made by init.
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on. Anything but loopback needs the console's own TLS (--tls-cert
        /// and --tls-key); behind a TLS proxy, listen on loopback where the proxy reaches it.
        #[arg(long, default_value = "127.0.0.1:8480")]
        listen: SocketAddr,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Cookies are Secure.
        #[arg(long, requires = "tls_key", conflicts_with = "behind_proxy")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A TLS-terminating reverse proxy at this address is in front (127.0.0.1 for nginx on
        /// the same machine): cookies are marked Secure, and the X-Real-IP it sets names the
        /// client for the login throttle and the audit trail; from any other peer it is ignored.
        #[arg(long, value_name = "PROXY_ADDRESS")]
        behind_proxy: Option<std::net::IpAddr>,
    },
    /// Write a consistent copy of a data directory (both databases, the audit trail's signed
    /// head, the printed PDFs; never the key) to a new file; the console may be running.
    Backup {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// The archive to write (a tar file; never replaced).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a new or empty data directory. The ledger's next serial is raised
    /// above every serial issued since the backup: from the revocation server's record, or
    /// --next-serial; without either, nothing is restored.
    Restore {
        /// The archive `backup` wrote.
        archive: PathBuf,
        /// The data directory to restore into (missing or empty).
        #[arg(long)]
        data: PathBuf,
        /// One above the highest pass serial known to be issued (from the last printed PDF or
        /// e-pass), when the revocation server cannot say.
        #[arg(long)]
        next_serial: Option<u64>,
    },
    /// Admin accounts: made only here, on the server, never in the console (no admin makes
    /// another and holds both passwords). Stop the console first.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Add an admin account; its one-time password is printed once.
    Add {
        /// Data directory made by init.
        #[arg(long)]
        data: PathBuf,
        /// The new admin's login.
        #[arg(long)]
        login: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain against the head the office key signed (audit.anchor) and the
    /// head the revocation server holds: finds an edited, inserted or deleted row, and an
    /// older trail put back. Exit 0 whole (a server's head included), 1 broken, 3 whole by
    /// audit.anchor but no server's head checked (none set, none held, not reached).
    Verify {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// The revocation server to ask for the office's newest head (default: the one in the
        /// console's settings).
        #[arg(long)]
        server: Option<String>,
    },
    /// Sign the trail's current head, after checking rows the console refused to sign (rows
    /// written while no console was running). Stop the console first.
    Seal {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Write the trail as CSV to standard output (every text cell formula-safe).
    Export {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// CSV (the only format; say it so scripts read well).
        #[arg(long, required = true)]
        csv: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pass-office: error: {}", pass_core::one_line_error(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init { data, key, office } => {
            let now = (pass_office::system_clock())();
            let password = pass_office::init(&data, &key, &office, now)?;
            println!("login: {}", pass_office::ADMIN_LOGIN);
            println!("one-time password: {password}");
            eprintln!(
                "pass-office: set up {}; the password above is shown once and must be changed at first login",
                data.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { data, out } => {
            let names = pass_office::backup::backup(&data, &out, (pass_office::system_clock())())?;
            println!("backed up {} to {}: {}", data.display(), out.display(), names.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { archive, data, next_serial } => {
            let restored = pass_office::backup::restore(&archive, &data, next_serial, (pass_office::system_clock())())?;
            println!(
                "restored {} into {}; the next pass takes serial {} (from {})",
                archive.display(),
                data.display(),
                restored.next_serial,
                restored.floor
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin { command: AdminCommand::Add { data, login } } => {
            let password = pass_office::add_admin(&data, &login, (pass_office::system_clock())())?;
            println!("login: {login}");
            println!("one-time password: {password}");
            eprintln!("pass-office: the password above is shown once and must be changed at first login");
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { data, listen, tls_cert, tls_key, behind_proxy } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(pass_office::tls::config(&cert, &key)?),
                _ => None,
            };
            if !listen.ip().is_loopback() && tls.is_none() {
                anyhow::bail!(
                    "--listen {listen} is not loopback: passwords and sessions would cross the network in clear; \
                     pass --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy \
                     (--behind-proxy 127.0.0.1)"
                );
            }
            let transport = match (&tls, behind_proxy) {
                (Some(_), _) => pass_office::Transport::Tls,
                (None, Some(proxy)) => pass_office::Transport::BehindProxy(proxy.to_canonical()),
                (None, None) => pass_office::Transport::Plain,
            };
            let office = Arc::new(pass_office::Office::open(&data, transport, pass_office::system_clock())?);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener =
                    tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
                let address = listener.local_addr()?;
                match tls {
                    Some(config) => {
                        println!("pass-office: serving https://{address}/");
                        let listener = pass_office::tls::TlsListener::new(listener, config)?;
                        pass_office::serve(listener, office, ctrl_c()).await?;
                    }
                    None => {
                        println!("pass-office: serving http://{address}/");
                        pass_office::serve(listener, office, ctrl_c()).await?;
                    }
                }
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Export { data, csv: _ } } => {
            let conn = pass_files::open_sqlite(&data.join(pass_office::DB_FILE), std::time::Duration::from_secs(5))?;
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            for row in pass_office::db::audit_rows(&conn)? {
                out.serialize(row)?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify { data, server } } => {
            let (report, reached) = pass_office::anchor::verify(&data, server.as_deref())?;
            for note in &report.notes {
                println!("{note}");
            }
            let rows = report.verdict.rows;
            if report.verdict.problems.is_empty() {
                println!("audit trail whole: {rows} row(s)");
                Ok(if reached { ExitCode::SUCCESS } else { ExitCode::from(3) })
            } else {
                for p in &report.verdict.problems {
                    println!("{p}");
                }
                println!("audit trail BROKEN: {} problem(s) in {rows} row(s)", report.verdict.problems.len());
                Ok(ExitCode::from(1))
            }
        }
        Command::Audit { command: AuditCommand::Seal { data } } => {
            let row = pass_office::seal_audit(&data)?;
            println!("signed the audit trail's head: row {row}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Completes at Ctrl-C (or when the signal cannot be watched: then only a kill stops it).
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
