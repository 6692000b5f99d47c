# SPDX-License-Identifier: MIT
"""The endpoint's check-sync listener under attack (issue 14, item 6): a captured,
authenticated `check-sync;reboot=true` NOTIFY replayed reboots the endpoint once; nonces
differ from one start to the next; without sip_password only the provisioning server (or
the checksync_from addresses) may make the endpoint act. Spoofed sources are other
127.x.y.z addresses on loopback."""

import hashlib
import socket
import subprocess
import time

from harness import BIN
import peers
from test_agent import MAC, LiveAgent, algo_site


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def notify_msg(port, event, src_port, auth=None, cseq=1, branch=None, call_id=None,
               src="127.0.0.1"):
    uri = f"sip:{MAC}@127.0.0.1:{port}"
    branch = branch or f"z9hG4bK{cseq}x"
    call_id = call_id or f"cs{cseq}@test"
    return (f"NOTIFY {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {src}:{src_port};branch={branch}\r\n"
            f"From: <sip:admin@{src}>;tag=t{cseq}\r\nTo: <{uri}>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} NOTIFY\r\nEvent: {event}\r\n"
            + (f"Authorization: {auth}\r\n" if auth else "")
            + "Content-Length: 0\r\n\r\n").encode(), uri


class Sender:
    """A UDP socket bound to src (any 127.x.y.z) that sends raw datagrams to the agent."""

    def __init__(self, port, src="127.0.0.1"):
        self.port, self.src = port, src
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((src, 0))
        self.s.settimeout(5)
        self.me = self.s.getsockname()[1]

    def send(self, data):
        self.s.sendto(data, ("127.0.0.1", self.port))
        reply = self.s.recv(65535).decode()
        return int(reply.split(" ", 2)[1]), reply

    def notify(self, event, **kw):
        data, _ = notify_msg(self.port, event, self.me, src=self.src, **kw)
        return self.send(data)

    def close(self):
        self.s.close()


def challenge_of(reply):
    line = next(l for l in reply.split("\r\n") if l.startswith("WWW-Authenticate"))
    return {k: line.split(f'{k}="')[1].split('"')[0] for k in ("realm", "nonce")}, line


def authorization(realm, nonce, uri, user="2001", password="pw", nc="00000001", cnonce="abc"):
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"NOTIFY:{uri}")
    resp = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", cnonce="{cnonce}", nc={nc}, qop=auth, algorithm=MD5')


def start(site, start_server, *sets):
    algo_site(site, {"algop8188.conf": "a = 1\n"})
    server = start_server(site)
    sip = peers.free_port(socket.SOCK_DGRAM)
    args = ["--profile", "algo", "--mac", MAC, "--model", "8188", "--server",
            f"tftp://127.0.0.1:{server.port}", "--set", f"sip_listen=127.0.0.1:{sip}"]
    for s in sets:
        args += ["--set", s]
    live = LiveAgent(*args)
    live.wait(lambda e: e["event"] == "done")
    return live, sip


