#!/usr/bin/env bash
# Record the project's own SIP-over-TLS captures on TCP 5062.
#
# Every scenario runs real TLS stacks (an OpenSSL 3.x built with weak ciphers
# by build-openssl.sh, and Debian's GnuTLS) on the loopback interface of a
# private network namespace while tcpdump records 'tcp port 5062'. Each side
# writes SIP text in three separate writes with pauses, so that a stack that
# inserts empty fragments (OpenSSL under TLS 1.0 CBC without -bugs) shows one
# before every write.
#
# Outputs (all in captures/): <name>.pcap, <name>.keys (the client's
# SSLKEYLOGFILE), and afterwards expect.py writes <name>.expect.json after
# checking the wire facts with tshark. The test PKI lives in captures/pki/ and
# is created only when missing, so regenerating keeps the same certificates.
#
# Usage: sudo captures/make/make-captures.sh [SCENARIO...]   (default: all)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cap="$(cd "$here/.." && pwd)"
pki="$cap/pki"
build="$here/build"
work="$build/run"
logs="$build/logs"
ossl="$build/openssl/bin/openssl"
ossl111="$build/openssl-111/bin/openssl"
ns="tlsaudit-cap-$$"
port=5062

# Pauses (seconds). Loopback is fast; these only keep writes apart so each
# becomes its own TLS write (and its own TCP segment).
readonly HANDSHAKE_WAIT=1.0
readonly WRITE_GAP=0.3
readonly CLIENT_LINGER=2.0
readonly PEER_TIMEOUT=20

if [[ $EUID -ne 0 ]]; then
    echo "make-captures: run as root (network namespace, tcpdump)" >&2
    exit 2
fi

need_pkgs=()
command -v tcpdump >/dev/null || need_pkgs+=(tcpdump)
command -v gnutls-cli >/dev/null || need_pkgs+=(gnutls-bin)
command -v tshark >/dev/null || need_pkgs+=(tshark)
if ((${#need_pkgs[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"
fi
"$here/build-openssl.sh"

mkdir -p "$work" "$logs" "$pki"

# --------------------------------------------------------------------------
# PKI (test keys only). RSA keys: the suites audited use RSA key exchange, so
# the server keys can decrypt the captures.
# --------------------------------------------------------------------------
make_pki() {
    [[ -f "$pki/ca.crt" ]] && return 0
    echo "make-captures: creating test PKI in $pki"
    local cnf="$work/req.cnf"
    cat >"$cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[both]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:${ENV::CERT_CN}
authorityKeyIdentifier = keyid
[serveronly]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:${ENV::CERT_CN}
authorityKeyIdentifier = keyid
CNF
    export CERT_CN=unused
    "$ossl" genrsa -out "$pki/ca.key" 2048 2>/dev/null
    "$ossl" req -config "$cnf" -x509 -new -key "$pki/ca.key" -sha256 \
        -subj "/O=tlsaudit test/CN=tlsaudit Test CA" -extensions ca \
        -set_serial 1 -not_before 20250101000000Z -not_after 20450101000000Z \
        -out "$pki/ca.crt"
    # name CN extensions serial not_before not_after
    local specs=(
        "server imp.example.com both 16 20250101000000Z 20450101000000Z"
        "client ocs.example.com both 17 20250101000000Z 20450101000000Z"
        "wrong wrong.example.com both 18 20250101000000Z 20450101000000Z"
        "client-noclientauth ocs.example.com serveronly 19 20250101000000Z 20450101000000Z"
        "client-expired ocs.example.com both 20 20200101000000Z 20210101000000Z"
    )
    local spec name cn ext serial nb na
    for spec in "${specs[@]}"; do
        read -r name cn ext serial nb na <<<"$spec"
        export CERT_CN="$cn"
        "$ossl" genrsa -out "$pki/$name.key" 2048 2>/dev/null
        "$ossl" req -config "$cnf" -new -key "$pki/$name.key" \
            -subj "/O=tlsaudit test/CN=$cn" -out "$work/$name.csr"
        "$ossl" x509 -req -in "$work/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
            -sha256 -set_serial "$serial" -not_before "$nb" -not_after "$na" \
            -extfile "$cnf" -extensions "$ext" -out "$pki/$name.crt" 2>/dev/null
    done
}
make_pki

# --------------------------------------------------------------------------
# Namespace and capture plumbing.
# --------------------------------------------------------------------------
# A function would fork a subshell when backgrounded; $! must be the tool
# itself (ip netns exec execs it) so that signals reach it.
nsx() { ip netns exec "$ns" "$@"; }
NSX=(ip netns exec "$ns")

bg_pids=()
cleanup() {
    local pid
    for pid in "${bg_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
nsx ip link set lo up
# ::1 is on lo once it is up; wait for DAD-free loopback v6 to be usable.
for _ in $(seq 1 20); do
    nsx ip -6 addr show dev lo | grep -q '::1' && break
    sleep 0.1
done

tcpdump_pid=""
start_capture() {
    local out="$1"
    rm -f "$out"
    "${NSX[@]}" tcpdump -i lo -s 0 -U -Z root -w "$out" "tcp port $port" 2>"$logs/tcpdump.log" &
    tcpdump_pid=$!
    bg_pids+=("$tcpdump_pid")
    for _ in $(seq 1 50); do
        grep -q 'listening on' "$logs/tcpdump.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "make-captures: tcpdump did not start" >&2
    return 1
}

stop_capture() {
    sleep 0.5
    kill -INT "$tcpdump_pid"
    wait "$tcpdump_pid" || true
}

# Wait up to $2 seconds for pid $1, then kill it.
wait_or_kill() {
    local pid="$1" limit="$2" i
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

wait_listening() {
    local i
    for ((i = 0; i < 50; i++)); do
        nsx ss -Hltn "sport = :$port" | grep -q LISTEN && return 0
        sleep 0.1
    done
    echo "make-captures: server did not listen on $port" >&2
    return 1
}

# SIP text, split in three writes per direction.
sip_request_part() {
    local tag="$1" part="$2"
    case "$part" in
    1) printf 'OPTIONS sip:imp.example.com:5062;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS ocs.example.com:5061;branch=z9hG4bK-%s\r\nMax-Forwards: 70\r\n' "$tag" ;;
    2) printf 'To: <sip:imp.example.com>\r\nFrom: <sip:ocs.example.com>;tag=ocs-%s\r\nCall-ID: %s@ocs.example.com\r\nCSeq: 1 OPTIONS\r\n' "$tag" "$tag" ;;
    3) printf 'Contact: <sip:ocs.example.com:5061;transport=tls>\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n' ;;
    esac
}
sip_response_part() {
    local tag="$1" part="$2"
    case "$part" in
    1) printf 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS ocs.example.com:5061;branch=z9hG4bK-%s\r\n' "$tag" ;;
    2) printf 'To: <sip:imp.example.com>;tag=imp-%s\r\nFrom: <sip:ocs.example.com>;tag=ocs-%s\r\nCall-ID: %s@ocs.example.com\r\nCSeq: 1 OPTIONS\r\n' "$tag" "$tag" "$tag" ;;
    3) printf 'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, MESSAGE, SUBSCRIBE, NOTIFY\r\nContent-Length: 0\r\n\r\n' ;;
    esac
}

