# SPDX-License-Identifier: MIT
"""A real Prometheus server for the tests (Debian's `prometheus` package): started on
loopback with a configuration that scrapes one target every second, asked through its HTTP
API, stopped at the end. Everything waits against HANG_GUARD-sized deadlines that only
bound a hang; no test asserts how fast anything happens."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from peers import need

START_GUARD = 60.0  # seconds: Prometheus opens its database before it listens
SERIES_GUARD = 60.0  # seconds: a few scrapes


class Prometheus:
    def __init__(self, workdir, target, token=None, metrics_path="/metrics"):
        """Scrapes target ("127.0.0.1:PORT") every second, with the bearer token if given
        (authorization: credentials_file, a file of the token alone)."""
        exe = need("prometheus")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        auth = ""
        if token is not None:
            cred = workdir / "token"
            cred.write_text(token + "\n")
            os.chmod(cred, 0o600)
            auth = f"    authorization:\n      type: Bearer\n      credentials_file: {cred}\n"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: autoprov\n"
            f"    metrics_path: {metrics_path}\n"
            f"{auth}"
            f"    static_configs:\n      - targets: ['{target}']\n")
        self.log_path = workdir / "prometheus.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [exe, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             "--web.listen-address=127.0.0.1:0", "--log.level=info"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.port = self._wait_port()
        self._wait_ready()

    def log(self):
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def _wait_port(self):
        deadline = time.monotonic() + START_GUARD
        regex = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"prometheus exited with status {self.proc.returncode}:\n"
                            f"{self.log()[-4000:]}")
            found = regex.search(self.log())
            if found:
                return int(found.group(1))
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"prometheus never listened:\n{self.log()[-4000:]}")

    def _wait_ready(self):
        """/-/ready answers 200 once the database is open (the API answers 503 before)."""
        deadline = time.monotonic() + START_GUARD
        while True:
            self.assert_alive()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready",
                                            timeout=15) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"prometheus never ready:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=15) as resp:
            doc = json.load(resp)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, promql):
        """The instant vector of promql: {frozenset(labels without __name__): value}."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        out = {}
        for sample in data["result"]:
            labels = {k: v for k, v in sample["metric"].items()
                      if k not in ("__name__", "job", "instance")}
            out[frozenset(labels.items())] = float(sample["value"][1])
        return out

    def wait(self, promql, check, what):
        """Queries promql until check(vector) is true; fails with the last vector and the
        log after SERIES_GUARD seconds (a bound on a hang only)."""
        deadline = time.monotonic() + SERIES_GUARD
        while True:
            self.assert_alive()
            vector = self.query(promql)
            if check(vector):
                return vector
            if time.monotonic() > deadline:
                targets = self.api("targets")
                pytest.fail(f"{what}: never so; last {promql} = {vector}\n"
                            f"targets: {targets}\nlog:\n{self.log()[-3000:]}")
            time.sleep(0.25)

    def assert_alive(self):
        assert self.proc.poll() is None, f"prometheus died:\n{self.log()[-4000:]}"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


@pytest.fixture
def start_prometheus(tmp_path):
    """start_prometheus(target, token=None) -> a running Prometheus, stopped at the end."""
    started = []

    def start(target, token=None, **kw):
        prom = Prometheus(tmp_path / f"prometheus{len(started)}", target, token, **kw)
        started.append(prom)
        return prom

    yield start
    for prom in started:
        prom.stop()
