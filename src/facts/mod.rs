//! Facts stage: the owned, serialisable record of one flow (`FlowFacts`),
//! built from the flow table's TCP view and the TLS stage's [`TlsFacts`].
//!
//! Owns: [`FlowFacts`], [`TcpFacts`], [`Role`], [`RoleSource`], and the
//! wording of the TLS stage's anomalies (`anomaly.rs`). The builder
//! (`builder.rs`) is the only writer. `checks/` and `report/` read these and
//! nothing below them.
//!
//! Roles: `client`/`server` are the ClientHello sender / receiver; the
//! `server` endpoint is the SYN receiver, else the ServerHello sender, else
//! the ClientHello receiver, else the side on an audited port (spec §2).

pub mod anomaly;
pub mod builder;

use serde::Serialize;

use crate::capture::Timestamp;
use crate::decode::{Dir, Endpoint, FlowKey};
use crate::flow::{CloseKind, EvictionCause};
use crate::tls::model::TlsFacts;

/// How the server side of a flow was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleSource {
    Syn,
    ServerHello,
    ClientHello,
    Port,
    FirstPacket,
}

/// A TCP gap: bytes of one direction never seen.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GapFacts {
    /// `client` or `server`: the sender of the missing bytes.
    pub from: Role,
    /// Relative sequence offset (bytes since that direction's first seen byte) where the hole starts.
    pub offset: u64,
    pub len: u64,
    /// Frame after which the gap was declared (the segment that jumped past it, or the last frame of the flow).
    pub frame: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// How the TCP connection ended, as far as the capture shows.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CloseFacts {
    pub from: Role,
    pub frame: u64,
    pub kind: CloseKind,
    /// Capture time of that frame.
    pub ts: Timestamp,
}

/// TCP-level facts of one flow, per role.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TcpFacts {
    pub gaps: u32,
    pub gap_list: Vec<GapFacts>,
    pub retransmissions: u64,
    pub overlaps: u64,
    /// Overlapping bytes that differed from the first copy (first copy wins).
    pub conflicting_bytes: u64,
    pub out_of_order: u64,
    /// No SYN seen: the capture started after the connection was opened.
    pub midstream: bool,
    pub syn_frame: Option<u64>,
    /// First FIN or RST of each kind (in order seen).
    pub closes: Vec<CloseFacts>,
    /// Packets / payload bytes from the client, then from the server.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// Out-of-order buffer overflowed: bytes dropped, analysis of that direction resumed after a gap.
    pub overflows: u32,
    /// Segments whose sequence number jumped too far to be reordering
    /// (tuple reuse or garbage): the stream restarted there after a gap.
    pub seq_jumps: u32,
    /// The flow was evicted (idle timeout or flow-table cap) rather than closed.
    pub evicted: Option<EvictionCause>,
}

/// Everything known about one audited flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowFacts {
    /// Index of the input in `inputs[]`.
    pub input: usize,
    #[serde(skip)]
    pub key: FlowKey,
    pub client: Endpoint,
    pub server: Endpoint,
    pub server_determined_by: RoleSource,
    /// Which TCP direction (of `key`) the client sends in.
    #[serde(skip)]
    pub client_dir: Dir,
    pub first_frame: u64,
    pub first_seen: Timestamp,
    pub last_frame: u64,
    pub last_seen: Timestamp,
    pub tcp: TcpFacts,
    /// TLS facts with directions still in TCP terms; use the accessors below for roles.
    #[serde(skip)]
    pub tls: TlsFacts,
    /// For a resumed session: the earlier flow of the same input that carried
    /// the full handshake of that session (same session id or ticket), if any.
    #[serde(skip)]
    pub resumed_from: Option<PriorSession>,
    /// For a flow joined mid-stream (its handshake is not in the capture): a
    /// later connection of the same input between the same peers (client
    /// address, server address and port) whose handshake showed the
    /// certificates, if any (issue: long-lived federation links).
    #[serde(skip)]
    pub certificates_from: Option<PriorSession>,
}

impl FlowFacts {
    /// Joined mid-stream with no handshake to read certificates from: a
    /// later connection between the same peers may supply them.
    pub fn wants_later_certificates(&self) -> bool {
        self.tcp.midstream
            && self.tls.saw_tls
            && self.tls.client_hello.is_none()
            && self.tls.server_certificates.is_none()
    }

    /// A later flow that can supply this one's certificates: same client
    /// and server address and server port, and a server Certificate seen.
    pub fn can_supply_certificates_to(&self, joined: &FlowFacts) -> bool {
        self.first_frame > joined.first_frame
            && self.client.ip() == joined.client.ip()
            && self.server == joined.server
            && self.tls.server_certificates.is_some()
    }

    /// What a later flow can lend (see [`FlowFacts::certificates_from`]).
    pub fn as_prior_session(&self) -> PriorSession {
        PriorSession {
            first_frame: self.first_frame,
            client: self.client,
            server: self.server,
            server_certificates: self.tls.server_certificates.clone(),
            client_certificates: self.tls.client_certificates.clone(),
        }
    }
}

/// The full handshake a resumed session refers to (spec §3.4).
#[derive(Debug, Clone)]
pub struct PriorSession {
    pub first_frame: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub server_certificates: Option<crate::tls::model::CertChainFacts>,
    pub client_certificates: Option<crate::tls::model::CertChainFacts>,
}

impl FlowFacts {
    /// TCP direction used by `role`.
    pub fn dir_of(&self, role: Role) -> Dir {
        match role {
            Role::Client => self.client_dir,
            Role::Server => self.client_dir.reverse(),
        }
    }

    /// Role that sends in TCP direction `dir`.
    pub fn role_of(&self, dir: Dir) -> Role {
        if dir == self.client_dir {
            Role::Client
        } else {
            Role::Server
        }
    }

    /// Per-direction TLS facts for `role`.
    pub fn tls_dir(&self, role: Role) -> &crate::tls::model::DirectionFacts {
        &self.tls.per_dir[self.dir_of(role).index()]
    }
}
