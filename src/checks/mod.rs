//! Checks: `FlowFacts` + `Profile` → per-check verdicts (spec §3).
//!
//! Owns: [`Verdict`], [`CheckResult`], [`Checks`], [`Finding`],
//! [`JudgedFlow`] and [`judge`]. Sees only `facts` and `profile` (R6): no
//! parser type appears here.
//!
//! Invariants:
//! - Every check yields a [`CheckResult`] with a one-sentence `reason`; a
//!   `fail` always carries a `remedy` pointing at the guide's step.
//! - The flow verdict is `fail` if any check fails, else `unknown` if any is
//!   unknown, else `pass` (`skipped` checks count as passing).
//! - Judging is pure: same facts and profile, same result. Reasons name
//!   frames, never addresses, so redaction needs no text rewriting for them.
//!
//! One file per check: `handshake.rs` (§3.0),
//! `negotiation.rs` (§3.1 version, §3.2 cipher suite), `empty_fragments.rs`
//! (§3.3), `certificates.rs` (§3.4 CNs), `certificate_findings.rs` (§3.4's
//! extra certificate findings).
//!
//! ```
//! use tlsaudit::checks::{fixture::FlowBuilder, judge, Verdict};
//! use tlsaudit::profile::Profile;
//! let facts = FlowBuilder::new().federation_ok().build();
//! let judged = judge(facts, &Profile::builtin());
//! assert_eq!(judged.verdict, Verdict::Pass);
//! ```

mod certificate_findings;
mod certificates;
mod empty_fragments;
pub mod fixture;
mod handshake;
pub mod names;
mod negotiation;
pub mod peers;
pub mod record_layer;
pub mod remedies;

use serde::Serialize;

use crate::facts::{anomaly, FlowFacts, Role};
use crate::profile::Profile;
use crate::tls::model::{AlertFacts, CertChainFacts, FrameNo};

pub use empty_fragments::{CountBasis, DirectionEvidence, EmptyFragmentSummary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Skipped,
    Unknown,
    Fail,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skipped => "skipped",
            Verdict::Unknown => "unknown",
            Verdict::Fail => "fail",
        }
    }
}

/// The outcome of one check (spec §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub verdict: Verdict,
    /// What the profile asks for (empty when it asks nothing).
    pub expected: Vec<String>,
    /// What the capture shows, if anything.
    pub observed: Option<String>,
    /// Evidence: frame numbers in the input, ascending.
    pub frames: Vec<FrameNo>,
    /// One sentence.
    pub reason: String,
    /// For `fail`: what to change, pointing at the guide's step.
    pub remedy: Option<String>,
    /// Where the answer comes from when not from the handshake: `record
    /// layer` (record headers and lengths of a flow whose ServerHello is not
    /// in the capture). Absent for answers read from the handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inferred_from: Option<&'static str>,
}

impl CheckResult {
    fn new(verdict: Verdict, reason: impl Into<String>) -> Self {
        CheckResult {
            verdict,
            expected: Vec::new(),
            observed: None,
            frames: Vec::new(),
            reason: reason.into(),
            remedy: None,
            inferred_from: None,
        }
    }
    /// The answer comes from the record layer, not the handshake.
    fn inferred(mut self) -> Self {
        self.inferred_from = Some("record layer");
        self
    }
    fn expected(mut self, expected: Vec<String>) -> Self {
        self.expected = expected;
        self
    }
    fn observed(mut self, observed: impl Into<String>) -> Self {
        self.observed = Some(observed.into());
        self
    }
    fn observed_opt(mut self, observed: Option<String>) -> Self {
        self.observed = observed;
        self
    }
    fn frames(mut self, frames: impl IntoIterator<Item = FrameNo>) -> Self {
        let mut v: Vec<FrameNo> = frames.into_iter().filter(|&f| f > 0).collect();
        v.sort_unstable();
        v.dedup();
        self.frames = v;
        self
    }
    fn remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = Some(remedy.into());
        self
    }
}

/// The six checks of one flow, in report order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checks {
    pub handshake: CheckResult,
    pub version: CheckResult,
    pub cipher_suite: CheckResult,
    pub empty_fragments: CheckResult,
    pub server_cn: CheckResult,
    pub client_cn: CheckResult,
}

/// Names of the checks, in report order (JSON keys of `checks` and `by_check`).
pub const CHECK_NAMES: [&str; 6] = [
    "handshake",
    "version",
    "cipher_suite",
    "empty_fragments",
    "server_cn",
    "client_cn",
];

