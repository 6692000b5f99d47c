# SPDX-License-Identifier: MIT
"""`autoprov serve` as an administrator runs it: --help, --check, the port file,
signals, and how configuration reaches the running server."""

import re
import signal
import socket
import time

import pytest

from harness import BIN, md5, parse_port_file, pattern_bytes, run, sanitizer_report
from tftp_raw import DATA, OACK


def autoprov(*args, **kw):
    return run([BIN, *args], **kw)


def output(proc):
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def test_help():
    proc = autoprov("serve", "--help")
    assert proc.returncode == 0, output(proc)
    text = output(proc)
    assert "--tftp" in text and "--port-file" in text, text


def test_check_valid_site(site):
    site.conf("""
        # comments of both kinds
        ; are allowed
        [server]
        cache_size = 16M
        max_file_size = 2G
        max_name_length = 128
        md5_extensions = cfg conf zip

        [tftp]
        listen = 127.0.0.1:6969
        prefix = tftpboot
        max_blksize = 1428
        max_windowsize = 8
        timeout = 500
        retries = 3
        max_transfers = 100
        max_transfers_per_peer = 10
    """)
    proc = autoprov("serve", "--site", site.root, "--check")
    assert proc.returncode == 0, output(proc)


def test_check_without_config_file(site):
    """A missing default autoprov.conf means "all defaults"."""
    proc = autoprov("serve", "--site", site.root, "--check")
    assert proc.returncode == 0, output(proc)


@pytest.mark.parametrize("conf,line,words", [
    ("[server]\ncache_size = 1M\n[tftp]\ncolour = blue\n", 4, ["colour"]),
    ("# comment\n\n[nonsense]\nkey = 1\n", 3, ["nonsense"]),
    ("[tftp]\nretries = 2\n[nonsense]\n", 3, ["nonsense"]),  # an empty unknown section
    ("[tftp]\ntimeout = 100\nretries = 3\nmax_blksize = 70000\n", 4, ["max_blksize", "70000"]),
    ("[tftp]\nmax_windowsize = 0\n", 2, ["max_windowsize"]),
    ("[tftp]\ntimeout = 9\n", 2, ["timeout"]),
    ("[tftp]\nretries = many\n", 2, ["retries"]),
    ("[server]\nmax_name_length = 10\ncache_size = lots\n", 3, ["cache_size"]),
    ("[tftp]\nmax_transfers = 0\n", 2, ["max_transfers"]),
    ("max_blksize = 1024\n", 1, []),  # a key before any section
], ids=["unknown-key", "unknown-section", "unknown-empty-section", "out-of-range", "windowsize-0", "timeout-too-small",
        "not-a-number", "bad-size", "zero-transfers", "no-section"])
def test_check_reports_file_and_line(site, conf, line, words):
    site.conf_path.write_text(conf)
    proc = autoprov("serve", "--site", site.root, "--check")
    text = output(proc)
    assert proc.returncode == 1, text
    assert re.search(rf"autoprov\.conf:{line}\b", text), text
    for word in words:
        assert word in text, text


def test_check_explicit_config_file(site, tmp_path):
    conf = tmp_path / "other.conf"
    conf.write_text("[tftp]\nmax_blksize = 1024\n\nbogus = 1\n")
    proc = autoprov("serve", "--site", site.root, "--config", conf, "--check")
    assert proc.returncode == 1
    assert re.search(r"other\.conf:4\b", output(proc)), output(proc)


def test_check_missing_explicit_config_file(site, tmp_path):
    proc = autoprov("serve", "--site", site.root, "--config", tmp_path / "absent.conf", "--check")
    assert proc.returncode == 1, output(proc)


def test_check_missing_site(tmp_path):
    proc = autoprov("serve", "--site", tmp_path / "no-such-site", "--check")
    assert proc.returncode == 1, output(proc)


def test_bad_config_refuses_to_start(site, tmp_path):
    site.conf_path.write_text("[tftp]\nmax_blksize = 99\n")
    port_file = tmp_path / "ports"
    proc = autoprov("serve", "--site", site.root, "--tftp", "127.0.0.1:0", "--port-file", port_file)
    assert proc.returncode != 0
    assert re.search(r"autoprov\.conf:2\b", output(proc)), output(proc)
    assert not port_file.exists()


def test_port_in_use_fails_without_port_file(site, tmp_path):
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        port_file = tmp_path / "ports"
        proc = autoprov("serve", "--site", site.root, "--tftp", f"127.0.0.1:{busy.getsockname()[1]}",
                        "--port-file", port_file)
        assert proc.returncode != 0, output(proc)
        assert not port_file.exists()
        assert not sanitizer_report(output(proc)), output(proc)
    finally:
        busy.close()


def test_port_file(site, start_server):
    site.write("hello.txt", b"hello\n")
    server = start_server(site)
    assert server.port_file_text == f"tftp {server.port}\n"
    assert parse_port_file(server.port_file.read_text()) == {"tftp": server.port}
    assert not server.port_file.with_name(server.port_file.name + ".tmp").exists()
    assert server.get("hello.txt").data == b"hello\n"


