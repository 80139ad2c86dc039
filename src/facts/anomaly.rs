//! The wording of the TLS stage's anomalies ([`Anomaly`]), with each sender
//! named by its role: the one place they become text. The TLS stage records
//! them before roles are known, in TCP directions; here the client's
//! direction is known.
//!
//! The sentences are part of the report (`decoder-note` findings, quoted in
//! the README): change them only on purpose.

use super::Role;
use crate::decode::Dir;
use crate::tls::handshake::message_name;
use crate::tls::model::{FrameNo, TlsFacts};
use crate::tls::{Anomaly, MAX_ALERTS, MAX_ANOMALIES};

/// One anomaly in words, with the frame that showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyNote {
    pub message: String,
    /// None only for the note saying that anomalies past the cap were dropped.
    pub frame: Option<FrameNo>,
    /// The side that sent the bytes in question, when one side did.
    pub role: Option<Role>,
}

/// The flow's anomalies in words, in the order recorded, then (when the cap
/// was reached) one saying that the rest were dropped.
pub fn notes(tls: &TlsFacts, client_dir: Dir) -> impl Iterator<Item = AnomalyNote> + '_ {
    let dropped = (tls.anomalies_dropped > 0).then(|| AnomalyNote {
        message: format!("more than {MAX_ANOMALIES} notes; the rest were dropped"),
        frame: None,
        role: None,
    });
    tls.anomalies
        .iter()
        .map(move |a| AnomalyNote {
            message: describe(a, client_dir),
            frame: Some(a.frame()),
            role: a.dir().map(|d| role_of(d, client_dir)),
        })
        .chain(dropped)
}

fn role_of(dir: Dir, client_dir: Dir) -> Role {
    if dir == client_dir {
        Role::Client
    } else {
        Role::Server
    }
}

