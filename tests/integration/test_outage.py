# SPDX-License-Identifier: MIT
"""The store cannot be reached (docs/scale-out.md): the daemon serves what it holds (static
files, files it rendered, devices it has read), answers "try later" for what needs the store
(TFTP error 0, HTTP 503 with Retry-After, never "not found" and never another file), holds
the journal's rows and writes them all once the store is back, says so in one warning and one
line, and serves the change made meanwhile, not the file it held.

The store fails for real, with SQLite: an sqlite3 process renames the tables the directory
reads (its statements then fail) and holds the write lock (the journal's writer waits, then
gives up), as long as the test wants; then it commits the change it made meanwhile and puts
the tables back."""

import re
import subprocess
import time

import pytest

import tftp_raw
from harness import BIN, Site, request, run

DEV_A = "0022ee0a0001"  # fetched before the outage: held
DEV_B = "0022ee0b0002"  # in the inventory, never fetched: needs the store
UNKNOWN = "0022ee0f0009"  # in no inventory: "could not ask", not "not found"
TEMPLATE = "---\nversion = DBID_DBASE_VERSION\n---\nsip={{sip}} tz={{tz}} v={{DBID_DBASE_VERSION}}\n"


def outage_site(tmp_path):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", b"generic\n")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(TEMPLATE)
    site.conf("[server]\nnode = outage-a\n[admin]\nmetrics = open\n"
              "[journal]\nmiss_rows = 0\n")
    for args in (["group", "set", "lobby", "--var", "tz=UTC"],
                 ["add", DEV_A, "--group", "lobby", "--var", "sip=1"],
                 ["add", DEV_B, "--group", "lobby", "--var", "sip=2"]):
        result = run([BIN, "device", "--site", site.root, *args])
        assert result.returncode == 0, result.stderr.decode()
    return site


