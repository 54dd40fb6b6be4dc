//! The verdict as people read it at a roadside: ACCEPTED or REJECTED first, the reason in plain
//! words, then the plate — large, to compare with the truck — and the rest of the pass.

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use pass_core::Verdict;
use pass_core::time::human;

/// Whether to colour the output (a terminal, and `NO_COLOR` unset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Plain text.
    Plain,
    /// ANSI colours and bold.
    Ansi,
}

fn paint(style: Style, codes: &str, text: &str) -> String {
    match style {
        Style::Plain => text.to_owned(),
        Style::Ansi => format!("\x1b[{codes}m{text}\x1b[0m"),
    }
}

/// Spreads a plate out so it reads large in a terminal: `粤A12345` → `粤 A 1 2 3 4 5`.
pub fn spaced_plate(plate: &str) -> String {
    plate.chars().map(String::from).collect::<Vec<_>>().join(" ")
}

/// Terminal columns taken by `text`: East Asian wide characters take two.
pub fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

pub use pass_core::time::age;

pub use pass_core::view::printable;

/// Renders one verdict for `input` (a file name or "text"). Every text that comes from data
/// (the file name, the pass's fields, the issuer's name from a trust list, the verdict's
/// detail) goes through [`printable`] here and nowhere else is written: a name crafted with
/// terminal controls cannot repaint a REJECTED screen as ACCEPTED.
pub fn render(input: &str, verdict: &Verdict, tz: &TimeZone, style: Style) -> String {
    let input = printable(input);
    let mut out = String::new();
    let rule = "═".repeat(60);
    let _ = writeln!(out, "{rule}");
    match verdict.reason {
        None => {
            let _ = writeln!(out, "{}   {input}", paint(style, "1;97;42", "  ✔ ACCEPTED 通过  "));
        }
        Some(reason) => {
            let banner = format!("  ✘ REJECTED 拒绝 ({})  ", reason.code());
            let _ = writeln!(out, "{}   {input}", paint(style, "1;97;41", &banner));
            let _ = writeln!(out, "  {}", reason.message());
        }
    }
    if let Some(detail) = &verdict.detail {
        let _ = writeln!(out, "  ({})", printable(detail));
    }
    for warning in &verdict.warnings {
        let _ = writeln!(out, "  {} {}", paint(style, "1;33", "⚠"), warning.message());
    }
    if let Some(pass) = &verdict.pass {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "    车牌 PLATE   {}",
            paint(style, "1;7", &format!(" {} ", spaced_plate(&printable(&pass.plate))))
        );
        let crew = pass_core::view::crew_text(&pass.crew);
        let _ = writeln!(out, "    司乘人员 Crew   {}", printable(&crew));
        let _ = writeln!(
            out,
            "    核对车牌与司乘人员身份证 — compare the plate with the vehicle, the crew with their ID cards"
        );
        let _ = writeln!(out);
        let mut field = |label: &str, value: &str| {
            let pad = " ".repeat(16usize.saturating_sub(display_width(label)));
            let _ = writeln!(out, "    {label}{pad}{}", printable(value));
        };
        let number = verdict.issuer.as_ref().map_or_else(|| pass.serial.to_string(), |i| i.pass_number(pass));
        field("通行证 Pass", pass.kind.label());
        field("车型 Vehicle", pass.vehicle_type.label());
        field("单位 Holder", &pass.holder);
        if let Some(code) = &pass.org_code {
            field("信用代码 Code", code);
        }
        field("路线 Route", &format!("{} → {}", pass.origin.label(), pass.destination.label()));
        let zones: Vec<String> = pass.zones.iter().map(|z| z.label()).collect();
        field("区域 Zones", &zones.join(", "));
        field("货物 Cargo", &pass.cargo);
        field("有效 Valid", &format!("{} → {}", human(pass.valid_from, tz), human(pass.valid_until, tz)));
        let issuer = verdict.issuer.as_ref().map_or_else(String::new, |i| format!(" by {} ({})", i.name, i.key_id));
        field("编号 No.", &format!("{number}, issued {}{issuer}", human(pass.issued_at, tz)));
        if let Some(old) = pass.supersedes {
            field("替换 Replaces", &format!("serial {old}"));
        }
    }
    out
}

/// The divisions matching `text` (at most 200), one line each (JSON objects when `json`),
/// and what to tell the user when there are none or too many.
pub fn zone_lines(text: &str, json: bool) -> (Vec<String>, Option<String>) {
    const LIMIT: usize = 200;
    let found = pass_core::division::search(text, LIMIT + 1);
    let lines = found
        .iter()
        .take(LIMIT)
        .map(|division| {
            let name = division.full_name().unwrap_or_default();
            let retired = division.retired_since();
            if json {
                serde_json::json!({"code": division.to_string(), "name": name, "retired_since": retired}).to_string()
            } else {
                let note = retired.map_or_else(String::new, |year| format!("  (listed until {year})"));
                format!("{division}  {name}{note}")
            }
        })
        .collect();
    let problem = if found.len() > LIMIT {
        Some(format!("more than {LIMIT} divisions match {text:?}; give more of the name"))
    } else if found.is_empty() {
        Some(format!("no division matches {text:?}"))
    } else {
        None
    };
    (lines, problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::Reason;

    #[test]
    fn rejection_shows_code_and_plain_words() {
        let verdict = Verdict::rejected(Reason::BadSignature, None);
        let text = render("pass.png", &verdict, &pass_core::time::default_zone(), Style::Plain);
        assert!(text.contains("REJECTED"));
        assert!(text.contains("bad_signature"));
        assert!(text.contains("altered or forged"));
        assert!(!text.contains("PLATE"), "no unauthenticated pass content");
    }

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(printable("photo.jpg"), "photo.jpg");
        assert_eq!(printable("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(printable("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(printable("粤A12345"), "粤A12345");
    }

    /// An issuer named with terminal controls (the name comes from `keygen --name` through the
    /// trust list) and a detail carrying them are shown escaped, on every path of the report.
    #[test]
    fn data_cannot_repaint_the_screen() {
        let mut pass = pass_core::Pass::realistic_example();
        pass.holder = "东风\u{1b}[2J".into();
        let verdict = Verdict {
            reason: Some(Reason::Revoked),
            detail: Some("\u{1b}[1A\u{1b}[2K\u{1b}[42m ACCEPTED".into()),
            pass: Some(pass),
            issuer: Some(pass_core::verdict::IssuerRef {
                name: "Office\u{1b}[1A\u{1b}[2K\u{1b}[42m ✔ ACCEPTED 通过".into(),
                key_id: pass_core::KeyId([1; 8]),
                division: None,
            }),
            warnings: Vec::new(),
        };
        for style in [Style::Plain, Style::Ansi] {
            let text = render("pass.png", &verdict, &pass_core::time::default_zone(), style);
            // Only our own colour codes: ESC followed by '[' and digits and 'm'.
            let ours = text.matches("\u{1b}[").count();
            let sgr = text.split("\u{1b}[").skip(1).filter(|rest| {
                rest.split_once('m').is_some_and(|(codes, _)| codes.bytes().all(|b| b.is_ascii_digit() || b == b';'))
            });
            assert_eq!(sgr.count(), ours, "{text}");
            assert!(!text.contains("\u{1b}[1A") && !text.contains("\u{1b}[2J"), "{text}");
            assert!(text.contains("\\u{1b}[1A"), "shown escaped: {text}");
        }
    }

    #[test]
    fn plates_are_spaced() {
        assert_eq!(spaced_plate("粤A12345"), "粤 A 1 2 3 4 5");
    }
}
