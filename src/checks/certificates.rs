//! §3.4 Server / client certificate CN (the extra certificate findings are
//! in `certificate_findings.rs`).
//!
//! The leaf is the first certificate of that side's Certificate message. A
//! subject with several CNs passes if any matches, and the reason says so.
//! SANs are reported but never replace the CN: the guide matches the CN.

use crate::facts::{FlowFacts, Role};
use crate::profile::{ClientCertPolicy, Profile};
use crate::tls::model::CertFacts;

use super::certificate_findings::cn_list;
use super::{capitalise, remedies, CheckResult, Finding, FindingKind, SeenChain, Verdict};

/// The chain the CN check of `role` uses: this flow's, else (resumed) the
/// earlier full handshake's.
pub(super) fn chain_for(f: &FlowFacts, role: Role) -> Option<SeenChain<'_>> {
    let own = match role {
        Role::Server => f.tls.server_certificates.as_ref(),
        Role::Client => f.tls.client_certificates.as_ref(),
    };
    if let Some(c) = own {
        return Some(SeenChain {
            chain: c,
            from_flow_frame: None,
            from_later_connection: false,
        });
    }
    let (prior, later) = if f.tls.resumed == Some(true) {
        (f.resumed_from.as_ref()?, false)
    } else {
        (f.certificates_from.as_ref()?, true)
    };
    let c = match role {
        Role::Server => prior.server_certificates.as_ref(),
        Role::Client => prior.client_certificates.as_ref(),
    }?;
    Some(SeenChain {
        chain: c,
        from_flow_frame: Some(prior.first_frame),
        from_later_connection: later,
    })
}

fn is_tls13(f: &FlowFacts) -> bool {
    f.tls.negotiated_version.is_some_and(|v| v.is_tls13())
}

/// Whether `name` appears in a handshake message list (decoders spell them
/// `client_key_exchange`, `ClientKeyExchange`, …).
fn sent(f: &FlowFacts, role: Role, name: &str) -> bool {
    // Compared char by char: this runs per message, and allocating two
    // strings per comparison showed in profiles.
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect::<Vec<char>>()
    };
    let want = norm(name);
    f.tls_dir(role).handshake_messages.iter().any(|m| {
        m.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .eq(want.iter().copied())
    })
}

fn dns_sans(c: &CertFacts) -> impl Iterator<Item = &str> {
    c.san.iter().filter_map(|s| s.strip_prefix("DNS:"))
}

pub(super) fn server_cn(
    f: &FlowFacts,
    p: &Profile,
    chain: Option<&SeenChain<'_>>,
    findings: &mut Vec<Finding>,
) -> CheckResult {
    cn_check(f, p, Role::Server, chain, findings)
}

pub(super) fn client_cn(
    f: &FlowFacts,
    p: &Profile,
    chain: Option<&SeenChain<'_>>,
    findings: &mut Vec<Finding>,
) -> CheckResult {
    cn_check(f, p, Role::Client, chain, findings)
}

