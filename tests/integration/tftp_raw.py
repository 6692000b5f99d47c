# SPDX-License-Identifier: MIT
"""A small socket-level TFTP client for the protocol tests.

It builds and parses packets itself so that a test can send exactly what it wants
(malformed packets, duplicate ACKs, packets from a third port) and see exactly what
came back on the wire. Nothing here converts netascii: `get()` returns the bytes the
server put in its DATA packets.
"""

import socket
import struct
import time

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6

# Hang guard for a single receive; tests never rely on it for timing.
HANG = 5.0


class TftpError(Exception):
    """The server answered with an ERROR packet."""

    def __init__(self, code, message):
        super().__init__(f"TFTP error {code}: {message!r}")
        self.code = code
        self.message = message


def _b(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def rrq(name, mode="octet", options=(), opcode=RRQ):
    """An RRQ (or WRQ with opcode=WRQ); options is a sequence of (name, value) pairs."""
    pkt = struct.pack("!H", opcode) + _b(name) + b"\0" + _b(mode) + b"\0"
    for key, value in options:
        pkt += _b(key) + b"\0" + _b(value) + b"\0"
    return pkt


def ack(block):
    return struct.pack("!HH", ACK, block & 0xFFFF)


def error(code, message):
    return struct.pack("!HH", ERROR, code) + _b(message) + b"\0"


class Packet:
    """A parsed packet; fields that do not apply to the opcode are None."""

    def __init__(self, raw):
        self.raw = raw
        self.op = struct.unpack("!H", raw[:2])[0] if len(raw) >= 2 else None
        self.block = None
        self.data = None
        self.code = None
        self.message = None
        self.options = None
        self.option_list = None
        if self.op in (DATA, ACK) and len(raw) >= 4:
            self.block = struct.unpack("!H", raw[2:4])[0]
            self.data = raw[4:]
        elif self.op == ERROR and len(raw) >= 4:
            self.code = struct.unpack("!H", raw[2:4])[0]
            self.message = raw[4:].split(b"\0", 1)[0].decode("utf-8", "replace")
        elif self.op == OACK:
            fields = raw[2:].split(b"\0")
            if fields and fields[-1] == b"":
                fields.pop()
            self.option_list = [
                (fields[i].decode("ascii", "replace").lower(), fields[i + 1].decode("ascii", "replace"))
                for i in range(0, len(fields) - 1, 2)
            ]
            self.options = dict(self.option_list)

    def __repr__(self):
        if self.op == DATA:
            return f"<DATA block={self.block} len={len(self.data)}>"
        if self.op == ACK:
            return f"<ACK block={self.block}>"
        if self.op == ERROR:
            return f"<ERROR code={self.code} msg={self.message!r}>"
        if self.op == OACK:
            return f"<OACK {self.option_list}>"
        return f"<packet {self.raw[:40]!r}>"


class Result:
    def __init__(self, data, oack, blocks, packets, peer):
        self.data = data  # bytes as carried by the DATA packets
        self.oack = oack  # dict of the OACK's options, or None if the server sent none
        self.blocks = blocks  # DATA blocks accepted, counted without rollover
        self.packets = packets  # DATA packets received, including dropped and duplicates
        self.peer = peer  # the transfer's address (server TID)


class Client:
    """One client endpoint (one UDP port). `peer` is the server's transfer address."""

    def __init__(self, port, host="127.0.0.1", bind=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((bind or host, 0))
        self.server = (host, port)
        self.peer = None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def send(self, data, addr=None):
        self.sock.sendto(data, addr or self.peer or self.server)

    def send_server(self, data):
        """Send to the listening port, not to a transfer."""
        self.sock.sendto(data, self.server)

    def recv(self, timeout=HANG):
        """The next packet and its source address; fails the test if none comes."""
        self.sock.settimeout(timeout)
        try:
            raw, addr = self.sock.recvfrom(70000)
        except socket.timeout:
            raise AssertionError(f"no packet from the server within {timeout} s") from None
        return Packet(raw), addr[:2]

    def poll(self, seconds):
        """Every packet that arrives within `seconds` (possibly none)."""
        got = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                raw, addr = self.sock.recvfrom(70000)
            except socket.timeout:
                return got
            got.append((Packet(raw), addr[:2]))

    def request(self, name, mode="octet", options=(), opcode=RRQ):
        """Send a request and return the first answer; `peer` becomes its source."""
        self.send_server(rrq(name, mode, options, opcode))
        pkt, addr = self.recv()
        self.peer = addr
        return pkt

    def expect_error(self, name, mode="octet", options=(), opcode=RRQ):
        """Request `name` and return the ERROR packet the server must answer with."""
        pkt = self.request(name, mode, options, opcode)
        assert pkt.op == ERROR, f"expected an ERROR for {name!r}, got {pkt!r}"
        return pkt

    def get(self, name, mode="octet", options=(), drop=None):
        """Download `name`, acknowledging as RFC 1350 / RFC 7440 clients do.

        drop(n, pkt) -> True discards the n-th DATA packet received (1-based) as if it
        was lost. Raises TftpError if the server sends an ERROR.
        """
        return self.receive(self.request(name, mode, options), drop=drop)

    def receive(self, first, drop=None, start=1, blksize=None, window=None):
        """Run a transfer from its first answer `first` (OACK, DATA or ERROR; None when
        it was already acknowledged and the next DATA is still to come).

        start: the block expected next (without rollover); blksize / window: what was
        negotiated when `first` is not the OACK.
        """
        pkt = first
        oack = None
        blksize = blksize or 512
        window = window or 1
        if pkt is not None and pkt.op == ERROR:
            raise TftpError(pkt.code, pkt.message)
        if pkt is not None and pkt.op == OACK:
            oack = pkt.options
            blksize = int(oack.get("blksize", 512))
            window = int(oack.get("windowsize", 1))
            self.send(ack(0))
            pkt = None
        parts = []
        expected = start  # next block, without rollover
        acked = start - 1
        in_window = 0
        packets = 0
        while True:
            if pkt is None:
                pkt, addr = self.recv()
                assert addr == self.peer, f"packet from {addr}, transfer is with {self.peer}"
            if pkt.op == ERROR:
                raise TftpError(pkt.code, pkt.message)
            if pkt.op == OACK and oack is not None and expected == 1:
                # The OACK again: our ACK 0 crossed its retransmission.
                pkt = None
                continue
            assert pkt.op == DATA, f"expected DATA, got {pkt!r}"
            packets += 1
            current, pkt = pkt, None
            if drop is not None and drop(packets, current):
                continue
            assert len(current.data) <= blksize, f"{current!r} larger than blksize {blksize}"
            ahead = (current.block - expected) & 0xFFFF
            if ahead == 0:
                parts.append(current.data)
                expected += 1
                in_window += 1
                last = len(current.data) < blksize
                if last or in_window >= window:
                    self.send(ack(expected - 1))
                    acked = expected - 1
                    in_window = 0
                if last:
                    break
            elif ahead < 0x8000:
                # A block from the future: something before it was lost.
                if window == 1 and drop is None:
                    raise AssertionError(f"expected block {expected & 0xFFFF}, got {current!r}")
                if acked != expected - 1:
                    self.send(ack(expected - 1))
                    acked = expected - 1
                    in_window = 0
            elif window == 1:
                # A retransmitted old block: acknowledge it again (RFC 1350).
                self.send(ack(current.block))
        return Result(b"".join(parts), oack, expected - start, packets, self.peer)


def get(port, name, **kw):
    """One-shot download with a fresh client."""
    with Client(port) as client:
        return client.get(name, **kw)


def netascii(data):
    """What a server must send in netascii mode for `data` on disk."""
    return data.replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")
