//! Certificate decoding: DER → owned [`CertFacts`] via x509-parser.
//!
//! Owns: [`decode`], [`dn_to_string`]. Invariants: never panics on any
//! bytes; a DER that x509-parser rejects yields a `CertFacts` with only
//! `parse_error`, `sha256` set. Decoded certificates are kept per thread
//! by their DER (bounded), so a federation link's certificate, presented
//! again on every connection, is decoded once. Every directory-string type is decoded
//! (UTF-8, Printable, IA5, Teletex/T.61 as Latin-1, BMP as UTF-16BE,
//! Universal as UTF-32BE), so a CN is never dropped because of its type.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2abbrev, oid2sn, oid_registry};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

use super::model::CertFacts;

/// Decode one certificate, or share the facts of an identical DER decoded
/// before on this thread. Bad DER → `parse_error` (other fields empty but
/// the hash).
pub fn decode(der: &[u8]) -> Arc<CertFacts> {
    if der.len() > MAX_CACHED_DER {
        return Arc::new(decode_uncached(der));
    }
    DECODED.with(|cache| {
        cache
            .borrow_mut()
            .get_or_make(der, || Arc::new(decode_uncached(der)))
    })
}

/// The CA names of a CertificateRequest `body` as strings, from `parse`
/// (its DER-encoded names) and [`dn_to_string`]. A server sends the same
/// request on every connection, so each distinct one is decoded once per
/// thread and shared; a hit is confirmed on the whole body.
pub fn request_ca_names<'b, E>(
    body: &'b [u8],
    parse: impl FnOnce(&'b [u8]) -> Result<Vec<&'b [u8]>, E>,
) -> Result<Arc<[String]>, E> {
    let decode = || parse(body).map(|dns| dns.iter().map(|dn| dn_to_string(dn)).collect());
    if body.len() > MAX_CACHED_DER {
        return decode();
    }
    CA_NAMES.with(|cache| cache.borrow_mut().get_or_try(body, decode))
}

thread_local! {
    static DECODED: RefCell<ByDer<Arc<CertFacts>>> = RefCell::new(ByDer::default());
    static CA_NAMES: RefCell<ByDer<Arc<[String]>>> = RefCell::new(ByDer::default());
}

/// Larger DER is decoded every time (no certificate that large seen on a
/// real link).
const MAX_CACHED_DER: usize = 64 * 1024;

/// What a DER input decoded to, by the DER. Decoding a certificate (x509
/// parse, SHA-256, names to strings) costs more than the rest of its flow,
/// and the links audited here present the same few certificates and
/// requests on every connection. Output cannot change: the value is a
/// function of the DER, and a hit is confirmed by comparing the whole DER.
struct ByDer<V> {
    /// Keyed by a hash of the DER's length and last bytes (for a
    /// certificate the signature: unique), so a lookup hashes 40 bytes, not
    /// the chain.
    by_tail: HashMap<u64, Vec<HeldDer<V>>>,
    /// DER bytes held: the bound.
    held: usize,
}

/// A DER input and what it decoded to.
type HeldDer<V> = (Box<[u8]>, V);

impl<V> Default for ByDer<V> {
    fn default() -> Self {
        ByDer {
            by_tail: HashMap::new(),
            held: 0,
        }
    }
}

impl<V: Clone> ByDer<V> {
    /// DER held per thread before the cache starts over: a few hundred
    /// certificates, far more than a federation deployment has.
    const MAX_HELD: usize = 1 << 20;

    /// The value of `der`, made by `make` (and kept) when not held.
    fn get_or_make(&mut self, der: &[u8], make: impl FnOnce() -> V) -> V {
        match self.get_or_try(der, || Ok::<V, std::convert::Infallible>(make())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The value of `der`, made by `make` (and kept) when not held; an
    /// error is returned and not kept.
    fn get_or_try<E>(&mut self, der: &[u8], make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let key = tail_key(der);
        if let Some(hit) = self
            .by_tail
            .get(&key)
            .and_then(|same_tail| same_tail.iter().find(|(d, _)| **d == *der))
        {
            return Ok(hit.1.clone());
        }
        let value = make()?;
        if self.held + der.len() > Self::MAX_HELD {
            self.by_tail.clear();
            self.held = 0;
        }
        self.held += der.len();
        self.by_tail
            .entry(key)
            .or_default()
            .push((der.into(), value.clone()));
        Ok(value)
    }
}

fn tail_key(der: &[u8]) -> u64 {
    // A fixed key: the value only spreads entries; equality is checked on
    // the whole DER, so a collision costs a comparison, never a wrong answer.
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write_usize(der.len());
    h.write(&der[der.len().saturating_sub(32)..]);
    h.finish()
}

/// Decode one certificate, always. Bad DER → `parse_error`.
pub fn decode_uncached(der: &[u8]) -> CertFacts {
    let sha256 = hex::encode(Sha256::digest(der));
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return CertFacts {
                sha256,
                parse_error: Some(e.to_string()),
                ..CertFacts::default()
            }
        }
    };
    let subject = cert.subject();
    let issuer = cert.issuer();
    CertFacts {
        subject_cn: subject
            .iter_common_name()
            .map(|a| any_to_string(a.attr_value()))
            .collect(),
        subject: name_to_string(subject),
        issuer: name_to_string(issuer),
        issuer_cn: issuer
            .iter_common_name()
            .map(|a| any_to_string(a.attr_value()))
            .collect(),
        san: sans(&cert),
        not_before: Some(cert.validity().not_before.timestamp()),
        not_after: Some(cert.validity().not_after.timestamp()),
        eku: eku(&cert),
        key: key_desc(&cert),
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        serial: serial_hex(cert.raw_serial()),
        sha256,
        parse_error: None,
        partial: None,
    }
}

