//! §3.0 Handshake: was the connection established at all, and if not, who
//! ended it, after which message, with which alert, and the likely cause
//! (§3.5 diagnosis) read from the hellos and certificates.

use crate::facts::{FlowFacts, Role};
use crate::flow::CloseKind;
use crate::profile::Profile;
use crate::tls::model::{AlertFacts, FrameNo};
use crate::tls::suites;

use super::certificate_findings::{describe_cert, missing_eku};
use super::names::{alert_description, alert_level, CERTIFICATE_REJECTED, NO_COMMON_PARAMETERS};
use super::{alert_role, capitalise, client_version_offer, poss, remedies, CheckResult, Verdict};

const EXPECTED: &str = "complete";

/// What ended an incomplete handshake.
enum Abort<'a> {
    Alert(&'a AlertFacts, Option<Role>),
    Close {
        from: Role,
        frame: FrameNo,
        kind: CloseKind,
    },
}

impl Abort<'_> {
    fn frame(&self) -> FrameNo {
        match self {
            Abort::Alert(a, _) => a.frame,
            Abort::Close { frame, .. } => *frame,
        }
    }
    fn from(&self) -> Option<Role> {
        match self {
            Abort::Alert(_, r) => *r,
            Abort::Close { from, .. } => Some(*from),
        }
    }
}

/// Frames proving completion: both Finished (encrypted handshake after CCS),
/// else application data in both directions.
pub(super) fn completion(f: &FlowFacts) -> Option<(Vec<FrameNo>, &'static str)> {
    let c = f.tls_dir(Role::Client);
    let s = f.tls_dir(Role::Server);
    if let (Some(a), Some(b)) = (c.encrypted_handshake, s.encrypted_handshake) {
        return Some((vec![a, b], "both Finished messages"));
    }
    if c.app_data.records > 0 && s.app_data.records > 0 {
        let frames = [c.app_data.first_frame, s.app_data.first_frame]
            .into_iter()
            .flatten()
            .collect();
        return Some((frames, "application data in both directions"));
    }
    None
}

pub(super) fn check(f: &FlowFacts, p: &Profile) -> CheckResult {
    let expected = vec![EXPECTED.to_string()];
    if let Some((frames, how)) = completion(f) {
        let mut reason = format!("The handshake completed ({how} seen)");
        if f.tls.client_hello.is_none() && f.tcp.midstream {
            reason.push_str("; the capture starts after it");
        }
        reason.push('.');
        return CheckResult::new(Verdict::Pass, reason)
            .expected(expected)
            .observed(EXPECTED)
            .frames(frames);
    }

    if let Some(nt) = f.tls.not_tls.as_ref().filter(|_| !f.tls.saw_tls) {
        let who = nt
            .dir
            .map(|d| format!(" from the {}", f.role_of(d).name()))
            .unwrap_or_default();
        return CheckResult::new(
            Verdict::Fail,
            format!(
                "not TLS: looks like {}: the first payload{who} (frame {}) is not a TLS record.",
                nt.looks_like, nt.frame
            ),
        )
        .expected(expected)
        .observed("not TLS")
        .frames([nt.frame])
        .remedy(if nt.looks_like.starts_with("cleartext SIP") {
            remedies::NOT_TLS
        } else {
            remedies::NOT_TLS_OTHER
        });
    }

    if f.tls.client_hello.is_none() && f.tcp.midstream {
        return CheckResult::new(
            Verdict::Unknown,
            "The capture starts after the handshake (no ClientHello and no SYN seen) and shows no application data in both directions.",
        )
        .expected(expected)
        .observed("not seen");
    }

    match abort_of(f) {
        Some(abort) if !abort.is_proof() && missing_bytes_before(f, abort.frame()).is_some() => {
            // Bytes the capture does not have may hold the Finished
            // messages: an encrypted alert or a close after them is then an
            // ordinary end of a completed connection, not a failure.
            let (gaps, bytes, first) = missing_bytes_before(f, abort.frame()).unwrap_or_default();
            let ended = match &abort {
                Abort::Alert(a, from) => format!(
                    "{} encrypted alert (frame {})",
                    from.map(poss).unwrap_or_else(|| "an".into()),
                    a.frame
                ),
                Abort::Close { from, frame, kind } => {
                    format!(
                        "{} {} (frame {frame})",
                        poss(*from),
                        kind.as_str().to_uppercase()
                    )
                }
            };
            CheckResult::new(
                Verdict::Unknown,
                format!(
                    "Not known: {gaps} TCP gap(s) ({bytes} bytes not captured, first at frame {first}; snaplen or capture loss) came before the end of the connection at {ended}, so whether the handshake completed cannot be told from the capture."
                ),
            )
            .expected(expected)
            .observed("bytes missing")
            .frames([first, abort.frame()])
        }
        Some(abort) => {
            let (reason, remedy) = diagnose(f, p, &abort);
            CheckResult::new(Verdict::Fail, reason)
                .expected(expected)
                .observed("aborted")
                .frames(evidence_frames(f, &abort))
                .remedy(remedy)
        }
        None => {
            let last = last_message(f, FrameNo::MAX)
                .map(|(role, name, frame)| {
                    format!(
                        " (last handshake message: {} {name}, frame {frame})",
                        poss(role)
                    )
                })
                .unwrap_or_default();
            let why = match f.tcp.evicted {
                Some(cause) => {
                    format!("the flow was evicted ({cause}) before the handshake completed{last}")
                }
                None => format!("the capture ends before the handshake completes{last}"),
            };
            CheckResult::new(Verdict::Unknown, capitalise(format!("{why}.")))
                .expected(expected)
                .observed("incomplete")
                .frames(f.tls.client_hello.as_ref().map(|c| c.frame))
        }
    }
}

