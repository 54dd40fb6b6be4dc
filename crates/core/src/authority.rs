//! Documents signed by the authority key: revocation snapshots and deltas, and trust lists.
//! Signed, they can travel over plain HTTP, a mirror or a USB stick.
//!
//! ```text
//! offset  size  field
//! 0       2     magic "CA" (0x43 0x41)
//! 2       1     format version (0x01)
//! 3       1     document kind: 1 snapshot, 2 delta, 3 trust list, 4 heartbeat,
//!                 5 authority list (signed by the root key, `authorities.rs`)
//! 4       8     authority key id
//! 12      n     body: postcard (see revocation.rs, and TrustDoc below)
//! 12+n    64    Ed25519 signature over "checkpass authority v1\0" ‖ bytes 0..12+n
//! ```

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};

use crate::keys::{KEY_ID_LEN, KeyId, PublicKey};

/// Magic of authority documents.
pub const MAGIC: [u8; 2] = *b"CA";
/// Format version.
pub const VERSION: u8 = 1;
/// Header length.
pub const HEADER_LEN: usize = 4 + KEY_ID_LEN;
/// Largest document accepted (a province's revocations fit in well under 1 MiB).
pub const MAX_DOC_LEN: usize = 16 * 1024 * 1024;
/// Domain-separation label.
pub const SIGNING_DOMAIN: &[u8] = b"checkpass authority v1\0";

/// What a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocKind {
    /// A full revocation snapshot.
    Snapshot = 1,
    /// A revocation delta between two versions.
    Delta = 2,
    /// A trust list.
    TrustList = 3,
    /// A heartbeat: "revocation data version V (digest D) is current as of T".
    Heartbeat = 4,
    /// The root's list of authorities (`crate::authorities`), signed by the root key.
    AuthorityList = 5,
}

/// Why a document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// Larger than [`MAX_DOC_LEN`].
    #[error("document of {0} bytes is larger than allowed")]
    TooLarge(usize),
    /// Shorter than a header and a signature.
    #[error("document is truncated")]
    Truncated,
    /// Wrong magic.
    #[error("not a checkpass authority document")]
    WrongMagic,
    /// Unknown version.
    #[error("authority document version {0} is not supported")]
    UnsupportedVersion(u8),
    /// Unknown kind, or not the kind expected.
    #[error("unexpected document kind {0}")]
    WrongKind(u8),
    /// Signed by another key than the configured authority.
    #[error("signed by key {0}, not by the configured authority")]
    WrongKey(KeyId),
    /// The signature does not verify.
    #[error("bad signature on authority document")]
    BadSignature,
    /// The body does not decode.
    #[error("document body is malformed: {0}")]
    Malformed(String),
}

/// Signs a document.
#[cfg(feature = "sign")]
pub fn sign(kind: DocKind, body: &[u8], key: &crate::keys::SecretKey) -> Vec<u8> {
    use ed25519_dalek::Signer as _;
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() + 64);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(VERSION);
    bytes.push(kind as u8);
    bytes.extend_from_slice(&key.public_key().id().0);
    bytes.extend_from_slice(body);
    let signature = key.signing_key().sign(&[SIGNING_DOMAIN, &bytes].concat());
    bytes.extend_from_slice(&signature.to_bytes());
    bytes
}

