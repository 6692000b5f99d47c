# SPDX-License-Identifier: MIT
"""The journal under attack and on a full disk: a flood of misses from one address stays a
handful of rows and never pushes a device's own history out; pruning keeps max_rows with
misses deleted first; on a full disk every file is still served (versions kept in memory),
the daemon starts, says the journal is read-only, and resumes when the disk has room."""

import socket
import sqlite3
import subprocess
import time

import pytest

from harness import BIN, Site, curl_get, example_site, run

DEVICE = "0022ee010203"
DEVICE_FILE = "algom0022EE010203.conf"
FV_MAC = "0021f2011b19"
FV_FILE = "fv0021F2011B19.conf"
TFTP_SCANNER = "127.0.0.5"
HTTP_SCANNER = "127.0.0.6"


def cli(*args, check=True):
    result = run([BIN, *args])
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


def db_rows(root, sql, args=()):
    db = sqlite3.connect(f"file:{root}/autoprov.db?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def journal_count(root):
    return db_rows(root, "SELECT count(*) FROM journal")[0][0]


def device_rows(root):
    return db_rows(root, "SELECT id, path, outcome FROM journal WHERE mac = ? AND outcome = 'sent'",
                   (DEVICE,))


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def tftp_flood(port, count, source=TFTP_SCANNER):
    """count RRQs for names no site has, from one address; every answer drained."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(0.5)
    try:
        sent = 0
        while sent < count:
            for i in range(sent, min(sent + 50, count)):
                name = f"0022ee{i:06x}.cfg".encode()
                sock.sendto(b"\x00\x01" + name + b"\x00octet\x00", ("127.0.0.1", port))
            sent = min(sent + 50, count)
            try:
                for _ in range(50):
                    sock.recvfrom(2048)
            except socket.timeout:
                pass
    finally:
        sock.close()


def http_flood(port, count, source=HTTP_SCANNER):
    """count pipelined GETs of unknown names on keep-alive connections from one address."""
    sent = 0
    while sent < count:
        batch = min(100, count - sent)
        with socket.create_connection(("127.0.0.1", port), timeout=5,
                                      source_address=(source, 0)) as sock:
            payload = b"".join(
                f"GET /0022ee{sent + i:06x}.cfg HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                for i in range(batch))
            sock.sendall(payload)
            got = b""
            try:
                while got.count(b"HTTP/1.1 ") < batch:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except socket.timeout:
                pass
        sent += batch


def fetch_device(server):
    result = curl_get(server.port, DEVICE_FILE)
    assert result.returncode == 0 and result.stdout, result.stderr


@pytest.fixture
def example_root(tmp_path):
    return example_site(tmp_path)


def test_flood_of_misses_is_sampled(example_root, start_server):
    """Thousands of not-found requests from one address over TFTP and HTTP: the first few
    of its window are rows, the rest one count per window; the device's rows stay."""
    root = example_root
    (root / "autoprov.conf").write_text(
        (root / "autoprov.conf").read_text()
        + "\n[journal]\nmax_rows = 1000\nmiss_rows = 10\nmiss_window = 2\n"
        # the scan would be blocked after 20 misses: here the journal's sampling is tested
        + "[defence]\nenabled = no\n")
    server = start_server(Site(root), args=("--http", "127.0.0.1:0"))
    fetch_device(server)
    tftp_flood(server.port, 2000)
    http_flood(server.http_port, 1500)
    fetch_device(server)
    # the windows end, their counts are written
    rows = wait_for(lambda: db_rows(root, "SELECT peer, path, outcome FROM journal"
                                          " WHERE outcome GLOB '* more misses'"),
                    what="the aggregate rows")
    wait_for(lambda: len(device_rows(root)) >= 2, what="the device's rows")
    time.sleep(2.5)  # let every window end
    total = journal_count(root)
    assert total <= 60, f"{total} journal rows for a flood of 3500 misses"
    per_peer = dict(db_rows(root, "SELECT peer, count(*) FROM journal WHERE peer IN (?, ?)"
                                  " GROUP BY peer", (TFTP_SCANNER, HTTP_SCANNER)))
    assert set(per_peer) == {TFTP_SCANNER, HTTP_SCANNER}, rows
    counted = 0
    for peer, path, outcome in db_rows(root, "SELECT peer, path, outcome FROM journal"
                                             " WHERE outcome GLOB '* more misses'"):
        counted += int(outcome.split()[0])
        assert " ... " in path or path.endswith(".cfg")
    # every miss is either a row or in a count (UDP on loopback may lose a few requests)
    sampled = db_rows(root, "SELECT count(*) FROM journal WHERE peer LIKE '127.0.0.5:%'"
                            " OR peer LIKE '127.0.0.6:%'")[0][0]
    assert sampled <= 4 * 10  # ten per peer and window, two windows at most each
    assert counted + sampled >= 3000
    log = cli("log", "--site", root, "--mac", DEVICE).stdout.decode()
    assert log.count(DEVICE_FILE) >= 2


def test_prune_keeps_device_history(example_root, start_server):
    """Sampling off, max_rows low: the writer prunes in steps down to max_rows, deleting
    the misses first, so the device's fetches before and after the flood stay."""
    root = example_root
    (root / "autoprov.conf").write_text(
        (root / "autoprov.conf").read_text()
        + "\n[journal]\nmax_rows = 50\nmiss_rows = 0\n[defence]\nenabled = no\n")
    server = start_server(Site(root), args=("--http", "127.0.0.1:0"))
    fetch_device(server)
    fetch_device(server)
    wait_for(lambda: len(device_rows(root)) >= 2, what="the device's first rows")
    before = device_rows(root)
    tftp_flood(server.port, 1500)
    http_flood(server.http_port, 500)
    fetch_device(server)
    wait_for(lambda: len(device_rows(root)) >= 3, what="the device's row after the flood")
    wait_for(lambda: journal_count(root) <= 50, what="pruning down to max_rows")
    after = device_rows(root)
    assert [r[0] for r in before] == [r[0] for r in after[:2]], (before, after)
    assert len(after) == 3
    log = cli("log", "--site", root, "--mac", DEVICE).stdout.decode()
    assert log.count(DEVICE_FILE) == 3


# ---- a full disk ----

@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                            capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path):
    """Writes path until the disk refuses (ENOSPC)."""
    block = b"\0" * (1 << 16)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
    # the last few bytes: a disk with no block left at all
    with open(str(path) + ".tail", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


def fv_version(body):
    for line in body.decode().splitlines():
        if line.startswith("DBID_DBASE_VERSION="):
            return int(line.split("=", 1)[1])
    pytest.fail(f"no DBID_DBASE_VERSION in {body!r}")


def fetch_fv(server):
    result = curl_get(server.port, FV_FILE)
    assert result.returncode == 0 and result.stdout, (result.returncode, result.stderr)
    return result.stdout


def test_full_disk(small_disk, start_server):
    """A versioned file whose new version cannot be written is served with it; the daemon
    restarts on the full disk, warns once, serves; room again: the journal resumes and the
    version is written."""
    root = example_site(small_disk)
    server = start_server(Site(root), args=("--http", "127.0.0.1:0"))
    first = fetch_fv(server)
    v1 = fv_version(first)
    # the first version is written (by the journal's writer, a round later) before the disk
    # fills: a version never written is not remembered across the restart below
    wait_for(lambda: db_rows(root, "SELECT version FROM versions WHERE key = ?", (FV_FILE,))
             == [(v1,)], what="the first version written")

    # the content changes, then the disk fills up, with the daemon running
    cli("device", "set", FV_MAC, "--var", "sip_password=full-disk-1", "--site", root)
    fill(small_disk / "filler")
    body = fetch_fv(server)
    assert b"DBID_SIP_AUTH_PASSWORD=full-disk-1" in body
    v2 = fv_version(body)
    assert v2 == v1 + 1
    assert fv_version(fetch_fv(server)) == v2
    server.stop()
    fill(small_disk / "filler2")  # what the clean stop freed (the WAL) is taken too

    # a restart on the full disk: it starts, says the journal is read-only, serves
    server = start_server(Site(root), args=("--http", "127.0.0.1:0"))
    server.wait_log(r"refuses writes .*read-only")
    body = fetch_fv(server)
    assert b"DBID_SIP_AUTH_PASSWORD=full-disk-1" in body
    assert fv_version(body) == v2
    assert curl_get(server.port, DEVICE_FILE).returncode == 0
    time.sleep(1.5)
    assert len(server.log().split("refuses writes")) == 2, "warned more than once"

    # room again: the journal resumes, the version is written, the database is shared
    for name in ("filler", "filler.tail", "filler2", "filler2.tail"):
        (small_disk / name).unlink()
    server.wait_log(r"takes writes again", timeout=10)
    fetch_device(server)
    wait_for(lambda: db_rows(root, "SELECT version FROM versions WHERE key = ?", (FV_FILE,))
             == [(v2,)], what="the version written")
    wait_for(lambda: cli("log", "--site", root, "--mac", "00:22:ee:01:02:03",
                         check=False).stdout.decode().count(DEVICE_FILE) >= 1,
             what="a journal row after the disk has room")
    assert fv_version(fetch_fv(server)) == v2