impl Abort<'_> {
    /// A fatal alert in the clear proves the handshake failed whatever bytes
    /// are missing; an encrypted alert or a close only does when nothing
    /// before it is missing.
    fn is_proof(&self) -> bool {
        matches!(self, Abort::Alert(a, _) if !a.encrypted && a.level == Some(2))
    }
}

/// TCP gaps declared at or before `frame`: (count, bytes, first frame).
fn missing_bytes_before(f: &FlowFacts, frame: FrameNo) -> Option<(usize, u64, FrameNo)> {
    let before: Vec<_> = f.tcp.gap_list.iter().filter(|g| g.frame <= frame).collect();
    let first = before.iter().map(|g| g.frame).min()?;
    Some((before.len(), before.iter().map(|g| g.len).sum(), first))
}

/// The first fatal (or encrypted, hence handshake-time) alert, else the first FIN/RST.
fn abort_of(f: &FlowFacts) -> Option<Abort<'_>> {
    let alert = f
        .tls
        .alerts
        .iter()
        .filter(|a| (a.encrypted && !a.decrypted) || a.level == Some(2))
        .min_by_key(|a| a.frame);
    if let Some(a) = alert {
        return Some(Abort::Alert(a, alert_role(f, a)));
    }
    f.tcp
        .closes
        .iter()
        .min_by_key(|c| c.frame)
        .map(|c| Abort::Close {
            from: c.from,
            frame: c.frame,
            kind: c.kind,
        })
}

/// The last plaintext handshake message at or before `frame`, over both sides.
fn last_message(f: &FlowFacts, frame: FrameNo) -> Option<(Role, &str, FrameNo)> {
    [Role::Client, Role::Server]
        .into_iter()
        .filter_map(|r| {
            f.tls_dir(r)
                .last_handshake
                .as_ref()
                .filter(|(_, fr)| *fr <= frame)
                .map(|(n, fr)| (r, n.as_ref(), *fr))
        })
        .max_by_key(|&(r, _, fr)| (fr, r == Role::Server))
}

fn evidence_frames(f: &FlowFacts, abort: &Abort<'_>) -> Vec<FrameNo> {
    let mut v = vec![abort.frame()];
    if let Some((_, _, fr)) = last_message(f, abort.frame()) {
        v.push(fr);
    }
    v
}

fn diagnose(f: &FlowFacts, p: &Profile, abort: &Abort<'_>) -> (String, &'static str) {
    let who = abort
        .from()
        .map_or_else(|| "one side".to_string(), |r| format!("the {}", r.name()));
    let what = match abort {
        Abort::Alert(a, _) if a.encrypted && !a.decrypted => {
            format!("{who} sent an encrypted alert (frame {})", a.frame)
        }
        Abort::Alert(a, _) if a.decrypted => format!(
            "{who} sent an encrypted {} {} alert (frame {}, decrypted)",
            a.level.map_or_else(|| "unknown".into(), alert_level),
            a.description
                .map_or_else(|| "unknown".into(), alert_description),
            a.frame
        ),
        Abort::Alert(a, _) => format!(
            "{who} sent a fatal {} alert (frame {})",
            a.description
                .map_or_else(|| "unknown".into(), alert_description),
            a.frame
        ),
        Abort::Close { kind, frame, .. } => format!(
            "{who} closed the connection ({}, frame {frame})",
            kind.as_str().to_ascii_uppercase()
        ),
    };
    let after = match last_message(f, abort.frame()) {
        Some((role, name, frame)) => format!(" after {} {name} (frame {frame})", poss(role)),
        None => " before any TLS handshake message".to_string(),
    };
    let (cause, remedy) = likely_cause(f, p, abort);
    let reason = match cause {
        Some(c) => format!("The handshake failed: {what}{after}; likely cause: {c}."),
        None => format!("The handshake failed: {what}{after}."),
    };
    (capitalise(reason), remedy)
}

