//! Synthetic capture generator for benchmarks and scale tests.
//!
//! Builds captures of any size from the real handshakes in `captures/*.pcap`:
//! every TCP flow of each source capture is extracted (the new bytes of each
//! direction, in capture order, with SYN/FIN/RST), then replayed many times
//! with rewritten addresses and ports, random ISNs, MSS-sized segments
//! (1448 bytes), a few duplicated and reordered segments, and bulk
//! application-data records inserted after the handshake. Around those it
//! adds traffic tlsaudit must ignore: TLS on other ports, SIP over UDP on
//! 5062 and bulk TCP on other ports.
//!
//! The output is streamed (pcap or pcapng, Ethernet, microsecond stamps);
//! only the source flows and the open flows' state are held in memory. The
//! same `--seed` gives the same bytes.
//!
//! The truth file lists every audited clone: client and server as tlsaudit
//! reports them, the source capture and flow it was cloned from, and the
//! expectation for it taken from `<name>.expect.json` next to the source
//! (the per-flow entry when the file has a `flows` array). Bulk records
//! never change a verdict: they are longer than the suite's minimal
//! (empty-fragment) size, their length is an observed application-data
//! record length plus a multiple of 16 (so block-cipher lengths stay
//! multiples of the block), and they are inserted only where the peer has
//! just spoken, so no earlier minimal record gains a follower.
//!
//! `--tap` gives the traits of a busy tap instead: about 10,700 audited
//! flows per GiB (`--flows N`) of SIP-sized writes (one to four records,
//! each an observed length plus whole cipher blocks, after an empty
//! fragment in flows whose source writes them: the truth's counts include
//! them), 512 audited flows open at once (`--concurrent N`), each starting
//! when another ends, so start times spread over the capture and flows
//! interleave packet by packet; 4 % of data segments retransmitted or
//! overtaken by the next one of their side (`--mangle PER_MILLE`, handshakes
//! included); one ACK per two segments (delayed ACKs); and 25 % of the
//! bytes other traffic (`--noise PERCENT`): TLS on 443 and 5061, HTTP bulk,
//! RTP-like UDP, SIP over UDP on 5060 and 5062, DNS.
//!
//! ```text
//! cargo run --release --example gencap -- --size 1G --out big.pcap --truth truth.json
//! cargo run --release --example gencap -- --tap --size 1G --out tap.pcap --truth tap.truth.json
//! cargo run --release --example gencap -- --size 10G --out - | tlsaudit check -
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

/// TCP payload per segment (Ethernet MTU 1500 - 20 IP - 20 TCP - 12 options).
const MSS: usize = 1448;
/// Flows open at the same time (interleaving depth).
const CONCURRENT: usize = 48;
/// Largest TLS record payload plus the expansion TLS allows (RFC 5246 6.2.3).
const MAX_RECORD: usize = 16384 + 2048;
/// Audited server port.
const SIP_TLS_PORT: u16 = 5062;
/// Pool of random bytes that bulk payloads are cut from.
const NOISE_BYTES: usize = 1 << 18;
/// Largest single write cut from the noise pool.
const MAX_WRITE: usize = 1 << 16;

