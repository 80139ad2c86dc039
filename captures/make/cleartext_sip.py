#!/usr/bin/env python3
"""Cleartext SIP over TCP 5062 (no TLS): one OPTIONS and its 200 OK.

Used by make-captures.sh to record what a peer configured for TCP instead of
TLS puts on the federation port. Usage: cleartext_sip.py server|client HOST PORT
"""
import socket
import sys
import time

REQUEST = [
    b"OPTIONS sip:imp.example.com:5062;transport=tcp SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP ocs.example.com:5062;branch=z9hG4bK-cleartext-1\r\n"
    b"Max-Forwards: 70\r\n",
    b"To: <sip:imp.example.com>\r\nFrom: <sip:ocs.example.com>;tag=ocs1\r\n"
    b"Call-ID: cleartext@ocs.example.com\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n",
]
RESPONSE = [
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TCP ocs.example.com:5062;branch=z9hG4bK-cleartext-1\r\n",
    b"To: <sip:imp.example.com>;tag=imp1\r\nFrom: <sip:ocs.example.com>;tag=ocs1\r\n"
    b"Call-ID: cleartext@ocs.example.com\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n",
]
TIMEOUT_S = 10


def read_message(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def send_chunks(conn, chunks):
    for chunk in chunks:
        conn.sendall(chunk)
        time.sleep(0.3)


def main():
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if role == "server":
        with socket.socket(family, socket.SOCK_STREAM) as lsock:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((host, port))
            lsock.listen(1)
            lsock.settimeout(TIMEOUT_S)
            conn, _ = lsock.accept()
            with conn:
                conn.settimeout(TIMEOUT_S)
                read_message(conn)
                send_chunks(conn, RESPONSE)
                # Wait for the client to close first, as a SIP peer would.
                conn.recv(4096)
    else:
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            send_chunks(conn, REQUEST)
            read_message(conn)


if __name__ == "__main__":
    main()
