//! §3.3 Empty fragments: the evidence ladder, strongest first, judged per
//! direction and combined:
//!
//! 1. decrypted (`--keylog`): empty plaintext → fail, none → pass (exact);
//! 2. an application-data record of length 0 → fail;
//! 3. a minimal-size record followed by another record of the same direction
//!    in the same TCP segment → fail (1/n-1 splitting looks alike);
//! 4. minimal-size records followed in a later segment → unknown;
//! 5. lone minimal-size records → not evidence (pass).
//!
//! No application data → unknown; AEAD, stream and TLS 1.3 suites cannot
//! carry them → pass once application data is seen.

use serde::Serialize;

use crate::facts::{FlowFacts, Role};
use crate::profile::{EmptyFragmentsPolicy, Profile};
use crate::tls::model::{AppDataStats, FrameNo, TlsVersion};
use crate::tls::suites::{self, SuiteKind};
use std::borrow::Cow;

use super::record_layer::{self, VersionEvidence};

use super::{capitalise, remedies, CheckResult, Verdict};

/// Evidence frames listed per rung (the decoder caps its own lists too).
const MAX_FRAMES_PER_RUNG: usize = 8;

/// What one direction shows, strongest evidence first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rung", rename_all = "kebab-case")]
pub enum DirectionEvidence {
    NoApplicationData,
    Decrypted {
        empty: u64,
    },
    ZeroLength {
        records: u64,
    },
    SameSegment {
        records: u64,
    },
    LaterSegment {
        records: u64,
    },
    /// Application data seen, no empty fragment evidence (lone minimal records are not evidence).
    Clean {
        lone_minimal: u64,
    },
    /// Suite cannot carry them (AEAD, stream, TLS 1.3).
    NotBlockCipher,
    /// Block cipher but the minimal record size is not known (suite not seen).
    SuiteUnknown,
    /// No evidence in what was captured, but bytes of this direction's
    /// application data are missing (TCP gaps, snaplen): a record after a
    /// minimal one may be among them.
    BytesMissing {
        gaps: usize,
    },
}

impl DirectionEvidence {
    fn verdict(&self) -> Verdict {
        match self {
            DirectionEvidence::Decrypted { empty } if *empty > 0 => Verdict::Fail,
            DirectionEvidence::ZeroLength { .. } | DirectionEvidence::SameSegment { .. } => {
                Verdict::Fail
            }
            DirectionEvidence::NoApplicationData
            | DirectionEvidence::LaterSegment { .. }
            | DirectionEvidence::SuiteUnknown
            | DirectionEvidence::BytesMissing { .. } => Verdict::Unknown,
            _ => Verdict::Pass,
        }
    }

    /// Empty fragments this evidence counts: exact when decrypted, else the
    /// candidate records of the strongest rung (later-segment candidates are
    /// counted too, and the summary marks them `wire-ambiguous`: a count of 0
    /// beside an `unknown` verdict would read as "none seen").
    fn count(&self) -> u64 {
        match self {
            DirectionEvidence::Decrypted { empty } => *empty,
            DirectionEvidence::ZeroLength { records }
            | DirectionEvidence::SameSegment { records }
            | DirectionEvidence::LaterSegment { records } => *records,
            _ => 0,
        }
    }

    fn ambiguous(&self) -> bool {
        matches!(self, DirectionEvidence::LaterSegment { .. })
    }
}

/// What the counts of a flow's `empty_fragments` object rest on, from both
/// directions together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountBasis {
    /// Exact: the records were decrypted (in at least one direction).
    Decrypted,
    /// Record sizes and segment boundaries on the wire.
    Wire,
    /// As `Wire`, but some minimal record was followed in a later segment:
    /// an empty fragment or a 1/n-1 split.
    WireAmbiguous,
    /// No application data in either direction.
    #[serde(rename = "none")]
    NoApplicationData,
}

/// The `empty_fragments` object of a flow report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptyFragmentSummary {
    /// Empty fragments counted from the client / server (see `evidence`).
    pub client: u64,
    pub server: u64,
    pub evidence: CountBasis,
    pub client_detail: DirectionEvidence,
    pub server_detail: DirectionEvidence,
}

