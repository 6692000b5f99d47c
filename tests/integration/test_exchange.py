# SPDX-License-Identifier: MIT
"""One exchange for every protocol (src/site/exchange.c): the same outcome gets the same
journal row and the matching answer over TFTP, HTTP and FTP. A template that fails is the
server's fault everywhere (TFTP error 0, HTTP 500, FTP 451, a warning, journaled `error`),
and the access rule refuses another device's file whatever the protocol."""

import base64
import ftplib
import re
import time

import tftp_raw
from harness import BIN, HANG_GUARD, Site, request, run

DEV_A = "0022ee0a0001"
DEV_B = "0022ee0b0002"
PASS_B = "pw-of-b"


def make_site(tmp_path, conf=""):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "dev{mac}.cfg").write_text("device {{mac}}\n")
    (tdir / "broken.cfg").write_text("{{#unclosed}}never closed\n")
    site.conf("[auth]\nuser = admin:s3cret\nfailure_delay = 10\n" + conf)
    for mac, extra in ((DEV_A, []), (DEV_B, ["--var", f"prov_password={PASS_B}"])):
        result = run([BIN, "device", "--site", site.root, "add", mac, *extra])
        assert result.returncode == 0, result.stderr.decode()
    return site


def wait_journal(root, pattern, count):
    deadline = time.monotonic() + HANG_GUARD
    while True:
        text = run([BIN, "log", "--site", root]).stdout.decode()
        found = re.findall(pattern, text)
        if len(found) >= count or time.monotonic() > deadline:
            return found, text
        time.sleep(0.1)


def tftp_ask(server, name):
    with tftp_raw.Client(server.ports["tftp"]) as c:
        pkt = c.request(name)
        if pkt.op == tftp_raw.ERROR:
            return ("error", pkt.code, pkt.message)
        return ("data", c.receive(pkt).data)


def ftp_login(server, user, password):
    ftp = ftplib.FTP(timeout=HANG_GUARD)
    ftp.connect("127.0.0.1", server.ports["ftp"])
    ftp.login(user, password)
    return ftp


def test_failing_template_is_a_server_error_on_every_protocol(tmp_path, start_server):
    site = make_site(tmp_path)
    server = start_server(site, args=("--http", "127.0.0.1:0", "--ftp", "127.0.0.1:0"))

    assert tftp_ask(server, "broken.cfg") == ("error", 0, "server error")
    resp = request(server.ports["http"], "/broken.cfg")
    assert resp.status == 500, resp
    ftp = ftp_login(server, "admin", "s3cret")
    try:
        ftp.retrbinary("RETR broken.cfg", lambda b: None)
        raise AssertionError("RETR of a failing template succeeded")
    except ftplib.error_temp as e:
        assert str(e).startswith("451"), e
    finally:
        ftp.close()

    for proto in ("tftp", "http", "ftp"):
        server.wait_log(rf'warning {proto}: 127\.0\.0\.1:\d+ .*"[^"]*broken\.cfg" '
                        r'(error|500), 0 bytes.*the template fails')
    found, text = wait_journal(site.root, r'\b(tftp|http|ftp) \S+ \S+ "/?broken\.cfg" error\b', 3)
    assert sorted(found) == ["ftp", "http", "tftp"], text


def test_another_devices_file_refused_on_every_protocol(tmp_path, start_server):
    site = make_site(tmp_path, "[http]\nauth = basic\n[ftp]\nanonymous = yes\n"
                               "[tftp]\ndevice_files = deny\n")
    server = start_server(site, args=("--http", "127.0.0.1:0", "--ftp", "127.0.0.1:0"))
    other = f"dev{DEV_A}.cfg"

    # TFTP has no login: device files are refused to everyone (device_files = deny)
    assert tftp_ask(server, other) == ("error", 2, "access violation")
    assert tftp_ask(server, "generic.cfg") == ("data", b"generic\n")
    # HTTP: device B's login gets its own file, not A's
    auth = {"Authorization": "Basic " + base64.b64encode(f"{DEV_B}:{PASS_B}".encode()).decode()}
    assert request(server.ports["http"], f"/dev{DEV_B}.cfg", headers=auth).status == 200
    assert request(server.ports["http"], f"/{other}", headers=auth).status == 403
    # FTP: the same login, the same rule
    ftp = ftp_login(server, DEV_B, PASS_B)
    try:
        try:
            ftp.retrbinary(f"RETR {other}", lambda b: None)
            raise AssertionError("RETR of another device's file succeeded")
        except ftplib.error_perm as e:
            assert str(e).startswith("550 Permission denied"), e
        # a listing by name is opened as RETR opens the file: no line, the same refusal
        try:
            ftp.retrlines(f"LIST {other}", lambda line: None)
            raise AssertionError("LIST of another device's file succeeded")
        except ftplib.error_perm as e:
            assert str(e).startswith("550 Permission denied"), e
        lines = []
        ftp.retrlines(f"LIST dev{DEV_B}.cfg", lines.append)
        assert len(lines) == 1 and lines[0].endswith(f"dev{DEV_B}.cfg"), lines
    finally:
        ftp.close()

    server.wait_log(rf'ftp: .*LIST "/{other}" denied, 0 bytes.*the login is another device\'s')
    server.wait_log(rf'tftp: .*"{other}" denied')
    server.wait_log(rf'http: .*"GET /{other}" 403, 0 bytes: the login is another device\'s')
    server.wait_log(rf'ftp: .*RETR "/{other}" denied, 0 bytes.*the login is another device\'s')
