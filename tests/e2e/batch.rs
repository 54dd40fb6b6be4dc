//! Batch issuance from spreadsheets, print-ready PDFs checked page by page, ledger commands.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{issuer, root, verifier};

const HEADER: &str = "车牌号,车辆类型,持证单位,统一社会信用代码,驾驶员,起点,终点,通行区域,货物,有效期起,有效期止\n";
const AT: &str = "2026-12-10T12:00:00+08:00";

fn rows(n: usize, offset: usize) -> String {
    let types = ["重型货车", "heavy-truck", "半挂牵引车", "van", "轻型货车"];
    let mut text = HEADER.to_owned();
    for i in 0..n {
        let holder = if i % 7 == 0 {
            "广州市花都区某某汽车零部件供应链管理服务有限责任公司"
        } else {
            "东风日产乘用车公司花都工厂"
        };
        text.push_str(&format!(
            "粤A{:05},{},{holder},,司机{},440114,310115,440114;310000 320500,汽车零部件,2026-12-01,2026-12-31\n",
            i + offset,
            types[i % types.len()],
            i % 10
        ));
    }
    text
}

/// The example key, copied into `dir` (a key issues from one ledger: each test has its own).
fn key(dir: &Path) -> String {
    crate::util::example_key(dir).to_str().unwrap().to_owned()
}

fn trust() -> String {
    root().join("keys-example/trust.toml").to_str().unwrap().to_owned()
}