fn cn_check(
    f: &FlowFacts,
    p: &Profile,
    role: Role,
    chain: Option<&SeenChain<'_>>,
    findings: &mut Vec<Finding>,
) -> CheckResult {
    let expected = match role {
        Role::Server => &p.peers.server_cn,
        Role::Client => &p.peers.client_cn,
    };
    let who = role.name();
    let remedy = match role {
        Role::Server => remedies::SERVER_CN,
        Role::Client => remedies::CLIENT_CN,
    };
    let key = match role {
        Role::Server => "server_cn",
        Role::Client => "client_cn",
    };
    let required = role == Role::Client && p.tls.client_certificate == ClientCertPolicy::Required;
    let unconfigured = expected.is_empty();
    // With no expected names, a missing certificate is only a failure when mutual TLS is required.
    let empty_verdict = |missing_fails: bool| {
        if missing_fails {
            Verdict::Fail
        } else if unconfigured || role == Role::Client {
            Verdict::Skipped
        } else {
            Verdict::Fail
        }
    };

    let Some(seen) = chain else {
        return missing_chain(f, role, required, expected);
    };
    let via = seen
        .from_flow_frame
        .map(|fr| {
            if seen.from_later_connection {
                format!(
                    " (the handshake is not in the capture, joined mid-stream at frame {}: from a later connection between the same peers, starting at frame {fr})",
                    f.first_frame
                )
            } else {
                format!(
                    " (resumed session: from the full handshake of the flow starting at frame {fr})"
                )
            }
        })
        .unwrap_or_default();
    let frames = [seen.chain.frame];
    let Some(leaf) = seen.chain.certs.first() else {
        let v = empty_verdict(required);
        let mut r = CheckResult::new(
            v,
            format!(
                "The {who} sent an empty Certificate message (frame {}){via}.",
                seen.chain.frame
            ),
        )
        .expected(expected.clone())
        .observed("empty Certificate")
        .frames(frames);
        if v == Verdict::Fail {
            r = r.remedy(if role == Role::Client {
                remedies::CLIENT_CERT_MISSING
            } else {
                remedies::CERT_REJECTED
            });
        }
        return r;
    };
    if let Some(e) = &leaf.parse_error {
        return CheckResult::new(
            Verdict::Unknown,
            format!(
                "The {who}'s certificate (frame {}) could not be decoded: {e}.",
                seen.chain.frame
            ),
        )
        .expected(expected.clone())
        .frames(frames);
    }
    let observed = if leaf.subject_cn.is_empty() {
        None
    } else {
        Some(cn_list(leaf))
    };
    if unconfigured {
        let shown = observed
            .as_deref()
            .map_or_else(|| "no CN".to_string(), |o| format!("CN {o}"));
        return CheckResult::new(
            Verdict::Skipped,
            format!(
                "No expected {who} CN configured (profile [peers] {key} or --{}); the certificate shows {shown}{via}.",
                key.replace('_', "-")
            ),
        )
        .observed_opt(observed)
        .frames(frames);
    }
    let m = p.peers.match_mode;
    let matching: Vec<&String> = leaf
        .subject_cn
        .iter()
        .filter(|cn| expected.iter().any(|e| m.matches(e, cn)))
        .collect();
    if let Some(hit) = matching.first() {
        let several = if leaf.subject_cn.len() > 1 {
            format!(
                "the subject has {} CNs ({}) and {hit} matches",
                leaf.subject_cn.len(),
                cn_list(leaf)
            )
        } else {
            format!("the {who} certificate's CN {hit} matches")
        };
        return CheckResult::new(
            Verdict::Pass,
            format!("{}{via} ({} comparison).", capitalise(several), m.name()),
        )
        .expected(expected.clone())
        .observed_opt(observed)
        .frames(frames);
    }
    let san_hit = dns_sans(leaf).find(|s| expected.iter().any(|e| m.matches(e, s)));
    let mut reason = match &observed {
        Some(o) => format!(
            "The {who} certificate's CN is {o}, not {}",
            expected.join(" or ")
        ),
        None => format!(
            "The {who} certificate has no subject CN (expected {})",
            expected.join(" or ")
        ),
    };
    if let Some(san) = san_hit {
        reason.push_str(&format!(
            "; {san} appears only in the SAN, which the guide does not match"
        ));
        findings.push(Finding {
            kind: FindingKind::CnMatchesOnlyViaSan,
            role: Some(role),
            message: format!(
                "the expected {who} name {san} matches only via the SAN, not the subject CN the guide matches"
            ),
            frames: vec![seen.chain.frame],
        });
    }
    reason.push_str(&via);
    reason.push('.');
    CheckResult::new(Verdict::Fail, reason)
        .expected(expected.clone())
        .observed_opt(observed)
        .frames(frames)
        .remedy(remedy)
}

