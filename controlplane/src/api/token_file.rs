//! The generated API token: `<data-dir>/api-token`, mode 0600.
//!
//! With no token configured (and `[api] auth` not `"none"`), the first start
//! writes a random 256-bit token there and later starts read it back, so
//! skylanectl run by the same user finds it without the token being typed.
//! The path is logged, the token never.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the generated token inside the data directory.
pub const TOKEN_FILE_NAME: &str = "api-token";

/// `<data_dir>/api-token`.
pub fn default_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE_NAME)
}

/// The first line of a token file, trimmed.
pub fn read_token(path: &Path) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

/// A fresh random token: 32 bytes from the OS, hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads `<data_dir>/api-token`, creating it (mode 0600, the directory 0700
/// when new) with a random token first if it does not exist.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = default_token_path(data_dir);
    if !path.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)?;
        let token = random_token()?;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(format!("{token}\n").as_bytes())?;
                file.sync_all()?;
                tracing::info!(path = %path.display(), "api: generated an API token (skylanectl reads it from this file)");
                return Ok(token);
            }
            // Another process created it meanwhile: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let mode = std::fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "api: the token file is readable by other users; chmod 600 it");
    }
    tracing::info!(path = %path.display(), "api: using the API token in this file");
    read_token(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/skylane");
        let first = load_or_create(&data).unwrap();
        assert_eq!(first.len(), 64);
        let meta = std::fs::metadata(default_token_path(&data)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&data).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create(other.path()).unwrap(), first);
    }
}
