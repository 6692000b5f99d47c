# SPDX-License-Identifier: MIT
"""The FTP listener of `autoprov serve` as real clients see it: curl (extended passive and
passive, resume), lftp and Python's ftplib (also over explicit TLS) fetch the example site's files of every
vendor (MD5 against `autoprov render` and TFTP), logins of site users, devices and anonymous
ones, listings, the access rule between devices, the journal, FTPS (AUTH TLS, PBSZ, PROT P,
`tls = required`), and bad input: wrong passwords,
PORT to another address, `CWD ../../`, 10 000-byte command lines, passive listeners never
connected to, idle sessions, too many sessions; the server keeps serving others."""

import ftplib
import io
import os
import re
import shutil
import socket
import ssl
import threading
import time

import pytest

from harness import (BIN, VENDOR_FILES, Server, Site, curl_get, example_site, md5,
                     parse_port_file, pattern_bytes, run)
from pki import Pki

HANG_GUARD = 15.0  # seconds; a bound on a hang, never a speed assertion
ADMIN = ("admin", "admin-pw")
OTHER = ("viewer", "viewer:pw")  # a password may hold ':'


class FtpServer(Server):
    """The daemon with an FTP listener; `ftp_port` is read from the port file."""

    def _wait_ready(self):
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_files()
                self.stopped = True
                pytest.fail(f"server exited with status {self.proc.returncode} before writing "
                            f"its port file\ncommand: {' '.join(self.cmd)}\nstderr:\n{self.log()}")
            if self.port_file.exists():
                text = self.port_file.read_text()
                self.port_file_text = text
                self.ports = parse_port_file(text)
                self.port = self.ports.get("tftp")
                self.ftp_port = self.ports.get("ftp")
                return
            time.sleep(0.005)
        self.proc.kill()
        self.proc.wait()
        self.stopped = True
        pytest.fail(f"no port file after 20 s\nstderr:\n{self.log()}")


def start(site, workdir, args=("--ftp", "127.0.0.1:0"), tftp="127.0.0.1:0", expect_ftp=True):
    server = FtpServer(site, workdir, args=args, tftp=tftp)
    if expect_ftp:
        assert server.ftp_port, f"port file has no ftp line: {server.port_file_text!r}"
    return server


@pytest.fixture
def start_ftp(tmp_path):
    """start_ftp(site, args=("--ftp", "127.0.0.1:0"), tftp=...) -> FtpServer, stopped after."""
    servers = []

    def go(site, **kw):
        server = start(site, tmp_path / f"ftp-server{len(servers)}", **kw)
        servers.append(server)
        return server

    yield go
    for server in servers:
        server.stop()


# --- clients ----------------------------------------------------------------------------

def login(server, user=ADMIN[0], password=ADMIN[1]):
    ftp = ftplib.FTP(timeout=HANG_GUARD)
    ftp.connect("127.0.0.1", server.ftp_port)
    ftp.login(user, password)
    return ftp


def retr(ftp, name, rest=None):
    buf = io.BytesIO()
    ftp.retrbinary("RETR " + name, buf.write, rest=rest)
    return buf.getvalue()


def curl_ftp(server, path, *options, user=ADMIN):
    auth = f"{user[0]}:{user[1]}@" if user else ""
    return run(["curl", "-s", "-S", *options, f"ftp://{auth}127.0.0.1:{server.ftp_port}/{path}"])


def lftp(server, script, user=ADMIN):
    return run(["lftp", "-u", f"{user[0]},{user[1]}", "-p", str(server.ftp_port), "-e",
                "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
                + script + "; bye", "127.0.0.1"])


class Control:
    """A control connection driven by hand, for what clients will not send."""

    def __init__(self, port, timeout=HANG_GUARD):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        """(code, text of all lines); (None, b"") once the server closed the connection."""
        lines = []
        first = self.file.readline()
        if not first:
            return None, b""
        lines.append(first)
        code = first[:3]
        if first[3:4] == b"-":
            while True:
                line = self.file.readline()
                if not line:
                    break
                lines.append(line)
                if line[:3] == code and line[3:4] == b" ":
                    break
        return int(code), b"".join(lines)

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def login(self, user=ADMIN[0], password=ADMIN[1]):
        assert self.cmd(b"USER " + user.encode())[0] == 331
        code, text = self.cmd(b"PASS " + password.encode())
        assert code == 230, text

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.file.close()
        self.sock.close()


def epsv_port(text):
    return int(re.search(rb"\(\|\|\|(\d+)\|\)", text).group(1))


def wait_journal(root, needle, mac=None, timeout=10):
    args = ["log", "--site", root] + (["--mac", mac] if mac else [])
    deadline = time.monotonic() + timeout
    while True:
        result = run([BIN, *args])
        assert result.returncode == 0, result.stderr.decode()
        log = result.stdout.decode()
        if needle in log or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


# --- a site of static files --------------------------------------------------------------

TEXT = b"line one\nline two\r\nline three\n\nend"
BIG = pattern_bytes(5 * 1024 * 1024 + 3, 71)
FILES = {
    "empty.bin": b"",
    "one.bin": b"\x5a",
    "good.bin": pattern_bytes(3000, 70),
    "big.bin": BIG,
    "text.txt": TEXT,
    "algop8188.conf": pattern_bytes(2048, 72),
    "sub/dir/model.cfg": b"[settings]\nkey = value\n",
    "with space.cfg": b"space\n",
    ".hidden": b"hidden but served\n",
}
STATIC_CONF = f"""
[auth]
user = {ADMIN[0]}:{ADMIN[1]}
user = {OTHER[0]}:{OTHER[1]}
failure_delay = 50
max_failure_delay = 200
"""


