//! Handshake state: what each handshake message means for the facts —
//! hellos, resumption, certificates and certificate requests, SSLv2 hellos —
//! fed by the handshake reassembler with whole messages.

use std::sync::Arc;

use crate::decode::big_endian::u24_at;
use crate::decode::Dir;

use super::super::anomaly::Anomaly;
use super::super::cert;
use super::super::handshake::{self as hs, HsHeader, HS_HEADER_LEN};
use super::super::model::Step;
use super::super::model::{
    CertChainFacts, CertRequestFacts, CipherSuiteId, ClientHelloFacts, FrameNo, MessageName,
    ServerHelloFacts, TlsVersion,
};
use super::super::sslv2;
use super::super::suites;
use super::handshake_reassembly::Piece;
use super::{push_capped, Core, MAX_HANDSHAKE_NAMES};

impl Core {
    /// Cleartext (or decrypted) handshake bytes of one record: whole
    /// messages from the reassembler, each handled in turn.
    pub(super) fn on_handshake_bytes(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        let d = dir.index();
        let max = self.limits.max_handshake_len;
        // Taken out while its pieces are handled: no handler touches it.
        let mut reassembler = std::mem::take(&mut self.dirs[d].hs);
        reassembler.push(body, max, |piece| match piece {
            Piece::Message(msg) => self.on_handshake_message(dir, msg, frame),
            Piece::CappedCertificate { prefix, full_len } => {
                self.on_capped_certificate(dir, prefix, full_len, frame)
            }
            Piece::Oversized(h) => self.oversized(dir, h, frame),
        });
        self.dirs[d].hs = reassembler;
    }

    /// One handshake message by name: a timeline step, the direction's
    /// list of messages and its last one.
    fn saw_message(&mut self, dir: Dir, frame: FrameNo, name: MessageName) {
        self.step(dir, frame, Step::Handshake(name.clone()));
        let df = &mut self.facts.per_dir[dir.index()];
        push_capped(
            &mut df.handshake_messages,
            name.clone(),
            MAX_HANDSHAKE_NAMES,
        );
        df.last_handshake = Some((name, frame));
    }

    /// A Certificate message larger than the limit, of which `prefix` (header
    /// included, `max_handshake_len` body bytes) was kept: decode the
    /// certificates it holds whole, and what the cut one still shows.
    fn on_capped_certificate(&mut self, dir: Dir, prefix: &[u8], full_len: usize, frame: FrameNo) {
        if let Some(k) = self.keyed.as_mut() {
            k.on_oversized_message();
        }
        self.anomaly(Anomaly::CertificateMessageOverLimit {
            frame,
            dir,
            len: full_len,
            limit: self.limits.max_handshake_len,
        });
        self.saw_message(dir, frame, "certificate".into());
        if self.is_server(dir) {
            self.server_full_handshake = true;
            self.update_resumption();
        }
        let body = prefix.get(HS_HEADER_LEN..).unwrap_or(&[]);
        let mut certs = Vec::new();
        let mut at = 3; // u24 length of the whole list
        while certs.len() < self.limits.max_certs {
            let Some(len) = u24_at(body, at) else {
                break;
            };
            match body.get(at + 3..at + 3 + len) {
                Some(der) => certs.push(cert::decode(der)),
                None => {
                    let cut = body.get(at + 3..).unwrap_or(&[]);
                    if !cut.is_empty() {
                        certs.push(Arc::new(cert::decode_prefix(cut, len)));
                    }
                    break;
                }
            }
            at += 3 + len;
        }
        let chain = CertChainFacts {
            frame,
            certs,
            truncated: true,
        };
        self.store_chain(dir, chain);
    }

    fn oversized(&mut self, dir: Dir, h: HsHeader, frame: FrameNo) {
        if let Some(k) = self.keyed.as_mut() {
            k.on_oversized_message();
        }
        self.anomaly(Anomaly::HandshakeMessageOverLimit {
            frame,
            dir,
            msg_type: h.msg_type,
            len: h.len,
            limit: self.limits.max_handshake_len,
        });
    }