/// Checks a document's header and signature against the authority key and returns its kind
/// and body.
pub fn open<'a>(bytes: &'a [u8], authority: &PublicKey) -> Result<(DocKind, &'a [u8]), DocError> {
    if bytes.len() > MAX_DOC_LEN {
        return Err(DocError::TooLarge(bytes.len()));
    }
    if bytes.len() < 2 || bytes[..2] != MAGIC {
        return Err(DocError::WrongMagic);
    }
    if bytes.len() < HEADER_LEN + 64 {
        return Err(DocError::Truncated);
    }
    if bytes[2] != VERSION {
        return Err(DocError::UnsupportedVersion(bytes[2]));
    }
    let kind = match bytes[3] {
        1 => DocKind::Snapshot,
        2 => DocKind::Delta,
        3 => DocKind::TrustList,
        4 => DocKind::Heartbeat,
        5 => DocKind::AuthorityList,
        other => return Err(DocError::WrongKind(other)),
    };
    let mut id = [0; KEY_ID_LEN];
    id.copy_from_slice(&bytes[4..HEADER_LEN]);
    if KeyId(id) != authority.id() {
        return Err(DocError::WrongKey(KeyId(id)));
    }
    let (signed, signature) = bytes.split_at(bytes.len() - 64);
    let signature = Signature::from_slice(signature).map_err(|_| DocError::Truncated)?;
    authority
        .verifying_key()
        .verify_strict(&[SIGNING_DOMAIN, signed].concat(), &signature)
        .map_err(|_| DocError::BadSignature)?;
    Ok((kind, &signed[HEADER_LEN..]))
}

/// Decodes a postcard body strictly (no trailing bytes).
pub fn decode_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DocError> {
    match postcard::take_from_bytes(body) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(DocError::Malformed(format!("{} trailing bytes", rest.len()))),
        Err(e) => Err(DocError::Malformed(e.to_string())),
    }
}

/// Encodes a postcard body.
pub fn encode_body<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// A signed trust list: a monotonic version, when it was signed, and the TOML text of its
/// `[[issuer]]` entries (an `[authority]` section inside it is ignored: the authority key
/// comes only from the verifier's own configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustDoc {
    /// Monotonic version; a verifier never goes back to a lower one.
    pub version: u64,
    /// When it was signed, Unix seconds.
    pub issued_at: u64,
    /// The trust list, TOML.
    pub toml: String,
}

/// The server's signed statement that revocation data `version`, whose state digest is
/// `digest` (`RevocationState::digest`), is still the newest as of `issued_at`. Re-signed every
/// few minutes and with every new version. Freshness comes only from signed time: a verifier
/// counts its data as confirmed up to the newest heartbeat that names the version and digest
/// it holds; a replayed older heartbeat confirms nothing new (docs/FORMAT.md).
///
/// When the authority publishes a trust list, the heartbeat names its current version and
/// digest too ([`TrustRef`]), so a checkpoint whose trust list was withheld (a 404) or rolled
/// back on the way learns that it is behind. Without one the body is the three fields alone,
/// byte for byte as before; with one, they are followed by the trust list's version and digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The revocation data version that is current.
    pub version: u64,
    /// The state digest of that version.
    pub digest: [u8; 32],
    /// When it was signed, Unix seconds.
    pub issued_at: u64,
    /// The trust list that is current, when the authority publishes one.
    pub trust: Option<TrustRef>,
}

/// A trust list named by a heartbeat: its version and the SHA-256 of its signed document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRef {
    /// The trust list's version.
    pub version: u64,
    /// [`trust_digest`] of its signed document.
    pub digest: [u8; 32],
}

/// The digest a heartbeat gives for a signed trust-list document.
pub fn trust_digest(signed: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new().chain_update(b"checkpass trust list v1\0").chain_update(signed).finalize().into()
}

/// The heartbeat body without a trust list (the first layout, still the one signed then).
#[derive(Serialize, Deserialize)]
struct BeatBody {
    version: u64,
    digest: [u8; 32],
    issued_at: u64,
}

/// The heartbeat body with a trust list.
#[derive(Serialize, Deserialize)]
struct BeatBodyWithTrust {
    version: u64,
    digest: [u8; 32],
    issued_at: u64,
    trust: TrustRef,
}

impl Heartbeat {
    /// The body that is signed.
    pub fn body(&self) -> Vec<u8> {
        let (version, digest, issued_at) = (self.version, self.digest, self.issued_at);
        match self.trust {
            None => encode_body(&BeatBody { version, digest, issued_at }),
            Some(trust) => encode_body(&BeatBodyWithTrust { version, digest, issued_at, trust }),
        }
    }

