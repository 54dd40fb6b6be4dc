//! Applications: entering one by the form or a spreadsheet, editing a vehicle, the lists, one
//! application's page, its PDF, place suggestions, and an enterprise's cancellation request.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::session::{self, Posted, Visitor, may, not_found};
use super::{Fields, Reply, Shared, run};
use crate::db::{self, Role, State as Stage};
use crate::pages;
use crate::workflow::{self, Refused, audit};

pub(super) async fn list(
    State(office): State<Shared>,
    Visitor { session, .. }: Visitor<may::Anyone>,
    Query(query): Query<Fields>,
) -> Reply {
    run(office, move |office| {
        let own = (session.account.role == Role::Enterprise).then_some(session.account.id);
        let filter = filter_of(&query, own, None);
        let found = db::applications(&*office.db()?, &filter)?;
        let view = pages::ListView {
            path: "/applications",
            filter: &filter,
            list: &found.list,
            total: found.total,
            counts: &found.counts,
            bulk: false,
            notice: None,
        };
        Ok(Reply::Page(StatusCode::OK, pages::applications(&session.viewer(office), &view, office.now())))
    })
    .await
}

/// A list's filter from its query string (`state`, `q`, `sort`, `page`), for `enterprise`'s
/// applications only when given, on `tab` when given.
pub(super) fn filter_of(query: &Fields, enterprise: Option<i64>, tab: Option<db::Tab>) -> db::Filter {
    let text = |name: &str| query.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let q: String = text("q").chars().take(db::MAX_SEARCH_CHARS).collect();
    db::Filter {
        enterprise,
        tab: tab.unwrap_or_else(|| db::Tab::from_name(&text("state"))),
        q: Some(q).filter(|q| !q.is_empty()),
        sort: db::Sort::from_name(&text("sort")),
        page: text("page").parse().unwrap_or(1).clamp(1, 100_000),
    }
}

pub(super) async fn new(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Enter>) -> Reply {
    run(office, move |office| {
        let list = workflow::enterprises(office)?;
        let (values, errors) = (Fields::new(), Fields::new());
        let form = pages::application_form(&session.viewer(office), &list, &values, &errors, &pages::FormTarget::New);
        Ok(Reply::Page(StatusCode::OK, form))
    })
    .await
}

pub(super) async fn submit(State(office): State<Shared>, Posted { session, form, .. }: Posted<may::Enter>) -> Reply {
    run(office, move |office| {
        let named = form.get("enterprise").map(String::as_str);
        // Staff choose the enterprise: none chosen is an error at its field, with the others.
        let (enterprise, none_chosen) = match workflow::applicant(office, &session.account, named)? {
            Some(enterprise) => (enterprise, false),
            None if session.account.role != Role::Enterprise && named.is_none_or(str::is_empty) => {
                let mut anyone = session.account.clone();
                anyone.org_name = Some("—".into());
                (anyone, true)
            }
            None => return Ok(not_found(office, &session)),
        };
        let (fields, mut checked) = workflow::vehicle(&form, &enterprise, office.now());
        if none_chosen {
            let mut errors = checked.err().unwrap_or_default();
            errors.insert("enterprise".into(), "请选择企业。 Choose the enterprise.".into());
            checked = Err(errors);
        }
        if let Err(errors) = checked {
            let mut values = fields.clone();
            if !none_chosen {
                values.insert("enterprise".into(), enterprise.id.to_string());
            }
            let list = workflow::enterprises(office)?;
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::application_form(&session.viewer(office), &list, &values, &errors, &pages::FormTarget::New),
            ));
        }
        let what = fields["plate"].clone();
        let id = workflow::submit(office, &session.account, &enterprise, std::slice::from_ref(&fields), &what)?;
        Ok(Reply::to(format!("/applications/{id}")))
    })
    .await
}

/// Most suggestions for one typed place.
const MAX_SUGGESTIONS: usize = 12;

/// Place suggestions for the form's script: divisions whose code starts with, or whose full
/// name contains, what was typed (at most 20 characters), as JSON `[{code, name}]`.
pub(super) async fn places(_visitor: Visitor<may::Anyone>, Query(query): Query<Fields>) -> Response {
    let typed: String = query.get("q").map(|q| q.trim().chars().take(20).collect()).unwrap_or_default();
    let found: Vec<serde_json::Value> = pass_core::division::search(&typed, MAX_SUGGESTIONS)
        .into_iter()
        .map(|d| serde_json::json!({"code": d.to_string(), "name": d.full_name().unwrap_or_default()}))
        .collect();
    Reply::Json(serde_json::Value::Array(found)).into_response()
}

