//! Logging in and out, passwords, and the admin's accounts page.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};

use super::session::{self, Posted, Visitor, may};
use super::{Fields, Reply, Shared, run};
use crate::auth;
use crate::db::{self, Role};
use crate::login;
use crate::pages;
use crate::workflow::audit;

pub(super) async fn home(Visitor { session, .. }: Visitor<may::Anyone>) -> Reply {
    Reply::to(match session.account.role {
        Role::Admin | Role::Reviewer => "/dashboard",
        Role::Clerk => "/queue",
        Role::Enterprise => "/applications",
    })
}

pub(super) async fn login_page(State(office): State<Shared>) -> Reply {
    run(office, |office| session::login_form(office, StatusCode::OK, None)).await
}

pub(super) async fn login(
    State(office): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Reply {
    run(office, move |office| {
        let peer = session::client_address(office, peer, &headers);
        let login = form.get("login").map(|l| l.trim().to_owned()).unwrap_or_default();
        let password = form.get("password").cloned().unwrap_or_default();
        let now = office.now();
        let expected = session::login_cookie(&headers);
        let given = form.get("csrf").map(String::as_str).unwrap_or("");
        if expected.is_empty() || !auth::csrf_matches(given, &expected) {
            let message = "登录页面已过期，请重新登录。 The login page expired (or came from another site): log in again.";
            return session::login_form(office, StatusCode::FORBIDDEN, Some(message));
        }
        let refused =
            |status, message: &str| Reply::Page(status, pages::login(office.name(), Some(message), &expected));
        let account = match login::attempt(office, peer.ip(), &login, &password)? {
            login::Outcome::In(account) => account,
            login::Outcome::Wrong => return Ok(refused(StatusCode::UNAUTHORIZED, "账号或密码错误。 Wrong login or password.")),
            login::Outcome::Locked => {
                return Ok(refused(
                    StatusCode::UNAUTHORIZED,
                    "账户已锁定15分钟（连续5次失败）。 The account is locked for 15 minutes after 5 failed logins.",
                ));
            }
            login::Outcome::Disabled => {
                return Ok(refused(
                    StatusCode::FORBIDDEN,
                    "此账户已停用，请联系管理员。 The account is disabled: ask the office's admin.",
                ));
            }
            login::Outcome::Throttled => {
                return Ok(refused(
                    StatusCode::TOO_MANY_REQUESTS,
                    "此地址登录失败次数过多，请15分钟后再试。 Too many failed logins from this address: try again in 15 minutes.",
                ));
            }
        };
        let id = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
        let csrf = auth::random_token().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
        db::start_session(&*office.db()?, &auth::session_hash(&id), account.id, &csrf, now)?;
        audit(office, &account.login, "login", &format!("from {}", peer.ip()))?;
        let to = if account.must_change { "/password" } else { "/" };
        Ok(Reply::Redirect(to.into(), Some(session::session_cookie(office, &id))))
    })
    .await
}

pub(super) async fn logout(State(office): State<Shared>, Posted { session, .. }: Posted<may::Account>) -> Reply {
    run(office, move |office| {
        db::end_session(&*office.db()?, &session.id_hash)?;
        audit(office, &session.account.login, "logout", "")?;
        Ok(Reply::Redirect("/login".into(), Some(session::ended_cookie())))
    })
    .await
}

pub(super) async fn password_page(
    State(office): State<Shared>,
    Visitor { session, .. }: Visitor<may::Account>,
) -> Reply {
    Reply::Page(StatusCode::OK, pages::password(&session.viewer(&office), None))
}

pub(super) async fn password(
    State(office): State<Shared>,
    Posted { session, form, .. }: Posted<may::Account>,
) -> Reply {
    run(office, move |office| {
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
            db::set_password(&conn, session.account.id, &hash)?;
            // Every other session of the account ends with the old password.
            db::end_other_sessions(&conn, session.account.id, &session.id_hash)?;
        }
        audit(office, &session.account.login, "password_changed", "")?;
        Ok(Reply::to("/"))
    })
    .await
}

