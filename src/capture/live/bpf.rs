//! Classic-BPF program builder for the kernel socket filter: only TCP to or
//! from the audited ports reaches user space.
//!
//! Owns: [`Insn`], [`FilterLink`], [`build_filter`], [`BpfError`]. Pure code,
//! no system calls, so it is unit-tested by running the program in a small
//! interpreter (see the tests).
//!
//! Invariants:
//! - Every conditional jump lands inside its own block (offset ≤ 255 by
//!   construction, checked when labels are resolved); long jumps use `ja`.
//! - Loads past the end of the packet make the kernel return 0 (drop), so
//!   truncated frames never match by accident.
//! - What passes, for any port list: IPv4 and IPv6 TCP whose source or
//!   destination port is in the list, on untagged, 802.1Q-tagged and QinQ
//!   Ethernet or on raw IP; plus IPv4 non-first fragments and IPv6 fragments
//!   of TCP, whose ports cannot be seen, so the decoder can report or
//!   reassemble them. IPv6 extension headers other than Fragment are not
//!   walked (as in tcpdump's `tcp port N`).

use std::collections::HashMap;

/// One classic-BPF instruction, the layout of `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// How the frames the filter sees start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLink {
    /// Ethernet header (possibly with up to two VLAN tags) then IP.
    Ethernet,
    /// The IP header first (tun, ARPHRD_NONE, SOCK_DGRAM sockets).
    RawIp,
}

/// The program could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BpfError {
    #[error("too many ports for the kernel filter ({count}, at most {max})")]
    TooManyPorts { count: usize, max: usize },
    #[error("no ports given and not asked to capture every TCP port")]
    NoPorts,
    /// A conditional jump past 255 instructions: a bug in this builder,
    /// reported rather than loaded as a wrong program.
    #[error("filter program too large (conditional jump out of range)")]
    JumpTooFar,
}

/// Ports in one filter. Each port costs two instructions in each of the six
/// IP blocks; 64 keeps every in-block jump well under the 255 limit of a
/// classic-BPF conditional jump and the program under the kernel's 4096.
pub const MAX_FILTER_PORTS: usize = 64;

/// The snap length the filter accepts with, same as tcpdump's default:
/// the whole packet (the ring's frame size limits it further).
pub const ACCEPT_SNAPLEN: u32 = 0x0004_0000;

// Opcodes (linux/filter.h, linux/bpf_common.h).
pub const LD_H_ABS: u16 = 0x28;
pub const LD_B_ABS: u16 = 0x30;
pub const LD_H_IND: u16 = 0x48;
pub const LDX_B_MSH: u16 = 0xb1;
pub const ALU_AND_K: u16 = 0x54;
pub const JMP_JA: u16 = 0x05;
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JSET_K: u16 = 0x45;
pub const RET_K: u16 = 0x06;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
/// 802.1Q, 802.1ad and the pre-standard QinQ tag.
const ETHERTYPE_VLANS: [u32; 3] = [0x8100, 0x88a8, 0x9100];
/// Tags walked: untagged, 802.1Q and QinQ.
const MAX_VLAN_DEPTH: u32 = 2;
const IPPROTO_TCP: u32 = 6;
const IPV6_NEXTHDR_FRAGMENT: u32 = 44;
const IPV6_HEADER_LEN: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Label(u32);

#[derive(Debug, Clone, Copy)]
enum Target {
    Next,
    To(Label),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Stmt {
        code: u16,
        k: u32,
    },
    Cond {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Ja(Label),
    Mark(Label),
}

#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: u32,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels)
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.ops.push(Op::Stmt { code, k });
    }
    fn cond(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.ops.push(Op::Cond { code, k, jt, jf });
    }
    fn mark(&mut self, l: Label) {
        self.ops.push(Op::Mark(l));
    }
    /// `if A == k goto l` through a trampoline, for targets that may be far.
    fn jeq_far(&mut self, k: u32, l: Label) {
        let skip = self.label();
        self.cond(JMP_JEQ_K, k, Target::Next, Target::To(skip));
        self.ops.push(Op::Ja(l));
        self.mark(skip);
    }

    fn resolve(self) -> Result<Vec<Insn>, BpfError> {
        let mut at = HashMap::new();
        let mut pc = 0u32;
        for op in &self.ops {
            match op {
                Op::Mark(l) => {
                    at.insert(*l, pc);
                }
                _ => pc += 1,
            }
        }
        let mut out = Vec::with_capacity(pc as usize);
        for op in self.ops {
            let here = out.len() as u32;
            // Jumps are relative to the next instruction; labels are always
            // forward and marked, both by construction in this file.
            let rel = |t: Target| -> u32 {
                match t {
                    Target::Next => 0,
                    Target::To(l) => at.get(&l).map_or(0, |&p| p.saturating_sub(here + 1)),
                }
            };
            match op {
                Op::Mark(_) => {}
                Op::Stmt { code, k } => out.push(Insn {
                    code,
                    jt: 0,
                    jf: 0,
                    k,
                }),
                Op::Ja(l) => out.push(Insn {
                    code: JMP_JA,
                    jt: 0,
                    jf: 0,
                    k: rel(Target::To(l)),
                }),
                Op::Cond { code, k, jt, jf } => {
                    let jt = u8::try_from(rel(jt)).map_err(|_| BpfError::JumpTooFar)?;
                    let jf = u8::try_from(rel(jf)).map_err(|_| BpfError::JumpTooFar)?;
                    out.push(Insn { code, jt, jf, k });
                }
            }
        }
        Ok(out)
    }
}