/// Without a ServerHello, the minimal record size the record layer shows:
/// application-data lengths all multiples of 8 but not all of 16 are a
/// 64-bit block cipher under MAC-then-encrypt (3DES with SHA-1 or MD5: 24
/// bytes), all 4 more than a multiple of 8 are 3DES-SHA under
/// encrypt-then-MAC (28); TLS ≥ 1.1 adds an 8-byte explicit IV. Anything
/// else is not decided here.
fn inferred_minimal_len(f: &FlowFacts) -> Option<u16> {
    if f.tls.server_hello.is_some() {
        return None;
    }
    let VersionEvidence::Agreed { version, .. } = record_layer::version_evidence(f) else {
        return None;
    };
    let lens: Vec<u16> = [Role::Client, Role::Server]
        .into_iter()
        .flat_map(|r| f.tls_dir(r).app_data.length_samples().map(|(l, _)| l))
        .collect();
    let iv = if version.0 >= TlsVersion::TLS11.0 {
        8
    } else {
        0
    };
    if lens.iter().all(|l| l % 8 == 0) && lens.iter().any(|l| l % 16 != 0) {
        Some(iv + 24)
    } else if !lens.is_empty() && lens.iter().all(|l| l % 8 == 4) {
        Some(iv + 28)
    } else {
        None
    }
}

/// The application-data statistics the ladder reads: the flow's own, or,
/// with a minimal size inferred from the record layer, the short-record
/// counts of that size taken as the minimal records.
fn stats(f: &FlowFacts, role: Role, inferred: Option<u16>) -> Cow<'_, AppDataStats> {
    let s = &f.tls_dir(role).app_data;
    match inferred {
        Some(len) if s.minimal_len.is_none() => Cow::Owned(
            s.short_records
                .iter()
                .find(|c| c.len == len)
                .map(|c| c.as_minimal(s))
                .unwrap_or_else(|| AppDataStats {
                    minimal_len: Some(len),
                    short_records: Vec::new(),
                    ..s.clone()
                }),
        ),
        _ => Cow::Borrowed(s),
    }
}

fn evidence(f: &FlowFacts, role: Role, s: &AppDataStats) -> DirectionEvidence {
    if s.records == 0 {
        return DirectionEvidence::NoApplicationData;
    }
    if let Some(empty) = s.decrypted_empty_records {
        return DirectionEvidence::Decrypted { empty };
    }
    if s.zero_length_records > 0 {
        return DirectionEvidence::ZeroLength {
            records: s.zero_length_records,
        };
    }
    let tls13 = f.tls.negotiated_version.is_some_and(|v| v.is_tls13());
    let kind = f.tls.cipher_suite.and_then(suites::kind);
    if tls13 || matches!(kind, Some(SuiteKind::Aead | SuiteKind::Stream)) {
        return DirectionEvidence::NotBlockCipher;
    }
    if s.minimal_len.is_none() {
        return DirectionEvidence::SuiteUnknown;
    }
    if s.minimal_then_same_segment > 0 {
        return DirectionEvidence::SameSegment {
            records: s.minimal_then_same_segment,
        };
    }
    if s.minimal_then_later_segment > 0 {
        return DirectionEvidence::LaterSegment {
            records: s.minimal_then_later_segment,
        };
    }
    let gaps = s.first_frame.map_or(0, |first| {
        f.tcp
            .gap_list
            .iter()
            .filter(|g| g.from == role && g.frame >= first)
            .count()
    });
    if gaps > 0 {
        return DirectionEvidence::BytesMissing { gaps };
    }
    DirectionEvidence::Clean {
        lone_minimal: s.minimal_records,
    }
}

fn frames_of(s: &AppDataStats, ev: &DirectionEvidence) -> Vec<FrameNo> {
    let list = match ev {
        DirectionEvidence::Decrypted { .. } => &s.decrypted_empty_frames,
        DirectionEvidence::ZeroLength { .. } => &s.zero_length_frames,
        DirectionEvidence::SameSegment { .. } => &s.same_segment_frames,
        DirectionEvidence::LaterSegment { .. } => &s.later_segment_frames,
        _ => return Vec::new(),
    };
    list.iter().copied().take(MAX_FRAMES_PER_RUNG).collect()
}