    fn on_handshake_message(&mut self, dir: Dir, msg: &[u8], frame: FrameNo) {
        let d = dir.index();
        let Some(h) = HsHeader::parse(msg) else {
            return;
        };
        let body = msg.get(HS_HEADER_LEN..).unwrap_or(&[]);
        let from_server = self.is_server(dir);
        let max = self.limits.max_handshake_len;
        // Only cleartext messages reach this hook: while a decrypted record is
        // handled, `keyed` is taken out of `self`.
        if let Some(k) = self.keyed.as_mut() {
            k.on_cleartext_message(dir, msg, from_server, max);
        }
        self.saw_message(dir, frame, hs::message_name(h.msg_type));
        match h.msg_type {
            hs::HT_CLIENT_HELLO => self.on_client_hello(dir, body, frame),
            hs::HT_SERVER_HELLO => self.on_server_hello(dir, body, frame),
            hs::HT_HELLO_RETRY_REQUEST => {
                self.hrr_frame.get_or_insert(frame);
                self.server_dir.get_or_insert(dir);
            }
            hs::HT_NEW_SESSION_TICKET => {
                self.facts.new_session_ticket = true;
                if !self.tls13 && self.facts.issued_ticket_digest.is_none() {
                    self.facts.issued_ticket_digest =
                        hs::new_session_ticket(body).map(hs::ticket_digest);
                }
            }
            hs::HT_CLIENT_KEY_EXCHANGE if Some(dir) == self.client_dir => {
                // Only a full handshake has a key exchange.
                self.client_full_handshake = true;
                self.update_resumption();
            }
            hs::HT_HELLO_REQUEST
                if self.facts.server_hello.is_some() && !self.facts.renegotiation =>
            {
                self.facts.renegotiation = true;
                self.facts.renegotiation_frame = Some(frame);
            }
            hs::HT_CERTIFICATE => self.on_certificate(dir, body, frame),
            hs::HT_CERTIFICATE_REQUEST => {
                self.on_certificate_request(body, frame);
                if !self.tls13 && Some(dir) == self.server_dir {
                    self.server_full_handshake = true;
                    self.update_resumption();
                }
            }
            hs::HT_FINISHED => self.dirs[d].saw_finished = true,
            hs::HT_KEY_UPDATE => self.dirs[d].saw_key_update = true,
            hs::HT_SERVER_KEY_EXCHANGE | hs::HT_SERVER_HELLO_DONE
                if Some(dir) == self.server_dir =>
            {
                self.server_full_handshake = true;
                self.update_resumption();
            }
            _ => {}
        }
    }

    fn on_client_hello(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        if let Some(ch) = self.facts.client_hello.as_mut() {
            ch.count = ch.count.saturating_add(1);
            if self.facts.server_hello.is_some() && !self.facts.renegotiation {
                self.facts.renegotiation = true;
                self.facts.renegotiation_frame = Some(frame);
            }
            return;
        }
        match hs::parse_client_hello(body) {
            Ok(mut ch) => {
                ch.frame = frame;
                ch.dir = Some(dir);
                ch.count = 1;
                self.facts.client_hello = Some(ch);
                self.client_dir.get_or_insert(dir);
            }
            Err(error) => self.anomaly(Anomaly::UndecodableHandshakeMessage { frame, dir, error }),
        }
    }