pub(super) async fn edit_page(
    State(office): State<Shared>,
    Path((id, position)): Path<(i64, usize)>,
    Visitor { session, .. }: Visitor<may::Enter>,
) -> Reply {
    run(office, move |office| {
        let Some((application, fields)) = workflow::editable(office, &session.account, id, position)? else {
            return Ok(not_found(office, &session));
        };
        let target = pages::FormTarget::Edit { id, position, enterprise: &application.enterprise_name };
        Ok(Reply::Page(
            StatusCode::OK,
            pages::application_form(&session.viewer(office), &[], &fields, &Fields::new(), &target),
        ))
    })
    .await
}

/// Saves an edit of one vehicle (see [`workflow::edit`]).
pub(super) async fn edit(
    State(office): State<Shared>,
    Path((id, position)): Path<(i64, usize)>,
    Posted { session, form, .. }: Posted<may::Enter>,
) -> Reply {
    run(office, move |office| match workflow::edit(office, &session.account, id, position, &form)? {
        Ok(()) => Ok(Reply::to(format!("/applications/{id}"))),
        Err((fields, Refused::Fields(errors))) => {
            let application = workflow::visible(office, &session.account, id)?;
            let enterprise = application.map(|a| a.enterprise_name).unwrap_or_default();
            let target = pages::FormTarget::Edit { id, position, enterprise: &enterprise };
            Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::application_form(&session.viewer(office), &[], &fields, &errors, &target),
            ))
        }
        Err(_) => Ok(not_found(office, &session)),
    })
    .await
}

pub(super) async fn upload_page(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Enter>) -> Reply {
    run(office, move |office| {
        let list = workflow::enterprises(office)?;
        Ok(Reply::Page(StatusCode::OK, pages::upload(&session.viewer(office), &list, &[], None)))
    })
    .await
}

/// Many trucks at once: the spreadsheet the enterprise already has (CSV in UTF-8 or GB18030,
/// or .xlsx), the holder given by the account. Every row is checked; any error is reported by
/// row and column and nothing is submitted. The session is checked before the body is read.
pub(super) async fn upload(
    State(office): State<Shared>,
    Visitor { session, .. }: Visitor<may::Enter>,
    mut multipart: Multipart,
) -> Reply {
    let mut form = Fields::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else { break };
        match file_name {
            Some(file_name) if name == "file" => file = Some((file_name, bytes.to_vec())),
            _ => {
                form.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    run(office, move |office| {
        if let Err(reply) = session::check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let named = form.get("enterprise").map(String::as_str);
        let Some(enterprise) = workflow::applicant(office, &session.account, named)? else {
            return Ok(not_found(office, &session));
        };
        let refuse = |errors: &[pass_issuer::csv_import::RowError], message: Option<&str>| -> anyhow::Result<Reply> {
            let list = workflow::enterprises(office)?;
            Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::upload(&session.viewer(office), &list, errors, message),
            ))
        };
        let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
            return refuse(&[], Some("请选择文件。 Choose a file."));
        };
        let vehicles = match workflow::read_upload(&enterprise, &file_name, &bytes, office.now()) {
            Ok(vehicles) => vehicles,
            Err((errors, message)) => return refuse(&errors, message.as_deref()),
        };
        let what = format!("{} vehicles from {file_name}", vehicles.len());
        let id = workflow::submit(office, &session.account, &enterprise, &vehicles, &what)?;
        Ok(Reply::to(format!("/applications/{id}")))
    })
    .await
}

/// The answer to an action on application `id`: back to its page, or 404 when the visitor
/// may not see it.
pub(super) fn back(office: &crate::Office, session: &session::Session, id: i64, done: Result<(), Refused>) -> Reply {
    match done {
        Ok(()) => Reply::to(format!("/applications/{id}")),
        Err(_) => not_found(office, session),
    }
}

