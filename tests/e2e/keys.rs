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
