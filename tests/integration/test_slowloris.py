# SPDX-License-Identifier: MIT
"""Slowloris and connection floods against HTTP, HTTPS and FTP, from many addresses of
127.0.0.0/8: hundreds of connections that trickle a request head (or a TLS ClientHello) a
byte at a time, or FTP sessions that never log in, reopened as soon as the server closes
them, while legitimate clients (curl over HTTP and HTTPS, Python's ftplib) fetch files. The
server keeps to its budgets per address, per /24 and overall by dropping the oldest
connection still waiting for a request (or a login) for a new one, gives up TLS handshakes
after header_timeout, and logs what a flood makes happen once a second per kind. Loads are
scaled down (the daemon's limits lowered in autoprov.conf); every assertion is a count.
TLS handshakes stalled after a whole ClientHello hold OpenSSL's state: at most
max_handshakes of them."""

import ftplib
import io
import re
import resource
import selectors
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from harness import HANG_GUARD, Site, run
from pki import Pki
from test_ftp import FtpServer

LEGIT_TIMEOUT = 5  # seconds a legitimate client waits; the flood's requests wait 30
GENERIC = b"generic\n"


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


class Flood:
    """Connections to port from 127.0.<net>.<first>.. (per_address from each address), each
    sending `opening` at once and then a byte of `trickle` every tick; one the server closes
    is opened again at the next tick (at most `reopen` a tick), as an attacker would."""

    def __init__(self, port, addresses, per_address, opening, trickle=b"a", net=0, first=2,
                 reopen=50, tick=0.2):
        self.port, self.opening, self.trickle = port, opening, trickle
        self.reopen, self.tick = reopen, tick
        self.sources = [f"127.0.{net}.{first + i}" for i in range(addresses)]
        self.wanted = [src for src in self.sources for _ in range(per_address)]
        self.sel = selectors.DefaultSelector()
        self.socks = {}  # socket -> its source address
        self.opened = self.closed = self.failed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, src):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((src, 0))
            sock.settimeout(2)
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(self.opening)
            sock.setblocking(False)
        except OSError:
            sock.close()
            self.failed += 1
            return False
        self.socks[sock] = src
        self.sel.register(sock, selectors.EVENT_READ)
        self.opened += 1
        return True

    def _drop(self, sock):
        src = self.socks.pop(sock)
        self.sel.unregister(sock)
        sock.close()
        self.closed += 1
        return src

    def start(self):
        for src in self.wanted:
            self._open(src)
        self.thread.start()
        return self

    def _run(self):
        missing = []
        while not self.stopping.is_set():
            deadline = time.monotonic() + self.tick
            while (left := deadline - time.monotonic()) > 0:
                for key, _ in self.sel.select(left):
                    try:
                        gone = key.fileobj.recv(4096) == b""
                    except BlockingIOError:
                        gone = False
                    except OSError:
                        gone = True
                    if gone:
                        missing.append(self._drop(key.fileobj))
            for sock in list(self.socks):
                try:
                    sock.send(self.trickle)
                except BlockingIOError:
                    pass
                except OSError:
                    missing.append(self._drop(sock))
            for _ in range(min(self.reopen, len(missing))):
                if self.stopping.is_set():
                    break
                src = missing.pop(0)
                if not self._open(src):
                    missing.append(src)

    def stop(self):
        self.stopping.set()
        self.thread.join(HANG_GUARD)
        for sock in list(self.socks):
            self._drop(sock)
        self.sel.close()


@pytest.fixture
def flood():
    """flood(port, ...) -> a started Flood, stopped after the test."""
    raise_nofile(8192)
    floods = []

    def go(*args, **kw):
        f = Flood(*args, **kw).start()
        floods.append(f)
        return f

    yield go
    for f in floods:
        f.stop()


def parallel(fn, n):
    """fn(i) for i in range(n) in threads at once; the list of results (exceptions kept)."""
    results = [None] * n

    def one(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - counted by the caller
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD * 2)
    return results


def curl_codes(url, n, *options):
    """n curls at once, each allowed LEGIT_TIMEOUT s: their HTTP codes ("000": no answer)."""
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               "--max-time", str(LEGIT_TIMEOUT), *options, url],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
             for _ in range(n)]
    return [p.communicate(timeout=HANG_GUARD * 2)[0].decode() for p in procs]


def web_site(tmp_path, conf):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", GENERIC)
    site.conf(conf)
    return site


