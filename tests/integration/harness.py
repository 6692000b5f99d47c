# SPDX-License-Identifier: MIT
"""The harness of the integration tests: a site builder, the real daemon, real clients.

The daemon is started on 127.0.0.1 port 0 with --port-file; readiness is the port file
appearing (it is written atomically once the listeners are bound), checked against a
deadline while making sure the child is still alive. Its stderr goes to a file, so a
chatty server can never block on a full pipe. Stopping is SIGTERM, then SIGKILL after a
deadline; a clean stop is exit status 0 and no sanitizer report.
"""

import hashlib
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

import tftp_raw

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("AUTOPROV_BIN", REPO / "build" / "autoprov"))

START_DEADLINE = 20.0  # seconds; ASan start-up included
STOP_DEADLINE = 10.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")


def md5(data):
    return hashlib.md5(data).hexdigest()


def pattern_bytes(size, seed=0):
    """Deterministic pseudo-random bytes (no two blocks alike in practice)."""
    return random.Random(seed).randbytes(size)


class Site:
    """A temporary site directory: DIR/files/ and DIR/autoprov.conf."""

    def __init__(self, root):
        self.root = Path(root)
        self.files = self.root / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.root / "autoprov.conf"

    def write(self, name, data):
        """Write files/NAME (bytes or str) and return its path."""
        path = self.files / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def conf(self, text):
        """Write autoprov.conf from an indented block of INI."""
        self.conf_path.write_text(textwrap.dedent(text).lstrip())
        return self.conf_path


def tail(text, lines=60):
    """The end of a log, for failure messages."""
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


def sanitizer_report(text):
    return [m for m in SANITIZER_MARKERS if m in text]


class Server:
    """The daemon, started by `start_server`."""

    def __init__(self, site, workdir, args=(), verbose=False, tftp="127.0.0.1:0", env=None,
                 user="root", wrap=()):
        if not BIN.exists():
            pytest.fail(f"server binary {BIN} does not exist (build it, or set AUTOPROV_BIN)")
        self.site = site
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port_file = self.workdir / "ports"
        self.stderr_path = self.workdir / "stderr.log"
        self.stdout_path = self.workdir / "stdout.log"
        # wrap: a command the daemon runs under (prlimit ...)
        cmd = [*map(str, wrap), str(BIN), "serve", "--site", str(site.root)]
        if tftp is not None:
            cmd += ["--tftp", tftp]
        cmd += ["--port-file", str(self.port_file)]
        # Tests run as root on sites in 0700 temporary directories: keep root unless a test
        # asks for a user (None: the configuration's, i.e. [server] user or its default).
        if user is not None:
            cmd += ["--user", user]
        if verbose:
            cmd.append("-v")
        # AUTOPROV_TEST_WORKERS=N runs every daemon with N workers (a test's own --workers,
        # later on the line, wins): `make test` runs the protocol suites so once more
        if os.environ.get("AUTOPROV_TEST_WORKERS"):
            cmd += ["--workers", os.environ["AUTOPROV_TEST_WORKERS"]]
        cmd += list(args)
        self.cmd = cmd
        self.port = None
        self.host = tftp.rsplit(":", 1)[0].strip("[]") if tftp else "127.0.0.1"
        self.tftp_wanted = tftp is not None and tftp != "off"
        self.stopped = False
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
            env=env if env is not None else os.environ.copy(),
        )
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_files()
                self.stopped = True
                pytest.fail(
                    f"server exited with status {self.proc.returncode} before writing its port "
                    f"file\ncommand: {' '.join(self.cmd)}\nstderr:\n{self.log()}"
                )
            if self.port_file.exists():
                text = self.port_file.read_text()
                self.ports = parse_port_file(text)
                self.port_file_text = text
                self.port = self.ports.get("tftp")
                self.http_port = self.ports.get("http")
                self.https_port = self.ports.get("https")
                if self.tftp_wanted:
                    assert self.port, f"port file has no tftp line: {text!r}"
                return
            time.sleep(0.005)
        self.proc.kill()
        self.proc.wait()
        self.stopped = True
        pytest.fail(f"no port file after {START_DEADLINE} s\nstderr:\n{self.log()}")

    def _close_files(self):
        self._err.close()
        self._out.close()

    def log(self):
        """Everything the server wrote to stderr so far."""
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def log_bytes(self):
        return self.stderr_path.read_bytes()

    def wait_log(self, pattern, timeout=5.0, count=1):
        """Wait until `pattern` (a regex, MULTILINE) matches `count` times; return the matches."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.findall(self.log())
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"log never matched {pattern!r} x{count} (got {len(found)})\n"
                            f"stderr (end):\n{tail(self.log())}")
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def assert_alive(self):
        assert self.alive(), f"server died, status {self.proc.returncode}\nstderr:\n{self.log()}"

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def client(self, **kw):
        return tftp_raw.Client(self.port, host=self.host, **kw)

    def get(self, name, **kw):
        with self.client() as client:
            return client.get(name, **kw)

    def stop(self, sig=signal.SIGTERM, check=True):
        """Stop with `sig`, SIGKILL after a deadline; check a clean exit. Returns stderr."""
        if self.stopped:
            return self.log()
        self.stopped = True
        self.proc.send_signal(sig)
        try:
            status = self.proc.wait(STOP_DEADLINE)
            killed = False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
            killed = True
        self._close_files()
        log = self.log()
        if check:
            assert not killed, f"server did not exit within {STOP_DEADLINE} s of {sig!r}\nstderr:\n{log}"
            assert status == 0, f"server exited with status {status} on {sig!r}\nstderr:\n{log}"
            found = sanitizer_report(log)
            assert not found, f"sanitizer report ({found}) in stderr:\n{log}"
        return log


# The example site's rendered file of each vendor, and the device it belongs to.
VENDOR_FILES = [
    ("00:22:ee:01:02:03", "algom0022EE010203.conf"),
    ("00:22:ee:01:02:03", "algom0022EE010203-i.conf"),
    ("00:22:ee:01:83:01", "algom0022EE018301.conf"),
    ("00:22:ee:01:80:36", "algom0022EE018036.conf"),
    ("00:22:ee:0a:0b:0c", "0022ee0a0b0c.boot"),
    ("00:22:ee:0a:0b:0c", "0022ee0a0b0c.cfg"),
    ("00:21:f2:01:1b:19", "fv0021F2011B19.conf"),
    ("00:90:8f:01:02:03", "audiocodes/400HD.cfg"),
    ("00:80:f0:01:02:03", "panasonic/initial.cfg"),
    ("00:80:f0:01:02:03", "panasonic/0080F0010203.cfg"),
]


def example_site(tmp_path):
    """A copy of examples/site made ready by scripts/example-setup (assets, inventory)."""
    import shutil
    root = Path(tmp_path) / "site"
    shutil.copytree(REPO / "examples" / "site", root,
                    ignore=shutil.ignore_patterns("autoprov.db*"))
    setup = run([REPO / "scripts" / "example-setup", BIN, root])
    assert setup.returncode == 0, setup.stderr.decode()
    return root


# --- HTTP clients -----------------------------------------------------------------------

HANG_GUARD = 15.0  # seconds; only ever a bound on a hang, never a speed assertion


class Response:
    def __init__(self, resp, body):
        self.status = resp.status
        self.reason = resp.reason
        self.headers = resp.headers  # case-insensitive
        self.body = body
        self.version = resp.version

    def __repr__(self):
        return f"<{self.status} {self.reason} {dict(self.headers)} {self.body[:80]!r}>"


def request(port, path, method="GET", headers=None, body=None):
    """One request on its own connection (http.client sends `path` exactly as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp, resp.read())
    finally:
        conn.close()


