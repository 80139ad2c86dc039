//! # tlsaudit
//!
//! Audits TLS on SIP federation links (Cisco IM&P ↔ Microsoft OCS/Lync, TCP
//! 5062) from packet captures. The pipeline, one module per stage, each
//! importing only the stages before it:
//!
//! 1. [`capture`] — pcap / pcapng (gzip) files, stdin, live AF_PACKET → `Frame`
//! 2. [`decode`] — link layer, tunnels, IPv4/IPv6, TCP → borrowed `Segment`
//! 3. [`flow`] — flow table, TCP reassembly (bounded) → in-order bytes + gaps
//! 4. [`tls`] — record walk, handshake, certificates → `TlsFacts`
//! 5. [`facts`] — per-flow owned `FlowFacts` (roles, TCP, TLS)
//! 6. [`profile`] + [`checks`] — expected configuration → per-check verdicts
//! 7. [`report`] — table, JSON, JSON Lines, Markdown (with Mermaid handshake
//!    ladders), self-contained HTML (with SVG ladders)
//!
//! [`engine`] drives the stages (single thread or sharded workers) and
//! [`cli`] resolves the command line into a plan.
#![deny(unsafe_code)]

pub mod capture;
pub mod checks;
pub mod cli;
pub mod decode;
pub mod engine;
pub mod facts;
pub mod flow;
pub mod profile;
pub mod report;
pub mod tls;
