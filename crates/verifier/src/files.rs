//! Writing files whole or not at all: a temp file in the same directory, fsync, then a rename
//! (replace) or a hard link (never replace), then an fsync of the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Whether the target may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Fail with `AlreadyExists` when the target exists (keys).
    CreateNew,
    /// Replace the target atomically (rendered passes).
    Replace,
}

/// Writes `contents` to `path` atomically with Unix permissions `perm`.
pub fn write(path: &Path, contents: &[u8], perm: u32, mode: Mode) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::other("not a file name"))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, perm);
        #[cfg(not(unix))]
        let _ = perm;
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        match mode {
            Mode::CreateNew => fs::hard_link(&tmp, path)?,
            Mode::Replace => fs::rename(&tmp, path)?,
        }
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    result
}
