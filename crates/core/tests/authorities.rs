//! Golden vectors of the root's signed authority list (docs/FORMAT.md, "Authority list"): a
//! valid list of three authorities (the example authority key as 广东省, and two keys from fixed
//! seeds as 上海市 and 江苏省) signed by a root key from a fixed seed, and lists that must be
//! refused. Ed25519 is deterministic, so the bytes are stable. `CHECKPASS_BLESS=1` rewrites the
//! file after a deliberate format change.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;

use pass_core::SecretKey;
use pass_core::authorities::{AuthorityEntry, AuthorityList, ListError};
use pass_core::authority::{self, DocError, DocKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Vector {
    description: String,
    root_seed_hex: String,
    root_public_key: String,
    toml: String,
    issued_at: u64,
    signed_hex: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const ROOT_SEED: [u8; 32] = [0x52; 32];

fn entry(key: &pass_core::PublicKey, name: &str, province: &str, url: &str) -> String {
    format!(
        "[[authority]]\nname = \"{name}\"\nkey_id = \"{}\"\npublic_key = \"{}\"\nprovinces = [\"{province}\"]\nurls = [\"{url}\"]\n",
        key.id(),
        key.encode()
    )
}

fn three() -> String {
    let guangdong = SecretKey::from_pem(&std::fs::read_to_string(repo().join("keys-example/authority.key")).unwrap())
        .unwrap()
        .public_key();
    let shanghai = SecretKey::from_seed(&[0x31; 32]).public_key();
    let jiangsu = SecretKey::from_seed(&[0x32; 32]).public_key();
    format!(
        "version = 1\n\n{}\n{}\n{}",
        entry(&guangdong, "广东省", "440000", "https://checkpass.gd.example/"),
        entry(&shanghai, "上海市", "310000", "https://checkpass.sh.example/"),
        entry(&jiangsu, "江苏省", "320000", "https://checkpass.js.example/"),
    )
}

#[test]
fn the_authority_list_vector_is_stable_and_opens() {
    let root = SecretKey::from_seed(&ROOT_SEED);
    let text = three();
    let issued_at = 1_795_000_000;
    let list = AuthorityList::from_toml(&text, issued_at).unwrap();
    let signed = list.sign(&root);
    let vector = Vector {
        description: "Authority list version 1: 广东省 (keys-example/authority.key, 440000), 上海市 (seed 0x31…, \
                      310000), 江苏省 (seed 0x32…, 320000); signed at 2026-11-18T11:06:40Z by the root key from \
                      seed 0x52… (32 bytes)."
            .into(),
        root_seed_hex: hex(&ROOT_SEED),
        root_public_key: root.public_key().encode(),
        toml: text,
        issued_at,
        signed_hex: hex(&signed),
    };
    let path = repo().join("crates/core/tests/authority-vectors/authority_list_v1.toml");
    if std::env::var_os("CHECKPASS_BLESS").is_some() {
        std::fs::write(&path, toml::to_string(&vector).unwrap()).unwrap();
    }
    let stored: Vector = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored, vector, "the authority list format or its signing changed");
    assert_eq!(signed[3], DocKind::AuthorityList as u8);
    assert_eq!(&signed[4..12], &root.public_key().id().0);
    let opened = AuthorityList::open(&signed, &root.public_key()).unwrap();
    assert_eq!(opened, list);
    assert_eq!(opened.authorities.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["广东省", "上海市", "江苏省"]);
}

/// Lists a checkpoint must refuse: each with the error it gets.
#[test]
fn refused_authority_lists() {
    let root = SecretKey::from_seed(&ROOT_SEED);
    let list = AuthorityList::from_toml(&three(), 1_795_000_000).unwrap();
    // Forged: signed by a key that is not the root (an authority's own key, say).
    let forger = SecretKey::from_seed(&[0x31; 32]);
    assert!(matches!(
        AuthorityList::open(&list.sign(&forger), &root.public_key()),
        Err(ListError::Document(DocError::WrongKey(_)))
    ));
    // Forged by rewriting the key id in the header to the root's.
    let mut relabelled = list.sign(&forger);
    relabelled[4..12].copy_from_slice(&root.public_key().id().0);
    assert!(matches!(
        AuthorityList::open(&relabelled, &root.public_key()),
        Err(ListError::Document(DocError::BadSignature))
    ));
    // Signed by the root but breaking a rule: two authorities for one province.
    let mut overlapping = list.clone();
    overlapping.authorities[1].provinces.push(440_000);
    let error = AuthorityList::open(&overlapping.sign(&root), &root.public_key()).unwrap_err();
    assert!(error.to_string().contains("governed by both"), "{error}");
    // A city code where a province belongs.
    let mut city = list.clone();
    city.authorities[0].provinces = vec![440_100];
    assert!(AuthorityList::open(&city.sign(&root), &root.public_key()).is_err());
    // A weak key.
    let mut weak = list.clone();
    weak.authorities[2] = AuthorityEntry { key: [0; 32], ..weak.authorities[2].clone() };
    assert!(AuthorityList::open(&weak.sign(&root), &root.public_key()).is_err());
    // Trailing bytes in the body.
    let mut body = list.body();
    body.push(0);
    assert!(AuthorityList::open(&authority::sign(DocKind::AuthorityList, &body, &root), &root.public_key()).is_err());
    // Rolled back: version 1 offered to a checkpoint holding version 2.
    let mut newer = list.clone();
    newer.version = 2;
    newer.authorities.pop();
    assert!(newer.may_be_replaced_by(&list).is_err());
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CombinedVector {
    description: String,
    list_version: u64,
    list_digest_hex: String,
    combined_hex: String,
}

/// The combined heartbeat file of a mirror carrying the list above and one authority's
/// heartbeat (the `heartbeat_v7` vector's): its exact bytes.
#[test]
fn the_combined_heartbeat_vector_is_stable() {
    let root = SecretKey::from_seed(&ROOT_SEED);
    let list = AuthorityList::from_toml(&three(), 1_795_000_000).unwrap();
    let signed = list.sign(&root);
    let beat: toml::Value = toml::from_str(
        &std::fs::read_to_string(repo().join("crates/core/tests/authority-vectors/heartbeat_v7.toml")).unwrap(),
    )
    .unwrap();
    let beat_hex = beat["heartbeat_hex"].as_str().unwrap();
    let beat: Vec<u8> =
        (0..beat_hex.len()).step_by(2).map(|i| u8::from_str_radix(&beat_hex[i..i + 2], 16).unwrap()).collect();
    let digest = pass_core::authorities::list_digest(&signed);
    let combined = authority::combine_heartbeats(Some((1, digest)), &[&beat]);
    let vector = CombinedVector {
        description: "A mirror's v1/heartbeats: the authority list of authority_list_v1 (version 1 and its digest), \
                      then the heartbeat of heartbeat_v7."
            .into(),
        list_version: 1,
        list_digest_hex: hex(&digest),
        combined_hex: hex(&combined),
    };
    let path = repo().join("crates/core/tests/authority-vectors/combined_heartbeats_v1.toml");
    if std::env::var_os("CHECKPASS_BLESS").is_some() {
        std::fs::write(&path, toml::to_string(&vector).unwrap()).unwrap();
    }
    let stored: CombinedVector = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored, vector, "the combined heartbeat format changed");
    assert_eq!(combined.len(), 5 + 40 + 2 + 114);
    let split = authority::split_heartbeats(&combined).unwrap();
    assert_eq!((split.list, split.beats), (Some((1, digest)), vec![&beat[..]]));
}
