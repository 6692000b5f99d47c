# SPDX-License-Identifier: MIT
"""TFTP against an attacker on the network (issue 14, items 2 and 3): off unless
configured and said so at start; per-device files refused over TFTP with `device_files =
deny`; static per-device files under files/ bound to their device for every protocol; a
burst of never-acknowledging requests with `timeout 255` cannot lock others out; a spoofed
request is answered with at most three packets."""

import re
import socket
import time

from harness import BIN, Site, curl_get, run
import tftp_raw
from tftp_raw import DATA, ERROR, OACK, rrq

DEV_A = "0022ee0a0001"
DEV_B = "0022ee0b0002"
PASS_A = "pw-of-a"
PASS_B = "pw-of-b"
UNKNOWN = "0022ee0c0003"


def device_site(tmp_path, conf=""):
    """Two devices with passwords, a rendered file each (dev{mac}.cfg), a generic file, a
    static per-device file of A as a plain tftpd would have had it, site user admin."""
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    site.write(f"algom{DEV_A}.conf", "static of a\n")
    site.write(f"SEP{DEV_A.upper()}.cnf.xml", "<static of a/>\n")
    site.write(f"algom{UNKNOWN}.conf", "static of nobody\n")
    site.write("firmware.bin", bytes(range(256)) * 8)
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "dev{mac}.cfg").write_text("device {{mac}}\n")
    site.conf("[auth]\nuser = admin:s3cret\nfailure_delay = 50\n" + conf)
    for mac, password in ((DEV_A, PASS_A), (DEV_B, PASS_B)):
        result = run([BIN, "device", "--site", site.root, "add", mac, "--var",
                      f"prov_password={password}"])
        assert result.returncode == 0, result.stderr.decode()
    return site


def http_get(port, path, *options):
    result = run(["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code}", *options,
                  f"http://127.0.0.1:{port}{path}"])
    body, status = result.stdout.rsplit(b"\n", 1)
    return int(status), body


# --- secure by default ---------------------------------------------------------------

def test_tftp_is_off_by_default(tmp_path, start_server):
    """Without --tftp nor [tftp] listen there is no TFTP listener, and the start says what
    is exposed instead."""
    site = device_site(tmp_path)
    server = start_server(site, args=("--http", "127.0.0.1:0"), tftp=None)
    assert "tftp" not in server.ports, server.port_file_text
    line = server.wait_log(r"info exposed: .*$")[0]
    assert "tftp" not in line and re.search(r"http 127\.0\.0\.1:\d+ \(no login\)", line), line


def test_tftp_listen_in_the_file_turns_it_on(tmp_path, start_server):
    site = device_site(tmp_path, "[tftp]\nlisten = 127.0.0.1:0\n")
    server = start_server(site, tftp=None)
    assert server.ports.get("tftp")
    # the line comes after the port file: wait for it
    server.wait_log(r"info exposed: tftp 127\.0\.0\.1:")
    assert server.log().count("info exposed: tftp 127.0.0.1:") == 1


def test_no_listener_says_why(tmp_path, start_server):
    site = device_site(tmp_path)
    server = start_server(site, tftp=None)
    server.wait_log(r"no listener enabled: .*TFTP is off unless")


def test_start_line_and_warning_when_tftp_undoes_logins(tmp_path, start_server):
    site = device_site(tmp_path, "[http]\nauth = digest\n")
    server = start_server(site, args=("--http", "127.0.0.1:0"))
    line = server.wait_log(r"info exposed: .*$")[0]
    assert re.search(r"tftp 127\.0\.0\.1:\d+ \(no login, every file\)", line), line
    assert re.search(r"http 127\.0\.0\.1:\d+ \(logins\)", line), line
    server.wait_log(r"warning tftp: HTTP logins are on, but TFTP serves every device's files")
    assert server.log().count("TFTP serves every device's files") == 1


def test_no_warning_with_device_files_deny(tmp_path, start_server):
    site = device_site(tmp_path, "[http]\nauth = digest\n[tftp]\ndevice_files = deny\n")
    server = start_server(site, args=("--http", "127.0.0.1:0"))
    line = server.wait_log(r"info exposed: .*$")[0]
    assert "(no login, generic files only)" in line, line
    assert "TFTP serves every device's files" not in server.log()


