//! The console's routes, by area: `accounts` (login, passwords, accounts), `applications`
//! (entering, editing, uploading, reading and downloading), `review` (the queue, approving,
//! rejecting, revoking), `epass` (the drivers' links) and `settings`. `session` gives every
//! handler its visitor: the session, the role checked and, for a form that changes state,
//! the CSRF token checked, before the handler runs. What the handlers do is in
//! [`crate::workflow`]; they turn requests into its calls and its outcomes into pages.
//!
//! Every handler runs its database and hashing work on a blocking thread; every response
//! carries a strict Content-Security-Policy (only this host's stylesheet and one script file)
//! and `Cache-Control: no-store`.

mod accounts;
mod applications;
mod epass;
pub(crate) mod metrics;
mod records;
mod review;
pub(crate) mod session;
mod settings;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;

use crate::Office;
use crate::pages;

const CSS: &str = include_str!("../../assets/office.css");
const PLACES_JS: &str = include_str!("../../assets/places.js");
const EPASS_JS: &str = include_str!("../../assets/epass.js");
const EPASS_SW: &str = include_str!("../../assets/epass-sw.js");
/// Only this host's stylesheet, images and one script file (place suggestions); no inline
/// script or style, nothing from another host.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) type Shared = Arc<Office>;

/// The largest login form accepted.
const MAX_LOGIN_BODY: usize = 16 * 1024;
pub(crate) use crate::workflow::Fields;

