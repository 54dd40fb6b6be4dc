//! End-to-end tests: they run the real `pass-issuer` and `pass-verifier` binaries on real files
//! and real rendered images, a real server, and a real browser for the station. The first test
//! to run a binary builds the binaries (`util::bin`), so a test never drives a stale one.

#![allow(missing_docs, clippy::unwrap_used)]

mod bad_input;
mod batch;
mod hardening;
mod issue_scan;
mod keys;
mod names;
mod nationwide;
mod office;
mod packages;
mod revocation;
mod station;
mod tidy;
mod trust_holes;
mod units;
mod upgrade;
mod util;
mod web;
mod windows;