def test_device_files_value_is_checked(tmp_path):
    site = device_site(tmp_path, "[tftp]\ndevice_files = maybe\n")
    result = run([BIN, "serve", "--site", site.root, "--check"])
    assert result.returncode == 1
    assert re.search(r"autoprov\.conf:5: .*'maybe' is not one of: allow deny",
                     result.stderr.decode()), result.stderr.decode()


# --- device_files = deny -------------------------------------------------------------

def test_device_files_deny(tmp_path, start_server):
    """Rendered and static files of a device are refused over TFTP, with the same answer for
    a device the inventory does not have; generic files are served."""
    site = device_site(tmp_path, "[tftp]\ndevice_files = deny\n")
    server = start_server(site)
    with server.client() as client:
        for name in (f"dev{DEV_A}.cfg", f"dev{UNKNOWN}.cfg", f"algom{DEV_A}.conf",
                     f"SEP{DEV_A.upper()}.cnf.xml", f"dev{DEV_A}.md5"):
            pkt = client.expect_error(name)
            assert (pkt.code, pkt.message) == (2, "access violation"), (name, pkt)
    assert server.get("generic.cfg").data == b"generic\n"
    # a MAC the inventory does not have is only a name: a generic file
    assert server.get(f"algom{UNKNOWN}.conf").data == b"static of nobody\n"
    server.wait_log(rf'"dev{DEV_A}\.cfg" denied, 0 bytes, 0 ms, octet: access violation')
    server.wait_log(rf'"algom{DEV_A}\.conf" denied')
    # a real client sees the same
    result = curl_get(server.port, f"dev{DEV_B}.cfg")
    assert result.returncode != 0 and result.stdout == b""


def test_device_files_allow_is_the_default(tmp_path, start_server):
    site = device_site(tmp_path)
    server = start_server(site)
    assert server.get(f"dev{DEV_A}.cfg").data == f"device {DEV_A}\n".encode()
    assert server.get(f"algom{DEV_A}.conf").data == b"static of a\n"


# --- static per-device files and logins ----------------------------------------------

def test_static_device_file_is_its_devices_only(tmp_path, start_http):
    """files/algom<MAC>.conf of a known device: its own login gets it, another device's
    login is refused (as for rendered files), a site user gets everything."""
    site = device_site(tmp_path, "[http]\nauth = digest\n")
    srv = start_http(site, tftp="off")
    for path in (f"/algom{DEV_A}.conf", f"/SEP{DEV_A.upper()}.cnf.xml"):
        status, _ = http_get(srv.http_port, path, "--digest", "-u", f"{DEV_B}:{PASS_B}")
        assert status == 403, path
        status, body = http_get(srv.http_port, path, "--digest", "-u", f"{DEV_A}:{PASS_A}")
        assert status == 200 and body.startswith(b"<static of a" if "SEP" in path
                                                 else b"static of a"), (path, body)
        status, _ = http_get(srv.http_port, path, "--digest", "-u", "admin:s3cret")
        assert status == 200
    status, body = http_get(srv.http_port, f"/algom{UNKNOWN}.conf", "--digest", "-u",
                            f"{DEV_B}:{PASS_B}")
    assert status == 200 and body == b"static of nobody\n"
    srv.wait_log(rf'"GET /algom{DEV_A}\.conf" 403.*another device')


# --- no lockout by a small burst -----------------------------------------------------

