//! Print-ready passes: an HTML page per pass (bundled template), turned into a PDF by headless
//! Chromium, then checked page by page before anyone prints it ("print QA"): each page is
//! rasterised at 150 dpi (poppler's `pdftoppm`, greyscale PGM), blurred slightly like a cheap printer would,
//! and decoded and verified with the verifier library. A page whose QR code does not verify is
//! an error; the PDF is only put in place when every page passes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use jiff::tz::TimeZone;
use pass_core::envelope::manual_code;
use pass_core::trust::TrustedIssuer;
use pass_core::verdict::{self, Checkpoint};
use pass_core::{PublicKey, TrustList};

use crate::ledger::Record;
use crate::render::Qr;

/// Default title on every pass.
pub const DEFAULT_TITLE: &str = "重点物资运输车辆通行证";
const CSS: &str = include_str!("../templates/pass.css");

/// The largest PDF or e-pass PNG Chromium may hand back (a 1,000-pass PDF is about 60 MB).
pub const MAX_PRINTED_BYTES: u64 = 512 * 1024 * 1024;

/// Page layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One pass per A4 page.
    A4,
    /// Two A5 passes per A4 sheet.
    A5x2,
}

impl std::str::FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "a4" => Ok(Self::A4),
            "a5x2" => Ok(Self::A5x2),
            _ => Err(format!("unknown layout {s:?}: use a4 or a5x2")),
        }
    }
}

/// What goes on the page besides the pass.
#[derive(Clone, Debug)]
pub struct PageInfo {
    /// Title line.
    pub title: String,
    /// Issuing office name.
    pub office: String,
    /// The office's home division: the first six digits of its pass numbers.
    pub division: Option<pass_core::Division>,
    /// Display time zone.
    pub tz: TimeZone,
}