fn describe(role: Role, ev: &DirectionEvidence, min: Option<u16>) -> String {
    let who = role.name();
    let min = min.map(|m| format!(" ({m}-byte)")).unwrap_or_default();
    match ev {
        DirectionEvidence::NoApplicationData => format!("the {who} sent no application data"),
        DirectionEvidence::Decrypted { empty: 0 } => {
            format!("decrypted: the {who} sent no empty records")
        }
        DirectionEvidence::Decrypted { empty } => {
            format!("decrypted: the {who} sent {empty} record(s) with empty plaintext")
        }
        DirectionEvidence::ZeroLength { records } => {
            format!("the {who} sent {records} application-data record(s) of length 0")
        }
        DirectionEvidence::SameSegment { records } => format!(
            "the {who} sent {records} minimal-size{min} record(s) each followed by another record in the same TCP segment, the way empty fragments are written (1/n-1 record splitting looks alike; --keylog confirms)"
        ),
        DirectionEvidence::LaterSegment { records } => format!(
            "the {who} sent {records} minimal-size{min} record(s) followed by data in a later segment: an empty fragment or 1/n-1 record splitting, which cannot be told apart without keys (--keylog)"
        ),
        DirectionEvidence::Clean { lone_minimal: 0 } => {
            format!("the {who}'s application data shows no empty fragments")
        }
        DirectionEvidence::Clean { lone_minimal } => format!(
            "the {who}'s application data shows no empty fragments ({lone_minimal} lone minimal-size record(s) are not evidence)"
        ),
        DirectionEvidence::NotBlockCipher => format!("the {who} uses a suite that cannot carry empty fragments"),
        DirectionEvidence::SuiteUnknown => {
            format!("the {who}'s suite is not known, so its minimal record size is not either")
        }
        DirectionEvidence::BytesMissing { gaps } => format!(
            "the {who}'s captured application data shows no empty fragments, but {gaps} TCP gap(s) (snaplen or capture loss) hide some of it"
        ),
    }
}