    /// Signs the heartbeat.
    #[cfg(feature = "sign")]
    pub fn sign(&self, key: &crate::keys::SecretKey) -> Vec<u8> {
        sign(DocKind::Heartbeat, &self.body(), key)
    }

    /// Opens a signed heartbeat (either layout; strict: nothing after the last field).
    pub fn open(bytes: &[u8], authority: &PublicKey) -> Result<Heartbeat, DocError> {
        match open(bytes, authority)? {
            (DocKind::Heartbeat, body) => match decode_body::<BeatBody>(body) {
                Ok(b) => Ok(Heartbeat { version: b.version, digest: b.digest, issued_at: b.issued_at, trust: None }),
                Err(_) => {
                    let b: BeatBodyWithTrust = decode_body(body)?;
                    let trust = Some(b.trust);
                    Ok(Heartbeat { version: b.version, digest: b.digest, issued_at: b.issued_at, trust })
                }
            },
            (kind, _) => Err(DocError::WrongKind(kind as u8)),
        }
    }
}

/// Magic of a bundle of documents (a USB export: the snapshot and its heartbeat).
pub const BUNDLE_MAGIC: [u8; 2] = *b"CB";
/// Most documents in a bundle.
pub const MAX_BUNDLE_DOCS: usize = 8;

/// Packs documents into one file: `"CB" | 0x01 | count u8 | (length u32 LE | document)*`.
pub fn bundle(docs: &[&[u8]]) -> Vec<u8> {
    let mut out = BUNDLE_MAGIC.to_vec();
    out.push(VERSION);
    out.push(docs.len().min(MAX_BUNDLE_DOCS) as u8);
    for doc in docs.iter().take(MAX_BUNDLE_DOCS) {
        out.extend_from_slice(&(doc.len() as u32).to_le_bytes());
        out.extend_from_slice(doc);
    }
    out
}

/// Splits a bundle into its documents (each still to be opened and checked); strict: no
/// trailing bytes, no document over [`MAX_DOC_LEN`].
pub fn unbundle(bytes: &[u8]) -> Result<Vec<&[u8]>, DocError> {
    let [b0, b1, version, count, tail @ ..] = bytes else { return Err(DocError::Truncated) };
    let mut rest: &[u8] = tail;
    if [*b0, *b1] != BUNDLE_MAGIC {
        return Err(DocError::WrongMagic);
    }
    if *version != VERSION {
        return Err(DocError::UnsupportedVersion(*version));
    }
    if usize::from(*count) > MAX_BUNDLE_DOCS {
        return Err(DocError::Malformed(format!("{count} documents in a bundle")));
    }
    let mut docs = Vec::with_capacity(usize::from(*count));
    for _ in 0..*count {
        let [l0, l1, l2, l3, after @ ..] = rest else { return Err(DocError::Truncated) };
        let after: &[u8] = after;
        let len = u32::from_le_bytes([*l0, *l1, *l2, *l3]) as usize;
        if len > MAX_DOC_LEN {
            return Err(DocError::TooLarge(len));
        }
        if after.len() < len {
            return Err(DocError::Truncated);
        }
        let (doc, tail) = after.split_at(len);
        docs.push(doc);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(DocError::Malformed(format!("{} trailing bytes after the bundle", rest.len())));
    }
    Ok(docs)
}

/// Magic of a combined heartbeat file (a mirror's `v1/heartbeats`: the newest heartbeat of
/// every authority it carries, each still signed by its own authority).
pub const HEARTBEATS_MAGIC: [u8; 2] = *b"CH";
/// Most heartbeats in a combined file (as many as authorities in a list).
pub const MAX_COMBINED_HEARTBEATS: usize = crate::authorities::MAX_AUTHORITIES;
/// Longest heartbeat in a combined file (one naming a trust list is 147 bytes).
pub const MAX_HEARTBEAT_LEN: usize = 1024;

