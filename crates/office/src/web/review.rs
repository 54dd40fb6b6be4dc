//! The office's side: the dashboard, the queue, approving (which signs), rejecting,
//! revoking and printing again.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::applications::{back, serial_and_reason};
use super::session::{Posted, Visitor, forbidden, may, not_found};
use super::{Reply, Shared, run};
use crate::db::{self, Role};
use crate::pages;
use crate::workflow::Fields;
use crate::workflow::{self, Refused};

pub(super) async fn dashboard(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Staff>) -> Reply {
    run(office, move |office| {
        let now = office.now();
        let tz = pass_core::time::default_zone();
        let today = pass_core::time::day_start(now, &tz);
        let figures = db::figures(&*office.db()?, today, crate::records::week_of(now))?;
        let key_id = office.key_id();
        let ledger = office.ledger()?;
        let passes = pages::PassCounts {
            valid: ledger.count_valid_at(key_id, now)?,
            upcoming: ledger.count_upcoming_at(key_id, now)?,
            unsent: ledger.pending_revocations(key_id)?.len(),
        };
        Ok(Reply::Page(StatusCode::OK, pages::dashboard(&session.viewer(office), &figures, &passes, now)))
    })
    .await
}

pub(super) async fn queue(
    State(office): State<Shared>,
    Visitor { session, .. }: Visitor<may::Staff>,
    axum::extract::Query(query): axum::extract::Query<Fields>,
) -> Reply {
    run(office, move |office| {
        let filter = super::applications::filter_of(&query, None, Some(db::Tab::Waiting));
        let (found, cancellations) = {
            let conn = office.db()?;
            (db::applications(&conn, &filter)?, db::cancellation_requests(&conn)?)
        };
        let notice = match (query.get("approved"), query.get("left")) {
            (Some(approved), Some(left)) => Some(format!(
                "已批准并签发 {approved} 份申请；{left} 份未批准（您录入或修改过，或已不在待审核状态，或需改正）。 \
                 {approved} approved and issued; {left} left (yours to enter or edit, no longer waiting, or to correct)."
            )),
            _ => None,
        };
        let view = pages::ListView {
            path: "/queue",
            filter: &filter,
            list: &found.list,
            total: found.total,
            counts: &[],
            bulk: session.account.role == Role::Reviewer,
            notice: notice.as_deref(),
        };
        let page = pages::queue(&session.viewer(office), &view, &cancellations, office.division(), office.now());
        Ok(Reply::Page(StatusCode::OK, page))
    })
    .await
}

/// Approves several waiting applications chosen on the queue (`a<ID>=1` each), one by one
/// through [`workflow::approve`]: each still under four eyes; the queue then says how many
/// were issued and how many were left.
pub(super) async fn approve_many(
    State(office): State<Shared>,
    Posted { session, form, .. }: Posted<may::Review>,
) -> Reply {
    run(office, move |office| {
        let ids: Vec<i64> = form
            .iter()
            .filter(|(_, v)| v.as_str() == "1")
            .filter_map(|(k, _)| k.strip_prefix('a')?.parse().ok())
            .take(db::PAGE_SIZE)
            .collect();
        let (mut approved, mut left) = (0, 0);
        for id in ids {
            match workflow::approve(office, &session.account, id)? {
                Ok(serials) if !serials.is_empty() => approved += 1,
                _ => left += 1,
            }
        }
        Ok(Reply::to(format!("/queue?approved={approved}&left={left}")))
    })
    .await
}

/// The confirmation before approving: what will be issued.
pub(super) async fn confirm_approve(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Visitor { session, .. }: Visitor<may::Review>,
) -> Reply {
    run(office, move |office| {
        let Some(application) = workflow::visible(office, &session.account, id)? else {
            return Ok(not_found(office, &session));
        };
        if application.state != db::State::Submitted {
            return Ok(Reply::to(format!("/applications/{id}")));
        }
        Ok(Reply::Page(StatusCode::OK, pages::confirm_approve(&session.viewer(office), &application)))
    })
    .await
}

