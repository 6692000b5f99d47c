# SPDX-License-Identifier: MIT
"""The enumeration defence: a scanner asking for the files of MACs the site does not have is
blocked within the budget on every protocol (TFTP error 0, HTTP 429 with Retry-After, FTP
421, SIP no answer), from its own address only, logged once and journaled, until the block
expires; a booting fleet (the full Algo search order of 120 known devices, unknown devices
behind a trusted address) never is, while a scanner behind the trusted address repeating one
unknown MAC is limited. Sources are distinct 127.0.0.N addresses on loopback."""

import ftplib
import http.client
import random
import re
import socket
import subprocess
import time

import pytest

import tftp_raw
from harness import BIN, HANG_GUARD, Server, Site, run

DEVICES = 120
BUDGET = 50  # the bound: a scanner is stopped within this many misses
BLOCK_TIME = 3


def known_mac(i):
    return f"0004f2{i:06x}"


def unknown_mac(rng):
    # 0004f3...: never one of the site's devices
    return "0004f3" + "".join(rng.choice("0123456789abcdef") for _ in range(6))


def make_site(root, conf="", block_time=BLOCK_TIME):
    """120 Algo devices with a rendered file each carrying a SIP password, a generic file."""
    site = Site(root)
    site.write("algop8188.conf", "generic\n")
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "algom{MAC}.conf").write_text("sip.u1.auth.pwd = {{sip_password}}\n")
    rows = ["mac,model,profile,enabled,sip_password"]
    rows += [f"{known_mac(i)},8188,algo,yes,secret-{i}" for i in range(DEVICES)]
    csv = site.root / "devices.csv"
    csv.write_text("\n".join(rows) + "\n")
    result = run([BIN, "device", "--site", site.root, "import", csv])
    assert result.returncode == 0, result.stderr.decode()
    site.conf("[auth]\nuser = admin:admin-pw\nfailure_delay = 10\nmax_failure_delay = 20\n"
              f"[defence]\nblock_time = {block_time}\n" + conf)
    return site


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("defence")
    site = make_site(base / "site")
    server = Server(site, base / "server",
                    args=["--http", "127.0.0.1:0", "--ftp", "127.0.0.1:0"])
    yield server
    server.stop()


def tftp_ask(server, name, source):
    """The first answer to an RRQ from `source`: ('data', bytes) or ('error', code, text)."""
    with tftp_raw.Client(server.ports["tftp"], bind=source) as c:
        pkt = c.request(name)
        if pkt.op == tftp_raw.ERROR:
            return ("error", pkt.code, pkt.message)
        return ("data", c.receive(pkt).data)


def http_get(server, path, source):
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=HANG_GUARD,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def journal(site):
    return run([BIN, "log", "--site", site.root]).stdout.decode()


def wait_journal(site, pattern, timeout=5.0):
    end = time.monotonic() + timeout
    while True:
        text = journal(site)
        if re.search(pattern, text):
            return text
        assert time.monotonic() < end, f"journal never matched {pattern!r}:\n{text[-3000:]}"
        time.sleep(0.1)


def block_lines(server, source):
    return re.findall(rf"defence.*{re.escape(source)} blocked for \d+ s on every protocol: "
                      r"(\d+) requests", server.log())


def test_tftp_scanner_blocked_on_every_protocol(srv):
    scanner, other = "127.0.0.2", "127.0.0.3"
    rng = random.Random(2)
    answers = []
    for _ in range(BUDGET):
        answers.append(tftp_ask(srv, f"algom{unknown_mac(rng).upper()}.conf", scanner))
        if answers[-1][:2] == ("error", 0):
            break
    assert answers[-1] == ("error", 0, "blocked"), answers[-3:]
    assert all(a == ("error", 1, "file not found") for a in answers[:-1])
    assert len(answers) <= BUDGET
    # blocked: a known device's file too, over TFTP and HTTP, and a SIP password is not given
    assert tftp_ask(srv, f"algom{known_mac(5).upper()}.conf", scanner) == ("error", 0, "blocked")
    status, headers, body = http_get(srv, f"/algom{known_mac(5).upper()}.conf", scanner)
    assert status == 429 and b"secret" not in body
    assert 0 < int(headers["Retry-After"]) <= BLOCK_TIME
    # another address is not
    assert tftp_ask(srv, f"algom{known_mac(5).upper()}.conf", other) == \
        ("data", b"sip.u1.auth.pwd = secret-5\n")
    # logged once with the count, journaled once
    srv.wait_log(rf"{scanner} blocked for {BLOCK_TIME} s")
    assert block_lines(srv, scanner) == [str(len(answers))]
    text = wait_journal(srv.site, rf"tftp {scanner}:\d+ \S+ \"-\" blocked")
    assert len(re.findall(rf"{scanner}:\d+ \S+ \"-\" blocked", text)) == 1
    # the block ends
    time.sleep(BLOCK_TIME + 1.1)
    assert tftp_ask(srv, f"algom{known_mac(5).upper()}.conf", scanner)[0] == "data"
    assert block_lines(srv, scanner) == [str(len(answers))]