/// DER tag-length header at `at`: (content offset, content length).
fn der_header(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let l0 = *b.get(at + 1)?;
    if l0 & 0x80 == 0 {
        return Some((at + 2, usize::from(l0)));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let len = b
        .get(at + 2..at + 2 + n)?
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
    Some((at + 2 + n, len))
}

/// Decode what a cut certificate still shows: a DER prefix of a
/// certificate of `full_len` bytes whose end was not kept. Serial, issuer,
/// validity, subject and key come before the extensions in a TBSCertificate,
/// so a prefix usually has them all.
pub fn decode_prefix(prefix: &[u8], full_len: usize) -> CertFacts {
    let mut f = CertFacts {
        partial: Some(format!(
            "certificate of {full_len} bytes exceeds the handshake limit; decoded from its first {} bytes (no SAN, EKU, signature or SHA-256)",
            prefix.len()
        )),
        ..CertFacts::default()
    };
    // Certificate SEQUENCE → TBSCertificate SEQUENCE: step inside both headers.
    let Some((tbs, _)) = der_header(prefix, 0) else {
        return f;
    };
    let Some((mut at, _)) = der_header(prefix, tbs) else {
        return f;
    };
    // Optional explicit version [0].
    if prefix.get(at) == Some(&0xa0) {
        let Some((c, l)) = der_header(prefix, at) else {
            return f;
        };
        at = c + l;
    }
    let element = |at: &mut usize| -> Option<&[u8]> {
        let (c, l) = der_header(prefix, *at)?;
        let whole = prefix.get(*at..c + l)?;
        *at = c + l;
        Some(whole)
    };
    let Some(serial) = element(&mut at) else {
        return f;
    };
    if let Some((c, _)) = der_header(serial, 0) {
        f.serial = serial_hex(serial.get(c..).unwrap_or(&[]));
    }
    if element(&mut at).is_none() {
        return f; // signature AlgorithmIdentifier
    }
    let Some(issuer) = element(&mut at) else {
        return f;
    };
    if let Ok((_, n)) = X509Name::from_der(issuer) {
        f.issuer = name_to_string(&n);
        f.issuer_cn = n
            .iter_common_name()
            .map(|a| any_to_string(a.attr_value()))
            .collect();
    }
    let Some(validity) = element(&mut at) else {
        return f;
    };
    if let Ok((_, v)) = x509_parser::certificate::Validity::from_der(validity) {
        f.not_before = Some(v.not_before.timestamp());
        f.not_after = Some(v.not_after.timestamp());
    }
    let Some(subject) = element(&mut at) else {
        return f;
    };
    if let Ok((_, n)) = X509Name::from_der(subject) {
        f.subject = name_to_string(&n);
        f.subject_cn = n
            .iter_common_name()
            .map(|a| any_to_string(a.attr_value()))
            .collect();
    }
    if let Some(spki) = element(&mut at) {
        if let Ok((_, k)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki) {
            f.key = spki_desc(&k);
        }
    }
    f
}

/// A DER-encoded distinguished name (as in a CertificateRequest's CA list) as a string.
pub fn dn_to_string(der: &[u8]) -> String {
    match X509Name::from_der(der) {
        Ok((_, name)) => name_to_string(&name),
        Err(_) => format!("#{}", hex::encode(der)),
    }
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid) -> String {
    oid2sn(oid, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// `CN=a, O=b` in certificate order; multi-valued RDNs joined with ` + `.
fn name_to_string(name: &X509Name) -> String {
    let mut out = String::new();
    for rdn in name.iter() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        for (i, attr) in rdn.iter().enumerate() {
            if i > 0 {
                out.push_str(" + ");
            }
            let key = oid2abbrev(attr.attr_type(), oid_registry())
                .map(str::to_string)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            out.push_str(&key);
            out.push('=');
            out.push_str(&any_to_string(attr.attr_value()));
        }
    }
    out
}

/// Any directory-string type to text; non-string values as `#hex`.
fn any_to_string(v: &Any) -> String {
    let data = v.as_bytes();
    match v.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString
        | Tag::GeneralString
        | Tag::GraphicString => String::from_utf8_lossy(data).into_owned(),
        // T.61 is close enough to Latin-1 for names; certificates that use it
        // almost always hold ASCII.
        Tag::TeletexString | Tag::VideotexString => data.iter().map(|&b| char::from(b)).collect(),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Tag::UniversalString => data
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => format!("#{}", hex::encode(data)),
    }
}

fn sans(cert: &X509Certificate) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::DNSName(n) => Some(format!("DNS:{n}")),
            GeneralName::RFC822Name(n) => Some(format!("email:{n}")),
            GeneralName::URI(n) => Some(format!("URI:{n}")),
            GeneralName::IPAddress(b) => Some(format!("IP:{}", ip_to_string(b))),
            GeneralName::DirectoryName(n) => Some(format!("DirName:{}", name_to_string(n))),
            GeneralName::OtherName(oid, _) => Some(format!("othername:{}", oid.to_id_string())),
            _ => None,
        })
        .collect()
}

