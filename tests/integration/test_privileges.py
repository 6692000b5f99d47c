# SPDX-License-Identifier: MIT
"""Privileges: started as root, `autoprov serve` binds its ports, then runs as `[server] user`
(here `nobody`, or `--user`) with no capability in any set, no-new-privileges, and, where the
kernel has Landlock, file access confined to the site. It still serves static and rendered
files, writes the journal, and reloads on SIGHUP. `--user root` keeps root, with a warning.

The kernel's view is read from /proc/PID/status. These tests need root (they skip otherwise);
the sites live in a directory `nobody` can read (pytest's own are 0700 root), removed after.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import tftp_raw
from harness import BIN, REPO, Server, Site, example_site, request, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")

RENDERED = "algom0022EE010203.conf"  # the example site's file of device 00:22:ee:01:02:03
STATIC = "algop8188.conf"


@pytest.fixture
def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this system")


@pytest.fixture
def open_dir():
    """A directory every user can search (pytest's tmp_path is 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="autoprov-privs-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def example(open_dir, nobody):
    root = example_site(open_dir)
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return Site(root)


@pytest.fixture
def servers(open_dir):
    started = []

    def start(site, **kw):
        server = Server(site, open_dir / f"server{len(started)}", **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def free_port(kind, candidates):
    """The first port of candidates nobody listens on (kind: SOCK_DGRAM or SOCK_STREAM)."""
    for port in candidates:
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free privileged port on 127.0.0.1")


def status(pid):
    """/proc/PID/status as a dict of its fields."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def capabilities(st):
    return {k: int(st[k][0], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def journal(site):
    proc = run([BIN, "log", "--site", site.root])
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def wait_journal(site, needle, count=1, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        text = journal(site)
        if text.count(needle) >= count or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def start_dropped(servers, site, extra=(), user="nobody"):
    """The example site on a privileged TFTP and HTTP port, as user."""
    tftp = free_port(socket.SOCK_DGRAM, [69] + list(range(900, 1000)))
    http = free_port(socket.SOCK_STREAM, range(900, 1000))
    server = servers(site, args=["--http", f"127.0.0.1:{http}", *extra],
                     tftp=f"127.0.0.1:{tftp}", user=user)
    assert server.port == tftp and server.http_port == http
    return server


def test_runs_as_user_with_no_capabilities_and_still_serves(servers, example, nobody):
    server = start_dropped(servers, example)
    server.wait_log(r"privileges: running as nobody \(uid %d" % nobody.pw_uid)
    st = status(server.proc.pid)
    assert st["Uid"] == [str(nobody.pw_uid)] * 4, st["Uid"]
    assert st["Gid"] == [str(nobody.pw_gid)] * 4, st["Gid"]
    assert "0" not in st["Groups"], st["Groups"]
    assert capabilities(st) == dict.fromkeys(capabilities(st), 0), capabilities(st)
    assert st["NoNewPrivs"] == ["1"]

    # a static file and a rendered per-device file, over TFTP and HTTP; the journal grows
    static = (example.files / STATIC).read_bytes()
    assert server.get(STATIC).data == static
    rendered = server.get(RENDERED).data
    assert b"00:22:ee:01:02:03" in rendered
    resp = request(server.http_port, "/" + RENDERED)
    assert resp.status == 200 and resp.body == rendered
    assert request(server.http_port, "/" + STATIC).body == static
    text = wait_journal(example, f'"/{RENDERED}" sent')
    assert f'"{RENDERED}" sent' in text and f'"/{RENDERED}" sent' in text, text
    assert os.stat(example.root / "autoprov.db").st_uid == nobody.pw_uid

    # SIGHUP: the configuration is re-read and the cache forgotten; still served
    (example.files / STATIC).write_bytes(b"changed\n")
    server.reload()
    server.wait_log(r"configuration re-read")
    assert server.get(STATIC).data == b"changed\n"
    assert request(server.http_port, "/" + RENDERED).body == rendered
    wait_journal(example, f'"/{RENDERED}" sent', count=2)
    server.assert_alive()
    log = server.stop()
    assert "reload refused" not in log


def test_landlock_confines_file_access_to_the_site(servers, example, open_dir, nobody):
    """A certificate outside the site is readable by `nobody`, yet a reload naming it is
    refused; the same pair at a new place inside the site is accepted."""
    assert run([REPO / "scripts" / "make-cert", example.root]).returncode == 0
    tls = example.root / "tls"
    for f in tls.iterdir():
        f.chmod(0o644)
    outside = open_dir / "outside"
    outside.mkdir(mode=0o755)
    inside = example.root / "tls2"
    inside.mkdir(mode=0o755)
    for name in ("server.pem", "server.key"):
        for where in (outside, inside):
            shutil.copy(tls / name, where / name)
            (where / name).chmod(0o644)
    # the control: Unix permissions let nobody read the outside copy
    proc = subprocess.run(["cat", str(outside / "server.key")], capture_output=True,
                          user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])
    assert proc.returncode == 0, proc.stderr

    server = start_dropped(servers, example, extra=["--https", "127.0.0.1:0"])
    line = server.wait_log(r"privileges: running as nobody.*")[0]
    if "Landlock ABI" not in line:
        server.wait_log(r"Landlock is not available")
        pytest.skip("the kernel has no Landlock")
    assert server.https_port
    base = example.conf_path.read_text()

    example.conf_path.write_text(base + f"\n[https]\ncertificate = {outside}/server.pem\n"
                                 f"key = {outside}/server.key\n")
    server.reload()
    server.wait_log(r"reload refused.*" + str(outside))

    example.conf_path.write_text(base + "\n[https]\ncertificate = tls2/server.pem\n"
                                 "key = tls2/server.key\n")
    server.reload()
    server.wait_log(r"configuration re-read")
    proc = run(["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}",
                f"https://127.0.0.1:{server.https_port}/{STATIC}"])
    assert proc.stdout == b"200"


def test_user_root_keeps_root_with_a_warning(servers, example):
    server = start_dropped(servers, example, user="root")
    server.wait_log(r"warning privileges: running as root with every privilege")
    st = status(server.proc.pid)
    assert st["Uid"] == ["0"] * 4
    assert capabilities(st)["CapEff"] != 0
    assert st["NoNewPrivs"] == ["0"]
    assert server.get(RENDERED).data


def test_default_user_falls_back_to_nobody(servers, example, nobody):
    try:
        pwd.getpwnam("autoprov")
        pytest.skip("this system has a user 'autoprov'")
    except KeyError:
        pass
    server = servers(example, user=None)
    server.wait_log(r"warning privileges: no user 'autoprov' on this system, running as "
                    r"'nobody'")
    server.wait_log(r"privileges: running as nobody")
    assert status(server.proc.pid)["Uid"] == [str(nobody.pw_uid)] * 4
    assert server.get(STATIC).data


def test_a_site_the_user_cannot_read_fails_at_start(tmp_path, nobody):
    """pytest's tmp_path is 0700 root: nobody cannot even reach the site."""
    site = Site(tmp_path / "site")
    site.write("hello.txt", b"hello\n")
    proc = run([BIN, "serve", "--site", site.root, "--tftp", "127.0.0.1:0", "--user", "nobody"])
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"autoprov: {site.root} is not readable by user nobody (uid {nobody.pw_uid})" in err, err

    proc = run([BIN, "serve", "--site", site.root, "--tftp", "127.0.0.1:0", "--user",
                "no-such-user-here"])
    assert proc.returncode == 1
    assert "user 'no-such-user-here': no such user" in proc.stderr.decode()


def test_server_user_is_checked(site):
    site.write("hello.txt", b"hello\n")
    site.conf("""
        [server]
        user = ../etc
    """)
    proc = run([BIN, "serve", "--site", site.root, "--check"])
    assert proc.returncode == 1
    assert "autoprov.conf:2" in proc.stderr.decode() + proc.stdout.decode()
    site.conf("""
        [server]
        user = nobody
    """)
    assert run([BIN, "serve", "--site", site.root, "--check"]).returncode == 0


def test_reload_reads_a_replaced_configuration_outside_the_site(servers, example, open_dir):
    """An editor replaces the file (a new inode): SIGHUP still reads it under Landlock."""
    etc = open_dir / "etc"
    etc.mkdir(mode=0o755)
    conf = etc / "autoprov.conf"
    conf.write_text("[server]\nmax_name_length = 255\n")
    conf.chmod(0o644)
    server = start_dropped(servers, example, extra=["--config", str(conf)])
    server.wait_log(r"privileges: running as nobody")
    assert server.get(RENDERED).data
    new = etc / "autoprov.conf.new"
    new.write_text("[server]\nmax_name_length = 8\n")
    new.chmod(0o644)
    new.rename(conf)
    server.reload()
    server.wait_log(r"configuration re-read")
    assert "reload refused" not in server.log()
    with server.client() as client:
        assert client.expect_error(RENDERED).code == 2  # now too long a name


def test_started_unprivileged_with_bind_capability_as_systemd_does(example, open_dir, nobody):
    """autoprov.service starts the daemon as its user with CAP_NET_BIND_SERVICE as an ambient
    capability: it binds a port below 1024, then holds no capability, sets no-new-privileges
    and confines itself, as the drop from root does; [server] user does not fight User=.
    Its notifications still reach systemd's socket once it is confined."""
    work = open_dir / "work"
    work.mkdir()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(work / "notify"))
    os.chmod(work / "notify", 0o777)  # as /run/systemd/notify is
    notify.settimeout(10)
    for path in [work, example.root, *example.root.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    tftp = free_port(socket.SOCK_DGRAM, [69] + list(range(900, 1000)))
    ports = work / "ports"
    stderr = open(work / "stderr.log", "wb")
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
         "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
         BIN, "serve", "--site", example.root, "--tftp", f"127.0.0.1:{tftp}",
         "--port-file", ports],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        env=dict(os.environ, NOTIFY_SOCKET=str(work / "notify")))
    try:
        deadline = time.monotonic() + 10
        log = work / "stderr.log"
        while "started unprivileged" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert ports.read_text().split() == ["tftp", str(tftp)]
        st = status(proc.pid)
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, st["Uid"]
        caps = capabilities(st)
        assert caps["CapInh"] == caps["CapPrm"] == caps["CapEff"] == caps["CapAmb"] == 0, caps
        assert st["NoNewPrivs"] == ["1"]
        with tftp_raw.Client(tftp, host="127.0.0.1") as client:
            assert client.get(STATIC).data == (example.files / STATIC).read_bytes()
        assert notify.recv(4096).decode().startswith("READY=1\nSTATUS=serving")
        proc.send_signal(signal.SIGHUP)
        assert notify.recv(4096).decode().startswith("RELOADING=1")
        assert notify.recv(4096).decode().startswith("READY=1\nSTATUS=serving")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0, (work / "stderr.log").read_text()
        stderr.close()
        notify.close()
    text = (work / "stderr.log").read_text()
    assert "capability bounding set" not in text, text
