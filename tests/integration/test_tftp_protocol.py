# SPDX-License-Identifier: MIT
"""TFTP protocol behaviour seen on the wire, driven by the raw client."""

import re

import pytest

from harness import SHARED_FILES, md5, pattern_bytes
import tftp_raw
from tftp_raw import DATA, ERROR, OACK, ack, error, rrq


# --- plain RFC 1350 -----------------------------------------------------------------

def test_no_options_is_plain_rfc1350(server):
    """Without options the answer is DATA 1 straight away, 512-byte blocks, and a file of
    exactly 4 x 512 bytes ends with an empty fifth block."""
    with server.client() as client:
        first = client.request("b512x4.bin")
        assert first.op == DATA and first.block == 1 and len(first.data) == 512
        result = client.receive(first)
    assert result.oack is None
    assert result.data == SHARED_FILES["b512x4.bin"]
    assert result.blocks == 5


def test_empty_file_is_one_empty_block(server):
    with server.client() as client:
        first = client.request("empty.bin")
        assert first.op == DATA and first.block == 1 and first.data == b""
        client.send(ack(1))


def test_transfer_comes_from_a_new_port(server):
    with server.client() as client:
        first = client.request("one.bin")
        assert first.op == DATA
        assert client.peer[1] != server.port
        client.receive(first)


@pytest.mark.parametrize("name,file", [
    ("/algop8188.conf", "algop8188.conf"),
    ("\\algop8188.conf", "algop8188.conf"),
    ("sub\\dir\\model.cfg", "sub/dir/model.cfg"),
    ("/sub/dir/model.cfg", "sub/dir/model.cfg"),
    ("\\sub\\dir\\model.cfg", "sub/dir/model.cfg"),
    ("sub//dir/./model.cfg", "sub/dir/model.cfg"),
    ("./algop8188.conf", "algop8188.conf"),
])
def test_name_normalisation(server, name, file):
    """docs/tftp.md: backslashes become slashes; leading /, empty and . components go."""
    assert server.get(name).data == SHARED_FILES[file]


@pytest.mark.parametrize("mode", ["OCTET", "Octet", "NetASCII"])
def test_mode_is_case_insensitive(server, mode):
    data = SHARED_FILES["sub/dir/model.cfg"]
    if mode.lower() == "netascii":
        data = tftp_raw.netascii(data)
    assert server.get("sub/dir/model.cfg", mode=mode).data == data


# --- option negotiation (RFC 2347, 2348, 2349, 7440) -------------------------------

@pytest.mark.parametrize("options,expected", [
    ([("blksize", 1428)], {"blksize": "1428"}),
    ([("tsize", 0)], {"tsize": str(len(SHARED_FILES["odd.bin"]))}),
    ([("timeout", 3)], {"timeout": "3"}),
    ([("windowsize", 4)], {"windowsize": "4"}),
    ([("blksize", 1024), ("tsize", 0), ("timeout", 2), ("windowsize", 8)],
     {"blksize": "1024", "tsize": str(len(SHARED_FILES["odd.bin"])), "timeout": "2",
      "windowsize": "8"}),
    ([("BlkSize", 1024), ("TSIZE", 0)], {"blksize": "1024", "tsize": str(len(SHARED_FILES["odd.bin"]))}),
    ([("foo", "bar"), ("blksize", 1024), ("x-vendor", "1")], {"blksize": "1024"}),
    ([("blksize", 8)], {"blksize": "8"}),
    ([("blksize", 65464)], {"blksize": "65464"}),
    ([("timeout", 5), ("windowsize", 64)], {"timeout": "5", "windowsize": "64"}),
    ([("timeout", 1), ("windowsize", 1)], {"timeout": "1", "windowsize": "1"}),
    # over [tftp] max_timeout (5 s): RFC 2349 allows no other value, so it is left out
    ([("timeout", 255), ("windowsize", 64)], {"windowsize": "64"}),
    ([("timeout", 6), ("blksize", 1024)], {"blksize": "1024"}),
], ids=["blksize", "tsize", "timeout", "windowsize", "all", "case", "unknown-ignored", "blksize8",
        "blksize-max", "maxima", "minima", "timeout-over-cap", "timeout-6"])
