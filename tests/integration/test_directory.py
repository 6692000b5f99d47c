# SPDX-License-Identifier: MIT
"""The device directory while the daemon serves: a `device set`, a `group set` and a
`defaults set` made by the CLI are seen over TFTP and HTTP (rendered files, the
redirection service, device logins), and a device added after it was asked for as unknown
is served. Waits poll against a deadline; nothing here measures time."""

import time

from harness import BIN, Site, curl_get, run

MAC = "00:22:ee:01:02:03"
OTHER = "00:22:ee:01:02:04"
DEADLINE_S = 10


def cli(*args):
    result = run([BIN, *args])
    assert result.returncode == 0, result.stderr.decode()
    return result


def make_site(tmp_path):
    site = Site(tmp_path / "site")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(
        "line={{line}} vol={{vol}} ntp={{ntp}} sn={{SN}}\n")
    (site.root / "templates" / "common.cfg").write_text("ntp={{ntp}}\n")
    root = site.root
    cli("device", "defaults", "set", "--site", root, "--var", "ntp=pool-1", "--var", "vol=1")
    cli("device", "group", "set", "lobby", "--site", root, "--var", "vol=5")
    cli("device", "add", MAC, "--site", root, "--group", "lobby", "--var", "line=100",
        "--var", "serial=S-1")
    cli("device", "add", OTHER, "--site", root, "--var", "line=200")
    return site


def tftp(server, name):
    result = curl_get(server.port, name)
    return result.stdout if result.returncode == 0 else None


def http(server, name, *options):
    result = run(["curl", "-s", "-S", *options, f"http://127.0.0.1:{server.http_port}/{name}"])
    return result.stdout if result.returncode == 0 else None


def eventually(fetch, want):
    """Fetches until the body holds want (bytes); returns the last body."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        body = fetch()
        if body is not None and want in body:
            return body
        assert time.monotonic() < deadline, f"never saw {want!r}; last: {body!r}"
        time.sleep(0.05)


def both(server, name, want):
    eventually(lambda: tftp(server, name), want)
    eventually(lambda: http(server, name), want)


def test_changes_seen_by_tftp_and_http(tmp_path, start_http):
    site = make_site(tmp_path)
    root = site.root
    server = start_http(site)
    name = "0022ee010203.cfg"
    other = "0022ee010204.cfg"
    both(server, name, b"line=100 vol=5 ntp=pool-1 sn=S-1\n")
    both(server, other, b"line=200 vol=1 ntp=pool-1")
    both(server, "common.cfg", b"ntp=pool-1\n")

    # the device's own change: its file only
    cli("device", "set", MAC, "--site", root, "--var", "line=101")
    both(server, name, b"line=101 vol=5")
    assert tftp(server, other).startswith(b"line=200 vol=1")

    # its group's change: the files of the group's devices
    cli("device", "group", "set", "lobby", "--site", root, "--var", "vol=6")
    both(server, name, b"line=101 vol=6")
    assert tftp(server, other).startswith(b"line=200 vol=1")

    # the defaults' change: every file, those of no device too
    cli("device", "defaults", "set", "--site", root, "--var", "ntp=pool-2")
    both(server, name, b"ntp=pool-2")
    both(server, other, b"ntp=pool-2")
    both(server, "common.cfg", b"ntp=pool-2\n")

    # moved to no group: the defaults' vol again
    cli("device", "set", MAC, "--site", root, "--group", "")
    both(server, name, b"line=101 vol=1")


def test_device_added_after_asked_for(tmp_path, start_http):
    site = make_site(tmp_path)
    server = start_http(site)
    name = "0022ee0102ff.cfg"
    assert tftp(server, name) is None  # unknown: remembered as unknown
    cli("device", "add", "00:22:ee:01:02:ff", "--site", site.root, "--var", "line=300")
    both(server, name, b"line=300 vol=1")
    # removed: not found again
    cli("device", "rm", "00:22:ee:01:02:ff", "--site", site.root)
    deadline = time.monotonic() + DEADLINE_S
    while tftp(server, name) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_redirect_and_login_follow_changes(tmp_path, start_http):
    site = make_site(tmp_path)
    site.conf("""
        [http]
        auth = digest
    """)
    root = site.root
    cli("device", "group", "set", "lobby", "--site", root, "--var", "prov_url=http://a/{mac}")
    cli("device", "set", MAC, "--site", root, "--var", "prov_password=pw-1")
    server = start_http(site)
    user = "0022ee010203"

    def redirect():
        return http(server, f"redirect/{user}", "-i", "--digest", "-u", f"{user}:pw-1")

    eventually(redirect, b"Location: http://a/0022ee010203")
    cli("device", "group", "set", "lobby", "--site", root, "--var", "prov_url=http://b/{MAC}")
    eventually(redirect, b"Location: http://b/0022EE010203")
    # the device's own prov_url wins over its group's
    cli("device", "set", MAC, "--site", root, "--var", "prov_url=http://c/")
    eventually(redirect, b"Location: http://c/")
    # a new password: the old one is refused, the new one taken
    cli("device", "set", MAC, "--site", root, "--var", "prov_password=pw-2")
    eventually(lambda: http(server, "0022ee010203.cfg", "-i", "--digest", "-u", f"{user}:pw-2"),
               b"line=100")


def test_change_under_load_on_a_large_site(tmp_path, start_server):
    """A 100 000-device site: while clients fetch other devices' files without pause, a
    `device set`, a `group set` and a `defaults set` are each seen, and every other request
    of the load is answered (none fails or times out while the change is applied)."""
    import threading
    from http.client import HTTPConnection

    site = Site(tmp_path / "big")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text("line={{line}} vol={{vol}} ntp={{ntp}}\n")
    rows = ["mac,group,line"]
    rows += [f"02{i:010x},{'g%d' % (i % 10)},{i}" for i in range(100000)]
    csv = site.root / "devices.csv"
    csv.write_text("\n".join(rows) + "\n")
    for g in range(10):
        cli("device", "group", "set", f"g{g}", "--site", site.root, "--var", f"vol={g}")
    cli("device", "--site", site.root, "import", csv)
    cli("device", "defaults", "set", "--site", site.root, "--var", "ntp=pool-1")
    server = start_server(site, args=("--http", "127.0.0.1:0"))

    stop = threading.Event()
    results = {"ok": 0, "failed": []}

    def load(worker):
        conn = HTTPConnection("127.0.0.1", server.http_port, timeout=5)
        i = worker
        while not stop.is_set():
            name = f"/02{(i * 7919) % 100000:010x}.cfg"
            try:
                conn.request("GET", name)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 200 and b"line=" in body:
                    results["ok"] += 1
                else:
                    results["failed"].append((name, resp.status))
            except OSError as e:
                results["failed"].append((name, repr(e)))
                conn = HTTPConnection("127.0.0.1", server.http_port, timeout=5)
            i += 4

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        target = f"02{42:010x}.cfg"
        before = results["ok"]
        cli("device", "set", f"02{42:010x}", "--site", site.root, "--var", "line=changed")
        eventually(lambda: http(server, target), b"line=changed")
        cli("device", "group", "set", "g2", "--site", site.root, "--var", "vol=22")
        eventually(lambda: http(server, target), b"vol=22")
        cli("device", "defaults", "set", "--site", site.root, "--var", "ntp=pool-2")
        eventually(lambda: http(server, target), b"ntp=pool-2")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not results["failed"], results["failed"][:5]
    assert results["ok"] > before
