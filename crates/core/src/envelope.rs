//! The signed envelope, format v2 (and v1, still read), and its text form.
//!
//! ```text
//! offset  size  field
//! 0       2     magic "CP" (0x43 0x50)
//! 2       1     format version (0x02; 0x01 for passes signed before the crew)
//! 3       8     issuer key id
//! 11      n     payload: postcard encoding of [`Pass`] (v1: of [`PassV1`])
//! 11+n    64    Ed25519 signature over  "checkpass pass v2\0" ‖ bytes 0..11+n  (v1: "… v1\0")
//! ```
//!
//! The QR code holds these bytes in byte mode. The text form is `CP:` followed by the same bytes
//! in base64url without padding. Decoding is strict: a size cap, the magic, the version, no
//! truncation and no trailing bytes are checked before any signature work. Each version has
//! its own signing label, so a v2 signature never verifies as v1 and the reverse, whatever the
//! version byte says.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;

use crate::keys::{KEY_ID_LEN, KeyId, PublicKey};
use crate::model::{FieldError, Pass, PassV1};

/// The two magic bytes that open every envelope.
pub const MAGIC: [u8; 2] = *b"CP";
/// The format version this crate writes.
pub const VERSION: u8 = 2;
/// The first format version (one optional driver), still read.
pub const VERSION_1: u8 = 1;
/// Bytes before the payload: magic, version, key id.
pub const HEADER_LEN: usize = MAGIC.len() + 1 + KEY_ID_LEN;
/// Length of the Ed25519 signature at the end.
pub const SIGNATURE_LEN: usize = 64;
/// Largest envelope accepted (a pass is about 190 bytes; a version 40 QR code holds 2953).
pub const MAX_ENVELOPE_LEN: usize = 1024;
/// Prefix of the text form.
pub const TEXT_PREFIX: &str = "CP:";
/// Domain-separation label signed before the envelope bytes, so a pass signature can never be
/// replayed as a signature on anything else the same key might sign.
pub const SIGNING_DOMAIN: &[u8] = b"checkpass pass v2\0";
/// The label of format v1.
pub const SIGNING_DOMAIN_V1: &[u8] = b"checkpass pass v1\0";

/// Why bytes could not be read as an envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// More bytes than [`MAX_ENVELOPE_LEN`].
    #[error("{0} bytes is larger than any pass ({MAX_ENVELOPE_LEN} bytes at most)")]
    TooLarge(usize),
    /// The bytes (or text) do not start with the checkpass magic (or prefix).
    #[error("not a checkpass pass (wrong magic)")]
    WrongMagic,
    /// A format version this code does not know.
    #[error("format version {0} is not supported (this verifier reads versions {VERSION_1} and {VERSION})")]
    UnsupportedVersion(u8),
    /// The bytes end before the envelope does.
    #[error("the pass is truncated")]
    Truncated,
    /// Bytes left over after the payload.
    #[error("{0} unexpected bytes after the payload")]
    TrailingBytes(usize),
    /// The payload is not a valid postcard encoding of a pass.
    #[error("the payload cannot be decoded: {0}")]
    BadPayload(String),
    /// The payload decodes but breaks the field limits.
    #[error("invalid field: {0}")]
    InvalidField(#[from] FieldError),
    /// The text form is not valid base64url.
    #[error("the text form is not valid base64url")]
    BadText,
}

/// A structurally valid envelope whose signature has **not** been checked yet.
#[derive(Clone, Debug)]
pub struct Envelope<'a> {
    /// The format version in the header: [`VERSION`] or [`VERSION_1`].
    pub version: u8,
    /// Key id of the signer named in the header.
    pub key_id: KeyId,
    /// The decoded payload (its field limits are not checked yet either).
    pub pass: Pass,
    signed: &'a [u8],
    signature: Signature,
}

impl<'a> Envelope<'a> {
    /// Parses envelope bytes strictly. Cheap checks come first; no signature work is done.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::TooLarge(bytes.len()));
        }
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            return Err(EnvelopeError::WrongMagic);
        }
        let version = match bytes.get(MAGIC.len()) {
            None => return Err(EnvelopeError::Truncated),
            Some(&version @ (VERSION | VERSION_1)) => version,
            Some(&other) => return Err(EnvelopeError::UnsupportedVersion(other)),
        };
        if bytes.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err(EnvelopeError::Truncated);
        }
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&bytes[MAGIC.len() + 1..HEADER_LEN]);
        let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let payload = &signed[HEADER_LEN..];
        let pass =
            if version == VERSION_1 { decode_payload::<PassV1>(payload)?.into() } else { decode_payload(payload)? };
        let signature = Signature::from_slice(signature).map_err(|_| EnvelopeError::Truncated)?;
        Ok(Self { version, key_id: KeyId(id), pass, signed, signature })
    }

    /// Checks the signature with `verify_strict` (no malleable or small-order signatures).
    /// The caller picks `key` by [`Envelope::key_id`]; a key with another id never verifies.
    pub fn verify(&self, key: &PublicKey) -> bool {
        if key.id() != self.key_id {
            return false;
        }
        let domain = if self.version == VERSION_1 { SIGNING_DOMAIN_V1 } else { SIGNING_DOMAIN };
        let message = [domain, self.signed].concat();
        key.verifying_key().verify_strict(&message, &self.signature).is_ok()
    }
}

