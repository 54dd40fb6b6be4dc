//! Who is asking: the session cookie, the role, and the CSRF token of a form that changes
//! state, checked once here as extractors, so no handler can forget them.
//!
//! - [`Visitor<R>`]: a live session whose role `R` allows the page (else a redirect to log in,
//!   to change a one-time password first, or 403).
//! - [`Posted<R>`]: the same and a posted form whose CSRF token matches the session's (else
//!   403). The session is checked before the body is read.

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use super::{Fields, Reply, Shared, blocking};
use crate::Office;
use crate::auth;
use crate::db::{self, Account, Role};
use crate::pages::{self, Viewer};

/// The session cookie.
pub(crate) const COOKIE: &str = "office_session";
/// The login form's CSRF cookie: a random token the form repeats, only sent to `/login`
/// and only from this site (so another site cannot log a browser into its own account).
pub(crate) const LOGIN_COOKIE: &str = "office_login";

/// A logged-in session.
pub(crate) struct Session {
    pub account: Account,
    pub csrf: String,
    pub id_hash: Vec<u8>,
    /// Notices not yet read (the header shows the count).
    pub unread: usize,
}

impl Session {
    pub fn viewer<'a>(&'a self, office: &'a Office) -> Viewer<'a> {
        Viewer { account: &self.account, csrf: &self.csrf, office: office.name(), unread: self.unread }
    }
}

/// Who may open a page: a role list, and whether an account that must still change its
/// one-time password may (only the password page and logout).
pub(crate) trait Roles: Send + Sync + 'static {
    const ROLES: &'static [Role];
    const BEFORE_PASSWORD_CHANGE: bool = false;
}

/// The role sets the routes use.
pub(crate) mod may {
    use super::{Role, Roles};

    macro_rules! roles {
        ($($(#[$doc:meta])* $name:ident = [$($role:ident),*] $(, $before:literal)?;)*) => {$(
            $(#[$doc])*
            pub(crate) struct $name;
            impl Roles for $name {
                const ROLES: &'static [Role] = &[$(Role::$role),*];
                $(const BEFORE_PASSWORD_CHANGE: bool = $before;)?
            }
        )*};
    }

    roles! {
        /// Any account, even one that must change its one-time password first.
        Account = [Admin, Reviewer, Clerk, Enterprise], true;
        /// Any account.
        Anyone = [Admin, Reviewer, Clerk, Enterprise];
        /// The office's staff.
        Staff = [Admin, Reviewer, Clerk];
        /// Who may enter an application: the enterprise for itself, staff for an enterprise
        /// that walks in or phones (a reviewer who does cannot approve it: four eyes).
        Enter = [Enterprise, Clerk, Reviewer];
        /// Accounts and settings.
        Admin = [Admin];
        /// Approving (which signs) and rejecting.
        Review = [Reviewer];
        /// Revoking and printing again.
        Revoke = [Reviewer, Admin];
        /// Asking to cancel a pass.
        Enterprise = [Enterprise];
    }
}

fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// The login form's token from its cookie ("" when none).
pub(crate) fn login_cookie(headers: &HeaderMap) -> String {
    cookie_named(headers, LOGIN_COOKIE).unwrap_or_default()
}

/// The session a cookie's id names, if it is live (and then its idle time restarts).
fn find(office: &Office, id: Option<&str>) -> anyhow::Result<Option<Session>> {
    let Some(id) = id else { return Ok(None) };
    let id_hash = auth::session_hash(id);
    let now = office.now();
    let conn = office.db()?;
    let Some(stored) = db::session(&conn, &id_hash)? else { return Ok(None) };
    if now.saturating_sub(stored.last_seen) > auth::IDLE || now.saturating_sub(stored.created_at) > auth::ABSOLUTE {
        db::end_session(&conn, &id_hash)?;
        return Ok(None);
    }
    db::touch_session(&conn, &id_hash, now)?;
    let Some(account) = db::account(&conn, stored.account)? else { return Ok(None) };
    if account.disabled {
        db::end_session(&conn, &id_hash)?;
        return Ok(None);
    }
    let unread = db::unread(&conn, account.id)?;
    Ok(Some(Session { account, csrf: stored.csrf, id_hash, unread }))
}

/// A 403 page for a visitor.
pub(crate) fn forbidden(office: &Office, session: &Session, message: &str) -> Reply {
    Reply::Page(StatusCode::FORBIDDEN, pages::error(Some(&session.viewer(office)), "不允许 Forbidden", message))
}

/// A 404 page for a visitor: no such application (or not theirs).
pub(crate) fn not_found(office: &Office, session: &Session) -> Reply {
    Reply::Page(
        StatusCode::NOT_FOUND,
        pages::error(Some(&session.viewer(office)), "未找到 Not found", "没有这个申请。 No such application."),
    )
}

/// A visitor with a live session whose role `R` allows the page.
pub(crate) struct Visitor<R> {
    pub session: Session,
    roles: PhantomData<R>,
}

impl<R: Roles> FromRequestParts<Shared> for Visitor<R> {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, office: &Shared) -> Result<Self, Reply> {
        let id = cookie_named(&parts.headers, COOKIE);
        blocking(office.clone(), move |office| {
            let Some(session) = find(office, id.as_deref())? else { return Ok(Err(Reply::to("/login"))) };
            if session.account.must_change && !R::BEFORE_PASSWORD_CHANGE {
                return Ok(Err(Reply::to("/password")));
            }
            if !R::ROLES.contains(&session.account.role) {
                return Ok(Err(forbidden(office, &session, "此操作不属于您的角色。 Your role may not do this.")));
            }
            Ok(Ok(Visitor { session, roles: PhantomData }))
        })
        .await?
    }
}

/// A [`Visitor`] and the form it posted, its CSRF token checked.
pub(crate) struct Posted<R> {
    pub session: Session,
    pub form: Fields,
    roles: PhantomData<R>,
}

impl<R: Roles> FromRequest<Shared> for Posted<R> {
    type Rejection = Reply;

