//! Talking to the revocation server: sending revocations, and an office's signed audit heads
//! (`send_audit_head`, `fetch_audit_head`). For revocations, what its answer must say before the ledger
//! counts them as sent. A revocation marked sent is never sent again, so an answer that does
//! not confirm exactly what was asked (a proxy's `200 {}`, a fake server, a server of another
//! authority) leaves it unsent and the command fails.

use pass_core::KeyId;
use pass_core::view::printable;

/// What the server confirmed (the `/v1/revocations` answer, defined once in pass-core).
pub type Answer = pass_core::api::RevokeAnswer;

/// Why the server's answer does not confirm the revocations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The server refused (its error body, escaped for a terminal).
    #[error("HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The body, escaped and cut to a line.
        body: String,
    },
    /// A 2xx that does not name the key, the serials and a version.
    #[error("the server answered {status} but did not confirm the revocations ({why})")]
    Unconfirmed {
        /// The HTTP status.
        status: u16,
        /// What was missing or different.
        why: String,
    },
}

/// Checks the server's answer to revoking `serials` of `key_id`: a 2xx whose JSON names the
/// same key, the same serials and a version of at least 1.
pub fn check_answer(status: u16, body: &str, key_id: KeyId, serials: &[u64]) -> Result<Answer, AnswerError> {
    if !(200..300).contains(&status) {
        let line: String = body.trim().chars().take(300).collect();
        return Err(AnswerError::Refused { status, body: printable(&line).into_owned() });
    }
    let unconfirmed = |why: String| AnswerError::Unconfirmed { status, why };
    let answer: Answer = serde_json::from_str(body).map_err(|e| unconfirmed(format!("not the expected JSON: {e}")))?;
    if answer.key_id != key_id {
        return Err(unconfirmed(format!("it names key {}", answer.key_id)));
    }
    let (mut asked, mut taken) = (serials.to_vec(), answer.serials.clone());
    asked.sort_unstable();
    asked.dedup();
    taken.sort_unstable();
    taken.dedup();
    if asked != taken {
        return Err(unconfirmed("it names other serials".into()));
    }
    if answer.version == 0 {
        return Err(unconfirmed("no revocation data version".into()));
    }
    Ok(answer)
}

/// A warning when a bearer token is about to travel over plain `http://` to a host other than
/// this machine (anyone on the path can read it and revoke this office's passes).
pub fn plain_http_warning(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        format!(
            "the token goes to {} over plain http://: use https:// for a server on another machine",
            printable(host)
        )
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Whether the server at `server` answers its `/healthz` (a connection test, in one line).
pub fn check_server(server: &str) -> Result<(), String> {
    let url = format!("{}/healthz", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    match agent.get(&url).call() {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(e) => Err(printable(&e.to_string()).into_owned()),
    }
}

/// POSTs `body` as JSON with the bearer `token`: the status and up to 64 KiB of the answer.
fn post_json(url: &str, token: &str, body: &impl serde::Serialize) -> Result<(u16, String), SendError> {
    let body = serde_json::to_string(body).unwrap_or_default();
    let mut response = agent()
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| SendError::Network { url: url.to_owned(), reason: e.to_string() })?;
    let status = response.status().as_u16();
    Ok((status, response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default()))
}

/// Sends an office's signed audit head to the server (`POST /v1/audit-heads`, the office's
/// token), and checks that the server now holds exactly it. A `409` is the server holding a
/// newer head or another hash for the row: the trail went back.
pub fn send_audit_head(
    server: &str,
    token: &str,
    public: &pass_core::PublicKey,
    head: &pass_core::audit::Head,
    next_serial: Option<u64>,
) -> Result<pass_core::api::AuditHeadAnswer, SendError> {
    use base64::Engine as _;
    let url = format!("{}/v1/audit-heads", server.trim_end_matches('/'));
    let public_key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public.verifying_key().to_bytes());
    let (status, text) =
        post_json(&url, token, &pass_core::api::AuditHeadRequest { public_key, head: head.clone(), next_serial })?;
    let answer = head_answer(status, &text).map_err(|source| SendError::Answer { url: url.clone(), source })?;
    match answer {
        Some(answer) if answer.key_id == public.id() && answer.head == *head => Ok(answer),
        _ => Err(SendError::Answer {
            url,
            source: AnswerError::Unconfirmed { status, why: "it does not hold the head sent".into() },
        }),
    }
}

/// The newest audit head the server holds for `key_id` (`GET /v1/audit-heads/{key_id}`);
/// `None` when it holds none (404).
pub fn fetch_audit_head(server: &str, key_id: KeyId) -> Result<Option<pass_core::api::AuditHeadAnswer>, SendError> {
    let url = format!("{}/v1/audit-heads/{key_id}", server.trim_end_matches('/'));
    let mut response =
        agent().get(&url).call().map_err(|e| SendError::Network { url: url.clone(), reason: e.to_string() })?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    match head_answer(status, &text).map_err(|source| SendError::Answer { url: url.clone(), source })? {
        Some(answer) if answer.key_id != key_id => Err(SendError::Answer {
            url,
            source: AnswerError::Unconfirmed { status, why: format!("it names key {}", answer.key_id) },
        }),
        answer => Ok(answer),
    }
}

fn head_answer(status: u16, body: &str) -> Result<Option<pass_core::api::AuditHeadAnswer>, AnswerError> {
    if status == 404 && body.contains("\"no_head\"") {
        return Ok(None);
    }
    if !(200..300).contains(&status) {
        let line: String = body.trim().chars().take(300).collect();
        return Err(AnswerError::Refused { status, body: printable(&line).into_owned() });
    }
    serde_json::from_str(body)
        .map(Some)
        .map_err(|e| AnswerError::Unconfirmed { status, why: format!("not the expected JSON: {e}") })
}

