//! Golden test vectors for pass format v1 (`tests/vectors/*.toml`, described in docs/FORMAT.md).
//!
//! Ed25519 is deterministic, so signing the same pass with the example key always gives the
//! same bytes: `golden_vectors_are_stable` rebuilds every vector and compares it with its file
//! (set `CHECKPASS_BLESS=1` to rewrite the files after a deliberate format change), and
//! `every_vector_gets_its_expected_verdict` checks each file on its own, so a vector added by
//! hand is checked too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pass_core::envelope::{self, Envelope, HEADER_LEN, SIGNATURE_LEN};
use pass_core::time::{self, Bound};
use pass_core::verdict::{self, Checkpoint};
use pass_core::{Pass, PassKind, SecretKey, TrustList, VehicleType};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    description: String,
    /// The envelope bytes in hex (what the QR code holds).
    envelope_hex: String,
    /// The text form.
    text: String,
    /// When and where the vector is checked.
    check_at: String,
    zone: String,
    /// `accepted`, or the reason code.
    expected: String,
    /// For vectors that fail strict decoding: the decoding error.
    expected_decode_error: Option<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example_key() -> SecretKey {
    let pem = std::fs::read_to_string(root().join("keys-example/issuer.key")).expect("example key");
    SecretKey::from_pem(&pem).expect("example key parses")
}

fn example_trust() -> TrustList {
    TrustList::from_toml(&std::fs::read_to_string(root().join("keys-example/trust.toml")).expect("trust"))
        .expect("trust parses")
}

fn at(text: &str) -> u64 {
    time::parse_instant(text, &time::default_zone(), Bound::StartOfDay).expect("time")
}

/// The realistic pass of the brief (its times are checked against their local form below).
fn realistic() -> Pass {
    let pass = Pass::realistic_example();
    assert_eq!(pass.valid_from, at("2022-04-01T00:00:00+08:00"));
    assert_eq!(pass.valid_until, at("2022-04-30T23:59:59+08:00"));
    assert_eq!(pass.issued_at, at("2022-03-31T09:30:00+08:00"));
    pass
}

/// Signs a pass with the example key without checking its fields (what a thief with a stolen
/// key, or a buggy issuer, could make), exactly as `envelope::sign` lays out the bytes.
fn sign_unchecked(pass: &Pass) -> Vec<u8> {
    use ed25519_dalek::Signer as _;
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let pem = std::fs::read_to_string(root().join("keys-example/issuer.key")).expect("example key");
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).expect("PKCS#8 PEM");
    let mut bytes = envelope::MAGIC.to_vec();
    bytes.push(envelope::VERSION);
    bytes.extend_from_slice(&example_key().public_key().id().0);
    bytes.extend(postcard::to_allocvec(pass).expect("encodes"));
    let signature = key.sign(&[envelope::SIGNING_DOMAIN, &bytes].concat());
    bytes.extend_from_slice(&signature.to_bytes());
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// Adds the group order L to the signature's scalar S: the same signature in a non-canonical,
/// malleable form that `verify_strict` must refuse.
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
}

fn build() -> BTreeMap<&'static str, Vector> {
    let key = example_key();
    let good = envelope::sign(&realistic(), &key).expect("signs");
    let mut full = realistic();
    full.serial = 2;
    full.kind = PassKind::Emergency;
    full.vehicle_type = VehicleType::Tractor;
    full.org_code = Some("914403001922038216".into());
    full.zones = ["440000", "310000", "320500", "330100", "340100", "350100", "360100", "370100"]
        .iter()
        .map(|z| z.parse().expect("code"))
        .collect();
    full.supersedes = Some(1);
    let full = envelope::sign(&full, &key).expect("signs");

    let plate_at = good.windows(5).position(|w| w == b"12345").expect("plate digits in payload");
    type Variant<'a> = (&'a str, &'a str, Vec<u8>, &'a str, Option<&'a str>);
    let mut variants: Vec<Variant> = vec![
        (
            "valid_realistic",
            "The realistic pass of the brief (粤A12345, 3 zones, driver, cargo).",
            good.clone(),
            "accepted",
            None,
        ),
        ("valid_full", "Every optional field set: org code, supersedes, 8 zones.", full, "accepted", None),
    ];
    let mut payload = good.clone();
    payload[plate_at] = b'7';
    variants.push((
        "fail_payload_byte",
        "One payload byte changed (plate 粤A12345 → 粤A72345).",
        payload,
        "bad_signature",
        None,
    ));
    let mut signature = good.clone();
    *signature.last_mut().expect("bytes") ^= 0x01;
    variants.push(("fail_signature_byte", "One signature byte changed.", signature, "bad_signature", None));
    let mut malleable = good.clone();
    let len = malleable.len();
    add_group_order(&mut malleable[len - 32..]);
    variants.push((
        "fail_signature_not_canonical",
        "Signature scalar S replaced by S + L (malleability).",
        malleable,
        "bad_signature",
        None,
    ));
    let mut trailing = good.clone();
    trailing.push(0x00);
    variants.push(("fail_trailing_byte", "One byte appended.", trailing, "malformed", Some("trailing_bytes")));
    variants.push((
        "fail_truncated",
        "Last byte removed.",
        good[..good.len() - 1].to_vec(),
        "malformed",
        Some("truncated"),
    ));
    let mut version = good.clone();
    version[2] = 0x02;
    variants.push((
        "fail_unknown_version",
        "Format version 2.",
        version,
        "unsupported_version",
        Some("unsupported_version"),
    ));
    let mut key_id = good.clone();
    key_id[3..HEADER_LEN].copy_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    variants.push((
        "fail_unknown_key_id",
        "Key id 0011223344556677, not in the trust list.",
        key_id,
        "unknown_issuer",
        None,
    ));
    let mut magic = good.clone();
    magic[0..2].copy_from_slice(b"XP");
    variants.push(("fail_wrong_magic", "Magic \"XP\" instead of \"CP\".", magic, "not_a_pass", Some("wrong_magic")));
    variants.push((
        "fail_header_only",
        "Magic, version and key id, nothing else.",
        good[..HEADER_LEN + SIGNATURE_LEN - 1].to_vec(),
        "malformed",
        Some("truncated"),
    ));

    let mut long = realistic();
    long.serial = 3;
    long.valid_until = long.issued_at + 93 * 86_400;
    variants.push((
        "fail_lifetime_too_long",
        "Valid 93 days after its issue (issued 2022-03-31 09:30, valid until 2022-07-02): past the default \
         92-day lifetime bound, the mark of a backdated pass from a withdrawn key.",
        envelope::sign(&long, &key).expect("signs"),
        "lifetime_too_long",
        None,
    ));

    // Signed by the office's own key, so only the serial's range can refuse it: a pass no
    // revocation could ever name must not be ACCEPTED.
    let mut unrevocable = realistic();
    unrevocable.serial = pass_core::model::MAX_SERIAL + 1;
    variants.push((
        "fail_serial_out_of_range",
        "Serial 100000000, one above the largest a revocation can name (99999999): signed, but no revocation \
         could ever cancel it.",
        sign_unchecked(&unrevocable),
        "malformed",
        None,
    ));

    variants
        .into_iter()
        .map(|(name, description, bytes, expected, error)| {
            (
                name,
                Vector {
                    description: description.into(),
                    envelope_hex: hex(&bytes),
                    text: envelope::to_text(&bytes),
                    check_at: "2022-04-10T12:00:00+08:00".into(),
                    zone: "440114".into(),
                    expected: expected.into(),
                    expected_decode_error: error.map(Into::into),
                },
            )
        })
        .collect()
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