def test_port_file_is_never_seen_half_written(site, tmp_path):
    """Watch the path as fast as possible while the server starts: every read that finds
    the file must find the whole line (the file is renamed into place)."""
    import subprocess
    port_file = tmp_path / "ports"
    err = open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen([str(BIN), "serve", "--site", str(site.root), "--tftp", "127.0.0.1:0",
                             "--port-file", str(port_file), "--user", "root"],
                            stdout=err, stderr=err)
    seen = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                seen.append(port_file.read_text())
            except FileNotFoundError:
                continue
            if len(seen) > 50:
                break
        assert seen, "no port file"
        assert all(re.fullmatch(r"tftp \d+\n", text) for text in seen), set(seen)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        err.close()


def test_listen_from_config_is_overridden_by_tftp_flag(site, start_server):
    """[tftp] listen names a port we cannot have; --tftp 127.0.0.1:0 wins."""
    site.conf("""
        [tftp]
        listen = 192.0.2.1:69
    """)
    site.write("x.cfg", b"x\n")
    server = start_server(site)
    assert server.get("x.cfg").data == b"x\n"


def test_explicit_config_file_is_used(site, tmp_path, start_server):
    conf = tmp_path / "elsewhere.conf"
    conf.write_text("[tftp]\nmax_blksize = 1024\n")
    site.write("f.bin", pattern_bytes(3000, 70))
    server = start_server(site, args=["--config", str(conf)])
    with server.client() as client:
        first = client.request("f.bin", options=[("blksize", 1428)])
        assert first.op == OACK and first.options == {"blksize": "1024"}
        client.receive(first)


def test_quiet_logs_no_transfer_lines(site, start_server):
    site.write("f.bin", b"f\n")
    server = start_server(site, args=["-q"])
    assert server.get("f.bin").data == b"f\n"
    with server.client() as client:
        assert client.expect_error("../x").code == 2
    server.wait_log(r"\bwarn.*\.\./x")  # warnings still appear (not only the start's)
    assert not re.search(r" (info|debug) ", server.log()), server.log()


def test_verbose_logs_debug_lines(site, start_server):
    site.write("f.bin", b"f\n")
    server = start_server(site, verbose=True)
    assert server.get("f.bin").data == b"f\n"
    server.wait_log(r" debug site: loaded f\.bin \(2 bytes\)")
    server.wait_log(r' info tftp: 127\.0\.0\.1:\d+ "f\.bin" sent, 2 bytes')


def test_without_verbose_no_debug_lines(site, start_server):
    site.write("f.bin", b"f\n")
    server = start_server(site)
    assert server.get("f.bin").data == b"f\n"
    server.wait_log(r'"f\.bin" sent')
    assert " debug " not in server.log()


# --- signals ----------------------------------------------------------------------------

def wait_until(probe, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_sighup_makes_a_new_file_visible(site, start_server):
    site.write("old.cfg", b"old\n")
    server = start_server(site)
    assert server.get("old.cfg").data == b"old\n"
    with server.client() as client:
        assert client.expect_error("new.cfg").code == 1
    site.write("new.cfg", b"new\n")
    site.write("old.cfg", b"changed\n")
    server.reload()

    def visible():
        with server.client() as client:
            first = client.request("new.cfg")
            return first.op == DATA and client.receive(first).data == b"new\n"
    wait_until(visible, "new.cfg not served after SIGHUP")
    wait_until(lambda: server.get("old.cfg").data == b"changed\n", "old.cfg unchanged after SIGHUP")
    server.assert_alive()


def test_sighup_applies_a_changed_config(site, start_server):
    site.conf("""
        [tftp]
        max_blksize = 1024
    """)
    site.write("f.bin", pattern_bytes(5000, 71))
    server = start_server(site)

    def granted():
        with server.client() as client:
            first = client.request("f.bin", options=[("blksize", 1428)])
            assert first.op == OACK
            client.receive(first)
            return first.options["blksize"]
    assert granted() == "1024"
    site.conf("""
        [tftp]
        max_blksize = 512
    """)
    server.reload()
    wait_until(lambda: granted() == "512", "max_blksize did not change on SIGHUP")


def test_sighup_with_a_broken_config_keeps_serving(site, start_server):
    """A request or a reload never takes the daemon down."""
    site.write("f.bin", b"still here\n")
    server = start_server(site)
    site.conf_path.write_text("[tftp]\nnonsense = 1\n")
    server.reload()
    time.sleep(0.3)
    server.assert_alive()
    assert server.get("f.bin").data == b"still here\n"


def test_many_sighups(site, start_server):
    site.write("f.bin", pattern_bytes(20000, 72))
    server = start_server(site)
    for _ in range(20):
        server.reload()
    time.sleep(0.2)
    assert md5(server.get("f.bin").data) == md5(pattern_bytes(20000, 72))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_with_transfers_in_flight(site, start_server, sig):
    site.conf("""
        [tftp]
        timeout = 5000
    """)
    site.write("a.bin", pattern_bytes(512 * 50, 73))
    site.write("b.bin", pattern_bytes(512 * 50, 74))
    server = start_server(site, verbose=True)
    clients = [server.client() for _ in range(4)]
    try:
        for i, client in enumerate(clients):
            options = [("blksize", 1024), ("windowsize", 4)] if i % 2 else []
            first = client.request("a.bin" if i < 2 else "b.bin", options=options)
            assert first.op in (DATA, OACK)
        server.stop(sig)  # asserts status 0 and no sanitizer report
    finally:
        for client in clients:
            client.close()


def test_stop_when_idle_is_clean(site, start_server):
    site.write("f.bin", b"x")
    server = start_server(site, verbose=True)
    assert server.get("f.bin").data == b"x"
    log = server.stop()
    assert not sanitizer_report(log)
