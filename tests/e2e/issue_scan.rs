//! Issue → PNG → scan, and every verdict a checkpoint must tell apart.

use std::collections::BTreeSet;

use image::{GrayImage, imageops};
use pass_core::envelope;
use pass_issuer::render::Qr;

use crate::util::{self, DURING, issue_realistic, office, scan, verifier};

fn reason(run: &util::Run) -> String {
    run.json()["reason"].as_str().unwrap_or("accepted").to_owned()
}

#[test]
fn keygen_issue_scan_accepted_then_every_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let trust = office(dir.path(), "花都区工信局");
    let png = dir.path().join("pass.png");
    let issued = issue_realistic(dir.path(), &png, &[]);
    assert_eq!(issued["serial"], 1);
    assert!(issued["bytes"].as_u64().unwrap() <= 213, "{issued}");
    assert!(issued["qr_version"].as_i64().unwrap() <= 10, "{issued}");
    assert!(issued["text"].as_str().unwrap().starts_with("CP:"));

    let run = scan(&png, &trust, &["--at", DURING, "--zone", "440114"]);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    let verdict = run.json();
    assert_eq!(verdict["verdict"], "accepted");
    assert_eq!(verdict["pass"]["plate"], "粤A12345");
    assert_eq!(verdict["pass"]["valid_until"], "2022-04-30T23:59:59+08:00");
    assert_eq!(verdict["warnings"], serde_json::json!([]));

    // Covered by the pass's province- and city-level zones.
    assert_eq!(reason(&scan(&png, &trust, &["--at", DURING, "--zone", "310115"])), "accepted");
    assert_eq!(reason(&scan(&png, &trust, &["--at", DURING, "--zone", "320506"])), "accepted");

    let run = scan(&png, &trust, &["--at", "2022-05-01T00:00:00+08:00", "--zone", "440114"]);
    assert_eq!((run.code, reason(&run)), (1, "expired".into()));
    let run = scan(&png, &trust, &["--at", "2022-03-31T23:59:59+08:00", "--zone", "440114"]);
    assert_eq!((run.code, reason(&run)), (1, "not_yet_valid".into()));
    let run = scan(&png, &trust, &["--at", DURING, "--zone", "110101"]);
    assert_eq!((run.code, reason(&run)), (1, "outside_zone".into()));

    // No zone configured: accepted, with a warning.
    let run = scan(&png, &trust, &["--at", DURING]);
    assert_eq!(run.json()["warnings"], serde_json::json!(["zone_not_checked"]));

    // The human output leads with the verdict and shows the plate.
    let run = verifier(&["scan", png.to_str().unwrap(), "--trust", trust.to_str().unwrap(), "--at", DURING]);
    assert!(run.stdout.contains("ACCEPTED"), "{}", run.stdout);
    assert!(run.stdout.contains("粤 A 1 2 3 4 5"), "{}", run.stdout);
    assert!(run.stdout.contains("2022-04-30 23:59 (UTC+08:00)"), "{}", run.stdout);
}

#[test]
fn a_key_outside_the_trust_list_is_unknown_issuer() {
    let trusted = tempfile::tempdir().unwrap();
    let stranger = tempfile::tempdir().unwrap();
    let trust = office(trusted.path(), "trusted office");
    office(stranger.path(), "stranger");
    let png = stranger.path().join("pass.png");
    issue_realistic(stranger.path(), &png, &[]);
    let run = scan(&png, &trust, &["--at", DURING]);
    assert_eq!((run.code, reason(&run)), (1, "unknown_issuer".into()));
    assert!(run.json()["pass"].is_null(), "unauthenticated content is not shown");
}

