//! Golden test vectors for pass formats v1 and v2 (`tests/vectors/*.toml`, described in
//! docs/FORMAT.md). The v1 files are the ones made before v2 existed, unchanged but for the
//! unknown-version vector (version 2 is known now, so it says 3); v2 files start with `v2_`.
//!
//! Ed25519 is deterministic, so signing the same pass with the example key always gives the
//! same bytes: `golden_vectors_are_stable` rebuilds every vector and compares it with its file
//! (set `CHECKPASS_BLESS=1` to rewrite the files after a deliberate format change), and
//! `every_vector_gets_its_expected_verdict` checks each file on its own, so a vector added by
//! hand is checked too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pass_core::envelope::{self, Envelope, HEADER_LEN, SIGNATURE_LEN};
use pass_core::model::PassV1;
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

/// Signs with the example key without checking any field (what a thief with a stolen key, or
/// a buggy issuer, could make), laid out as `envelope::sign` lays out the bytes: `payload` is
/// the postcard encoding of a pass in format `version`.
fn sign_raw(version: u8, payload: &[u8]) -> Vec<u8> {
    use ed25519_dalek::Signer as _;
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let pem = std::fs::read_to_string(root().join("keys-example/issuer.key")).expect("example key");
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).expect("PKCS#8 PEM");
    let mut bytes = envelope::MAGIC.to_vec();
    bytes.push(version);
    bytes.extend_from_slice(&example_key().public_key().id().0);
    bytes.extend_from_slice(payload);
    let domain = if version == envelope::VERSION_1 { envelope::SIGNING_DOMAIN_V1 } else { envelope::SIGNING_DOMAIN };
    let signature = key.sign(&[domain, &bytes].concat());
    bytes.extend_from_slice(&signature.to_bytes());
    bytes
}

/// A pass in format v1, as the release before v2 signed it (a crew of at most one: the driver).
fn sign_v1(pass: &Pass) -> Vec<u8> {
    assert!(pass.crew.len() <= 1, "format v1 has one driver at most");
    let v1 = PassV1 {
        serial: pass.serial,
        kind: pass.kind,
        plate: pass.plate.clone(),
        vehicle_type: pass.vehicle_type,
        holder: pass.holder.clone(),
        org_code: pass.org_code.clone(),
        driver: pass.crew.first().cloned(),
        origin: pass.origin,
        destination: pass.destination,
        zones: pass.zones.clone(),
        cargo: pass.cargo.clone(),
        valid_from: pass.valid_from,
        valid_until: pass.valid_until,
        issued_at: pass.issued_at,
        supersedes: pass.supersedes,
    };
    sign_raw(envelope::VERSION_1, &postcard::to_allocvec(&v1).expect("encodes"))
}

/// A pass in format v2 without its fields checked.
fn sign_unchecked(pass: &Pass) -> Vec<u8> {
    sign_raw(envelope::VERSION, &postcard::to_allocvec(pass).expect("encodes"))
}

/// The realistic pass with a co-driver: the crew of a 1,500 km trip.
fn with_co_driver() -> Pass {
    let mut pass = realistic();
    pass.crew.push("李四".into());
    pass
}

