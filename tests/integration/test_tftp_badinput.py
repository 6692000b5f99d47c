# SPDX-License-Identifier: MIT
"""Hostile and broken input: the server answers with the right error code, never
serves a file outside files/, escapes what it logs, and keeps serving afterwards."""

import os
import re

import pytest

from harness import Server, Site, pattern_bytes
import tftp_raw
from tftp_raw import DATA, ERROR, OACK, WRQ, ack, error

GOOD = pattern_bytes(3000, 40)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One server for the module; files outside files/ that a traversal would reach."""
    base = tmp_path_factory.mktemp("hostile")
    site = Site(base / "site")
    site.write("good.bin", GOOD)
    site.write("sub/inner.cfg", b"inner\n")
    site.write("a" * 251 + ".cfg", b"long name\n")  # 255 characters
    (site.root / "x").write_bytes(b"SECRET-site\n")
    (site.root / "secret").write_bytes(b"SECRET-site\n")
    (base / "x").write_bytes(b"SECRET-base\n")
    os.symlink(site.root / "secret", site.files / "escape.cfg")
    os.symlink("../secret", site.files / "escape-rel.cfg")
    os.symlink("/", site.files / "root")
    (site.root / "outside.conf").write_bytes(b"SECRET-conf\n")
    os.symlink("../outside.conf", site.files / "linked.conf")
    (site.files / "dir.conf").mkdir()
    server = Server(site, base / "server")
    yield server
    server.stop()


@pytest.fixture
def srv(hostile):
    """The module's server; after each test it must still serve a normal file."""
    hostile.assert_alive()
    yield hostile
    hostile.assert_alive()
    assert hostile.get("good.bin").data == GOOD


def send_raw(server, payload, wait=0.5):
    """Send `payload` to the listening port; return every packet that came back."""
    with server.client() as client:
        client.send_server(payload)
        return [p for p, _ in client.poll(wait)]


def only_error(answers, codes):
    """Exactly one answer, an ERROR with a code in `codes`."""
    assert len(answers) == 1, answers
    assert answers[0].op == ERROR and answers[0].code in codes, answers[0]


# --- malformed packets ---------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    b"\x00\x01",  # RRQ, nothing else
    b"\x00\x01name.cfg",  # no NUL after the name
    b"\x00\x01name.cfg\x00",  # no mode
    b"\x00\x01name.cfg\x00octet",  # mode not terminated
    b"\x00\x01name.cfg\x00octet\x00blksize\x001024",  # option value not terminated
    b"\x00\x09name.cfg\x00octet\x00",  # unknown opcode 9
    b"\x00\x00name.cfg\x00octet\x00",  # opcode 0
    b"\xff\xffname.cfg\x00octet\x00",  # opcode 65535
    b"\x00\x06blksize\x00512\x00",  # an OACK sent to a server
], ids=["rrq-only", "no-nul", "no-mode", "mode-no-nul", "option-no-nul", "opcode9", "opcode0",
        "opcode65535", "oack"])
def test_malformed_packet_gets_error_4(srv, payload):
    only_error(send_raw(srv, payload), {4})


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\x01"], ids=["empty", "one-zero", "one-byte"])
def test_runt_packet_is_ignored_or_error_4(srv, payload):
    answers = send_raw(srv, payload)
    assert answers == [] or (len(answers) == 1 and answers[0].op == ERROR and answers[0].code == 4), answers


def test_error_packet_to_listener_is_never_answered(srv):
    """Answering an ERROR with an ERROR is how two servers ping-pong forever."""
    assert send_raw(srv, error(0, "hello")) == []
    assert send_raw(srv, error(5, "")) == []


@pytest.mark.parametrize("payload", [tftp_raw.ack(1), b"\x00\x03\x00\x01data"], ids=["ack", "data"])
def test_stray_ack_or_data_to_listener(srv, payload):
    """Not a request: ignored, or refused with an ERROR; never a transfer."""
    for answer in send_raw(srv, payload):
        assert answer.op == ERROR, answer