#[test]
fn a_re_rendered_qr_with_one_payload_byte_changed_is_bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    let trust = office(dir.path(), "office");
    let png = dir.path().join("pass.png");
    let issued = issue_realistic(dir.path(), &png, &[]);
    let mut bytes = envelope::from_text(issued["text"].as_str().unwrap()).unwrap();
    // The forger edits the plate: 粤A12345 → 粤A12346, re-renders a clean QR and prints it.
    let at = bytes.windows(5).position(|w| w == b"12345").unwrap();
    bytes[at + 4] = b'6';
    let forged = dir.path().join("forged.png");
    std::fs::write(&forged, Qr::new(&bytes).unwrap().to_png(8).unwrap()).unwrap();
    let run = scan(&forged, &trust, &["--at", DURING]);
    assert_eq!((run.code, reason(&run)), (1, "bad_signature".into()));
    assert!(run.json()["pass"].is_null());
}

#[test]
fn rotated_and_half_size_still_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let trust = office(dir.path(), "office");
    let png = dir.path().join("pass.png");
    issue_realistic(dir.path(), &png, &[]);
    let image = image::open(&png).unwrap().into_luma8();
    let rotated = imageops::rotate90(&image);
    let half = imageops::resize(&rotated, rotated.width() / 2, rotated.height() / 2, imageops::FilterType::Triangle);
    let out = dir.path().join("rotated-half.png");
    half.save(&out).unwrap();
    let run = scan(&out, &trust, &["--at", DURING]);
    assert_eq!((run.code, reason(&run)), (0, "accepted".into()), "{}", run.stderr);
}

#[test]
fn a_frame_with_an_unrelated_qr_reports_the_pass() {
    let dir = tempfile::tempdir().unwrap();
    let trust = office(dir.path(), "office");
    let png = dir.path().join("pass.png");
    issue_realistic(dir.path(), &png, &[]);
    let pass = image::open(&png).unwrap().into_luma8();
    let pass = imageops::resize(&pass, pass.width() / 2, pass.height() / 2, imageops::FilterType::Triangle);
    let (menu, side) = Qr::new(b"https://example.com/menu?table=7").unwrap().to_luma(6);
    let menu = GrayImage::from_raw(side as u32, side as u32, menu).unwrap();
    let mut frame = GrayImage::from_pixel(1280, 720, image::Luma([200]));
    imageops::overlay(&mut frame, &menu, 60, 120);
    imageops::overlay(&mut frame, &pass, 700, 150);
    let both = dir.path().join("both.png");
    frame.save(&both).unwrap();
    let run = scan(&both, &trust, &["--at", DURING]);
    assert_eq!((run.code, reason(&run)), (0, "accepted".into()));

    let mut only_menu = GrayImage::from_pixel(1280, 720, image::Luma([200]));
    imageops::overlay(&mut only_menu, &menu, 60, 120);
    let menu_png = dir.path().join("menu.png");
    only_menu.save(&menu_png).unwrap();
    let run = scan(&menu_png, &trust, &["--at", DURING]);
    assert_eq!((run.code, reason(&run)), (1, "not_a_pass".into()));

    let blank = dir.path().join("blank.png");
    GrayImage::from_pixel(640, 480, image::Luma([128])).save(&blank).unwrap();
    let run = scan(&blank, &trust, &["--at", DURING]);
    assert_eq!((run.code, reason(&run)), (1, "no_code_found".into()));
}

