# SPDX-License-Identifier: MIT
"""The admin REST API under /api/v1 (docs/admin.md, docs/openapi.json): devices (pages,
filters, ETag / If-Match, merge patch), bulk imports, groups, defaults, a device's files,
the journal, resync jobs; the OpenAPI document walked operation by operation with every
answer checked against its schemas; read tokens refused every change; changes made
through the API served by the same daemon over HTTP and TFTP."""

import csv
import http.client
import hashlib
import io
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest
from jsonschema import Draft202012Validator

from admin import Api, make_token, problem
from harness import BIN, REPO, Site, request, run

OPENAPI = REPO / "docs" / "openapi.json"
TEMPLATE = "---\nversion = DBID_DBASE_VERSION\n---\nsip={{sip}} tz={{tz}} v={{DBID_DBASE_VERSION}}\n"


def api_site(tmp_path):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text(TEMPLATE)
    site.conf("[server]\nnode = node-a\n[auth]\nfailure_delay = 200\nmax_failure_delay = 800\n")
    return site


@pytest.fixture
def api(tmp_path, start_server):
    """A daemon with HTTP, TFTP and the admin listener, and a write and a read client."""
    site = api_site(tmp_path)
    run([BIN, "device", "--site", site.root, "group", "set", "lobby", "--var", "tz=UTC"])
    run([BIN, "device", "--site", site.root, "add", "0022ee010203", "--profile", "algo",
         "--group", "lobby", "--var", "sip=2001"])
    write = make_token(site.root, "writer", "write")
    read = make_token(site.root, "reader", "read")
    server = start_server(site, args=("--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"))
    port = server.ports["admin"]
    return type("Ctx", (), {"server": server, "site": site, "w": Api(port, write),
                            "r": Api(port, read), "port": port, "write": write,
                            "read": read})


# ---- the OpenAPI walk ----

class Doc:
    """docs/openapi.json: operations and the schema of each answer."""

    def __init__(self, text):
        self.doc = json.loads(text)
        Draft202012Validator.check_schema({"$ref": "#/components/schemas/Device",
                                           "components": self.doc["components"]})

    def operations(self):
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in ("get", "put", "post", "patch", "delete"):
                    yield path, method.upper(), op

    def resolve(self, obj):
        while "$ref" in obj:
            node = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def check(self, op, resp):
        """The answer's status is documented, and its body matches the schema for it."""
        responses = op["responses"]
        assert str(resp.status) in responses, (op["operationId"], resp)
        spec = self.resolve(responses[str(resp.status)])
        content = spec.get("content")
        if not content:
            assert resp.body == b"", resp
            return
        ctype = resp.headers["Content-Type"].split(";")[0]
        assert ctype in content, (op["operationId"], ctype, list(content))
        schema = content[ctype].get("schema", {})
        if ctype.endswith("json"):
            body = json.loads(resp.body)
            validator = Draft202012Validator({**schema, "components": self.doc["components"]})
            errors = list(validator.iter_errors(body))
            assert not errors, (op["operationId"], resp.status, [e.message for e in errors])
        for name, header in spec.get("headers", {}).items():
            if name in ("ETag", "Location"):
                assert resp.headers.get(name), (op["operationId"], name)


def served_doc(port):
    resp = request(port, "/api/v1/openapi.json")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    return resp.body


def test_openapi_served_is_the_documented_one(api):
    # no token needed, and byte for byte docs/openapi.json
    assert served_doc(api.port) == OPENAPI.read_bytes()
    doc = json.loads(OPENAPI.read_bytes())
    assert doc["openapi"].startswith("3.1")


# Each operation, called with what makes it succeed and with what makes it fail; each call
# is (operationId, method, path, kwargs). Order matters: later calls use what earlier made.
CSV = "mac,model,profile,group,enabled,sip\n0022ee0a0001,8180,algo,lobby,yes,3001\n"


