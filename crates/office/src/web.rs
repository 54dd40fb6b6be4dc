//! The console's routes. Every handler runs its database and hashing work on a blocking
//! thread; every response carries a strict Content-Security-Policy (no script at all, nothing
//! from another host) and `Cache-Control: no-store`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;

use crate::Office;
use crate::auth;
use crate::db::{self, Account, Role, State};
use crate::pages::{self, Viewer};

const COOKIE: &str = "office_session";
const CSS: &str = include_str!("../assets/office.css");
const PLACES_JS: &str = include_str!("../assets/places.js");
/// Only this host's stylesheet, images and one script file (place suggestions); no inline
/// script or style, nothing from another host.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type Shared = Arc<Office>;
type Fields = BTreeMap<String, String>;

/// The routes.
pub fn router(office: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password))
        .route("/accounts", get(accounts_page).post(create_account))
        .route("/queue", get(queue))
        .route("/dashboard", get(dashboard))
        .route("/applications", get(applications).post(submit))
        .route("/applications/new", get(new_application))
        .route("/applications/upload", get(upload_page).post(upload))
        .route("/applications/{id}", get(application))
        .route("/applications/{id}/vehicles/{position}", get(edit_page).post(edit))
        .route("/applications/{id}/approve", post(approve))
        .route("/applications/{id}/reject", post(reject))
        .route("/applications/{id}/print", post(print_again))
        .route("/applications/{id}/pdf", get(download))
        .route("/applications/{id}/revoke", post(revoke))
        .route("/applications/{id}/cancel", post(request_cancellation))
        .route("/settings", get(settings_page).post(save_settings))
        .route("/e/{token}", get(epass_page))
        .route("/e/{token}/png", get(epass_png))
        .route("/places", get(places))
        .route(
            "/static/places.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], PLACES_JS) }),
        )
        .route("/static/office.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }))
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A handler's outcome: a page, a redirect, or an error page with its status.
enum Reply {
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
                    "default-src 'none'; style-src 'sha256-{style}'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
                );
                (
                    status,
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                        (header::CONTENT_SECURITY_POLICY, csp),
                    ],
                    html,
                )
                    .into_response()
            }
            Reply::Png(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
            Reply::File(name, bytes) => (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_owned()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                ],
                bytes,
            )
                .into_response(),
        }
    }
}

/// Runs `work` on a blocking thread (SQLite, argon2, signing, printing). An internal error is
/// logged and answered 500, never shown in detail.
async fn run(office: Shared, work: impl FnOnce(&Office) -> anyhow::Result<Reply> + Send + 'static) -> Reply {
    let result = tokio::task::spawn_blocking(move || work(&office)).await;
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            eprintln!("pass-office: error: {e:#}");
            Reply::Page(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error(None, "出错了 Error", "内部错误，已记录。 Internal error (logged)."),
            )
        }
        Err(_) => Reply::Page(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::error(None, "出错了 Error", "内部错误。 Internal error."),
        ),
    }
}

/// A logged-in session.
struct Session {
    account: Account,
    csrf: String,
    id_hash: Vec<u8>,
}

impl Session {
    fn viewer<'a>(&'a self, office: &'a Office) -> Viewer<'a> {
        Viewer { account: &self.account, csrf: &self.csrf, office: office.name() }
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, COOKIE)
}

fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// The login form's CSRF cookie: a random token the form repeats, only sent to `/login`
/// and only from this site (so another site cannot log a browser into its own account).
const LOGIN_COOKIE: &str = "office_login";

/// A login page with a fresh token in the form and its cookie.
fn login_form(office: &Office, status: StatusCode, message: Option<&str>) -> anyhow::Result<Reply> {
    let token = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
    let secure = if office.transport.secure() { "; Secure" } else { "" };
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict{secure}");
    Ok(Reply::Login(status, pages::login(message, &token), cookie))
}

/// The session the request's cookie names, if it is live (and then its idle time restarts).
fn session(office: &Office, headers: &HeaderMap) -> anyhow::Result<Option<Session>> {
    let Some(id) = cookie_value(headers) else { return Ok(None) };
    let id_hash = auth::session_hash(&id);
    let now = office.now();
    let conn = office.db()?;
    let row: Option<(i64, String, i64, i64)> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT account, csrf, created_at, last_seen FROM sessions WHERE id_hash = ?1",
        [&id_hash],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    ))?;
    let Some((account, csrf, created, seen)) = row else { return Ok(None) };
    let (created, seen) = (created.max(0) as u64, seen.max(0) as u64);
    if now.saturating_sub(seen) > auth::IDLE || now.saturating_sub(created) > auth::ABSOLUTE {
        conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [&id_hash])?;
        return Ok(None);
    }
    conn.execute("UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1", rusqlite::params![&id_hash, now as i64])?;
    let Some(account) = db::account(&conn, account)? else { return Ok(None) };
    Ok(Some(Session { account, csrf, id_hash }))
}

/// The session for a page that needs one: `Err(reply)` sends the visitor to log in, or to
/// change a one-time password first.
fn require(office: &Office, headers: &HeaderMap, roles: &[Role]) -> anyhow::Result<Result<Session, Reply>> {
    let Some(session) = session(office, headers)? else {
        return Ok(Err(Reply::Redirect("/login".into(), None)));
    };
    if session.account.must_change {
        return Ok(Err(Reply::Redirect("/password".into(), None)));
    }
    if !roles.contains(&session.account.role) {
        return Ok(Err(forbidden(office, &session, "此操作不属于您的角色。 Your role may not do this.")));
    }
    Ok(Ok(session))
}

