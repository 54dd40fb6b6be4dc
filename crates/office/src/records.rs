//! The office's records for people: every issued pass as CSV (formula-safe) or .xlsx, the
//! audit trail a page at a time, and counts by enterprise and week. No HTTP here.

use std::collections::BTreeMap;

use pass_issuer::listing::{PEOPLE_HEADERS, people_row};

use crate::{Office, db};

/// Every pass the office issued (an enterprise's own only, when given), newest first, as rows
/// under [`PEOPLE_HEADERS`].
pub fn passes(office: &Office, enterprise: Option<i64>) -> anyhow::Result<Vec<[String; 17]>> {
    let applications = db::issued_serials(&*office.db()?, enterprise)?;
    let ledger = office.ledger()?;
    let key_id = office.key_id();
    let revoked = ledger.revocations(key_id)?;
    let tz = pass_core::time::default_zone();
    let now = office.now();
    let mut rows: Vec<(u64, [String; 17])> = ledger
        .list(&pass_issuer::ledger::ListFilter::default())?
        .into_iter()
        .filter(|r| r.key_id == key_id)
        .filter_map(|r| {
            let application = applications.get(&r.pass.serial).copied();
            // An enterprise's export: its own passes only (a pass issued outside the
            // console, by `pass-issuer batch`, belongs to no enterprise).
            if enterprise.is_some() && application.is_none() {
                return None;
            }
            let revocation = revoked.get(&r.pass.serial).map(String::as_str);
            Some((r.pass.serial, people_row(&r.pass, office.division(), revocation, application, now, &tz)))
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

/// Rows as CSV for Excel: a UTF-8 BOM, the headers, every cell through
/// [`pass_core::view::csv_cell`] (a cell a spreadsheet would run as a formula is text).
pub fn csv(rows: &[[String; 17]]) -> anyhow::Result<Vec<u8>> {
    let mut out = "\u{FEFF}".as_bytes().to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record(PEOPLE_HEADERS)?;
        for row in rows {
            writer.write_record(row.iter().map(|cell| pass_core::view::csv_cell(cell).into_owned()))?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// Rows as an .xlsx workbook: every cell a string (never a formula), the header row frozen.
pub fn xlsx(rows: &[[String; 17]]) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("通行证")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, header) in PEOPLE_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *header, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, cell)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(book.save_to_buffer()?)
}

/// One week's figures for one enterprise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Week {
    /// Applications submitted.
    pub submitted: usize,
    /// Applications rejected (as they stand now).
    pub rejected: usize,
    /// Passes issued.
    pub passes: usize,
}

/// Weeks counted in the statistics.
pub const WEEKS: u64 = 8;

/// The Monday 00:00 (Beijing time) of the week holding `at`.
pub fn week_of(at: u64) -> u64 {
    const OFFSET: u64 = 8 * 3600;
    // 1970-01-01 was a Thursday: Monday is 3 days later.
    let local = at + OFFSET;
    let monday = (local + 3 * 86_400) / (7 * 86_400) * (7 * 86_400) - 3 * 86_400;
    monday - OFFSET
}

/// The last [`WEEKS`] weeks' figures by enterprise name and week (its Monday): applications by
/// when they were submitted, passes by when they were issued.
pub fn statistics(office: &Office) -> anyhow::Result<BTreeMap<String, BTreeMap<u64, Week>>> {
    let now = office.now();
    let since = week_of(now).saturating_sub((WEEKS - 1) * 7 * 86_400);
    let mut out: BTreeMap<String, BTreeMap<u64, Week>> = BTreeMap::new();
    for (enterprise, submitted_at, state, decided_at, passes) in db::activity(&*office.db()?, since)? {
        let weeks = out.entry(enterprise).or_default();
        if submitted_at >= since {
            let week = weeks.entry(week_of(submitted_at)).or_default();
            week.submitted += 1;
            week.rejected += usize::from(state == db::State::Rejected);
        }
        if let Some(at) = decided_at.filter(|at| *at >= since && passes > 0) {
            weeks.entry(week_of(at)).or_default().passes += passes;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_in_beijing() {
        // 2026-12-07 00:00 in Beijing (a Monday; 2026-12-06 16:00 UTC).
        let monday = 1_796_572_800;
        assert_eq!(week_of(monday), monday);
        assert_eq!(week_of(monday + 6 * 86_400 + 86_399), monday, "Sunday 23:59");
        assert_eq!(week_of(monday - 1), monday - 7 * 86_400, "Sunday before");
    }
}
