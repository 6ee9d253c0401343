//! The HTTP API's bearer token: 32 random bytes in hex, in a file made at the first start and
//! kept, readable by root and group `hypha` (Unix: mode 0640). Whoever can read it can do what
//! a member of `hypha` can do over the socket.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Reads the token in `path`, or makes one there.
pub fn load_or_create(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => {
            let t = t.trim().to_string();
            if t.len() < 32 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                bail!(
                    "{}: the HTTP API token must be at least 32 printable characters \
                     (delete the file to have a new one made)",
                    path.display()
                );
            }
            restrict(path)?;
            Ok(t)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let t: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            // Written to a private temporary file, then renamed, so that nobody ever reads a
            // half-written token or one with looser permissions.
            let tmp = path.with_extension("tmp");
            write_private(&tmp, &t)?;
            restrict(&tmp)?;
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
            tracing::info!("made a new HTTP API token in {}", path.display());
            Ok(t)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, t: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{t}").with_context(|| format!("writing {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, t: &str) -> Result<()> {
    std::fs::write(path, format!("{t}\n")).with_context(|| format!("writing {}", path.display()))
}

/// Mode 0640 and group `hypha` (when the group exists), whatever the file had.
#[cfg(unix)]
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    if let Ok(Some(g)) = nix::unistd::Group::from_name("hypha") {
        // Not fatal: an unprivileged development run cannot give files away.
        if let Err(e) = nix::unistd::chown(path, None, Some(g.gid)) {
            tracing::warn!("giving {} to group hypha: {e}", path.display());
        }
    }
    Ok(())
}

/// Windows: the state directory's ACL (SYSTEM and Administrators only, see `winsvc`) covers it.
#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<()> {
    Ok(())
}

/// Compares without leaking where the first difference is.
pub fn same(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_private_and_kept() {
        let dir = std::env::temp_dir().join(format!("hypha-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("api-token");
        let t = load_or_create(&path).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(load_or_create(&path).unwrap(), t, "kept across starts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        assert!(same(&t, &t));
        assert!(!same(&t[..63], &t));
        let mut other = t.clone().into_bytes();
        other[63] = if other[63] == b'0' { b'1' } else { b'0' };
        assert!(!same(std::str::from_utf8(&other).unwrap(), &t));
        std::fs::write(&path, "short\n").unwrap();
        let e = load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("at least 32"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