/// A TLS job replaying flow 0 of capture `source` on `port`, from its start.
fn tls_kind(source: usize, port: u16, audited: bool) -> JobKind {
    JobKind::Tls {
        source,
        flow: 0,
        event: 0,
        conn: None,
        bulk: [0, 0],
        port,
        audited,
        entry: None,
        inserted_empty: [0, 0],
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gencap: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

pub struct Opts {
    /// Directory of source captures (`*.pcap`, `*.pcapng`, `*.expect.json`).
    pub from: PathBuf,
    /// Stop starting new flows once this many bytes are written (open ones finish).
    pub size: u64,
    pub out: String,
    pub format: Format,
    pub seed: u64,
    pub truth: Option<PathBuf>,
    pub tap: Option<Tap>,
}

/// The traits of a busy tap (`--tap`): many short flows starting at random
/// times and interleaved packet by packet, segments retransmitted or
/// reordered at a given rate, SIP-sized records, and a quarter of the bytes
/// other traffic.
#[derive(Clone, Copy, Debug)]
pub struct Tap {
    /// Audited flows to aim for over the whole capture (per GiB of `--size`
    /// when not given: 10,700).
    pub flows: Option<u64>,
    /// Units of traffic open at once: a new one starts whenever one ends,
    /// so start times spread over the capture.
    pub concurrent: usize,
    /// Data segments retransmitted or reordered, per mille (half each).
    pub mangle_per_mille: u64,
    /// Share of the bytes that is other traffic, percent.
    pub noise_percent: u64,
}

impl Default for Tap {
    fn default() -> Self {
        Tap {
            flows: None,
            concurrent: 512,
            mangle_per_mille: 40,
            noise_percent: 25,
        }
    }
}

fn usage() -> io::Error {
    io::Error::other(
        "usage: gencap [--from DIR] [--size N[K|M|G]] [--out FILE|-] [--format pcap|pcapng] [--seed N] [--truth FILE]\n              [--tap [--flows N] [--concurrent N] [--mangle PER_MILLE] [--noise PERCENT]]",
    )
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

fn parse_args() -> io::Result<Opts> {
    let mut o = Opts {
        from: PathBuf::from("captures"),
        size: 64 << 20,
        out: "-".into(),
        format: Format::Pcap,
        seed: 1,
        truth: None,
        tap: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(usage);
        match a.as_str() {
            "--from" => o.from = PathBuf::from(val()?),
            "--size" => o.size = parse_size(&val()?).ok_or_else(usage)?,
            "--out" | "-o" => o.out = val()?,
            "--format" => {
                o.format = match val()?.as_str() {
                    "pcap" => Format::Pcap,
                    "pcapng" => Format::PcapNg,
                    _ => return Err(usage()),
                }
            }
            "--seed" => o.seed = val()?.parse().map_err(|_| usage())?,
            "--truth" => o.truth = Some(PathBuf::from(val()?)),
            "--tap" => {
                o.tap.get_or_insert_with(Tap::default);
            }
            "--flows" => {
                o.tap.get_or_insert_with(Tap::default).flows =
                    Some(val()?.parse().map_err(|_| usage())?)
            }
            "--concurrent" => {
                let n: usize = val()?.parse().map_err(|_| usage())?;
                o.tap.get_or_insert_with(Tap::default).concurrent = n.max(1);
            }
            "--mangle" => {
                let n: u64 = val()?.parse().map_err(|_| usage())?;
                o.tap.get_or_insert_with(Tap::default).mangle_per_mille = n.min(500);
            }
            "--noise" => {
                let n: u64 = val()?.parse().map_err(|_| usage())?;
                o.tap.get_or_insert_with(Tap::default).noise_percent = n.min(95);
            }
            _ => return Err(usage()),
        }
    }
    Ok(o)
}

/// splitmix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

// ---------------------------------------------------------------------------
// Source flows
// ---------------------------------------------------------------------------

/// One step of a source flow: new bytes and/or flags from one side.
#[derive(Clone)]
struct Event {
    /// 0 = client (SYN sender, else the side not on the server port), 1 = server.
    side: usize,
    /// Offset of `data` in that side's stream (gaps in the source stay gaps).
    rel: u64,
    data: Vec<u8>,
    syn: bool,
    fin: bool,
    rst: bool,
}

struct SourceFlow {
    v6: bool,
    events: Vec<Event>,
    /// Event index before which bulk application data may be inserted.
    bulk_at: Option<usize>,
    /// Record version and a non-minimal application-data record length per side.
    app_record: [Option<([u8; 2], usize)>; 2],
    /// Per side: the minimal application-data record length, when such a
    /// record was followed by another in the same segment (empty fragments).
    empty_fragment: [Option<usize>; 2],
}

struct Source {
    name: String,
    flows: Vec<SourceFlow>,
    /// Expectation per flow, from `<name>.expect.json`.
    expect: Vec<serde_json::Value>,
    first_ts: u64,
}

/// A raw source segment, before the flow is assembled.
struct RawSeg {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    payload: Vec<u8>,
}

fn decode_frame(link: u32, data: &[u8]) -> Option<RawSeg> {
    let pkt = match link {
        1 => SlicedPacket::from_ethernet(data).ok()?,
        101 | 228 | 229 | 12 | 14 => SlicedPacket::from_ip(data).ok()?,
        113 => SlicedPacket::from_linux_sll(data).ok()?,
        _ => return None,
    };
    let (sip, dip) = match pkt.net? {
        NetSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        NetSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = pkt.transport? else {
        return None;
    };
    Some(RawSeg {
        src: SocketAddr::new(sip, tcp.source_port()),
        dst: SocketAddr::new(dip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        syn: tcp.syn(),
        ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload().to_vec(),
    })
}

/// Every TCP segment of a capture with its link type, and the first timestamp (µs).
fn read_segments(path: &Path) -> io::Result<(Vec<RawSeg>, u64)> {
    let file = File::open(path)?;
    let mut reader = create_reader(1 << 20, file)
        .map_err(|e| io::Error::other(format!("{}: {e:?}", path.display())))?;
    let mut segs = Vec::new();
    let mut links: Vec<u32> = Vec::new();
    let mut legacy_link = 1u32;
    let mut first_ts = None;
    loop {
        match reader.next() {
            Ok((len, block)) => {
                let mut frame: Option<(u32, u64, &[u8])> = None;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy_link = h.network.0 as u32,
                    PcapBlockOwned::Legacy(b) => {
                        let us = u64::from(b.ts_sec) * 1_000_000 + u64::from(b.ts_usec);
                        frame = Some((legacy_link, us, b.data));
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::SectionHeader(_)) => links.clear(),
                    PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(i)) => {
                        links.push(i.linktype.0 as u32)
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(e)) => {
                        let link = links.get(e.if_id as usize).copied().unwrap_or(1);
                        // Default pcapng resolution is microseconds; good enough for a start time.
                        let us = (u64::from(e.ts_high) << 32) | u64::from(e.ts_low);
                        frame = Some((link, us, e.data));
                    }
                    _ => {}
                }
                if let Some((link, us, data)) = frame {
                    first_ts.get_or_insert(us);
                    if let Some(s) = decode_frame(link, data) {
                        segs.push(s);
                    }
                }
                reader.consume(len);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => {
                return Err(io::Error::other(format!("{}: {e:?}", path.display())));
            }
        }
    }
    Ok((segs, first_ts.unwrap_or(0)))
}

/// Split a capture's segments into flows (first-seen order) of events.
fn assemble_flows(segs: Vec<RawSeg>) -> Vec<SourceFlow> {
    type Key = (SocketAddr, SocketAddr);
    let canon = |a: SocketAddr, b: SocketAddr| if a <= b { (a, b) } else { (b, a) };
    let mut order: Vec<Key> = Vec::new();
    let mut by_key: BTreeMap<Key, Vec<RawSeg>> = BTreeMap::new();
    for s in segs {
        let k = canon(s.src, s.dst);
        if !by_key.contains_key(&k) {
            order.push(k);
        }
        by_key.entry(k).or_default().push(s);
    }
    let mut flows = Vec::new();
    for k in order {
        let Some(segs) = by_key.remove(&k) else {
            continue;
        };
        // Client: the pure SYN's sender, else the side not on the audited port.
        let client = segs
            .iter()
            .find(|s| s.syn && !s.ack)
            .map(|s| s.src)
            .unwrap_or(if k.1.port() == SIP_TLS_PORT { k.0 } else { k.1 });
        let v6 = client.is_ipv6();
        let mut base: [Option<u32>; 2] = [None, None];
        let mut have: [u64; 2] = [0, 0];
        let mut events = Vec::new();
        for s in segs {
            let side = usize::from(s.src != client);
            if s.syn {
                base[side] = Some(s.seq.wrapping_add(1));
            }
            let b = *base[side].get_or_insert(s.seq);
            let rel = u64::from(s.seq.wrapping_sub(b));
            let end = rel + s.payload.len() as u64;
            let fresh = if end > have[side] && rel <= have[side] + (1 << 20) {
                let skip = have[side].saturating_sub(rel) as usize;
                s.payload.get(skip..).unwrap_or(&[]).to_vec()
            } else {
                Vec::new()
            };
            let start = end - fresh.len() as u64;
            if !fresh.is_empty() {
                have[side] = end;
            }
            if fresh.is_empty() && !s.syn && !s.fin && !s.rst {
                continue; // pure ACK or retransmission: the replay makes its own ACKs
            }
            events.push(Event {
                side,
                rel: start,
                data: fresh,
                syn: s.syn,
                fin: s.fin,
                rst: s.rst,
            });
        }
        let (bulk_at, app_record, empty_fragment) = find_bulk_point(&events);
        flows.push(SourceFlow {
            v6,
            events,
            bulk_at,
            app_record,
            empty_fragment,
        });
    }
    flows
}

/// Walk each side's TLS records; find where bulk data may go (see the
/// module docs), an application-data record to model bulk records on, and
/// the length of empty fragments where a side writes them.
#[allow(clippy::type_complexity)]
fn find_bulk_point(
    events: &[Event],
) -> (
    Option<usize>,
    [Option<([u8; 2], usize)>; 2],
    [Option<usize>; 2],
) {
    // Per side: offset of the next record header, and whether the walk is still in sync.
    let mut next_hdr: [u64; 2] = [0, 0];
    let mut stream: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut in_sync = [true, true];
    let mut app: [Option<([u8; 2], usize)>; 2] = [None, None];
    let mut min_app: [usize; 2] = [usize::MAX, usize::MAX];
    let mut starts_with_app: Vec<bool> = Vec::with_capacity(events.len());
    // Per side: lengths of application-data records followed by another one
    // in the same segment.
    let mut followed: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for ev in events {
        let s = ev.side;
        let mut prev_app_in_event: Option<usize> = None;
        let at_boundary = in_sync[s] && ev.rel == next_hdr[s];
        let mut first_type = None;
        if in_sync[s] && ev.rel == stream[s].len() as u64 {
            stream[s].extend_from_slice(&ev.data);
        } else if !ev.data.is_empty() {
            in_sync[s] = false;
        }
        while in_sync[s] {
            let off = next_hdr[s] as usize;
            let Some(h) = stream[s].get(off..off + 5) else {
                break;
            };
            let (ty, ver, len) = (
                h[0],
                [h[1], h[2]],
                usize::from(u16::from_be_bytes([h[3], h[4]])),
            );
            if !(20..=24).contains(&ty) || len > MAX_RECORD {
                in_sync[s] = false;
                break;
            }
            if at_boundary && first_type.is_none() {
                first_type = Some(ty);
            }
            if ty == 23 {
                if let Some(prev) = prev_app_in_event {
                    followed[s].push(prev);
                }
                prev_app_in_event = Some(len);
                min_app[s] = min_app[s].min(len);
                if app[s].is_none_or(|(_, l)| len > l) {
                    app[s] = Some((ver, len));
                }
            }
            if ty != 23 {
                prev_app_in_event = None;
            }
            next_hdr[s] += 5 + len as u64;
        }
        starts_with_app.push(at_boundary && first_type == Some(23));
    }
    // A model length equal to the minimal one (only empty fragments seen) is useless.
    for s in 0..2 {
        if let Some((_, l)) = app[s] {
            if l <= min_app[s] {
                app[s] = None;
            }
        }
    }
    let empty_fragment = [0, 1].map(|s| {
        let min = min_app[s];
        (app[s].is_some() && followed[s].contains(&min)).then_some(min)
    });
    if app[0].is_none() || app[1].is_none() {
        return (None, app, empty_fragment);
    }
    let at = (1..events.len()).find(|&i| {
        starts_with_app[i] && events[i - 1].side != events[i].side && !events[i - 1].data.is_empty()
    });
    (at, app, empty_fragment)
}

fn load_sources(dir: &Path) -> io::Result<Vec<Source>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io::Error::other(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    paths.sort();
    let mut sources = Vec::new();
    for p in paths {
        let (segs, first_ts) = read_segments(&p)?;
        let flows: Vec<SourceFlow> = assemble_flows(segs)
            .into_iter()
            .filter(|f| f.events.iter().any(|e| !e.data.is_empty()))
            .collect();
        if flows.is_empty() {
            continue;
        }
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expect_path = p.with_file_name(format!("{name}.expect.json"));
        let expect = match std::fs::read(&expect_path) {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| io::Error::other(format!("{}: {e}", expect_path.display())))?;
                match v.get("flows").and_then(|f| f.as_array()) {
                    Some(per_flow) => per_flow.clone(),
                    None => vec![v; flows.len()],
                }
            }
            Err(_) => Vec::new(),
        };
        sources.push(Source {
            name,
            flows,
            expect,
            first_ts,
        });
    }
    if sources.is_empty() {
        return Err(io::Error::other(format!(
            "{}: no capture with a TCP flow found",
            dir.display()
        )));
    }
    Ok(sources)
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

struct Writer<W: Write> {
    out: W,
    format: Format,
    buf: Vec<u8>,
    written: u64,
    /// Bytes the same packets take as classic pcap: the size limit counts
    /// these, so a pcapng twin holds exactly the same packets.
    volume: u64,
    packets: u64,
}

impl<W: Write> Writer<W> {
    fn new(mut out: W, format: Format) -> io::Result<Self> {
        let mut hdr = Vec::new();
        match format {
            Format::Pcap => {
                hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
                hdr.extend_from_slice(&2u16.to_le_bytes());
                hdr.extend_from_slice(&4u16.to_le_bytes());
                hdr.extend_from_slice(&0i32.to_le_bytes());
                hdr.extend_from_slice(&0u32.to_le_bytes());
                hdr.extend_from_slice(&262_144u32.to_le_bytes());
                hdr.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
            }
            Format::PcapNg => {
                // Section header block (no options), then one Ethernet interface.
                hdr.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
                hdr.extend_from_slice(&28u32.to_le_bytes());
                hdr.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
                hdr.extend_from_slice(&1u16.to_le_bytes());
                hdr.extend_from_slice(&0u16.to_le_bytes());
                hdr.extend_from_slice(&(-1i64).to_le_bytes());
                hdr.extend_from_slice(&28u32.to_le_bytes());
                hdr.extend_from_slice(&1u32.to_le_bytes());
                hdr.extend_from_slice(&20u32.to_le_bytes());
                hdr.extend_from_slice(&1u16.to_le_bytes());
                hdr.extend_from_slice(&0u16.to_le_bytes());
                hdr.extend_from_slice(&262_144u32.to_le_bytes());
                hdr.extend_from_slice(&20u32.to_le_bytes());
            }
        }
        out.write_all(&hdr)?;
        Ok(Writer {
            out,
            format,
            buf: Vec::with_capacity(2048),
            written: hdr.len() as u64,
            volume: 24,
            packets: 0,
        })
    }

    /// Write `self.buf` (one Ethernet frame) as a record at `ts_us`.
    fn record(&mut self, ts_us: u64) -> io::Result<()> {
        let len = self.buf.len() as u32;
        match self.format {
            Format::Pcap => {
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
                h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
                h[8..12].copy_from_slice(&len.to_le_bytes());
                h[12..16].copy_from_slice(&len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(&self.buf)?;
                self.written += 16 + u64::from(len);
            }
            Format::PcapNg => {
                let pad = (4 - (len % 4)) % 4;
                let total = 32 + len + pad;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_le_bytes());
                h[4..8].copy_from_slice(&total.to_le_bytes());
                h[8..12].copy_from_slice(&0u32.to_le_bytes());
                h[12..16].copy_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(ts_us as u32).to_le_bytes());
                h[20..24].copy_from_slice(&len.to_le_bytes());
                h[24..28].copy_from_slice(&len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(&self.buf)?;
                self.out.write_all(&[0u8; 3][..pad as usize])?;
                self.out.write_all(&total.to_le_bytes())?;
                self.written += u64::from(total);
            }
        }
        self.volume += 16 + u64::from(len);
        self.packets += 1;
        Ok(())
    }
}

/// A packet to emit.
#[derive(Clone)]
struct Pkt {
    src: SocketAddr,
    dst: SocketAddr,
    /// None = UDP.
    tcp: Option<TcpHdr>,
    payload: Payload,
}

#[derive(Clone, Copy)]
struct TcpHdr {
    seq: u32,
    ack: u32,
    /// FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10.
    flags: u8,
}

/// Payload bytes: owned (handshake, record headers) or a slice of the noise pool.
#[derive(Clone)]
enum Payload {
    Owned(Vec<u8>),
    /// Record header bytes (possibly none) followed by `len` noise bytes from `off`.
    Noise {
        head: Vec<u8>,
        off: usize,
        len: usize,
    },
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::Owned(v) => v.len(),
            Payload::Noise { head, len, .. } => head.len() + len,
        }
    }
}

fn checksum_add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

fn checksum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Serialise `p` as Ethernet + IPv4/IPv6 + TCP/UDP into `buf`.
fn build_frame(buf: &mut Vec<u8>, p: &Pkt, noise: &[u8]) {
    buf.clear();
    let v6 = p.src.is_ipv6();
    buf.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
    buf.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    let l4_len = if p.tcp.is_some() { 20 } else { 8 } + p.payload.len();
    let proto = if p.tcp.is_some() { 6u8 } else { 17 };
    let ip_start = buf.len();
    let mut pseudo = 0u32;
    match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + l4_len) as u16;
            buf.extend_from_slice(&[0x45, 0]);
            buf.extend_from_slice(&total.to_be_bytes());
            buf.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
            let c = checksum_fold(checksum_add(0, &buf[ip_start..]));
            buf[ip_start + 10..ip_start + 12].copy_from_slice(&c.to_be_bytes());
            pseudo = checksum_add(pseudo, &s.octets());
            pseudo = checksum_add(pseudo, &d.octets());
        }
        (s, d) => {
            let (s, d) = (v6_of(s), v6_of(d));
            buf.extend_from_slice(&[0x60, 0, 0, 0]);
            buf.extend_from_slice(&(l4_len as u16).to_be_bytes());
            buf.extend_from_slice(&[proto, 64]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
            pseudo = checksum_add(pseudo, &s.octets());
            pseudo = checksum_add(pseudo, &d.octets());
        }
    }
    pseudo += u32::from(proto) + l4_len as u32;
    let l4 = buf.len();
    match p.tcp {
        Some(t) => {
            buf.extend_from_slice(&p.src.port().to_be_bytes());
            buf.extend_from_slice(&p.dst.port().to_be_bytes());
            buf.extend_from_slice(&t.seq.to_be_bytes());
            buf.extend_from_slice(&t.ack.to_be_bytes());
            buf.extend_from_slice(&[0x50, t.flags, 0xff, 0xff, 0, 0, 0, 0]);
        }
        None => {
            buf.extend_from_slice(&p.src.port().to_be_bytes());
            buf.extend_from_slice(&p.dst.port().to_be_bytes());
            buf.extend_from_slice(&(l4_len as u16).to_be_bytes());
            buf.extend_from_slice(&[0, 0]);
        }
    }
    match &p.payload {
        Payload::Owned(v) => buf.extend_from_slice(v),
        Payload::Noise { head, off, len } => {
            buf.extend_from_slice(head);
            buf.extend_from_slice(&noise[*off..*off + *len]);
        }
    }
    let c = checksum_fold(checksum_add(pseudo, &buf[l4..]));
    let at = if p.tcp.is_some() { l4 + 16 } else { l4 + 6 };
    buf[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Truth-file names of the sides.
const SIDE_NAMES: [&str; 2] = ["client", "server"];

/// SYN, FIN or RST: segments that never move, and that nothing moves past
/// (a segment after the close would open a new flow).
fn is_control(p: &Pkt) -> bool {
    p.tcp.is_some_and(|t| t.flags & 0x07 != 0)
}

fn v6_of(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V6(v) => v,
        IpAddr::V4(v) => v.to_ipv6_mapped(),
    }
}

