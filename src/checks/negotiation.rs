//! §3.1 Version and §3.2 Cipher suite: what the ServerHello selected
//! (never the ClientHello offer or the record-layer version), and, when it is
//! wrong, whether the client did not offer what the profile wants or the
//! server chose something else — the remedies differ.

use crate::facts::{FlowFacts, Role};
use crate::profile::Profile;
use crate::tls::model::{AlertFacts, FrameNo};
use crate::tls::suites;

use super::handshake::offered_allowed_version;
use super::names::alert_description;
use super::record_layer::{self, LengthEvidence, VersionEvidence};
use super::{alert_role, client_version_offer, remedies, CheckResult, Verdict};

/// Alert descriptions: protocol_version, handshake_failure, insufficient_security.
const PROTOCOL_VERSION: u8 = 70;
const HANDSHAKE_FAILURE: u8 = 40;
const INSUFFICIENT_SECURITY: u8 = 71;

fn clear_alert<'a>(f: &'a FlowFacts, from: Role, descs: &[u8]) -> Option<&'a AlertFacts> {
    f.tls.alerts.iter().find(|a| {
        !a.encrypted
            && a.description.is_some_and(|d| descs.contains(&d))
            && alert_role(f, a) == Some(from)
    })
}

fn sh_frames(f: &FlowFacts) -> Vec<u64> {
    f.tls.server_hello.iter().map(|s| s.frame).collect()
}

pub(super) fn version(f: &FlowFacts, p: &Profile) -> CheckResult {
    let expected: Vec<String> = p.tls.versions.iter().map(|v| v.name()).collect();
    let offer = client_version_offer(f);
    match f.tls.negotiated_version {
        Some(v) => {
            let observed = v.name();
            if p.tls.versions.is_empty() {
                return CheckResult::new(
                    Verdict::Skipped,
                    format!("The ServerHello selects {observed}; the profile allows any version."),
                )
                .observed(observed)
                .frames(sh_frames(f));
            }
            if p.tls.versions.contains(&v) {
                return CheckResult::new(
                    Verdict::Pass,
                    format!("The ServerHello selects {observed}, which the profile allows."),
                )
                .expected(expected)
                .observed(observed)
                .frames(sh_frames(f));
            }
            let who = if offered_allowed_version(f, p) {
                format!(
                    "the client offered {}, so the server could have chosen {}",
                    offer.as_deref().unwrap_or("?"),
                    expected.join(" or ")
                )
            } else {
                match offer {
                    Some(o) => {
                        format!("the client did not offer an allowed version (it offered {o})")
                    }
                    None => "the ClientHello was not seen".into(),
                }
            };
            CheckResult::new(
                Verdict::Fail,
                format!(
                    "The ServerHello selects {observed}, not {}: {who}.",
                    expected.join(" or ")
                ),
            )
            .expected(expected)
            .observed(observed)
            .frames(
                sh_frames(f)
                    .into_iter()
                    .chain(f.tls.client_hello.iter().map(|c| c.frame)),
            )
            .remedy(remedies::OCS_FIPS)
        }
        None => {
            // Only a protocol_version alert in the clear proves the version failed.
            let alert = [Role::Server, Role::Client]
                .into_iter()
                .find_map(|r| clear_alert(f, r, &[PROTOCOL_VERSION]).map(|a| (r, a)));
            if let (Some((from, a)), false) = (alert, p.tls.versions.is_empty()) {
                let offer = offer
                    .map(|o| format!(" (the client offered {o})"))
                    .unwrap_or_default();
                return CheckResult::new(
                    Verdict::Fail,
                    format!(
                        "No ServerHello: the {} refused the version with a protocol_version alert (frame {}){offer}.",
                        from.name(),
                        a.frame
                    ),
                )
                .expected(expected)
                .observed("protocol_version alert")
                .frames([a.frame].into_iter().chain(f.tls.client_hello.iter().map(|c| c.frame)))
                .remedy(remedies::OCS_FIPS);
            }
            if !p.tls.versions.is_empty() {
                if let Some(c) = version_from_record_layer(f, p, &expected) {
                    return c;
                }
            }
            let reason = if f.tls.not_tls.is_some() && !f.tls.saw_tls {
                "The flow carries no TLS, so no version was negotiated."
            } else {
                "No ServerHello seen, so the negotiated version is not known."
            };
            let v = if p.tls.versions.is_empty() {
                Verdict::Skipped
            } else {
                Verdict::Unknown
            };
            CheckResult::new(v, reason).expected(expected)
        }
    }
}