fn ip_to_string(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        std::net::Ipv4Addr::from(a).to_string()
    } else if let Ok(a) = <[u8; 16]>::try_from(b) {
        std::net::Ipv6Addr::from(a).to_string()
    } else {
        hex::encode(b)
    }
}

fn eku(cert: &X509Certificate) -> Option<Vec<String>> {
    let ext = match cert.extended_key_usage() {
        Ok(Some(ext)) => ext,
        Ok(None) => return None,
        // A damaged EKU restricts nothing we can name: report it as unreadable.
        Err(_) => return Some(vec!["unreadable".to_string()]),
    };
    let e = ext.value;
    let mut out = Vec::new();
    for (set, name) in [
        (e.any, "anyExtendedKeyUsage"),
        (e.server_auth, "serverAuth"),
        (e.client_auth, "clientAuth"),
        (e.code_signing, "codeSigning"),
        (e.email_protection, "emailProtection"),
        (e.time_stamping, "timeStamping"),
        (e.ocsp_signing, "OCSPSigning"),
    ] {
        if set {
            out.push(name.to_string());
        }
    }
    out.extend(e.other.iter().map(|o| o.to_id_string()));
    Some(out)
}

fn key_desc(cert: &X509Certificate) -> String {
    spki_desc(cert.public_key())
}

fn spki_desc(spki: &x509_parser::x509::SubjectPublicKeyInfo) -> String {
    let alg = &spki.algorithm.algorithm;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    "1.3.132.0.35" => "P-521".to_string(),
                    "1.3.132.0.10" => "secp256k1".to_string(),
                    other => oid2sn(&oid, oid_registry())
                        .map(str::to_string)
                        .unwrap_or_else(|_| other.to_string()),
                })
                .unwrap_or_else(|| "unknown-curve".to_string());
            format!("EC {curve}")
        }
        Ok(PublicKey::DSA(y)) => format!("DSA {}", y.len() * 8),
        _ => match alg.to_id_string().as_str() {
            "1.3.101.112" => "Ed25519".to_string(),
            "1.3.101.113" => "Ed448".to_string(),
            "1.3.101.110" => "X25519".to_string(),
            _ => oid_name(alg),
        },
    }
}

