//! The JSON view of a pass, shared by every tool's `--json` output so the schema is one thing.

use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::model::Pass;
use crate::time::rfc3339;
use crate::verdict::{IssuerRef, Verdict};

/// A spreadsheet cell that Excel or LibreOffice will show as text, never run as a formula: a
/// value starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
/// (OWASP's advice against CSV injection). Every CSV export goes through it.
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}").into() } else { value.into() }
}

/// `text` safe for a terminal: control characters (ESC, BEL, C1, DEL) and bidirectional
/// overrides, which could recolour the screen, retitle the window or reorder what is shown,
/// are written as `\u{1b}`. A file name, a QR code's text, an issuer's name or a server's
/// answer is untrusted: every tool writes such text to a terminal through this.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    text.chars().map(|c| if unsafe_char(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// The crew as every printed and shown form writes it (司乘人员): the names in order, the
/// first marked as the driver, e.g. `张三（驾驶员）、李四`; `—` when the pass names nobody.
pub fn crew_text(crew: &[String]) -> String {
    match crew.split_first() {
        None => "—".into(),
        Some((driver, rest)) => {
            std::iter::once(format!("{driver}（驾驶员）")).chain(rest.iter().cloned()).collect::<Vec<_>>().join("、")
        }
    }
}

/// A pass as JSON; times are RFC 3339 in `tz`.
pub fn pass_json(pass: &Pass, issuer: Option<&IssuerRef>, tz: &TimeZone) -> Value {
    json!({
        "serial": pass.serial,
        "pass_number": crate::model::pass_number(issuer.and_then(|i| i.division), pass.serial),
        "kind": pass.kind.name(),
        "kind_label": pass.kind.label(),
        "plate": pass.plate,
        "vehicle_type": pass.vehicle_type.name(),
        "vehicle_type_label": pass.vehicle_type.label(),
        "holder": pass.holder,
        "org_code": pass.org_code,
        "crew": pass.crew,
        "driver": pass.driver(),
        "origin": pass.origin.to_string(),
        "destination": pass.destination.to_string(),
        "zones": pass.zones.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "origin_name": pass.origin.full_name(),
        "destination_name": pass.destination.full_name(),
        "zone_names": pass.zones.iter().map(|z| z.full_name()).collect::<Vec<_>>(),
        "cargo": pass.cargo,
        "valid_from": rfc3339(pass.valid_from, tz),
        "valid_until": rfc3339(pass.valid_until, tz),
        "issued_at": rfc3339(pass.issued_at, tz),
        "supersedes": pass.supersedes,
        "issuer": issuer.map(|i| i.name.as_str()),
        "key_id": issuer.map(|i| i.key_id.to_string()),
    })
}

/// A verdict as the one-line JSON object of `pass-verifier scan/check --json`:
/// `{"input", "verdict", "reason", "detail", "pass", "warnings"}`.
pub fn verdict_json(input: &str, verdict: &Verdict, tz: &TimeZone) -> Value {
    json!({
        "input": input,
        "verdict": if verdict.accepted() { "accepted" } else { "rejected" },
        "reason": verdict.reason.map(|r| r.code()),
        "detail": verdict.detail,
        "pass": verdict.pass.as_ref().map(|p| pass_json(p, verdict.issuer.as_ref(), tz)),
        "warnings": verdict.warnings.iter().map(|w| w.code()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        assert_eq!(csv_cell("=HYPERLINK(\"http://x.example\",\"点击\")"), "'=HYPERLINK(\"http://x.example\",\"点击\")");
        for risky in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(risky).starts_with('\''), "{risky}");
        }
        assert_eq!(csv_cell("东风日产"), "东风日产");
        assert_eq!(csv_cell("2026-12-01"), "2026-12-01");
    }

    #[test]
    fn the_crew_names_the_driver_first() {
        assert_eq!(crew_text(&["张三".into(), "李四".into()]), "张三（驾驶员）、李四");
        assert_eq!(crew_text(&["张三".into()]), "张三（驾驶员）");
        assert_eq!(crew_text(&[]), "—");
    }
}
