//! The handshake ladder of one flow: who sent what, in which frame, when —
//! the model both the Mermaid diagram of the Markdown ticket and the SVG of
//! the HTML report are drawn from, so they cannot disagree.
//!
//! Built once per listed flow from the TLS stage's timeline (handshake
//! messages, ChangeCipherSpec, protected handshake records, alerts,
//! application-data runs) and the TCP facts (SYN, FIN, RST). Invariants:
//! - Rungs are in frame order; times are relative to the flow's first frame.
//! - A ladder is bounded: the timeline is capped by the TLS stage
//!   (`MAX_TIMELINE_EVENTS`, `dropped` counts the rest), application data
//!   comes as at most one run per direction plus the conversation after
//!   them, and TCP adds at most a SYN and three closes.
//! - It holds no address or other text that `--redact` would change: only
//!   roles, frame numbers, times, message and alert names, certificate CNs
//!   (which stay, they are the point) and suite names. The not-TLS hint is
//!   the one exception and is passed in already redacted.
//! - [`Mark`]s place each failing check (or, when none fails, each unknown
//!   one) after the rung its evidence points at: of the evidence frames that
//!   fall on a rung, the last, on the first rung that holds it.

use crate::capture::Timestamp;
use crate::checks::names::{alert_description, alert_level};
use crate::checks::{Checks, Verdict};
use crate::facts::{FlowFacts, Role};
use crate::flow::CloseKind;
use crate::tls::model::{FrameNo, Step};
use crate::tls::suites;

/// What kind of step a rung is (renderers pick arrows and colours by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RungKind {
    /// SYN, FIN.
    Tcp,
    /// RST: the connection was torn down.
    Reset,
    Handshake,
    ChangeCipherSpec,
    /// A protected handshake record (Finished, TLS 1.3 flight).
    Encrypted,
    /// Application data of one direction, possibly several records.
    AppData,
    /// Application data both ways after each side's first: drawn across
    /// both lifelines rather than as an arrow.
    Conversation,
    Alert {
        fatal: bool,
    },
    /// The flow is not TLS (cleartext SIP, …).
    NotTls,
}

/// Time since the flow's first frame, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Since(pub i128);

impl Since {
    fn between(origin: Timestamp, ts: Timestamp) -> Since {
        let nanos = |t: Timestamp| i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos);
        Since(nanos(ts) - nanos(origin))
    }
}

/// `+0.000412 s`: seconds with microseconds, as Wireshark shows relative times.
impl std::fmt::Display for Since {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let micros = self.0.unsigned_abs() / 1_000;
        write!(
            f,
            "{sign}{}.{:06} s",
            micros / 1_000_000,
            micros % 1_000_000
        )
    }
}

/// One arrow (or band) of the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    pub from: Role,
    pub frame: FrameNo,
    /// Last frame of a run of application data (`frame` otherwise).
    pub last_frame: FrameNo,
    pub at: Option<Since>,
    pub kind: RungKind,
    /// What was sent: `ClientHello (TLSv1.2, 17 suites)`, `Alert fatal handshake_failure`.
    pub label: String,
}

impl Rung {
    fn holds(&self, frame: FrameNo) -> bool {
        (self.frame..=self.last_frame).contains(&frame)
    }
}

/// A check whose note goes after rung `after` (`None`: after the last rung;
/// its evidence is not on the ladder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub check: &'static str,
    pub verdict: Verdict,
    pub after: Option<usize>,
}

/// The ladder of one flow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ladder {
    pub rungs: Vec<Rung>,
    pub marks: Vec<Mark>,
    /// Timeline steps the TLS stage did not keep (past its cap).
    pub dropped: u32,
    /// No SYN: the capture starts after the connection was opened.
    pub midstream: bool,
}

