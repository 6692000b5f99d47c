# SPDX-License-Identifier: MIT
"""`autoprov device` and `autoprov log` as an administrator uses them: the inventory from the
command line and from spreadsheets, exit statuses and messages, CSV round trips, several
writers at once, and the journal printed back."""

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import BIN, run, sanitizer_report


def autoprov(*args, input=None):
    proc = run([BIN, *args], input=input)
    found = sanitizer_report(proc.stderr.decode("utf-8", "replace"))
    assert not found, f"sanitizer report: {proc.stderr.decode()}"
    return proc


def out(proc):
    return proc.stdout.decode("utf-8", "replace")


def err(proc):
    return proc.stderr.decode("utf-8", "replace")


@pytest.fixture
def inv(site):
    """dev(*args) runs `autoprov device --site SITE ARGS` and checks the exit status."""

    def dev(*args, status=0, input=None):
        proc = autoprov("device", "--site", site.root, *args, input=input)
        assert proc.returncode == status, f"{args}: {proc.returncode}\n{err(proc)}{out(proc)}"
        return proc

    dev.site = site
    return dev


def listing(inv):
    return out(inv("list")).splitlines()


def export(inv):
    return out(inv("export"))


# ---- devices ----


def test_help():
    proc = autoprov("device", "--help")
    assert proc.returncode == 0
    for word in ("add", "import", "export", "group", "defaults", "--json-var"):
        assert word in out(proc)


def test_add_show_list_rm(inv):
    inv("add", "00:22:ee:01:02:03", "--model", "8180", "--profile", "algo", "--var",
        "sip_server=pbx.example.com")
    inv("add", "0022EE010204", "--disabled")
    assert listing(inv) == [
        "00:22:ee:01:02:03  8180         algo       -            enabled",
        "00:22:ee:01:02:04  -            -          -            disabled",
    ]
    shown = out(inv("show", "0022.ee01.0203"))
    assert "mac:       00:22:ee:01:02:03 (0022ee010203, 0022EE010203)" in shown
    assert "model:     8180" in shown
    assert "enabled:   yes" in shown
    assert "  sip_server = pbx.example.com  [device]" in shown
    inv("rm", "00-22-EE-01-02-03")
    assert listing(inv) == ["00:22:ee:01:02:04  -            -          -            disabled"]
    proc = inv("rm", "00-22-EE-01-02-03", status=1)
    assert err(proc) == "autoprov device: 00:22:ee:01:02:03 is not in the inventory\n"


@pytest.mark.parametrize("form", ["00:22:ee:01:02:03", "00-22-EE-01-02-03", "0022.ee01.0203",
                                  "0022EE010203", "0022ee010203", "00:22:EE:01:02:03"])
def test_every_mac_form_is_one_device(inv, form):
    inv("add", form)
    assert listing(inv)[0].startswith("00:22:ee:01:02:03 ")
    proc = inv("add", "00:22:ee:01:02:03", status=1)
    assert err(proc) == "autoprov device: 00:22:ee:01:02:03 is already in the inventory\n"


@pytest.mark.parametrize("mac, reason", [
    ("xyz", "3 hex digits, 12 expected"),
    ("00:22:ee:01:02", "10 hex digits, 12 expected"),
    ("0022ee01020g", "'g' is not a hex digit"),
    ("00:22-ee:01:02:03", "mixed separators"),
    ("0022:ee01:0203", "misplaced separator"),
])
def test_bad_mac_says_why(inv, mac, reason):
    proc = inv("add", mac, status=1)
    assert err(proc) == f"autoprov device: '{mac}': not a MAC address ({reason})\n"
    # nothing was written: not even a database file
    assert not (inv.site.root / "autoprov.db").exists()


@pytest.mark.parametrize("args", [
    (),
    ("frobnicate",),
    ("add",),
    ("add", "0022ee010203", "extra"),
    ("add", "0022ee010203", "--bogus"),
    ("list", "--model", "x"),
    ("show", "0022ee010203", "--var", "a=b"),
    ("add", "0022ee010203", "--var", "novalue"),
    ("set", "0022ee010203"),
    ("group",),
    ("group", "frob"),
    ("defaults", "set"),
    ("export", "a", "b"),
])
def test_usage_errors_exit_2(inv, args):
    proc = inv(*args, status=2)
    assert err(proc).startswith("autoprov device"), err(proc)


