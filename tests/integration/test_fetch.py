# SPDX-License-Identifier: MIT
"""The agent's downloads (src/agent/fetch.c, libcurl's multi interface on a libevent loop)
as tests/tools/fetch_tool drives them, against servers started on loopback with a tree made
here: autoprov serve (TFTP, HTTP with Digest logins, FTP with logins), tftpd-hpa, nginx (HTTP,
Basic login, redirection, HTTPS with our test CA, HTTPS requiring a client certificate) and
vsftpd (anonymous, passive and active). Every body is checked by MD5; every failure by its
class and its sentence: not found (HTTP 404/410, FTP 550, TFTP error 1), denied, logins
refused, connection refused, a peer that accepts and never answers (timeout), an untrusted
certificate, a body over max_size, an unknown host, unsupported URLs; 200+ fetches at once on
one loop; cancelling and freeing with fetches in flight. fetch_tool is built with ASan/UBSan
in the test build, and its stderr must carry no sanitizer report.

fetch_tool is found as AUTOPROV_FETCH_TOOL (the Makefile's `test` target sets it), else
build/tests/tools/fetch_tool.
"""

import os
import re
import socket
import subprocess
import time
from collections import namedtuple
from pathlib import Path

import pytest

from harness import REPO, Server, Site, md5, pattern_bytes, sanitizer_report
from peers import Nginx, Silent, TftpdHpa, Vsftpd, free_port
from pki import Pki

TOOL = Path(os.environ.get("AUTOPROV_FETCH_TOOL",
                           REPO / "build" / "tests" / "tools" / "fetch_tool"))
HANG_GUARD = 120  # seconds for one fetch_tool run; a bound on a hang, never a speed assertion

MIB = 1 << 20
FILES = {
    "index.txt": b"autoprov fetch test tree\n",
    "a.cfg": pattern_bytes(2048, 11),
    "empty.cfg": b"",
    "big.bin": pattern_bytes(MIB, 12),
    "odd.bin": pattern_bytes(1428 * 7 + 3, 13),
    "sub/dir/model.cfg": b"[settings]\nkey = value\n",
    "private/secret.cfg": b"secret = yes\n",
}
MANY = {f"many/f{i:03d}.cfg": pattern_bytes(500 + 37 * i, 100 + i) for i in range(40)}
ALL = {**FILES, **MANY}
ADMIN = ("admin", "s3cret")

Row = namedtuple("Row", "index status code bytes md5 seconds message url")


class Run:
    def __init__(self, proc, elapsed):
        self.proc = proc
        self.elapsed = elapsed
        self.rows = []
        for line in proc.stdout.splitlines():
            f = line.split("\t")
            assert len(f) == 8, f"bad fetch_tool line {line!r}"
            self.rows.append(Row(int(f[0]), f[1], int(f[2]), int(f[3]), f[4], float(f[5]),
                                 f[6], f[7]))

    def __getitem__(self, i):
        return self.rows[i]

    def __len__(self):
        return len(self.rows)


def fetch(*args, expect_rc=None):
    """Runs fetch_tool; checks the contract (status 3), sanitizers, and one line per URL."""
    if not TOOL.exists():
        pytest.fail(f"{TOOL} does not exist (build it, or set AUTOPROV_FETCH_TOOL)")
    t0 = time.monotonic()
    proc = subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True,
                          timeout=HANG_GUARD)
    run = Run(proc, time.monotonic() - t0)
    found = sanitizer_report(proc.stderr)
    assert not found, f"sanitizer report ({found}):\n{proc.stderr}"
    assert proc.returncode in (0, 1), f"fetch_tool status {proc.returncode}:\n{proc.stderr}"
    if expect_rc is not None:
        assert proc.returncode == expect_rc, f"{proc.stdout}\n{proc.stderr}"
    return run


def one(*args):
    run = fetch(*args)
    assert len(run) == 1, run.proc.stdout
    return run[0]


def assert_ok(row, name):
    assert row.status == "ok", row
    assert row.bytes == len(ALL[name]), row
    assert row.md5 == md5(ALL[name]), row


