//! Place names: names in (command line, spreadsheet, checkpoint zone), codes signed, names out
//! (terminal verdict, printed pass, ledger listings, the `outside_zone` reason).

use std::process::Command;

use crate::util::{issuer, root, verifier};

const AT: &str = "2026-12-10T12:00:00+08:00";

fn key(dir: &std::path::Path) -> String {
    crate::util::example_key(dir).to_str().unwrap().to_owned()
}

fn trust() -> String {
    root().join("keys-example/trust.toml").to_str().unwrap().to_owned()
}

#[test]
fn names_in_codes_signed_names_on_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let png = dir.path().join("pass.png");
    let key = key(dir.path());
    #[rustfmt::skip]
    let run = issuer(&[
        "issue", "--key", &key, "--ledger", ledger.to_str().unwrap(),
        "--plate", "粤A12345", "--vehicle-type", "heavy-truck", "--holder", "东风日产乘用车公司花都工厂",
        "--origin", "花都区", "--destination", "上海市浦东新区",
        "--zone", "广州市花都区", "--zone", "上海", "--zone", "320500",
        "--cargo", "汽车零部件", "--from", "2026-12-01", "--until", "2026-12-31",
        "--out", png.to_str().unwrap(), "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let serial = run.json()["serial"].as_u64().unwrap().to_string();

    // Codes in the signed pass; names beside them for people.
    let shown = issuer(&["show", &serial, "--ledger", ledger.to_str().unwrap(), "--json"]).json();
    assert_eq!(shown["origin"], "440114");
    assert_eq!(shown["destination"], "310115");
    assert_eq!(shown["zones"], serde_json::json!(["440114", "310000", "320500"]));
    assert_eq!(shown["zone_names"], serde_json::json!(["广州市花都区", "上海市", "苏州市"]));
    let text = issuer(&["show", &serial, "--ledger", ledger.to_str().unwrap()]).stdout;
    assert!(text.contains("广州市花都区 (440114) → 上海市浦东新区 (310115)"), "{text}");
    let list = issuer(&["list", "--ledger", ledger.to_str().unwrap()]).stdout;
    assert!(list.contains("广州市花都区 → 上海市浦东新区"), "{list}");
    let csv = issuer(&["list", "--ledger", ledger.to_str().unwrap(), "--csv"]).stdout;
    assert!(csv.lines().next().unwrap().ends_with("origin_name,destination_name,zone_names"), "{csv}");
    assert!(csv.contains(",广州市花都区 上海市 苏州市"), "{csv}");

    // The checkpoint configured by name; the verdict in names.
    let png = png.to_str().unwrap();
    let accepted = verifier(&["scan", png, "--trust", &trust(), "--zone", "花都区", "--at", AT]);
    assert_eq!(accepted.code, 0, "{}", accepted.stdout);
    assert!(accepted.stdout.contains("广州市花都区 (440114) → 上海市浦东新区 (310115)"), "{}", accepted.stdout);
    assert!(accepted.stdout.contains("广州市花都区 (440114), 上海市 (310000), 苏州市 (320500)"), "{}", accepted.stdout);
    let elsewhere = verifier(&["scan", png, "--trust", &trust(), "--zone", "北京市东城区", "--at", AT, "--json"]);
    assert_eq!(elsewhere.code, 1);
    let verdict = elsewhere.json();
    assert_eq!(verdict["reason"], "outside_zone");
    assert_eq!(
        verdict["detail"],
        "this checkpoint, 北京市东城区 (110101), is not in the pass's zones: 广州市花都区, 上海市, 苏州市"
    );

    // An ambiguous checkpoint name is refused with the candidates.
    let ambiguous = verifier(&["scan", png, "--trust", &trust(), "--zone", "鼓楼区", "--at", AT]);
    assert_eq!(ambiguous.code, 2);
    assert!(ambiguous.stderr.contains("南京市鼓楼区 (320106)") && ambiguous.stderr.contains("福州市鼓楼区 (350102)"));
}

#[test]
fn a_checkpoint_finds_its_code_by_name() {
    let run = verifier(&["zones", "花都"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "440114  广州市花都区");
    let json = verifier(&["zones", "鼓楼区", "--json"]).json_lines();
    assert_eq!(json.len(), 4);
    assert_eq!(json[0]["name"], "南京市鼓楼区");
    let none = verifier(&["zones", "不存在的地方"]);
    assert_eq!(none.code, 1);
}

#[test]
fn spreadsheet_names_are_checked_by_line_and_printed_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let header = "车牌号,车辆类型,持证单位,驾驶员,起点,终点,通行区域,货物,有效期起,有效期止\n";
    let good = "花都区,上海市浦东新区,广州市花都区 上海市 苏州市,汽车零部件,2026-12-01,2026-12-31";
    let csv_text = format!(
        "{header}粤A00001,重型货车,东风日产乘用车公司花都工厂,张三,{good}\n\
         粤A00002,重型货车,东风日产乘用车公司花都工厂,李四,鼓楼区,上海市,上海市,汽车零部件,2026-12-01,2026-12-31\n\
         粤A00003,重型货车,东风日产乘用车公司花都工厂,王五,花都区,上海市,上海市;火星市,汽车零部件,2026-12-01,2026-12-31\n"
    );
    let csv = dir.path().join("trucks.csv");
    std::fs::write(&csv, &csv_text).unwrap();
    let batch = |extra: &[&str]| crate::batch::batch(&csv, dir.path(), &ledger, extra);
    let run = batch(&[]);
    assert_ne!(run.code, 0);
    let invalid = run.json()["invalid"].as_array().unwrap().clone();
    let found: Vec<(u64, &str)> =
        invalid.iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
    assert_eq!(found, [(3, "origin"), (4, "zones")]);
    let ambiguous = invalid[0]["reason"].as_str().unwrap();
    assert!(
        ambiguous.contains("南京市鼓楼区（320106）") && ambiguous.contains("开封市鼓楼区（410204）"),
        "{ambiguous}"
    );
    assert!(invalid[1]["reason"].as_str().unwrap().contains("火星市"), "{}", invalid[1]);

    // The good row, printed: the page names the places, each code small beside its name.
    std::fs::write(&csv, format!("{header}粤A00001,重型货车,东风日产乘用车公司花都工厂,张三,{good}\n")).unwrap();
    let pdf = dir.path().join("passes.pdf");
    let run = batch(&["--pdf", pdf.to_str().unwrap(), "--again"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in ["广州市花都区", "440114", "上海市浦东新区", "310115", "苏州市"] {
        assert!(text.contains(expected), "{expected} not on the printed page:\n{text}");
    }
}
