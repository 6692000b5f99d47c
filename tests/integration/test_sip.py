# SPDX-License-Identifier: MIT
"""SIP: the Plug-and-Play responder driven by sipp phones (each vendor's MAC form, repeated
SUBSCRIBEs, an ignored first NOTIFY, the multicast group in a network namespace, policies,
malformed datagrams) and `autoprov resync` against sipp phones (check-sync with and without
a 401 challenge, the reboot variants, a phone that never answers, the journal correlation).
Scenarios are in tests/integration/sip/; every exchange is checked in the journal too."""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from harness import BIN, run, sanitizer_report

SCENARIOS = Path(__file__).resolve().parent / "sip"
SIPP = shutil.which("sipp")

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")

BASE_CONF = """
[sip]
url = http://{{server}}:8080/cfg/$MA.cfg?v={{vendor}}
url_for = Panasonic http://{{server}}/pana/{{MAU}}.xml
url_for = Algo/8301 tftp://{{server}}/algo-8301/{{mac}}
url_for = Algo tftp://{{server}}/algo/
t1 = 100
"""


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def autoprov(*args, check_status=None):
    proc = run([str(BIN), *map(str, args)])
    text = proc.stderr.decode("utf-8", "replace")
    assert not sanitizer_report(text), text
    if check_status is not None:
        assert proc.returncode == check_status, (
            f"{args}: status {proc.returncode}\n{text}{proc.stdout.decode()}")
    return proc