def test_bad_values_exit_1(inv):
    assert "not a variable name" in err(inv("add", "0022ee010203", "--var", "a b=c", status=1))
    assert "not a variable name" in err(inv("add", "0022ee010203", "--var", "mac=c", status=1))
    assert "not JSON" in err(inv("add", "0022ee010203", "--json-var", "v={", status=1))
    assert "profile 'yealink'" in err(inv("add", "0022ee010203", "--profile", "yealink",
                                          status=1))
    assert err(inv("add", "0022ee010203", "--group", "nope", status=1)) == \
        "autoprov device: no group 'nope'\n"
    assert listing(inv) == []


def test_set_changes_only_what_is_given(inv):
    inv("group", "set", "lobby")
    inv("add", "0022ee010203", "--model", "8180", "--profile", "algo", "--var", "a=1",
        "--var", "b=2", "--json-var", "c=[1,2]")
    inv("set", "00:22:ee:01:02:03", "--group", "lobby", "--unset", "a", "--var", "b=two",
        "--disable")
    shown = json.loads(out(inv("show", "0022ee010203", "--json")))
    assert shown["model"] == "8180" and shown["profile"] == "algo"
    assert shown["group"] == "lobby" and shown["enabled"] is False
    assert shown["vars"] == {"b": "two", "c": [1, 2]}
    inv("set", "0022ee010203", "--enable", "--group", "", "--model", "")
    shown = json.loads(out(inv("show", "0022ee010203", "--json")))
    assert shown["group"] == "" and shown["model"] == "" and shown["enabled"] is True
    assert "not in the inventory" in err(inv("set", "0022ee0102ff", "--enable", status=1))


def test_variables_precedence(inv):
    inv("defaults", "set", "--var", "tz=UTC", "--var", "ntp=pool.ntp.org", "--var", "sip=d")
    inv("group", "set", "lobby", "--var", "tz=Europe/Paris", "--var", "sip=g")
    inv("add", "0022ee010203", "--group", "lobby", "--var", "sip=device")
    shown = json.loads(out(inv("show", "0022ee010203", "--json")))
    builtins = {"mac": "0022ee010203", "MA": "0022ee010203", "MAU": "0022EE010203",
                "MAC": "00:22:ee:01:02:03", "group": "lobby"}
    assert shown["effective_vars"] == {"tz": "Europe/Paris", "ntp": "pool.ntp.org",
                                       "sip": "device", **builtins}
    assert shown["origins"] == {"tz": "group lobby", "ntp": "defaults", "sip": "device",
                                **{k: "built-in" for k in builtins}}
    text = out(inv("show", "0022ee010203"))
    assert "  ntp = pool.ntp.org  [defaults]" in text
    assert "  sip = device  [device]" in text
    assert "  tz = Europe/Paris  [group lobby]" in text
    assert "  MAU = 0022EE010203  [built-in]" in text
    # what a template sees: serial is SN too
    inv("set", "0022ee010203", "--var", "serial=S1")
    shown = json.loads(out(inv("show", "0022ee010203", "--json")))
    assert shown["effective_vars"]["SN"] == "S1"
    assert shown["origins"]["SN"] == "alias of serial"


def test_list_filters_and_json(inv):
    inv("group", "set", "lobby")
    inv("add", "0022ee000001", "--group", "lobby", "--profile", "spa")
    inv("add", "0022ee000002", "--group", "lobby", "--profile", "algo")
    inv("add", "0022ee000003", "--profile", "spa")
    assert [l.split()[0] for l in out(inv("list", "--group", "lobby")).splitlines()] == \
        ["00:22:ee:00:00:01", "00:22:ee:00:00:02"]
    assert [l.split()[0] for l in out(inv("list", "--profile", "spa")).splitlines()] == \
        ["00:22:ee:00:00:01", "00:22:ee:00:00:03"]
    devices = json.loads(out(inv("list", "--json")))
    assert [d["mac"] for d in devices] == ["0022ee000001", "0022ee000002", "0022ee000003"]
    assert json.loads(out(inv("list", "--json", "--group", "none-such"))) == []


# ---- groups and defaults ----


def test_groups(inv):
    inv("group", "set", "lobby", "--var", "tz=UTC", "--json-var", "vlan=20")
    inv("group", "set", "lobby", "--var", "ntp=x", "--unset", "tz")
    inv("group", "set", "annex")
    inv("add", "0022ee000001", "--group", "lobby")
    assert out(inv("group", "list")).splitlines() == [
        "annex            0 devices, 0 variables",
        "lobby            1 device, 2 variables",
    ]
    shown = json.loads(out(inv("group", "show", "lobby", "--json")))
    assert shown == {"name": "lobby", "devices": 1, "vars": {"ntp": "x", "vlan": 20}}
    assert "  vlan = 20" in out(inv("group", "show", "lobby"))
    assert err(inv("group", "rm", "lobby", status=1)) == \
        "autoprov device: group 'lobby' has 1 device\n"
    inv("group", "rm", "annex")
    assert err(inv("group", "rm", "annex", status=1)) == "autoprov device: no group 'annex'\n"
    assert "not a group name" in err(inv("group", "set", "a/b", status=1))


