//! The admin's settings: the revocation server and the office's token there.

use axum::extract::State;
use axum::http::StatusCode;

use super::session::{Posted, Visitor, may};
use super::{Reply, Shared, run};
use crate::db;
use crate::pages;

pub(super) async fn page(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Admin>) -> Reply {
    run(office, move |office| {
        let server = db::setting(&*office.db()?, "revocation_server")?;
        Ok(Reply::Page(StatusCode::OK, pages::settings(&session.viewer(office), server.as_deref(), None)))
    })
    .await
}

pub(super) async fn save(State(office): State<Shared>, Posted { session, form, .. }: Posted<may::Admin>) -> Reply {
    run(office, move |office| {
        let server = form.get("server").map(|s| s.trim().to_owned()).unwrap_or_default();
        let token = form.get("token").map(|s| s.trim().to_owned()).unwrap_or_default();
        if !(server.starts_with("https://") || server.starts_with("http://")) || token.is_empty() {
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::settings(&session.viewer(office), Some(&server), Some("请填写服务器地址（http(s)://…）和令牌。 Give the server's address (http(s)://…) and the token.")),
            ));
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
        let warning = pass_issuer::revoke::plain_http_warning(&format!("{server}/v1/revocations"));
        Ok(Reply::Page(StatusCode::OK, pages::settings(&session.viewer(office), Some(&server), warning.as_deref())))
    })
    .await
}