class Holder:
    """An sqlite3 process that breaks the store until release()."""

    def __init__(self, db):
        self.proc = subprocess.Popen(["sqlite3", str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.send("ALTER TABLE devices RENAME TO devices_away;\n"
                  "ALTER TABLE changes RENAME TO changes_away;\n"
                  "BEGIN EXCLUSIVE;\n"
                  # the change made while the node cannot see it
                  f"UPDATE devices_away SET vars = '{{\"sip\":\"77\"}}' WHERE mac = '{DEV_A}';\n")

    def send(self, sql):
        marker = f"done-{time.monotonic_ns()}"
        self.proc.stdin.write(sql + f"SELECT '{marker}';\n")
        self.proc.stdin.flush()
        out = []
        while True:
            line = self.proc.stdout.readline()
            assert line, "sqlite3 ended: " + "".join(out)
            if line.strip() == marker:
                break
            out.append(line)
        assert not out, "sqlite3: " + "".join(out)

    def release(self):
        self.send("COMMIT;\n"
                  "ALTER TABLE devices_away RENAME TO devices;\n"
                  "ALTER TABLE changes_away RENAME TO changes;\n")
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def metrics(port):
    text = request(port, "/metrics").body.decode()
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (\S+)', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def journal(site):
    result = run([BIN, "log", "--site", site.root])
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()


def test_store_outage_serves_what_is_held(tmp_path, start_server):
    site = outage_site(tmp_path)
    server = start_server(site, args=("--http", "127.0.0.1:0", "--admin", "127.0.0.1:0"))
    http, admin = server.ports["http"], server.ports["admin"]
    held = request(http, f"/{DEV_A}.cfg")
    assert held.status == 200 and held.body == b"sip=1 tz=UTC v=1\n"
    assert server.get(f"{DEV_A}.cfg").data == held.body
    # the journal's writer has its own pace: poll it
    before = len(wait_for(lambda: rows if len(rows := journal(site)) >= 2 else None, 10,
                          "the first two journal rows"))
    assert before == 2

    holder = Holder(site.root / "autoprov.db")
    try:
        asked = 0
        # what needs the store: "try later", on every protocol, known device or not
        for mac in (DEV_B, UNKNOWN):
            resp = request(http, f"/{mac}.cfg")
            asked += 1
            assert resp.status == 503, resp
            assert resp.headers["Retry-After"] == "10"
            with server.client() as client:
                pkt = client.expect_error(f"{mac}.cfg")
            asked += 1
            assert (pkt.code, pkt.message) == (0, "try later")
        # what the node holds: served as it was (the change cannot be seen yet)
        for _ in range(3):
            assert request(http, f"/{DEV_A}.cfg").body == held.body
            assert request(http, "/generic.cfg").body == b"generic\n"
            asked += 2
        assert server.get(f"{DEV_A}.cfg").data == held.body
        asked += 1
        # the journal's writer gives up waiting for the lock: its rows are held, not dropped
        wait_for(lambda: metrics(admin).get("autoprov_journal_held", 0) > 0, 30,
                 "the writer to hold its rows")
        m = metrics(admin)
        assert m["autoprov_store_up"] == 0 and m["autoprov_store_outages_total"] == 1
        assert m['autoprov_requests_total{proto="http",outcome="unavailable"}'] == 2
        assert m['autoprov_requests_total{proto="tftp",outcome="unavailable"}'] == 2
        assert request(http, f"/{DEV_B}.cfg").status == 503
        asked += 1
        holder.release()
    finally:
        holder.kill()

    server.wait_log(r"is back after", timeout=30)
    # the change made during the outage is what is served now, with its new version
    assert request(http, f"/{DEV_A}.cfg").body == b"sip=77 tz=UTC v=2\n"
    assert request(http, f"/{DEV_B}.cfg").body == b"sip=2 tz=UTC v=1\n"
    assert request(http, f"/{UNKNOWN}.cfg").status == 404
    # one warning when it started, one line when it ended, whatever the requests meanwhile
    log = server.log()
    assert len(re.findall(r"cannot be reached \(", log)) == 1, log
    assert len(re.findall(r"is back after", log)) == 1, log
    assert re.search(r"is back after [0-9.]+ s: 5 requests were answered \"try later\", "
                     r"\d+ journal rows held were written, 0 dropped", log), log
    # every request is in the journal, with its node
    rows = wait_for(lambda: r if len(r := journal(site)) >= before + asked + 3 else None, 10,
                    "every row")
    assert len(rows) == before + asked + 3
    assert sum(" unavailable " in r for r in rows) == 5
    assert all(" outage-a" in r for r in rows)
    m = metrics(admin)
    assert m["autoprov_store_up"] == 1 and m["autoprov_journal_held"] == 0
    assert m['autoprov_journal_dropped_total{reason="outage"}'] == 0


def pg_node(tmp_path, name, url):
    site = Site(tmp_path / name)
    site.write("generic.cfg", b"generic\n")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(TEMPLATE)
    site.conf(f"[server]\nnode = {name}\n[store]\nurl = {url}\n[journal]\nmiss_rows = 0\n")
    return site


def test_two_nodes_when_postgresql_stops(tmp_path, start_server, pg, pg_url):
    """Two nodes on one PostgreSQL: stopped, both serve what they hold and answer "try later"
    for the rest, nothing wrong; started again, the journal holds every request of both."""
    sites = [pg_node(tmp_path, n, pg_url) for n in ("node-a", "node-b")]
    for args in (["group", "set", "lobby", "--var", "tz=UTC"],
                 ["add", DEV_A, "--group", "lobby", "--var", "sip=1"],
                 ["add", DEV_B, "--group", "lobby", "--var", "sip=2"]):
        result = run([BIN, "device", "--site", sites[0].root, *args])
        assert result.returncode == 0, result.stderr.decode()
    servers = [start_server(s, args=("--http", "127.0.0.1:0")) for s in sites]
    held = b"sip=1 tz=UTC v=1\n"
    for server in servers:
        assert request(server.ports["http"], f"/{DEV_A}.cfg").body == held
        assert server.get(f"{DEV_A}.cfg").data == held
    before = len(wait_for(lambda: rows if len(rows := journal(sites[0])) >= 4 else None, 10,
                          "the first four journal rows"))
    assert before == 4

    pg.stop()
    try:
        asked = 0
        for server in servers:
            http = server.ports["http"]
            for _ in range(2):
                assert request(http, f"/{DEV_A}.cfg").body == held
                assert server.get(f"{DEV_A}.cfg").data == held
                assert request(http, "/generic.cfg").body == b"generic\n"
                resp = request(http, f"/{DEV_B}.cfg")
                assert resp.status == 503 and resp.headers["Retry-After"] == "10", resp
                with server.client() as client:
                    pkt = client.expect_error(f"{UNKNOWN}.cfg")
                assert (pkt.code, pkt.message) == (0, "try later")
                asked += 5
            server.wait_log(r"cannot be reached \(")
    finally:
        pg.start()

    for server in servers:
        server.wait_log(r"is back after", timeout=30)
        http = server.ports["http"]
        assert request(http, f"/{DEV_B}.cfg").body == b"sip=2 tz=UTC v=1\n"
        log = server.log()
        assert len(re.findall(r"cannot be reached \(", log)) == 1, log
        assert len(re.findall(r"is back after", log)) == 1, log
        assert re.search(r"is back after [0-9.]+ s: 4 requests were answered \"try later\", "
                         r"\d+ journal rows held were written, 0 dropped", log), log
    # every request of both nodes is in the one journal (none dropped: the lines say 0)
    rows = wait_for(lambda: r if len(r := journal(sites[0])) >= before + asked + 2 else None,
                    20, "every row")
    assert len(rows) == before + asked + 2
    assert sum(" unavailable " in r for r in rows) == 8
    for name in ("node-a", "node-b"):
        mine = run([BIN, "log", "--site", sites[1].root, "--node", name]).stdout.decode()
        assert len(mine.splitlines()) == (before + asked + 2) // 2
