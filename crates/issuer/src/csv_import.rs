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
    #[error("文件太大（最多 {MAX_FILE_BYTES} 字节）。 The file is larger than {MAX_FILE_BYTES} bytes.")]
    TooLarge,
    /// Not valid in the named encoding.
    #[error(
        "文件不是有效的 {0:?} 文本：请另存为 UTF-8 或 GB18030 的 CSV，或 .xlsx。 The file is not valid {0:?} text."
    )]
    BadEncoding(Encoding),
    /// Header problems.
    #[error("表头：{0}")]
    Header(String),
    /// Too many rows.
    #[error("超过 {0} 行。 More than {0} rows.")]
    TooManyRows(usize),
    /// No rows.
    #[error("文件里没有车辆行。 The file has no rows.")]
    Empty,
    /// Not a workbook calamine can read.
    #[error("无法读取这个 .xlsx 文件。 Not a readable .xlsx workbook: {0}")]
    Workbook(String),
    /// A workbook that unpacks to too much (a zip bomb, or not a fleet list).
    #[error(
        "这个 .xlsx 文件解压后太大，不像车辆表。 The workbook unpacks to more than {MAX_UNPACKED_BYTES} bytes or has more than {MAX_PARTS} parts."
    )]
    Unpacked,
    /// Text in a column beyond the format's.
    #[error(
        "第 {0} 列有内容，车辆表最多 {MAX_COLUMNS} 列。 A cell in column {0} of the sheet: the list has at most {MAX_COLUMNS} columns."
    )]
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
    /// The column's header as the file has it (`有效期止`), when the error came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The row's plate as the file has it, when it has one: people find a row by its truck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
}

impl RowError {
    fn new(line: u64, column: impl Into<String>, reason: String) -> RowError {
        RowError { line, column: column.into(), reason, header: None, plate: None }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.header.as_deref().unwrap_or(&self.column), self.reason)
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

/// The line (from 1) of the first character at or after `byte` that is not a line end.
fn line_of(text: &str, byte: usize) -> u64 {
    let bytes = text.as_bytes();
    let mut at = byte.min(bytes.len());
    while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
        at += 1;
    }
    1 + bytes[..at].iter().filter(|b| **b == b'\n').count() as u64
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
    // Lines counted from the byte where the record starts, not the reader's own count, which
    // is one short after CRLF line ends (what Excel on Windows writes).
    let line_at = |position: Option<&csv::Position>, i: usize| {
        position.map_or(i as u64 + 2, |p| line_of(text, p.byte() as usize))
    };
    let records = reader.records().enumerate().map(|(i, record)| match record {
        Ok(record) => Ok((line_at(record.position(), i), record.iter().map(str::to_owned).collect())),
        Err(e) => Err(RowError::new(line_at(e.position(), i), "row", e.to_string())),
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
            return Err(CsvError::Header(format!("不认识的列“{h}”。 Unknown column {h:?}.")));
        };
        if index.contains(&Some(column)) {
            return Err(CsvError::Header(format!(
                "“{}”列出现了两次。 Column {column} appears twice.",
                column_label(column)
            )));
        }
        if fixed.iter().any(|(name, _)| *name == column) {
            return Err(CsvError::Header(format!(
                "“{}”由账户给出，请从文件中删去这一列。 Column {column} is given by your account: remove it from the file.",
                column_label(column)
            )));
        }
        index.push(Some(column));
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !index.contains(&Some(c)) && !fixed.iter().any(|(name, _)| name == c))
        .collect();
    if !missing.is_empty() {
        let labels: Vec<&str> = missing.iter().map(|c| column_label(c)).collect();
        return Err(CsvError::Header(format!(
            "缺少列：{}。 Missing column(s): {}.",
            labels.join("、"),
            missing.join(", ")
        )));
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
        // Errors name the column as the file's header does, and the row's plate.
        let parsed = parse_fields(line, get, tz).map_err(|errors| {
            let plate = Some(get("plate").to_owned()).filter(|p| !p.is_empty());
            errors
                .into_iter()
                .map(|e| {
                    let header = index
                        .iter()
                        .position(|c| *c == Some(e.column.as_str()))
                        .map(|i| headers[i].trim().trim_start_matches('\u{FEFF}').to_owned());
                    RowError { header, plate: plate.clone(), ..e }
                })
                .collect()
        });
        rows.push((line, parsed));
    }
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(rows)
}

