//! Per-direction record decryption: [`RecordDecryptor`] turns one
//! `TLSCiphertext.fragment` into its plaintext and checks its MAC or tag.
//!
//! Owns the per-direction state: the 64-bit sequence number (RFC 5246 §6.1,
//! RFC 8446 §5.3), TLS 1.0's chained CBC IV (RFC 2246 §6.2.3.2: the IV of a
//! record is the last ciphertext block of the previous one) and one reused
//! plaintext buffer.
//!
//! Invariants:
//! - Every call to [`RecordDecryptor::decrypt`] or [`RecordDecryptor::advance`]
//!   consumes exactly one record of the direction, successful or not: the
//!   sequence number goes up by one and the chained IV moves to the record's
//!   last ciphertext block. Records must be fed in wire order, all of them,
//!   starting with the first record after ChangeCipherSpec (TLS ≤1.2) or the
//!   first record under the traffic secret (TLS 1.3).
//! - The plaintext buffer never grows past [`MAX_CIPHERTEXT_LEN`].
//! - No input makes it panic; malformed records are a [`DecryptError`].

use aes::{Aes128, Aes256};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockCipher, BlockDecrypt, BlockDecryptMut, InnerIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use des::TdesEde3;
use hmac::{Hmac, Mac};

use super::suites::{BulkCipher, MacAlg};
use super::DecryptError;
use crate::tls::model::TlsVersion;

/// Largest `TLSCiphertext.length` allowed: 2^14 + 2048 (RFC 5246 §6.2.3;
/// TLS 1.3 allows only 2^14 + 256, so this covers every version).
pub const MAX_CIPHERTEXT_LEN: usize = 16384 + 2048;

/// AEAD tag length of every supported AEAD (GCM, Poly1305).
const TAG_LEN: usize = 16;
/// GCM explicit nonce carried in each TLS 1.2 record (RFC 5288 §3).
const GCM_EXPLICIT_NONCE_LEN: usize = 8;
/// Largest HMAC output (SHA-384).
const MAX_MAC_LEN: usize = 48;
/// Largest CBC block (AES).
const MAX_BLOCK_LEN: usize = 16;

/// One decrypted record. `data` borrows the decryptor's reused buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Plaintext<'a> {
    /// The record's content type: the header's for TLS ≤1.2, the inner
    /// `TLSInnerPlaintext.type` for TLS 1.3.
    pub content_type: u8,
    /// Sequence number the record had (0 = first record under these keys).
    pub seq: u64,
    pub data: &'a [u8],
}

// Variant sizes differ (AES-256's key schedule is the largest); the enum
// lives once per direction inside a boxed `CbcState`, so no need to box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Block {
    TripleDes(TdesEde3),
    Aes128(Aes128),
    Aes256(Aes256),
}

#[derive(Clone)]
enum MacKey {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
}

impl MacKey {
    fn new(alg: MacAlg, key: &[u8]) -> Result<MacKey, DecryptError> {
        let bad = |_| DecryptError::BadSecretLength { got: key.len() };
        Ok(match alg {
            MacAlg::HmacSha1 => {
                MacKey::Sha1(<Hmac<sha1::Sha1> as Mac>::new_from_slice(key).map_err(bad)?)
            }
            MacAlg::HmacSha256 => {
                MacKey::Sha256(<Hmac<sha2::Sha256> as Mac>::new_from_slice(key).map_err(bad)?)
            }
            MacAlg::HmacSha384 => {
                MacKey::Sha384(<Hmac<sha2::Sha384> as Mac>::new_from_slice(key).map_err(bad)?)
            }
            MacAlg::Aead => return Err(DecryptError::BadSecretLength { got: 0 }),
        })
    }

    fn len(&self) -> usize {
        match self {
            MacKey::Sha1(_) => 20,
            MacKey::Sha256(_) => 32,
            MacKey::Sha384(_) => 48,
        }
    }