def log_lines(server, pattern):
    return re.findall(pattern, server.log(), re.MULTILINE)


# --- HTTP ---------------------------------------------------------------------------------

SLOW_HEAD = b"GET /generic.cfg HTTP/1.1\r\nHost: x\r\nX-Slow: "


def test_http_served_during_slowloris(tmp_path, start_http, flood):
    # 600 trickling connections from 30 addresses of the clients' own /24, twice the total
    site = web_site(tmp_path, "[http]\nmax_connections = 300\nheader_timeout = 30\n")
    srv = start_http(site)
    attack = flood(srv.http_port, 30, 20, SLOW_HEAD)
    time.sleep(0.5)
    codes = curl_codes(f"http://127.0.0.1:{srv.http_port}/generic.cfg", 30)
    assert codes.count("200") == 30, codes
    assert attack.closed > 0  # the oldest waiting ones made room
    srv.wait_log(r"connection dropped for a new one \(max_connections full\)")
    attack.stop()
    srv.assert_alive()


def test_http_prefix_budget_keeps_other_networks_waiting_requests(tmp_path, start_http, flood):
    site = web_site(tmp_path, "[http]\nmax_connections = 300\nmax_connections_per_prefix = 100\n"
                    "header_timeout = 30\n")
    srv = start_http(site)
    # honest slow clients of another network: half a head sent, the rest later
    honest = []
    for i in range(20):
        s = socket.socket()
        s.bind((f"127.0.2.{i + 1}", 0))
        s.settimeout(HANG_GUARD)
        s.connect(("127.0.0.1", srv.http_port))
        s.sendall(b"GET /generic.cfg HTTP/1.1\r\n")
        honest.append(s)
    attack = flood(srv.http_port, 20, 20, SLOW_HEAD, net=1, first=1)  # 400 from 127.0.1.0/24
    time.sleep(1.0)
    codes = curl_codes(f"http://127.0.0.1:{srv.http_port}/generic.cfg", 20)
    assert codes.count("200") == 20, codes
    assert attack.closed > 0
    srv.wait_log(r"max_connections_per_prefix full")
    served = 0
    for s in honest:  # none was dropped for the attacker's
        s.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        served += data.startswith(b"HTTP/1.1 200") and data.endswith(GENERIC)
        s.close()
    assert served == 20
    attack.stop()
    srv.assert_alive()


# --- HTTPS --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def tls_site(tmp_path, pki, conf):
    site = web_site(tmp_path, conf)
    tls = site.root / "tls"
    tls.mkdir()
    shutil.copy(pki.server, tls / "server.pem")
    shutil.copy(pki.server_key, tls / "server.key")
    return site


# a TLS record header and the start of a ClientHello, then a byte a tick
CLIENT_HELLO_START = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


def test_https_served_during_slowloris(tmp_path, start_http, flood, pki):
    site = tls_site(tmp_path, pki, "[http]\nmax_connections = 300\nheader_timeout = 30\n")
    srv = start_http(site, args=("--https", "127.0.0.1:0"), expect_http=False)
    attack = flood(srv.https_port, 30, 20, CLIENT_HELLO_START, trickle=b"\x00")
    time.sleep(0.5)
    codes = curl_codes(f"https://127.0.0.1:{srv.https_port}/generic.cfg", 30, "--cacert",
                       str(pki.ca))
    assert codes.count("200") == 30, codes
    assert attack.closed > 0
    srv.wait_log(r"https: .*connection dropped for a new one")
    attack.stop()
    srv.assert_alive()


def test_tls_handshake_not_finished_is_closed(tmp_path, start_http, pki):
    site = tls_site(tmp_path, pki, "[http]\nheader_timeout = 2\n")
    srv = start_http(site, args=("--https", "127.0.0.1:0"), expect_http=False)
    sock = socket.create_connection(("127.0.0.1", srv.https_port), timeout=HANG_GUARD)
    sock.sendall(CLIENT_HELLO_START)
    try:
        assert sock.recv(4096) == b""  # closed, not answered
    except ConnectionResetError:
        pass
    sock.close()
    srv.wait_log(r"TLS handshake not done within 2 s: closed")
    result = run(["curl", "-s", "--cacert", pki.ca, f"https://127.0.0.1:{srv.https_port}/generic.cfg"])
    assert result.stdout == GENERIC


