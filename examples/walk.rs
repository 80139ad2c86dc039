//! The read floor: iterate every block of a capture with pcap-parser and
//! nothing else (no decode, no flows), the way any pcap tool must at least.
//! `bench/compare.sh` divides every other tool's time by this one's.
//!
//! ```text
//! cargo run --release --example walk -- big.pcap     # or - for stdin
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::process::ExitCode;

use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

/// Same read buffer as tlsaudit's capture reader, so the floor is comparable.
const READ_BUFFER_BYTES: usize = 1 << 20;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: walk FILE|-");
        return ExitCode::from(2);
    };
    let input: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        match File::open(&path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("walk: {path}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let mut reader = match create_reader(READ_BUFFER_BYTES, input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("walk: {path}: {e:?}");
            return ExitCode::from(2);
        }
    };
    let (mut packets, mut bytes) = (0u64, 0u64);
    loop {
        match reader.next() {
            Ok((len, block)) => {
                let caplen = match block {
                    PcapBlockOwned::Legacy(b) => Some(b.data.len()),
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(e)) => Some(e.data.len()),
                    _ => None,
                };
                if let Some(n) = caplen {
                    packets += 1;
                    bytes += n as u64;
                }
                reader.consume(len);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    eprintln!("walk: {path}: {e:?}");
                    return ExitCode::from(2);
                }
            }
            Err(e) => {
                eprintln!("walk: {path}: {e:?}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{packets} packets, {bytes} bytes captured");
    ExitCode::SUCCESS
}
