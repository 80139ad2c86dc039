//! TOML → [`Profile`]. Every value is read through `toml::Spanned` so a bad
//! value is reported at its own line; unknown keys are rejected by serde
//! (`deny_unknown_fields`) at the key's line.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{
    clean_names, ClientCertPolicy, EmptyFragmentsPolicy, MatchMode, Profile, ProfileError,
};
use crate::tls::model::{CipherSuiteId, TlsVersion};
use crate::tls::suites;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<Spanned<String>>,
    ports: Option<Spanned<Vec<Spanned<i64>>>>,
    warn_expiry_days: Option<Spanned<i64>>,
    tls: Option<RawTls>,
    peers: Option<RawPeers>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    versions: Option<Vec<Spanned<String>>>,
    cipher_suites: Option<Vec<Spanned<String>>>,
    empty_fragments: Option<Spanned<String>>,
    client_certificate: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeers {
    server_cn: Option<Vec<Spanned<String>>>,
    client_cn: Option<Vec<Spanned<String>>>,
    #[serde(rename = "match")]
    match_mode: Option<Spanned<String>>,
}

/// Turns byte spans into `ProfileError::Invalid` with 1-based line numbers.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a Path,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        // `get` instead of slicing: a span inside a multi-byte character must not panic.
        self.text
            .get(..end)
            .map_or(1, |head| head.bytes().filter(|&b| b == b'\n').count() + 1)
    }

    fn invalid(&self, span: Range<usize>, message: String) -> ProfileError {
        ProfileError::Invalid {
            path: self.origin.to_path_buf(),
            line: self.line_of(span.start),
            message,
        }
    }

    fn line_text(&self, line: usize) -> &str {
        self.text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim()
    }
}