impl Checks {
    /// `(name, result)` in report order ([`CHECK_NAMES`]).
    pub fn iter(&self) -> [(&'static str, &CheckResult); 6] {
        [
            (CHECK_NAMES[0], &self.handshake),
            (CHECK_NAMES[1], &self.version),
            (CHECK_NAMES[2], &self.cipher_suite),
            (CHECK_NAMES[3], &self.empty_fragments),
            (CHECK_NAMES[4], &self.server_cn),
            (CHECK_NAMES[5], &self.client_cn),
        ]
    }

    /// Flow verdict: fail > unknown > pass (skipped counts as pass).
    pub fn overall(&self) -> Verdict {
        let all = self.iter();
        if all.iter().any(|(_, c)| c.verdict == Verdict::Fail) {
            Verdict::Fail
        } else if all.iter().any(|(_, c)| c.verdict == Verdict::Unknown) {
            Verdict::Unknown
        } else {
            Verdict::Pass
        }
    }
}

/// Kinds of extra findings (spec §3.4, §3.5). Findings inform; they do not
/// change the verdict by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A certificate was outside its validity period at the flow's first packet.
    CertificateExpired,
    CertificateNotYetValid,
    /// Client certificate has an EKU extension without clientAuth.
    ClientCertificateWithoutClientAuth,
    /// Server certificate has an EKU extension without serverAuth.
    ServerCertificateWithoutServerAuth,
    /// The expected name is only in the SAN, not the CN the guide matches.
    CnMatchesOnlyViaSan,
    /// The client certificate's issuer is not among the CAs the server asked for.
    ClientIssuerNotRequested,
    /// A certificate could not be decoded.
    CertificateUndecodable,
    Renegotiation,
    /// TCP gaps or buffer overflows limited what the capture shows.
    TcpGaps,
    /// The capture starts after the connection was opened.
    Midstream,
    /// The TLS decoder noted a problem (damaged or oversized message).
    DecoderNote,
    /// A certificate (leaf or chain) expires within the profile's
    /// `warn_expiry_days` of the capture time: an outage ahead, not yet one.
    CertificateExpiresSoon,
    /// The peer pair presented a different certificate, version or cipher
    /// than on its previous connection, or a name's members differ
    /// (`peers.rs`).
    PeerChanged,
}

impl FindingKind {
    /// Findings an operator acts on even when the flow passes (an outage
    /// ahead, a peer that changed): reports list such flows too.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            FindingKind::CertificateExpiresSoon | FindingKind::PeerChanged
        )
    }
}

/// An extra observation about a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The side concerned, when there is one.
    pub role: Option<Role>,
    pub message: String,
    pub frames: Vec<FrameNo>,
}

/// A certificate chain as the report shows it, with where it came from.
/// Borrowed from the flow's facts: judging copies no certificate.
#[derive(Debug, Clone, Copy)]
pub struct SeenChain<'a> {
    pub chain: &'a CertChainFacts,
    /// Set when the chain comes from another flow: the full handshake of a
    /// resumed session, or (`from_later_connection`) a later connection
    /// between the same peers of a flow joined mid-stream. Its first frame.
    pub from_flow_frame: Option<FrameNo>,
    /// The other flow is a later connection, not the resumed session's origin.
    pub from_later_connection: bool,
}

/// The judged flow: facts + checks + findings + overall verdict — all a
/// report needs for one flow.
#[derive(Debug, Clone)]
pub struct JudgedFlow {
    /// Boxed as the engine hands it over: a few KB, moved by pointer.
    pub facts: Box<FlowFacts>,
    pub checks: Checks,
    pub findings: Vec<Finding>,
    pub empty_fragments: EmptyFragmentSummary,
    pub verdict: Verdict,
}

impl JudgedFlow {
    /// The server certificates the CN check used: this flow's or, for a
    /// resumed session, those of the earlier full handshake.
    pub fn server_certificate(&self) -> Option<SeenChain<'_>> {
        certificates::chain_for(&self.facts, Role::Server)
    }

    /// The client certificates the CN check used (see [`Self::server_certificate`]).
    pub fn client_certificate(&self) -> Option<SeenChain<'_>> {
        certificates::chain_for(&self.facts, Role::Client)
    }
}

