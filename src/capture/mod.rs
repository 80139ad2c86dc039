//! Capture stage: turns pcap / pcapng (optionally gzipped) files, stdin, or a
//! live interface into a stream of [`Frame`]s.
//!
//! Owns: [`Frame`], [`LinkType`], [`Timestamp`], [`CaptureError`],
//! [`CaptureWarning`]. Imports nothing from the rest of the crate.
//!
//! Invariants:
//! - `Frame::index` counts every packet block of one input from 1, the way
//!   Wireshark numbers frames, whether or not later stages use the frame.
//! - A `Frame` borrows the reader's buffer; it is valid until the next call
//!   into the reader (pcap-parser's refill rule), so nothing downstream may
//!   keep it. Later stages copy what they keep.
//! - Damage inside a file is a [`CaptureWarning`] (with the byte offset) and
//!   reading stops or resynchronises; only a file that is not a capture at all,
//!   or an I/O failure before anything was read, is a [`CaptureError`].

pub mod file;
pub mod live;
pub mod writer;

use std::fmt;
use std::path::PathBuf;

/// Link-layer header type, as in the pcap LINKTYPE_ registry. Open newtype:
/// an unknown value is still a value (R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as OpenBSD numbers it (some writers still emit 12 or 14).
    pub const RAW_12: LinkType = LinkType(12);
    pub const RAW_14: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The short name used in reports (`inputs[].link_types`).
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::NULL => "null".into(),
            Self::ETHERNET => "ethernet".into(),
            Self::RAW | Self::RAW_12 | Self::RAW_14 => "raw".into(),
            Self::LOOP => "loop".into(),
            Self::LINUX_SLL => "linux-sll".into(),
            Self::LINUX_SLL2 => "linux-sll2".into(),
            Self::IPV4 => "ipv4".into(),
            Self::IPV6 => "ipv6".into(),
            LinkType(other) => format!("linktype-{other}").into(),
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Capture time of a frame, UTC, nanosecond resolution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// `secs` come from the file (with a pcapng interface offset added):
    /// saturating, so a crafted value pins the time instead of overflowing.
    pub fn new(secs: i64, nanos: u32) -> Self {
        Timestamp {
            secs: secs.saturating_add(i64::from(nanos / 1_000_000_000)),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Whole seconds elapsed from `earlier` to `self` (saturating at 0 and
    /// at `u64::MAX`: both come from the file).
    pub fn secs_since(self, earlier: Timestamp) -> u64 {
        if self <= earlier {
            return 0;
        }
        let mut s = i128::from(self.secs) - i128::from(earlier.secs);
        if self.nanos < earlier.nanos {
            s -= 1;
        }
        u64::try_from(s.max(0)).unwrap_or(u64::MAX)
    }

    /// RFC 3339, UTC, microseconds: `2026-01-01T10:00:00.000000Z`.
    pub fn rfc3339(self) -> String {
        self.to_string()
    }

    /// RFC 3339 of `t` (this timestamp's calendar time) through padded
    /// format arguments: the general form, for what the stack buffer of
    /// `Display` does not cover.
    fn write_padded(self, t: time::OffsetDateTime, f: &mut dyn fmt::Write) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.nanos / 1000
        )
    }
}

