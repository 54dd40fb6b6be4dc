//! End-to-end tests: they run the real `pass-issuer` and `pass-verifier` binaries on real files
//! and real rendered images. Build the binaries first (`cargo build --workspace --bins`; the
//! README's test command does it).

#![allow(missing_docs, clippy::unwrap_used)]

mod bad_input;
mod batch;
mod issue_scan;
mod keys;
mod revocation;
mod util;
