//! The systemd units in `packaging/systemd/`: `systemd-analyze verify` finds nothing to say of
//! any (an unknown or misspelt directive is a warning it prints, so the test wants silence),
//! and `systemd-analyze security --offline=true` rates each service's exposure at most 2.5.
//! The units name `/usr/bin/…`, where packages put the programs; the check runs on copies
//! naming the binaries just built.

use std::path::Path;
use std::process::Command;

use crate::util::{bin, root};

#[test]
fn the_service_units_verify_and_are_hardened() {
    let units = root().join("packaging/systemd");
    let built = bin("pass-server");
    let built = built.parent().unwrap();
    let copies = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service") || n.ends_with(".timer"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for name in &names {
        let text = std::fs::read_to_string(units.join(name)).unwrap();
        let copy = copies.path().join(name);
        std::fs::write(&copy, text.replace("/usr/bin/", &format!("{}/", built.display()))).unwrap();
    }
    let analyze = |args: &[&str], unit: &Path| {
        Command::new("systemd-analyze")
            .args(args)
            .arg(unit)
            .output()
            .unwrap_or_else(|e| panic!("systemd-analyze: {e}; ./scripts/test.sh installs Debian's systemd"))
    };
    for name in &names {
        let verified = analyze(&["verify"], &copies.path().join(name));
        let said = String::from_utf8_lossy(&verified.stderr).into_owned() + &String::from_utf8_lossy(&verified.stdout);
        assert!(verified.status.success() && said.trim().is_empty(), "{name}: {said}");
        if !name.ends_with(".service") {
            continue;
        }
        let rated = analyze(&["security", "--offline=true", "--threshold=25"], &units.join(name));
        let text = String::from_utf8_lossy(&rated.stdout).into_owned();
        let level: f64 = text
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no exposure level in {text}"));
        eprintln!("{name}: exposure {level}");
        assert!(rated.status.success() && level <= 2.5, "{name}: exposure {level}");
    }
}
