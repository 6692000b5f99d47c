# SPDX-License-Identifier: MIT
"""The store's unit tests (tests/unit/test_store.c, test_journal.c, test_state.c) on PostgreSQL.

The same cmocka binary meson runs on SQLite, given a database of the harness's PostgreSQL
(pg.py) in AUTOPROV_TEST_PG_URL: the inventory, journal, version, binding and token tests
run on both backends from one source.
"""

import os
import subprocess

import pytest

from harness import BIN
from pg import PG_BIN

# db_pg.c's PG_WRITE_LOCK_KEY: "autop"
WRITE_LOCK_KEY = 0x6175746f70

UNITS = BIN.parent / "tests" / "unit"


@pytest.mark.parametrize("suite", ["test_store", "test_journal", "test_state"])
def test_store_unit_tests_on_postgresql(pg_url, suite):
    unit = UNITS / suite
    assert unit.exists(), f"{unit} is not built (meson setup -Dtests=true)"
    env = dict(os.environ, AUTOPROV_TEST_PG_URL=pg_url)
    out = subprocess.run([str(unit)], env=env, capture_output=True, text=True, timeout=600)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-6000:]
    assert "[  PASSED  ]" in report
    assert "FAILED" not in report, report[-6000:]


def cli(*args, ok=True):
    result = subprocess.run([str(BIN), *map(str, args)], capture_output=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stderr.decode()
    return result


def test_store_copy_round_trip(tmp_path, pg_url):
    """SQLite -> PostgreSQL -> SQLite: the exports, groups, defaults, tokens and journal agree."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "autoprov.conf").write_text("")
    cli("device", "--site", src, "defaults", "set", "--var", "ntp=pool", "--json-var", "vlan=20")
    cli("device", "--site", src, "group", "set", "lobby", "--var", "vol=5")
    csv = "mac,model,profile,group,enabled,line,note\n" + "".join(
        f"0022ee0100{i:02x},T46,algo,{'lobby' if i % 2 else ''},{'no' if i == 3 else 'yes'},"
        f"{100 + i},\"a, b\"\n" for i in range(40))
    (tmp_path / "in.csv").write_text(csv)
    cli("device", "--site", src, "import", tmp_path / "in.csv")
    cli("device", "--site", src, "set", "0022ee010001", "--json-var", "sip={\"u\":[1,2]}")
    cli("token", "--site", src, "add", "ops", "--scope", "write")
    # a journal, as a daemon writes it (a request through `render` is not journalled)
    import sqlite3
    db = sqlite3.connect(src / "autoprov.db")
    db.executemany("INSERT INTO journal (time, proto, peer, mac, path, outcome, bytes)"
                   " VALUES (?, 'tftp', '127.0.0.1:1', ?, 'x.cfg', 'sent', 10)",
                   [(1714564800000000 + i, f"0022ee0100{i:02x}") for i in range(5)])
    db.execute("INSERT INTO versions (key, content_md5, version) VALUES ('k', 'abc', 7)")
    unknown = ("0022eeaa0001", 1714564700000000, 1714564800000000, 3, '["a.cfg"]', "10.0.0.9:1")
    db.execute("INSERT INTO unknown_devices (mac, first_seen, last_seen, requests, files,"
               " last_peer) VALUES (?, ?, ?, ?, ?, ?)", unknown)
    db.commit()
    db.close()

    out = cli("store", "copy", "--from", src, "--to", pg_url, "--journal")
    err = out.stderr.decode()
    assert ("40 devices, 1 groups, 1 versions, 1 tokens, 5 journal rows, 1 unknown devices"
            in err), err
    assert "s3cret" not in err and "***" in err, err
    # all or nothing: into a store that is not empty, nothing
    again = cli("store", "copy", "--from", src, "--to", pg_url, ok=False)
    assert again.returncode == 1 and b"is not empty" in again.stderr

    back = tmp_path / "back.db"
    cli("store", "copy", "--from", pg_url, "--to", back, "--journal")
    dst = tmp_path / "dst"
    dst.mkdir()
    os.rename(back, dst / "autoprov.db")
    (dst / "autoprov.conf").write_text("")
    db = sqlite3.connect(dst / "autoprov.db")
    assert db.execute("SELECT mac, first_seen, last_seen, requests, files, last_peer"
                      " FROM unknown_devices").fetchall() == [unknown]
    db.close()
    for args in (("export",), ("defaults", "show", "--json"), ("group", "list", "--json")):
        a = cli("device", "--site", src, *args).stdout
        b = cli("device", "--site", dst, *args).stdout
        assert a == b, (args, a, b)
    assert cli("token", "--site", src, "list").stdout == cli("token", "--site", dst, "list").stdout
    assert cli("log", "--site", src).stdout == cli("log", "--site", dst).stdout
    # through PostgreSQL's own site view too
    pg_site = tmp_path / "pgsite"
    pg_site.mkdir()
    (pg_site / "autoprov.conf").write_text(f"[store]\nurl = {pg_url}\n")
    assert cli("device", "--site", pg_site, "export").stdout == \
        cli("device", "--site", src, "export").stdout


def say(psql, sql, answer):
    """sql run by the psql session kept open; waits for its answer."""
    psql.stdin.write(sql + ";\n")
    psql.stdin.flush()
    assert psql.stdout.readline().strip() == answer


def test_current_schema_opened_without_the_write_lock(tmp_path, pg, pg_url):
    """A current database is only read when opened; one with an older trigger function gets
    this autoprov's (an upsert is one revision), under the write lock."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "autoprov.conf").write_text(f"[store]\nurl = {pg_url}\n")
    cli("device", "--site", site, "add", "0022ee000001", "--model", "T46")
    dbname = pg_url.rsplit("/", 1)[1]
    # the function as the first schema 7 wrote it: an upsert counted twice
    src = pg.psql("SELECT prosrc FROM pg_proc WHERE proname = 'autoprov_devices_change'",
                  dbname).strip()
    old = src.replace("  IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM devices WHERE mac ="
                      " NEW.mac) THEN    RETURN NEW;  END IF;", "")
    assert old != src
    pg.psql("CREATE OR REPLACE FUNCTION autoprov_devices_change() RETURNS trigger"
            f" LANGUAGE plpgsql AS $${old}$$", dbname)

    # another session holds the write lock: reading a current database does not wait for it
    holder = subprocess.Popen([str(PG_BIN / "psql"),
                               "-X", "-q", "-A", "-t", "-d", pg.url(dbname)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        say(holder, f"SELECT 'held' FROM (SELECT pg_advisory_lock({WRITE_LOCK_KEY})) l", "held")
        # the function differs: the migration needs the lock, and waits for it in vain
        slow = cli("device", "--site", site, "list", ok=False)
        assert slow.returncode != 0
        say(holder, f"SELECT 'free' FROM (SELECT pg_advisory_unlock({WRITE_LOCK_KEY})) l", "free")
        cli("device", "--site", site, "list")  # replaces the function
        say(holder, f"SELECT 'held' FROM (SELECT pg_advisory_lock({WRITE_LOCK_KEY})) l", "held")
        out = cli("device", "--site", site, "list").stdout.decode()
        assert "00:22:ee:00:00:01" in out
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert pg.psql("SELECT prosrc FROM pg_proc WHERE proname = 'autoprov_devices_change'",
                   dbname).strip() == src
    rev = int(pg.psql("SELECT rev FROM devices", dbname))
    cli("device", "--site", site, "set", "0022ee000001", "--var", "a=1")
    assert int(pg.psql("SELECT rev FROM devices", dbname)) == rev + 1