/// A posted pass serial and reason (0 and "" when missing: the workflow refuses them).
pub(super) fn serial_and_reason(form: &Fields) -> (u64, &str) {
    let serial = form.get("serial").and_then(|s| s.parse().ok()).unwrap_or(0);
    (serial, form.get("reason").map(String::as_str).unwrap_or(""))
}

/// The pass numbers of `serials`: the office's division (from the `.pub` beside its key).
fn numbers(office: &crate::Office, serials: &[u64]) -> Vec<String> {
    let division = office.division();
    serials.iter().map(|s| pass_core::model::pass_number(division, *s)).collect()
}

pub(super) async fn show(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Visitor { session, .. }: Visitor<may::Anyone>,
) -> Reply {
    run(office, move |office| {
        let Some(application) = workflow::visible(office, &session.account, id)? else {
            return Ok(not_found(office, &session));
        };
        Ok(Reply::Page(StatusCode::OK, page(office, &session, &application, None)?))
    })
    .await
}

/// An application's page, with `message` (why an action was refused) at its top.
pub(super) fn page(
    office: &crate::Office,
    session: &session::Session,
    application: &db::Application,
    message: Option<&str>,
) -> anyhow::Result<maud::Markup> {
    let id = application.id;
    let numbers = numbers(office, &application.serials);
    let links = db::epasses(&*office.db()?, id)?;
    let revoked = workflow::revocations(office, &application.serials)?;
    let (requests, history) = {
        let conn = office.db()?;
        (db::cancellations(&conn, id)?, db::history(&conn, id)?)
    };
    let viewer = session.viewer(office);
    let view = pages::ApplicationView {
        a: application,
        numbers: &numbers,
        epasses: &links,
        revoked: &revoked,
        requests: &requests,
        history: &history,
        message,
    };
    Ok(pages::application(&viewer, &view))
}

/// Application `id`'s page with `message` (why an action was refused) at its top, 422; 404
/// when the visitor may not see it.
pub(super) fn refused(
    office: &crate::Office,
    session: &session::Session,
    id: i64,
    message: &str,
) -> anyhow::Result<Reply> {
    let Some(application) = workflow::visible(office, &session.account, id)? else {
        return Ok(not_found(office, session));
    };
    Ok(Reply::Page(StatusCode::UNPROCESSABLE_ENTITY, page(office, session, &application, Some(message))?))
}

/// One pass of an application as a PDF of its own, to print it again.
pub(super) async fn one_pass(
    State(office): State<Shared>,
    Path((id, file)): Path<(i64, String)>,
    Visitor { session, .. }: Visitor<may::Anyone>,
) -> Reply {
    run(office, move |office| {
        let Some(serial) = file.strip_suffix(".pdf").and_then(|s| s.parse::<u64>().ok()) else {
            return Ok(not_found(office, &session));
        };
        match workflow::one_pass_pdf(office, &session.account, id, serial)? {
            Some(bytes) => Ok(Reply::File(format!("pass-{serial}.pdf"), bytes)),
            None => Ok(not_found(office, &session)),
        }
    })
    .await
}

/// The address the console is reached at, for links people open elsewhere (the drivers'
/// e-pass links): the scheme by how it is served, the host the browser asked for.
fn public_base(office: &crate::Office, headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if office.serves_https() { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// The drivers' links of an issued application: plate, pass number and link, for passes not
/// revoked.
fn driver_links(
    office: &crate::Office,
    application: &db::Application,
    base: &str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let links = db::epasses(&*office.db()?, application.id)?;
    let revoked = workflow::revocations(office, &application.serials)?;
    let mut rows = Vec::new();
    for (i, serial) in application.serials.iter().enumerate() {
        if matches!(revoked.get(i), Some(Some(_))) {
            continue;
        }
        let Some((_, token)) = links.iter().find(|(s, _)| s == serial) else { continue };
        let plate = application.vehicles.get(i).and_then(|v| v.get("plate")).cloned().unwrap_or_default();
        let number = pass_core::model::pass_number(office.division(), *serial);
        rows.push((plate, number, format!("{base}/e/{token}")));
    }
    Ok(rows)
}

/// The drivers' links as a printable sheet of QR codes (an enterprise's own, or staff's).
pub(super) async fn links_sheet(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Visitor { session, .. }: Visitor<may::Anyone>,
    headers: axum::http::HeaderMap,
) -> Reply {
    run(office, move |office| {
        let Some(application) = workflow::visible(office, &session.account, id)? else {
            return Ok(not_found(office, &session));
        };
        let base = public_base(office, &headers);
        let mut rows = Vec::new();
        for (plate, number, url) in driver_links(office, &application, &base)? {
            use base64::Engine as _;
            let png = pass_issuer::render::Qr::new(url.as_bytes())?.to_png(6)?;
            let qr = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png));
            rows.push((plate, number, url, qr));
        }
        audit(office, &session.account.login, "links", &format!("application {id}: {} link(s)", rows.len()))?;
        Ok(Reply::Page(StatusCode::OK, pages::links_sheet(&session.viewer(office), &application, &rows)))
    })
    .await
}

