#!/usr/bin/env python3
"""Derive the edge-case captures from the recorded ones, deterministically.

Each capture below is made from a capture that make-captures.sh recorded
with real TLS stacks, changed the way a real network or capture setup
changes it. Pure Python, no packages: the same inputs give the same bytes.

  compliant-mtls-snaplen96.pcap   every frame cut to 96 bytes, as `tcpdump -s 96`
                                  writes it (orig_len kept, caplen 96)
  compliant-mtls-cmd.pcap         the client's frames carry a Cisco MetaData
                                  header (EtherType 0x8909, SGT 17), as a Cisco
                                  switch SPAN port with TrustSec tags shows them
  bad-ip-length.pcap              the SYN-ACK's IPv4 total length says 4148
                                  though the frame holds 52 bytes of IP
  tfo-clienthello-in-syn.pcap     TCP Fast Open: the ClientHello rides in the
                                  SYN and the server acknowledges it in the
                                  SYN-ACK
  tfo-clienthello-resent.pcap     TCP Fast Open refused: the ClientHello in the
                                  SYN is acknowledged only as a SYN and the
                                  client sends it again
  midstream-tls10-3des.pcap       compliant-mtls.pcap from the first
                                  application-data frame on (the capture began
                                  after the handshake)
  midstream-tls12-3des.pcap       the same cut of tls12-3des.pcap
  midstream-tls12-gcm.pcap        the same cut of tls12-ecdhe-aes128-gcm.pcap
  midstream-empty-fragments.pcap  the same cut of empty-fragments-both.pcap
  midstream-then-reconnect.pcap   the cut of compliant-mtls.pcap, then the same
                                  peers connect again with a full handshake

Each gets a <name>.expect.json whose verdicts are written by hand below
from the product contract, like expect.py's.

They are written to CAPTURES_DIR/derived/, apart from the recordings, so
that the benchmark generator (examples/gencap.rs), which clones every
capture at the top of captures/, never replays a cut or tagged copy.

Usage: derive.py CAPTURES_DIR
"""
import json
import os
import struct
import sys

PCAP_MAGIC = 0xA1B2C3D4
ETH_HEADER = 14
ETHERTYPE_CISCO_METADATA = 0x8909


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, _vmaj, _vmin, _zone, _sigfigs, snaplen, link = struct.unpack("<IHHiIII", data[:24])
    assert magic == PCAP_MAGIC, f"{path}: little-endian microsecond pcap expected"
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack("<IIII", data[off:off + 16])
        off += 16
        frames.append([sec, usec, origlen, bytearray(data[off:off + caplen])])
        off += caplen
    return snaplen, link, frames


def write_pcap(path, snaplen, link, frames):
    out = bytearray(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, snaplen, link))
    for sec, usec, origlen, data in frames:
        out += struct.pack("<IIII", sec, usec, len(data), origlen) + data
    with open(path, "wb") as f:
        f.write(out)


class Tcp:
    """Offsets of an Ethernet/IPv4/TCP frame's fields."""

    def __init__(self, frame):
        self.f = frame
        self.ip = ETH_HEADER
        self.ihl = (frame[self.ip] & 15) * 4
        self.tcp = self.ip + self.ihl
        self.doff = (frame[self.tcp + 12] >> 4) * 4
        self.payload_at = self.tcp + self.doff

    @property
    def sport(self):
        return struct.unpack(">H", self.f[self.tcp:self.tcp + 2])[0]

    @property
    def flags(self):
        return self.f[self.tcp + 13]

    @property
    def seq(self):
        return struct.unpack(">I", self.f[self.tcp + 4:self.tcp + 8])[0]

    @property
    def payload(self):
        return bytes(self.f[self.payload_at:])

    def set_seq(self, v):
        self.f[self.tcp + 4:self.tcp + 8] = struct.pack(">I", v & 0xFFFFFFFF)

    def set_ack(self, v):
        self.f[self.tcp + 8:self.tcp + 12] = struct.pack(">I", v & 0xFFFFFFFF)

    def set_payload(self, payload):
        del self.f[self.payload_at:]
        self.f += payload
        self.set_ip_total_length(len(self.f) - self.ip)

    def set_ip_total_length(self, n):
        self.f[self.ip + 2:self.ip + 4] = struct.pack(">H", n)
        self.f[self.ip + 10:self.ip + 12] = b"\0\0"
        s = 0
        for i in range(0, self.ihl, 2):
            s += (self.f[self.ip + i] << 8) | self.f[self.ip + i + 1]
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        self.f[self.ip + 10:self.ip + 12] = struct.pack(">H", ~s & 0xFFFF)


