# SPDX-License-Identifier: MIT
"""The dashboard's side of the admin listener (docs/admin.md, issue 18): its pages served
with their headers, sessions (login by token or by site user, cookie flags), CSRF refused
changes, the fleet's counts against the device-states API, sorting, variables with their
origins, unknown devices from real TFTP requests approved into a group and then served,
`unknown_devices = register`, and Server-Sent Events read with a real client."""

import http.client
import json
import socket
import threading
import time

import pytest

from admin import Api, make_token, problem
from harness import BIN, Site, curl_get, md5, request, run

TEMPLATE = "sip={{sip}} tz={{tz}} name={{name}}\n"


def dash_site(tmp_path, extra=""):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(TEMPLATE)
    site.conf("[auth]\nuser = admin:s3cret-pw\nfailure_delay = 100\nmax_failure_delay = 200\n"
              "[admin]\ntimeout = 2\n" + extra)
    run([BIN, "device", "--site", site.root, "group", "set", "lobby", "--var", "tz=UTC"])
    run([BIN, "device", "--site", site.root, "group", "set", "desks", "--var", "tz=CET"])
    for mac, name, group in (("0022ee000001", "zulu", "lobby"), ("0022ee000002", "alpha", "desks"),
                             ("0022ee000003", "mike", "lobby")):
        run([BIN, "device", "--site", site.root, "add", mac, "--profile", "algo", "--group", group,
             "--var", f"name={name}", "--var", "sip=20" + mac[-2:]])
    return site


@pytest.fixture
def dash(tmp_path, start_server):
    site = dash_site(tmp_path)
    token = make_token(site.root, "dash", "write")
    server = start_server(site, args=("--admin", "127.0.0.1:0", "--tftp", "127.0.0.1:0"))
    port = server.ports["admin"]
    return type("Ctx", (), {"server": server, "site": site, "port": port, "token": token,
                            "w": Api(port, token), "anon": Api(port, None)})


def cookie_of(resp):
    """The session cookie's value from Set-Cookie, and the header's attributes."""
    h = resp.headers["Set-Cookie"]
    first, *attrs = [p.strip() for p in h.split(";")]
    name, value = first.split("=", 1)
    assert name == "autoprov_session"
    return value, attrs


def login(port, body):
    resp = Api(port, None).call("POST", "/api/v1/session", body=body)
    assert resp.status == 200, resp
    doc = json.loads(resp.body)
    value, attrs = cookie_of(resp)
    return value, doc, attrs


class Session(Api):
    """Requests with the session's cookie (no bearer token), and its CSRF token unless told."""

    def __init__(self, port, cookie, csrf):
        super().__init__(port, None)
        self.cookie, self.csrf = cookie, csrf

    def call(self, method, path, body=None, headers=None, csrf=..., **kw):
        hdrs = {"Cookie": f"autoprov_session={self.cookie}"}
        csrf = self.csrf if csrf is ... else csrf
        if csrf is not None and method not in ("GET", "HEAD"):
            hdrs["X-CSRF-Token"] = csrf
        hdrs.update(headers or {})
        return super().call(method, path, body=body, headers=hdrs, token=None)


def test_pages_and_their_headers(dash):
    resp = request(dash.port, "/")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-cache"
    etag = resp.headers["ETag"]
    again = request(dash.port, "/ui/index.html", headers={"If-None-Match": etag})
    assert again.status == 304
    assert request(dash.port, "/ui/nothing.js").status == 404
    assert request(dash.port, "/ui/../admin.c").status == 404