/// `pass-issuer batch CSV --json` with the example key, PNGs into `dir/png`.
pub fn batch(csv: &Path, dir: &Path, ledger: &Path, extra: &[&str]) -> crate::util::Run {
    let out = dir.join("png");
    let key = key(dir);
    let mut args = vec![
        "batch",
        csv.to_str().unwrap(),
        "--key",
        &key,
        "--ledger",
        ledger.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    issuer(&args)
}

fn serials(run: &crate::util::Run) -> Vec<u64> {
    run.json()["issued"].as_array().unwrap().iter().map(|p| p["serial"].as_u64().unwrap()).collect()
}

fn rasterise(pdf: &Path, dir: &Path) -> Vec<PathBuf> {
    rasterise_at(pdf, dir, 150)
}

fn rasterise_at(pdf: &Path, dir: &Path, dpi: u32) -> Vec<PathBuf> {
    let prefix = dir.join("page");
    // JPEG at quality 90, as a scanner or phone would save it (pdftoppm's PNG encoder is slow).
    let status = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-jpeg", "-jpegopt", "quality=90"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(status.success());
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    pages.sort();
    pages
}

/// Runs `pass-verifier COMMAND INPUTS...` with the example trust list, at `AT`, in 440114, as JSON.
fn verify_all(command: &str, inputs: impl IntoIterator<Item = String>) -> crate::util::Run {
    let mut args = vec![command.to_owned()];
    args.extend(inputs);
    args.extend(["--trust".into(), trust(), "--at".into(), AT.into(), "--zone".into(), "440114".into()]);
    args.push("--json".into());
    verifier(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn scan_all(pages: &[PathBuf]) -> Vec<u64> {
    let run = verify_all("scan", pages.iter().map(|p| p.to_str().unwrap().to_owned()));
    let verdicts = run.json_lines();
    assert_eq!(verdicts.len(), pages.len());
    for v in &verdicts {
        assert_eq!(v["verdict"], "accepted", "{v}");
    }
    verdicts.iter().map(|v| v["pass"]["serial"].as_u64().unwrap()).collect()
}

/// The national pass: a batch with co-drivers, an 8-character new-energy plate and a
/// 64-character holder, printed on the green A4 sheet; every page rasterised at 100 and at 150
/// dpi is ACCEPTED with its pass number and crew.
#[test]
fn a_batch_with_co_drivers_prints_the_national_pass_and_scans_at_100_and_150_dpi() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let long_holder = "广州市花都区".repeat(10) + "汽车零件";
    assert_eq!(long_holder.chars().count(), 64);
    let csv = format!(
        "车牌号,车辆类型,持证单位,驾驶员,副驾驶/随车人员,起点,终点,通行区域,货物,有效期起,有效期止\n\
         粤AD12345,半挂牵引车,{long_holder},张三,李四、王五,440114,310115,440114;310000,汽车零部件,2026-12-01,2026-12-31\n\
         粤A00002,重型货车,东风日产乘用车公司花都工厂,赵六,钱七,花都区,浦东新区,440000;310000,汽车零部件,2026-12-01,2026-12-31\n\
         粤A00003,van,东风日产乘用车公司花都工厂,孙八,,440114,320505,440114;320500,汽车零部件,2026-12-01,2026-12-31\n"
    );
    let file = dir.path().join("crew.csv");
    std::fs::write(&file, csv).unwrap();
    let pdf = dir.path().join("crew.pdf");
    let run = batch(&file, dir.path(), &ledger, &["--pdf", pdf.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(serials(&run), [1, 2, 3]);

    for dpi in [100, 150] {
        let pages_dir = dir.path().join(format!("dpi{dpi}"));
        std::fs::create_dir_all(&pages_dir).unwrap();
        let pages = rasterise_at(&pdf, &pages_dir, dpi);
        assert_eq!(pages.len(), 3);
        let run = verify_all("scan", pages.iter().map(|p| p.to_str().unwrap().to_owned()));
        let verdicts = run.json_lines();
        let seen: Vec<(String, String, Vec<String>)> = verdicts
            .iter()
            .map(|v| {
                assert_eq!(v["verdict"], "accepted", "{dpi} dpi: {v}");
                let pass = &v["pass"];
                let crew = pass["crew"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect();
                (pass["pass_number"].as_str().unwrap().to_owned(), pass["plate"].as_str().unwrap().to_owned(), crew)
            })
            .collect();
        let crew = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [
                ("440114000001".into(), "粤AD12345".into(), crew(&["张三", "李四", "王五"])),
                ("440114000002".into(), "粤A00002".into(), crew(&["赵六", "钱七"])),
                ("440114000003".into(), "粤A00003".into(), crew(&["孙八"])),
            ],
            "{dpi} dpi"
        );
        if dpi == 150 {
            std::fs::copy(&pages[0], root().join("target/pass-a4.jpg")).ok();
        }
    }
    // The office finds a pass by the number an officer reads out over the phone.
    let key = key(dir.path());
    let show = issuer(&["show", "440114000002", "--key", &key, "--ledger", ledger.to_str().unwrap(), "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert_eq!(show.json()["plate"], "粤A00002", "{}", show.stdout);
    assert_eq!(show.json()["pass_number"], "440114000002", "{}", show.stdout);
    let other = issuer(&["show", "310115000002", "--key", &key, "--ledger", ledger.to_str().unwrap()]);
    assert_ne!(other.code, 0, "another office's number: {}", other.stdout);
    assert!(other.stderr.contains("not this office's"), "{}", other.stderr);
    // The terminal verdict names the crew, the driver marked, and the number.
    let page = dir.path().join("dpi150/page-1.jpg");
    let text = verifier(&["scan", page.to_str().unwrap(), "--trust", &trust(), "--at", AT, "--zone", "440114"]);
    assert!(text.stdout.contains("张三（驾驶员）、李四、王五"), "{}", text.stdout);
    assert!(text.stdout.contains("440114000001"), "{}", text.stdout);
    // The footer tells the truth about copies.
    let words = Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
    let words = String::from_utf8_lossy(&words.stdout).replace(char::is_whitespace, "");
    assert!(words.contains("复印件与原件核验结果相同"), "{words}");
    assert!(!words.contains("复印件二维码无法通过核验"), "{words}");
}

/// A format v1 pass made by the release before v2 (`keys-example/v1-pass.*`) is still
/// ACCEPTED, from its image and its text, with its driver as a crew of one.
#[test]
fn a_v1_pass_from_the_previous_release_is_still_accepted() {
    let at = "2027-01-15T12:00:00+08:00";
    let png = root().join("keys-example/v1-pass.png");
    let text = std::fs::read_to_string(root().join("keys-example/v1-pass.txt")).unwrap();
    assert_eq!(pass_core::envelope::from_text(&text).unwrap()[2], 1, "a version 1 envelope");
    for (command, input) in [("scan", png.to_str().unwrap()), ("check", text.trim())] {
        let run = verifier(&[command, input, "--trust", &trust(), "--at", at, "--zone", "440114", "--json"]);
        let verdict = run.json();
        assert_eq!(verdict["verdict"], "accepted", "{command}: {verdict}");
        assert_eq!(verdict["pass"]["crew"], serde_json::json!(["张三"]), "{verdict}");
        assert_eq!(verdict["pass"]["pass_number"], "440114000001", "{verdict}");
    }
}

/// The longest plate (8 characters, new energy) and a 64-character holder fit their boxes on
/// the rendered page: Chromium lays out the very HTML that is printed, and a script measures
/// every box for overflow (a clipped or spilling text is wider than its box).
#[test]
fn the_longest_plate_and_holder_fit_their_boxes() {
    use pass_issuer::print::{Layout, PageInfo};
    let dir = tempfile::tempdir().unwrap();
    let key = pass_core::SecretKey::from_pem(&std::fs::read_to_string(root().join("keys-example/issuer.key")).unwrap())
        .unwrap();
    let mut pass = pass_core::Pass::realistic_example();
    pass.plate = "粤AD12345".into();
    pass.holder = "广州市花都区".repeat(10) + "汽车零件";
    pass.crew = vec!["欧阳".repeat(4), "司马".repeat(4), "诸葛".repeat(4)];
    let envelope = pass_core::envelope::sign(&pass, &key).unwrap();
    let record = pass_issuer::ledger::Record { key_id: key.public_key().id(), pass, envelope };
    let info = PageInfo {
        title: pass_issuer::print::DEFAULT_TITLE.into(),
        office: "广州市花都区工业和信息化局".into(),
        division: pass_core::Division::new(440_114).ok(),
        tz: pass_core::time::default_zone(),
    };
    for layout in [Layout::A4, Layout::A5x2] {
        let html = pass_issuer::print::document(&[record.clone(), record.clone()], &info, layout).unwrap();
        let probe = "<script>addEventListener('load', () => { const bad = [];
            for (const el of document.querySelectorAll('.plate, td, th, .title, .number, .pass, .footer')) {
              if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
                bad.push(el.className + ':' + el.textContent.slice(0, 12) + ':' + el.scrollWidth + '>' + el.clientWidth);
            }
            document.body.setAttribute('data-overflow', JSON.stringify(bad)); });</script>";
        let file = dir.path().join(format!("{layout:?}.html"));
        std::fs::write(&file, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
        let out = Command::new("chromium")
            .arg("--headless")
            .args(pass_issuer::print::CHROMIUM_QUIET)
            .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
            .args(["--window-size=794,1123", "--virtual-time-budget=3000", "--dump-dom"])
            .arg(format!("file://{}", file.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let overflow = dom.split("data-overflow=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("missing");
        assert_eq!(overflow.replace("&quot;", "\""), "[]", "{layout:?}: boxes overflow");
    }
}

#[test]
fn two_hundred_rows_utf8_and_gb18030_print_and_scan() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let text = rows(200, 0);
    let utf8 = dir.path().join("trucks-utf8.csv");
    std::fs::write(&utf8, &text).unwrap();
    let gbk = dir.path().join("trucks-gbk.csv");
    std::fs::write(&gbk, encoding_rs::GB18030.encode(&text).0).unwrap();

    let pdf_a4 = dir.path().join("a4.pdf");
    let run = batch(&utf8, &dir.path().join("u"), &ledger, &["--pdf", pdf_a4.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = serials(&run);
    assert_eq!(first.len(), 200);
    assert_eq!(first.iter().collect::<BTreeSet<_>>().len(), 200);
    assert_eq!(run.json()["pages"], 200);

    let pdf_a5 = dir.path().join("a5.pdf");
    let run = batch(&gbk, &dir.path().join("g"), &ledger, &["--pdf", pdf_a5.to_str().unwrap(), "--layout", "a5x2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let second = serials(&run);
    assert_eq!(second.len(), 200);
    let all: BTreeSet<_> = first.iter().chain(&second).collect();
    assert_eq!(all.len(), 400, "no serial shared between the two files");
    assert_eq!(run.json()["pages"], 100);

    // Every page, rasterised at 150 dpi, decodes and verifies with the verifier binary.
    let a4_pages =
        rasterise(&pdf_a4, &std::fs::create_dir_all(dir.path().join("a4")).map(|()| dir.path().join("a4")).unwrap());
    assert_eq!(a4_pages.len(), 200);
    assert_eq!(scan_all(&a4_pages), first);
    let a5_pages =
        rasterise(&pdf_a5, &std::fs::create_dir_all(dir.path().join("a5")).map(|()| dir.path().join("a5")).unwrap());
    assert_eq!(a5_pages.len(), 100);
    // `scan` gives one verdict per image; each A5x2 sheet holds two passes, so decode every
    // code on every sheet and check each one's text form.
    let found = scan_all(&a5_pages);
    assert!(found.iter().all(|s| second.contains(s)));
    let mut args: Vec<String> = vec!["decode".into(), "--json".into()];
    args.extend(a5_pages.iter().map(|p| p.to_str().unwrap().to_owned()));
    let decoded = verifier(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut texts = Vec::new();
    for page in decoded.json_lines() {
        let codes = page["codes"].as_array().unwrap();
        assert_eq!(codes.len(), 2, "{page}");
        for code in codes {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(code["bytes_b64"].as_str().unwrap()).unwrap();
            texts.push(pass_core::envelope::to_text(&bytes));
        }
    }
    let checked = verify_all("check", texts);
    let serials: BTreeSet<u64> = checked
        .json_lines()
        .iter()
        .map(|v| {
            assert_eq!(v["verdict"], "accepted", "{v}");
            v["pass"]["serial"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(serials, second.iter().copied().collect::<BTreeSet<_>>(), "every pass of every sheet verifies");
}

/// Every bad row is reported by its line (the same for LF and CRLF line ends, which Excel on
/// Windows writes), the column's header as the file has it and the plate; nothing is issued.
#[test]
fn bad_rows_are_all_reported_and_nothing_is_issued() {
    for end in ["\n", "\r\n"] {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.sqlite");
        let mut lines: Vec<String> = rows(50, 100).lines().map(str::to_owned).collect();
        lines[5] = lines[5].replace("440114,310115", "440114,31011"); // line 6: destination
        lines[20] = lines[20].replace("2026-12-31", "2026-11-31"); // line 21: valid_until
        lines[40] = lines[40].replacen("粤A", "粤", 1); // line 41: plate
        let csv = dir.path().join("bad.csv");
        std::fs::write(&csv, lines.join(end) + end).unwrap();

        let run = batch(&csv, dir.path(), &ledger, &[]);
        assert_ne!(run.code, 0);
        let invalid = run.json()["invalid"].as_array().unwrap().clone();
        let found: Vec<(u64, String)> =
            invalid.iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap().to_owned())).collect();
        assert_eq!(found, vec![(6, "destination".into()), (21, "valid_until".into()), (41, "plate".into())], "{end:?}");
        assert!(invalid.iter().all(|e| !e["reason"].as_str().unwrap().is_empty()));
        assert_eq!(invalid[2]["plate"], "粤00139", "{end:?}");
        assert!(run.stderr.contains("line 6, 终点"), "{end:?}: {}", run.stderr);
        let listed = issuer(&["list", "--ledger", ledger.to_str().unwrap(), "--json"]);
        assert_eq!(listed.stdout.trim(), "", "nothing issued");

        let run = batch(&csv, dir.path(), &ledger, &["--skip-invalid"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(serials(&run).len(), 47);
        assert_eq!(run.json()["invalid"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn the_same_file_twice_is_refused_unless_again() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let csv = dir.path().join("trucks.csv");
    std::fs::write(&csv, rows(5, 300)).unwrap();
    let first = batch(&csv, dir.path(), &ledger, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = batch(&csv, dir.path(), &ledger, &[]);
    assert_ne!(second.code, 0);
    assert!(second.stderr.contains("already issued"), "{}", second.stderr);
    let again = batch(&csv, dir.path(), &ledger, &["--again"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(serials(&again), vec![6, 7, 8, 9, 10]);
}

#[test]
fn two_batches_at_once_never_share_a_serial() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let dir = dir.path().join(format!("w{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let csv = dir.join("trucks.csv");
            std::fs::write(&csv, rows(60, 1000 * (i + 1))).unwrap();
            let ledger = ledger.clone();
            std::thread::spawn(move || serials(&batch(&csv, &dir, &ledger, &[])))
        })
        .collect();
    let all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(all.len(), 120);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 120);
}

#[test]
fn ledger_commands() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let l = ledger.to_str().unwrap();
    let csv = dir.path().join("trucks.csv");
    std::fs::write(&csv, rows(3, 500)).unwrap();
    assert_eq!(batch(&csv, dir.path(), &ledger, &[]).code, 0);

    let list = issuer(&["list", "--ledger", l, "--plate", "粤A00501", "--json"]);
    assert_eq!(list.json_lines().len(), 1);
    assert_eq!(list.json()["serial"], 2);
    let csv_out = issuer(&["list", "--ledger", l, "--valid-at", "2026-12-15", "--csv"]);
    assert_eq!(csv_out.stdout.lines().count(), 4, "{}", csv_out.stdout);
    assert_eq!(issuer(&["list", "--ledger", l, "--valid-at", "2027-01-15", "--json"]).stdout.trim(), "");

    let show = issuer(&["show", "2", "--ledger", l, "--json"]);
    let shown = show.json();
    assert_eq!(shown["plate"], "粤A00501");
    let text = shown["text"].as_str().unwrap().to_owned();
    assert_eq!(verifier(&["check", &text, "--trust", &trust(), "--at", AT, "--json"]).json()["verdict"], "accepted");

    let png = dir.path().join("new.png");
    let re = issuer(&[
        "reissue",
        "2",
        "--key",
        &key(dir.path()),
        "--ledger",
        l,
        "--plate",
        "粤A99999",
        "--out",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(re.code, 0, "{}", re.stderr);
    assert_eq!(re.json()["supersedes"], 2);
    let new = issuer(&["show", &re.json()["serial"].to_string(), "--ledger", l, "--json"]).json();
    assert_eq!(new["plate"], "粤A99999");
    assert_eq!(new["supersedes"], 2);
    let old = issuer(&["show", "2", "--ledger", l, "--json"]).json();
    assert_eq!(old["revocation"]["sent"], false, "{old}");

    let entry = issuer(&["trust-entry", "--key", &key(dir.path()), "--zone", "440000"]);
    assert_eq!(entry.code, 0, "{}", entry.stderr);
    assert!(entry.stdout.starts_with("[[issuer]]"));
    assert!(entry.stdout.contains("zones = [\"440000\"]"));
    let trust_file = dir.path().join("trust.toml");
    std::fs::write(&trust_file, &entry.stdout).unwrap();
    let checked = verifier(&["check", &text, "--trust", trust_file.to_str().unwrap(), "--at", AT, "--json"]);
    assert_eq!(checked.json()["verdict"], "rejected", "310000 is outside the entry's zones");
    assert_eq!(checked.json()["reason"], "outside_zone");
}

/// `batch --pdf` looks for its print tools before it takes a serial: a machine without Chromium
/// issues nothing. A print that fails after issuing (here print QA's rasteriser fails) says how
/// to print the same passes again, and `pass-issuer print --batch SHA` (or `print SERIALS`) does,
/// without issuing any pass a second time.
#[test]
fn a_failed_print_never_costs_serials_or_issues_twice() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trucks.csv");
    std::fs::write(&csv, rows(3, 700)).unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let pdf = dir.path().join("passes.pdf");
    let key = key(dir.path());
    let png = dir.path().join("png");
    let batch_with = |variable: &str, value: &str| -> crate::util::Run {
        #[rustfmt::skip]
        let args = [
            "batch", csv.to_str().unwrap(), "--key", &key, "--ledger", ledger.to_str().unwrap(),
            "--out-dir", png.to_str().unwrap(), "--pdf", pdf.to_str().unwrap(),
        ];
        crate::util::command("pass-issuer").args(args).env(variable, value).output().unwrap().into()
    };
    let issued = || {
        if !ledger.exists() {
            return 0;
        }
        let run = issuer(&["list", "--json", "--key", &key, "--ledger", ledger.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json_lines().len()
    };

    // No Chromium: refused before any serial is taken.
    let run = batch_with("CHECKPASS_CHROMIUM", "/nonexistent/chromium");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("chromium"), "{}", run.stderr);
    assert_eq!(issued(), 0, "nothing issued without a printer tool");
    assert!(!pdf.exists());

    // Print QA fails after issuing: the passes stay issued, the error says how to print them.
    let run = batch_with("CHECKPASS_PDFTOPPM", "/bin/false");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(issued(), 3);
    assert!(!pdf.exists(), "no unchecked PDF");
    let sha = run
        .stderr
        .split("print --batch ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no way to print again in: {}", run.stderr))
        .to_owned();

    // Printed again from the ledger: the same three serials, none issued twice.
    let run = issuer(&[
        "print",
        "--batch",
        &sha,
        "--pdf",
        pdf.to_str().unwrap(),
        "--key",
        &key,
        "--ledger",
        ledger.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(issued(), 3, "printing issues nothing");
    std::fs::create_dir_all(dir.path().join("pages")).unwrap();
    let pages = rasterise(&pdf, &dir.path().join("pages"));
    assert_eq!(scan_all(&pages), [1, 2, 3]);

    // By serial; a serial never issued is refused.
    let one = dir.path().join("one.pdf");
    let run =
        issuer(&["print", "2", "--pdf", one.to_str().unwrap(), "--key", &key, "--ledger", ledger.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run =
        issuer(&["print", "9", "--pdf", one.to_str().unwrap(), "--key", &key, "--ledger", ledger.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("never issued"), "{}", run.stderr);
    // The same file again is still refused as a repeat: the print did not reopen it.
    let run = batch(&csv, dir.path(), &ledger, &[]);
    assert_ne!(run.code, 0);
    assert_eq!(issued(), 3);
}
