//! Writes seed corpora: for the document targets real, valid documents framed as each target
//! reads its input, so the fuzzer starts from the structures behind the checks; for the image
//! targets the real photos of the dev set (`image_bytes`) and the same photos as grey frames
//! at most 200 pixels wide (`grey_frame`), so the fuzzer starts from real codes.
//! `cargo +nightly run --example seeds` (from `fuzz/`).

use std::fs;
use std::path::Path;

use pass_core::authority::{self, DocKind, Heartbeat, TrustDoc};
use pass_fuzz::{authority, held_state, issuer, trust_toml};
use sha2::{Digest, Sha256};

fn frame(kind: DocKind, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind as u8];
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("corpus directory");
    fs::write(dir.join(name), bytes).expect("seed");
}

fn main() {
    let key = authority();
    let held = held_state();
    let mut next = held.revocations.clone();
    next.add_serials(issuer().public_key().id(), [2, 3, 99_999_999]);
    next.add_key(pass_core::KeyId([7; 8]), None);
    next.version = 4;
    next.issued_at = 1_780_000_600;
    let snapshot = authority::encode_body(&next.snapshot());
    let delta = authority::encode_body(&next.delta_from(&held.revocations));
    let trust = authority::encode_body(&TrustDoc { version: 3, issued_at: 1_780_000_600, toml: trust_toml() });
    let beat = Heartbeat { version: 4, digest: next.digest(), issued_at: 1_780_000_900, trust: None }.body();

    for (name, kind, body) in [
        ("snapshot", DocKind::Snapshot, &snapshot),
        ("delta", DocKind::Delta, &delta),
        ("trust", DocKind::TrustList, &trust),
        ("heartbeat", DocKind::Heartbeat, &beat),
    ] {
        // Signed, applied to the held state and to an empty one.
        write("authority_docs", &format!("{name}-held"), &[vec![2], frame(kind, body)].concat());
        write("authority_docs", &format!("{name}-fresh"), &[vec![3], frame(kind, body)].concat());
        // Raw: the signed document itself.
        write("authority_docs", &format!("{name}-raw"), &[vec![0], authority::sign(kind, body, &key)].concat());
    }
    // The seeds must get past the checks, or they seed nothing behind them.
    let mut state = held.clone();
    for (kind, body) in [(DocKind::Delta, &delta), (DocKind::TrustList, &trust), (DocKind::Heartbeat, &beat)] {
        let said = pass_verifier::sync::import(&authority::sign(kind, body, &key), &key.public_key(), &mut state, u64::MAX / 2);
        println!("{kind:?}: {said:?}");
        assert!(said.is_ok());
    }
    let mut fresh = pass_verifier::state::LocalState::default();
    let said = pass_verifier::sync::import(&authority::sign(DocKind::Snapshot, &snapshot, &key), &key.public_key(), &mut fresh, u64::MAX / 2);
    println!("Snapshot: {said:?}");
    assert!(said.is_ok());
    let all = [
        frame(DocKind::Snapshot, &snapshot),
        frame(DocKind::Heartbeat, &beat),
        frame(DocKind::TrustList, &trust),
    ]
    .concat();
    write("authority_docs", "bundle", &[vec![6], all].concat());

    let file = held.to_bytes();
    write("state_file", "held-raw", &[vec![0], file.clone()].concat());
    write("state_file", "held-body", &[vec![1], file[5..file.len() - 32].to_vec()].concat());
    let mut empty = b"CPVS\x02".to_vec();
    empty.extend_from_slice(&authority::encode_body(&(next.snapshot(), None::<Vec<u8>>, Some(1u64), None::<Vec<u8>>)));
    empty.extend_from_slice(&Sha256::digest(&empty));
    write("state_file", "next-raw", &[vec![0], empty].concat());

    write("trust_toml", "fuzz", trust_toml().as_bytes());
    write("trust_toml", "example", &fs::read("../keys-example/trust.toml").expect("keys-example/trust.toml"));

    for vector in fs::read_dir("../crates/core/tests/vectors").expect("vectors").flatten() {
        let text = fs::read_to_string(vector.path()).expect("vector");
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("text = ") {
                let name = vector.file_name().to_string_lossy().replace(".toml", "");
                write("pass_text", &name, value.trim_matches('"').as_bytes());
            }
            if let Some(value) = line.strip_prefix("envelope_hex = ") {
                let hex = value.trim_matches('"');
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                    .collect();
                let name = vector.file_name().to_string_lossy().replace(".toml", "-bytes");
                write("pass_text", &name, &bytes);
            }
        }
    }
    let photos = Path::new("../crates/decode/tests/data/qr-photos-dev");
    for set in fs::read_dir(photos).expect("the dev photo set").flatten().filter(|e| e.path().is_dir()) {
        for photo in fs::read_dir(set.path()).expect("a set").flatten() {
            let path = photo.path();
            if !path.extension().is_some_and(|e| e == "png" || e == "jpg") {
                continue;
            }
            let name = format!("{}-{}", set.file_name().to_string_lossy(), photo.file_name().to_string_lossy());
            let bytes = fs::read(&path).expect("photo");
            write("image_bytes", &name, &bytes);
            let Ok(image) = pass_decode::image_input::load_bytes(&bytes) else { continue };
            let image = if image.width() > 200 {
                let height = (image.height() * 200 / image.width()).max(1);
                image::imageops::resize(&image, 200, height, image::imageops::FilterType::Triangle)
            } else {
                image
            };
            let mut frame = (image.width() as u16 - 1).to_le_bytes().to_vec();
            frame.extend_from_slice(image.as_raw());
            write("grey_frame", &name, &frame);
        }
    }
    // rooted_docs: a heartbeat body as its modes 2 and 3 sign it (3: how the combined file
    // names the list: 0 the held list, 1 from the input, 2 none; with 0x80 a snapshot held
    // first), and a list body as its mode 1 signs it.
    let rooted_beat = Heartbeat { version: 0, digest: pass_core::revocation::RevocationState::default().digest(), issued_at: 1_780_000_900, trust: None }.body();
    write("rooted_docs", "beat-signed", &[vec![2], rooted_beat.clone()].concat());
    for how in [0u8, 1, 2, 0x80] {
        write("rooted_docs", &format!("combined-{how}"), &[vec![3, how], rooted_beat.clone()].concat());
    }
    let list = pass_core::authorities::AuthorityList { version: 2, issued_at: 1_780_000_000, authorities: Vec::new() };
    let signed_list = list.sign(&pass_core::SecretKey::from_seed(&[0xB0; 32]));
    write("rooted_docs", "list-raw", &[vec![0], signed_list.clone()].concat());
    write("rooted_docs", "list-body", &[vec![1], signed_list[authority::HEADER_LEN..signed_list.len() - 64].to_vec()].concat());
    println!("seeds written under fuzz/corpus/");
}
