//! Per-peer consistency over time (check and live): flows are grouped by
//! peer pair (client IP, server IP) within one input (inputs stay
//! independent, so reports of several files still merge by
//! concatenation); a pair whose certificate (SHA-256,
//! serial, CN), negotiated version or cipher suite differs from its
//! previous connection is a [`PeerChange`], and so is a name (certificate
//! CN) whose members — different addresses behind one name — present
//! different certificates.
//!
//! Owns: [`PeerTracker`] (what each pair and name presented last),
//! [`PeerChange`] and [`PeerSummary`].
//!
//! Invariants:
//! - Memory is bounded: at most [`MAX_PEERS`] pairs and as many names are
//!   remembered; past that the oldest entry is forgotten (its next flow
//!   starts a fresh history, it is never reported as a change).
//! - Only what a flow shows is compared: a flow without a certificate
//!   (resumed, aborted, TLS 1.3 without keys) or without a ServerHello
//!   changes nothing and is not a change.
//! - Output order is the order flows are observed (no hash-map iteration
//!   reaches it).
//!
//! ```
//! use tlsaudit::checks::{fixture::{cert, FlowBuilder}, judge, peers::{Changed, PeerTracker}};
//! use tlsaudit::profile::Profile;
//! let p = Profile::builtin();
//! let mut peers = PeerTracker::default();
//! assert!(peers.observe(&judge(FlowBuilder::new().federation_ok().build(), &p)).is_empty());
//! let mut renewed = cert(&["imp.example.com"]);
//! renewed.sha256 = "cd".repeat(32);
//! let second = FlowBuilder::new().federation_ok().server_chain(6, vec![renewed]).build();
//! let changes = peers.observe(&judge(second, &p));
//! assert_eq!(changes[0].what, Changed::ServerCertificate);
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::bounded::Bounded;
use crate::capture::Timestamp;
use crate::facts::Role;
use crate::tls::model::{CertFacts, CipherSuiteId, FrameNo, TlsVersion};
use crate::tls::suites;

use super::{Finding, FindingKind, JudgedFlow};

/// Peer pairs (and names) remembered at most. A federation tap sees a
/// handful of partners; 4096 leaves room for clusters and NAT pools while
/// a scan or spoofed sources cannot grow the tracker past a few MiB.
pub const MAX_PEERS: usize = 4096;

/// What a certificate is compared by: its SHA-256, serial and CN (the
/// subject's CNs joined by ", ", compared without regard to ASCII case).
/// It holds the flow's shared certificate, so remembering it copies nothing;
/// text is made only when a change is reported.
#[derive(Debug, Clone)]
struct CertIdentity(Arc<CertFacts>);

impl CertIdentity {
    /// The CN as compared and written: the subject's CNs joined by ", ".
    fn cn(&self) -> String {
        self.0.subject_cn.join(", ")
    }

    /// Whether [`CertIdentity::cn`] is the empty string.
    fn cn_is_empty(&self) -> bool {
        match self.0.subject_cn.as_slice() {
            [] => true,
            [only] => only.is_empty(),
            _ => false,
        }
    }

    /// "CN x, SHA-256 0123456789ab…". The serial is compared but not
    /// written: `--redact` drops serials, and this text reaches reports.
    fn describe(&self) -> String {
        let cn = self.cn();
        let sha256 = &self.0.sha256;
        format!(
            "CN {}, SHA-256 {}…",
            if cn.is_empty() { "-" } else { &cn },
            sha256.get(..12).unwrap_or(sha256)
        )
    }

    /// Which of the three identifying fields differ.
    fn differences(&self, other: &CertIdentity) -> Vec<&'static str> {
        let mut d = Vec::new();
        if self.0.sha256 != other.0.sha256 {
            d.push("fingerprint");
        }
        if self.0.serial != other.0.serial {
            d.push("serial");
        }
        if !joined_eq_ignore_ascii_case(&self.0.subject_cn, &other.0.subject_cn) {
            d.push("CN");
        }
        d
    }
}

