//! Profile: the expected configuration a flow is judged against (spec §2),
//! built in or loaded from TOML.
//!
//! Owns: [`Profile`] and its policy types, [`ProfileError`] and the
//! commented default profile ([`default_profile_toml`]). Suite names come
//! from the TLS stage's table ([`crate::tls::suites`]).
//!
//! Invariants: a `Profile` is always valid — every version and suite is a
//! code point, `ports` is non-empty, CN lists hold no empty names. Loading
//! never half-succeeds: any unknown key or bad value is a
//! [`ProfileError::Invalid`] naming the file, the line and the key.
//!
//! ```
//! use tlsaudit::profile::Profile;
//! let p = Profile::from_toml("[peers]\nserver_cn = [\"imp.example.com\"]\n",
//!                            std::path::Path::new("site.toml")).unwrap();
//! assert_eq!(p.ports, vec![5062]);
//! assert_eq!(p.peers.server_cn, vec!["imp.example.com".to_string()]);
//! ```

mod load;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::tls::model::{CipherSuiteId, TlsVersion};

/// The name of the built-in profile.
pub const BUILTIN_NAME: &str = "Cisco IM&P 9.x <-> Microsoft OCS/Lync federation (TLS, port 5062)";

/// IM&P's default port for peer-authenticated TLS federation (guide: "Enter
/// 5062 in the Port field").
pub const DEFAULT_PORT: u16 = 5062;

/// Whether empty TLS fragments (CBC "empty record" IV-prefixing) are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyFragmentsPolicy {
    /// The guide's "Check Disable Empty TLS Fragments": any empty fragment fails.
    Forbidden,
    /// Not judged (the check is `skipped`, counts are still reported).
    Allowed,
}

impl EmptyFragmentsPolicy {
    pub fn name(self) -> &'static str {
        match self {
            EmptyFragmentsPolicy::Forbidden => "forbidden",
            EmptyFragmentsPolicy::Allowed => "allowed",
        }
    }
}

/// Whether the client must present a certificate (mutual TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertPolicy {
    Required,
    Optional,
}

impl ClientCertPolicy {
    pub fn name(self) -> &'static str {
        match self {
            ClientCertPolicy::Required => "required",
            ClientCertPolicy::Optional => "optional",
        }
    }
}

/// How an observed CN is compared with an expected name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// Exact, ASCII case-insensitive (DNS names are case-insensitive). Default.
    ExactCi,
    /// Byte-for-byte.
    Exact,
    /// Case-insensitive; a leading `*.` label on either side matches exactly one label.
    Wildcard,
}

impl MatchMode {
    pub fn name(self) -> &'static str {
        match self {
            MatchMode::ExactCi => "exact-ci",
            MatchMode::Exact => "exact",
            MatchMode::Wildcard => "wildcard",
        }
    }

    fn parse(s: &str) -> Option<MatchMode> {
        match s {
            "exact-ci" => Some(MatchMode::ExactCi),
            "exact" => Some(MatchMode::Exact),
            "wildcard" => Some(MatchMode::Wildcard),
            _ => None,
        }
    }

    /// Whether `observed` (a certificate name) matches `expected` (a profile name).
    pub fn matches(self, expected: &str, observed: &str) -> bool {
        match self {
            MatchMode::Exact => expected == observed,
            MatchMode::ExactCi => expected.eq_ignore_ascii_case(observed),
            MatchMode::Wildcard => {
                expected.eq_ignore_ascii_case(observed)
                    || wildcard_match(expected, observed)
                    || wildcard_match(observed, expected)
            }
        }
    }
}

/// `pattern` = `*.rest`: matches `label.rest` where `label` is one non-empty label.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let Some(rest) = pattern.strip_prefix("*.") else {
        return false;
    };
    match name.split_once('.') {
        Some((label, tail)) => !label.is_empty() && tail.eq_ignore_ascii_case(rest),
        None => false,
    }
}

/// `[tls]`: what the handshake must negotiate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    /// Allowed negotiated versions; empty = not checked (`skipped`).
    pub versions: Vec<TlsVersion>,
    /// Allowed suites; empty = not checked (`skipped`).
    pub cipher_suites: Vec<CipherSuiteId>,
    pub empty_fragments: EmptyFragmentsPolicy,
    pub client_certificate: ClientCertPolicy,
}