/// Approves and issues (see [`workflow::approve`]).
pub(super) async fn approve(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, .. }: Posted<may::Review>,
) -> Reply {
    run(office, move |office| match workflow::approve(office, &session.account, id)? {
        Ok(_) => Ok(Reply::to(format!("/applications/{id}"))),
        Err(Refused::OwnEntry) => Ok(forbidden(
            office,
            &session,
            "不能批准自己录入或修改的申请（双人审核）。 You entered or edited this application: another reviewer approves it.",
        )),
        Err(Refused::SameSetUp(admin)) => Ok(forbidden(
            office,
            &session,
            &format!(
                "您的账户与录入或修改此申请的账户都由 {admin} 开设（或重置密码），不能由您批准：请由另一位管理员开设的审核人批准。 \
                 Your account and one that entered or edited this application were both set up by {admin}: \
                 a reviewer set up by another admin approves it."
            ),
        )),
        Err(Refused::Invalid(message)) => super::applications::refused(office, &session, id, &message),
        Err(_) => Ok(not_found(office, &session)),
    })
    .await
}

pub(super) async fn reject(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, form, .. }: Posted<may::Review>,
) -> Reply {
    run(office, move |office| {
        let (_, reason) = serial_and_reason(&form);
        // A reason of nothing but spaces tells the enterprise nothing: said at the page.
        if reason.trim().is_empty() {
            let message = "请写明不通过的原因（企业会看到）。 Give the reason: the enterprise reads it.";
            return super::applications::refused(office, &session, id, message);
        }
        let done = workflow::reject(office, &session.account, id, reason)?;
        Ok(back(office, &session, id, done))
    })
    .await
}

/// Revokes one pass of an application (see [`workflow::revoke`]).
pub(super) async fn revoke(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, form, .. }: Posted<may::Revoke>,
) -> Reply {
    run(office, move |office| {
        let (serial, reason) = serial_and_reason(&form);
        // First the confirmation (nothing changes), then, confirmed, the revocation.
        if form.get("confirm").map(String::as_str) != Some("1") {
            let Some(application) = workflow::visible(office, &session.account, id)? else {
                return Ok(not_found(office, &session));
            };
            let Some(i) = application.serials.iter().position(|s| *s == serial) else {
                return Ok(not_found(office, &session));
            };
            if reason.trim().is_empty() {
                let page = super::applications::page(
                    office,
                    &session,
                    &application,
                    Some("请写明注销原因。 Give the reason to revoke."),
                )?;
                return Ok(Reply::Page(StatusCode::UNPROCESSABLE_ENTITY, page));
            }
            let plate = application.vehicles.get(i).and_then(|v| v.get("plate")).cloned().unwrap_or_default();
            let number = pass_core::model::pass_number(office.division(), serial);
            let page =
                pages::confirm_revoke(&session.viewer(office), &application, serial, &number, &plate, reason.trim());
            return Ok(Reply::Page(StatusCode::OK, page));
        }
        let done = workflow::revoke(office, &session.account, id, serial, reason)?;
        Ok(back(office, &session, id, done))
    })
    .await
}

pub(super) async fn print_again(
    State(office): State<Shared>,
    Path(id): Path<i64>,
    Posted { session, .. }: Posted<may::Revoke>,
) -> Reply {
    run(office, move |office| {
        let done = workflow::print_again(office, &session.account, id)?;
        Ok(back(office, &session, id, done))
    })
    .await
}

/// A reviewer rejects one vehicle of a waiting application (see
/// [`workflow::reject_vehicle`]).
pub(super) async fn reject_vehicle(
    State(office): State<Shared>,
    Path((id, position)): Path<(i64, usize)>,
    Posted { session, form, .. }: Posted<may::Review>,
) -> Reply {
    run(office, move |office| {
        let reason = form.get("reason").map(String::as_str).unwrap_or("");
        match workflow::reject_vehicle(office, &session.account, id, position, reason)? {
            Ok(_) => Ok(Reply::to(format!("/applications/{id}"))),
            Err(Refused::Invalid(message)) => super::applications::refused(office, &session, id, &message),
            Err(_) => Ok(not_found(office, &session)),
        }
    })
    .await
}
