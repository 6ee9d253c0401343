//! Where things live, per OS (after Mullvad's daemon: one place that knows the conventions).

use std::path::PathBuf;

/// The service's root-only state directory (key file, databases).
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HYPHA_STATE_DIR") {
        return PathBuf::from(d);
    }
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Hypha")
    } else if cfg!(windows) {
        std::env::var_os("ProgramData")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
            .join("Hypha")
    } else {
        PathBuf::from("/var/lib/hypha")
    }
}

/// The service's configuration file.
pub fn config_file() -> PathBuf {
    if let Some(f) = std::env::var_os("HYPHA_CONFIG") {
        return PathBuf::from(f);
    }
    if cfg!(any(target_os = "macos", windows)) {
        state_dir().join("hyphad.toml")
    } else {
        PathBuf::from("/etc/hypha/hyphad.toml")
    }
}

/// The service's identity key file.
pub fn key_file() -> PathBuf {
    state_dir().join("key")
}

/// A user's own key file, for running the CLI without the service.
pub fn user_key_file() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("hypha").join("key")
}

/// The local API socket (Unix) or named pipe (Windows). `HYPHA_SOCKET` overrides it; a
/// service run without root (e.g. `--no-tun` for development) uses the user's runtime
/// directory, and clients look there when the system socket does not exist.
pub fn socket() -> PathBuf {
    if let Some(p) = std::env::var_os("HYPHA_SOCKET") {
        return PathBuf::from(p);
    }
    let system = system_socket();
    if !system.exists()
        && let Some(user) = user_socket().filter(|u| u.exists())
    {
        return user;
    }
    system
}

/// The per-user fallback socket (`$XDG_RUNTIME_DIR/hypha/hypha.sock`).
pub fn user_socket() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("hypha").join("hypha.sock"))
}

/// The system socket path.
pub fn system_socket() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(r"\\.\pipe\hypha")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/var/run/hypha/hypha.sock")
    } else {
        PathBuf::from("/run/hypha/hypha.sock")
    }
}