def static_site(root):
    site = Site(root)
    for name, data in FILES.items():
        site.write(name, data)
    (site.root / "secret.txt").write_text("SECRET outside files/\n")
    os.symlink("../secret.txt", site.files / "escape.txt")
    os.symlink("good.bin", site.files / "link.bin")
    site.conf(STATIC_CONF)
    return site


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One server for the tests that need no configuration of their own."""
    base = tmp_path_factory.mktemp("ftp-static")
    site = static_site(base / "site")
    server = start(site, base / "server")
    yield server
    server.stop()


@pytest.fixture
def s(srv):
    srv.assert_alive()
    yield srv
    srv.assert_alive()


def test_port_file_has_ftp_and_tftp(s):
    assert s.ports.get("tftp") and s.ports.get("ftp"), s.port_file_text


def test_ftp_off_by_default(tmp_path, start_ftp):
    server = start_ftp(Site(tmp_path / "site"), args=(), expect_ftp=False)
    assert "ftp" not in server.ports


def test_ftp_listen_from_config(tmp_path, start_ftp):
    site = Site(tmp_path / "site")
    site.write("a.cfg", b"x")
    site.conf("[ftp]\nlisten = 127.0.0.1:0\nanonymous = yes\n")
    server = start_ftp(site, args=(), tftp="off")
    assert set(server.ports) == {"ftp"}
    assert retr(login(server, "anonymous", "a@b"), "a.cfg") == b"x"


def test_check_accepts_ftp_keys(tmp_path):
    site = Site(tmp_path / "site")
    site.write("a.cfg", b"x")
    site.conf("[ftp]\nlisten = 0.0.0.0:2121\npassive_ports = 50000-50100\n"
              "passive_address = 192.0.2.1\nactive = no\nanonymous = no\nmax_sessions = 10\n"
              "max_sessions_per_peer = 2\nmax_command_length = 256\nmax_login_failures = 2\n"
              "login_timeout = 10\nidle_timeout = 60\ndata_timeout = 5\n")
    result = run([BIN, "serve", "--site", site.root, "--check"])
    assert result.returncode == 0, result.stderr
    for bad in ("passive_ports = 50100-50000", "passive_ports = 80-90", "passive_address = ::1",
                "max_command_length = 10", "listen = nowhere"):
        site.conf("[ftp]\n" + bad + "\n")
        result = run([BIN, "serve", "--site", site.root, "--check"])
        assert result.returncode == 1, bad
        assert b"autoprov.conf:2" in result.stderr, result.stderr
    # FTPS without the certificate it needs
    site.conf("[ftp]\nlisten = 127.0.0.1:0\ntls = on\n")
    result = run([BIN, "serve", "--site", site.root, "--check"])
    assert result.returncode == 1 and b"[ftp] tls" in result.stderr, result.stderr


# --- fetching with curl, lftp, ftplib ----------------------------------------------------

@pytest.mark.parametrize("name", sorted(FILES))
def test_curl_extended_passive(s, name):
    result = curl_ftp(s, name.replace(" ", "%20"))
    assert result.returncode == 0, result.stderr
    assert md5(result.stdout) == md5(FILES[name])


@pytest.mark.parametrize("name", ["good.bin", "big.bin", "empty.bin", "sub/dir/model.cfg"])
def test_curl_passive(s, name):
    result = curl_ftp(s, name, "--disable-epsv")
    assert result.returncode == 0, result.stderr
    assert md5(result.stdout) == md5(FILES[name])


def test_curl_resume(s, tmp_path):
    out = tmp_path / "big.bin"
    out.write_bytes(BIG[:1234567])
    result = curl_ftp(s, "big.bin", "-C", "-", "-o", out)
    assert result.returncode == 0, result.stderr
    assert md5(out.read_bytes()) == md5(BIG)
    # PASV too, and a file already complete
    out.write_bytes(BIG[:10])
    assert curl_ftp(s, "big.bin", "--disable-epsv", "-C", "-", "-o", out).returncode == 0
    assert md5(out.read_bytes()) == md5(BIG)


def test_curl_ascii(s):
    result = curl_ftp(s, "text.txt;type=a")
    assert result.returncode == 0, result.stderr
    # curl turns CR LF back into LF on Unix; a CR LF already in the file stays one line end
    assert result.stdout == TEXT.replace(b"\r\n", b"\n")


def test_curl_listing(s):
    result = curl_ftp(s, "")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.decode()
    for name in ("good.bin", "big.bin", "sub", "link.bin", "with space.cfg"):
        assert re.search(r" " + re.escape(name) + r"\r?$", listing, re.M), listing
    assert re.search(r"^dr-xr-xr-x .* sub\r?$", listing, re.M), listing
    assert re.search(r"^-r--r--r-- .* 3000 .* good\.bin\r?$", listing, re.M), listing
    # the symbolic link out of files/ and the dot file are not listed
    assert "escape.txt" not in listing and ".hidden" not in listing
    names = curl_ftp(s, "sub/dir/", "-l")
    assert names.stdout.rstrip() == b"model.cfg"  # curl turns CR LF into LF


def test_curl_wrong_password_and_missing_file(s):
    result = curl_ftp(s, "good.bin", user=(ADMIN[0], "wrong"))
    assert result.returncode == 67, result  # CURLE_LOGIN_DENIED
    result = curl_ftp(s, "missing.bin")
    assert result.returncode == 78, result  # CURLE_REMOTE_FILE_NOT_FOUND


def test_lftp_get_ls_and_mirror(s, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = lftp(s, f"cd sub/dir; ls; get model.cfg -o {out}/model.cfg; cd /; "
                     f"get big.bin -o {out}/big.bin; mirror / {out}/mirror")
    assert result.returncode == 0, result.stderr
    assert b"model.cfg" in result.stdout
    assert (out / "model.cfg").read_bytes() == FILES["sub/dir/model.cfg"]
    assert md5((out / "big.bin").read_bytes()) == md5(BIG)
    for name, data in FILES.items():
        if name.startswith("."):
            continue
        assert md5((out / "mirror" / name).read_bytes()) == md5(data), name
    assert not (out / "mirror" / "escape.txt").exists()


def test_lftp_pget_segments(s, tmp_path):
    """pget fetches parts of one file over several sessions with REST."""
    out = tmp_path / "big.bin"
    result = lftp(s, f"pget -n 4 big.bin -o {out}")
    assert result.returncode == 0, result.stderr
    assert md5(out.read_bytes()) == md5(BIG)


def test_ftplib_session(s):
    ftp = login(s)
    assert ftp.pwd() == "/"
    assert sorted(ftp.nlst()) == sorted(["algop8188.conf", "big.bin", "empty.bin", "good.bin",
                                         "link.bin", "one.bin", "sub", "text.txt",
                                         "with space.cfg"])
    facts = dict(ftp.mlsd())
    assert facts["good.bin"]["type"] == "file" and facts["good.bin"]["size"] == "3000"
    assert facts["sub"]["type"] == "dir"
    ftp.voidcmd("TYPE I")  # nlst() left TYPE A, where SIZE counts converted bytes
    assert ftp.size("big.bin") == len(BIG)
    mtime = time.strftime("%Y%m%d%H%M%S",
                          time.gmtime(int((s.site.files / "good.bin").stat().st_mtime)))
    assert ftp.sendcmd("MDTM good.bin") == "213 " + mtime
    assert retr(ftp, "good.bin") == FILES["good.bin"]
    assert retr(ftp, "big.bin", rest=5_000_000) == BIG[5_000_000:]
    assert retr(ftp, "big.bin", rest=len(BIG)) == b""
    with pytest.raises(ftplib.error_perm, match="^554"):
        retr(ftp, "big.bin", rest=len(BIG) + 1)
    assert retr(ftp, "link.bin") == FILES["good.bin"]
    ftp.cwd("sub")
    assert ftp.pwd() == "/sub"
    ftp.cwd("dir")
    assert ftp.nlst() == ["model.cfg"]
    assert retr(ftp, "model.cfg") == FILES["sub/dir/model.cfg"]
    assert retr(ftp, "/good.bin") == FILES["good.bin"]
    ftp.sendcmd("CDUP")
    assert ftp.pwd() == "/sub"
    ftp.cwd("/")
    ftp.sendcmd("CDUP")
    assert ftp.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd("missing")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd("good.bin")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.size("sub")
    assert ftp.quit().startswith("221")


def test_ftplib_ascii_and_passive_modes(s):
    ftp = login(s)
    lines = []
    ftp.retrlines("RETR text.txt", lines.append)
    assert lines == ["line one", "line two", "line three", "", "end"]
    ftp.sendcmd("TYPE A")
    assert ftp.size("text.txt") == len(TEXT.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    # REST in TYPE A counts converted bytes
    ftp.voidcmd("TYPE A")
    conn = ftp.transfercmd("RETR text.txt", rest=9)
    got = conn.makefile("rb").read()
    conn.close()
    ftp.voidresp()
    assert got == TEXT.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")[9:]
    # PASV instead of EPSV
    ftp.af = socket.AF_INET
    ftp.sendcmd("TYPE I")
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    assert host == "127.0.0.1"
    with socket.create_connection((host, port), timeout=HANG_GUARD) as data:
        assert ftp.sendcmd("RETR good.bin").startswith("150")
        got = b""
        while chunk := data.recv(65536):
            got += chunk
    assert ftp.voidresp().startswith("226")
    assert got == FILES["good.bin"]


def test_the_basic_commands(s):
    c = Control(s.ftp_port)
    assert c.greeting[0] == 220
    assert c.cmd(b"SYST") == (215, b"215 UNIX Type: L8\r\n")
    code, feat = c.cmd(b"FEAT")
    assert code == 211
    for f in (b" EPSV", b" PASV", b" SIZE", b" MDTM", b" REST STREAM", b" UTF8", b" MLST "):
        assert f in feat, feat
    assert b"EPRT" not in feat  # active mode is off by default
    assert c.cmd(b"RETR good.bin")[0] == 530  # not logged in
    assert c.cmd(b"PASS x")[0] == 503  # PASS without USER
    c.login()
    assert c.cmd(b"OPTS UTF8 ON")[0] == 200
    assert c.cmd(b"NOOP")[0] == 200
    assert c.cmd(b"MODE S")[0] == 200
    assert c.cmd(b"MODE B")[0] == 504
    assert c.cmd(b"STRU F")[0] == 200
    assert c.cmd(b"STRU R")[0] == 504
    assert c.cmd(b"TYPE I")[0] == 200
    assert c.cmd(b"TYPE L 8")[0] == 200
    assert c.cmd(b"TYPE E")[0] == 504
    assert c.cmd(b"TYPE Q")[0] == 501
    assert c.cmd(b"REST abc")[0] == 501
    assert c.cmd(b"xpwd") == (257, b'257 "/" is the current directory\r\n')
    assert c.cmd(b"HELP")[0] == 214
    assert c.cmd(b"STAT")[0] == 211
    assert c.cmd(b"ABOR")[0] == 225
    assert c.cmd(b"AUTH TLS")[0] in (502, 504, 534)
    assert c.cmd(b"FROB")[0] == 500
    assert c.cmd(b"RETR good.bin")[0] == 425  # no PASV / EPSV yet
    code, text = c.cmd(b"MLST sub")
    assert code == 250 and b"type=dir" in text and b"/sub\r\n" in text, text
    code, text = c.cmd(b"MLST good.bin")
    assert code == 250 and b"type=file;size=3000;" in text, text
    assert c.cmd(b"USER other")[0] == 530  # no changing users
    assert c.cmd(b"QUIT")[0] == 221
    assert c.closed()


@pytest.mark.parametrize("command", [b"STOR x.cfg", b"STOU", b"APPE good.bin", b"DELE good.bin",
                                     b"RMD sub", b"MKD new", b"XMKD new", b"RNFR good.bin",
                                     b"RNTO bad.bin", b"SITE CHMOD 777 good.bin"])
def test_writes_refused(s, command):
    c = Control(s.ftp_port)
    c.login()
    assert c.cmd(b"EPSV")[0] == 229
    code, _ = c.cmd(command)
    assert code in (550, 502), (command, code)
    assert c.cmd(b"NOOP")[0] == 200
    c.close()
    assert (s.site.files / "good.bin").read_bytes() == FILES["good.bin"]
    assert not (s.site.files / "x.cfg").exists() and not (s.site.files / "new").exists()


def test_abort_during_transfer(s):
    c = Control(s.ftp_port)
    c.login()
    port = epsv_port(c.cmd(b"EPSV")[1])
    data = socket.socket()
    data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
    data.settimeout(HANG_GUARD)
    data.connect(("127.0.0.1", port))
    assert c.cmd(b"RETR big.bin")[0] == 150
    data.recv(1000)  # started, and now stalled on our side
    code, text = c.cmd(b"ABOR")
    assert code == 426, text
    assert c.reply()[0] == 226
    data.close()
    # the session goes on
    assert c.cmd(b"NOOP")[0] == 200
    c.close()


def test_client_closing_mid_transfer(s):
    for _ in range(3):
        c = Control(s.ftp_port)
        c.login()
        port = epsv_port(c.cmd(b"EPSV")[1])
        data = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        c.send(b"RETR big.bin\r\n")
        data.recv(100)
        data.close()
        c.close()
    assert retr(login(s), "good.bin") == FILES["good.bin"]


def test_commands_during_a_transfer_wait_for_it(s):
    """RFC 959: QUIT during a transfer is answered after the transfer's own reply."""
    c = Control(s.ftp_port)
    c.login()
    port = epsv_port(c.cmd(b"EPSV")[1])
    data = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    c.send(b"RETR big.bin\r\nNOOP\r\nQUIT\r\n")
    got = b""
    while chunk := data.recv(1 << 20):
        got += chunk
    data.close()
    assert md5(got) == md5(BIG)
    assert c.reply()[0] == 150
    assert c.reply()[0] == 226
    assert c.reply()[0] == 200
    assert c.reply()[0] == 221
    assert c.closed()