def test_defaults(inv):
    assert out(inv("defaults", "show")) == "defaults:\n  (none)\n"
    inv("defaults", "set", "--var", "ntp=pool.ntp.org", "--json-var", "codecs=[8,0]")
    inv("defaults", "set", "--unset", "codecs")
    assert json.loads(out(inv("defaults", "show", "--json"))) == {"ntp": "pool.ntp.org"}


# ---- CSV ----

TRICKY_CSV = (
    "mac,model,profile,group,enabled,display,note,vlan\n"
    "00:22:ee:00:00:01,8180,algo,lobby,yes,\"Hall, east\",\"say \"\"hi\"\"\",20\n"
    "0022.ee00.0002,P8188,,,no,,\"two\nlines\",\n"
    "0022EE000003,,spa,lobby,,\" lead\",café ☃,30\n"
)


def test_import_and_export(inv, tmp_path):
    inv("group", "set", "lobby")
    path = tmp_path / "devices.csv"
    path.write_text(TRICKY_CSV)
    proc = inv("import", path)
    assert out(proc) == "imported 3 devices\n"
    assert export(inv) == (
        "mac,model,profile,group,enabled,display,note,vlan\n"
        "0022ee000001,8180,algo,lobby,yes,\"Hall, east\",\"say \"\"hi\"\"\",20\n"
        "0022ee000002,P8188,,,no,,\"two\nlines\",\n"
        "0022ee000003,,spa,lobby,yes,\" lead\",café ☃,30\n"
    )
    shown = json.loads(out(inv("show", "0022ee000002", "--json")))
    assert shown["vars"] == {"note": "two\nlines"}


def test_import_from_stdin(inv):
    proc = inv("import", "-", input=b"mac\n0022ee000001\n")
    assert out(proc) == "imported 1 device\n"


def test_export_import_round_trip(inv, tmp_path, site):
    inv("group", "set", "lobby")
    inv("add", "0022ee000001", "--group", "lobby", "--model", "8180", "--var",
        "note=a, \"b\"\nc", "--json-var", "vlan=20", "--json-var", "obj={\"k\":[1,null]}",
        "--var", "empty=")
    inv("add", "0022ee000002", "--disabled", "--var", "vlan=20", "--var", "x= padded ")
    exported = tmp_path / "out.csv"
    inv("export", exported)
    text = exported.read_text()
    assert text.splitlines()[0] == \
        "mac,model,profile,group,enabled,empty:json,note,obj:json,vlan:json,x"

    other = tmp_path / "other"
    other.mkdir()

    def dev2(*args, status=0):
        proc = autoprov("device", "--site", other, *args)
        assert proc.returncode == status, err(proc)
        return proc

    dev2("group", "set", "lobby")
    assert out(dev2("import", exported)) == "imported 2 devices\n"
    assert out(dev2("export")) == text
    for mac in ("0022ee000001", "0022ee000002"):
        a = json.loads(out(inv("show", mac, "--json")))
        b = json.loads(out(dev2("show", mac, "--json")))
        for d in (a, b):
            d.pop("rev")
        assert a == b


@pytest.mark.parametrize("csv, row_reason", [
    ("mac\n0022ee000001\nxyz\n", "3: 'xyz': not a MAC address (3 hex digits, 12 expected)"),
    ("mac\n0022ee000001\n00:22:ee:00:00:01\n", "3: 00:22:ee:00:00:01 is also on row 2"),
    ("mac\n0022ee000001\n0022ee0000aa\n",
     "3: 00:22:ee:00:00:aa is already in the inventory (--replace replaces it)"),
    ("mac,group\n0022ee000001,nope\n", "2: no group 'nope'"),
    ("mac,model\n0022ee000001,8180\n0022ee000002\n", "3: 1 field, 2 expected"),
    ("model\n8180\n", "1: no 'mac' column"),
    ("mac,enabled\n0022ee000001,perhaps\n", "2: enabled: 'perhaps' is not yes or no"),
])
def test_import_bad_row_changes_nothing(inv, tmp_path, csv, row_reason):
    inv("add", "0022ee0000aa", "--model", "keep")
    before = export(inv)
    path = tmp_path / "bad.csv"
    path.write_text(csv)
    proc = inv("import", path, status=1)
    assert err(proc) == f"autoprov device import: {path}:{row_reason}\n"
    assert out(proc) == ""
    assert export(inv) == before