    fn on_server_hello(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        let sh = match hs::parse_server_hello(body) {
            Ok(sh) => sh,
            Err(error) => {
                self.anomaly(Anomaly::UndecodableHandshakeMessage { frame, dir, error });
                return;
            }
        };
        if sh.hrr {
            self.hrr_frame.get_or_insert(frame);
            self.server_dir.get_or_insert(dir);
            return;
        }
        if self.facts.server_hello.is_some() {
            if !self.facts.renegotiation {
                self.facts.renegotiation = true;
                self.facts.renegotiation_frame = Some(frame);
            }
            return;
        }
        self.server_dir = Some(dir);
        self.client_dir.get_or_insert(dir.reverse());
        let negotiated = TlsVersion(sh.supported_version.unwrap_or(sh.version));
        let ch = self.facts.client_hello.as_ref();
        let etm = sh.encrypt_then_mac && ch.is_some_and(|c| c.encrypt_then_mac);
        let ems = sh.extended_master_secret && ch.is_some_and(|c| c.extended_master_secret);
        let suite = CipherSuiteId(sh.cipher);
        self.facts.server_hello = Some(ServerHelloFacts {
            frame,
            dir: Some(dir),
            sslv2_format: false,
            version: Some(TlsVersion(sh.version)),
            supported_version: sh.supported_version.map(TlsVersion),
            cipher_suite: Some(suite),
            session_id: sh.session_id,
            extensions: sh.extensions,
            psk: sh.psk,
            encrypt_then_mac: sh.encrypt_then_mac,
            extended_master_secret: sh.extended_master_secret,
            hello_retry_request: self.hrr_frame,
            random: sh.random,
        });
        self.facts.negotiated_version = Some(negotiated);
        self.facts.cipher_suite = Some(suite);
        self.facts.encrypt_then_mac = etm;
        self.facts.extended_master_secret = ems;
        let minimal = suites::minimal_record_len(negotiated, suite, etm);
        for p in &mut self.facts.per_dir {
            p.app_data.minimal_len = minimal;
        }
        if negotiated.is_tls13() {
            self.tls13 = true;
            // Everything the server sends after its ServerHello is protected.
            self.dirs[dir.index()].encrypted = true;
            self.facts.resumed = Some(sh.psk);
            self.facts.resumption = sh.psk.then(|| "psk".to_string());
        } else {
            self.update_resumption();
        }
        if let Some(k) = self.keyed.as_mut() {
            k.on_server_hello(&self.facts, dir);
            self.refresh_decryption();
        }
    }

    /// TLS ≤ 1.2 abbreviated handshake, decided by what the server does,
    /// not by what the client offers: the server changes cipher first, right
    /// after its ServerHello (or, until more is seen, echoes the offered
    /// session id). Any message of a full handshake from either side —
    /// Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone,
    /// ClientKeyExchange — rules it out, ticket extension or not.
    pub(super) fn update_resumption(&mut self) {
        if self.tls13 || self.sslv2_session {
            return;
        }
        let Some(sh) = self.facts.server_hello.as_ref() else {
            return;
        };
        let ch = self.facts.client_hello.as_ref();
        let echoed = !sh.session_id.is_empty() && ch.is_some_and(|c| c.session_id == sh.session_id);
        let full = self.server_full_handshake || self.client_full_handshake;
        let resumed = !full && (echoed || self.server_ccs_first);
        self.facts.resumed = Some(resumed);
        self.facts.resumption = resumed.then(|| {
            if ch.is_some_and(|c| c.ticket_len > 0) || !echoed {
                "ticket".to_string()
            } else {
                "session-id".to_string()
            }
        });
    }

    /// Which side sent a Certificate: the ServerHello sender is the server;
    /// with no hellos seen, servers send certificates far more often.
    fn is_server(&self, dir: Dir) -> bool {
        match (self.server_dir, self.client_dir) {
            (Some(s), _) => s == dir,
            (None, Some(c)) => c != dir,
            (None, None) => true,
        }
    }

    fn on_certificate(&mut self, dir: Dir, body: &[u8], frame: FrameNo) {
        if self.is_server(dir) {
            self.server_full_handshake = true;
            self.update_resumption();
        }
        let parsed = if self.tls13 {
            hs::parse_certificate_tls13(body)
        } else {
            hs::parse_certificate(body)
        };
        let ders = match parsed {
            Ok(v) => v,
            Err(error) => {
                self.anomaly(Anomaly::UndecodableHandshakeMessage { frame, dir, error });
                return;
            }
        };
        let max = self.limits.max_certs;
        let truncated = ders.len() > max;
        if truncated {
            self.anomaly(Anomaly::CertificateChainOverLimit {
                frame,
                dir,
                certs: ders.len(),
                limit: max,
            });
        }
        let chain = CertChainFacts {
            frame,
            certs: ders.iter().take(max).map(|der| cert::decode(der)).collect(),
            truncated,
        };
        self.store_chain(dir, chain);
    }

