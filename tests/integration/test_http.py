# SPDX-License-Identifier: MIT
"""The HTTP listener of `autoprov serve`, as a device or an administrator with curl sees it:
the example site's files over HTTP, caching headers and conditional requests, ranges, HEAD,
methods, hostile paths, the prefix, keep-alive, the journal, and broken or idle clients."""

import calendar
import email.utils
import http.client
import os
import re
import socket
import time

import pytest

from harness import (BIN, HANG_GUARD, REPO, VENDOR_FILES, Server, Site, curl_get,
                     example_site, md5, pattern_bytes, raw_request, request, run, tail)

UA = "Algo-8188/5.4f 0022EE010203"


# --- clients ----------------------------------------------------------------------------

def get(server, path, **kw):
    return request(server.http_port, path, **kw)


def raw_get(port, target):
    """GET with a request target http.client would refuse (control bytes) or that curl
    would normalise (dot segments)."""
    return raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Connection: close\r\n\r\n")


def curl_http(port, path, *options):
    return run(["curl", "-s", "-S", "--path-as-is", *options, f"http://127.0.0.1:{port}{path}"])


def assert_plain_error(resp, status):
    assert resp.status == status, resp
    assert resp.headers["Content-Type"].startswith("text/plain"), resp
    assert 0 < len(resp.body) < 1024, resp
    assert int(resp.headers["Content-Length"]) == len(resp.body), resp


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def wait_journal(root, needle, mac=None):
    args = ["log", "--site", root] + (["--mac", mac] if mac else [])
    deadline = time.monotonic() + 10
    while True:
        result = run([BIN, *args])
        assert result.returncode == 0, result.stderr.decode()
        log = result.stdout.decode()
        if needle in log or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


# --- a site of static files --------------------------------------------------------------

MTIME = calendar.timegm((2024, 1, 2, 3, 4, 5))
GOOD = pattern_bytes(3000, 60)
BIG = pattern_bytes(5 * 1024 * 1024 + 3, 61)
TYPES = {
    "t.xml": "application/xml",
    "t.cfg": "text/plain",
    "t.conf": "text/plain",
    "t.boot": "text/plain",
    "t.txt": "text/plain",
    "t.ini": "text/plain",
    "t.zip": "application/zip",
    "t.pem": "application/x-pem-file",
    "t.crt": "application/x-pem-file",
    "t.json": "application/json",
    "t.bin": "application/octet-stream",
    "t.sfw": "application/octet-stream",
    "noextension": "application/octet-stream",
}


def fill(site):
    site.write("good.bin", GOOD)
    site.write("big.bin", BIG)
    site.write("empty.bin", b"")
    site.write("algop8188.conf", pattern_bytes(2048, 62))
    site.write("sub/dir/model.cfg", b"[settings]\nkey = value\n")
    site.write("with space.txt", b"space\n")
    site.write("a+b.txt", b"plus\n")
    site.write("prov/only-in-prov.txt", b"the directory itself\n")
    for name in TYPES:
        site.write(name, f"content of {name}\n")
    (site.root / "x").write_bytes(b"SECRET-site\n")
    os.utime(site.files / "good.bin", (MTIME, MTIME))


@pytest.fixture(scope="module")
def static_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("http-static")
    site = Site(base / "site")
    fill(site)
    server = Server(site, base / "server", args=("--http", "127.0.0.1:0"))
    assert server.http_port, server.port_file_text
    yield server
    server.stop()


@pytest.fixture
def srv(static_server):
    """The module's server; after each test it must still serve a file."""
    static_server.assert_alive()
    yield static_server
    static_server.assert_alive()
    assert get(static_server, "/good.bin").body == GOOD


# --- the port file and configuration ----------------------------------------------------

def test_port_file_has_http_and_tftp(srv):
    assert srv.http_port and srv.port, srv.port_file_text
    assert srv.http_port != 0


def test_tftp_off(site, start_http):
    site.write("good.bin", GOOD)
    server = start_http(site, tftp="off")
    assert "tftp" not in server.ports, server.port_file_text
    assert get(server, "/good.bin").body == GOOD


def test_http_off_by_default(site, start_http):
    site.write("good.bin", GOOD)
    server = start_http(site, args=(), expect_http=False)
    assert "http" not in server.ports, server.port_file_text


