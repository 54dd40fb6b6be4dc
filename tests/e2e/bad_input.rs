//! Hostile and broken inputs: exit 2 with a one-line reason, never a panic.

use std::io::Cursor;

use image::{GrayImage, ImageFormat};

use crate::util::{self, DURING, verifier};

fn example_trust() -> String {
    util::root().join("keys-example/trust.toml").to_str().unwrap().to_owned()
}

fn assert_could_not_check(path: &std::path::Path, expect: &str) {
    let run = verifier(&["scan", path.to_str().unwrap(), "--trust", &example_trust(), "--at", DURING]);
    assert_eq!(run.code, 2, "{}: {} {}", path.display(), run.stdout, run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(run.stderr.contains(expect), "{}: {}", path.display(), run.stderr);
    // --json prints one object per input, this one too.
    let run = verifier(&["scan", path.to_str().unwrap(), "--trust", &example_trust(), "--at", DURING, "--json"]);
    assert_eq!(run.code, 2);
    let answer = run.json();
    assert_eq!(answer["verdict"], "error", "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains(expect)), "{answer}");
}

#[test]
fn broken_files_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert_could_not_check(&empty, "empty");

    let text = dir.path().join("x.png");
    std::fs::write(&text, b"this is not an image\n").unwrap();
    assert_could_not_check(&text, "not a JPEG, PNG, WebP or PNM");

    let mut jpeg = Vec::new();
    let noise = GrayImage::from_fn(640, 480, |x, y| image::Luma([((x * 7 + y * 13) % 251) as u8]));
    noise.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &jpeg[..jpeg.len() / 2]).unwrap();
    assert_could_not_check(&truncated, "damaged or truncated");

    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, png_claiming(100_000, 100_000)).unwrap();
    assert_could_not_check(&huge, "too large");
    // Within the side limit, but 144 megapixels: refused before a byte is decoded.
    let square = dir.path().join("square.png");
    std::fs::write(&square, png_claiming(12_000, 12_000)).unwrap();
    assert_could_not_check(&square, "megapixels");

    assert_could_not_check(&dir.path().join("missing.png"), "cannot read file");
}

#[test]
fn a_missing_or_broken_trust_list_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("blank.png");
    GrayImage::new(10, 10).save(&image).unwrap();
    let run = verifier(&["scan", image.to_str().unwrap(), "--trust", "/nonexistent/trust.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent/trust.toml"), "{}", run.stderr);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[issuer]]\nname = \"x\"\nkey_id = \"00\"\n").unwrap();
    let run = verifier(&["check", "CP:AAAA", "--trust", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("trust list"), "{}", run.stderr);
    let run = verifier(&["check", "CP:AAAA"]);
    assert_eq!(run.code, 2, "no trust list configured");
    assert!(run.stderr.contains("no trust list"), "{}", run.stderr);
}

/// A valid PNG header that claims `width`×`height` pixels, followed by a tiny IDAT.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