/// Every field at its longest: a 12-character plate, a 64-character holder, three names of 32
/// characters, a 32-character cargo, 8 zones, an organisation code, a superseded serial.
fn longest() -> Pass {
    let mut pass = realistic();
    pass.serial = 99_999_999;
    pass.kind = PassKind::Emergency;
    pass.plate = "粤AD123456789".into();
    pass.vehicle_type = VehicleType::Tractor;
    pass.holder = "东".repeat(64);
    pass.org_code = Some("914403001922038216".into());
    pass.crew = vec!["张".repeat(32), "李".repeat(32), "王".repeat(32)];
    pass.zones = ["440000", "310000", "320500", "330100", "340100", "350100", "360100", "370100"]
        .iter()
        .map(|z| z.parse().expect("code"))
        .collect();
    pass.cargo = "零".repeat(32);
    pass.supersedes = Some(1);
    pass
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
    let good = sign_v1(&realistic());
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
    full.validate().expect("valid");
    let full = sign_v1(&full);

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
    version[2] = 0x03;
    variants.push((
        "fail_unknown_version",
        "Format version 3.",
        version,
        "unsupported_version",
        Some("unsupported_version"),
    ));
    let mut relabelled = good.clone();
    relabelled[2] = envelope::VERSION;
    variants.push((
        "fail_v1_relabelled_v2",
        "The realistic v1 pass with its version byte set to 2: the payload reads as v2 (one driver and a \
         crew of one are the same bytes), but v2 signs under its own label.",
        relabelled,
        "bad_signature",
        None,
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
        sign_v1(&long),
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
        sign_v1(&unrevocable),
        "malformed",
        None,
    ));

    // Format v2: what the issuer signs today.
    let co_driver = envelope::sign(&with_co_driver(), &key).expect("signs");
    variants.push((
        "v2_valid_realistic",
        "The realistic pass in format v2 with a co-driver: crew 张三 (driver), 李四.",
        co_driver.clone(),
        "accepted",
        None,
    ));
    variants.push((
        "v2_valid_longest",
        "Every field at its longest: 12-character plate, 64-character holder, three names of 32 characters, \
         32-character cargo, 8 zones, org code, supersedes, serial 99999999.",
        envelope::sign(&longest(), &key).expect("signs"),
        "accepted",
        None,
    ));
    let mut crew_byte = co_driver.clone();
    let li = crew_byte.windows(6).position(|w| w == "李四".as_bytes()).expect("co-driver in payload");
    crew_byte[li + 3..li + 6].copy_from_slice("五".as_bytes());
    variants.push((
        "v2_fail_crew_changed",
        "The co-driver 李四 changed to 李五 with a photo editor.",
        crew_byte,
        "bad_signature",
        None,
    ));
    let mut relabelled = co_driver.clone();
    relabelled[2] = envelope::VERSION_1;
    variants.push((
        "v2_fail_relabelled_v1",
        "The v2 pass with its version byte set to 1: its crew of two (count 2) is no option tag of v1.",
        relabelled,
        "malformed",
        Some("bad_payload"),
    ));
    let mut four = with_co_driver();
    four.serial = 4;
    four.crew.extend(["王五".to_string(), "赵六".to_string()]);
    variants.push((
        "v2_fail_four_crew",
        "Signed with four names (张三, 李四, 王五, 赵六): one more than a pass may carry.",
        sign_unchecked(&four),
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

/// The QR version of `bytes` encoded as the issuer does: one byte-mode segment at level M, the
/// smallest version that holds it, checked against the rendered symbol's side.
fn qr_version(bytes: &[u8]) -> usize {
    let code = fast_qr::qr::QRBuilder::new(bytes.to_vec())
        .ecl(fast_qr::ECL::M)
        .mode(fast_qr::Mode::Byte)
        .build()
        .expect("encodes");
    let version = code.version.map(|v| v as usize + 1).expect("a version");
    assert_eq!(code.size, 17 + 4 * version, "the symbol's side follows its version");
    version
}

/// The realistic pass is a version 10 symbol or smaller: 57 modules a side.
#[test]
fn the_realistic_pass_fits_qr_version_10_at_level_m() {
    let bytes = envelope::sign(&realistic(), &example_key()).expect("signs");
    let version = qr_version(&bytes);
    assert!(version <= 10, "{} bytes need QR version {version} at level M", bytes.len());
}

/// With a co-driver (张三, 李四) too: 192 bytes, of the 213 version 10 holds at level M.
#[test]
fn the_realistic_pass_with_a_co_driver_fits_qr_version_10_at_level_m() {
    let bytes = envelope::sign(&with_co_driver(), &example_key()).expect("signs");
    assert_eq!(bytes.len(), 192);
    assert_eq!(qr_version(&bytes), 10, "{} bytes", bytes.len());
    // A QR version 9 holds 180 bytes at level M: this is no accident of a generous bound.
    assert!(qr_version(&bytes[..180]) <= 9);
}

/// Today's v1-only reader (the release before v2: its envelope check, verbatim) refuses every
/// v2 envelope by its version byte, before reading a payload: never misread.
#[test]
fn a_v1_only_verifier_refuses_v2_as_unsupported_version() {
    /// The version gate of `Envelope::decode` as the v1-only release had it.
    fn v1_only_decode(bytes: &[u8]) -> Result<PassV1, &'static str> {
        if bytes.len() > envelope::MAX_ENVELOPE_LEN {
            return Err("too_large");
        }
        if bytes.len() < 2 || bytes[..2] != envelope::MAGIC {
            return Err("wrong_magic");
        }
        match bytes.get(2) {
            None => return Err("truncated"),
            Some(1) => {}
            Some(_) => return Err("unsupported_version"),
        }
        if bytes.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err("truncated");
        }
        let payload = &bytes[HEADER_LEN..bytes.len() - SIGNATURE_LEN];
        match postcard::take_from_bytes::<PassV1>(payload) {
            Ok((pass, [])) => Ok(pass),
            _ => Err("malformed"),
        }
    }
    let key = example_key();
    for pass in [realistic(), with_co_driver(), longest()] {
        let v2 = envelope::sign(&pass, &key).expect("signs");
        assert_eq!(v2[2], 2);
        assert_eq!(v1_only_decode(&v2).err(), Some("unsupported_version"));
    }
    // And it reads the v1 vectors as the new reader does.
    let v1 = sign_v1(&realistic());
    let old: Pass = v1_only_decode(&v1).expect("v1 reads").into();
    assert_eq!(old, Envelope::decode(&v1).expect("decodes").pass);
}
