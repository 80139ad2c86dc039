//! `--redact`: IP addresses become consistent tokens (`host-1`, `host-2`, …
//! in order of first appearance in the report; the same address always gets
//! the same token, IPv4 and IPv6 alike), ports stay. Certificate serials are
//! dropped by the model builder. CNs stay: they are the point of the audit.
//!
//! Free text (reasons, warnings, paths, SANs) is scanned for address
//! literals too, so an address cannot leak through a message.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Maps addresses to tokens. Disabled = identity.
#[derive(Debug, Default)]
pub struct Redactor {
    enabled: bool,
    // Lookup only: output order comes from the order addresses are met, never from iterating this map.
    tokens: HashMap<IpAddr, usize>,
}

impl Redactor {
    pub fn new(enabled: bool) -> Self {
        Redactor {
            enabled,
            tokens: HashMap::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The `N` of `host-N` for `ip`, handing out the next one on first sight.
    fn host_no(&mut self, ip: IpAddr) -> usize {
        // An IPv4-mapped IPv6 address is the same host as its IPv4 form.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let next = self.tokens.len() + 1;
        *self.tokens.entry(ip).or_insert(next)
    }

    fn token(&mut self, ip: IpAddr) -> String {
        format!("host-{}", self.host_no(ip))
    }

    /// An address as `ip:port` (`[v6]:port`), or `host-N:port` when redacting.
    pub fn endpoint(&mut self, ep: SocketAddr) -> String {
        self.shown(ep).to_string()
    }

    /// [`Self::endpoint`] without formatting it yet: the report writes it
    /// straight into its output.
    pub fn shown(&mut self, ep: SocketAddr) -> ShownEndpoint {
        if self.enabled {
            ShownEndpoint::Token {
                host: self.host_no(ep.ip()),
                port: ep.port(),
            }
        } else {
            ShownEndpoint::Addr(ep)
        }
    }

    /// Replace every IPv4/IPv6 literal in `text` (with or without port).
    pub fn text(&mut self, text: &str) -> String {
        self.text_cow(text).into_owned()
    }

    /// [`Self::text`], borrowing `text` when nothing is redacted.
    pub fn text_cow<'a>(&mut self, text: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        // Runs are ASCII (hex digits, `:`, `.`), so their byte offsets are
        // char boundaries; text outside them is copied as is.
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if !is_run_byte(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_run_byte(bytes[i]) {
                i += 1;
            }
            let run = text.get(start..i).unwrap_or("");
            if let Some((token, addr_len)) = self.replacement(run) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 8));
                o.push_str(text.get(copied..start).unwrap_or(""));
                o.push_str(&token);
                copied = start + addr_len;
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut o) => {
                o.push_str(text.get(copied..).unwrap_or(""));
                Cow::Owned(o)
            }
        }
    }

    /// The token replacing the address `run` holds, if any, and the length
    /// of that address. Trailing `.`/`:` (sentence punctuation) is kept
    /// outside the address.
    fn replacement(&mut self, run: &str) -> Option<(String, usize)> {
        let trimmed = run.trim_end_matches(['.', ':']);
        if !trimmed.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            Some((self.token(ip), trimmed.len()))
        } else if let Ok(sa) = trimmed.parse::<SocketAddr>() {
            Some((
                format!("{}:{}", self.token(sa.ip()), sa.port()),
                trimmed.len(),
            ))
        } else {
            None
        }
    }
}

/// Characters an address literal is made of.
fn is_run_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// An endpoint as the report shows it (see [`Redactor::endpoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownEndpoint {
    Addr(SocketAddr),
    Token { host: usize, port: u16 },
}

impl fmt::Display for ShownEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShownEndpoint::Addr(a) => a.fmt(f),
            ShownEndpoint::Token { host, port } => write!(f, "host-{host}:{port}"),
        }
    }
}

impl serde::Serialize for ShownEndpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_address_same_token_ports_kept() {
        let mut r = Redactor::new(true);
        let a: SocketAddr = "10.0.0.2:49152".parse().expect("addr");
        let b: SocketAddr = "10.0.0.1:5062".parse().expect("addr");
        let a2: SocketAddr = "10.0.0.2:49153".parse().expect("addr");
        assert_eq!(r.endpoint(a), "host-1:49152");
        assert_eq!(r.endpoint(b), "host-2:5062");
        assert_eq!(r.endpoint(a2), "host-1:49153");
    }

    #[test]
    fn ipv6_is_tokenised_too() {
        let mut r = Redactor::new(true);
        let v6: SocketAddr = "[2001:db8::1]:5062".parse().expect("addr");
        assert_eq!(r.endpoint(v6), "host-1:5062");
        assert_eq!(r.text("peer 2001:db8::1 said"), "peer host-1 said");
    }

    #[test]
    fn text_addresses_are_replaced_consistently_and_others_kept() {
        let mut r = Redactor::new(true);
        let s = r.text("INVITE sip:bob@10.1.2.3:5060 SIP/2.0 from 10.1.2.3. OID 1.3.6.1.5.5.7.3.1, 10:00:00, cafe::");
        assert_eq!(
            s,
            "INVITE sip:bob@host-1:5060 SIP/2.0 from host-1. OID 1.3.6.1.5.5.7.3.1, 10:00:00, cafe::"
        );
    }

    #[test]
    fn disabled_is_identity() {
        let mut r = Redactor::new(false);
        let v6: SocketAddr = "[2001:db8::1]:5062".parse().expect("addr");
        assert_eq!(r.endpoint(v6), "[2001:db8::1]:5062");
        assert_eq!(r.text("10.0.0.1"), "10.0.0.1");
    }
}