def test_oack_contents_and_transfer(server, options, expected):
    """The OACK carries exactly the accepted options, and the transfer then follows them."""
    with server.client() as client:
        first = client.request("odd.bin", options=options)
        assert first.op == OACK, first
        assert first.options == expected
        result = client.receive(first)
    assert result.data == SHARED_FILES["odd.bin"]
    blksize = int(expected.get("blksize", 512))
    assert result.blocks == len(SHARED_FILES["odd.bin"]) // blksize + 1


def test_empty_file_leaves_tsize_out(server):
    """curl refuses "tsize 0" in an OACK, so an empty file is answered without tsize."""
    with server.client() as client:
        first = client.request("empty.bin", options=[("blksize", 1428), ("tsize", 0)])
        assert first.op == OACK and first.options == {"blksize": "1428"}
        assert client.receive(first).data == b""
    with server.client() as client:
        first = client.request("empty.bin", options=[("tsize", 0)])
        assert first.op == DATA and first.block == 1 and first.data == b""


def test_only_unknown_options_means_no_oack(server):
    """If no option is accepted, the server answers as RFC 1350 does: DATA 1."""
    with server.client() as client:
        first = client.request("odd.bin", options=[("foo", "bar"), ("colour", "blue")])
        assert first.op == DATA and first.block == 1 and len(first.data) == 512
        assert client.receive(first).data == SHARED_FILES["odd.bin"]


def test_blksize_is_lowered_to_max_blksize(site, start_server):
    site.conf("""
        [tftp]
        max_blksize = 1024
    """)
    data = pattern_bytes(5000, 11)
    site.write("f.bin", data)
    server = start_server(site)
    with server.client() as client:
        first = client.request("f.bin", options=[("blksize", 1428)])
        assert first.op == OACK and first.options == {"blksize": "1024"}
        result = client.receive(first)
    assert result.data == data and result.blocks == 5


def test_windowsize_is_lowered_to_max_windowsize(site, start_server):
    site.conf("""
        [tftp]
        max_windowsize = 4
    """)
    data = pattern_bytes(512 * 9 + 1, 12)
    site.write("f.bin", data)
    server = start_server(site)
    with server.client() as client:
        first = client.request("f.bin", options=[("windowsize", 16)])
        assert first.op == OACK and first.options == {"windowsize": "4"}
        assert client.receive(first).data == data


@pytest.fixture
def slow_site(site):
    """A server that waits 2 s before retransmitting: quiet windows are meaningful."""
    site.conf("""
        [tftp]
        timeout = 2000
        retries = 3
    """)
    return site


def test_windowsize_sends_a_window_per_ack(slow_site, start_server):
    data = pattern_bytes(512 * 10 + 100, 13)
    slow_site.write("w.bin", data)
    server = start_server(slow_site)
    with server.client() as client:
        oack = client.request("w.bin", options=[("windowsize", 4)])
        assert oack.op == OACK and oack.options == {"windowsize": "4"}
        got = []
        for window_end in (4, 8):
            client.send(ack(window_end - 4))
            packets = [client.recv()[0] for _ in range(4)]
            assert [p.block for p in packets] == list(range(window_end - 3, window_end + 1))
            got += [p.data for p in packets]
            # The window is full: nothing more until it is acknowledged.
            assert client.poll(0.3) == []
        client.send(ack(8))
        packets = [client.recv()[0] for _ in range(3)]
        assert [p.block for p in packets] == [9, 10, 11]
        assert len(packets[-1].data) == 100
        got += [p.data for p in packets]
        client.send(ack(11))
        assert client.poll(0.3) == []
    assert b"".join(got) == data


def test_windowsize_ack_inside_window_resumes_after_it(slow_site, start_server):
    """RFC 7440: an ACK for a block inside the window restarts the window after it."""
    data = pattern_bytes(512 * 10 + 100, 14)
    slow_site.write("w.bin", data)
    server = start_server(slow_site)
    with server.client() as client:
        client.request("w.bin", options=[("windowsize", 4)])
        client.send(ack(0))
        assert [client.recv()[0].block for _ in range(4)] == [1, 2, 3, 4]
        client.send(ack(2))  # as if 3 had been lost
        packets = [client.recv()[0] for _ in range(4)]
        assert [p.block for p in packets] == [3, 4, 5, 6]
        assert packets[0].data == data[2 * 512:3 * 512]
        client.send(ack(6))
        result = client.receive(None, start=7, window=4)
    assert data[6 * 512:] == result.data