def raw_request(port, payload):
    """Send bytes as they are; parse the one response that comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as sock:
        sock.sendall(payload)
        resp = http.client.HTTPResponse(sock, method="GET")
        resp.begin()
        return Response(resp, resp.read())



def parse_port_file(text):
    ports = {}
    for line in text.splitlines():
        proto, port = line.split()
        ports[proto] = int(port)
    return ports


# Files of the shared site, used by the client and protocol tests that need no
# particular configuration. Sizes cover the block-boundary cases.
SHARED_FILES = {
    "empty.bin": b"",
    "one.bin": b"\x5a",
    "b512x4.bin": pattern_bytes(512 * 4, 1),
    "b1428x3.bin": pattern_bytes(1428 * 3, 2),
    "odd.bin": pattern_bytes(100_003, 3),
    "algop8188.conf": pattern_bytes(2048, 4),
    "sub/dir/model.cfg": b"[settings]\nkey = value\n",
}
# More than 65535 blocks of 512 bytes: block numbers must roll over.
BIG_SIZE = 65_600 * 512 + 77


# The real clients. Each returns the CompletedProcess; a hang is a test failure.
CLIENT_TIMEOUT = 60


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, timeout=CLIENT_TIMEOUT, **kw)


def curl_get(port, name, *options, host="127.0.0.1"):
    """curl writes the body to stdout: `.stdout` is exactly the bytes received."""
    return run(["curl", "-s", "-S", *options, f"tftp://{host}:{port}/{name}"])


def tftp_hpa_get(port, name, out, mode="binary"):
    """tftp-hpa exits 0 even on an ERROR: callers check `.stdout`/`.stderr` and the file."""
    return run(["tftp", "127.0.0.1", str(port), "-m", mode, "-c", "get", name, str(out)])


def atftp_get(port, name, out, options=()):
    cmd = ["atftp", "--get", "-r", name, "-l", str(out)]
    for option in options:
        cmd += ["--option", option]
    return run(cmd + ["127.0.0.1", str(port)])