def test_empty_name(srv):
    only_error(send_raw(srv, b"\x00\x01\x00octet\x00"), {1, 2, 4})


def test_option_without_value(srv):
    only_error(send_raw(srv, b"\x00\x01good.bin\x00octet\x00blksize\x00"), {4, 8})


def test_a_thousand_options(srv):
    """Unknown options are ignored; an oversized request may be refused as malformed.
    Either way the answer is well-formed and the server survives."""
    options = [(f"opt{i}", str(i)) for i in range(1000)]
    with srv.client() as client:
        first = client.request("good.bin", options=options)
        if first.op == ERROR:
            assert first.code in (4, 8), first
        else:
            assert first.op == DATA and first.block == 1, first
            assert client.receive(first).data == GOOD


def test_a_thousand_options_with_blksize(srv):
    options = [(f"x{i}", "y") for i in range(1000)] + [("blksize", 1000)]
    with srv.client() as client:
        first = client.request("good.bin", options=options)
        if first.op == ERROR:
            assert first.code in (4, 8), first
        else:
            assert first.op == OACK and first.options == {"blksize": "1000"}, first
            assert client.receive(first).data == GOOD


# --- option values -------------------------------------------------------------------

@pytest.mark.parametrize("option,value", [
    ("blksize", "0"), ("blksize", "7"), ("blksize", "abc"), ("blksize", ""), ("blksize", "-512"),
    ("blksize", "512x"), ("blksize", " 512"), ("blksize", "0x200"), ("blksize", "1e3"),
    ("timeout", "0"), ("timeout", "256"), ("timeout", "soon"),
    ("windowsize", "0"), ("windowsize", "many"), ("windowsize", "-1"),
])
def test_bad_option_value_gets_error_8(srv, option, value):
    with srv.client() as client:
        pkt = client.expect_error("good.bin", options=[(option, value)])
        assert pkt.code == 8, pkt
        assert client.poll(0.2) == []


@pytest.mark.parametrize("option,value", [("blksize", "99999999999999999999999"),
                                          ("windowsize", "99999999999999999999999"),
                                          ("blksize", "4294967808")])
def test_huge_numbers_do_not_wrap(srv, option, value):
    """A number too large for any integer type is lowered to the maximum or refused
    (code 8); it must never wrap around to something small."""
    with srv.client() as client:
        first = client.request("good.bin", options=[(option, value)])
        if first.op == ERROR:
            assert first.code == 8, first
            return
        assert first.op == OACK, first
        granted = int(first.options[option])
        assert granted == {"blksize": 65464, "windowsize": 64}[option]
        assert client.receive(first).data == GOOD


def test_blksize_70000_is_lowered_and_works(srv):
    data = pattern_bytes(200_000, 41)
    name = "big-blocks.bin"
    (srv.site.files / name).write_bytes(data)
    with srv.client() as client:
        first = client.request(name, options=[("blksize", 70000), ("tsize", 0)])
        assert first.op == OACK and first.options == {"blksize": "65464", "tsize": "200000"}
        result = client.receive(first)
    assert result.data == data and result.blocks == 4


@pytest.mark.parametrize("mode", ["mail", "", "octet2", "binary", "ascii"])
def test_unknown_mode_gets_error_4(srv, mode):
    with srv.client() as client:
        assert client.expect_error("good.bin", mode=mode).code == 4


def test_write_request_is_refused(srv):
    with srv.client() as client:
        pkt = client.expect_error("upload.bin", opcode=WRQ)
        assert pkt.code == 2, pkt
        client.send(b"\x00\x03\x00\x01payload")
    assert not (srv.site.files / "upload.bin").exists()