def test_http_listen_from_config(site, start_http):
    site.write("good.bin", GOOD)
    site.conf("""
        [http]
        listen = 127.0.0.1:0
    """)
    server = start_http(site, args=())
    assert get(server, "/good.bin").body == GOOD


# --- static files ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["good.bin", "big.bin", "empty.bin", "algop8188.conf",
                                  "sub/dir/model.cfg"])
def test_static_file(srv, name):
    data = (srv.site.files / name).read_bytes()
    resp = get(srv, "/" + name)
    assert resp.status == 200, resp
    assert resp.body == data
    assert int(resp.headers["Content-Length"]) == len(data)
    assert resp.headers["ETag"] == f'"{md5(data)}"'
    mtime = int((srv.site.files / name).stat().st_mtime)
    assert resp.headers["Last-Modified"] == http_date(mtime)


def test_static_file_with_curl(srv):
    result = curl_http(srv.http_port, "/big.bin", "-f")
    assert result.returncode == 0, result.stderr
    assert md5(result.stdout) == md5(BIG)


@pytest.mark.parametrize("name,ctype", TYPES.items(), ids=list(TYPES))
def test_content_type(srv, name, ctype):
    resp = get(srv, "/" + name)
    assert resp.status == 200, resp
    assert resp.headers["Content-Type"].split(";")[0].strip() == ctype


def test_md5_companion_of_static_file(srv):
    resp = get(srv, "/good.md5")
    assert resp.status == 200, resp
    assert resp.headers["Content-Type"].startswith("text/plain")
    digest, sibling = resp.body.decode().split()
    assert digest == md5(GOOD) and sibling == "good.bin"
    assert resp.headers["ETag"] == f'"{md5(resp.body)}"'


def test_percent_decoded_names(srv):
    assert get(srv, "/with%20space.txt").body == b"space\n"
    assert get(srv, "/a+b.txt").body == b"plus\n"  # '+' is not a space in a path
    assert get(srv, "/%67ood.bin").body == GOOD
    assert get(srv, "/sub%2Fdir%2Fmodel.cfg").body == b"[settings]\nkey = value\n"


def test_dot_segments_and_slashes_normalised(srv):
    assert raw_get(srv.http_port, b"/./good.bin").body == GOOD
    assert raw_get(srv.http_port, b"//good.bin").body == GOOD
    assert raw_get(srv.http_port, b"/sub//dir/./model.cfg").status == 200
    assert raw_get(srv.http_port, b"/%2e/good.bin").body == GOOD


def test_query_string_ignored(srv):
    resp = get(srv, "/good.bin?mac=0022EE010203&x=../../etc/passwd")
    assert resp.status == 200 and resp.body == GOOD
    assert get(srv, "/good.bin?").body == GOOD


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/sub", "/sub/", "/sub/dir/", "/prov/"])
def test_directory_is_404(srv, path):
    resp = get(srv, path)
    assert_plain_error(resp, 404)
    assert b"model.cfg" not in resp.body and b"good.bin" not in resp.body


@pytest.mark.parametrize("path", ["/missing.cfg", "/etc/passwd", "/x", "/missing.md5",
                                  "/sub/dir/model.cfg/x"])
def test_missing_is_404(srv, path):
    resp = get(srv, path)
    assert_plain_error(resp, 404)
    assert b"SECRET" not in resp.body


@pytest.mark.parametrize("target", [
    b"/../x", b"/sub/../../x", b"/%2e%2e/x", b"/%2E%2E/x", b"/..%2fx", b"/..%2Fx", b"/..%5cx",
    b"/sub/%2e%2e/%2e%2e/x", b"/a%00b", b"/good.bin%00.txt", b"/a%01b", b"/a%0ab", b"/a%0db",
    b"/a%1fb", b"/a%7fb", b"/..", b"/%2e%2e",
], ids=lambda t: t.decode())
def test_access_violation_is_403(srv, target):
    resp = raw_get(srv.http_port, target)
    assert_plain_error(resp, 403)
    assert b"SECRET" not in resp.body


def test_dot_dot_inside_a_name_is_a_name(srv):
    """`a..b` is not a `..` component: a plain missing file."""
    assert get(srv, "/a..b.cfg").status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"])
def test_other_methods_405(srv, method):
    resp = get(srv, "/good.bin", method=method, body=b"data" if method != "OPTIONS" else None)
    assert_plain_error(resp, 405)
    assert (srv.site.files / "good.bin").read_bytes() == GOOD