def test_windowsize_with_loss(site, start_server):
    site.conf("""
        [tftp]
        timeout = 100
    """)
    data = pattern_bytes(512 * 60 + 7, 15)
    site.write("w.bin", data)
    server = start_server(site)
    with server.client() as client:
        result = client.get("w.bin", options=[("windowsize", 8)], drop=lambda n, p: n % 5 == 0)
    assert result.data == data
    assert result.packets > result.blocks  # losses were made up for


def test_block_numbers_roll_over(site, start_server):
    """65536 x 8 + 100 bytes in 8-byte blocks: after block 65535 comes block 0."""
    size = 65536 * 8 + 100
    data = pattern_bytes(size, 16)
    site.write("roll.bin", data)
    server = start_server(site)
    with server.client() as client:
        # Windows of 16 keep this quick; 65536 is a multiple of 16, so the client
        # acknowledges block 0 after the wrap.
        first = client.request("roll.bin", options=[("blksize", 8), ("windowsize", 16), ("tsize", 0)])
        assert first.options == {"blksize": "8", "windowsize": "16", "tsize": str(size)}
        result = client.receive(first)
    assert result.blocks == size // 8 + 1 > 65536
    assert md5(result.data) == md5(data)


def test_block_numbers_roll_over_lock_step(site, start_server):
    """The same in lock-step with blksize 16: ACK 65535, then DATA 0, ACK 0, DATA 1."""
    size = 65536 * 16 + 1000
    data = pattern_bytes(size, 17)
    site.write("roll.bin", data)
    server = start_server(site)
    with server.client() as client:
        result = client.get("roll.bin", options=[("blksize", 16)])
    assert result.blocks == size // 16 + 1
    assert md5(result.data) == md5(data)


# --- retransmission ------------------------------------------------------------------

def test_duplicate_ack_does_not_cause_a_resend(slow_site, start_server):
    """No Sorcerer's Apprentice: a repeated ACK is not answered with DATA."""
    data = pattern_bytes(512 * 5 + 3, 18)
    slow_site.write("d.bin", data)
    server = start_server(slow_site)
    with server.client() as client:
        first = client.request("d.bin")
        assert first.block == 1
        client.send(ack(1))
        second = client.recv()[0]
        assert second.op == DATA and second.block == 2
        for _ in range(3):
            client.send(ack(1))
        assert client.poll(0.5) == [], "a duplicate ACK made the server send DATA"
        client.send(ack(2))
        answers = client.poll(0.5)
        assert [(p.op, p.block) for p, _ in answers] == [(DATA, 3)]
        result = client.receive(answers[0][0], start=3)
    assert first.data + second.data + result.data == data


@pytest.fixture
def fast_site(site):
    """A server that retransmits after 100 ms."""
    site.conf("""
        [tftp]
        timeout = 100
        retries = 5
    """)
    return site


def test_data_is_retransmitted_after_timeout(fast_site, start_server):
    data = pattern_bytes(512 * 3 + 5, 19)
    fast_site.write("r.bin", data)
    server = start_server(fast_site)
    with server.client() as client:
        first = client.request("r.bin")
        again, addr = client.recv()  # no ACK sent: the server must send block 1 again
        assert addr == client.peer
        assert again.op == DATA and again.block == 1 and again.data == first.data
        client.send(ack(1))
        result = client.receive(None, start=2)
    assert first.data + result.data == data


def test_last_block_is_retransmitted_if_its_ack_is_lost(fast_site, start_server):
    data = pattern_bytes(512 * 2 + 10, 31)
    fast_site.write("l.bin", data)
    server = start_server(fast_site)
    with server.client() as client:
        result = client.get("l.bin", drop=lambda n, p: n == 3)  # the short last block
        assert result.packets == 4
        assert client.poll(0.5) == [], "the server kept sending after the final ACK"
    assert result.data == data
    server.wait_log(r'"l\.bin" sent, 1034 bytes')


def test_window_is_resent_after_timeout(fast_site, start_server):
    data = pattern_bytes(512 * 9 + 10, 32)
    fast_site.write("w.bin", data)
    server = start_server(fast_site)
    with server.client() as client:
        assert client.request("w.bin", options=[("windowsize", 4)]).op == OACK
        client.send(ack(0))
        assert [client.recv()[0].block for _ in range(4)] == [1, 2, 3, 4]
        again = client.recv()[0]  # no ACK: the window starts over
        assert again.op == DATA and again.block == 1, again
        result = client.receive(again, window=4)
    assert result.data == data


