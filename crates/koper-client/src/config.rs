//! Client settings: the server URL, the user and the API token.
//!
//! Layered: `~/.config/koper.toml` (or the file `--config` names) <
//! `KOPER_URL`/`KOPER_USER`/`KOPER_TOKEN` < flags. When koper's own file is
//! absent, copr-cli's `~/.config/copr` is read instead, so Copr users need
//! no new configuration.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the settings came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// koper's own TOML file.
    Koper(PathBuf),
    /// copr-cli's INI file.
    Copr(PathBuf),
    /// Only environment variables and flags.
    None,
}

/// Resolved client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's base URL, without a trailing slash.
    pub url: String,
    /// The user name (default owner of projects).
    pub user: Option<String>,
    /// The login sent with the token (copr-cli's `login`); `None` sends the
    /// token alone.
    pub login: Option<String>,
    /// The API token.
    pub token: Option<String>,
    /// Where the file layer came from.
    pub source: ConfigSource,
}

/// Settings given as flags or environment variables; they win over files.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// An explicit config file (must exist).
    pub config_file: Option<PathBuf>,
    /// Server URL.
    pub url: Option<String>,
    /// User name.
    pub user: Option<String>,
    /// API token.
    pub token: Option<String>,
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No server URL anywhere.
    #[error("no koper server is configured")]
    NoUrl,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KoperFile {
    url: Option<String>,
    user: Option<String>,
    token: Option<String>,
}

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
}

fn read_koper(path: &Path) -> Result<KoperFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// copr-cli's `[copr-cli]` section: `copr_url`, `username`, `login`,
/// `token`.
fn read_copr(path: &Path) -> Result<ClientConfig, ConfigError> {
    let ini = ini::Ini::load_from_file(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let section = ini
        .section(Some("copr-cli"))
        .ok_or_else(|| ConfigError::File {
            path: path.to_owned(),
            message: "no [copr-cli] section".into(),
        })?;
    let get = |key: &str| {
        section
            .get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(ClientConfig {
        url: get("copr_url").unwrap_or_default(),
        user: get("username"),
        login: get("login"),
        token: get("token"),
        source: ConfigSource::Copr(path.to_owned()),
    })
}

impl ClientConfig {
    /// Loads the settings: file, then environment (already folded into
    /// `overrides` by the caller's argument parser), then flags.
    pub fn load(overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        let mut config = match &overrides.config_file {
            Some(path) => Self::from_koper_file(path)?,
            None => Self::from_default_files()?,
        };
        if let Some(url) = &overrides.url {
            config.url = url.clone();
        }
        if let Some(user) = &overrides.user {
            config.user = Some(user.clone());
        }
        if let Some(token) = &overrides.token {
            config.token = Some(token.clone());
            // A token given on its own is koper's; a copr login from the
            // file would not match it.
            config.login = None;
        }
        config.url = config.url.trim_end_matches('/').to_owned();
        if config.url.is_empty() {
            return Err(ConfigError::NoUrl);
        }
        Ok(config)
    }

    fn from_koper_file(path: &Path) -> Result<Self, ConfigError> {
        let file = read_koper(path)?;
        Ok(Self {
            url: file.url.unwrap_or_default(),
            user: file.user,
            login: None,
            token: file.token,
            source: ConfigSource::Koper(path.to_owned()),
        })
    }

    fn from_default_files() -> Result<Self, ConfigError> {
        let Some(dir) = config_dir() else {
            return Ok(Self::empty());
        };
        let koper = dir.join("koper.toml");
        if koper.exists() {
            return Self::from_koper_file(&koper);
        }
        let copr = dir.join("copr");
        if copr.exists() {
            return read_copr(&copr);
        }
        Ok(Self::empty())
    }

    fn empty() -> Self {
        Self {
            url: String::new(),
            user: None,
            login: None,
            token: None,
            source: ConfigSource::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copr_cli_config_is_understood() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copr");
        std::fs::write(
            &path,
            "[copr-cli]\nlogin = abcdef\nusername = alice\ntoken = xyz\ncopr_url = https://koper.example.org/\n# expiration date: 2027-01-01\n",
        )
        .unwrap();
        let config = read_copr(&path).unwrap();
        assert_eq!(config.url, "https://koper.example.org/");
        assert_eq!(config.user.as_deref(), Some("alice"));
        assert_eq!(config.login.as_deref(), Some("abcdef"));
        assert_eq!(config.token.as_deref(), Some("xyz"));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("koper.toml");
        std::fs::write(
            &path,
            "url = \"http://a:1/\"\nuser = \"alice\"\ntoken = \"t1\"\n",
        )
        .unwrap();
        let config = ClientConfig::load(&ConfigOverrides {
            config_file: Some(path.clone()),
            token: Some("t2".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(config.url, "http://a:1");
        assert_eq!(config.token.as_deref(), Some("t2"));
        assert_eq!(config.user.as_deref(), Some("alice"));
        assert_eq!(config.source, ConfigSource::Koper(path));
    }

    #[test]
    fn unknown_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("koper.toml");
        std::fs::write(&path, "url = \"http://a\"\ntokne = \"x\"\n").unwrap();
        let err = ClientConfig::load(&ConfigOverrides {
            config_file: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("tokne"), "{err}");
    }
}
