# SPDX-License-Identifier: MIT
"""Rendered files over TFTP: the example site's every vendor, the inventory changing
while the server runs, versions, encryption, .md5 companions, and the journal."""

import re
import subprocess
import time

import pytest

from harness import BIN, VENDOR_FILES, Site, curl_get, example_site, md5, run


def cli(*args, check=True, **kw):
    result = run([BIN, *args], **kw)
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


@pytest.fixture
def example(tmp_path, start_server):
    """A copy of examples/site made ready by scripts/example-setup, and its server."""
    root = example_site(tmp_path)
    server = start_server(Site(root))
    return root, server


def fetch(server, name):
    result = curl_get(server.port, name)
    return result.returncode, result.stdout


def render(root, server, mac, name):
    return cli("render", "--site", root, "--server", f"127.0.0.1:{server.port}", mac, name).stdout




@pytest.mark.parametrize("mac,name", VENDOR_FILES, ids=[n for _, n in VENDOR_FILES])
def test_served_equals_render(example, mac, name):
    root, server = example
    rc, body = fetch(server, name)
    assert rc == 0 and body
    assert body == render(root, server, mac, name)
    # the .md5 companion is of exactly the bytes served for the sibling it names (the
    # first of md5_extensions present: 0022ee0a0b0c.md5 describes the .cfg, not the .boot)
    stem = name.rsplit(".", 1)[0]
    rc, companion = fetch(server, stem + ".md5")
    assert rc == 0
    digest, sibling = companion.decode().split()
    directory = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    assert digest == md5(fetch(server, directory + sibling)[1])


def test_rendered_content(example):
    _, server = example
    _, algo = fetch(server, "algom0022EE010203.conf")
    text = algo.decode()
    assert "sip.u1.auth = 2001" in text and "sip.u1.pwd = change-me-2001" in text
    assert "sip.proxy = pbx.example.net" in text  # the defaults
    assert "audio.spk.vol = 6" in text  # the group overrides the defaults
    assert "prov.version.firmware = 5.4f" in text and "prov.data.tone = algop8188-tones.zip" in text
    _, sched = fetch(server, "algom0022EE018301.conf")
    assert "prov.data.sched = scheduler_data.db" in sched.decode()
    assert "prov.version.firmware" not in sched.decode()
    _, boot = fetch(server, "0022ee0a0b0c.boot")
    assert "include:config <0022ee0a0b0c.cfg>" in boot.decode()
    _, initial = fetch(server, "panasonic/initial.cfg")
    assert f'"tftp://127.0.0.1:{server.port}/panasonic/{{MAC}}.cfg"' in initial.decode()
    # the assets the files point at are there
    for asset in ("algo-8188-5.4f.sfw", "algop8188-tones.zip", "my_cert.zip", "scheduler_data.db",
                  "directory.txt", "fip/phonebook.xml", "audiocodes/400HD.img", "panasonic/ca.pem"):
        rc, data = fetch(server, asset)
        assert rc == 0 and data, asset


def test_unknown_and_disabled_devices_not_served(example):
    root, server = example
    for name in ("algom0022EE999999.conf", "fv0021F2011B1A.conf", "0022ee999999.boot"):
        result = curl_get(server.port, name)
        assert result.returncode == 68, name  # curl's "TFTP: file not found"
    # once enabled, the same device is served
    cli("device", "set", "00:21:f2:01:1b:1a", "--site", root, "--enable")
    rc, body = fetch(server, "fv0021F2011B1A.conf")
    assert rc == 0 and b"DBID_SIP_AUTH_ID=4002" in body


def version_of(body):
    return int(re.search(rb"DBID_DBASE_VERSION=(\d+)", body).group(1))


def test_device_change_while_serving_and_version(example, start_server):
    root, server = example
    _, first = fetch(server, "fv0021F2011B19.conf")
    v1 = version_of(first)
    _, again = fetch(server, "fv0021F2011B19.conf")
    assert again == first  # cached, same version
    cli("device", "set", "00:21:f2:01:1b:19", "--site", root, "--var", "sip_password=new-secret")
    _, changed = fetch(server, "fv0021F2011B19.conf")
    assert b"DBID_SIP_AUTH_PASSWORD=new-secret" in changed
    assert version_of(changed) == v1 + 1
    # a change that does not change the file leaves the version alone
    cli("device", "set", "00:21:f2:01:1b:19", "--site", root, "--var", "sip_password=new-secret")
    cli("device", "set", "00:22:ee:01:02:04", "--site", root, "--var", "volume=3")
    _, same = fetch(server, "fv0021F2011B19.conf")
    assert version_of(same) == v1 + 1 and same == changed
    # the group changes a device's file too
    cli("device", "group", "set", "spa", "--site", root, "--var", "sip_port=5080")
    _, grouped = fetch(server, "fv0021F2011B19.conf")
    assert b"DBID_SIP_PORT=5080" in grouped and version_of(grouped) == v1 + 2
    # and survives a restart
    server.stop()
    restarted = start_server(Site(root))
    _, after_restart = fetch(restarted, "fv0021F2011B19.conf")
    assert version_of(after_restart) == v1 + 2