// ---------------------------------------------------------------------------
// Jobs: one interleaved unit of traffic each
// ---------------------------------------------------------------------------

/// One TCP connection being replayed.
struct Conn {
    ends: [SocketAddr; 2],
    /// Next sequence number per side (after the ISN once the SYN is sent).
    next: [u32; 2],
    isn: [u32; 2],
    /// Bytes inserted so far per side (shifts later source offsets).
    shift: [u64; 2],
    unacked: [u32; 2],
}

impl Conn {
    fn seg(&self, side: usize, flags: u8, payload: Payload, seq: u32) -> Pkt {
        Pkt {
            src: self.ends[side],
            dst: self.ends[1 - side],
            tcp: Some(TcpHdr {
                seq,
                ack: self.next[1 - side],
                flags,
            }),
            payload,
        }
    }

    fn ack(&mut self, side: usize) -> Pkt {
        self.unacked[1 - side] = 0;
        self.seg(side, 0x10, Payload::Owned(Vec::new()), self.next[side])
    }

    /// Cut one write into MSS segments (with ACKs from the peer every two).
    fn write(&mut self, side: usize, data: Payload, fin: bool, out: &mut VecDeque<Pkt>) {
        let total = data.len();
        let mut pos = 0;
        while pos < total || (total == 0 && pos == 0) {
            let n = (total - pos).min(MSS);
            let piece = match &data {
                Payload::Owned(v) => Payload::Owned(v[pos..pos + n].to_vec()),
                Payload::Noise { head, off, .. } => {
                    let h = head.get(pos..).map(|h| h.len().min(n)).unwrap_or(0);
                    let head_part = head.get(pos..pos + h).unwrap_or(&[]).to_vec();
                    let noise_from = off + pos.saturating_sub(head.len());
                    Payload::Noise {
                        head: head_part,
                        off: noise_from,
                        len: n - h,
                    }
                }
            };
            pos += n;
            let last = pos >= total;
            let mut flags = 0x10;
            if last {
                flags |= 0x08;
                if fin {
                    flags |= 0x01;
                }
            }
            let seq = self.next[side];
            out.push_back(self.seg(side, flags, piece, seq));
            self.next[side] = self.next[side].wrapping_add(n as u32 + u32::from(last && fin));
            self.unacked[side] += 1;
            if self.unacked[side] >= 2 {
                let a = self.ack(1 - side);
                out.push_back(a);
            }
            if total == 0 {
                break;
            }
        }
    }
}

