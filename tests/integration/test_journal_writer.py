# SPDX-License-Identifier: MIT
"""The journal's writer thread: every request of a burst is a row, written while the daemon
serves; a SIGTERM right after a burst writes what was still queued before the daemon exits
(nothing is lost below the queue's bound, docs/inventory.md); the thread is the one that
writes (the daemon says so if it cannot start one)."""

import socket
import sqlite3
import time

import pytest

from harness import Site, example_site

DEVICE = "0022ee010203"
DEVICE_FILE = "algom0022EE010203.conf"


def rows(root):
    db = sqlite3.connect(f"file:{root}/autoprov.db?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM journal WHERE mac = ? AND outcome = 'sent'",
                          (DEVICE,)).fetchone()[0]
    finally:
        db.close()


def burst(port, count, per_connection=100):
    """count pipelined GETs of the device's file over keep-alive connections, all answered."""
    answered = 0
    while answered < count:
        batch = min(per_connection, count - answered)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"".join(f"GET /{DEVICE_FILE} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                                  for _ in range(batch)))
            got = b""
            while got.count(b"HTTP/1.1 200") < batch:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            assert got.count(b"HTTP/1.1 200") == batch
        answered += batch
    return answered


@pytest.fixture
def example_root(tmp_path):
    root = example_site(tmp_path)
    # the device's own fetches are never sampled; the defence plays no part here
    (root / "autoprov.conf").write_text((root / "autoprov.conf").read_text()
                                        + "\n[defence]\nenabled = no\n")
    return root


def test_burst_is_recorded_while_serving(example_root, start_server):
    server = start_server(Site(example_root), args=("--http", "127.0.0.1:0"))
    sent = burst(server.http_port, 3000)
    deadline = time.monotonic() + 10
    while rows(example_root) < sent and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows(example_root) == sent
    log = server.stop()
    assert "not recorded" not in log
    assert "journal is written by the loop" not in log


def test_sigterm_after_burst_loses_nothing(example_root, start_server):
    server = start_server(Site(example_root), args=("--http", "127.0.0.1:0"))
    sent = burst(server.http_port, 4000, per_connection=400)
    log = server.stop()  # at once: what is still queued is the final flush's
    assert rows(example_root) == sent, log
    assert "not recorded" not in log