/// `client_hello` → `ClientHello`; SSLv2 messages keep their prefix.
fn message_title(name: &str) -> String {
    if let Some(t) = name.strip_prefix("unknown_") {
        return format!("Handshake type {t}");
    }
    let (prefix, rest) = match name.strip_prefix("sslv2_") {
        Some(rest) => ("SSLv2 ", rest),
        None => ("", name),
    };
    let mut out = String::from(prefix);
    for word in rest.split('_') {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn cn_list(cns: &[String]) -> String {
    match cns {
        [] => "no CN".to_string(),
        [one] => format!("CN {one}"),
        many => format!("CN {}", many.join(", ")),
    }
}

impl Ladder {
    /// The ladder of `facts`, with notes for the checks of `checks`.
    /// `not_tls` is the flow's not-TLS hint as the report shows it
    /// (redacted when redacting).
    pub fn new(facts: &FlowFacts, checks: &Checks, not_tls: Option<&str>) -> Ladder {
        let origin = facts.first_seen;
        let tls = &facts.tls;
        let since = |ts: Timestamp| Some(Since::between(origin, ts));
        let mut rungs: Vec<Rung> = Vec::with_capacity(tls.timeline.len() + 4);
        if let Some(frame) = facts.tcp.syn_frame {
            rungs.push(Rung {
                from: Role::Client,
                frame,
                last_frame: frame,
                // The flow's first frame is the only SYN time kept.
                at: (frame == facts.first_frame).then_some(Since(0)),
                kind: RungKind::Tcp,
                label: "SYN".to_string(),
            });
        }
        let events = &tls.timeline;
        for (i, e) in events.iter().enumerate() {
            let from = facts.role_of(e.dir);
            let (kind, label, last_frame) = match &e.step {
                Step::Handshake(name) => (
                    RungKind::Handshake,
                    Self::handshake_label(facts, name, e.frame, from),
                    e.frame,
                ),
                Step::ChangeCipherSpec => (
                    RungKind::ChangeCipherSpec,
                    "ChangeCipherSpec".to_string(),
                    e.frame,
                ),
                Step::EncryptedHandshake => {
                    // Read with the keys: the messages that follow in the same
                    // frame name it; this generic rung would only repeat them.
                    let named_next = events.get(i + 1).is_some_and(|n| {
                        n.frame == e.frame && n.dir == e.dir && matches!(n.step, Step::Handshake(_))
                    });
                    if named_next {
                        continue;
                    }
                    // TLS 1.3's ChangeCipherSpec is a compatibility dummy: its
                    // first protected record is the server's whole flight.
                    let tls13 = tls.negotiated_version.is_some_and(|v| v.is_tls13());
                    let after_ccs = !tls13
                        && i > 0
                        && events[..i]
                            .iter()
                            .rev()
                            .find(|p| p.dir == e.dir)
                            .is_some_and(|p| p.step == Step::ChangeCipherSpec);
                    let label = if after_ccs {
                        "Finished (encrypted)"
                    } else {
                        "Encrypted handshake"
                    };
                    (RungKind::Encrypted, label.to_string(), e.frame)
                }
                Step::AppData {
                    records,
                    last_frame,
                    ..
                } => {
                    let c = records[facts.dir_of(Role::Client).index()];
                    let s = records[facts.dir_of(Role::Server).index()];
                    if c > 0 && s > 0 {
                        (
                            RungKind::Conversation,
                            format!("Application data both ways: client {c}, server {s} record(s)"),
                            *last_frame,
                        )
                    } else {
                        let n = c + s;
                        let label = if n == 1 {
                            "Application Data".to_string()
                        } else {
                            format!("Application Data ×{n}")
                        };
                        (RungKind::AppData, label, *last_frame)
                    }
                }
                Step::Alert { level, description } => match (level, description) {
                    (Some(l), Some(d)) => (
                        RungKind::Alert { fatal: *l == 2 },
                        format!("Alert {} {}", alert_level(*l), alert_description(*d)),
                        e.frame,
                    ),
                    _ => (
                        RungKind::Alert { fatal: false },
                        "Encrypted Alert".to_string(),
                        e.frame,
                    ),
                },
            };
            rungs.push(Rung {
                from,
                frame: e.frame,
                last_frame,
                at: since(e.ts),
                kind,
                label,
            });
        }
        if let (Some(n), Some(hint)) = (&tls.not_tls, not_tls) {
            rungs.push(Rung {
                from: n.dir.map_or(Role::Client, |d| facts.role_of(d)),
                frame: n.frame,
                last_frame: n.frame,
                at: None,
                kind: RungKind::NotTls,
                label: format!("not TLS: {hint}"),
            });
        }
        for c in &facts.tcp.closes {
            let rst = c.kind == CloseKind::Rst;
            rungs.push(Rung {
                from: c.from,
                frame: c.frame,
                last_frame: c.frame,
                at: since(c.ts),
                kind: if rst { RungKind::Reset } else { RungKind::Tcp },
                label: if rst { "RST" } else { "FIN" }.to_string(),
            });
        }
        // Stable: steps of one frame keep the order they were sent in.
        rungs.sort_by_key(|r| r.frame);
        let marks = Self::marks(&rungs, checks);
        Ladder {
            rungs,
            marks,
            dropped: tls.timeline_dropped,
            midstream: facts.tcp.midstream,
        }
    }

    /// A handshake message's title, with what matters about it when its
    /// facts are from this very frame.
    fn handshake_label(facts: &FlowFacts, name: &str, frame: FrameNo, from: Role) -> String {
        let title = message_title(name);
        let tls = &facts.tls;
        let detail = match name {
            "client_hello" => tls
                .client_hello
                .as_ref()
                .filter(|c| c.frame == frame)
                .map(|c| {
                    let top = c
                        .supported_versions
                        .iter()
                        .copied()
                        .max()
                        .or(c.version)
                        .map_or_else(|| "?".to_string(), |v| v.name());
                    format!("up to {top}, {} suites", c.cipher_suites.len())
                }),
            "server_hello" => tls
                .server_hello
                .as_ref()
                .filter(|s| s.frame == frame)
                .map(|s| {
                    let v = tls
                        .negotiated_version
                        .map_or_else(|| "?".to_string(), |v| v.name());
                    let suite = s
                        .cipher_suite
                        .map_or_else(|| "?".to_string(), suites::display);
                    format!("{v}, {suite}")
                }),
            "certificate" => {
                let chain = match from {
                    Role::Client => tls.client_certificates.as_ref(),
                    Role::Server => tls.server_certificates.as_ref(),
                };
                chain
                    .filter(|c| c.frame == frame)
                    .map(|c| match c.certs.first() {
                        None => "empty".to_string(),
                        Some(leaf) => cn_list(&leaf.subject_cn),
                    })
            }
            _ => None,
        };
        match detail {
            Some(d) => format!("{title} ({d})"),
            None => title,
        }
    }

    fn marks(rungs: &[Rung], checks: &Checks) -> Vec<Mark> {
        let wanted = if checks.overall() == Verdict::Fail {
            Verdict::Fail
        } else {
            Verdict::Unknown
        };
        checks
            .iter()
            .into_iter()
            .filter(|(_, c)| c.verdict == wanted)
            .map(|(check, c)| {
                let after = c
                    .frames
                    .iter()
                    .rev()
                    .find_map(|&f| rungs.iter().position(|r| r.holds(f)));
                Mark {
                    check,
                    verdict: c.verdict,
                    after,
                }
            })
            .collect()
    }

    /// The marks placed after rung `i`.
    pub fn marks_after(&self, i: usize) -> impl Iterator<Item = &Mark> {
        self.marks.iter().filter(move |m| m.after == Some(i))
    }

    /// The marks whose evidence is not on the ladder.
    pub fn marks_at_end(&self) -> impl Iterator<Item = &Mark> {
        self.marks.iter().filter(|m| m.after.is_none())
    }

    /// Whether rung `i` is the step a mark points at.
    pub fn is_marked(&self, i: usize) -> Option<Verdict> {
        self.marks_after(i).map(|m| m.verdict).max()
    }
}

/// The note of a mark: `✗ handshake: <reason> Remedy: <remedy>` (`?` for
/// unknown), `None` when the check is not in `checks`. A remedy already in
/// `shown` (an earlier note of the same diagram) is written `as above`.
pub fn mark_note(m: &Mark, checks: &Checks, shown: &mut Vec<String>) -> Option<String> {
    let (_, c) = checks.iter().into_iter().find(|(n, _)| *n == m.check)?;
    let sign = if m.verdict == Verdict::Fail {
        "✗"
    } else {
        "?"
    };
    let mut s = format!("{sign} {}: {}", m.check, c.reason);
    if let Some(remedy) = &c.remedy {
        if shown.contains(remedy) {
            s.push_str(" Remedy: as above.");
        } else {
            s.push_str(" Remedy: ");
            s.push_str(remedy);
            shown.push(remedy.clone());
        }
    }
    Some(s)
}

/// `s` broken between words into lines of at most `width` characters (a
/// longer word gets a line of its own).
pub fn wrap_words(s: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `frame 4` or `frames 10–18`.
pub fn frames_label(r: &Rung) -> String {
    if r.last_frame > r.frame {
        format!("frames {}–{}", r.frame, r.last_frame)
    } else {
        format!("frame {}", r.frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::FlowBuilder;
    use crate::checks::judge;
    use crate::profile::Profile;
    use crate::tls::model::TlsVersion;

    fn ladder(f: FlowFacts) -> Ladder {
        let j = judge(f, &Profile::builtin());
        Ladder::new(&j.facts, &j.checks, None)
    }

    fn summary(l: &Ladder) -> Vec<(Role, FrameNo, String)> {
        l.rungs
            .iter()
            .map(|r| (r.from, r.frame, r.label.clone()))
            .collect()
    }

    #[test]
    fn full_handshake_reads_in_frame_order_with_details() {
        let l = ladder(FlowBuilder::new().federation_ok().build());
        let labels: Vec<String> = l.rungs.iter().map(|r| r.label.clone()).collect();
        assert_eq!(
            labels,
            vec![
                "SYN",
                "ClientHello (up to TLSv1.0, 2 suites)",
                "ServerHello (TLSv1.0, TLS_RSA_WITH_3DES_EDE_CBC_SHA)",
                "Certificate (CN imp.example.com)",
                "CertificateRequest",
                "ServerHelloDone",
                "Certificate (CN ocs.example.com)",
                "ClientKeyExchange",
                "ChangeCipherSpec",
                "Finished (encrypted)",
                "ChangeCipherSpec",
                "Finished (encrypted)",
                "Application Data ×5",
                "Application Data ×5",
            ]
        );
        assert_eq!(l.rungs[0].at, Some(Since(0)));
        assert_eq!(l.rungs[1].at, Some(Since(4_000_000)));
        assert_eq!(frames_label(&l.rungs[12]), "frames 10–18");
        assert!(l.marks.is_empty(), "a passing flow has nothing to mark");
    }

    #[test]
    fn failing_handshake_is_marked_at_the_alert() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x009c])
            .alert(Role::Server, 5, 2, 40)
            .close(Role::Server, 6, CloseKind::Rst)
            .build();
        let l = ladder(f);
        assert_eq!(
            summary(&l),
            vec![
                (Role::Client, 1, "SYN".to_string()),
                (
                    Role::Client,
                    4,
                    "ClientHello (up to TLSv1.2, 1 suites)".to_string()
                ),
                (Role::Server, 5, "Alert fatal handshake_failure".to_string()),
                (Role::Server, 6, "RST".to_string()),
            ]
        );
        assert_eq!(l.rungs[2].kind, RungKind::Alert { fatal: true });
        assert_eq!(l.rungs[3].kind, RungKind::Reset);
        let handshake = l.marks.iter().find(|m| m.check == "handshake").unwrap();
        assert_eq!(
            (handshake.verdict, handshake.after),
            (Verdict::Fail, Some(2))
        );
        assert!(
            l.marks.iter().all(|m| m.verdict == Verdict::Fail),
            "unknown checks are not marked when one fails: {:?}",
            l.marks
        );
        assert_eq!(l.is_marked(2), Some(Verdict::Fail));
        assert_eq!(l.is_marked(1), l.marks_after(1).map(|m| m.verdict).max());
    }

    #[test]
    fn tls13_protected_flight_is_not_called_finished() {
        let l = ladder(
            FlowBuilder::new()
                .client_hello(4, TlsVersion::TLS12, &[0x1302])
                .server_hello(5, TlsVersion::TLS13, 0x1302)
                .finished(Role::Server, 5)
                .build(),
        );
        let labels: Vec<&str> = l.rungs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            &labels[3..],
            &["ChangeCipherSpec", "Encrypted handshake"],
            "{labels:?}"
        );
    }

    #[test]
    fn unknown_flow_marks_its_unknown_checks() {
        let l = ladder(FlowBuilder::new().hellos_only().build());
        assert!(!l.marks.is_empty());
        assert!(l.marks.iter().all(|m| m.verdict == Verdict::Unknown));
    }

    #[test]
    fn a_remedy_is_written_once_per_diagram() {
        let j = judge(
            FlowBuilder::new()
                .client_hello(4, TlsVersion::TLS12, &[0x009c])
                .alert(Role::Server, 5, 2, 40)
                .build(),
            &Profile::builtin(),
        );
        let m = Mark {
            check: "handshake",
            verdict: Verdict::Fail,
            after: Some(2),
        };
        let mut shown = Vec::new();
        let first = mark_note(&m, &j.checks, &mut shown).unwrap();
        let again = mark_note(&m, &j.checks, &mut shown).unwrap();
        let remedy = j.checks.handshake.remedy.clone().unwrap();
        assert!(
            first.starts_with("✗ handshake: The handshake failed"),
            "{first}"
        );
        assert!(first.ends_with(&format!(" Remedy: {remedy}")), "{first}");
        assert!(again.ends_with(" Remedy: as above."), "{again}");
    }

    #[test]
    fn relative_times_print_like_wireshark() {
        assert_eq!(Since(0).to_string(), "+0.000000 s");
        assert_eq!(Since(1_234_567_891).to_string(), "+1.234567 s");
        assert_eq!(Since(-412_000).to_string(), "-0.000412 s");
    }

    #[test]
    fn message_names_become_titles() {
        assert_eq!(message_title("server_hello_done"), "ServerHelloDone");
        assert_eq!(message_title("sslv2_client_hello"), "SSLv2 ClientHello");
        assert_eq!(message_title("unknown_99"), "Handshake type 99");
        assert_eq!(message_title(""), "");
    }
}
