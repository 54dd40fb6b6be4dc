//! Passwords, session ids and CSRF tokens.
//!
//! - Passwords: argon2id with the argon2 crate's defaults (19 MiB, 2 passes), stored as a PHC
//!   string; never stored or logged in clear.
//! - Sessions: a random 256-bit id in an HttpOnly, SameSite=Strict cookie (Secure behind TLS);
//!   only its SHA-256 is stored, so a copy of the database logs no one in. They end after
//!   [`IDLE`] without a request or [`ABSOLUTE`] in all, and at logout.
//! - CSRF: a random token per session, in a hidden field of every form that changes state,
//!   compared in constant time.
//! - Lockout: [`MAX_FAILED`] failed logins in a row lock the account for [`LOCKOUT`].

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A session ends after this long without a request.
pub const IDLE: u64 = 30 * 60;
/// A session ends this long after login, whatever happens.
pub const ABSOLUTE: u64 = 12 * 3600;
/// Failed logins in a row that lock an account.
pub const MAX_FAILED: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT: u64 = 15 * 60;
/// Failed logins from one address in [`LOCKOUT`] before it is refused outright (a guesser
/// trying many accounts, each below its own lockout).
pub const MAX_FAILED_PER_ADDRESS: usize = 20;
/// Shortest password an account may set.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password could not be hashed or set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short.
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// The hasher failed (no randomness).
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// The argon2id hash of `password`, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored `hash` (constant time inside argon2).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash that no password matches, verified against for unknown logins so that a login
/// name's existence does not show in the answer's time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| random_token().and_then(|t| hash_password(&t).ok()).unwrap_or_default())
}

/// 256 random bits, base64url.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// A password for a new account, shown once: 16 characters of base64url (96 bits).
pub fn one_time_password() -> Option<String> {
    random_token().map(|t| t[..16].to_owned())
}

/// What is stored of a session id.
pub fn session_hash(id: &str) -> Vec<u8> {
    Sha256::new().chain_update(b"checkpass office session v1\0").chain_update(id.as_bytes()).finalize().to_vec()
}

/// Whether a form's CSRF token is the session's.
pub fn csrf_matches(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse battery").expect("hashes");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(matches!(hash_password("short"), Err(PasswordError::TooShort)));
        assert!(!verify_password("", dummy_hash()));
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (random_token().expect("random"), random_token().expect("random"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(csrf_matches(&a, &a.clone()));
        assert!(!csrf_matches(&a, &b));
        assert!(!csrf_matches(&a[..42], &a));
        assert_ne!(session_hash(&a), session_hash(&b));
    }
}