def test_stderr_log_line(s):
    retr(login(s), "good.bin")
    s.wait_log(r'ftp: 127\.0\.0\.1:\d+ RETR "/good\.bin" sent, 3000 bytes, \d+ ms, binary, '
               r'user admin')


# --- names: the same rules as TFTP and HTTP ----------------------------------------------

@pytest.mark.parametrize("name", [b"../secret.txt", b"/../secret.txt", b"sub/../../secret.txt",
                                  b"..\\secret.txt", b"escape.txt", b"sub/../good.bin",
                                  b"a\x01b", b".."])
def test_access_violation(s, name):
    c = Control(s.ftp_port)
    c.login()
    assert c.cmd(b"EPSV")[0] == 229
    code, text = c.cmd(b"RETR " + name)
    assert code == 550, text
    assert b"SECRET" not in text
    c.close()


@pytest.mark.parametrize("path", [b"../../", b"..", b"/..", b"sub/../..", b"../etc", b"\\..\\"])
def test_cwd_out_of_the_site(s, path):
    c = Control(s.ftp_port)
    c.login()
    assert c.cmd(b"CWD " + path)[0] == 550
    assert c.cmd(b"PWD")[1] == b'257 "/" is the current directory\r\n'
    assert c.cmd(b"EPSV")[0] == 229
    assert c.cmd(b"LIST " + path)[0] == 550
    c.close()
    s.wait_log(r"CWD .* refused: access violation")