fn forbidden(office: &Office, session: &Session, message: &str) -> Reply {
    Reply::Page(StatusCode::FORBIDDEN, pages::error(Some(&session.viewer(office)), "不允许 Forbidden", message))
}

fn not_found(office: &Office, session: &Session) -> Reply {
    Reply::Page(
        StatusCode::NOT_FOUND,
        pages::error(Some(&session.viewer(office)), "未找到 Not found", "没有这个申请。 No such application."),
    )
}

/// A state-changing form's CSRF token checked against the session's: 403 when wrong or missing.
fn check_csrf(office: &Office, session: &Session, form: &Fields) -> Option<Reply> {
    match form.get("csrf") {
        Some(token) if auth::csrf_matches(token, &session.csrf) => None,
        _ => Some(forbidden(
            office,
            session,
            "表单已过期，请刷新后重试。 The form's security token is missing or wrong: reload and try again.",
        )),
    }
}

fn audit(office: &Office, actor: &str, action: &str, detail: &str) -> anyhow::Result<()> {
    let mut conn = office.db()?;
    let tx = conn.transaction()?;
    db::audit(&tx, office.now(), actor, action, detail)?;
    tx.commit()?;
    Ok(())
}

macro_rules! session_or_reply {
    ($office:expr, $headers:expr, $roles:expr) => {
        match require($office, &$headers, $roles)? {
            Ok(session) => session,
            Err(reply) => return Ok(reply),
        }
    };
}

const STAFF: &[Role] = &[Role::Admin, Role::Reviewer, Role::Clerk];
const ANYONE: &[Role] = &[Role::Admin, Role::Reviewer, Role::Clerk, Role::Enterprise];
/// Who may enter an application: the enterprise for itself, staff for an enterprise that
/// walks in or phones (a reviewer who does cannot approve it: four eyes).
const ENTER: &[Role] = &[Role::Enterprise, Role::Clerk, Role::Reviewer];

async fn home(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ANYONE);
        Ok(Reply::Redirect(
            match session.account.role {
                Role::Admin | Role::Reviewer => "/dashboard",
                Role::Clerk => "/queue",
                Role::Enterprise => "/applications",
            }
            .into(),
            None,
        ))
    })
    .await
}

async fn login_page(AxumState(office): AxumState<Shared>) -> Reply {
    run(office, |office| login_form(office, StatusCode::OK, None)).await
}

/// The client's address: the peer's, or behind a TLS proxy the one it says in `X-Real-IP`
/// (set by the proxy; the console listens only where the proxy can reach it).
fn client_address(office: &Office, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
    let forwarded = || headers.get("x-real-ip")?.to_str().ok()?.trim().parse::<std::net::IpAddr>().ok();
    match forwarded().filter(|_| office.transport == crate::Transport::BehindProxy) {
        Some(ip) => SocketAddr::new(ip, 0),
        None => peer,
    }
}

async fn login(
    AxumState(office): AxumState<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let peer = client_address(office, peer, &headers);
        let login = form.get("login").map(|l| l.trim().to_owned()).unwrap_or_default();
        let password = form.get("password").cloned().unwrap_or_default();
        let now = office.now();
        let expected = cookie_named(&headers, LOGIN_COOKIE).unwrap_or_default();
        let given = form.get("csrf").map(String::as_str).unwrap_or("");
        if expected.is_empty() || !auth::csrf_matches(given, &expected) {
            let message = "登录页面已过期，请重新登录。 The login page expired (or came from another site): log in again.";
            return login_form(office, StatusCode::FORBIDDEN, Some(message));
        }
        let refused = |message: &str| Reply::Page(StatusCode::UNAUTHORIZED, pages::login(Some(message), &expected));
        let wrong = "账号或密码错误。 Wrong login or password.";
        {
            let mut failures = office.failures.lock().map_err(|_| anyhow::anyhow!("throttle lock poisoned"))?;
            let list = failures.entry(peer.ip()).or_default();
            list.retain(|t| now.saturating_sub(*t) < auth::LOCKOUT);
            if list.len() >= auth::MAX_FAILED_PER_ADDRESS {
                return Ok(Reply::Page(
                    StatusCode::TOO_MANY_REQUESTS,
                    pages::login(Some("此地址登录失败次数过多，请15分钟后再试。 Too many failed logins from this address: try again in 15 minutes."), &expected),
                ));
            }
        }
        let account = db::account_by_login(&*office.db()?, &login)?;
        let Some(account) = account else {
            auth::verify_password(&password, auth::dummy_hash());
            note_failure(office, peer, now)?;
            audit(office, &login, "login_failed", "unknown login")?;
            return Ok(refused(wrong));
        };
        if account.locked_until > now {
            audit(office, &login, "login_refused", "account locked")?;
            return Ok(refused("账户已锁定15分钟（连续5次失败）。 The account is locked for 15 minutes after 5 failed logins."));
        }
        if !auth::verify_password(&password, &account.password_hash) {
            note_failure(office, peer, now)?;
            let failed = account.failed_logins + 1;
            let locked_until = if failed >= auth::MAX_FAILED { now + auth::LOCKOUT } else { 0 };
            office.db()?.execute(
                "UPDATE accounts SET failed_logins = ?2, locked_until = ?3 WHERE id = ?1",
                rusqlite::params![account.id, if locked_until > 0 { 0 } else { failed }, locked_until as i64],
            )?;
            audit(office, &login, "login_failed", if locked_until > 0 { "wrong password; account locked" } else { "wrong password" })?;
            return Ok(refused(wrong));
        }
        let id = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
        let csrf = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
        {
            let conn = office.db()?;
            conn.execute("UPDATE accounts SET failed_logins = 0, locked_until = 0 WHERE id = ?1", [account.id])?;
            conn.execute(
                "INSERT INTO sessions (id_hash, account, csrf, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
                rusqlite::params![auth::session_hash(&id), account.id, csrf, now as i64],
            )?;
        }
        audit(office, &login, "login", &format!("from {}", peer.ip()))?;
        let secure = if office.transport.secure() { "; Secure" } else { "" };
        let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", auth::ABSOLUTE);
        Ok(Reply::Redirect(if account.must_change { "/password" } else { "/" }.into(), Some(cookie)))
    })
    .await
}

