# SPDX-License-Identifier: MIT
"""Generated `.md5` companions: `STEM.md5` is the md5sum line of the sibling file."""

import pytest

from harness import curl_get, md5, pattern_bytes, run

CONF = pattern_bytes(3000, 60)
ZIP = pattern_bytes(70000, 61)
REAL_MD5 = b"0123456789abcdef0123456789abcdef  custom.bin\n"


@pytest.fixture
def md5_site(site):
    site.write("algop8188.conf", CONF)
    site.write("tones.zip", ZIP)
    site.write("both.conf", b"conf wins\n")
    site.write("both.zip", b"zip loses\n")
    site.write("fw.bin", b"firmware\n")
    site.write("fw.md5", REAL_MD5)
    site.write("odd.foo", b"not a listed extension\n")
    return site


@pytest.fixture
def md5_server(md5_site, start_server):
    return start_server(md5_site)


def md5_line(data, name):
    return f"{md5(data)}  {name}\n".encode()


@pytest.mark.parametrize("stem,sibling,data", [
    ("algop8188", "algop8188.conf", CONF),
    ("tones", "tones.zip", ZIP),
    ("both", "both.conf", b"conf wins\n"),
], ids=["conf", "zip", "conf-before-zip"])
def test_generated_md5(md5_server, stem, sibling, data):
    result = md5_server.get(f"{stem}.md5", options=[("tsize", 0)])
    assert result.data == md5_line(data, sibling)
    assert result.oack == {"tsize": str(len(result.data))}


def test_md5_in_a_subdirectory_names_the_sibling_alone(md5_site, md5_server):
    """The line names the sibling as it sits next to the .md5, so md5sum -c works in
    the directory where a device stores both."""
    md5_site.write("vendor/model/phone.cfg", b"phone\n")
    assert md5_server.get("vendor/model/phone.md5").data == md5_line(b"phone\n", "phone.cfg")


def test_real_md5_file_wins(md5_server):
    assert md5_server.get("fw.md5").data == REAL_MD5


@pytest.mark.parametrize("name", ["nothing.md5", "odd.md5", ".md5"])
def test_md5_without_sibling_is_not_found(md5_server, name):
    with md5_server.client() as client:
        assert client.expect_error(name).code == 1


@pytest.mark.parametrize("stem", ["algop8188", "tones", "both"])
def test_md5sum_check_passes(md5_server, tmp_path, stem):
    """Download the .md5 and its sibling side by side, as a phone would: md5sum -c agrees."""
    line = curl_get(md5_server.port, f"{stem}.md5")
    assert line.returncode == 0, line.stderr
    sibling = line.stdout.decode().split("  ", 1)[1].rstrip("\n")
    body = curl_get(md5_server.port, sibling)
    assert body.returncode == 0
    (tmp_path / f"{stem}.md5").write_bytes(line.stdout)
    (tmp_path / sibling).write_bytes(body.stdout)
    check = run(["md5sum", "-c", f"{stem}.md5"], cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{sibling}: OK".encode() in check.stdout


def test_md5sum_check_detects_a_bad_download(md5_server, tmp_path):
    """The other side of the previous test: a corrupted sibling fails md5sum -c."""
    (tmp_path / "algop8188.md5").write_bytes(curl_get(md5_server.port, "algop8188.md5").stdout)
    (tmp_path / "algop8188.conf").write_bytes(CONF[:-1] + b"?")
    assert run(["md5sum", "-c", "algop8188.md5"], cwd=tmp_path).returncode != 0


def test_md5_extensions_order_from_config(md5_site, start_server):
    md5_site.conf("""
        [server]
        md5_extensions = zip conf
    """)
    server = start_server(md5_site)
    assert server.get("both.md5").data == md5_line(b"zip loses\n", "both.zip")
    with server.client() as client:
        # .foo is not in the list: no sibling.
        assert client.expect_error("odd.md5").code == 1


def test_md5_follows_the_sibling_after_sighup(md5_site, md5_server):
    assert md5_server.get("tones.md5").data == md5_line(ZIP, "tones.zip")
    md5_site.write("tones.zip", b"new tones\n")
    md5_server.reload()
    import time
    deadline = time.monotonic() + 5
    while md5_server.get("tones.md5").data != md5_line(b"new tones\n", "tones.zip"):
        assert time.monotonic() < deadline, "the .md5 still describes the old sibling"
        time.sleep(0.05)


def test_md5_follows_the_sibling_without_sighup(md5_site, md5_server):
    """docs/md5.md: a changed file gets a new MD5 at its next request."""
    assert md5_server.get("algop8188.md5").data == md5_line(CONF, "algop8188.conf")
    tmp = md5_site.files / "algop8188.conf.tmp"
    tmp.write_bytes(b"edited\n")
    tmp.replace(md5_site.files / "algop8188.conf")
    assert md5_server.get("algop8188.md5").data == md5_line(b"edited\n", "algop8188.conf")


def test_md5_netascii(md5_server):
    """The md5 line is text; in netascii its LF travels as CR LF."""
    assert md5_server.get("algop8188.md5", mode="netascii").data == \
        md5_line(CONF, "algop8188.conf").replace(b"\n", b"\r\n")
