# SPDX-License-Identifier: MIT
"""Logins over HTTP (Digest and Basic, site users and devices), the redirection service,
the User-Agent policy, and the limits that keep slow or abusive clients from exhausting the
server: curl, Python's urllib and raw sockets against the real daemon."""

import hashlib
import re
import resource
import socket
import threading
import time
import urllib.request

import pytest

from harness import BIN, HANG_GUARD, Site, raw_request, request, run

DEV_A = "0022ee0a0001"
DEV_B = "0022ee0b0002"
PASS_A = "pw-of-a"


def device_site(tmp_path, conf=""):
    """Two devices with a rendered file each, a generic file, site user admin:s3cret."""
    site = Site(tmp_path / "site")
    site.write("generic.cfg", "generic\n")
    tdir = site.root / "templates"
    tdir.mkdir()
    (tdir / "dev{mac}.cfg").write_text("device {{mac}}\n")
    site.conf("[auth]\nuser = admin:s3cret\nfailure_delay = 200\n" + conf)
    for mac, extra in ((DEV_A, ["--var", f"prov_password={PASS_A}"]), (DEV_B, [])):
        result = run([BIN, "device", "--site", site.root, "add", mac, *extra])
        assert result.returncode == 0, result.stderr.decode()
    return site


def curl(port, path, *options):
    return run(["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code}", *options,
                f"http://127.0.0.1:{port}{path}"])


def status_of(result):
    return int(result.stdout.rsplit(b"\n", 1)[1])


def body_of(result):
    return result.stdout.rsplit(b"\n", 1)[0]


def journal(root):
    result = run([BIN, "log", "--site", root])
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def wait_journal(root, needle):
    deadline = time.monotonic() + HANG_GUARD
    while needle not in journal(root):
        assert time.monotonic() < deadline, f"{needle!r} never in the journal:\n{journal(root)}"
        time.sleep(0.1)


def digest_fields(header):
    return dict(re.findall(r'(\w+)="?([^",]*)"?', header.split(" ", 1)[1]))


def digest_response(user, password, method, uri, fields, nc="00000001", cnonce="abcdef",
                    algorithm="MD5"):
    h = hashlib.sha256 if algorithm.startswith("SHA-256") else hashlib.md5

    def hx(text):
        return h(text.encode()).hexdigest()

    ha1 = hx(f"{user}:{fields['realm']}:{password}")
    ha2 = hx(f"{method}:{uri}")
    resp = hx(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
            f'uri="{uri}", algorithm={algorithm}, response="{resp}", qop=auth, nc={nc}, '
            f'cnonce="{cnonce}"')


# --- Digest and Basic ---------------------------------------------------------------------

