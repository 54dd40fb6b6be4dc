//! An issuing office's audit trail head, signed with the office key: the last row's number and
//! chain hash, so that whoever can write the console's database but holds neither the key nor
//! the signed head kept elsewhere cannot rewrite, append to, truncate or empty the trail
//! unseen. The message is domain-separated from every other signature the key makes.

use crate::keys::PublicKey;

/// The domain the signature is made over.
const DOMAIN: &[u8] = b"checkpass office audit head v1\0";

fn message(row: i64, hash: &str) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(&row.to_le_bytes());
    message.extend_from_slice(&(hash.len() as u64).to_le_bytes());
    message.extend_from_slice(hash.as_bytes());
    message
}

/// Signs the head: row `row`, whose chain hash is `hash`.
#[cfg(feature = "sign")]
pub fn sign_head(row: i64, hash: &str, key: &crate::keys::SecretKey) -> [u8; 64] {
    use ed25519_dalek::Signer as _;
    key.signing_key().sign(&message(row, hash)).to_bytes()
}

/// Whether `signature` is the office key's over this head (`verify_strict`).
pub fn verify_head(row: i64, hash: &str, signature: &[u8; 64], key: &PublicKey) -> bool {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verifying_key().verify_strict(&message(row, hash), &signature).is_ok()
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn a_head_verifies_only_as_signed() {
        let key = SecretKey::from_seed(&[70; 32]);
        let signature = sign_head(12, "ab12", &key);
        assert!(verify_head(12, "ab12", &signature, &key.public_key()));
        assert!(!verify_head(11, "ab12", &signature, &key.public_key()), "another row");
        assert!(!verify_head(12, "ab13", &signature, &key.public_key()), "another hash");
        assert!(!verify_head(12, "ab12", &signature, &SecretKey::from_seed(&[71; 32]).public_key()), "another key");
    }
}