fn note_failure(office: &Office, peer: SocketAddr, now: u64) -> anyhow::Result<()> {
    office
        .failures
        .lock()
        .map_err(|_| anyhow::anyhow!("throttle lock poisoned"))?
        .entry(peer.ip())
        .or_default()
        .push(now);
    Ok(())
}

async fn logout(AxumState(office): AxumState<Shared>, headers: HeaderMap, Form(form): Form<Fields>) -> Reply {
    run(office, move |office| {
        let Some(session) = session(office, &headers)? else { return Ok(Reply::Redirect("/login".into(), None)) };
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        office.db()?.execute("DELETE FROM sessions WHERE id_hash = ?1", [&session.id_hash])?;
        audit(office, &session.account.login, "logout", "")?;
        Ok(Reply::Redirect("/login".into(), Some(format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"))))
    })
    .await
}

async fn password_page(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let Some(session) = session(office, &headers)? else { return Ok(Reply::Redirect("/login".into(), None)) };
        Ok(Reply::Page(StatusCode::OK, pages::password(&session.viewer(office), None)))
    })
    .await
}

async fn password(AxumState(office): AxumState<Shared>, headers: HeaderMap, Form(form): Form<Fields>) -> Reply {
    run(office, move |office| {
        let Some(session) = session(office, &headers)? else { return Ok(Reply::Redirect("/login".into(), None)) };
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let current = form.get("current").map(String::as_str).unwrap_or("");
        let new = form.get("new").map(String::as_str).unwrap_or("");
        let again = |message: &str| {
            Reply::Page(StatusCode::UNPROCESSABLE_ENTITY, pages::password(&session.viewer(office), Some(message)))
        };
        if !auth::verify_password(current, &session.account.password_hash) {
            return Ok(again("当前密码错误。 The current password is wrong."));
        }
        if new == current {
            return Ok(again("新密码须与当前密码不同。 The new password must differ from the current one."));
        }
        let hash = match auth::hash_password(new) {
            Ok(hash) => hash,
            Err(auth::PasswordError::TooShort) => return Ok(again("新密码至少10位。 At least 10 characters.")),
            Err(e) => return Err(e.into()),
        };
        {
            let conn = office.db()?;
            conn.execute(
                "UPDATE accounts SET password_hash = ?2, must_change = 0 WHERE id = ?1",
                rusqlite::params![session.account.id, hash],
            )?;
            // Every other session of the account ends with the old password.
            conn.execute(
                "DELETE FROM sessions WHERE account = ?1 AND id_hash != ?2",
                rusqlite::params![session.account.id, session.id_hash],
            )?;
        }
        audit(office, &session.account.login, "password_changed", "")?;
        Ok(Reply::Redirect("/".into(), None))
    })
    .await
}

async fn accounts_page(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Admin]);
        let list = db::accounts(&*office.db()?)?;
        Ok(Reply::Page(StatusCode::OK, pages::accounts(&session.viewer(office), &list, None, None)))
    })
    .await
}

async fn create_account(AxumState(office): AxumState<Shared>, headers: HeaderMap, Form(form): Form<Fields>) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Admin]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let get = |name: &str| form.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let login = get("login").unwrap_or_default();
        let role = get("role").and_then(|r| Role::from_name(&r));
        let org_name = get("org_name");
        let org_code = get("org_code");
        let problem = if login.is_empty()
            || login.chars().count() > 64
            || login.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            Some("账号须为1至64个字符，不含空格。 A login is 1 to 64 characters, without spaces.".to_owned())
        } else if role.is_none() {
            Some("未知角色。 Unknown role.".into())
        } else if role == Some(Role::Enterprise) && org_name.is_none() {
            Some("企业账户须填写企业名称。 An enterprise account needs the enterprise's name.".into())
        } else if let Some(code) = org_code.as_deref().and_then(|c| pass_core::model::check_org_code(c).err()) {
            Some(code.to_string())
        } else if db::account_by_login(&*office.db()?, &login)?.is_some() {
            Some("该账号已存在。 That login exists already.".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            let list = db::accounts(&*office.db()?)?;
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::accounts(&session.viewer(office), &list, None, Some(&problem)),
            ));
        }
        let role = role.unwrap_or(Role::Enterprise);
        let password = auth::one_time_password().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
        let hash = auth::hash_password(&password)?;
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            let org =
                if role == Role::Enterprise { org_name.as_deref().map(|n| (n, org_code.as_deref())) } else { None };
            db::create_account(&tx, &login, role, &hash, true, org, office.now())?;
            db::audit(
                &tx,
                office.now(),
                &session.account.login,
                "account_created",
                &format!("{login} ({})", role.name()),
            )?;
            tx.commit()?;
        }
        let list = db::accounts(&*office.db()?)?;
        Ok(Reply::Page(
            StatusCode::OK,
            pages::accounts(&session.viewer(office), &list, Some((&login, &password)), None),
        ))
    })
    .await
}

