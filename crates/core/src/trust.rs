//! The trust list: which issuer keys a checkpoint accepts, and under which limits.
//!
//! ```toml
//! [authority]                       # signs revocation data and trust-list updates
//! name = "Example Authority"
//! key_id = "…"
//! public_key = "…"
//!
//! [[issuer]]
//! name = "广州市花都区工业和信息化局"
//! key_id = "0123456789abcdef"       # checked against public_key
//! public_key = "…"                  # base64url, 32 bytes
//! not_before = "2022-01-01"         # optional: passes issued before are refused
//! not_after = "2023-12-31"          # optional: passes issued after are refused
//! zones = ["440000", "310000"]      # optional: the zones this office may issue passes for
//! max_lifetime_days = 92            # optional (default 92): longest time from issue to expiry
//! division = "440114"              # optional: the office's county or city, the first six digits of its pass numbers
//! ```
//!
//! `max_lifetime_days` bounds what a leaked or withdrawn key can do: `issued_at` is chosen by
//! the signer, so a key revoked "for passes issued after T" can still sign passes that claim an
//! earlier issue time; with the bound, every such pass expires at most that many days after T.

use serde::Deserialize;

use crate::division::Division;
use crate::keys::{KeyError, KeyId, PublicKey};
use crate::time::{self, Bound};

/// Why a trust list was refused. A refused trust list is an error ("could not check"), never
/// a silently empty list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not valid TOML, or not the expected shape.
    #[error("trust list is not valid: {0}")]
    Syntax(String),
    /// An entry's key is unusable.
    #[error("trust list entry {name:?}: {source}")]
    Key {
        /// The entry's name.
        name: String,
        /// What is wrong with its key.
        source: KeyError,
    },
    /// An entry's other fields are wrong.
    #[error("trust list entry {name:?}: {problem}")]
    Entry {
        /// The entry's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Two entries share a key id.
    #[error("trust list names key id {0} twice")]
    DuplicateKeyId(KeyId),
}

/// An issuing office the checkpoint trusts.
#[derive(Clone, Debug)]
pub struct TrustedIssuer {
    /// Human name of the office.
    pub name: String,
    /// Its public key.
    pub key: PublicKey,
    /// Passes issued before this instant are refused.
    pub not_before: Option<u64>,
    /// Passes issued after this instant are refused.
    pub not_after: Option<u64>,
    /// When set, every zone of a pass must lie within one of these.
    pub zones: Option<Vec<Division>>,
    /// Longest time from `issued_at` to `valid_until` this office's passes may have, seconds.
    pub max_lifetime: u64,
    /// The office's home division (its county or city), signed with the entry by the
    /// authority: the first six digits of the office's pass numbers.
    pub division: Option<Division>,
}

/// The default bound on a pass's lifetime (issue to expiry), in days: a quarter, well under
/// the format's 366-day cap on validity. A trust-list entry may set its own.
pub const DEFAULT_MAX_LIFETIME_DAYS: u32 = 92;

/// The largest `max_lifetime_days` a trust list may give (the format's cap on validity).
pub const MAX_LIFETIME_DAYS: u32 = 366;

impl TrustedIssuer {
    /// Whether the office was trusted to sign at `issued_at`.
    pub fn trusted_at(&self, issued_at: u64) -> bool {
        self.not_before.is_none_or(|t| issued_at >= t) && self.not_after.is_none_or(|t| issued_at <= t)
    }

    /// Whether a pass issued at `issued_at` and valid until `valid_until` stays within the
    /// office's lifetime bound.
    pub fn lifetime_allowed(&self, issued_at: u64, valid_until: u64) -> bool {
        valid_until.saturating_sub(issued_at) <= self.max_lifetime
    }

    /// The first pass zone that lies outside the office's authorised zones, if any.
    pub fn zone_outside_authority(&self, pass_zones: &[Division]) -> Option<Division> {
        let allowed = self.zones.as_ref()?;
        pass_zones.iter().copied().find(|zone| !allowed.iter().any(|a| a.covers(*zone)))
    }
}

/// The authority whose key signs revocation data and trust-list updates.
#[derive(Clone, Debug)]
pub struct Authority {
    /// Human name.
    pub name: String,
    /// Its public key.
    pub key: PublicKey,
}

/// A parsed, checked trust list.
#[derive(Clone, Debug, Default)]
pub struct TrustList {
    /// The authority, when configured (single-authority mode).
    pub authority: Option<Authority>,
    /// The national root, when configured instead (`[root]`: many authorities, each listed in
    /// the root's signed authority list, `crate::authorities`).
    pub root: Option<Authority>,
    /// The trusted issuers, with distinct key ids.
    pub issuers: Vec<TrustedIssuer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    authority: Option<KeyEntry>,
    root: Option<KeyEntry>,
    #[serde(default, rename = "issuer")]
    issuers: Vec<IssuerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    key_id: KeyId,
    public_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    name: String,
    key_id: KeyId,
    public_key: String,
    not_before: Option<String>,
    not_after: Option<String>,
    zones: Option<Vec<String>>,
    max_lifetime_days: Option<u32>,
    division: Option<String>,
}

