//! Reading a spreadsheet of vehicles (CSV as an office saves it) into pass requests, checking
//! every row before anything is issued.
//!
//! Columns (any order; English names or the Chinese headers an office types):
//!
//! | column | aliases |
//! |---|---|
//! | `plate` | 车牌号, 车牌, 号牌号码, 车牌号码 |
//! | `vehicle_type` | 车辆类型, 车型 (values: `heavy-truck` … or 重型货车 …) |
//! | `holder` | 持证单位, 单位名称, 企业名称, 单位 |
//! | `org_code` (optional) | 统一社会信用代码, 信用代码 |
//! | `driver` (optional) | 驾驶员, 驾驶人, 司机 |
//! | `co_drivers` (optional) | 副驾驶/随车人员, 副驾驶, 随车人员 (up to two names separated by 、 or ;), only with a driver |
//! | `origin` | 起点, 出发地, 始发地 |
//! | `destination` | 终点, 目的地 |
//! | `zones` | 通行区域, 区域 (codes or names separated by spaces or semicolons) |
//! | `cargo` | 货物, 货物类别, 运输物资 |
//! | `valid_from` | 有效期起, 开始日期, 生效日期 |
//! | `valid_until` | 有效期止, 截止日期, 结束日期 |
//! | `kind` (optional) | 通行证类型 |
//!
//! Encodings: UTF-8 with or without BOM, or GB18030 (a superset of GBK, Excel's default for
//! CSV in China): UTF-8 when the bytes are valid UTF-8, else GB18030, unless told.

use jiff::tz::TimeZone;
use pass_core::division;
use pass_core::time::{self, Bound};
use pass_core::{PassKind, VehicleType};

use crate::issue::PassRequest;

/// Largest spreadsheet read.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Most rows in one batch.
pub const MAX_ROWS: usize = 50_000;
/// Most bytes an .xlsx workbook may unpack to, all its parts together (a 50,000-row fleet
/// list unpacks to about 20 MiB).
pub const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;
/// Most parts in an .xlsx archive.
pub const MAX_PARTS: usize = 1_000;
/// Columns read from a sheet (the format has 13; a cell of text further right is refused).
pub const MAX_COLUMNS: u32 = 64;

/// The text encoding of a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (a BOM is skipped).
    Utf8,
    /// GB18030 / GBK.
    Gb18030,
}

impl std::str::FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "gb18030" | "gbk" | "gb2312" => Ok(Self::Gb18030),
            _ => Err(format!("unknown encoding {s:?}: use utf-8 or gb18030")),
        }
    }
}

/// A problem with the file as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// Too large.
    #[error("the file is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge,
    /// Not valid in the named encoding.
    #[error("the file is not valid {0:?} text")]
    BadEncoding(Encoding),
    /// Header problems.
    #[error("header: {0}")]
    Header(String),
    /// Too many rows.
    #[error("more than {0} rows")]
    TooManyRows(usize),
    /// No rows.
    #[error("the file has no rows")]
    Empty,
    /// Not a workbook calamine can read.
    #[error("not a readable .xlsx workbook: {0}")]
    Workbook(String),
    /// A workbook that unpacks to too much (a zip bomb, or not a fleet list).
    #[error("the workbook unpacks to more than {MAX_UNPACKED_BYTES} bytes or has more than {MAX_PARTS} parts")]
    Unpacked,
    /// Text in a column beyond the format's.
    #[error("a cell in column {0} of the sheet: the list has at most {MAX_COLUMNS} columns")]
    TooWide(u32),
}

/// A problem with one row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// Column name (canonical), or `row` for the whole row.
    pub column: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.column, self.reason)
    }
}

/// One row read: its line and either a request or every problem found in it.
pub type Row = (u64, Result<PassRequest, Vec<RowError>>);

const COLUMNS: &[(&str, &[&str])] = &[
    ("plate", &["车牌号", "车牌", "号牌号码", "车牌号码"]),
    ("vehicle_type", &["车辆类型", "车型"]),
    ("holder", &["持证单位", "单位名称", "企业名称", "单位"]),
    ("org_code", &["统一社会信用代码", "信用代码"]),
    ("driver", &["驾驶员", "驾驶人", "司机"]),
    ("co_drivers", &["副驾驶/随车人员", "副驾驶", "随车人员"]),
    ("origin", &["起点", "出发地", "始发地"]),
    ("destination", &["终点", "目的地"]),
    ("zones", &["通行区域", "区域"]),
    ("cargo", &["货物", "货物类别", "运输物资"]),
    ("valid_from", &["有效期起", "开始日期", "生效日期"]),
    ("valid_until", &["有效期止", "截止日期", "结束日期"]),
    ("kind", &["通行证类型"]),
];
const REQUIRED: &[&str] =
    &["plate", "vehicle_type", "holder", "origin", "destination", "zones", "cargo", "valid_from", "valid_until"];

