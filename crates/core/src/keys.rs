//! Key ids, public keys, secret keys and their file forms.
//!
//! - A **key id** is the first 8 bytes of SHA-256(`"checkpass key id v1\0"` ‖ public key). It selects
//!   the key in the trust list; the signature is still checked against the full key.
//! - A **public key** is written as base64url without padding (43 characters).
//! - A **secret key** file is PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `openssl` writes it.
//! - A **`.pub` file** is a small TOML document: `name`, `key_id`, `public_key`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 8;
const KEY_ID_DOMAIN: &[u8] = b"checkpass key id v1\0";

/// Why a key or key file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key id is not 16 hexadecimal digits.
    #[error("key id {0:?} is not 16 hexadecimal digits")]
    BadKeyId(String),
    /// A public key is not 43 characters of base64url.
    #[error("public key is not 32 bytes of base64url: {0}")]
    BadPublicKeyEncoding(String),
    /// The bytes are not a usable Ed25519 public key (not a curve point, or of small order).
    #[error("public key is not a valid Ed25519 key (or is a weak, small-order key)")]
    WeakOrInvalidPublicKey,
    /// The key id written beside a public key does not belong to it.
    #[error("key id {written} does not match the public key (its key id is {actual})")]
    KeyIdMismatch {
        /// The id in the file.
        written: KeyId,
        /// The id derived from the key.
        actual: KeyId,
    },
    /// The secret key file is not an Ed25519 PKCS#8 PEM document.
    #[error("not an Ed25519 private key in PKCS#8 PEM form")]
    BadSecretKey,
    /// A `.pub` file is not valid TOML of the expected shape.
    #[error("public key file: {0}")]
    BadPublicKeyFile(String),
}

/// An issuer's or authority's key id: 8 bytes, written as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// Derives the key id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::new().chain_update(KEY_ID_DOMAIN).chain_update(key.as_bytes()).finalize();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadKeyId(s.to_owned());
        if s.len() != 2 * KEY_ID_LEN || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut id = [0; KEY_ID_LEN];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(id))
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 public key with its key id. Weak (small-order) keys are refused on construction.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// Wraps 32 raw bytes, refusing invalid and small-order keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::WeakOrInvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::WeakOrInvalidPublicKey);
        }
        Ok(Self { key, id: KeyId::of(&key) })
    }

    /// Parses the base64url form, and checks it against a key id written beside it when given.
    pub fn parse(encoded: &str, expected_id: Option<KeyId>) -> Result<Self, KeyError> {
        let raw = URL_SAFE_NO_PAD.decode(encoded.trim()).map_err(|e| KeyError::BadPublicKeyEncoding(e.to_string()))?;
        let bytes: [u8; 32] =
            raw.try_into().map_err(|v: Vec<u8>| KeyError::BadPublicKeyEncoding(format!("{} bytes", v.len())))?;
        let key = Self::from_bytes(&bytes)?;
        match expected_id {
            Some(written) if written != key.id => Err(KeyError::KeyIdMismatch { written, actual: key.id }),
            _ => Ok(key),
        }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The underlying verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The base64url form (43 characters).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.as_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.id, self.encode())
    }
}

/// The `.pub` file beside a secret key: who it is and the public half, as TOML.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyFile {
    /// Human name of the key owner (issuing office or authority).
    pub name: String,
    /// The key id.
    pub key_id: KeyId,
    /// The public key, base64url.
    pub public_key: String,
    /// An issuing office's home division (six digits): the first six digits of its pass
    /// numbers, carried into its trust-list entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
}

impl PublicKeyFile {
    /// Describes `key` under `name`, of an office at `division` when given.
    pub fn new(name: &str, key: &PublicKey, division: Option<crate::Division>) -> Self {
        Self {
            name: name.to_owned(),
            key_id: key.id(),
            public_key: key.encode(),
            division: division.map(|d| d.to_string()),
        }
    }

