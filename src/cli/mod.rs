//! Command line: clap arguments exactly as typed ([`args`]), resolved once
//! into a validated [`plan::Plan`] before any packet is read (R12). The
//! engine never sees clap.

pub mod args;
pub mod docs;
pub mod plan;
