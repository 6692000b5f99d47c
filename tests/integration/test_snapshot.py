# SPDX-License-Identifier: MIT
"""What a client receives is a snapshot of the file, and a file shared by concurrent
transfers is read from disk once."""

import os
import re
import time

import pytest

from harness import md5, pattern_bytes
from tftp_raw import DATA, OACK, ack

OLD = pattern_bytes(512 * 40 + 17, 50)
NEW = pattern_bytes(512 * 55 + 3, 51)  # a different size too


def start_transfer(server, name, blocks):
    """Lock-step: request `name`, receive and acknowledge `blocks` blocks."""
    client = server.client()
    got = []
    pkt = client.request(name)
    for n in range(1, blocks + 1):
        assert pkt.op == DATA and pkt.block == n, pkt
        got.append(pkt.data)
        client.send(ack(n))
        pkt = client.recv()[0]
    return client, got, pkt


@pytest.fixture(params=["64M", "0"], ids=["cache", "no-cache"])
def snap_server(request, site, start_server):
    """With the default cache, and with none: files in use are kept either way."""
    site.conf(f"""
        [server]
        cache_size = {request.param}
        [tftp]
        timeout = 2000
    """)
    site.write("fw.bin", OLD)
    return start_server(site, verbose=True)


def test_file_renamed_over_mid_transfer(snap_server, tmp_path):
    client, got, pkt = start_transfer(snap_server, "fw.bin", 3)
    with client:
        tmp = snap_server.site.files / "fw.bin.new"
        tmp.write_bytes(NEW)
        os.replace(tmp, snap_server.site.files / "fw.bin")
        result = client.receive(pkt, start=4)
    assert b"".join(got) + result.data == OLD


def test_file_rewritten_in_place_mid_transfer(snap_server):
    client, got, pkt = start_transfer(snap_server, "fw.bin", 3)
    with client:
        with open(snap_server.site.files / "fw.bin", "r+b") as f:
            f.write(NEW)
            f.truncate()
        result = client.receive(pkt, start=4)
    assert b"".join(got) + result.data == OLD


def test_file_truncated_mid_transfer(snap_server):
    client, got, pkt = start_transfer(snap_server, "fw.bin", 3)
    with client:
        with open(snap_server.site.files / "fw.bin", "r+b") as f:
            f.truncate(100)
        result = client.receive(pkt, start=4)
    assert b"".join(got) + result.data == OLD


def test_file_deleted_mid_transfer(snap_server):
    client, got, pkt = start_transfer(snap_server, "fw.bin", 3)
    with client:
        os.unlink(snap_server.site.files / "fw.bin")
        result = client.receive(pkt, start=4)
    assert b"".join(got) + result.data == OLD


def loaded_lines(server, name):
    return re.findall(rf"^.* debug site: loaded {re.escape(name)} \((\d+) bytes\)$", server.log(), re.MULTILINE)


def test_concurrent_transfers_share_one_read(snap_server):
    """Eight transfers of the same file in flight at once: one read from disk."""
    clients = [snap_server.client() for _ in range(8)]
    try:
        firsts = []
        for client in clients:
            client.send_server(b"\x00\x01fw.bin\x00octet\x00")
        for client in clients:
            pkt, client.peer = client.recv()
            assert pkt.op == DATA and pkt.block == 1, pkt
            firsts.append(pkt)
        # All eight are now in flight; finish them one after the other.
        for client, first in zip(clients, firsts):
            assert client.receive(first).data == OLD
    finally:
        for client in clients:
            client.close()
    snap_server.wait_log(r'"fw\.bin" sent', count=8)
    assert loaded_lines(snap_server, "fw.bin") == [str(len(OLD))]


def test_sighup_forgets_cached_files(snap_server):
    """After SIGHUP the next request reads the file again and sees the new content."""
    assert snap_server.get("fw.bin").data == OLD
    snap_server.wait_log(r'"fw\.bin" sent')
    assert len(loaded_lines(snap_server, "fw.bin")) == 1
    tmp = snap_server.site.files / "fw.bin.new"
    tmp.write_bytes(NEW)
    os.replace(tmp, snap_server.site.files / "fw.bin")
    snap_server.reload()
    deadline = time.monotonic() + 5
    while True:
        data = snap_server.get("fw.bin").data
        if data == NEW:
            break
        assert data == OLD, "neither the old nor the new file"
        assert time.monotonic() < deadline, "SIGHUP did not make the new file visible"
        time.sleep(0.05)
    assert loaded_lines(snap_server, "fw.bin") == [str(len(OLD)), str(len(NEW))]


def test_large_file_rewritten_in_place_mid_transfer(snap_server):
    """A few megabytes (a firmware image), windowed: still the old whole."""
    old = pattern_bytes(3 * 1024 * 1024 + 5, 52)
    new = pattern_bytes(3 * 1024 * 1024 + 5, 53)
    path = snap_server.site.files / "image.bin"
    path.write_bytes(old)
    with snap_server.client() as client:
        oack = client.request("image.bin", options=[("blksize", 8192), ("windowsize", 4)])
        assert oack.op == OACK
        client.send(ack(0))
        head = [client.recv()[0] for _ in range(4)]
        assert [p.block for p in head] == [1, 2, 3, 4]
        with open(path, "r+b") as f:
            f.write(new)
        client.send(ack(4))
        rest = client.receive(None, start=5, blksize=8192, window=4)
    assert md5(b"".join(p.data for p in head) + rest.data) == md5(old)


def test_sighup_with_shared_transfers_in_flight(snap_server):
    """Forgetting the cache must not pull the file from under the transfers using it."""
    clients = [snap_server.client() for _ in range(6)]
    try:
        firsts = []
        for client in clients:
            client.send_server(b"\x00\x01fw.bin\x00octet\x00")
        for client in clients:
            pkt, client.peer = client.recv()
            assert pkt.op == DATA and pkt.block == 1, pkt
            firsts.append(pkt)
        snap_server.site.write("fw.bin", NEW)
        snap_server.reload()
        time.sleep(0.3)
        for client, first in zip(clients, firsts):
            assert client.receive(first).data == OLD
    finally:
        for client in clients:
            client.close()
    snap_server.wait_log(r'"fw\.bin" sent', count=6)
    assert snap_server.get("fw.bin").data == NEW


@pytest.mark.parametrize("how", ["rename", "in-place"])
def test_changed_file_is_seen_by_the_next_request(snap_server, how):
    """docs/tftp.md: each request checks the file's identity; no SIGHUP needed."""
    assert snap_server.get("fw.bin").data == OLD
    path = snap_server.site.files / "fw.bin"
    if how == "rename":
        tmp = snap_server.site.files / "fw.bin.new"
        tmp.write_bytes(NEW)
        os.replace(tmp, path)
    else:
        with open(path, "r+b") as f:
            f.write(NEW)
            f.truncate()
    assert snap_server.get("fw.bin").data == NEW