/// A column's name for people: Chinese, then English (`plate` → 车牌号 Plate).
pub fn column_label(column: &str) -> &'static str {
    match column {
        "plate" => "车牌号 Plate",
        "vehicle_type" => "车辆类型 Vehicle type",
        "holder" => "持证单位 Holder",
        "org_code" => "统一社会信用代码 Credit code",
        "driver" => "驾驶员 Driver",
        "co_drivers" => "副驾驶/随车人员 Co-drivers",
        "origin" => "起点 Origin",
        "destination" => "终点 Destination",
        "zones" => "通行区域 Zones",
        "cargo" => "货物 Cargo",
        "valid_from" => "有效期起 Valid from",
        "valid_until" => "有效期止 Valid until",
        "kind" => "通行证类型 Pass type",
        _ => "整行 Row",
    }
}

/// A plate as people type it, made canonical: spaces, `·` and `-` removed, letters upper case
/// (`粤a 12345`, `粤A·12345` → `粤A12345`).
pub fn normalize_plate(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '•' | '．'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Province abbreviations that begin a civil plate (and 使, 领 for embassies and consulates).
const PLATE_PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领";
/// What the last character of a civil plate may be besides a letter or digit.
const PLATE_SUFFIXES: &str = "挂学警港澳领试超";

/// Why a canonical plate is not a Chinese civil plate (GA 36): a province, a letter, then 5
/// letters or digits (6 on a new-energy plate), the last of which may be 挂, 学, 警….
pub fn plate_problem(plate: &str) -> Option<String> {
    let chars: Vec<char> = plate.chars().collect();
    let shape = "车牌号应为省份简称加字母和5位（新能源6位）字母或数字，如 粤A12345、粤AD12345。 \
                 A plate is a province, a letter and 5 letters or digits (6 for new energy), like 粤A12345.";
    let ok = (chars.len() == 7 || chars.len() == 8)
        && PLATE_PROVINCES.contains(chars[0])
        && chars[1].is_ascii_uppercase()
        && chars[2..chars.len() - 1].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && chars.last().is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || PLATE_SUFFIXES.contains(*c));
    (!ok).then(|| format!("“{plate}”：{shape}"))
}

/// A place's error in plain words.
fn place_problem(text: &str, error: &division::PlaceError) -> String {
    match error {
        division::PlaceError::Unknown(_) => format!(
            "找不到“{text}”这个地方：请写区县名称或6位行政区划代码，如 花都区 或 440114。 \
             No place is called “{text}”: write a district's name or its 6-digit code."
        ),
        division::PlaceError::Ambiguous { candidates, .. } => {
            let list: Vec<String> = candidates.iter().take(6).map(|(d, n)| format!("{n}（{d}）")).collect();
            format!(
                "“{text}”有多个同名地方：{}，请写代码或更长的名称。 “{text}” is several places: give the code or a longer name.",
                list.join("、")
            )
        }
        _ => format!("“{text}”不是有效的行政区划代码。 “{text}” is not a valid division code."),
    }
}

