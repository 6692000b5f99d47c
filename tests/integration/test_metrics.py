# SPDX-License-Identifier: MIT
"""GET /metrics on the admin listener (docs/admin.md): a real Prometheus scrapes it with a
read token and its query API returns what the test's own requests over TFTP and HTTP did;
`promtool check metrics` finds nothing to say; every metric is in the docs and the docs
name no other; a token is needed unless [admin] metrics = open."""

import base64
import re
import subprocess
import time
from pathlib import Path

from admin import Api, make_token, problem
from harness import BIN, HANG_GUARD, REPO, Site, curl_get, request, run
from peers import need
from prometheus import start_prometheus  # noqa: F401 (a fixture)

DEV_A = "0022ee0a0001"
DEV_B = "0022ee0b0002"
DEV_C = "0022ee0c0003"
GENERIC = b"generic\n"


def device_text(mac):
    return f"device {mac}\n".encode()


def metrics_site(tmp_path, conf=""):
    """A generic file, a template per device, two devices, site user admin:s3cret."""
    site = Site(tmp_path / "site")
    site.write("generic.cfg", GENERIC)
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "dev{mac}.cfg").write_text("device {{mac}}\n")
    site.conf("[auth]\nuser = admin:s3cret\nfailure_delay = 200\n" + conf)
    for mac in (DEV_A, DEV_B):
        result = run([BIN, "device", "--site", site.root, "add", mac])
        assert result.returncode == 0, result.stderr.decode()
    return site


def start_admin(start_server, site):
    return start_server(site, args=("--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"))


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def parse(text):
    """The samples of an exposition: {(name, frozenset(labels)): value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in samples, f"{line}: given twice"
        samples[key] = float(m.group(3))
    return samples


def scrape(port, token):
    resp = Api(port, token).get("/metrics")
    assert resp.status == 200, resp
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return resp.body.decode()


def wait_scrape(port, token, check, what):
    """Scrapes until check(samples) holds (the defence is sampled once a second)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        samples = parse(scrape(port, token))
        if check(samples):
            return samples
        assert time.monotonic() < deadline, f"{what}: never so:\n{samples}"
        time.sleep(0.1)


def the_requests(server):
    """What every test here does: over TFTP 3 generic files, a device's file, 2 missing;
    over HTTP (Basic logins required) the generic file and a device's file twice, a missing
    file, one request without a login and one with a wrong password."""
    for _ in range(3):
        assert curl_get(server.port, "generic.cfg").stdout == GENERIC
    assert curl_get(server.port, f"dev{DEV_B}.cfg").stdout == device_text(DEV_B)
    for name in ("missing.cfg", "other/missing.cfg"):
        assert curl_get(server.port, name).returncode != 0
    http = server.ports["http"]
    assert request(http, "/generic.cfg", headers=basic("admin", "s3cret")).body == GENERIC
    for _ in range(2):
        resp = request(http, f"/dev{DEV_A}.cfg", headers=basic("admin", "s3cret"))
        assert resp.body == device_text(DEV_A)
    assert request(http, "/nope.cfg", headers=basic("admin", "s3cret")).status == 404
    assert request(http, "/generic.cfg").status == 401
    assert request(http, "/generic.cfg", headers=basic("admin", "wrong")).status in (401, 403)


EXPECTED_REQUESTS = {
    ("tftp", "sent"): 4,
    ("tftp", "not_found"): 2,
    ("http", "sent"): 3,
    ("http", "not_found"): 1,
    ("http", "auth_required"): 1,
    ("http", "auth_failed"): 1,
}
EXPECTED_BYTES = {
    "tftp": 3 * len(GENERIC) + len(device_text(DEV_B)),
    "http": len(GENERIC) + 2 * len(device_text(DEV_A)),
}


def by(vector, *names):
    """{(label values...): value} of a Prometheus vector; {value: value} for one label."""
    if len(names) == 1:
        return {dict(k)[names[0]]: v for k, v in vector.items()}
    return {tuple(dict(k)[n] for n in names): v for k, v in vector.items()}