def test_session_by_token_and_by_user(dash):
    value, doc, attrs = login(dash.port, {"token": dash.token})
    assert doc["user"] == "dash" and doc["scope"] == "write" and len(doc["csrf"]) == 64
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/" in attrs
    assert "Secure" not in attrs  # plain HTTP here; Secure over TLS
    s = Session(dash.port, value, doc["csrf"])
    assert s.json("GET", "/api/v1/session")["user"] == "dash"
    assert s.json("GET", "/api/v1/devices")["devices"]

    value2, doc2, _ = login(dash.port, {"user": "admin", "password": "s3cret-pw"})
    assert doc2["user"] == "admin" and doc2["scope"] == "write" and value2 != value
    s2 = Session(dash.port, value2, doc2["csrf"])
    assert s2.call("DELETE", "/api/v1/session").status == 204
    problem(s2.get("/api/v1/session"), 401)
    problem(s2.get("/api/v1/devices"), 401)

    problem(dash.anon.call("POST", "/api/v1/session", body={"user": "admin", "password": "no"}),
            401)
    problem(dash.anon.call("POST", "/api/v1/session", body={"token": "ap_forged"}), 401)
    problem(dash.anon.call("POST", "/api/v1/session", body={"user": "admin"}), 422)


def test_csrf_refuses_changes(dash):
    value, doc, _ = login(dash.port, {"token": dash.token})
    s = Session(dash.port, value, doc["csrf"])
    change = {"vars": {"sip": "9999"}}
    path = "/api/v1/devices/0022ee000001"
    problem(s.call("PATCH", path, body=change, csrf=None,
                   headers={"Content-Type": "application/merge-patch+json"}), 403)
    problem(s.call("PATCH", path, body=change, csrf="0" * 64,
                   headers={"Content-Type": "application/merge-patch+json"}), 403)
    problem(dash.anon.call("PATCH", path, body=change,
                           headers={"Content-Type": "application/merge-patch+json"}), 401)
    problem(Session(dash.port, "f" * 64, doc["csrf"]).call(
        "PATCH", path, body=change, headers={"Content-Type": "application/merge-patch+json"}), 401)
    assert dash.w.json("GET", path)["vars"]["sip"] == "2001"
    ok = s.call("PATCH", path, body=change,
                headers={"Content-Type": "application/merge-patch+json"})
    assert ok.status == 200, ok
    assert dash.w.json("GET", path)["vars"]["sip"] == "9999"


def until(fn, what, timeout=15.0):
    """Polls fn until it returns something true (the journal's writer is asynchronous)."""
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < end, f"never: {what}"
        time.sleep(0.05)


def test_fleet_counts_and_variables(dash):
    assert curl_get(dash.server.port, "0022ee000001.cfg").stdout == b"sip=2001 tz=UTC name=zulu\n"
    fleet = until(lambda: (lambda f: f if f["states"]["provisioned"] == 1 else None)(
        dash.w.json("GET", "/api/v1/fleet")), "the device provisioned")
    assert fleet["states"] == dash.w.json("GET", "/api/v1/device-states")["states"]
    assert fleet["states"]["never-seen"] == 2
    rows = [r for r in fleet["requests"] if r["protocol"] == "tftp" and r["outcome"] == "sent"]
    assert sum(r["count"] for r in rows) == 1 and rows[0]["minute"].endswith(":00Z")
    assert isinstance(fleet["firmware"], list) and isinstance(fleet["alerts"], list)

    items = dash.w.json("GET", "/api/v1/devices/00:22:EE:00:00:02/variables")["items"]
    by = {i["name"]: i for i in items}
    assert by["name"] == {"name": "name", "value": "alpha", "origin": "device"}
    assert by["tz"] == {"name": "tz", "value": "CET", "origin": "group", "group": "desks"}
    assert by["mac"]["origin"] == "builtin"
    assert [i["name"] for i in items] == sorted(by)
    problem(dash.w.get("/api/v1/devices/0022ee0000ff/variables"), 404)


