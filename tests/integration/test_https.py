# SPDX-License-Identifier: MIT
"""HTTPS: the example site's files over TLS with curl, TLS versions and resumption with
openssl s_client, and client certificates bound to devices (right device, another device,
expired, unknown CA, none where required, first-use binding)."""

import re
import shutil
import subprocess
import time

import pytest

from harness import BIN, HANG_GUARD, VENDOR_FILES, Site, example_site, md5, run
from pki import Pki

DEV_A = "0022ee0a0001"
DEV_B = "0022ee0b0002"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    p = Pki(tmp_path_factory.mktemp("pki"))
    p.good_a = p.device("dev-a", "00:22:EE:0A:00:01")
    p.good_b = p.device("dev-b", DEV_B)
    p.san_a = p.device("san-a", DEV_A, where="san")
    p.nomac = p.device("nomac", None, where="none")
    p.two_cn = p.issue("two-cn", f"/CN={DEV_A} {DEV_B}")
    p.cn_san = p.issue("cn-san", f"/CN={DEV_A}", san=f"URI:urn:dev:mac:{DEV_B}")
    p.expired_a = p.device("expired-a", DEV_A, start="20200101000000Z", end="20210101000000Z")
    p.foreign_a = p.device("foreign-a", DEV_A, ca="other-ca")
    return p


def tls_site(tmp_path, pki, https_conf=""):
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    (site.root / "templates").mkdir()
    (site.root / "templates" / "dev{mac}.cfg").write_text("device {{mac}}\n")
    tls = site.root / "tls"
    tls.mkdir()
    shutil.copy(pki.server, tls / "server.pem")
    shutil.copy(pki.server_key, tls / "server.key")
    shutil.copy(pki.ca, tls / "devices-ca.pem")
    site.conf("[https]\n" + https_conf)
    for mac in (DEV_A, DEV_B):
        result = run([BIN, "device", "--site", site.root, "add", mac])
        assert result.returncode == 0, result.stderr.decode()
    return site


def start_https(start_http, site):
    srv = start_http(site, args=("--https", "127.0.0.1:0"), expect_http=False)
    assert srv.https_port, srv.port_file_text
    return srv


def curl_s(srv, pki, path, *options):
    return run(["curl", "-s", "-S", "--cacert", pki.ca, "-o", "-", "-w", "\n%{http_code}",
                *options, f"https://127.0.0.1:{srv.https_port}{path}"])


def code(result):
    return int(result.stdout.rsplit(b"\n", 1)[1]) if result.stdout else 0


def with_cert(cert, pki):
    return ("--cert", str(cert), "--key", str(pki.key_of(cert)))


def test_example_site_over_https(tmp_path, start_http, pki):
    root = example_site(tmp_path)
    shutil.copy(pki.server, root / "server.pem")
    shutil.copy(pki.server_key, root / "server.key")
    with open(root / "autoprov.conf", "a") as f:
        f.write("\n[https]\ncertificate = server.pem\nkey = server.key\n")
    srv = start_https(start_http, Site(root))
    for mac, name in VENDOR_FILES:
        body = tmp_path / "body"
        result = run(["curl", "-s", "-S", "--cacert", pki.ca, "-o", body, "-w", "%header{etag}",
                      f"https://127.0.0.1:{srv.https_port}/{name}"])
        assert result.returncode == 0, (name, result.stderr)
        data = body.read_bytes()
        assert data and result.stdout.decode().strip('"') == md5(data), name
        # rendered for HTTPS: a {{server_url}} in it names this listener
        if b"https://" in data:
            assert f"https://127.0.0.1:{srv.https_port}".encode() in data, name


def test_head_range_and_conditional_over_https(tmp_path, start_http, pki):
    srv = start_https(start_http, tls_site(tmp_path, pki))
    head = run(["curl", "-s", "-I", "--cacert", pki.ca,
                f"https://localhost:{srv.https_port}/generic.cfg"])
    assert b"200 OK" in head.stdout and b"Content-Length: 8" in head.stdout
    etag = re.search(rb'ETag: ("[0-9a-f]+")', head.stdout).group(1).decode()
    part = curl_s(srv, pki, "/generic.cfg", "-r", "0-2")
    assert code(part) == 206 and part.stdout.rsplit(b"\n", 1)[0] == b"gen"
    cond = curl_s(srv, pki, "/generic.cfg", "-H", f"If-None-Match: {etag}")
    assert code(cond) == 304


def s_client(port, *args, stdin=b"", timeout=HANG_GUARD):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          input=stdin, capture_output=True, timeout=timeout)


