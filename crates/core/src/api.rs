//! The revocation server's JSON requests and answers (`POST /v1/revocations`,
//! `POST /v1/revoked-keys`, `/v1/audit-heads`): one definition, read by the server and written by every tool that
//! sends revocations (`pass-issuer revoke`, the office console), so the two cannot drift.
//! Requests refuse unknown fields; answers accept them (a newer server may say more).

use serde::{Deserialize, Serialize};

use crate::KeyId;

/// An issuing office revokes passes: `POST /v1/revocations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The issuer key the passes were signed with (an office's token may name only its own).
    pub key_id: KeyId,
    /// Their serials.
    pub serials: Vec<u64>,
    /// Why, for the record.
    pub reason: String,
}

/// The server's answer to a [`RevokeRequest`]: what it committed (on disk and served).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeAnswer {
    /// The issuer key the revocations were filed under.
    pub key_id: KeyId,
    /// The serials it took.
    pub serials: Vec<u64>,
    /// The revocation data version that holds them.
    pub version: u64,
    /// How many were new.
    pub added: u64,
    /// How many it had already.
    pub already_revoked: u64,
}

/// The authority revokes an issuer key: `POST /v1/revoked-keys` (an admin token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeKeyRequest {
    /// The issuer key.
    pub key_id: KeyId,
    /// RFC 3339; passes issued after it are revoked. Absent or null: every pass.
    #[serde(default)]
    pub issued_after: Option<String>,
    /// Why, for the record.
    pub reason: String,
}

/// The server's answer to a [`RevokeKeyRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeKeyAnswer {
    /// The revocation data version that holds it.
    pub version: u64,
    /// Whether anything changed (false: the key was already revoked as asked).
    pub changed: bool,
}

/// An issuing office sends its audit trail's signed head: `POST /v1/audit-heads` (its token).
/// The server keeps every head it is sent, newest last, and refuses one that goes back: an
/// older trail put back in the office's data directory shows as a head the server has passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHeadRequest {
    /// The office key, unpadded base64url of its 32 bytes (its id is the token's key id).
    pub public_key: String,
    /// The head it signed.
    pub head: crate::audit::Head,
    /// The serial the office's next pass will take: the server keeps the highest it was told,
    /// so a ledger restored from a backup can start above every serial handed out since.
    #[serde(default)]
    pub next_serial: Option<u64>,
}

/// The newest head the server holds for an office key (`GET /v1/audit-heads/{key_id}`), and
/// the answer to an [`AuditHeadRequest`] it kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHeadAnswer {
    /// The office key.
    pub key_id: KeyId,
    /// The head.
    pub head: crate::audit::Head,
    /// When the server received it (Unix seconds).
    pub received_at: u64,
    /// The highest next serial the office has reported.
    #[serde(default)]
    pub next_serial: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_an_unknown_field_is_refused_an_answer_with_one_is_read() {
        let request = r#"{"key_id":"f3c3dcf66c87927e","serials":[1,2],"reason":"sold","extra":1}"#;
        assert!(serde_json::from_str::<RevokeRequest>(request).is_err());
        let answer =
            r#"{"key_id":"f3c3dcf66c87927e","serials":[1],"version":3,"added":1,"already_revoked":0,"note":"x"}"#;
        let answer: RevokeAnswer = serde_json::from_str(answer).expect("reads");
        assert_eq!((answer.version, answer.added), (3, 1));
        let key: RevokeKeyRequest =
            serde_json::from_str(r#"{"key_id":"f3c3dcf66c87927e","reason":"lost"}"#).expect("issued_after optional");
        assert_eq!(key.issued_after, None);
    }
}