def client_hello():
    """A whole ClientHello, as Python's TLS client sends it."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_side=False)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_https_stalled_handshakes_are_capped(tmp_path, start_http, flood, pki):
    # 200 handshakes stalled after the ClientHello (OpenSSL's state held), max_handshakes 20
    site = tls_site(tmp_path, pki, "[http]\nheader_timeout = 30\n[https]\nmax_handshakes = 20\n")
    srv = start_http(site, args=("--https", "127.0.0.1:0"), expect_http=False)
    attack = flood(srv.https_port, 20, 10, client_hello(), trickle=b"", reopen=0)
    srv.wait_log(r"a TLS handshake given up for a new one \(20 in progress\)")
    deadline = time.monotonic() + HANG_GUARD
    while attack.closed < 180 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert attack.closed >= 180, attack.closed  # all but the newest 20 given up
    codes = curl_codes(f"https://127.0.0.1:{srv.https_port}/generic.cfg", 10, "--cacert",
                       str(pki.ca))
    assert codes.count("200") == 10, codes
    attack.stop()
    srv.assert_alive()


# --- FTP ----------------------------------------------------------------------------------

FTP_CONF = "[auth]\nuser = admin:admin-pw\n[ftp]\nlisten = 127.0.0.1:0\n"


def start_ftp(tmp_path, conf):
    site = web_site(tmp_path, FTP_CONF + conf)
    server = FtpServer(site, tmp_path / "server")
    assert server.ftp_port, server.port_file_text
    return server


@pytest.fixture
def ftp_server(tmp_path):
    servers = []

    def go(conf):
        servers.append(start_ftp(tmp_path, conf))
        return servers[-1]

    yield go
    for server in servers:
        server.stop()


def ftp_fetch(port):
    ftp = ftplib.FTP(timeout=LEGIT_TIMEOUT)
    ftp.connect("127.0.0.1", port)
    ftp.login("admin", "admin-pw")
    buf = io.BytesIO()
    ftp.retrbinary("RETR generic.cfg", buf.write)
    ftp.quit()
    return buf.getvalue()


def test_ftp_served_during_never_logging_in_flood(ftp_server, flood):
    # 400 sessions that never log in, from 20 addresses of another /24, twice max_sessions
    server = ftp_server("max_sessions = 200\nmax_sessions_per_prefix = 150\nlogin_timeout = 30\n")
    attack = flood(server.ftp_port, 20, 20, b"", trickle=b"", net=1, first=1)
    time.sleep(0.5)
    results = parallel(lambda i: ftp_fetch(server.ftp_port), 20)
    assert results.count(GENERIC) == 20, results
    assert attack.closed > 0
    server.wait_log(r"session not logged in dropped for a new one")
    attack.stop()
    server.assert_alive()


def test_ftp_served_when_the_flood_shares_its_network(ftp_server, flood):
    server = ftp_server("max_sessions = 200\nlogin_timeout = 30\n")
    attack = flood(server.ftp_port, 20, 20, b"", trickle=b"", first=2)
    time.sleep(0.5)
    results = parallel(lambda i: ftp_fetch(server.ftp_port), 10)
    assert results.count(GENERIC) == 10, results
    server.wait_log(r"dropped for a new one \(max_sessions full\)")
    attack.stop()


def test_ftp_flood_warnings_are_rate_limited(ftp_server, flood):
    server = ftp_server("max_sessions_per_peer = 3\nlogin_timeout = 1\n")
    started = time.monotonic()
    attack = flood(server.ftp_port, 10, 10, b"", trickle=b"", first=2, reopen=200, tick=0.05)
    time.sleep(3.0)
    attack.stop()
    elapsed = time.monotonic() - started
    server.wait_log(r"no login within 1 s")
    refused = log_lines(server, r"^.* ftp: .*sessions from this address, refused.*$")
    timeouts = log_lines(server, r"^.* ftp: .*no login within 1 s.*$")
    assert attack.opened > 300  # the flood was refused hundreds of times
    # at most one line a second per kind (one more for a second boundary)
    assert 1 <= len(refused) <= elapsed + 2, refused
    assert 1 <= len(timeouts) <= elapsed + 2, timeouts
    held = [int(n) for n in re.findall(r"\((\d+) more refused since the last line\)",
                                       "\n".join(refused))]
    assert sum(held) > 0, refused
    assert ftp_fetch(server.ftp_port) == GENERIC