def test_unknown_devices_approved_then_served(dash):
    for name in ("0022ee0000aa.cfg", "0021f20000bb.cfg", "0021f20000bb.boot"):
        assert curl_get(dash.server.port, name).returncode != 0  # not found
    page = until(lambda: (lambda p: p if sum(i["requests"] for i in p["items"]) == 3 else None)(
        dash.w.json("GET", "/api/v1/unknown-devices")), "three requests of two unknown devices")
    by = {i["mac"]: i for i in page["items"]}
    assert by["0022ee0000aa"]["vendor"] == "Algo" and by["0022ee0000aa"]["requests"] == 1
    assert by["0021f20000bb"]["vendor"] == "Flyingvoice"
    assert sorted(by["0021f20000bb"]["files"]) == ["0021f20000bb.boot", "0021f20000bb.cfg"]
    assert by["0021f20000bb"]["pending"] is False and page["next"] is None
    assert by["0021f20000bb"]["last_address"].startswith("127.0.0.1:")
    first = dash.w.json("GET", "/api/v1/unknown-devices?limit=1")
    assert len(first["items"]) == 1 and first["next"]
    rest = dash.w.json("GET", "/api/v1/unknown-devices?limit=1&cursor=" + first["next"])
    assert {first["items"][0]["mac"], rest["items"][0]["mac"]} == set(by)
    assert dash.w.json("GET", "/api/v1/fleet")["unknown"] == 2

    problem(dash.w.call("POST", "/api/v1/unknown-devices/approve",
                        body={"macs": ["0022ee0000aa"], "group": "nowhere"}), 422)
    problem(dash.w.call("POST", "/api/v1/unknown-devices/approve",
                        body={"macs": ["0022ee0000aa", "zz"], "group": "lobby"}), 422)
    problem(dash.anon.call("POST", "/api/v1/unknown-devices/approve",
                           body={"macs": ["0022ee0000aa"], "group": "lobby"}), 401)
    problem(dash.w.call("POST", "/api/v1/unknown-devices/approve",
                        body={"macs": ["0022ee0000aa", "0022ee000001"], "group": "desks"}), 409)
    assert dash.w.get("/api/v1/devices/0022ee0000aa").status == 404  # nothing half-done
    assert dash.w.json("POST", "/api/v1/unknown-devices/approve",
                       body={"macs": ["00:22:ee:00:00:aa", "0021F20000BB"],
                             "group": "lobby"}) == {"approved": 2}
    assert dash.w.json("GET", "/api/v1/unknown-devices")["items"] == []
    got = until(lambda: (lambda p: p.returncode == 0 and p)(
        curl_get(dash.server.port, "0022ee0000aa.cfg")), "the approved device served")
    assert got.stdout == b"sip= tz=UTC name=\n"


def mode_server(tmp_path, start_server, mode):
    """A daemon (TFTP, admin) of the dashboard's site with [server] unknown_devices = mode."""
    site = dash_site(tmp_path, f"[server]\nunknown_devices = {mode}\n")
    token = make_token(site.root, "dash", "write")
    server = start_server(site, args=("--admin", "127.0.0.1:0", "--tftp", "127.0.0.1:0"))
    return server, Api(server.ports["admin"], token)


def test_register_mode(tmp_path, start_server):
    server, api = mode_server(tmp_path, start_server, "register")
    assert curl_get(server.port, "0022ee0000cc.cfg").returncode != 0
    device = until(lambda: (lambda r: r.status == 200 and json.loads(r.body))(
        api.get("/api/v1/devices/0022ee0000cc")), "the device registered")
    assert device["group"] == "pending" and device["enabled"] is False
    # pending: listed as such, and served nothing
    page = until(lambda: (lambda p: p if p["items"] and p["items"][0]["requests"] >= 1 else None)(
        api.json("GET", "/api/v1/unknown-devices")), "the pending device listed")
    assert page["items"][0]["mac"] == "0022ee0000cc" and page["items"][0]["pending"] is True
    assert curl_get(server.port, "0022ee0000cc.cfg").returncode != 0
    assert api.json("POST", "/api/v1/unknown-devices/approve",
                    body={"macs": ["0022ee0000cc"], "group": "desks"}) == {"approved": 1}
    device = api.json("GET", "/api/v1/devices/0022ee0000cc")
    assert device["group"] == "desks" and device["enabled"] is True
    got = until(lambda: (lambda p: p.returncode == 0 and p)(
        curl_get(server.port, "0022ee0000cc.cfg")), "the approved device served")
    assert got.stdout == b"sip= tz=CET name=\n"
    assert api.json("GET", "/api/v1/unknown-devices")["items"] == []


