# SPDX-License-Identifier: MIT
"""Clients of the admin listener for the tests: tokens made with the real CLI, and requests
with http.client (curl is used where a test says so)."""

import json

from harness import BIN, request, run


def make_token(site_root, name, scope="read", expires_days=None):
    """`autoprov token add`: returns the token printed (once) on stdout."""
    cmd = [BIN, "token", "--site", site_root, "add", name, "--scope", scope]
    if expires_days is not None:
        cmd += ["--expires", str(expires_days)]
    proc = run(cmd)
    assert proc.returncode == 0, proc.stderr.decode()
    token = proc.stdout.decode().strip()
    assert token.startswith("ap_"), token
    return token


class Api:
    """Requests to one admin listener with one token (None: without a token)."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, headers=None, token=...):
        token = self.token if token is ... else token
        hdrs = dict(headers or {})
        if token is not None:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        return request(self.port, path, method=method, headers=hdrs, body=body)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def json(self, method, path, status=200, **kw):
        """The JSON body of an answer that must have this status."""
        resp = self.call(method, path, **kw)
        assert resp.status == status, resp
        return json.loads(resp.body) if resp.body else None


def problem(resp, status):
    """The problem details of an error answer (RFC 9457), checked for their shape."""
    assert resp.status == status, resp
    assert resp.headers["Content-Type"] == "application/problem+json", resp
    doc = json.loads(resp.body)
    assert doc["status"] == status and doc["title"] and doc["detail"], doc
    return doc