def journal(site, mac=None, want=None, timeout=5.0):
    """`autoprov log` lines (optionally for mac), waiting until `want` (a regex) shows."""
    deadline = time.monotonic() + timeout
    while True:
        args = ["log", "--site", site.root] + (["--mac", mac] if mac else [])
        text = autoprov(*args, check_status=0).stdout.decode()
        if want is None or re.search(want, text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


class Sipp:
    """One sipp run; logs (<log> actions) go to a file read back by .logs()."""

    def __init__(self, tmp_path, scenario, remote=None, port=None, keys=(), netns=None,
                 timeout=20):
        self.log_file = tmp_path / f"sipp-{uuid.uuid4().hex[:8]}.log"
        self.msg_file = tmp_path / f"sipp-{uuid.uuid4().hex[:8]}.msg"
        self.err_file = tmp_path / f"sipp-{uuid.uuid4().hex[:8]}.err"
        cmd = [SIPP]
        if remote:
            cmd.append(remote)
        cmd += ["-sf", str(SCENARIOS / scenario), "-m", "1", "-i", "127.0.0.1",
                "-p", str(port or free_udp_port()), "-trace_logs", "-log_file",
                str(self.log_file), "-trace_msg", "-message_file", str(self.msg_file),
                "-trace_err", "-error_file", str(self.err_file),
                "-nostdin", "-timeout", str(timeout), "-timeout_error", "-recv_timeout",
                str(timeout * 1000)]
        for k, v in keys:
            cmd += ["-key", k, v]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

    def bound(self, port):
        """Waits until sipp has bound its UDP port (a bind of ours fails), or it exited."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    return self
            time.sleep(0.02)
        raise AssertionError(f"sipp did not bind 127.0.0.1:{port}: {' '.join(self.cmd)}")

    def wait(self, status=0):
        try:
            _, err = self.proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        errors = self.err_file.read_text(errors="replace") if self.err_file.exists() else ""
        assert self.proc.returncode == status, (
            f"sipp exited {self.proc.returncode}: {' '.join(self.cmd)}\n{err.decode()}\n"
            f"{errors[-3000:]}\nlogs:\n{self.logs_text()}")
        return self

    def logs_text(self):
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def received(self, method):
        """The requests of `method` sipp received (retransmissions included), as text."""
        text = self.msg_file.read_text(errors="replace") if self.msg_file.exists() else ""
        parts = re.split(r"^-{10,}.*$", text, flags=re.MULTILINE)
        return [p for p in parts
                if re.search(r"message received", p) and re.search(rf"^{method} ", p, re.M)]

    def logs(self, name):
        return re.findall(rf"^{name}=(.*)$", self.logs_text(), re.MULTILINE)


@pytest.fixture
def pnp(site, start_server):
    site.conf(BASE_CONF)
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp="off")
    assert "sip" in server.ports, server.port_file_text
    server.sip_port = server.ports["sip"]
    return server


# (Request-URI user, From user, vendor, model, canonical MAC, expected URL)
VENDOR_FORMS = [
    ("MAC%3a0080F0123456", "MAC%3a0080F0123456", "Panasonic", "KX-UTG300", "0080f0123456",
     "http://127.0.0.1/pana/0080F0123456.xml"),
    ("MAC=00304fa99948", "MAC=00304fa99948", "Flyingvoice", "FIP15G", "00304fa99948",
     "http://127.0.0.1:8080/cfg/$MA.cfg?v=Flyingvoice"),
    ("MAC:0022ee018301", "MAC:0022ee018301", "Algo", "8301", "0022ee018301",
     "tftp://127.0.0.1/algo-8301/0022ee018301"),
    ("0022ee018180", "0022ee018180", "algo", "8180", "0022ee018180", "tftp://127.0.0.1/algo/"),
    # the MAC only in From (the Request-URI names the service)
    ("pnp", "MAC%3a00908F010203", "AudioCodes", "400HD", "00908f010203",
     "http://127.0.0.1:8080/cfg/$MA.cfg?v=AudioCodes"),
]


@pytest.mark.parametrize("ruser,fuser,vendor,model,mac,url", VENDOR_FORMS)
def test_pnp_vendor_forms(tmp_path, site, pnp, ruser, fuser, vendor, model, mac, url):
    phone = Sipp(tmp_path, "pnp_subscribe.xml", remote=f"127.0.0.1:{pnp.sip_port}",
                 keys=[("ruser", ruser), ("fuser", fuser), ("vendor", vendor),
                       ("model", model)]).wait()
    assert phone.logs("URL") == [url]
    assert phone.logs("CTYPE") == ["application/url"]
    assert phone.logs("STATE") == ["terminated;reason=timeout"]
    text = journal(site, mac, want=r"notify-200")
    assert re.search(r" sip \S+ \S+ \"sip:[^\"]+\" pnp-url-sent ", text), text
    assert " notify-200 " in text, text
    pnp.assert_alive()


@pytest.mark.parametrize("tftp", ["fixed", "0"])
def test_pnp_default_url_carries_the_tftp_port(tmp_path, site, start_server, tftp):
    """Without [sip] url, the NOTIFY names this daemon's TFTP listener, with its port when
    it is not 69 (given, or chosen by the kernel for port 0), as a sipp phone receives it."""
    site.conf("[sip]\nt1 = 100\n")
    port = free_udp_port() if tftp == "fixed" else 0
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp=f"127.0.0.1:{port}")
    phone = Sipp(tmp_path, "pnp_subscribe.xml", remote=f"127.0.0.1:{server.ports['sip']}",
                 keys=[("ruser", "MAC%3a0080F0123457"), ("fuser", "MAC%3a0080F0123457"),
                       ("vendor", "Panasonic"), ("model", "KX-UTG300")]).wait()
    assert phone.logs("URL") == [f"tftp://127.0.0.1:{server.ports['tftp']}/"]
    assert server.ports["tftp"] == port or port == 0


def test_pnp_inventory_variables(tmp_path, site, start_server):
    """The URL template sees the device's variables (device > group > defaults, SN)."""
    site.conf("[sip]\nurl = https://{{prov_host}}/{{group}}/{{model}}/{{MAC}}?sn={{SN}}\n"
              "t1 = 100\n")
    autoprov("device", "--site", site.root, "defaults", "set", "--var", "prov_host=dflt.example",
             check_status=0)
    autoprov("device", "--site", site.root, "group", "set", "lobby", "--var",
             "prov_host=lobby.example", check_status=0)
    autoprov("device", "--site", site.root, "add", "0004f2aabbcc", "--model", "VVX", "--group",
             "lobby", "--var", "serial=SN-7", check_status=0)
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp="off")
    phone = Sipp(tmp_path, "pnp_subscribe.xml", remote=f"127.0.0.1:{server.ports['sip']}",
                 keys=[("ruser", "MAC%3a0004F2AABBCC"), ("fuser", "x"), ("vendor", "Poly"),
                       ("model", "VVX")]).wait()
    # SN: the serial's alias, as in rendered files (the directory adds it for both)
    assert phone.logs("URL") == ["https://lobby.example/lobby/VVX/00:04:f2:aa:bb:cc?sn=SN-7"]


