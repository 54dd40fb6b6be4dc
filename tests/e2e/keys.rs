//! Key files: 0600, never overwritten.

use crate::util::issuer;

#[test]
fn keygen_writes_0600_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let first = issuer(&["keygen", "--out", out, "--name", "office"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let key_id = first.stdout.trim().to_owned();
    assert_eq!(key_id.len(), 16, "prints the key id");
    let key = dir.path().join("issuer.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&key).unwrap();
    let public = std::fs::read_to_string(dir.path().join("issuer.pub")).unwrap();
    assert!(public.contains(&key_id));
    assert!(public.contains("name = \"office\""));

    let second = issuer(&["keygen", "--out", out, "--name", "other"]);
    assert_ne!(second.code, 0);
    assert!(second.stderr.contains("already exists"), "{}", second.stderr);
    assert_eq!(std::fs::read(&key).unwrap(), before, "the first key is untouched");
    assert_eq!(std::fs::read_to_string(dir.path().join("issuer.pub")).unwrap(), public);
}

/// The root's operator makes a key as the README says (`keygen --authority` writes
/// `authority.key` and `authority.pub`), and `trust-entry --as root` prints the `[root]` section a
/// root-mode checkpoint's trust file needs: the checkpoint loads it and says it has no data yet.
#[test]
fn trust_entry_prints_a_root_section_a_checkpoint_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let made = issuer(&["keygen", "--authority", "--out", root.to_str().unwrap(), "--name", "国家通行证根"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert!(root.join("authority.key").exists() && root.join("authority.pub").exists());
    let entry = issuer(&["trust-entry", "--key", root.join("authority.pub").to_str().unwrap(), "--as", "root"]);
    assert_eq!(entry.code, 0, "{}", entry.stderr);
    assert!(entry.stdout.starts_with("[root]\nname = \"国家通行证根\"\n"), "{}", entry.stdout);
    let trust = dir.path().join("trust.toml");
    std::fs::write(&trust, &entry.stdout).unwrap();
    let state = dir.path().join("state.bin");
    let status =
        crate::util::verifier(&["status", "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap()]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    assert!(status.stdout.contains("0 trusted issuers"), "{}", status.stdout);
    // The same key as a single authority's [authority] section.
    let entry = issuer(&["trust-entry", "--key", root.join("authority.pub").to_str().unwrap(), "--as", "authority"]);
    assert!(entry.stdout.starts_with("[authority]\n"), "{}", entry.stdout);
    std::fs::write(&trust, &entry.stdout).unwrap();
    let state = dir.path().join("authority-state.bin");
    let status =
        crate::util::verifier(&["status", "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap()]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    // Options that belong to an issuer's entry are refused for a [root] one.
    let refused = issuer(&[
        "trust-entry",
        "--key",
        root.join("authority.pub").to_str().unwrap(),
        "--as",
        "root",
        "--zone",
        "440000",
    ]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
}

/// K-2: `list` and `show` with another office's key on a ledger bound to the first are refused
/// (before: its passes were listed under the other office's pass numbers).
#[test]
fn list_with_another_offices_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Huadu's office is the example key (440114), its ledger beside the test's files.
    crate::util::issue_now(dir.path(), "粤A12345");
    let (huadu, ledger) = (crate::util::example_key(dir.path()), dir.path().join("ledger.sqlite"));
    let kunshan = dir.path().join("kunshan");
    let made = issuer(&["keygen", "--out", kunshan.to_str().unwrap(), "--name", "昆山", "--division", "320583"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let own = issuer(&["list", "--ledger", ledger.to_str().unwrap(), "--key", huadu.to_str().unwrap()]);
    assert_eq!(own.code, 0, "{}", own.stderr);
    assert!(own.stdout.contains("440114000001"), "{}", own.stdout);
    let other_key = kunshan.join("issuer.key");
    for command in ["list", "show"] {
        let mut args = vec![command];
        if command == "show" {
            args.push("1");
        }
        args.extend(["--ledger", ledger.to_str().unwrap(), "--key", other_key.to_str().unwrap()]);
        let other = issuer(&args);
        assert_eq!(other.code, 2, "{command}: {}", other.stdout);
        assert!(other.stderr.contains("issues for key"), "{command}: {}", other.stderr);
    }
}