    /// Parses a `.pub` file and checks that its key id matches its key and that its division,
    /// if any, is a valid code.
    pub fn parse(text: &str) -> Result<(Self, PublicKey), KeyError> {
        let file: Self = toml::from_str(text).map_err(|e| KeyError::BadPublicKeyFile(e.message().to_owned()))?;
        let key = PublicKey::parse(&file.public_key, Some(file.key_id))?;
        file.division()?;
        Ok((file, key))
    }

    /// The office's home division, if the file names one.
    pub fn division(&self) -> Result<Option<crate::Division>, KeyError> {
        self.division
            .as_deref()
            .map(|d| d.parse().map_err(|e| KeyError::BadPublicKeyFile(format!("division: {e}"))))
            .transpose()
    }

    /// The file's text, with a comment saying what it is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# checkpass public key: safe to share; add it to a trust list ([[issuer]], [authority] or [root]: `pass-issuer trust-entry` prints the section)\n{body}"
        )
    }
}

#[cfg(feature = "sign")]
pub use secret::SecretKey;

#[cfg(feature = "sign")]
mod secret {
    use ed25519_dalek::SigningKey;
    use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
    use zeroize::Zeroizing;

    use super::{KeyError, PublicKey};

    /// An Ed25519 signing key. No `Debug`, no `Clone`; zeroized on drop (ed25519-dalek's
    /// `zeroize` feature). Never log it.
    pub struct SecretKey(SigningKey);

    impl SecretKey {
        /// Builds a key from a 32-byte seed (from the OS random generator, or a test).
        pub fn from_seed(seed: &[u8; 32]) -> Self {
            Self(SigningKey::from_bytes(seed))
        }

        /// Parses a PKCS#8 PEM document.
        pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
            SigningKey::from_pkcs8_pem(pem).map(Self).map_err(|_| KeyError::BadSecretKey)
        }

        /// The PKCS#8 PEM document (zeroized when dropped).
        pub fn to_pem(&self) -> Result<Zeroizing<String>, KeyError> {
            self.0.to_pkcs8_pem(LineEnding::LF).map_err(|_| KeyError::BadSecretKey)
        }

        /// The public half.
        pub fn public_key(&self) -> PublicKey {
            PublicKey::from_bytes(self.0.verifying_key().as_bytes()).expect("a signing key's public half is never weak")
        }

        pub(crate) fn signing_key(&self) -> &SigningKey {
            &self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_round_trip_and_mismatches_are_caught() {
        let a = SecretKey::from_seed(&[7; 32]).public_key();
        let b = SecretKey::from_seed(&[8; 32]).public_key();
        assert_eq!(a.id().to_string().parse::<KeyId>().expect("parses"), a.id());
        assert!(PublicKey::parse(&a.encode(), Some(a.id())).is_ok());
        assert!(matches!(PublicKey::parse(&a.encode(), Some(b.id())), Err(KeyError::KeyIdMismatch { .. })));
        assert!("00112233445566".parse::<KeyId>().is_err());
        assert!("0011223344556677zz".parse::<KeyId>().is_err());
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point: a small-order key that would "verify" forged signatures.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_bytes(&identity).is_err());
    }

    #[test]
    fn pem_round_trip() {
        let key = SecretKey::from_seed(&[9; 32]);
        let pem = key.to_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SecretKey::from_pem(&pem).expect("parses");
        assert_eq!(back.public_key(), key.public_key());
        assert!(SecretKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }

    #[test]
    fn pub_file_round_trip() {
        let key = SecretKey::from_seed(&[3; 32]).public_key();
        let text = PublicKeyFile::new("花都区工信局", &key, crate::Division::new(440_114).ok()).to_toml();
        let (file, parsed) = PublicKeyFile::parse(&text).expect("parses");
        assert_eq!(file.name, "花都区工信局");
        assert_eq!(parsed, key);
    }
}