/// Why printing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrintError {
    /// A helper program is missing.
    #[error("{0} not found: install it (Debian: apt-get install -y {1})")]
    Missing(String, &'static str),
    /// A helper program failed.
    #[error("{0} failed: {1}")]
    Tool(String, String),
    /// File system.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// Pages whose QR code does not decode and verify.
    #[error("print QA failed: page(s) {0:?} do not decode and verify; nothing was written")]
    Qa(Vec<usize>),
    /// The QR code could not be made.
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What the footer of every pass says: how it is checked, and what a copy does. The signature
/// covers the data, not the paper: a photocopy verifies exactly like the original, so the
/// officer's defence against a copy is the plate and the crew's ID cards, and the pass must
/// not teach anything else.
pub const FOOTER: &str = "本证二维码由签发机关数字签名，检查站离线核验签名。复印件与原件核验结果相同：\
     核验通过只说明内容未被改动，请核对车牌号与车辆、司乘人员与身份证。\
     Checked offline by its signature. A copy verifies exactly like the original: compare the plate with the \
     vehicle and the crew with their ID cards.";

/// The HTML of one pass.
fn pass_html(record: &Record, info: &PageInfo) -> Result<String, PrintError> {
    let pass = &record.pass;
    let qr = Qr::new(&record.envelope)?;
    let mut rows = String::new();
    let mut row_html = |label: &str, html: &str, class: &str| {
        let _ = write!(rows, "<tr><th>{label}</th><td class=\"{class}\">{html}</td></tr>");
    };
    row_html("车辆类型", &escape(pass.vehicle_type.label()), "");
    row_html("持证单位", &escape(&pass.holder), "holder");
    if let Some(code) = &pass.org_code {
        row_html("信用代码", &escape(code), "");
    }
    row_html("司乘人员", &escape(&pass_core::view::crew_text(&pass.crew)), "crew");
    // Names for people, each code small beside its name (a code not in the table shows alone).
    let place = |d: pass_core::Division| match d.full_name() {
        Some(name) => format!("{} <small class=\"dcode\">{d}</small>", escape(&name)),
        None => d.to_string(),
    };
    row_html("起点 → 终点", &format!("{} → {}", place(pass.origin), place(pass.destination)), "");
    let zones: Vec<String> = pass.zones.iter().map(|z| place(*z)).collect();
    row_html("通行区域", &zones.join("、"), "");
    row_html("运输物资", &escape(&pass.cargo), "");
    row_html("有效期", &escape(&pass_core::time::human_span(pass.valid_from, pass.valid_until, &info.tz)), "");
    row_html("签发机关", &escape(&info.office), "");
    row_html("签发日期", &escape(&pass_core::time::human_minute(pass.issued_at, &info.tz)), "");
    if let Some(old) = pass.supersedes {
        let old = pass_core::model::pass_number(info.division, old);
        row_html("替换", &escape(&format!("编号 {old} 的通行证（原证作废）")), "");
    }
    Ok(format!(
        concat!(
            "<section class=\"pass\" data-serial=\"{serial}\">",
            "<div class=\"head\"><div class=\"title\">{title}</div>",
            "<div class=\"number\"><small>编号 No.</small>{number}</div></div>",
            "<div class=\"kind\">{kind}</div>",
            "<div class=\"top\"><div class=\"plate-box\"><div class=\"plate-label\">车牌号 Plate</div><div class=\"{plate_class}\">{plate}</div>",
            "<div class=\"compare\">检查站请核对车牌号与车辆一致、司乘人员与身份证一致 — compare the plate with the vehicle and the crew with their ID cards.</div></div>",
            "<div class=\"qr\">{svg}<div class=\"code\">{code}<small>人工核验码 · manual code (电话核验 · for a call to the office)</small></div></div></div>",
            "<table>{rows}</table>",
            "<div class=\"footer\">{footer} Key {key_id} · {text_len}-byte signed pass</div>",
            "</section>"
        ),
        serial = pass.serial,
        number = escape(&pass_core::model::pass_number(info.division, pass.serial)),
        footer = FOOTER,
        title = escape(&info.title),
        kind = if pass.kind.label() == info.title { String::new() } else { escape(pass.kind.label()) },
        plate_class = if pass.plate.chars().count() > 7 { "plate long" } else { "plate" },
        svg = format!(
            "<img alt=\"QR\" src=\"data:image/png;base64,{}\">",
            base64::engine::general_purpose::STANDARD.encode(qr.to_png(4)?)
        ),
        code = manual_code(&record.envelope),
        plate = escape(&pass.plate),
        rows = rows,
        key_id = record.key_id,
        text_len = record.envelope.len(),
    ))
}

/// The whole HTML document.
pub fn document(records: &[Record], info: &PageInfo, layout: Layout) -> Result<String, PrintError> {
    let per_sheet = if layout == Layout::A5x2 { 2 } else { 1 };
    let class = if layout == Layout::A5x2 { "sheet a5" } else { "sheet" };
    let mut body = String::new();
    for sheet in records.chunks(per_sheet) {
        let _ = write!(body, "<div class=\"{class}\">");
        for record in sheet {
            body.push_str(&pass_html(record, info)?);
        }
        body.push_str("</div>");
    }
    Ok(format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>{body}</body></html>",
        escape(&info.title)
    ))
}

fn find_tool(env: &str, names: &[&str], package: &'static str) -> Result<PathBuf, PrintError> {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(PrintError::Missing(path.display().to_string(), package)) };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(PrintError::Missing(names[0].to_owned(), package))
}

/// The flags that keep a headless Chromium quiet and self-contained: no sandbox (it runs as
/// root in containers), no GPU, no network of its own (QUIC, background fetches, component
/// updates, sync) and no first-run setup. The station's browser test launches it with them too.
pub const CHROMIUM_QUIET: [&str; 7] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The programs a print needs: headless Chromium to lay out the PDF, poppler's `pdftoppm` for
/// print QA. Found before anything is issued, so a machine without them costs no serial.
#[derive(Clone, Debug)]
pub struct Tools {
    chromium: PathBuf,
    pdftoppm: PathBuf,
}