fn likely_cause(f: &FlowFacts, p: &Profile, abort: &Abort<'_>) -> (Option<String>, &'static str) {
    let at = f.first_seen.secs;
    let from = abort.from();
    let desc = match abort {
        Abort::Alert(a, _) if !a.encrypted || a.decrypted => a.description,
        _ => None,
    };

    // A certificate was rejected: describe the certificate concerned (the alert sender's peer's).
    if let (Some(d), Some(sender)) = (desc, from) {
        if CERTIFICATE_REJECTED.contains(&d) {
            let peer = sender.peer();
            let chain = match peer {
                Role::Server => f.tls.server_certificates.as_ref(),
                Role::Client => f.tls.client_certificates.as_ref(),
            };
            let cause = match chain.and_then(|c| c.certs.first()) {
                Some(leaf) => {
                    let mut s = format!(
                        "the {} rejected {} certificate ({})",
                        sender.name(),
                        poss(peer),
                        describe_cert(leaf, at)
                    );
                    if let Some(missing) = missing_eku(leaf, peer) {
                        s.push_str(&format!(", which lacks the {missing} EKU"));
                    }
                    s
                }
                None if peer == Role::Client && f.tls.certificate_request.is_some() => {
                    "the client sent no certificate although the server requested one".into()
                }
                None => format!("the {} rejected {} certificate", sender.name(), poss(peer)),
            };
            let remedy = if peer == Role::Client && no_certs(chain) {
                remedies::CLIENT_CERT_MISSING
            } else {
                remedies::CERT_REJECTED
            };
            return (Some(cause), remedy);
        }
    }

    // The server gave up after the client's (empty) Certificate.
    if from == Some(Role::Server) && f.tls.certificate_request.is_some() {
        let client_chain = f.tls.client_certificates.as_ref();
        if client_chain.is_some_and(|c| c.certs.is_empty()) {
            return (
                Some("the client sent an empty Certificate message although the server requested one".into()),
                remedies::CLIENT_CERT_MISSING,
            );
        }
    }

    // No ServerHello: nothing in common (or an alert saying so).
    let no_common = desc.is_some_and(|d| NO_COMMON_PARAMETERS.contains(&d));
    if f.tls.server_hello.is_none() && (no_common || from == Some(Role::Server)) {
        if let Some(offer) = offer_summary(f, p) {
            return (Some(offer), remedies::OCS_FIPS);
        }
    }

    match desc {
        Some(20 | 21 | 51) => (
            Some("the Finished or record MAC did not verify (mismatched keys, or a device altering the handshake)".into()),
            remedies::HANDSHAKE_GENERIC,
        ),
        Some(47 | 50) => (
            Some(format!(
                "{} handshake message was not accepted ({})",
                poss(from.map_or(Role::Client, Role::peer)),
                desc.map_or_else(|| "".into(), alert_description)
            )),
            remedies::HANDSHAKE_GENERIC,
        ),
        _ => {
            // A silent close by the client right after the server's certificate:
            // OCS does this when the CN is not its static route's domain.
            if matches!(abort, Abort::Close { from: Role::Client, .. }) {
                if let Some((Role::Server, _, _)) = last_message(f, abort.frame()) {
                    if let Some(leaf) = f
                        .tls
                        .server_certificates
                        .as_ref()
                        .and_then(|c| c.certs.first())
                    {
                        return (
                            Some(format!(
                                "the client did not accept the server's certificate ({}); OCS requires that CN to equal its static route's domain",
                                describe_cert(leaf, at)
                            )),
                            remedies::SERVER_CN,
                        );
                    }
                }
            }
            (None, remedies::HANDSHAKE_GENERIC)
        }
    }
}

fn no_certs(chain: Option<&crate::tls::model::CertChainFacts>) -> bool {
    match chain {
        Some(c) => c.certs.is_empty(),
        None => true,
    }
}