def settle(live, seconds=1.0):
    """Every event the agent reports in the next `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            live.seen.append(live.events.get(timeout=0.1))
        except Exception:
            pass
    return live.seen


def test_replayed_reboot_notify_reboots_once(site, start_server):
    live, sip = start(site, start_server, "sip_user=2001", "sip_password=pw")
    tx = Sender(sip)
    try:
        code, reply = tx.notify("check-sync;reboot=true", cseq=1)
        assert code == 401, reply
        ch, _ = challenge_of(reply)
        uri = f"sip:{MAC}@127.0.0.1:{sip}"
        data, _ = notify_msg(sip, "check-sync;reboot=true", tx.me, cseq=2,
                               auth=authorization(ch["realm"], ch["nonce"], uri))
        # the genuine NOTIFY, as the server sends it and an attacker captures it
        assert tx.send(data)[0] == 200
        live.wait(lambda e: e["event"] == "reboot")
        live.wait(lambda e: e["event"] == "done")
        base = len(live.seen)
        # the capture sent again, byte for byte: the transaction's 200, nothing done
        for _ in range(3):
            assert tx.send(data)[0] == 200
        # the capture in a new transaction (another branch and Call-ID): nonce spent
        for i in range(3):
            replay, _ = notify_msg(sip, "check-sync;reboot=true", tx.me, cseq=2,
                                   branch=f"z9hG4bKreplay{i}", call_id=f"r{i}@x",
                                   auth=authorization(ch["realm"], ch["nonce"], uri))
            code, reply = tx.send(replay)
            assert code == 401, reply
            assert "stale=true" in reply
            assert challenge_of(reply)[0]["nonce"] != ch["nonce"]
        # with a higher nonce count, computed by someone without the password: refused
        forged, _ = notify_msg(sip, "check-sync;reboot=true", tx.me, cseq=9, branch="z9hG4bKf",
                               call_id="f@x",
                               auth=authorization(ch["realm"], ch["nonce"], uri,
                                                  password="guess", nc="00000002"))
        assert tx.send(forged)[0] == 401
        events = settle(live)[base:]
        assert [e for e in events if e["event"] == "reboot"] == [], events
        assert not any("check-sync received" in e["text"] for e in events), events
        said = [e["text"] for e in events]
        assert sum("retransmission" in t and "ignored" in t for t in said) == 3, said
        assert sum("replayed" in t and "ignored" in t for t in said) == 3, said
        assert sum("wrong credentials" in t for t in said) == 1, said
        assert len([e for e in live.seen if e["event"] == "reboot"]) == 2  # config + NOTIFY
    finally:
        tx.close()
        live.stop()


def first_nonce(site, start_server):
    live, sip = start(site, start_server, "sip_user=2001", "sip_password=pw")
    tx = Sender(sip)
    try:
        code, reply = tx.notify("check-sync")
        assert code == 401, reply
        return challenge_of(reply)[0]["nonce"]
    finally:
        tx.close()
        live.stop()


def test_first_nonces_of_two_starts_differ(site, start_server):
    a = first_nonce(site, start_server)
    b = first_nonce(site, start_server)
    assert a != b
    assert len(a) == 64 and len(b) == 64


def test_without_password_only_the_server_address_is_obeyed(site, start_server):
    live, sip = start(site, start_server)
    stranger = Sender(sip, src="127.0.0.9")
    server = Sender(sip, src="127.0.0.1")
    try:
        base = len(live.seen)
        code, reply = stranger.notify("check-sync;reboot=true", cseq=1)
        assert code == 403, reply
        events = settle(live, 0.5)[base:]
        assert not any(e["event"] == "reboot" for e in events), events
        assert any("from 127.0.0.9 ignored" in e["text"] and "not the provisioning server"
                   in e["text"] for e in events), events
        code, reply = server.notify("check-sync;reboot=true", cseq=2)
        assert code == 200, reply
        live.wait(lambda e: e["event"] == "reboot")
    finally:
        stranger.close()
        server.close()
        live.stop()


def test_checksync_from_names_the_senders(site, start_server):
    live, sip = start(site, start_server, "checksync_from=127.0.0.9, ::1")
    other = Sender(sip, src="127.0.0.1")
    listed = Sender(sip, src="127.0.0.9")
    try:
        code, reply = other.notify("check-sync", cseq=1)
        assert code == 403, reply
        assert listed.notify("check-sync", cseq=2)[0] == 200
        live.wait(lambda e: e["text"].startswith("pass") and "check-sync" in e["text"])
    finally:
        other.close()
        listed.close()
        live.stop()


def test_checksync_from_must_be_addresses():
    p = subprocess.run([str(BIN), "agent", "--profile", "algo", "--mac", MAC, "--set",
                        "checksync_from=server.example"], capture_output=True, text=True)
    assert p.returncode == 2 and "checksync_from" in p.stderr, p.stderr


def test_check_sync_while_provisioning_is_disabled_is_answered_and_ignored(site, start_server):
    """Seed 000 section 6: check-sync only while Provisioning Mode is enabled. Disabled by
    the applied configuration (prov.enable = 0) or by the setting: the NOTIFY's transaction
    completes (200), nothing else happens, and the timeline says why."""
    algo_site(site, {"algop8188.conf": "a = 1\nprov.enable = 0\n"})
    server = start_server(site)
    sip = peers.free_port(socket.SOCK_DGRAM)
    live = LiveAgent("--profile", "algo", "--mac", MAC, "--model", "8188", "--server",
                     f"tftp://127.0.0.1:{server.port}", "--set", f"sip_listen=127.0.0.1:{sip}")
    tx = Sender(sip)
    try:
        live.wait(lambda e: e["event"] == "done" and "disabled" in e["text"])
        base = len(live.seen)
        for cseq, event in ((1, "check-sync;reboot=true"), (2, "check-sync")):
            code, reply = tx.notify(event, cseq=cseq)
            assert code == 200, reply
        events = settle(live)[base:]
        kinds = [e["event"] for e in events]
        assert "reboot" not in kinds and "fetch" not in kinds, events
        assert not any(e["text"].startswith("pass") for e in events), events
        assert sum("check-sync ignored: provisioning is disabled" in e["text"]
                   for e in events) == 2, events
    finally:
        tx.close()
        live.stop()
    # the setting: no download ever happened, so checksync_from names the sender
    live = LiveAgent("--profile", "algo", "--mac", MAC, "--model", "8188", "--server",
                     f"tftp://127.0.0.1:{server.port}", "--set", "enabled=0", "--set",
                     f"sip_listen=127.0.0.1:{sip}", "--set", "checksync_from=127.0.0.1")
    tx = Sender(sip)
    try:
        live.wait(lambda e: e["event"] == "done")
        base = len(live.seen)
        assert tx.notify("check-sync;reboot=true", cseq=3)[0] == 200
        events = settle(live)[base:]
        assert not any(e["event"] in ("reboot", "fetch") for e in events), events
        assert any("check-sync ignored: provisioning is disabled" in e["text"]
                   for e in events), events
    finally:
        tx.close()
        live.stop()