pub(super) fn parse(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
    let ctx = Ctx { text, origin };
    let raw: RawProfile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| ctx.line_of(s.start));
        let mut message = e.message().trim().to_string();
        let context = ctx.line_text(line);
        // serde's type errors do not name the key; the offending line does.
        if !context.is_empty() {
            message = format!("{message} (in `{context}`)");
        }
        ProfileError::Invalid {
            path: origin.to_path_buf(),
            line,
            message,
        }
    })?;

    let mut p = Profile::builtin();
    p.origin = Some(origin.to_path_buf());
    match raw.name {
        Some(name) => {
            let span = name.span();
            let name = name.into_inner().trim().to_string();
            if name.is_empty() {
                return Err(ctx.invalid(span, "`name` must not be empty".into()));
            }
            p.name = name;
        }
        None => p.name = format!("profile {}", origin.display()),
    }
    if let Some(ports) = raw.ports {
        let span = ports.span();
        let mut out = Vec::new();
        for port in ports.into_inner() {
            let v = *port.get_ref();
            match u16::try_from(v) {
                Ok(v) if v != 0 => out.push(v),
                _ => {
                    return Err(ctx.invalid(
                        port.span(),
                        format!("`ports`: {v} is not a TCP port (1-65535)"),
                    ))
                }
            }
        }
        if out.is_empty() {
            return Err(ctx.invalid(span, "`ports` must list at least one port".into()));
        }
        p.set_ports(out);
    }
    if let Some(days) = raw.warn_expiry_days {
        let v = *days.get_ref();
        // Ten years: past that a "days before expiry" warning means nothing.
        p.warn_expiry_days = u32::try_from(v)
            .ok()
            .filter(|&d| d <= 3650)
            .ok_or_else(|| {
                ctx.invalid(
                    days.span(),
                    format!("`warn_expiry_days`: {v} is not a number of days (0-3650)"),
                )
            })?;
    }
    if let Some(tls) = raw.tls {
        if let Some(versions) = tls.versions {
            p.tls.versions = versions
                .into_iter()
                .map(|v| {
                    TlsVersion::parse(v.get_ref()).ok_or_else(|| {
                        ctx.invalid(
                            v.span(),
                            format!(
                                "`tls.versions`: unknown version {:?} (use TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3, SSLv3 or \"0x0301\")",
                                v.get_ref()
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(list) = tls.cipher_suites {
            p.tls.cipher_suites = list
                .into_iter()
                .map(|s| {
                    parse_suite(s.get_ref()).ok_or_else(|| {
                        ctx.invalid(
                            s.span(),
                            format!(
                                "`tls.cipher_suites`: unknown cipher suite {:?} (use an IANA name such as TLS_RSA_WITH_3DES_EDE_CBC_SHA or an id such as \"0x000a\")",
                                s.get_ref()
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(ef) = tls.empty_fragments {
            p.tls.empty_fragments = match ef.get_ref().as_str() {
                "forbidden" => EmptyFragmentsPolicy::Forbidden,
                "allowed" => EmptyFragmentsPolicy::Allowed,
                other => {
                    return Err(ctx.invalid(
                        ef.span(),
                        format!(
                            "`tls.empty_fragments`: {other:?} is not \"forbidden\" or \"allowed\""
                        ),
                    ))
                }
            };
        }
        if let Some(cc) = tls.client_certificate {
            p.tls.client_certificate = match cc.get_ref().as_str() {
                "required" => ClientCertPolicy::Required,
                "optional" => ClientCertPolicy::Optional,
                other => {
                    return Err(ctx.invalid(
                        cc.span(),
                        format!(
                        "`tls.client_certificate`: {other:?} is not \"required\" or \"optional\""
                    ),
                    ))
                }
            };
        }
    }
    if let Some(peers) = raw.peers {
        if let Some(names) = peers.server_cn {
            p.peers.server_cn = names_of(&ctx, "peers.server_cn", names)?;
        }
        if let Some(names) = peers.client_cn {
            p.peers.client_cn = names_of(&ctx, "peers.client_cn", names)?;
        }
        if let Some(m) = peers.match_mode {
            p.peers.match_mode = MatchMode::parse(m.get_ref()).ok_or_else(|| {
                ctx.invalid(
                    m.span(),
                    format!(
                        "`peers.match`: {:?} is not \"exact-ci\", \"exact\" or \"wildcard\"",
                        m.get_ref()
                    ),
                )
            })?;
        }
    }
    Ok(p)
}

fn parse_suite(s: &str) -> Option<CipherSuiteId> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u16::from_str_radix(hex, 16).ok().map(CipherSuiteId);
    }
    suites::from_name(t)
}

fn names_of(
    ctx: &Ctx<'_>,
    key: &str,
    names: Vec<Spanned<String>>,
) -> Result<Vec<String>, ProfileError> {
    for n in &names {
        if n.get_ref().trim().is_empty() {
            return Err(ctx.invalid(n.span(), format!("`{key}`: empty name")));
        }
    }
    Ok(clean_names(
        names.into_iter().map(Spanned::into_inner).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, String) {
        match parse(text, Path::new("site.toml")) {
            Err(ProfileError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn full_profile_from_spec_parses() {
        let text = r#"
name = "site"
ports = [5062, 5061]
[tls]
versions = ["TLSv1.0", "TLSv1.2"]
cipher_suites = ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "0x002f"]
empty_fragments = "allowed"
client_certificate = "optional"
[peers]
server_cn = ["imp.example.com"]
client_cn = ["ocs.example.com", "lync.example.com"]
match = "wildcard"
"#;
        let p = parse(text, Path::new("site.toml")).expect("valid");
        assert_eq!(p.name, "site");
        assert_eq!(p.ports, vec![5061, 5062]);
        assert_eq!(p.tls.versions, vec![TlsVersion::TLS10, TlsVersion::TLS12]);
        assert_eq!(
            p.tls.cipher_suites,
            vec![CipherSuiteId(0x000a), CipherSuiteId(0x002f)]
        );
        assert_eq!(p.tls.empty_fragments, EmptyFragmentsPolicy::Allowed);
        assert_eq!(p.tls.client_certificate, ClientCertPolicy::Optional);
        assert_eq!(p.peers.client_cn.len(), 2);
        assert_eq!(p.peers.match_mode, MatchMode::Wildcard);
    }

    #[test]
    fn missing_keys_take_builtin_values() {
        let p = parse(
            "[peers]\nclient_cn = [\"ocs.example.com\"]\n",
            Path::new("x.toml"),
        )
        .expect("valid");
        assert_eq!(p.tls, Profile::builtin().tls);
        assert_eq!(p.ports, vec![5062]);
    }

    #[test]
    fn unknown_top_level_key_names_key_and_line() {
        let (line, msg) = err("name = \"x\"\n\nportz = [5062]\n");
        assert_eq!(line, 3);
        assert!(msg.contains("portz"), "{msg}");
    }

    #[test]
    fn unknown_key_in_table_names_key_and_line() {
        let (line, msg) = err("[tls]\nversions = [\"TLSv1.0\"]\nempty_fragment = \"allowed\"\n");
        assert_eq!(line, 3);
        assert!(msg.contains("empty_fragment"), "{msg}");
    }

    #[test]
    fn bad_version_is_reported_at_its_line() {
        let (line, msg) = err("[tls]\n\nversions = [\"TLSv1.0\",\n  \"TLSv9\"]\n");
        assert_eq!(line, 4);
        assert!(
            msg.contains("tls.versions") && msg.contains("TLSv9"),
            "{msg}"
        );
    }

    #[test]
    fn bad_suite_match_and_policy_values_are_errors() {
        let (line, msg) = err("[tls]\ncipher_suites = [\"TLS_NOPE\"]\n");
        assert_eq!(line, 2);
        assert!(msg.contains("TLS_NOPE"));
        let (line, msg) = err("[peers]\nmatch = \"regex\"\n");
        assert_eq!(line, 2);
        assert!(msg.contains("peers.match"));
        let (_, msg) = err("[tls]\nempty_fragments = \"sometimes\"\n");
        assert!(msg.contains("tls.empty_fragments"));
        let (_, msg) = err("[tls]\nclient_certificate = \"maybe\"\n");
        assert!(msg.contains("tls.client_certificate"));
    }

    #[test]
    fn bad_ports_are_errors() {
        let (line, msg) = err("ports = [70000]\n");
        assert_eq!(line, 1);
        assert!(msg.contains("70000"));
        let (_, msg) = err("ports = []\n");
        assert!(msg.contains("at least one"));
        let (line, msg) = err("name = \"x\"\nports = \"5062\"\n");
        assert_eq!(line, 2);
        assert!(msg.contains("ports"), "{msg}");
    }

    #[test]
    fn warn_expiry_days_is_read_and_checked() {
        let p = parse("warn_expiry_days = 10\n", Path::new("x.toml")).expect("valid");
        assert_eq!(p.warn_expiry_days, 10);
        let p = parse("name = \"x\"\n", Path::new("x.toml")).expect("valid");
        assert_eq!(p.warn_expiry_days, 30);
        let (line, msg) = err("name = \"x\"\nwarn_expiry_days = -1\n");
        assert_eq!(line, 2);
        assert!(msg.contains("warn_expiry_days"), "{msg}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let (line, _) = err("name = \"x\"\n[tls\n");
        assert_eq!(line, 2);
    }

    #[test]
    fn display_of_error_is_file_colon_line() {
        let e = parse("bogus = 1\n", Path::new("site.toml")).unwrap_err();
        assert!(e.to_string().starts_with("site.toml:1: "), "{e}");
    }
}
