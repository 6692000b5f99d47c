# SPDX-License-Identifier: MIT
"""The admin listener (docs/admin.md): its own port, tokens (none, wrong, read, expired,
revoked), problem details, status, and the growing delay of failed tokens."""

import json
import sqlite3

import pytest

from admin import Api, make_token, problem
from harness import BIN, Site, request, run
from pki import Pki


def admin_site(tmp_path, conf=""):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    site.conf("[auth]\nfailure_delay = 200\nmax_failure_delay = 800\n" + conf)
    return site


def start_admin(start_server, site, *args):
    return start_server(site, args=("--admin", "127.0.0.1:0", "--http", "127.0.0.1:0", *args))


def test_admin_listener_is_its_own_port_and_says_so(tmp_path, start_server):
    site = admin_site(tmp_path)
    server = start_admin(start_server, site)
    assert server.ports["admin"] != server.ports["http"]
    server.wait_log(r"exposed: .*admin 127\.0\.0\.1:\d+ \(tokens\)")
    # the devices' port knows nothing of the API, the admin port nothing of the files
    assert request(server.ports["http"], "/api/v1/status").status == 404
    assert request(server.ports["admin"], "/generic.cfg").status == 404


def test_status_with_a_read_token(tmp_path, start_server):
    site = admin_site(tmp_path)
    run([BIN, "device", "--site", site.root, "add", "0022ee010203"])
    token = make_token(site.root, "reader")
    server = start_admin(start_server, site)
    status = Api(server.ports["admin"], token).json("GET", "/api/v1/status")
    assert status["version"] and status["node"] and status["uptime_s"] >= 0
    assert status["inventory"]["devices"] == 1
    assert status["store"]["kind"] == "sqlite" and status["store"]["schema"] >= 4
    assert f"http 127.0.0.1:{server.ports['http']}" in status["listeners"]
    server.wait_log(r'admin: 127\.0\.0\.1:\d+ "GET /api/v1/status" 200, \d+ bytes, token reader')
    # HEAD is GET without the body
    assert Api(server.ports["admin"], token).call("HEAD", "/api/v1/status").status == 200


def test_no_token_wrong_token_and_scheme(tmp_path, start_server):
    site = admin_site(tmp_path)
    server = start_admin(start_server, site)
    api = Api(server.ports["admin"])
    resp = api.get("/api/v1/status")
    doc = problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="autoprov"'
    assert "autoprov token add" in doc["detail"]
    resp = api.get("/api/v1/status", headers={"Authorization": "Basic YWRtaW46eA=="})
    problem(resp, 401)
    resp = api.get("/api/v1/status", token="ap_not-a-token")
    problem(resp, 401)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    server.wait_log(r'admin: "GET /api/v1/status": unknown token \(answered in \d+ ms\)')


def test_failed_tokens_are_answered_later_and_later(tmp_path, start_server):
    site = admin_site(tmp_path)
    server = start_admin(start_server, site)
    api = Api(server.ports["admin"], "ap_guess")
    for _ in range(4):
        problem(api.get("/api/v1/status"), 401)
    # the delays double per failure of the address, up to [auth] max_failure_delay
    delays = [int(d) for d in server.wait_log(r"unknown token \(answered in (\d+) ms\)",
                                              count=4)]
    assert delays == sorted(delays) and delays[0] < delays[-1] <= 800, delays


def test_unknown_path_and_method(tmp_path, start_server):
    site = admin_site(tmp_path)
    token = make_token(site.root, "reader")
    server = start_admin(start_server, site)
    api = Api(server.ports["admin"], token)
    problem(api.get("/api/v1/nothing"), 404)
    resp = api.call("DELETE", "/api/v1/status")
    problem(resp, 405)
    assert resp.headers["Allow"] == "GET"


def test_expired_and_revoked_tokens(tmp_path, start_server):
    site = admin_site(tmp_path)
    old = make_token(site.root, "old", expires_days=1)
    gone = make_token(site.root, "gone")
    kept = make_token(site.root, "kept")
    # a day later, as far as the token table can tell
    with sqlite3.connect(site.root / "autoprov.db") as db:
        db.execute("UPDATE tokens SET expires = strftime('%s','now') - 1 WHERE name = 'old'")
    server = start_admin(start_server, site)
    api = Api(server.ports["admin"])
    problem(api.get("/api/v1/status", token=old), 401)
    server.wait_log(r"token 'old' expired")
    assert api.get("/api/v1/status", token=gone).status == 200
    proc = run([BIN, "token", "--site", site.root, "rm", "gone"])
    assert proc.returncode == 0, proc.stderr
    problem(api.get("/api/v1/status", token=gone), 401)
    assert api.get("/api/v1/status", token=kept).status == 200


def test_token_cli(tmp_path):
    site = admin_site(tmp_path)
    token = make_token(site.root, "pbx", scope="write", expires_days=30)
    assert len(token) == 46
    listed = json.loads(run([BIN, "token", "--site", site.root, "list", "--json"]).stdout)
    assert [(t["name"], t["scope"]) for t in listed] == [("pbx", "write")]
    assert listed[0]["expires"] and listed[0]["last_used"] is None
    text = run([BIN, "token", "--site", site.root, "list"]).stdout.decode()
    assert "pbx" in text and token not in text
    # only the hash is stored
    with sqlite3.connect(site.root / "autoprov.db") as db:
        dump = "\n".join(db.iterdump())
    assert token not in dump
    # a name is made once; errors are clear
    proc = run([BIN, "token", "--site", site.root, "add", "pbx"])
    assert proc.returncode == 1 and b"a token named 'pbx' exists" in proc.stderr
    proc = run([BIN, "token", "--site", site.root, "add", "pbx", "--scope", "admin"])
    assert proc.returncode == 2 and b"read or write" in proc.stderr
    proc = run([BIN, "token", "--site", site.root, "rm", "nobody"])
    assert proc.returncode == 1 and b"no token named 'nobody'" in proc.stderr
    assert run([BIN, "token", "--help"]).returncode == 0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def test_admin_over_tls(tmp_path, start_server, pki):
    site = admin_site(tmp_path, f"[https]\ncertificate = {pki.server}\nkey = {pki.server_key}\n"
                                "[admin]\ntls = yes\n")
    token = make_token(site.root, "reader")
    server = start_admin(start_server, site)
    url = f"https://localhost:{server.ports['admin']}/api/v1/status"
    proc = run(["curl", "-s", "-S", "--cacert", pki.ca, "-H", f"Authorization: Bearer {token}",
                url])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inventory"]["devices"] == 0
    # plain HTTP is not answered on a TLS listener
    assert run(["curl", "-s", "-S", url.replace("https", "http")]).returncode != 0
    # the dashboard's session cookie is Secure over TLS
    login = run(["curl", "-s", "-S", "-i", "--cacert", pki.ca, "-H", "Content-Type: application/json",
                 "--data", json.dumps({"token": token}), url.replace("/status", "/session")])
    assert login.returncode == 0, login.stderr
    cookie = [h for h in login.stdout.decode().splitlines() if h.lower().startswith("set-cookie:")]
    assert cookie and "; Secure" in cookie[0] and "HttpOnly" in cookie[0], login.stdout