    fn store_chain(&mut self, dir: Dir, chain: CertChainFacts) {
        let slot = if self.is_server(dir) {
            &mut self.facts.server_certificates
        } else {
            &mut self.facts.client_certificates
        };
        // The first chain of a side is the one the handshake authenticated.
        slot.get_or_insert(chain);
    }

    fn on_certificate_request(&mut self, body: &[u8], frame: FrameNo) {
        if self.tls13 {
            // TLS 1.3 (decrypted): the CA names sit in an extension; that a
            // certificate was requested is what the client CN check needs.
            self.facts
                .certificate_request
                .get_or_insert(CertRequestFacts {
                    frame,
                    ca_names: Arc::new([]),
                });
            return;
        }
        match cert::request_ca_names(body, hs::parse_certificate_request) {
            Ok(ca_names) => {
                self.facts
                    .certificate_request
                    .get_or_insert(CertRequestFacts { frame, ca_names });
            }
            Err(error) => {
                self.anomaly(Anomaly::UndecodableCertificateRequest { frame, error });
                self.facts
                    .certificate_request
                    .get_or_insert(CertRequestFacts {
                        frame,
                        ca_names: Arc::new([]),
                    });
            }
        }
    }

    /// One SSLv2 record (cleartext hellos decoded; the rest is opaque).
    pub(super) fn on_v2_record(&mut self, dir: Dir, body: Option<&[u8]>, frame: FrameNo) {
        let d = dir.index();
        let Some(body) = body.filter(|_| !self.dirs[d].encrypted) else {
            if self.facts.per_dir[d].encrypted_handshake.is_none() {
                self.mark_encrypted_handshake(dir, frame);
            }
            return;
        };
        let Some(&msg) = body.first() else {
            return;
        };
        let name = match msg {
            0 => "sslv2_error".into(),
            1 => "sslv2_client_hello".into(),
            2 => "sslv2_client_master_key".into(),
            4 => "sslv2_server_hello".into(),
            t => MessageName::Owned(format!("sslv2_unknown_{t}")),
        };
        self.saw_message(dir, frame, name);
        match msg {
            sslv2::MSG_CLIENT_HELLO => match sslv2::parse_client_hello(body) {
                Some(ch) if self.facts.client_hello.is_none() => {
                    self.client_dir.get_or_insert(dir);
                    self.facts.client_hello = Some(ClientHelloFacts {
                        frame,
                        dir: Some(dir),
                        sslv2_format: true,
                        version: Some(TlsVersion(ch.version)),
                        cipher_suites: ch.suites,
                        session_id: ch.session_id,
                        count: 1,
                        random: ch.random,
                        ..ClientHelloFacts::default()
                    });
                }
                Some(_) => {
                    if let Some(c) = self.facts.client_hello.as_mut() {
                        c.count = c.count.saturating_add(1);
                    }
                }
                None => self.anomaly(Anomaly::MalformedSslv2ClientHello { frame, dir }),
            },
            sslv2::MSG_SERVER_HELLO => match sslv2::parse_server_hello(body) {
                Some(sh) => self.on_v2_server_hello(dir, &sh, frame),
                None => self.anomaly(Anomaly::MalformedSslv2ServerHello { frame, dir }),
            },
            // After CLIENT-MASTER-KEY the client's records are encrypted.
            sslv2::MSG_CLIENT_MASTER_KEY => self.dirs[d].encrypted = true,
            0 => self.anomaly(Anomaly::Sslv2Error { frame, dir }),
            _ => {}
        }
    }

