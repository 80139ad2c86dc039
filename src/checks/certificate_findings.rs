//! The extra certificate findings of §3.4 ("also report": expired at
//! capture time, missing EKU, CN only via SAN, client issuer not among the
//! CAs the server asked for, expiring soon), and the wording of a
//! certificate that the handshake diagnosis and the findings share.

use crate::facts::{FlowFacts, Role};
use crate::tls::model::CertFacts;

use super::{Finding, FindingKind, SeenChain};

/// Extra findings about the certificates used (spec §3.4 "also report").
pub(super) fn findings(
    f: &FlowFacts,
    server: Option<&SeenChain<'_>>,
    client: Option<&SeenChain<'_>>,
    out: &mut Vec<Finding>,
) {
    let at = f.first_seen.secs;
    for (role, seen) in [(Role::Server, server), (Role::Client, client)] {
        let Some(seen) = seen else { continue };
        let Some(leaf) = seen.chain.certs.first() else {
            continue;
        };
        let frames = vec![seen.chain.frame];
        let who = role.name();
        if let Some(e) = &leaf.parse_error {
            out.push(Finding {
                kind: FindingKind::CertificateUndecodable,
                role: Some(role),
                message: format!("the {who} certificate could not be decoded: {e}"),
                frames,
            });
            continue;
        }
        if let Some(na) = leaf.not_after.filter(|&na| at > na) {
            out.push(Finding {
                kind: FindingKind::CertificateExpired,
                role: Some(role),
                message: format!(
                    "the {who} certificate (CN {}) expired on {} , before the capture",
                    cn_list(leaf),
                    date(na)
                )
                .replace(" ,", ","),
                frames: frames.clone(),
            });
        }
        if let Some(nb) = leaf.not_before.filter(|&nb| at < nb) {
            out.push(Finding {
                kind: FindingKind::CertificateNotYetValid,
                role: Some(role),
                message: format!(
                    "the {who} certificate (CN {}) is not valid before {}",
                    cn_list(leaf),
                    date(nb)
                ),
                frames: frames.clone(),
            });
        }
        if let Some(missing) = missing_eku(leaf, role) {
            let kind = match role {
                Role::Server => FindingKind::ServerCertificateWithoutServerAuth,
                Role::Client => FindingKind::ClientCertificateWithoutClientAuth,
            };
            let eku = leaf.eku.as_deref().unwrap_or_default().join(", ");
            out.push(Finding {
                kind,
                role: Some(role),
                message: format!(
                    "the {who} certificate's extended key usage ({eku}) lacks {missing}; the guide's request asks for 1.3.6.1.5.5.7.3.1,1.3.6.1.5.5.7.3.2 (Submit certificate request on CA server, Step 9)"
                ),
                frames: frames.clone(),
            });
        }
        if role == Role::Client {
            if let Some(req) = f
                .tls
                .certificate_request
                .as_ref()
                .filter(|r| !r.ca_names.is_empty())
            {
                if !req.ca_names.iter().any(|ca| dn_eq(ca, &leaf.issuer)) {
                    out.push(Finding {
                        kind: FindingKind::ClientIssuerNotRequested,
                        role: Some(role),
                        message: format!(
                            "the client certificate's issuer ({}) is not among the {} CA name(s) the server's CertificateRequest lists",
                            leaf.issuer,
                            req.ca_names.len()
                        ),
                        frames: vec![req.frame, seen.chain.frame],
                    });
                }
            }
        }
    }
}