async fn dashboard(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, STAFF);
        let now = office.now();
        let tz = pass_core::time::default_zone();
        let today = pass_core::time::day_start(now, &tz);
        // Monday: days since Monday, from the local weekday of today's start.
        let weekday = jiff::Timestamp::from_second(today as i64)
            .map(|t| tz.to_datetime(t).weekday().to_monday_zero_offset())
            .unwrap_or(0);
        let week = today.saturating_sub(u64::try_from(weekday).unwrap_or(0) * 86_400);
        let figures = db::figures(&*office.db()?, today, week)?;
        let key_id = office.key_id();
        let ledger = office.ledger()?;
        let (valid, unsent) = (ledger.count_valid_at(key_id, now)?, ledger.pending_revocations(key_id)?.len());
        Ok(Reply::Page(StatusCode::OK, pages::dashboard(&session.viewer(office), &figures, valid, unsent, now)))
    })
    .await
}

async fn queue(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, STAFF);
        let (list, cancellations) = {
            let conn = office.db()?;
            let ids = db::applications_with_cancellations(&conn)?;
            let cancellations = ids
                .into_iter()
                .filter_map(|id| db::application(&conn, id).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            let waiting = db::Filter { state: Some(State::Submitted), ..db::Filter::default() };
            (db::applications(&conn, &waiting)?, cancellations)
        };
        Ok(Reply::Page(StatusCode::OK, pages::queue(&session.viewer(office), &list, &cancellations, office.now())))
    })
    .await
}

async fn applications(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ANYONE);
        let own = (session.account.role == Role::Enterprise).then_some(session.account.id);
        let plate = query.get("plate").map(|p| p.trim().chars().take(20).collect::<String>());
        let filter = db::Filter { enterprise: own, state: None, plate: plate.clone() };
        let list = db::applications(&*office.db()?, &filter)?;
        Ok(Reply::Page(
            StatusCode::OK,
            pages::applications(&session.viewer(office), &list, plate.as_deref().unwrap_or(""), office.now()),
        ))
    })
    .await
}

fn enterprises(office: &Office) -> anyhow::Result<Vec<Account>> {
    Ok(db::accounts(&*office.db()?)?.into_iter().filter(|a| a.role == Role::Enterprise).collect())
}

async fn new_application(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ENTER);
        let list = enterprises(office)?;
        Ok(Reply::Page(
            StatusCode::OK,
            pages::application_form(
                &session.viewer(office),
                &list,
                &Fields::new(),
                &Fields::new(),
                &pages::FormTarget::New,
            ),
        ))
    })
    .await
}

/// The enterprise an application is for: the session's own, or for staff entering one the
/// enterprise the form names (`None`: no such enterprise).
fn applicant(office: &Office, session: &Session, form: &Fields) -> anyhow::Result<Option<Account>> {
    if session.account.role == Role::Enterprise {
        return Ok(Some(session.account.clone()));
    }
    let id: i64 = form.get("enterprise").and_then(|e| e.parse().ok()).unwrap_or(-1);
    Ok(db::account(&*office.db()?, id)?.filter(|a| a.role == Role::Enterprise))
}

/// The names of the form's vehicle fields, as the CSV import reads them.
const VEHICLE_FIELDS: [&str; 10] = [
    "plate",
    "vehicle_type",
    "driver",
    "co_drivers",
    "origin",
    "destination",
    "zones",
    "cargo",
    "valid_from",
    "valid_until",
];

/// The request a vehicle's fields make for `enterprise` (its name is the holder): checked by
/// the CSV import's rules, the same as `pass-issuer batch`.
fn request(
    fields: &Fields,
    enterprise: &Account,
) -> Result<pass_issuer::issue::PassRequest, Vec<pass_issuer::csv_import::RowError>> {
    let holder = enterprise.org_name.clone().unwrap_or_default();
    let org_code = enterprise.org_code.clone().unwrap_or_default();
    pass_issuer::csv_import::parse_fields(
        1,
        |name| match name {
            "holder" => holder.as_str(),
            "org_code" => org_code.as_str(),
            "kind" => "",
            _ => fields.get(name).map(String::as_str).unwrap_or(""),
        },
        &pass_core::time::default_zone(),
    )
}

/// One vehicle's fields from a posted form (trimmed), and whether they make a pass request for
/// `enterprise` by the CSV import's rules: each error by its field.
fn vehicle(form: &Fields, enterprise: &Account) -> (Fields, Result<(), Fields>) {
    let fields: Fields = VEHICLE_FIELDS
        .iter()
        .map(|&name| (name.to_owned(), form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default()))
        .collect();
    let checked = request(&fields, enterprise)
        .map(|_| ())
        .map_err(|errors| errors.into_iter().map(|e| (e.column, e.reason)).collect());
    (fields, checked)
}