def test_hidden_file_served_not_listed(s):
    ftp = login(s)
    assert retr(ftp, ".hidden") == FILES[".hidden"]
    assert ".hidden" not in ftp.nlst()


def test_list_options_and_file(s):
    c = Control(s.ftp_port)
    c.login()
    for command in (b"LIST -la", b"LIST -a sub", b"NLST -l", b"LIST good.bin"):
        port = epsv_port(c.cmd(b"EPSV")[1])
        with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as data:
            assert c.cmd(command)[0] == 150, command
            got = b""
            while chunk := data.recv(65536):
                got += chunk
        assert c.reply()[0] == 226
        if command == b"LIST -a sub":
            assert b" dir\r\n" in got, got
        elif command == b"LIST good.bin":
            assert got.endswith(b" good.bin\r\n") and got.count(b"\r\n") == 1, got
        else:
            assert b"good.bin" in got, got
    c.close()


# --- bad input ---------------------------------------------------------------------------

def test_long_command_line_refused_session_goes_on(s):
    c = Control(s.ftp_port)
    c.login()
    code, _ = c.cmd(b"RETR " + b"a" * 10_000)
    assert code == 500
    code, _ = c.cmd(b"NOOP " + b"b" * 10_000)
    assert code == 500
    assert c.cmd(b"NOOP")[0] == 200
    assert c.cmd(b"SIZE good.bin") == (213, b"213 3000\r\n")
    c.close()
    s.wait_log(r"command line over 512 bytes refused")


def test_endless_command_line_closes_the_session(s):
    c = Control(s.ftp_port)
    try:
        c.send(b"USER " + b"x" * 200_000)
        code, text = c.reply()
        # the 500 may be lost to the reset of a close with unread input
        assert code in (500, None), text
        assert c.closed()
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.wait_log(r"command line over 65536 bytes without an end, closing")
    assert retr(login(s), "good.bin") == FILES["good.bin"]


def test_garbage_is_answered(s):
    c = Control(s.ftp_port)
    for line in (b"\x00\x01\x02", b"12345", b"\xff\xfe\xfd\x01", b"RE", b"RETRX a"):
        code, _ = c.cmd(line)
        assert code in (500, 501, 530), line
    c.send(b"\r\n")  # an empty line gets no answer: the next reply is NOOP's
    c.login()
    assert c.cmd(b"NOOP")[0] == 200
    c.close()


@pytest.mark.parametrize("command,code", [(b"PORT 127,0,0,1,200,1", 502),
                                          (b"EPRT |1|127.0.0.1|51201|", 502)])
def test_active_mode_off_by_default(s, command, code):
    c = Control(s.ftp_port)
    c.login()
    assert c.cmd(command)[0] == code
    c.close()


def test_wrong_passwords_cost_a_growing_delay(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF.replace("failure_delay = 50\nmax_failure_delay = 200",
                                  "failure_delay = 300\nmax_failure_delay = 5000"))
    server = start_ftp(site)
    c = Control(server.ftp_port)
    waited = []
    for i in range(3):
        assert c.cmd(b"USER admin")[0] == 331
        t0 = time.monotonic()
        code, text = c.cmd(b"PASS wrong%d" % i)
        waited.append(time.monotonic() - t0)
        assert code == 530, text
    # 300, 600, 1200 ms: never sooner (a lower bound only)
    assert waited[0] >= 0.29 and waited[1] >= 0.59 and waited[2] >= 1.19, waited
    # three failures in one session close it
    assert c.reply()[0] == 421
    assert c.closed()
    log = server.wait_log(r'login failed for user "admin"', count=3)
    assert len(log) == 3
    # an unknown user costs the same, and says nothing more
    c = Control(server.ftp_port)
    assert c.cmd(b"USER nobody")[1] == b"331 Password required.\r\n"
    t0 = time.monotonic()
    assert c.cmd(b"PASS x")[0] == 530
    assert time.monotonic() - t0 >= 2.39
    # a success forgets the peer's failures
    c.login()
    c.close()
    c = Control(server.ftp_port)
    assert c.cmd(b"USER admin")[0] == 331
    t0 = time.monotonic()
    assert c.cmd(b"PASS wrong")[0] == 530
    assert 0.29 <= time.monotonic() - t0
    c.close()


