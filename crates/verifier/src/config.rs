//! Where the verifier finds its trust list and settings.
//!
//! Precedence: command-line flag, then environment variable, then the config file
//! (`$XDG_CONFIG_HOME/checkpass/verifier.toml` on Linux, or `--config` / `CHECKPASS_CONFIG`),
//! then the default. The default trust list is `trust.toml` in the same config directory.
//!
//! ```toml
//! zone = "440114"            # this checkpoint's GB/T 2260 code
//! trust = "/etc/checkpass/trust.toml"
//! tz = "Asia/Shanghai"
//! ```

use std::path::{Path, PathBuf};

use pass_core::trust::TrustError;
use pass_core::{Division, TrustList};
use serde::Deserialize;

/// Largest trust list or config file read, in bytes.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Why settings could not be loaded. Any of these means "could not check" (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{0}: larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge(PathBuf),
    /// The config file is invalid.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The trust list is invalid.
    #[error("{path}: {source}")]
    Trust {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: TrustError,
    },
    /// No home directory to put default files in.
    #[error("no home directory: pass {0} explicitly")]
    NoDefaultDir(&'static str),
    /// No trust list is configured and none is at the default place.
    #[error("no trust list: pass --trust FILE, set CHECKPASS_TRUST, or put one at {0}")]
    NoTrustList(PathBuf),
}

/// The optional config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The checkpoint's zone.
    pub zone: Option<String>,
    /// Path of the trust list.
    pub trust: Option<PathBuf>,
    /// Display time zone.
    pub tz: Option<String>,
}

/// The platform's config directory for checkpass (`~/.config/checkpass` on Linux).
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "checkpass").map(|d| d.config_dir().to_owned())
}

/// The platform's data directory for checkpass state (`~/.local/share/checkpass` on Linux).
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "checkpass").map(|d| d.data_dir().to_owned())
}

/// Reads a small text file, refusing huge ones.
pub fn read_small(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io { path: path.to_owned(), source };
    pass_files::read_to_string_capped(path, MAX_CONFIG_BYTES).map_err(|e| match e.kind() {
        std::io::ErrorKind::FileTooLarge => ConfigError::TooLarge(path.to_owned()),
        _ => io(e),
    })
}

/// Loads the config file: `explicit` must exist; the default one may be absent.
pub fn load_config(explicit: Option<&Path>) -> Result<ConfigFile, ConfigError> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => match config_dir().map(|d| d.join("verifier.toml")) {
            Some(path) if path.exists() => path,
            _ => return Ok(ConfigFile::default()),
        },
    };
    let text = read_small(&path)?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid { path, problem: e.message().to_owned() })
}

/// Resolves the trust list path: flag or environment, then config file, then the default.
pub fn trust_path(flag: Option<&Path>, config: &ConfigFile) -> Result<PathBuf, ConfigError> {
    if let Some(path) = flag.or(config.trust.as_deref()) {
        return Ok(path.to_owned());
    }
    let default = config_dir().unwrap_or_default().join("trust.toml");
    if default.exists() { Ok(default) } else { Err(ConfigError::NoTrustList(default)) }
}

/// Loads and checks a trust list.
pub fn load_trust(path: &Path) -> Result<TrustList, ConfigError> {
    let text = read_small(path)?;
    TrustList::from_toml(&text).map_err(|source| ConfigError::Trust { path: path.to_owned(), source })
}

/// Resolves the checkpoint zone: flag or environment, then config file.
pub fn zone(flag: Option<Division>, config: &ConfigFile) -> Result<Option<Division>, ConfigError> {
    match (flag, &config.zone) {
        (Some(zone), _) => Ok(Some(zone)),
        (None, Some(text)) => pass_core::division::parse_place(text)
            .map(Some)
            .map_err(|e| ConfigError::Invalid { path: PathBuf::from("verifier.toml"), problem: format!("zone: {e}") }),
        (None, None) => Ok(None),
    }
}

/// Resolves the state file: flag or environment, then `state.bin` in the data directory.
pub fn state_path(flag: Option<&Path>) -> Result<PathBuf, ConfigError> {
    match flag {
        Some(path) => Ok(path.to_owned()),
        None => data_dir().map(|d| d.join("state.bin")).ok_or(ConfigError::NoDefaultDir("--state")),
    }
}
