# SPDX-License-Identifier: MIT
"""Several `autoprov serve` nodes on one PostgreSQL (docs/architecture.md, "The store").

Two daemons, each with its own site directory (templates) and the same `[store] url`:
a `device set` through the CLI reaches both within a second (LISTEN/NOTIFY wakes them, the
change log says what changed) and both serve the same bytes with the same
DBID_DBASE_VERSION; a change through node A's admin API reaches node B. The URL's password
appears in no log line and no error. Waits poll against a deadline; nothing measures time.
"""

import re
import time

from admin import Api, make_token
from harness import BIN, Site, curl_get, run

MAC = "00:22:ee:01:02:03"
NAME = "0022ee010203.cfg"
TEMPLATE = "---\nversion = DBID_DBASE_VERSION\n---\nDBID_DBASE_VERSION={{DBID_DBASE_VERSION}}\nline={{line}}\n"


def node_site(root, url):
    site = Site(root)
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(TEMPLATE)
    site.conf(f"""
        [store]
        url = {url}
        """)
    return site


def cli(site, *args):
    result = run([BIN, "device", "--site", site.root, *args])
    assert result.returncode == 0, result.stderr.decode()
    return result


def fetch(server):
    result = curl_get(server.port, NAME)
    return result.stdout if result.returncode == 0 else None


def until(fetcher, want, timeout):
    """Fetches until the body holds want; returns the body, or fails with the last one."""
    deadline = time.monotonic() + timeout
    while True:
        body = fetcher()
        if body is not None and want in body:
            return body
        assert time.monotonic() < deadline, f"never saw {want!r} in {timeout} s; last: {body!r}"
        time.sleep(0.02)


def version_of(body):
    return int(re.search(rb"DBID_DBASE_VERSION=(\d+)", body).group(1))


def test_two_nodes_one_database(tmp_path, pg, pg_url, start_server):
    a_site = node_site(tmp_path / "a", pg_url)
    b_site = node_site(tmp_path / "b", pg_url)
    cli(a_site, "add", MAC, "--var", "line=100")
    a = start_server(a_site, args=("--admin", "127.0.0.1:0"))
    b = start_server(b_site)
    for server in (a, b):
        server.wait_log(r"changes made by other nodes are announced \(LISTEN\)")
    first_a = until(lambda: fetch(a), b"line=100", 10)
    first_b = until(lambda: fetch(b), b"line=100", 10)
    assert first_a == first_b

    # the CLI, through the other site's directory: both nodes within a second, same version
    cli(b_site, "set", MAC, "--var", "line=200")
    changed_a = until(lambda: fetch(a), b"line=200", 1.0)
    changed_b = until(lambda: fetch(b), b"line=200", 1.0)
    assert changed_a == changed_b
    assert version_of(changed_a) == version_of(first_a) + 1

    # node A's admin API: node B serves it
    token = make_token(a_site.root, "ops", scope="write")
    api = Api(a.ports["admin"], token)
    status = api.json("GET", "/api/v1/status")
    assert status["store"]["kind"] == "postgresql", status
    assert "***" in status["store"]["path"] and "s3cret" not in status["store"]["path"]
    api.json("PATCH", "/api/v1/devices/0022ee010203", body={"vars": {"line": "300"}})
    via_b = until(lambda: fetch(b), b"line=300", 1.0)
    assert until(lambda: fetch(a), b"line=300", 1.0) == via_b

    # the journal is one: B's rows are seen through A's site (once B's writer had its round)
    deadline = time.monotonic() + 10
    while True:
        log = run([BIN, "log", "--site", a_site.root, "--mac", MAC])
        assert log.returncode == 0, log.stderr.decode()
        if log.stdout.count(NAME.encode()) >= 1:
            break
        assert time.monotonic() < deadline, "no journal row of the device through A's site"
        time.sleep(0.1)
    for server in (a, b):
        text = server.stop()
        assert "s3cret" not in text


def test_password_never_shown(tmp_path, pg, pg_url):
    site = node_site(tmp_path / "a", pg_url.replace("s3cret", "wrong-s3cret"))
    result = run([BIN, "device", "--site", site.root, "list"])
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "password authentication failed" in err, err
    assert "s3cret" not in err and "***" in err, err
