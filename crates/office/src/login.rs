//! Logging in, without HTTP types: the per-address throttle, the per-account lockout, and a cap
//! on password checks running at once, all holding under a race.
//!
//! Every attempt **reserves its failure slot before argon2 runs**: an attempt in flight counts
//! as a failure until it is decided, for its address and for its account. Twelve guesses sent at
//! once therefore get at most [`auth::MAX_FAILED`] password checks between them; the rest are
//! refused at once, as the lockout would refuse them. (Before, every parallel guess read the
//! same counter, and 59 of 60 were checked before the right one was let in.) At most
//! [`MAX_HASHING`] checks run at once (argon2id takes 19 MiB each): 300 parallel logins no
//! longer take a gigabyte. A login name longer than any account's is refused before any work,
//! and an unknown login name is never stored: the audit trail keeps a short hash of it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex};

use sha2::{Digest as _, Sha256};

use crate::auth;
use crate::db::{self, Account};
use crate::{Office, workflow};

/// Password checks at once.
pub const MAX_HASHING: usize = 4;
/// The longest login name an account has (`create_account` refuses longer ones).
pub const MAX_LOGIN_CHARS: usize = 64;
/// The longest password checked.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What the console keeps in memory about logins.
#[derive(Default)]
pub struct Throttle {
    state: Mutex<Attempts>,
    hashing: Mutex<usize>,
    freed: Condvar,
}

#[derive(Default)]
struct Attempts {
    /// Failed logins by address, their times.
    failures: HashMap<IpAddr, Vec<u64>>,
    /// Attempts in flight by address.
    pending_address: HashMap<IpAddr, usize>,
    /// Attempts in flight by account id.
    pending_account: HashMap<i64, usize>,
}

/// How a login ended.
#[derive(Debug)]
pub enum Outcome {
    /// The password is right: the account (a session is for the caller to make).
    In(Box<Account>),
    /// Wrong login or password (an unknown login answers the same).
    Wrong,
    /// The account is locked (five failures, or failures in flight that would make five).
    Locked,
    /// Too many failures from this address.
    Throttled,
    /// The account is disabled.
    Disabled,
}

/// An attempt's reserved slots, given back when it is decided (or fails).
struct Reserved<'a> {
    throttle: &'a Throttle,
    address: IpAddr,
    account: Option<i64>,
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        let mut state = self.throttle.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = state.pending_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
        }
        if let Some(id) = self.account
            && let Some(n) = state.pending_account.get_mut(&id)
        {
            *n = n.saturating_sub(1);
        }
    }
}

impl Throttle {
    /// Runs `check` with at most [`MAX_HASHING`] others.
    fn hashing<T>(&self, check: impl FnOnce() -> T) -> T {
        let mut running = self.hashing.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= MAX_HASHING {
            running = self.freed.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        drop(running);
        let result = check();
        *self.hashing.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.freed.notify_one();
        result
    }
}

/// A short stand-in for a login name that is not stored as typed.
fn stand_in(login: &str) -> String {
    let digest = Sha256::digest(login.as_bytes());
    format!("(unknown login {:02x}{:02x}{:02x}{:02x})", digest[0], digest[1], digest[2], digest[3])
}

/// One login attempt of `login` with `password` from `address`, at `now`; recorded in the
/// audit trail.
pub fn attempt(office: &Office, address: IpAddr, login: &str, password: &str) -> anyhow::Result<Outcome> {
    let throttle = &office.throttle;
    let now = office.now();
    if login.chars().count() > MAX_LOGIN_CHARS || password.len() > MAX_PASSWORD_BYTES {
        workflow::audit(office, "(too long)", "login_failed", "login or password longer than any account's")?;
        return Ok(Outcome::Wrong);
    }
    // The address's slot, before anything else.
    let account = db::account_by_login(&*office.db()?, login)?;
    let reserved = {
        let mut state = throttle.state.lock().map_err(|_| anyhow::anyhow!("throttle lock poisoned"))?;
        let failures = state.failures.entry(address).or_default();
        failures.retain(|t| now.saturating_sub(*t) < auth::LOCKOUT);
        let failed = failures.len();
        let pending = state.pending_address.get(&address).copied().unwrap_or(0);
        if failed + pending >= auth::MAX_FAILED_PER_ADDRESS {
            return Ok(Outcome::Throttled);
        }
        *state.pending_address.entry(address).or_default() += 1;
        let mut reserved = Reserved { throttle, address, account: None };
        if let Some(account) = &account {
            // The account's slot: failures recorded plus attempts in flight.
            if account.locked_until > now {
                drop(state);
                drop(reserved);
                workflow::audit(office, &account.login, "login_refused", "account locked")?;
                return Ok(Outcome::Locked);
            }
            let pending = state.pending_account.get(&account.id).copied().unwrap_or(0);
            if account.failed_logins.max(0) as usize + pending >= auth::MAX_FAILED as usize {
                drop(state);
                drop(reserved);
                workflow::audit(office, &account.login, "login_refused", "failures in flight would lock it")?;
                return Ok(Outcome::Locked);
            }
            *state.pending_account.entry(account.id).or_default() += 1;
            reserved.account = Some(account.id);
        }
        reserved
    };
    let Some(account) = account else {
        throttle.hashing(|| auth::verify_password(password, auth::dummy_hash()));
        note_failure(throttle, address, now);
        drop(reserved);
        workflow::audit(office, &stand_in(login), "login_failed", "unknown login")?;
        return Ok(Outcome::Wrong);
    };
    if !throttle.hashing(|| auth::verify_password(password, &account.password_hash)) {
        note_failure(throttle, address, now);
        let locked = db::note_failed_login(&*office.db()?, account.id, auth::MAX_FAILED, now + auth::LOCKOUT)?;
        drop(reserved);
        let detail = if locked { "wrong password; account locked" } else { "wrong password" };
        workflow::audit(office, &account.login, "login_failed", detail)?;
        return Ok(Outcome::Wrong);
    }
    db::set_failed_logins(&*office.db()?, account.id, 0, 0)?;
    drop(reserved);
    if account.disabled {
        workflow::audit(office, &account.login, "login_refused", "account disabled")?;
        return Ok(Outcome::Disabled);
    }
    Ok(Outcome::In(Box::new(account)))
}

fn note_failure(throttle: &Throttle, address: IpAddr, now: u64) {
    let mut state = throttle.state.lock().unwrap_or_else(|p| p.into_inner());
    state.failures.entry(address).or_default().push(now);
}

/// Whether `login` may name an account: 1 to 64 characters, no spaces or control characters.
pub fn is_valid_login(login: &str) -> bool {
    !login.is_empty() && login.chars().count() <= 64 && !login.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_login_is_kept_as_a_short_hash() {
        let shown = stand_in(&"x".repeat(1 << 20));
        assert!(shown.len() < 40 && shown.starts_with("(unknown login "), "{shown}");
        assert_ne!(stand_in("alice"), stand_in("bob"));
    }

    #[test]
    fn no_more_than_the_cap_check_passwords_at_once() {
        let throttle = std::sync::Arc::new(Throttle::default());
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (throttle, running, most) = (throttle.clone(), running.clone(), most.clone());
                std::thread::spawn(move || {
                    throttle.hashing(|| {
                        let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("joins");
        }
        assert!(most.load(std::sync::atomic::Ordering::SeqCst) <= MAX_HASHING);
    }
}