/// `[peers]`: expected certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeersPolicy {
    /// Expected server CNs; empty = not configured (`skipped`, observed CN shown).
    pub server_cn: Vec<String>,
    pub client_cn: Vec<String>,
    pub match_mode: MatchMode,
}

/// A loaded, validated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// Server ports to audit (non-empty).
    pub ports: Vec<u16>,
    pub tls: TlsPolicy,
    pub peers: PeersPolicy,
    /// File the profile came from; `None` for the built-in one.
    pub origin: Option<PathBuf>,
    /// A certificate (leaf or chain) expiring within this many days of the
    /// capture time is a finding (and a live warning); 0 turns it off.
    pub warn_expiry_days: u32,
}

/// Default of `warn_expiry_days`: a month leaves time to order, sign and
/// install a federation certificate on both sides.
pub const DEFAULT_WARN_EXPIRY_DAYS: u32 = 30;

impl Profile {
    /// The built-in IM&P ↔ OCS profile (spec §2), without CNs: names are
    /// site-specific, so the CN checks are `skipped` until they are given.
    pub fn builtin() -> Profile {
        Profile {
            name: BUILTIN_NAME.into(),
            ports: vec![DEFAULT_PORT],
            tls: TlsPolicy {
                versions: vec![TlsVersion::TLS10],
                cipher_suites: vec![CipherSuiteId::RSA_WITH_3DES_EDE_CBC_SHA],
                empty_fragments: EmptyFragmentsPolicy::Forbidden,
                client_certificate: ClientCertPolicy::Required,
            },
            peers: PeersPolicy {
                server_cn: Vec::new(),
                client_cn: Vec::new(),
                match_mode: MatchMode::ExactCi,
            },
            origin: None,
            warn_expiry_days: DEFAULT_WARN_EXPIRY_DAYS,
        }
    }

    /// Read and validate a TOML profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::from_toml(&text, path)
    }

    /// Parse and validate TOML text; `origin` names it in errors. Keys left
    /// out take the built-in profile's values.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        load::parse(text, origin)
    }

    /// `--server-cn` (replaces the profile's list; empty names are dropped).
    pub fn set_server_cn(&mut self, names: Vec<String>) {
        self.peers.server_cn = clean_names(names);
    }

    /// `--client-cn` (replaces the profile's list; empty names are dropped).
    pub fn set_client_cn(&mut self, names: Vec<String>) {
        self.peers.client_cn = clean_names(names);
    }

    /// `--port` (replaces the profile's ports; an empty list keeps them).
    pub fn set_ports(&mut self, ports: Vec<u16>) {
        if !ports.is_empty() {
            let mut ports = ports;
            ports.sort_unstable();
            ports.dedup();
            self.ports = ports;
        }
    }

    /// Where the profile came from, for reports: the file, or `built-in`.
    pub fn origin_display(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(|| "built-in".to_string(), |p| p.display().to_string())
    }
}

fn clean_names(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.origin_display())
    }
}

/// The commented default profile printed by `tlsaudit profile`. Parses back
/// to [`Profile::builtin`] (tested).
pub fn default_profile_toml() -> &'static str {
    DEFAULT_PROFILE_TOML
}

const DEFAULT_PROFILE_TOML: &str = r#"# tlsaudit profile: what a healthy TLS federation link between Cisco IM and
# Presence (IM&P) and Microsoft OCS/Lync looks like. Steps quoted from the
# Cisco guide "Configuration of security between IM and Presence and
# Microsoft OCS" (IM and Presence 9.0(1)).

name = "Cisco IM&P 9.x <-> Microsoft OCS/Lync federation (TLS, port 5062)"

# Server port(s) to audit.
# Guide: Configure a TLS route for IM and Presence on Microsoft OCS, Step 6:
# "Enter 5062 in the Port field. The port number 5062 is the default IM and
# Presence port where it listens for peer authentication TLS connections."
ports = [5062]

