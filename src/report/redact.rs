//! `--redact`: IP addresses become consistent tokens (`host-1`, `host-2`, …
//! in order of first appearance in the report; the same address always gets
//! the same token, IPv4 and IPv6 alike), ports stay. Certificate serials are
//! dropped by the model builder. CNs stay: they are the point of the audit.
//!
//! Free text (reasons, warnings, paths, SANs) is scanned for address
//! literals too, so an address cannot leak through a message.

use std::collections::HashMap;
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

    fn token(&mut self, ip: IpAddr) -> String {
        // An IPv4-mapped IPv6 address is the same host as its IPv4 form.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let next = self.tokens.len() + 1;
        let n = *self.tokens.entry(ip).or_insert(next);
        format!("host-{n}")
    }

    /// An address as `ip:port` (`[v6]:port`), or `host-N:port` when redacting.
    pub fn endpoint(&mut self, ep: SocketAddr) -> String {
        if self.enabled {
            format!("{}:{}", self.token(ep.ip()), ep.port())
        } else {
            ep.to_string()
        }
    }

    /// Replace every IPv4/IPv6 literal in `text` (with or without port).
    pub fn text(&mut self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        for ch in text.chars() {
            if ch.is_ascii_hexdigit() || ch == ':' || ch == '.' {
                run.push(ch);
            } else {
                self.flush(&mut run, &mut out);
                out.push(ch);
            }
        }
        self.flush(&mut run, &mut out);
        out
    }

    /// Emit `run`, replacing the address it holds, if any. Trailing `.`/`:`
    /// (sentence punctuation) is kept outside the address.
    fn flush(&mut self, run: &mut String, out: &mut String) {
        if run.is_empty() {
            return;
        }
        let trimmed = run.trim_end_matches(['.', ':']);
        let tail = run.get(trimmed.len()..).unwrap_or("");
        let has_digit = trimmed.chars().any(|c| c.is_ascii_digit());
        let replaced = if !has_digit {
            None
        } else if let Ok(ip) = trimmed.parse::<IpAddr>() {
            Some(self.token(ip))
        } else if let Ok(sa) = trimmed.parse::<SocketAddr>() {
            Some(format!("{}:{}", self.token(sa.ip()), sa.port()))
        } else {
            None
        };
        match replaced {
            Some(r) => {
                out.push_str(&r);
                out.push_str(tail);
            }
            None => out.push_str(run),
        }
        run.clear();
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