/// Decodes the file's bytes to text.
pub fn decode_text(bytes: &[u8], encoding: Option<Encoding>) -> Result<(String, Encoding), CsvError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(CsvError::TooLarge);
    }
    let utf8 = |b: &[u8]| {
        let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| CsvError::BadEncoding(Encoding::Utf8))
    };
    let gb = |b: &[u8]| {
        let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(b);
        if had_errors { Err(CsvError::BadEncoding(Encoding::Gb18030)) } else { Ok(text.into_owned()) }
    };
    match encoding {
        Some(Encoding::Utf8) => Ok((utf8(bytes)?, Encoding::Utf8)),
        Some(Encoding::Gb18030) => Ok((gb(bytes)?, Encoding::Gb18030)),
        None => match utf8(bytes) {
            Ok(text) => Ok((text, Encoding::Utf8)),
            Err(_) => Ok((gb(bytes)?, Encoding::Gb18030)),
        },
    }
}

fn canonical(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{FEFF}');
    COLUMNS.iter().find(|(name, aliases)| h.eq_ignore_ascii_case(name) || aliases.contains(&h)).map(|(name, _)| *name)
}

/// Parses CSV text into one entry per row.
pub fn parse(text: &str, tz: &TimeZone) -> Result<Vec<Row>, CsvError> {
    parse_with(text, tz, &[])
}

/// Parses CSV text into one entry per row, with `fixed` columns given for every row instead of
/// by the file (the office console: the holder is the enterprise's account, and a file that
/// has such a column is refused).
pub fn parse_with(text: &str, tz: &TimeZone, fixed: &[(&str, &str)]) -> Result<Vec<Row>, CsvError> {
    parse_with_max(text, tz, fixed, MAX_ROWS)
}

/// [`parse_with`], refusing a file of more than `max_rows` rows before checking any row past
/// them (each row's places are looked up: a 50,000-row file must not cost that when only 1,000
/// are taken).
pub fn parse_with_max(
    text: &str,
    tz: &TimeZone,
    fixed: &[(&str, &str)],
    max_rows: usize,
) -> Result<Vec<Row>, CsvError> {
    // Rows counted first (cheap): a file over the cap is refused before any row is checked.
    let count = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes()).records().count();
    if count > max_rows {
        return Err(CsvError::TooManyRows(max_rows));
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> =
        reader.headers().map_err(|e| CsvError::Header(e.to_string()))?.iter().map(str::to_owned).collect();
    let records = reader.records().enumerate().map(|(i, record)| match record {
        Ok(record) => {
            let line = record.position().map_or(i as u64 + 2, |p| p.line());
            Ok((line, record.iter().map(str::to_owned).collect()))
        }
        Err(e) => {
            let line = e.position().map_or(i as u64 + 2, |p| p.line());
            Err(RowError { line, column: "row".into(), reason: e.to_string() })
        }
    });
    parse_table_max(&headers, records, tz, fixed, max_rows)
}

/// Reads the first sheet of an .xlsx workbook (as enterprises keep their fleet lists) into one
/// entry per row, by the same columns and rules as CSV; `fixed` as for [`parse_with`]. Dates
/// may be date cells or text; codes typed as numbers (440114) read as their digits. Row numbers
/// are the sheet's.
pub fn parse_xlsx(bytes: &[u8], tz: &TimeZone, fixed: &[(&str, &str)]) -> Result<Vec<Row>, CsvError> {
    parse_xlsx_max(bytes, tz, fixed, MAX_ROWS)
}