def test_negotiated_timeout_is_used(fast_site, start_server):
    """The client's timeout option (seconds) replaces [tftp] timeout (100 ms here): the
    first retransmission cannot come before most of a second has passed."""
    import time
    fast_site.write("t.bin", pattern_bytes(2000, 33))
    server = start_server(fast_site)
    with server.client() as client:
        oack = client.request("t.bin", options=[("timeout", 1)])
        assert oack.op == OACK and oack.options == {"timeout": "1"}
        client.send(ack(0))
        first = client.recv()[0]
        sent = time.monotonic()
        again = client.recv()[0]
        assert (again.op, again.block) == (DATA, 1)
        assert time.monotonic() - sent > 0.7, "retransmitted before the negotiated timeout"
        assert client.receive(again).data == pattern_bytes(2000, 33)
        del first


def test_netascii_with_options(site, start_server):
    text = b"".join(b"line %d\r\n\rlone cr\n" % i for i in range(2000))
    site.write("t.txt", text)
    server = start_server(site)
    wire = tftp_raw.netascii(text)
    with server.client() as client:
        result = client.get("t.txt", mode="netascii",
                            options=[("blksize", 1000), ("windowsize", 4), ("tsize", 0)])
    assert result.oack == {"blksize": "1000", "windowsize": "4", "tsize": str(len(wire))}
    assert result.data == wire


def test_sighup_during_a_transfer(slow_site, start_server):
    """A reload changes neither the file nor the accounting of a transfer in flight."""
    data = pattern_bytes(512 * 20 + 5, 34)
    slow_site.write("h.bin", data)
    server = start_server(slow_site)
    with server.client() as client:
        first = client.request("h.bin")
        slow_site.write("h.bin", pattern_bytes(512 * 20 + 5, 35))
        slow_site.conf("""
            [tftp]
            timeout = 2000
            max_transfers_per_peer = 1
        """)
        server.reload()
        import time
        time.sleep(0.3)
        assert client.receive(first).data == data
    server.wait_log(r'"h\.bin" sent')
    # One slot per peer now, and the finished transfer must not still hold it.
    assert server.get("h.bin").data == pattern_bytes(512 * 20 + 5, 35)


def test_oack_is_retransmitted_after_timeout(fast_site, start_server):
    data = pattern_bytes(3000, 20)
    fast_site.write("r.bin", data)
    server = start_server(fast_site)
    with server.client() as client:
        first = client.request("r.bin", options=[("blksize", 1000), ("tsize", 0)])
        assert first.op == OACK
        again, _ = client.recv()
        assert again.op == OACK and again.options == first.options
        assert client.receive(again).data == data


def test_client_losing_every_third_packet_gets_the_file(fast_site, start_server):
    data = pattern_bytes(512 * 30 + 200, 21)
    fast_site.write("lossy.bin", data)
    server = start_server(fast_site)
    with server.client() as client:
        result = client.get("lossy.bin", drop=lambda n, p: n % 3 == 0)
    assert result.data == data
    assert result.packets >= result.blocks * 3 // 2


@pytest.mark.parametrize("options", [[], [("blksize", 1024), ("tsize", 0)]], ids=["after-data", "after-oack"])
def test_client_error_aborts_the_transfer(fast_site, start_server, options):
    """The client gives up (after DATA 1, or rejecting the OACK with code 8)."""
    fast_site.write("a.bin", pattern_bytes(512 * 10, 22))
    server = start_server(fast_site)
    with server.client() as client:
        first = client.request("a.bin", options=options)
        assert first.op == (OACK if options else DATA)
        client.send(error(8 if options else 0, "user cancelled"))
        assert client.poll(1.0) == [], "the server kept sending after the client's ERROR"
    server.wait_log(r'"a\.bin" aborted')


# --- limits and time-outs ------------------------------------------------------------

@pytest.fixture
def limited_site(site):
    site.conf("""
        [tftp]
        max_transfers_per_peer = 1
        timeout = 100
        retries = 2
    """)
    site.write("hang.bin", pattern_bytes(4000, 23))
    site.write("other.bin", pattern_bytes(1500, 24))
    return site