def test_connect_answered_and_closed(srv):
    """A CONNECT is refused, and `Connection: close` is honoured: a client reading the
    answer to its end (it has no Content-Length) is not left waiting for the idle timeout."""
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        sock.sendall(b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_closed(sock, HANG_GUARD)
    assert re.match(rb"HTTP/1\.1 (405|501) ", data), data[:200]


def test_delete_does_not_delete(srv):
    get(srv, "/good.bin", method="DELETE")
    get(srv, "/new.bin", method="PUT", body=b"uploaded")
    assert (srv.site.files / "good.bin").exists()
    assert not (srv.site.files / "new.bin").exists()


# --- conditional requests ---------------------------------------------------------------

def test_if_none_match(srv):
    etag = get(srv, "/good.bin").headers["ETag"]
    resp = get(srv, "/good.bin", headers={"If-None-Match": etag})
    assert resp.status == 304 and resp.body == b"", resp
    assert resp.headers["ETag"] == etag
    resp = get(srv, "/good.bin", headers={"If-None-Match": "*"})
    assert resp.status == 304 and resp.body == b"", resp
    resp = get(srv, "/good.bin", headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    assert resp.status == 200 and resp.body == GOOD


def test_if_none_match_list_and_weak(srv):
    """RFC 9110: a list of tags, and weak comparison for If-None-Match."""
    etag = get(srv, "/good.bin").headers["ETag"]
    resp = get(srv, "/good.bin", headers={"If-None-Match": f'"nope", {etag}'})
    assert resp.status == 304, resp
    resp = get(srv, "/good.bin", headers={"If-None-Match": f"W/{etag}"})
    assert resp.status == 304, resp


def test_if_none_match_with_curl(srv, tmp_path):
    etags = tmp_path / "etag"
    first = curl_http(srv.http_port, "/good.bin", "--etag-save", etags)
    assert first.stdout == GOOD
    second = curl_http(srv.http_port, "/good.bin", "--etag-compare", etags, "-w", "%{http_code}")
    assert second.stdout == b"304"


def test_if_modified_since(srv):
    resp = get(srv, "/good.bin")
    assert resp.headers["Last-Modified"] == "Tue, 02 Jan 2024 03:04:05 GMT"
    for ts in (MTIME, MTIME + 1, MTIME + 86400 * 365):
        resp = get(srv, "/good.bin", headers={"If-Modified-Since": http_date(ts)})
        assert resp.status == 304 and resp.body == b"", (ts, resp)
    for ts in (MTIME - 1, MTIME - 86400):
        resp = get(srv, "/good.bin", headers={"If-Modified-Since": http_date(ts)})
        assert resp.status == 200 and resp.body == GOOD, (ts, resp)
    resp = get(srv, "/good.bin", headers={"If-Modified-Since": "not a date"})
    assert resp.status == 200 and resp.body == GOOD


def test_if_none_match_takes_precedence(srv):
    """RFC 9110 13.1.3: with If-None-Match present, If-Modified-Since is ignored."""
    resp = get(srv, "/good.bin", headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"',
                                          "If-Modified-Since": http_date(MTIME + 10)})
    assert resp.status == 200 and resp.body == GOOD, resp


def test_file_changed_is_sent_again(srv):
    site = srv.site
    path = site.write("changing.cfg", b"version one\n")
    first = get(srv, "/changing.cfg")
    two = b"version two!\n"
    path.write_bytes(two)
    os.utime(path, (MTIME + 100, MTIME + 100))
    resp = get(srv, "/changing.cfg", headers={"If-None-Match": first.headers["ETag"]})
    assert resp.status == 200 and resp.body == two, resp
    assert resp.headers["ETag"] == f'"{md5(two)}"'


# --- ranges ------------------------------------------------------------------------------

SIZE = len(GOOD)


@pytest.mark.parametrize("spec,first,last", [
    ("bytes=0-0", 0, 0),
    ("bytes=0-99", 0, 99),
    ("bytes=100-199", 100, 199),
    ("bytes=2999-2999", SIZE - 1, SIZE - 1),
    ("bytes=1000-", 1000, SIZE - 1),
    ("bytes=0-", 0, SIZE - 1),
    ("bytes=-1", SIZE - 1, SIZE - 1),
    ("bytes=-500", SIZE - 500, SIZE - 1),
    ("bytes=2500-999999", 2500, SIZE - 1),  # a last byte past the end is the end
    ("bytes=-999999", 0, SIZE - 1),  # a suffix longer than the file is the whole file
])
def test_range(srv, spec, first, last):
    resp = get(srv, "/good.bin", headers={"Range": spec})
    assert resp.status == 206, resp
    assert resp.headers["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert resp.body == GOOD[first:last + 1]
    assert int(resp.headers["Content-Length"]) == last - first + 1


@pytest.mark.parametrize("spec", ["bytes=3000-", "bytes=3000-3100", "bytes=99999-"])
def test_range_unsatisfiable(srv, spec):
    resp = get(srv, "/good.bin", headers={"Range": spec})
    assert_plain_error(resp, 416)
    assert resp.headers["Content-Range"] == f"bytes */{SIZE}"


def test_range_of_empty_file_unsatisfiable(srv):
    resp = get(srv, "/empty.bin", headers={"Range": "bytes=0-"})
    assert resp.status == 416, resp
    assert resp.headers["Content-Range"] == "bytes */0"


@pytest.mark.parametrize("spec", ["bytes=0-9,20-29", "bytes=0-9, -5"])
def test_several_ranges_whole_file(srv, spec):
    resp = get(srv, "/good.bin", headers={"Range": spec})
    assert resp.status == 200 and resp.body == GOOD, resp
    assert "Content-Range" not in resp.headers


@pytest.mark.parametrize("spec", ["bytes=abc", "items=0-9", "bytes=9-0"])
def test_invalid_range_ignored(srv, spec):
    """RFC 9110 14.2: a Range the server does not understand is ignored."""
    resp = get(srv, "/good.bin", headers={"Range": spec})
    assert resp.status == 200 and resp.body == GOOD, resp


def test_range_of_big_file_with_curl(srv):
    result = curl_http(srv.http_port, "/big.bin", "-r", "4194304-")
    assert result.returncode == 0, result.stderr
    assert result.stdout == BIG[4194304:]


# --- HEAD --------------------------------------------------------------------------------

HEADERS = ("Content-Length", "Content-Type", "ETag", "Last-Modified")


@pytest.mark.parametrize("path", ["/good.bin", "/big.bin", "/good.md5", "/t.xml"])
def test_head_same_headers_no_body(srv, path):
    got = get(srv, path)
    head = get(srv, path, method="HEAD")
    assert head.status == 200 and head.body == b""
    for name in HEADERS:
        assert head.headers[name] == got.headers[name], name


def test_head_sends_no_body_bytes(srv):
    """HEAD then GET on one connection: a body after HEAD would break the second answer."""
    payload = (b"HEAD /good.bin HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /t.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        sock.sendall(payload)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), data[:200]
    assert rest.startswith(b"HTTP/1.1 200"), rest[:200]
    assert rest.endswith(b"\r\n\r\ncontent of t.txt\n"), rest
    assert GOOD[:64] not in data


def test_head_missing_and_conditional(srv):
    resp = get(srv, "/missing.cfg", method="HEAD")
    assert resp.status == 404 and resp.body == b""
    etag = get(srv, "/good.bin").headers["ETag"]
    resp = get(srv, "/good.bin", method="HEAD", headers={"If-None-Match": etag})
    assert resp.status == 304


# --- keep-alive -------------------------------------------------------------------------

def test_keep_alive_http_client(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=HANG_GUARD)
    try:
        conn.request("GET", "/good.bin")
        first = conn.getresponse()
        assert first.status == 200 and first.read() == GOOD
        sock = conn.sock
        assert sock is not None, "the server closed the connection after one request"
        local = sock.getsockname()
        conn.request("GET", "/missing.cfg")
        second = conn.getresponse()
        assert second.status == 404
        second.read()
        conn.request("GET", "/big.bin", headers={"Range": "bytes=0-9"})
        third = conn.getresponse()
        assert third.status == 206 and third.read() == BIG[:10]
        conn.request("GET", "/sub/dir/model.cfg")
        fourth = conn.getresponse()
        assert fourth.status == 200 and fourth.read() == b"[settings]\nkey = value\n"
        assert conn.sock is sock and sock.getsockname() == local
    finally:
        conn.close()
    peer = f"127.0.0.1:{local[1]}"
    srv.wait_log(rf'http: {re.escape(peer)} "GET /sub/dir/model.cfg" 200')
    assert f'http: {peer} "GET /good.bin" 200' in srv.log()


def test_keep_alive_curl(srv):
    base = f"http://127.0.0.1:{srv.http_port}"
    result = run(["curl", "-s", "-S", "-w", "[%{num_connects}]", f"{base}/t.txt", f"{base}/t.cfg"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"content of t.txt\n[1]content of t.cfg\n[0]"


def test_pipelined_requests(srv):
    payload = b"".join(f"GET /t.{ext} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                       for ext in ("xml", "cfg", "txt"))
    payload += b"GET /t.ini HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    bodies = re.findall(rb"content of (t\.\w+)\n", data)
    assert bodies == [b"t.xml", b"t.cfg", b"t.txt", b"t.ini"], data


def test_http_1_0(srv):
    resp = raw_request(srv.http_port, b"GET /good.bin HTTP/1.0\r\n\r\n")
    assert resp.status == 200 and resp.body == GOOD


def test_idle_connection_does_not_block_others(srv):
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as idle:
        idle.sendall(b"GET /good.bin HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert get(srv, "/big.bin").body == BIG


# --- logging -----------------------------------------------------------------------------

def test_stderr_log_line(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=HANG_GUARD)
    try:
        conn.request("GET", "/algop8188.conf", headers={"User-Agent": UA})
        assert conn.getresponse().read()
        port = conn.sock.getsockname()[1]
    finally:
        conn.close()
    srv.wait_log(rf'^.*http: 127\.0\.0\.1:{port} "GET /algop8188\.conf" 200, 2048 bytes')


def test_stderr_log_escapes_what_peer_sent(srv):
    # control characters in the request line or a field are a malformed request (400)
    assert raw_get(srv.http_port, b"/evil\x1b[31m.cfg").status == 400
    evil_ua = raw_request(srv.http_port, b"GET /good.bin HTTP/1.1\r\nHost: x\r\n"
                          b"User-Agent: evil\x1b]0;x\x07\r\nConnection: close\r\n\r\n")
    assert evil_ua.status == 400
    # what is allowed (bytes over 0x7f, a tab) is escaped in the log and the journal
    raw_request(srv.http_port, b"GET /good.bin?\x9b31m HTTP/1.1\r\nHost: x\r\n"
                b"User-Agent: evil\x9b]0;x\t\r\nConnection: close\r\n\r\n")
    srv.wait_log(r'"- -" 400.*malformed request', count=2)
    srv.wait_log(r'"GET /good\.bin" 200')
    assert b"\x1b" not in srv.log_bytes() and b"\x07" not in srv.log_bytes()
    assert b"\x9b" not in srv.log_bytes()


# --- prefix ------------------------------------------------------------------------------

def test_prefix(site, start_http):
    fill(site)
    site.conf("""
        [http]
        prefix = prov
    """)
    server = start_http(site)
    algo = (site.files / "algop8188.conf").read_bytes()
    assert get(server, "/prov/algop8188.conf").body == algo
    assert get(server, "/algop8188.conf").body == algo
    assert get(server, "/prov/sub/dir/model.cfg").status == 200
    assert get(server, "/prov/good.md5").body.split()[0].decode() == md5(GOOD)
    # only a leading directory, and only a whole one
    assert get(server, "/provx/algop8188.conf").status == 404
    assert get(server, "/sub/prov/algop8188.conf").status == 404
    assert get(server, "/prov/").status == 404
    # the directory itself is still reachable by its full name
    assert get(server, "/prov/prov/only-in-prov.txt").body == b"the directory itself\n"
    # traversal through the prefix is still refused
    assert raw_get(server.http_port, b"/prov/../x").status == 403
    # the TFTP side is not affected by [http] prefix
    with server.client() as client:
        assert client.expect_error("prov/algop8188.conf").code == 1


# --- broken and idle clients ------------------------------------------------------------

def read_until_closed(sock, limit):
    """Everything the server sends until it closes; fails on a hang past `limit`."""
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except socket.timeout:
        pytest.fail(f"connection still open after {limit} s; got {data[:200]!r}")
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize("payload", [
    b"HELLO\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /good.bin HTTP/9\r\n\r\n",
    b"\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n",
    b"GET /good.bin HTTP/1.1\r\nno colon here\r\n\r\n",
], ids=["word", "method-only", "bad-version", "binary", "bad-header"])
def test_garbage_request_400(srv, payload):
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        sock.sendall(payload)
        data = read_until_closed(sock, HANG_GUARD)
    assert re.match(rb"HTTP/1\.[01] 400 ", data), data[:300]


def test_huge_header_refused_and_server_keeps_serving(srv):
    payload = (b"GET /good.bin HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_until_closed(sock, HANG_GUARD)
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    assert match and 400 <= int(match.group(1)) < 500 and match.group(1) != b"404", data[:300]
    assert GOOD[:64] not in data
    assert get(srv, "/good.bin").body == GOOD


def test_huge_request_line_refused(srv):
    payload = b"GET /" + b"a" * 20_000 + b".cfg HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_until_closed(sock, HANG_GUARD)
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    assert match and 400 <= int(match.group(1)) < 500, data[:300]


def test_many_headers_under_the_limit_are_fine(srv):
    headers = {f"X-H{i}": "v" * 50 for i in range(60)}  # ~4 KB, under 8192
    assert get(srv, "/good.bin", headers=headers).body == GOOD


@pytest.fixture
def short_timeout(site, start_http):
    site.write("good.bin", GOOD)
    site.conf("""
        [http]
        timeout = 1
        header_timeout = 1
    """)
    return start_http(site)


def test_silent_client_dropped(short_timeout):
    server = short_timeout
    with socket.create_connection(("127.0.0.1", server.http_port)) as sock:
        data = read_until_closed(sock, HANG_GUARD)
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
    assert get(server, "/good.bin").body == GOOD


def test_slow_headers_dropped(short_timeout):
    server = short_timeout
    with socket.create_connection(("127.0.0.1", server.http_port)) as sock:
        sock.sendall(b"GET /good.bin HTTP/1.1\r\nHost: x\r\n")
        data = read_until_closed(sock, HANG_GUARD)
    assert GOOD[:64] not in data


def test_idle_keep_alive_dropped(short_timeout):
    server = short_timeout
    with socket.create_connection(("127.0.0.1", server.http_port)) as sock:
        sock.sendall(b"GET /good.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_until_closed(sock, HANG_GUARD)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(GOOD), data[:200]


def test_client_closing_mid_transfer(srv):
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", srv.http_port)) as sock:
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1000)
    assert get(srv, "/big.bin").body == BIG


# --- the example site: rendered files ---------------------------------------------------



@pytest.fixture
def example(tmp_path, start_http):
    """A copy of examples/site made ready by scripts/example-setup, and its server."""
    root = example_site(tmp_path)
    return root, start_http(Site(root))


def render(root, mac, name, proto, port):
    result = run([BIN, "render", "--site", root, "--proto", proto, "--server",
                  f"127.0.0.1:{port}", mac, name])
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def tftp_fetch(server, name):
    result = curl_get(server.port, name)
    assert result.returncode == 0, (name, result.stderr)
    return result.stdout


@pytest.mark.parametrize("mac,name", VENDOR_FILES, ids=[n for _, n in VENDOR_FILES])
def test_vendor_file_over_http(example, mac, name):
    """The bytes over HTTP are `autoprov render --proto http`'s, the same as over TFTP except
    for {{server_url}}, which names the protocol the request came over."""
    root, server = example
    resp = get(server, "/" + name, headers={"User-Agent": UA})
    assert resp.status == 200, resp
    body = resp.body
    assert body and body == render(root, mac, name, "http", server.http_port)
    assert int(resp.headers["Content-Length"]) == len(body)
    assert resp.headers["ETag"] == f'"{md5(body)}"'
    assert "Last-Modified" not in resp.headers  # rendered: the ETag only
    # over TFTP: `render --proto tftp`; the same bytes but for the server's URL
    tftp = tftp_fetch(server, name)
    assert tftp == render(root, mac, name, "tftp", server.port)
    http_url = f"http://127.0.0.1:{server.http_port}/".encode()
    tftp_url = f"tftp://127.0.0.1:{server.port}/".encode()
    assert tftp.replace(tftp_url, http_url) == body
    assert b"tftp://" not in body
    # the .md5 companion over HTTP is of exactly the bytes HTTP serves for its sibling
    stem = name.rsplit(".", 1)[0]
    companion = get(server, f"/{stem}.md5")
    assert companion.status == 200, companion
    assert companion.headers["Content-Type"].startswith("text/plain")
    digest, sibling = companion.body.decode().split()
    directory = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    assert digest == md5(get(server, "/" + directory + sibling).body)


VENDOR_PAGE_PROFILE = {"algo.md": "algo", "flyingvoice-fip.md": "fip",
                       "flyingvoice-spa.md": "spa", "audiocodes.md": "audiocodes",
                       "panasonic.md": "panasonic"}


def vendor_page_names(root):
    """(page, listed name, name requested) for every file the `site/` trees of
    docs/vendors/*.md list; a template's {MAC}, {mac} and {model} become those of an enabled
    device of the page's profile in the example's devices.csv."""
    devices = {}
    for line in (root / "devices.csv").read_text().splitlines()[1:]:
        mac, model, profile, _, enabled = line.split(",")[:5]
        if enabled == "yes":
            devices.setdefault(profile, (mac.replace(":", ""), model))
    found = []
    for page, profile in VENDOR_PAGE_PROFILE.items():
        text = (REPO / "docs" / "vendors" / page).read_text()
        mac, model = devices[profile]
        for listed in re.findall(r"^ +((?:files|templates)/\S+)", text, re.M):
            name = listed.split("/", 1)[1].replace("{MAC}", mac.upper()).replace(
                "{mac}", mac.lower()).replace("{model}", model)
            found.append((page, listed, name))
    return found


def test_every_file_the_vendor_pages_list_is_served_by_the_example_site(example):
    """docs/vendors/*.md show sites as `files/...` and `templates/...` trees; `make run`'s
    site (examples/site) serves every one of those names, over TFTP as a factory-default
    device asks (an IP542N with option 66 asks for IP542N.conf)."""
    root, server = example
    names = vendor_page_names(root)
    assert len(names) >= 15 and ("flyingvoice-spa.md", "templates/IP542N.conf",
                                 "IP542N.conf") in names, names
    missing = [(page, listed, name) for page, listed, name in names
               if curl_get(server.port, name).returncode != 0]
    assert not missing, missing
    # a factory-default IP542N: Option 66 on, Config File Name IP542N.conf
    agent = run([BIN, "agent", "--profile", "spa", "--mac", "0021F2011B1B", "--model",
                 "IP542N", "--set", "random_delay=0", "--dhcp-option",
                 f"66=127.0.0.1:{server.port}", "--timeout", "60"])
    text = agent.stdout.decode()
    assert agent.returncode == 0 and "IP542N.conf" in text and " apply " in text, text


def test_rendered_file_with_curl(example):
    root, server = example
    result = curl_http(server.http_port, "/algom0022EE010203.conf", "-f", "-A", UA)
    assert result.returncode == 0, result.stderr
    assert b"sip.u1.auth = 2001" in result.stdout
    assert result.stdout == render(root, "00:22:ee:01:02:03", "algom0022EE010203.conf", "http",
                                   server.http_port)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_file_placed_after_a_rendered_request_wins(tmp_path, start_http, workers):
    """files/NAME takes precedence over a rendering: one placed after NAME was served
    rendered (its absence from files/ remembered) is served from the next loop iteration,
    and the rendering again once it is removed."""
    root = example_site(tmp_path)
    server = start_http(Site(root), args=("--http", "127.0.0.1:0", "--workers", workers))
    name = "algom0022EE010203.conf"

    def served():
        result = curl_http(server.http_port, "/" + name, "-f")
        assert result.returncode == 0, result.stderr
        return result.stdout

    rendered = served()
    assert b"sip.u1.auth = 2001" in rendered and served() == rendered
    placed = root / "files" / name
    placed.write_bytes(b"placed by hand\n")
    deadline = time.monotonic() + HANG_GUARD
    while served() != b"placed by hand\n":
        assert time.monotonic() < deadline, "the placed file was never served"
        time.sleep(0.05)
    placed.unlink()
    assert served() == rendered


def test_http_and_tftp_each_get_their_own_server_url(example):
    """The cache must not hand one protocol's rendering (or its .md5) to the other."""
    _, server = example
    http_url = f"http://127.0.0.1:{server.http_port}/".encode()
    tftp_url = f"tftp://127.0.0.1:{server.port}/".encode()
    for name in ("panasonic/initial.cfg", "0022ee0a0b0c.cfg", "audiocodes/400HD.cfg"):
        over_tftp = tftp_fetch(server, name)
        over_http = get(server, "/" + name).body
        assert tftp_url in over_tftp and http_url not in over_tftp, name
        assert http_url in over_http and tftp_url not in over_http, (name, over_http)
        stem = name.rsplit(".", 1)[0]
        tftp_md5 = tftp_fetch(server, stem + ".md5").split()[0].decode()
        http_md5 = get(server, f"/{stem}.md5").body.split()[0].decode()
        assert tftp_md5 == md5(over_tftp) and http_md5 == md5(over_http), name
        # and the other way round, after HTTP went first
        assert tftp_fetch(server, name) == over_tftp


def test_version_not_raised_by_protocol(example):
    """A file without {{server_url}} is the same over both: its version stays put."""
    _, server = example
    first = get(server, "/fv0021F2011B19.conf").body
    assert tftp_fetch(server, "fv0021F2011B19.conf") == first
    assert get(server, "/fv0021F2011B19.conf").body == first


@pytest.mark.parametrize("asset", ["algo-8188-5.4f.sfw", "algop8188-tones.zip", "my_cert.zip",
                                   "scheduler_data.db", "audiocodes/400HD.img",
                                   "panasonic/ca.pem", "fip/phonebook.xml", "directory.txt"])
def test_static_assets_of_example(example, asset):
    root, server = example
    data = (root / "files" / asset).read_bytes()
    resp = get(server, "/" + asset)
    assert resp.status == 200, resp
    assert md5(resp.body) == md5(data)
    assert resp.headers["ETag"] == f'"{md5(data)}"'
    assert "Last-Modified" in resp.headers
    stem = asset.rsplit(".", 1)[0]
    companion = get(server, f"/{stem}.md5")
    if companion.status == 200 and companion.body.split()[1].decode() == asset.rsplit("/")[-1]:
        assert companion.body.split()[0].decode() == md5(data)


def test_rendered_conditional_and_range(example):
    _, server = example
    full = get(server, "/algom0022EE010203.conf")
    etag = full.headers["ETag"]
    resp = get(server, "/algom0022EE010203.conf", headers={"If-None-Match": etag})
    assert resp.status == 304 and resp.body == b""
    # no Last-Modified, so If-Modified-Since cannot make it 304
    resp = get(server, "/algom0022EE010203.conf",
               headers={"If-Modified-Since": http_date(time.time() + 86400)})
    assert resp.status == 200 and resp.body == full.body
    resp = get(server, "/algom0022EE010203.conf", headers={"Range": "bytes=10-19"})
    assert resp.status == 206 and resp.body == full.body[10:20]
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(full.body)}"
    head = get(server, "/algom0022EE010203.conf", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(full.body))
    assert head.headers["ETag"] == etag


def test_unknown_and_disabled_devices_404(example):
    root, server = example
    for name in ("algom0022EE999999.conf", "fv0021F2011B1A.conf", "0022ee999999.boot",
                 "algom0022EE999999.md5", "fv0021F2011B1A.md5", "panasonic/0080F0999999.cfg"):
        assert_plain_error(get(server, "/" + name), 404)
    # once enabled, the same device is served
    result = run([BIN, "device", "set", "00:21:f2:01:1b:1a", "--site", root, "--enable"])
    assert result.returncode == 0, result.stderr
    resp = get(server, "/fv0021F2011B1A.conf")
    assert resp.status == 200 and b"DBID_SIP_AUTH_ID=4002" in resp.body


def test_journal_has_http_and_user_agent(example):
    root, server = example
    body = get(server, "/algom0022EE010203.conf", headers={"User-Agent": UA}).body
    get(server, "/algom0022EE010203.md5", headers={"User-Agent": UA})
    get(server, "/algom0022EE999999.conf", headers={"User-Agent": "Algo-8188/5.4f 0022EE999999"})
    raw_get(server.http_port, b"/../autoprov.db")
    log = wait_journal(root, "algom0022EE010203.md5", mac="00:22:ee:01:02:03")
    # the path as the device asked for it (docs/inventory.md's example shows it without
    # the leading '/'; either is accepted here)
    lines = [line for line in log.splitlines()
             if re.search(r' "/?algom0022EE010203\.conf" ', line)]
    assert lines, log
    line = lines[-1]
    assert " http 127.0.0.1:" in line and "00:22:ee:01:02:03" in line, line
    assert f" sent {len(body)} {md5(body)} " in line, line
    assert line.endswith(f'"{UA}"'), line
    unknown = wait_journal(root, "algom0022EE999999.conf", mac="0022ee999999")
    assert "not found" in unknown and '"Algo-8188/5.4f 0022EE999999"' in unknown, unknown
    everything = wait_journal(root, "denied")
    assert re.search(r" http 127\.0\.0\.1:\d+ .*denied", everything), tail(everything)
