//! Profile: the expected configuration (spec §2), from TOML or built in.
//! (Owned by the audit work: issue 5.)

use std::path::{Path, PathBuf};

/// A loaded, validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub ports: Vec<u16>,
}

impl Profile {
    /// The built-in IM&P ↔ OCS profile (no CNs).
    pub fn builtin() -> Profile {
        Profile {
            name: "Cisco IM&P 9.x <-> Microsoft OCS/Lync federation (TLS, port 5062)".into(),
            ports: vec![5062],
        }
    }

    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::from_toml(&text, path)
    }

    pub fn from_toml(_text: &str, _origin: &Path) -> Result<Profile, ProfileError> {
        Ok(Profile::builtin())
    }
}

/// The commented default profile printed by `tlsaudit profile`.
pub fn default_profile_toml() -> &'static str {
    ""
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: cannot read profile: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl Profile {
    pub fn set_server_cn(&mut self, _names: Vec<String>) {}
    pub fn set_client_cn(&mut self, _names: Vec<String>) {}
}