/// "the client offered only TLSv1.2 and 12 suites, none of TLS_RSA_WITH_3DES_EDE_CBC_SHA".
fn offer_summary(f: &FlowFacts, p: &Profile) -> Option<String> {
    let ch = f.tls.client_hello.as_ref()?;
    let versions = client_version_offer(f).unwrap_or_else(|| "no version".into());
    let wanted: Vec<String> = p
        .tls
        .cipher_suites
        .iter()
        .map(|&s| suites::display(s))
        .collect();
    let offered_wanted = p
        .tls
        .cipher_suites
        .iter()
        .any(|s| ch.cipher_suites.contains(s));
    let version_ok = p.tls.versions.is_empty() || offered_allowed_version(f, p);
    let suites_part = if wanted.is_empty() || offered_wanted {
        format!("{} suites", ch.cipher_suites.len())
    } else {
        format!(
            "{} suites, none of them {}",
            ch.cipher_suites.len(),
            wanted.join(" or ")
        )
    };
    Some(if version_ok && (offered_wanted || wanted.is_empty()) {
        format!(
            "the server accepted none of the client's offer ({versions}; {suites_part}) although it includes what the profile asks for"
        )
    } else {
        format!("no shared version or suite: the client offered only {versions} and {suites_part}")
    })
}