/// One vehicle's fields, by column name (`plate`, `vehicle_type`, …, as in the table above;
/// missing ones read as empty), checked as a whole: the request, or every problem at once,
/// each with the column it concerns, in plain words (Chinese, then English). The batch reads
/// each CSV row through it, the office console each form: one set of rules for every way in.
/// The plate is made canonical first ([`normalize_plate`]).
pub fn parse_fields<'a>(line: u64, get: impl Fn(&str) -> &'a str, tz: &TimeZone) -> Result<PassRequest, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut fail = |column: &str, reason: String| {
        // One problem a field: the first found is the one to fix.
        if !errors.iter().any(|e: &RowError| e.column == column) {
            errors.push(RowError::new(line, column, reason));
        }
    };
    let empty = |column: &str| {
        let (zh, en) = column_label(column).split_once(' ').unwrap_or((column, column));
        format!("请填写{zh}。 {en} is required.")
    };
    let required = |column: &str, fail: &mut dyn FnMut(&str, String)| {
        let v = get(column);
        if v.is_empty() {
            fail(column, empty(column));
        }
        v.to_owned()
    };
    let optional = |column: &str| Some(get(column).to_owned()).filter(|v| !v.is_empty());
    let division = |column: &str, fail: &mut dyn FnMut(&str, String)| {
        let text = get(column);
        if text.is_empty() {
            fail(column, empty(column));
            return None;
        }
        match division::parse_place(text) {
            Ok(d) => Some(d),
            Err(e) => {
                fail(column, place_problem(text, &e));
                None
            }
        }
    };
    let plate = normalize_plate(get("plate"));
    if plate.is_empty() {
        fail("plate", empty("plate"));
    } else if let Some(problem) = plate_problem(&plate) {
        fail("plate", problem);
    }
    let types = || VehicleType::ALL.iter().map(|t| t.label()).collect::<Vec<_>>().join("、");
    let vehicle_type = match get("vehicle_type").parse::<VehicleType>() {
        Ok(v) => Some(v),
        Err(_) if get("vehicle_type").is_empty() => {
            fail("vehicle_type", empty("vehicle_type"));
            None
        }
        Err(_) => {
            fail("vehicle_type", format!("车辆类型须为以下之一：{}。 The vehicle type is one of these.", types()));
            None
        }
    };
    let kind = match optional("kind").map(|k| k.parse::<PassKind>()).transpose() {
        Ok(k) => k.unwrap_or(PassKind::KeyMaterials),
        Err(_) => {
            let kinds: Vec<&str> = PassKind::ALL.iter().map(|k| k.label()).collect();
            fail("kind", format!("通行证类型须为以下之一：{}。 The pass type is one of these.", kinds.join("、")));
            PassKind::KeyMaterials
        }
    };
    let holder = required("holder", &mut fail);
    if let Some(code) = optional("org_code")
        && pass_core::model::check_org_code(&code).is_err()
    {
        fail(
            "org_code",
            format!(
                "“{code}”不是有效的统一社会信用代码（18位，末位为校验码，请核对）。 \
                 Not a valid unified social credit code (18 characters, the last a check character)."
            ),
        );
    }
    let cargo = required("cargo", &mut fail);
    let origin = division("origin", &mut fail);
    let destination = division("destination", &mut fail);
    let mut zones = Vec::new();
    for zone in get("zones").split([' ', ';', '；', ',', '，', '、']).filter(|z| !z.is_empty()) {
        match division::parse_place(zone) {
            Ok(d) => zones.push(d),
            Err(e) => fail("zones", place_problem(zone, &e)),
        }
    }
    if get("zones").trim().is_empty() {
        fail("zones", empty("zones"));
    } else if zones.is_empty() {
        fail("zones", "请至少写一个通行区域。 Give at least one zone.".into());
    }
    let date_problem = |column: &str| {
        format!(
            "{}请写成 2026-12-01 这样的日期。 Write the date like 2026-12-01.",
            column_label(column).split(' ').next().unwrap_or("")
        )
    };
    let mut when = |column: &str, bound| {
        let text = get(column);
        if text.is_empty() {
            fail(column, empty(column));
            return None;
        }
        match time::parse_instant(text, tz, bound) {
            Ok(t) => Some(t),
            Err(_) => {
                fail(column, date_problem(column));
                None
            }
        }
    };
    let valid_from = when("valid_from", Bound::StartOfDay);
    let valid_until = when("valid_until", Bound::EndOfDay);
    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        if until <= from {
            fail("valid_from", "有效期起须早于有效期止。 Valid from must be before valid until.".into());
        } else if until - from > crate::issue::MAX_LIFETIME {
            fail("valid_until", lifetime_problem((until - from).div_ceil(86_400)));
        }
    }
    let co_drivers = split_names(get("co_drivers"));
    let crew: Vec<String> = optional("driver").into_iter().chain(co_drivers.iter().cloned()).collect();
    if !co_drivers.is_empty() && optional("driver").is_none() {
        fail("driver", "写了随车人员时，请先写驾驶员。 With co-drivers listed, give the driver first.".into());
    } else if co_drivers.len() > pass_core::model::MAX_CREW - 1 {
        fail(
            "co_drivers",
            format!(
                "写了{}人；除驾驶员外最多{}人。 {} names; a pass names the driver and at most {} more.",
                co_drivers.len(),
                pass_core::model::MAX_CREW - 1,
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
    // The format's own limits (lengths, characters), with the field they concern.
    if let Err(e) = request.clone().into_pass(1, valid_from.min(request.valid_until)).validate() {
        let text = e.to_string();
        let column = text.split(':').next().unwrap_or("row").trim().to_owned();
        let column = if column == "crew" { "co_drivers".to_owned() } else { column };
        let column = if COLUMNS.iter().any(|(c, _)| *c == column) { column } else { "row".to_owned() };
        let reason = format!("{}不符合通行证格式：{text} ", column_label(&column).split(' ').next().unwrap_or(""));
        return Err(vec![RowError::new(line, column, reason)]);
    }
    Ok(request)
}

/// The validity limit's problem in plain words: `days` asked.
pub fn lifetime_problem(days: u64) -> String {
    let max = crate::issue::MAX_LIFETIME / 86_400;
    format!(
        "有效期最长{max}天，这里是{days}天：请改短，到期后再申请。 A pass is valid for at most {max} days; this is {days}."
    )
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
        assert_eq!(columns, ["plate", "vehicle_type", "holder", "origin", "zones", "valid_from"]);
        assert!(errors.iter().all(|e| e.line == 2));
        assert!(rows[1].1.is_ok());
        assert_eq!(rows[1].0, 3);
    }

    /// Every check runs at once: an unknown place, reversed dates and a validity too long are
    /// three errors, each at its field, in plain words; plates are made canonical first and a
    /// too short one is refused.
    #[test]
    fn every_problem_is_found_at_once_in_plain_words() {
        let fields = |plate: &'static str, from: &'static str, until: &'static str, origin: &'static str| {
            move |name: &str| -> &'static str {
                match name {
                    "plate" => plate,
                    "vehicle_type" => "heavy-truck",
                    "holder" => "某公司",
                    "origin" => origin,
                    "destination" => "浦东新区",
                    "zones" => "440114",
                    "cargo" => "零件",
                    "valid_from" => from,
                    "valid_until" => until,
                    _ => "",
                }
            }
        };
        let tz = time::default_zone();
        let errors = parse_fields(1, fields("粤A12345", "2026-12-10", "2026-12-01", "火星区"), &tz).expect_err("bad");
        let at: Vec<(&str, &str)> = errors.iter().map(|e| (e.column.as_str(), e.reason.as_str())).collect();
        assert!(
            matches!(at[..], [("origin", o), ("valid_from", u)] if o.starts_with("找不到“火星区”") && u.starts_with("有效期起须早于")),
            "{at:?}"
        );
        let errors = parse_fields(1, fields("粤A12345", "2026-12-01", "2027-06-01", "花都区"), &tz).expect_err("bad");
        assert!(errors[0].column == "valid_until" && errors[0].reason.starts_with("有效期最长92天"), "{errors:?}");
        for (typed, canonical) in [("粤a12345", "粤A12345"), ("粤A 12345", "粤A12345"), ("粤A·D1234 5", "粤AD12345")]
        {
            let request = parse_fields(1, fields(typed, "2026-12-01", "2026-12-31", "花都区"), &tz).expect(typed);
            assert_eq!(request.plate, canonical);
        }
        for bad in ["粤A1234", "粤12345", "AA12345", "粤A123456789"] {
            let errors = parse_fields(1, fields(bad, "2026-12-01", "2026-12-31", "花都区"), &tz).expect_err(bad);
            assert!(errors[0].column == "plate" && errors[0].reason.contains("车牌号应为"), "{bad}: {errors:?}");
        }
    }

    /// Excel on Windows writes CRLF: the line a row is reported at is the line it is on, for
    /// LF and CRLF alike, also after a cell that holds a line break.
    #[test]
    fn lines_are_right_for_lf_and_crlf() {
        let good = "粤A12345,van,某公司,,,440114,310115,440114,零件,2022-04-01,2022-04-30";
        let bad = "粤A12346,van,某公司,,,火星区,310115,440114,零件,2022-04-01,2022-04-30";
        let quoted = "粤A12347,van,某公司,,,440114,310115,440114,\"零件\n第二行\",2022-04-01,2022-04-30";
        for end in ["\n", "\r\n"] {
            let header = HEADER.trim_end_matches('\n');
            let text = [header, good, bad, quoted, bad].join(end) + end;
            let rows = parse(&text, &time::default_zone()).expect("parses");
            let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
            assert_eq!(lines, [2, 3, 4, 6], "{end:?}");
            let errors = rows[1].1.as_ref().expect_err("bad row");
            assert_eq!(errors[0].line, 3, "{end:?}");
        }
    }

    #[test]
    fn header_problems_are_errors() {
        assert!(matches!(parse("plate,colour\n", &time::default_zone()), Err(CsvError::Header(_))));
        assert!(matches!(parse(HEADER, &time::default_zone()), Err(CsvError::Empty)));
    }
}
