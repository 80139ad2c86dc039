//! Answers from the record layer when the ServerHello is not in the capture
//! (spec §8): the connection was joined mid-stream, or gaps / a snaplen cut
//! took the hello's bytes while record headers at segment starts survived.
//!
//! - **Version.** After the handshake every TLS ≤ 1.2 record carries the
//!   negotiated version in its header; TLS 1.3 records carry 0x0303, like
//!   TLS 1.2. So the application-data records' version decides the version
//!   check exactly — except 0x0303 against a profile that allows one of
//!   TLS 1.2 and 1.3 but not the other.
//! - **Cipher family.** A CBC suite under MAC-then-encrypt writes records
//!   whose length is a multiple of its block (8 bytes for 3DES), at least
//!   MAC + 1 rounded up to the block; under encrypt-then-MAC a multiple of
//!   the block plus the MAC. Stream and AEAD suites write any length. One
//!   length that none of the allowed suites can write proves the suite is
//!   not allowed; lengths they all fit are only "consistent with".
//!
//! Only application-data records count: their headers come after the
//! handshake, which a cleartext hello's record version does not.

use crate::facts::{FlowFacts, Role};
use crate::tls::model::{CipherSuiteId, FrameNo, TlsVersion};
use crate::tls::suites::cbc_layout;

/// Application-data records (both directions together) that must agree
/// before their version decides the check: one record could be a
/// misframed boundary; three consistent ones are a connection.
pub const MIN_RECORDS_FOR_VERSION: u64 = 3;

/// Why the ServerHello is missing, for reasons: "joined mid-stream at frame
/// N" or "its bytes were not captured (TCP gaps or snaplen)".
pub fn why_no_server_hello(f: &FlowFacts) -> String {
    if f.tls.client_hello.is_none() && f.tcp.midstream {
        format!(
            "the handshake is not in the capture (the connection was already established; joined mid-stream at frame {})",
            f.first_frame
        )
    } else {
        "the ServerHello was not captured whole (TCP gaps or a snaplen cut)".to_string()
    }
}

/// What the record layer says about the negotiated version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionEvidence {
    /// Too few application-data records to decide.
    TooFew { records: u64 },
    /// The records disagree (misframing or garbage): no answer.
    Inconsistent {
        versions: Vec<(TlsVersion, FrameNo)>,
    },
    /// Every application-data record carries this version.
    Agreed {
        version: TlsVersion,
        records: u64,
        frames: Vec<FrameNo>,
    },
}

pub fn version_evidence(f: &FlowFacts) -> VersionEvidence {
    let mut versions: Vec<(TlsVersion, FrameNo)> = Vec::new();
    let mut records = 0;
    for role in [Role::Client, Role::Server] {
        let ad = &f.tls_dir(role).app_data;
        records += ad.records;
        for &(v, frame) in &ad.record_versions {
            match versions.iter_mut().find(|(seen, _)| *seen == v) {
                Some(e) => e.1 = e.1.min(frame),
                None => versions.push((v, frame)),
            }
        }
    }
    if versions.len() > 1 {
        versions.sort();
        return VersionEvidence::Inconsistent { versions };
    }
    match versions.first() {
        Some(&(version, _)) if records >= MIN_RECORDS_FOR_VERSION => {
            let frames = [Role::Client, Role::Server]
                .into_iter()
                .filter_map(|r| f.tls_dir(r).app_data.first_frame)
                .collect();
            VersionEvidence::Agreed {
                version,
                records,
                frames,
            }
        }
        _ => VersionEvidence::TooFew { records },
    }
}

/// The versions a record-layer version can stand for.
pub fn candidates(record_version: TlsVersion) -> Vec<TlsVersion> {
    if record_version == TlsVersion::TLS12 {
        vec![TlsVersion::TLS12, TlsVersion::TLS13]
    } else {
        vec![record_version]
    }
}

/// Report name of a record-layer version ("TLS 1.2 or 1.3" for 0x0303).
pub fn record_version_name(v: TlsVersion) -> String {
    if v == TlsVersion::TLS12 {
        "TLS 1.2 or 1.3".to_string()
    } else {
        v.name()
    }
}

/// What the application-data record lengths say about the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LengthEvidence {
    /// No application-data record.
    NoRecords,
    /// A record no allowed suite can produce: (length, frame).
    Contradicts { len: u16, frame: FrameNo },
    /// Every length fits at least one allowed suite; `observed` says what
    /// the lengths look like.
    Consistent { observed: &'static str },
}

/// Can a CBC suite with `block` and `mac` write every length in `lens`?
fn cbc_can_write(lens: &[(u16, FrameNo)], block: u16, mac: u16) -> Result<(), (u16, FrameNo)> {
    let mte_min = (mac + 1).div_ceil(block) * block;
    let etm_min = block + mac;
    let mte_bad = lens
        .iter()
        .find(|(l, _)| l % block != 0 || *l < mte_min)
        .copied();
    let etm_bad = lens
        .iter()
        .find(|(l, _)| l % block != mac % block || *l < etm_min)
        .copied();
    match (mte_bad, etm_bad) {
        (None, _) | (_, None) => Ok(()),
        // Neither framing fits: name the first record MAC-then-encrypt
        // (the usual one) cannot produce.
        (Some(bad), Some(_)) => Err(bad),
    }
}