/// Whether the ClientHello offers a version the profile allows.
pub(super) fn offered_allowed_version(f: &FlowFacts, p: &Profile) -> bool {
    let Some(ch) = f.tls.client_hello.as_ref() else {
        return false;
    };
    if !ch.supported_versions.is_empty() {
        return ch
            .supported_versions
            .iter()
            .any(|v| p.tls.versions.contains(v));
    }
    // A TLS ≤ 1.2 ClientHello offers every version up to its legacy version.
    match ch.version {
        Some(max) => {
            p.tls.versions.iter().any(|v| {
                (v.0 <= max.0 && v.0 >= crate::tls::model::TlsVersion::SSL3.0) || *v == max
            })
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{cert, FlowBuilder};
    use super::*;
    use crate::tls::model::TlsVersion;

    fn run(f: FlowFacts) -> CheckResult {
        check(&f, &Profile::builtin())
    }

    #[test]
    fn both_finished_is_pass_with_both_frames() {
        let c = run(FlowBuilder::new().federation_ok().build());
        assert_eq!(c.verdict, Verdict::Pass);
        assert_eq!(c.frames, vec![8, 9]);
    }

    #[test]
    fn midstream_with_application_data_both_ways_is_pass() {
        let f = FlowBuilder::new()
            .midstream()
            .with(|f| f.tls.saw_tls = true)
            .app_data(Role::Client, 3, 1)
            .app_data(Role::Server, 4, 1)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.reason.contains("starts after"), "{}", c.reason);
    }

    #[test]
    fn capture_starting_after_handshake_is_unknown() {
        let f = FlowBuilder::new()
            .midstream()
            .app_data(Role::Client, 3, 1)
            .build();
        assert_eq!(run(f).verdict, Verdict::Unknown);
    }

    #[test]
    fn capture_ending_before_completion_is_unknown_and_names_last_message() {
        let c = run(FlowBuilder::new().hellos_only().build());
        assert_eq!(c.verdict, Verdict::Unknown);
        assert!(c.reason.contains("server_hello"), "{}", c.reason);
    }

    #[test]
    fn not_tls_on_port_fails_as_looks_like_sip() {
        let c = run(FlowBuilder::new()
            .not_tls(4, "cleartext SIP (OPTIONS sip:imp.example.com SIP/2.0)")
            .build());
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason.starts_with("not TLS: looks like cleartext SIP"),
            "{}",
            c.reason
        );
        assert_eq!(c.frames, vec![4]);
        assert_eq!(c.remedy.as_deref(), Some(remedies::NOT_TLS));
    }

    #[test]
    fn not_tls_that_is_not_sip_gets_no_sip_remedy() {
        let c = run(FlowBuilder::new()
            .not_tls(
                4,
                "OpenVPN over TCP (its TLS is inside OpenVPN's framing, not TLS records)",
            )
            .build());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.remedy.as_deref(), Some(remedies::NOT_TLS_OTHER));
        assert!(!c.remedy.unwrap().contains("cleartext"));
    }

    // See: issue 14, item 2 (missing bytes made a completed handshake "aborted").
    #[test]
    fn close_after_missing_bytes_is_unknown_but_a_clear_fatal_alert_still_fails() {
        let gapped = FlowBuilder::new()
            .hellos_only()
            .gap(Role::Server, 6, 1800)
            .encrypted_alert(Role::Client, 23)
            .close(Role::Client, 25, CloseKind::Fin)
            .build();
        let c = run(gapped);
        assert_eq!(c.verdict, Verdict::Unknown, "{}", c.reason);
        assert!(
            c.reason.contains("1 TCP gap(s) (1800 bytes"),
            "{}",
            c.reason
        );
        let alerted = FlowBuilder::new()
            .hellos_only()
            .gap(Role::Server, 6, 1800)
            .alert(Role::Server, 7, 2, 40)
            .build();
        assert_eq!(run(alerted).verdict, Verdict::Fail);
        let no_gap = FlowBuilder::new()
            .hellos_only()
            .encrypted_alert(Role::Client, 23)
            .build();
        assert_eq!(run(no_gap).verdict, Verdict::Fail);
    }

    #[test]
    fn fatal_alert_after_client_hello_diagnoses_missing_offer() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x009c, 0x002f])
            .alert(Role::Server, 5, 2, 40)
            .close(Role::Server, 6, CloseKind::Fin)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason
                .contains("the server sent a fatal handshake_failure alert (frame 5)"),
            "{}",
            c.reason
        );
        assert!(
            c.reason
                .contains("after the client's client_hello (frame 4)"),
            "{}",
            c.reason
        );
        assert!(c.reason.contains("the client offered only up to TLSv1.2 and 2 suites, none of them TLS_RSA_WITH_3DES_EDE_CBC_SHA"), "{}", c.reason);
        assert_eq!(c.frames, vec![4, 5]);
        assert_eq!(c.remedy.as_deref(), Some(remedies::OCS_FIPS));
    }

    #[test]
    fn rejected_expired_client_certificate_is_described() {
        let mut old = cert(&["ocs.example.com"]);
        old.not_after = Some(super::super::fixture::CAPTURE_TIME - 86_400);
        old.eku = Some(vec!["serverAuth".into()]);
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["imp.example.com"])
            .cert_request(6, &[])
            .client_chain(8, vec![old])
            .alert(Role::Server, 9, 2, 45)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.reason.contains("certificate_expired"), "{}", c.reason);
        assert!(
            c.reason
                .contains("the server rejected the client's certificate (CN=ocs.example.com"),
            "{}",
            c.reason
        );
        assert!(c.reason.contains("expired 2025-12-31"), "{}", c.reason);
        assert!(
            c.reason.contains("lacks the clientAuth EKU"),
            "{}",
            c.reason
        );
        assert_eq!(c.remedy.as_deref(), Some(remedies::CERT_REJECTED));
    }

    #[test]
    fn empty_client_certificate_then_server_reset_is_diagnosed() {
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["imp.example.com"])
            .cert_request(6, &[])
            .client_chain(8, vec![])
            .close(Role::Server, 9, CloseKind::Rst)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason
                .contains("the server closed the connection (RST, frame 9)"),
            "{}",
            c.reason
        );
        assert!(
            c.reason.contains("empty Certificate message"),
            "{}",
            c.reason
        );
        assert_eq!(c.remedy.as_deref(), Some(remedies::CLIENT_CERT_MISSING));
    }

    #[test]
    fn client_closing_after_server_certificate_points_at_cn() {
        let f = FlowBuilder::new()
            .hellos_only()
            .server_cert(6, &["imp.example.com"])
            .close(Role::Client, 7, CloseKind::Fin)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason
                .contains("did not accept the server's certificate (CN=imp.example.com"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn encrypted_alert_before_completion_fails() {
        let f = FlowBuilder::new()
            .hellos_only()
            .finished(Role::Client, 8)
            .encrypted_alert(Role::Server, 9)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason.contains("encrypted alert (frame 9)"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn warning_alert_alone_does_not_abort() {
        let f = FlowBuilder::new()
            .hellos_only()
            .alert(Role::Client, 6, 1, 100)
            .build();
        assert_eq!(run(f).verdict, Verdict::Unknown);
    }

    #[test]
    fn reset_before_any_tls_fails() {
        let f = FlowBuilder::new()
            .close(Role::Server, 2, CloseKind::Rst)
            .build();
        let c = run(f);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason.contains("before any TLS handshake message"),
            "{}",
            c.reason
        );
    }
}
