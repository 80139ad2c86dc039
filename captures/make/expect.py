#!/usr/bin/env python3
"""Write captures/<name>.expect.json after checking each capture's wire facts.

The expected verdicts below are written by hand from the product contract
(shared spec, sections 1 and 3) for the built-in profile run as
    tlsaudit check --server-cn imp.example.com --client-cn ocs.example.com FILE
They are not derived from the captures. What *is* read from each capture
(with tshark, no keys) is a set of wire facts: client ports, negotiated
version and suite, leaf certificate CNs, cleartext alerts, handshake
completion, and the empty-fragment evidence ladder of spec section 3.3. Each
fact must agree with the hand-written expectation, otherwise this script
fails and names the disagreement: a regenerated capture that no longer shows
what its scenario intends is caught here, not in the tool's tests.

Usage: expect.py CAPTURES_DIR
"""
import json
import os
import subprocess
import sys

SERVER_PORT = 5062
ARGS = ["--server-cn", "imp.example.com", "--client-cn", "ocs.example.com"]
EXPECTED_SERVER_CN = "imp.example.com"
EXPECTED_CLIENT_CN = "ocs.example.com"
CHECKS = ["handshake", "version", "cipher_suite", "empty_fragments", "server_cn", "client_cn"]
TLS_CT_CCS, TLS_CT_ALERT, TLS_CT_HANDSHAKE, TLS_CT_APPDATA = 20, 21, 22, 23
VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
          45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter",
          48: "unknown_ca", 50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
          71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
          90: "user_canceled", 109: "missing_extension", 116: "certificate_required"}
# CBC suites seen in these captures: id -> (block size, MAC size).
CBC_SUITES = {0x000A: (8, 20), 0x002F: (16, 20), 0x0035: (16, 20)}
EXT_ENCRYPT_THEN_MAC = 22
EXT_PRE_SHARED_KEY = 41
OPENSSL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build", "openssl", "bin", "openssl")


def flow(why, server="127.0.0.1:5062", version="TLSv1.0", cipher_suite="0x000a",
         server_cn=EXPECTED_SERVER_CN, client_cn=EXPECTED_CLIENT_CN, ef=(0, 0),
         ef_evidence="wire", handshake_complete=True, alerts=(), resumed=False, **checks):
    """One expected flow. `checks` overrides the default 'pass' per check."""
    # A check is named plainly, or with "_check" where the plain name is
    # already taken by the observed value (version, cipher_suite, ...).
    given = {(k[: -len("_check")] if k.endswith("_check") else k): v for k, v in checks.items()}
    for name in given:
        if name not in CHECKS:
            raise ValueError(f"unknown check {name}")
    result = {name: given.get(name, "pass") for name in CHECKS}
    if "fail" in result.values():
        verdict = "fail"
    elif "unknown" in result.values():
        verdict = "unknown"
    else:
        verdict = "pass"
    return {
        "server": server, "version": version, "cipher_suite": cipher_suite,
        "server_cn": server_cn, "client_cn": client_cn,
        "empty_fragments": None if ef is None else {"client": ef[0], "server": ef[1], "evidence": ef_evidence},
        "handshake_complete": handshake_complete, "resumed": resumed,
        "alerts": [{"from": a[0], "level": "fatal", "description": a[1]} for a in alerts],
        "checks": result, "verdict": verdict, "why": why,
    }


COMPLIANT = dict(why="compliant: TLSv1.0, TLS_RSA_WITH_3DES_EDE_CBC_SHA, mutual TLS with the "
                     "expected CNs, both sides with empty fragments disabled")
EF_BOTH_111 = dict(why="OpenSSL 1.1.1 on both sides without SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS: "
                       "a 24-byte record before every write, in the same TCP segment as the data",
                   ef=(3, 3), empty_fragments="fail")
