//! The messages the station sends its page over the WebSocket, as types (the page reads them in
//! `assets/station.js`): a result for every input, the status line, an error.

use serde::Serialize;
use serde_json::Value;

/// A message to the page.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToPage {
    /// The answer to one input (a camera frame, a text form, a photo).
    Result(Answer),
    /// The status line.
    Status(Status),
    /// An input that could not be used.
    Error {
        /// `camera`, `text`, `photo` or `message`.
        source: &'static str,
        /// Why, in plain words.
        message: String,
    },
}

/// The answer to one input.
#[derive(Debug, Serialize)]
pub struct Answer {
    /// `camera`, `text` or `photo`.
    pub source: &'static str,
    /// Whether this input starts a presentation (its verdict is to be shown and was logged).
    pub announce: bool,
    /// For camera frames: whether a code was in view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_view: Option<bool>,
    /// For camera frames: whether the station still counts a pass as presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presenting: Option<bool>,
    /// For camera frames: the decode and check, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    /// From the input's arrival to the answer being sent, in milliseconds (set when sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station_ms: Option<f64>,
    /// The scan log's row for an announcement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_id: Option<i64>,
    /// The verdict as shown, for an announcement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Shown>,
}

impl Answer {
    /// A camera frame that announces nothing.
    pub fn frame(in_view: bool, presenting: bool, ms: f64) -> Answer {
        Answer {
            source: "camera",
            announce: false,
            in_view: Some(in_view),
            presenting: Some(presenting),
            ms: Some(ms),
            station_ms: None,
            log_id: None,
            verdict: None,
        }
    }
}

/// A verdict as the page shows it: the verdict's JSON view (`pass_core::view::verdict_json`,
/// the same fields as `--json`) and the texts the page prints.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// The verdict's JSON view.
    #[serde(flatten)]
    pub verdict: Value,
    /// The reason's plain-language message (none when accepted).
    pub message: Option<&'static str>,
    /// Each warning's message.
    pub warning_messages: Vec<&'static str>,
    /// "from → until" in local time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_text: Option<String>,
    /// When the pass was issued, in local time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_text: Option<String>,
    /// The crew as every form writes it, the driver marked (`pass_core::view::crew_text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crew_text: Option<String>,
    /// Whether this pass was checked here before today.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_before: Option<SeenBefore>,
}

/// How often a pass was checked here today before, and first when.
#[derive(Debug, Serialize)]
pub struct SeenBefore {
    /// Times seen before.
    pub count: u64,
    /// The first time today, local clock time.
    pub first: String,
}

/// The status line.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The checkpoint's zone.
    pub zone: Option<String>,
    /// Issuers trusted.
    pub issuers: usize,
    /// The revocation data held, when an authority is configured.
    pub revocation: Option<Revocation>,
    /// When the last background sync ran, local clock time.
    pub last_sync: Option<String>,
    /// Why the last sync failed, or the state file could not be taken.
    pub sync_error: Option<String>,
    /// Today's counts.
    pub today: Today,
}

/// The revocation data held.
#[derive(Debug, Serialize)]
pub struct Revocation {
    /// Its version.
    pub version: u64,
    /// Serials revoked.
    pub revoked: usize,
    /// Seconds since it was last confirmed by signed time.
    pub age_s: Option<u64>,
    /// Whether it is older than the freshness limit.
    pub stale: bool,
}

/// Today's verdicts.
#[derive(Debug, Serialize)]
pub struct Today {
    /// Accepted.
    pub accepted: u64,
    /// Rejected.
    pub rejected: u64,
}