enum JobKind {
    /// Replay of all flows of one source capture, one after the other.
    Tls {
        source: usize,
        flow: usize,
        event: usize,
        conn: Option<Conn>,
        /// Bulk bytes still to insert into the current flow, per side.
        bulk: [u64; 2],
        port: u16,
        audited: bool,
        /// The current flow's truth entry, written when the flow ends
        /// (`--tap` adds the empty fragments it inserts to the expectation).
        entry: Option<serde_json::Value>,
        /// Empty fragments inserted into the current flow, per side.
        inserted_empty: [u64; 2],
    },
    BulkTcp {
        conn: Conn,
        left: u64,
        stage: u8,
        /// Payload head of the first write of each side (e.g. an HTTP request / response line).
        heads: [&'static [u8]; 2],
    },
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        left: u32,
        /// Payload head of every datagram (SIP request line, RTP header, DNS id…).
        head: &'static [u8],
        /// Payload length range (head included).
        len: (u64, u64),
    },
}

struct Job {
    kind: JobKind,
    queue: VecDeque<Pkt>,
    done: bool,
    /// Bytes of this job count as audited traffic (`--tap` keeps the mix).
    audited: bool,
}

struct Truth {
    out: Option<BufWriter<File>>,
    first: bool,
    flows: u64,
}