pub(super) async fn accounts_page(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Admin>) -> Reply {
    run(office, move |office| {
        let list = db::accounts(&*office.db()?)?;
        let none = Fields::new();
        Ok(Reply::Page(
            StatusCode::OK,
            pages::accounts(&session.viewer(office), &list, None, &none, &none, office.now()),
        ))
    })
    .await
}

pub(super) async fn create_account(
    State(office): State<Shared>,
    Posted { session, form, .. }: Posted<may::Admin>,
) -> Reply {
    run(office, move |office| {
        let get = |name: &str| form.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let login = get("login").unwrap_or_default();
        let role = get("role").and_then(|r| Role::from_name(&r));
        let org_name = get("org_name");
        let org_code = get("org_code");
        let mut problems = Fields::new();
        let mut problem = |field: &str, text: &str| {
            problems.entry(field.to_owned()).or_insert_with(|| text.to_owned());
        };
        if !crate::login::is_valid_login(&login) {
            problem("login", "账号须为1至64个字符，不含空格。 A login is 1 to 64 characters, without spaces.");
        } else if db::account_by_login(&*office.db()?, &login)?.is_some() {
            problem("login", "该账号已存在，请换一个。 That login exists already.");
        }
        match role {
            None => problem("role", "请选择角色。 Choose a role."),
            Some(Role::Admin) => problem(
                "role",
                "管理员账户只能在服务器上用 pass-office admin add 创建（一位管理员不能开设另一位）。 \
                 Admin accounts are made on the server with pass-office admin add (no admin makes another).",
            ),
            Some(Role::Enterprise) if org_name.is_none() => {
                problem("org_name", "企业账户请填写企业名称。 An enterprise account needs the enterprise's name.")
            }
            _ => {}
        }
        if let Some(code) = org_code.as_deref()
            && pass_core::model::check_org_code(code).is_err()
        {
            problem(
                "org_code",
                "不是有效的统一社会信用代码（18位，末位为校验码，请核对）。 Not a valid unified social credit code.",
            );
        }
        if !problems.is_empty() {
            let list = db::accounts(&*office.db()?)?;
            let values: Fields = ["login", "role", "org_name", "org_code"]
                .into_iter()
                .map(|name| (name.to_owned(), form.get(name).cloned().unwrap_or_default()))
                .collect();
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::accounts(&session.viewer(office), &list, None, &values, &problems, office.now()),
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
            db::create_account(&tx, &login, role, &hash, true, org, &session.account.login, office.now())?;
            let detail = format!("{login} ({})", role.name());
            db::audit(&tx, office.now(), &session.account.login, "account_created", &detail)?;
            tx.commit()?;
        }
        with_password(office, &session, &login, &password)
    })
    .await
}

/// The accounts page showing `login`'s new one-time password, once.
fn with_password(
    office: &crate::Office,
    session: &session::Session,
    login: &str,
    password: &str,
) -> anyhow::Result<Reply> {
    let list = db::accounts(&*office.db()?)?;
    let none = Fields::new();
    let page = pages::accounts(&session.viewer(office), &list, Some((login, password)), &none, &none, office.now());
    Ok(Reply::Page(StatusCode::OK, page))
}

