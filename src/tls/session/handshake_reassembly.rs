//! Handshake messages over records: a message may span several records (a
//! certificate chain usually does) and a record may hold several messages.
//! Whole messages inside one record are borrowed; only a message split
//! across records is copied, up to the `max` given (`max_handshake_len`).
//! Past it a Certificate keeps its first `max` body bytes (the leaf's
//! subject sits near the start) and any other message is skipped.

use super::super::handshake::{self as hs, HsHeader, HS_HEADER_LEN};

/// What the reassembler hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    /// One whole message, header included.
    Message(&'a [u8]),
    /// A Certificate message longer than `max`: its header and first `max`
    /// body bytes; `full_len` is the body length the header announced.
    CappedCertificate { prefix: &'a [u8], full_len: usize },
    /// Any other message longer than `max`: skipped, only its header is known.
    Oversized(HsHeader),
}

/// Handshake reassembly state of one direction.
#[derive(Debug, Default)]
pub(super) struct HandshakeReassembler {
    /// A message begun in an earlier record (header + body so far).
    buf: Vec<u8>,
    /// Bytes of an oversized message still to discard.
    skip: usize,
}

impl HandshakeReassembler {
    /// Forgets a partial message (the record layer lost bytes or changed
    /// keys); true when there was one.
    pub(super) fn reset(&mut self) -> bool {
        let had_partial = !self.buf.is_empty();
        self.buf.clear();
        self.skip = 0;
        had_partial
    }

    /// The handshake bytes of one record; calls `on` for each piece completed.
    pub(super) fn push(&mut self, body: &[u8], max: usize, mut on: impl FnMut(Piece<'_>)) {
        let mut b = body;
        if self.skip > 0 {
            let n = self.skip.min(b.len());
            self.skip -= n;
            b = &b[n..];
        }
        // Slow path: a message begun in an earlier record.
        while !self.buf.is_empty() && !b.is_empty() {
            if self.buf.len() < HS_HEADER_LEN {
                let n = (HS_HEADER_LEN - self.buf.len()).min(b.len());
                self.buf.extend_from_slice(&b[..n]);
                b = &b[n..];
                continue;
            }
            let Some(h) = HsHeader::parse(&self.buf) else {
                break;
            };
            let capped = h.len > max && h.msg_type == hs::HT_CERTIFICATE;
            if h.len > max && !capped {
                let have = self.buf.len() - HS_HEADER_LEN;
                self.buf.clear();
                let n = (h.len - have).min(b.len());
                self.skip = h.len - have - n;
                b = &b[n..];
                on(Piece::Oversized(h));
                continue;
            }
            let target = HS_HEADER_LEN + h.len.min(max);
            let n = (target - self.buf.len()).min(b.len());
            self.buf.extend_from_slice(&b[..n]);
            b = &b[n..];
            if self.buf.len() == target {
                let msg = std::mem::take(&mut self.buf);
                if capped {
                    let rest = h.len - max;
                    let n = rest.min(b.len());
                    b = &b[n..];
                    self.skip = rest - n;
                    on(Piece::CappedCertificate {
                        prefix: &msg,
                        full_len: h.len,
                    });
                } else {
                    on(Piece::Message(&msg));
                }
                // Keep the allocation for the next straddling message.
                self.buf = msg;
                self.buf.clear();
            }
        }
        if !self.buf.is_empty() && self.buf.len() < HS_HEADER_LEN {
            return;
        }
        // Fast path: whole messages borrowed from the record body.
        while !b.is_empty() {
            let Some(h) = HsHeader::parse(b) else {
                self.buf.extend_from_slice(b);
                return;
            };
            if h.len > max && h.msg_type == hs::HT_CERTIFICATE {
                if b.len() < HS_HEADER_LEN + max {
                    self.buf.extend_from_slice(b);
                    return;
                }
                on(Piece::CappedCertificate {
                    prefix: &b[..HS_HEADER_LEN + max],
                    full_len: h.len,
                });
                if b.len() >= HS_HEADER_LEN + h.len {
                    b = &b[HS_HEADER_LEN + h.len..];
                    continue;
                }
                self.skip = HS_HEADER_LEN + h.len - b.len();
                return;
            }
            if h.len > max {
                let avail = b.len() - HS_HEADER_LEN;
                on(Piece::Oversized(h));
                if avail >= h.len {
                    b = &b[HS_HEADER_LEN + h.len..];
                    continue;
                }
                self.skip = h.len - avail;
                return;
            }
            if b.len() >= HS_HEADER_LEN + h.len {
                on(Piece::Message(&b[..HS_HEADER_LEN + h.len]));
                b = &b[HS_HEADER_LEN + h.len..];
            } else {
                self.buf.extend_from_slice(b);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the pieces were, owned, for comparison.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Message(Vec<u8>),
        Capped(Vec<u8>, usize),
        Oversized(u8, usize),
    }

    fn feed(r: &mut HandshakeReassembler, records: &[&[u8]], max: usize) -> Vec<Seen> {
        let mut seen = Vec::new();
        for rec in records {
            r.push(rec, max, |p| {
                seen.push(match p {
                    Piece::Message(m) => Seen::Message(m.to_vec()),
                    Piece::CappedCertificate { prefix, full_len } => {
                        Seen::Capped(prefix.to_vec(), full_len)
                    }
                    Piece::Oversized(h) => Seen::Oversized(h.msg_type, h.len),
                })
            });
        }
        seen
    }

    fn msg(t: u8, body_len: usize) -> Vec<u8> {
        let mut m = vec![t, 0, (body_len >> 8) as u8, body_len as u8];
        m.extend((0..body_len).map(|i| i as u8));
        m
    }

    #[test]
    fn two_messages_in_one_record_come_out_whole_and_in_order() {
        let (a, b) = (
            msg(hs::HT_SERVER_HELLO, 5),
            msg(hs::HT_SERVER_HELLO_DONE, 0),
        );
        let rec = [a.clone(), b.clone()].concat();
        let mut r = HandshakeReassembler::default();
        let seen = feed(&mut r, &[&rec], 1024);
        assert_eq!(seen, vec![Seen::Message(a), Seen::Message(b)]);
        assert!(!r.reset(), "nothing left over");
    }

    #[test]
    fn a_message_split_at_every_point_is_rebuilt_identically() {
        let m = msg(hs::HT_CERTIFICATE, 40);
        for cut in 0..=m.len() {
            let mut r = HandshakeReassembler::default();
            let seen = feed(&mut r, &[&m[..cut], &m[cut..]], 1024);
            assert_eq!(seen, vec![Seen::Message(m.clone())], "cut at {cut}");
        }
    }

    #[test]
    fn every_strict_prefix_yields_nothing_and_is_held_as_partial() {
        let m = msg(hs::HT_CLIENT_HELLO, 30);
        for cut in 1..m.len() {
            let mut r = HandshakeReassembler::default();
            assert!(feed(&mut r, &[&m[..cut]], 1024).is_empty(), "cut at {cut}");
            assert!(r.reset(), "cut at {cut}: the partial message is held");
        }
    }

    #[test]
    fn oversized_message_is_skipped_and_the_next_one_still_found() {
        let big = msg(hs::HT_SERVER_KEY_EXCHANGE, 100);
        let next = msg(hs::HT_CERTIFICATE_REQUEST, 3);
        let stream = [big, next.clone()].concat();
        for cut in 0..=stream.len() {
            let mut r = HandshakeReassembler::default();
            let seen = feed(&mut r, &[&stream[..cut], &stream[cut..]], 50);
            let want = vec![
                Seen::Oversized(hs::HT_SERVER_KEY_EXCHANGE, 100),
                Seen::Message(next.clone()),
            ];
            assert_eq!(seen, want, "cut at {cut}");
        }
    }

    #[test]
    fn oversized_certificate_keeps_its_first_max_bytes() {
        let cert = msg(hs::HT_CERTIFICATE, 100);
        let next = msg(hs::HT_CERTIFICATE_REQUEST, 3);
        let stream = [cert.clone(), next.clone()].concat();
        for cut in 0..=stream.len() {
            let mut r = HandshakeReassembler::default();
            let seen = feed(&mut r, &[&stream[..cut], &stream[cut..]], 50);
            assert_eq!(
                seen,
                vec![
                    Seen::Capped(cert[..4 + 50].to_vec(), 100),
                    Seen::Message(next.clone())
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn reset_drops_a_partial_message() {
        let m = msg(hs::HT_FINISHED, 12);
        let mut r = HandshakeReassembler::default();
        assert!(feed(&mut r, &[&m[..6]], 1024).is_empty());
        assert!(r.reset());
        let other = msg(hs::HT_SERVER_HELLO_DONE, 0);
        assert_eq!(feed(&mut r, &[&other], 1024), vec![Seen::Message(other)]);
    }
}
