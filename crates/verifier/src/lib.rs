//! The checkpoint's side of checkpass: reading QR codes from camera images and photos,
//! checking them against the trust list, and reporting verdicts. It carries no signing code.
//!
//! # Layout
//! - [`scan`]: image or text form → verdict.
//! - [`config`]: trust list, zone and config file locations.
//! - [`settings`]: flags, environment and files resolved into what a check needs.
//! - [`report`]: the human-readable verdict.
//! - [`station`]: the live camera station (local web page, WebSocket, verdict screen).
//! - [`scanlog`]: the station's log of announced verdicts (SQLite).
//! - [`state`]: the synced revocation data and trust list, stored atomically.
//! - [`sync`]: fetching and checking signed data from a server or a file.
//! - [`rooted`]: root mode: the root's authority list and every authority's data.
//! - [`rounds`]: one sync round, single or root mode, for the command line and the station.

pub mod config;
pub mod report;
pub mod rooted;
pub mod rounds;
pub mod scan;
pub mod scanlog;
pub mod settings;
pub mod state;
pub mod station;
pub mod sync;