pub(super) fn cipher_suite(f: &FlowFacts, p: &Profile) -> CheckResult {
    let expected: Vec<String> = p
        .tls
        .cipher_suites
        .iter()
        .map(|&s| suites::display(s))
        .collect();
    let ch = f.tls.client_hello.as_ref();
    let offered_wanted: Vec<String> = match ch {
        Some(ch) => p
            .tls
            .cipher_suites
            .iter()
            .filter(|s| ch.cipher_suites.contains(s))
            .map(|&s| suites::display(s))
            .collect(),
        None => Vec::new(),
    };
    let ch_frames: Vec<u64> = ch.iter().map(|c| c.frame).collect();
    match f.tls.cipher_suite {
        Some(cs) => {
            let observed = suites::display(cs);
            let resumed = if f.tls.resumed == Some(true) {
                " (resumed session)"
            } else {
                ""
            };
            if p.tls.cipher_suites.is_empty() {
                return CheckResult::new(
                    Verdict::Skipped,
                    format!("The ServerHello selects {observed}{resumed}; the profile allows any suite."),
                )
                .observed(observed)
                .frames(sh_frames(f));
            }
            if p.tls.cipher_suites.contains(&cs) {
                return CheckResult::new(
                    Verdict::Pass,
                    format!(
                        "The ServerHello selects {observed}{resumed}, which the profile allows."
                    ),
                )
                .expected(expected)
                .observed(observed)
                .frames(sh_frames(f));
            }
            let (why, remedy) = match ch {
                None => (
                    "the ClientHello was not seen, so it is not known whether the client offered it".to_string(),
                    format!("{}; {}", remedies::OCS_FIPS, remedies::IMP_CIPHER),
                ),
                Some(ch) if offered_wanted.is_empty() => (
                    format!(
                        "the client did not even offer {} (it offered {})",
                        expected.join(" or "),
                        count_suites(ch.cipher_suites.len())
                    ),
                    remedies::OCS_FIPS.to_string(),
                ),
                Some(_) => (
                    format!(
                        "the server chose it although the client offered {}",
                        offered_wanted.join(" and ")
                    ),
                    remedies::IMP_CIPHER.to_string(),
                ),
            };
            CheckResult::new(
                Verdict::Fail,
                format!(
                    "The ServerHello selects {observed}{resumed}, not {}: {why}.",
                    expected.join(" or ")
                ),
            )
            .expected(expected)
            .observed(observed)
            .frames(sh_frames(f).into_iter().chain(ch_frames))
            .remedy(remedy)
        }
        None => {
            if p.tls.cipher_suites.is_empty() {
                return CheckResult::new(
                    Verdict::Skipped,
                    "No ServerHello seen; the profile allows any suite.",
                );
            }
            // The server refused and the client never offered an allowed suite: that is the failure.
            let refusal = clear_alert(f, Role::Server, &[HANDSHAKE_FAILURE, INSUFFICIENT_SECURITY]);
            if let (Some(a), Some(ch)) = (refusal, ch) {
                if offered_wanted.is_empty() {
                    return CheckResult::new(
                        Verdict::Fail,
                        format!(
                            "No ServerHello: the server refused with {} (frame {}) and the client did not even offer {} (it offered {}).",
                            a.description.map_or_else(|| "an alert".into(), alert_description),
                            a.frame,
                            expected.join(" or "),
                            count_suites(ch.cipher_suites.len())
                        ),
                    )
                    .expected(expected)
                    .observed("none offered")
                    .frames([a.frame, ch.frame])
                    .remedy(remedies::OCS_FIPS);
                }
            }
            if let Some(c) = suite_from_record_lengths(f, p, &expected) {
                return c;
            }
            let offered = match ch {
                Some(_) if offered_wanted.is_empty() => {
                    format!(" The client did not offer {}.", expected.join(" or "))
                }
                Some(_) => format!(" The client offered {}.", offered_wanted.join(" and ")),
                None => String::new(),
            };
            CheckResult::new(
                Verdict::Unknown,
                format!("No ServerHello seen, so the chosen suite is not known.{offered}"),
            )
            .expected(expected)
            .frames(ch_frames)
        }
    }
}