def test_silent_client_is_dropped_and_frees_its_slot(limited_site, start_server):
    server = start_server(limited_site)
    with server.client() as silent, server.client() as second:
        first = silent.request("hang.bin")
        assert first.op == DATA and first.block == 1
        refused = second.expect_error("other.bin")
        assert refused.code == 0 and "busy" in refused.message.lower(), refused
        server.wait_log(r'"hang\.bin" timed out')
        # retries = 2: the block was sent three times in all, then never again.
        copies = 1 + len([p for p, _ in silent.poll(0.5) if p.op == DATA and p.block == 1])
        assert copies == 3
        second.peer = None
        assert second.get("other.bin").data == limited_site.files.joinpath("other.bin").read_bytes()


def test_slots_are_freed_after_every_outcome(limited_site, start_server):
    """With one slot per peer, a leak on any path would make the next request busy."""
    server = start_server(limited_site)
    other = limited_site.files.joinpath("other.bin").read_bytes()
    for i in range(3):
        with server.client() as client:
            assert client.expect_error("missing.bin").code == 1
        with server.client() as client:
            assert client.expect_error("../outside").code == 2
        with server.client() as client:
            assert client.expect_error("other.bin", options=[("blksize", 2)]).code == 8
        with server.client() as client:
            assert client.get("other.bin").data == other
        server.wait_log(r'"other\.bin" sent', count=i + 1)
        with server.client() as client:
            assert client.request("hang.bin").op == DATA
            client.send(error(0, "cancel"))
        server.wait_log(r'"hang\.bin" aborted', count=i + 1)
        with server.client() as client:
            first = client.request("hang.bin", options=[("blksize", 1000)])
            assert first.op == OACK
        server.wait_log(r'"hang\.bin" timed out', count=i + 1)
    with server.client() as client:
        assert client.get("other.bin").data == other


def test_max_transfers_counts_all_peers(site, start_server):
    site.conf("""
        [tftp]
        max_transfers = 1
        timeout = 2000
    """)
    data = pattern_bytes(2000, 25)
    site.write("f.bin", data)
    server = start_server(site)
    with server.client() as first, tftp_raw.Client(server.port, bind="127.0.0.2") as stranger:
        head = first.request("f.bin")
        assert head.op == DATA
        refused = stranger.expect_error("f.bin")
        assert refused.code == 0 and "busy" in refused.message.lower()
        assert first.receive(head).data == data
        server.wait_log(r'"f\.bin" sent')
        stranger.peer = None
        assert stranger.get("f.bin").data == data


def test_max_transfers_per_peer_is_per_address(site, start_server):
    site.conf("""
        [tftp]
        max_transfers_per_peer = 1
        timeout = 2000
    """)
    data = pattern_bytes(2000, 26)
    site.write("f.bin", data)
    server = start_server(site)
    with server.client() as first, server.client() as same_host, \
            tftp_raw.Client(server.port, bind="127.0.0.2") as other_host:
        head = first.request("f.bin")
        assert head.op == DATA
        refused = same_host.expect_error("f.bin")
        assert refused.code == 0 and "busy" in refused.message.lower()
        assert other_host.get("f.bin").data == data
        assert first.receive(head).data == data


def test_packet_from_a_third_port_gets_error_5(slow_site, start_server):
    """A stranger writing to a transfer's port is told "unknown transfer ID"; the transfer
    itself neither advances nor stops."""
    data = pattern_bytes(512 * 6 + 1, 27)
    slow_site.write("t.bin", data)
    server = start_server(slow_site)
    with server.client() as client, server.client() as stranger:
        first = client.request("t.bin")
        assert first.op == DATA and first.block == 1
        stranger.send(ack(1), client.peer)
        answer, addr = stranger.recv()
        assert addr == client.peer
        assert answer.op == ERROR and answer.code == 5, answer
        assert client.poll(0.3) == [], "the stranger's ACK moved the transfer on"
        assert client.receive(first).data == data


def test_max_file_size_refuses_larger_files(site, start_server):
    site.conf("""
        [server]
        max_file_size = 1K
    """)
    site.write("fits.bin", pattern_bytes(1024, 28))
    site.write("large.bin", pattern_bytes(1025, 29))
    server = start_server(site)
    assert server.get("fits.bin").data == pattern_bytes(1024, 28)
    with server.client() as client:
        pkt = client.request("large.bin", options=[("tsize", 0)])
        assert pkt.op == ERROR and pkt.code == 0, pkt
        assert client.poll(0.3) == []


