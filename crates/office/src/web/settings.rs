//! The admin's settings: the revocation server and the office's token there (tested when
//! saved), and e-mail notices over SMTP (a test mail, the queue's state).

use axum::extract::State;
use axum::http::StatusCode;

use super::session::{Posted, Visitor, may};
use super::{Fields, Reply, Shared, run};
use crate::mail::{Security, Smtp};
use crate::{Office, db, pages};

/// The settings page as it stands, with `notice`, `errors` and the `values` typed.
fn page_of(
    office: &Office,
    session: &super::session::Session,
    status: StatusCode,
    notice: Option<&str>,
    errors: &Fields,
    values: &Fields,
) -> anyhow::Result<Reply> {
    let (server, smtp, (waiting, last)) = {
        let conn = office.db()?;
        (db::setting(&conn, "revocation_server")?, Smtp::load(&conn)?, db::mail_backlog(&conn)?)
    };
    let view = pages::SettingsView {
        server: server.as_deref(),
        smtp: smtp.as_ref(),
        backlog: (waiting, last.as_deref()),
        notice,
        errors,
        values,
    };
    Ok(Reply::Page(status, pages::settings(&session.viewer(office), &view)))
}

pub(super) async fn page(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Admin>) -> Reply {
    run(office, move |office| page_of(office, &session, StatusCode::OK, None, &Fields::new(), &Fields::new())).await
}

/// Saves the revocation server and token, then asks the server's `/healthz`: the page says
/// whether it answered.
pub(super) async fn save(State(office): State<Shared>, Posted { session, form, .. }: Posted<may::Admin>) -> Reply {
    run(office, move |office| {
        let server = form.get("server").map(|s| s.trim().trim_end_matches('/').to_owned()).unwrap_or_default();
        let token = form.get("token").map(|s| s.trim().to_owned()).unwrap_or_default();
        let mut errors = Fields::new();
        if !(server.starts_with("https://") || server.starts_with("http://")) || server.chars().any(char::is_whitespace) {
            errors.insert("server".into(), "请填写以 https:// 开头的服务器地址。 Give the server's address (https://…).".into());
        }
        if token.is_empty() {
            errors.insert("token".into(), "请填写令牌。 Give the token.".into());
        }
        if !errors.is_empty() {
            let values: Fields = [("server".to_owned(), server)].into();
            return page_of(office, &session, StatusCode::UNPROCESSABLE_ENTITY, None, &errors, &values);
        }
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::set_setting(&tx, "revocation_server", &server)?;
            db::set_setting(&tx, "revocation_token", &token)?;
            let detail = format!("revocation server {server}");
            db::audit(&tx, office.now(), &session.account.login, "settings_changed", &detail)?;
            tx.commit()?;
        }
        let reached = match pass_issuer::revoke::check_server(&server) {
            Ok(()) => "已保存，服务器连接正常。 Saved; the server answers.".to_owned(),
            Err(e) => format!("已保存，但服务器没有应答（注销将自动重试发送）：{e} Saved, but the server did not answer (revocations are retried)."),
        };
        let warning = pass_issuer::revoke::plain_http_warning(&format!("{server}/v1/revocations"));
        let notice = match warning {
            Some(w) => format!("{reached} {w}"),
            None => reached,
        };
        page_of(office, &session, StatusCode::OK, Some(&notice), &Fields::new(), &Fields::new())
    })
    .await
}

/// Saves the SMTP settings (a password left empty keeps the one saved).
pub(super) async fn save_mail(State(office): State<Shared>, Posted { session, form, .. }: Posted<may::Admin>) -> Reply {
    run(office, move |office| {
        let get = |name: &str| form.get(name).map(|s| s.trim().to_owned()).unwrap_or_default();
        let (server, from, user, password) =
            (get("smtp_server"), get("smtp_from"), get("smtp_user"), get("smtp_password"));
        let security = Security::from_name(&get("smtp_security")).unwrap_or(Security::StartTls);
        let mut errors = Fields::new();
        if crate::mail::parse_server(&server).is_none() {
            errors
                .insert("smtp_server".into(), "请写成 主机:端口，如 smtp.example.gov.cn:587。 Write host:port.".into());
        }
        if from.parse::<lettre::message::Mailbox>().is_err() {
            errors.insert("smtp_from".into(), "请填写有效的发件地址。 Give a valid From address.".into());
        }
        if !errors.is_empty() {
            let values: Fields = ["smtp_server", "smtp_security", "smtp_from", "smtp_user"]
                .into_iter()
                .map(|n| (n.to_owned(), get(n)))
                .collect();
            return page_of(office, &session, StatusCode::UNPROCESSABLE_ENTITY, None, &errors, &values);
        }
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::set_setting(&tx, "smtp_server", &server)?;
            db::set_setting(&tx, "smtp_security", security.name())?;
            db::set_setting(&tx, "smtp_from", &from)?;
            db::set_setting(&tx, "smtp_user", &user)?;
            if !password.is_empty() {
                db::set_setting(&tx, "smtp_password", &password)?;
            }
            db::audit(&tx, office.now(), &session.account.login, "settings_changed", &format!("smtp {server}"))?;
            // Mails that waited for a working server go at once.
            db::mails_due_now(&tx, office.now())?;
            tx.commit()?;
        }
        office.mail_waiting();
        page_of(
            office,
            &session,
            StatusCode::OK,
            Some("邮件设置已保存。 E-mail settings saved."),
            &Fields::new(),
            &Fields::new(),
        )
    })
    .await
}

/// Sends a test mail at once with the settings saved: the page says what the SMTP server said.
pub(super) async fn test_mail(State(office): State<Shared>, Posted { session, form, .. }: Posted<may::Admin>) -> Reply {
    run(office, move |office| {
        let to = form.get("test_to").map(|s| s.trim().to_owned()).unwrap_or_default();
        let values: Fields = [("test_to".to_owned(), to.clone())].into();
        let Some(smtp) = Smtp::load(&*office.db()?)? else {
            let errors: Fields =
                [("smtp_server".to_owned(), "请先保存邮件服务器。 Save the SMTP server first.".to_owned())].into();
            return page_of(office, &session, StatusCode::UNPROCESSABLE_ENTITY, None, &errors, &values);
        };
        let sent = smtp.send(
            &to,
            "【通行证】测试邮件 Test mail",
            &format!("这是 {} 的测试邮件。 A test mail from the pass office.\r\n", office.name()),
        );
        match sent {
            Ok(()) => {
                let notice =
                    format!("测试邮件已发出，邮件服务器已接收（发往 {to}）。 The SMTP server took the test mail.");
                page_of(office, &session, StatusCode::OK, Some(&notice), &Fields::new(), &Fields::new())
            }
            Err(e) => {
                let errors: Fields = [("test_to".to_owned(), format!("发送失败：{e} Not sent."))].into();
                page_of(office, &session, StatusCode::UNPROCESSABLE_ENTITY, None, &errors, &values)
            }
        }
    })
    .await
}