impl Truth {
    fn flow(&mut self, entry: serde_json::Value) -> io::Result<()> {
        self.flows += 1;
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        out.write_all(if self.first { b"\n    " } else { b",\n    " })?;
        self.first = false;
        serde_json::to_writer(&mut *out, &entry)?;
        Ok(())
    }
}

struct Gen {
    rng: Rng,
    sources: Vec<Source>,
    noise: Vec<u8>,
    /// Clients allocated so far (makes every 4-tuple unique).
    next_client: u32,
    bulk_max: u64,
    counts: BTreeMap<&'static str, u64>,
    tap: Option<Tap>,
    /// `--tap`: mean bulk bytes per side of a flow that takes bulk data.
    tap_bulk_mean: u64,
}

impl Gen {
    fn client_addr(&mut self, v6: bool) -> SocketAddr {
        self.next_client += 1;
        let n = self.next_client;
        let port = 1024 + (self.rng.next() % 60000) as u16;
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                2,
                0,
                0,
                0,
                (n >> 16) as u16,
                n as u16,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                10,
                64 + ((n >> 16) & 0x3f) as u8,
                (n >> 8) as u8,
                n as u8,
            ))
        };
        SocketAddr::new(ip, port)
    }

    fn server_addr(&mut self, v6: bool, port: u16) -> SocketAddr {
        let n = self.rng.range(1, 8) as u16;
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, n))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 1, 0, n as u8))
        };
        SocketAddr::new(ip, port)
    }

    fn new_conn(&mut self, v6: bool, port: u16) -> Conn {
        let isn = [self.rng.next() as u32, self.rng.next() as u32];
        Conn {
            ends: [self.client_addr(v6), self.server_addr(v6, port)],
            next: isn,
            isn,
            shift: [0, 0],
            unacked: [0, 0],
        }
    }

    fn tls_job(&mut self, port: u16, audited: bool) -> JobKind {
        let source = (self.rng.next() % self.sources.len() as u64) as usize;
        tls_kind(source, port, audited)
    }

    fn udp_job(
        &mut self,
        port: u16,
        head: &'static [u8],
        len: (u64, u64),
        n: (u64, u64),
    ) -> JobKind {
        let src = self.client_addr(false);
        let dst = self.server_addr(false, port);
        JobKind::Udp {
            src,
            dst,
            left: self.rng.range(n.0, n.1) as u32,
            head,
            len,
        }
    }

    /// `--tap`: an audited flow while audited bytes are short of their
    /// share, else one unit of other traffic.
    fn new_tap_job(&mut self, audited_short: bool) -> Job {
        if audited_short {
            *self.counts.entry("tls-5062-units").or_default() += 1;
            let kind = self.tls_job(SIP_TLS_PORT, true);
            return Job {
                kind,
                queue: VecDeque::new(),
                done: false,
                audited: true,
            };
        }
        let roll = self.rng.next() % 100;
        let kind = if roll < 30 {
            *self.counts.entry("tls-other-port-units").or_default() += 1;
            let port = [443u16, 5061][(self.rng.next() % 2) as usize];
            self.tls_job(port, false)
        } else if roll < 45 {
            *self.counts.entry("http-bulk-flows").or_default() += 1;
            let port = [80u16, 8080][(self.rng.next() % 2) as usize];
            let conn = self.new_conn(false, port);
            let left = self.rng.range(16 << 10, 1 << 20);
            JobKind::BulkTcp {
                conn,
                left,
                stage: 0,
                heads: [
                    b"GET /download/archive.bin HTTP/1.1\r\nHost: files.example.com\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n",
                ],
            }
        } else if roll < 60 {
            *self.counts.entry("rtp-udp-streams").or_default() += 1;
            let port = 16384 + 2 * (self.rng.next() % 8192) as u16;
            // RTP v2, payload type 0 (PCMU), 20 ms of audio: 12 + 160 bytes.
            self.udp_job(port, &[0x80, 0x00], (172, 172), (100, 600))
        } else if roll < 80 {
            *self.counts.entry("sip-udp-flows").or_default() += 1;
            let port = [5060u16, 5062][(self.rng.next() % 2) as usize];
            self.udp_job(port, b"OPTIONS sip:", (300, 1400), (4, 40))
        } else {
            *self.counts.entry("dns-udp-flows").or_default() += 1;
            self.udp_job(53, &[0x12, 0x34, 0x01, 0x00], (40, 300), (2, 8))
        };
        Job {
            kind,
            queue: VecDeque::new(),
            done: false,
            audited: false,
        }
    }

    fn new_job(&mut self) -> Job {
        let roll = self.rng.next() % 100;
        let kind = if roll < 62 {
            let source = (self.rng.next() % self.sources.len() as u64) as usize;
            *self.counts.entry("tls-5062-units").or_default() += 1;
            tls_kind(source, SIP_TLS_PORT, true)
        } else if roll < 77 {
            let source = (self.rng.next() % self.sources.len() as u64) as usize;
            *self.counts.entry("tls-other-port-units").or_default() += 1;
            let port = [443u16, 5061, 8443][(self.rng.next() % 3) as usize];
            tls_kind(source, port, false)
        } else if roll < 87 {
            *self.counts.entry("bulk-tcp-flows").or_default() += 1;
            let port = [80u16, 445, 2049, 5060][(self.rng.next() % 4) as usize];
            let conn = self.new_conn(false, port);
            let left = self.rng.range(self.bulk_max / 2, self.bulk_max * 2);
            JobKind::BulkTcp {
                conn,
                left,
                stage: 0,
                heads: [b"", b""],
            }
        } else {
            *self.counts.entry("udp-5062-flows").or_default() += 1;
            let src = self.client_addr(false);
            let dst = self.server_addr(false, SIP_TLS_PORT);
            JobKind::Udp {
                src,
                dst,
                left: self.rng.range(10, 200) as u32,
                head: b"OPTIONS sip:",
                // The 12-byte head plus 200 to 1400 noise bytes.
                len: (212, 1412),
            }
        };
        let audited = matches!(kind, JobKind::Tls { audited: true, .. });
        Job {
            kind,
            queue: VecDeque::new(),
            done: false,
            audited,
        }
    }

    fn noise_payload(&mut self, head: Vec<u8>, len: usize) -> Payload {
        let off = (self.rng.next() % (NOISE_BYTES - MAX_WRITE) as u64) as usize;
        Payload::Noise { head, off, len }
    }

    /// Refill `job.queue` with its next burst of packets.
    fn step(&mut self, job: &mut Job, truth: &mut Truth) -> io::Result<()> {
        let mut q = std::mem::take(&mut job.queue);
        match &mut job.kind {
            JobKind::Udp {
                src,
                dst,
                left,
                head,
                len,
            } => {
                if *left == 0 {
                    job.done = true;
                } else {
                    *left -= 1;
                    let n = (self.rng.range(len.0, len.1) as usize).saturating_sub(head.len());
                    let (s, d) = if self.rng.chance(500) {
                        (*src, *dst)
                    } else {
                        (*dst, *src)
                    };
                    let payload = self.noise_payload(head.to_vec(), n);
                    q.push_back(Pkt {
                        src: s,
                        dst: d,
                        tcp: None,
                        payload,
                    });
                }
            }
            JobKind::BulkTcp {
                conn,
                left,
                stage,
                heads,
            } => match *stage {
                0 => {
                    q.push_back(conn.seg(0, 0x02, Payload::Owned(Vec::new()), conn.isn[0]));
                    conn.next[0] = conn.isn[0].wrapping_add(1);
                    q.push_back(conn.seg(1, 0x12, Payload::Owned(Vec::new()), conn.isn[1]));
                    conn.next[1] = conn.isn[1].wrapping_add(1);
                    q.push_back(conn.ack(0));
                    *stage = 1;
                }
                1 if *left > 0 => {
                    let n = (*left).min(MAX_WRITE as u64) as usize;
                    *left -= n as u64;
                    // Noise first, then the side: the default capture's bytes
                    // stay what they were before `--tap` existed.
                    let mut payload = self.noise_payload(Vec::new(), n);
                    let side = usize::from(self.rng.chance(100));
                    if let Payload::Noise { head, .. } = &mut payload {
                        *head = std::mem::take(&mut heads[side]).to_vec();
                    }
                    let start = q.len();
                    conn.write(side, payload, false, &mut q);
                    self.mangle(&mut q, start);
                }
                1 => {
                    conn.write(0, Payload::Owned(Vec::new()), true, &mut q);
                    conn.write(1, Payload::Owned(Vec::new()), true, &mut q);
                    q.push_back(conn.ack(0));
                    *stage = 2;
                }
                _ => job.done = true,
            },
            JobKind::Tls {
                source,
                flow,
                event,
                conn,
                bulk,
                port,
                audited,
                entry: entry_slot,
                inserted_empty,
            } => {
                let src = &self.sources[*source];
                let Some(sf) = src.flows.get(*flow) else {
                    job.done = true;
                    job.queue = q;
                    return Ok(());
                };
                if conn.is_none() {
                    let v6 = sf.v6;
                    let mut c = self.new_conn(v6, *port);
                    if v6 {
                        // Keep IPv6 flows IPv6 (the clone is otherwise identical).
                        c.ends = [self.client_addr(true), self.server_addr(true, *port)];
                    }
                    let src = &self.sources[*source];
                    let sf = &src.flows[*flow];
                    if sf.bulk_at.is_some() {
                        for b in bulk.iter_mut() {
                            *b = match self.tap {
                                Some(_) => self
                                    .rng
                                    .range(self.tap_bulk_mean / 4, self.tap_bulk_mean * 7 / 4),
                                None => self.rng.range(self.bulk_max / 10, self.bulk_max),
                            };
                        }
                    } else {
                        *bulk = [0, 0];
                    }
                    if *audited {
                        let mut entry = serde_json::json!({
                            "client": c.ends[0].to_string(),
                            "server": c.ends[1].to_string(),
                            "source": src.name,
                            "source_flow": *flow,
                            "bulk_bytes": if sf.bulk_at.is_some() { bulk[0] + bulk[1] } else { 0 },
                        });
                        if let Some(e) = src.expect.get(*flow) {
                            entry["expect"] = e.clone();
                        }
                        *entry_slot = Some(entry);
                    }
                    *inserted_empty = [0, 0];
                    *conn = Some(c);
                    *event = 0;
                }
                let Some(c) = conn.as_mut() else {
                    job.queue = q;
                    return Ok(());
                };
                let src = &self.sources[*source];
                let sf = &src.flows[*flow];
                if sf.bulk_at == Some(*event) && (bulk[0] > 0 || bulk[1] > 0) {
                    // Bulk: the side that speaks next first, then the other (see module docs).
                    let next_side = sf.events[*event].side;
                    let side = if bulk[next_side] > 0 {
                        next_side
                    } else {
                        1 - next_side
                    };
                    let Some((ver, model)) = sf.app_record[side] else {
                        *bulk = [0, 0];
                        job.queue = q;
                        return Ok(());
                    };
                    let payload = if self.tap.is_some() {
                        // SIP-sized writes of one to four records, each as
                        // long as the suite makes it (an observed length
                        // plus whole blocks), after an empty fragment where
                        // this side writes them.
                        let expects_empty = entry_slot
                            .as_ref()
                            .and_then(|e| {
                                e.pointer(&format!("/expect/empty_fragments/{}", SIDE_NAMES[side]))
                            })
                            .and_then(serde_json::Value::as_u64)
                            .is_some_and(|n| n > 0);
                        let mut bytes = Vec::new();
                        if let (Some(ef), true) = (sf.empty_fragment[side], expects_empty) {
                            self.push_record(&mut bytes, ver, ef);
                            inserted_empty[side] += 1;
                        }
                        for _ in 0..self.rng.range(1, 4) {
                            let extra = 16 * self.rng.range(0, 200) as usize;
                            self.push_record(&mut bytes, ver, (model + extra).min(MAX_RECORD));
                        }
                        Payload::Owned(bytes)
                    } else {
                        let extra =
                            16 * self.rng.range(0, ((MAX_RECORD - model) / 16) as u64) as usize;
                        let len = (model + extra).min(MAX_RECORD);
                        let mut head = vec![23, ver[0], ver[1]];
                        head.extend_from_slice(&(len as u16).to_be_bytes());
                        self.noise_payload(head, len)
                    };
                    let n = payload.len() as u64;
                    let start = q.len();
                    c.write(side, payload, false, &mut q);
                    self.mangle(&mut q, start);
                    c.shift[side] += n;
                    bulk[side] = bulk[side].saturating_sub(n);
                    job.queue = q;
                    return Ok(());
                }
                let Some(ev) = sf.events.get(*event) else {
                    // Flow done: the next flow of the same source follows.
                    if let Some(mut e) = entry_slot.take() {
                        for (side, name) in SIDE_NAMES.iter().enumerate() {
                            let pointer = format!("/expect/empty_fragments/{name}");
                            if let Some(v) = e.pointer_mut(&pointer) {
                                if let Some(n) = v.as_u64() {
                                    *v = (n + inserted_empty[side]).into();
                                }
                            }
                        }
                        truth.flow(e)?;
                    }
                    *flow += 1;
                    *conn = None;
                    job.queue = q;
                    return Ok(());
                };
                let ev = ev.clone();
                *event += 1;
                let side = ev.side;
                if ev.syn {
                    let flags = if side == 0 { 0x02 } else { 0x12 };
                    let p = Pkt {
                        src: c.ends[side],
                        dst: c.ends[1 - side],
                        tcp: Some(TcpHdr {
                            seq: c.isn[side],
                            ack: if side == 0 { 0 } else { c.next[0] },
                            flags,
                        }),
                        payload: Payload::Owned(Vec::new()),
                    };
                    q.push_back(p);
                    c.next[side] = c.isn[side].wrapping_add(1);
                    if side == 1 {
                        q.push_back(c.ack(0));
                    }
                } else {
                    // Source offsets map to this clone's sequence space.
                    let seq = c.isn[side]
                        .wrapping_add(1)
                        .wrapping_add((ev.rel + c.shift[side]) as u32);
                    c.next[side] = seq;
                    if ev.rst {
                        q.push_back(c.seg(side, 0x14, Payload::Owned(ev.data.clone()), seq));
                    } else {
                        let start = q.len();
                        c.write(side, Payload::Owned(ev.data.clone()), ev.fin, &mut q);
                        if self.tap.is_some() {
                            self.mangle(&mut q, start);
                        } else if !ev.data.is_empty() && self.rng.chance(5) {
                            // A retransmission of the last data segment.
                            if let Some(dup) = q.iter().rev().find(|p| p.payload.len() > 0).cloned()
                            {
                                q.push_back(dup);
                            }
                        }
                        if ev.fin || c.unacked[side] > 0 {
                            q.push_back(c.ack(1 - side));
                        }
                    }
                }
            }
        }
        job.queue = q;
        Ok(())
    }

    /// One application-data record of `len` noise bytes, appended to `out`.
    fn push_record(&mut self, out: &mut Vec<u8>, ver: [u8; 2], len: usize) {
        out.extend_from_slice(&[23, ver[0], ver[1]]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        let off = (self.rng.next() % (NOISE_BYTES - MAX_WRITE) as u64) as usize;
        out.extend_from_slice(&self.noise[off..off + len]);
    }

    /// `--tap`: each data segment of `q[start..]` is, with probability
    /// `per_mille`/1000, retransmitted (a copy up to two packets later) or
    /// overtaken by the next data segment of its side. Nothing moves past
    /// a SYN, FIN or RST.
    fn mangle_tap(&mut self, q: &mut VecDeque<Pkt>, start: usize, per_mille: u64) {
        let mut i = start;
        while i < q.len() {
            if q[i].payload.len() == 0 || is_control(&q[i]) {
                i += 1;
                continue;
            }
            let roll = self.rng.next() % 1000;
            if roll < per_mille / 2 {
                let mut at = i + 1;
                let mut later = self.rng.range(0, 2);
                while later > 0 && at < q.len() && !is_control(&q[at]) {
                    at += 1;
                    later -= 1;
                }
                let dup = q[i].clone();
                q.insert(at, dup);
                *self.counts.entry("retransmitted-segments").or_default() += 1;
            } else if roll < per_mille {
                let src = q[i].src;
                let next = (i + 1..q.len())
                    .take_while(|&j| !is_control(&q[j]))
                    .find(|&j| q[j].src == src && q[j].payload.len() > 0);
                if let Some(j) = next {
                    if let Some(p) = q.remove(i) {
                        q.insert(j, p);
                        *self.counts.entry("reordered-segments").or_default() += 1;
                    }
                }
            }
            i += 1;
        }
    }

    /// Duplicated and swapped data segments among `q[start..]`: with
    /// `--tap` each data segment at the tap's rate (half retransmitted, half
    /// overtaken by the next data segment of its side), else a few per write.
    fn mangle(&mut self, q: &mut VecDeque<Pkt>, start: usize) {
        if let Some(tap) = self.tap {
            self.mangle_tap(q, start, tap.mangle_per_mille);
            return;
        }
        let len = q.len();
        if len < start + 3 {
            return;
        }
        if self.rng.chance(30) {
            let i = self.rng.range(start as u64, (len - 2) as u64) as usize;
            if q[i].payload.len() > 0 && q[i + 1].payload.len() > 0 {
                q.swap(i, i + 1);
            }
        }
        if self.rng.chance(30) {
            let i = self.rng.range(start as u64, (len - 1) as u64) as usize;
            if q[i].payload.len() > 0 {
                let dup = q[i].clone();
                q.insert(i + 1, dup);
            }
        }
    }
}