SYN, ACK = 0x02, 0x10


def snaplen96(src, dst):
    snaplen, link, frames = read_pcap(src)
    for fr in frames:
        del fr[3][96:]
    write_pcap(dst, 96, link, frames)


def cisco_metadata(src, dst, client_port):
    snaplen, link, frames = read_pcap(src)
    for fr in frames:
        if Tcp(fr[3]).sport == client_port:
            data = fr[3]
            inner = data[12:14]
            # version 1, length 1 (8-byte units), option: SGT (type 1, length 0), SGT 17
            cmd = struct.pack(">HBBHH", ETHERTYPE_CISCO_METADATA, 1, 1, 0x0001, 17) + inner
            fr[3] = data[:12] + cmd + data[14:]
            fr[2] += 8
    write_pcap(dst, snaplen, link, frames)


def bad_ip_length(src, dst):
    snaplen, link, frames = read_pcap(src)
    for fr in frames:
        t = Tcp(fr[3])
        if t.flags & (SYN | ACK) == SYN | ACK:
            t.set_ip_total_length(4148)
            break
    write_pcap(dst, snaplen, link, frames)


def tfo(src, dst, accepted):
    """Move the client's first data segment (the ClientHello) into the SYN."""
    snaplen, link, frames = read_pcap(src)
    syn = next(fr for fr in frames if Tcp(fr[3]).flags & (SYN | ACK) == SYN)
    client_port = Tcp(syn[3]).sport
    first = next(i for i, fr in enumerate(frames)
                 if Tcp(fr[3]).sport == client_port and Tcp(fr[3]).payload)
    hello = Tcp(frames[first][3]).payload
    st = Tcp(syn[3])
    st.set_payload(hello)
    syn[2] = len(syn[3])
    if accepted:
        # The server takes the data with the SYN: its SYN-ACK acknowledges it,
        # and the segment that carried it in the original is gone.
        synack = next(fr for fr in frames if Tcp(fr[3]).flags & (SYN | ACK) == SYN | ACK)
        Tcp(synack[3]).set_ack(st.seq + 1 + len(hello))
        # The handshake's third ACK now acknowledges from after the data.
        third = next(fr for fr in frames[frames.index(synack) + 1:]
                     if Tcp(fr[3]).sport == client_port)
        Tcp(third[3]).set_seq(st.seq + 1 + len(hello))
        del frames[first]
    write_pcap(dst, snaplen, link, frames)


def midstream(src, dst):
    """Keep the capture from the first application-data record on."""
    snaplen, link, frames = read_pcap(src)
    first = next(i for i, fr in enumerate(frames) if Tcp(fr[3]).payload[:1] == b"\x17")
    write_pcap(dst, snaplen, link, frames[first:])


ARGS = ["--server-cn", "imp.example.com", "--client-cn", "ocs.example.com"]
CHECKS = ["handshake", "version", "cipher_suite", "empty_fragments", "server_cn", "client_cn"]
COMPLIANT = dict(version="TLSv1.0", cipher_suite="0x000a", server_cn="imp.example.com",
                 client_cn="ocs.example.com", handshake_complete=True, resumed=False)
UNSEEN = dict(version=None, cipher_suite=None, server_cn=None, client_cn=None, resumed=None)


