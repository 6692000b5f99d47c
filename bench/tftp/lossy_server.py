#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A deliberately unreliable TFTP read server, for checking tftpload itself.

Neither dnsmasq nor tftpd-hpa speaks windowsize (RFC 7440), and loopback never loses a
packet, so the generator's window, gap and retransmission paths would go untested until
autoprov exists. This server grants blksize, windowsize and tsize, and can drop, duplicate
and reorder DATA and ignore ACKs on a fixed schedule, so that a run is reproducible. It
is slow (pure Python, one thread) and only meant for correctness: see selftest.
"""

import argparse
import os
import selectors
import socket
import struct
import sys
import time

OP_RRQ, OP_DATA, OP_ACK, OP_ERROR, OP_OACK = 1, 3, 4, 5, 6


class Transfer:
    def __init__(self, server, peer, data, blksize, window, oack):
        self.server = server
        self.peer = peer
        self.data = data
        self.blksize = blksize
        self.window = window
        # Blocks are counted from 1 without wrapping here; the wire carries them mod 65536.
        self.nblocks = len(data) // blksize + 1
        self.base = 0 if oack else 1  # lowest unacknowledged block; 0 is the OACK
        self.oack = oack
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((server.host, 0))
        self.sock.setblocking(False)
        self.retries = 0
        self.deadline = 0.0
        self.done = False

    def block_packet(self, n):
        chunk = self.data[(n - 1) * self.blksize:n * self.blksize]
        return struct.pack("!HH", OP_DATA, n & 0xFFFF) + chunk

    def send_window(self):
        s = self.server
        if self.base == 0:
            self.sock.sendto(self.oack, self.peer)
        else:
            last = min(self.base + self.window - 1, self.nblocks)
            held = None
            for n in range(self.base, last + 1):
                s.data_sent += 1
                pkt = self.block_packet(n)
                if s.args.drop_every and s.data_sent % s.args.drop_every == 0:
                    continue
                if s.args.reorder_every and s.data_sent % s.args.reorder_every == 0 and n < last:
                    held = pkt  # goes out after the next block
                    continue
                self.sock.sendto(pkt, self.peer)
                if held:
                    self.sock.sendto(held, self.peer)
                    held = None
                if s.args.dup_every and s.data_sent % s.args.dup_every == 0:
                    self.sock.sendto(pkt, self.peer)
            if held:
                self.sock.sendto(held, self.peer)
        self.deadline = time.monotonic() + self.server.args.timeout

    def on_packet(self, pkt, peer):
        if peer != self.peer:
            self.sock.sendto(struct.pack("!HH", OP_ERROR, 5) + b"Unknown transfer ID\0", peer)
            return
        if len(pkt) < 4:
            return
        op, n = struct.unpack("!HH", pkt[:4])
        if op != OP_ACK:
            self.finish()
            return
        s = self.server
        s.acks_seen += 1
        if s.args.ignore_ack_every and s.acks_seen % s.args.ignore_ack_every == 0:
            return
        # Which block in flight (or the one before the window) does this ACK name?
        for k in range(self.base - 1, min(self.base + self.window, self.nblocks + 1)):
            if k & 0xFFFF == n and k >= 0:
                if k == self.nblocks:
                    self.finish()
                    return
                if k >= self.base or (self.base == 0 and k == 0):
                    self.base = k + 1
                    self.retries = 0
                    self.send_window()
                elif k == self.base - 1 and s.args.restart_on_dup:
                    self.send_window()
                return

    def on_timeout(self):
        self.retries += 1
        if self.retries > 5:
            self.server.failed += 1
            self.finish()
            return
        self.send_window()

    def finish(self):
        self.done = True
        self.server.sel.unregister(self.sock)
        self.sock.close()
        self.server.transfers.discard(self)


class Server:
    def __init__(self, args):
        self.args = args
        self.host = args.address
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.listener.bind((args.address, args.port))
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.transfers = set()
        self.data_sent = 0
        self.acks_seen = 0
        self.failed = 0
        self.cache = {}

    def error(self, peer, code, text):
        self.listener.sendto(struct.pack("!HH", OP_ERROR, code) + text.encode() + b"\0", peer)

    def on_rrq(self, pkt, peer):
        fields = pkt[2:].split(b"\0")
        if len(pkt) < 4 or struct.unpack("!H", pkt[:2])[0] != OP_RRQ or len(fields) < 3:
            self.error(peer, 4, "only RRQ")
            return
        name = fields[0].decode(errors="replace").lstrip("/")
        path = os.path.realpath(os.path.join(self.args.root, name))
        if not path.startswith(os.path.realpath(self.args.root) + os.sep) or not os.path.isfile(path):
            self.error(peer, 1, "File not found")
            return
        if path not in self.cache:
            with open(path, "rb") as f:
                self.cache[path] = f.read()
        data = self.cache[path]
        opts = {}
        for i in range(2, len(fields) - 1, 2):
            opts[fields[i].decode().lower()] = fields[i + 1].decode()
        reply = b""
        blksize, window = 512, 1
        if "blksize" in opts:
            blksize = max(8, min(int(opts["blksize"]), 65464))
            reply += b"blksize\0%d\0" % blksize
        if "windowsize" in opts:
            window = max(1, min(int(opts["windowsize"]), self.args.max_window))
            reply += b"windowsize\0%d\0" % window
        if "tsize" in opts:
            reply += b"tsize\0%d\0" % len(data)
        oack = struct.pack("!H", OP_OACK) + reply if reply else None
        t = Transfer(self, peer, data, blksize, window, oack)
        self.transfers.add(t)
        self.sel.register(t.sock, selectors.EVENT_READ, t)
        t.send_window()

    def serve(self, port_file):
        if port_file:
            with open(port_file + ".tmp", "w") as f:
                f.write("tftp %d\n" % self.listener.getsockname()[1])
            os.rename(port_file + ".tmp", port_file)
        while True:
            now = time.monotonic()
            timeout = min((t.deadline for t in self.transfers), default=now + 1) - now
            for key, _ in self.sel.select(max(0.0, timeout)):
                sock = key.fileobj
                try:
                    pkt, peer = sock.recvfrom(70000)
                except (BlockingIOError, ConnectionRefusedError):
                    continue
                if key.data is None:
                    self.on_rrq(pkt, peer)
                elif not key.data.done:
                    key.data.on_packet(pkt, peer)
            now = time.monotonic()
            for t in [t for t in self.transfers if t.deadline <= now]:
                t.on_timeout()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--root", required=True)
    p.add_argument("--max-window", type=int, default=64)
    p.add_argument("--timeout", type=float, default=0.2, help="retransmit after (seconds)")
    p.add_argument("--drop-every", type=int, default=0, help="drop every Nth DATA sent")
    p.add_argument("--dup-every", type=int, default=0, help="send every Nth DATA twice")
    p.add_argument("--reorder-every", type=int, default=0, help="swap every Nth DATA with the next")
    p.add_argument("--ignore-ack-every", type=int, default=0, help="ignore every Nth ACK")
    p.add_argument("--restart-on-dup", action="store_true",
                   help="resend the window when the client re-ACKs the block before it")
    args = p.parse_args()
    try:
        Server(args).serve(args.port_file)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