@pytest.mark.parametrize("version,accepted", [("-tls1", False), ("-tls1_1", False),
                                              ("-tls1_2", True), ("-tls1_3", True)])
def test_tls_versions(tmp_path, start_http, pki, version, accepted):
    srv = start_https(start_http, tls_site(tmp_path, pki))
    # SECLEVEL=0 lets the client offer 1.0 and 1.1: the refusal is the server's
    result = s_client(srv.https_port, version, "-cipher", "DEFAULT@SECLEVEL=0")
    out = result.stdout.decode() + result.stderr.decode()
    if accepted:
        assert re.search(r"(New, |Protocol\s*: )TLSv1\.[23]", out), out
    else:
        assert "Cipher is (NONE)" in out or "alert protocol version" in out, out


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_session_resumption(tmp_path, start_http, pki, version):
    srv = start_https(start_http, tls_site(tmp_path, pki))
    sess = tmp_path / "session.pem"
    request = b"GET /generic.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    first = s_client(srv.https_port, version, "-sess_out", sess, "-ign_eof", stdin=request)
    assert b"generic" in first.stdout, first.stdout.decode()
    second = s_client(srv.https_port, version, "-sess_in", sess, "-ign_eof", stdin=request)
    assert b"Reused," in second.stdout, second.stdout.decode()
    assert b"generic" in second.stdout


def test_resumption_by_session_id_after_client_closes(tmp_path, start_http, pki):
    """TLS 1.2 without tickets: the session is in the server's cache only if the
    connection the client ended (close_notify, no Connection: close) ended cleanly."""
    srv = start_https(start_http, tls_site(tmp_path, pki))
    sess = tmp_path / "session.pem"
    first = s_client(srv.https_port, "-tls1_2", "-no_ticket", "-sess_out", sess)
    assert b"New, TLSv1.2" in first.stdout, first.stdout.decode()
    second = s_client(srv.https_port, "-tls1_2", "-no_ticket", "-sess_in", sess)
    assert b"Reused," in second.stdout, second.stdout.decode()


def cert_site(tmp_path, pki, mode="required", binding="off"):
    return tls_site(tmp_path, pki, f"client_certificates = {mode}\nclient_ca = tls/devices-ca.pem\n"
                    f"client_binding = {binding}\n")


def test_client_certificate_own_generic_and_other(tmp_path, start_http, pki):
    site = cert_site(tmp_path, pki)
    srv = start_https(start_http, site)
    for cert in (pki.good_a, pki.san_a):
        own = curl_s(srv, pki, f"/dev{DEV_A}.cfg", *with_cert(cert, pki))
        assert code(own) == 200 and own.stdout.startswith(f"device {DEV_A}".encode())
    assert code(curl_s(srv, pki, "/generic.cfg", *with_cert(pki.good_a, pki))) == 200
    other = curl_s(srv, pki, f"/dev{DEV_B}.cfg", *with_cert(pki.good_a, pki))
    assert code(other) == 403
    srv.wait_log(rf'"GET /dev{DEV_B}\.cfg" 403.*certificate is another device')
    deadline = time.monotonic() + HANG_GUARD
    while f'"/dev{DEV_B}.cfg" denied' not in run([BIN, "log", "--site", site.root]).stdout.decode():
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("which", ["expired_a", "foreign_a", None])
def test_bad_or_missing_certificate_refused_when_required(tmp_path, start_http, pki, which):
    srv = start_https(start_http, cert_site(tmp_path, pki))
    opts = with_cert(getattr(pki, which), pki) if which else ()
    result = curl_s(srv, pki, "/generic.cfg", *opts)
    assert code(result) == 0 and result.returncode != 0, result
    srv.wait_log(r"TLS handshake failed")
    srv.assert_alive()


def test_optional_client_certificates(tmp_path, start_http, pki):
    srv = start_https(start_http, cert_site(tmp_path, pki, mode="optional"))
    assert code(curl_s(srv, pki, f"/dev{DEV_B}.cfg")) == 200  # no certificate: no device
    assert code(curl_s(srv, pki, f"/dev{DEV_B}.cfg", *with_cert(pki.good_a, pki))) == 403
    assert curl_s(srv, pki, "/generic.cfg", *with_cert(pki.expired_a, pki)).returncode != 0


