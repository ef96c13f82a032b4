#!/usr/bin/python3
"""Linux-side test peer for network tests (runs inside the test namespace):
  echo HOST PORT TEXT          connect, send TEXT, print what comes back
  pull HOST PORT BYTES         read BYTES from the server (chargen), check RFC 864 lines
  push HOST PORT BYTES         send BYTES of pattern to the server (discard)
  serve-recv PORT              accept one connection, read to EOF, check Tern's test pattern
  serve-send PORT BYTES        accept one connection, send BYTES of Tern's test pattern, close
Each prints one result line: RESULT key=value ...
"""
import socket
import sys
import time

PAT = 251  # Tern's `tcp send/recv` pattern: byte i is i % 251


def pattern(offset, n):
    return bytes((offset + i) % PAT for i in range(n))


def result(**kw):
    print("RESULT " + " ".join(f"{k}={v}" for k, v in kw.items()), flush=True)


def main():
    cmd = sys.argv[1]
    if cmd == "echo":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=20)
        data = sys.argv[4].encode()
        s.sendall(data)
        back = b""
        while len(back) < len(data):
            b = s.recv(4096)
            if not b:
                break
            back += b
        result(echo=back.decode(errors="replace").replace(" ", "_"), ok=int(back == data))
    elif cmd == "pull":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
        want, got, buf = int(sys.argv[4]), 0, bytearray()
        t0 = time.monotonic()
        while got < want:
            b = s.recv(1 << 20)
            if not b:
                break
            got += len(b)
            if len(buf) < 74 * 100:
                buf += b
        dt = time.monotonic() - t0
        lines = bytes(buf[: 74 * 100]).split(b"\r\n")[:-1]
        ok = len(lines) > 10 and all(len(l) == 72 and all(32 <= c < 127 for c in l) for l in lines)
        result(bytes=got, seconds=f"{dt:.3f}", mbps=f"{got / dt / 1e6:.2f}", lines_ok=int(ok))
    elif cmd == "push":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
        n = int(sys.argv[4])
        chunk = pattern(0, PAT * 256)
        t0 = time.monotonic()
        sent = 0
        while sent < n:
            k = min(n - sent, len(chunk))
            s.sendall(chunk[:k])
            sent += k
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # wait for the peer to close: everything was delivered
        dt = time.monotonic() - t0
        result(bytes=sent, seconds=f"{dt:.3f}", mbps=f"{sent / dt / 1e6:.2f}")
    elif cmd == "serve-recv":
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", int(sys.argv[2])))
        ls.listen(1)
        print("LISTENING", flush=True)
        ls.settimeout(120)
        c, _ = ls.accept()
        got, bad = 0, 0
        t0 = time.monotonic()
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            if b != pattern(got % PAT, len(b)):
                bad += sum(1 for i, x in enumerate(b) if x != (got + i) % PAT)
            got += len(b)
        dt = time.monotonic() - t0
        result(bytes=got, bad=bad, seconds=f"{dt:.3f}", mbps=f"{got / max(dt, 1e-6) / 1e6:.2f}")
    elif cmd == "serve-send":
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", int(sys.argv[2])))
        ls.listen(1)
        print("LISTENING", flush=True)
        ls.settimeout(120)
        c, _ = ls.accept()
        n = int(sys.argv[3])
        chunk = pattern(0, PAT * 256)
        sent = 0
        while sent < n:
            k = min(n - sent, len(chunk))
            c.sendall(chunk[:k])
            sent += k
        c.close()
        result(bytes=sent)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
