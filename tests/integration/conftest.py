# SPDX-License-Identifier: MIT
"""Fixtures for the integration tests; the machinery is in harness.py."""

import pytest

from harness import BIG_SIZE, SHARED_FILES, Server, Site, md5, pattern_bytes
from pg import pg_fixtures

pg, pg_url = pg_fixtures(pytest)


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path / "site")


@pytest.fixture
def start_server(tmp_path):
    """start_server(site, args=(), verbose=False, tftp=...) -> a running Server.

    Servers still running at the end of the test are stopped and checked.
    """
    servers = []

    def start(site, args=(), verbose=False, **kw):
        workdir = tmp_path / f"server{len(servers)}"
        server = Server(site, workdir, args=args, verbose=verbose, **kw)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def shared_site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("shared") / "site")
    for name, data in SHARED_FILES.items():
        site.write(name, data)
    site.write("big.bin", pattern_bytes(BIG_SIZE, 5))
    return site


@pytest.fixture(scope="session")
def big_md5(shared_site):
    return md5((shared_site.files / "big.bin").read_bytes())


@pytest.fixture(scope="session")
def shared_server(shared_site, tmp_path_factory):
    """One server with default configuration for the tests that only read files."""
    server = Server(shared_site, tmp_path_factory.mktemp("shared-server"))
    yield server
    server.stop()


@pytest.fixture
def server(shared_server):
    shared_server.assert_alive()
    yield shared_server
    shared_server.assert_alive()


@pytest.fixture
def start_http(tmp_path):
    """start_http(site, args=("--http", "127.0.0.1:0"), tftp="127.0.0.1:0") -> Server."""
    servers = []

    def start(site, args=("--http", "127.0.0.1:0"), tftp="127.0.0.1:0", expect_http=True):
        server = Server(site, tmp_path / f"http-server{len(servers)}", args=args, tftp=tftp)
        servers.append(server)
        if expect_http:
            assert server.http_port, f"port file has no http line: {server.port_file_text!r}"
        return server

    yield start
    for server in servers:
        server.stop()
