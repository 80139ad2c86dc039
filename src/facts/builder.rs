//! Folds a finished flow (TCP view from the flow table + TLS facts) into
//! [`FlowFacts`]. The only writer of `FlowFacts`.

use super::{CloseFacts, FlowFacts, GapFacts, Role, RoleSource, TcpFacts};
use crate::decode::{Dir, FlowKey};
use crate::flow::Flow;
use crate::tls::model::TlsFacts;

/// Decide which TCP direction is the client's (spec §2): the SYN sender,
/// else the ServerHello's receiver, else the ClientHello's sender, else the
/// side talking to an audited port, else the first packet's sender.
pub fn client_direction(
    key: &FlowKey,
    syn_dir: Option<Dir>,
    first_dir: Dir,
    tls: &TlsFacts,
    is_audited_port: &dyn Fn(u16) -> bool,
) -> (Dir, RoleSource) {
    if let Some(d) = syn_dir {
        return (d, RoleSource::Syn);
    }
    if let Some(d) = tls.server_hello.as_ref().and_then(|s| s.dir) {
        return (d.reverse(), RoleSource::ServerHello);
    }
    if let Some(d) = tls.client_hello.as_ref().and_then(|c| c.dir) {
        return (d, RoleSource::ClientHello);
    }
    let b_audited = is_audited_port(key.b.port());
    let a_audited = is_audited_port(key.a.port());
    if b_audited && !a_audited {
        return (Dir::AB, RoleSource::Port);
    }
    if a_audited && !b_audited {
        return (Dir::BA, RoleSource::Port);
    }
    // Both or neither on an audited port: the lower port is the likelier server.
    if key.a.port() != key.b.port() && !(a_audited && b_audited) {
        let d = if key.b.port() < key.a.port() {
            Dir::AB
        } else {
            Dir::BA
        };
        return (d, RoleSource::Port);
    }
    (first_dir, RoleSource::FirstPacket)
}

/// Build the facts of one finished flow of input `input`.
pub fn build<S>(
    flow: &Flow<S>,
    tls: TlsFacts,
    input: usize,
    is_audited_port: &dyn Fn(u16) -> bool,
) -> FlowFacts {
    let (client_dir, source) = client_direction(
        &flow.key,
        flow.syn_dir,
        flow.first_dir,
        &tls,
        is_audited_port,
    );
    let role_of = |d: Dir| {
        if d == client_dir {
            Role::Client
        } else {
            Role::Server
        }
    };
    let c = client_dir.index();
    let s = client_dir.reverse().index();
    let mut tcp = TcpFacts {
        midstream: flow.syn_dir.is_none(),
        syn_frame: flow.syn_frame,
        packets: [flow.packets[c], flow.packets[s]],
        bytes: [flow.bytes[c], flow.bytes[s]],
        evicted: flow.evicted,
        ..TcpFacts::default()
    };
    for dir in Dir::BOTH {
        let r = &flow.reasm[dir.index()];
        tcp.gaps += r.stats.gaps;
        tcp.retransmissions += r.stats.retransmissions;
        tcp.overlaps += r.stats.overlaps;
        tcp.conflicting_bytes += r.stats.conflicting_bytes;
        tcp.out_of_order += r.stats.out_of_order;
        tcp.overflows += r.stats.overflows;
        tcp.seq_jumps += r.stats.seq_jumps;
        for &(offset, len, frame) in &r.gap_list {
            tcp.gap_list.push(GapFacts {
                from: role_of(dir),
                offset,
                len,
                frame,
            });
        }
    }
    tcp.gap_list.sort_by_key(|g| (g.frame, g.offset));
    tcp.closes = flow
        .closes
        .iter()
        .map(|&(dir, frame, kind, ts)| CloseFacts {
            from: role_of(dir),
            frame,
            kind,
            ts,
        })
        .collect();
    FlowFacts {
        input,
        key: flow.key,
        client: flow.key.sender(client_dir),
        server: flow.key.sender(client_dir.reverse()),
        server_determined_by: source,
        client_dir,
        first_frame: flow.first_frame,
        first_seen: flow.first_ts,
        last_frame: flow.last_frame,
        last_seen: flow.last_ts,
        tcp,
        tls,
        resumed_from: None,
        certificates_from: None,
    }
}
