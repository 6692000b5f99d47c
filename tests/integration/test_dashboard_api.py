# SPDX-License-Identifier: MIT
"""The dashboard's side of the admin listener (docs/admin.md, issue 18): its pages served
with their headers, sessions (login by token or by site user, cookie flags), CSRF refused
changes, the fleet's counts against the device-states API, sorting, variables with their
origins, unknown devices from real TFTP requests approved into a group and then served,
`unknown_devices = register`, and Server-Sent Events read with a real client."""

import http.client
import json
import time

import pytest

from admin import Api, make_token, problem
from harness import BIN, Site, request, run

TEMPLATE = "sip={{sip}} tz={{tz}} name={{name}}\n"


def dash_site(tmp_path, extra=""):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(TEMPLATE)
    site.conf("[auth]\nuser = admin:s3cret-pw\nfailure_delay = 100\nmax_failure_delay = 200\n"
              + extra)
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
