# SPDX-License-Identifier: MIT
"""Real TFTP clients (curl, tftp-hpa, atftp) against the server: the MD5 of what they
saved must be the MD5 of the file in the site."""

import re

import pytest

from harness import (BIG_SIZE, SHARED_FILES, atftp_get, curl_get, md5, pattern_bytes,
                     tftp_hpa_get)
import tftp_raw

# 0 bytes, 1 byte, exactly 4 x 512, exactly 3 x 1428, an odd size, a phone config.
FILES = ["empty.bin", "one.bin", "b512x4.bin", "b1428x3.bin", "odd.bin", "algop8188.conf",
         "sub/dir/model.cfg"]


def expect(name):
    return md5(SHARED_FILES[name])


CURL_OPTIONS = {"default": (), "blksize1428": ("--tftp-blksize", "1428"),
                "no-options": ("--tftp-no-options",)}
# curl (7.88) asks for tsize and refuses an OACK carrying "tsize 0" ("invalid tsize");
# the server leaves tsize out for an empty file, so every case includes empty.bin.
CURL_CASES = [pytest.param(name, opts, id=f"{key}-{name}")
              for key, opts in CURL_OPTIONS.items() for name in FILES]


@pytest.mark.parametrize("name,options", CURL_CASES)
def test_curl(server, name, options):
    proc = curl_get(server.port, name, *options)
    assert proc.returncode == 0, proc.stderr
    assert md5(proc.stdout) == expect(name)
    assert len(proc.stdout) == len(SHARED_FILES[name])


@pytest.mark.parametrize("name", FILES)
def test_tftp_hpa_binary(server, tmp_path, name):
    out = tmp_path / "out"
    proc = tftp_hpa_get(server.port, name, out)
    assert b"Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert md5(out.read_bytes()) == expect(name)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("options", [("blksize 1428", "tsize 0", "windowsize 8"), ()],
                         ids=["blksize-tsize-windowsize", "no-options"])
def test_atftp(server, tmp_path, name, options):
    out = tmp_path / "out"
    proc = atftp_get(server.port, name, out, options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert md5(out.read_bytes()) == expect(name)


def test_tftp_hpa_rollover_big_file(server, tmp_path, big_md5):
    """More than 65535 blocks of 512 bytes, lock-step: block numbers wrap to 0."""
    out = tmp_path / "big"
    proc = tftp_hpa_get(server.port, "big.bin", out)
    assert b"Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert out.stat().st_size == BIG_SIZE
    assert md5(out.read_bytes()) == big_md5


def test_curl_rollover_big_file(server, big_md5):
    proc = curl_get(server.port, "big.bin", "--tftp-blksize", "512")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) == BIG_SIZE
    assert md5(proc.stdout) == big_md5


def test_missing_file_curl_and_atftp_fail(server, tmp_path):
    proc = curl_get(server.port, "no-such-file.cfg")
    assert proc.returncode != 0
    assert proc.stdout == b""
    proc = atftp_get(server.port, "no-such-file.cfg", tmp_path / "out")
    assert proc.returncode != 0
    proc = tftp_hpa_get(server.port, "no-such-file.cfg", tmp_path / "out2")
    assert b"Error code 1" in proc.stdout + proc.stderr


def netascii_text():
    """Text with LF, lone CR and CRLF, where converted pairs straddle block boundaries:
    the CR LF of the first LF sits at wire offsets 511/512, a CR NUL at 1023/1024."""
    text = b"a" * 511 + b"\n"  # wire: 511 'a', CR at 511, LF at 512
    text += b"b" * 510 + b"\r" + b"x"  # wire: 513 + 510 = 1023 -> CR at 1023, NUL at 1024
    text += b"dos line\r\nunix line\nold mac\rmixed\r\r\n\n\r"
    text += b"".join(b"line %d\n" % i for i in range(300))
    text += b"ends with CR\r"
    return text


@pytest.fixture
def text_site(site, start_server):
    site.write("phone.txt", netascii_text())
    return start_server(site)


def test_tftp_hpa_netascii_round_trip(text_site, tmp_path):
    """tftp-hpa converts netascii back to the local form: the saved file is the original."""
    out = tmp_path / "out.txt"
    proc = tftp_hpa_get(text_site.port, "phone.txt", out, mode="netascii")
    assert b"Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert out.read_bytes() == netascii_text()


def test_netascii_wire_bytes(text_site):
    """On the wire: LF -> CR LF, CR -> CR NUL, tsize is the converted size."""
    wire = tftp_raw.netascii(netascii_text())
    assert wire[511:513] == b"\r\n" and wire[1023:1025] == b"\r\0"
    with text_site.client() as client:
        result = client.get("phone.txt", mode="netascii", options=[("tsize", 0)])
    assert result.oack == {"tsize": str(len(wire))}
    assert result.data == wire


def test_transfer_log_line(site, start_server):
    """One info line per transfer, in the form docs/tftp.md shows."""
    site.write("algop8188.conf", pattern_bytes(2048, 9))
    server = start_server(site)
    with server.client() as client:
        client.get("algop8188.conf", options=[("blksize", 1428), ("tsize", 0)])
        port = client.port
    line = server.wait_log(rf'^.* tftp: 127\.0\.0\.1:{port} .*$')[0]
    assert re.fullmatch(
        rf'\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}} info tftp: 127\.0\.0\.1:{port} "algop8188\.conf" '
        r'sent, 2048 bytes, \d+ ms, octet, blksize=1428, tsize=2048', line), line


def test_transfer_log_lines_for_curl(site, start_server):
    site.write("algop8188.conf", pattern_bytes(2048, 9))
    server = start_server(site)
    proc = curl_get(server.port, "algop8188.conf", "--tftp-blksize", "1428")
    assert proc.returncode == 0
    line = server.wait_log(r'^.* tftp: 127\.0\.0\.1:\d+ "algop8188\.conf" sent, .*$')[0]
    assert re.match(r'^\S+ info tftp: 127\.0\.0\.1:\d+ "algop8188\.conf" sent, 2048 bytes, \d+ ms, '
                    r'octet\b', line), line
    assert "blksize=1428" in line and "tsize=2048" in line, line
    curl_get(server.port, "missing.conf")
    server.wait_log(r' info tftp: 127\.0\.0\.1:\d+ "missing\.conf" not found\b')


def test_many_clients_at_once(server, tmp_path):
    """Twenty real clients in parallel, mixed options: every copy intact."""
    import subprocess
    names = ["odd.bin", "b1428x3.bin", "algop8188.conf", "b512x4.bin"]
    procs = []
    for i in range(20):
        name = names[i % len(names)]
        opts = [("--tftp-blksize", "1428"), ("--tftp-no-options",), ()][i % 3]
        procs.append((name, subprocess.Popen(
            ["curl", "-s", "-S", *opts, f"tftp://127.0.0.1:{server.port}/{name}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    for name, proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert md5(out) == expect(name), name