def test_others_are_served_during_a_login_delay(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF.replace("failure_delay = 50", "failure_delay = 3000")
              .replace("max_failure_delay = 200", "max_failure_delay = 3000"))
    server = start_ftp(site)
    c = Control(server.ftp_port)
    assert c.cmd(b"USER admin")[0] == 331
    c.send(b"PASS wrong\r\n")
    t0 = time.monotonic()
    result = curl_ftp(server, "big.bin")  # an unrelated client, meanwhile
    fetched = time.monotonic()
    assert result.returncode == 0 and md5(result.stdout) == md5(BIG)
    assert c.reply()[0] == 530
    answered = time.monotonic()
    assert answered - t0 >= 2.9
    assert fetched < answered


def test_port_to_another_address_refused(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF + "[ftp]\nactive = yes\n")
    server = start_ftp(site)
    c = Control(server.ftp_port)
    c.login()
    assert b"EPRT" in c.cmd(b"FEAT")[1]
    for command in (b"PORT 127,0,0,2,200,1", b"PORT 10,0,0,1,200,1", b"PORT 192,168,1,1,0,25",
                    b"EPRT |1|127.0.0.2|51201|", b"EPRT |1|8.8.8.8|51201|",
                    b"PORT 127,0,0,1,0,25", b"EPRT |1|127.0.0.1|21|"):
        code, text = c.cmd(command)
        assert code == 500, (command, text)
    assert c.cmd(b"PORT 1,2,3")[0] == 501
    assert c.cmd(b"EPRT |3|x|1|")[0] == 522
    c.close()
    server.wait_log(r"PORT to 127\.0\.0\.2:51201 refused")
    # to the client's own address, active mode works (ftplib, then curl)
    ftp = login(server)
    ftp.set_pasv(False)
    assert retr(ftp, "big.bin") == BIG
    ftp.af = socket.AF_INET
    assert retr(ftp, "good.bin") == FILES["good.bin"]
    result = curl_ftp(server, "good.bin", "-P", "127.0.0.1")
    assert result.returncode == 0 and result.stdout == FILES["good.bin"], result.stderr
    # EPSV ALL: only EPSV from then on
    c = Control(server.ftp_port)
    c.login()
    assert c.cmd(b"EPSV ALL")[0] == 200
    assert c.cmd(b"PASV")[0] == 503
    assert c.cmd(b"EPRT |1|127.0.0.1|51201|")[0] == 503
    assert c.cmd(b"EPSV")[0] == 229
    assert c.cmd(b"EPSV 2")[0] == 522  # the control connection is IPv4
    c.close()


def test_passive_listener_never_connected(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF + "[ftp]\ndata_timeout = 1\n")
    server = start_ftp(site)
    c = Control(server.ftp_port)
    c.login()
    port = epsv_port(c.cmd(b"EPSV")[1])
    # nobody connects: the listener is closed after data_timeout
    server.wait_log(r"passive data connection never made, listener closed")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert c.cmd(b"RETR good.bin")[0] == 425
    # a RETR waiting for a connection that never comes gets 150, then 425
    c.cmd(b"EPSV")
    assert c.cmd(b"RETR good.bin")[0] == 150
    assert c.reply()[0] == 425
    assert c.cmd(b"NOOP")[0] == 200
    c.close()
    # a data connection made but never used is dropped too; others are served all along
    c = Control(server.ftp_port)
    c.login()
    port = epsv_port(c.cmd(b"EPSV")[1])
    idle = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    assert retr(login(server), "good.bin") == FILES["good.bin"]
    assert idle.recv(10) == b""  # closed by the server
    c.close()
    log = wait_journal(site.root, "timed out")
    assert re.search(r' ftp 127\.0\.0\.1:\d+ - "/good\.bin" timed out 0 ', log), log