/// Revokes `serials` of the key at `key`: recorded in its ledger first (so nothing is lost when
/// the server cannot be reached), then sent, and marked sent only when the server's answer
/// confirms them. A serial the ledger never issued is refused unless `force`. Repeating is safe.
#[allow(clippy::too_many_arguments)]
pub fn record_and_send(
    key: &std::path::Path,
    ledger: Option<&std::path::Path>,
    serials: &[u64],
    reason: &str,
    server: &str,
    token: &str,
    force: bool,
    now: u64,
) -> anyhow::Result<(KeyId, Answer)> {
    use anyhow::Context as _;
    let key_id = crate::keyfile::load_secret(key)?.public_key().id();
    let mut ledger = crate::ledger::Ledger::open(&crate::office::ledger_path(key, ledger))?;
    ledger.bind(key_id, key)?;
    let unknown = ledger.unknown_serials(key_id, serials)?;
    if !unknown.is_empty() && !force {
        anyhow::bail!("this ledger never issued serial(s) {unknown:?} for key {key_id}; check them, or pass --force");
    }
    ledger.record_revocations(key_id, serials, reason, now)?;
    let answer = send(server, token, key_id, serials, reason)
        .context("recorded in the ledger, not confirmed as sent; run the same command again")?;
    ledger.mark_sent(key_id, serials, now)?;
    Ok((key_id, answer))
}

/// The office's bearer token: given (a flag or `CHECKPASS_TOKEN`), or the first line of a
/// file or of standard input (`-`), so it never needs to be on a command line.
pub fn read_token(given: Option<String>, file: Option<&std::path::Path>) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use anyhow::Context as _;
    let text = match (given, file) {
        (Some(token), _) => token,
        (None, Some(path)) if path == std::path::Path::new("-") => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the token from standard input")?;
            line
        }
        (None, Some(path)) => pass_files::read_to_string_capped(path, pass_files::MAX_KEY_FILE)
            .with_context(|| format!("reading the token from {}", path.display()))?,
        (None, None) => anyhow::bail!("give the token with CHECKPASS_TOKEN, --token-file FILE or --token-file -"),
    };
    let token = zeroize::Zeroizing::new(text.lines().next().unwrap_or("").trim().to_owned());
    drop(zeroize::Zeroizing::new(text));
    anyhow::ensure!(!token.is_empty(), "the token is empty");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: KeyId = KeyId([0x11; 8]);

    #[test]
    fn only_an_answer_naming_key_serials_and_version_confirms() {
        let ok = r#"{"key_id":"1111111111111111","serials":[4,3],"version":7,"added":2,"already_revoked":0}"#;
        assert_eq!(check_answer(200, ok, KEY, &[3, 4]).expect("confirmed").version, 7);
        for (status, body) in [
            (200, "{}"),
            (200, ""),
            (200, "<html>captive portal</html>"),
            (200, r#"{"key_id":"2222222222222222","serials":[3,4],"version":7,"added":2,"already_revoked":0}"#),
            (200, r#"{"key_id":"1111111111111111","serials":[3],"version":7,"added":1,"already_revoked":0}"#),
            (200, r#"{"key_id":"1111111111111111","serials":[3,4],"version":0,"added":2,"already_revoked":0}"#),
            (500, ok),
        ] {
            assert!(check_answer(status, body, KEY, &[3, 4]).is_err(), "{status} {body}");
        }
    }

    #[test]
    fn a_servers_error_body_is_escaped() {
        let err = check_answer(403, "\u{1b}]0;owned\u{7}\u{1b}[2J no", KEY, &[1]).expect_err("refused").to_string();
        assert!(!err.chars().any(char::is_control), "{err:?}");
        assert!(err.contains("403"), "{err}");
    }

    #[test]
    fn plain_http_to_another_host_is_warned() {
        assert!(plain_http_warning("http://revocations.example:8080/v1/revocations").is_some());
        assert!(plain_http_warning("http://10.0.0.5/v1/revocations").is_some());
        assert!(plain_http_warning("http://127.0.0.1:8080/v1/revocations").is_none());
        assert!(plain_http_warning("http://localhost:8080/v1/revocations").is_none());
        assert!(plain_http_warning("http://[::1]:8080/v1/revocations").is_none());
        assert!(plain_http_warning("https://revocations.example/v1/revocations").is_none());
    }
}

/// Why sending revocations failed: they stay recorded in the ledger, unsent, for the next try.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No answer (connection, timeout).
    #[error("{url}: no answer: {reason}")]
    Network {
        /// Where it was sent.
        url: String,
        /// Why there was no answer.
        reason: String,
    },
    /// An answer that does not confirm them.
    #[error("{url}: {source}")]
    Answer {
        /// Where it was sent.
        url: String,
        /// What was wrong with the answer.
        source: AnswerError,
    },
}

/// Sends `serials` of `key_id` to the revocation server at `server` with the issuer's bearer
/// `token`, and checks that the answer confirms exactly them: the one way every tool sends
/// revocations (`pass-issuer revoke`, the office console). The caller marks them sent in the
/// ledger only on `Ok`.
pub fn send(server: &str, token: &str, key_id: KeyId, serials: &[u64], reason: &str) -> Result<Answer, SendError> {
    let url = format!("{}/v1/revocations", server.trim_end_matches('/'));
    let body = pass_core::api::RevokeRequest { key_id, serials: serials.to_vec(), reason: reason.to_owned() };
    let (status, text) = post_json(&url, token, &body)?;
    check_answer(status, &text, key_id, serials).map_err(|source| SendError::Answer { url, source })
}