def walk_calls(ctx):
    dev = "/api/v1/devices/0022ee0a0002"
    return [
        ("getStatus", "GET", "/api/v1/status", {}),
        ("getStatus", "GET", "/api/v1/status", {"token": None}),
        ("getOpenapi", "GET", "/api/v1/openapi.json", {"token": None}),
        ("listDevices", "GET", "/api/v1/devices?limit=1", {}),
        ("listDevices", "GET", "/api/v1/devices?group=lobby&profile=algo&q=2001", {}),
        ("listDevices", "GET", "/api/v1/devices?limit=0", {}),
        ("listDevices", "GET", "/api/v1/devices", {"token": "ap_wrong"}),
        ("createDevice", "POST", "/api/v1/devices", {"body": {"mac": "00:22:ee:0a:00:02"}}),
        ("createDevice", "POST", "/api/v1/devices", {"body": {"mac": "00:22:ee:0a:00:02"}}),
        ("createDevice", "POST", "/api/v1/devices", {"body": {"mac": "x"}}),
        ("createDevice", "POST", "/api/v1/devices", {"body": "{", "headers": {"Content-Type": "application/json"}}),
        ("createDevice", "POST", "/api/v1/devices", {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("createDevice", "POST", "/api/v1/devices", {"body": {"mac": "0022ee0a0009"}, "token": ctx.read}),
        ("importDevices", "POST", "/api/v1/devices/import", {"body": CSV, "headers": {"Content-Type": "text/csv"}}),
        ("importDevices", "POST", "/api/v1/devices/import", {"body": CSV, "headers": {"Content-Type": "text/csv"}}),
        ("importDevices", "POST", "/api/v1/devices/import?replace=true", {"body": [{"mac": "0022ee0a0001", "group": "lobby"}]}),
        ("importDevices", "POST", "/api/v1/devices/import?replace=maybe", {"body": []}),
        ("importDevices", "POST", "/api/v1/devices/import", {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("getDevice", "GET", dev, {}),
        ("getDevice", "GET", "/api/v1/devices/0022ee0a00ff", {}),
        ("getDevice", "GET", "/api/v1/devices/nope", {}),
        ("putDevice", "PUT", dev, {"body": {"model": "8180", "vars": {"sip": "4001"}}}),
        ("putDevice", "PUT", "/api/v1/devices/0022ee0a0003", {"body": {"profile": "fip"}}),
        ("putDevice", "PUT", dev, {"body": {"model": "8180"}, "headers": {"If-Match": '"1"'}}),
        ("putDevice", "PUT", dev, {"body": {"profile": "nokia"}}),
        ("putDevice", "PUT", "/api/v1/devices/zz", {"body": {}}),
        ("putDevice", "PUT", dev, {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("patchDevice", "PATCH", dev, {"body": json.dumps({"vars": {"tz": "CET"}}), "headers": {"Content-Type": "application/merge-patch+json"}}),
        ("patchDevice", "PATCH", "/api/v1/devices/0022ee0a00ff", {"body": {"model": "x"}}),
        ("patchDevice", "PATCH", dev, {"body": {"model": "x"}, "headers": {"If-Match": '"1"'}}),
        ("patchDevice", "PATCH", dev, {"body": {"enabled": "yes"}}),
        ("patchDevice", "PATCH", dev, {"body": "{", "headers": {"Content-Type": "application/merge-patch+json"}}),
        ("patchDevice", "PATCH", "/api/v1/devices/zz", {"body": {}}),
        ("patchDevice", "PATCH", dev, {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("getDeviceFile", "GET", dev + "/files/0022ee0a0002.cfg", {}),
        ("getDeviceFile", "GET", dev + "/files/generic.cfg?proto=http", {}),
        ("getDeviceFile", "GET", dev + "/files/0022ee0a0003.cfg", {}),
        ("getDeviceFile", "GET", dev + "/files/nothing.cfg", {}),
        ("getDeviceFile", "GET", dev + "/files/x?proto=gopher", {}),
        ("getDeviceFile", "GET", dev + "/files/%2e%2e/etc/passwd", {}),
        ("listGroups", "GET", "/api/v1/groups", {}),
        ("listGroups", "GET", "/api/v1/groups", {"token": None}),
        ("getGroup", "GET", "/api/v1/groups/lobby", {}),
        ("getGroup", "GET", "/api/v1/groups/none", {}),
        ("putGroup", "PUT", "/api/v1/groups/east", {"body": {"vars": {"tz": "EST"}}}),
        ("putGroup", "PUT", "/api/v1/groups/east", {"body": {"vars": {"tz": "EST5EDT"}}}),
        ("putGroup", "PUT", "/api/v1/groups/east", {"body": {"vars": {"a.b": 1}}}),
        ("putGroup", "PUT", "/api/v1/groups/east", {"body": "{", "headers": {"Content-Type": "application/json"}}),
        ("putGroup", "PUT", "/api/v1/groups/east", {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("deleteGroup", "DELETE", "/api/v1/groups/east", {}),
        ("deleteGroup", "DELETE", "/api/v1/groups/east", {}),
        ("deleteGroup", "DELETE", "/api/v1/groups/lobby", {}),
        ("getDefaults", "GET", "/api/v1/defaults", {}),
        ("getDefaults", "GET", "/api/v1/defaults", {"token": None}),
        ("putDefaults", "PUT", "/api/v1/defaults", {"body": {"vars": {"ntp": "pool.ntp.org"}}}),
        ("putDefaults", "PUT", "/api/v1/defaults", {"body": {"vars": []}}),
        ("putDefaults", "PUT", "/api/v1/defaults", {"body": "{", "headers": {"Content-Type": "application/json"}}),
        ("putDefaults", "PUT", "/api/v1/defaults", {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("getJournal", "GET", "/api/v1/journal?limit=1", {}),
        ("getJournal", "GET", "/api/v1/journal?mac=0022ee010203&since=2020-01-01&until=2999-01-01T00:00:00Z&outcome=sent&proto=http", {}),
        ("getJournal", "GET", "/api/v1/journal?since=yesterday", {}),
        ("startResync", "POST", "/api/v1/resync", {"body": {"macs": ["0022ee0a0002"], "wait_s": 0}}),
        ("startResync", "POST", "/api/v1/resync", {"body": {"macs": ["0022ee0a00ff"]}}),
        ("startResync", "POST", "/api/v1/resync", {"body": "{", "headers": {"Content-Type": "application/json"}}),
        ("startResync", "POST", "/api/v1/resync", {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("listResyncJobs", "GET", "/api/v1/resync", {}),
        ("listResyncJobs", "GET", "/api/v1/resync", {"token": None}),
        ("getResyncJob", "GET", "/api/v1/resync/1", {}),
        ("getResyncJob", "GET", "/api/v1/resync/99", {}),
        ("getDoctor", "GET", dev + "/doctor", {}),
        ("getDoctor", "GET", "/api/v1/devices/0022ee0a00ff/doctor", {}),
        ("getDoctor", "GET", "/api/v1/devices/nope/doctor", {}),
        ("getDeviceStates", "GET", "/api/v1/device-states", {}),
        ("getDeviceStates", "GET", "/api/v1/device-states?seen_since=0", {}),
        ("getDeviceStates", "GET", "/api/v1/device-states?seen_since=soon", {}),
        ("listDevices", "GET", "/api/v1/devices?sort=name&order=desc&limit=1", {}),
        ("listDevices", "GET", "/api/v1/devices?sort=colour", {}),
        ("login", "POST", "/api/v1/session", {"body": {"token": ctx.read}}),
        ("login", "POST", "/api/v1/session", {"body": {"token": "ap_wrong"}}),
        ("login", "POST", "/api/v1/session", {"body": {"user": "nobody"}}),
        ("getSession", "GET", "/api/v1/session", {"token": None, "session": True}),
        ("getSession", "GET", "/api/v1/session", {"token": None}),
        ("logout", "DELETE", "/api/v1/session", {"token": None, "session": True}),
        ("logout", "DELETE", "/api/v1/session", {"token": None, "session": True, "csrf": False}),
        ("getFleet", "GET", "/api/v1/fleet", {}),
        ("getFleet", "GET", "/api/v1/fleet", {"token": None}),
        ("getDeviceVariables", "GET", dev + "/variables", {}),
        ("getDeviceVariables", "GET", "/api/v1/devices/0022ee0a00ff/variables", {}),
        ("getDeviceVariables", "GET", "/api/v1/devices/nope/variables", {}),
        ("listUnknownDevices", "GET", "/api/v1/unknown-devices?limit=5", {}),
        ("listUnknownDevices", "GET", "/api/v1/unknown-devices?cursor=x", {}),
        ("approveUnknownDevices", "POST", "/api/v1/unknown-devices/approve", {"body": {"macs": ["0022ee0a00aa"], "group": "lobby"}}),
        ("approveUnknownDevices", "POST", "/api/v1/unknown-devices/approve", {"body": {"macs": ["0022ee0a00ab"], "group": "nowhere"}}),
        ("approveUnknownDevices", "POST", "/api/v1/unknown-devices/approve", {"body": "x", "headers": {"Content-Type": "text/plain"}}),
        ("getEvents", "GET", "/api/v1/events", {"stream": True}),
        ("getEvents", "GET", "/api/v1/events", {"token": None}),
        ("getEvents", "GET", "/api/v1/events?mac=nope", {}),
        ("getDashboard", "GET", "/", {"token": None}),
        ("getDashboardFile", "GET", "/ui/index.html", {"token": None}),
        ("getDashboardFile", "GET", "/ui/nothing.js", {"token": None}),
        ("deleteDevice", "DELETE", dev, {"headers": {"If-Match": '"1"'}}),
        ("deleteDevice", "DELETE", dev, {}),
        ("deleteDevice", "DELETE", dev, {}),
        ("deleteDevice", "DELETE", "/api/v1/devices/zz", {}),
    ]


def wait_journal(api, rows):
    """Until the journal's writer (ten rounds a second) has written rows rows."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if len(api.r.json("GET", "/api/v1/journal?limit=1000")["entries"]) >= rows:
            return
        time.sleep(0.1)
    raise AssertionError(f"the journal never had {rows} rows")


class Head:
    """The status and headers of an answer whose body is not read (an event stream)."""

    def __init__(self, resp):
        self.status, self.headers, self.body = resp.status, resp.headers, b""


def walk_call(api, method, path, kw):
    """A call of the walk: with a session of the write token when kw says so (and its CSRF
    token unless csrf is False), or reading only the head of a stream."""
    if kw.pop("session", False):
        login = api.w.call("POST", "/api/v1/session", body={"token": api.write})
        cookie = login.headers["Set-Cookie"].split(";")[0]
        headers = {"Cookie": cookie}
        if kw.pop("csrf", True):
            headers["X-CSRF-Token"] = json.loads(login.body)["csrf"]
        kw["headers"] = {**kw.get("headers", {}), **headers}
    if kw.pop("stream", False):
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=15)
        try:
            conn.request(method, path, headers={"Authorization": f"Bearer {api.write}"})
            return Head(conn.getresponse())
        finally:
            conn.close()
    return api.w.call(method, path, **kw)


def test_openapi_walk_calls_every_operation(api):
    doc = Doc(served_doc(api.port))
    ops = {op["operationId"]: (path, method, op) for path, method, op in doc.operations()}
    called = {}
    # a request so the journal has a row of each filter
    assert request(api.server.ports["http"], "/0022ee010203.cfg").status == 200
    wait_journal(api, 1)
    for op_id, method, path, kw in walk_calls(api):
        tmpl, doc_method, op = ops[op_id]
        assert doc_method == method, op_id
        # the path matches the documented template
        pattern = re.escape(tmpl).replace(r"\{path\}", ".+")
        pattern = "^" + re.sub(r"\\\{[a-z]+\\\}", "[^/]+", pattern) + "$"
        assert re.match(pattern, path.split("?")[0]), (op_id, path, tmpl)
        resp = walk_call(api, method, path, dict(kw))
        doc.check(op, resp)
        called.setdefault(op_id, set()).add(resp.status)
    assert set(called) == set(ops), set(ops) - set(called)
    # every operation was called to success and to failure (but the document itself)
    for op_id, statuses in called.items():
        assert any(s < 300 for s in statuses), (op_id, statuses)
        if op_id not in ("getOpenapi", "getDashboard"):
            assert any(s >= 400 for s in statuses), (op_id, statuses)


def test_read_token_cannot_change_anything(api):
    doc = Doc(OPENAPI.read_text())
    for path, method, op in doc.operations():
        if method == "GET" or path == "/api/v1/session":  # sessions: whoever has a token
            continue
        url = re.sub(r"\{mac\}", "0022ee010203", path)
        url = re.sub(r"\{[a-z]+\}", "lobby", url)
        resp = api.r.call(method, url, body={})
        doc.check(op, resp)
        assert problem(resp, 403)["detail"] == "token 'reader' is a read token: this needs write"
    # and nothing changed
    assert api.r.json("GET", "/api/v1/devices/0022ee010203")["rev"] > 0
    assert api.r.json("GET", "/api/v1/groups/lobby")["devices"] == 1


def test_a_body_over_max_body_is_413(tmp_path, start_server):
    site = api_site(tmp_path)
    site.conf("[admin]\nmax_body = 4K\n")
    token = make_token(site.root, "writer", "write")
    server = start_server(site, args=("--admin", "127.0.0.1:0"))
    api = Api(server.ports["admin"], token)
    resp = api.call("POST", "/api/v1/devices/import", body="mac\n" + "0022ee000001\n" * 1000,
                    headers={"Content-Type": "text/csv"})
    doc = Doc(OPENAPI.read_text())
    op = doc.doc["paths"]["/api/v1/devices/import"]["post"]
    doc.check(op, resp)
    assert resp.status == 413
    assert api.json("GET", "/api/v1/status")["inventory"]["devices"] == 0


# ---- devices ----

def test_device_etag_if_match_and_merge_patch(api):
    url = "/api/v1/devices/00:22:EE:01:02:03"
    resp = api.r.get(url)
    dev = json.loads(resp.body)
    assert dev == {"mac": "0022ee010203", "model": "", "profile": "algo", "group": "lobby",
                   "enabled": True, "rev": dev["rev"], "vars": {"sip": "2001"},
                   "state": {"status": "never-seen"}}
    etag = resp.headers["ETag"]
    assert etag == f'"{dev["rev"]}"'
    patch = {"model": "8180", "vars": {"sip": "2002", "vlan": 20, "x": {"a": [1]}}}
    resp = api.w.call("PATCH", url, body=json.dumps(patch),
                      headers={"Content-Type": "application/merge-patch+json", "If-Match": etag})
    assert resp.status == 200, resp
    new = json.loads(resp.body)
    assert new["model"] == "8180" and new["vars"] == {"sip": "2002", "vlan": 20, "x": {"a": [1]}}
    assert resp.headers["ETag"] != etag and new["rev"] > dev["rev"]
    # the old ETag no longer matches: 412, nothing changes
    resp = api.w.call("PATCH", url, body={"model": "x"}, headers={"If-Match": etag})
    assert "has changed" in problem(resp, 412)["detail"]
    resp = api.w.call("DELETE", url, headers={"If-Match": etag})
    problem(resp, 412)
    # null removes (RFC 7396); a nested object is merged
    resp = api.w.call("PATCH", url, body={"vars": {"vlan": None, "x": {"b": 2}}, "group": None})
    assert json.loads(resp.body)["vars"] == {"sip": "2002", "x": {"a": [1], "b": 2}}
    assert json.loads(resp.body)["group"] == ""
    # the CLI sees what the API wrote, with the same JSON shape
    out = run([BIN, "device", "--site", api.site.root, "show", "0022ee010203", "--json"])
    shown = json.loads(out.stdout)
    got = api.r.json("GET", url)
    assert {k: shown[k] for k in got} == got
    # PUT replaces entirely: what is not given is reset
    resp = api.w.call("PUT", url, body={"profile": "fip"})
    assert resp.status == 200
    assert json.loads(resp.body)["vars"] == {} and json.loads(resp.body)["model"] == ""
    # the MAC of the body must be the path's
    doc = problem(api.w.call("PUT", url, body={"mac": "0022ee010204"}), 422)
    assert "not the device's MAC" in doc["detail"]
    # If-None-Match: * makes only
    problem(api.w.call("PUT", url, body={}, headers={"If-None-Match": "*"}), 412)
    # an unknown member, a bad variable name, a group that does not exist
    assert "not a field" in problem(api.w.call("PUT", url, body={"colour": "red"}), 422)["detail"]
    assert "not a variable name" in problem(
        api.w.call("PUT", url, body={"vars": {"a.b": 1}}), 422)["detail"]
    assert "no group 'nope'" in problem(api.w.call("PUT", url, body={"group": "nope"}), 422)["detail"]
    resp = api.w.call("DELETE", url)
    assert resp.status == 204 and resp.body == b""
    problem(api.r.get(url), 404)


def test_device_pages_and_filters(api):
    rows = ["mac,model,profile,group,sip"]
    for i in range(250):
        rows.append(f"0004f2{i:06x},{'VVX' if i % 2 else 'SPA'},{'fip' if i % 5 == 0 else 'spa'},"
                    f"{'lobby' if i % 10 == 0 else ''},{7000 + i}")
    resp = api.w.call("POST", "/api/v1/devices/import", body="\n".join(rows) + "\n",
                      headers={"Content-Type": "text/csv"})
    assert json.loads(resp.body) == {"imported": 250}
    # every device once, in MAC order, through the cursors
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/devices?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = api.r.json("GET", url)
        seen += [d["mac"] for d in page["devices"]]
        pages += 1
        cursor = page["next"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 251 and seen == sorted(seen) and len(set(seen)) == 251

    def macs(query):
        return [d["mac"] for d in api.r.json("GET", "/api/v1/devices?limit=1000&" + query)["devices"]]

    assert len(macs("group=lobby")) == 26  # 25 imported and 0022ee010203
    assert len(macs("profile=fip")) == 50
    assert len(macs("model=VVX")) == 125
    assert len(macs("group=lobby&profile=fip&model=SPA")) == 25
    assert len(macs("group=")) == 225
    # free text: a variable's value, the MAC in any form, the model
    assert macs("q=7042") == ["0004f200002a"]
    assert macs("q=00:04:F2:00:00:2A") == ["0004f200002a"]
    assert len(macs("q=vvx")) == 125
    assert macs("q=%25") == []  # LIKE's wildcards are the text's own
    problem(api.r.get("/api/v1/devices?cursor=bogus"), 400)


def test_import_is_all_or_nothing_and_names_the_row(api):
    csv_text = ("mac,model,group\n0022ee0b0001,a,lobby\n0022ee0b0002,b,lobby\n"
                "0022ee0b0003,c,nowhere\n")
    resp = api.w.call("POST", "/api/v1/devices/import", body=csv_text,
                      headers={"Content-Type": "text/csv"})
    doc = problem(resp, 422)
    assert doc["row"] == 4 and doc["detail"] == "row 4: no group 'nowhere'"
    devices = [{"mac": "0022ee0b0001"}, {"mac": "0022ee0b0002", "vars": {"v": [1]}},
               {"mac": "00-22-EE-0B-00-01"}]
    doc = problem(api.w.call("POST", "/api/v1/devices/import", body=devices), 422)
    assert doc["row"] == 3 and "also on row 1" in doc["detail"]
    doc = problem(api.w.call("POST", "/api/v1/devices/import", body=[{"model": "x"}]), 422)
    assert doc["row"] == 1 and "mac: required" in doc["detail"]
    assert api.r.json("GET", "/api/v1/status")["inventory"]["devices"] == 1
    # JSON keeps its types, as --json-var does
    assert api.w.json("POST", "/api/v1/devices/import", body=devices[:2]) == {"imported": 2}
    assert api.r.json("GET", "/api/v1/devices/0022ee0b0002")["vars"] == {"v": [1]}
    # a MAC already there needs replace
    doc = problem(api.w.call("POST", "/api/v1/devices/import", body=devices[:1]), 422)
    assert "already in the inventory" in doc["detail"]
    assert api.w.json("POST", "/api/v1/devices/import?replace=true",
                      body=[{"mac": "0022ee0b0001", "model": "new"}]) == {"imported": 1}


def test_groups_and_defaults(api):
    assert api.r.json("GET", "/api/v1/groups") == {
        "groups": [{"name": "lobby", "devices": 1, "vars": {"tz": "UTC"}}]}
    resp = api.w.call("PUT", "/api/v1/groups/east", body={"vars": {"tz": "EST"}})
    assert resp.status == 201
    resp = api.w.call("PUT", "/api/v1/groups/east", body={"name": "east", "vars": {"tz": "X"}})
    assert resp.status == 200 and json.loads(resp.body)["vars"] == {"tz": "X"}
    problem(api.w.call("PUT", "/api/v1/groups/east", body={"name": "west", "vars": {}}), 422)
    problem(api.w.call("PUT", "/api/v1/groups/bad%20name", body={"vars": {}}), 422)
    doc = problem(api.w.call("DELETE", "/api/v1/groups/lobby"), 409)
    assert doc["detail"] == "group 'lobby' has 1 device"
    assert api.w.call("DELETE", "/api/v1/groups/east").status == 204
    assert api.w.json("PUT", "/api/v1/defaults", body={"vars": {"ntp": "pool"}}) == {
        "vars": {"ntp": "pool"}}
    out = run([BIN, "device", "--site", api.site.root, "defaults", "show", "--json"])
    assert json.loads(out.stdout) == {"ntp": "pool"}


# ---- what the serving loop serves ----

def test_change_through_the_api_is_served_over_http_and_tftp(api):
    http = api.server.ports["http"]
    assert request(http, "/0022ee010203.cfg").body == b"sip=2001 tz=UTC v=1\n"
    assert api.server.get("0022ee010203.cfg").data == b"sip=2001 tz=UTC v=1\n"
    api.w.json("PATCH", "/api/v1/devices/0022ee010203", body={"vars": {"sip": "2099"}})
    # the next request sees it: the change log, not a restart or a signal
    assert request(http, "/0022ee010203.cfg").body == b"sip=2099 tz=UTC v=2\n"
    api.w.json("PUT", "/api/v1/groups/lobby", body={"vars": {"tz": "CET"}})
    assert api.server.get("0022ee010203.cfg").data == b"sip=2099 tz=CET v=3\n"
    # a device made through the API is served at once; one removed is not
    api.w.json("PUT", "/api/v1/devices/0022ee0c0001", status=201,
               body={"group": "lobby", "vars": {"sip": "1"}})
    assert request(http, "/0022ee0c0001.cfg").body == b"sip=1 tz=CET v=1\n"
    assert api.w.call("DELETE", "/api/v1/devices/0022ee0c0001").status == 204
    assert request(http, "/0022ee0c0001.cfg").status == 404


def test_device_file_is_what_the_device_gets(api):
    http = api.server.ports["http"]
    resp = api.r.get("/api/v1/devices/0022ee010203/files/0022ee010203.cfg?proto=http")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
    served = request(http, "/0022ee010203.cfg").body
    assert resp.body == served
    assert resp.headers["X-Autoprov-MD5"] == hashlib.md5(served).hexdigest()
    assert resp.headers["X-Autoprov-Version"] == "1"
    assert resp.headers["X-Autoprov-Device"] == "0022ee010203"
    # the version follows the content, on both sides
    api.w.json("PATCH", "/api/v1/devices/0022ee010203", body={"vars": {"sip": "5"}})
    resp = api.r.get("/api/v1/devices/0022ee010203/files/0022ee010203.cfg")
    assert resp.headers["X-Autoprov-Version"] == "2" and resp.body == b"sip=5 tz=UTC v=2\n"
    assert request(http, "/0022ee010203.cfg").body == resp.body
    # a static file has no version; another device's file is not this one's
    resp = api.r.get("/api/v1/devices/0022ee010203/files/generic.cfg")
    assert resp.body == b"generic\n" and "X-Autoprov-Version" not in resp.headers
    api.w.json("PUT", "/api/v1/devices/0022ee010204", status=201, body={})
    doc = problem(api.r.get("/api/v1/devices/0022ee010203/files/0022ee010204.cfg"), 404)
    assert "device 0022ee010204's file" in doc["detail"]
    # the same bytes as `autoprov render`
    out = run([BIN, "render", "--site", api.site.root, "--proto", "http", "0022ee010203",
               "0022ee010203.cfg"])
    assert out.stdout == request(http, "/0022ee010203.cfg").body


def test_journal_pages_and_filters(api):
    http = api.server.ports["http"]
    for _ in range(5):
        request(http, "/0022ee010203.cfg")
    request(http, "/missing.cfg")
    api.server.get("generic.cfg")
    wait_journal(api, 7)

    def entries(query):
        out, cursor = [], None
        for _ in range(50):
            q = "&".join(x for x in (query, f"cursor={cursor}" if cursor else "") if x)
            page = api.r.json("GET", "/api/v1/journal?limit=2" + ("&" + q if q else ""))
            out += page["entries"]
            cursor = page["next"]
            if not page["more"]:
                return out
        raise AssertionError("no end")

    everything = entries("")
    assert len(everything) == 7
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == 7
    assert len(entries("mac=00:22:EE:01:02:03")) == 5
    assert [e["path"] for e in entries("outcome=not%20found")] == ["/missing.cfg"]
    assert [e["path"] for e in entries("proto=tftp")] == ["generic.cfg"]
    first = everything[0]["time"]
    assert len(entries("since=" + urllib.parse.quote(first))) == 7
    assert entries("until=" + urllib.parse.quote(first)) == []
    assert entries("since=2999-01-01") == []
    assert everything[0]["md5"] == hashlib.md5(b"sip=2001 tz=UTC v=1\n").hexdigest()
    # every row says which node served it ([server] node)
    assert {e["node"] for e in everything} == {"node-a"}
    assert len(entries("node=node-a")) == 7 and entries("node=node-b") == []
    problem(api.r.get("/api/v1/journal?mac=xyz"), 400)
    # following the journal: the last page's cursor gives what came since
    last = api.r.json("GET", "/api/v1/journal?limit=1000")
    assert not last["more"] and len(last["entries"]) == 7
    assert api.r.json("GET", "/api/v1/journal?cursor=" + last["next"])["entries"] == []
    request(http, "/generic.cfg")
    wait_journal(api, 8)
    page = api.r.json("GET", "/api/v1/journal?cursor=" + last["next"])
    assert [e["path"] for e in page["entries"]] == ["/generic.cfg"]


# ---- resync ----

class Phone:
    """A SIP endpoint that answers every NOTIFY 200 OK, and then fetches its file."""

    def __init__(self, on_notify=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.events = []
        self.on_notify = on_notify
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode("latin-1")
            if not text.startswith("NOTIFY"):
                continue
            headers = [line for line in text.split("\r\n")
                       if re.match(r"(?i)(via|from|to|call-id|cseq):", line)]
            self.events += [e.strip() for e in re.findall(r"(?im)^event:\s*(.*)$", text)]
            answer = "SIP/2.0 200 OK\r\n" + "\r\n".join(headers) + "\r\nContent-Length: 0\r\n\r\n"
            self.sock.sendto(answer.encode(), peer)
            if self.on_notify:
                self.on_notify()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_resync_job_results(api):
    http = api.server.ports["http"]
    phone = Phone(on_notify=lambda: request(http, "/0022ee010203.cfg"))
    try:
        api.w.json("PATCH", "/api/v1/devices/0022ee010203",
                   body={"vars": {"sip_contact": f"sip:100@127.0.0.1:{phone.port}"}})
        api.w.json("PUT", "/api/v1/devices/0022ee0d0001", status=201, body={"profile": "spa"})
        resp = api.w.call("POST", "/api/v1/resync",
                          body={"macs": ["0022ee010203", "0022ee0d0001"], "wait_s": 20})
        assert resp.status == 202, resp
        job = json.loads(resp.body)
        assert resp.headers["Location"] == f"/api/v1/resync/{job['id']}"
        assert job["token"] == "writer" and job["counts"]["devices"] == 2
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            job = api.r.json("GET", resp.headers["Location"])
            if job["state"] == "done":
                break
            time.sleep(0.2)
        assert job["state"] == "done", job
        by_mac = {r["mac"]: r for r in job["results"]}
        ok = by_mac["0022ee010203"]
        assert ok["status"] == 200 and ok["sent"] and ok["event"] == "check-sync"
        assert ok["fetched"] and ok["fetch_path"] == "/0022ee010203.cfg", ok
        assert by_mac["0022ee0d0001"]["reason"] == "no contact"
        assert not by_mac["0022ee0d0001"]["sent"]
        assert phone.events == ["check-sync"]
        assert job["counts"] == {"devices": 2, "sent": 1, "answered": 1, "ok": 1, "fetched": 1}
        jobs = api.r.json("GET", "/api/v1/resync")["jobs"]
        assert [j["id"] for j in jobs] == [job["id"]] and "results" not in jobs[0]
        # a group, all; what is not there
        doc = problem(api.w.call("POST", "/api/v1/resync", body={"group": "nowhere"}), 422)
        assert "no group" in doc["detail"]
        problem(api.w.call("POST", "/api/v1/resync", body={"all": True, "group": "lobby"}), 422)
        resp = api.w.call("POST", "/api/v1/resync", body={"all": True, "wait_s": 0})
        assert resp.status == 202 and json.loads(resp.body)["counts"]["devices"] == 2
    finally:
        phone.close()


def test_curl_client(api):
    """The API as a shell script would use it."""
    base = f"http://127.0.0.1:{api.port}/api/v1"
    auth = ["-H", f"Authorization: Bearer {api.write}"]
    out = run(["curl", "-sS", "-f", *auth, "-X", "PUT", "-H", "Content-Type: application/json",
               "-d", '{"model": "8180", "vars": {"sip": "42"}}', f"{base}/devices/0022ee0e0001"])
    assert out.returncode == 0 and json.loads(out.stdout)["vars"] == {"sip": "42"}
    out = run(["curl", "-sS", "-f", *auth, "-X", "POST", "-H", "Content-Type: text/csv",
               "--data-binary", "mac,model\n0022ee0e0002,x\n", f"{base}/devices/import"])
    assert json.loads(out.stdout) == {"imported": 1}
    out = run(["curl", "-sS", "-D", "-", "-o", "/dev/null", *auth,
               f"{base}/devices/0022ee0e0001"])
    assert re.search(r'(?im)^etag: "\d+"', out.stdout.decode())
    out = run(["curl", "-sS", *auth, f"{base}/devices?q=0022ee0e"])
    assert [d["mac"] for d in json.loads(out.stdout)["devices"]] == ["0022ee0e0001", "0022ee0e0002"]
    out = run(["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", "-H",
               f"Authorization: Bearer {api.read}", "-X", "DELETE", f"{base}/devices/0022ee0e0001"])
    assert out.stdout == b"403"