/// Judge one flow against the profile.
pub fn judge(facts: impl Into<Box<FlowFacts>>, profile: &Profile) -> JudgedFlow {
    let facts: Box<FlowFacts> = facts.into();
    let handshake = handshake::check(&facts, profile);
    let version = negotiation::version(&facts, profile);
    let cipher_suite = negotiation::cipher_suite(&facts, profile);
    let (empty_fragments, ef_summary) = empty_fragments::check(&facts, profile);
    let mut findings = Vec::new();
    let server = certificates::chain_for(&facts, Role::Server);
    let client = certificates::chain_for(&facts, Role::Client);
    let server_cn = certificates::server_cn(&facts, profile, server.as_ref(), &mut findings);
    let client_cn = certificates::client_cn(&facts, profile, client.as_ref(), &mut findings);
    certificate_findings::findings(&facts, server.as_ref(), client.as_ref(), &mut findings);
    certificate_findings::expiry_findings(
        &facts,
        profile.warn_expiry_days,
        server.as_ref(),
        client.as_ref(),
        &mut findings,
    );
    let checks = Checks {
        handshake,
        version,
        cipher_suite,
        empty_fragments,
        server_cn,
        client_cn,
    };
    other_findings(&facts, &checks, &mut findings);
    findings.sort_by(|a, b| {
        (a.frames.first(), a.kind, &a.message).cmp(&(b.frames.first(), b.kind, &b.message))
    });
    let verdict = checks.overall();
    JudgedFlow {
        facts,
        checks,
        findings,
        empty_fragments: ef_summary,
        verdict,
    }
}

/// TCP and decoder conditions that limited the analysis (spec §3.5).
fn other_findings(f: &FlowFacts, checks: &Checks, out: &mut Vec<Finding>) {
    if f.tls.renegotiation {
        out.push(Finding {
            kind: FindingKind::Renegotiation,
            role: None,
            message: "a second handshake (renegotiation) was seen on the connection".into(),
            frames: f.tls.renegotiation_frame.into_iter().collect(),
        });
    }
    if f.tcp.gaps > 0 || f.tcp.overflows > 0 {
        let frames: Vec<FrameNo> = f.tcp.gap_list.iter().map(|g| g.frame).take(8).collect();
        let missing: u64 = f.tcp.gap_list.iter().map(|g| g.len).sum();
        out.push(Finding {
            kind: FindingKind::TcpGaps,
            role: None,
            message: format!(
                "{} TCP gap(s) ({missing} bytes never captured) and {} buffer overflow(s) limited the analysis",
                f.tcp.gaps, f.tcp.overflows
            ),
            frames,
        });
    }
    if f.tcp.midstream {
        let message = if f.tls.client_hello.is_none() && f.tls.saw_tls {
            let inferred: Vec<&str> = [
                ("version", &checks.version),
                ("cipher_suite", &checks.cipher_suite),
            ]
            .into_iter()
            .filter(|(_, c)| c.inferred_from.is_some())
            .map(|(name, _)| name)
            .collect();
            let from_record_layer = if inferred.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} answered from the record layer",
                    inferred.join(" and ")
                )
            };
            let certs = match &f.certificates_from {
                Some(p) => format!(
                    "; certificates from the later connection starting at frame {}",
                    p.first_frame
                ),
                None => String::new(),
            };
            format!(
                "joined mid-stream at frame {}: the handshake is not in the capture{from_record_layer}{certs}",
                f.first_frame
            )
        } else {
            format!(
                "joined mid-stream at frame {}: the capture starts after the TCP connection was opened (no SYN seen)",
                f.first_frame
            )
        };
        out.push(Finding {
            kind: FindingKind::Midstream,
            role: None,
            message,
            frames: vec![f.first_frame],
        });
    }
    for note in anomaly::notes(&f.tls, f.client_dir) {
        out.push(Finding {
            kind: FindingKind::DecoderNote,
            role: note.role,
            message: note.message,
            frames: note.frame.into_iter().collect(),
        });
    }
}

/// Sender role of an alert, if its direction is known.
fn alert_role(f: &FlowFacts, a: &AlertFacts) -> Option<Role> {
    a.dir.map(|d| f.role_of(d))
}

/// "the server's" / "the client's".
fn poss(role: Role) -> String {
    format!("the {}'s", role.name())
}