fn run() -> io::Result<()> {
    let opts = parse_args()?;
    let out: Box<dyn Write> = if opts.out == "-" {
        Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock()))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, File::create(&opts.out)?))
    };
    let s = generate(&opts, out)?;
    eprintln!(
        "gencap: {} packets, {} bytes, {} audited flows",
        s.packets, s.bytes, s.audited_flows
    );
    Ok(())
}

/// What was written.
pub struct Summary {
    pub packets: u64,
    pub bytes: u64,
    pub audited_flows: u64,
}

/// `--tap`: mean bulk bytes per side of a flow that takes bulk data, so that
/// audited flows, each a handshake plus its bulk, number about `tap.flows`.
fn tap_bulk_mean(sources: &[Source], size: u64, tap: Tap) -> u64 {
    let flows = tap
        .flows
        .unwrap_or_else(|| (size as u128 * 10_700 / (1u128 << 30)) as u64)
        .max(1);
    let audited_bytes = size as f64 * (100 - tap.noise_percent) as f64 / 100.0;
    let per_flow = audited_bytes / flows as f64;
    // A job replays every flow of one source picked at random: expectations per job.
    let n = sources.len() as f64;
    let flows_per_job = sources.iter().map(|s| s.flows.len()).sum::<usize>() as f64 / n;
    let bulk_flows_per_job = sources
        .iter()
        .map(|s| s.flows.iter().filter(|f| f.bulk_at.is_some()).count())
        .sum::<usize>() as f64
        / n;
    // Handshake bytes on the wire: payload plus about 100 bytes of headers
    // and ACKs per segment.
    let handshake_per_job = sources
        .iter()
        .flat_map(|s| &s.flows)
        .flat_map(|f| &f.events)
        .map(|e| e.data.len() as f64 + 100.0)
        .sum::<f64>()
        / n;
    // Bulk travels in MSS segments: 1448 payload bytes cost about 1550.
    let wire = 1550.0 / 1448.0;
    let bulk_per_job = (per_flow * flows_per_job - handshake_per_job).max(0.0) / wire;
    if bulk_flows_per_job == 0.0 {
        return 0;
    }
    (bulk_per_job / bulk_flows_per_job / 2.0) as u64
}