# Write a generated chunk with a single write(2): bash's printf may flush a
# pipe line by line, and the TLS peer would then turn each line into its own
# record. cat copies a small file in one write.
write_once() {
    local tmp
    tmp="$(mktemp "$work/chunk.XXXXXX")"
    "$@" >"$tmp"
    cat "$tmp"
    rm -f "$tmp"
}

# Client stdin: three request writes, a marker for the server feeder, then a
# pause to read the response; EOF makes the client close (close_notify, FIN).
client_feed() {
    local tag="$1" marker="$2" part
    sleep "$HANDSHAKE_WAIT"
    for part in 1 2 3; do
        write_once sip_request_part "$tag" "$part"
        sleep "$WRITE_GAP"
    done
    touch "$marker"
    sleep "$CLIENT_LINGER"
}

# Server stdin: for each connection (round), wait for the client's request to
# have been written, then three response writes. Stdin then stays open (an
# EOF would end s_server's session early); the feeder is killed afterwards.
server_feed() {
    local tag="$1" rounds="$2" round part
    for ((round = 1; round <= rounds; round++)); do
        while [[ ! -e "$work/markers/client-$round" ]]; do sleep 0.1; done
        sleep "$WRITE_GAP"
        for part in 1 2 3; do
            write_once sip_response_part "$tag-$round" "$part"
            sleep "$WRITE_GAP"
        done
    done
    exec sleep 120
}

server_pid=""
feeder_pid=""
round=0
scenario=""

# start_server ROUNDS CMD...: run a TLS server fed by server_feed.
start_server() {
    local rounds="$1"
    shift
    rm -rf "$work/markers" "$work/server.fifo"
    mkdir -p "$work/markers"
    mkfifo "$work/server.fifo"
    round=0
    server_feed "$scenario" "$rounds" >"$work/server.fifo" &
    feeder_pid=$!
    bg_pids+=("$feeder_pid")
    "${NSX[@]}" "$@" <"$work/server.fifo" >>"$logs/$scenario.server.log" 2>&1 &
    server_pid=$!
    bg_pids+=("$server_pid")
    wait_listening
}

