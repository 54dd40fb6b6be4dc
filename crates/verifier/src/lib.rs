//! The checkpoint's side of checkpass: reading QR codes from camera images and photos,
//! checking them against the trust list, and reporting verdicts. It carries no signing code.
//!
//! # Layout
//! - [`image_input`]: loading JPEG/PNG/WebP safely (size limits, EXIF orientation).
//! - [`decode`]: QR decoding strategies, each third-party decoder isolated.
//! - [`scan`]: image or text form → verdict.
//! - [`config`]: trust list, zone and config file locations.
//! - [`report`]: the human-readable verdict.
//! - [`state`]: the synced revocation data and trust list, stored atomically.
//! - [`sync`]: fetching and checking signed data from a server or a file.
//! - [`files`]: atomic file writes (also used by the issuer).

pub mod config;
pub mod decode;
pub mod files;
pub mod image_input;
pub mod report;
pub mod scan;
pub mod state;
pub mod sync;