def test_encrypted_file_decrypts_with_openssl(example, tmp_path):
    _, server = example
    rc, enc = fetch(server, "fvenc0021F2011B19.conf")
    assert rc == 0 and enc.startswith(b"Salted__")
    out = subprocess.run(["openssl", "enc", "-d", "-aes-256-cbc", "-md", "md5", "-k",
                          "example-key-4001"], input=enc, capture_output=True)
    assert out.returncode == 0, out.stderr
    assert b"DBID_SIP_AUTH_ID=4001" in out.stdout
    # the same bytes again (cached), and a .md5 of them
    assert fetch(server, "fvenc0021F2011B19.conf")[1] == enc
    assert fetch(server, "fvenc0021F2011B19.md5")[1].split()[0].decode() == md5(enc)


def test_template_change_and_error(example):
    root, server = example
    tpl = root / "templates" / "{mac}.cfg"
    tpl.write_text(tpl.read_text() + "extra.setting = {{sip_user}}\n")
    _, body = fetch(server, "0022ee0a0b0c.cfg")
    assert b"extra.setting = 3001" in body
    tpl.write_text("line one\nline two {{#open}}\n")
    result = curl_get(server.port, "0022ee0a0b0c.cfg")
    assert result.returncode != 0
    server.wait_log(r'templates/\{mac\}\.cfg:\d+: ')
    server.assert_alive()


def test_partial_change_invalidates(example):
    root, server = example
    _, before = fetch(server, "algom0022EE010203.conf")
    partial = root / "partials" / "algo-sip"
    partial.write_text(partial.read_text() + "sip.extra = 1\n")
    _, after = fetch(server, "algom0022EE010203.conf")
    assert b"sip.extra = 1" in after and b"sip.extra" not in before


def test_journal(example):
    root, server = example
    fetch(server, "algom0022EE010203.conf")
    fetch(server, "algom0022EE010203.md5")
    curl_get(server.port, "algom0022EE999999.conf")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = cli("log", "--site", root, "--mac", "00:22:ee:01:02:03").stdout.decode()
        if "algom0022EE010203.md5" in log:
            break
        time.sleep(0.3)
    assert "algom0022EE010203.conf" in log and "sent" in log
    assert md5(fetch(server, "algom0022EE010203.conf")[1]) in log
    unknown = cli("log", "--site", root, "--mac", "0022ee999999").stdout.decode()
    assert "not found" in unknown


def test_bad_import_changes_nothing(example, tmp_path):
    root, _ = example
    before = cli("device", "export", "--site", root).stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("mac,model,profile,group\n00:22:ee:00:00:01,8188,algo,algo\nnot-a-mac,8188,algo,algo\n")
    result = cli("device", "import", bad, "--site", root, check=False)
    assert result.returncode == 1 and b"3" in result.stderr
    assert cli("device", "export", "--site", root).stdout == before


def test_journal_waits_for_a_busy_database(example):
    """A long write by another process (an import, say) neither stalls nor loses journal
    entries: the daemon keeps serving and writes its batch once the database is free."""
    import sqlite3
    root, server = example
    db = sqlite3.connect(root / "autoprov.db", timeout=10, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    try:
        for _ in range(3):
            rc, body = fetch(server, "algom0022EE010203.conf")
            assert rc == 0 and body
        time.sleep(6)  # longer than SQLite's 5 s wait: a waiting flush would give up and warn
        rc, _ = fetch(server, "0022ee0a0b0c.boot")
        assert rc == 0
    finally:
        db.execute("ROLLBACK")
        db.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = cli("log", "--site", root).stdout.decode()
        if "0022ee0a0b0c.boot" in log:
            break
        time.sleep(0.3)
    assert log.count("algom0022EE010203.conf") >= 3 and "0022ee0a0b0c.boot" in log
    assert "cannot write" not in server.log()
