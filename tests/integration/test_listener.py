# SPDX-License-Identifier: MIT
"""The listener every TCP protocol accepts through (src/net/listener.c): one answer to running
out of descriptors for HTTP and FTP (a waiting connection gives its descriptor to a new one),
addresses normalised once (an IPv4 client of a dual-stack listener is its IPv4 address in the
log and the journal, over HTTP as over FTP). The same with two workers ([server] workers)."""

import ftplib
import socket
import time

import pytest

from harness import HANG_GUARD, Site, request, run, BIN

NOFILE = 64  # the daemon's descriptor limit in these tests (prlimit)


def listener_site(tmp_path):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    site.conf("[ftp]\nanonymous = yes\nlogin_timeout = 60\n[http]\nheader_timeout = 60\n")
    return site


def flood(port, n):
    """n connections that say nothing (kept open by the caller)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        socks.append(s)
    return socks


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("proto", ["ftp", "http"])
def test_out_of_descriptors_a_waiting_connection_makes_room(tmp_path, start_server, proto,
                                                            workers):
    # with two workers both run out (descriptors are the process's): neither spins nor stops
    site = listener_site(tmp_path)
    server = start_server(site, args=(f"--{proto}", "127.0.0.1:0", "--workers", str(workers)),
                          wrap=("prlimit", f"--nofile={NOFILE}:{NOFILE}"))
    port = server.ports[proto]
    socks = flood(port, NOFILE + 16)
    try:
        if proto == "http":
            # half a request: handed over by the kernel (deferred accept), then waiting
            for s in socks:
                s.sendall(b"GET /generic.cfg HTTP/1.1\r\n")
            server.wait_log(r"connection dropped for a new one \(open files full\)")
        else:
            server.wait_log(r"a session not logged in dropped for a new one "
                            r"\(open files full\)")
    finally:
        for s in socks:
            s.close()
    # the flood gone (once the daemon has seen its connections close), everything is served
    # again: a request answered while the descriptors are still taken may be an error
    deadline = time.monotonic() + HANG_GUARD
    while True:
        if proto == "ftp":
            got = []
            try:
                ftp = ftplib.FTP(timeout=HANG_GUARD)
                ftp.connect("127.0.0.1", port)
                ftp.login()
                ftp.retrbinary("RETR generic.cfg", got.append)
                ftp.quit()
            except ftplib.Error:
                pass
            body = b"".join(got)
        else:
            body = request(port, "/generic.cfg").body
        if body == b"generic\n":
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    server.assert_alive()


def test_ipv4_clients_of_a_dual_stack_listener_are_ipv4(tmp_path, start_server):
    site = listener_site(tmp_path)
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.close()
    except OSError:
        pytest.skip("no IPv6 on this machine")
    server = start_server(site, args=("--http", "[::]:0", "--ftp", "[::]:0"))
    assert request(server.ports["http"], "/generic.cfg").status == 200
    ftp = ftplib.FTP(timeout=HANG_GUARD)
    ftp.connect("127.0.0.1", server.ports["ftp"])
    ftp.login()
    ftp.retrbinary("RETR generic.cfg", lambda b: None)
    ftp.quit()
    server.wait_log(r'http: 127\.0\.0\.1:\d+ "GET /generic\.cfg" 200')
    server.wait_log(r'ftp: 127\.0\.0\.1:\d+ .*RETR "/generic\.cfg" sent')
    assert "::ffff:" not in server.log()
    # the journal's writer writes ten times a second: wait for both rows
    deadline = time.monotonic() + HANG_GUARD
    while (journal := run([BIN, "log", "--site", site.root]).stdout.decode()).count(
            "127.0.0.1") < 2:
        assert time.monotonic() < deadline, journal
        time.sleep(0.1)
    assert "::ffff:" not in journal, journal
