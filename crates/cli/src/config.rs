//! Where the command-line tool keeps its sign-in between runs: the askgate
//! URL and the session's refresh token, in `credentials.json` of the user's
//! config directory, readable by the user alone (0600).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    pub url: Option<String>,
    pub refresh_token: Option<String>,
}

/// `ASKGATE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/askgate`, else
/// `~/.config/askgate` (`%APPDATA%\askgate` on Windows).
pub fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ASKGATE_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("askgate"));
    }
    if cfg!(windows) {
        return std::env::var_os("APPDATA").map(|d| PathBuf::from(d).join("askgate"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config").join("askgate"))
}

fn file(dir: &Path) -> PathBuf {
    dir.join("credentials.json")
}

pub fn load() -> Saved {
    dir()
        .and_then(|dir| fs::read(file(&dir)).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Writes `saved` atomically (a new file renamed over the old one), 0600 from
/// the moment it exists.
pub fn store(saved: &Saved) -> Result<PathBuf, String> {
    let dir = dir().ok_or("no config directory: set ASKGATE_CONFIG_DIR or HOME")?;
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let target = file(&dir);
    let temporary = dir.join(".credentials.json.new");
    let body = serde_json::to_vec_pretty(saved).map_err(|e| e.to_string())?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options
        .open(&temporary)
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // An older file of the same name may have had wider permissions.
        fs::set_permissions(&temporary, fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
    }
    out.write_all(&body)
        .and_then(|()| out.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    fs::rename(&temporary, &target)
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(target)
}

/// Forgets the sign-in (and the URL it was for).
pub fn forget() -> Result<(), String> {
    let Some(dir) = dir() else { return Ok(()) };
    let path = file(&dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}