def test_prefix_is_stripped_when_present(site, start_server):
    site.conf("""
        [tftp]
        prefix = tftpboot
    """)
    data = b"prefix test\n"
    site.write("p.cfg", data)
    server = start_server(site)
    for name in ("tftpboot/p.cfg", "/tftpboot/p.cfg", "p.cfg"):
        assert server.get(name).data == data, name
    with server.client() as client:
        assert client.expect_error("tftpboot/../p.cfg").code == 2


def test_ipv6_listener(site, start_server):
    import socket
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    data = pattern_bytes(3000, 30)
    site.write("v6.bin", data)
    server = start_server(site, tftp="[::1]:0")
    assert server.get("v6.bin", options=[("blksize", 1400)]).data == data
    server.wait_log(r'tftp: \[?::1\]?:\d+ "v6\.bin" sent')


def test_client_that_vanishes_frees_its_slot(limited_site, start_server):
    """The client closes its port right after the request: the server's DATA meets a
    closed port (ICMP port unreachable). It must give up and free the slot."""
    server = start_server(limited_site)
    client = server.client()
    client.send_server(tftp_raw.rrq("hang.bin"))
    client.close()
    server.wait_log(r'"hang\.bin" (timed out|aborted|error)\b')
    assert server.get("other.bin").data == limited_site.files.joinpath("other.bin").read_bytes()


@pytest.mark.parametrize("name", ["my phone.cfg", "t\u00e9l\u00e9phone.cfg", "a'b.cfg", "100%.cfg",
                                  "weird,name;x=1.cfg"])
def test_unusual_but_legal_names(site, start_server, name):
    site.write(name, b"content of " + name.encode() + b"\n")
    server = start_server(site)
    assert server.get(name.encode()).data == b"content of " + name.encode() + b"\n"


def test_small_cache_evicts_without_harm(site, start_server):
    site.conf("""
        [server]
        cache_size = 10K
    """)
    files = {f"f{i}.bin": pattern_bytes(8000 + i, 80 + i) for i in range(5)}
    for name, data in files.items():
        site.write(name, data)
    server = start_server(site, verbose=True)
    for name in list(files) + list(reversed(files)) + list(files):
        assert server.get(name).data == files[name], name
    # With room for one file only, files were read again after eviction.
    server.wait_log(r"site: loaded f0\.bin", count=2)


def test_repeated_request_is_not_a_second_transfer(slow_site, start_server):
    """A device that repeats its RRQ (same address and port) while the transfer runs gets
    one transfer: one DATA 1, from one port."""
    data = pattern_bytes(512 * 3 + 1, 36)
    slow_site.write("rep.bin", data)
    server = start_server(slow_site)
    with server.client() as client:
        client.send_server(rrq("rep.bin"))
        client.send_server(rrq("rep.bin"))
        answers = client.poll(0.5)
        assert [(p.op, p.block) for p, _ in answers] == [(DATA, 1)], answers
        client.peer = answers[0][1]
        assert client.receive(answers[0][0]).data == data
    server.wait_log(r'"rep\.bin" sent', count=1)
    assert len(re.findall(r'"rep\.bin" sent', server.log())) == 1


def test_reply_comes_from_the_address_asked(site, start_server):
    """Listening on 0.0.0.0, a request sent to 127.0.0.2 is answered from 127.0.0.2 (a
    device on a multi-homed server only accepts replies from the address it asked)."""
    data = pattern_bytes(2000, 37)
    site.write("mh.bin", data)
    server = start_server(site, tftp="0.0.0.0:0")
    with tftp_raw.Client(server.port, host="127.0.0.2") as client:
        result = client.get("mh.bin")
    assert result.peer[0] == "127.0.0.2"
    assert result.data == data


def test_request_size_limit(server):
    """Requests over 8 KiB are malformed (error 4); a large one under it is served."""
    def options(total):
        out, size = [], len(rrq("odd.bin"))
        i = 0
        while True:
            pair = (f"x{i:05d}", "v" * 20)
            if size + len(pair[0]) + len(pair[1]) + 2 > total:
                return out, size
            out.append(pair)
            size += len(pair[0]) + len(pair[1]) + 2
            i += 1
    under, size = options(7 * 1024)
    assert size <= 8192
    with server.client() as client:
        first = client.request("odd.bin", options=under)
        assert first.op == DATA, first
        assert client.receive(first).data == SHARED_FILES["odd.bin"]
    over, size = options(9 * 1024)
    assert size > 8192
    with server.client() as client:
        assert client.expect_error("odd.bin", options=over).code == 4