def test_first_use_binding(tmp_path, start_http, pki):
    site = cert_site(tmp_path, pki, binding="first-use")
    srv = start_https(start_http, site)
    # a certificate naming no MAC, or two, is never bound: it gets no device file
    for cert in (pki.nomac, pki.two_cn, pki.cn_san):
        assert code(curl_s(srv, pki, f"/dev{DEV_B}.cfg", *with_cert(cert, pki))) == 403
        assert code(curl_s(srv, pki, f"/dev{DEV_A}.cfg", *with_cert(cert, pki))) == 403
    shown = run([BIN, "device", "--site", site.root, "show", DEV_B, "--json"]).stdout.decode()
    assert "prov_cert_sha256" not in shown
    # the device's own certificate is bound to the first device file it fetches
    assert code(curl_s(srv, pki, f"/dev{DEV_B}.cfg", *with_cert(pki.good_b, pki))) == 200
    srv.wait_log(rf"bound to device {DEV_B} \(first use\)")
    # recorded by the journal's writer, off the loop: it reaches the inventory shortly
    deadline = time.monotonic() + HANG_GUARD
    while pki.fingerprint(pki.good_b) not in run(
            [BIN, "device", "--site", site.root, "show", DEV_B, "--json"]).stdout.decode():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert code(curl_s(srv, pki, f"/dev{DEV_B}.cfg", *with_cert(pki.good_b, pki))) == 200
    assert code(curl_s(srv, pki, f"/dev{DEV_B}.cfg", *with_cert(pki.nomac, pki))) == 403
    assert len(re.findall(r"bound to device", srv.log())) == 1


@pytest.mark.parametrize("which", ["nomac", "two_cn", "cn_san"])
def test_certificate_naming_no_or_two_macs_gets_generic_files_only(tmp_path, start_http, pki,
                                                                   which):
    cert = with_cert(getattr(pki, which), pki)
    srv = start_https(start_http, cert_site(tmp_path, pki, mode="optional"))
    assert code(curl_s(srv, pki, "/generic.cfg", *cert)) == 200
    for mac in (DEV_A, DEV_B):
        assert code(curl_s(srv, pki, f"/dev{mac}.cfg", *cert)) == 403
    srv.wait_log(r"certificate names (no MAC|several MACs)")


@pytest.mark.parametrize("which", ["nomac", "two_cn"])
def test_certificate_naming_no_device_refused_when_required(tmp_path, start_http, pki, which):
    cert = with_cert(getattr(pki, which), pki)
    srv = start_https(start_http, cert_site(tmp_path, pki))
    assert code(curl_s(srv, pki, "/generic.cfg", *cert)) == 403
    assert code(curl_s(srv, pki, f"/dev{DEV_A}.cfg", *cert)) == 403
    assert code(curl_s(srv, pki, "/generic.cfg", *with_cert(pki.good_a, pki))) == 200


def test_required_binding_refuses_unrecorded(tmp_path, start_http, pki):
    site = cert_site(tmp_path, pki, binding="required")
    srv = start_https(start_http, site)
    assert code(curl_s(srv, pki, f"/dev{DEV_A}.cfg", *with_cert(pki.good_a, pki))) == 403
    run([BIN, "device", "--site", site.root, "set", DEV_A, "--var",
         f"prov_cert_sha256={pki.fingerprint(pki.good_a)}"])
    deadline = time.monotonic() + HANG_GUARD
    while code(curl_s(srv, pki, f"/dev{DEV_A}.cfg", *with_cert(pki.good_a, pki))) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_bad_tls_configuration_is_a_clear_error(tmp_path, pki):
    site = tls_site(tmp_path, pki)
    (site.root / "tls" / "server.key").unlink()
    result = run([BIN, "serve", "--site", site.root, "--https", "127.0.0.1:0", "--tftp", "off",
                  "--check"])
    assert result.returncode == 1
    assert b"server.key" in result.stderr, result.stderr
    site.conf("[https]\nclient_certificates = required\n")
    shutil.copy(pki.server_key, site.root / "tls" / "server.key")
    result = run([BIN, "serve", "--site", site.root, "--https", "127.0.0.1:0", "--tftp", "off",
                  "--check"])
    assert result.returncode == 1 and b"client_ca" in result.stderr, result.stderr


def test_plain_http_to_https_port(tmp_path, start_http, pki):
    srv = start_https(start_http, tls_site(tmp_path, pki))
    result = run(["curl", "-s", f"http://127.0.0.1:{srv.https_port}/generic.cfg"])
    assert result.returncode != 0
    srv.wait_log(r"TLS handshake failed")
    assert code(curl_s(srv, pki, "/generic.cfg")) == 200
