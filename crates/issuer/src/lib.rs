//! The issuing office's side of checkpass: key generation, issuing signed passes, rendering
//! them as QR codes (PNG, SVG), and the SQLite issuance ledger that hands out serials.
//!
//! # Layout
//! - [`keyfile`]: generating key pairs and loading secret keys (0600, never overwritten).
//! - [`ledger`]: the issuance ledger (serials, records).
//! - [`issue`]: request → serial → signed envelope → QR.
//! - [`render`]: QR codes in byte mode at level M, as PNG and SVG.
//! - [`revoke`]: what the revocation server's answer must confirm before a revocation counts as sent.
//! - [`batch`]: a spreadsheet read, checked, issued and written, each step failing before the
//!   next costs a serial.
//! - [`csv_import`]: spreadsheets (CSV in UTF-8 or GB18030, `.xlsx`) into checked requests.
//! - [`print`](mod@print): passes laid out on pages, printed to PDF by headless Chromium, and every page
//!   decoded again before the PDF is written (print QA); the phone e-pass.
//! - [`office`]: an office's files: the key, the `.pub` beside it, the ledger beside it.
//! - [`listing`]: what `list` and `show` print.

pub mod batch;
pub mod csv_import;
pub mod issue;
pub mod keyfile;
pub mod ledger;
pub mod listing;
pub mod office;
pub mod print;
pub mod render;
pub mod revoke;