def free_port_range(n):
    """The first of n consecutive TCP ports that are all free now (each bound once to see)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            low = min(probe.getsockname()[1], 60000)
        taken = []
        try:
            for port in range(low, low + n):
                s = socket.socket()
                taken.append(s)
                s.bind(("127.0.0.1", port))
            return low
        except OSError:
            continue
        finally:
            for s in taken:
                s.close()
    raise AssertionError(f"no {n} consecutive free ports")


def test_passive_port_range_and_address(tmp_path, start_ftp):
    low = free_port_range(4)
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF + f"[ftp]\npassive_ports = {low}-{low + 3}\n"
              "passive_address = 192.0.2.7\n")
    server = start_ftp(site)
    seen = set()
    for _ in range(6):
        c = Control(server.ftp_port)
        c.login()
        port = epsv_port(c.cmd(b"EPSV")[1])
        assert low <= port <= low + 3
        seen.add(port)
        code, text = c.cmd(b"PASV")
        assert code == 227 and b"(192,0,2,7," in text, text
        c.close()
    assert len(seen) > 1
    # the advertised address is only what PASV says: EPSV clients fetch as usual
    result = curl_ftp(server, "good.bin")
    assert result.returncode == 0 and result.stdout == FILES["good.bin"]


def test_idle_and_login_timeouts(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF + "[ftp]\nidle_timeout = 1\nlogin_timeout = 1\n")
    server = start_ftp(site)
    silent = Control(server.ftp_port)  # never logs in
    idle = Control(server.ftp_port)
    idle.login()
    busy = login(server)
    assert retr(busy, "big.bin") == BIG
    assert silent.reply()[0] == 421 and silent.closed()
    assert idle.reply()[0] == 421 and idle.closed()
    server.wait_log(r"no login within 1 s, closing")
    server.wait_log(r"idle for 1 s, closing")


def test_sessions_per_peer_limit(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    site.conf(STATIC_CONF + "[ftp]\nmax_sessions_per_peer = 2\n")
    server = start_ftp(site)
    a, b = Control(server.ftp_port), Control(server.ftp_port)
    c = Control(server.ftp_port)
    assert c.greeting[0] == 421 and c.closed()
    a.close()
    server.wait_log(r"more than 2 sessions from this address, refused")
    deadline = time.monotonic() + HANG_GUARD
    while True:  # a's slot is freed once the server saw it close
        d = Control(server.ftp_port)
        if d.greeting[0] == 220 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert d.greeting[0] == 220
    d.login()
    b.close()
    d.close()


def test_many_sessions_at_once(s):
    errors = []

    def fetch(i):
        try:
            name = ["good.bin", "algop8188.conf", "sub/dir/model.cfg"][i % 3]
            ftp = login(s)
            if retr(ftp, name) != FILES[name]:
                errors.append(name)
            ftp.quit()
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(e))

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_journal_of_static_requests(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    server = start_ftp(site)
    ftp = login(server)
    retr(ftp, "good.bin")
    retr(ftp, "big.bin", rest=100)
    ftp.nlst("sub")
    with pytest.raises(ftplib.error_perm):
        retr(ftp, "missing.bin")
    with pytest.raises(ftplib.error_perm):
        retr(ftp, "../secret.txt")
    with pytest.raises(ftplib.error_perm):
        ftp.storbinary("STOR up.bin", io.BytesIO(b"x"))
    ftp.quit()
    log = wait_journal(site.root, "up.bin")
    lines = log.splitlines()

    def line(pattern):
        found = [x for x in lines if re.search(pattern, x)]
        assert found, (pattern, log)
        return found[-1]

    assert f' sent 3000 {md5(FILES["good.bin"])}' in line(r' ftp 127\.0\.0\.1:\d+ - "/good\.bin" ')
    # a resumed transfer: the bytes sent, no MD5 of a part
    assert re.search(rf' sent {len(BIG) - 100} - [^ ]+$', line(r'"/big\.bin"'))
    assert " sent " in line(r'"/sub" ')
    assert " not found 0 " in line(r'"/missing\.bin"')
    assert " denied 0 " in line(r'secret\.txt')
    assert " denied 0 " in line(r'"up\.bin"')


# --- the example site: every vendor, devices, the access rule -----------------------------

_PKI = {}


def pki(basetemp):
    """One PKI for the FTPS tests of a run (a CA and a certificate for 127.0.0.1)."""
    if "pki" not in _PKI:
        _PKI["pki"] = Pki(basetemp / "ftp-pki")
    return _PKI["pki"]


def install_certificate(root, basetemp):
    """SITE/tls/server.pem and .key: the defaults of [https], which FTPS uses too."""
    p = pki(basetemp)
    (root / "tls").mkdir(exist_ok=True)
    shutil.copy(p.server, root / "tls" / "server.pem")
    shutil.copy(p.server_key, root / "tls" / "server.key")
    return p


def tls_login(server, ca, user=ADMIN[0], password=ADMIN[1], protect=True):
    ctx = ssl.create_default_context(cafile=str(ca))
    ftp = ftplib.FTP_TLS(context=ctx, timeout=HANG_GUARD)
    ftp.connect("127.0.0.1", server.ftp_port)
    ftp.auth()
    ftp.login(user, password)
    if protect:
        ftp.prot_p()
    return ftp


DEVICE_PASSWORDS = {mac: "pw-" + mac.replace(":", "") for mac, _ in VENDOR_FILES}


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A copy of examples/site with a site user, anonymous logins, and a password for
    every device of VENDOR_FILES; served over TFTP and FTP."""
    base = tmp_path_factory.mktemp("ftp-example")
    root = example_site(base)
    install_certificate(root, tmp_path_factory.getbasetemp())
    with open(root / "autoprov.conf", "a") as f:
        f.write(f"\n[auth]\nuser = {ADMIN[0]}:{ADMIN[1]}\nfailure_delay = 50\n"
                "max_failure_delay = 200\n\n[ftp]\nanonymous = yes\ntls = on\n")
    for mac, password in DEVICE_PASSWORDS.items():
        result = run([BIN, "device", "set", mac, "--site", root, "--var",
                      f"prov_password={password}"])
        assert result.returncode == 0, result.stderr
    server = start(Site(root), base / "server")
    yield root, server
    server.stop()


def device(mac):
    return (mac.replace(":", ""), DEVICE_PASSWORDS[mac])


def render(root, mac, name, proto, port):
    result = run([BIN, "render", "--site", root, "--proto", proto, "--server",
                  f"127.0.0.1:{port}", mac, name])
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("mac,name", VENDOR_FILES, ids=[n for _, n in VENDOR_FILES])
def test_vendor_file_over_ftp(example, mac, name):
    """The device's own login gets `autoprov render --proto ftp`'s bytes: TFTP's but for
    {{server_url}}; its .md5 companion is of exactly those bytes."""
    root, server = example
    result = curl_ftp(server, name, user=device(mac))
    assert result.returncode == 0, result.stderr
    body = result.stdout
    assert body and body == render(root, mac, name, "ftp", server.ftp_port)
    tftp = curl_get(server.port, name)
    assert tftp.returncode == 0, tftp.stderr
    ftp_url = f"ftp://127.0.0.1:{server.ftp_port}/".encode()
    tftp_url = f"tftp://127.0.0.1:{server.port}/".encode()
    assert tftp.stdout.replace(tftp_url, ftp_url) == body
    assert b"tftp://" not in body
    stem = name.rsplit(".", 1)[0]
    companion = curl_ftp(server, stem + ".md5", user=device(mac))
    assert companion.returncode == 0, companion.stderr
    digest, sibling = companion.stdout.decode().split()
    directory = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    assert digest == md5(curl_ftp(server, directory + sibling, user=device(mac)).stdout)
    # the site user gets the same bytes, with ftplib; lftp as well
    assert retr(login(server), name) == body


def test_vendor_files_with_lftp(example, tmp_path):
    root, server = example
    for mac, name in VENDOR_FILES:
        out = tmp_path / name.replace("/", "_")
        result = lftp(server, f"get {name} -o {out}", user=device(mac))
        assert result.returncode == 0, (name, result.stderr)
        assert md5(out.read_bytes()) == md5(render(root, mac, name, "ftp", server.ftp_port))


@pytest.mark.parametrize("asset", ["algo-8188-5.4f.sfw", "algop8188-tones.zip", "my_cert.zip",
                                   "scheduler_data.db", "audiocodes/400HD.img",
                                   "panasonic/ca.pem", "fip/phonebook.xml", "directory.txt"])
