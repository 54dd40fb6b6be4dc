//! The national root's **authority list**: which authorities (one per province or group of
//! provinces) a checkpoint recognises, each with its key, the provinces it governs and where it
//! publishes. Signed by the root key as an authority document of kind 5
//! ([`crate::authority::DocKind::AuthorityList`]); the root key is offline and rarely used, and
//! a checkpoint names it in its trust file's `[root]` section.
//!
//! Rules (docs/FORMAT.md, "Authority list"):
//! - the list has a monotonic `version` and `issued_at`; a checkpoint never goes back to a
//!   lower version, and the same version must be the same list;
//! - an authority's issuers must have their home `division` in one of its provinces
//!   ([`AuthorityEntry::governs`]); an issuer entry that breaks the rule is refused
//!   (`issuer_outside_authority`) and the rest of its list kept;
//! - a province is governed by at most one authority, and an authority removed from the list
//!   (or outside its validity window) is no longer trusted: its issuers stop verifying.

use serde::{Deserialize, Serialize};

use crate::authority::{self, DocError, DocKind};
use crate::division::Division;
use crate::keys::{KeyId, PublicKey};
use crate::time::{self, Bound};

/// How old the root's list of authorities may grow at a checkpoint before every verdict warns
/// `authority_list_stale`. The root re-signs its list (a new version, the same content or not)
/// at least weekly, so a list older than this is being withheld on the way (a mirror hiding an
/// authority the root removed) or the checkpoint has not reached the root's word for that long.
pub const MAX_LIST_AGE: u64 = 14 * 86_400;

/// Most authorities in a list (China has 34 provincial-level divisions).
pub const MAX_AUTHORITIES: usize = 64;
/// Most base URLs an authority lists.
pub const MAX_URLS: usize = 8;
/// Longest base URL, in bytes.
pub const MAX_URL_LEN: usize = 256;
/// Longest authority name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The digest a combined heartbeat file gives for a signed authority list.
pub fn list_digest(signed: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new().chain_update(b"checkpass authority list v1\0").chain_update(signed).finalize().into()
}

/// One authority in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityEntry {
    /// Human name, e.g. "广东省".
    pub name: String,
    /// Its Ed25519 public key (raw bytes).
    pub key: [u8; 32],
    /// The province-level division codes it governs (GB/T 2260, `PP0000`).
    pub provinces: Vec<u32>,
    /// Base URLs where it publishes its signed documents (its server, or a static copy).
    pub urls: Vec<String>,
    /// Trusted from this instant (Unix seconds), when set.
    pub not_before: Option<u64>,
    /// Trusted until this instant (Unix seconds), when set.
    pub not_after: Option<u64>,
}

/// The signed list of authorities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityList {
    /// Monotonic version; a checkpoint never goes back to a lower one.
    pub version: u64,
    /// When the root signed it, Unix seconds.
    pub issued_at: u64,
    /// The authorities, in the order listed.
    pub authorities: Vec<AuthorityEntry>,
}

/// Why an authority list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The signed document is wrong (signature, kind, encoding).
    #[error("authority list: {0}")]
    Document(#[from] DocError),
    /// The TOML text does not parse.
    #[error("authority list: {0}")]
    Syntax(String),
    /// One entry breaks a rule.
    #[error("authority list, entry {name:?}: {problem}")]
    Entry {
        /// The entry's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The list as a whole breaks a rule.
    #[error("authority list: {0}")]
    Invalid(String),
}

impl AuthorityEntry {
    /// The authority's public key.
    pub fn public_key(&self) -> Result<PublicKey, ListError> {
        PublicKey::from_bytes(&self.key)
            .map_err(|e| ListError::Entry { name: self.name.clone(), problem: e.to_string() })
    }

    /// Its key id.
    pub fn key_id(&self) -> Option<KeyId> {
        PublicKey::from_bytes(&self.key).ok().map(|k| k.id())
    }

    /// Whether `division` lies in one of its provinces.
    pub fn governs(&self, division: Division) -> bool {
        self.provinces.contains(&(division.code() / 10_000 * 10_000))
    }

    /// Whether it is within its validity window at `t`.
    pub fn active_at(&self, t: u64) -> bool {
        self.not_before.is_none_or(|nb| t >= nb) && self.not_after.is_none_or(|na| t <= na)
    }

    fn check(&self) -> Result<(), ListError> {
        let problem = |problem: String| ListError::Entry { name: self.name.clone(), problem };
        let chars = self.name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || self.name.chars().any(char::is_control) {
            return Err(problem(format!("a name is 1 to {MAX_NAME_CHARS} printable characters")));
        }
        self.public_key()?;
        if self.provinces.is_empty() {
            return Err(problem("it governs no province".into()));
        }
        for &code in &self.provinces {
            let division = Division::new(code).map_err(|e| problem(e.to_string()))?;
            if division.code() % 10_000 != 0 {
                return Err(problem(format!("{division} is not a province-level code (PP0000)")));
            }
        }
        if self.urls.len() > MAX_URLS {
            return Err(problem(format!("more than {MAX_URLS} URLs")));
        }
        for url in &self.urls {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok || url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(problem(format!("{url:?} is not an http(s) URL of at most {MAX_URL_LEN} bytes")));
            }
        }
        if let (Some(from), Some(until)) = (self.not_before, self.not_after)
            && from > until
        {
            return Err(problem("not_before is after not_after".into()));
        }
        Ok(())
    }
}