impl TrustList {
    /// Parses and checks a TOML trust list. Times without an offset are read in Asia/Shanghai.
    pub fn from_toml(text: &str) -> Result<Self, TrustError> {
        let file: File = toml::from_str(text).map_err(|e| TrustError::Syntax(e.message().to_owned()))?;
        let key = |name: &str, encoded: &str, id| {
            PublicKey::parse(encoded, Some(id)).map_err(|source| TrustError::Key { name: name.to_owned(), source })
        };
        let authority = match file.authority {
            Some(a) => Some(Authority { key: key(&a.name, &a.public_key, a.key_id)?, name: a.name }),
            None => None,
        };
        let root = match file.root {
            Some(r) => Some(Authority { key: key(&r.name, &r.public_key, r.key_id)?, name: r.name }),
            None => None,
        };
        if authority.is_some() && root.is_some() {
            return Err(TrustError::Syntax(
                "name either [authority] (one authority) or [root] (the authorities the root lists), not both".into(),
            ));
        }
        let tz = time::default_zone();
        let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(file.issuers.len());
        for entry in file.issuers {
            let problem = |problem: String| TrustError::Entry { name: entry.name.clone(), problem };
            let when = |t: &Option<String>, bound| {
                t.as_deref().map(|t| time::parse_instant(t, &tz, bound).map_err(|e| problem(e.to_string()))).transpose()
            };
            let issuer = TrustedIssuer {
                key: key(&entry.name, &entry.public_key, entry.key_id)?,
                not_before: when(&entry.not_before, Bound::StartOfDay)?,
                not_after: when(&entry.not_after, Bound::EndOfDay)?,
                zones: entry
                    .zones
                    .as_ref()
                    .map(|zones| {
                        zones
                            .iter()
                            .map(|z| z.parse::<Division>().map_err(|e| problem(e.to_string())))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?,
                max_lifetime: match entry.max_lifetime_days.unwrap_or(DEFAULT_MAX_LIFETIME_DAYS) {
                    days @ 1..=MAX_LIFETIME_DAYS => u64::from(days) * 86_400,
                    days => {
                        return Err(problem(format!("max_lifetime_days = {days}: must be 1 to {MAX_LIFETIME_DAYS}")));
                    }
                },
                division: entry
                    .division
                    .as_deref()
                    .map(|d| d.parse::<Division>().map_err(|e| problem(format!("division: {e}"))))
                    .transpose()?,
                name: entry.name.clone(),
            };
            if issuers.iter().any(|i| i.key.id() == issuer.key.id()) {
                return Err(TrustError::DuplicateKeyId(issuer.key.id()));
            }
            issuers.push(issuer);
        }
        Ok(Self { authority, root, issuers })
    }

    /// The issuer with this key id.
    pub fn issuer(&self, id: KeyId) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| i.key.id() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn entry(seed: u8, extra: &str) -> String {
        let key = SecretKey::from_seed(&[seed; 32]).public_key();
        format!(
            "[[issuer]]\nname = \"office {seed}\"\nkey_id = \"{}\"\npublic_key = \"{}\"\n{extra}\n",
            key.id(),
            key.encode()
        )
    }

    #[test]
    fn parses_limits() {
        let list =
            TrustList::from_toml(&entry(1, "not_before = \"2022-01-01\"\nzones = [\"440000\"]")).expect("parses");
        let issuer = &list.issuers[0];
        assert!(!issuer.trusted_at(1_640_966_399));
        assert!(issuer.trusted_at(1_640_966_400));
        let zones = ["440114".parse().expect("code"), "310000".parse().expect("code")];
        assert_eq!(issuer.zone_outside_authority(&zones), Some(zones[1]));
        assert!(issuer.lifetime_allowed(0, 92 * 86_400));
        assert!(!issuer.lifetime_allowed(0, 92 * 86_400 + 1));
        let longer = TrustList::from_toml(&entry(1, "max_lifetime_days = 200")).expect("parses");
        assert!(longer.issuers[0].lifetime_allowed(0, 200 * 86_400));
    }

    #[test]
    fn an_entry_names_its_division() {
        let list = TrustList::from_toml(&entry(1, "division = \"440114\"")).expect("parses");
        assert_eq!(list.issuers[0].division, Division::new(440_114).ok());
        assert_eq!(TrustList::from_toml(&entry(1, "")).expect("parses").issuers[0].division, None);
        for bad in ["division = \"99\"", "division = \"990000\"", "division = 440114"] {
            assert!(TrustList::from_toml(&entry(1, bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_root_instead_of_an_authority() {
        let key = SecretKey::from_seed(&[7; 32]).public_key();
        let section = |name: &str| {
            format!("[{name}]\nname = \"国家\"\nkey_id = \"{}\"\npublic_key = \"{}\"\n", key.id(), key.encode())
        };
        let rooted = TrustList::from_toml(&section("root")).expect("parses");
        assert_eq!((rooted.root.map(|r| r.key), rooted.authority.is_none()), (Some(key), true));
        let both = format!("{}{}", section("root"), section("authority"));
        assert!(TrustList::from_toml(&both).expect_err("both").to_string().contains("not both"));
    }

    #[test]
    fn refuses_bad_lists() {
        let dup = format!("{}{}", entry(1, ""), entry(1, "").replace("office 1", "again"));
        assert!(matches!(TrustList::from_toml(&dup), Err(TrustError::DuplicateKeyId(_))));
        let wrong_id =
            entry(1, "").replace(&SecretKey::from_seed(&[1; 32]).public_key().id().to_string(), "0000000000000000");
        assert!(matches!(TrustList::from_toml(&wrong_id), Err(TrustError::Key { .. })));
        assert!(TrustList::from_toml(&entry(1, "zones = [\"4401\"]")).is_err());
        assert!(TrustList::from_toml(&entry(1, "colour = \"red\"")).is_err());
        assert!(TrustList::from_toml(&entry(1, "max_lifetime_days = 0")).is_err());
        assert!(TrustList::from_toml(&entry(1, "max_lifetime_days = 400")).is_err());
        assert!(TrustList::from_toml("this is not toml [").is_err());
    }
}