def test_http_scanner_blocked(srv):
    scanner, other = "127.0.0.4", "127.0.0.5"
    rng = random.Random(4)
    statuses = []
    for i in range(BUDGET):
        # rendered names and the redirection service both count
        path = (f"/algom{unknown_mac(rng).upper()}.conf" if i % 2
                else f"/redirect/{unknown_mac(rng)}")
        status, headers, _ = http_get(srv, path, scanner)
        statuses.append(status)
        if status == 429:
            assert 0 < int(headers["Retry-After"]) <= BLOCK_TIME
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {404}, statuses
    assert http_get(srv, f"/algom{known_mac(7).upper()}.conf", scanner)[0] == 429
    assert http_get(srv, f"/redirect/{known_mac(7)}", scanner)[0] == 429
    assert tftp_ask(srv, "algop8188.conf", scanner) == ("error", 0, "blocked")
    assert http_get(srv, f"/algom{known_mac(7).upper()}.conf", other)[0] == 200
    srv.wait_log(rf"{scanner} blocked for {BLOCK_TIME} s")
    assert len(block_lines(srv, scanner)) == 1


def test_ftp_scanner_blocked(srv):
    scanner, other = "127.0.0.6", "127.0.0.7"
    rng = random.Random(6)
    ftp = ftplib.FTP(timeout=HANG_GUARD, source_address=(scanner, 0))
    ftp.connect("127.0.0.1", srv.ports["ftp"])
    ftp.login("admin", "admin-pw")
    n = 0
    with pytest.raises(ftplib.error_temp, match="^421 Blocked"):
        for n in range(1, BUDGET + 1):
            with pytest.raises(ftplib.error_perm, match="^550"):
                ftp.size(f"algom{unknown_mac(rng).upper()}.conf")
    assert n <= BUDGET
    ftp.close()
    # a new session from the scanner is turned away at once; another address is served
    with pytest.raises(ftplib.error_temp, match="^421 Blocked"):
        ftplib.FTP(timeout=HANG_GUARD, source_address=(scanner, 0)).connect(
            "127.0.0.1", srv.ports["ftp"])
    ftp = ftplib.FTP(timeout=HANG_GUARD, source_address=(other, 0))
    ftp.connect("127.0.0.1", srv.ports["ftp"])
    ftp.login("admin", "admin-pw")
    assert ftp.size(f"algom{known_mac(9).upper()}.conf") > 0
    ftp.quit()
    assert len(block_lines(srv, scanner)) == 1


def test_failed_logins_blocked(srv):
    """Wrong passwords are misses too: FTP logins, until the address is refused."""
    ftp_guesser = "127.0.0.9"
    tried = 0
    refused = False
    while tried < BUDGET and not refused:
        try:
            ftp = ftplib.FTP(timeout=HANG_GUARD, source_address=(ftp_guesser, 0))
            ftp.connect("127.0.0.1", srv.ports["ftp"])
        except ftplib.error_temp as e:
            assert str(e).startswith("421 Blocked")
            refused = True
            break
        try:
            while tried < BUDGET:
                tried += 1
                with pytest.raises(ftplib.error_perm, match="^530"):
                    ftp.login("admin", f"guess{tried}")
        except (ftplib.error_temp, EOFError, ConnectionError) as e:
            refused = "Blocked" in str(e) or isinstance(e, EOFError)
        finally:
            ftp.close()
    assert refused and tried <= BUDGET, tried
    srv.wait_log(rf"{ftp_guesser} blocked for {BLOCK_TIME} s")