# Days before a certificate (leaf or chain) expires from which every flow
# presenting it gets an expiry finding (and `live` a warning event); 0 = off.
# An expired federation certificate is the most common federation outage.
warn_expiry_days = 30

[tls]
# Allowed negotiated versions (TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3, SSLv3, or "0x0301").
# Guide: Configure Microsoft OCS to use TLSv1: "IM and Presence only supports
# TLSv1 so you must configure Microsoft OCS to use TLSv1."
versions = ["TLSv1.0"]

# Allowed cipher suites, by IANA name or as "0x000a".
# Guide: Add TLS peer to selected TLS peer subjects list on IM and Presence,
# Step 4: "From the list of available TLS ciphers, select
# TLS_RSA_WITH_3DES_EDE_CBC_SHA." and Step 5: "Select the right arrow to move
# this cipher to Selected TLS Ciphers."
cipher_suites = ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]

# "forbidden" or "allowed".
# Guide: Add TLS peer to selected TLS peer subjects list on IM and Presence,
# Step 6: "Check Disable Empty TLS Fragments."
empty_fragments = "forbidden"

# Mutual TLS: "required" or "optional". IM&P's peer-authentication context
# (Default_Cisco_UPS_SIP_Proxy_Peer_Auth_TLS_Context) authenticates the peer
# by its certificate.
client_certificate = "required"

[peers]
# Expected Subject CN of the server's certificate (the IM&P side on 5062).
# Guide: Configure a TLS route for IM and Presence on Microsoft OCS, Step 6:
# "This should match with Subject CN of the IM and Presence certificate
# otherwise Microsoft OCS will not establish a TLS connection with IM and
# Presence."
# server_cn = ["imp.example.com"]

# Expected Subject CN of the client's certificate (the OCS side).
# Guide: Create a new TLS peer subject for Microsoft OCS on IM and Presence,
# Step 3: "Enter the subject CN of the certificate that Microsoft OCS presents
# in the Peer Subject Name field."
# client_cn = ["ocs.example.com"]

# How CNs are compared: "exact-ci" (default, case-insensitive), "exact", or
# "wildcard" (a leading "*." label matches one label).
match = "exact-ci"
"#;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_default_profile_parses_back_to_builtin() {
        let parsed = Profile::from_toml(default_profile_toml(), Path::new("default.toml"))
            .expect("default profile parses");
        assert_eq!(parsed.origin.as_deref(), Some(Path::new("default.toml")));
        let parsed = Profile {
            origin: None,
            ..parsed
        };
        assert_eq!(parsed, Profile::builtin());
    }

    #[test]
    fn default_profile_quotes_the_guide_steps() {
        let text = default_profile_toml();
        assert!(text.contains("Step 6: \"Check Disable Empty TLS Fragments.\""));
        assert!(text.contains("Configure Microsoft OCS to use TLSv1"));
        assert!(text.contains("Peer Subject Name"));
    }

    #[test]
    fn cli_overrides_replace_lists_and_drop_blank_names() {
        let mut p = Profile::builtin();
        p.set_server_cn(vec!["imp.example.com".into(), " ".into()]);
        p.set_client_cn(vec!["ocs.example.com".into()]);
        p.set_ports(vec![5063, 5062, 5063]);
        assert_eq!(p.peers.server_cn, vec!["imp.example.com"]);
        assert_eq!(p.peers.client_cn, vec!["ocs.example.com"]);
        assert_eq!(p.ports, vec![5062, 5063]);
        p.set_ports(Vec::new());
        assert_eq!(p.ports, vec![5062, 5063]);
    }

    #[test]
    fn match_modes_compare_as_documented() {
        assert!(MatchMode::ExactCi.matches("IMP.example.com", "imp.EXAMPLE.com"));
        assert!(!MatchMode::Exact.matches("IMP.example.com", "imp.example.com"));
        assert!(MatchMode::Wildcard.matches("*.example.com", "imp.example.com"));
        assert!(MatchMode::Wildcard.matches("imp.example.com", "*.Example.com"));
        assert!(!MatchMode::Wildcard.matches("*.example.com", "a.b.example.com"));
        assert!(!MatchMode::ExactCi.matches("*.example.com", "imp.example.com"));
    }
}