/// No ServerHello: the version from the application-data records' headers
/// (spec §8), or `None` when they are too few to say anything.
fn version_from_record_layer(
    f: &FlowFacts,
    p: &Profile,
    expected: &[String],
) -> Option<CheckResult> {
    let why = record_layer::why_no_server_hello(f);
    match record_layer::version_evidence(f) {
        VersionEvidence::TooFew { .. } => None,
        VersionEvidence::Inconsistent { versions } => {
            let seen: Vec<String> = versions
                .iter()
                .map(|(v, fr)| format!("{} (frame {fr})", v.name()))
                .collect();
            Some(
                CheckResult::new(
                    Verdict::Unknown,
                    format!(
                        "No ServerHello: {why}, and the application-data records carry different record-layer versions ({}), so the record layer does not tell the version.",
                        seen.join(", ")
                    ),
                )
                .expected(expected.to_vec())
                .frames(versions.iter().map(|(_, fr)| *fr))
                .inferred(),
            )
        }
        VersionEvidence::Agreed {
            version,
            records,
            frames,
        } => {
            let observed = record_layer::record_version_name(version);
            let could_be = record_layer::candidates(version);
            let allowed = could_be
                .iter()
                .filter(|v| p.tls.versions.contains(v))
                .count();
            let evidence = format!(
                "No ServerHello: {why}; the record layer of {records} application-data record(s) says {observed}"
            );
            let result = if allowed == could_be.len() {
                CheckResult::new(
                    Verdict::Pass,
                    format!("{evidence}, which after the handshake is the negotiated version, and the profile allows it."),
                )
            } else if allowed == 0 {
                CheckResult::new(
                    Verdict::Fail,
                    format!(
                        "{evidence}, which after the handshake is the negotiated version, not {}.",
                        expected.join(" or ")
                    ),
                )
                .remedy(remedies::OCS_FIPS)
            } else {
                CheckResult::new(
                    Verdict::Unknown,
                    format!("{evidence}: TLS 1.2 and TLS 1.3 records look alike, and the profile allows only one of them."),
                )
            };
            Some(
                result
                    .expected(expected.to_vec())
                    .observed(observed)
                    .frames(frames)
                    .inferred(),
            )
        }
    }
}

/// No ServerHello: whether the application-data record lengths rule out
/// every allowed suite (spec §8), or `None` when there are none.
fn suite_from_record_lengths(
    f: &FlowFacts,
    p: &Profile,
    expected: &[String],
) -> Option<CheckResult> {
    let why = record_layer::why_no_server_hello(f);
    match record_layer::length_evidence(f, &p.tls.cipher_suites) {
        LengthEvidence::NoRecords => None,
        LengthEvidence::Contradicts { len, frame } => Some(
            CheckResult::new(
                Verdict::Fail,
                format!(
                    "No ServerHello: {why}; the application-data record of {len} bytes (frame {frame}) cannot come from {}: a CBC suite writes multiples of its block (8 bytes for 3DES) of at least MAC + 1 byte, or with encrypt-then-MAC a multiple of the block plus the MAC.",
                    expected.join(" or ")
                ),
            )
            .expected(expected.to_vec())
            .observed(format!("not {} (record lengths)", expected.join(" or ")))
            .frames([frame])
            .remedy(format!("{}; {}", remedies::OCS_FIPS, remedies::IMP_CIPHER))
            .inferred(),
        ),
        LengthEvidence::Consistent { observed } => {
            let frames: Vec<FrameNo> = [Role::Client, Role::Server]
                .into_iter()
                .filter_map(|r| f.tls_dir(r).app_data.first_frame)
                .collect();
            Some(
                CheckResult::new(
                    Verdict::Unknown,
                    format!(
                        "No ServerHello: {why}; the application-data record lengths fit {} ({observed}), but only the ServerHello or keys can name the suite.",
                        expected.join(" or ")
                    ),
                )
                .expected(expected.to_vec())
                .observed(observed)
                .frames(frames)
                .inferred(),
            )
        }
    }
}