/// RFC 3339 (see [`Timestamp::rfc3339`]), written straight into the output.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match time::OffsetDateTime::from_unix_timestamp(self.secs) {
            // Every flow's report carries several timestamps: written from
            // one stack buffer, not through seven padded format arguments.
            Ok(t) if (0..=9999).contains(&t.year()) && self.nanos < 1_000_000_000 => {
                let mut text = *b"0000-00-00T00:00:00.000000Z";
                let fields = [
                    (0..4, t.year() as u32),
                    (5..7, u32::from(u8::from(t.month()))),
                    (8..10, u32::from(t.day())),
                    (11..13, u32::from(t.hour())),
                    (14..16, u32::from(t.minute())),
                    (17..19, u32::from(t.second())),
                    (20..26, (self.nanos / 1000) % 1_000_000),
                ];
                for (range, mut value) in fields {
                    for digit in text[range].iter_mut().rev() {
                        *digit = b'0' + (value % 10) as u8;
                        value /= 10;
                    }
                }
                f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
            }
            Ok(t) => self.write_padded(t, f),
            Err(_) => write!(f, "{}.{:06}", self.secs, self.nanos / 1000),
        }
    }
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number within its input.
    pub index: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    /// Bytes present in the capture (`data.len()`).
    pub caplen: u32,
    /// Bytes the packet had on the wire (≥ caplen when snaplen cut it).
    pub origlen: u32,
    pub data: &'a [u8],
}

/// The container format of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
    Live,
}

impl CaptureFormat {
    pub fn name(self) -> &'static str {
        match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::PcapNg => "pcapng",
            CaptureFormat::Live => "live",
        }
    }
}

/// Something wrong inside an input that did not stop it from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWarning {
    /// Byte offset in the (decompressed) input where the problem was seen.
    pub offset: u64,
    pub message: String,
}

/// An input that could not be read at all (exit code 2), or an I/O failure.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: read error at byte {offset}: {source}")]
    Read {
        path: PathBuf,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng capture ({reason})")]
    NotACapture { path: PathBuf, reason: String },
    #[error("{iface}: {reason}")]
    Live { iface: String, reason: String },
    #[error("{iface}: permission denied opening a packet socket (needs CAP_NET_RAW): run it with sudo, or grant the capability once with `sudo setcap cap_net_raw+ep {exe}`")]
    LivePermission { iface: String, exe: String },
}

/// What a source knows about itself once reading is done (for `inputs[]`).
#[derive(Debug, Clone, Default)]
pub struct InputStats {
    pub format: Option<CaptureFormat>,
    pub link_types: Vec<LinkType>,
    pub packets: u64,
    /// Bytes of the input read (decompressed for gzip).
    pub bytes: u64,
    pub gzip: bool,
    pub warnings: Vec<CaptureWarning>,
    /// Kernel drop counter (live capture only).
    pub dropped: Option<u64>,
    /// SHA-256 of the whole file, when asked for and the whole file was
    /// read ([`file::FileSource::open_hashed`]).
    pub sha256: Option<String>,
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: issue 14, item 7 (if_tsoffset = i64::MAX overflowed in a debug build).
    #[test]
    fn timestamps_from_extreme_file_values_saturate_instead_of_overflowing() {
        let top = Timestamp::new(i64::MAX, 1_999_999_999);
        assert_eq!(top.secs, i64::MAX);
        assert_eq!(top.nanos, 999_999_999);
        let bottom = Timestamp::new(i64::MIN, 0);
        assert_eq!(top.secs_since(bottom), u64::MAX);
        assert_eq!(bottom.secs_since(top), 0);
        let a = Timestamp::new(10, 500);
        assert_eq!(Timestamp::new(12, 400).secs_since(a), 1);
    }

    /// The padded form the stack-buffer writer replaces.
    fn padded(ts: Timestamp) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp(ts.secs).expect("in range");
        let mut text = String::new();
        ts.write_padded(t, &mut text).expect("writes");
        text
    }

    #[test]
    fn timestamp_display_writes_rfc3339_microseconds_for_any_date() {
        let mut secs: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
        while secs < 253_402_300_799 {
            for nanos in [0, 999, 1_000, 123_456_789, 999_999_999] {
                let ts = Timestamp::new(secs, nanos);
                assert_eq!(ts.to_string(), padded(ts), "{secs}.{nanos}");
            }
            secs += 7_919_993_117; // about 251 years, a prime: every field varies
        }
        assert_eq!(
            Timestamp::new(1_767_261_600, 5_000).to_string(),
            "2026-01-01T10:00:00.000005Z"
        );
    }
}