/// No Certificate message of `role` was seen.
fn missing_chain(f: &FlowFacts, role: Role, required: bool, expected: &[String]) -> CheckResult {
    let who = role.name();
    let exp = expected.to_vec();
    let unknown_or_skip = |reason: String| {
        // Nothing to check against and nothing required: the check does not apply.
        let v = if expected.is_empty() && !(role == Role::Client && required) {
            Verdict::Skipped
        } else {
            Verdict::Unknown
        };
        CheckResult::new(v, reason).expected(exp.clone())
    };
    if f.tls.resumed == Some(true) {
        return unknown_or_skip(
            "Resumed: certificate was in the original handshake, which is not in this input."
                .into(),
        )
        .observed("resumed");
    }
    if is_tls13(f) {
        return unknown_or_skip(format!(
            "TLS 1.3: the {who}'s certificate is encrypted and cannot be read without keys."
        ))
        .observed("encrypted (TLS 1.3)");
    }
    if role == Role::Client {
        let proceeded = sent(f, Role::Client, "client_key_exchange")
            || f.tls_dir(Role::Client).change_cipher_spec.is_some();
        let server_done = sent(f, Role::Server, "server_hello_done");
        match (&f.tls.certificate_request, proceeded) {
            (Some(req), true) => {
                let reason = format!(
                    "The client sent no Certificate message although the server requested one (frame {}).",
                    req.frame
                );
                return if required {
                    CheckResult::new(Verdict::Fail, reason)
                        .expected(exp)
                        .observed("no certificate")
                        .frames([req.frame])
                        .remedy(remedies::CLIENT_CERT_MISSING)
                } else {
                    unknown_or_skip(reason)
                };
            }
            (None, _) if server_done || proceeded => {
                let reason = "The server did not request a client certificate (no CertificateRequest), so the client presented none.".to_string();
                let frames = f.tls.server_hello.iter().map(|s| s.frame);
                return if required {
                    CheckResult::new(Verdict::Fail, format!("{} Mutual TLS is required.", reason))
                        .expected(exp)
                        .observed("not requested")
                        .frames(frames)
                        .remedy(remedies::SERVER_NO_CERT_REQUEST)
                } else {
                    unknown_or_skip(reason)
                };
            }
            _ => {}
        }
    }
    let reason = if f.tls.client_hello.is_none() && f.tcp.midstream {
        format!(
            "No {who} certificate seen: the handshake is not in the capture; the connection was already established at frame {}, and no later connection between the same peers shows one.",
            f.first_frame
        )
    } else if f.tls.server_hello.is_none() {
        format!("No {who} certificate seen: the handshake did not get that far in the capture.")
    } else {
        format!("No {who} Certificate message seen.")
    };
    unknown_or_skip(reason)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{cert, FlowBuilder, CAPTURE_TIME};
    use super::super::judge;
    use super::*;
    use crate::tls::model::TlsVersion;

    fn profile() -> Profile {
        let mut p = Profile::builtin();
        p.set_server_cn(vec!["imp.example.com".into()]);
        p.set_client_cn(vec!["ocs.example.com".into()]);
        p
    }

    #[test]
    fn matching_cns_pass_case_insensitively() {
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["IMP.Example.com"])
            .client_cert(8, &["ocs.example.com"])
            .build();
        let j = judge(f, &profile());
        assert_eq!(j.checks.server_cn.verdict, Verdict::Pass);
        assert_eq!(j.checks.server_cn.frames, vec![6]);
        assert_eq!(j.checks.client_cn.verdict, Verdict::Pass);
    }

    #[test]
    fn several_cns_are_all_reported_and_pass_if_any_matches() {
        let f = FlowBuilder::new()
            .federation_ok()
            .server_cert(6, &["cup.example.com", "imp.example.com"])
            .build();
        let j = judge(f, &profile());
        let c = &j.checks.server_cn;
        assert_eq!(c.verdict, Verdict::Pass);
        assert_eq!(
            c.observed.as_deref(),
            Some("cup.example.com, imp.example.com")
        );
        assert!(c.reason.contains("has 2 CNs"), "{}", c.reason);
    }

    #[test]
    fn cn_only_in_san_fails_and_is_a_finding() {
        let mut leaf = cert(&["IMP-01"]);
        leaf.san = vec!["DNS:imp.example.com".into()];
        let f = FlowBuilder::new()
            .federation_ok()
            .server_chain(6, vec![leaf])
            .build();
        let j = judge(f, &profile());
        assert_eq!(j.checks.server_cn.verdict, Verdict::Fail);
        assert!(j.checks.server_cn.reason.contains("only in the SAN"));
        assert_eq!(
            j.checks.server_cn.remedy.as_deref(),
            Some(remedies::SERVER_CN)
        );
        assert!(j
            .findings
            .iter()
            .any(|x| x.kind == FindingKind::CnMatchesOnlyViaSan));
    }

    #[test]
    fn unconfigured_cn_is_skipped_but_observed() {
        let j = judge(
            FlowBuilder::new().federation_ok().build(),
            &Profile::builtin(),
        );
        assert_eq!(j.checks.client_cn.verdict, Verdict::Skipped);
        assert_eq!(
            j.checks.client_cn.observed.as_deref(),
            Some("ocs.example.com")
        );
        assert!(j.checks.client_cn.reason.contains("--client-cn"));
    }

    #[test]
    fn tls13_without_certificates_is_unknown() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x1301])
            .server_hello(5, TlsVersion::TLS12, 0x1301)
            .with(|f| f.tls.negotiated_version = Some(TlsVersion::TLS13))
            .build();
        let j = judge(f, &profile());
        assert_eq!(j.checks.server_cn.verdict, Verdict::Unknown);
        assert!(j.checks.server_cn.reason.starts_with("TLS 1.3"));
        assert_eq!(j.checks.client_cn.verdict, Verdict::Unknown);
    }

    #[test]
    fn resumed_without_prior_flow_is_unknown() {
        let j = judge(FlowBuilder::new().resumed().build(), &profile());
        assert_eq!(j.checks.server_cn.verdict, Verdict::Unknown);
        assert_eq!(
            j.checks.server_cn.reason,
            "Resumed: certificate was in the original handshake, which is not in this input."
        );
    }

    #[test]
    fn resumed_with_prior_flow_uses_its_certificates_and_names_it() {
        let f = FlowBuilder::new()
            .first_frame(40)
            .resumed()
            .resumed_from(1, &["imp.example.com"], &["ocs.example.com"])
            .build();
        let j = judge(f, &profile());
        assert_eq!(j.checks.server_cn.verdict, Verdict::Pass);
        assert!(
            j.checks
                .server_cn
                .reason
                .contains("flow starting at frame 1"),
            "{}",
            j.checks.server_cn.reason
        );
        assert_eq!(j.checks.client_cn.verdict, Verdict::Pass);
        assert_eq!(
            j.server_certificate().and_then(|s| s.from_flow_frame),
            Some(1)
        );
    }

    #[test]
    fn empty_client_certificate_fails_when_required() {
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["imp.example.com"])
            .cert_request(6, &[])
            .client_chain(8, vec![])
            .build();
        let j = judge(f.clone(), &Profile::builtin());
        assert_eq!(j.checks.client_cn.verdict, Verdict::Fail);
        assert_eq!(
            j.checks.client_cn.observed.as_deref(),
            Some("empty Certificate")
        );
        assert_eq!(
            j.checks.client_cn.remedy.as_deref(),
            Some(remedies::CLIENT_CERT_MISSING)
        );
        let mut optional = Profile::builtin();
        optional.tls.client_certificate = ClientCertPolicy::Optional;
        assert_eq!(
            judge(f, &optional).checks.client_cn.verdict,
            Verdict::Skipped
        );
    }

    #[test]
    fn missing_client_certificate_though_requested_fails() {
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["imp.example.com"])
            .cert_request(6, &[])
            .client_key_exchange(8)
            .build();
        let j = judge(f, &Profile::builtin());
        assert_eq!(j.checks.client_cn.verdict, Verdict::Fail);
        assert_eq!(j.checks.client_cn.frames, vec![6]);
    }

    #[test]
    fn no_certificate_request_fails_mutual_tls() {
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["imp.example.com"])
            .client_key_exchange(7)
            .build();
        let j = judge(f, &Profile::builtin());
        assert_eq!(j.checks.client_cn.verdict, Verdict::Fail);
        assert_eq!(
            j.checks.client_cn.remedy.as_deref(),
            Some(remedies::SERVER_NO_CERT_REQUEST)
        );
    }

    #[test]
    fn certificate_findings_expired_eku_and_issuer() {
        let mut client = cert(&["ocs.example.com"]);
        client.not_after = Some(CAPTURE_TIME - 10);
        client.eku = Some(vec!["serverAuth".into()]);
        client.issuer = "CN=Other CA".into();
        let f = FlowBuilder::new()
            .federation_ok()
            .cert_request(6, &["CN=Example Issuing CA, O=Example"])
            .client_chain(8, vec![client])
            .build();
        let j = judge(f, &profile());
        let kinds: Vec<FindingKind> = j.findings.iter().map(|x| x.kind).collect();
        assert!(
            kinds.contains(&FindingKind::CertificateExpired),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&FindingKind::ClientCertificateWithoutClientAuth),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&FindingKind::ClientIssuerNotRequested),
            "{kinds:?}"
        );
        assert!(!kinds.contains(&FindingKind::ServerCertificateWithoutServerAuth));
    }

    fn expiring_in(days: i64) -> CertFacts {
        let mut c = cert(&["ocs.example.com"]);
        c.not_after = Some(CAPTURE_TIME + days * 86_400);
        c
    }

    #[test]
    fn certificate_expiring_in_ten_days_is_a_warning_naming_side_and_date() {
        let f = FlowBuilder::new()
            .federation_ok()
            .client_chain(8, vec![expiring_in(10)])
            .build();
        let j = judge(f, &profile());
        let soon: Vec<&Finding> = j
            .findings
            .iter()
            .filter(|x| x.kind == FindingKind::CertificateExpiresSoon)
            .collect();
        assert_eq!(soon.len(), 1, "{:?}", j.findings);
        assert_eq!(soon[0].role, Some(Role::Client));
        assert_eq!(
            soon[0].message,
            "the client certificate (CN ocs.example.com) expires on 2026-01-11, 10 day(s) after the capture (warn_expiry_days = 30)"
        );
        assert_eq!(soon[0].frames, vec![8]);
        // A warning: the flow still passes.
        assert_eq!(j.verdict, Verdict::Pass);
    }

    #[test]
    fn expiry_window_follows_the_profile_and_covers_the_chain() {
        let mut ca = cert(&["Example Issuing CA"]);
        ca.not_after = Some(CAPTURE_TIME + 20 * 86_400);
        let f = FlowBuilder::new()
            .federation_ok()
            .client_chain(8, vec![expiring_in(40), ca])
            .build();
        let mut p = profile();
        let j = judge(f.clone(), &p);
        let msgs: Vec<&str> = j
            .findings
            .iter()
            .filter(|x| x.kind == FindingKind::CertificateExpiresSoon)
            .map(|x| x.message.as_str())
            .collect();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].starts_with("certificate #2 of the client's chain (CN Example Issuing CA) expires on 2026-01-21"), "{}", msgs[0]);
        p.warn_expiry_days = 45;
        let n = judge(f.clone(), &p)
            .findings
            .iter()
            .filter(|x| x.kind == FindingKind::CertificateExpiresSoon)
            .count();
        assert_eq!(n, 2);
        p.warn_expiry_days = 0;
        assert!(judge(f, &p)
            .findings
            .iter()
            .all(|x| x.kind != FindingKind::CertificateExpiresSoon));
    }

    #[test]
    fn issuer_in_request_list_is_not_a_finding() {
        let f = FlowBuilder::new()
            .federation_ok()
            .cert_request(6, &["cn=example issuing ca,o=example"])
            .build();
        let j = judge(f, &profile());
        assert!(j
            .findings
            .iter()
            .all(|x| x.kind != FindingKind::ClientIssuerNotRequested));
    }
}