/// Certificates of either side (leaf and chain) that are still valid at
/// the capture time but expire within `warn_days` of it. A warning, not a
/// failure: the link works today (an already expired leaf is
/// [`FindingKind::CertificateExpired`]).
pub(super) fn expiry_findings(
    f: &FlowFacts,
    warn_days: u32,
    server: Option<&SeenChain<'_>>,
    client: Option<&SeenChain<'_>>,
    out: &mut Vec<Finding>,
) {
    if warn_days == 0 {
        return;
    }
    let at = f.first_seen.secs;
    let horizon = at.saturating_add(i64::from(warn_days) * 86_400);
    for (role, seen) in [(Role::Server, server), (Role::Client, client)] {
        let Some(seen) = seen else { continue };
        for (i, c) in seen.chain.certs.iter().enumerate() {
            let Some(na) = c.not_after.filter(|&na| na >= at && na <= horizon) else {
                continue;
            };
            let which = if i == 0 {
                format!("the {} certificate", role.name())
            } else {
                format!("certificate #{} of the {}'s chain", i + 1, role.name())
            };
            let days = na.saturating_sub(at) / 86_400;
            out.push(Finding {
                kind: FindingKind::CertificateExpiresSoon,
                role: Some(role),
                message: format!(
                    "{which} (CN {}) expires on {}, {days} day(s) after the capture (warn_expiry_days = {warn_days})",
                    cn_list(c),
                    date(na)
                ),
                frames: vec![seen.chain.frame],
            });
        }
    }
}

/// One-sentence description of a leaf certificate for a diagnosis.
pub(super) fn describe_cert(c: &CertFacts, at: i64) -> String {
    if let Some(e) = &c.parse_error {
        return format!("an undecodable certificate ({e})");
    }
    let cn = if c.subject_cn.is_empty() {
        "no CN".to_string()
    } else {
        format!("CN={}", c.subject_cn.join(", CN="))
    };
    let mut s = format!("{cn}, issued by {}", c.issuer);
    if let Some(na) = c.not_after {
        if at > na {
            s.push_str(&format!(", expired {}", date(na)));
        }
    }
    if let Some(nb) = c.not_before {
        if at < nb {
            s.push_str(&format!(", not valid before {}", date(nb)));
        }
    }
    s
}

/// `YYYY-MM-DD` of a Unix time (or the number if out of range).
pub(super) fn date(secs: i64) -> String {
    crate::capture::Timestamp::new(secs, 0)
        .rfc3339()
        .get(..10)
        .map_or_else(|| secs.to_string(), str::to_string)
}

/// The EKU a leaf of `role` needs but lacks (only when an EKU extension is present).
pub(super) fn missing_eku(c: &CertFacts, role: Role) -> Option<&'static str> {
    let (name, oid) = match role {
        Role::Server => ("serverAuth", "1.3.6.1.5.5.7.3.1"),
        Role::Client => ("clientAuth", "1.3.6.1.5.5.7.3.2"),
    };
    let eku = c.eku.as_ref()?;
    let ok = eku.iter().any(|e| {
        e.eq_ignore_ascii_case(name)
            || e == oid
            || e.eq_ignore_ascii_case("anyExtendedKeyUsage")
            || e == "2.5.29.37.0"
    });
    (!ok).then_some(name)
}

pub(super) fn cn_list(c: &CertFacts) -> String {
    c.subject_cn.join(", ")
}

/// DN comparison that ignores case and spacing (`CN=A, O=B` == `cn=a,o=b`).
fn dn_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // ASCII lower-cases byte by byte, so this equals the general case
        // below without building strings (it runs per CA name for every
        // client certificate).
        return ascii_dn_chars(a).eq(ascii_dn_chars(b));
    }
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase()
    };
    norm(a) == norm(b)
}

fn ascii_dn_chars(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes()
        .filter(|&c| !char::from(c).is_whitespace())
        .map(|c| c.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_comparison_ignores_case_and_spacing_in_ascii_and_unicode() {
        assert!(dn_eq("CN=Example CA, O=Example", "cn=exampleca,o=EXAMPLE"));
        assert!(
            dn_eq("CN=A,\u{b}O=B", "cn=a,o=b"),
            "vertical tab is whitespace"
        );
        assert!(!dn_eq("CN=A, O=B", "cn=a,o=c"));
        assert!(!dn_eq("CN=A, O=B", "cn=a,o=b2"));
        assert!(dn_eq("CN=Ärzte CA, O=B", "cn=ärzteca,o=b"));
        assert!(!dn_eq("CN=Ärzte CA, O=B", "cn=arzteca,o=b"));
    }
}