/// An admin gives an account a new one-time password (forgotten, or locked out): shown once to
/// this admin, who from now on counts as having set the account up (four eyes across
/// accounts); its sessions end and its lockout is lifted. An admin's password is changed on
/// the password page; a lost one is replaced on the server (`pass-office admin add`).
pub(super) async fn reset_password(
    State(office): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Posted { session, .. }: Posted<may::Admin>,
) -> Reply {
    run(office, move |office| {
        let Some(account) = db::account(&*office.db()?, id)? else {
            return Ok(session::not_found(office, &session));
        };
        if account.role == Role::Admin {
            return Ok(session::forbidden(
                office,
                &session,
                "管理员的密码不能在此重置。 An admin's password is not reset here.",
            ));
        }
        let password = auth::one_time_password().ok_or_else(|| anyhow::anyhow!("no randomness"))?;
        let hash = auth::hash_password(&password)?;
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::reset_password(&tx, account.id, &hash, &session.account.login)?;
            db::audit(&tx, office.now(), &session.account.login, "password_reset", &account.login)?;
            tx.commit()?;
        }
        with_password(office, &session, &account.login, &password)
    })
    .await
}

/// An admin lifts an account's lockout (after checking who was locked out), its password
/// unchanged.
pub(super) async fn unlock(
    State(office): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Posted { session, .. }: Posted<may::Admin>,
) -> Reply {
    run(office, move |office| {
        let Some(account) = db::account(&*office.db()?, id)? else {
            return Ok(session::not_found(office, &session));
        };
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::unlock(&tx, account.id)?;
            db::audit(&tx, office.now(), &session.account.login, "account_unlocked", &account.login)?;
            tx.commit()?;
        }
        Ok(Reply::to("/accounts"))
    })
    .await
}

/// An admin disables an account (its sessions end at once, it cannot log in) or enables it
/// again. An admin cannot disable their own account.
pub(super) async fn set_disabled(
    State(office): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Posted { session, form, .. }: Posted<may::Admin>,
) -> Reply {
    run(office, move |office| {
        let disable = form.get("disabled").is_some_and(|v| v == "1");
        let Some(account) = db::account(&*office.db()?, id)? else {
            return Ok(session::not_found(office, &session));
        };
        if disable && account.id == session.account.id {
            return Ok(session::forbidden(
                office,
                &session,
                "不能停用自己的账户。 You cannot disable your own account.",
            ));
        }
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::set_disabled(&tx, account.id, disable)?;
            let action = if disable { "account_disabled" } else { "account_enabled" };
            db::audit(&tx, office.now(), &session.account.login, action, &account.login)?;
            tx.commit()?;
        }
        Ok(Reply::to("/accounts"))
    })
    .await
}

/// The inbox: the account's notices, newest first.
pub(super) async fn inbox(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Anyone>) -> Reply {
    run(office, move |office| {
        let notices = db::notices(&*office.db()?, session.account.id)?;
        Ok(Reply::Page(StatusCode::OK, pages::inbox(&session.viewer(office), &notices, office.now())))
    })
    .await
}

/// Marks every notice read.
pub(super) async fn inbox_read(State(office): State<Shared>, Posted { session, .. }: Posted<may::Anyone>) -> Reply {
    run(office, move |office| {
        db::mark_read(&*office.db()?, session.account.id)?;
        Ok(Reply::to("/inbox"))
    })
    .await
}

/// Sets (or clears) where the account's notices are e-mailed.
pub(super) async fn set_email(
    State(office): State<Shared>,
    Posted { session, form, .. }: Posted<may::Anyone>,
) -> Reply {
    run(office, move |office| {
        let email = form.get("email").map(|e| e.trim().to_owned()).unwrap_or_default();
        let valid = email.is_empty()
            || (email.len() <= 254
                && email.parse::<lettre::Address>().is_ok()
                && !email.chars().any(char::is_whitespace));
        if !valid {
            return Ok(Reply::Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::password(&session.viewer(office), Some("邮箱地址无效。 Not a valid e-mail address.")),
            ));
        }
        {
            let mut conn = office.db()?;
            let tx = conn.transaction()?;
            db::set_email(&tx, session.account.id, Some(email.as_str()).filter(|e| !e.is_empty()))?;
            db::audit(&tx, office.now(), &session.account.login, "email_changed", &email)?;
            tx.commit()?;
        }
        Ok(Reply::to("/password"))
    })
    .await
}
