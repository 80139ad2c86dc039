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
//!
//! ## Where things live
//!
//! | what | file |
//! |---|---|
//! | pcap / pcapng reading, gzip, stdin | `capture/file/` |
//! | live capture (AF_PACKET ring, BPF filter) | `capture/live/` |
//! | link layer, VLAN, tunnels | `decode/link.rs` |
//! | IPv4 / IPv6 / TCP headers | `decode/ip_tcp.rs` |
//! | big-endian field readers | `decode/big_endian.rs` |
//! | flow table, expiry | `flow/table.rs` |
//! | TCP reassembly (bounded) | `flow/reassembly.rs` |
//! | TLS record header, boundary search | `tls/records.rs` |
//! | TLS record framed over a byte stream, resync, split records | `tls/session/record_stream.rs` |
//! | handshake message reassembled across records | `tls/session/handshake_reassembly.rs` |
//! | hellos, resumption, certificates → facts | `tls/session/handshake_state.rs` |
//! | application-data evidence (empty fragments) | `tls/session/app_data.rs` |
//! | TLS anomalies (what could not be decoded), their wording | `tls/anomaly.rs`, `facts/anomaly.rs` |
//! | ClientHello / ServerHello / Certificate parsing | `tls/handshake.rs` |
//! | X.509 decoding (once per certificate per thread, shared) | `tls/cert.rs` |
//! | SSLv2 | `tls/sslv2.rs` |
//! | cipher suites: names, kind, CBC layout | `tls/suites.rs` |
//! | decryption (key logs, RSA keys) | `tls/decrypt/`, wired in by `tls/keyed.rs` |
//! | check §3.0 handshake | `checks/handshake.rs` |
//! | checks §3.1 version, §3.2 cipher suite | `checks/negotiation.rs` |
//! | check §3.3 empty fragments | `checks/empty_fragments.rs` (record layer: `checks/record_layer.rs`) |
//! | check §3.4 certificate CNs | `checks/certificates.rs` |
//! | §3.4 extra certificate findings (expiry, EKU, issuer) | `checks/certificate_findings.rs` |
//! | report formats | `report/{table,json,markdown,html,ecs}.rs` |
//! | one input through the pipeline (`engine::stream`) | `engine/mod.rs`; `-j N`: `engine/parallel.rs` |
//! | the `check` run (inputs → report) | `engine/check.rs` |
//! | the `live` run | `engine/live.rs` |
//! | command line → plan | `cli/args.rs`, `cli/plan.rs` |
#![deny(unsafe_code)]

pub mod bounded;
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