/// Builds the filter. `ports` empty with `any_port` (or `any_port` alone)
/// passes every TCP segment.
pub fn build_filter(
    link: FilterLink,
    ports: &[u16],
    any_port: bool,
) -> Result<Vec<Insn>, BpfError> {
    let mut ports: Vec<u16> = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    if !any_port && ports.is_empty() {
        return Err(BpfError::NoPorts);
    }
    if !any_port && ports.len() > MAX_FILTER_PORTS {
        return Err(BpfError::TooManyPorts {
            count: ports.len(),
            max: MAX_FILTER_PORTS,
        });
    }
    let ports: &[u16] = if any_port { &[] } else { &ports };

    let mut a = Asm::default();
    let mut blocks: Vec<(Label, bool, u32)> = Vec::new(); // (label, is_v6, l3 offset)
    match link {
        FilterLink::RawIp => {
            let (v4, v6) = (a.label(), a.label());
            a.stmt(LD_B_ABS, 0);
            a.stmt(ALU_AND_K, 0xf0);
            a.jeq_far(0x60, v6);
            a.jeq_far(0x40, v4);
            a.stmt(RET_K, 0);
            blocks.push((v4, false, 0));
            blocks.push((v6, true, 0));
        }
        FilterLink::Ethernet => {
            let mut next_tag: Option<Label> = None;
            for depth in 0..=MAX_VLAN_DEPTH {
                if let Some(l) = next_tag.take() {
                    a.mark(l);
                }
                let type_off = 12 + 4 * depth;
                let l3 = type_off + 2;
                let (v4, v6) = (a.label(), a.label());
                a.stmt(LD_H_ABS, type_off);
                a.jeq_far(ETHERTYPE_IPV6, v6);
                a.jeq_far(ETHERTYPE_IPV4, v4);
                if depth < MAX_VLAN_DEPTH {
                    let tag = a.label();
                    for t in ETHERTYPE_VLANS {
                        a.jeq_far(t, tag);
                    }
                    next_tag = Some(tag);
                }
                a.stmt(RET_K, 0);
                blocks.push((v4, false, l3));
                blocks.push((v6, true, l3));
            }
        }
    }
    for (label, v6, l3) in blocks {
        a.mark(label);
        if v6 {
            ipv6_block(&mut a, l3, ports);
        } else {
            ipv4_block(&mut a, l3, ports);
        }
    }
    a.resolve()
}

/// Port tests: load the source port, compare with each port, then the
/// destination port; a match jumps to `accept`, no match to `drop`.
fn ports_tail(a: &mut Asm, ports: &[u16], load: [(u16, u32); 2], drop: Label, accept: Label) {
    if ports.is_empty() {
        a.stmt(RET_K, ACCEPT_SNAPLEN);
        return;
    }
    for (i, (code, k)) in load.into_iter().enumerate() {
        a.stmt(code, k);
        for (j, &p) in ports.iter().enumerate() {
            let last = j + 1 == ports.len();
            let miss = if last && i == 1 {
                Target::To(drop)
            } else {
                Target::Next
            };
            a.cond(JMP_JEQ_K, u32::from(p), Target::To(accept), miss);
        }
    }
}

/// The two returns every IP block ends with.
fn block_returns(a: &mut Asm, drop: Label, accept: Label) {
    a.mark(drop);
    a.stmt(RET_K, 0);
    a.mark(accept);
    a.stmt(RET_K, ACCEPT_SNAPLEN);
}

