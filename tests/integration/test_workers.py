# SPDX-License-Identifier: MIT
"""Workers ([server] workers = N, docs/architecture.md "Threads"): N event loops on the same
ports (SO_REUSEPORT), the kernel spreading connections over them by their addresses and
ports. What one worker learns holds on every one: a peer blocked by the enumeration defence,
the connection budget of an address, a reloaded configuration. Each check uses many fresh
connections (fresh source ports): the chance that all of them reached one worker is below
one in a million, so the other worker is always part of what is checked."""

import http.client
import os
import select
import signal
import socket
import time

import pytest

from harness import HANG_GUARD, Site, request

FRESH = 24  # fresh connections per check: 2**-23 that one worker had them all


def workers_site(tmp_path, conf=""):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "algom{MAC}.conf").write_text("mac = {{MAC}}\n")
    site.conf(conf)
    return site


def test_workers_option_and_auto(tmp_path, start_server):
    site = workers_site(tmp_path)
    server = start_server(site, args=("--http", "127.0.0.1:0", "--workers", "auto"))
    # os.cpu_count() is sysconf(_SC_NPROCESSORS_ONLN), as the daemon's "auto"
    server.wait_log(rf"templates, {os.cpu_count()} workers?\)")
    assert request(server.ports["http"], "/generic.cfg").body == b"generic\n"


def test_a_peer_blocked_through_one_worker_is_blocked_through_every_one(tmp_path,
                                                                         start_server):
    site = workers_site(tmp_path, "[defence]\nmax_misses = 10\nblock_time = 600\n")
    server = start_server(site, args=("--http", "127.0.0.1:0", "--workers", "2"))
    port = server.ports["http"]
    # misses over fresh connections, whichever worker takes each: the count is one
    statuses = [request(port, f"/algom0004f3{i:06x}.conf").status for i in range(10)]
    assert statuses == [404] * 9 + [429], statuses
    for _ in range(FRESH):
        assert request(port, "/generic.cfg").status == 429
    server.wait_log(r"blocked for 600 s on every protocol")


def hold(port):
    """A connection that sent half a request: it waits, counted, until closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    s.sendall(b"GET /generic.cfg HTTP/1.1\r\n")
    return s


def test_the_connection_budget_of_an_address_holds_across_workers(tmp_path, start_server):
    per_peer = 8
    site = workers_site(tmp_path, f"[http]\nmax_connections_per_peer = {per_peer}\n"
                                  "header_timeout = 60\n")
    server = start_server(site, args=("--http", "127.0.0.1:0", "--workers", "2"))
    port = server.ports["http"]
    held = [hold(port) for _ in range(per_peer)]
    try:
        # once the workers have taken the eight (spread over both), a ninth is refused
        deadline = time.monotonic() + HANG_GUARD
        while True:
            # a held one accepted after a request below was refused in its place (the two
            # workers accept in no set order): it is answered 503 and closed; hold another
            readable, _, _ = select.select(held, [], [], 0)
            for s in readable:
                held.remove(s)
                s.close()
                held.append(hold(port))
            try:
                status = request(port, "/generic.cfg").status
            except ConnectionResetError:
                status = 503  # refused, and reset before the answer was read
            if status == 503:
                break
            assert status == 200
            assert time.monotonic() < deadline, "the budget was not shared"
            time.sleep(0.02)
    finally:
        for s in held:
            s.close()
    server.wait_log(r"over max_connections_per_peer \(8\): 503")
    # the budget comes back whichever worker held the connections
    deadline = time.monotonic() + HANG_GUARD
    while request(port, "/generic.cfg").status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_reload_reaches_every_worker(tmp_path, start_server):
    site = workers_site(tmp_path)
    server = start_server(site, args=("--http", "127.0.0.1:0", "--ftp", "127.0.0.1:0",
                                      "--workers", "2"))
    port = server.ports["http"]
    assert request(port, "/prov/generic.cfg").status == 404
    site.conf("[http]\nprefix = prov\n")
    os.kill(server.proc.pid, signal.SIGHUP)
    server.wait_log(r"configuration re-read, file cache cleared \(every worker\)")
    for _ in range(FRESH):
        resp = request(port, "/prov/generic.cfg")
        assert (resp.status, resp.body) == (200, b"generic\n")
    server.assert_alive()