/// A combined heartbeat file: the version and digest ([`crate::authorities::list_digest`]) of
/// the authority list the mirror serves beside it, unsigned (a checkpoint holding that very
/// list need not fetch it again; a lie can only withhold a list, as a stuck cache could), and
/// the heartbeats, each to be opened with its own authority's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combined<'a> {
    /// The authority list served beside it: version and digest.
    pub list: Option<(u64, [u8; 32])>,
    /// The heartbeats.
    pub beats: Vec<&'a [u8]>,
}

/// Packs a combined heartbeat file: `"CH" | 0x01 | 0x00, or 0x01 and the list's version (u64
/// LE) and digest (32 bytes) | count u8 | (length u16 LE | heartbeat)*`. Heartbeats over
/// [`MAX_HEARTBEAT_LEN`] and any past [`MAX_COMBINED_HEARTBEATS`] are left out.
pub fn combine_heartbeats(list: Option<(u64, [u8; 32])>, beats: &[&[u8]]) -> Vec<u8> {
    let kept: Vec<&[u8]> =
        beats.iter().copied().filter(|b| b.len() <= MAX_HEARTBEAT_LEN).take(MAX_COMBINED_HEARTBEATS).collect();
    let mut out = HEARTBEATS_MAGIC.to_vec();
    out.push(VERSION);
    match list {
        None => out.push(0),
        Some((version, digest)) => {
            out.push(1);
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&digest);
        }
    }
    out.push(kept.len() as u8);
    for beat in kept {
        out.extend_from_slice(&(beat.len() as u16).to_le_bytes());
        out.extend_from_slice(beat);
    }
    out
}