def make_tree(root):
    root = Path(root)
    for name, data in ALL.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# --- peers, one of each for the module ----------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fetch")


@pytest.fixture(scope="module")
def tree(work):
    return make_tree(work / "tree")


@pytest.fixture(scope="module")
def pki(work):
    p = Pki(work / "pki")
    p.device_cert = p.device("dev", "00:22:EE:0A:00:01")
    p.foreign_cert = p.device("foreign", "00:22:EE:0A:00:02", ca="other-ca")
    return p


@pytest.fixture(scope="module")
def nginx(tree, work, pki):
    peer = Nginx(tree, work / "nginx", cert=pki.server, key=pki.server_key, client_ca=pki.ca)
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def tftpd(tree, work):
    peer = TftpdHpa(tree, work / "tftpd")
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def vsftpd(tree, work):
    peer = Vsftpd(tree, work / "vsftpd")
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def autoprov(work):
    """autoprov serve: TFTP, HTTP with Digest logins, FTP with logins (no anonymous)."""
    site = Site(work / "site")
    for name, data in ALL.items():
        site.write(name, data)
    site.conf(f"""
        [auth]
        user = {ADMIN[0]}:{ADMIN[1]}
        failure_delay = 50
        max_failure_delay = 200
        [http]
        auth = digest
        [ftp]
        anonymous = no
        [tftp]
        max_transfers_per_peer = 1024
        """)
    server = Server(site, work / "autoprov", args=("--http", "127.0.0.1:0",
                                                   "--ftp", "127.0.0.1:0"))
    yield server
    server.stop()


@pytest.fixture
def silent():
    peer = Silent()
    yield peer
    peer.stop()


def closed_port():
    return free_port()


# --- TFTP ---------------------------------------------------------------------------------

def test_tftp_tftpd_hpa_blksize_1428_one_mib(tftpd):
    row = one("--blksize", "1428", f"tftp://127.0.0.1:{tftpd.port}/big.bin")
    assert_ok(row, "big.bin")
    assert row.message.startswith(f"TFTP from 127.0.0.1:{tftpd.port}: {MIB} bytes"), row


def test_tftp_tftpd_hpa_default_blksize_and_odd_sizes(tftpd):
    names = ["odd.bin", "a.cfg", "empty.cfg", "sub/dir/model.cfg"]
    run = fetch(*[f"tftp://127.0.0.1:{tftpd.port}/{n}" for n in names], expect_rc=0)
    for row, name in zip(run, names):
        assert_ok(row, name)


def test_tftp_not_found_is_error_1(tftpd, autoprov):
    for port in (tftpd.port, autoprov.port):
        row = one(f"tftp://127.0.0.1:{port}/algom0022EE000001.conf")
        assert (row.status, row.code, row.bytes) == ("not found", 1, 0), row
        assert row.message == f"TFTP error 1 (File not found) from 127.0.0.1:{port}", row


def test_tftp_autoprov_blksize_1428_one_mib(autoprov):
    row = one("--blksize", "1428", f"tftp://127.0.0.1:{autoprov.port}/big.bin")
    assert_ok(row, "big.bin")
    # the options went out and were granted: RFC 2348 blksize, RFC 2349 tsize
    autoprov.wait_log(r'"big\.bin" sent, 1048576 bytes, .*blksize=1428, tsize=1048576')


def test_tftp_silent_server_times_out(silent):
    row = one("--timeout", "1500", "--connect-timeout", "1500",
              f"tftp://127.0.0.1:{silent.udp_port}/a.cfg")
    assert row.status == "timed out", row
    assert f"127.0.0.1:{silent.udp_port}" in row.message, row
    assert row.seconds < 10, row


def test_tftp_over_max_size(tftpd):
    row = one("--max-size", "100000", "--blksize", "1428",
              f"tftp://127.0.0.1:{tftpd.port}/big.bin")
    assert (row.status, row.bytes, row.md5) == ("too big", 0, "-"), row
    assert "100000-byte limit" in row.message, row


# --- HTTP ---------------------------------------------------------------------------------