def test_import_replace(inv, tmp_path):
    inv("add", "0022ee000001", "--model", "old", "--var", "gone=1")
    path = tmp_path / "r.csv"
    path.write_text("mac,model\n0022ee000001,new\n0022ee000002,\n")
    inv("import", path, status=1)
    assert out(inv("import", path, "--replace")) == "imported 2 devices\n"
    shown = json.loads(out(inv("show", "0022ee000001", "--json")))
    assert shown["model"] == "new" and shown["vars"] == {}


def test_import_missing_file(inv, tmp_path):
    proc = inv("import", tmp_path / "none.csv", status=1)
    assert "No such file or directory" in err(proc)


# ---- concurrency ----


def test_concurrent_writers_and_a_reader(inv):
    """Eight CLIs write at once while another connection holds a read snapshot open (as the
    daemon may): every write lands, none fails with "database is locked"."""
    inv("list")  # creates the database
    reader = sqlite3.connect(inv.site.root / "autoprov.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM devices").fetchone()[0] == 0

    def writer(w):
        for i in range(12):
            proc = autoprov("device", "--site", inv.site.root, "add", f"0022ee{w:02x}{i:04x}",
                            "--var", f"w={w}")
            if proc.returncode != 0:
                return err(proc)
        return None

    with ThreadPoolExecutor(8) as pool:
        failures = [f for f in pool.map(writer, range(8)) if f]
    assert failures == []
    # the snapshot did not move; a new one sees everything
    assert reader.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM devices").fetchone()[0] == 96
    rev = reader.execute("SELECT value FROM meta WHERE key = 'inventory_rev'").fetchone()[0]
    assert rev == 96
    reader.close()
    assert len(listing(inv)) == 96


# ---- the journal ----


