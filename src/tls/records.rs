//! TLS record framing primitives: header parsing, plausibility, and the
//! resynchronisation search used after a TCP gap, at a mid-stream start, or
//! to find TLS after a cleartext prefix (STARTTLS).
//!
//! Owns: [`RecordHeader`], [`ContentType`], [`parse_header`], [`find_sync`].
//! Everything here works on borrowed slices and never allocates; the
//! stream state that buffers straddling records lives in `session.rs`.
//!
//! Invariant: `parse_header` accepts only headers a real TLS stack could
//! send (type 20–24, version 3.0–3.4 or a TLS 1.3 draft, length ≤
//! [`MAX_RECORD_LEN`]); anything else means "not at a record boundary".

/// Record header length (type, version, length).
pub const HEADER_LEN: usize = 5;

/// Largest ciphertext a record may carry: 2^14 + 2048 (RFC 5246 §6.2.3).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Record content type (open newtype, R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType(pub u8);

impl ContentType {
    pub const CHANGE_CIPHER_SPEC: ContentType = ContentType(20);
    pub const ALERT: ContentType = ContentType(21);
    pub const HANDSHAKE: ContentType = ContentType(22);
    pub const APPLICATION_DATA: ContentType = ContentType(23);
    pub const HEARTBEAT: ContentType = ContentType(24);
}

/// A plausible TLS record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: ContentType,
    pub version: u16,
    pub len: usize,
}

/// Record-layer versions a sender may use: SSL 3.0 … TLS 1.3 (3.4 only
/// appears from broken or probing stacks but is harmless to accept).
fn plausible_version(v: u16) -> bool {
    (0x0300..=0x0304).contains(&v)
}

/// Parse and vet the 5-byte header at the start of `b`; `None` when `b` is
/// shorter than a header or the header is not plausible.
pub fn parse_header(b: &[u8]) -> Option<RecordHeader> {
    let h: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
    let content_type = ContentType(h[0]);
    let version = u16::from_be_bytes([h[1], h[2]]);
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    if !(20..=24).contains(&h[0]) || !plausible_version(version) || len > MAX_RECORD_LEN {
        return None;
    }
    Some(RecordHeader {
        content_type,
        version,
        len,
    })
}

/// Could the (possibly short) prefix `b` still become a plausible header?
pub fn plausible_prefix(b: &[u8]) -> bool {
    match b.len() {
        0 => true,
        1 => (20..=24).contains(&b[0]),
        2 => (20..=24).contains(&b[0]) && b[1] == 3,
        3 | 4 => (20..=24).contains(&b[0]) && b[1] == 3 && b[2] <= 4,
        _ => parse_header(b).is_some(),
    }
}

/// How strongly a sync point must be confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRule {
    /// Consecutive plausible headers that confirm a position on their own.
    pub min_chain: usize,
    /// Record version the walker already knows for this direction: a chain
    /// of that version that ends exactly at the end of the bytes is enough.
    pub known_version: Option<u16>,
    /// Accept a handshake record that starts a ClientHello/ServerHello and
    /// ends exactly at the end of the bytes (STARTTLS upgrade).
    pub hello_at_end: bool,
}

/// Outcome of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// A record boundary at this offset.
    Found(usize),
    /// No boundary confirmed yet; offsets before this one are ruled out.
    Pending(usize),
}

enum Chain {
    Accept,
    Reject,
    NeedMore,
}