    /// HMAC(seq ‖ type ‖ version ‖ length ‖ data) of RFC 5246 §6.2.3.1,
    /// written to `out`; returns the MAC length.
    fn compute(&self, header: &[u8; 13], parts: [&[u8]; 2], out: &mut [u8; MAX_MAC_LEN]) -> usize {
        fn run<M: Mac + Clone>(m: &M, header: &[u8], parts: [&[u8]; 2], out: &mut [u8]) -> usize {
            let mut m = m.clone();
            m.update(header);
            for p in parts {
                m.update(p);
            }
            let tag = m.finalize().into_bytes();
            let n = tag.len().min(out.len());
            out[..n].copy_from_slice(&tag[..n]);
            n
        }
        match self {
            MacKey::Sha1(m) => run(m, header, parts, out),
            MacKey::Sha256(m) => run(m, header, parts, out),
            MacKey::Sha384(m) => run(m, header, parts, out),
        }
    }
}

struct CbcState {
    block: Block,
    block_len: usize,
    mac: MacKey,
    /// TLS 1.0's chained IV; `None` for TLS 1.1+ (explicit IV per record).
    chained_iv: Option<[u8; MAX_BLOCK_LEN]>,
    /// False once `advance` was given too few bytes to learn the next IV.
    chain_known: bool,
    encrypt_then_mac: bool,
}