fn decode_payload<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, EnvelopeError> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((pass, [])) => Ok(pass),
        Ok((_, rest)) => Err(EnvelopeError::TrailingBytes(rest.len())),
        Err(postcard::Error::DeserializeUnexpectedEnd) => Err(EnvelopeError::Truncated),
        Err(e) => Err(EnvelopeError::BadPayload(e.to_string())),
    }
}

/// Encodes envelope bytes as the text form `CP:<base64url>`.
pub fn to_text(bytes: &[u8]) -> String {
    format!("{TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Decodes the text form back to envelope bytes. Surrounding whitespace is ignored; the size
/// is capped before decoding.
pub fn from_text(text: &str) -> Result<Vec<u8>, EnvelopeError> {
    let Some(body) = text.trim().strip_prefix(TEXT_PREFIX) else {
        return Err(EnvelopeError::WrongMagic);
    };
    if body.len() > MAX_ENVELOPE_LEN.div_ceil(3) * 4 {
        return Err(EnvelopeError::TooLarge(body.len() / 4 * 3));
    }
    URL_SAFE_NO_PAD.decode(body).map_err(|_| EnvelopeError::BadText)
}

/// The manual code printed under the QR code: 8 characters (Crockford base32, shown as
/// `XXXX-XXXX`) derived from the signature. It is for the telephone: when a pass cannot be
/// checked at the roadside (no camera, a damaged code), the officer reads the pass number and
/// this code to the issuing office, which finds the pass in its ledger (`pass-issuer show`) and
/// confirms that the code matches. No program at a checkpoint takes it as input. It identifies
/// the signed bytes, not just the serial: a forger who copies the printed fields cannot
/// produce it.
pub fn manual_code(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let signature = &bytes[bytes.len().saturating_sub(SIGNATURE_LEN)..];
    let digest = Sha256::new().chain_update(b"checkpass manual code v1\0").chain_update(signature).finalize();
    let bits = digest[..5].iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let chars: String = (0..8).rev().map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Signs a pass in format v2: checks its fields, then builds the envelope bytes.
#[cfg(feature = "sign")]
pub fn sign(pass: &Pass, key: &crate::keys::SecretKey) -> Result<Vec<u8>, EnvelopeError> {
    use ed25519_dalek::Signer as _;

    pass.validate()?;
    let mut bytes = Vec::with_capacity(256);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(VERSION);
    bytes.extend_from_slice(&key.public_key().id().0);
    let bytes = postcard::to_extend(pass, bytes).map_err(|e| EnvelopeError::BadPayload(e.to_string()))?;
    let signature = key.signing_key().sign(&[SIGNING_DOMAIN, &bytes].concat());
    let mut bytes = bytes;
    bytes.extend_from_slice(&signature.to_bytes());
    if bytes.len() > MAX_ENVELOPE_LEN {
        return Err(EnvelopeError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::division::Division;
    use crate::keys::SecretKey;
    use crate::model::{PassKind, VehicleType};

    fn division() -> impl Strategy<Value = Division> {
        (11u32..=82, 0u32..=99, 0u32..=99).prop_map(|(p, c, d)| {
            let d = if c == 0 { 0 } else { d };
            Division::new(p * 10_000 + c * 100 + d).expect("valid by construction")
        })
    }

    prop_compose! {
        fn any_pass()(
            serial in 1u64..=crate::model::MAX_SERIAL,
            kind in prop::sample::select(PassKind::ALL),
            plate in "[粤沪苏京A-Z0-9]{2,12}",
            vehicle_type in prop::sample::select(VehicleType::ALL),
            holder in "[\\p{Han}A-Za-z0-9（）()]{1,64}",
            crew in prop::collection::vec("[\\p{Han}]{1,32}", 0..=3),
            origin in division(),
            destination in division(),
            zones in prop::collection::btree_set(division(), 1..=8),
            cargo in "[\\p{Han}a-z]{1,32}",
            valid_from in 0u64..4_000_000_000,
            span in 1u64..=crate::model::MAX_VALIDITY_SECS,
            issued_back in 0u64..1_000_000,
            supersedes in prop::option::of(1u64..=crate::model::MAX_SERIAL),
        ) -> Pass {
            Pass {
                serial, kind, plate, vehicle_type, holder, org_code: None, crew, origin, destination,
                zones: zones.into_iter().collect(), cargo, valid_from, valid_until: valid_from + span,
                issued_at: valid_from.saturating_sub(issued_back),
                supersedes: supersedes.filter(|s| *s != serial),
            }
        }
    }

    proptest! {
        #[test]
        fn payload_round_trips(pass in any_pass()) {
            let bytes = postcard::to_allocvec(&pass).expect("encodes");
            prop_assert_eq!(decode_payload::<Pass>(&bytes).expect("decodes"), pass);
        }

        #[test]
        fn envelope_and_text_round_trip(pass in any_pass()) {
            let key = SecretKey::from_seed(&[42; 32]);
            let bytes = sign(&pass, &key).expect("signs");
            let text = to_text(&bytes);
            prop_assert_eq!(&from_text(&text).expect("text decodes"), &bytes);
            let envelope = Envelope::decode(&bytes).expect("decodes");
            prop_assert!(envelope.verify(&key.public_key()));
            prop_assert_eq!(envelope.pass, pass);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Envelope::decode(&bytes);
            let mut with_header = b"CP\x01".to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = Envelope::decode(&with_header);
            with_header[2] = VERSION_1;
            let _ = Envelope::decode(&with_header);
        }
    }

    #[test]
    fn strict_decoding_errors_are_distinct() {
        let key = SecretKey::from_seed(&[42; 32]);
        let pass = crate::model::tests::sample();
        let good = sign(&pass, &key).expect("signs");
        assert!(Envelope::decode(&good).expect("decodes").verify(&key.public_key()));

        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(Envelope::decode(&trailing).err(), Some(EnvelopeError::TrailingBytes(1)));
        assert_eq!(Envelope::decode(&good[..good.len() - 1]).err(), Some(EnvelopeError::Truncated));
        assert_eq!(Envelope::decode(&good[..20]).err(), Some(EnvelopeError::Truncated));
        assert_eq!(Envelope::decode(b"CP").err(), Some(EnvelopeError::Truncated));
        let mut version = good.clone();
        version[2] = 3;
        assert_eq!(Envelope::decode(&version).err(), Some(EnvelopeError::UnsupportedVersion(3)));
        assert_eq!(Envelope::decode(b"https://example.com").err(), Some(EnvelopeError::WrongMagic));
        assert_eq!(Envelope::decode(&[0; 2000]).err(), Some(EnvelopeError::TooLarge(2000)));
        assert_eq!(from_text("CP:@@@").err(), Some(EnvelopeError::BadText));
        assert_eq!(from_text("XX:AAAA").err(), Some(EnvelopeError::WrongMagic));
    }

    #[test]
    fn manual_codes_are_short_and_follow_the_signature() {
        let key = SecretKey::from_seed(&[42; 32]);
        let mut pass = crate::model::tests::sample();
        let a = manual_code(&sign(&pass, &key).expect("signs"));
        pass.serial += 1;
        let b = manual_code(&sign(&pass, &key).expect("signs"));
        assert_eq!(a.len(), 9);
        assert_eq!(&a[4..5], "-");
        assert_ne!(a, b);
    }

    /// A v2 pass with its version byte set to 1 (or a v1 pass set to 2) decodes, as the
    /// payloads of a crew of one and of one driver are the same bytes, but never verifies:
    /// the version byte is signed, and each version signs under its own label.
    #[test]
    fn a_relabelled_version_never_verifies() {
        let key = SecretKey::from_seed(&[42; 32]);
        let good = sign(&crate::model::tests::sample(), &key).expect("signs");
        assert_eq!(good[2], VERSION);
        let mut relabelled = good.clone();
        relabelled[2] = VERSION_1;
        let envelope = Envelope::decode(&relabelled).expect("decodes as v1");
        assert_eq!(envelope.version, VERSION_1);
        assert!(!envelope.verify(&key.public_key()));
        // The same bytes signed as v1 verify only as v1.
        use ed25519_dalek::Signer as _;
        let mut v1 = relabelled[..relabelled.len() - SIGNATURE_LEN].to_vec();
        let signature = key.signing_key().sign(&[SIGNING_DOMAIN_V1, &v1].concat());
        v1.extend_from_slice(&signature.to_bytes());
        assert!(Envelope::decode(&v1).expect("decodes").verify(&key.public_key()));
        v1[2] = VERSION;
        assert!(!Envelope::decode(&v1).expect("decodes as v2").verify(&key.public_key()));
    }

    #[test]
    fn a_signature_from_another_key_fails() {
        let pass = crate::model::tests::sample();
        let bytes = sign(&pass, &SecretKey::from_seed(&[1; 32])).expect("signs");
        let other = SecretKey::from_seed(&[2; 32]).public_key();
        assert!(!Envelope::decode(&bytes).expect("decodes").verify(&other));
    }
}