/// Whether `a.join(", ")` and `b.join(", ")` are equal without regard to
/// ASCII case, without joining them.
fn joined_eq_ignore_ascii_case(a: &[String], b: &[String]) -> bool {
    fn joined(parts: &[String]) -> impl Iterator<Item = u8> + '_ {
        parts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                let sep: &[u8] = if i == 0 { b"" } else { b", " };
                sep.iter().chain(p.as_bytes())
            })
            .map(u8::to_ascii_lowercase)
    }
    joined(a).eq(joined(b))
}

/// The name key of a certificate's CN, into `key` (cleared first): the
/// input, the side and the CN ([`CertIdentity::cn`]), lower-cased.
fn name_key(key: &mut String, input: usize, role: Role, cert: &CertFacts) {
    use std::fmt::Write;
    key.clear();
    // Writing into a String cannot fail.
    let _ = write!(key, "{input}/{}/", role.name());
    for (i, cn) in cert.subject_cn.iter().enumerate() {
        if i > 0 {
            key.push_str(", ");
        }
        key.push_str(cn);
    }
    key.make_ascii_lowercase();
}

/// Where a value was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeenAt {
    pub input: usize,
    pub frame: FrameNo,
}

#[derive(Debug, Clone)]
struct PeerState {
    /// Order of first appearance (the summary's order).
    order: u64,
    server_cert: Option<(CertIdentity, SeenAt)>,
    client_cert: Option<(CertIdentity, SeenAt)>,
    version: Option<(TlsVersion, SeenAt)>,
    cipher: Option<(CipherSuiteId, SeenAt)>,
    flows: u64,
    changes: u64,
}

/// One peer pair at the end of a run (`check`'s per-peer section). The
/// addresses are `IpAddr` here; [`PeerSummary::with_addresses`] gives the
/// same pair with them written another way (the report's redacted text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerSummary<Address = IpAddr> {
    pub input: usize,
    pub client: Address,
    pub server: Address,
    pub server_cn: Option<String>,
    pub client_cn: Option<String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub flows: u64,
    pub changes: u64,
}

impl PeerSummary {
    /// The same pair, each address written by `write`.
    pub fn with_addresses<A>(self, mut write: impl FnMut(IpAddr) -> A) -> PeerSummary<A> {
        PeerSummary {
            input: self.input,
            client: write(self.client),
            server: write(self.server),
            server_cn: self.server_cn,
            client_cn: self.client_cn,
            version: self.version,
            cipher_suite: self.cipher_suite,
            flows: self.flows,
            changes: self.changes,
        }
    }
}

/// What changed between a flow and its peer's (or name's) earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Changed {
    ServerCertificate,
    ClientCertificate,
    Version,
    CipherSuite,
    /// Another address behind the same CN presented a different
    /// certificate.
    NameMembers,
}

impl Changed {
    /// The name in reports (`change` events' `what`, finding messages).
    pub fn name(self) -> &'static str {
        match self {
            Changed::ServerCertificate => "server_certificate",
            Changed::ClientCertificate => "client_certificate",
            Changed::Version => "version",
            Changed::CipherSuite => "cipher_suite",
            Changed::NameMembers => "name_members",
        }
    }
}

/// A difference between a flow and what its peer (or name) presented before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerChange {
    pub client: IpAddr,
    pub server: IpAddr,
    pub what: Changed,
    /// The side concerned, for certificates.
    pub role: Option<Role>,
    pub before: String,
    pub after: String,
    /// Where the earlier value was seen.
    pub previous: SeenAt,
    /// The flow that shows the new value.
    pub input: usize,
    pub frame: FrameNo,
    pub first_seen: Timestamp,
    /// One sentence, as the flow's finding says it.
    pub message: String,
}

impl PeerChange {
    /// The change as a finding of the flow that shows it.
    pub fn finding(&self) -> Finding {
        Finding {
            kind: FindingKind::PeerChanged,
            role: self.role,
            message: self.message.clone(),
            frames: vec![self.frame],
        }
    }
}

/// Remembers, per peer pair and per certificate name, what was presented
/// last. Feed it every judged flow in report order.
#[derive(Debug)]
pub struct PeerTracker {
    pairs: Bounded<(usize, IpAddr, IpAddr), PeerState>,
    /// Per name (input, side and lower-cased CN, see [`name_key`]): the
    /// certificate and the address that presented it last.
    names: Bounded<String, (CertIdentity, IpAddr, SeenAt)>,
    next_order: u64,
    /// The name key being looked up, reused.
    key: String,
}

