//! What `pass-issuer list` and `show` print for ledger records: a line, a CSV row (every text
//! cell safe from spreadsheet formulas), JSON, and the labelled text of one pass.

use pass_core::time;
use pass_core::{Division, Pass};

use crate::ledger::{Ledger, LedgerError, Record};

/// A division's name for people, or its code when the table does not have it.
pub fn place_name(division: Division) -> String {
    division.full_name().unwrap_or_else(|| division.to_string())
}

/// One line of `list`.
pub fn line(p: &Pass, division: Option<Division>, tz: &jiff::tz::TimeZone) -> String {
    format!(
        "{:>12}  {:<10} {:<8} {}  {}  {} → {}  {} → {}",
        pass_core::model::pass_number(division, p.serial),
        p.plate,
        p.vehicle_type.label(),
        p.holder,
        pass_core::view::crew_text(&p.crew),
        place_name(p.origin),
        place_name(p.destination),
        time::human(p.valid_from, tz),
        time::human(p.valid_until, tz)
    )
}

/// A record as JSON: the pass's fields, its number, text form, manual code and revocation.
pub fn record_json(
    ledger: &Ledger,
    r: &Record,
    division: Option<Division>,
    tz: &jiff::tz::TimeZone,
) -> Result<serde_json::Value, LedgerError> {
    let mut value = pass_core::view::pass_json(&r.pass, None, tz);
    value["pass_number"] = serde_json::json!(pass_core::model::pass_number(division, r.pass.serial));
    value["key_id"] = serde_json::json!(r.key_id.to_string());
    value["text"] = serde_json::json!(pass_core::envelope::to_text(&r.envelope));
    value["manual_code"] = serde_json::json!(pass_core::envelope::manual_code(&r.envelope));
    value["revocation"] = match ledger.revocation(r.key_id, r.pass.serial)? {
        None => serde_json::Value::Null,
        Some((reason, sent)) => serde_json::json!({"reason": reason, "sent": sent}),
    };
    Ok(value)
}

/// `show`'s labelled text of one record (`json` is its [`record_json`]).
pub fn show_text(r: &Record, json: &serde_json::Value, division: Option<Division>, tz: &jiff::tz::TimeZone) -> String {
    let p = &r.pass;
    let mut out = String::new();
    // Labels padded to one column (the Chinese one by its width on a terminal).
    let mut put = |label: &str, value: String| {
        let pad = if label.is_ascii() { 14usize.saturating_sub(label.len()) } else { 2 };
        out.push_str(&format!("{label}{}{value}\n", " ".repeat(pad)));
    };
    put("pass number", pass_core::model::pass_number(division, p.serial));
    put("serial", format!("{}  (key {})", p.serial, r.key_id));
    put("plate", p.plate.clone());
    put("vehicle", format!("{} ({})", p.vehicle_type.label(), p.vehicle_type.name()));
    put("holder", format!("{}{}", p.holder, p.org_code.as_ref().map_or(String::new(), |c| format!(" [{c}]"))));
    put("crew 司乘人员", pass_core::view::crew_text(&p.crew));
    let zones: Vec<String> = p.zones.iter().map(|z| z.label()).collect();
    put("route", format!("{} → {}", p.origin.label(), p.destination.label()));
    put("zones", zones.join(", "));
    put("cargo", p.cargo.clone());
    put("valid", format!("{} → {}", time::human(p.valid_from, tz), time::human(p.valid_until, tz)));
    put("issued", time::human(p.issued_at, tz));
    if let Some(s) = p.supersedes {
        put("supersedes", s.to_string());
    }
    put("manual code", json["manual_code"].as_str().unwrap_or("").to_owned());
    if !json["revocation"].is_null() {
        put("revocation", json["revocation"].to_string());
    }
    put("text", json["text"].as_str().unwrap_or("").to_owned());
    out
}