/// "1 suite" / "3 suites".
fn count_suites(n: usize) -> String {
    if n == 1 {
        "1 suite".into()
    } else {
        format!("{n} suites")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::FlowBuilder;
    use super::*;
    use crate::tls::model::TlsVersion;

    #[test]
    fn version_uses_server_hello_not_offer() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x000a])
            .server_hello(5, TlsVersion::TLS10, 0x000a)
            .build();
        let c = version(&f, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Pass);
        assert_eq!(c.observed.as_deref(), Some("TLSv1.0"));
        assert_eq!(c.frames, vec![5]);
    }

    #[test]
    fn tls12_chosen_fails_with_ocs_fips_remedy() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x000a])
            .server_hello(5, TlsVersion::TLS12, 0x000a)
            .build();
        let c = version(&f, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.expected, vec!["TLSv1.0"]);
        assert!(
            c.reason.contains("could have chosen TLSv1.0"),
            "{}",
            c.reason
        );
        assert_eq!(c.remedy.as_deref(), Some(remedies::OCS_FIPS));
    }

    #[test]
    fn protocol_version_alert_without_server_hello_fails() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x009c])
            .alert(Role::Server, 5, 2, PROTOCOL_VERSION)
            .build();
        let c = version(&f, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.frames, vec![4, 5]);
        assert!(
            c.reason.contains("protocol_version alert (frame 5)"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn no_server_hello_is_unknown() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS10, &[0x000a])
            .build();
        assert_eq!(version(&f, &Profile::builtin()).verdict, Verdict::Unknown);
        assert_eq!(
            cipher_suite(&f, &Profile::builtin()).verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn sslv3_is_a_version_too() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::SSL3, &[0x000a])
            .server_hello(5, TlsVersion::SSL3, 0x000a)
            .build();
        let c = version(&f, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.observed.as_deref(), Some("SSLv3"));
        assert!(
            c.reason.contains("did not offer an allowed version"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn suite_not_offered_vs_not_chosen_have_different_remedies() {
        let not_offered = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS10, &[0x002f, 0x0035])
            .server_hello(5, TlsVersion::TLS10, 0x002f)
            .build();
        let c = cipher_suite(&not_offered, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason
                .contains("did not even offer TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
            "{}",
            c.reason
        );
        assert_eq!(c.remedy.as_deref(), Some(remedies::OCS_FIPS));
        assert_eq!(c.observed.as_deref(), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));

        let not_chosen = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS10, &[0x002f, 0x000a])
            .server_hello(5, TlsVersion::TLS10, 0x002f)
            .build();
        let c = cipher_suite(&not_chosen, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason.contains(
                "the server chose it although the client offered TLS_RSA_WITH_3DES_EDE_CBC_SHA"
            ),
            "{}",
            c.reason
        );
        assert_eq!(c.remedy.as_deref(), Some(remedies::IMP_CIPHER));
    }

    #[test]
    fn resumed_session_still_shows_suite() {
        let f = FlowBuilder::new().resumed().build();
        let c = cipher_suite(&f, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.reason.contains("resumed"));
    }

    #[test]
    fn handshake_failure_without_offer_fails_cipher_check() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS10, &[0x002f])
            .alert(Role::Server, 5, 2, HANDSHAKE_FAILURE)
            .build();
        let c = cipher_suite(&f, &Profile::builtin());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.frames, vec![4, 5]);
    }

    #[test]
    fn empty_profile_lists_skip() {
        let mut p = Profile::builtin();
        p.tls.versions.clear();
        p.tls.cipher_suites.clear();
        let f = FlowBuilder::new().hellos_only().build();
        assert_eq!(version(&f, &p).verdict, Verdict::Skipped);
        assert_eq!(cipher_suite(&f, &p).verdict, Verdict::Skipped);
    }
}