    async fn from_request(request: Request, office: &Shared) -> Result<Self, Reply> {
        let (mut parts, body) = request.into_parts();
        let Visitor { session, .. } = Visitor::<R>::from_request_parts(&mut parts, office).await?;
        let Form(form) = Form::<Fields>::from_request(Request::from_parts(parts, body), office).await.map_err(|e| {
            Reply::Page(e.status(), pages::error(Some(&session.viewer(office)), "表单有误 Bad form", &e.body_text()))
        })?;
        check_csrf(office, &session, &form)?;
        Ok(Posted { session, form, roles: PhantomData })
    }
}

/// A state-changing form's CSRF token checked against the session's: 403 when wrong or missing.
pub(crate) fn check_csrf(office: &Office, session: &Session, form: &Fields) -> Result<(), Reply> {
    match form.get("csrf") {
        Some(token) if auth::csrf_matches(token, &session.csrf) => Ok(()),
        _ => Err(forbidden(
            office,
            session,
            "表单已过期，请刷新后重试。 The form's security token is missing or wrong: reload and try again.",
        )),
    }
}

/// A login page with a fresh token in the form and its cookie.
pub(crate) fn login_form(office: &Office, status: StatusCode, message: Option<&str>) -> anyhow::Result<Reply> {
    let token = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
    let secure = if office.transport.secure() { "; Secure" } else { "" };
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict{secure}");
    Ok(Reply::Login(status, pages::login(office.name(), message, &token), cookie))
}

/// The client's address: the peer's, or when the peer is the configured TLS proxy, the one the
/// proxy says in `X-Real-IP`. The header from anyone else is ignored: a client cannot pick the
/// address the login throttle and the audit trail see.
pub(crate) fn client_address(office: &Office, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
    let forwarded = || headers.get("x-real-ip")?.to_str().ok()?.trim().parse::<std::net::IpAddr>().ok();
    let from_proxy =
        matches!(office.transport, crate::Transport::BehindProxy(proxy) if proxy == peer.ip().to_canonical());
    match forwarded().filter(|_| from_proxy) {
        Some(ip) => SocketAddr::new(ip, 0),
        None => peer,
    }
}

/// The cookie that sets a new session.
pub(crate) fn session_cookie(office: &Office, id: &str) -> String {
    let secure = if office.transport.secure() { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", auth::ABSOLUTE)
}

/// The cookie that ends the session in the browser.
pub(crate) fn ended_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}