def journal_rows(site, rows):
    inv_db = site.root / "autoprov.db"
    db = sqlite3.connect(inv_db)
    db.executemany(
        "INSERT INTO journal (time, proto, peer, mac, path, outcome, bytes, md5, user_agent, node)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [tuple(r) + (None,) * (10 - len(r)) for r in rows])
    db.commit()
    db.close()


def test_log(inv):
    inv("list")
    now = int(time.time())
    journal_rows(inv.site, [
        (1714564800_123000, "tftp", "192.0.2.10:1024", "0022ee010203", "algom0022ee010203.conf",
         "sent", 1428, "0123456789abcdef0123456789abcdef", None, "prov1"),
        (1714564801_000000, "tftp", "192.0.2.10:1025", "0022ee010203",
         "algom-i0022ee010203.conf", "not found", 0, None, None, "prov1"),
        (1714651200_000000, "http", "192.0.2.11:4000", "0022ee0102ff", "spa.xml", "sent", 10,
         None, "Cisco/SPA504G", "prov2"),
        ((now - 600) * 1_000_000, "tftp", "192.0.2.12:1024", None, "firmware.bin", "timed out",
         512, None, None),
    ])

    def log(*args, status=0):
        proc = autoprov("log", "--site", inv.site.root, *args)
        assert proc.returncode == status, err(proc)
        return out(proc).splitlines()

    lines = log()
    assert lines[0] == ("2024-05-01T12:00:00.123Z tftp 192.0.2.10:1024 00:22:ee:01:02:03 "
                        "\"algom0022ee010203.conf\" sent 1428 0123456789abcdef0123456789abcdef"
                        " prov1")
    assert lines[1] == ("2024-05-01T12:00:01.000Z tftp 192.0.2.10:1025 00:22:ee:01:02:03 "
                        "\"algom-i0022ee010203.conf\" not found 0 - prov1")
    assert lines[2] == ("2024-05-02T12:00:00.000Z http 192.0.2.11:4000 00:22:ee:01:02:ff "
                        "\"spa.xml\" sent 10 - prov2 \"Cisco/SPA504G\"")
    assert lines[3].endswith(" tftp 192.0.2.12:1024 - \"firmware.bin\" timed out 512 - -")
    assert len(lines) == 4

    assert log("--node", "prov2") == [lines[2]]
    assert log("--node", "prov1", "--mac", "0022ee010203", "--since", "2024-05-01T12:00:01") == \
        [lines[1]]
    assert log("--node", "nobody") == []
    assert "--node" in err(autoprov("log", "--site", inv.site.root, "--node", "a b"))

    assert len(log("--mac", "00-22-EE-01-02-03")) == 2
    assert len(log("--since", "2024-05-02")) == 2
    assert len(log("--since", "2024-05-01T12:00:01")) == 3
    assert len(log("--since", "2024-05-01T12:00:01Z", "--mac", "0022ee010203")) == 1
    assert len(log("--since", "1h")) == 1
    assert len(log("--since", "5m")) == 0
    assert len(log("--since", "2d")) == 1


@pytest.mark.parametrize("since", ["yesterday", "2024-13-01", "2023-02-29", "2024-05-01T25:00:00",
                                   "10", "10y", "2024-5-1"])
def test_log_bad_since(site, since):
    proc = autoprov("log", "--site", site.root, "--since", since)
    assert proc.returncode == 2
    assert "--since" in err(proc)


def test_log_bad_mac(site):
    proc = autoprov("log", "--site", site.root, "--mac", "xyz")
    assert proc.returncode == 1
    assert err(proc) == "autoprov log: 'xyz': not a MAC address (3 hex digits, 12 expected)\n"


def test_schema_1_database_is_upgraded(tmp_path):
    """A database of schema 1 (two journal indexes) is migrated in place on open, its
    inventory and journal kept."""
    site = tmp_path / "site"
    (site / "files").mkdir(parents=True)
    result = run([BIN, "device", "add", "00:22:ee:01:02:03", "--site", site, "--model", "8188"])
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(site / "autoprov.db", isolation_level=None)
    # back to what schema 1 had
    db.execute("DROP TABLE journal_macs")
    db.execute("DROP TABLE journal_runs")
    db.execute("DELETE FROM meta WHERE key = 'journal_macs_upto'")
    db.execute("CREATE INDEX journal_mac_time ON journal (mac, time)")
    db.execute("CREATE INDEX journal_time ON journal (time)")
    db.execute("INSERT INTO journal (time, proto, peer, mac, path, outcome, bytes)"
               " VALUES (1, 'tftp', '127.0.0.1:1', '0022ee010203', 'x.cfg', 'sent', 5)")
    # and without the change log of schema 3
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                              " AND name GLOB 'changes_*'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE changes")
    db.execute("DELETE FROM meta WHERE key = 'changes_pruned'")
    # and without the tokens of schema 4, the devices' state of schema 5, the node of 6
    db.execute("DROP TABLE tokens")
    db.execute("DROP TRIGGER device_state_gone")
    db.execute("DROP TABLE device_state")
    db.execute("ALTER TABLE journal DROP COLUMN detail")
    db.execute("ALTER TABLE journal DROP COLUMN node")
    # and the unknown devices of schema 7
    db.execute("DROP TRIGGER unknown_devices_added")
    db.execute("DROP TRIGGER unknown_devices_moved")
    db.execute("DROP TABLE unknown_devices")
    # and the indexes of schema 8
    db.execute("DROP INDEX devices_revs")
    db.execute("DROP INDEX groups_revs")
    db.execute("PRAGMA user_version = 1")
    db.close()

    listed = run([BIN, "device", "list", "--site", site])
    assert listed.returncode == 0 and b"00:22:ee:01:02:03" in listed.stdout
    db = sqlite3.connect(site / "autoprov.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 10
    # schema 5 seeds the devices' state from the journal kept
    assert db.execute("SELECT mac, first_seen, status FROM device_state").fetchall() == [
        ("0022ee010203", 1, 2)]
    # the change log of schema 3 records what changes from now on
    result = run([BIN, "device", "set", "00:22:ee:01:02:03", "--site", site, "--model", "8180"])
    assert result.returncode == 0, result.stderr
    assert db.execute("SELECT kind, key FROM changes").fetchall() == [(1, "0022ee010203")]
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                        " AND tbl_name = 'journal'")}
    assert indexes == set()  # schema 9: a device's rows through journal_macs, filled here
    # schema 10: what schema 9 merged is run 0
    assert db.execute("SELECT run, mac, time FROM journal_macs").fetchall() == [
        (0, "0022ee010203", 1)]
    assert db.execute("SELECT run FROM journal_runs").fetchall() == [(0,)]
    db.close()
    log = run([BIN, "log", "--site", site, "--mac", "0022ee010203"])
    assert log.returncode == 0 and b"x.cfg" in log.stdout