impl Default for PeerTracker {
    fn default() -> Self {
        PeerTracker {
            pairs: Bounded::new(MAX_PEERS),
            names: Bounded::new(MAX_PEERS),
            next_order: 0,
            key: String::new(),
        }
    }
}

impl PeerTracker {
    /// Compare `flow` with its peer's history, record it, and return the
    /// changes it shows (in a fixed order: server certificate, client
    /// certificate, version, cipher suite, name members).
    pub fn observe(&mut self, flow: &JudgedFlow) -> Vec<PeerChange> {
        let f = &flow.facts;
        let here = SeenAt {
            input: f.input,
            frame: f.first_frame,
        };
        let (client, server) = (f.client.ip(), f.server.ip());
        let server_cert = flow
            .server_certificate()
            .and_then(|s| s.chain.certs.first())
            .filter(|c| c.parse_error.is_none())
            .map(|c| CertIdentity(Arc::clone(c)));
        let client_cert = flow
            .client_certificate()
            .and_then(|s| s.chain.certs.first())
            .filter(|c| c.parse_error.is_none())
            .map(|c| CertIdentity(Arc::clone(c)));
        let version = f.tls.negotiated_version;
        let cipher = f.tls.cipher_suite;

        let change = |what: Changed,
                      role: Option<Role>,
                      before: String,
                      after: String,
                      previous: SeenAt,
                      message: String| PeerChange {
            client,
            server,
            what,
            role,
            before,
            after,
            previous,
            input: f.input,
            frame: f.first_frame,
            first_seen: f.first_seen,
            message,
        };
        let mut out = Vec::new();
        let order = self.next_order;
        let state = self.pairs.entry(&(f.input, client, server), || PeerState {
            order,
            server_cert: None,
            client_cert: None,
            version: None,
            cipher: None,
            flows: 0,
            changes: 0,
        });
        if state.order == order {
            self.next_order += 1;
        }
        state.flows += 1;
        for (role, now, slot) in [
            (Role::Server, &server_cert, &mut state.server_cert),
            (Role::Client, &client_cert, &mut state.client_cert),
        ] {
            let Some(now) = now else { continue };
            if let Some((before, at)) = slot.as_ref() {
                let diff = before.differences(now);
                if !diff.is_empty() {
                    out.push(change(
                        if role == Role::Server {
                            Changed::ServerCertificate
                        } else {
                            Changed::ClientCertificate
                        },
                        Some(role),
                        before.describe(),
                        now.describe(),
                        *at,
                        format!(
                            "the {} certificate of this peer changed ({}) since its connection at frame {} of input {}: was {}, now {}",
                            role.name(),
                            diff.join(", "),
                            at.frame,
                            at.input,
                            before.describe(),
                            now.describe()
                        ),
                    ));
                }
            }
            *slot = Some((now.clone(), here));
        }
        let mut negotiated = |what: Changed, before: String, now: String, at: SeenAt| {
            let message = format!(
                "this peer negotiated {now} where its connection at frame {} of input {} negotiated {before} ({} changed)",
                at.frame,
                at.input,
                what.name()
            );
            out.push(change(what, None, before, now, at, message));
        };
        if let Some(now) = version {
            if let Some((before, at)) = state.version.filter(|(before, _)| *before != now) {
                negotiated(Changed::Version, before.name(), now.name(), at);
            }
            state.version = Some((now, here));
        }
        if let Some(now) = cipher {
            if let Some((before, at)) = state.cipher.filter(|(before, _)| *before != now) {
                negotiated(
                    Changed::CipherSuite,
                    suites::display(before),
                    suites::display(now),
                    at,
                );
            }
            state.cipher = Some((now, here));
        }
        state.changes += out.len() as u64;

        // Members behind one name: the same CN from another address with
        // another certificate (a cluster node left on an old certificate).
        let mut members = Vec::new();
        for (role, now, addr) in [
            (Role::Server, &server_cert, server),
            (Role::Client, &client_cert, client),
        ] {
            let Some(now) = now.as_ref().filter(|c| !c.cn_is_empty()) else {
                continue;
            };
            name_key(&mut self.key, f.input, role, &now.0);
            let slot = self
                .names
                .entry(self.key.as_str(), || (now.clone(), addr, here));
            if slot.1 != addr && slot.0 .0.sha256 != now.0.sha256 {
                members.push(change(
                    Changed::NameMembers,
                    Some(role),
                    format!("{} at {}", slot.0.describe(), slot.1),
                    format!("{} at {addr}", now.describe()),
                    slot.2,
                    format!(
                        "{} and {addr} both present {} certificates named {} but different ones: {} (frame {} of input {}) vs {}",
                        slot.1,
                        role.name(),
                        now.cn(),
                        slot.0.describe(),
                        slot.2.frame,
                        slot.2.input,
                        now.describe()
                    ),
                ));
            }
            *slot = (now.clone(), addr, here);
        }
        if !members.is_empty() {
            if let Some(s) = self.pairs.get_mut(&(f.input, client, server)) {
                s.changes += members.len() as u64;
            }
            out.extend(members);
        }
        out
    }