# run_client CMD...: one client connection fed by client_feed; returns when
# the client has exited (or was killed after PEER_TIMEOUT).
run_client() {
    round=$((round + 1))
    local cpid
    client_feed "$scenario-$round" "$work/markers/client-$round" |
        "${NSX[@]}" "$@" >>"$logs/$scenario.client.log" 2>&1 &
    cpid=$!
    wait_or_kill "$cpid" "$PEER_TIMEOUT"
    sleep 0.3
}

finish_server() {
    wait_or_kill "$server_pid" 5
    kill "$feeder_pid" 2>/dev/null || true
    wait "$feeder_pid" 2>/dev/null || true
    rm -f "$work/server.fifo"
}

# --------------------------------------------------------------------------
# Command builders.
# --------------------------------------------------------------------------
# Encrypt-then-MAC (RFC 7366) is off unless ETM=1: the federation peers of
# that era (SChannel, OpenSSL 0.9.8/1.0.x) never negotiate it, and it changes
# the minimal record size (3DES-SHA: 28 bytes instead of 24).
# 1.1.1 has no -no_etm switch: its ssl_conf module does it from a config file.
etm_flag() { [[ "${ETM:-}" == 1 || "${STACK:-}" == 111 ]] || echo -no_etm; }
no_etm_111_cnf="$work/openssl-111-no-etm.cnf"
cat >"$no_etm_111_cnf" <<'CNF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -EncryptThenMac
CNF
# STACK=111 selects the OpenSSL 1.1.1 build (empty fragment and data in one
# write); the default is the 3.x build.
ossl_bin() {
    if [[ "${STACK:-}" != 111 ]]; then
        echo "$ossl"
    elif [[ "${ETM:-}" == 1 ]]; then
        echo "$ossl111"
    else
        echo env OPENSSL_CONF="$no_etm_111_cnf" "$ossl111"
    fi
}
keys_file() { echo "$cap/$1.keys"; }

# s_server ACCEPT NACCEPT CERTNAME EXTRA...
s_server() {
    local accept="$1" naccept="$2" certname="$3"
    shift 3
    echo "$(ossl_bin)" s_server -accept "$accept" -naccept "$naccept" -quiet $(etm_flag) \
        -cert "$pki/$certname.crt" -key "$pki/$certname.key" -CAfile "$pki/ca.crt" "$@"
}

# s_client CONNECT CERTNAME|- KEYS EXTRA...
s_client() {
    local connect="$1" certname="$2" keys="$3"
    shift 3
    local certargs=()
    [[ "$certname" != "-" ]] && certargs=(-cert "$pki/$certname.crt" -key "$pki/$certname.key")
    echo "$(ossl_bin)" s_client -connect "$connect" -nocommands $(etm_flag) -CAfile "$pki/ca.crt" \
        -keylogfile "$keys" "${certargs[@]}" "$@"
}

# One OpenSSL session: tls_session SERVERCERT CLIENTCERT SERVER_ARGS CLIENT_ARGS
# (argument strings are word-split; they contain no spaces inside words).
# shellcheck disable=SC2086
tls_session() {
    local scert="$1" ccert="$2" sargs="$3" cargs="$4"
    local v4=127.0.0.1:$port
    [[ "${IPV6:-}" == 1 ]] && v4="[::1]:$port"
    local keys
    keys="$(keys_file "$scenario")"
    local -a scmd ccmd
    read -r -a scmd <<<"$(s_server "$v4" 1 "$scert" $sargs)"
    read -r -a ccmd <<<"$(s_client "$v4" "$ccert" "$keys" $cargs)"
    start_server 1 "${scmd[@]}"
    run_client "${ccmd[@]}"
    finish_server
}

# Cipher-list arguments contain ':' and '@' but no spaces, so word-splitting
# the argument strings above is safe.
S10="-tls1 -cipher DES-CBC3-SHA:@SECLEVEL=0"
C10="-tls1 -cipher DES-CBC3-SHA:@SECLEVEL=0"
REQ="-Verify 1 -verify_return_error"

begin() {
    scenario="$1"
    echo "make-captures: $scenario"
    : >"$logs/$scenario.server.log"
    : >"$logs/$scenario.client.log"
    rm -f "$(keys_file "$scenario")"
    start_capture "$cap/$scenario.pcap"
}
end() {
    stop_capture
    local keys
    keys="$(keys_file "$scenario")"
    # A failed handshake leaves only the file's comment header: drop it.
    if [[ -f "$keys" ]] && ! grep -qv '^#' "$keys"; then rm -f "$keys"; fi
}