EXPECT = {
    "compliant-mtls.pcap": [flow(**COMPLIANT)],
    "compliant-mtls-ng.pcapng": [flow(**COMPLIANT)],
    "ipv6-compliant-mtls.pcap": [flow(server="[::1]:5062", **{**COMPLIANT, "why": COMPLIANT["why"] + ", over IPv6 (::1)"})],
    "empty-fragments-both.pcap": [flow(**EF_BOTH_111)],
    "empty-fragments-both-gz.pcap.gz": [flow(**EF_BOTH_111)],
    "empty-fragments-client.pcap": [flow(
        why="OpenSSL 1.1.1: only the client inserts empty fragments (24-byte record + data in one segment)",
        ef=(3, 0), empty_fragments="fail")],
    "empty-fragments-server.pcap": [flow(
        why="OpenSSL 1.1.1: only the server inserts empty fragments (24-byte record + data in one segment)",
        ef=(0, 3), empty_fragments="fail")],
    "empty-fragments-etm.pcap": [flow(
        why="OpenSSL 1.1.1, encrypt-then-MAC negotiated: empty fragments are 28-byte records "
            "(8 ciphertext + 20 MAC), each in the same segment as the data",
        ef=(3, 3), empty_fragments="fail")],
    "empty-fragments-both-ossl3.pcap": [flow(
        why="OpenSSL 3.6 on both sides inserting empty fragments: since 3.2 the 24-byte record leaves "
            "in its own TCP segment, so without keys it looks like 1/n-1 splitting (spec 3.3 step 4)",
        ef=(3, 3), ef_evidence="wire-ambiguous", empty_fragments="unknown")],
    "tls11-3des.pcap": [flow(
        why="TLS 1.1 with 3DES: wrong version (TLS 1.1 has explicit IVs, no empty fragments)",
        version="TLSv1.1", version_check="fail")],
    "tls12-3des.pcap": [flow(why="TLS 1.2 with 3DES: wrong version, right suite",
                             version="TLSv1.2", version_check="fail")],
    "wrong-cipher-aes128-sha.pcap": [flow(
        why="TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA: wrong suite", cipher_suite="0x002f",
        cipher_suite_check="fail")],
    "tls12-ecdhe-aes128-gcm.pcap": [flow(
        why="TLS 1.2 with TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: wrong version and suite",
        version="TLSv1.2", cipher_suite="0xc02f", version_check="fail", cipher_suite_check="fail")],
    "tls13.pcap": [flow(
        why="TLS 1.3: wrong version and suite; certificates are encrypted, so both CNs are unknown without keys",
        version="TLSv1.3", cipher_suite="0x1302", server_cn=None, client_cn=None,
        version_check="fail", cipher_suite_check="fail", server_cn_check="unknown", client_cn_check="unknown")],
    "wrong-server-cn.pcap": [flow(
        why="server certificate CN=wrong.example.com (client does not check host names)",
        server_cn="wrong.example.com", server_cn_check="fail")],
    "wrong-client-cn.pcap": [flow(
        why="client certificate CN=wrong.example.com from the same CA (accepted by the server)",
        client_cn="wrong.example.com", client_cn_check="fail")],
    "no-client-cert.pcap": [flow(
        why="server requests but does not require a client certificate; client sends an empty "
            "Certificate message and the handshake completes",
        client_cn=None, client_cn_check="fail")],
    "client-cert-required-missing.pcap": [flow(
        why="server requires a client certificate (-Verify), client sends an empty Certificate "
            "message: server's fatal handshake_failure alert",
        client_cn=None, ef=None, handshake_complete=False, alerts=[("server", "handshake_failure")],
        handshake="fail", client_cn_check="fail", empty_fragments="unknown")],
    "no-shared-cipher.pcap": [flow(
        why="client offers only AES suites, server only 3DES: server's fatal handshake_failure "
            "alert right after the ClientHello (no ServerHello, no certificates)",
        version=None, cipher_suite=None, server_cn=None, client_cn=None, ef=None,
        handshake_complete=False, alerts=[("server", "handshake_failure")], resumed=None,
        # No ServerHello, but the ClientHello proves the required suite was not
        # even offered, so it could never be negotiated: fail, not unknown.
        handshake="fail", version_check="unknown", cipher_suite_check="fail",
        empty_fragments="unknown", server_cn_check="unknown", client_cn_check="unknown")],
    "version-client12-server10.pcap": [flow(
        why="client offers only TLS 1.2, server allows only TLS 1.0: the ServerHello selects TLS 1.0 "
            "(which the profile allows) and the client aborts with protocol_version before sending "
            "its certificate",
        client_cn=None, ef=None, handshake_complete=False, alerts=[("client", "protocol_version")],
        # The client aborted before its certificate flight: unknown, not fail.
        handshake="fail", empty_fragments="unknown", client_cn_check="unknown")],
    "version-client10-server12.pcap": [flow(
        why="client offers only TLS 1.0, server allows only TLS 1.2: server's protocol_version "
            "alert, no ServerHello",
        version=None, cipher_suite=None, server_cn=None, client_cn=None, ef=None,
        handshake_complete=False, alerts=[("server", "protocol_version")], resumed=None,
        handshake="fail", version_check="fail", cipher_suite_check="unknown",
        empty_fragments="unknown", server_cn_check="unknown", client_cn_check="unknown")],
    "client-cert-no-clientauth.pcap": [flow(
        why="client certificate CN=ocs.example.com whose EKU lacks clientAuth (a reported finding, "
            "not a check); this server does not enforce the purpose, so the handshake completes")],
    "client-cert-expired.pcap": [flow(
        why="client certificate CN=ocs.example.com expired 2021-01-01; the server verifies it and "
            "sends a fatal certificate_expired alert",
        ef=None, handshake_complete=False, alerts=[("server", "certificate_expired")],
        handshake="fail", empty_fragments="unknown")],
    "resumed-session.pcap": [
        flow(why="full handshake (session id issued, tickets off), compliant"),
        flow(why="abbreviated handshake resuming the first flow's session id: no certificates in this "
                 "flow, the CNs come from the first flow's full handshake",
             resumed=True, server_cn=EXPECTED_SERVER_CN, client_cn=EXPECTED_CLIENT_CN),
    ],
    "several-flows.pcap": [
        flow(**{**COMPLIANT, "why": "flow 1 of 3: " + COMPLIANT["why"]}),
        flow(**{**EF_BOTH_111, "why": "flow 2 of 3: " + EF_BOTH_111["why"]}),
        flow(why="flow 3 of 3: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, wrong version and suite",
             version="TLSv1.2", cipher_suite="0xc02f", version_check="fail", cipher_suite_check="fail"),
    ],
    "cleartext-sip.pcap": [flow(
        why="cleartext SIP (OPTIONS, 200 OK) over plain TCP on 5062: not TLS",
        version=None, cipher_suite=None, server_cn=None, client_cn=None, ef=None,
        handshake_complete=False, resumed=None, handshake="fail", version_check="unknown",
        cipher_suite_check="unknown", empty_fragments="unknown", server_cn_check="unknown",
        client_cn_check="unknown")],
    "gnutls-client-compliant.pcap": [flow(
        why="GnuTLS client (TLS 1.0, 3DES, RSA, client certificate) to the OpenSSL server with "
            "-bugs: GnuTLS never inserts empty fragments")],
}