/// The routes.
pub fn router(office: Shared) -> Router {
    let counted = office.clone();
    Router::new()
        .route("/", get(accounts::home))
        // A login form is a few hundred bytes: a larger body is refused before it is read.
        .route(
            "/login",
            get(accounts::login_page).post(accounts::login).layer(axum::extract::DefaultBodyLimit::max(MAX_LOGIN_BODY)),
        )
        .route("/logout", post(accounts::logout))
        .route("/password", get(accounts::password_page).post(accounts::password))
        .route("/account/email", post(accounts::set_email))
        .route("/inbox", get(accounts::inbox))
        .route("/inbox/read", post(accounts::inbox_read))
        .route("/accounts", get(accounts::accounts_page).post(accounts::create_account))
        .route("/accounts/{id}/disabled", post(accounts::set_disabled))
        .route("/accounts/{id}/password", post(accounts::reset_password))
        .route("/accounts/{id}/unlock", post(accounts::unlock))
        .route("/queue", get(review::queue))
        .route("/dashboard", get(review::dashboard))
        .route("/applications", get(applications::list).post(applications::submit))
        .route("/applications/new", get(applications::new))
        .route("/applications/approve", post(review::approve_many))
        .route("/applications/upload", get(applications::upload_page).post(applications::upload))
        .route("/applications/{id}", get(applications::show))
        .route("/applications/{id}/vehicles/{position}", get(applications::edit_page).post(applications::edit))
        .route("/applications/{id}/approve", get(review::confirm_approve).post(review::approve))
        .route("/applications/{id}/passes/{file}", get(applications::one_pass))
        .route("/applications/{id}/links", get(applications::links_sheet))
        .route("/applications/{id}/links.csv", get(applications::links_csv))
        .route("/applications/{id}/reject", post(review::reject))
        .route("/applications/{id}/print", post(review::print_again))
        .route("/applications/{id}/pdf", get(applications::download))
        .route("/applications/{id}/revoke", post(review::revoke))
        .route("/applications/{id}/cancel", post(applications::request_cancellation))
        .route("/applications/{id}/cancel/withdraw", post(applications::withdraw_cancellation))
        .route("/applications/{id}/withdraw", post(applications::withdraw))
        .route("/applications/{id}/copy", post(applications::copy))
        .route("/applications/{id}/vehicles/{position}/reject", post(review::reject_vehicle))
        .route("/settings", get(settings::page).post(settings::save))
        .route("/settings/mail", post(settings::save_mail))
        .route("/settings/mail/test", post(settings::test_mail))
        .route("/passes.csv", get(records::passes_csv))
        .route("/passes.xlsx", get(records::passes_xlsx))
        .route("/audit", get(records::audit))
        .route("/statistics", get(records::statistics))
        .route("/e/epass.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], EPASS_JS) }))
        .route("/e/sw.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], EPASS_SW) }))
        .route("/e/{token}", get(epass::page))
        .route("/e/{token}/png", get(epass::png))
        .route("/places", get(applications::places))
        .route(
            "/static/places.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], PLACES_JS) }),
        )
        .route("/static/office.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(metrics::health))
        .layer(axum::middleware::from_fn_with_state(counted, metrics::count))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(pass_issuer::csv_import::MAX_FILE_BYTES + 64 * 1024))
        .with_state(office)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A handler's outcome: a page, a redirect, or an error page with its status.
pub(crate) enum Reply {
    Page(StatusCode, Markup),
    /// The phone e-pass: its own HTML, its one style allowed by hash.
    Epass(StatusCode, String),
    Png(Vec<u8>),
    Redirect(String, Option<String>),
    /// Data for the page's script.
    Json(serde_json::Value),
    /// The login page and its CSRF cookie.
    Login(StatusCode, Markup, String),
    File(String, Vec<u8>),
}

impl Reply {
    /// A redirect to `to`.
    pub(crate) fn to(to: impl Into<String>) -> Reply {
        Reply::Redirect(to.into(), None)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Page(status, markup) => {
                (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
            }
            Reply::Json(value) => axum::Json(value).into_response(),
            Reply::Login(status, markup, cookie) => {
                let mut response = Reply::Page(status, markup).into_response();
                if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().insert(header::SET_COOKIE, cookie);
                }
                response
            }
            Reply::Redirect(to, cookie) => {
                let mut response = Redirect::to(&to).into_response();
                if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    response.headers_mut().insert(header::SET_COOKIE, cookie);
                }
                response
            }
            Reply::Epass(status, html) => {
                use base64::Engine as _;
                use sha2::Digest as _;
                let style = base64::engine::general_purpose::STANDARD
                    .encode(sha2::Sha256::digest(pass_issuer::print::PHONE_CSS.as_bytes()));
                let csp = format!(
                    "default-src 'none'; style-src 'sha256-{style}'; img-src data:; script-src 'self'; connect-src 'self'; \
                     worker-src 'self'; frame-ancestors 'none'; base-uri 'none'"
                );
                (
                    status,
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                        (header::CONTENT_SECURITY_POLICY, csp),
                        // The driver's phone may keep it (its service worker does), but asks
                        // the console first whenever it can: a cancellation shows at once.
                        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
                    ],
                    html,
                )
                    .into_response()
            }
            Reply::Png(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
            Reply::File(name, bytes) => (
                [
                    (header::CONTENT_TYPE, content_type(&name).to_owned()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                ],
                bytes,
            )
                .into_response(),
        }
    }
}

/// A download's type by its name.
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/pdf",
    }
}

/// Runs `work` on a blocking thread (SQLite, argon2, signing, printing). An internal error is
/// logged and becomes a 500 page, never shown in detail.
pub(crate) async fn blocking<T: Send + 'static>(
    office: Shared,
    work: impl FnOnce(&Office) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Reply> {
    match tokio::task::spawn_blocking(move || work(&office)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            crate::log(format_args!("pass-office: error: {e:#}"));
            Err(Reply::Page(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error(None, "出错了 Error", "内部错误，已记录。 Internal error (logged)."),
            ))
        }
        Err(_) => Err(Reply::Page(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::error(None, "出错了 Error", "内部错误。 Internal error."),
        )),
    }
}

/// [`blocking`] for a handler's work, whose outcome is a reply. What the work added to the
/// audit trail is signed ([`crate::anchor::seal`]) before the answer goes out.
pub(crate) async fn run(office: Shared, work: impl FnOnce(&Office) -> anyhow::Result<Reply> + Send + 'static) -> Reply {
    let sealed = |office: &Office| {
        let result = work(office);
        if let Err(e) = crate::anchor::seal(office) {
            crate::log(format_args!("pass-office: signing the audit trail's head: {e:#}"));
        }
        result
    };
    blocking(office, sealed).await.unwrap_or_else(|reply| reply)
}