async fn submit(AxumState(office): AxumState<Shared>, headers: HeaderMap, Form(form): Form<Fields>) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ENTER);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let Some(enterprise) = applicant(office, &session, &form)? else { return Ok(not_found(office, &session)) };
        let (fields, checked) = vehicle(&form, &enterprise);
        if let Err(errors) = checked {
            let mut values = fields.clone();
            values.insert("enterprise".into(), enterprise.id.to_string());
            let list = enterprises(office)?;
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::application_form(&session.viewer(office), &list, &values, &errors, &pages::FormTarget::New),
            ));
        }
        let id = {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            let id = db::insert_application(
                &tx,
                enterprise.id,
                session.account.id,
                std::slice::from_ref(&fields),
                office.now(),
            )?;
            db::audit(
                &tx,
                office.now(),
                &session.account.login,
                "submit",
                &format!("application {id}: {}", fields["plate"]),
            )?;
            tx.commit()?;
            id
        };
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

/// Most suggestions for one typed place.
const MAX_SUGGESTIONS: usize = 12;

/// Place suggestions for the form's script: divisions whose code starts with, or whose full
/// name contains, what was typed (at most 20 characters), as JSON `[{code, name}]`.
async fn places(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<Fields>,
) -> Response {
    let reply = run(office, move |office| {
        let _session = session_or_reply!(office, headers, ANYONE);
        let typed: String = query.get("q").map(|q| q.trim().chars().take(20).collect()).unwrap_or_default();
        let found: Vec<serde_json::Value> = pass_core::division::search(&typed, MAX_SUGGESTIONS)
            .into_iter()
            .map(|d| serde_json::json!({"code": d.to_string(), "name": d.full_name().unwrap_or_default()}))
            .collect();
        Ok(Reply::Json(serde_json::Value::Array(found)))
    })
    .await;
    reply.into_response()
}

/// The vehicle at `position` of an application its viewer may still edit (waiting or
/// rejected), with the application.
fn editable(
    office: &Office,
    session: &Session,
    id: i64,
    position: usize,
) -> anyhow::Result<Option<(db::Application, Fields)>> {
    let Some(application) = visible(office, session, id)? else { return Ok(None) };
    if !matches!(application.state, State::Submitted | State::Rejected) {
        return Ok(None);
    }
    let Some(mut fields) = application.vehicles.get(position).cloned() else { return Ok(None) };
    // A date field holds the day (a spreadsheet's times of day read as that day).
    for name in ["valid_from", "valid_until"] {
        if let Some(value) = fields.get_mut(name) {
            value.truncate(value.char_indices().nth(10).map_or(value.len(), |(i, _)| i));
        }
    }
    Ok(Some((application, fields)))
}

async fn edit_page(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path((id, position)): Path<(i64, usize)>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ENTER);
        let Some((application, fields)) = editable(office, &session, id, position)? else {
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

/// Saves an edit of one vehicle: checked by the same rules as a new application; the editor
/// is recorded (and so cannot approve it), and a rejected application waits again.
async fn edit(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path((id, position)): Path<(i64, usize)>,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ENTER);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let _decisions = office.decisions()?;
        let Some((application, _)) = editable(office, &session, id, position)? else {
            return Ok(not_found(office, &session));
        };
        let enterprise =
            db::account(&*office.db()?, application.enterprise)?.ok_or_else(|| anyhow::anyhow!("enterprise gone"))?;
        let (fields, checked) = vehicle(&form, &enterprise);
        if let Err(errors) = checked {
            let target = pages::FormTarget::Edit { id, position, enterprise: &application.enterprise_name };
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::application_form(&session.viewer(office), &[], &fields, &errors, &target),
            ));
        }
        let mut conn = office.db()?;
        let tx = conn.transaction()?;
        let position = i64::try_from(position)?;
        if !db::edit_vehicle(&tx, id, position, &fields, session.account.id)? {
            return Err(anyhow::anyhow!("application {id} changed while it was edited"));
        }
        db::audit(
            &tx,
            office.now(),
            &session.account.login,
            "edit",
            &format!("application {id}, vehicle {}: {}", position + 1, fields["plate"]),
        )?;
        tx.commit()?;
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

/// Most vehicles in one uploaded application.
pub const MAX_UPLOAD_VEHICLES: usize = 1000;

async fn upload_page(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ENTER);
        let list = enterprises(office)?;
        Ok(Reply::Page(StatusCode::OK, pages::upload(&session.viewer(office), &list, &[], None)))
    })
    .await
}

/// The fields a checked request came from, as the application stores them (re-checked by the
/// same rules when it is approved).
fn fields_of(request: &pass_issuer::issue::PassRequest) -> Fields {
    let tz = pass_core::time::default_zone();
    let mut fields = Fields::new();
    let mut put = |name: &str, value: String| {
        fields.insert(name.to_owned(), value);
    };
    put("plate", request.plate.clone());
    put("vehicle_type", request.vehicle_type.name().to_owned());
    put("driver", request.crew.first().cloned().unwrap_or_default());
    put("co_drivers", request.crew.iter().skip(1).cloned().collect::<Vec<_>>().join("、"));
    put("origin", request.origin.to_string());
    put("destination", request.destination.to_string());
    put("zones", request.zones.iter().map(ToString::to_string).collect::<Vec<_>>().join(";"));
    put("cargo", request.cargo.clone());
    put("valid_from", pass_core::time::rfc3339(request.valid_from, &tz));
    put("valid_until", pass_core::time::rfc3339(request.valid_until, &tz));
    fields
}