enum Aead {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NonceKind {
    /// TLS 1.2 GCM: 4-byte implicit salt ‖ 8-byte explicit nonce from the record.
    GcmExplicit,
    /// 12-byte IV ⊕ left-padded sequence number (RFC 7905 §2, RFC 8446 §5.3).
    XorSeq,
}

struct AeadState {
    aead: Aead,
    iv: [u8; 12],
    nonce: NonceKind,
    tls13: bool,
}

enum State {
    Cbc(Box<CbcState>),
    Aead(AeadState),
}

/// Decrypts the records of one direction of one connection.
pub struct RecordDecryptor {
    version: TlsVersion,
    seq: u64,
    verified: u64,
    state: State,
    buf: Vec<u8>,
}

impl std::fmt::Debug for RecordDecryptor {
    // Key material stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDecryptor")
            .field("version", &self.version)
            .field("seq", &self.seq)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl RecordDecryptor {
    /// A decryptor from raw keys. `iv` is the key-block IV (TLS 1.0 CBC: the
    /// first chained IV; TLS 1.1+ CBC: ignored; GCM 1.2: 4-byte salt;
    /// ChaCha20 1.2 and all TLS 1.3: 12 bytes). `mac_key` is ignored for AEADs,
    /// `encrypt_then_mac` for everything but CBC.
    pub fn from_keys(
        version: TlsVersion,
        cipher: BulkCipher,
        mac: MacAlg,
        enc_key: &[u8],
        mac_key: &[u8],
        iv: &[u8],
        encrypt_then_mac: bool,
    ) -> Result<RecordDecryptor, DecryptError> {
        if !matches!(
            version,
            TlsVersion::TLS10 | TlsVersion::TLS11 | TlsVersion::TLS12 | TlsVersion::TLS13
        ) {
            return Err(DecryptError::UnsupportedVersion { version });
        }
        let bad_key = |_| DecryptError::BadSecretLength { got: enc_key.len() };
        let bad_iv = DecryptError::BadSecretLength { got: iv.len() };
        let state = if let Some(block_len) = cipher.block_len() {
            if version == TlsVersion::TLS13 {
                return Err(DecryptError::UnsupportedVersion { version });
            }
            let block = match cipher {
                BulkCipher::TripleDesCbc => {
                    Block::TripleDes(TdesEde3::new_from_slice(enc_key).map_err(bad_key)?)
                }
                BulkCipher::Aes128Cbc => {
                    Block::Aes128(Aes128::new_from_slice(enc_key).map_err(bad_key)?)
                }
                _ => Block::Aes256(Aes256::new_from_slice(enc_key).map_err(bad_key)?),
            };
            let chained_iv = if version == TlsVersion::TLS10 {
                let mut chain = [0u8; MAX_BLOCK_LEN];
                let src = iv.get(..block_len).ok_or(bad_iv)?;
                chain[..block_len].copy_from_slice(src);
                Some(chain)
            } else {
                None
            };
            State::Cbc(Box::new(CbcState {
                block,
                block_len,
                mac: MacKey::new(mac, mac_key)?,
                chained_iv,
                chain_known: true,
                encrypt_then_mac,
            }))
        } else {
            let aead = match cipher {
                BulkCipher::Aes128Gcm => Aead::Aes128Gcm(Box::new(
                    Aes128Gcm::new_from_slice(enc_key).map_err(bad_key)?,
                )),
                BulkCipher::Aes256Gcm => Aead::Aes256Gcm(Box::new(
                    Aes256Gcm::new_from_slice(enc_key).map_err(bad_key)?,
                )),
                _ => Aead::ChaCha(Box::new(
                    ChaCha20Poly1305::new_from_slice(enc_key).map_err(bad_key)?,
                )),
            };
            let tls13 = version == TlsVersion::TLS13;
            let nonce = if !tls13 && cipher != BulkCipher::ChaCha20Poly1305 {
                NonceKind::GcmExplicit
            } else {
                NonceKind::XorSeq
            };
            let want_iv = if nonce == NonceKind::GcmExplicit {
                4
            } else {
                12
            };
            let src = iv.get(..want_iv).ok_or(bad_iv)?;
            let mut full = [0u8; 12];
            full[..want_iv].copy_from_slice(src);
            State::Aead(AeadState {
                aead,
                iv: full,
                nonce,
                tls13,
            })
        };
        Ok(RecordDecryptor {
            version,
            seq: 0,
            verified: 0,
            state,
            buf: Vec::new(),
        })
    }

    /// Sequence number of the next record.
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// Records whose MAC or tag verified so far. A direction whose first
    /// record fails while this is 0 has the wrong key (see
    /// [`DecryptError::indicates_wrong_key`]).
    pub fn records_verified(&self) -> u64 {
        self.verified
    }

    /// CBC only: the content length a record's padding byte implies, read
    /// from its last block alone — one block decryption instead of the whole
    /// record, no MAC check, and the record is not consumed (follow with
    /// [`advance`](Self::advance) or [`decrypt`](Self::decrypt)). `None` for
    /// AEAD ciphers, a malformed length, or a lost TLS 1.0 IV chain.
    pub fn peek_content_len(&self, fragment: &[u8]) -> Option<usize> {
        let State::Cbc(c) = &self.state else {
            return None;
        };
        let b = c.block_len;
        let mac_len = c.mac.len();
        let etm_mac = if c.encrypt_then_mac { mac_len } else { 0 };
        let protected = fragment.get(..fragment.len().checked_sub(etm_mac)?)?;
        let explicit = if c.chained_iv.is_none() { b } else { 0 };
        let ct_len = protected.len().checked_sub(explicit)?;
        if ct_len == 0 || ct_len % b != 0 {
            return None;
        }
        let end = protected.len();
        let last = protected.get(end - b..)?;
        let prev: &[u8] = if end >= 2 * b && (ct_len >= 2 * b || explicit > 0) {
            protected.get(end - 2 * b..end - b)?
        } else {
            let chain = c.chained_iv.as_ref().filter(|_| c.chain_known)?;
            chain.get(..b)?
        };
        let mut blk = [0u8; MAX_BLOCK_LEN];
        blk[..b].copy_from_slice(last);
        decrypt_one_block(&c.block, &mut blk[..b]);
        let pad = usize::from(blk[b - 1] ^ prev[b - 1]);
        let overhead = pad + 1 + if c.encrypt_then_mac { 0 } else { mac_len };
        ct_len.checked_sub(overhead)
    }

    /// Plaintext of the last record [`decrypt`](Self::decrypt) returned Ok
    /// for (what its `Plaintext::data` borrowed).
    pub fn last_plaintext(&self) -> &[u8] {
        &self.buf
    }

    pub fn version(&self) -> TlsVersion {
        self.version
    }

    /// Trailing fragment bytes [`advance`](Self::advance) needs: the last
    /// ciphertext block (plus the MAC under encrypt-then-MAC) for TLS 1.0
    /// CBC, 0 for every other cipher/version.
    pub fn tail_len(&self) -> usize {
        match &self.state {
            State::Cbc(c) if c.chained_iv.is_some() => {
                c.block_len + if c.encrypt_then_mac { c.mac.len() } else { 0 }
            }
            _ => 0,
        }
    }

    /// Skips one record without decrypting it: bumps the sequence number
    /// and, for TLS 1.0 CBC, takes the next chained IV from `fragment_tail`,
    /// which holds at least the last [`tail_len`](Self::tail_len) bytes of the
    /// record's fragment (the whole fragment is fine). With too few bytes the
    /// IV chain is lost and later records of this direction fail with
    /// [`DecryptError::ChainLost`].
    pub fn advance(&mut self, fragment_tail: &[u8]) -> Result<(), DecryptError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let need = self.tail_len();
        if let State::Cbc(c) = &mut self.state {
            if let Some(chain) = c.chained_iv.as_mut() {
                let mac_len = if c.encrypt_then_mac { c.mac.len() } else { 0 };
                let end = fragment_tail.len().checked_sub(mac_len);
                let last = end
                    .and_then(|e| e.checked_sub(c.block_len).map(|s| (s, e)))
                    .and_then(|(s, e)| fragment_tail.get(s..e));
                match last {
                    Some(last) => {
                        chain[..c.block_len].copy_from_slice(last);
                        c.chain_known = true;
                    }
                    None => {
                        c.chain_known = false;
                        return Err(DecryptError::Truncated {
                            seq,
                            need,
                            got: fragment_tail.len(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Decrypts one record of this direction. `content_type` and
    /// `record_version` are the record header's; `fragment` is the record
    /// body (`TLSCiphertext.fragment`).
    pub fn decrypt(
        &mut self,
        content_type: u8,
        record_version: u16,
        fragment: &[u8],
    ) -> Result<Plaintext<'_>, DecryptError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if fragment.len() > MAX_CIPHERTEXT_LEN {
            // Still consumes the record; keep the IV chain right if we can.
            if let State::Cbc(c) = &mut self.state {
                if let Some(chain) = c.chained_iv.as_mut() {
                    let mac_len = if c.encrypt_then_mac { c.mac.len() } else { 0 };
                    match fragment
                        .len()
                        .checked_sub(mac_len + c.block_len)
                        .and_then(|s| fragment.get(s..s + c.block_len))
                    {
                        Some(last) => {
                            chain[..c.block_len].copy_from_slice(last);
                            c.chain_known = true;
                        }
                        None => c.chain_known = false,
                    }
                }
            }
            return Err(DecryptError::RecordTooLong {
                seq,
                len: fragment.len(),
                max: MAX_CIPHERTEXT_LEN,
            });
        }
        let record = SealedRecord {
            seq,
            content_type,
            version: record_version,
            fragment,
        };
        let result = match &mut self.state {
            State::Cbc(c) => decrypt_cbc(c, &mut self.buf, record),
            State::Aead(a) => decrypt_aead(a, &mut self.buf, record),
        };
        let content_type = result?;
        self.verified += 1;
        Ok(Plaintext {
            content_type,
            seq,
            data: &self.buf,
        })
    }
}

/// One protected record, as each kind of cipher takes it.
#[derive(Clone, Copy)]
struct SealedRecord<'a> {
    /// This direction's record sequence number (the MAC's and nonce's).
    seq: u64,
    /// The record header's content type and version.
    content_type: u8,
    version: u16,
    /// `TLSCiphertext.fragment`.
    fragment: &'a [u8],
}

fn mac_header(seq: u64, content_type: u8, version: u16, len: usize) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..8].copy_from_slice(&seq.to_be_bytes());
    h[8] = content_type;
    h[9..11].copy_from_slice(&version.to_be_bytes());
    // len ≤ MAX_CIPHERTEXT_LEN, which fits u16.
    h[11..13].copy_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    h
}

fn decrypt_one_block(block: &Block, buf: &mut [u8]) {
    use aes_gcm::aead::generic_array::GenericArray as Ga;
    match block {
        Block::TripleDes(c) if buf.len() == 8 => c.decrypt_block(Ga::from_mut_slice(buf)),
        Block::Aes128(c) if buf.len() == 16 => c.decrypt_block(Ga::from_mut_slice(buf)),
        Block::Aes256(c) if buf.len() == 16 => c.decrypt_block(Ga::from_mut_slice(buf)),
        _ => {}
    }
}

fn cbc_decrypt_in_place(block: &Block, iv: &[u8], buf: &mut [u8]) -> bool {
    fn run<C: BlockCipher + BlockDecrypt + Clone>(c: &C, iv: &[u8], buf: &mut [u8]) -> bool {
        match cbc::Decryptor::<C>::inner_iv_slice_init(c.clone(), iv) {
            Ok(d) => d.decrypt_padded_mut::<NoPadding>(buf).is_ok(),
            Err(_) => false,
        }
    }
    match block {
        Block::TripleDes(c) => run(c, iv, buf),
        Block::Aes128(c) => run(c, iv, buf),
        Block::Aes256(c) => run(c, iv, buf),
    }
}

/// Checks TLS CBC padding (RFC 5246 §6.2.3.2: `padding_length + 1` bytes,
/// each equal to `padding_length`) and returns the length before it.
fn strip_padding(buf: &[u8], seq: u64) -> Result<usize, DecryptError> {
    let pad = usize::from(*buf.last().ok_or(DecryptError::BadPadding { seq })?);
    let start = buf
        .len()
        .checked_sub(pad + 1)
        .ok_or(DecryptError::BadPadding { seq })?;
    let tail = buf.get(start..).ok_or(DecryptError::BadPadding { seq })?;
    if tail.iter().any(|&b| usize::from(b) != pad) {
        return Err(DecryptError::BadPadding { seq });
    }
    Ok(start)
}

/// CBC record: returns the content type; plaintext left in `buf`.
fn decrypt_cbc(
    c: &mut CbcState,
    buf: &mut Vec<u8>,
    record: SealedRecord<'_>,
) -> Result<u8, DecryptError> {
    let (seq, fragment) = (record.seq, record.fragment);
    let b = c.block_len;
    let mac_len = c.mac.len();
    let etm = c.encrypt_then_mac;
    let explicit_iv = c.chained_iv.is_none();

    // Split off the trailing MAC (encrypt-then-MAC) and the explicit IV.
    let (protected, mac_in) = if etm {
        let split = fragment
            .len()
            .checked_sub(mac_len)
            .ok_or(DecryptError::Truncated {
                seq,
                need: mac_len + b,
                got: fragment.len(),
            })?;
        (&fragment[..split], &fragment[split..])
    } else {
        (fragment, &fragment[fragment.len()..])
    };
    let (iv_bytes, ct) = if explicit_iv {
        if protected.len() < b {
            return Err(DecryptError::Truncated {
                seq,
                need: b + if etm { mac_len } else { 0 },
                got: fragment.len(),
            });
        }
        protected.split_at(b)
    } else {
        (&protected[..0], protected)
    };
    // TLS 1.0: this record's IV is the chain; the next one is this record's
    // last ciphertext block — update it before any check can fail.
    let mut iv = [0u8; MAX_BLOCK_LEN];
    if let Some(chain) = c.chained_iv.as_mut() {
        let known = c.chain_known;
        iv[..b].copy_from_slice(&chain[..b]);
        // A well-formed record re-establishes a lost chain for the next one.
        c.chain_known = ct.len() >= b && ct.len() % b == 0;
        if c.chain_known {
            chain[..b].copy_from_slice(&ct[ct.len() - b..]);
        }
        if !known {
            return Err(DecryptError::ChainLost { seq });
        }
    } else {
        iv[..b].copy_from_slice(iv_bytes);
    }
    if ct.is_empty() || ct.len() % b != 0 {
        return Err(DecryptError::BadBlockLength {
            seq,
            len: ct.len(),
            block: b,
        });
    }

    let mut mac_out = [0u8; MAX_MAC_LEN];
    if etm {
        // RFC 7366 §3: MAC(seq ‖ type ‖ version ‖ length ‖ IV ‖ ciphertext).
        let h = mac_header(seq, record.content_type, record.version, protected.len());
        let n = c.mac.compute(&h, [protected, &[]], &mut mac_out);
        // Timing does not matter here: this is a passive observer, not an oracle.
        if mac_out[..n] != *mac_in {
            return Err(DecryptError::BadMac { seq });
        }
    } else if ct.len() < mac_len + 1 {
        return Err(DecryptError::Truncated {
            seq,
            need: mac_len + 1,
            got: fragment.len(),
        });
    }

    buf.clear();
    buf.extend_from_slice(ct);
    if !cbc_decrypt_in_place(&c.block, &iv[..b], buf) {
        return Err(DecryptError::BadBlockLength {
            seq,
            len: ct.len(),
            block: b,
        });
    }
    let unpadded = strip_padding(buf, seq)?;
    if etm {
        buf.truncate(unpadded);
        return Ok(record.content_type);
    }
    let content_len = unpadded
        .checked_sub(mac_len)
        .ok_or(DecryptError::BadPadding { seq })?;
    let h = mac_header(seq, record.content_type, record.version, content_len);
    let n = c.mac.compute(&h, [&buf[..content_len], &[]], &mut mac_out);
    if mac_out[..n] != buf[content_len..unpadded] {
        return Err(DecryptError::BadMac { seq });
    }
    buf.truncate(content_len);
    Ok(record.content_type)
}

/// AEAD record: returns the content type; plaintext left in `buf`.
fn decrypt_aead(
    a: &AeadState,
    buf: &mut Vec<u8>,
    record: SealedRecord<'_>,
) -> Result<u8, DecryptError> {
    let (seq, fragment) = (record.seq, record.fragment);
    let explicit = if a.nonce == NonceKind::GcmExplicit {
        GCM_EXPLICIT_NONCE_LEN
    } else {
        0
    };
    let need = explicit + TAG_LEN;
    let ct_len = fragment
        .len()
        .checked_sub(need)
        .ok_or(DecryptError::Truncated {
            seq,
            need,
            got: fragment.len(),
        })?;
    let mut nonce = a.iv;
    match a.nonce {
        NonceKind::GcmExplicit => nonce[4..].copy_from_slice(&fragment[..explicit]),
        NonceKind::XorSeq => {
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
        }
    }
    let ct = &fragment[explicit..explicit + ct_len];
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&fragment[explicit + ct_len..]);

    // AAD: RFC 5246 §6.2.3.3 (seq ‖ type ‖ version ‖ plaintext length) for
    // TLS 1.2, the record header itself for TLS 1.3 (RFC 8446 §5.2).
    let mut aad_buf = [0u8; 13];
    let aad: &[u8] = if a.tls13 {
        aad_buf[0] = record.content_type;
        aad_buf[1..3].copy_from_slice(&record.version.to_be_bytes());
        aad_buf[3..5].copy_from_slice(&(fragment.len() as u16).to_be_bytes());
        &aad_buf[..5]
    } else {
        aad_buf = mac_header(seq, record.content_type, record.version, ct_len);
        &aad_buf
    };

    buf.clear();
    buf.extend_from_slice(ct);
    let nonce = GenericArray::from_slice(&nonce);
    let tag = GenericArray::from_slice(&tag);
    let ok = match &a.aead {
        Aead::Aes128Gcm(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok(),
        Aead::Aes256Gcm(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok(),
        Aead::ChaCha(c) => c.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok(),
    };
    if !ok {
        return Err(DecryptError::BadTag { seq });
    }
    if !a.tls13 {
        return Ok(record.content_type);
    }
    // TLSInnerPlaintext: content ‖ type ‖ zeros (RFC 8446 §5.4).
    let end = buf
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DecryptError::NoInnerContentType { seq })?;
    let inner = buf[end];
    buf.truncate(end);
    Ok(inner)
}