def run_tshark(path):
    fields = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags.syn",
              "tcp.flags.ack", "tcp.len", "tls.record.content_type", "tls.record.opaque_type", "tls.record.length",
              "tls.handshake.type", "tls.handshake.version", "tls.handshake.ciphersuite",
              "tls.handshake.extensions.supported_version", "tls.handshake.extension.type",
              "tls.handshake.session_id", "tls.alert_message.level", "tls.alert_message.desc",
              "tls.handshake.certificate", "tls.handshake.certificates_length"]
    cmd = ["tshark", "-r", path, "-d", f"tcp.port=={SERVER_PORT},tls", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        vals = line.split("\t")
        rows.append({f: (vals[i].split(",") if i < len(vals) and vals[i] else []) for i, f in enumerate(fields)})
    return rows


def leaf_cn(cert_hex):
    der = bytes.fromhex(cert_hex.replace(":", ""))
    out = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout", "-subject", "-nameopt", "multiline"],
                         input=der, check=True, capture_output=True).stdout.decode()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("commonName"):
            return line.split("=", 1)[1].strip()
    return None


def num(v):
    return int(v, 0)


def min_record(version, suite, etm):
    """Length of an application-data record with empty plaintext (spec 3.3)."""
    if suite not in CBC_SUITES or version not in ("TLSv1.0", "TLSv1.1", "TLSv1.2"):
        return None
    block, mac = CBC_SUITES[suite]
    eiv = 0 if version == "TLSv1.0" else block
    if etm:
        return eiv + block + mac
    return eiv + -(-(mac + 1) // block) * block


def wire_facts(path):
    """Per TCP stream, what the packets show (see module doc)."""
    streams = {}
    for r in run_tshark(path):
        sid = num(r["tcp.stream"][0])
        s = streams.setdefault(sid, {"client_port": None, "server_port": SERVER_PORT, "records": [],
                                     "version": None, "suite": None, "etm": False, "psk": False,
                                     "sid": {}, "cn": {}, "cert_msgs": {}, "alerts": [], "server_ip": None})
        src, dst = num(r["tcp.srcport"][0]), num(r["tcp.dstport"][0])
        direction = "server" if src == SERVER_PORT else "client"
        if r["tcp.flags.syn"] == ["1"] and r["tcp.flags.ack"] == ["0"]:
            s["client_port"] = src
        types = [num(t) for t in r["tls.handshake.type"]]
        if direction == "server" and 2 in types:
            s["version"] = VERSIONS.get(num(r["tls.handshake.version"][0]))
            if r["tls.handshake.extensions.supported_version"]:
                s["version"] = VERSIONS.get(num(r["tls.handshake.extensions.supported_version"][-1]))
            s["suite"] = num(r["tls.handshake.ciphersuite"][0])
            exts = [num(e) for e in r["tls.handshake.extension.type"]]
            s["etm"] = EXT_ENCRYPT_THEN_MAC in exts
            s["psk"] = EXT_PRE_SHARED_KEY in exts
        if (direction == "server" and 2 in types) or (direction == "client" and 1 in types):
            s["sid"][direction] = (r["tls.handshake.session_id"] or [""])[0]
        if 11 in types:
            s["cert_msgs"][direction] = True
            certs = r["tls.handshake.certificate"]
            s["cn"][direction] = leaf_cn(certs[0]) if certs else None
        descs = r["tls.alert_message.desc"]
        for i, d in enumerate(descs):
            level = num(r["tls.alert_message.level"][i]) if i < len(r["tls.alert_message.level"]) else 0
            s["alerts"].append({"from": direction, "level": "fatal" if level == 2 else "warning",
                                "description": ALERTS.get(num(d), d), "frame": num(r["frame.number"][0])})
        # TLS 1.3 protected records are "opaque" to tshark without keys; in a
        # segment they follow any cleartext records.
        record_types = r["tls.record.content_type"] + r["tls.record.opaque_type"]
        for i, ct in enumerate(record_types):
            s["records"].append({"frame": num(r["frame.number"][0]), "dir": direction, "type": num(ct),
                                 "len": num(r["tls.record.length"][i])})
        if record_types:
            total = sum(5 + num(x) for x in r["tls.record.length"])
            if total != num(r["tcp.len"][0]):
                raise SystemExit(f"{path}: frame {r['frame.number'][0]}: records do not fill the segment "
                                 f"exactly ({total} vs {r['tcp.len'][0]}); the ladder below assumes they do")
    return [streams[k] for k in sorted(streams)]


def handshake_complete(s):
    done = {}
    for d in ("client", "server"):
        recs = [r for r in s["records"] if r["dir"] == d]
        ccs = [i for i, r in enumerate(recs) if r["type"] == TLS_CT_CCS]
        done[d] = bool(ccs) and any(r["type"] == TLS_CT_HANDSHAKE for r in recs[ccs[0] + 1:])
        done[d + "_app"] = any(r["type"] == TLS_CT_APPDATA for r in recs)
    if s["version"] == "TLSv1.3":
        return done["client_app"] and done["server_app"]
    return done["client"] and done["server"]


def empty_fragment_ladder(s):
    """Counts of spec 3.3 step 3 (same segment) and step 4 (later segment) records."""
    size = min_record(s["version"], s["suite"], s["etm"])
    same = {"client": 0, "server": 0}
    later = {"client": 0, "server": 0}
    recs = s["records"]
    if size is None:
        return same, later
    for i, r in enumerate(recs):
        if r["type"] != TLS_CT_APPDATA or r["len"] != size:
            continue
        nxt = recs[i + 1] if i + 1 < len(recs) else None
        if nxt is None or nxt["dir"] != r["dir"] or nxt["type"] != TLS_CT_APPDATA:
            continue
        (same if nxt["frame"] == r["frame"] else later)[r["dir"]] += 1
    return same, later


def verify(name, expected, facts):
    problems = []

    def check(what, want, got):
        if want != got:
            problems.append(f"flow {idx + 1}: {what}: expected {want!r}, wire shows {got!r}")

    check_count = len(expected) == len(facts)
    if not check_count:
        problems.append(f"{len(expected)} flows expected, {len(facts)} TCP streams on the wire")
    for idx, (e, s) in enumerate(zip(expected, facts)):
        is_tls = bool(s["records"])
        check("version", e["version"], s["version"])
        check("cipher_suite", e["cipher_suite"], None if s["suite"] is None else f"0x{s['suite']:04x}")
        check("handshake_complete", e["handshake_complete"], is_tls and handshake_complete(s))
        check("alerts", [(a["from"], a["description"]) for a in e["alerts"]],
              [(a["from"], a["description"]) for a in s["alerts"] if a["level"] == "fatal"])
        resumed = False
        if s["version"] == "TLSv1.3":
            resumed = s["psk"]
        elif s["sid"].get("client") and s["sid"].get("client") == s["sid"].get("server"):
            resumed = True
        check("resumed", e["resumed"], resumed)
        if not e["resumed"]:
            check("server_cn", e["server_cn"], s["cn"].get("server"))
            check("client_cn", e["client_cn"], s["cn"].get("client"))
        else:
            check("certificates in resumed flow", {}, s["cn"])
        if e["checks"]["server_cn"] == "pass":
            check("server_cn matches", EXPECTED_SERVER_CN, e["server_cn"])
        if e["checks"]["client_cn"] == "pass":
            check("client_cn matches", EXPECTED_CLIENT_CN, e["client_cn"])
        same, later = empty_fragment_ladder(s)
        if e["empty_fragments"] is not None:
            got = same if e["empty_fragments"]["evidence"] == "wire" else later
            check("empty fragments", (e["empty_fragments"]["client"], e["empty_fragments"]["server"]),
                  (got["client"], got["server"]))
            other = later if got is same else same
            check("other-step empty-fragment candidates", (0, 0), (other["client"], other["server"]))
        has_app = {d: any(r["type"] == TLS_CT_APPDATA and r["dir"] == d for r in s["records"])
                   for d in ("client", "server")}
        if e["checks"]["empty_fragments"] == "unknown" and e["empty_fragments"] is None:
            check("application data seen", {"client": False, "server": False}, has_app)
        e["client_port"] = s["client_port"]
        alerts_by_wire = [a for a in s["alerts"] if a["level"] == "fatal"]
        for ea, wa in zip(e["alerts"], alerts_by_wire):
            ea["frame"] = wa["frame"]
    if problems:
        raise SystemExit(f"{name}: the capture disagrees with its expectation:\n  " + "\n  ".join(problems))


def main():
    cap_dir = sys.argv[1]
    missing = [n for n in EXPECT if not os.path.exists(os.path.join(cap_dir, n))]
    if missing:
        raise SystemExit(f"missing captures: {', '.join(missing)}")
    for name, flows in EXPECT.items():
        facts = wire_facts(os.path.join(cap_dir, name))
        verify(name, flows, facts)
        doc = {
            "capture": name,
            "args": ARGS,
            "exit_code": 1 if any(f["verdict"] == "fail" for f in flows) else 0,
            "flows": [{"client_port": f.pop("client_port"), **f} for f in flows],
        }
        stem = name.split(".")[0]
        with open(os.path.join(cap_dir, stem + ".expect.json"), "w") as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
        print(f"expect: {name}: {', '.join(f['verdict'] for f in flows)} (exit {doc['exit_code']})")


if __name__ == "__main__":
    main()