def test_pnp_repeated_subscribe_one_notify(tmp_path, site, pnp):
    phone = Sipp(tmp_path, "pnp_repeat.xml", remote=f"127.0.0.1:{pnp.sip_port}",
                 keys=[("ruser", "MAC%3a0004138A1B2C"), ("vendor", "Algo"),
                       ("model", "8180")]).wait()
    assert phone.logs("URL") == ["tftp://127.0.0.1/algo/"]
    assert "RETRANSMISSION-ANSWERED" in phone.logs_text()
    assert "REPEAT-ANSWERED" in phone.logs_text()

    # the same phone again with a new Call-ID: answered 200, still no second NOTIFY
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(1.5)
        s.sendto(subscribe(s.getsockname()[1], "MAC%3a0004138A1B2C", call_id="new-call"),
                 ("127.0.0.1", pnp.sip_port))
        answer, _ = s.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 200 "), answer
        with pytest.raises(socket.timeout):
            extra, _ = s.recvfrom(65535)
            pytest.fail(f"a second NOTIFY came: {extra!r}")
    text = journal(site, "0004138a1b2c", want=r"(?s)subscribe-repeat.*subscribe-repeat")
    assert text.count(" pnp-url-sent ") == 1, text
    assert text.count(" notify-200 ") == 1, text
    assert text.count(" subscribe-repeat ") >= 2, text


def test_pnp_notify_retransmitted(tmp_path, site, pnp):
    phone = Sipp(tmp_path, "pnp_ignore_notify.xml", remote=f"127.0.0.1:{pnp.sip_port}",
                 keys=[("ruser", "MAC=00304fa99948"), ("vendor", "Flyingvoice"),
                       ("model", "FIP")]).wait()
    notifies = phone.received("NOTIFY")
    # an unconfirmed peer gets at most 3x the bytes it sent: the NOTIFY, not resent on
    # every Timer E, but the transaction still takes the late 200
    assert 1 <= len(notifies) <= 2, notifies
    branches = {re.search(r"branch=(z9hG4bK\w+)", n).group(1) for n in notifies}
    assert phone.logs("FIRST") == [f"branch={b}" for b in branches]  # one transaction
    assert phone.logs("URL") == ["http://127.0.0.1:8080/cfg/$MA.cfg?v=Flyingvoice"]
    assert " notify-200 " in journal(site, "00304fa99948", want="notify-200")


def subscribe(local_port, user, call_id="c1", branch=None, cseq=1, extra="", drop=(),
              content_length=None, body=b""):
    headers = [
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch or 'z9hG4bK' + call_id}",
        f"From: <sip:{user}@224.0.1.75>;tag=t{call_id}",
        f"To: <sip:{user}@224.0.1.75>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} SUBSCRIBE",
        f"Contact: <sip:127.0.0.1:{local_port}>",
        'Event: ua-profile;profile-type="device";vendor="Algo";model="8180"',
        f"Content-Length: {len(body) if content_length is None else content_length}",
    ]
    headers = [h for h in headers if h.split(":")[0] not in drop]
    text = f"SUBSCRIBE sip:{user}@224.0.1.75 SIP/2.0\r\n" + "".join(h + "\r\n" for h in headers)
    return (text + extra + "\r\n").encode() + body


