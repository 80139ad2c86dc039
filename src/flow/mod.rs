//! Flow stage: the flow table (bidirectional 4-tuple flows, roles from the
//! SYN, idle eviction by capture time, a cap on open flows) and per-direction
//! TCP reassembly.
//!
//! Owns: [`FlowTable`], [`Flow`], [`StreamSink`], [`CloseKind`],
//! [`EvictionCause`], [`reassembly::Reassembler`], [`seq::Seq`]. Imports
//! only `decode` and `capture` types. What a flow's bytes mean is the sink's
//! business (the TLS stage implements it).

pub mod reassembly;
pub mod seq;
mod slots;
pub mod table;

pub use table::{CloseKind, EvictionCause, Flow, FlowLimits, FlowTable, StreamSink};