/// The drivers' links as CSV for the fleet manager: plate, pass number, link.
pub(super) async fn links_csv(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Visitor { session, .. }: Visitor<may::Anyone>,
    headers: axum::http::HeaderMap,
) -> Reply {
    run(office, move |office| {
        let Some(application) = workflow::visible(office, &session.account, id)? else {
            return Ok(not_found(office, &session));
        };
        let rows = driver_links(office, &application, &public_base(office, &headers))?;
        let mut out = "\u{FEFF}".as_bytes().to_vec();
        {
            let mut writer = csv::Writer::from_writer(&mut out);
            writer.write_record(["车牌号", "通行证编号", "电子通行证链接"])?;
            for (plate, number, url) in &rows {
                writer.write_record([pass_core::view::csv_cell(plate).as_ref(), number, url])?;
            }
            writer.flush()?;
        }
        audit(office, &session.account.login, "links", &format!("application {id}: {} link(s), CSV", rows.len()))?;
        Ok(Reply::File(format!("links-{id}.csv"), out))
    })
    .await
}

pub(super) async fn download(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Visitor { session, .. }: Visitor<may::Anyone>,
) -> Reply {
    run(office, move |office| {
        let Some(application) = workflow::visible(office, &session.account, id)? else {
            return Ok(not_found(office, &session));
        };
        // Printed, and not every pass revoked since (then the PDF is gone).
        if application.state != Stage::Printed || !office.pdf_path(id).exists() {
            return Ok(not_found(office, &session));
        }
        let bytes = pass_files::read_capped(&office.pdf_path(id), pass_issuer::print::MAX_PRINTED_BYTES)?;
        audit(office, &session.account.login, "download", &format!("application {id}"))?;
        Ok(Reply::File(format!("passes-{id}.pdf"), bytes))
    })
    .await
}

/// An enterprise asks to cancel one of its passes (see [`workflow::request_cancellation`]).
pub(super) async fn request_cancellation(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, form, .. }: Posted<may::Enterprise>,
) -> Reply {
    run(office, move |office| {
        let (serial, reason) = serial_and_reason(&form);
        let done = workflow::request_cancellation(office, &session.account, id, serial, reason)?;
        Ok(back(office, &session, id, done))
    })
    .await
}

/// The enterprise (or whoever entered it) withdraws a waiting or rejected application.
pub(super) async fn withdraw(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, .. }: Posted<may::Enter>,
) -> Reply {
    run(office, move |office| match workflow::withdraw(office, &session.account, id)? {
        Ok(()) => Ok(Reply::to("/applications")),
        Err(_) => Ok(not_found(office, &session)),
    })
    .await
}

/// The enterprise takes back a cancellation request.
pub(super) async fn withdraw_cancellation(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, form, .. }: Posted<may::Enterprise>,
) -> Reply {
    run(office, move |office| {
        let (serial, _) = serial_and_reason(&form);
        let done = workflow::withdraw_cancellation(office, &session.account, id, serial)?;
        Ok(back(office, &session, id, done))
    })
    .await
}

/// Renewal: a copy as a new application (see [`workflow::copy_as_new`]).
pub(super) async fn copy(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, .. }: Posted<may::Enter>,
) -> Reply {
    run(office, move |office| match workflow::copy_as_new(office, &session.account, id)? {
        Ok(new) => Ok(Reply::to(format!("/applications/{new}"))),
        Err(Refused::Invalid(message)) => refused(office, &session, id, &format!("不能复制：{message}")),
        Err(_) => Ok(not_found(office, &session)),
    })
    .await
}