def algo_search_order(mac):
    """What an Algo asks for at boot: its own files, then the generic ones."""
    m = mac.upper()
    return [f"algom{m}.conf", f"algom-i{m}.conf", f"algom{m}-i.conf", f"algop{m}.conf",
            f"algop-i{m}.conf", "algop8188.conf", "algop-i8188.conf", "algop-i.conf",
            f"algom{m}.md5", "algop8188.md5"]


def test_known_fleet_from_one_address_never_blocked(srv):
    """120 known devices' whole search order from one (untrusted) address: no miss at all."""
    source = "127.0.0.10"
    refused = []
    for i in range(DEVICES):
        for name in algo_search_order(known_mac(i)):
            a = tftp_ask(srv, name, source)
            if a[0] == "error" and a[1] == 0:
                refused.append(name)
    assert not refused
    assert http_get(srv, f"/algom{known_mac(1).upper()}.conf", source)[0] == 200
    assert not block_lines(srv, source)


@pytest.fixture
def trusted(tmp_path):
    site = make_site(tmp_path / "site", "trusted = 127.0.0.0/8\n")
    server = Server(site, tmp_path / "server", args=["--http", "127.0.0.1:0"])
    yield server
    server.stop()


def test_trusted_fleet_never_blocked_scanner_limited(trusted):
    source = "127.0.0.1"
    rng = random.Random(11)
    refused = []
    # a fleet behind a NAT: the known devices, and as many the inventory does not know yet
    macs = [known_mac(i) for i in range(DEVICES)] + [unknown_mac(rng) for _ in range(DEVICES)]
    for mac in macs:
        for name in algo_search_order(mac):
            a = tftp_ask(trusted, name, source)
            if a[0] == "error" and a[1] == 0:
                refused.append(name)
        # and each asks again (a reboot)
        a = tftp_ask(trusted, f"algom{mac.upper()}.conf", source)
        if a[0] == "error" and a[1] == 0:
            refused.append(mac)
    assert not refused
    # a scanner behind the same address repeating one unknown MAC is limited ...
    mac = unknown_mac(rng).upper()
    answers = [tftp_ask(trusted, f"algom{mac}.conf", source) for _ in range(BUDGET)]
    assert ("error", 0, "blocked") in answers
    assert answers.index(("error", 0, "blocked")) < BUDGET
    assert http_get(trusted, f"/algom{mac}.conf", source)[0] == 429
    # ... the fleet is not
    assert tftp_ask(trusted, f"algom{known_mac(3).upper()}.conf", source)[0] == "data"
    assert tftp_ask(trusted, f"algom{unknown_mac(rng).upper()}.conf", source) == \
        ("error", 1, "file not found")
    assert len(re.findall(r"defence.*\(trusted\), MAC", trusted.log())) == 1


def test_sip_answer_known_blocked(tmp_path):
    site = make_site(tmp_path / "site", "[sip]\nanswer = known\nt1 = 100\n", block_time=60)
    server = Server(site, tmp_path / "server", args=["--sip", "127.0.0.1:0"], tftp="off")
    try:
        dest = ("127.0.0.1", server.ports["sip"])
        rng = random.Random(13)

        def subscribe(s, mac, call_id):
            port = s.getsockname()[1]
            text = (f"SUBSCRIBE sip:MAC%3a{mac}@224.0.1.75 SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.12:{port};branch=z9hG4bK{call_id}\r\n"
                    f"From: <sip:MAC%3a{mac}@224.0.1.75>;tag=t{call_id}\r\n"
                    f"To: <sip:MAC%3a{mac}@224.0.1.75>\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: 1 SUBSCRIBE\r\n"
                    f"Contact: <sip:127.0.0.12:{port}>\r\n"
                    'Event: ua-profile;profile-type="device";vendor="Algo";model="8188"\r\n'
                    "Content-Length: 0\r\n\r\n")
            s.sendto(text.encode(), dest)

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.12", 0))
            s.settimeout(1)
            subscribe(s, known_mac(1), "before")
            assert s.recvfrom(65535)[0].startswith(b"SIP/2.0 200 ")
            for i in range(BUDGET):
                subscribe(s, unknown_mac(rng), f"scan{i}")
            server.wait_log(r"127\.0\.0\.12 blocked for")
            subscribe(s, known_mac(2), "after")
            got = []
            while True:  # only the first NOTIFY's retransmissions come
                try:
                    got.append(s.recvfrom(65535)[0])
                except socket.timeout:
                    break
            assert all(g.startswith(b"NOTIFY ") for g in got), got[:3]
            assert not any(b"Call-ID: after" in g for g in got)
    finally:
        server.stop()