def test_prometheus_scrapes_with_a_token_and_counts_what_was_done(tmp_path, start_server,
                                                                    start_prometheus):
    site = metrics_site(tmp_path, "[http]\nauth = basic\n")
    token = make_token(site.root, "prometheus")
    server = start_admin(start_server, site)
    the_requests(server)
    prom = start_prometheus(f"127.0.0.1:{server.ports['admin']}", token)

    def requests_match(vector):
        got = by(vector, "proto", "outcome")
        return got and all(got.get(k, 0) == v for k, v in EXPECTED_REQUESTS.items()) and \
            all(v == 0 for k, v in got.items() if k not in EXPECTED_REQUESTS)

    got = by(prom.wait("autoprov_requests_total", requests_match, "requests by outcome"),
             "proto", "outcome")
    # every protocol's outcomes are there from the start, at 0
    assert ("ftp", "sent") in got and ("sip", "pnp_url_sent") in got and ("https", "busy") in got
    assert ("sip", "sent") not in got and ("tftp", "pnp_url_sent") not in got

    def equals(expected):
        return lambda vector: vector and all(vector.get(k, 0) == v for k, v in expected.items())

    prom.wait("autoprov_sent_bytes_total",
              lambda v: by(v, "proto") == {**{p: 0 for p in ("https", "ftp", "sip")},
                                           **EXPECTED_BYTES},
              "bytes sent")
    prom.wait("autoprov_request_duration_seconds_count",
              lambda v: by(v, "proto").get("tftp") == 6 and by(v, "proto").get("http") == 6,
              "durations counted")
    prom.wait('autoprov_request_duration_seconds_bucket{proto="http",le="+Inf"}',
              lambda v: list(v.values()) == [6], "the histogram's +Inf bucket")
    # HTTP: the device's file rendered once and served from the cache once; TFTP: rendered
    prom.wait("autoprov_render_cache_misses_total", equals({frozenset(): 2}), "render misses")
    prom.wait("autoprov_render_cache_hits_total", equals({frozenset(): 1}), "render hits")
    prom.wait("autoprov_render_cache_entries", equals({frozenset(): 2}), "render entries")
    prom.wait("autoprov_login_failures_total", equals({frozenset(): 1}), "failed logins")
    prom.wait("autoprov_defence_misses_total", equals({frozenset(): 1}), "the defence's misses")
    prom.wait("autoprov_inventory_devices", equals({frozenset(): 2}), "inventory size")
    # both devices fetched their own file: seen in the last day (their state, schema 5)
    prom.wait("autoprov_devices_seen_24h", equals({frozenset(): 2}), "devices seen")
    # everything ended: nothing in flight, the connections closed
    prom.wait("autoprov_transfers_in_flight",
              lambda v: len(v) == 5 and all(x == 0 for x in v.values()), "nothing in flight")
    prom.wait("autoprov_connections_open",
              lambda v: len(v) == 3 and all(x == 0 for x in v.values()), "connections closed")
    prom.wait('autoprov_build_info', lambda v: len(v) == 1 and list(v.values()) == [1],
              "build info")
    prom.wait("process_start_time_seconds", lambda v: len(v) == 1, "the start time")

    # a device added by the CLI while serving: the inventory is counted again
    result = run([BIN, "device", "--site", site.root, "add", DEV_C])
    assert result.returncode == 0, result.stderr.decode()
    prom.wait("autoprov_inventory_devices", equals({frozenset(): 3}), "the new inventory size")

    # Prometheus saw the target up, with no error, scraping with its token
    targets = prom.api("targets")["activeTargets"]
    assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")], targets
    server.wait_log(r'admin: 127\.0\.0\.1:\d+ "GET /metrics" 200, \d+ bytes, token prometheus')
    server.assert_alive()


def test_a_scrape_passes_promtool_and_matches_the_docs(tmp_path, start_server):
    promtool = need("promtool")
    site = metrics_site(tmp_path, "[http]\nauth = basic\n")
    token = make_token(site.root, "reader")
    server = start_admin(start_server, site)
    the_requests(server)
    text = scrape(server.ports["admin"], token)
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b"", result
    samples = parse(text)
    for (proto, outcome), n in EXPECTED_REQUESTS.items():
        key = ("autoprov_requests_total", frozenset({("proto", proto), ("outcome", outcome)}))
        assert samples[key] == n, key
    # every family once, with HELP and TYPE; the docs list exactly these
    families = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
    names = [n for n, _ in families]
    assert len(names) == len(set(names))
    assert set(re.findall(r"^# HELP (\S+) ", text, re.MULTILINE)) == set(names)
    docs = (Path(REPO) / "docs" / "admin.md").read_text()
    section = docs.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `([a-z0-9_]+)(?:\{[^}]*\})?` \| (\w+) \|", section,
                                 re.MULTILINE))
    assert documented == dict(families)


def test_metrics_need_a_token_unless_open(tmp_path, start_server):
    site = metrics_site(tmp_path)
    reader = make_token(site.root, "reader")
    writer = make_token(site.root, "writer", scope="write")
    server = start_admin(start_server, site)
    api = Api(server.ports["admin"])
    resp = api.get("/metrics")
    problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="autoprov"'
    problem(api.get("/metrics", token="ap_wrong"), 401)
    assert "autoprov_requests_total" in scrape(server.ports["admin"], reader)
    assert "autoprov_requests_total" in scrape(server.ports["admin"], writer)
    # the wrong token is counted on the admin side
    samples = parse(scrape(server.ports["admin"], reader))
    assert samples[("autoprov_admin_token_failures_total", frozenset())] == 1
    server.stop()

    site.conf("[auth]\nfailure_delay = 200\n[admin]\nmetrics = open\n")
    server = start_admin(start_server, site)
    api = Api(server.ports["admin"])
    resp = api.get("/metrics")
    assert resp.status == 200 and b"autoprov_inventory_devices 2\n" in resp.body, resp
    server.wait_log(r'admin: 127\.0\.0\.1:\d+ "GET /metrics" 200, \d+ bytes, token -')
    # only /metrics is open
    problem(api.get("/api/v1/status"), 401)


def test_a_tftp_scanner_shows_as_blocked(tmp_path, start_server):
    site = metrics_site(tmp_path, "[defence]\nmax_misses = 3\n")
    token = make_token(site.root, "reader")
    server = start_admin(start_server, site)
    for i in range(3):
        assert curl_get(server.port, f"algom0022EE99000{i}.conf").returncode != 0
    server.wait_log(r"127\.0\.0\.1 blocked for \d+ s on every protocol")
    assert curl_get(server.port, "generic.cfg").returncode != 0

    def blocked(s):
        return s.get(("autoprov_blocked_peers", frozenset({("scope", "address")}))) == 1

    samples = wait_scrape(server.ports["admin"], token, blocked, "one address blocked")
    tftp = {dict(k)["outcome"]: v for (n, k), v in samples.items()
            if n == "autoprov_requests_total" and ("proto", "tftp") in k and v}
    # the third miss started the block; the next request was refused before it was looked at
    assert tftp == {"not_found": 2, "blocked": 2}, tftp
    assert samples[("autoprov_defence_blocks_total", frozenset())] == 1
    assert samples[("autoprov_defence_misses_total", frozenset())] == 3
    assert samples[("autoprov_defence_refused_total", frozenset())] == 1