/// `anomaly` as a sentence starting with its frame; the side that sent it
/// is `client` or `server` given the client's TCP direction.
pub fn describe(anomaly: &Anomaly, client_dir: Dir) -> String {
    let role = |dir: Dir| role_of(dir, client_dir).name();
    match anomaly {
        Anomaly::CertificateMessageOverLimit {
            frame,
            dir,
            len,
            limit,
        } => format!(
            "frame {frame}: {} Certificate message of {len} bytes exceeds the {limit}-byte limit; decoded from its first bytes",
            role(*dir)
        ),
        Anomaly::HandshakeMessageOverLimit {
            frame,
            dir,
            msg_type,
            len,
            limit,
        } => format!(
            "frame {frame}: {} handshake message {} of {len} bytes exceeds the {limit}-byte limit; skipped",
            role(*dir),
            message_name(*msg_type)
        ),
        Anomaly::UndecodableHandshakeMessage { frame, dir, error } => {
            format!("frame {frame}: {error} from {}", role(*dir))
        }
        Anomaly::UndecodableCertificateRequest { frame, error } => {
            format!("frame {frame}: {error}")
        }
        Anomaly::CertificateChainOverLimit {
            frame,
            certs,
            limit,
            ..
        } => format!(
            "frame {frame}: certificate chain of {certs} certificates; only the first {limit} decoded"
        ),
        Anomaly::MalformedSslv2ClientHello { frame, .. } => {
            format!("frame {frame}: malformed SSLv2 CLIENT-HELLO")
        }
        Anomaly::MalformedSslv2ServerHello { frame, .. } => {
            format!("frame {frame}: malformed SSLv2 SERVER-HELLO")
        }
        Anomaly::Sslv2Error { frame, dir } => {
            format!("frame {frame}: SSLv2 ERROR message from {}", role(*dir))
        }
        Anomaly::ZeroLengthHandshakeRecord { frame, dir } => {
            format!(
                "frame {frame}: zero-length handshake record from {}",
                role(*dir)
            )
        }
        Anomaly::AlertsOverLimit { frame } => {
            format!("frame {frame}: more than {MAX_ALERTS} alerts; the rest are not listed")
        }
        Anomaly::RecordCutByGap {
            frame,
            dir,
            gap_len,
        } => format!(
            "frame {frame}: a {} record was cut by a TCP gap of {gap_len} bytes",
            role(*dir)
        ),
        Anomaly::HandshakeMessageLostInGap { frame, dir } => format!(
            "frame {frame}: a {} handshake message was lost in a TCP gap",
            role(*dir)
        ),
        Anomaly::NotARecordHeader { frame, dir } => format!(
            "frame {frame}: {} bytes are not a TLS record header; searching for the next record",
            role(*dir)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::handshake::HandshakeError;

    #[test]
    fn the_sender_is_named_by_its_role_whichever_direction_the_client_sends_in() {
        let a = Anomaly::RecordCutByGap {
            frame: 9,
            dir: Dir::AB,
            gap_len: 10,
        };
        assert_eq!(
            describe(&a, Dir::AB),
            "frame 9: a client record was cut by a TCP gap of 10 bytes"
        );
        assert_eq!(
            describe(&a, Dir::BA),
            "frame 9: a server record was cut by a TCP gap of 10 bytes"
        );
    }

    #[test]
    fn each_anomaly_reads_as_the_decoder_note_the_report_has_always_shown() {
        let malformed = HandshakeError::Malformed {
            message: "ClientHello",
        };
        // The client sends in direction BA.
        let cases = [
            (
                Anomaly::CertificateMessageOverLimit { frame: 5, dir: Dir::AB, len: 300_000, limit: 262_144 },
                "frame 5: server Certificate message of 300000 bytes exceeds the 262144-byte limit; decoded from its first bytes",
            ),
            (
                Anomaly::HandshakeMessageOverLimit { frame: 7, dir: Dir::BA, msg_type: 1, len: 16_777_215, limit: 262_144 },
                "frame 7: client handshake message client_hello of 16777215 bytes exceeds the 262144-byte limit; skipped",
            ),
            (
                Anomaly::UndecodableHandshakeMessage { frame: 4, dir: Dir::BA, error: malformed.clone() },
                "frame 4: malformed ClientHello from client",
            ),
            (
                Anomaly::UndecodableHandshakeMessage {
                    frame: 6,
                    dir: Dir::AB,
                    error: HandshakeError::UnsupportedVersion { message: "ServerHello", version: 0x0abb },
                },
                "frame 6: ServerHello with unsupported version 0x0abb from server",
            ),
            (
                Anomaly::UndecodableCertificateRequest { frame: 8, error: malformed },
                "frame 8: malformed ClientHello",
            ),
            (
                Anomaly::CertificateChainOverLimit { frame: 6, dir: Dir::AB, certs: 20, limit: 16 },
                "frame 6: certificate chain of 20 certificates; only the first 16 decoded",
            ),
            (
                Anomaly::MalformedSslv2ClientHello { frame: 1, dir: Dir::BA },
                "frame 1: malformed SSLv2 CLIENT-HELLO",
            ),
            (
                Anomaly::MalformedSslv2ServerHello { frame: 2, dir: Dir::AB },
                "frame 2: malformed SSLv2 SERVER-HELLO",
            ),
            (
                Anomaly::Sslv2Error { frame: 3, dir: Dir::AB },
                "frame 3: SSLv2 ERROR message from server",
            ),
            (
                Anomaly::ZeroLengthHandshakeRecord { frame: 4, dir: Dir::BA },
                "frame 4: zero-length handshake record from client",
            ),
            (
                Anomaly::AlertsOverLimit { frame: 40 },
                "frame 40: more than 32 alerts; the rest are not listed",
            ),
            (
                Anomaly::RecordCutByGap { frame: 9, dir: Dir::BA, gap_len: 1460 },
                "frame 9: a client record was cut by a TCP gap of 1460 bytes",
            ),
            (
                Anomaly::HandshakeMessageLostInGap { frame: 9, dir: Dir::AB },
                "frame 9: a server handshake message was lost in a TCP gap",
            ),
            (
                Anomaly::NotARecordHeader { frame: 12, dir: Dir::AB },
                "frame 12: server bytes are not a TLS record header; searching for the next record",
            ),
        ];
        for (anomaly, want) in cases {
            assert_eq!(describe(&anomaly, Dir::BA), want, "{anomaly:?}");
        }
    }

    #[test]
    fn notes_carry_their_frames_and_say_when_the_cap_dropped_some() {
        let mut tls = TlsFacts {
            anomalies: vec![
                Anomaly::NotARecordHeader {
                    frame: 12,
                    dir: Dir::AB,
                },
                Anomaly::AlertsOverLimit { frame: 40 },
            ],
            ..TlsFacts::default()
        };
        let frames: Vec<_> = notes(&tls, Dir::AB).map(|n| (n.frame, n.role)).collect();
        // The client sent the bytes that were not a record; too many alerts
        // is not one side's doing.
        assert_eq!(frames, [(Some(12), Some(Role::Client)), (Some(40), None)]);
        tls.anomalies_dropped = 3;
        let last = notes(&tls, Dir::AB).last().expect("a note");
        assert_eq!(
            last,
            AnomalyNote {
                message: "more than 32 notes; the rest were dropped".to_string(),
                frame: None,
                role: None,
            }
        );
    }
}