/// Many trucks at once: the spreadsheet the enterprise already has (CSV in UTF-8 or GB18030,
/// or .xlsx), the holder given by the account. Every row is checked; any error is reported by
/// row and column and nothing is submitted.
async fn upload(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
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
        let session = session_or_reply!(office, headers, ENTER);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let Some(enterprise) = applicant(office, &session, &form)? else { return Ok(not_found(office, &session)) };
        let refuse = |errors: &[pass_issuer::csv_import::RowError], message: Option<&str>| -> anyhow::Result<Reply> {
            let list = enterprises(office)?;
            Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::upload(&session.viewer(office), &list, errors, message),
            ))
        };
        let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
            return refuse(&[], Some("请选择文件。 Choose a file."));
        };
        let tz = pass_core::time::default_zone();
        let holder = enterprise.org_name.clone().unwrap_or_default();
        let org_code = enterprise.org_code.clone().unwrap_or_default();
        let fixed = [("holder", holder.as_str()), ("org_code", org_code.as_str())];
        let rows = if file_name.to_ascii_lowercase().ends_with(".xlsx") {
            pass_issuer::csv_import::parse_xlsx(&bytes, &tz, &fixed)
        } else {
            pass_issuer::csv_import::decode_text(&bytes, None)
                .and_then(|(text, _)| pass_issuer::csv_import::parse_with(&text, &tz, &fixed))
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => return refuse(&[], Some(&e.to_string())),
        };
        let errors: Vec<_> = rows.iter().filter_map(|(_, r)| r.as_ref().err()).flatten().cloned().collect();
        if !errors.is_empty() {
            return refuse(&errors, None);
        }
        if rows.len() > MAX_UPLOAD_VEHICLES {
            return refuse(
                &[],
                Some(&format!(
                    "一次最多 {MAX_UPLOAD_VEHICLES} 辆。 At most {MAX_UPLOAD_VEHICLES} vehicles an application."
                )),
            );
        }
        let vehicles: Vec<Fields> = rows.iter().filter_map(|(_, r)| r.as_ref().ok()).map(fields_of).collect();
        let id = {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            let id = db::insert_application(&tx, enterprise.id, session.account.id, &vehicles, office.now())?;
            db::audit(
                &tx,
                office.now(),
                &session.account.login,
                "submit",
                &format!("application {id}: {} vehicles from {file_name}", vehicles.len()),
            )?;
            tx.commit()?;
            id
        };
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

/// The application `id` as `session` may see it: an enterprise only its own (anything else
/// is 404, as if it did not exist).
fn visible(office: &Office, session: &Session, id: i64) -> anyhow::Result<Option<db::Application>> {
    let application = db::application(&*office.db()?, id)?;
    Ok(application.filter(|a| session.account.role != Role::Enterprise || a.enterprise == session.account.id))
}

/// The pass numbers of `serials`: the office's division (from the `.pub` beside its key).
fn numbers(office: &Office, serials: &[u64]) -> Vec<String> {
    let division = office.division();
    serials.iter().map(|s| pass_core::model::pass_number(division, *s)).collect()
}

async fn application(AxumState(office): AxumState<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ANYONE);
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        let numbers = numbers(office, &application.serials);
        let links = db::epasses(&*office.db()?, id)?;
        let revoked = revocations(office, &application.serials)?;
        let requests = db::cancellations(&*office.db()?, id)?;
        Ok(Reply::Page(
            StatusCode::OK,
            pages::application(&session.viewer(office), &application, &numbers, &links, &revoked, &requests, None),
        ))
    })
    .await
}

async fn approve(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Reviewer]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let _decisions = office.decisions()?;
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        // Four eyes: whoever entered or last edited an application cannot approve it.
        if application.entered_by == session.account.id || application.edited_by == session.account.id {
            audit(office, &session.account.login, "approve_refused", &format!("application {id}: own entry"))?;
            return Ok(forbidden(office, &session, "不能批准自己录入或修改的申请（双人审核）。 You entered or edited this application: another reviewer approves it."));
        }
        if application.state != State::Submitted {
            return Ok(Reply::Redirect(format!("/applications/{id}"), None));
        }
        let enterprise = db::account(&*office.db()?, application.enterprise)?.ok_or_else(|| anyhow::anyhow!("enterprise gone"))?;
        let requests = application
            .vehicles
            .iter()
            .map(|v| request(v, &enterprise))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("application {id} no longer validates: {:?}", e.first().map(|e| &e.reason)))?;
        let now = office.now();
        for r in &requests {
            if let Err(e) = r.check_lifetime(now) {
                let message = format!("{}: {e}", r.plate);
                return Ok(Reply::Page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    pages::application(&session.viewer(office), &application, &[], &[], &[], &[], Some(&message)),
                ));
            }
        }
        // The printer tools are looked for before a serial is taken.
        let tools = pass_issuer::print::Tools::find();
        let key = pass_issuer::keyfile::load_secret(&office.key)?;
        let mut ledger = office.ledger()?;
        ledger.bind(key.public_key().id(), &office.key)?;
        // All the vehicles in one ledger transaction; the application's batch name makes a
        // second approval of the same application a refused repeat, never a second issue.
        let batch = pass_issuer::ledger::BatchInfo {
            sha256: format!("office-application-{id}"),
            file_name: format!("application {id}"),
            again: false,
            now,
        };
        let records = ledger.issue_batch(key.public_key().id(), &batch, requests.len(), |serial, index| {
            let pass = requests[index].clone().into_pass(serial, now);
            let bytes = pass_core::envelope::sign(&pass, &key)?;
            Ok((pass, bytes))
        })?;
        let serials: Vec<u64> = records.iter().map(|r| r.pass.serial).collect();
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::decide(&tx, id, State::Issued, session.account.id, now, None, &serials)?;
            for record in &records {
                let token = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
                db::insert_epass(&tx, &token, id, record.pass.serial, record.pass.valid_until)?;
            }
            db::audit(&tx, now, &session.account.login, "approve", &format!("application {id}"))?;
            db::audit(&tx, now, &session.account.login, "issue", &format!("application {id}: serials {serials:?}"))?;
            tx.commit()?;
        }
        print(office, &session, id, &records, tools.map_err(|e| e.to_string()))?;
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