/// [`parse_xlsx`], refusing a sheet of more than `max_rows` rows as [`parse_with_max`] does.
pub fn parse_xlsx_max(
    bytes: &[u8],
    tz: &TimeZone,
    fixed: &[(&str, &str)],
    max_rows: usize,
) -> Result<Vec<Row>, CsvError> {
    use calamine::{DataRef, Reader as _};
    let max_rows = max_rows.min(MAX_ROWS);
    if bytes.len() > MAX_FILE_BYTES {
        return Err(CsvError::TooLarge);
    }
    check_archive(bytes)?;
    let mut workbook =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| CsvError::Workbook(e.to_string()))?;
    let sheet = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| CsvError::Workbook("the workbook has no sheet".into()))?;
    let cell = |data: &DataRef<'_>| -> String {
        match data {
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
            DataRef::SharedString(s) => (*s).to_owned(),
            DataRef::Int(i) => i.to_string(),
            DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            DataRef::Float(f) => f.to_string(),
            DataRef::Bool(b) => b.to_string(),
            // Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
            DataRef::DateTime(d) => {
                let days = d.as_f64().floor() as i64;
                jiff::civil::date(1899, 12, 30)
                    .checked_add(jiff::Span::new().days(days))
                    .map_or_else(|_| d.as_f64().to_string(), |date| date.to_string())
            }
            DataRef::Error(e) => format!("#{e:?}"),
            DataRef::Empty => String::new(),
        }
    };
    // Cell by cell, never the sheet's whole rectangle: one cell at XFD1048576 would make a
    // dense range of 17 billion cells.
    let mut reader = workbook.worksheet_cells_reader(&sheet).map_err(|e| CsvError::Workbook(e.to_string()))?;
    let mut table: std::collections::BTreeMap<u32, Vec<String>> = std::collections::BTreeMap::new();
    while let Some(found) = reader.next_cell().map_err(|e| CsvError::Workbook(e.to_string()))? {
        let (row, column) = found.get_position();
        let text = cell(found.get_value());
        if text.trim().is_empty() {
            continue;
        }
        if column >= MAX_COLUMNS {
            return Err(CsvError::TooWide(column + 1));
        }
        // The header row and `max_rows` more.
        if table.len() > max_rows && !table.contains_key(&row) {
            return Err(CsvError::TooManyRows(max_rows));
        }
        let cells = table.entry(row).or_default();
        let column = column as usize;
        if cells.len() <= column {
            cells.resize(column + 1, String::new());
        }
        cells[column] = text;
    }
    let mut rows = table.into_iter();
    let (_, headers) = rows.next().ok_or(CsvError::Empty)?;
    // Sheet rows count from 1.
    let records = rows.map(|(row, cells)| Ok((u64::from(row) + 1, cells)));
    parse_table_max(&headers, records, tz, fixed, max_rows)
}

/// Refuses an .xlsx archive that unpacks to more than [`MAX_UNPACKED_BYTES`] or has more than
/// [`MAX_PARTS`] parts, by unpacking every part with a running count (a part's stated size may
/// lie); calamine then reads the same bytes.
fn check_archive(bytes: &[u8]) -> Result<(), CsvError> {
    use std::io::Read as _;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| CsvError::Workbook(e.to_string()))?;
    if archive.len() > MAX_PARTS {
        return Err(CsvError::Unpacked);
    }
    let mut left = MAX_UNPACKED_BYTES;
    let mut sink = [0u8; 64 * 1024];
    for i in 0..archive.len() {
        let part = archive.by_index(i).map_err(|e| CsvError::Workbook(e.to_string()))?;
        let mut limited = part.take(left + 1);
        loop {
            let n = limited.read(&mut sink).map_err(|e| CsvError::Workbook(e.to_string()))?;
            if n == 0 {
                break;
            }
            left = left.checked_sub(n as u64).ok_or(CsvError::Unpacked)?;
        }
    }
    Ok(())
}

/// Parses a table (a header row, then rows with their line numbers, or a row that could not
/// be read) into one entry per row: the one reader behind CSV and .xlsx files.
pub fn parse_table(
    headers: &[String],
    records: impl Iterator<Item = Result<(u64, Vec<String>), RowError>>,
    tz: &TimeZone,
    fixed: &[(&str, &str)],
) -> Result<Vec<Row>, CsvError> {
    parse_table_max(headers, records, tz, fixed, MAX_ROWS)
}