def expect(d, capture, client_port, why, facts, exit_code=None, **checks):
    """Write captures/<name>.expect.json: the verdicts are written by hand
    from the product contract (spec sections 3 and 8), not read from the
    tool."""
    verdicts = {c: checks.get(c, "pass") for c in CHECKS}
    verdict = ("fail" if "fail" in verdicts.values()
               else "unknown" if "unknown" in verdicts.values() else "pass")
    flow = dict(client_port=client_port, server="127.0.0.1:5062", **facts,
                checks=verdicts, verdict=verdict, why=why)
    doc = dict(capture=capture, args=ARGS,
               exit_code=exit_code if exit_code is not None else {"fail": 1}.get(verdict, 0),
               flows=[flow])
    name = capture.split(".")[0]
    doc["capture"] = "derived/" + capture
    with open(os.path.join(d, "derived", name + ".expect.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def expectations(d, client_port, port12_3des, port12_gcm):
    unknown_certs = dict(server_cn="unknown", client_cn="unknown", empty_fragments="unknown")
    expect(d, "compliant-mtls-snaplen96.pcap", client_port,
           "snaplen 96: only the first 30 payload bytes of each segment; record headers at "
           "segment starts show application data both ways (handshake completed) and TLSv1.0 "
           "in the record layer (version passes); the suite and certificates are cut away",
           dict(UNSEEN, handshake_complete=True), cipher_suite="unknown", **unknown_certs)
    expect(d, "compliant-mtls-cmd.pcap", client_port,
           "the client's frames carry a Cisco MetaData header: decoded, the flow is whole",
           dict(COMPLIANT))
    expect(d, "bad-ip-length.pcap", client_port,
           "a SYN-ACK whose IP length claims 4148 bytes: the captured bytes are trusted, the "
           "ServerHello after it is not lost",
           dict(COMPLIANT))
    expect(d, "tfo-clienthello-in-syn.pcap", client_port,
           "TCP Fast Open: the ClientHello in the SYN is taken into the stream",
           dict(COMPLIANT))
    expect(d, "tfo-clienthello-resent.pcap", client_port,
           "TCP Fast Open refused: the ClientHello in the SYN and its resend are one ClientHello",
           dict(COMPLIANT))
    certs_unseen = dict(server_cn="unknown", client_cn="unknown")
    expect(d, "midstream-tls10-3des.pcap", client_port,
           "joined after the handshake: the record layer says TLSv1.0 (version passes); record "
           "lengths fit 3DES but cannot name it; they show a 64-bit block cipher, so the 24-byte "
           "minimal record is known and none is followed by data (empty fragments pass); "
           "certificates not in the capture",
           dict(UNSEEN, handshake_complete=True), cipher_suite="unknown", **certs_unseen)
    expect(d, "midstream-empty-fragments.pcap", first_port_of(d, "empty-fragments-both.pcap"),
           "joined after the handshake of a connection whose both sides write an empty fragment "
           "before each record: 24-byte records each followed by data in the same segment "
           "(empty fragments fail, from the inferred minimal size)",
           dict(UNSEEN, handshake_complete=True), cipher_suite="unknown", empty_fragments="fail",
           **certs_unseen)
    expect(d, "midstream-tls12-3des.pcap", port12_3des,
           "joined after the handshake of a TLS 1.2 connection: the record layer says 0x0303 "
           "(TLS 1.2 or 1.3), neither allowed (version fails); lengths fit 3DES (cipher unknown); "
           "no 32-byte minimal record followed by data (empty fragments pass)",
           dict(UNSEEN, handshake_complete=True), version="fail", cipher_suite="unknown",
           **certs_unseen)
    expect(d, "midstream-tls12-gcm.pcap", port12_gcm,
           "joined after the handshake of a TLS 1.2 AES-GCM connection: version fails from the "
           "record layer, and a record length that is not a multiple of 8 proves the suite is "
           "not 3DES (cipher fails)",
           dict(UNSEEN, handshake_complete=True), version="fail", cipher_suite="fail",
           **unknown_certs)


def midstream_then_reconnect(src, dst, new_port):
    """The mid-stream cut, then the same peers connect again (a full
    handshake from another client port, one second after the cut ends)."""
    snaplen, link, frames = read_pcap(src)
    first = next(i for i, fr in enumerate(frames) if Tcp(fr[3]).payload[:1] == b"\x17")
    cut = [list(fr) for fr in frames[first:]]
    old_port = Tcp(frames[0][3]).sport
    shift = cut[-1][0] + 1 - frames[0][0]
    again = []
    for sec, usec, origlen, data in frames:
        data = bytearray(data)
        t = Tcp(data)
        for at in (t.tcp, t.tcp + 2):
            if struct.unpack(">H", data[at:at + 2])[0] == old_port:
                data[at:at + 2] = struct.pack(">H", new_port)
        again.append([sec + shift, usec, origlen, data])
    write_pcap(dst, snaplen, link, cut + again)


def first_port_of(d, name):
    return Tcp(read_pcap(os.path.join(d, name))[2][0][3]).sport


def expect_reconnect(d, client_port):
    """Two flows: the mid-stream cut borrows the certificates of the later
    full handshake between the same peers; the later one is compliant."""
    joined = dict(client_port=client_port, server="127.0.0.1:5062", **UNSEEN,
                  handshake_complete=True,
                  checks={"handshake": "pass", "version": "pass", "cipher_suite": "unknown",
                          "empty_fragments": "pass", "server_cn": "pass", "client_cn": "pass"},
                  verdict="unknown",
                  why="joined after the handshake; the CN checks use the certificates of the "
                      "later connection between the same peers (version from the record layer)")
    joined["server_cn"], joined["client_cn"] = "imp.example.com", "ocs.example.com"
    later = dict(client_port=42400, server="127.0.0.1:5062", **COMPLIANT,
                 checks={c: "pass" for c in CHECKS}, verdict="pass",
                 why="the same peers connect again with a full, compliant handshake")
    doc = dict(capture="derived/midstream-then-reconnect.pcap", args=ARGS, exit_code=0,
               flows=[joined, later])
    with open(os.path.join(d, "derived", "midstream-then-reconnect.expect.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    d = sys.argv[1]
    os.makedirs(os.path.join(d, "derived"), exist_ok=True)
    p = lambda n: os.path.join(d, n)
    out = lambda n: os.path.join(d, "derived", n)
    snaplen96(p("compliant-mtls.pcap"), out("compliant-mtls-snaplen96.pcap"))
    _, _, frames = read_pcap(p("compliant-mtls.pcap"))
    client_port = Tcp(frames[0][3]).sport
    cisco_metadata(p("compliant-mtls.pcap"), out("compliant-mtls-cmd.pcap"), client_port)
    bad_ip_length(p("compliant-mtls.pcap"), out("bad-ip-length.pcap"))
    tfo(p("compliant-mtls.pcap"), out("tfo-clienthello-in-syn.pcap"), accepted=True)
    tfo(p("compliant-mtls.pcap"), out("tfo-clienthello-resent.pcap"), accepted=False)
    midstream(p("compliant-mtls.pcap"), out("midstream-tls10-3des.pcap"))
    midstream(p("tls12-3des.pcap"), out("midstream-tls12-3des.pcap"))
    midstream(p("tls12-ecdhe-aes128-gcm.pcap"), out("midstream-tls12-gcm.pcap"))
    midstream_then_reconnect(p("compliant-mtls.pcap"), out("midstream-then-reconnect.pcap"), 42400)
    midstream(p("empty-fragments-both.pcap"), out("midstream-empty-fragments.pcap"))
    first_port = lambda n: Tcp(read_pcap(p(n))[2][0][3]).sport
    expect_reconnect(d, client_port)
    expectations(d, client_port, first_port("tls12-3des.pcap"),
                 first_port("tls12-ecdhe-aes128-gcm.pcap"))


if __name__ == "__main__":
    main()