/// Versions the client offered, as names ("TLSv1.2, TLSv1.1" or "up to TLSv1.2").
fn client_version_offer(f: &FlowFacts) -> Option<String> {
    let ch = f.tls.client_hello.as_ref()?;
    if !ch.supported_versions.is_empty() {
        return Some(
            ch.supported_versions
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    ch.version.map(|v| format!("up to {}", v.name()))
}

/// A reason built from lower-case parts starts with a capital letter (in
/// place when that letter is ASCII, as it is in every reason written here).
fn capitalise(mut s: String) -> String {
    match s.chars().next() {
        Some(first) if first.is_ascii() => {
            s[..1].make_ascii_uppercase();
            s
        }
        Some(first) => first
            .to_uppercase()
            .chain(s[first.len_utf8()..].chars())
            .collect(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::FlowBuilder;
    use super::*;

    #[test]
    fn capitalise_upper_cases_the_first_letter_only() {
        for (s, want) in [
            ("the handshake", "The handshake"),
            ("The end", "The end"),
            ("", ""),
            ("éclair; b", "Éclair; b"),
            ("ßx", "SSx"),
            ("1 record", "1 record"),
        ] {
            assert_eq!(capitalise(s.to_string()), want);
        }
    }

    #[test]
    fn conforming_flow_passes_with_cn_checks_skipped_in_builtin_profile() {
        let j = judge(
            FlowBuilder::new().federation_ok().build(),
            &Profile::builtin(),
        );
        assert_eq!(j.checks.handshake.verdict, Verdict::Pass);
        assert_eq!(j.checks.version.verdict, Verdict::Pass);
        assert_eq!(j.checks.cipher_suite.verdict, Verdict::Pass);
        assert_eq!(j.checks.empty_fragments.verdict, Verdict::Pass);
        assert_eq!(j.checks.server_cn.verdict, Verdict::Skipped);
        assert_eq!(
            j.checks.server_cn.observed.as_deref(),
            Some("imp.example.com")
        );
        assert_eq!(j.verdict, Verdict::Pass);
    }

    #[test]
    fn any_fail_makes_flow_fail_and_unknown_beats_pass() {
        let mut p = Profile::builtin();
        p.set_client_cn(vec!["other.example.com".into()]);
        let j = judge(FlowBuilder::new().federation_ok().build(), &p);
        assert_eq!(j.checks.client_cn.verdict, Verdict::Fail);
        assert_eq!(j.verdict, Verdict::Fail);
        let j = judge(
            FlowBuilder::new().hellos_only().build(),
            &Profile::builtin(),
        );
        assert_eq!(j.checks.handshake.verdict, Verdict::Unknown);
        assert_eq!(j.verdict, Verdict::Unknown);
    }

    #[test]
    fn every_fail_has_a_remedy_and_every_result_a_reason() {
        let mut p = Profile::builtin();
        p.set_server_cn(vec!["x.example.com".into()]);
        p.set_client_cn(vec!["y.example.com".into()]);
        let f = FlowBuilder::new()
            .federation_ok()
            .negotiated(crate::tls::model::TlsVersion::TLS12, 0x002f)
            .build();
        let j = judge(f, &p);
        for (name, c) in j.checks.iter() {
            assert!(!c.reason.is_empty(), "{name}");
            if c.verdict == Verdict::Fail {
                assert!(c.remedy.is_some(), "{name} fails without remedy");
            }
        }
        assert_eq!(j.checks.version.verdict, Verdict::Fail);
        assert_eq!(j.checks.cipher_suite.verdict, Verdict::Fail);
    }

    #[test]
    fn a_decoder_note_names_the_sender_by_role_and_lists_the_anomaly_frame() {
        use crate::tls::Anomaly;
        let f = FlowBuilder::new()
            .federation_ok()
            .with(|f| {
                let server_dir = f.dir_of(Role::Server);
                f.tls.anomalies.push(Anomaly::HandshakeMessageLostInGap {
                    frame: 7,
                    dir: server_dir,
                });
                f.tls.anomalies_dropped = 1;
            })
            .build();
        let j = judge(f, &Profile::builtin());
        let notes: Vec<(&str, &[FrameNo], Option<Role>)> = j
            .findings
            .iter()
            .filter(|x| x.kind == FindingKind::DecoderNote)
            .map(|x| (x.message.as_str(), &x.frames[..], x.role))
            .collect();
        assert_eq!(
            notes,
            [
                ("more than 32 notes; the rest were dropped", &[][..], None),
                (
                    "frame 7: a server handshake message was lost in a TCP gap",
                    &[7][..],
                    Some(Role::Server)
                ),
            ]
        );
    }
}