pub fn length_evidence(f: &FlowFacts, allowed: &[CipherSuiteId]) -> LengthEvidence {
    let mut lens: Vec<(u16, FrameNo)> = [Role::Client, Role::Server]
        .into_iter()
        .flat_map(|r| f.tls_dir(r).app_data.length_samples())
        .collect();
    if lens.is_empty() {
        return LengthEvidence::NoRecords;
    }
    lens.sort_by_key(|&(_, frame)| frame);
    let mut first_bad: Option<(u16, FrameNo)> = None;
    for &suite in allowed {
        match cbc_layout(suite) {
            // A stream or AEAD suite (or one we cannot size) writes any length.
            None => return consistent(&lens),
            Some((block, mac)) => match cbc_can_write(&lens, block, mac) {
                Ok(()) => return consistent(&lens),
                Err(bad) => {
                    if first_bad.is_none_or(|b| bad.1 < b.1) {
                        first_bad = Some(bad);
                    }
                }
            },
        }
    }
    match first_bad {
        Some((len, frame)) => LengthEvidence::Contradicts { len, frame },
        None => consistent(&lens),
    }
}

fn consistent(lens: &[(u16, FrameNo)]) -> LengthEvidence {
    let observed = if lens.iter().all(|(l, _)| l % 16 == 0) {
        "record lengths are multiples of 16: consistent with a 64-bit or 128-bit block cipher"
    } else if lens.iter().all(|(l, _)| l % 8 == 0) {
        "consistent with a 64-bit block cipher"
    } else {
        "record lengths of a stream or AEAD cipher, or of a block cipher with encrypt-then-MAC"
    };
    LengthEvidence::Consistent { observed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixture::FlowBuilder;

    const TRIPLE_DES: CipherSuiteId = CipherSuiteId::RSA_WITH_3DES_EDE_CBC_SHA;

    #[test]
    fn a_length_that_is_not_a_multiple_of_8_is_not_3des() {
        let f = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS12, &[(5, 168), (9, 61)])
            .build();
        assert_eq!(
            length_evidence(&f, &[TRIPLE_DES]),
            LengthEvidence::Contradicts { len: 61, frame: 9 }
        );
    }

    #[test]
    fn multiples_of_8_not_of_16_are_consistent_with_a_64_bit_block() {
        let f = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 168), (7, 120)])
            .midstream_app_data(Role::Server, TlsVersion::TLS10, &[(6, 112)])
            .build();
        assert_eq!(
            length_evidence(&f, &[TRIPLE_DES]),
            LengthEvidence::Consistent {
                observed: "consistent with a 64-bit block cipher"
            }
        );
    }

    #[test]
    fn encrypt_then_mac_lengths_fit_3des_too() {
        // 3DES-SHA under encrypt-then-MAC: 8k + 20 bytes.
        let f = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 28), (7, 60)])
            .build();
        assert!(matches!(
            length_evidence(&f, &[TRIPLE_DES]),
            LengthEvidence::Consistent { .. }
        ));
        // …but not mixed with MAC-then-encrypt lengths.
        let f = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 28), (7, 64)])
            .build();
        assert!(matches!(
            length_evidence(&f, &[TRIPLE_DES]),
            LengthEvidence::Contradicts { .. }
        ));
    }

    #[test]
    fn an_aead_suite_in_the_profile_fits_any_length() {
        let f = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS12, &[(5, 61)])
            .build();
        assert!(matches!(
            length_evidence(&f, &[TRIPLE_DES, CipherSuiteId(0x009c)]),
            LengthEvidence::Consistent { .. }
        ));
    }

    #[test]
    fn records_below_the_minimal_size_are_not_3des() {
        let f = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 16)])
            .build();
        assert_eq!(
            length_evidence(&f, &[TRIPLE_DES]),
            LengthEvidence::Contradicts { len: 16, frame: 5 }
        );
    }

    #[test]
    fn version_needs_three_agreeing_records() {
        let two = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 168), (7, 120)])
            .build();
        assert_eq!(
            version_evidence(&two),
            VersionEvidence::TooFew { records: 2 }
        );
        let three = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 168), (7, 120)])
            .midstream_app_data(Role::Server, TlsVersion::TLS10, &[(6, 112)])
            .build();
        assert!(matches!(
            version_evidence(&three),
            VersionEvidence::Agreed {
                version: TlsVersion::TLS10,
                records: 3,
                ..
            }
        ));
        let mixed = FlowBuilder::new()
            .midstream_app_data(Role::Client, TlsVersion::TLS10, &[(5, 168), (7, 120)])
            .midstream_app_data(Role::Server, TlsVersion::TLS12, &[(6, 112)])
            .build();
        assert!(matches!(
            version_evidence(&mixed),
            VersionEvidence::Inconsistent { .. }
        ));
    }
}
