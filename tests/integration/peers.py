# SPDX-License-Identifier: MIT
"""Servers nobody here wrote, started on loopback for the integration tests: tftpd-hpa,
nginx (HTTP, HTTPS, HTTPS requiring a client certificate, a Basic login, a redirection) and
vsftpd (anonymous, read-only), each serving a tree the test made; plus two that never
answer (a TCP listener that is never accepted from, a UDP socket that is never read).

Each runs in the foreground in its own process group, its output in a file under the
test's directory; readiness is checked against a deadline while the process is alive, and
stop() is SIGTERM, then SIGKILL. tftpd-hpa (chroot) and vsftpd (starts as root, drops to
its users) need root: `skip_unless_root()` says so instead of failing.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

START_DEADLINE = 20.0
STOP_DEADLINE = 10.0


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def skip_unless_root(what):
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root")


def need(exe):
    path = shutil.which(exe, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        pytest.skip(f"{exe} is not installed (scripts/deps test installs it)")
    return path


def world_readable(root):
    """Servers that drop to nobody/ftp read the tree: directories 0755, files 0644."""
    root = Path(root)
    os.chmod(root, 0o755)
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(dirpath, d), 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)


class Peer:
    name = "?"

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.log_path = self.workdir / f"{self.name}.out"
        self._log = None

    def _spawn(self, cmd):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _wait(self, ready):
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with status {self.proc.returncode}:\n"
                            f"{self.log()}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"{self.name} not ready within {START_DEADLINE} s:\n{self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self.proc:
            try:  # children (tftpd-hpa transfers, vsftpd sessions) may outlive the parent
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log:
            self._log.close()
            self._log = None


class TftpdHpa(Peer):
    """in.tftpd --foreground --secure TREE on 127.0.0.1:port (it forks per transfer)."""
    name = "tftpd-hpa"

    def __init__(self, tree, workdir):
        super().__init__(workdir)
        skip_unless_root("in.tftpd --secure (chroot)")
        exe = need("in.tftpd")
        world_readable(tree)
        self.port = free_port(socket.SOCK_DGRAM)
        self._spawn([exe, "--foreground", "--address", f"127.0.0.1:{self.port}",
                     "--secure", str(tree)])
        self._wait(self._answers)

    def _answers(self):
        """Any reply to an RRQ of a file that does not exist (an ERROR packet)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(struct.pack("!H", 1) + b"no-such-file-ready-probe\0octet\0",
                     ("127.0.0.1", self.port))
            try:
                return bool(s.recvfrom(1024)[0])
            except OSError:
                return False


NGINX_CONF = """# written by tests/integration/peers.py
daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{ worker_connections 4096; }}
http {{
    default_type application/octet-stream;
    types {{ text/plain cfg conf txt; }}
    access_log {p}/access.log;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /redirect {{ return 302 {redirect}; }}
        location = /forbidden {{ return 403; }}
        location = /gone {{ return 410; }}
        location = /broken {{ return 500; }}
        location /private/ {{
            auth_basic "autoprov test";
            auth_basic_user_file {p}/htpasswd;
        }}
    }}
{tls}
}}
"""

NGINX_TLS = """    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
    }}
    server {{
        listen 127.0.0.1:{mtls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        root {root};
    }}
"""


class Nginx(Peer):
    """nginx serving root over HTTP (`port`) and, given a certificate, HTTPS (`tls_port`)
    and HTTPS requiring a client certificate signed by `client_ca` (`mtls_port`).
    /private/ asks for a Basic login (`user`:`password`); /redirect answers 302 to
    `redirect` (a path under root, or a URL); /forbidden 403, /gone 410, /broken 500."""
    name = "nginx"

    def __init__(self, root, workdir, cert=None, key=None, client_ca=None,
                 user="phone", password="secret", redirect="index.txt"):
        super().__init__(workdir)
        exe = need("nginx")
        self.root, self.user, self.password = Path(root), user, password
        p = self.workdir / "nginx"
        p.mkdir(exist_ok=True)
        hashed = subprocess.run(["openssl", "passwd", "-apr1", password], capture_output=True,
                                text=True, check=True).stdout.strip()
        (p / "htpasswd").write_text(f"{user}:{hashed}\n")
        self.port = free_port()
        self.tls_port = self.mtls_port = None
        tls = ""
        if cert:
            self.tls_port, self.mtls_port = free_port(), free_port()
            tls = NGINX_TLS.format(tls_port=self.tls_port, mtls_port=self.mtls_port,
                                   cert=cert, key=key, ca=client_ca, root=root)
        conf = p / "nginx.conf"
        if "://" not in redirect:
            redirect = "/" + redirect
        conf.write_text(NGINX_CONF.format(p=p, port=self.port, root=root, tls=tls,
                                          redirect=redirect))
        self._spawn([exe, "-p", str(p), "-e", str(p / "error.log"), "-c", str(conf)])
        ports = [x for x in (self.port, self.tls_port, self.mtls_port) if x]
        self._wait(lambda: all(_tcp_open(x) for x in ports))


def _tcp_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _ftp_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(1)
            return s.recv(100).startswith(b"220")
    except OSError:
        return False


VSFTPD_CONF = """# written by tests/integration/peers.py: anonymous, read-only, on loopback
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={root}
local_enable=NO
write_enable=NO
dirmessage_enable=NO
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file={work}/vsftpd.log
connect_from_port_20=NO
pasv_enable=YES
port_enable=YES
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir={empty}
tcp_wrappers=NO
"""


class Vsftpd(Peer):
    """vsftpd, anonymous and read-only, serving root (passive and active)."""
    name = "vsftpd"

    def __init__(self, root, workdir, extra=""):
        super().__init__(workdir)
        skip_unless_root("vsftpd")
        exe = need("vsftpd")
        world_readable(root)
        empty = self.workdir / "vsftpd-empty"
        empty.mkdir(exist_ok=True)
        os.chmod(empty, 0o755)
        self.port = free_port()
        conf = self.workdir / "vsftpd.conf"
        conf.write_text(VSFTPD_CONF.format(port=self.port, root=root, work=self.workdir,
                                           empty=empty) + extra)
        self._spawn([exe, str(conf)])
        self._wait(lambda: _ftp_ready(self.port))


class Silent:
    """A TCP listener nobody accepts from (connections complete in the backlog, no byte
    is ever sent back) and a UDP socket nobody reads: the peers of the timeout tests."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]

    def stop(self):
        self.tcp.close()
        self.udp.close()