/// Prints an issued application's passes to its PDF with print QA; a failure leaves it issued
/// (retry from its page) and is recorded.
fn print(
    office: &Office,
    session: &Session,
    id: i64,
    records: &[pass_issuer::ledger::Record],
    tools: Result<pass_issuer::print::Tools, String>,
) -> anyhow::Result<()> {
    let public = *office.public_key();
    let info = page_info(office);
    let path = office.pdf_path(id);
    let result = tools.and_then(|tools| {
        std::fs::create_dir_all(path.parent().unwrap_or(&office.data)).map_err(|e| e.to_string())?;
        let pages =
            pass_issuer::print::print_pdf(&tools, records, &info, pass_issuer::print::Layout::A4, &public, &path)
                .map_err(|e| e.to_string())?;
        Ok(pages)
    });
    match result {
        Ok(pages) => {
            db::mark_printed(&*office.db()?, id)?;
            audit(office, &session.account.login, "print", &format!("application {id}: {pages} page(s)"))
        }
        Err(e) => audit(office, &session.account.login, "print_failed", &format!("application {id}: {e}")),
    }
}

/// Each serial's revocation in the ledger: its reason and whether the server has it.
fn revocations(office: &Office, serials: &[u64]) -> anyhow::Result<Vec<Option<(String, bool)>>> {
    if serials.is_empty() {
        return Ok(Vec::new());
    }
    let key_id = office.key_id();
    let ledger = office.ledger()?;
    serials.iter().map(|s| Ok(ledger.revocation(key_id, *s)?)).collect()
}

/// A reviewer or admin revokes one pass of an application, with a reason: recorded in the
/// ledger at once (the e-pass says cancelled from then on), then sent to the revocation server
/// through pass-issuer's revoke path; what cannot be sent now is retried (`send_pending`).
async fn revoke(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Reviewer, Role::Admin]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        let serial: u64 = form.get("serial").and_then(|s| s.parse().ok()).unwrap_or(0);
        let reason = form.get("reason").map(|r| r.trim()).unwrap_or("");
        if !application.serials.contains(&serial) || reason.is_empty() {
            return Ok(Reply::Redirect(format!("/applications/{id}"), None));
        }
        let key_id = office.key_id();
        let mut ledger = office.ledger()?;
        ledger.record_revocations(key_id, &[serial], reason, office.now())?;
        db::cancellation_done(&*office.db()?, serial)?;
        audit(office, &session.account.login, "revoke", &format!("application {id}: serial {serial}: {reason}"))?;
        send_pending(office)?;
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

/// An enterprise asks to cancel one of its passes (vehicle sold, driver changed); a reviewer
/// confirms it by revoking.
async fn request_cancellation(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Enterprise]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        let serial: u64 = form.get("serial").and_then(|s| s.parse().ok()).unwrap_or(0);
        let reason = form.get("reason").map(|r| r.trim()).unwrap_or("");
        if application.serials.contains(&serial) && !reason.is_empty() && reason.chars().count() <= 200 {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::request_cancellation(&tx, serial, id, reason, session.account.id, office.now())?;
            db::audit(
                &tx,
                office.now(),
                &session.account.login,
                "cancellation_requested",
                &format!("application {id}: serial {serial}: {reason}"),
            )?;
            tx.commit()?;
        }
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

/// Sends every revocation recorded but not yet acknowledged to the configured server, one
/// request per reason, marking each sent only when the server confirms it. Whether all were
/// sent (true when there was nothing to send, or no server is set: they wait).
pub fn send_pending(office: &Office) -> anyhow::Result<bool> {
    let (server, token) = {
        let conn = office.db()?;
        (db::setting(&conn, "revocation_server")?, db::setting(&conn, "revocation_token")?)
    };
    let (Some(server), Some(token)) = (server, token) else { return Ok(true) };
    let key_id = office.key_id();
    let mut ledger = office.ledger()?;
    let pending = ledger.pending_revocations(key_id)?;
    let mut by_reason: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (serial, reason) in pending {
        by_reason.entry(reason).or_default().push(serial);
    }
    let mut all = true;
    for (reason, serials) in by_reason {
        match pass_issuer::revoke::send(&server, &token, key_id, &serials, &reason) {
            Ok(answer) => {
                ledger.mark_sent(key_id, &serials, office.now())?;
                audit(
                    office,
                    "revocation-sender",
                    "revocation_sent",
                    &format!("serials {serials:?}, server version {}", answer.version),
                )?;
            }
            Err(e) => {
                all = false;
                eprintln!("pass-office: revocations {serials:?} not sent yet (will retry): {e}");
            }
        }
    }
    Ok(all)
}

