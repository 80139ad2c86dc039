//! The report's data model: records built once per flow from a
//! [`JudgedFlow`] (redaction applied here), then rendered. [`FlowRecord`]
//! borrows from the judged flow and is serialised at once (JSON formats);
//! [`ListedFlow`] owns the fields the table and Markdown show, moved out of
//! the judged flow. Both redact in the same order, so hosts get the same
//! tokens in every format. Field names and order are the
//! `tlsaudit.report/1` contract (spec §4, documented in `json.rs`): add
//! fields, never rename them.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use crate::checks::names::{alert_description, alert_level};
use crate::checks::{Checks, EmptyFragmentSummary, Finding, JudgedFlow, SeenChain, Verdict};
use crate::profile::Profile;
use crate::tls::model::{CertFacts, CipherSuiteId, FrameNo};
use crate::tls::suites;

use super::ladder::Ladder;
use super::redact::{Redactor, ShownEndpoint};
use super::InputReport;

/// `schema` of the JSON document.
pub const SCHEMA: &str = "tlsaudit.report/1";

#[derive(Debug, Clone, Serialize)]
pub struct ToolRecord {
    pub name: &'static str,
    pub version: &'static str,
}

impl ToolRecord {
    pub fn current() -> Self {
        ToolRecord {
            name: "tlsaudit",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileRecord {
    pub name: String,
    pub origin: String,
    pub ports: Vec<u16>,
    pub versions: Vec<String>,
    pub cipher_suites: Vec<SuiteRecord>,
    pub empty_fragments: &'static str,
    pub client_certificate: &'static str,
    pub server_cn: Vec<String>,
    pub client_cn: Vec<String>,
    #[serde(rename = "match")]
    pub match_mode: &'static str,
    pub warn_expiry_days: u32,
}

impl ProfileRecord {
    pub fn new(p: &Profile, r: &mut Redactor) -> Self {
        ProfileRecord {
            name: p.name.clone(),
            origin: r.text(&p.origin_display()),
            ports: p.ports.clone(),
            versions: p.tls.versions.iter().map(|v| v.name()).collect(),
            cipher_suites: p
                .tls
                .cipher_suites
                .iter()
                .map(|&s| SuiteRecord::new(s))
                .collect(),
            empty_fragments: p.tls.empty_fragments.name(),
            client_certificate: p.tls.client_certificate.name(),
            server_cn: p.peers.server_cn.clone(),
            client_cn: p.peers.client_cn.clone(),
            match_mode: p.peers.match_mode.name(),
            warn_expiry_days: p.warn_expiry_days,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteRecord {
    /// `0x000a`.
    pub id: String,
    /// IANA name, null when unknown.
    pub name: Option<&'static str>,
}

impl SuiteRecord {
    pub fn new(id: CipherSuiteId) -> Self {
        SuiteRecord {
            id: id.hex(),
            name: suites::name(id),
        }
    }
    /// Name, else id.
    pub fn display(&self) -> String {
        self.name.map_or_else(|| self.id.clone(), str::to_string)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InputRecord {
    /// Position in `inputs[]` (what `flows[].input` refers to).
    pub index: usize,
    /// The input as the engine described it, redacted where it names addresses.
    #[serde(flatten)]
    pub input: InputReport,
}

impl InputRecord {
    pub fn new(index: usize, mut i: InputReport, r: &mut Redactor) -> Self {
        i.path = r.text(&i.path);
        i.warnings = i.warnings.iter().map(|w| r.text(w)).collect();
        i.error = i.error.map(|e| r.text(&e));
        InputRecord { index, input: i }
    }
}

/// A `change` event: a peer pair presented something else than on its
/// previous connection (`checks::peers`), addresses redacted here.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord {
    pub client: String,
    pub server: String,
    pub what: crate::checks::peers::Changed,
    pub role: Option<&'static str>,
    pub before: String,
    pub after: String,
    pub previous: crate::checks::peers::SeenAt,
    pub input: usize,
    pub frame: FrameNo,
    pub first_seen: Rfc3339,
    pub message: String,
}

impl ChangeRecord {
    pub fn new(c: &crate::checks::peers::PeerChange, r: &mut Redactor) -> Self {
        ChangeRecord {
            client: r.text(&c.client.to_string()),
            server: r.text(&c.server.to_string()),
            what: c.what,
            role: c.role.map(|x| x.name()),
            before: r.text(&c.before),
            after: r.text(&c.after),
            previous: c.previous,
            input: c.input,
            frame: c.frame,
            first_seen: Rfc3339(c.first_seen),
            message: r.text(&c.message),
        }
    }
}

/// One peer pair of the per-peer section (table, Markdown), its addresses
/// as (redacted) text.
pub type PeerRecord = crate::checks::peers::PeerSummary<String>;

#[derive(Debug, Clone, Serialize)]
pub struct WarningRecord {
    pub message: String,
}

/// A timestamp as RFC 3339 UTC, written straight into the output
/// (`capture::Timestamp`'s own `Display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub crate::capture::Timestamp);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn rfc3339(secs: Option<i64>) -> Option<Rfc3339> {
    secs.map(|s| Rfc3339(crate::capture::Timestamp::new(s, 0)))
}

/// A leaf certificate of `flows[]`, borrowed from the flow's facts.
#[derive(Debug, Clone, Serialize)]
pub struct CertRecord<'a> {
    pub subject_cn: &'a [String],
    pub subject: &'a str,
    pub issuer: &'a str,
    pub san: Cow<'a, [String]>,
    pub not_before: Option<Rfc3339>,
    pub not_after: Option<Rfc3339>,
    /// Null: no EKU extension (any purpose).
    pub eku: Option<&'a [String]>,
    pub key: &'a str,
    pub signature_algorithm: &'a str,
    /// Omitted with `--redact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<&'a str>,
    pub sha256: &'a str,
    /// Frame of the Certificate message.
    pub frame: FrameNo,
    /// Outside its validity period at the flow's first packet.
    pub expired: bool,
    /// Certificates in the chain (this is the first).
    pub chain_length: usize,
    /// Resumed session: first frame of the earlier flow whose full handshake carried it.
    pub from_flow: Option<FrameNo>,
    pub parse_error: Option<&'a str>,
}

/// The SANs of a chain's leaf, redacted (tokens are handed out here, in
/// report order; see [`FlowRecord::new`]).
fn redacted_san<'a>(seen: Option<SeenChain<'a>>, r: &mut Redactor) -> Option<Cow<'a, [String]>> {
    let c = seen?.chain.certs.first()?;
    Some(if r.enabled() {
        Cow::Owned(c.san.iter().map(|s| r.text(s)).collect())
    } else {
        Cow::Borrowed(&c.san)
    })
}

impl<'a> CertRecord<'a> {
    fn new(seen: SeenChain<'a>, san: Cow<'a, [String]>, at: i64, redacting: bool) -> Option<Self> {
        let c: &CertFacts = seen.chain.certs.first()?;
        Some(CertRecord {
            subject_cn: &c.subject_cn,
            subject: &c.subject,
            issuer: &c.issuer,
            san,
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            eku: c.eku.as_deref(),
            key: &c.key,
            signature_algorithm: &c.signature_algorithm,
            serial: (!redacting).then_some(c.serial.as_str()),
            sha256: &c.sha256,
            frame: seen.chain.frame,
            expired: c.not_after.is_some_and(|na| at > na)
                || c.not_before.is_some_and(|nb| at < nb),
            chain_length: seen.chain.certs.len(),
            from_flow: seen.from_flow_frame,
            parse_error: c.parse_error.as_deref(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRecord {
    /// `client` / `server`; null when the direction is unknown.
    pub from: Option<&'static str>,
    /// `fatal` / `warning`; null for an encrypted alert.
    pub level: Option<Cow<'static, str>>,
    /// IANA name (`handshake_failure`); null for an encrypted alert.
    pub description: Option<Cow<'static, str>>,
    pub encrypted: bool,
    /// An encrypted alert read with the keys: `level` and `description` are
    /// set. Present only when true (absent = not decrypted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    pub frame: FrameNo,
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpRecord {
    pub gaps: u32,
    pub retransmissions: u64,
    pub midstream: bool,
    pub overlaps: u64,
    pub out_of_order: u64,
    pub overflows: u32,
    /// Times a direction's sequence numbers jumped far (not reordering); the
    /// stream was resynchronised there.
    pub seq_jumps: u32,
    /// How the connection ended: `fin`/`rst` per side, first of each.
    pub closes: Vec<CloseRecord>,
    pub evicted: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloseRecord {
    pub from: &'static str,
    pub kind: &'static str,
    pub frame: FrameNo,
}

/// What the ClientHello offered (spec §3.5).
#[derive(Debug, Clone, Serialize)]
pub struct OfferRecord {
    pub frame: FrameNo,
    /// Legacy version field.
    pub version: Option<String>,
    /// supported_versions, when sent.
    pub supported_versions: Vec<String>,
    pub cipher_suites: usize,
    /// Whether any suite the profile asks for was offered.
    pub offers_required_suite: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotTlsRecord<'a> {
    pub frame: FrameNo,
    pub looks_like: Cow<'a, str>,
}

/// One flow of `flows[]`, borrowed from its [`JudgedFlow`]: it is built,
/// serialised and dropped per flow, so only redacted text is copied.
#[derive(Debug, Clone, Serialize)]
pub struct FlowRecord<'a> {
    pub input: usize,
    pub client: ShownEndpoint,
    pub server: ShownEndpoint,
    pub first_frame: FrameNo,
    pub first_seen: Rfc3339,
    pub last_frame: FrameNo,
    pub version: Option<String>,
    pub cipher_suite: Option<SuiteRecord>,
    pub resumed: Option<bool>,
    pub handshake_complete: bool,
    pub sni: Option<&'a str>,
    pub server_certificate: Option<CertRecord<'a>>,
    pub client_certificate: Option<CertRecord<'a>>,
    pub empty_fragments: &'a EmptyFragmentSummary,
    pub alerts: Vec<AlertRecord>,
    pub tcp: TcpRecord,
    pub checks: Cow<'a, Checks>,
    pub verdict: Verdict,
    // Additions beyond the spec example (allowed by the schema's rules).
    pub server_determined_by: crate::facts::RoleSource,
    pub resumption: Option<&'a str>,
    pub renegotiation: bool,
    pub client_offer: Option<OfferRecord>,
    pub not_tls: Option<NotTlsRecord<'a>>,
    pub findings: Cow<'a, [Finding]>,
    /// With `--keylog`/`--rsa-key`: whether the flow was decrypted, and if
    /// not (or not wholly) why. Absent when no keys were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Cow<'a, str>>,
    /// JA4 fingerprint of the ClientHello (FoxIO); null without one.
    pub ja4: Option<String>,
}

fn redact_check(c: &mut crate::checks::CheckResult, r: &mut Redactor) {
    c.reason = r.text(&c.reason);
    if let Some(o) = c.observed.as_mut() {
        *o = r.text(o);
    }
}

/// Redact the text of a flow's checks and findings in place, in report
/// order (tokens are numbered by first appearance).
fn redact_judgement(checks: &mut Checks, findings: &mut [Finding], r: &mut Redactor) {
    redact_check(&mut checks.handshake, r);
    redact_check(&mut checks.version, r);
    redact_check(&mut checks.cipher_suite, r);
    redact_check(&mut checks.empty_fragments, r);
    redact_check(&mut checks.server_cn, r);
    redact_check(&mut checks.client_cn, r);
    for x in findings {
        x.message = r.text(&x.message);
    }
}

impl<'a> FlowRecord<'a> {
    /// Redaction hands out tokens in this order: endpoints, checks,
    /// findings, server then client certificate SANs, `not_tls`,
    /// `decryption` — [`ListedFlow::new`] follows the same order, so every
    /// format numbers hosts alike.
    pub fn new(j: &'a JudgedFlow, profile: &Profile, r: &mut Redactor) -> Self {
        let f = &j.facts;
        let at = f.first_seen.secs;
        let client = r.shown(f.client);
        let server = r.shown(f.server);
        let (checks, findings) = if r.enabled() {
            let mut checks = j.checks.clone();
            let mut findings = j.findings.clone();
            redact_judgement(&mut checks, &mut findings, r);
            (Cow::Owned(checks), Cow::Owned(findings))
        } else {
            (Cow::Borrowed(&j.checks), Cow::Borrowed(&j.findings[..]))
        };
        let alerts = f
            .tls
            .alerts
            .iter()
            .map(|a| AlertRecord {
                from: a.dir.map(|d| f.role_of(d).name()),
                level: if a.encrypted && !a.decrypted {
                    None
                } else {
                    a.level.map(alert_level)
                },
                description: if a.encrypted && !a.decrypted {
                    None
                } else {
                    a.description.map(alert_description)
                },
                encrypted: a.encrypted,
                decrypted: a.decrypted,
                frame: a.frame,
            })
            .collect();
        let client_offer = f.tls.client_hello.as_ref().map(|ch| OfferRecord {
            frame: ch.frame,
            version: ch.version.map(|v| v.name()),
            supported_versions: ch.supported_versions.iter().map(|v| v.name()).collect(),
            cipher_suites: ch.cipher_suites.len(),
            offers_required_suite: profile
                .tls
                .cipher_suites
                .iter()
                .any(|s| ch.cipher_suites.contains(s)),
        });
        let server_seen = j.server_certificate();
        let client_seen = j.client_certificate();
        let server_san = redacted_san(server_seen, r);
        let client_san = redacted_san(client_seen, r);
        let redacting = r.enabled();
        let cert = |seen: Option<SeenChain<'a>>, san: Option<Cow<'a, [String]>>| {
            CertRecord::new(seen?, san?, at, redacting)
        };
        let server_certificate = cert(server_seen, server_san);
        let client_certificate = cert(client_seen, client_san);
        FlowRecord {
            input: f.input,
            client,
            server,
            first_frame: f.first_frame,
            first_seen: Rfc3339(f.first_seen),
            last_frame: f.last_frame,
            version: f.tls.negotiated_version.map(|v| v.name()),
            cipher_suite: f.tls.cipher_suite.map(SuiteRecord::new),
            resumed: f.tls.resumed,
            handshake_complete: j.checks.handshake.verdict == Verdict::Pass,
            sni: f.tls.client_hello.as_ref().and_then(|c| c.sni.as_deref()),
            server_certificate,
            client_certificate,
            empty_fragments: &j.empty_fragments,
            alerts,
            tcp: TcpRecord {
                gaps: f.tcp.gaps,
                retransmissions: f.tcp.retransmissions,
                midstream: f.tcp.midstream,
                overlaps: f.tcp.overlaps,
                out_of_order: f.tcp.out_of_order,
                overflows: f.tcp.overflows,
                seq_jumps: f.tcp.seq_jumps,
                closes: f
                    .tcp
                    .closes
                    .iter()
                    .map(|c| CloseRecord {
                        from: c.from.name(),
                        kind: c.kind.as_str(),
                        frame: c.frame,
                    })
                    .collect(),
                evicted: f.tcp.evicted.map(|e| e.as_str()),
            },
            checks,
            verdict: j.verdict,
            server_determined_by: f.server_determined_by,
            resumption: f.tls.resumption.as_deref(),
            renegotiation: f.tls.renegotiation,
            client_offer,
            not_tls: f.tls.not_tls.as_ref().map(|n| NotTlsRecord {
                frame: n.frame,
                looks_like: r.text_cow(&n.looks_like),
            }),
            findings,
            decryption: f.tls.decryption.as_deref().map(|d| r.text_cow(d)),
            ja4: f.tls.client_hello.as_ref().map(crate::tls::ja4::ja4),
        }
    }
}

/// What the table and Markdown reports keep of a listed flow until the run
/// ends: owned (moved out of the judged flow, not copied), and only the
/// fields those formats show.
#[derive(Debug, Clone)]
pub struct ListedFlow {
    pub input: usize,
    pub client: String,
    pub server: String,
    pub first_frame: FrameNo,
    pub first_seen: Rfc3339,
    pub checks: Checks,
    pub verdict: Verdict,
    pub empty_fragments: EmptyFragmentSummary,
    pub findings: Vec<Finding>,
    pub decryption: Option<String>,
    /// The handshake ladder (Markdown diagrams, HTML), when the format draws one.
    pub ladder: Option<Ladder>,
    /// JA4 fingerprint of the ClientHello; None without one.
    pub ja4: Option<String>,
}

impl ListedFlow {
    /// Redacts in [`FlowRecord::new`]'s order, including the text these
    /// formats do not show (SANs, `not_tls`), so hosts get the same tokens.
    pub fn new(j: JudgedFlow, r: &mut Redactor) -> Self {
        Self::build(j, r, false)
    }

    /// [`Self::new`] with the flow's handshake [`Ladder`].
    pub fn with_ladder(j: JudgedFlow, r: &mut Redactor) -> Self {
        Self::build(j, r, true)
    }

    fn build(mut j: JudgedFlow, r: &mut Redactor, ladder: bool) -> Self {
        let client = r.endpoint(j.facts.client);
        let server = r.endpoint(j.facts.server);
        let not_tls;
        let decryption = if r.enabled() {
            redact_judgement(&mut j.checks, &mut j.findings, r);
            redacted_san(j.server_certificate(), r);
            redacted_san(j.client_certificate(), r);
            not_tls = j.facts.tls.not_tls.as_ref().map(|n| r.text(&n.looks_like));
            j.facts.tls.decryption.as_deref().map(|d| r.text(d))
        } else {
            not_tls = j.facts.tls.not_tls.as_ref().map(|n| n.looks_like.clone());
            j.facts.tls.decryption.take()
        };
        let ladder = ladder.then(|| Ladder::new(&j.facts, &j.checks, not_tls.as_deref()));
        let ja4 = j.facts.tls.client_hello.as_ref().map(crate::tls::ja4::ja4);
        ListedFlow {
            ja4,
            input: j.facts.input,
            client,
            server,
            first_frame: j.facts.first_frame,
            first_seen: Rfc3339(j.facts.first_seen),
            checks: j.checks,
            verdict: j.verdict,
            empty_fragments: j.empty_fragments,
            findings: j.findings,
            decryption,
            ladder,
        }
    }
}

/// Verdict counts of one check over all flows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    pub pass: u64,
    pub fail: u64,
    pub unknown: u64,
    pub skipped: u64,
}

impl VerdictCounts {
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Unknown => self.unknown += 1,
            Verdict::Skipped => self.skipped += 1,
        }
    }
}

/// `summary.by_check`, in check order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ByCheck {
    pub handshake: VerdictCounts,
    pub version: VerdictCounts,
    pub cipher_suite: VerdictCounts,
    pub empty_fragments: VerdictCounts,
    pub server_cn: VerdictCounts,
    pub client_cn: VerdictCounts,
}

impl ByCheck {
    pub fn add(&mut self, c: &Checks) {
        self.handshake.add(c.handshake.verdict);
        self.version.add(c.version.verdict);
        self.cipher_suite.add(c.cipher_suite.verdict);
        self.empty_fragments.add(c.empty_fragments.verdict);
        self.server_cn.add(c.server_cn.verdict);
        self.client_cn.add(c.client_cn.verdict);
    }

    /// `(name, counts)` in check order.
    pub fn iter(&self) -> [(&'static str, VerdictCounts); 6] {
        let n = crate::checks::CHECK_NAMES;
        [
            (n[0], self.handshake),
            (n[1], self.version),
            (n[2], self.cipher_suite),
            (n[3], self.empty_fragments),
            (n[4], self.server_cn),
            (n[5], self.client_cn),
        ]
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SummaryRecord {
    pub flows: u64,
    pub pass: u64,
    pub fail: u64,
    pub unknown: u64,
    pub by_check: ByCheck,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;

    #[test]
    fn rfc3339_writes_what_the_capture_timestamp_formats() {
        for (secs, nanos) in [
            (0, 0),
            (1_767_261_600, 123_456_789),
            (-1, 999_999_999),
            (253_402_300_799, 999),
            (i64::MAX, 5_000),
            (i64::MIN, 0),
        ] {
            let ts = Timestamp::new(secs, nanos);
            assert_eq!(Rfc3339(ts).to_string(), ts.rfc3339(), "{secs}.{nanos}");
            assert_eq!(
                serde_json::to_string(&Rfc3339(ts)).ok(),
                serde_json::to_string(&ts.rfc3339()).ok()
            );
        }
    }
}
