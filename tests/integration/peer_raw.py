#!/usr/bin/python3
"""Hostile traffic from the Linux side of the test network (run inside the namespace, as
root): raw Ethernet frames on br0 aimed at Tern.
  garbage DSTMAC N        random bytes after a valid Ethernet header (IPv4/ARP ethertypes)
  badip DSTMAC DSTIP N    IPv4 with truncated/oversized lengths, bad IHL, bad checksums,
                          fragments, TCP/UDP/ICMP with bad checksums
  rststorm DSTMAC DSTIP PORT N   TCP RSTs with random sequence numbers and sources
  synflood DSTMAC DSTIP PORT N   SYNs from random addresses and ports
"""
import os
import random
import socket
import struct
import sys

IFACE = "br0"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip_hdr(src, dst, proto, payload_len, ident=0, frag=0x4000, bad_csum=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    c = csum(h) ^ (0x1234 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:]


def tcp_seg(src, dst, sport, dport, seq, ack, flags, payload=b"", bad=False):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6,
                                                                          len(h) + len(payload))
    c = csum(pseudo + h + payload) ^ (0x0101 if bad else 0)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((IFACE, 0))
    src_mac = open(f"/sys/class/net/{IFACE}/address").read().strip()
    smac = mac(src_mac)
    cmd = sys.argv[1]
    dmac = mac(sys.argv[2])
    rnd = random.Random(int(os.environ.get("SEED", "7")))
    sent = 0

    def send(ethertype, payload):
        nonlocal sent
        s.send(dmac + smac + struct.pack("!H", ethertype) + payload)
        sent += 1

    if cmd == "garbage":
        for i in range(int(sys.argv[3])):
            et = rnd.choice([0x0800, 0x0806, 0x86DD, rnd.randrange(65536)])
            send(et, bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 1500))))
    elif cmd == "badip":
        dst = sys.argv[3]
        src = "169.254.77.254"
        for i in range(int(sys.argv[4])):
            kind = i % 8
            body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 80)))
            if kind == 0:  # truncated header
                send(0x0800, ip_hdr(src, dst, 6, len(body))[: rnd.randrange(1, 20)])
            elif kind == 1:  # total length bigger than the frame
                h = bytearray(ip_hdr(src, dst, 17, len(body)))
                h[2:4] = struct.pack("!H", 1400)
                send(0x0800, bytes(h) + body)
            elif kind == 2:  # bad IHL
                h = bytearray(ip_hdr(src, dst, 6, len(body)))
                h[0] = 0x40 | rnd.choice([0, 1, 4, 15])
                send(0x0800, bytes(h) + body)
            elif kind == 3:  # bad header checksum
                send(0x0800, ip_hdr(src, dst, 1, len(body), bad_csum=True) + body)
            elif kind == 4:  # fragments
                send(0x0800, ip_hdr(src, dst, 17, len(body), frag=0x2000 | rnd.randrange(8)) + body)
            elif kind == 5:  # TCP with a bad checksum
                seg = tcp_seg(src, dst, 4000 + i, 7, rnd.randrange(2**32), 0, 0x02, body, bad=True)
                send(0x0800, ip_hdr(src, dst, 6, len(seg)) + seg)
            elif kind == 6:  # ICMP echo with a bad checksum
                icmp = struct.pack("!BBHHH", 8, 0, 0xBEEF, 1, i) + body
                send(0x0800, ip_hdr(src, dst, 1, len(icmp)) + icmp)
            else:  # UDP to a closed port with a bogus length
                udp = struct.pack("!HHHH", 5000, 9999, 4000, 0) + body
                send(0x0800, ip_hdr(src, dst, 17, len(udp)) + udp)
    elif cmd in ("rststorm", "synflood"):
        dst, port = sys.argv[3], int(sys.argv[4])
        for i in range(int(sys.argv[5])):
            src = "169.254.77.%d" % rnd.randrange(100, 200)
            flags = 0x04 if cmd == "rststorm" else 0x02
            seg = tcp_seg(src, dst, rnd.randrange(1024, 65535), port, rnd.randrange(2**32),
                          0, flags)
            send(0x0800, ip_hdr(src, dst, 6, len(seg), ident=i) + seg)
    print(f"RESULT sent={sent}", flush=True)


if __name__ == "__main__":
    main()
