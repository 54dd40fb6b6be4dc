//! Key files on disk: generating an issuer key pair, and loading a secret key.
//!
//! Files are written whole or not at all (temp file, fsync, then a hard link that fails if the
//! name exists), so a crash never leaves half a key and an existing key is never overwritten.
//! Secret key files are mode 0600.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pass_core::keys::{KeyError, PublicKeyFile};
use pass_core::{PublicKey, SecretKey};
use zeroize::Zeroizing;

use pass_files::{self as files, Mode};

/// File name of the secret key inside a key directory.
pub const SECRET_FILE: &str = "issuer.key";
/// File name of the public key inside a key directory.
pub const PUBLIC_FILE: &str = "issuer.pub";

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The target file exists; keys are never overwritten.
    #[error("{0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file's contents are not a key.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: KeyError,
    },
    /// The OS random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io { path: path.to_owned(), source }
}

/// Generates a key pair into `dir` (`issuer.key`, `issuer.pub`) and returns the public key.
/// Fails without touching anything when either file exists.
pub fn generate(dir: &Path, name: &str, division: Option<pass_core::Division>) -> Result<PublicKey, KeyFileError> {
    generate_named(dir, name, division, SECRET_FILE, PUBLIC_FILE)
}

/// Like [`generate`], with chosen file names (the authority's key pair uses `authority.*`).
pub fn generate_named(
    dir: &Path,
    name: &str,
    division: Option<pass_core::Division>,
    secret_file: &str,
    public_file: &str,
) -> Result<PublicKey, KeyFileError> {
    let secret_path = dir.join(secret_file);
    let public_path = dir.join(public_file);
    for path in [&secret_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            return Err(KeyFileError::Exists(path.clone()));
        }
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| KeyFileError::Random(e.to_string()))?;
    let key = SecretKey::from_seed(&seed);
    let pem = key.to_pem().map_err(|source| KeyFileError::Key { path: secret_path.clone(), source })?;
    write_new(&secret_path, pem.as_bytes(), 0o600)?;
    let public = key.public_key();
    write_new(&public_path, PublicKeyFile::new(name, &public, division).to_toml().as_bytes(), 0o644)?;
    Ok(public)
}

/// Writes a new file atomically and never over an existing one.
fn write_new(path: &Path, contents: &[u8], perm: u32) -> Result<(), KeyFileError> {
    files::write(path, contents, perm, Mode::CreateNew).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => KeyFileError::Exists(path.to_owned()),
        _ => KeyFileError::Io { path: path.to_owned(), source: e },
    })
}

/// Loads a PKCS#8 PEM secret key.
pub fn load_secret(path: &Path) -> Result<SecretKey, KeyFileError> {
    let text =
        Zeroizing::new(pass_files::read_to_string_capped(path, pass_files::MAX_KEY_FILE).map_err(
            |e| match e.kind() {
                io::ErrorKind::FileTooLarge => {
                    KeyFileError::Key { path: path.to_owned(), source: KeyError::BadSecretKey }
                }
                _ => KeyFileError::Io { path: path.to_owned(), source: e },
            },
        )?);
    SecretKey::from_pem(&text).map_err(|source| KeyFileError::Key { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_0600_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let public = generate(dir.path(), "office", None).expect("generates");
        let secret_path = dir.path().join(SECRET_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&secret_path).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let before = fs::read(&secret_path).expect("reads");
        assert!(matches!(generate(dir.path(), "again", None), Err(KeyFileError::Exists(_))));
        assert_eq!(fs::read(&secret_path).expect("reads"), before);
        assert_eq!(load_secret(&secret_path).expect("loads").public_key(), public);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).expect("lists").collect();
        assert_eq!(leftovers.len(), 2, "no temp files left behind");
    }
}
