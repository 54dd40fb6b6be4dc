//! Regression floors on the real photo dev set (`tests/data/qr-photos-dev`: zxing-cpp's test
//! samples, Apache-2.0, see its README): each set reads at least what it reads today, and the
//! set of photos without a code yields nothing. The set is in the repository, so the test runs
//! on every machine; a missing file is a failure, never a skip.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use pass_decode::{self as decode, image_input};

/// Per set: photos that must read (measured 2026-11-30; zxing-cpp 3.1.1 reads 8, 53, 15, 4).
const FLOORS: &[(&str, usize)] = &[("qrcode-1", 8), ("qrcode-2", 53), ("qrcode-4", 23), ("qrcode-7", 4)];

/// The texts a code's raw bytes may stand for (the dev set's expected texts are UTF-8 of
/// Shift_JIS, GB18030 or ISO-8859-1 sources).
fn texts(bytes: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = [encoding_rs::UTF_8, encoding_rs::SHIFT_JIS, encoding_rs::GB18030]
        .iter()
        .filter_map(|enc| enc.decode_without_bom_handling_and_without_replacement(bytes).map(|t| t.into_owned()))
        .collect();
    out.push(bytes.iter().map(|&b| char::from(b)).collect());
    out
}

#[test]
fn dev_photo_set_reads_at_least_the_floors_with_no_false_positives() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/qr-photos-dev");
    let manifest = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("the dev photo set at {}: {e}", dir.display()));
    let manifest: Vec<serde_json::Value> = serde_json::from_str(&manifest).expect("manifest.json parses");
    let mut read: BTreeMap<String, usize> = BTreeMap::new();
    let mut false_positives = Vec::new();
    for item in &manifest {
        let (set, file) = (item["set"].as_str().expect("set"), item["file"].as_str().expect("file"));
        let image = image_input::load_path(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        // No time budget: the outcome must not depend on the machine's speed.
        let codes = decode::decode_until(&image, Duration::MAX, |_| true).codes;
        if item["negative"].as_bool() == Some(true) {
            if !codes.is_empty() {
                false_positives.push(file.to_string());
            }
        } else {
            let expected = item["expected"].as_str().expect("expected text");
            if codes.iter().any(|c| texts(c).iter().any(|t| t == expected)) {
                *read.entry(set.to_string()).or_default() += 1;
            }
        }
    }
    eprintln!("read per set: {read:?}");
    assert!(false_positives.is_empty(), "codes read from photos without one: {false_positives:?}");
    for (set, floor) in FLOORS {
        let got = read.get(*set).copied().unwrap_or(0);
        assert!(got >= *floor, "{set}: read {got}, floor {floor}");
    }
}