def test_static_assets_of_example(example, asset):
    root, server = example
    data = (root / "files" / asset).read_bytes()
    for user in (ADMIN, device("00:22:ee:01:02:03"), ("anonymous", "phone%40example")):
        result = curl_ftp(server, asset, user=user)
        assert result.returncode == 0, (user, result.stderr)
        assert md5(result.stdout) == md5(data)


def test_device_cannot_fetch_another_devices_file(example):
    root, server = example
    ftp = login(server, *device("00:22:ee:01:02:03"))
    assert retr(ftp, "algom0022EE010203.conf")
    for name in ("algom0022EE018301.conf", "algom0022EE018301.md5", "0022ee0a0b0c.cfg",
                 "panasonic/0080F0010203.cfg"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            retr(ftp, name)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.size(name)
    # generic files are everyone's
    assert retr(ftp, "panasonic/initial.cfg")
    assert retr(ftp, "algop8188.conf")
    ftp.quit()
    log = wait_journal(root, "denied", mac="00:22:ee:01:83:01")
    assert re.search(r' ftp 127\.0\.0\.1:\d+ 00:22:ee:01:83:01 "/algom0022EE018301\.conf" '
                     r'denied 0 ', log), log


def test_anonymous_gets_generic_files_only(example):
    _, server = example
    ftp = login(server, "anonymous", "phone@example")
    assert retr(ftp, "algop8188.conf") == (server.site.files / "algop8188.conf").read_bytes()
    assert retr(ftp, "panasonic/initial.cfg")
    with pytest.raises(ftplib.error_perm, match="^550"):
        retr(ftp, "algom0022EE010203.conf")
    names = ftp.nlst()
    assert "algop8188.conf" in names and not any(n.startswith("algom0022") for n in names)
    ftp.quit()
    ftp = login(server, "ftp", "")
    assert retr(ftp, "directory.txt")


def test_anonymous_off_by_default(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    server = start_ftp(site)
    for user in ("anonymous", "ftp"):
        c = Control(server.ftp_port)
        assert c.cmd(b"USER " + user.encode())[0] == 331
        assert c.cmd(b"PASS me@example")[0] == 530
        c.close()


def test_wrong_device_password(example):
    _, server = example
    mac, _ = device("00:22:ee:01:02:03")
    for user, password in ((mac, "wrong"), ("00:22:ee:01:02:04", "anything"),
                           ("0022ee999999", "x")):
        c = Control(server.ftp_port)
        assert c.cmd(b"USER " + user.encode())[0] == 331
        assert c.cmd(b"PASS " + password.encode())[0] == 530
        c.close()
    # any MAC form names the device
    ftp = login(server, "00:22:EE:01:02:03", DEVICE_PASSWORDS["00:22:ee:01:02:03"])
    assert retr(ftp, "algom0022EE010203.conf")


def test_listings_show_a_devices_own_rendered_files(example):
    root, server = example
    ftp = login(server, *device("00:22:ee:01:02:03"))
    facts = dict(ftp.mlsd())
    for name in ("algom0022EE010203.conf", "algom0022EE010203-i.conf", "algop8188.conf",
                 "algo-8188-5.4f.sfw", "panasonic", "audiocodes", "fip"):
        assert name in facts, (name, sorted(facts))
    body = retr(ftp, "algom0022EE010203.conf")
    assert facts["algom0022EE010203.conf"]["size"] == str(len(body))
    assert not any(n.startswith("algom0022EE0183") or n.startswith("0022ee0a0b0c")
                   for n in facts), sorted(facts)
    ftp.cwd("panasonic")
    assert "initial.cfg" in ftp.nlst() and "0080F0010203.cfg" not in ftp.nlst()
    ftp.quit()
    # the Panasonic device sees its own file there, the AudioCodes one its model's
    ftp = login(server, *device("00:80:f0:01:02:03"))
    assert "0080F0010203.cfg" in ftp.nlst("panasonic")
    ftp.quit()
    ftp = login(server, *device("00:90:8f:01:02:03"))
    ftp.cwd("audiocodes")
    assert {"400HD.cfg", "400HD.img"} <= set(ftp.nlst())
    ftp.quit()
    # a site user lists static and generic files, and no device's
    names = login(server).nlst()
    assert "algop8188.conf" in names and not any(n.startswith("algom0022") for n in names)


def test_journal_of_a_device(example):
    root, server = example
    ftp = login(server, *device("00:22:ee:0a:0b:0c"))
    body = retr(ftp, "0022ee0a0b0c.cfg")
    retr(ftp, "fip/phonebook.xml")
    ftp.quit()
    log = wait_journal(root, "phonebook.xml", mac="00:22:ee:0a:0b:0c")
    assert re.search(rf' ftp 127\.0\.0\.1:\d+ 00:22:ee:0a:0b:0c "/0022ee0a0b0c\.cfg" sent '
                     rf'{len(body)} {md5(body)}', log), log
    # a generic file fetched by a device login is recorded under the device too
    assert re.search(r' ftp 127\.0\.0\.1:\d+ 00:22:ee:0a:0b:0c "/fip/phonebook\.xml" sent ',
                     log), log


def test_failed_logins_are_journaled(tmp_path, start_ftp):
    """curl with a wrong password: a journal row (denied, no file), under the MAC when the
    name tried is one (the doctor finds the device's failed logins), and one log line."""
    site = static_site(tmp_path / "site")
    server = start_ftp(site)
    assert curl_ftp(server, "good.bin", user=(ADMIN[0], "wrong")).returncode == 67
    assert curl_ftp(server, "good.bin", user=("0022ee010203", "wrong")).returncode == 67
    log = wait_journal(site.root, "denied", mac="00:22:ee:01:02:03")
    assert re.search(r' ftp 127\.0\.0\.1:\d+ 00:22:ee:01:02:03 "-" denied 0 ', log), log
    log = wait_journal(site.root, '- "-" denied')
    assert re.search(r' ftp 127\.0\.0\.1:\d+ - "-" denied 0 ', log), log
    assert "good.bin" not in log  # never asked for: the login failed first
    # one line per failed login, the exchange's, with why
    server.wait_log(r'PASS "-" denied, .*login failed for user "0022ee010203"')
    lines = re.findall(r"^.*login failed.*$", server.log(), re.M)
    assert len(lines) == 2 and all('PASS "-" denied' in x for x in lines), lines


@pytest.mark.parametrize("mac,name", VENDOR_FILES, ids=[n for _, n in VENDOR_FILES])
def test_vendor_file_over_ftps(example, tmp_path_factory, mac, name):
    """ftplib over TLS (AUTH TLS, PBSZ 0, PROT P), the device's own login: the same bytes
    as in clear."""
    root, server = example
    ca = pki(tmp_path_factory.getbasetemp()).ca
    ftp = tls_login(server, ca, *device(mac))
    body = retr(ftp, name)
    assert body == render(root, mac, name, "ftp", server.ftp_port)
    ftp.quit()


def test_ftps_with_curl_and_lftp(example, tmp_path_factory, tmp_path):
    root, server = example
    ca = pki(tmp_path_factory.getbasetemp()).ca
    data = (root / "files" / "algo-8188-5.4f.sfw").read_bytes()
    result = curl_ftp(server, "algo-8188-5.4f.sfw", "--ssl-reqd", "--cacert", ca)
    assert result.returncode == 0, result.stderr
    assert md5(result.stdout) == md5(data)
    listing = curl_ftp(server, "", "--ssl-reqd", "--cacert", ca)
    assert listing.returncode == 0 and b"algo-8188-5.4f.sfw" in listing.stdout
    # resume over TLS
    out = tmp_path / "fw"
    out.write_bytes(data[:1000])
    result = curl_ftp(server, "algo-8188-5.4f.sfw", "--ssl-reqd", "--cacert", ca, "-C", "-",
                      "-o", out)
    assert result.returncode == 0 and md5(out.read_bytes()) == md5(data), result.stderr
    result = run(["lftp", "-u", f"{ADMIN[0]},{ADMIN[1]}", "-p", str(server.ftp_port), "-e",
                  f"set ssl:ca-file {ca}; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
                  f"set net:max-retries 1; get algo-8188-5.4f.sfw -o {tmp_path}/l; "
                  f"mirror fip {tmp_path}/fip; bye", "127.0.0.1"])
    assert result.returncode == 0, result.stderr
    assert md5((tmp_path / "l").read_bytes()) == md5(data)
    assert (tmp_path / "fip" / "phonebook.xml").read_bytes() == \
        (root / "files" / "fip" / "phonebook.xml").read_bytes()


def test_ftps_commands(example, tmp_path_factory):
    _, server = example
    ca = pki(tmp_path_factory.getbasetemp()).ca
    c = Control(server.ftp_port)
    code, feat = c.cmd(b"FEAT")
    assert code == 211 and b" AUTH TLS" in feat and b" PBSZ" in feat and b" PROT" in feat
    assert c.cmd(b"PBSZ 0")[0] == 503  # before AUTH
    assert c.cmd(b"PROT P")[0] == 503
    assert c.cmd(b"AUTH KERBEROS")[0] == 504
    # a command sent in clear behind AUTH TLS must never run as if it came over TLS
    c.send(b"AUTH TLS\r\nUSER admin\r\nPASS admin-pw\r\n")
    assert c.reply()[0] == 234
    ctx = ssl.create_default_context(cafile=str(ca))
    tls = ctx.wrap_socket(c.sock, server_hostname="127.0.0.1")
    f = tls.makefile("rb")
    tls.sendall(b"PWD\r\n")
    assert f.readline().startswith(b"530"), "the login sent in clear was run"
    tls.sendall(b"USER admin\r\n")
    assert f.readline().startswith(b"331")
    tls.sendall(b"PASS admin-pw\r\n")
    assert f.readline().startswith(b"230")
    for command, code in ((b"PBSZ 0", b"200"), (b"PROT S", b"536"), (b"PROT X", b"504"),
                          (b"PROT C", b"200"), (b"PROT P", b"200"), (b"AUTH TLS", b"503"),
                          (b"CCC", b"502")):
        tls.sendall(command + b"\r\n")
        assert f.readline().startswith(code), command
    tls.close()
    # PROT C after TLS: the data connection in clear, the control one protected
    ftp = tls_login(server, ca, protect=False)
    assert retr(ftp, "directory.txt")
    ftp.quit()


def test_ftps_required(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    ca = install_certificate(site.root, tmp_path).ca
    site.conf(STATIC_CONF + "[ftp]\ntls = required\nanonymous = yes\n")
    server = start_ftp(site)
    c = Control(server.ftp_port)
    assert c.cmd(b"USER admin")[0] == 530
    assert c.cmd(b"USER anonymous")[0] == 530
    c.close()
    result = curl_ftp(server, "good.bin")
    assert result.returncode != 0 and result.stdout == b""
    ftp = tls_login(server, ca, protect=False)
    with pytest.raises(ftplib.error_perm, match="^521"):
        retr(ftp, "good.bin")
    with pytest.raises(ftplib.error_perm, match="^536"):
        ftp.prot_c()
    ftp.prot_p()
    assert retr(ftp, "good.bin") == FILES["good.bin"]
    assert retr(ftp, "big.bin") == BIG
    ftp.quit()
    result = curl_ftp(server, "good.bin", "--ssl-reqd", "--cacert", ca)
    assert result.returncode == 0 and result.stdout == FILES["good.bin"], result.stderr


def test_ftps_bad_handshakes_do_not_hurt_others(tmp_path, start_ftp):
    site = static_site(tmp_path / "site")
    ca = install_certificate(site.root, tmp_path).ca
    site.conf(STATIC_CONF + "[ftp]\ntls = on\ndata_timeout = 1\n")
    server = start_ftp(site)
    # garbage instead of a ClientHello
    c = Control(server.ftp_port)
    assert c.cmd(b"AUTH TLS")[0] == 234
    c.send(b"this is not TLS\r\n" * 10)
    assert c.closed()
    # a client that stops mid-handshake, and one that never starts its data handshake
    c2 = Control(server.ftp_port)
    assert c2.cmd(b"AUTH TLS")[0] == 234
    ftp = tls_login(server, ca)
    ftp.voidcmd("TYPE I")
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    assert ftp.sendcmd("RETR good.bin").startswith("150")
    with pytest.raises(ftplib.error_temp, match="^425"):
        ftp.voidresp()  # no TLS on the data connection within data_timeout
    raw.close()
    assert retr(ftp, "good.bin") == FILES["good.bin"]
    ftp.quit()
    c2.close()
    assert retr(tls_login(server, ca), "big.bin") == BIG