/// [`parse_table`] refusing more than `max_rows` rows before checking any row past them.
pub fn parse_table_max(
    headers: &[String],
    records: impl Iterator<Item = Result<(u64, Vec<String>), RowError>>,
    tz: &TimeZone,
    fixed: &[(&str, &str)],
    max_rows: usize,
) -> Result<Vec<Row>, CsvError> {
    let mut index: Vec<Option<&'static str>> = Vec::new();
    for h in headers {
        let column = canonical(h);
        if h.trim().is_empty() {
            index.push(None);
            continue;
        }
        let Some(column) = column else {
            return Err(CsvError::Header(format!("unknown column {h:?}")));
        };
        if index.contains(&Some(column)) {
            return Err(CsvError::Header(format!("column {column} appears twice")));
        }
        if fixed.iter().any(|(name, _)| *name == column) {
            return Err(CsvError::Header(format!("column {column} is given by your account: remove it from the file")));
        }
        index.push(Some(column));
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !index.contains(&Some(c)) && !fixed.iter().any(|(name, _)| name == c))
        .collect();
    if !missing.is_empty() {
        return Err(CsvError::Header(format!("missing column(s): {}", missing.join(", "))));
    }
    let mut rows = Vec::new();
    for record in records {
        if rows.len() >= max_rows {
            return Err(CsvError::TooManyRows(max_rows));
        }
        let (line, cells) = match record {
            Ok(record) => record,
            Err(e) => {
                rows.push((e.line, Err(vec![e])));
                continue;
            }
        };
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |name: &str| -> &str {
            if let Some((_, value)) = fixed.iter().find(|(n, _)| *n == name) {
                return value;
            }
            index.iter().position(|c| *c == Some(name)).and_then(|i| cells.get(i)).map_or("", |v| v.trim())
        };
        rows.push((line, parse_fields(line, get, tz)));
    }
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(rows)
}

/// One vehicle's fields, by column name (`plate`, `vehicle_type`, …, as in the table above;
/// missing ones read as empty), checked as a whole: the request, or every problem with the
/// column it concerns. The batch reads each CSV row through it, the office console each form:
/// one set of rules for every way in.
pub fn parse_fields<'a>(line: u64, get: impl Fn(&str) -> &'a str, tz: &TimeZone) -> Result<PassRequest, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut fail = |column: &str, reason: String| errors.push(RowError { line, column: column.into(), reason });
    let required = |column: &str, fail: &mut dyn FnMut(&str, String)| {
        let v = get(column);
        if v.is_empty() {
            fail(column, "is empty".into());
        }
        v.to_owned()
    };
    let optional = |column: &str| Some(get(column).to_owned()).filter(|v| !v.is_empty());
    let division = |column: &str, fail: &mut dyn FnMut(&str, String)| match division::parse_place(get(column)) {
        Ok(d) => Some(d),
        Err(e) => {
            fail(column, e.to_string());
            None
        }
    };
    let plate = required("plate", &mut fail);
    let vehicle_type = match get("vehicle_type").parse::<VehicleType>() {
        Ok(v) => Some(v),
        Err(e) => {
            fail("vehicle_type", e);
            None
        }
    };
    let kind = match optional("kind").map(|k| k.parse::<PassKind>()).transpose() {
        Ok(k) => k.unwrap_or(PassKind::KeyMaterials),
        Err(e) => {
            fail("kind", e);
            PassKind::KeyMaterials
        }
    };
    let holder = required("holder", &mut fail);
    let cargo = required("cargo", &mut fail);
    let origin = division("origin", &mut fail);
    let destination = division("destination", &mut fail);
    let mut zones = Vec::new();
    for zone in get("zones").split([' ', ';', '；', ',', '，']).filter(|z| !z.is_empty()) {
        match division::parse_place(zone) {
            Ok(d) => zones.push(d),
            Err(e) => fail("zones", e.to_string()),
        }
    }
    if zones.is_empty() && !get("zones").is_empty() {
        fail("zones", "no zones".into());
    } else if get("zones").is_empty() {
        fail("zones", "is empty".into());
    }
    let mut when = |column: &str, bound| match time::parse_instant(get(column), tz, bound) {
        Ok(t) => Some(t),
        Err(e) => {
            fail(column, e.to_string());
            None
        }
    };
    let valid_from = when("valid_from", Bound::StartOfDay);
    let valid_until = when("valid_until", Bound::EndOfDay);
    let co_drivers = split_names(get("co_drivers"));
    let crew: Vec<String> = optional("driver").into_iter().chain(co_drivers.iter().cloned()).collect();
    if !co_drivers.is_empty() && optional("driver").is_none() {
        fail("co_drivers", "a co-driver is listed but no driver (驾驶员): the driver comes first".into());
    } else if co_drivers.len() > pass_core::model::MAX_CREW - 1 {
        fail(
            "co_drivers",
            format!(
                "{} names; a pass names the driver and at most {} more",
                co_drivers.len(),
                pass_core::model::MAX_CREW - 1
            ),
        );
    }
    let (Some(vehicle_type), Some(origin), Some(destination), Some(valid_from), Some(valid_until), true) =
        (vehicle_type, origin, destination, valid_from, valid_until, errors.is_empty())
    else {
        return Err(errors);
    };
    let request = PassRequest {
        kind,
        plate,
        vehicle_type,
        holder,
        org_code: optional("org_code"),
        crew,
        origin,
        destination,
        zones,
        cargo,
        valid_from,
        valid_until,
        supersedes: None,
    };
    // The format's own limits, with the field they concern.
    if let Err(e) = request.clone().into_pass(1, valid_from.min(request.valid_until)).validate() {
        let text = e.to_string();
        let column = text.split(':').next().unwrap_or("row").trim().to_owned();
        let column = if column == "crew" { "co_drivers".to_owned() } else { column };
        let column = if COLUMNS.iter().any(|(c, _)| *c == column) { column } else { "row".to_owned() };
        return Err(vec![RowError { line, column, reason: text }]);
    }
    Ok(request)
}