#[test]
fn check_and_decode_agree_with_the_issued_text() {
    let dir = tempfile::tempdir().unwrap();
    let trust = office(dir.path(), "office");
    let png = dir.path().join("pass.png");
    let issued = issue_realistic(dir.path(), &png, &[]);
    let text = issued["text"].as_str().unwrap();
    let t = trust.to_str().unwrap();
    let run = verifier(&["check", text, "--trust", t, "--at", DURING, "--json"]);
    assert_eq!((run.code, run.json()["verdict"].as_str().unwrap()), (0, "accepted"));
    let run = verifier(&["check", "hello", "CP:@@@", text, "--trust", t, "--at", DURING, "--json"]);
    let reasons: Vec<_> = run.json_lines().iter().map(|v| v["reason"].clone()).collect();
    assert_eq!(run.code, 1);
    assert_eq!(reasons, vec![serde_json::json!("not_a_pass"), serde_json::json!("malformed"), serde_json::Value::Null]);

    let run = verifier(&["decode", png.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0);
    let decoded = run.json();
    let codes = decoded["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 1);
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(codes[0]["bytes_b64"].as_str().unwrap()).unwrap();
    assert_eq!(envelope::to_text(&bytes), text);
    // The decode's own time (a real decode takes some), and what it ran: the cheapest first.
    let ms = decoded["ms"].as_f64().unwrap();
    assert!(ms > 0.0 && ms < 60_000.0, "{ms}");
    assert_eq!(decoded["strategies"][0], "local", "{decoded}");
}

#[test]
fn two_processes_issuing_at_once_never_share_a_serial() {
    let dir = tempfile::tempdir().unwrap();
    office(dir.path(), "office");
    let ledger = dir.path().join("shared-ledger.sqlite");
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let dir = dir.path().to_owned();
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                (0..20)
                    .map(|i| {
                        let png = dir.join(format!("p{w}-{i}.png"));
                        issue_realistic(&dir, &png, &["--ledger", ledger.to_str().unwrap()])["serial"].as_u64().unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let serials: Vec<u64> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let distinct: BTreeSet<_> = serials.iter().copied().collect();
    assert_eq!(serials.len(), 40);
    assert_eq!(distinct.len(), 40, "{serials:?}");
}

/// The end-to-end tests drive the binary a checkpoint runs: `pass-verifier` built on its own,
/// without pass-core's signing code (built together with the issuer, Cargo turns it on).
#[test]
fn the_verifier_under_test_is_a_checkpoint_build() {
    let run = verifier(&["--version"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("checkpoint build: no signing code"), "{}", run.stdout);
}

/// A key issues from one ledger. `--ledger other.sqlite` with the same key used to hand out
/// serial 1 again (and revoking one pass then revoked both); it is refused, until the key is
/// moved there with `import-ledger`, after which serials go on and the old ledger is refused.
#[test]
fn a_second_ledger_for_a_key_is_refused_unless_imported() {
    let dir = tempfile::tempdir().unwrap();
    office(dir.path(), "花都区工信局");
    let key = dir.path().join("issuer.key");
    let (first, second) = (dir.path().join("ledger.sqlite"), dir.path().join("other.sqlite"));
    let png = dir.path().join("p.png");
    let issue = |ledger: &std::path::Path| {
        let key = key.to_str().unwrap();
        #[rustfmt::skip]
        let run = util::issuer_at("2022-03-31 01:30:00", &[
            "issue", "--key", key, "--ledger", ledger.to_str().unwrap(), "--plate", "粤A12345",
            "--vehicle-type", "heavy-truck", "--holder", "东风日产乘用车公司花都工厂", "--origin", "440114",
            "--destination", "310115", "--zone", "440114", "--cargo", "汽车零部件", "--from", "2022-04-01",
            "--until", "2022-04-30", "--out", png.to_str().unwrap(), "--json",
        ]);
        run
    };
    assert_eq!(issue(&first).json()["serial"], 1);
    let refused = issue(&second);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(refused.stderr.contains("already issues from the ledger"), "{}", refused.stderr);
    assert!(refused.stderr.contains("ledger.sqlite"), "names the key's ledger: {}", refused.stderr);

    #[rustfmt::skip]
    let moved = util::issuer(&[
        "import-ledger", first.to_str().unwrap(), "--key", key.to_str().unwrap(), "--ledger", second.to_str().unwrap(),
    ]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert_eq!(issue(&second).json()["serial"], 2, "serials go on after the imported ones");
    assert_eq!(issue(&first).code, 2, "the old ledger is refused for this key now");
}