fn check_chain(b: &[u8], p: usize, rule: SyncRule) -> Chain {
    let mut q = p;
    let mut n = 0usize;
    let mut first: Option<RecordHeader> = None;
    loop {
        let Some(rest) = b.get(q..) else {
            return Chain::NeedMore;
        };
        if rest.is_empty() {
            if n == 0 {
                return Chain::NeedMore;
            }
            let Some(h) = first else {
                return Chain::NeedMore;
            };
            if rule.known_version == Some(h.version) {
                return Chain::Accept;
            }
            let is_hello = h.content_type == ContentType::HANDSHAKE
                && matches!(b.get(p + HEADER_LEN), Some(1) | Some(2));
            if rule.hello_at_end && is_hello {
                return Chain::Accept;
            }
            return Chain::NeedMore;
        }
        if rest.len() < HEADER_LEN {
            return if plausible_prefix(rest) {
                Chain::NeedMore
            } else {
                Chain::Reject
            };
        }
        let Some(h) = parse_header(rest) else {
            return Chain::Reject;
        };
        match first {
            None => first = Some(h),
            // One connection uses one record version after the hellos.
            Some(f)
                if f.version != h.version && n > 0 && f.content_type != ContentType::HANDSHAKE =>
            {
                return Chain::Reject
            }
            Some(_) => {}
        }
        n += 1;
        if n >= rule.min_chain {
            return Chain::Accept;
        }
        q = q.saturating_add(HEADER_LEN + h.len);
        if q > b.len() {
            return Chain::NeedMore;
        }
    }
}

/// Search `b` from offset `from` for the first confirmed record boundary.
/// Returns `Pending(p)` with the first still-undecided offset when none is
/// confirmed yet (the caller keeps the bytes from `p` and retries when more arrive).
pub fn find_sync(b: &[u8], from: usize, rule: SyncRule) -> Sync {
    let mut pending: Option<usize> = None;
    let mut p = from;
    while p < b.len() {
        // Cheap pre-filter: a header starts with a content type byte and major version 3.
        if (20..=24).contains(&b[p]) && b.get(p + 1).is_none_or(|&m| m == 3) {
            match check_chain(b, p, rule) {
                Chain::Accept => {
                    if pending.is_none() {
                        return Sync::Found(p);
                    }
                    // An earlier candidate is still open: prefer the earliest boundary.
                    return Sync::Pending(pending.unwrap_or(p));
                }
                Chain::NeedMore => {
                    pending.get_or_insert(p);
                }
                Chain::Reject => {}
            }
        }
        p += 1;
    }
    Sync::Pending(pending.unwrap_or(b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE3: SyncRule = SyncRule {
        min_chain: 3,
        known_version: None,
        hello_at_end: false,
    };

    fn rec(t: u8, len: usize) -> Vec<u8> {
        let mut v = vec![t, 3, 1, (len >> 8) as u8, len as u8];
        v.extend(vec![0xaa; len]);
        v
    }

    #[test]
    fn header_rejects_implausible_fields() {
        assert!(parse_header(&[23, 3, 1, 0, 24]).is_some());
        assert!(parse_header(&[25, 3, 1, 0, 24]).is_none());
        assert!(parse_header(&[23, 2, 1, 0, 24]).is_none());
        assert!(parse_header(&[23, 3, 1, 0xff, 0xff]).is_none());
        assert!(parse_header(&[23, 3, 1, 0]).is_none());
    }

    #[test]
    fn sync_found_after_garbage_with_three_record_chain() {
        let mut b = vec![0x41; 7];
        for _ in 0..3 {
            b.extend(rec(23, 30));
        }
        assert_eq!(find_sync(&b, 0, RULE3), Sync::Found(7));
    }

    #[test]
    fn single_record_ending_at_end_needs_known_version() {
        let mut b = vec![0x00, 0x01];
        b.extend(rec(23, 40));
        assert_eq!(find_sync(&b, 0, RULE3), Sync::Pending(2));
        let known = SyncRule {
            known_version: Some(0x0301),
            ..RULE3
        };
        assert_eq!(find_sync(&b, 0, known), Sync::Found(2));
    }

    #[test]
    fn hello_at_end_accepts_starttls_client_hello() {
        let mut b = b"STARTTLS\r\n".to_vec();
        let mut r = rec(22, 40);
        r[5] = 1;
        b.extend(r);
        let rule = SyncRule {
            hello_at_end: true,
            ..RULE3
        };
        assert_eq!(find_sync(&b, 0, rule), Sync::Found(10));
    }
}