    /// Every remembered pair, in order of first appearance (inputs in order).
    pub fn summary(&self) -> Vec<PeerSummary> {
        let mut v: Vec<(&(usize, IpAddr, IpAddr), &PeerState)> = self.pairs.iter().collect();
        v.sort_by_key(|(_, s)| s.order);
        v.into_iter()
            .map(|(&(input, client, server), s)| PeerSummary {
                input,
                client,
                server,
                server_cn: s.server_cert.as_ref().map(|c| c.0.cn()),
                client_cn: s.client_cert.as_ref().map(|c| c.0.cn()),
                version: s.version.map(|v| v.0.name()),
                cipher_suite: s.cipher.map(|v| suites::display(v.0)),
                flows: s.flows,
                changes: s.changes,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{cert, FlowBuilder};
    use super::super::judge;
    use super::*;
    use crate::decode::Endpoint;
    use crate::profile::Profile;
    use crate::tls::model::TlsVersion;
    use std::net::Ipv4Addr;

    #[test]
    fn a_change_is_named_in_messages_as_in_change_events() {
        for c in [
            Changed::ServerCertificate,
            Changed::ClientCertificate,
            Changed::Version,
            Changed::CipherSuite,
            Changed::NameMembers,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
    }

    fn judged(b: FlowBuilder) -> JudgedFlow {
        judge(b.build(), &Profile::builtin())
    }

    fn renewed(cn: &str, sha: &str, serial: &str) -> CertFacts {
        let mut c = cert(&[cn]);
        c.sha256 = sha.repeat(32);
        c.serial = serial.into();
        c
    }

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
    }

    #[test]
    fn cns_compare_as_their_joined_text_without_regard_to_ascii_case() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (a, b) in [
            (v(&["imp.example.com"]), v(&["IMP.Example.com"])),
            (v(&["a", "b"]), v(&["a, b"])),
            (v(&[]), v(&[""])),
        ] {
            assert!(joined_eq_ignore_ascii_case(&a, &b), "{a:?} {b:?}");
            assert!(a.join(", ").eq_ignore_ascii_case(&b.join(", ")));
        }
        for (a, b) in [
            (v(&["a", "b"]), v(&["b", "a"])),
            (v(&["a"]), v(&["a", ""])),
            (v(&["é"]), v(&["É"])),
        ] {
            assert!(!joined_eq_ignore_ascii_case(&a, &b), "{a:?} {b:?}");
            assert!(!a.join(", ").eq_ignore_ascii_case(&b.join(", ")));
        }
    }

    #[test]
    fn same_peer_same_certificate_is_no_change() {
        let mut t = PeerTracker::default();
        for frame in [1, 20, 40] {
            let c = t.observe(&judged(
                FlowBuilder::new().federation_ok().first_frame(frame),
            ));
            assert!(c.is_empty(), "{c:?}");
        }
        let s = t.summary();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].flows, s[0].changes), (3, 0));
        assert_eq!(s[0].server_cn.as_deref(), Some("imp.example.com"));
    }

    #[test]
    fn server_certificate_change_between_two_connections_is_reported() {
        let mut t = PeerTracker::default();
        t.observe(&judged(FlowBuilder::new().federation_ok()));
        let second = FlowBuilder::new()
            .federation_ok()
            .first_frame(30)
            .server_chain(36, vec![renewed("imp.example.com", "cd", "77")]);
        let c = t.observe(&judged(second));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].what, Changed::ServerCertificate);
        assert_eq!(c[0].role, Some(Role::Server));
        assert_eq!(c[0].previous, SeenAt { input: 0, frame: 1 });
        assert_eq!(c[0].frame, 30);
        assert!(
            c[0].message.contains("changed (fingerprint, serial)"),
            "{}",
            c[0].message
        );
        assert_eq!(c[0].before, "CN imp.example.com, SHA-256 abababababab…");
        assert_eq!(c[0].after, "CN imp.example.com, SHA-256 cdcdcdcdcdcd…");
        assert!(
            !c[0].message.contains("0a1b2c3d"),
            "serials stay out of the text"
        );
        assert_eq!(c[0].finding().kind, FindingKind::PeerChanged);
        assert_eq!(t.summary()[0].changes, 1);
    }

    #[test]
    fn version_and_cipher_changes_are_reported_in_order() {
        let mut t = PeerTracker::default();
        t.observe(&judged(FlowBuilder::new().federation_ok()));
        let c = t.observe(&judged(
            FlowBuilder::new()
                .federation_ok()
                .negotiated(TlsVersion::TLS12, 0x002f),
        ));
        let what: Vec<&str> = c.iter().map(|x| x.what.name()).collect();
        assert_eq!(what, vec!["version", "cipher_suite"]);
        assert_eq!(
            (c[0].before.as_str(), c[0].after.as_str()),
            ("TLSv1.0", "TLSv1.2")
        );
        assert_eq!(c[1].after, "TLS_RSA_WITH_AES_128_CBC_SHA");
    }

    #[test]
    fn a_flow_without_certificates_changes_nothing() {
        let mut t = PeerTracker::default();
        t.observe(&judged(FlowBuilder::new().federation_ok()));
        assert!(t
            .observe(&judged(FlowBuilder::new().hellos_only()))
            .is_empty());
        assert!(t
            .observe(&judged(FlowBuilder::new().federation_ok()))
            .is_empty());
    }

    #[test]
    fn members_behind_one_name_with_different_certificates_are_reported() {
        let mut t = PeerTracker::default();
        t.observe(&judged(FlowBuilder::new().federation_ok()));
        // Another IM&P node, same CN, another certificate.
        let other = FlowBuilder::new()
            .federation_ok()
            .endpoints(ep(2, 49200), ep(7, 5062))
            .server_chain(6, vec![renewed("imp.example.com", "ee", "99")]);
        let c = t.observe(&judged(other));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].what, Changed::NameMembers);
        assert!(
            c[0].message.starts_with(
                "10.0.0.1 and 10.0.0.7 both present server certificates named imp.example.com"
            ),
            "{}",
            c[0].message
        );
        // Two pairs now, in order of first appearance.
        let s = t.summary();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].server, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(s[1].changes, 1);
    }

    #[test]
    fn inputs_are_independent() {
        let mut t = PeerTracker::default();
        t.observe(&judged(FlowBuilder::new().federation_ok()));
        let other_file = FlowBuilder::new()
            .federation_ok()
            .input(1)
            .negotiated(TlsVersion::TLS12, 0x002f);
        assert!(t.observe(&judged(other_file)).is_empty());
        assert_eq!(t.summary().len(), 2);
    }

    #[test]
    fn tracker_forgets_the_oldest_pair_past_its_cap() {
        let mut t = PeerTracker::default();
        for i in 0..(MAX_PEERS as u32 + 10) {
            let client = Endpoint::new(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i)), 40000);
            t.observe(&judged(
                FlowBuilder::new()
                    .federation_ok()
                    .endpoints(client, ep(1, 5062)),
            ));
        }
        assert_eq!(t.pairs.len(), MAX_PEERS);
        assert!(t.names.len() <= MAX_PEERS);
        let summary = t.summary();
        assert_eq!(summary.len(), MAX_PEERS);
        let first = IpAddr::V4(Ipv4Addr::from(0x0b00_0000));
        assert!(
            summary.iter().all(|p| p.client != first),
            "the oldest pair is forgotten"
        );
    }
}
