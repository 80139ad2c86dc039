//! Manual check of live capture: prints one line per frame (or, with
//! `--count-only`, a packets-per-second line every second) and the kernel
//! drop counter at the end.
//!
//! `livedump IFACE PORT[,PORT…] [SECONDS] [--count-only] [--promisc]`
//! (PORT `any` = every TCP port).

use std::time::{Duration, Instant};

use tlsaudit::capture::live::{LiveCapture, LiveOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags: Vec<&str> = args
        .iter()
        .filter(|a| a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let pos: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let (Some(iface), Some(ports)) = (pos.first(), pos.get(1)) else {
        eprintln!("usage: livedump IFACE PORT[,PORT...]|any [SECONDS] [--count-only] [--promisc]");
        std::process::exit(2);
    };
    let secs: u64 = pos.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut opts = LiveOptions::new(*iface, Vec::new());
    if *ports == "any" {
        opts.any_port = true;
    } else {
        opts.ports = ports.split(',').map(str::parse).collect::<Result<_, _>>()?;
    }
    opts.promiscuous = flags.contains(&"--promisc");
    let count_only = flags.contains(&"--count-only");

    let mut cap = LiveCapture::open(&opts)?;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tick = Instant::now() + Duration::from_secs(1);
    let (mut in_tick, mut bytes) = (0u64, 0u64);
    while Instant::now() < end {
        if let Some(f) = cap.next_frame(100)? {
            in_tick += 1;
            bytes += u64::from(f.caplen);
            if !count_only {
                println!(
                    "{} {} {} caplen={} len={}",
                    f.index, f.ts, f.link, f.caplen, f.origlen
                );
            }
        }
        if Instant::now() >= tick {
            if count_only {
                println!("{in_tick} packets/s, {bytes} bytes");
            }
            in_tick = 0;
            bytes = 0;
            tick += Duration::from_secs(1);
        }
    }
    let st = cap.stats();
    println!(
        "packets {} dropped {:?} warnings {}",
        st.packets,
        st.dropped,
        st.warnings.len()
    );
    Ok(())
}