fn ipv4_block(a: &mut Asm, l3: u32, ports: &[u16]) {
    let (drop, accept) = (a.label(), a.label());
    a.stmt(LD_B_ABS, l3 + 9);
    a.cond(JMP_JEQ_K, IPPROTO_TCP, Target::Next, Target::To(drop));
    if !ports.is_empty() {
        // A non-first fragment has no TCP header to test: pass it.
        a.stmt(LD_H_ABS, l3 + 6);
        a.cond(JMP_JSET_K, 0x1fff, Target::To(accept), Target::Next);
    }
    a.stmt(LDX_B_MSH, l3);
    ports_tail(a, ports, [(LD_H_IND, l3), (LD_H_IND, l3 + 2)], drop, accept);
    block_returns(a, drop, accept);
}

fn ipv6_block(a: &mut Asm, l3: u32, ports: &[u16]) {
    let (drop, accept, tcp) = (a.label(), a.label(), a.label());
    a.stmt(LD_B_ABS, l3 + 6);
    a.cond(JMP_JEQ_K, IPPROTO_TCP, Target::To(tcp), Target::Next);
    a.cond(
        JMP_JEQ_K,
        IPV6_NEXTHDR_FRAGMENT,
        Target::Next,
        Target::To(drop),
    );
    // Fragment header: its next-header byte is the first one.
    a.stmt(LD_B_ABS, l3 + IPV6_HEADER_LEN);
    a.cond(JMP_JEQ_K, IPPROTO_TCP, Target::To(accept), Target::To(drop));
    a.mark(tcp);
    let tcp_off = l3 + IPV6_HEADER_LEN;
    ports_tail(
        a,
        ports,
        [(LD_H_ABS, tcp_off), (LD_H_ABS, tcp_off + 2)],
        drop,
        accept,
    );
    block_returns(a, drop, accept);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the opcodes the builder and tcpdump
    /// emit, with the kernel's rule that an out-of-bounds load returns 0.
    fn run(prog: &[Insn], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let ld = |off: u32, n: usize| -> Option<u32> {
            let off = off as usize;
            let b = pkt.get(off..off.checked_add(n)?)?;
            Some(b.iter().fold(0u32, |acc, &v| (acc << 8) | u32::from(v)))
        };
        for _ in 0..10_000 {
            let Some(i) = prog.get(pc) else { return 0 };
            pc += 1;
            match i.code {
                LD_H_ABS => match ld(i.k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_B_ABS => match ld(i.k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_H_IND => match ld(x.wrapping_add(i.k), 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LDX_B_MSH => match ld(i.k, 1) {
                    Some(v) => x = (v & 0xf) * 4,
                    None => return 0,
                },
                ALU_AND_K => a &= i.k,
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                JMP_JSET_K => pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf }),
                RET_K => return i.k,
                other => panic!("opcode {other:#x} not in the test interpreter"),
            }
        }
        panic!("program did not terminate")
    }

    fn insns(raw: &[(u16, u8, u8, u32)]) -> Vec<Insn> {
        raw.iter()
            .map(|&(code, jt, jf, k)| Insn { code, jt, jf, k })
            .collect()
    }

    /// `tcpdump -dd 'tcp port 5062'` (tcpdump 4.99, Ethernet).
    #[rustfmt::skip]
    const TCPDUMP_5062: &[(u16, u8, u8, u32)] = &[
        (0x28, 0, 0, 0x0c), (0x15, 0, 6, 0x86dd), (0x30, 0, 0, 0x14), (0x15, 0, 15, 0x06),
        (0x28, 0, 0, 0x36), (0x15, 12, 0, 0x13c6), (0x28, 0, 0, 0x38), (0x15, 10, 11, 0x13c6),
        (0x15, 0, 10, 0x0800), (0x30, 0, 0, 0x17), (0x15, 0, 8, 0x06), (0x28, 0, 0, 0x14),
        (0x45, 6, 0, 0x1fff), (0xb1, 0, 0, 0x0e), (0x48, 0, 0, 0x0e), (0x15, 2, 0, 0x13c6),
        (0x48, 0, 0, 0x10), (0x15, 0, 1, 0x13c6), (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0),
    ];

    /// `tcpdump -dd 'tcp port 5062 or tcp port 443'`.
    #[rustfmt::skip]
    const TCPDUMP_5062_443: &[(u16, u8, u8, u32)] = &[
        (0x28, 0, 0, 0x0c), (0x15, 0, 7, 0x86dd), (0x30, 0, 0, 0x14), (0x15, 0, 18, 0x06),
        (0x28, 0, 0, 0x36), (0x15, 15, 0, 0x13c6), (0x15, 14, 0, 0x01bb), (0x28, 0, 0, 0x38),
        (0x15, 12, 11, 0x13c6), (0x15, 0, 12, 0x0800), (0x30, 0, 0, 0x17), (0x15, 0, 10, 0x06),
        (0x28, 0, 0, 0x14), (0x45, 8, 0, 0x1fff), (0xb1, 0, 0, 0x0e), (0x48, 0, 0, 0x0e),
        (0x15, 4, 0, 0x13c6), (0x15, 3, 0, 0x01bb), (0x48, 0, 0, 0x10), (0x15, 1, 0, 0x13c6),
        (0x15, 0, 1, 0x01bb), (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0),
    ];

    #[derive(Clone, Copy)]
    struct Pkt {
        v6: bool,
        proto: u8,
        sport: u16,
        dport: u16,
        /// IPv4 header words beyond 5 (options).
        ihl_extra: u8,
        frag_off: u16,
        vlans: u8,
    }

    fn pkt(v6: bool, sport: u16, dport: u16) -> Pkt {
        Pkt {
            v6,
            proto: 6,
            sport,
            dport,
            ihl_extra: 0,
            frag_off: 0,
            vlans: 0,
        }
    }

    fn ip_bytes(p: Pkt) -> Vec<u8> {
        let mut l4 = vec![0u8; 20];
        l4[0..2].copy_from_slice(&p.sport.to_be_bytes());
        l4[2..4].copy_from_slice(&p.dport.to_be_bytes());
        l4[12] = 0x50;
        let mut ip = if p.v6 {
            let mut h = vec![0u8; 40];
            h[0] = 0x60;
            h[6] = p.proto;
            h
        } else {
            let mut h = vec![0u8; 20 + 4 * usize::from(p.ihl_extra)];
            h[0] = 0x45 + p.ihl_extra;
            h[6..8].copy_from_slice(&p.frag_off.to_be_bytes());
            h[9] = p.proto;
            h
        };
        ip.extend_from_slice(&l4);
        ip
    }

    fn ether(p: Pkt) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for _ in 0..p.vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a]);
        }
        f.extend_from_slice(if p.v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
        f.extend_from_slice(&ip_bytes(p));
        f
    }

    fn passes(prog: &[Insn], frame: &[u8]) -> bool {
        run(prog, frame) != 0
    }

    /// Frames where the builder must agree with tcpdump: untagged, first
    /// fragments, any ports, options, truncations.
    fn differential_frames() -> Vec<Vec<u8>> {
        let ports = [0u16, 22, 443, 5061, 5062, 5063, 0x13c6 ^ 0x100, 65535];
        let mut out = Vec::new();
        for v6 in [false, true] {
            for &s in &ports {
                for &d in &ports {
                    for proto in [6u8, 17] {
                        for ihl_extra in [0u8, 3] {
                            let p = Pkt {
                                proto,
                                ihl_extra,
                                frag_off: 0x4000,
                                ..pkt(v6, s, d)
                            };
                            let f = ether(p);
                            for cut in [f.len(), f.len() - 17, 34, 13] {
                                out.push(f[..cut].to_vec());
                            }
                        }
                    }
                }
            }
        }
        out.push(vec![0u8; 60]); // ethertype 0
        out
    }

    #[test]
    fn one_port_agrees_with_tcpdump() {
        let ours = build_filter(FilterLink::Ethernet, &[5062], false).unwrap();
        let theirs = insns(TCPDUMP_5062);
        for f in differential_frames() {
            assert_eq!(passes(&ours, &f), passes(&theirs, &f), "frame {f:02x?}");
        }
    }

    #[test]
    fn two_ports_agree_with_tcpdump() {
        let ours = build_filter(FilterLink::Ethernet, &[443, 5062], false).unwrap();
        let theirs = insns(TCPDUMP_5062_443);
        let mut accepted = 0;
        for f in differential_frames() {
            let t = passes(&theirs, &f);
            accepted += usize::from(t);
            assert_eq!(passes(&ours, &f), t, "frame {f:02x?}");
        }
        assert!(accepted > 50, "the sample must exercise the accept path");
    }

    #[test]
    fn passes_audited_port_either_direction_and_drops_others() {
        let prog = build_filter(FilterLink::Ethernet, &[5062], false).unwrap();
        for v6 in [false, true] {
            assert!(passes(&prog, &ether(pkt(v6, 40000, 5062))));
            assert!(passes(&prog, &ether(pkt(v6, 5062, 40000))));
            assert!(!passes(&prog, &ether(pkt(v6, 40000, 5063))));
            assert!(!passes(
                &prog,
                &ether(Pkt {
                    proto: 17,
                    ..pkt(v6, 40000, 5062)
                })
            ));
        }
        assert_eq!(run(&prog, &ether(pkt(false, 1, 5062))), ACCEPT_SNAPLEN);
    }

    #[test]
    fn vlan_and_qinq_tagged_frames_are_filtered_like_untagged() {
        let prog = build_filter(FilterLink::Ethernet, &[5062], false).unwrap();
        for vlans in 1..=2 {
            for v6 in [false, true] {
                assert!(passes(
                    &prog,
                    &ether(Pkt {
                        vlans,
                        ..pkt(v6, 1234, 5062)
                    })
                ));
                assert!(!passes(
                    &prog,
                    &ether(Pkt {
                        vlans,
                        ..pkt(v6, 1234, 5063)
                    })
                ));
            }
        }
        // Three tags are past what the filter walks.
        assert!(!passes(
            &prog,
            &ether(Pkt {
                vlans: 3,
                ..pkt(false, 1234, 5062)
            })
        ));
    }

    #[test]
    fn fragments_whose_ports_cannot_be_seen_are_passed_for_the_decoder() {
        let prog = build_filter(FilterLink::Ethernet, &[5062], false).unwrap();
        let non_first = Pkt {
            frag_off: 0x00b9,
            ..pkt(false, 0, 0)
        };
        assert!(passes(&prog, &ether(non_first)));
        assert!(!passes(
            &prog,
            &ether(Pkt {
                proto: 17,
                ..non_first
            })
        ));
        // IPv6 with a Fragment header whose next header is TCP.
        let mut f = ether(Pkt {
            proto: 44,
            ..pkt(true, 0, 0)
        });
        f[14 + 40] = 6;
        assert!(passes(&prog, &f));
        f[14 + 40] = 17;
        assert!(!passes(&prog, &f));
    }

    #[test]
    fn raw_ip_link_filters_by_version_nibble() {
        let prog = build_filter(FilterLink::RawIp, &[5062], false).unwrap();
        for v6 in [false, true] {
            assert!(passes(&prog, &ip_bytes(pkt(v6, 5062, 1))));
            assert!(!passes(&prog, &ip_bytes(pkt(v6, 5063, 1))));
        }
        assert!(!passes(&prog, &[0x00, 0x01, 0x08, 0x00])); // ARP-like
    }

    #[test]
    fn any_port_passes_all_tcp_and_nothing_else() {
        let prog = build_filter(FilterLink::Ethernet, &[], true).unwrap();
        assert!(passes(&prog, &ether(pkt(false, 1, 2))));
        assert!(passes(&prog, &ether(pkt(true, 3, 4))));
        assert!(!passes(
            &prog,
            &ether(Pkt {
                proto: 17,
                ..pkt(false, 1, 2)
            })
        ));
    }

    #[test]
    fn many_ports_build_within_jump_limits_and_each_port_matches() {
        let ports: Vec<u16> = (0..MAX_FILTER_PORTS as u16).map(|i| 1000 + 7 * i).collect();
        let prog = build_filter(FilterLink::Ethernet, &ports, false).unwrap();
        assert!(prog.len() < 4096);
        for &p in &ports {
            assert!(passes(&prog, &ether(pkt(false, 50000, p))));
            assert!(passes(
                &prog,
                &ether(Pkt {
                    vlans: 2,
                    ..pkt(true, p, 50000)
                })
            ));
        }
        assert!(!passes(&prog, &ether(pkt(false, 50000, 1001))));
    }

    #[test]
    fn rejects_too_many_or_no_ports() {
        let ports: Vec<u16> = (1..=MAX_FILTER_PORTS as u16 + 1).collect();
        assert!(matches!(
            build_filter(FilterLink::Ethernet, &ports, false),
            Err(BpfError::TooManyPorts { .. })
        ));
        assert_eq!(
            build_filter(FilterLink::Ethernet, &[], false),
            Err(BpfError::NoPorts)
        );
    }

    #[test]
    fn every_program_ends_in_a_return_and_jumps_stay_inside() {
        for (link, ports, any) in [
            (FilterLink::Ethernet, vec![5062], false),
            (FilterLink::RawIp, vec![5062, 443], false),
            (FilterLink::Ethernet, vec![], true),
        ] {
            let prog = build_filter(link, &ports, any).unwrap();
            assert_eq!(prog.last().map(|i| i.code), Some(RET_K));
            for (pc, i) in prog.iter().enumerate() {
                let far = match i.code {
                    JMP_JA => i.k as usize,
                    JMP_JEQ_K | JMP_JSET_K => usize::from(i.jt.max(i.jf)),
                    _ => continue,
                };
                assert!(pc + 1 + far < prog.len(), "jump at {pc} leaves the program");
            }
        }
    }
}