impl AuthorityList {
    /// Checks every rule of the list: each entry, distinct keys, each province governed by at
    /// most one authority.
    pub fn check(&self) -> Result<(), ListError> {
        if self.authorities.len() > MAX_AUTHORITIES {
            return Err(ListError::Invalid(format!("more than {MAX_AUTHORITIES} authorities")));
        }
        for (i, entry) in self.authorities.iter().enumerate() {
            entry.check()?;
            for earlier in &self.authorities[..i] {
                if earlier.key == entry.key {
                    return Err(ListError::Invalid(format!("{} and {} have the same key", earlier.name, entry.name)));
                }
                if let Some(p) = entry.provinces.iter().find(|p| earlier.provinces.contains(p)) {
                    return Err(ListError::Invalid(format!(
                        "province {p:06} is governed by both {} and {}",
                        earlier.name, entry.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// The authority with this key id.
    pub fn authority(&self, id: KeyId) -> Option<&AuthorityEntry> {
        self.authorities.iter().find(|a| a.key_id() == Some(id))
    }

    /// The authority that governs `division`'s province.
    pub fn governing(&self, division: Division) -> Option<&AuthorityEntry> {
        self.authorities.iter().find(|a| a.governs(division))
    }

    /// The body that is signed.
    pub fn body(&self) -> Vec<u8> {
        authority::encode_body(self)
    }

    /// Signs the list with the root key.
    #[cfg(feature = "sign")]
    pub fn sign(&self, root: &crate::keys::SecretKey) -> Vec<u8> {
        authority::sign(DocKind::AuthorityList, &self.body(), root)
    }

    /// Opens a signed list: the root's signature, the kind, a strict body, and every rule.
    pub fn open(bytes: &[u8], root: &PublicKey) -> Result<AuthorityList, ListError> {
        match authority::open(bytes, root)? {
            (DocKind::AuthorityList, body) => {
                let list: AuthorityList = authority::decode_body(body)?;
                list.check()?;
                Ok(list)
            }
            (kind, _) => Err(DocError::WrongKind(kind as u8).into()),
        }
    }

    /// Reads the TOML the root's operator writes (`pass-server authorities sign`), signed at
    /// `issued_at`. Times without an offset are read in Asia/Shanghai.
    ///
    /// ```toml
    /// version = 3
    ///
    /// [[authority]]
    /// name = "广东省"
    /// key_id = "…"
    /// public_key = "…"            # base64url, as in a .pub file
    /// provinces = ["440000"]
    /// urls = ["https://checkpass.gd.example/"]
    /// not_after = "2027-12-31"    # optional, and not_before
    /// ```
    pub fn from_toml(text: &str, issued_at: u64) -> Result<AuthorityList, ListError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            version: u64,
            #[serde(default, rename = "authority")]
            authorities: Vec<Entry>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            name: String,
            key_id: KeyId,
            public_key: String,
            provinces: Vec<String>,
            #[serde(default)]
            urls: Vec<String>,
            not_before: Option<String>,
            not_after: Option<String>,
        }
        let file: File = toml::from_str(text).map_err(|e| ListError::Syntax(e.message().to_owned()))?;
        let tz = time::default_zone();
        let mut authorities = Vec::with_capacity(file.authorities.len());
        for entry in file.authorities {
            let problem = |problem: String| ListError::Entry { name: entry.name.clone(), problem };
            let key = PublicKey::parse(&entry.public_key, Some(entry.key_id)).map_err(|e| problem(e.to_string()))?;
            let when = |t: &Option<String>, bound| {
                t.as_deref().map(|t| time::parse_instant(t, &tz, bound).map_err(|e| problem(e.to_string()))).transpose()
            };
            let provinces = entry
                .provinces
                .iter()
                .map(|p| p.parse::<Division>().map(Division::code).map_err(|e| problem(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            authorities.push(AuthorityEntry {
                name: entry.name.clone(),
                key: key.verifying_key().to_bytes(),
                provinces,
                urls: entry.urls.clone(),
                not_before: when(&entry.not_before, Bound::StartOfDay)?,
                not_after: when(&entry.not_after, Bound::EndOfDay)?,
            });
        }
        let list = AuthorityList { version: file.version, issued_at, authorities };
        list.check()?;
        Ok(list)
    }

    /// Whether `next` may replace this list at a checkpoint: a higher version, or the same
    /// version with the same content (anything else is a rollback or an equivocation).
    pub fn may_be_replaced_by(&self, next: &AuthorityList) -> Result<(), ListError> {
        if next.version < self.version {
            return Err(ListError::Invalid(format!(
                "version {} is older than the version held ({}): a rollback",
                next.version, self.version
            )));
        }
        if next.version == self.version && next != self {
            return Err(ListError::Invalid(format!("version {} offered with other content than held", next.version)));
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn toml_entry(seed: u8, name: &str, provinces: &str) -> String {
        let key = SecretKey::from_seed(&[seed; 32]).public_key();
        format!(
            "[[authority]]\nname = \"{name}\"\nkey_id = \"{}\"\npublic_key = \"{}\"\nprovinces = [{provinces}]\nurls = [\"https://{seed}.example/\"]\n",
            key.id(),
            key.encode()
        )
    }

    #[test]
    fn a_list_is_signed_by_the_root_and_opened_with_it_only() {
        let text =
            format!("version = 2\n{}{}", toml_entry(1, "广东省", "\"440000\""), toml_entry(2, "上海市", "\"310000\""));
        let list = AuthorityList::from_toml(&text, 1_795_000_000).expect("parses");
        let root = SecretKey::from_seed(&[9; 32]);
        let signed = list.sign(&root);
        assert_eq!(AuthorityList::open(&signed, &root.public_key()).expect("opens"), list);
        let huadu = Division::new(440_114).expect("code");
        assert_eq!(list.governing(huadu).map(|a| a.name.as_str()), Some("广东省"));
        assert!(list.governing(Division::new(320_583).expect("code")).is_none());
        // Another key, or an authority's document passed off as a list: refused.
        let other = SecretKey::from_seed(&[8; 32]);
        assert!(AuthorityList::open(&signed, &other.public_key()).is_err());
        let beat = authority::sign(DocKind::TrustList, &list.body(), &root);
        assert!(matches!(
            AuthorityList::open(&beat, &root.public_key()),
            Err(ListError::Document(DocError::WrongKind(3)))
        ));
        // One flipped bit anywhere: refused.
        for i in [3, 12, signed.len() / 2, signed.len() - 1] {
            let mut bad = signed.clone();
            bad[i] ^= 1;
            assert!(AuthorityList::open(&bad, &root.public_key()).is_err(), "byte {i}");
        }
    }

    #[test]
    fn the_rules_of_a_list() {
        let ok = |text: &str| AuthorityList::from_toml(&format!("version = 1\n{text}"), 0);
        assert!(ok(&toml_entry(1, "广东省", "\"440000\"")).is_ok());
        for (text, says) in [
            (toml_entry(1, "广东省", "\"440100\""), "province-level"),
            (toml_entry(1, "广东省", ""), "no province"),
            (toml_entry(1, "", "\"440000\""), "name"),
            (format!("{}{}", toml_entry(1, "广东省", "\"440000\""), toml_entry(2, "又一个", "\"440000\"")), "both"),
            (format!("{}{}", toml_entry(1, "广东省", "\"440000\""), toml_entry(1, "同钥", "\"310000\"")), "same key"),
            (toml_entry(1, "广东省", "\"440000\"").replace("https://", "ftp://"), "URL"),
            (toml_entry(1, "广东省", "\"440000\"").replace("urls", "colour"), "colour"),
        ] {
            let error = ok(&text).expect_err(says).to_string();
            assert!(error.contains(says), "{says}: {error}");
        }
        let old = ok(&toml_entry(1, "广东省", "\"440000\"")).expect("parses");
        let mut newer = old.clone();
        newer.version = 2;
        assert!(old.may_be_replaced_by(&newer).is_ok());
        assert!(newer.may_be_replaced_by(&old).is_err(), "a rollback");
        let mut other = old.clone();
        other.authorities[0].urls.clear();
        assert!(old.may_be_replaced_by(&other).is_err(), "equivocation");
        assert!(old.may_be_replaced_by(&old).is_ok());
    }
}
