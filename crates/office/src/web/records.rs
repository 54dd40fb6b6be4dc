//! The office's records: the export of issued passes (CSV and .xlsx), the audit trail for the
//! admin, and statistics by enterprise and week ([`crate::records`]).

use axum::extract::{Query, State};
use axum::http::StatusCode;

use super::session::{Visitor, may};
use super::{Fields, Reply, Shared, run};
use crate::db::{self, Role};
use crate::{pages, records};

/// The enterprise whose passes `account` may export (`None`: staff, every pass).
fn scope(account: &db::Account) -> Option<i64> {
    (account.role == Role::Enterprise).then_some(account.id)
}

/// Every issued pass (an enterprise's own) as CSV for Excel.
pub(super) async fn passes_csv(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Anyone>) -> Reply {
    run(office, move |office| {
        let rows = records::passes(office, scope(&session.account))?;
        crate::workflow::audit(office, &session.account.login, "export", &format!("{} passes, CSV", rows.len()))?;
        Ok(Reply::File("passes.csv".into(), records::csv(&rows)?))
    })
    .await
}

/// Every issued pass (an enterprise's own) as an .xlsx workbook.
pub(super) async fn passes_xlsx(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Anyone>) -> Reply {
    run(office, move |office| {
        let rows = records::passes(office, scope(&session.account))?;
        crate::workflow::audit(office, &session.account.login, "export", &format!("{} passes, xlsx", rows.len()))?;
        Ok(Reply::File("passes.xlsx".into(), records::xlsx(&rows)?))
    })
    .await
}

/// The audit trail, newest first, searchable, a page at a time (admin).
pub(super) async fn audit(
    State(office): State<Shared>,
    Visitor { session, .. }: Visitor<may::Admin>,
    Query(query): Query<Fields>,
) -> Reply {
    run(office, move |office| {
        let q: String =
            query.get("q").map(|q| q.trim().chars().take(db::MAX_SEARCH_CHARS).collect()).unwrap_or_default();
        let page = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1usize).clamp(1, 1_000_000);
        let q = Some(q).filter(|q| !q.is_empty());
        let (rows, total) = db::audit_page(&*office.db()?, q.as_deref(), page)?;
        let signed = crate::anchor::read(&office.data).map(|h| h.row);
        let page = pages::audit(&session.viewer(office), &rows, total, q.as_deref(), page, signed);
        Ok(Reply::Page(StatusCode::OK, page))
    })
    .await
}

/// Applications and passes by enterprise and week (staff).
pub(super) async fn statistics(State(office): State<Shared>, Visitor { session, .. }: Visitor<may::Staff>) -> Reply {
    run(office, move |office| {
        let figures = records::statistics(office)?;
        Ok(Reply::Page(StatusCode::OK, pages::statistics(&session.viewer(office), &figures, office.now())))
    })
    .await
}