# --------------------------------------------------------------------------
# Scenarios. Unless said otherwise: server imp.example.com requiring a client
# certificate (verification errors are fatal), client ocs.example.com.
# --------------------------------------------------------------------------
sc_compliant_mtls() {
    begin compliant-mtls
    tls_session server client "$S10 $REQ -bugs" "$C10 -bugs"
    end
}
sc_empty_fragments_both() {
    begin empty-fragments-both
    STACK=111 tls_session server client "$S10 $REQ" "$C10"
    end
}
sc_empty_fragments_client() {
    begin empty-fragments-client
    STACK=111 tls_session server client "$S10 $REQ -bugs" "$C10"
    end
}
sc_empty_fragments_both_ossl3() {
    # OpenSSL 3.x on both sides inserting empty fragments: since 3.2 the
    # empty record is written from its own buffer (its own TCP segment).
    begin empty-fragments-both-ossl3
    tls_session server client "$S10 $REQ" "$C10"
    end
}
sc_empty_fragments_etm() {
    # Both sides insert empty fragments, with encrypt-then-MAC negotiated.
    begin empty-fragments-etm
    ETM=1 STACK=111 tls_session server client "$S10 $REQ" "$C10"
    end
}
sc_empty_fragments_server() {
    begin empty-fragments-server
    STACK=111 tls_session server client "$S10 $REQ" "$C10 -bugs"
    end
}
sc_tls11_3des() {
    begin tls11-3des
    tls_session server client "-tls1_1 -cipher DES-CBC3-SHA:@SECLEVEL=0 $REQ -bugs" \
        "-tls1_1 -cipher DES-CBC3-SHA:@SECLEVEL=0 -bugs"
    end
}
sc_tls12_3des() {
    begin tls12-3des
    tls_session server client "-tls1_2 -cipher DES-CBC3-SHA:@SECLEVEL=0 $REQ -bugs" \
        "-tls1_2 -cipher DES-CBC3-SHA:@SECLEVEL=0 -bugs"
    end
}
sc_wrong_cipher_aes() {
    begin wrong-cipher-aes128-sha
    tls_session server client "-tls1 -cipher AES128-SHA:@SECLEVEL=0 $REQ -bugs" \
        "-tls1 -cipher AES128-SHA:@SECLEVEL=0 -bugs"
    end
}
sc_tls12_aead() {
    begin tls12-ecdhe-aes128-gcm
    tls_session server client "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 $REQ" \
        "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"
    end
}
sc_tls13() {
    begin tls13
    tls_session server client "-tls1_3 $REQ" "-tls1_3"
    end
}
sc_wrong_server_cn() {
    # The client does not check the host name (as a peer configured by IP).
    begin wrong-server-cn
    tls_session wrong client "$S10 $REQ -bugs" "$C10 -bugs"
    end
}
sc_wrong_client_cn() {
    # The certificate is valid (same CA); OpenSSL does not match client names.
    begin wrong-client-cn
    tls_session server wrong "$S10 $REQ -bugs" "$C10 -bugs"
    end
}
sc_no_client_cert() {
    # Server requests a certificate but does not require one.
    begin no-client-cert
    tls_session server - "$S10 -verify 1 -bugs" "$C10 -bugs"
    end
}
sc_client_cert_required_missing() {
    begin client-cert-required-missing
    tls_session server - "$S10 $REQ -bugs" "$C10 -bugs"
    end
}
sc_no_shared_cipher() {
    begin no-shared-cipher
    tls_session server client "$S10 $REQ -bugs" "-tls1 -cipher AES128-SHA:AES256-SHA:@SECLEVEL=0 -bugs"
    end
}
sc_version_client12_server10() {
    # ClientHello offers TLS 1.2 only; the server answers TLS 1.0 and the
    # client refuses it.
    begin version-client12-server10
    tls_session server client "$S10 $REQ -bugs" "-tls1_2 -cipher DES-CBC3-SHA:@SECLEVEL=0 -bugs"
    end
}
sc_version_client10_server12() {
    # ClientHello offers TLS 1.0 only; the server requires TLS 1.2.
    begin version-client10-server12
    tls_session server client "-tls1_2 -cipher DES-CBC3-SHA:@SECLEVEL=0 $REQ -bugs" "$C10 -bugs"
    end
}
sc_client_cert_no_clientauth() {
    # The client certificate lacks the clientAuth EKU. This server does not
    # enforce the purpose (no -verify_return_error), so the handshake completes.
    begin client-cert-no-clientauth
    tls_session server client-noclientauth "$S10 -Verify 1 -bugs" "$C10 -bugs"
    end
}
sc_client_cert_expired() {
    # The server verifies the chain and rejects the expired certificate.
    begin client-cert-expired
    tls_session server client-expired "$S10 $REQ -bugs" "$C10 -bugs"
    end
}
sc_ipv6() {
    begin ipv6-compliant-mtls
    IPV6=1 tls_session server client "$S10 $REQ -bugs" "$C10 -bugs"
    end
}
sc_resumed() {
    # Two connections to one server process: a full handshake, then an
    # abbreviated one resuming by session id (tickets off).
    begin resumed-session
    local keys sess="$work/resumed.sess"
    keys="$(keys_file "$scenario")"
    rm -f "$sess"
    local -a scmd c1 c2
    read -r -a scmd <<<"$(s_server "127.0.0.1:$port" 2 server $S10 $REQ -bugs -no_ticket)"
    read -r -a c1 <<<"$(s_client "127.0.0.1:$port" client "$keys" $C10 -bugs -sess_out "$sess")"
    read -r -a c2 <<<"$(s_client "127.0.0.1:$port" client "$keys" $C10 -bugs -sess_in "$sess")"
    start_server 2 "${scmd[@]}"
    run_client "${c1[@]}"
    run_client "${c2[@]}"
    finish_server
    end
}
sc_several_flows() {
    # Three sessions, one after the other, under one tcpdump.
    begin several-flows
    tls_session server client "$S10 $REQ -bugs" "$C10 -bugs"
    STACK=111 tls_session server client "$S10 $REQ" "$C10"
    tls_session server client "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 $REQ" \
        "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"
    end
}
sc_cleartext_sip() {
    begin cleartext-sip
    "${NSX[@]}" python3 "$here/cleartext_sip.py" server 127.0.0.1 "$port" >"$logs/$scenario.server.log" 2>&1 &
    server_pid=$!
    bg_pids+=("$server_pid")
    wait_listening
    nsx python3 "$here/cleartext_sip.py" client 127.0.0.1 "$port" >"$logs/$scenario.client.log" 2>&1
    wait_or_kill "$server_pid" 5
    end
}
sc_gnutls_client() {
    # GnuTLS client (TLS 1.0, 3DES, RSA key exchange, client certificate)
    # against the OpenSSL server.
    begin gnutls-client-compliant
    local keys
    keys="$(keys_file "$scenario")"
    local -a scmd
    read -r -a scmd <<<"$(s_server "127.0.0.1:$port" 1 server $S10 $REQ -bugs)"
    start_server 1 "${scmd[@]}"
    run_client env SSLKEYLOGFILE="$keys" gnutls-cli --port "$port" \
        --priority 'NONE:+VERS-TLS1.0:+3DES-CBC:+RSA:+SHA1:+COMP-NULL:+SIGN-ALL:%COMPAT' \
        --x509cafile "$pki/ca.crt" --x509certfile "$pki/client.crt" --x509keyfile "$pki/client.key" \
        --verify-hostname imp.example.com 127.0.0.1
    finish_server
    end
}