/// Splits a combined heartbeat file; strict: no trailing bytes, no heartbeat over
/// [`MAX_HEARTBEAT_LEN`], at most [`MAX_COMBINED_HEARTBEATS`].
pub fn split_heartbeats(bytes: &[u8]) -> Result<Combined<'_>, DocError> {
    let [b0, b1, version, flag, tail @ ..] = bytes else { return Err(DocError::Truncated) };
    if [*b0, *b1] != HEARTBEATS_MAGIC {
        return Err(DocError::WrongMagic);
    }
    if *version != VERSION {
        return Err(DocError::UnsupportedVersion(*version));
    }
    let mut rest: &[u8] = tail;
    let list = match flag {
        0 => None,
        1 => {
            if rest.len() < 40 {
                return Err(DocError::Truncated);
            }
            let (head, after) = rest.split_at(40);
            rest = after;
            let mut v = [0u8; 8];
            v.copy_from_slice(&head[..8]);
            let mut digest = [0u8; 32];
            digest.copy_from_slice(&head[8..]);
            Some((u64::from_le_bytes(v), digest))
        }
        other => return Err(DocError::Malformed(format!("list flag {other}"))),
    };
    let [count, after @ ..] = rest else { return Err(DocError::Truncated) };
    rest = after;
    if usize::from(*count) > MAX_COMBINED_HEARTBEATS {
        return Err(DocError::Malformed(format!("{count} heartbeats in a combined file")));
    }
    let mut beats = Vec::with_capacity(usize::from(*count));
    for _ in 0..*count {
        let [l0, l1, after @ ..] = rest else { return Err(DocError::Truncated) };
        let after: &[u8] = after;
        let len = usize::from(u16::from_le_bytes([*l0, *l1]));
        if len > MAX_HEARTBEAT_LEN {
            return Err(DocError::TooLarge(len));
        }
        if after.len() < len {
            return Err(DocError::Truncated);
        }
        let (beat, next) = after.split_at(len);
        beats.push(beat);
        rest = next;
    }
    if !rest.is_empty() {
        return Err(DocError::Malformed(format!("{} trailing bytes after the heartbeats", rest.len())));
    }
    Ok(Combined { list, beats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn combined_heartbeats_round_trip_and_refuse_garbage() {
        let beats: Vec<Vec<u8>> = (0..34u8).map(|i| vec![i; 114]).collect();
        let refs: Vec<&[u8]> = beats.iter().map(Vec::as_slice).collect();
        let combined = combine_heartbeats(Some((3, [7; 32])), &refs);
        assert_eq!(combined.len(), 5 + 40 + 34 * 116);
        assert_eq!(
            split_heartbeats(&combined).expect("splits"),
            Combined { list: Some((3, [7; 32])), beats: refs.clone() }
        );
        let bare = combine_heartbeats(None, &refs[..2]);
        assert_eq!(split_heartbeats(&bare).expect("splits"), Combined { list: None, beats: refs[..2].to_vec() });
        assert!(split_heartbeats(&combined[..combined.len() - 1]).is_err());
        let mut extra = combined.clone();
        extra.push(0);
        assert!(split_heartbeats(&extra).is_err());
        assert!(split_heartbeats(b"CB\x01\x00").is_err());
        let mut too_many = combined;
        too_many[44] = 65;
        assert!(split_heartbeats(&too_many).is_err());
    }

    #[test]
    fn documents_open_only_with_their_authority() {
        let key = SecretKey::from_seed(&[11; 32]);
        let other = SecretKey::from_seed(&[12; 32]).public_key();
        let doc = sign(DocKind::Delta, b"body", &key);
        assert_eq!(open(&doc, &key.public_key()), Ok((DocKind::Delta, &b"body"[..])));
        assert!(matches!(open(&doc, &other), Err(DocError::WrongKey(_))));
        let mut tampered = doc.clone();
        tampered[HEADER_LEN] ^= 1;
        assert_eq!(open(&tampered, &key.public_key()), Err(DocError::BadSignature));
        let mut kind = doc.clone();
        kind[3] = 1;
        assert_eq!(open(&kind, &key.public_key()), Err(DocError::BadSignature));
        assert_eq!(open(&doc[..40], &key.public_key()), Err(DocError::Truncated));
        assert_eq!(open(b"CP\x01", &key.public_key()), Err(DocError::WrongMagic));
    }

    #[test]
    fn heartbeats_and_bundles() {
        let key = SecretKey::from_seed(&[11; 32]);
        let beat = Heartbeat { version: 7, digest: [3; 32], issued_at: 1_780_000_000, trust: None };
        let signed = beat.sign(&key);
        assert_eq!(signed.len(), HEADER_LEN + 1 + 32 + 5 + 64, "a heartbeat is about 114 bytes");
        assert_eq!(Heartbeat::open(&signed, &key.public_key()), Ok(beat));
        let trust = sign(DocKind::TrustList, b"x", &key);
        assert_eq!(Heartbeat::open(&trust, &key.public_key()), Err(DocError::WrongKind(3)));
        // Naming a trust list: both layouts open, and the trust list's fields survive.
        let named = Heartbeat { trust: Some(TrustRef { version: 3, digest: trust_digest(&trust) }), ..beat };
        let signed_named = named.sign(&key);
        assert_eq!(signed_named.len(), signed.len() + 1 + 32);
        assert_eq!(Heartbeat::open(&signed_named, &key.public_key()), Ok(named));
        let packed = bundle(&[&trust, &signed]);
        assert_eq!(unbundle(&packed), Ok(vec![&trust[..], &signed[..]]));
        assert_eq!(unbundle(&packed[..packed.len() - 1]), Err(DocError::Truncated));
        assert!(unbundle(&[&packed[..], b"!"].concat()).is_err());
        assert_eq!(unbundle(b"CA\x01\x00"), Err(DocError::WrongMagic));
        let mut huge = bundle(&[&signed]);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(unbundle(&huge), Err(DocError::TooLarge(_))));
    }
}
