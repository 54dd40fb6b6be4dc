//! E-mail notices over SMTP: the settings (on the admin's settings page), one send, and the
//! sender that works through the queue ([`crate::db::due_mails`]) with growing waits between
//! tries, so a mail the SMTP server did not take is tried again and shown, never lost.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport as _};

use crate::{Office, db};

/// How the console reaches the SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (a relay on this machine or the office's own network).
    None,
    /// STARTTLS (port 587), required.
    StartTls,
    /// TLS from the start (port 465).
    Tls,
}

impl Security {
    /// The name stored and posted.
    pub fn name(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        }
    }

    /// The security named `name`.
    pub fn from_name(name: &str) -> Option<Security> {
        [Security::None, Security::StartTls, Security::Tls].into_iter().find(|s| s.name() == name)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Security::None => "不加密（本机或内网中继） Plain (a relay on this network)",
            Security::StartTls => "STARTTLS（587端口） STARTTLS (port 587)",
            Security::Tls => "TLS（465端口） TLS (port 465)",
        }
    }
}

/// The SMTP settings.
#[derive(Clone, Debug)]
pub struct Smtp {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How.
    pub security: Security,
    /// The From address.
    pub from: String,
    /// A login and password, when the server wants one.
    pub credentials: Option<(String, String)>,
}

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(20);

impl Smtp {
    /// The settings saved, if e-mail is set up.
    pub fn load(conn: &rusqlite::Connection) -> rusqlite::Result<Option<Smtp>> {
        let get = |name: &str| db::setting(conn, name);
        let (Some(server), Some(from)) = (get("smtp_server")?, get("smtp_from")?) else { return Ok(None) };
        let Some((host, port)) = parse_server(&server) else { return Ok(None) };
        let security = get("smtp_security")?.and_then(|s| Security::from_name(&s)).unwrap_or(Security::StartTls);
        let credentials = get("smtp_user")?.filter(|u| !u.is_empty()).map(|u| (u, String::new()));
        let credentials = match credentials {
            Some((user, _)) => Some((user, get("smtp_password")?.unwrap_or_default())),
            None => None,
        };
        Ok(Some(Smtp { host, port, security, from, credentials }))
    }

    /// Sends one mail; what went wrong, in one line.
    pub fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let from: Mailbox = self.from.parse().map_err(|e| format!("发件地址 From: {e}"))?;
        let to: Mailbox = to.parse().map_err(|e| format!("收件地址 To: {e}"))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| e.to_string())?;
        let builder = match self.security {
            Security::None => SmtpTransport::builder_dangerous(&self.host),
            Security::StartTls => SmtpTransport::starttls_relay(&self.host).map_err(|e| e.to_string())?,
            Security::Tls => SmtpTransport::relay(&self.host).map_err(|e| e.to_string())?,
        };
        let mut builder = builder.port(self.port).timeout(Some(TIMEOUT));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        builder.build().send(&message).map(|_| ()).map_err(|e| pass_core::view::printable(&e.to_string()).into_owned())
    }
}

/// `host:port` (a bare host: port 587).
pub fn parse_server(text: &str) -> Option<(String, u16)> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.trim_matches(['[', ']']).to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((text.to_owned(), 587)),
    }
}

/// Mails sent in one round of the sender.
const ROUND: usize = 50;

/// The wait before try `attempts + 1` of a mail: a minute, doubling, at most six hours.
fn backoff(attempts: i64) -> u64 {
    60u64.saturating_mul(1 << attempts.clamp(0, 9)).min(6 * 3600)
}

/// Sends the mails that are due; `Ok(false)` when a send failed (they wait their turn again).
pub fn send_due(office: &Office) -> anyhow::Result<bool> {
    let (smtp, due) = {
        let conn = office.db()?;
        (Smtp::load(&conn)?, db::due_mails(&conn, office.now(), ROUND)?)
    };
    let Some(smtp) = smtp else { return Ok(true) };
    let mut all = true;
    for mail in due {
        let sent = smtp.send(&mail.to, &mail.subject, &mail.body);
        let conn = office.db()?;
        match sent {
            Ok(()) => db::mail_sent(&conn, mail.id, office.now())?,
            Err(e) => {
                all = false;
                crate::log(format_args!("pass-office: mail {} not sent yet (will retry): {e}", mail.id));
                db::mail_failed(&conn, mail.id, &e, office.now() + backoff(mail.attempts))?;
            }
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_waits() {
        assert_eq!(parse_server("mail.example.cn:465"), Some(("mail.example.cn".into(), 465)));
        assert_eq!(parse_server("mail.example.cn"), Some(("mail.example.cn".into(), 587)));
        assert_eq!(parse_server("[::1]:2525"), Some(("::1".into(), 2525)));
        assert_eq!(parse_server("a b:25"), None);
        assert_eq!(parse_server(":25"), None);
        assert_eq!(backoff(0), 60);
        assert_eq!(backoff(3), 480);
        assert_eq!(backoff(40), 6 * 3600);
    }
}