all_scenarios=(
    compliant_mtls empty_fragments_both empty_fragments_client empty_fragments_server
    empty_fragments_etm empty_fragments_both_ossl3
    tls11_3des tls12_3des wrong_cipher_aes tls12_aead tls13 wrong_server_cn wrong_client_cn
    no_client_cert client_cert_required_missing no_shared_cipher version_client12_server10
    version_client10_server12 client_cert_no_clientauth client_cert_expired ipv6 resumed
    several_flows cleartext_sip gnutls_client
)
if (($#)); then
    selected=("$@")
else
    selected=("${all_scenarios[@]}")
fi
for s in "${selected[@]}"; do
    "sc_${s//-/_}"
done

# Other container formats of the same bytes, to exercise those readers.
if (($# == 0)); then
    editcap -F pcapng "$cap/compliant-mtls.pcap" "$cap/compliant-mtls-ng.pcapng"
    cp "$cap/compliant-mtls.keys" "$cap/compliant-mtls-ng.keys"
    gzip -9 -n -c "$cap/empty-fragments-both.pcap" >"$cap/empty-fragments-both-gz.pcap.gz"
    cp "$cap/empty-fragments-both.keys" "$cap/empty-fragments-both-gz.keys"
fi

python3 "$here/expect.py" "$cap"
# Edge cases derived from the recordings (snaplen, Cisco MetaData, bad IP
# length, TCP Fast Open, mid-stream starts), with their expectations.
python3 "$here/derive.py" "$cap"
