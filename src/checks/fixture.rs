//! Hand-built [`FlowFacts`] for tests, examples and doctests of the checks
//! and the report (no capture needed). Each method states the TLS event it
//! adds, with frame numbers as a real capture would show them; the defaults
//! are one IM&P ↔ OCS federation connection:
//!
//! | frame | event |
//! |---|---|
//! | 1 | SYN client → server:5062 |
//! | 4 | ClientHello (TLSv1.0, offers 3DES and AES128) |
//! | 5 | ServerHello (TLSv1.0, TLS_RSA_WITH_3DES_EDE_CBC_SHA) |
//! | 6 | server Certificate (CN imp.example.com) + CertificateRequest |
//! | 8 | client Certificate (CN ocs.example.com), CCS, Finished |
//! | 9 | server CCS, Finished |
//! | 10, 11 | application data client → server, server → client |
//!
//! Role directions are derived from the endpoints exactly as the facts
//! builder does (`FlowKey::from_endpoints`), so tests exercise the real
//! `dir_of` / `role_of` mapping.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::capture::Timestamp;
use crate::decode::{Endpoint, FlowKey};
use crate::facts::{CloseFacts, FlowFacts, GapFacts, PriorSession, Role, RoleSource, TcpFacts};
use crate::flow::CloseKind;
use crate::tls::model::{
    AlertFacts, CertChainFacts, CertFacts, CertRequestFacts, CipherSuiteId, ClientHelloFacts,
    DirectionFacts, FrameNo, NotTlsFacts, ServerHelloFacts, TlsFacts, TlsVersion,
};
use crate::tls::model::{Step, TimelineEvent};

/// 2026-01-01T10:00:00Z: the fixture's capture time.
pub const CAPTURE_TIME: i64 = 1_767_261_600;
const DAY: i64 = 86_400;

/// Capture time of `frame` in the fixture: one millisecond per frame after
/// [`CAPTURE_TIME`].
pub fn at(frame: FrameNo) -> Timestamp {
    Timestamp::new(CAPTURE_TIME, (frame.min(999) as u32) * 1_000_000)
}

/// Builder of one flow's facts.
#[derive(Debug, Clone)]
pub struct FlowBuilder {
    f: FlowFacts,
}

impl Default for FlowBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// A decodable certificate with `cns` as subject CNs, valid for a year
/// around the capture time, EKU serverAuth + clientAuth (the guide's request).
pub fn cert(cns: &[&str]) -> CertFacts {
    let subject = cns
        .iter()
        .map(|c| format!("CN={c}"))
        .collect::<Vec<_>>()
        .join(", ");
    CertFacts {
        subject_cn: cns.iter().map(|s| s.to_string()).collect(),
        subject: format!("{subject}, O=Example"),
        issuer: "CN=Example Issuing CA, O=Example".into(),
        issuer_cn: vec!["Example Issuing CA".into()],
        san: cns.iter().map(|c| format!("DNS:{c}")).collect(),
        not_before: Some(CAPTURE_TIME - 180 * DAY),
        not_after: Some(CAPTURE_TIME + 185 * DAY),
        eku: Some(vec!["serverAuth".into(), "clientAuth".into()]),
        key: "RSA 2048".into(),
        signature_algorithm: "sha256WithRSAEncryption".into(),
        serial: "0a1b2c3d".into(),
        sha256: "ab".repeat(32),
        parse_error: None,
        partial: None,
    }
}