# --- names -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,code", [
    ("../x", 2),
    ("a/../../x", 2),
    ("..\\..\\x", 2),
    ("..\\secret", 2),
    ("/../secret", 2),
    ("..", 2),
    ("sub/..", 2),
    ("sub/../good.bin", 2),
    ("sub/../../x", 2),
    ("/etc/passwd", 1),
    ("%2e%2e/x", 1),
    ("%2e%2e%2fx", 1),
    ("....//x", 1),
])
def test_traversal(srv, name, code):
    with srv.client() as client:
        pkt = client.expect_error(name)
        assert pkt.code == code, pkt
        assert client.poll(0.1) == []


def test_traversal_is_logged_as_a_warning_with_the_peer(srv):
    with srv.client() as client:
        assert client.expect_error("../secret").code == 2
        port = client.port
    srv.wait_log(rf'tftp: 127\.0\.0\.1:{port} "\.\./secret" denied')
    warnings = [line for line in srv.log().splitlines()
                if re.search(r"\bwarn", line) and "127.0.0.1" in line and "../secret" in line]
    assert warnings, srv.log()


@pytest.mark.parametrize("name", ["escape.cfg", "escape-rel.cfg", "root/etc/passwd", "root/etc/hostname"])
def test_symlink_out_of_files_is_not_served(srv, name):
    with srv.client() as client:
        pkt = client.expect_error(name)
        assert pkt.code in (1, 2), pkt


@pytest.mark.parametrize("name", ["../outside.md5", "linked.md5", "dir.md5", "root/etc/passwd.md5"])
def test_md5_companion_never_describes_a_file_outside(srv, name):
    """The generated .md5 must follow the same rules as the file it describes."""
    with srv.client() as client:
        pkt = client.expect_error(name)
        assert pkt.code in (1, 2), pkt


def test_directory_is_not_served(srv):
    with srv.client() as client:
        pkt = client.expect_error("sub")
        assert pkt.code in (1, 2), pkt
        assert client.expect_error("sub/").code in (1, 2)


CONTROL_NAMES = [
    b"a\x01b.cfg",
    b"\x1b[31mred.cfg",
    b"evil\nFAKE-LOG-LINE injected.cfg",
    b"cr\rFAKE-CR.cfg",
    b"tab\tname.cfg",
    b"del\x7f.cfg",
]


def test_control_characters_are_refused_and_escaped_in_the_log(srv):
    before = len(srv.log_bytes())
    for name in CONTROL_NAMES:
        with srv.client() as client:
            pkt = client.expect_error(name)
            assert pkt.code == 2, (name, pkt)
    srv.wait_log(r'"[^"\n]*FAKE-CR[^"\n]*" denied')
    srv.wait_log(r'"[^"\n]*red\.cfg" denied')
    srv.wait_log(r'"del\\x7f\.cfg" denied')  # the last: the log is written in batches
    log = srv.log_bytes()[before:]
    raw = sorted({chr(c) for c in log if (c < 0x20 and c != 0x0A) or c == 0x7F})
    assert raw == [], f"raw control bytes {raw!r} in the log:\n{log!r}"
    assert not re.search(rb"^FAKE", log, re.MULTILINE), log
    # One warning per refused name, each naming the peer.
    warnings = [l for l in log.split(b"\n") if re.search(rb"\bwarn", l) and b"127.0.0.1" in l]
    assert len(warnings) >= len(CONTROL_NAMES), log


def test_quote_in_name_is_escaped_in_the_log(srv):
    with srv.client() as client:
        assert client.expect_error('say "hi".cfg').code == 1
    srv.wait_log(r'"say \\"hi\\"\.cfg" not found')


def test_high_bytes_in_name_are_escaped_or_not_found(srv):
    with srv.client() as client:
        pkt = client.expect_error(b"caf\xe9\xff.cfg")
        assert pkt.code in (1, 2)
    srv.wait_log(r'caf.*\.cfg" (not found|denied)')