async fn settings_page(AxumState(office): AxumState<Shared>, headers: HeaderMap) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Admin]);
        let server = db::setting(&*office.db()?, "revocation_server")?;
        Ok(Reply::Page(StatusCode::OK, pages::settings(&session.viewer(office), server.as_deref(), None)))
    })
    .await
}

async fn save_settings(AxumState(office): AxumState<Shared>, headers: HeaderMap, Form(form): Form<Fields>) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Admin]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
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
            db::audit(&tx, office.now(), &session.account.login, "settings_changed", &format!("revocation server {server}"))?;
            tx.commit()?;
        }
        let warning = pass_issuer::revoke::plain_http_warning(&format!("{server}/v1/revocations"));
        Ok(Reply::Page(StatusCode::OK, pages::settings(&session.viewer(office), Some(&server), warning.as_deref())))
    })
    .await
}

fn page_info(office: &Office) -> pass_issuer::print::PageInfo {
    pass_issuer::print::PageInfo {
        title: pass_issuer::print::DEFAULT_TITLE.into(),
        office: office.name().to_owned(),
        division: office.division(),
        tz: pass_core::time::default_zone(),
    }
}

/// The issued pass an e-pass link names, while it is valid (a link ends with its pass), and
/// whether it has been revoked since.
fn epass_record(office: &Office, token: &str) -> anyhow::Result<Option<(pass_issuer::ledger::Record, bool)>> {
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

fn no_epass() -> Reply {
    Reply::Page(
        StatusCode::NOT_FOUND,
        pages::error(None, "未找到 Not found", "此电子通行证不存在或已过期。 No such e-pass, or it has expired."),
    )
}

/// The driver's e-pass page: no account, only the link's unguessable token. Checking the QR
/// stays offline; the page only says when the pass has been cancelled.
async fn epass_page(AxumState(office): AxumState<Shared>, Path(token): Path<String>) -> Reply {
    run(office, move |office| {
        let Some((record, revoked)) = epass_record(office, &token)? else { return Ok(no_epass()) };
        Ok(Reply::Epass(StatusCode::OK, pass_issuer::print::phone_html(&record, &page_info(office), revoked)?))
    })
    .await
}

/// The e-pass as a PNG for the phone's photo album (made and checked when the passes were
/// printed); gone once the pass is cancelled.
async fn epass_png(AxumState(office): AxumState<Shared>, Path(token): Path<String>) -> Reply {
    run(office, move |office| {
        let Some((record, revoked)) = epass_record(office, &token)? else { return Ok(no_epass()) };
        let path = office.epass_png_path(record.pass.serial);
        if revoked {
            return Ok(no_epass());
        }
        // Made on first request (a 200-truck approval does not wait for 200 renderings) and
        // checked like a printed page before it is kept.
        if !path.exists() {
            let tools = pass_issuer::print::Tools::find()?;
            let public = *office.public_key();
            std::fs::create_dir_all(path.parent().unwrap_or(&office.data))?;
            pass_issuer::print::phone_png(&tools, &record, &page_info(office), &public, &path)?;
        }
        Ok(Reply::Png(std::fs::read(path)?))
    })
    .await
}

async fn print_again(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Reviewer, Role::Admin]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        if application.state == State::Issued {
            let records = office.ledger()?.records(office.key_id(), &application.serials)?;
            print(office, &session, id, &records, pass_issuer::print::Tools::find().map_err(|e| e.to_string()))?;
        }
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

async fn reject(
    AxumState(office): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, &[Role::Reviewer]);
        if let Some(reply) = check_csrf(office, &session, &form) {
            return Ok(reply);
        }
        let _decisions = office.decisions()?;
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        let reason = form.get("reason").map(|r| r.trim()).unwrap_or("");
        if application.state == State::Submitted && !reason.is_empty() {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::decide(&tx, id, State::Rejected, session.account.id, office.now(), Some(reason), &[])?;
            db::audit(&tx, office.now(), &session.account.login, "reject", &format!("application {id}: {reason}"))?;
            tx.commit()?;
        }
        Ok(Reply::Redirect(format!("/applications/{id}"), None))
    })
    .await
}

async fn download(AxumState(office): AxumState<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Reply {
    run(office, move |office| {
        let session = session_or_reply!(office, headers, ANYONE);
        let Some(application) = visible(office, &session, id)? else { return Ok(not_found(office, &session)) };
        if application.state != State::Printed {
            return Ok(not_found(office, &session));
        }
        let bytes = std::fs::read(office.pdf_path(id))?;
        audit(office, &session.account.login, "download", &format!("application {id}"))?;
        Ok(Reply::File(format!("passes-{id}.pdf"), bytes))
    })
    .await
}