@pytest.fixture
def digest_server(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nauth = digest\n")
    return site, start_http(site)


def test_no_credentials_gets_challenges(digest_server):
    _, srv = digest_server
    resp = request(srv.http_port, "/generic.cfg")
    assert resp.status == 401
    challenges = resp.headers.get_all("WWW-Authenticate")
    assert [c.split("algorithm=")[1].split(",")[0] for c in challenges] == ["MD5", "SHA-256"]
    assert all('qop="auth"' in c and 'realm="autoprov"' in c for c in challenges)


def test_curl_digest_site_user_fetches_everything(digest_server):
    _, srv = digest_server
    for path, body in (("/generic.cfg", b"generic\n"), (f"/dev{DEV_B}.cfg", f"device {DEV_B}\n".encode())):
        result = curl(srv.http_port, path, "--digest", "-u", "admin:s3cret")
        assert status_of(result) == 200, result
        assert body_of(result) == body


def test_curl_digest_sha256(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nauth = digest\ndigest_algorithms = SHA-256 MD5\n")
    srv = start_http(site)
    result = curl(srv.http_port, "/generic.cfg", "--digest", "-u", "admin:s3cret", "-v")
    assert status_of(result) == 200, result
    assert b"algorithm=SHA-256" in result.stderr


def test_device_login_own_and_generic_files_only(digest_server):
    site, srv = digest_server
    for mac_form in (DEV_A, "00-22-EE-0A-00-01"):  # Basic and URLs forbid a ":" in names
        own = curl(srv.http_port, f"/dev{DEV_A}.cfg", "--digest", "-u", f"{mac_form}:{PASS_A}")
        assert status_of(own) == 200 and body_of(own) == f"device {DEV_A}\n".encode()
    generic = curl(srv.http_port, "/generic.cfg", "--digest", "-u", f"{DEV_A}:{PASS_A}")
    assert status_of(generic) == 200
    other = curl(srv.http_port, f"/dev{DEV_B}.cfg", "--digest", "-u", f"{DEV_A}:{PASS_A}")
    assert status_of(other) == 403
    wait_journal(site.root, f'"/dev{DEV_B}.cfg" denied')
    srv.wait_log(rf'"GET /dev{DEV_B}\.cfg" 403.*another device')


def test_device_without_password_cannot_log_in(digest_server):
    _, srv = digest_server
    result = curl(srv.http_port, f"/dev{DEV_B}.cfg", "--digest", "-u", f"{DEV_B}:")
    assert status_of(result) == 401


def test_wrong_password_is_delayed_and_logged(digest_server):
    _, srv = digest_server
    start = time.monotonic()
    result = curl(srv.http_port, "/generic.cfg", "--digest", "-u", "admin:wrong")
    assert status_of(result) == 401
    # the configured delay is a lower bound (a slow machine only makes it longer)
    assert time.monotonic() - start >= 0.2
    srv.wait_log(r"401.*wrong password for user 'admin'")


def test_delayed_client_does_not_hold_others(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nauth = basic\n")
    site.conf_path.write_text(site.conf_path.read_text().replace("failure_delay = 200",
                                                                 "failure_delay = 4000"))
    srv = start_http(site)
    done = {}

    def bad():
        done["bad"] = curl(srv.http_port, "/generic.cfg", "-u", "admin:wrong")
        done["bad_at"] = time.monotonic()

    thread = threading.Thread(target=bad)
    thread.start()
    srv.wait_log(r"wrong password")
    good = curl(srv.http_port, "/generic.cfg", "-u", "admin:s3cret")
    good_at = time.monotonic()
    thread.join(HANG_GUARD)
    assert status_of(good) == 200
    assert status_of(done["bad"]) == 401
    assert good_at < done["bad_at"], "the good login waited for the delayed one"


def test_basic(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nauth = basic\n")
    srv = start_http(site)
    assert status_of(curl(srv.http_port, "/generic.cfg", "-u", "admin:s3cret")) == 200
    assert status_of(curl(srv.http_port, "/generic.cfg", "-u", "admin:nope")) == 401
    resp = request(srv.http_port, "/generic.cfg")
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="autoprov", charset="UTF-8"'
    # Digest is not offered, so a Digest answer is not taken
    assert status_of(curl(srv.http_port, "/generic.cfg", "--digest", "-u", "admin:s3cret")) == 401


def test_digest_only_refuses_basic(digest_server):
    _, srv = digest_server
    assert status_of(curl(srv.http_port, "/generic.cfg", "--basic", "-u", "admin:s3cret")) == 401


def test_any_takes_both(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nauth = any\n")
    srv = start_http(site)
    assert status_of(curl(srv.http_port, "/generic.cfg", "--basic", "-u", "admin:s3cret")) == 200
    assert status_of(curl(srv.http_port, "/generic.cfg", "--digest", "-u", "admin:s3cret")) == 200


def test_python_urllib_digest(digest_server):
    _, srv = digest_server
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    mgr.add_password(None, f"http://127.0.0.1:{srv.http_port}/", "admin", "s3cret")
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(mgr))
    with opener.open(f"http://127.0.0.1:{srv.http_port}/generic.cfg", timeout=HANG_GUARD) as r:
        assert r.read() == b"generic\n"


def test_replayed_and_made_up_nonces_fail(digest_server):
    _, srv = digest_server
    fields = digest_fields(request(srv.http_port, "/generic.cfg").headers["WWW-Authenticate"])
    auth = digest_response("admin", "s3cret", "GET", "/generic.cfg", fields)
    assert request(srv.http_port, "/generic.cfg", headers={"Authorization": auth}).status == 200
    replay = request(srv.http_port, "/generic.cfg", headers={"Authorization": auth})
    assert replay.status == 401
    assert "stale=true" in replay.headers["WWW-Authenticate"]
    # the next nonce count of the same nonce is fine
    auth2 = digest_response("admin", "s3cret", "GET", "/generic.cfg", fields, nc="00000002")
    assert request(srv.http_port, "/generic.cfg", headers={"Authorization": auth2}).status == 200
    made_up = dict(fields, nonce="0" * 64)
    resp = request(srv.http_port, "/generic.cfg",
                   headers={"Authorization": digest_response("admin", "wrong", "GET",
                                                             "/generic.cfg", made_up)})
    assert resp.status == 401 and "stale=true" not in resp.headers["WWW-Authenticate"]
    # a response computed for another file is refused
    other = digest_response("admin", "s3cret", "GET", "/other.cfg", fields, nc="00000003")
    assert request(srv.http_port, "/generic.cfg", headers={"Authorization": other}).status == 401


def test_expired_nonce_is_stale(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nauth = digest\nnonce_lifetime = 1\n")
    srv = start_http(site)
    fields = digest_fields(request(srv.http_port, "/generic.cfg").headers["WWW-Authenticate"])
    time.sleep(2.1)
    resp = request(srv.http_port, "/generic.cfg",
                   headers={"Authorization": digest_response("admin", "s3cret", "GET",
                                                             "/generic.cfg", fields)})
    assert resp.status == 401 and "stale=true" in resp.headers["WWW-Authenticate"]


def test_malformed_authorization(digest_server):
    _, srv = digest_server
    for value in ("Digest", "Digest username=", "Basic !!!", "Bearer x", "Digest " + "a=b," * 400):
        assert request(srv.http_port, "/generic.cfg",
                       headers={"Authorization": value}).status in (401, 431)
    srv.assert_alive()


# --- the redirection service --------------------------------------------------------------

def test_redirect(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nprefix = prov\nredirect_url = https://prov.example/{MAC}/\n")
    run([BIN, "device", "--site", site.root, "set", DEV_B, "--var",
         "prov_url=tftp://10.0.0.9/"])
    srv = start_http(site)
    a = request(srv.http_port, f"/prov/redirect/{DEV_A}")
    assert a.status == 302
    assert a.headers["Location"] == "https://prov.example/0022EE0A0001/"
    assert a.body == b"https://prov.example/0022EE0A0001/\n"
    b = request(srv.http_port, "/prov/redirect/00-22-EE-0B-00-02")
    assert b.status == 302 and b.headers["Location"] == "tftp://10.0.0.9/"
    assert request(srv.http_port, "/prov/redirect/0022ee999999").status == 404
    assert request(srv.http_port, "/prov/redirect/nonsense").status == 404
    wait_journal(site.root, f'"/prov/redirect/{DEV_A}" sent')


def test_redirect_default_url_is_this_server(tmp_path, start_http):
    site = device_site(tmp_path)
    srv = start_http(site)
    resp = request(srv.http_port, f"/redirect/{DEV_A}")
    assert resp.status == 302
    assert resp.headers["Location"] == f"http://127.0.0.1:{srv.http_port}/"


# --- the User-Agent -------------------------------------------------------------------------

YEALINK_A = "Yealink SIP-T46S 66.86.0.15 00:22:ee:0a:00:01"


def test_user_agent_mac_recorded(tmp_path, start_http):
    site = device_site(tmp_path)
    srv = start_http(site)
    assert request(srv.http_port, "/generic.cfg", headers={"User-Agent": YEALINK_A}).status == 200
    wait_journal(site.root, '00:22:ee:0a:00:01 "/generic.cfg" sent')


def test_user_agent_mismatch_denied(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nuser_agent = deny-mismatch\n")
    srv = start_http(site)
    own = request(srv.http_port, f"/dev{DEV_A}.cfg", headers={"User-Agent": YEALINK_A})
    assert own.status == 200
    other = request(srv.http_port, f"/dev{DEV_B}.cfg", headers={"User-Agent": YEALINK_A})
    assert other.status == 403
    srv.wait_log(r"403.*User-Agent names another device")
    # a User-Agent without a MAC is not a mismatch
    assert request(srv.http_port, f"/dev{DEV_B}.cfg", headers={"User-Agent": "curl/7.88"}).status == 200


# --- limits -----------------------------------------------------------------------------------

def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def test_slow_client_is_timed_out_while_others_are_served(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nheader_timeout = 2\n")
    srv = start_http(site)
    sock = socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD)
    payload = b"GET /generic.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
    got = b""
    for byte in payload[:-4]:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        # meanwhile other clients are served
        assert request(srv.http_port, "/generic.cfg").status == 200
        time.sleep(0.5)
        sock.setblocking(False)
        try:
            got += sock.recv(4096)
        except BlockingIOError:
            pass
        sock.setblocking(True)
        if got:
            break
    sock.settimeout(HANG_GUARD)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    sock.close()
    assert got.startswith(b"HTTP/1.1 408"), got
    srv.wait_log(r"408.*header_timeout")


def test_thousands_of_idle_connections(tmp_path, start_http):
    raise_nofile(8192)
    site = device_site(tmp_path, "[http]\nmax_connections_per_peer = 5000\n")
    srv = start_http(site)
    socks = []
    try:
        for _ in range(3000):
            socks.append(socket.create_connection(("127.0.0.1", srv.http_port),
                                                  timeout=HANG_GUARD))
        for i in range(0, 3000, 500):
            socks[i].sendall(b"GET /gen")  # some half-sent requests too
        assert request(srv.http_port, "/generic.cfg").status == 200
        result = curl(srv.http_port, "/generic.cfg")
        assert status_of(result) == 200
    finally:
        for s in socks:
            s.close()
    srv.assert_alive()


def open_started(port, n):
    """n connections that began a request (the listener defers those that sent nothing)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        s.sendall(b"G")
        socks.append(s)
    return socks


def test_connections_per_peer(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nmax_connections_per_peer = 4\n")
    srv = start_http(site)
    socks = open_started(srv.http_port, 4)
    try:
        resp = request(srv.http_port, "/generic.cfg")
        assert resp.status == 503
        srv.wait_log(r"max_connections_per_peer")
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + HANG_GUARD
    while request(srv.http_port, "/generic.cfg").status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_max_connections_drops_the_oldest_waiting(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nmax_connections = 3\n")
    srv = start_http(site)
    socks = open_started(srv.http_port, 3)
    assert request(srv.http_port, "/generic.cfg").status == 200
    srv.wait_log(r"a waiting connection dropped for a new one \(max_connections full\)")
    assert socks[0].recv(100) == b""  # the oldest, closed without an answer
    for s in socks:
        s.close()


def test_max_connections_waits_for_a_free_one(tmp_path, start_http):
    site = device_site(tmp_path, "[http]\nmax_connections = 2\n")
    site.write("big.bin", b"x" * (32 << 20))
    srv = start_http(site)
    socks = []
    for _ in range(2):  # answers the client does not read: nobody waiting to be dropped
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(HANG_GUARD)
        s.connect(("127.0.0.1", srv.http_port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(s)
    result = {}

    def fetch():
        result["resp"] = request(srv.http_port, "/generic.cfg")

    thread = threading.Thread(target=fetch)
    thread.start()
    srv.wait_log(r"max_connections\), none waiting for a request")
    assert "resp" not in result  # queued by the kernel, not accepted
    socks.pop().close()
    thread.join(HANG_GUARD)
    assert result["resp"].status == 200
    for s in socks:
        s.close()


@pytest.mark.parametrize("payload,status", [
    (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
])
def test_refused_requests(tmp_path, start_http, payload, status):
    site = device_site(tmp_path)
    srv = start_http(site)
    resp = raw_request(srv.http_port, payload)
    assert resp.status == status
    assert resp.headers["Connection"] == "close"
    assert request(srv.http_port, "/generic.cfg").status == 200


def test_request_with_body_is_answered_then_closed(tmp_path, start_http):
    site = device_site(tmp_path)
    srv = start_http(site)
    resp = raw_request(srv.http_port, b"GET /generic.cfg HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    assert resp.status == 200 and resp.headers["Connection"] == "close"


def test_server_raises_its_descriptor_limit(tmp_path, start_http):
    site = device_site(tmp_path)
    srv = start_http(site)
    with open(f"/proc/{srv.proc.pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line


def test_pipelined_requests(tmp_path, start_http):
    site = device_site(tmp_path)
    srv = start_http(site)
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=HANG_GUARD) as sock:
        sock.sendall(b"GET /generic.cfg HTTP/1.1\r\nHost: x\r\n\r\n" * 40 +
                     b"GET /generic.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 41
    assert data.count(b"generic\n") == 41



def basic_guess(port, user, password, source="127.0.0.1", timeout=HANG_GUARD):
    """One Basic login from `source` on its own connection: the status, or None if the answer
    did not come within `timeout` seconds."""
    token = __import__("base64").b64encode(f"{user}:{password}".encode()).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(f"GET /dev{DEV_A}.cfg HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
                     "Connection: close\r\n\r\n".encode())
        try:
            resp = __import__("http.client").client.HTTPResponse(sock, method="GET")
            resp.begin()
            return resp.status
        except (socket.timeout, TimeoutError):
            return None


def answered_in_window(port, sources, window, user=DEV_A, between=None):
    """Guesses of wrong passwords for `user`, one connection at a time per source, all sources
    in parallel: how many were answered (401) within `window` seconds."""
    deadline = time.monotonic() + window
    answered = []
    lock = threading.Lock()

    def guesser(source):
        n = 0
        while time.monotonic() < deadline:
            left = deadline - time.monotonic()
            status = basic_guess(port, user, f"guess-{n}", source, timeout=max(left, 0.01))
            n += 1
            if status is not None and time.monotonic() <= deadline:
                assert status == 401
                with lock:
                    answered.append(source)
            if between and time.monotonic() < deadline:
                between(source)

    threads = [threading.Thread(target=guesser, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(window + HANG_GUARD)
    return len(answered)


def test_guesses_against_one_device_from_many_addresses_are_paced(tmp_path, start_http):
    # a short delay per address: only the pacing per device holds 20 addresses back
    site = device_site(tmp_path, "max_failure_delay = 200\n[http]\nauth = basic\n")
    srv = start_http(site)
    window = 3.0
    sources = [f"127.0.0.{10 + i}" for i in range(20)]
    answered = answered_in_window(srv.http_port, sources, window)
    print(f"20 addresses, {window} s: {answered} guesses answered")
    # guess_interval 500 ms: 2 guesses/s against one device, whatever the number of addresses
    assert answered <= 2 * window + 2, f"{answered} guesses answered in {window} s"
    assert answered >= 1
    # the device itself still logs in, and another device is not held back by the attack
    assert status_of(curl(srv.http_port, f"/dev{DEV_A}.cfg", "-u", f"{DEV_A}:{PASS_A}")) == 200
    assert status_of(curl(srv.http_port, "/generic.cfg", "-u", "admin:s3cret")) == 200


def test_own_good_login_does_not_reset_the_target_delay(tmp_path, start_http):
    site = device_site(tmp_path, "failure_delay = 100\n[http]\nauth = basic\n")
    srv = start_http(site)

    def own_login(source):
        # the attacker's own valid account, between two guesses: used to reset the delay
        assert basic_guess(srv.http_port, "admin", "s3cret", source) == 200

    window = 3.0
    answered = answered_in_window(srv.http_port, ["127.0.0.7"], window, between=own_login)
    print(f"interleaved own logins, {window} s: {answered} guesses answered")
    # 100, 200, 400, 800, 1600 ms ... (and 500 ms apart at least): a handful, not ~25
    assert answered <= 6, f"{answered} guesses answered in {window} s"
    # the good login itself is never delayed
    start = time.monotonic()
    own_login("127.0.0.7")
    assert time.monotonic() - start < 5