def test_md5_mismatch_alerts(dash):
    """A .md5 placed by hand in files/ that does not match what its sibling serves the device
    (a rendered file here) is noted on its journal row and alerted; right ones are not."""
    right = md5(b"sip=2001 tz=UTC name=zulu\n")  # 0022ee000001.cfg as rendered
    dash.site.write("0022ee000001.md5", right + "  0022ee000001.cfg\n")
    dash.site.write("tones.zip", b"tones\n")
    dash.site.write("tones.md5", md5(b"tones\n").upper() + "\n")
    dash.site.write("0022ee000002.md5", right + "  0022ee000002.cfg\n")  # the other device's
    for name in ("0022ee000001.md5", "tones.md5", "0022ee000002.md5"):
        assert curl_get(dash.server.port, name).returncode == 0  # served as placed
    alerts = until(lambda: [a for a in dash.w.json("GET", "/api/v1/fleet")["alerts"]
                            if a["kind"] == "md5-mismatch"], "the md5-mismatch alert")
    assert len(alerts) == 1, alerts  # the rows before it were written first: no other
    own = md5(b"sip=2002 tz=CET name=alpha\n")
    assert alerts[0]["mac"] == "0022ee000002" and alerts[0]["path"] == "0022ee000002.md5"
    assert alerts[0]["detail"] == (f"md5 mismatch: it says {right}, 0022ee000002.cfg has MD5 "
                                   f"{own}")
    assert alerts[0]["peer"].startswith("127.0.0.1:")
    rows = dash.w.json("GET", "/api/v1/journal?mac=0022ee000002")["entries"]
    assert [r["outcome"] for r in rows] == ["sent"] and rows[0]["detail"] == alerts[0]["detail"]
    rows = dash.w.json("GET", "/api/v1/journal?mac=0022ee000001")["entries"]
    assert [r["outcome"] for r in rows] == ["sent"] and not rows[0].get("detail")
    # mended: the next transfer's row has no note, and one alert per device and file
    dash.site.write("0022ee000002.md5", own + "  0022ee000002.cfg\n")
    assert curl_get(dash.server.port, "0022ee000002.md5").returncode == 0
    until(lambda: len(dash.w.json("GET", "/api/v1/journal?mac=0022ee000002")["entries"]) == 2,
          "the second row")
    rows = dash.w.json("GET", "/api/v1/journal?mac=0022ee000002")["entries"]
    assert not rows[1].get("detail")
    assert len([a for a in dash.w.json("GET", "/api/v1/fleet")["alerts"]
                if a["kind"] == "md5-mismatch"]) == 1


def read_events(resp, want, timeout=15.0):
    """Server-Sent Events from an open answer until want(event, data) is true: its data."""
    end = time.monotonic() + timeout
    event, data = None, []
    while time.monotonic() < end:
        line = resp.fp.readline()
        assert line, "the stream ended"
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and event:
            doc = json.loads("\n".join(data))
            if want(event, doc):
                return doc
            event, data = None, []
    raise AssertionError("no such event")