/// Names in one cell, separated by 、 or a semicolon (ASCII or full width), trimmed.
pub fn split_names(cell: &str) -> Vec<String> {
    cell.split(['、', ';', '；']).map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workbook as an enterprise keeps it: Chinese headers, dates as date cells, division
    /// codes typed as numbers, no holder column (the console gives it), one bad row.
    fn workbook(rows: usize) -> Vec<u8> {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let headers = [
            "车牌号",
            "车辆类型",
            "驾驶员",
            "副驾驶/随车人员",
            "起点",
            "终点",
            "通行区域",
            "货物",
            "有效期起",
            "有效期止",
        ];
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).expect("header");
        }
        for i in 0..rows {
            let r = i as u32 + 1;
            let plate = if i == 7 { "粤a0000".to_owned() } else { format!("粤A{:05}", i) };
            sheet.write_string(r, 0, &plate).expect("plate");
            sheet.write_string(r, 1, "重型货车").expect("type");
            sheet.write_string(r, 2, "张三").expect("driver");
            sheet.write_string(r, 3, "李四、王五").expect("crew");
            sheet.write_number(r, 4, 440114.0).expect("origin");
            sheet.write_number(r, 5, 310115.0).expect("destination");
            sheet.write_string(r, 6, "440114；310000").expect("zones");
            sheet.write_string(r, 7, "汽车零部件").expect("cargo");
            let from = ExcelDateTime::from_ymd(2026, 12, 1).expect("date");
            let until = ExcelDateTime::from_ymd(2026, 12, 31).expect("date");
            sheet.write_datetime_with_format(r, 8, &from, &date).expect("from");
            sheet.write_datetime_with_format(r, 9, &until, &date).expect("until");
        }
        book.save_to_buffer().expect("xlsx")
    }

    #[test]
    fn an_xlsx_sheet_reads_by_the_same_rules_with_fixed_columns() {
        let tz = pass_core::time::default_zone();
        let holder = [("holder", "东风日产乘用车公司花都工厂")];
        let rows = parse_xlsx(&workbook(50), &tz, &holder).expect("reads");
        assert_eq!(rows.len(), 50);
        let (good, bad): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, r)| r.is_ok());
        assert_eq!(good.len(), 49);
        let (line, errors) = (bad[0].0, bad[0].1.as_ref().expect_err("bad"));
        assert_eq!((line, errors[0].column.as_str()), (9, "plate"), "{errors:?}");
        let request = good[0].1.as_ref().expect("ok");
        assert_eq!(request.holder, "东风日产乘用车公司花都工厂");
        assert_eq!(request.crew, ["张三", "李四", "王五"]);
        assert_eq!(request.origin.to_string(), "440114");
        assert_eq!(request.valid_from, time::parse_instant("2026-12-01", &tz, Bound::StartOfDay).expect("time"));
        // A holder column in a file for an account that fixes the holder is refused.
        let text = "车牌号,车辆类型,持证单位,起点,终点,通行区域,货物,有效期起,有效期止\n";
        assert!(matches!(parse_with(text, &tz, &holder), Err(CsvError::Header(_))));
        // Garbage is an error, not a panic.
        assert!(matches!(parse_xlsx(b"PK\x03\x04 not a zip", &tz, &[]), Err(CsvError::Workbook(_))));
    }

    /// Hostile workbooks are refused with a specific error, quickly and without the memory
    /// they ask for: a cell at XFD1048576 (a dense range would be 17 billion cells), a part
    /// that unpacks to 100 MiB from 100 KiB, too many parts.
    #[test]
    fn hostile_workbooks_are_refused_before_they_are_unpacked() {
        use std::io::{Read as _, Write as _};
        let tz = pass_core::time::default_zone();
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "车牌号").expect("cell");
        sheet.write_string(1_048_575, 16_383, "far away").expect("cell");
        let far = book.save_to_buffer().expect("xlsx");
        let started = std::time::Instant::now();
        assert!(matches!(parse_xlsx(&far, &tz, &[]), Err(CsvError::TooWide(16_384))));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused without the dense range");
        // A far row in column A is one more row, not a problem of size.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "车牌号").expect("cell");
        sheet.write_string(1_048_575, 0, "粤A12345").expect("cell");
        assert!(matches!(parse_xlsx(&book.save_to_buffer().expect("xlsx"), &tz, &[]), Err(CsvError::Header(_))));

        // The good workbook repacked with extra parts.
        type Writer = zip::ZipWriter<std::io::Cursor<Vec<u8>>>;
        let repack = |extra: &dyn Fn(&mut Writer)| -> Vec<u8> {
            let good = workbook(3);
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&good[..])).expect("zip");
            let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            for i in 0..archive.len() {
                let mut part = archive.by_index(i).expect("part");
                let mut bytes = Vec::new();
                part.read_to_end(&mut bytes).expect("read");
                out.start_file(part.name().to_owned(), options).expect("start");
                out.write_all(&bytes).expect("write");
            }
            extra(&mut out);
            out.finish().expect("finish").into_inner()
        };
        assert_eq!(
            parse_xlsx(&repack(&|_| {}), &tz, &[("holder", "某公司")]).expect("the repacked book reads").len(),
            3
        );
        let bomb = repack(&|out| {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            out.start_file("xl/media/bomb.bin", options).expect("start");
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..100 {
                out.write_all(&zeros).expect("write");
            }
        });
        assert!(bomb.len() < 1 << 20, "{} bytes packed", bomb.len());
        assert!(matches!(parse_xlsx(&bomb, &tz, &[]), Err(CsvError::Unpacked)));
        let many = repack(&|out| {
            for i in 0..MAX_PARTS {
                out.start_file(format!("xl/media/{i}.bin"), zip::write::SimpleFileOptions::default()).expect("start");
            }
        });
        assert!(matches!(parse_xlsx(&many, &tz, &[]), Err(CsvError::Unpacked)));
    }

    const HEADER: &str = "车牌号,车辆类型,持证单位,统一社会信用代码,驾驶员,起点,终点,通行区域,货物,有效期起,有效期止\n";

    #[test]
    fn chinese_headers_and_gbk() {
        let text = format!(
            "{HEADER}粤A12345,重型货车,东风日产乘用车公司花都工厂,,张三,440114,310115,440114;310000 320500,汽车零部件,2022-04-01,2022-04-30\n"
        );
        let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
        let (decoded, encoding) = decode_text(&gbk, None).expect("decodes");
        assert_eq!(encoding, Encoding::Gb18030);
        let rows = parse(&decoded, &time::default_zone()).expect("parses");
        let request = rows[0].1.as_ref().expect("valid row");
        assert_eq!(request.plate, "粤A12345");
        assert_eq!(request.zones.len(), 3);
        assert_eq!(request.org_code, None);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode_text(&bom, None).expect("decodes").1, Encoding::Utf8);
    }

    #[test]
    fn every_bad_field_is_reported_with_its_line() {
        let text = format!(
            "{HEADER}粤A1,bus,,,,4401,310115,,零件,2022-04-31,2022-04-30\n粤A12345,van,某公司,,,440114,310115,440114,零件,2022-04-01,2022-04-30\n"
        );
        let rows = parse(&text, &time::default_zone()).expect("parses");
        let errors = rows[0].1.as_ref().expect_err("bad row");
        let columns: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, ["vehicle_type", "holder", "origin", "zones", "valid_from"]);
        assert!(errors.iter().all(|e| e.line == 2));
        assert!(rows[1].1.is_ok());
        assert_eq!(rows[1].0, 3);
    }

    #[test]
    fn header_problems_are_errors() {
        assert!(matches!(parse("plate,colour\n", &time::default_zone()), Err(CsvError::Header(_))));
        assert!(matches!(parse(HEADER, &time::default_zone()), Err(CsvError::Empty)));
    }
}