def test_name_length_limit(srv):
    """max_name_length defaults to 255: 255 characters are served, 256 refused, 300 too."""
    name = "a" * 251 + ".cfg"
    assert srv.get(name).data == b"long name\n"
    with srv.client() as client:
        assert client.expect_error("a" + name).code == 2
    with srv.client() as client:
        assert client.expect_error("b" * 300).code == 2


def test_name_length_limit_from_config(site, start_server):
    site.conf("""
        [server]
        max_name_length = 20
    """)
    site.write("n" * 16 + ".cfg", b"twenty\n")  # 20 characters
    server = start_server(site)
    assert server.get("n" * 16 + ".cfg").data == b"twenty\n"
    with server.client() as client:
        assert client.expect_error("n" * 17 + ".cfg").code == 2


def test_garbage_on_a_transfer_port(srv):
    """Nonsense from the right peer during a transfer must not crash anything."""
    with srv.client() as client:
        first = client.request("good.bin", options=[("blksize", 1000)])
        assert first.op == OACK
        for junk in (b"", b"\x00", b"\x00\x04", b"\x00\x04\x00", b"\x00\x09junk", ack(60000)):
            client.send(junk)
        answers = client.poll(0.3)
        for pkt, _ in answers:
            assert pkt.op in (ERROR, OACK, DATA), pkt
    srv.assert_alive()


@pytest.mark.parametrize("window", [1, 4])
def test_ack_from_the_future(srv, window):
    """An ACK for a block never sent must not move the transfer past the end of the file."""
    with srv.client() as client:
        options = [("windowsize", window)] if window > 1 else []
        first = client.request("good.bin", options=options)
        if window > 1:
            assert first.op == OACK
            client.send(ack(0))
            first = client.recv()[0]
        assert first.op == DATA and first.block == 1
        for block in (7, 100, 65535):
            client.send(ack(block))
        for pkt, _ in client.poll(0.3):
            assert pkt.op in (DATA, ERROR), pkt
            if pkt.op == DATA:
                assert pkt.block <= 6 and len(pkt.data) <= 512, pkt
    srv.assert_alive()


def test_many_silent_clients_time_out_cleanly(site, start_server):
    """Hundreds of transfers abandoned at once: each times out, none leaks (ASan checks at
    the stop), and the server serves normally afterwards."""
    site.conf("""
        [tftp]
        timeout = 100
        retries = 1
        max_transfers_per_peer = 1000
    """)
    site.write("f.bin", pattern_bytes(5000, 42))
    server = start_server(site)
    clients = [server.client() for _ in range(200)]
    try:
        for i, client in enumerate(clients):
            options = [("blksize", 1024), ("tsize", 0)] if i % 2 else []
            client.send_server(tftp_raw.rrq("f.bin", options=options))
        server.wait_log(r'"f\.bin" timed out', count=200, timeout=20)
    finally:
        for client in clients:
            client.close()
    assert server.get("f.bin").data == pattern_bytes(5000, 42)


def test_fifo_does_not_block_the_server(srv):
    """Opening a FIFO for reading blocks until a writer appears: the server must not
    wait on it (it would stop serving everyone)."""
    fifo = srv.site.files / "fifo.cfg"
    if not fifo.exists():
        os.mkfifo(fifo)
    with srv.client() as client:
        client.send_server(tftp_raw.rrq("fifo.cfg"))
        answers = client.poll(1.0)
        assert len(answers) == 1 and answers[0][0].op == ERROR, answers
    assert srv.get("good.bin").data == GOOD


def test_file_above_default_max_file_size(srv):
    """A sparse 1 GiB + 1 file: refused at once with an ERROR, nothing sent."""
    path = srv.site.files / "huge.img"
    with open(path, "wb") as f:
        f.truncate((1 << 30) + 1)
    try:
        with srv.client() as client:
            pkt = client.request("huge.img", options=[("tsize", 0)])
            assert pkt.op == ERROR, pkt
    finally:
        path.unlink()