def test_redirect_follows_logins(tmp_path):
    """With HTTP logins on, /redirect/<MAC> asks for one: known and unknown MACs look alike."""
    site = make_site(tmp_path / "site", "[http]\nauth = basic\n")
    result = run([BIN, "device", "--site", site.root, "set", known_mac(1), "--var",
                  "prov_password=pw-1"])
    assert result.returncode == 0, result.stderr.decode()
    server = Server(site, tmp_path / "server", args=["--http", "127.0.0.1:0"], tftp="off")
    try:
        rng = random.Random(17)
        known = http_get(server, f"/redirect/{known_mac(2)}", "127.0.0.13")
        unknown = http_get(server, f"/redirect/{unknown_mac(rng)}", "127.0.0.13")
        assert known[0] == unknown[0] == 401
        assert known[2] == unknown[2]
        assert known[1]["WWW-Authenticate"] == unknown[1]["WWW-Authenticate"]

        def as_device(mac):
            r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                     f"{known_mac(1)}:pw-1", f"http://127.0.0.1:{server.http_port}/redirect/{mac}"])
            return r.stdout.decode()

        assert as_device(known_mac(1)) == "302"
        # another device's MAC with a device's login: as if unknown
        assert as_device(known_mac(2)) == as_device(unknown_mac(rng)) == "404"

        # a device's login harvesting the other devices' files: blocked within the budget
        import base64
        auth = {"Authorization": "Basic " + base64.b64encode(
            f"{known_mac(1)}:pw-1".encode()).decode()}
        statuses = []
        for i in range(2, 2 + BUDGET):
            conn = http.client.HTTPConnection("127.0.0.1", server.http_port,
                                              timeout=HANG_GUARD,
                                              source_address=("127.0.0.16", 0))
            conn.request("GET", f"/algom{known_mac(i).upper()}.conf", headers=auth)
            resp = conn.getresponse()
            statuses.append(resp.status)
            assert b"secret" not in resp.read()
            conn.close()
            if resp.status == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {403}, statuses
    finally:
        server.stop()


def test_config_checked(tmp_path):
    site = Site(tmp_path / "site")
    site.write("a.cfg", b"x")
    site.conf("[defence]\nenabled = yes\nmax_misses = 10\nprefix_max_misses = 100\n"
              "miss_window = 30\nblock_time = 60\nprefix_v4 = 20\nprefix_v6 = 56\n"
              "trusted = 10.0.0.0/8 192.0.2.7\ntrusted = 2001:db8::/32\n"
              "trusted_max_misses = 5\n")
    result = run([BIN, "serve", "--site", site.root, "--check"])
    assert result.returncode == 0, result.stderr
    for bad in ("max_misses = 0", "miss_window = 0", "block_time = 100000", "prefix_v4 = 33",
                "prefix_v6 = 8", "trusted = 10.0.0.0/33", "trusted = nat.example",
                "enabled = maybe", "max_misess = 3"):
        site.conf("[defence]\n" + bad + "\n")
        result = run([BIN, "serve", "--site", site.root, "--check"])
        assert result.returncode == 1, bad
        assert b"autoprov.conf:2" in result.stderr, (bad, result.stderr)


def test_disabled(tmp_path):
    site = make_site(tmp_path / "site", "enabled = no\n")
    server = Server(site, tmp_path / "server")
    try:
        rng = random.Random(19)
        for _ in range(BUDGET + 10):
            assert tftp_ask(server, f"algom{unknown_mac(rng).upper()}.conf", "127.0.0.14")[1] == 1
        assert "blocked for" not in server.log()
    finally:
        server.stop()
