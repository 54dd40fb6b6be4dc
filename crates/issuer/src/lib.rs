//! The issuing office's side of checkpass: key generation, issuing signed passes, rendering
//! them as QR codes (PNG, SVG), and the SQLite issuance ledger that hands out serials.
//!
//! # Layout
//! - [`keyfile`]: generating key pairs and loading secret keys (0600, never overwritten).
//! - [`ledger`]: the issuance ledger (serials, records).
//! - [`issue`]: request → serial → signed envelope → QR.
//! - [`render`]: QR codes in byte mode at level M, as PNG and SVG.
//! - [`revoke`]: what the revocation server's answer must confirm before a revocation counts as sent.

pub mod csv_import;
pub mod issue;
pub mod keyfile;
pub mod ledger;
pub mod print;
pub mod render;
pub mod revoke;