def test_http_nginx_files_and_statuses(nginx):
    base = f"http://127.0.0.1:{nginx.port}"
    run = fetch(f"{base}/a.cfg", f"{base}/empty.cfg", f"{base}/sub/dir/model.cfg",
                f"{base}/missing.cfg", f"{base}/gone", f"{base}/forbidden", f"{base}/broken")
    assert_ok(run[0], "a.cfg")
    assert_ok(run[1], "empty.cfg")
    assert_ok(run[2], "sub/dir/model.cfg")
    assert run[0].message.startswith(f"HTTP 200 OK from 127.0.0.1:{nginx.port}: 2048 bytes")
    assert (run[3].status, run[3].code) == ("not found", 404), run[3]
    assert run[3].message == f"HTTP 404 Not Found from 127.0.0.1:{nginx.port}", run[3]
    assert (run[4].status, run[4].code) == ("not found", 410), run[4]
    assert (run[5].status, run[5].code) == ("denied", 403), run[5]
    assert run[5].message == f"HTTP 403 Forbidden from 127.0.0.1:{nginx.port}", run[5]
    assert (run[6].status, run[6].code) == ("protocol error", 500), run[6]
    assert "HTTP 500 Internal Server Error" in run[6].message, run[6]
    assert all(r.md5 == "-" and r.bytes == 0 for r in run.rows[3:])


def test_http_redirection_followed_or_not(nginx):
    url = f"http://127.0.0.1:{nginx.port}/redirect"
    row = one(url)
    assert_ok(row, "index.txt")
    assert row.url == url  # the tool prints the URL it was given
    row = one("--max-redirects", "none", url)
    assert (row.status, row.code) == ("protocol error", 302), row
    assert "redirection to" in row.message and "index.txt not followed" in row.message, row


def test_http_basic_login_nginx(nginx):
    path = f"127.0.0.1:{nginx.port}/private/secret.cfg"
    row = one(f"http://{path}")
    assert (row.status, row.code) == ("login failed", 401), row
    assert row.message.endswith("a login is required"), row
    assert_ok(one("--user", nginx.user, "--password", nginx.password, f"http://{path}"),
              "private/secret.cfg")
    assert_ok(one("--auth", "basic", f"http://{nginx.user}:{nginx.password}@{path}"),
              "private/secret.cfg")
    row = one(f"http://{nginx.user}:wrong@{path}")
    assert (row.status, row.code) == ("login failed", 401), row
    assert row.message.endswith("credentials refused"), row
    # options override the URL's credentials
    row = one("--password", "wrong", f"http://{nginx.user}:{nginx.password}@{path}")
    assert row.status == "login failed", row


def test_http_digest_login_autoprov(autoprov):
    url = f"http://127.0.0.1:{autoprov.http_port}/a.cfg"
    assert_ok(one("--user", ADMIN[0], "--password", ADMIN[1], url), "a.cfg")
    assert_ok(one("--auth", "digest", "--user", ADMIN[0], "--password", ADMIN[1], url),
              "a.cfg")
    row = one("--user", ADMIN[0], "--password", "wrong", url)
    assert (row.status, row.code) == ("login failed", 401), row
    row = one(url)
    assert (row.status, row.code) == ("login failed", 401), row
    row = one("--user", ADMIN[0], "--password", ADMIN[1],
              f"http://127.0.0.1:{autoprov.http_port}/no-such.cfg")
    assert (row.status, row.code) == ("not found", 404), row


def test_http_over_max_size(nginx):
    row = one("--max-size", "1000", f"http://127.0.0.1:{nginx.port}/big.bin")
    assert (row.status, row.bytes) == ("too big", 0), row
    assert "1000-byte limit" in row.message
    assert_ok(one("--max-size", str(MIB), f"http://127.0.0.1:{nginx.port}/big.bin"), "big.bin")