/// Serial as lowercase hex without the DER sign-padding zero bytes.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(raw.get(start..).unwrap_or(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_der_yields_parse_error_and_hash() {
        let c = decode(&[0x30, 0x03, 0x02, 0x01]);
        assert!(c.parse_error.is_some());
        assert_eq!(c.sha256.len(), 64);
        assert!(c.subject_cn.is_empty());
    }

    #[test]
    fn the_same_der_is_decoded_once_and_shared() {
        let der = include_bytes!("testdata/server-ec.der");
        let first = decode(der);
        // Equal bytes elsewhere in memory: found by content.
        let copy = der.to_vec();
        let again = decode(copy.as_slice());
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.subject_cn, decode_uncached(der).subject_cn);
        // Same length and same last bytes, another certificate: the
        // whole-DER comparison tells them apart.
        let mut other = der.to_vec();
        other[20] ^= 0xff;
        let other_facts = decode(&other);
        assert!(!Arc::ptr_eq(&first, &other_facts));
        assert_eq!(other_facts.sha256, decode_uncached(&other).sha256);
        assert_ne!(other_facts.sha256, first.sha256);
    }

    #[test]
    fn the_decode_cache_is_bounded() {
        type Cache = ByDer<Arc<CertFacts>>;
        let mut cache = Cache::default();
        let der = include_bytes!("testdata/server-ec.der");
        for i in 0..(2 * Cache::MAX_HELD / der.len() + 2) {
            let mut d = der.to_vec();
            d.extend_from_slice(&(i as u64).to_be_bytes());
            cache.get_or_make(&d, || Arc::new(decode_uncached(&d)));
            assert!(cache.held <= Cache::MAX_HELD);
        }
        let entries: usize = cache.by_tail.values().map(Vec::len).sum();
        assert!(entries * der.len() <= Cache::MAX_HELD);
    }

    #[test]
    fn a_request_is_decoded_once_and_an_undecodable_one_every_time() {
        // Distinct bodies per test run: the cache is per thread.
        let body: &[u8] = b"a request body only this test uses";
        let calls = std::cell::Cell::new(0);
        let parse = |b: &'static [u8]| -> Result<Vec<&'static [u8]>, ()> {
            calls.set(calls.get() + 1);
            Ok(vec![b])
        };
        let first = request_ca_names(body, parse).expect("names");
        let again = request_ca_names(body, parse).expect("names");
        assert!(Arc::ptr_eq(&first, &again), "the second is the cached one");
        assert_eq!(calls.get(), 1);
        assert_eq!(*first, [dn_to_string(body)]);
        let bad: &[u8] = b"an undecodable request only this test uses";
        let failing = |_: &'static [u8]| -> Result<Vec<&'static [u8]>, ()> {
            calls.set(calls.get() + 1);
            Err(())
        };
        assert!(request_ca_names(bad, failing).is_err());
        assert!(request_ca_names(bad, failing).is_err());
        assert_eq!(calls.get(), 3, "errors are not kept");
    }

    #[test]
    fn string_types_decode_to_text() {
        // BMPString "ab", UniversalString "a", TeletexString "\xe9".
        let bmp = Any::from_tag_and_data(Tag::BmpString, &[0, b'a', 0, b'b']);
        assert_eq!(any_to_string(&bmp), "ab");
        let uni = Any::from_tag_and_data(Tag::UniversalString, &[0, 0, 0, b'a']);
        assert_eq!(any_to_string(&uni), "a");
        let t61 = Any::from_tag_and_data(Tag::TeletexString, &[0xe9]);
        assert_eq!(any_to_string(&t61), "é");
    }

    #[test]
    fn prefix_of_a_certificate_still_names_its_subject() {
        let der = include_bytes!("testdata/server-ec.der");
        let full = decode(der);
        let cut = decode_prefix(&der[..300], der.len());
        assert_eq!(cut.subject_cn, vec!["imp.example.com"]);
        assert_eq!(cut.serial, full.serial);
        assert_eq!(cut.not_after, full.not_after);
        assert_eq!(cut.key, "EC P-256");
        assert!(cut.partial.is_some() && cut.san.is_empty());
    }

    #[test]
    fn every_prefix_of_a_certificate_shows_only_what_the_whole_one_says() {
        let der = include_bytes!("testdata/server-ec.der");
        let full = decode(der);
        for n in 0..der.len() {
            let cut = decode_prefix(&der[..n], der.len());
            // A field is either not reached yet or exactly the whole certificate's.
            assert!(cut.partial.is_some(), "prefix {n}");
            assert!(
                cut.serial.is_empty() || cut.serial == full.serial,
                "prefix {n}"
            );
            assert!(
                cut.subject_cn.is_empty() || cut.subject_cn == full.subject_cn,
                "prefix {n}: {:?}",
                cut.subject_cn
            );
            assert!(
                cut.issuer.is_empty() || cut.issuer == full.issuer,
                "prefix {n}"
            );
            assert!(cut.not_before.is_none() || cut.not_before == full.not_before);
            assert!(cut.not_after.is_none() || cut.not_after == full.not_after);
            assert!(
                cut.key.is_empty() || cut.key == full.key,
                "prefix {n}: {}",
                cut.key
            );
            // What a prefix never has: it cannot be hashed or its extensions read.
            assert!(cut.san.is_empty() && cut.eku.is_none() && cut.sha256.is_empty());
            // The strict prefix does not decode as a whole certificate.
            let whole = decode(&der[..n]);
            assert!(whole.parse_error.is_some(), "prefix {n} decoded as whole");
            assert!(whole.subject_cn.is_empty(), "prefix {n}");
        }
        assert!(decode(der).parse_error.is_none());
    }

    #[test]
    fn serial_drops_sign_padding() {
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
    }
}