impl FlowBuilder {
    /// A TCP connection 10.0.0.2:49152 → 10.0.0.1:5062 (SYN at frame 1), no TLS yet.
    pub fn new() -> Self {
        let client = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 49152);
        let server = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5062);
        let (key, client_dir) = FlowKey::from_endpoints(client, server);
        FlowBuilder {
            f: FlowFacts {
                input: 0,
                key,
                client,
                server,
                server_determined_by: RoleSource::Syn,
                client_dir,
                first_frame: 1,
                first_seen: Timestamp::new(CAPTURE_TIME, 0),
                last_frame: 3,
                last_seen: Timestamp::new(CAPTURE_TIME + 1, 0),
                tcp: TcpFacts {
                    syn_frame: Some(1),
                    ..TcpFacts::default()
                },
                tls: TlsFacts::default(),
                resumed_from: None,
                certificates_from: None,
            },
        }
    }

    /// Other endpoints (keeps everything else).
    pub fn endpoints(mut self, client: Endpoint, server: Endpoint) -> Self {
        let (key, client_dir) = FlowKey::from_endpoints(client, server);
        self.f.key = key;
        self.f.client = client;
        self.f.server = server;
        self.f.client_dir = client_dir;
        self
    }

    pub fn input(mut self, input: usize) -> Self {
        self.f.input = input;
        self
    }

    pub fn first_frame(mut self, frame: FrameNo) -> Self {
        self.f.first_frame = frame;
        self
    }

    fn touch(&mut self, frame: FrameNo) {
        self.f.last_frame = self.f.last_frame.max(frame);
    }

    /// A step of the timeline (the ladder diagram), as the TLS stage records it.
    fn step(&mut self, role: Role, frame: FrameNo, step: Step) {
        let dir = self.f.dir_of(role);
        self.f.tls.timeline.push(TimelineEvent {
            frame,
            ts: at(frame),
            dir,
            step,
        });
    }

    fn hs(&mut self, role: Role, name: &str, frame: FrameNo) {
        self.touch(frame);
        self.step(role, frame, Step::Handshake(name.to_string().into()));
        let d = self.dir_mut(role);
        d.handshake_messages.push(name.to_string().into());
        d.last_handshake = Some((name.to_string().into(), frame));
        d.first_frame.get_or_insert(frame);
        d.records += 1;
        self.f.tls.saw_tls = true;
    }

    /// Mutable per-direction facts of `role`.
    pub fn dir_mut(&mut self, role: Role) -> &mut DirectionFacts {
        let i = self.f.dir_of(role).index();
        &mut self.f.tls.per_dir[i]
    }

    /// ClientHello at `frame`: legacy `version`, `suites` offered.
    pub fn client_hello(mut self, frame: FrameNo, version: TlsVersion, suites: &[u16]) -> Self {
        self.f.tls.client_hello = Some(ClientHelloFacts {
            frame,
            dir: Some(self.f.dir_of(Role::Client)),
            version: Some(version),
            cipher_suites: suites.iter().map(|&s| CipherSuiteId(s)).collect(),
            count: 1,
            ..ClientHelloFacts::default()
        });
        self.hs(Role::Client, "client_hello", frame);
        self
    }

    /// ServerHello at `frame` selecting `version` and `suite` (a full handshake).
    pub fn server_hello(mut self, frame: FrameNo, version: TlsVersion, suite: u16) -> Self {
        self.f.tls.server_hello = Some(ServerHelloFacts {
            frame,
            dir: Some(self.f.dir_of(Role::Server)),
            version: Some(version),
            cipher_suite: Some(CipherSuiteId(suite)),
            ..ServerHelloFacts::default()
        });
        self.f.tls.negotiated_version = Some(version);
        self.f.tls.cipher_suite = Some(CipherSuiteId(suite));
        self.f.tls.resumed = Some(false);
        self.hs(Role::Server, "server_hello", frame);
        self
    }

    /// Change what the ServerHello selected.
    pub fn negotiated(mut self, version: TlsVersion, suite: u16) -> Self {
        if let Some(sh) = self.f.tls.server_hello.as_mut() {
            sh.version = Some(version);
            sh.cipher_suite = Some(CipherSuiteId(suite));
        }
        self.f.tls.negotiated_version = Some(version);
        self.f.tls.cipher_suite = Some(CipherSuiteId(suite));
        self
    }

    /// Frames 4-5: ClientHello (TLSv1.0, 3DES + AES128) and ServerHello (TLSv1.0, 3DES).
    pub fn hellos_only(self) -> Self {
        self.client_hello(4, TlsVersion::TLS10, &[0x000a, 0x002f])
            .server_hello(5, TlsVersion::TLS10, 0x000a)
    }

    /// Server Certificate message at `frame` with a leaf of `cns`.
    pub fn server_cert(self, frame: FrameNo, cns: &[&str]) -> Self {
        self.server_chain(frame, vec![cert(cns)])
    }

    /// Server Certificate message with an explicit chain (empty = empty message).
    pub fn server_chain(mut self, frame: FrameNo, certs: Vec<CertFacts>) -> Self {
        self.f.tls.server_certificates = Some(CertChainFacts {
            frame,
            certs: certs.into_iter().map(Arc::new).collect(),
            truncated: false,
        });
        self.hs(Role::Server, "certificate", frame);
        self
    }

    /// Client Certificate message at `frame` with a leaf of `cns`.
    pub fn client_cert(self, frame: FrameNo, cns: &[&str]) -> Self {
        self.client_chain(frame, vec![cert(cns)])
    }

    /// Client Certificate message with an explicit chain (empty = empty message).
    pub fn client_chain(mut self, frame: FrameNo, certs: Vec<CertFacts>) -> Self {
        self.f.tls.client_certificates = Some(CertChainFacts {
            frame,
            certs: certs.into_iter().map(Arc::new).collect(),
            truncated: false,
        });
        self.hs(Role::Client, "certificate", frame);
        self
    }

    /// CertificateRequest at `frame` listing `ca_names` (empty = any CA).
    pub fn cert_request(mut self, frame: FrameNo, ca_names: &[&str]) -> Self {
        self.f.tls.certificate_request = Some(CertRequestFacts {
            frame,
            ca_names: ca_names.iter().map(|s| s.to_string()).collect(),
        });
        self.hs(Role::Server, "certificate_request", frame);
        self.hs(Role::Server, "server_hello_done", frame);
        self
    }

    /// The client's ClientKeyExchange at `frame` (it proceeded with the handshake).
    pub fn client_key_exchange(mut self, frame: FrameNo) -> Self {
        self.hs(Role::Client, "client_key_exchange", frame);
        self
    }

    /// ChangeCipherSpec + encrypted Finished of `role` at `frame`.
    pub fn finished(mut self, role: Role, frame: FrameNo) -> Self {
        self.touch(frame);
        self.step(role, frame, Step::ChangeCipherSpec);
        self.step(role, frame, Step::EncryptedHandshake);
        let d = self.dir_mut(role);
        d.change_cipher_spec = Some(frame);
        d.encrypted_handshake = Some(frame);
        d.records += 2;
        self
    }

    /// `records` application-data records of `role` starting at `frame`;
    /// the minimal CBC size is set from the negotiated suite.
    pub fn app_data(mut self, role: Role, frame: FrameNo, records: u64) -> Self {
        self.touch(frame);
        let mut counts = [0; 2];
        counts[self.f.dir_of(role).index()] = records;
        let last_frame = frame + records.saturating_sub(1) * 2;
        self.step(
            role,
            frame,
            Step::AppData {
                records: counts,
                last_frame,
                last_ts: at(last_frame),
            },
        );
        let minimal = match self.f.tls.cipher_suite {
            Some(CipherSuiteId(0x000a)) => Some(24),
            Some(CipherSuiteId(0x002f)) => Some(32),
            _ => None,
        };
        let d = self.dir_mut(role);
        d.app_data.records += records;
        d.app_data.bytes += records * 200;
        d.app_data.first_frame.get_or_insert(frame);
        d.app_data.minimal_len = minimal;
        d.records += records;
        self
    }

    /// Application-data records of `role` as `(frame, length)`, with the
    /// record-layer `version` in their headers (mid-stream evidence).
    pub fn midstream_app_data(
        mut self,
        role: Role,
        version: TlsVersion,
        records: &[(FrameNo, u16)],
    ) -> Self {
        for &(frame, len) in records {
            self.touch(frame);
            let d = self.dir_mut(role);
            let ad = &mut d.app_data;
            ad.records += 1;
            ad.bytes += u64::from(len);
            ad.first_frame.get_or_insert(frame);
            if !ad.record_versions.iter().any(|(v, _)| *v == version) {
                ad.record_versions.push((version, frame));
            }
            ad.sample_length(len, frame);
            d.records += 1;
        }
        self
    }

    /// The default federation connection of the table above: everything the
    /// built-in profile asks for.
    pub fn federation_ok(self) -> Self {
        self.hellos_only()
            .server_cert(6, &["imp.example.com"])
            .cert_request(6, &[])
            .client_cert(8, &["ocs.example.com"])
            .client_key_exchange(8)
            .finished(Role::Client, 8)
            .finished(Role::Server, 9)
            .app_data(Role::Client, 10, 5)
            .app_data(Role::Server, 11, 5)
    }

    /// An alert in the clear from `role`.
    pub fn alert(mut self, role: Role, frame: FrameNo, level: u8, description: u8) -> Self {
        self.touch(frame);
        self.step(
            role,
            frame,
            Step::Alert {
                level: Some(level),
                description: Some(description),
            },
        );
        self.f.tls.alerts.push(AlertFacts {
            frame,
            dir: Some(self.f.dir_of(role)),
            encrypted: false,
            decrypted: false,
            level: Some(level),
            description: Some(description),
        });
        self
    }

    /// An encrypted alert from `role`.
    pub fn encrypted_alert(mut self, role: Role, frame: FrameNo) -> Self {
        self.touch(frame);
        self.step(
            role,
            frame,
            Step::Alert {
                level: None,
                description: None,
            },
        );
        self.f.tls.alerts.push(AlertFacts {
            frame,
            dir: Some(self.f.dir_of(role)),
            encrypted: true,
            decrypted: false,
            level: None,
            description: None,
        });
        self
    }

    /// FIN or RST from `role`.
    pub fn close(mut self, role: Role, frame: FrameNo, kind: CloseKind) -> Self {
        self.touch(frame);
        self.f.tcp.closes.push(CloseFacts {
            from: role,
            frame,
            kind,
            ts: at(frame),
        });
        self
    }

    /// No SYN seen: the capture starts mid-connection.
    pub fn midstream(mut self) -> Self {
        self.f.tcp.midstream = true;
        self.f.tcp.syn_frame = None;
        self.f.server_determined_by = RoleSource::Port;
        self
    }

    /// A TCP gap of `len` bytes from `role`, declared at `frame`.
    pub fn gap(mut self, role: Role, frame: FrameNo, len: u64) -> Self {
        self.f.tcp.gaps += 1;
        self.f.tcp.gap_list.push(GapFacts {
            from: role,
            offset: 0,
            len,
            frame,
        });
        self
    }

    /// The port carries something that is not TLS.
    pub fn not_tls(mut self, frame: FrameNo, looks_like: &str) -> Self {
        self.touch(frame);
        self.f.tls.not_tls = Some(NotTlsFacts {
            frame,
            dir: Some(self.f.dir_of(Role::Client)),
            looks_like: looks_like.into(),
        });
        self
    }

    /// An abbreviated handshake (session-id resumption): hellos at 4-5, no certificates.
    pub fn resumed(self) -> Self {
        let mut b = self
            .hellos_only()
            .finished(Role::Server, 5)
            .finished(Role::Client, 6)
            .app_data(Role::Client, 7, 2)
            .app_data(Role::Server, 8, 2);
        b.f.tls.resumed = Some(true);
        b.f.tls.resumption = Some("session-id".into());
        b
    }

    /// The full handshake of the session this resumed flow refers to.
    pub fn resumed_from(
        mut self,
        first_frame: FrameNo,
        server_cn: &[&str],
        client_cn: &[&str],
    ) -> Self {
        self.f.resumed_from = Some(PriorSession {
            first_frame,
            client: self.f.client,
            server: self.f.server,
            server_certificates: Some(CertChainFacts {
                frame: first_frame + 5,
                certs: vec![Arc::new(cert(server_cn))],
                truncated: false,
            }),
            client_certificates: Some(CertChainFacts {
                frame: first_frame + 7,
                certs: vec![Arc::new(cert(client_cn))],
                truncated: false,
            }),
        });
        self
    }

    /// Arbitrary change for cases the methods above do not cover.
    pub fn with(mut self, change: impl FnOnce(&mut FlowFacts)) -> Self {
        change(&mut self.f);
        self
    }

    pub fn build(self) -> FlowFacts {
        self.f
    }
}