def spoofed_sockets(n, net="127.0.0"):
    """n UDP sockets on 127.0.0.2, .3, ...: sources that never acknowledge."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"{net}.{2 + i % 250}", 0))
        s.setblocking(False)
        socks.append(s)
    return socks


def drain(sock):
    """Every packet waiting on a non-blocking socket: (count, bytes)."""
    n = size = 0
    while True:
        try:
            data = sock.recv(70000)
        except BlockingIOError:
            return n, size
        n += 1
        size += len(data)


def test_burst_with_timeout_255_locks_nobody_out(tmp_path, start_server):
    """300 requests with timeout 255 from 250 sources of one /24 that never acknowledge:
    the timeout is not granted, the /24 gets at most a quarter of the slots, so a device
    elsewhere is served at once, and the /24's own slots come back within seconds."""
    site = device_site(tmp_path, "[tftp]\nmax_transfers = 256\nmax_transfers_per_peer = 8\n")
    server = start_server(site)
    socks = spoofed_sockets(300)
    try:
        for s in socks:
            s.sendto(rrq("firmware.bin", options=(("timeout", "255"), ("blksize", "1428"))),
                     ("127.0.0.1", server.port))
        time.sleep(0.3)
        # a device of another network is served straight away
        with tftp_raw.Client(server.port, bind="127.0.1.1") as client:
            assert client.get("generic.cfg").data == b"generic\n"
        # the requested timeout was left out of the OACK
        first = None
        for s in socks[:20]:
            s.setblocking(True)
            s.settimeout(2)
            try:
                first = tftp_raw.Packet(s.recv(70000))
                break
            except socket.timeout:
                continue
        assert first is not None and first.op == OACK, first
        assert "timeout" not in first.options and first.options.get("blksize") == "1428"
        # the spoofers' /24 is over its cap; its slots come back once they give up
        deadline = time.monotonic() + 15
        while True:
            with tftp_raw.Client(server.port, bind="127.0.0.1") as client:
                try:
                    assert client.get("generic.cfg").data == b"generic\n"
                    break
                except tftp_raw.TftpError as e:
                    assert "server busy" in e.message
                    assert time.monotonic() < deadline, "the burst kept its slots"
            time.sleep(0.2)
    finally:
        for s in socks:
            s.close()
    log = server.log()
    assert "too many transfers from your network" in log
    assert "no answer to the first packet" in log
    server.assert_alive()


def test_unanswered_first_packet_is_sent_three_times_at_most(tmp_path, start_server):
    """Reflection: a spoofed request (its victim never answers) gets at most three packets,
    at the server's own interval even when the request asks for a longer timeout; with
    options, no more bytes than three times the request's."""
    site = device_site(tmp_path, "[tftp]\ntimeout = 100\nretries = 5\n")
    server = start_server(site)
    cases = [
        ("blksize+tsize", rrq("firmware.bin", options=(("blksize", "1428"), ("tsize", "0")))),
        ("timeout 5", rrq("firmware.bin", options=(("timeout", "5"), ("tsize", "0")))),
        ("no options", rrq("firmware.bin")),
    ]
    victims = []
    for i, (label, packet) in enumerate(cases):
        victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        victim.bind((f"127.0.0.{77 + i}", 0))
        victim.sendto(packet, ("127.0.0.1", server.port))
        victims.append((label, packet, victim))
    server.wait_log(r'"firmware\.bin" timed out', timeout=4, count=2)
    time.sleep(0.3)
    for label, packet, victim in victims:
        victim.setblocking(False)
        n, size = drain(victim)
        victim.close()
        print(f"reflection {label}: {n} packets, {size} bytes for a request of "
              f"{len(packet)} bytes (x{size / len(packet):.1f})")
        assert 1 <= n <= 3, (label, n)
        if label != "no options":
            assert size <= 3 * len(packet), (label, size, len(packet))
        else:
            assert size <= 3 * (4 + 512), (label, size)
    # each gave up after three intervals of at most [tftp] timeout (100 ms), even the one
    # that asked for 5 s
    server.wait_log(r"timed out, .*no answer to the first packet", timeout=4, count=3)


def test_confirmed_transfer_keeps_its_retries(tmp_path, start_server):
    """Once the client has acknowledged, a lost window is retransmitted `retries` times as
    before: the cap is for peers that never answered."""
    site = device_site(tmp_path, "[tftp]\ntimeout = 100\nretries = 5\n")
    server = start_server(site)
    with server.client() as client:
        first = client.request("firmware.bin")
        assert first.op == DATA and first.block == 1
        client.send(tftp_raw.ack(1))
        got = [p for p, _ in client.poll(1.2) if p.op == DATA and p.block == 2]
    assert len(got) == 6, len(got)  # block 2 and its five retransmissions
    server.wait_log(r'"firmware\.bin" timed out, 512 bytes')