/// Write a capture as `opts` says (`opts.out` is ignored: `out` is the sink).
pub fn generate(opts: &Opts, out: Box<dyn Write + '_>) -> io::Result<Summary> {
    let sources = load_sources(&opts.from)?;
    let mut rng = Rng(opts.seed);
    let noise: Vec<u8> = (0..NOISE_BYTES / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    let start_us = sources.iter().map(|s| s.first_ts).min().unwrap_or(0);
    let mut gen = Gen {
        rng,
        sources,
        noise,
        next_client: 0,
        bulk_max: (opts.size / 400).clamp(4096, 256 << 10),
        counts: BTreeMap::new(),
        tap: opts.tap,
        tap_bulk_mean: 0,
    };
    if let Some(tap) = opts.tap {
        gen.tap_bulk_mean = tap_bulk_mean(&gen.sources, opts.size, tap);
    }
    let concurrent = opts.tap.map_or(CONCURRENT, |t| t.concurrent);
    // `--tap`: capture bytes of audited flows, to keep their share.
    let mut audited_volume: u64 = 0;
    let mut w = Writer::new(out, opts.format)?;
    let mut truth = Truth {
        out: match &opts.truth {
            Some(p) => Some(BufWriter::new(File::create(p)?)),
            None => None,
        },
        first: true,
        flows: 0,
    };
    if let Some(t) = truth.out.as_mut() {
        write!(t, "{{\n  \"seed\": {},\n  \"flows\": [", opts.seed)?;
    }
    // Open units: one pool, or with `--tap` audited flows (pool 0) and other
    // traffic (pool 1, a quarter as many), each packet taken from the pool
    // whose share of the bytes is short, so that long noise units cannot
    // crowd out the audited flows.
    let mut pools: [Vec<Job>; 2] = [Vec::with_capacity(concurrent), Vec::new()];
    let mut ts = start_us;
    let mut noise = std::mem::take(&mut gen.noise);
    loop {
        let filling = w.volume < opts.size;
        let audited_short = opts.tap.is_some_and(|tap| {
            let share = u128::from(100 - tap.noise_percent);
            u128::from(audited_volume) * 100 < u128::from(w.volume) * share
        });
        if filling {
            match opts.tap {
                Some(tap) => {
                    while pools[0].len() < concurrent {
                        pools[0].push(gen.new_tap_job(true));
                    }
                    let others = (concurrent / 4).max(1);
                    while tap.noise_percent > 0 && pools[1].len() < others {
                        pools[1].push(gen.new_tap_job(false));
                    }
                }
                None => {
                    while pools[0].len() < concurrent {
                        pools[0].push(gen.new_job());
                    }
                }
            }
        }
        let pool = match (pools[0].is_empty(), pools[1].is_empty()) {
            (true, true) => break,
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => usize::from(!audited_short),
        };
        let active = &mut pools[pool];
        let i = (gen.rng.next() % active.len() as u64) as usize;
        let job = &mut active[i];
        if job.queue.is_empty() {
            gen.noise = noise;
            gen.step(job, &mut truth)?;
            noise = std::mem::take(&mut gen.noise);
        }
        if let Some(p) = job.queue.pop_front() {
            build_frame(&mut w.buf, &p, &noise);
            ts += gen.rng.range(1, 20);
            w.record(ts)?;
            if job.audited {
                audited_volume += 16 + w.buf.len() as u64;
            }
        }
        if job.done && job.queue.is_empty() {
            active.swap_remove(i);
        }
    }
    w.out.flush()?;
    if let Some(t) = truth.out.as_mut() {
        let other: serde_json::Value = gen
            .counts
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        write!(
            t,
            "\n  ],\n  \"packets\": {},\n  \"bytes\": {},\n  \"units\": {}\n}}\n",
            w.packets, w.written, other
        )?;
        t.flush()?;
    }
    Ok(Summary {
        packets: w.packets,
        bytes: w.written,
        audited_flows: truth.flows,
    })
}