pub(super) fn check(f: &FlowFacts, p: &Profile) -> (CheckResult, EmptyFragmentSummary) {
    let inferred = inferred_minimal_len(f);
    let stats_c = stats(f, Role::Client, inferred);
    let stats_s = stats(f, Role::Server, inferred);
    let c = evidence(f, Role::Client, &stats_c);
    let s = evidence(f, Role::Server, &stats_s);
    let summary = EmptyFragmentSummary {
        client: c.count(),
        server: s.count(),
        evidence: if matches!(c, DirectionEvidence::Decrypted { .. })
            || matches!(s, DirectionEvidence::Decrypted { .. })
        {
            CountBasis::Decrypted
        } else if c == DirectionEvidence::NoApplicationData
            && s == DirectionEvidence::NoApplicationData
        {
            CountBasis::NoApplicationData
        } else if c.ambiguous() || s.ambiguous() {
            CountBasis::WireAmbiguous
        } else {
            CountBasis::Wire
        },
        client_detail: c.clone(),
        server_detail: s.clone(),
    };
    let side = |n: u64, e: &DirectionEvidence| {
        if e.ambiguous() {
            format!("{n} (empty fragment or 1/n-1 split)")
        } else {
            n.to_string()
        }
    };
    let observed = format!(
        "client {}, server {}",
        side(summary.client, &c),
        side(summary.server, &s)
    );
    let expected = vec![p.tls.empty_fragments.name().to_string()];
    let min_c = stats_c.minimal_len;
    let min_s = stats_s.minimal_len;

    let aead_seen = [&c, &s]
        .iter()
        .any(|e| **e == DirectionEvidence::NotBlockCipher);
    let (verdict, parts, frames): (Verdict, Vec<String>, Vec<FrameNo>) = if aead_seen
        && [&c, &s].iter().all(|e| {
            matches!(
                e,
                DirectionEvidence::NotBlockCipher | DirectionEvidence::NoApplicationData
            )
        }) {
        // The suite settles it for both directions once any application data is seen.
        let suite = f
            .tls
            .cipher_suite
            .map(suites::display)
            .unwrap_or_else(|| "TLS 1.3".into());
        (
            Verdict::Pass,
            vec![format!(
                "{suite} cannot carry empty fragments and application data was seen"
            )],
            Vec::new(),
        )
    } else {
        let vc = c.verdict();
        let vs = s.verdict();
        let verdict = vc.max(vs);
        let mut parts = Vec::new();
        let mut frames = Vec::new();
        // Name the directions that decide the verdict first.
        for (role, ev, v, min) in [(Role::Client, &c, vc, min_c), (Role::Server, &s, vs, min_s)] {
            if v == verdict {
                parts.push(describe(role, ev, min));
                let st = if role == Role::Client {
                    &stats_c
                } else {
                    &stats_s
                };
                frames.extend(frames_of(st, ev));
            }
        }
        for (role, ev, v, min) in [(Role::Client, &c, vc, min_c), (Role::Server, &s, vs, min_s)] {
            if v != verdict {
                parts.push(describe(role, ev, min));
            }
        }
        (verdict, parts, frames)
    };

    let mut reason = capitalise(parts.join("; "));
    reason.push('.');
    let inferred_used = inferred.is_some()
        && [
            &f.tls_dir(Role::Client).app_data,
            &f.tls_dir(Role::Server).app_data,
        ]
        .iter()
        .any(|a| a.minimal_len.is_none() && a.records > 0);
    if let (true, Some(len)) = (inferred_used, inferred) {
        reason.push_str(&format!(
            " No ServerHello: {}; the {len}-byte minimal record size is inferred from the record layer (version and record lengths of a 64-bit block cipher).",
            record_layer::why_no_server_hello(f)
        ));
    }
    let mut result = CheckResult::new(verdict, reason)
        .expected(expected)
        .observed(observed)
        .frames(frames);
    if inferred_used {
        result = result.inferred();
    }
    if p.tls.empty_fragments == EmptyFragmentsPolicy::Allowed {
        result.verdict = Verdict::Skipped;
        result.reason = format!("The profile allows empty fragments. {}", result.reason);
    } else if verdict == Verdict::Fail {
        result = result.remedy(remedies::IMP_EMPTY_FRAGMENTS);
    }
    (result, summary)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::FlowBuilder;
    use super::*;
    use crate::tls::model::TlsVersion;

    fn run(f: &FlowFacts) -> (CheckResult, EmptyFragmentSummary) {
        check(f, &Profile::builtin())
    }

    fn base() -> FlowBuilder {
        FlowBuilder::new().federation_ok()
    }

    #[test]
    fn decrypted_empty_plaintext_fails_exactly() {
        let mut b = base();
        b.dir_mut(Role::Server).app_data.decrypted_empty_records = Some(3);
        b.dir_mut(Role::Server).app_data.decrypted_empty_frames = vec![11, 12, 13];
        b.dir_mut(Role::Client).app_data.decrypted_empty_records = Some(0);
        let (c, s) = run(&b.build());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.frames, vec![11, 12, 13]);
        assert_eq!(
            (s.client, s.server, s.evidence),
            (0, 3, CountBasis::Decrypted)
        );
        assert_eq!(c.remedy.as_deref(), Some(remedies::IMP_EMPTY_FRAGMENTS));
    }

    #[test]
    fn decrypted_none_passes_even_with_same_segment_minimal_records() {
        let mut b = base();
        for r in [Role::Client, Role::Server] {
            b.dir_mut(r).app_data.decrypted_empty_records = Some(0);
            b.dir_mut(r).app_data.minimal_then_same_segment = 4;
        }
        let (c, s) = run(&b.build());
        assert_eq!(c.verdict, Verdict::Pass);
        assert_eq!(s.evidence, CountBasis::Decrypted);
    }

    #[test]
    fn zero_length_record_fails() {
        let mut b = base();
        b.dir_mut(Role::Client).app_data.zero_length_records = 2;
        b.dir_mut(Role::Client).app_data.zero_length_frames = vec![10, 14];
        let (c, s) = run(&b.build());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.frames, vec![10, 14]);
        assert_eq!((s.client, s.server, s.evidence), (2, 0, CountBasis::Wire));
    }

    #[test]
    fn minimal_record_then_same_segment_fails_with_caveat() {
        let mut b = base();
        b.dir_mut(Role::Server).app_data.minimal_records = 5;
        b.dir_mut(Role::Server).app_data.minimal_then_same_segment = 5;
        b.dir_mut(Role::Server).app_data.same_segment_frames = vec![11];
        let (c, s) = run(&b.build());
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.reason.contains("1/n-1"), "{}", c.reason);
        assert!(c.reason.contains("--keylog"), "{}", c.reason);
        assert!(c.reason.contains("24-byte"), "{}", c.reason);
        assert_eq!(s.server, 5);
    }

    #[test]
    fn minimal_record_then_later_segment_is_unknown() {
        let mut b = base();
        b.dir_mut(Role::Client).app_data.minimal_records = 1;
        b.dir_mut(Role::Client).app_data.minimal_then_later_segment = 1;
        b.dir_mut(Role::Client).app_data.later_segment_frames = vec![10];
        let (c, _) = run(&b.build());
        assert_eq!(c.verdict, Verdict::Unknown);
        assert_eq!(c.frames, vec![10]);
        assert!(c.reason.contains("cannot be told apart"), "{}", c.reason);
    }

    #[test]
    fn lone_minimal_records_are_not_evidence() {
        let mut b = base();
        b.dir_mut(Role::Client).app_data.minimal_records = 3;
        let (c, s) = run(&b.build());
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.reason.contains("lone minimal-size"), "{}", c.reason);
        assert_eq!(s.client, 0);
    }

    #[test]
    fn no_application_data_is_unknown() {
        let f = FlowBuilder::new()
            .hellos_only()
            .finished(Role::Client, 8)
            .finished(Role::Server, 9)
            .build();
        let (c, s) = run(&f);
        assert_eq!(c.verdict, Verdict::Unknown);
        assert_eq!(s.evidence, CountBasis::NoApplicationData);
    }

    #[test]
    fn one_silent_direction_keeps_cbc_check_unknown() {
        let f = FlowBuilder::new()
            .hellos_only()
            .app_data(Role::Client, 10, 3)
            .build();
        let (c, _) = run(&f);
        assert_eq!(c.verdict, Verdict::Unknown);
        assert!(
            c.reason.contains("server sent no application data"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn aead_suite_passes_once_application_data_seen() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x009c])
            .server_hello(5, TlsVersion::TLS12, 0x009c)
            .app_data(Role::Client, 10, 1)
            .build();
        let (c, _) = run(&f);
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(
            c.reason.contains("TLS_RSA_WITH_AES_128_GCM_SHA256"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn tls13_passes_once_application_data_seen() {
        let f = FlowBuilder::new()
            .client_hello(4, TlsVersion::TLS12, &[0x1301])
            .server_hello(5, TlsVersion::TLS12, 0x1301)
            .with(|f| f.tls.negotiated_version = Some(TlsVersion::TLS13))
            .app_data(Role::Server, 10, 1)
            .build();
        assert_eq!(run(&f).0.verdict, Verdict::Pass);
    }

    #[test]
    fn unknown_suite_with_data_is_unknown() {
        let f = FlowBuilder::new()
            .midstream()
            .app_data(Role::Client, 3, 1)
            .app_data(Role::Server, 4, 1)
            .build();
        assert_eq!(run(&f).0.verdict, Verdict::Unknown);
    }

    #[test]
    fn allowed_policy_skips_but_reports_counts() {
        let mut b = base();
        b.dir_mut(Role::Client).app_data.zero_length_records = 1;
        let mut p = Profile::builtin();
        p.tls.empty_fragments = EmptyFragmentsPolicy::Allowed;
        let (c, s) = check(&b.build(), &p);
        assert_eq!(c.verdict, Verdict::Skipped);
        assert!(c.remedy.is_none());
        assert_eq!(s.client, 1);
    }

    // See: issue 15, item 3 (empty fragments of a flow joined mid-stream).
    #[test]
    fn minimal_size_is_inferred_from_a_64_bit_block_record_layer() {
        let mut b = FlowBuilder::new()
            .midstream()
            .midstream_app_data(
                Role::Client,
                TlsVersion::TLS10,
                &[(5, 24), (5, 168), (7, 120)],
            )
            .midstream_app_data(Role::Server, TlsVersion::TLS10, &[(6, 112)]);
        let c = b.dir_mut(Role::Client);
        c.app_data
            .short_records
            .push(crate::tls::model::ShortRecordStats {
                len: 24,
                records: 1,
                then_same_segment: 1,
                same_segment_frames: vec![5],
                ..Default::default()
            });
        let f = b.build();
        assert_eq!(inferred_minimal_len(&f), Some(24));
        let (r, summary) = run(&f);
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.reason);
        assert_eq!(r.inferred_from, Some("record layer"));
        assert_eq!((summary.client, r.frames.clone()), (1, vec![5]));
        // TLS 1.1 and later add an explicit IV of one block.
        let f = FlowBuilder::new()
            .midstream()
            .midstream_app_data(
                Role::Client,
                TlsVersion::TLS11,
                &[(5, 168), (7, 120), (9, 40)],
            )
            .build();
        assert_eq!(inferred_minimal_len(&f), Some(32));
        // Lengths of 16-byte multiples only could be AES: not decided.
        let f = FlowBuilder::new()
            .midstream()
            .midstream_app_data(
                Role::Client,
                TlsVersion::TLS10,
                &[(5, 32), (7, 160), (9, 48)],
            )
            .build();
        assert_eq!(inferred_minimal_len(&f), None);
    }

    #[test]
    fn clean_application_data_with_missing_bytes_is_unknown() {
        let f = base()
            .app_data(Role::Client, 10, 3)
            .app_data(Role::Server, 11, 3)
            .gap(Role::Client, 12, 500)
            .build();
        let (r, _) = run(&f);
        assert_eq!(r.verdict, Verdict::Unknown, "{}", r.reason);
        assert!(r.reason.contains("TCP gap"), "{}", r.reason);
    }
}
