//! The driver's e-pass: no account, only the link's unguessable token. Checking the QR stays
//! offline; the page only says when the pass has been cancelled.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{Reply, Shared, run};
use crate::Office;
use crate::db;
use crate::pages;

/// The issued pass an e-pass link names, while it is valid (a link ends with its pass), and
/// whether it has been revoked since.
fn record(office: &Office, token: &str) -> anyhow::Result<Option<(pass_issuer::ledger::Record, bool)>> {
    let Some((_, serial, valid_until)) = db::epass(&*office.db()?, token)? else { return Ok(None) };
    if office.now() > valid_until {
        return Ok(None);
    }
    let key_id = office.key_id();
    let ledger = office.ledger()?;
    let Some(record) = ledger.records(key_id, &[serial])?.into_iter().next() else { return Ok(None) };
    let revoked = ledger.revocation(key_id, serial)?.is_some();
    Ok(Some((record, revoked)))
}

fn none() -> Reply {
    Reply::Page(
        StatusCode::NOT_FOUND,
        pages::error(None, "未找到 Not found", "此电子通行证不存在或已过期。 No such e-pass, or it has expired."),
    )
}

pub(super) async fn page(State(office): State<Shared>, Path(token): Path<String>) -> Reply {
    run(office, move |office| {
        let Some((record, revoked)) = record(office, &token)? else { return Ok(none()) };
        let png = format!("/e/{token}/png");
        let links = pass_issuer::print::PhoneLinks { png: &png, script: "/e/epass.js" };
        let html = pass_issuer::print::phone_html(&record, &office.page_info(), revoked, Some(links))?;
        Ok(Reply::Epass(StatusCode::OK, html))
    })
    .await
}

/// The e-pass as a PNG for the phone's photo album; once the pass is cancelled, a page that
/// says so (410 Gone) in its place.
pub(super) async fn png(State(office): State<Shared>, Path(token): Path<String>) -> Reply {
    run(office, move |office| {
        let Some((record, revoked)) = record(office, &token)? else { return Ok(none()) };
        let path = office.epass_png_path(record.pass.serial);
        if revoked {
            let html = pass_issuer::print::phone_html(&record, &office.page_info(), true, None)?;
            return Ok(Reply::Epass(StatusCode::GONE, html));
        }
        // Made on first request (a 200-truck approval does not wait for 200 renderings) and
        // checked like a printed page before it is kept.
        if !path.exists() {
            let tools = pass_issuer::print::Tools::find()?;
            let public = *office.public_key();
            std::fs::create_dir_all(path.parent().unwrap_or(&office.data))?;
            pass_issuer::print::phone_png(&tools, &record, &office.page_info(), &public, &path)?;
        }
        Ok(Reply::Png(pass_files::read_capped(&path, pass_issuer::print::MAX_PRINTED_BYTES)?))
    })
    .await
}
