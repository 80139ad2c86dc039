//! The report's data model: plain, serialisable records built once per flow
//! from a [`JudgedFlow`] (redaction applied here), then rendered by every
//! format. Field names and order are the `tlsaudit.report/1` contract
//! (spec §4, documented in `json.rs`): add fields, never rename them.

use serde::Serialize;

use crate::checks::names::{alert_description, alert_level};
use crate::checks::{Checks, EmptyFragmentSummary, Finding, JudgedFlow, SeenChain, Verdict};
use crate::profile::{suites, Profile};
use crate::tls::model::{CertFacts, CipherSuiteId, FrameNo};

use super::redact::Redactor;
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

#[derive(Debug, Clone, Serialize)]
pub struct WarningRecord {
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertRecord {
    pub subject_cn: Vec<String>,
    pub subject: String,
    pub issuer: String,
    pub san: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// Null: no EKU extension (any purpose).
    pub eku: Option<Vec<String>>,
    pub key: String,
    pub signature_algorithm: String,
    /// Omitted with `--redact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub sha256: String,
    /// Frame of the Certificate message.
    pub frame: FrameNo,
    /// Outside its validity period at the flow's first packet.
    pub expired: bool,
    /// Certificates in the chain (this is the first).
    pub chain_length: usize,
    /// Resumed session: first frame of the earlier flow whose full handshake carried it.
    pub from_flow: Option<FrameNo>,
    pub parse_error: Option<String>,
}

fn rfc3339(secs: Option<i64>) -> Option<String> {
    secs.map(|s| crate::capture::Timestamp::new(s, 0).rfc3339())
}

impl CertRecord {
    fn new(seen: &SeenChain, at: i64, r: &mut Redactor) -> Option<Self> {
        let c: &CertFacts = seen.chain.certs.first()?;
        Some(CertRecord {
            subject_cn: c.subject_cn.clone(),
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            san: c.san.iter().map(|s| r.text(s)).collect(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            eku: c.eku.clone(),
            key: c.key.clone(),
            signature_algorithm: c.signature_algorithm.clone(),
            serial: (!r.enabled()).then(|| c.serial.clone()),
            sha256: c.sha256.clone(),
            frame: seen.chain.frame,
            expired: c.not_after.is_some_and(|na| at > na)
                || c.not_before.is_some_and(|nb| at < nb),
            chain_length: seen.chain.certs.len(),
            from_flow: seen.from_flow_frame,
            parse_error: c.parse_error.clone(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRecord {
    /// `client` / `server`; null when the direction is unknown.
    pub from: Option<&'static str>,
    /// `fatal` / `warning`; null for an encrypted alert.
    pub level: Option<String>,
    /// IANA name (`handshake_failure`); null for an encrypted alert.
    pub description: Option<String>,
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
pub struct NotTlsRecord {
    pub frame: FrameNo,
    pub looks_like: String,
}

/// One flow of `flows[]`.
#[derive(Debug, Clone, Serialize)]
pub struct FlowRecord {
    pub input: usize,
    pub client: String,
    pub server: String,
    pub first_frame: FrameNo,
    pub first_seen: String,
    pub last_frame: FrameNo,
    pub version: Option<String>,
    pub cipher_suite: Option<SuiteRecord>,
    pub resumed: Option<bool>,
    pub handshake_complete: bool,
    pub sni: Option<String>,
    pub server_certificate: Option<CertRecord>,
    pub client_certificate: Option<CertRecord>,
    pub empty_fragments: EmptyFragmentSummary,
    pub alerts: Vec<AlertRecord>,
    pub tcp: TcpRecord,
    pub checks: Checks,
    pub verdict: Verdict,
    // Additions beyond the spec example (allowed by the schema's rules).
    pub server_determined_by: crate::facts::RoleSource,
    pub resumption: Option<String>,
    pub renegotiation: bool,
    pub client_offer: Option<OfferRecord>,
    pub not_tls: Option<NotTlsRecord>,
    pub findings: Vec<Finding>,
    /// With `--keylog`/`--rsa-key`: whether the flow was decrypted, and if
    /// not (or not wholly) why. Absent when no keys were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<String>,
}

fn redact_check(c: &mut crate::checks::CheckResult, r: &mut Redactor) {
    c.reason = r.text(&c.reason);
    if let Some(o) = c.observed.as_mut() {
        *o = r.text(o);
    }
}

impl FlowRecord {
    pub fn new(j: &JudgedFlow, profile: &Profile, r: &mut Redactor) -> Self {
        let f = &j.facts;
        let at = f.first_seen.secs;
        let client = r.endpoint(f.client);
        let server = r.endpoint(f.server);
        let mut checks = j.checks.clone();
        let mut findings = j.findings.clone();
        if r.enabled() {
            redact_check(&mut checks.handshake, r);
            redact_check(&mut checks.version, r);
            redact_check(&mut checks.cipher_suite, r);
            redact_check(&mut checks.empty_fragments, r);
            redact_check(&mut checks.server_cn, r);
            redact_check(&mut checks.client_cn, r);
            for x in &mut findings {
                x.message = r.text(&x.message);
            }
        }
        let alerts = f
            .tls
            .alerts
            .iter()
            .map(|a| AlertRecord {
                from: a.dir.map(|d| f.role_of(d).name()),
                level: if a.encrypted && !a.decrypted {
                    None
                } else {
                    a.level.map(|l| alert_level(l).into_owned())
                },
                description: if a.encrypted && !a.decrypted {
                    None
                } else {
                    a.description.map(|d| alert_description(d).into_owned())
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
        FlowRecord {
            input: f.input,
            client,
            server,
            first_frame: f.first_frame,
            first_seen: f.first_seen.rfc3339(),
            last_frame: f.last_frame,
            version: f.tls.negotiated_version.map(|v| v.name()),
            cipher_suite: f.tls.cipher_suite.map(SuiteRecord::new),
            resumed: f.tls.resumed,
            handshake_complete: j.checks.handshake.verdict == Verdict::Pass,
            sni: f.tls.client_hello.as_ref().and_then(|c| c.sni.clone()),
            server_certificate: j
                .server_certificate
                .as_ref()
                .and_then(|s| CertRecord::new(s, at, r)),
            client_certificate: j
                .client_certificate
                .as_ref()
                .and_then(|s| CertRecord::new(s, at, r)),
            empty_fragments: j.empty_fragments.clone(),
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
                        kind: c.kind,
                        frame: c.frame,
                    })
                    .collect(),
                evicted: f.tcp.evicted,
            },
            checks,
            verdict: j.verdict,
            server_determined_by: f.server_determined_by,
            resumption: f.tls.resumption.clone(),
            renegotiation: f.tls.renegotiation,
            client_offer,
            not_tls: f.tls.not_tls.as_ref().map(|n| NotTlsRecord {
                frame: n.frame,
                looks_like: r.text(&n.looks_like),
            }),
            findings,
            decryption: f.tls.decryption.as_ref().map(|d| r.text(d)),
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

/// The `json` document.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub schema: &'static str,
    pub tool: ToolRecord,
    pub profile: &'a ProfileRecord,
    pub inputs: &'a [InputRecord],
    pub flows: &'a [FlowRecord],
    pub warnings: &'a [WarningRecord],
    pub summary: SummaryRecord,
}