def test_events_stream(dash):
    value, doc, _ = login(dash.port, {"token": dash.token})
    conn = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=15)
    conn.request("GET", "/api/v1/events", headers={"Cookie": f"autoprov_session={value}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    one = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=15)
    one.request("GET", "/api/v1/events?mac=00:22:ee:00:00:01",
                headers={"Authorization": f"Bearer {dash.token}"})
    one_resp = one.getresponse()
    assert one_resp.status == 200
    try:
        fleet = read_events(resp, lambda e, d: e == "fleet")
        assert fleet == dash.w.json("GET", "/api/v1/device-states")["states"]
        assert read_events(one_resp, lambda e, d: e == "fleet") == fleet
        # a stream outlives [admin] timeout (2 s here): the client sends nothing, it is no idle
        # connection (this waits on purpose, past the timeout)
        time.sleep(3)
        assert curl_get(dash.server.port, "0022ee000003.cfg").returncode == 0
        assert curl_get(dash.server.port, "0022ee000001.cfg").returncode == 0
        # the stream of one device: its rows only
        row = read_events(one_resp, lambda e, d: e in ("journal", "device"))
        assert row["mac"] == "0022ee000001"
        row = read_events(resp, lambda e, d: e == "journal" and d["mac"] == "0022ee000003")
        assert row["proto"] == "tftp" and row["outcome"] == "sent" and row["id"] > 0
        read_events(resp, lambda e, d: e == "device" and d == {"mac": "0022ee000003"})
        fleet = read_events(resp, lambda e, d: e == "fleet" and d["provisioned"] == 2)
        assert fleet["never-seen"] == 1
        # a bounded number of streams: 16 open, the 17th is refused
        more = []
        for _ in range(14):
            c = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=15)
            c.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {dash.token}"})
            more.append(c)
            assert c.getresponse().status == 200
        problem(dash.w.get("/api/v1/events"), 503)
        for c in more:
            c.close()
    finally:
        conn.close()
        one.close()
    problem(request(dash.port, "/api/v1/events"), 401)
    problem(dash.w.get("/api/v1/events?mac=nope"), 400)


def test_events_slow_reader_dropped(tmp_path, start_server):
    """A stream whose reader falls more than 1 MiB behind is dropped; the others go on."""
    site = dash_site(tmp_path, "[server]\nmax_name_length = 4000\n[http]\nmax_uri_length = 4000\n")
    deep = "/".join(["d" * 200] * 19) + "/f.cfg"  # ~3.8 kB of path: a journal event each
    site.write(deep, "x\n")
    token = make_token(site.root, "dash", "read")
    server = start_server(site, args=("--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"))
    admin, port = server.ports["admin"], server.ports["http"]
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    slow.connect(("127.0.0.1", admin))
    slow.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}"
                 "\r\n\r\n".encode())
    live = http.client.HTTPConnection("127.0.0.1", admin, timeout=30)
    live.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    live_resp = live.getresponse()
    assert live_resp.status == 200
    journal_events = []

    def keep_up():  # the live reader reads all along
        try:
            read_events(live_resp, lambda e, d: journal_events.append(d) if e == "journal"
                        else False, timeout=120)
        except (AssertionError, AttributeError, OSError, ValueError):  # closed at the end
            pass
    reader = threading.Thread(target=keep_up, daemon=True)
    reader.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        # the slow one reads nothing while MiBs of events are written for it (beyond 1 MiB
        # held by the server, the kernel's buffers hold some)
        for i in range(2000):
            conn.request("GET", "/" + deep, headers={"User-Agent": "x" * 200})
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == b"x\n"
            if i % 50 == 49 and "dropped: it does not read" in server.log():
                break
        server.wait_log(r"event stream of \S+ dropped: it does not read what is sent",
                        timeout=15)
        assert server.log().count("dropped: it does not read") == 1  # not the live one
        # the dropped one ends (after what the kernel held); the live one had every row
        slow.settimeout(15)
        while slow.recv(65536):
            pass
        until(lambda: len(journal_events) >= i + 1, "every row on the live stream", timeout=60)
    finally:
        slow.close()
        live.close()
        conn.close()


