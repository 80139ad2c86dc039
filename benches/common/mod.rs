//! Shared by the benches: synthetic captures built by `examples/gencap.rs`
//! from the real handshakes in `captures/` (or `$TLSAUDIT_BENCH_SOURCES`).

use std::path::PathBuf;

#[path = "../../examples/gencap.rs"]
#[allow(dead_code)]
mod gencap;

pub use gencap::Format;

/// Where the source captures are.
pub fn sources_dir() -> PathBuf {
    match std::env::var_os("TLSAUDIT_BENCH_SOURCES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures"),
    }
}

/// A generated capture of about `size` bytes, in memory.
pub fn capture(size: u64, format: Format) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size as usize + (1 << 20));
    let opts = gencap::Opts {
        from: sources_dir(),
        size,
        out: String::new(),
        format,
        seed: 7,
        truth: None,
        tap: None,
    };
    if let Err(e) = gencap::generate(&opts, Box::new(&mut bytes)) {
        panic!(
            "cannot generate the bench capture from {}: {e} (set TLSAUDIT_BENCH_SOURCES to a directory of captures)",
            opts.from.display()
        );
    }
    bytes
}