#[test]
fn golden_vectors_are_stable() {
    let bless = std::env::var_os("CHECKPASS_BLESS").is_some();
    for (name, vector) in build() {
        let path = vectors_dir().join(format!("{name}.toml"));
        let text = toml::to_string(&vector).expect("serialises");
        if bless {
            std::fs::write(&path, &text).expect("writes vector");
            continue;
        }
        let stored: Vector =
            toml::from_str(&std::fs::read_to_string(&path).expect("vector file exists")).expect("vector parses");
        assert_eq!(stored, vector, "{name} changed: the format or the signing changed");
    }
}

fn decode_error_code(e: &envelope::EnvelopeError) -> &'static str {
    use envelope::EnvelopeError as E;
    match e {
        E::TooLarge(_) => "too_large",
        E::WrongMagic => "wrong_magic",
        E::UnsupportedVersion(_) => "unsupported_version",
        E::Truncated => "truncated",
        E::TrailingBytes(_) => "trailing_bytes",
        E::BadPayload(_) => "bad_payload",
        E::InvalidField(_) => "invalid_field",
        E::BadText => "bad_text",
        _ => "other",
    }
}

#[test]
fn every_vector_gets_its_expected_verdict() {
    let trust = example_trust();
    let mut seen = 0;
    for entry in std::fs::read_dir(vectors_dir()).expect("vectors dir") {
        let path = entry.expect("entry").path();
        let vector: Vector = toml::from_str(&std::fs::read_to_string(&path).expect("reads")).expect("parses");
        let bytes = unhex(&vector.envelope_hex);
        assert_eq!(envelope::from_text(&vector.text).expect("text form"), bytes, "{path:?}: text ≠ hex");
        let checkpoint = Checkpoint {
            now: at(&vector.check_at),
            zone: Some(vector.zone.parse().expect("zone")),
            ..Checkpoint::default()
        };
        let verdict = verdict::verify(&bytes, &trust, &checkpoint);
        let got = verdict.reason.map_or("accepted", |r| r.code());
        assert_eq!(got, vector.expected, "{path:?}: {verdict:?}");
        let decode_error = Envelope::decode(&bytes).err().map(|e| decode_error_code(&e));
        assert_eq!(decode_error, vector.expected_decode_error.as_deref(), "{path:?}");
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} vectors found");
}

/// The realistic pass, encoded as the issuer does (one byte-mode segment at level M, the
/// smallest version that holds it), is a version 10 symbol or smaller: 57 modules a side.
#[test]
fn the_realistic_pass_fits_qr_version_10_at_level_m() {
    let bytes = envelope::sign(&realistic(), &example_key()).expect("signs");
    let code = fast_qr::qr::QRBuilder::new(bytes.clone())
        .ecl(fast_qr::ECL::M)
        .mode(fast_qr::Mode::Byte)
        .build()
        .expect("encodes");
    let version = code.version.map(|v| v as usize + 1).expect("a version");
    assert!(version <= 10, "{} bytes need QR version {version} at level M", bytes.len());
    assert_eq!(code.size, 17 + 4 * version, "the symbol's side follows its version");
}