def test_http_refused_and_unknown_host():
    port = closed_port()
    run = fetch(f"http://127.0.0.1:{port}/a.cfg", f"ftp://127.0.0.1:{port}/a.cfg",
                "http://no-such-host.invalid/a.cfg")
    assert run[0].status == "connection refused", run[0]
    assert run[0].message == f"connection refused by 127.0.0.1:{port}", run[0]
    assert run[1].status == "connection refused", run[1]
    assert run[2].status == "unknown host", run[2]
    assert run[2].message == "cannot resolve host name 'no-such-host.invalid'", run[2]


def test_http_and_ftp_silent_server_time_out(silent):
    run = fetch("--timeout", "1000", f"http://127.0.0.1:{silent.tcp_port}/a.cfg",
                f"ftp://127.0.0.1:{silent.tcp_port}/a.cfg")
    for row in run:
        assert row.status == "timed out", row
        assert f"127.0.0.1:{silent.tcp_port}" in row.message, row
        assert 0.9 < row.seconds < 10, row


def test_unsupported_and_malformed_urls():
    run = fetch("gopher://127.0.0.1/x", "http://[::1", "file:///etc/passwd", "notaurl",
                expect_rc=1)
    assert [r.status for r in run] == ["start failed"] * 4, run.proc.stdout
    assert "Protocol not supported" in run[0].message
    assert "Invalid argument" in run[1].message


# --- HTTPS --------------------------------------------------------------------------------

def test_https_trust(nginx, pki):
    url = f"https://127.0.0.1:{nginx.tls_port}/a.cfg"
    assert_ok(one("--ca", pki.ca, url), "a.cfg")
    row = one(url)  # the system store alone does not know our test CA
    assert row.status == "TLS failure", row
    assert row.message.startswith("TLS: ") and "certificate" in row.message, row
    assert row.message.endswith(f"(127.0.0.1:{nginx.tls_port})"), row
    assert one("--ca", pki.other_ca, url).status == "TLS failure"
    assert_ok(one("--insecure", url), "a.cfg")
    # the name is checked too: the certificate is for 127.0.0.1 and localhost only
    row = one("--ca", pki.ca, f"https://localhost:{nginx.tls_port}/a.cfg")
    assert row.status in ("ok", "connection refused"), row  # localhost may be ::1 first


def test_https_client_certificate(nginx, pki):
    url = f"https://127.0.0.1:{nginx.mtls_port}/big.bin"
    row = one("--ca", pki.ca, url)
    # nginx completes the handshake and answers 400 "No required SSL certificate was sent"
    assert (row.status, row.code) == ("protocol error", 400), row
    assert row.message.endswith("(no client certificate was sent)"), row
    assert_ok(one("--ca", pki.ca, "--cert", pki.device_cert,
                  "--key", pki.key_of(pki.device_cert), url), "big.bin")
    row = one("--ca", pki.ca, "--cert", pki.foreign_cert,
              "--key", pki.key_of(pki.foreign_cert), url)
    assert row.status != "ok", row
    row = one("--ca", pki.ca, "--cert", "/nonexistent.pem", url)
    assert row.status == "TLS failure", row


# --- FTP ----------------------------------------------------------------------------------

def test_ftp_vsftpd_anonymous_passive_and_active(vsftpd):
    base = f"ftp://127.0.0.1:{vsftpd.port}"
    assert_ok(one(f"{base}/big.bin"), "big.bin")
    row = one("--active", f"{base}/sub/dir/model.cfg")
    assert_ok(row, "sub/dir/model.cfg")
    assert row.message.startswith("FTP 226 "), row
    row = one(f"{base}/missing.cfg")
    assert (row.status, row.code) == ("not found", 550), row
    assert row.message.startswith("FTP 550 ") and f"127.0.0.1:{vsftpd.port}" in row.message
    row = one("--max-size", "1000", f"{base}/big.bin")
    assert row.status == "too big", row