    fn on_v2_server_hello(&mut self, dir: Dir, sh: &sslv2::ServerHelloV2, frame: FrameNo) {
        if self.facts.server_hello.is_some() {
            return;
        }
        self.sslv2_session = true;
        self.server_dir = Some(dir);
        self.client_dir.get_or_insert(dir.reverse());
        self.dirs[dir.index()].encrypted = true;
        self.facts.server_hello = Some(ServerHelloFacts {
            frame,
            dir: Some(dir),
            sslv2_format: true,
            version: Some(sh.version),
            session_id: sh.connection_id.to_vec(),
            ..ServerHelloFacts::default()
        });
        self.facts.negotiated_version = Some(TlsVersion::SSL2);
        self.facts.resumed = Some(sh.session_id_hit);
        self.facts.resumption = sh.session_id_hit.then(|| "session-id".to_string());
        if !sh.certificate.is_empty() {
            let chain = CertChainFacts {
                frame,
                certs: vec![cert::decode(sh.certificate)],
                truncated: false,
            };
            self.facts.server_certificates.get_or_insert(chain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::model::ClientHelloFacts;
    use super::*;

    fn core_with_hellos(offered_id: &[u8], echoed_id: &[u8], ticket_len: usize) -> Core {
        let mut core = Core {
            client_dir: Some(Dir::AB),
            server_dir: Some(Dir::BA),
            ..Core::default()
        };
        core.facts.client_hello = Some(ClientHelloFacts {
            session_id: offered_id.to_vec(),
            ticket_len,
            ..ClientHelloFacts::default()
        });
        core.facts.server_hello = Some(ServerHelloFacts {
            session_id: echoed_id.to_vec(),
            ..ServerHelloFacts::default()
        });
        core
    }

    #[test]
    fn echoed_session_id_is_session_id_resumption_until_a_full_handshake_message() {
        let mut core = core_with_hellos(&[7; 32], &[7; 32], 0);
        core.update_resumption();
        assert_eq!(core.facts.resumed, Some(true));
        assert_eq!(core.facts.resumption.as_deref(), Some("session-id"));
        core.server_full_handshake = true;
        core.update_resumption();
        assert_eq!(core.facts.resumed, Some(false));
        assert_eq!(core.facts.resumption, None);
    }

    #[test]
    fn server_changing_cipher_first_without_an_echo_is_ticket_resumption() {
        let mut core = core_with_hellos(&[], &[9; 32], 0);
        core.update_resumption();
        assert_eq!(core.facts.resumed, Some(false));
        core.server_ccs_first = true;
        core.update_resumption();
        assert_eq!(core.facts.resumption.as_deref(), Some("ticket"));
        core.client_full_handshake = true;
        core.update_resumption();
        assert_eq!(core.facts.resumed, Some(false));
    }

    #[test]
    fn certificate_sender_is_the_server_unless_the_hellos_say_otherwise() {
        let mut core = Core::default();
        assert!(core.is_server(Dir::AB) && core.is_server(Dir::BA));
        core.client_dir = Some(Dir::BA);
        assert!(core.is_server(Dir::AB) && !core.is_server(Dir::BA));
        core.server_dir = Some(Dir::BA);
        assert!(core.is_server(Dir::BA) && !core.is_server(Dir::AB));
    }

    #[test]
    fn capped_certificate_message_decodes_what_it_holds_and_records_the_cut() {
        let mut core = Core::default();
        let mut body = vec![0, 0, 0];
        for _ in 0..3 {
            body.extend_from_slice(&[0, 0, 2, 0x30, 0x00]);
        }
        let mut msg = vec![hs::HT_CERTIFICATE, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        // Kept: the list length, two whole entries and part of the third.
        let kept = &msg[..HS_HEADER_LEN + 3 + 5 + 5 + 4];
        core.on_capped_certificate(Dir::BA, kept, 1000, 3);
        let chain = core.facts.server_certificates.as_ref().expect("stored");
        assert!(chain.truncated);
        assert_eq!(chain.certs.len(), 3, "two whole, one cut");
        assert_eq!(core.facts.per_dir[1].handshake_messages, ["certificate"]);
        assert_eq!(
            core.facts.anomalies,
            [Anomaly::CertificateMessageOverLimit {
                frame: 3,
                dir: Dir::BA,
                len: 1000,
                limit: core.limits.max_handshake_len,
            }]
        );
    }
}