def test_pnp_malformed_datagrams(site, pnp):
    """Garbage is dropped or answered 400 while a good SUBSCRIBE in between is answered."""
    dest = ("127.0.0.1", pnp.sip_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        port = s.getsockname()[1]

        s.sendto(subscribe(port, "MAC%3a000000000001", call_id="x1", drop=("Call-ID",)), dest)
        answer, _ = s.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 400 missing Call-ID\r\n"), answer
        assert b"Via: SIP/2.0/UDP 127.0.0.1" in answer

        s.sendto(subscribe(port, "MAC%3a000000000002", call_id="x2", content_length=500), dest)
        answer, _ = s.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 400 Content-Length larger than the datagram"), answer

        s.sendto(os.urandom(1200), dest)  # noise: dropped
        s.sendto(b"\x00\x01\x02 SIP/2.0\r\n\r\n", dest)
        big = subscribe(port, "MAC%3a000000000003", call_id="x3",
                        extra="".join(f"X-Pad-{i}: {'a' * 900}\r\n" for i in range(70)))
        assert len(big) > 60000
        s.sendto(big, dest)  # 64 KB: too many headers, 400
        answer, _ = s.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 400 "), answer[:100]
        s.sendto(b"A" * 65000, dest)  # one 64 KB line: dropped

        # a well-formed SUBSCRIBE right after: 200 then the NOTIFY
        s.sendto(subscribe(port, "MAC%3a0004f2000001", call_id="good"), dest)
        answer, _ = s.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 200 OK\r\n"), answer
        assert b"\r\nExpires: 0\r\n" in answer
        assert re.search(rb"\r\nTo: <sip:MAC%3a0004f2000001@224.0.1.75>;tag=\w+\r\n", answer)
        notify, _ = s.recvfrom(65535)
        assert notify.startswith(b"NOTIFY sip:127.0.0.1:"), notify
        assert notify.endswith(b"\r\n\r\ntftp://127.0.0.1/algo/"), notify
        # wrong Event: 489
        s.sendto(subscribe(port, "x", call_id="ev").replace(b"ua-profile", b"presence"), dest)
        answer, _ = s.recvfrom(65535)
        while answer.startswith(b"NOTIFY"):  # retransmissions of the NOTIFY we ignore
            answer, _ = s.recvfrom(65535)
        assert answer.startswith(b"SIP/2.0 489 Bad Event"), answer
    pnp.assert_alive()
    text = journal(site, want=r"(?s)bad-request.*bad-request.*bad-request.*pnp-url-sent")
    assert text.count(" bad-request ") == 3, text
    assert " bad-event " in text


def test_pnp_policies(tmp_path, site, start_server):
    site.conf("[sip]\nanswer = known\nt1 = 100\n")
    autoprov("device", "--site", site.root, "add", "0004f2000010", check_status=0)
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp="off")
    dest = ("127.0.0.1", server.ports["sip"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(1)
        port = s.getsockname()[1]
        s.sendto(subscribe(port, "MAC%3a0004f2000011", call_id="unknown"), dest)
        with pytest.raises(socket.timeout):
            s.recvfrom(65535)
        s.sendto(subscribe(port, "MAC%3a0004f2000010", call_id="known"), dest)
        assert s.recvfrom(65535)[0].startswith(b"SIP/2.0 200 ")
    assert " ignored-unknown " in journal(site, "0004f2000011", want="ignored-unknown")
    server.stop()

    site.conf("[sip]\nanswer = oui\noui = 00:04:F2 0080f0\nt1 = 100\n")
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp="off")
    dest = ("127.0.0.1", server.ports["sip"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(1)
        port = s.getsockname()[1]
        s.sendto(subscribe(port, "MAC%3a001122334455", call_id="other-oui"), dest)
        with pytest.raises(socket.timeout):
            s.recvfrom(65535)
        s.sendto(subscribe(port, "MAC%3a0080f0998877", call_id="listed"), dest)
        assert s.recvfrom(65535)[0].startswith(b"SIP/2.0 200 ")
    assert " ignored-oui " in journal(site, "001122334455", want="ignored-oui")


def test_config_errors(site):
    site.conf("[sip]\nanswer = maybe\n")
    proc = autoprov("serve", "--site", site.root, "--check")
    assert proc.returncode == 1
    assert "autoprov.conf:2" in proc.stderr.decode() and "all known oui" in proc.stderr.decode()
    site.conf("[sip]\nt1 = 5\n")
    assert autoprov("serve", "--site", site.root, "--check").returncode == 1
    site.conf("[sip]\nurl_for = novendorurl\n")
    assert autoprov("serve", "--site", site.root, "--check").returncode == 1
    site.conf("[sip]\nbogus = 1\n")
    assert autoprov("serve", "--site", site.root, "--check").returncode == 1


NETNS = f"apsip{os.getpid()}"


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 for a network namespace")
    if run(["ip", "netns", "add", NETNS]).returncode != 0:
        pytest.skip("cannot create a network namespace")
    try:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "set", "lo", "multicast", "on"],
                    ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
            proc = run(["ip", "netns", "exec", NETNS] + cmd)
            assert proc.returncode == 0, proc.stderr
        yield NETNS
    finally:
        run(["ip", "netns", "del", NETNS])


def test_pnp_multicast_in_netns(tmp_path, site, netns):
    """A phone multicasting its SUBSCRIBE to 224.0.1.75:5060 (in a namespace of our own)."""
    site.conf(BASE_CONF + "multicast = on\ninterfaces = lo\n")
    ports = tmp_path / "ports"
    err = open(tmp_path / "serve.err", "wb")
    proc = subprocess.Popen(["ip", "netns", "exec", netns, str(BIN), "serve", "--site",
                             str(site.root), "--tftp", "off", "--sip", "127.0.0.1:5060",
                             "--port-file", str(ports), "--user", "root"],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while not ports.exists():
            assert proc.poll() is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert "sip 5060" in ports.read_text()
        phone = Sipp(tmp_path, "pnp_subscribe.xml", remote="224.0.1.75:5060", netns=netns,
                     keys=[("ruser", "MAC%3a0080F0ABCDEF"), ("fuser", "MAC%3a0080F0ABCDEF"),
                           ("vendor", "Panasonic"), ("model", "KX")]).wait()
        assert phone.logs("URL") == ["http://127.0.0.1/pana/0080F0ABCDEF.xml"]
        text = journal(site, "0080f0abcdef", want="notify-200")
        assert " pnp-url-sent " in text and " notify-200 " in text, text
    finally:
        proc.terminate()
        proc.wait(10)
        err.close()
    log = (tmp_path / "serve.err").read_text()
    assert proc.returncode == 0, log
    assert not sanitizer_report(log), log
    assert "and 224.0.1.75" in log


# ---- autoprov resync ----


def add_phone(site, mac, profile, port=None, **variables):
    args = ["device", "--site", site.root, "add", mac, "--profile", profile]
    if port:
        args += ["--var", f"sip_contact=sip:100@127.0.0.1:{port}"]
    for k, v in variables.items():
        args += ["--var", f"{k}={v}"]
    autoprov(*args, check_status=0)


def resync(site, *args, status=0):
    proc = autoprov("resync", "--site", site.root, "--json", "--wait", "0", *args,
                    check_status=status)
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


@pytest.mark.parametrize("profile,reboot,event", [
    ("fip", False, "check-sync;reboot=false"),
    ("algo", False, "check-sync"),
    ("fip", True, "check-sync;reboot=true"),
    ("spa", False, "resync"),
    ("spa", True, "reboot"),
])
def test_resync_events(tmp_path, site, profile, reboot, event):
    port = free_udp_port()
    phone = Sipp(tmp_path, "uas_notify.xml", port=port).bound(port)
    add_phone(site, "0021f2000001", profile, port)
    rows = resync(site, "0021f2000001", *(["--reboot"] if reboot else []))
    phone.wait()
    assert phone.logs("EVENT") == [event]
    assert len(rows) == 1
    assert rows[0]["status"] == 200 and rows[0]["sent"] and rows[0]["event"] == event, rows
    assert rows[0]["contact"] == f"127.0.0.1:{port}"


def test_resync_digest_challenge(tmp_path, site):
    port = free_udp_port()
    phone = Sipp(tmp_path, "uas_notify_auth.xml", port=port).bound(port)
    add_phone(site, "0022ee000001", "algo", port, sip_user="admin", sip_password="s3cret")
    rows = resync(site, "00:22:ee:00:00:01")
    phone.wait()
    assert rows[0]["status"] == 200 and rows[0]["authenticated"], rows
    assert phone.logs("CSEQ") == ["2 NOTIFY"]
    auth = phone.logs("AUTH")[0]
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', auth.split(" ", 1)[1]))
    assert params["username"] == "admin" and params["realm"] == "phone"
    assert params["nonce"] == "4f1c2a9e7d" and params["opaque"] == "op1"
    assert params["qop"] == "auth"

    def h(s):
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = h("admin:phone:s3cret")
    ha2 = h(f"NOTIFY:{params['uri']}")
    expect = h(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    assert params["response"] == expect, auth


def test_resync_without_credentials_reports_401(tmp_path, site):
    port = free_udp_port()
    phone = Sipp(tmp_path, "uas_notify_auth.xml", port=port).bound(port)
    add_phone(site, "0022ee000002", "algo", port)
    rows = resync(site, "0022ee000002", status=1)
    assert rows[0]["status"] == 401, rows
    phone.proc.kill()
    phone.proc.wait()


def test_resync_timeout_and_no_contact(site):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        add_phone(site, "0022ee000003", "algo", silent.getsockname()[1])
        add_phone(site, "0022ee000004", "fip")  # no contact, never provisioned
        start = time.monotonic()
        rows = resync(site, "--all", "--t1", "20", status=1)
        assert time.monotonic() - start < 10
        seen = 0
        silent.settimeout(0.1)
        try:
            while True:
                silent.recvfrom(65535)
                seen += 1
        except socket.timeout:
            pass
    by_mac = {r["mac"]: r for r in rows}
    assert by_mac["0022ee000003"]["reason"] == "timeout" and by_mac["0022ee000003"]["sent"]
    assert by_mac["0022ee000004"]["reason"] == "no contact"
    assert not by_mac["0022ee000004"]["sent"]
    assert seen >= 5  # Timer E retransmissions


def test_resync_usage(site):
    assert autoprov("resync", "--site", site.root).returncode == 2
    assert autoprov("resync", "--site", site.root, "--all", "--rate", "0").returncode == 2
    proc = autoprov("resync", "--site", site.root, "0022ee999999")
    assert proc.returncode == 1 and "not in the inventory" in proc.stderr.decode()
    assert autoprov("resync", "--help").returncode == 0


def test_resync_sees_the_fetch(tmp_path, site, start_server):
    """A phone that answers check-sync and then fetches its file: the report says so."""
    (site.root / "templates").mkdir()
    (site.root / "templates" / "{mac}.cfg").write_text("hello {{mac}}\n")
    autoprov("device", "--site", site.root, "add", "0021f2000009", "--profile", "fip",
             check_status=0)
    server = start_server(site, tftp="127.0.0.1:0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        autoprov("device", "--site", site.root, "set", "0021f2000009", "--var",
                 f"sip_contact=127.0.0.1:{phone.getsockname()[1]}", check_status=0)
        proc = subprocess.Popen([str(BIN), "resync", "--site", str(site.root), "--json",
                                 "--wait", "10", "0021f2000009"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        phone.settimeout(10)
        notify, peer = phone.recvfrom(65535)
        lines = notify.decode().split("\r\n")
        assert lines[0].startswith("NOTIFY ")
        keep = [l for l in lines if l.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
        phone.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                      "\r\nContent-Length: 0\r\n\r\n").encode(), peer)
        assert server.get("0021f2000009.cfg").data == b"hello 0021f2000009\n"
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    row = json.loads(out)
    assert row["fetched"] and row["fetch_proto"] == "tftp", row
    assert row["fetch_path"] == "0021f2000009.cfg"


def pnp_server(site, start_server, conf=""):
    site.conf(BASE_CONF + conf)
    server = start_server(site, args=("--sip", "127.0.0.1:0"), tftp="off")
    server.sip_port = server.ports["sip"]
    return server


def udp(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


def drain(sock, seconds):
    """Every datagram sock receives within `seconds`."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append(sock.recvfrom(65535)[0])
        except (socket.timeout, TimeoutError):
            break
    return got


def test_pnp_contact_of_a_third_party_gets_nothing(site, start_server):
    server = pnp_server(site, start_server)
    dest = ("127.0.0.1", server.sip_port)
    with udp("127.0.0.60") as victim, udp("127.0.0.61") as phone:
        vport = victim.getsockname()[1]
        msg = subscribe(phone.getsockname()[1], "MAC%3a0004f2000061", call_id="third")
        msg = msg.replace(f"Contact: <sip:127.0.0.1:{phone.getsockname()[1]}>".encode(),
                          f"Contact: <sip:127.0.0.60:{vport}>".encode())
        assert b"127.0.0.60" in msg
        phone.sendto(msg, dest)
        # the source gets the 200 and the NOTIFY; the host in Contact gets nothing
        got = drain(phone, 1.0)
        assert got and got[0].startswith(b"SIP/2.0 200 OK"), got
        assert any(g.startswith(b"NOTIFY sip:127.0.0.60:") for g in got), got
        assert drain(victim, 1.0) == []
    server.assert_alive()


def test_pnp_contact_on_the_same_host_chooses_the_port(site, start_server):
    server = pnp_server(site, start_server)
    with udp("127.0.0.62") as listener, udp("127.0.0.62") as sender:
        msg = subscribe(sender.getsockname()[1], "MAC%3a0004f2000062", call_id="same")
        msg = msg.replace(f"Contact: <sip:127.0.0.1:{sender.getsockname()[1]}>".encode(),
                          f"Contact: <sip:127.0.0.62:{listener.getsockname()[1]}>".encode())
        sender.sendto(msg, ("127.0.0.1", server.sip_port))
        assert drain(sender, 0.5)[0].startswith(b"SIP/2.0 200 OK")
        assert drain(listener, 1.0)[0].startswith(b"NOTIFY ")


def test_pnp_spoofed_subscribe_reflects_at_most_3x(site, start_server):
    # T1 = 50 ms: unbounded, Timer E would resend the NOTIFY 6 times within 64*T1
    server = pnp_server(site, start_server, "t1 = 50\n")
    with udp("127.0.0.63") as victim:
        msg = subscribe(victim.getsockname()[1], "MAC%3a0004f2000063", call_id="spoof")
        victim.sendto(msg, ("127.0.0.1", server.sip_port))
        got = drain(victim, 64 * 0.05 + 1)  # never answered
    notifies = [g for g in got if g.startswith(b"NOTIFY ")]
    received = sum(len(g) for g in got)
    print(f"spoofed SUBSCRIBE: {len(msg)} bytes sent, {received} bytes in {len(got)} datagrams "
          f"received: x{received / len(msg):.2f}")
    assert 1 <= len(notifies) <= 2, [g[:40] for g in got]
    assert received <= 3 * len(msg), (received, len(msg))
    server.assert_alive()


def test_pnp_flood_from_one_source_leaves_room_for_phones(site, start_server):
    server = pnp_server(site, start_server, "max_subscriptions = 100\n")
    dest = ("127.0.0.1", server.sip_port)
    with udp("127.0.0.64") as flood:
        fport = flood.getsockname()[1]
        for i in range(500):
            flood.sendto(subscribe(fport, f"MAC%3a0004f2{i:06x}", call_id=f"flood-{i}"), dest)
            if i % 50 == 49:
                time.sleep(0.01)  # let the loopback queue drain: this is about state
        time.sleep(0.3)
        with udp("127.0.0.65") as phone:
            phone.sendto(subscribe(phone.getsockname()[1], "MAC%3a0004f2aaaaaa",
                                   call_id="legit"), dest)
            got = drain(phone, 1.0)
        answered = drain(flood, 0.2)
    assert got and got[0].startswith(b"SIP/2.0 200 OK"), got
    assert any(g.startswith(b"NOTIFY ") for g in got), got
    # the flood's own answers: its first max_per_source exchanges only
    assert sum(1 for g in answered if g.startswith(b"SIP/2.0 503")) == 0
    lines = server.wait_log(r"SUBSCRIBE flood: (\d+) dropped over max_per_source 8", count=1,
                            timeout=3)
    time.sleep(1.2)  # the line of the last counts
    lines = re.findall(r"SUBSCRIBE flood: (\d+) dropped", server.log())
    assert 1 <= len(lines) <= 4, lines
    # every SUBSCRIBE beyond the first 8 that reached the daemon is counted, none twice (on a
    # busy machine the kernel may drop some of a flood's datagrams before the daemon reads them)
    assert 0 < sum(int(n) for n in lines) <= 500 - 8
    server.assert_alive()
