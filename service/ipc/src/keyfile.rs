//! The identity key file: the 32-byte ed25519 seed as 64 hex digits and a newline, mode 0600,
//! written atomically (temp file + rename) so a crash never leaves half a key.

use std::io::Write;
use std::path::Path;

use hypha_proto::identity::Identity;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file exists but does not hold a key.
    #[error("{0}: not a 64-hex-digit key")]
    Malformed(String),
    /// Reading or writing failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The OS gave no randomness.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Reads the key at `path`, or creates the file with a fresh key. Returns the identity and
/// whether it was created.
pub fn load_or_create(path: &Path) -> Result<(Identity, bool), KeyFileError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(s) => Ok((parse(&s).ok_or(KeyFileError::Malformed(shown))?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| KeyFileError::Random(e.to_string()))?;
            let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            write_private(path, format!("{hex}\n").as_bytes())
                .map_err(|e| KeyFileError::Io(shown, e))?;
            Ok((Identity::from_seed(seed), true))
        }
        Err(e) => Err(KeyFileError::Io(shown, e)),
    }
}

fn parse(s: &str) -> Option<Identity> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Identity::from_seed(seed))
}

/// Writes a secret file atomically, mode 0600 on Unix (the directory is created 0700).
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k/key");
        let (a, created) = load_or_create(&p).unwrap();
        assert!(created);
        let (b, created) = load_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(a.node_id(), b.node_id());
        std::fs::write(&p, "zz").unwrap();
        assert!(matches!(
            load_or_create(&p),
            Err(KeyFileError::Malformed(_))
        ));
    }
}
