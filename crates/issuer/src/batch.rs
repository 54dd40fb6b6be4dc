//! A spreadsheet issued as a batch, in three steps that each fail before the next costs
//! anything: [`read`] (the file under its size cap, every row checked), [`Batch::prepare`]
//! (lifetimes, output paths writable, the print tools found: nothing is issued when any is
//! wrong), then [`Batch::issue`] (one ledger transaction through the one signing path,
//! [`crate::issue::issue_batch`], and a PNG per pass). Printing comes last, and a print that
//! fails leaves the passes issued, to print again from the ledger.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use pass_core::SecretKey;
use pass_files::{self as files, Mode};
use sha2::{Digest as _, Sha256};

use crate::csv_import::{self, Encoding, RowError};
use crate::issue::PassRequest;
use crate::ledger::{BatchInfo, Ledger, Record};
use crate::render::{DEFAULT_MODULE_PX, Qr};

/// A spreadsheet read and checked.
pub struct Batch {
    /// The file, as given.
    pub file: PathBuf,
    /// Its SHA-256 (hex): the ledger refuses the same file twice unless asked again.
    pub sha256: String,
    /// Rows read.
    pub rows: usize,
    /// The valid rows' requests.
    pub valid: Vec<PassRequest>,
    /// Every error of the invalid rows.
    pub errors: Vec<RowError>,
    /// Rows with at least one error.
    pub invalid_rows: usize,
}

/// Reads a CSV (UTF-8 or GB18030, as `encoding` says or detected) or `.xlsx` file under
/// [`csv_import::MAX_FILE_BYTES`] and checks every row, dates in `tz`.
pub fn read(file: &Path, encoding: Option<Encoding>, tz: &jiff::tz::TimeZone) -> Result<Batch> {
    let bytes =
        files::read_capped(file, csv_import::MAX_FILE_BYTES as u64).with_context(|| file.display().to_string())?;
    let xlsx = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let rows = if xlsx {
        csv_import::parse_xlsx(&bytes, tz, &[])
    } else {
        let (text, _) = csv_import::decode_text(&bytes, encoding).with_context(|| file.display().to_string())?;
        csv_import::parse(&text, tz)
    }
    .with_context(|| file.display().to_string())?;
    Ok(Batch {
        file: file.to_owned(),
        sha256: Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
        rows: rows.len(),
        valid: rows.iter().filter_map(|(_, r)| r.as_ref().ok()).cloned().collect(),
        errors: rows.iter().filter_map(|(_, r)| r.as_ref().err()).flatten().cloned().collect(),
        invalid_rows: rows.iter().filter(|(_, r)| r.is_err()).count(),
    })
}

/// A pass issued by a batch, as `batch --json` lists it.
#[derive(serde::Serialize)]
pub struct IssuedPass {
    /// Serial.
    pub serial: u64,
    /// Plate.
    pub plate: String,
    /// The text form, `CP:...`.
    pub text: String,
    /// The short manual-entry code.
    pub manual_code: String,
    /// Its QR code's PNG.
    pub png: PathBuf,
}

impl Batch {
    /// Checks what would make the batch fail after its serials are taken: a pass valid too
    /// long after `now`, an output directory or PDF path that cannot be written, a missing
    /// print tool (when a PDF is asked for). The print tools, when asked for.
    pub fn prepare(&self, now: u64, out_dir: &Path, pdf: Option<&Path>) -> Result<Option<crate::print::Tools>> {
        let too_long: Vec<String> = self
            .valid
            .iter()
            .filter_map(|request| request.check_lifetime(now).err().map(|e| format!("{}: {e}", request.plate)))
            .collect();
        if !too_long.is_empty() {
            anyhow::bail!("nothing issued: {}", too_long.join("; "));
        }
        std::fs::create_dir_all(out_dir).with_context(|| out_dir.display().to_string())?;
        files::check_writable(&out_dir.join("probe.png"))
            .with_context(|| format!("cannot write into {}", out_dir.display()))?;
        if let Some(pdf) = pdf {
            files::check_writable(pdf).with_context(|| format!("cannot write {}", pdf.display()))?;
        }
        Ok(pdf.map(|_| crate::print::Tools::find()).transpose()?)
    }

    /// The ledger's record of this batch, issued at `now`.
    pub fn info(&self, again: bool, now: u64) -> BatchInfo {
        BatchInfo { sha256: self.sha256.clone(), file_name: self.file.display().to_string(), again, now }
    }

    /// Issues the valid rows in one ledger transaction and writes each pass's QR code as
    /// `SERIAL-PLATE.png` in `out_dir`, calling `progress(done, total)` after each.
    pub fn issue(
        &self,
        key: &SecretKey,
        ledger: &mut Ledger,
        info: &BatchInfo,
        out_dir: &Path,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(Vec<Record>, Vec<IssuedPass>)> {
        let records = crate::issue::issue_batch(key, ledger, &self.valid, info)?;
        let mut issued = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let qr = Qr::new(&record.envelope)?;
            let png = out_dir.join(format!("{}.png", file_stem(record.pass.serial, &record.pass.plate)));
            files::write(&png, &qr.to_png(DEFAULT_MODULE_PX)?, 0o644, Mode::Replace)
                .with_context(|| png.display().to_string())?;
            issued.push(IssuedPass {
                serial: record.pass.serial,
                plate: record.pass.plate.clone(),
                text: pass_core::envelope::to_text(&record.envelope),
                manual_code: pass_core::envelope::manual_code(&record.envelope),
                png,
            });
            progress(i + 1, records.len());
        }
        Ok((records, issued))
    }
}

/// Prints a batch's passes to `pdf`, every page checked (print QA): the pages. A failure says
/// how to print them again from the ledger, never issuing twice.
pub fn print(
    tools: &crate::print::Tools,
    records: &[Record],
    info: &crate::print::PageInfo,
    layout: crate::print::Layout,
    public: &pass_core::PublicKey,
    pdf: &Path,
    (batch, key): (&BatchInfo, &Path),
) -> Result<usize> {
    crate::print::print_pdf(tools, records, info, layout, public, pdf).with_context(|| {
        format!(
            "the passes are issued but not printed; print them again, never issuing twice, with \
             `pass-issuer print --batch {} --pdf {} --key {}`",
            batch.sha256,
            pdf.display(),
            key.display()
        )
    })
}

/// Shows `done` of `total` on standard error: a bar on a terminal, a line every 50 otherwise.
pub fn progress_on_stderr(done: usize, total: usize, what: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        eprint!("\r{what} [{}{}] {done}/{total}", "#".repeat(filled), " ".repeat(width - filled));
        if done == total {
            eprintln!();
        }
    } else if done == total || done.is_multiple_of(50) {
        eprintln!("{what}: {done}/{total}");
    }
}

/// A PNG's name: the serial and the plate, with anything but letters and digits as `_`.
pub fn file_stem(serial: u64, plate: &str) -> String {
    let safe: String = plate.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
    format!("{serial:06}-{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_stem_keeps_the_plate_readable_and_the_path_safe() {
        assert_eq!(file_stem(42, "粤A12345"), "000042-粤A12345");
        assert_eq!(file_stem(7, "../x y"), "000007-___x_y");
    }
}