def test_unknown_devices_ignored(tmp_path, start_server):
    """unknown_devices = ignore: unknown MACs are neither listed nor counted (nor registered)."""
    server, api = mode_server(tmp_path, start_server, "ignore")
    assert curl_get(server.port, "0022ee0000dd.cfg").returncode != 0
    # the request is journaled (the journal is the record), after it a known device's
    assert curl_get(server.port, "0022ee000001.cfg").returncode == 0
    until(lambda: api.json("GET", "/api/v1/devices/0022ee000001")["state"]["status"]
          == "provisioned", "the known device provisioned")
    assert [e["outcome"] for e in
            api.json("GET", "/api/v1/journal?mac=0022ee0000dd")["entries"]] == ["not found"]
    assert api.json("GET", "/api/v1/unknown-devices")["items"] == []
    assert api.json("GET", "/api/v1/fleet")["unknown"] == 0
    problem(api.get("/api/v1/devices/0022ee0000dd"), 404)


def test_sorted_pages(dash):
    def macs(query):
        out, cursor = [], None
        for _ in range(20):
            page = dash.w.json("GET", "/api/v1/devices?limit=1&" + query
                               + (f"&cursor={cursor}" if cursor else ""))
            out += [d["mac"] for d in page["devices"]]
            cursor = page["next"]
            if not cursor:
                return out
        raise AssertionError(f"{query}: pages without end: {out}")
    assert macs("sort=name") == ["0022ee000002", "0022ee000003", "0022ee000001"]
    assert macs("sort=name&order=desc") == ["0022ee000001", "0022ee000003", "0022ee000002"]
    assert macs("sort=group") == ["0022ee000002", "0022ee000001", "0022ee000003"]
    assert macs("order=desc") == ["0022ee000003", "0022ee000002", "0022ee000001"]
    assert macs("sort=name&q=zul") == ["0022ee000001"]
    assert curl_get(dash.server.port, "0022ee000002.cfg").returncode == 0
    until(lambda: dash.w.json("GET", "/api/v1/devices/0022ee000002")["state"]["status"]
          == "provisioned", "the device provisioned")
    assert macs("sort=state&order=desc")[0] == "0022ee000002"
    assert macs("sort=last_seen&order=desc")[0] == "0022ee000002"
    # by state, one page of one device each, across the states: never seen (3), provisioned
    # (2), change pending (1: provisioned, then edited)
    assert curl_get(dash.server.port, "0022ee000001.cfg").returncode == 0
    until(lambda: dash.w.json("GET", "/api/v1/devices/0022ee000001")["state"]["status"]
          == "provisioned", "the device provisioned")
    assert dash.w.call("PATCH", "/api/v1/devices/0022ee000001", body={"vars": {"sip": "7"}},
                       headers={"Content-Type": "application/merge-patch+json"}).status == 200
    assert dash.w.json("GET", "/api/v1/devices/0022ee000001")["state"]["status"] == \
        "change-pending"
    assert macs("sort=state") == ["0022ee000003", "0022ee000002", "0022ee000001"]
    assert macs("sort=state&order=desc") == ["0022ee000001", "0022ee000002", "0022ee000003"]
    assert macs("sort=state&state=provisioned") == ["0022ee000002"]
    assert macs("sort=state&order=desc&q=alpha") == ["0022ee000002"]
    # names longer than a sort key (120 characters, multi-byte ones too): each device once,
    # those alike that far by MAC
    long = "\u00e9" * 150
    for mac, name in (("0022ee0000b2", long + "b"), ("0022ee0000b1", long + "a"),
                      ("0022ee0000b0", long[:100] + "z")):
        assert dash.w.call("POST", "/api/v1/devices",
                           body={"mac": mac, "vars": {"name": name}}).status == 201
    assert macs("sort=name")[-3:] == ["0022ee0000b0", "0022ee0000b1", "0022ee0000b2"]
    assert macs("sort=name&order=desc")[:3] == ["0022ee0000b2", "0022ee0000b1", "0022ee0000b0"]
    problem(dash.w.get("/api/v1/devices?sort=colour"), 400)
    problem(dash.w.get("/api/v1/devices?sort=name&cursor=d0022ee000001"), 400)