def test_ftp_421_is_a_refusal_not_a_timeout(tree, work):
    """vsftpd with every session taken greets with 421 and closes: libcurl calls that a
    timeout; the fetch says what the server said."""
    peer = Vsftpd(tree, work / "vsftpd-full", extra="max_clients=1\n")
    try:
        held = None
        deadline = time.monotonic() + 10
        while held is None:  # the readiness probe's session may still count for a moment
            s = socket.create_connection(("127.0.0.1", peer.port), timeout=10)
            if s.recv(100).startswith(b"220"):
                held = s
            else:
                s.close()
                assert time.monotonic() < deadline, "vsftpd never had a free session"
                time.sleep(0.1)
        with held:
            row = one(f"ftp://127.0.0.1:{peer.port}/a.cfg")
        assert (row.status, row.code) == ("protocol error", 421), row
        assert row.message.startswith("FTP 421 ") and "busy" in row.message, row
    finally:
        peer.stop()


def test_ftp_autoprov_credentials(autoprov):
    port = autoprov.ports["ftp"]
    path = f"127.0.0.1:{port}/a.cfg"
    assert_ok(one(f"ftp://{ADMIN[0]}:{ADMIN[1]}@{path}"), "a.cfg")
    assert_ok(one("--user", ADMIN[0], "--password", ADMIN[1], f"ftp://{path}"), "a.cfg")
    row = one(f"ftp://{ADMIN[0]}:wrong@{path}")
    assert (row.status, row.code) == ("login failed", 530), row
    assert row.message.endswith("credentials refused"), row
    row = one(f"ftp://{path}")  # anonymous, refused here
    assert (row.status, row.code) == ("login failed", 530), row
    row = one(f"ftp://{ADMIN[0]}:{ADMIN[1]}@127.0.0.1:{port}/missing.cfg")
    assert (row.status, row.code) == ("not found", 550), row


# --- many at once, cancelling -------------------------------------------------------------

def test_many_concurrent_fetches_on_one_loop(nginx, tftpd, vsftpd, autoprov):
    urls = []
    for i, name in enumerate(MANY):
        urls.append(f"http://127.0.0.1:{nginx.port}/{name}")
        urls.append(f"tftp://127.0.0.1:{autoprov.port}/{name}")
        if i % 2:
            urls.append(f"tftp://127.0.0.1:{tftpd.port}/{name}")
        if i % 4 == 0:
            urls.append(f"ftp://127.0.0.1:{vsftpd.port}/{name}")
    urls += [f"http://127.0.0.1:{nginx.port}/a.cfg"] * 90
    names = [u.split("/", 3)[3] for u in urls]
    assert len(urls) >= 200
    run = fetch("--blksize", "1428", *urls)
    bad = [r for r in run if r.status != "ok"]
    assert not bad, "\n".join(map(str, bad[:10]))
    for row, name in zip(run, names):
        assert_ok(row, name)


def test_cancel_and_free_with_fetches_in_flight(silent, nginx):
    hang = f"http://127.0.0.1:{silent.tcp_port}/a.cfg"
    good = f"http://127.0.0.1:{nginx.port}/a.cfg"
    run = fetch("--cancel-after", "300", "--repeat", "5", hang, expect_rc=1)
    assert [r.status for r in run] == ["cancelled"] * 5, run.proc.stdout
    assert run.elapsed < 10
    run = fetch("--free-after", "300", "--repeat", "5", hang, expect_rc=1)
    assert [r.status for r in run] == ["cancelled"] * 5, run.proc.stdout
    run = fetch("--free-on-first", good, hang, hang, expect_rc=1)
    assert_ok(run[0], "a.cfg")
    assert [r.status for r in run.rows[1:]] == ["cancelled"] * 2, run.proc.stdout
    run = fetch("--cancel-on-first", good, hang, hang, expect_rc=1)
    assert_ok(run[0], "a.cfg")
    assert [r.status for r in run.rows[1:]] == ["cancelled"] * 2, run.proc.stdout
    assert run.elapsed < 10


def test_repeated_fetches_reuse_the_loop(nginx):
    """The same file 50 times at once over HTTPS-less keep-alive: all complete, same MD5."""
    run = fetch("--repeat", "50", f"http://127.0.0.1:{nginx.port}/odd.bin", expect_rc=0)
    assert {r.md5 for r in run} == {md5(ALL["odd.bin"])}
    assert re.match(r"HTTP 200 OK from 127\.0\.0\.1:\d+: \d+ bytes in", run[0].message)
