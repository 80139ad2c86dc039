//! What the TLS stage met in a flow that it could not decode in full:
//! weird traffic is data (style R3), kept in [`TlsFacts::anomalies`]
//! (capped at [`MAX_ANOMALIES`](super::MAX_ANOMALIES)) and judged later.
//!
//! Each variant carries the frame that showed it and, where one side sent
//! it, the TCP direction. The TLS stage does not know yet which direction is
//! the client's, so the wording (with `client` / `server`) is written by the
//! facts stage, in one place (`facts::anomaly`).
//!
//! [`TlsFacts::anomalies`]: super::model::TlsFacts::anomalies

use serde::Serialize;

use super::handshake::HandshakeError;
use super::model::FrameNo;
use crate::decode::Dir;

/// One anomaly of a flow's TLS stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Anomaly {
    /// A Certificate message longer than the handshake-message limit
    /// (`TlsLimits::max_handshake_len`): the certificates were decoded from
    /// the part kept, the cut one partially.
    CertificateMessageOverLimit {
        frame: FrameNo,
        dir: Dir,
        /// Length the message header announced.
        len: usize,
        limit: usize,
    },
    /// Any other handshake message longer than the limit: skipped, never
    /// buffered.
    HandshakeMessageOverLimit {
        frame: FrameNo,
        dir: Dir,
        msg_type: u8,
        /// Length the message header announced.
        len: usize,
        limit: usize,
    },
    /// A ClientHello, ServerHello or Certificate message that did not
    /// decode.
    UndecodableHandshakeMessage {
        frame: FrameNo,
        dir: Dir,
        error: HandshakeError,
    },
    /// A CertificateRequest that did not decode (that a certificate was
    /// requested still counts, with no CA names).
    UndecodableCertificateRequest {
        frame: FrameNo,
        error: HandshakeError,
    },
    /// A certificate chain longer than `TlsLimits::max_certs`: only the
    /// first `limit` certificates were decoded.
    CertificateChainOverLimit {
        frame: FrameNo,
        dir: Dir,
        certs: usize,
        limit: usize,
    },
    /// An SSLv2 CLIENT-HELLO that did not decode.
    MalformedSslv2ClientHello { frame: FrameNo, dir: Dir },
    /// An SSLv2 SERVER-HELLO that did not decode.
    MalformedSslv2ServerHello { frame: FrameNo, dir: Dir },
    /// An SSLv2 ERROR message: the SSLv2 handshake failed.
    Sslv2Error { frame: FrameNo, dir: Dir },
    /// A handshake record with an empty body, which RFC 5246 §6.2.1
    /// forbids.
    ZeroLengthHandshakeRecord { frame: FrameNo, dir: Dir },
    /// More alerts than [`MAX_ALERTS`](super::MAX_ALERTS): the later ones
    /// are not listed. `frame` is the first alert past the cap.
    AlertsOverLimit { frame: FrameNo },
    /// A TCP gap cut a record being buffered; its header (when whole) was
    /// still counted.
    RecordCutByGap {
        frame: FrameNo,
        dir: Dir,
        /// Bytes missing.
        gap_len: u64,
    },
    /// A TCP gap cut a handshake message being reassembled across records.
    HandshakeMessageLostInGap { frame: FrameNo, dir: Dir },
    /// Where a record should start the bytes are no TLS record header: the
    /// direction searches for the next record boundary.
    NotARecordHeader { frame: FrameNo, dir: Dir },
}

impl Anomaly {
    /// The frame that showed the anomaly.
    pub fn frame(&self) -> FrameNo {
        match *self {
            Anomaly::CertificateMessageOverLimit { frame, .. }
            | Anomaly::HandshakeMessageOverLimit { frame, .. }
            | Anomaly::UndecodableHandshakeMessage { frame, .. }
            | Anomaly::UndecodableCertificateRequest { frame, .. }
            | Anomaly::CertificateChainOverLimit { frame, .. }
            | Anomaly::MalformedSslv2ClientHello { frame, .. }
            | Anomaly::MalformedSslv2ServerHello { frame, .. }
            | Anomaly::Sslv2Error { frame, .. }
            | Anomaly::ZeroLengthHandshakeRecord { frame, .. }
            | Anomaly::AlertsOverLimit { frame }
            | Anomaly::RecordCutByGap { frame, .. }
            | Anomaly::HandshakeMessageLostInGap { frame, .. }
            | Anomaly::NotARecordHeader { frame, .. } => frame,
        }
    }

    /// The TCP direction of the side that sent it, when one side did.
    pub fn dir(&self) -> Option<Dir> {
        match *self {
            Anomaly::CertificateMessageOverLimit { dir, .. }
            | Anomaly::HandshakeMessageOverLimit { dir, .. }
            | Anomaly::UndecodableHandshakeMessage { dir, .. }
            | Anomaly::CertificateChainOverLimit { dir, .. }
            | Anomaly::MalformedSslv2ClientHello { dir, .. }
            | Anomaly::MalformedSslv2ServerHello { dir, .. }
            | Anomaly::Sslv2Error { dir, .. }
            | Anomaly::ZeroLengthHandshakeRecord { dir, .. }
            | Anomaly::RecordCutByGap { dir, .. }
            | Anomaly::HandshakeMessageLostInGap { dir, .. }
            | Anomaly::NotARecordHeader { dir, .. } => Some(dir),
            Anomaly::UndecodableCertificateRequest { .. } | Anomaly::AlertsOverLimit { .. } => None,
        }
    }
}