/// One row of `list --csv`: the batch columns and the place names. Every text cell goes
/// through `csv_cell`, so a value a spreadsheet would run as a formula is shown as text.
#[derive(serde::Serialize)]
pub struct PassRow {
    pass_number: String,
    serial: u64,
    plate: String,
    vehicle_type: &'static str,
    holder: String,
    org_code: String,
    driver: String,
    co_drivers: String,
    origin: String,
    destination: String,
    zones: String,
    cargo: String,
    valid_from: String,
    valid_until: String,
    issued_at: String,
    supersedes: Option<u64>,
    origin_name: String,
    destination_name: String,
    zone_names: String,
}

impl PassRow {
    /// The row of `p`.
    pub fn new(p: &Pass, division: Option<Division>, tz: &jiff::tz::TimeZone) -> PassRow {
        let cell = |text: &str| pass_core::view::csv_cell(text).into_owned();
        let joined = |parts: Vec<String>| cell(&parts.join(" "));
        PassRow {
            pass_number: pass_core::model::pass_number(division, p.serial),
            serial: p.serial,
            plate: cell(&p.plate),
            vehicle_type: p.vehicle_type.name(),
            holder: cell(&p.holder),
            org_code: cell(p.org_code.as_deref().unwrap_or_default()),
            driver: cell(p.driver().unwrap_or_default()),
            co_drivers: cell(&p.crew.iter().skip(1).cloned().collect::<Vec<_>>().join("、")),
            origin: p.origin.to_string(),
            destination: p.destination.to_string(),
            zones: joined(p.zones.iter().map(ToString::to_string).collect()),
            cargo: cell(&p.cargo),
            valid_from: time::rfc3339(p.valid_from, tz),
            valid_until: time::rfc3339(p.valid_until, tz),
            issued_at: time::rfc3339(p.issued_at, tz),
            supersedes: p.supersedes,
            origin_name: cell(&place_name(p.origin)),
            destination_name: cell(&place_name(p.destination)),
            zone_names: joined(p.zones.iter().map(|z| place_name(*z)).collect()),
        }
    }
}

/// The columns of a list of passes for people (the office console's export): Chinese headers,
/// one date format (`2026-12-01 00:00`, Beijing time), the state at the time of the export.
pub const PEOPLE_HEADERS: [&str; 17] = [
    "通行证编号",
    "车牌号",
    "车辆类型",
    "持证单位",
    "统一社会信用代码",
    "驾驶员",
    "随车人员",
    "起点",
    "终点",
    "通行区域",
    "货物",
    "有效期起",
    "有效期止",
    "签发时间",
    "状态",
    "注销原因",
    "申请编号",
];

/// A pass's state at `now` for people: 已注销 (revoked), 已过期, 未生效 or 有效.
pub fn state_word(p: &Pass, revoked: bool, now: u64) -> &'static str {
    match () {
        _ if revoked => "已注销",
        _ if p.valid_until < now => "已过期",
        _ if p.valid_from > now => "未生效",
        _ => "有效",
    }
}

/// One row under [`PEOPLE_HEADERS`]: plain text (a CSV writer still passes each cell through
/// `pass_core::view::csv_cell`, an .xlsx writer writes them as strings, never formulas).
pub fn people_row(
    p: &Pass,
    division: Option<Division>,
    revocation: Option<&str>,
    application: Option<i64>,
    now: u64,
    tz: &jiff::tz::TimeZone,
) -> [String; 17] {
    let names = |zones: &[Division]| zones.iter().map(|z| place_name(*z)).collect::<Vec<_>>().join("、");
    [
        pass_core::model::pass_number(division, p.serial),
        p.plate.clone(),
        p.vehicle_type.label().to_owned(),
        p.holder.clone(),
        p.org_code.clone().unwrap_or_default(),
        p.driver().unwrap_or_default().to_owned(),
        p.crew.iter().skip(1).cloned().collect::<Vec<_>>().join("、"),
        place_name(p.origin),
        place_name(p.destination),
        names(&p.zones),
        p.cargo.clone(),
        time::human_minute(p.valid_from, tz),
        time::human_minute(p.valid_until, tz),
        time::human_minute(p.issued_at, tz),
        state_word(p, revocation.is_some(), now).to_owned(),
        revocation.unwrap_or_default().to_owned(),
        application.map(|a| format!("#{a}")).unwrap_or_default(),
    ]
}