impl Tools {
    /// Finds both (`CHECKPASS_CHROMIUM` and `CHECKPASS_PDFTOPPM` name them, else `PATH`).
    pub fn find() -> Result<Tools, PrintError> {
        Ok(Tools {
            chromium: find_tool("CHECKPASS_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"], "chromium")?,
            pdftoppm: find_tool("CHECKPASS_PDFTOPPM", &["pdftoppm"], "poppler-utils")?,
        })
    }
}

/// Renders `records` to a PDF at `out` with headless Chromium, checks every page, and only then
/// moves it into place. `issuer` is the public key the passes must verify with.
pub fn print_pdf(
    tools: &Tools,
    records: &[Record],
    info: &PageInfo,
    layout: Layout,
    issuer: &PublicKey,
    out: &Path,
) -> Result<usize, PrintError> {
    let work = tempfile::tempdir().map_err(|e| PrintError::Io(std::env::temp_dir(), e))?;
    let html_path = work.path().join("passes.html");
    pass_files::write(&html_path, document(records, info, layout)?.as_bytes(), 0o600, pass_files::Mode::CreateNew)
        .map_err(|e| PrintError::Io(html_path.clone(), e))?;
    let pdf_path = work.path().join("passes.pdf");
    let chromium = &tools.chromium;
    let output = Command::new(chromium)
        .arg("--headless")
        .args(CHROMIUM_QUIET)
        .arg("--no-pdf-header-footer")
        .arg(format!("--user-data-dir={}", work.path().join("profile").display()))
        .arg(format!("--print-to-pdf={}", pdf_path.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .map_err(|e| PrintError::Tool(chromium.display().to_string(), e.to_string()))?;
    if !pdf_path.exists() {
        return Err(PrintError::Tool("chromium".into(), String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let pages = qa(&tools.pdftoppm, &pdf_path, records, layout, issuer, work.path())?;
    pass_files::write(
        out,
        &pass_files::read_capped(&pdf_path, MAX_PRINTED_BYTES).map_err(|e| PrintError::Io(pdf_path.clone(), e))?,
        0o644,
        pass_files::Mode::Replace,
    )
    .map_err(|e| PrintError::Io(out.to_owned(), e))?;
    Ok(pages)
}

/// What the served e-pass page has beyond the picture: the link to save its image, and the
/// script that keeps it for offline use (a service worker). The PNG's source has neither.
#[derive(Clone, Copy, Debug)]
pub struct PhoneLinks<'a> {
    /// The PNG's path, for the save button.
    pub png: &'a str,
    /// The script that registers the service worker.
    pub script: &'a str,
}

/// The phone e-pass of one pass, as HTML (a page the driver opens, and the source of its PNG):
/// the QR code 80% of a phone's width on white (never larger than 400 px on a desktop), the
/// plate very large, the pass number, the vehicle type, the crew, the route and zones, the
/// validity and the office; `cancelled` shows it cancelled (revoked) in place of the code, as
/// the national platform's grey code did. Every field is escaped.
pub fn phone_html(
    record: &Record,
    info: &PageInfo,
    cancelled: bool,
    links: Option<PhoneLinks<'_>>,
) -> Result<String, PrintError> {
    let pass = &record.pass;
    let qr = Qr::new(&record.envelope)?;
    let code = if cancelled {
        "<div class=\"cancelled\">已注销<br><small>CANCELLED</small></div>".to_owned()
    } else {
        format!(
            "<img class=\"qr\" alt=\"通行证二维码 QR code of the pass\" src=\"data:image/png;base64,{}\">",
            base64::engine::general_purpose::STANDARD.encode(qr.to_png(8)?)
        )
    };
    let zones: Vec<String> = pass.zones.iter().map(|z| crate::listing::place_name(*z)).collect();
    let extra = match links {
        Some(links) if !cancelled => format!(
            "<a class=\"save\" href=\"{}\" download>保存图片 Save image</a><script src=\"{}\" defer></script>",
            escape(links.png),
            escape(links.script)
        ),
        Some(links) => format!("<script src=\"{}\" defer></script>", escape(links.script)),
        None => String::new(),
    };
    Ok(format!(
        concat!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>{title} {plate}</title><style>{css}</style></head><body class=\"{state}\"><main>",
            "<div class=\"title\">{title}</div><div class=\"plate\">{plate}</div>{code}",
            "<div class=\"number\">编号 No. <b>{number}</b></div>",
            "<div class=\"kind\">{vehicle}</div>",
            "<div class=\"crew\">司乘人员 {crew}</div>",
            "<div class=\"route\">路线 {origin} → {destination}</div>",
            "<div class=\"zones\">通行区域 {zones}</div>",
            "<div class=\"valid\">有效期 {valid}</div>",
            "<div class=\"office\">{office}</div>{extra}</main></body></html>"
        ),
        title = escape(&info.title),
        css = PHONE_CSS,
        state = if cancelled { "revoked" } else { "valid" },
        plate = escape(&pass.plate),
        code = code,
        number = escape(&pass_core::model::pass_number(info.division, pass.serial)),
        vehicle = escape(pass.vehicle_type.label()),
        crew = escape(&pass_core::view::crew_text(&pass.crew)),
        origin = escape(&crate::listing::place_name(pass.origin)),
        destination = escape(&crate::listing::place_name(pass.destination)),
        zones = escape(&zones.join("、")),
        valid = escape(&pass_core::time::human_span(pass.valid_from, pass.valid_until, &info.tz)),
        office = escape(&info.office),
        extra = extra,
    ))
}

/// The phone e-pass's style: a phone's screen (sizes in `vw`, capped for a desktop, where the
/// pass keeps a phone's width in the middle), the green of the printed pass around a white code.
pub const PHONE_CSS: &str = "html,body{margin:0}body{font-family:\"WenQuanYi Zen Hei\",\"Noto Sans CJK SC\",sans-serif;\
    background:#8cc99b;color:#000;text-align:center;min-height:100vh;box-sizing:border-box}\
    main{max-width:500px;margin:0 auto;padding:min(4vw,20px)}\
    .title{font-size:min(6vw,30px);font-weight:bold}.plate{font-size:min(15vw,75px);font-weight:bold;background:#fff;\
    border:min(1vw,5px) solid #000;border-radius:min(2vw,10px);margin:min(3vw,15px) 0;letter-spacing:min(.5vw,2px)}\
    .qr{width:min(80vw,400px);background:#fff;padding:min(3vw,15px);image-rendering:pixelated}\
    .number{font-size:min(6vw,30px);margin-top:min(3vw,15px)}\
    .kind,.crew,.route,.zones,.valid,.office{font-size:min(4.2vw,21px);margin-top:min(2vw,10px)}\
    .save{display:inline-block;margin-top:min(4vw,20px);padding:.5em 1.2em;background:#0b5d2a;color:#fff;\
    font-size:min(4.6vw,22px);border-radius:6px;text-decoration:none}\
    .cancelled{font-size:min(16vw,80px);font-weight:bold;color:#fff;background:#a3141c;padding:min(10vw,50px) 0}\
    .cancelled small{font-size:min(7vw,35px)}body.revoked{background:#bbb}";

/// Renders the phone e-pass of `record` to a PNG at `out` (1080×1920: a phone's screen) with
/// headless Chromium, and checks it like a printed page: its code must decode and verify with
/// `issuer` before the file is written.
pub fn phone_png(
    tools: &Tools,
    record: &Record,
    info: &PageInfo,
    issuer: &PublicKey,
    out: &Path,
) -> Result<(), PrintError> {
    let work = tempfile::tempdir().map_err(|e| PrintError::Io(std::env::temp_dir(), e))?;
    let html_path = work.path().join("epass.html");
    pass_files::write(
        &html_path,
        phone_html(record, info, false, None)?.as_bytes(),
        0o600,
        pass_files::Mode::CreateNew,
    )
    .map_err(|e| PrintError::Io(html_path.clone(), e))?;
    let png_path = work.path().join("epass.png");
    let output = Command::new(&tools.chromium)
        .arg("--headless")
        .args(CHROMIUM_QUIET)
        .args(["--hide-scrollbars", "--window-size=540,960", "--force-device-scale-factor=2"])
        .arg(format!("--user-data-dir={}", work.path().join("profile").display()))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .map_err(|e| PrintError::Tool(tools.chromium.display().to_string(), e.to_string()))?;
    if !png_path.exists() {
        return Err(PrintError::Tool("chromium".into(), String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let trust = qa_trust(issuer);
    if !page_verifies(&png_path, std::slice::from_ref(record), &trust) {
        return Err(PrintError::Qa(vec![1]));
    }
    let bytes =
        pass_files::read_capped(&png_path, MAX_PRINTED_BYTES).map_err(|e| PrintError::Io(png_path.clone(), e))?;
    pass_files::write(out, &bytes, 0o644, pass_files::Mode::Replace).map_err(|e| PrintError::Io(out.to_owned(), e))
}

/// Rasterises every page at 150 dpi, blurs it slightly, and checks that exactly the passes
/// meant for that page decode and verify. Returns the page count.
pub fn qa(
    pdftoppm: &Path,
    pdf: &Path,
    records: &[Record],
    layout: Layout,
    issuer: &PublicKey,
    work: &Path,
) -> Result<usize, PrintError> {
    let prefix = work.join("page");
    let output = Command::new(pdftoppm)
        .args(["-r", "150", "-gray"]) // PGM: PNG compression would cost more than the rendering
        .arg(pdf)
        .arg(&prefix)
        .output()
        .map_err(|e| PrintError::Tool("pdftoppm".into(), e.to_string()))?;
    if !output.status.success() {
        return Err(PrintError::Tool("pdftoppm".into(), String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let mut pages: Vec<PathBuf> = std::fs::read_dir(work)
        .map_err(|e| PrintError::Io(work.to_owned(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("page-")))
        .collect();
    pages.sort();
    let trust = qa_trust(issuer);
    let per_page = if layout == Layout::A5x2 { 2 } else { 1 };
    let expected: Vec<&[Record]> = records.chunks(per_page).collect();
    let mut bad = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let ok = expected.get(i).is_some_and(|want| page_verifies(page, want, &trust));
        if !ok {
            bad.push(i + 1);
        }
    }
    if pages.len() != expected.len() {
        bad.extend(pages.len().min(expected.len()) + 1..=pages.len().max(expected.len()));
    }
    if bad.is_empty() { Ok(pages.len()) } else { Err(PrintError::Qa(bad)) }
}

/// The trust list print QA checks against: the office's own key alone.
fn qa_trust(issuer: &PublicKey) -> TrustList {
    TrustList {
        authority: None,
        root: None,
        issuers: vec![TrustedIssuer {
            name: "print QA".into(),
            key: *issuer,
            not_before: None,
            not_after: None,
            zones: None,
            // Print QA checks what was printed, whatever its lifetime (issuing bounded it).
            max_lifetime: u64::MAX,
            division: None,
        }],
    }
}

fn page_verifies(page: &Path, want: &[Record], trust: &TrustList) -> bool {
    let Ok(image) = pass_decode::image_input::load_path(page) else { return false };
    let blurred = image::imageops::blur(&image, 0.8);
    let mut missing: Vec<&Record> = want.iter().collect();
    pass_decode::decode_until(&blurred, std::time::Duration::MAX, |code| {
        missing.retain(|record| {
            let checkpoint = Checkpoint { now: record.pass.valid_from, ..Checkpoint::default() };
            let v = verdict::verify(code, trust, &checkpoint);
            !(v.accepted() && v.pass.as_ref().is_some_and(|p| p.serial == record.pass.serial))
        });
        missing.is_empty()
    });
    missing.is_empty()
}
