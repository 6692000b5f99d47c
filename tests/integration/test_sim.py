# SPDX-License-Identifier: MIT
"""`autoprov sim`: small boot storms of every profile against `autoprov serve` over TFTP and
HTTP (every endpoint provisioned, the report's counts equal to the server's journal), a
server that refuses connections for a while and one that loses packets (endpoints retry
per their error retry delay and all converge; the report says what failed and why)."""

import json
import shutil
import socket
import subprocess
import time

import pytest

import peers
from harness import BIN, sanitizer_report

DEVICES = 200
# Every simulated endpoint comes from 127.0.0.1: the per-address limits must allow a fleet,
# and the address is trusted as a NAT in front of devices the inventory does not know.
FLEET_CONF = """
[tftp]
max_transfers_per_peer = 4096
[http]
max_connections_per_peer = 4096
# the whole fleet shares one address, as behind a NAT: every miss of its search order a row
[journal]
miss_rows = 0
# and trusted, so the defence limits it per MAC named, never as one scanner
[defence]
trusted = 127.0.0.0/8
"""


def sim(*args, timeout=300):
    proc = subprocess.run([str(BIN), "sim", "--json", "--timeout", "120", *map(str, args)],
                          capture_output=True,
                          text=True, timeout=timeout)
    assert not sanitizer_report(proc.stderr), proc.stderr
    assert proc.stdout.startswith("{"), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def journal_rows(site, expected, deadline=10.0):
    """The journal's rows once it holds `expected` (it is written every 100 ms)."""
    end = time.monotonic() + deadline
    while True:
        out = subprocess.run([str(BIN), "log", "--site", str(site.root)], capture_output=True,
                             text=True, check=True).stdout.splitlines()
        if len(out) >= expected or time.monotonic() > end:
            return out
        time.sleep(0.2)


def write_profiles(site, port_http):
    """A static tree every profile provisions from."""
    conf = "audio.spk.vol = 3\n"
    site.write("algop8188.conf", conf)                        # algo (md5 generated)
    site.write("y000000000000.boot", "include:config <y000000000000.cfg>\n")
    site.write("y000000000000.cfg", "k=v\n")                  # fip
    site.write("IP542N.conf", "DBID_DBASE_VERSION=4\n")        # spa
    site.write("400HD.img", b"image version=3.4.8\n")         # audiocodes
    site.write("400HD.cfg", "system/type=400HD\n")
    site.write("pana/initial.cfg",                            # panasonic
               f'CFG_STANDARD_FILE_PATH="http://127.0.0.1:{port_http}/pana/common.cfg"\n')
    site.write("pana/common.cfg", 'SIP_RGSTR_PORT_1="5060"\n')


PROFILES = {
    # profile: (protocol, extra sim arguments)
    "algo": ("tftp", ["--model", "8188"]),
    "fip": ("http", ["--set", "pnp=0"]),
    "spa": ("http", ["--model", "IP542N", "--set", "random_delay=0", "--set", "option66=0",
                     "--set", "profile_rule={base}/$PN.conf"]),
    "audiocodes": ("tftp", ["--model", "400HD", "--dhcp-option", "160={base}"]),
    "panasonic": ("http", ["--set", "pnp=0", "--set", "server={base}/pana/"]),
}


@pytest.mark.parametrize("profile", PROFILES)
def test_storm_every_endpoint_provisioned_and_journaled(site, start_server, profile):
    site.conf(FLEET_CONF)
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    write_profiles(site, server.http_port)
    proto, extra = PROFILES[profile]
    base = (f"tftp://127.0.0.1:{server.port}" if proto == "tftp"
            else f"http://127.0.0.1:{server.http_port}")
    extra = [a.replace("{base}", base) for a in extra]
    if profile in ("algo", "fip"):
        extra += ["--server", base]
    code, report, err = sim("--devices", DEVICES, "--profile", profile,
                            "--set", "resync_error_retry_delay=1", *extra)
    assert code == 0 and report["provisioned"] == DEVICES and report["failed"] == 0, (report,
                                                                                      err)
    rows = journal_rows(site, report["fetches"])
    assert len(rows) == report["fetches"], (len(rows), report)
    assert report["p50"] <= report["p99"] <= report["seconds"]


def test_storm_while_the_server_refuses_connections(site, tmp_path):
    """Nothing listens for the first seconds: passes fail with 'connection refused', retry
    after the (shortened) error retry delay, and every endpoint converges."""
    site.conf(FLEET_CONF)
    site.write("y000000000000.boot", "include:config <y000000000000.cfg>\n")
    site.write("y000000000000.cfg", "k=v\n")
    port = peers.free_port()
    proc = subprocess.Popen([str(BIN), "sim", "--json", "--devices", "100", "--profile", "fip",
                             "--set", "pnp=0", "--set", "resync_error_retry_delay=1",
                             "--server", f"http://127.0.0.1:{port}/"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    server = subprocess.Popen([str(BIN), "serve", "--site", str(site.root), "--tftp", "off",
                               "--http", f"127.0.0.1:{port}", "--user", "root"], stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        server.terminate()
        server.communicate(timeout=10)
    report = json.loads(out)
    assert proc.returncode == 0 and report["provisioned"] == 100, (report, err)
    assert report["failed_passes"] >= 100 and report["recovered"] == 100, report
    reasons = {r["reason"] for r in report["failed_pass_reasons"]}
    assert any("connection refused" in r for r in reasons), reasons


def nft_missing():
    from netns import available
    reason = available()
    if reason:
        return reason
    if not shutil.which("nft"):
        return "needs nft (nftables)"
    return None


@pytest.mark.skipif(nft_missing() is not None, reason=str(nft_missing()))
def test_storm_through_packet_loss(site, tmp_path):
    """In a network namespace the test makes, nftables drops 10% of the UDP datagrams both
    ways: TFTP retransmissions and error retries bring every endpoint through."""
    site.conf(FLEET_CONF)
    site.write("algop8188.conf", "audio.spk.vol = 3\n")
    ns = f"apsim{__import__('os').getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    server = None
    try:
        def inside(cmd):
            return ["ip", "netns", "exec", ns, *map(str, cmd)]
        subprocess.run(inside(["ip", "link", "set", "lo", "up"]), check=True)
        subprocess.run(inside(["nft", "add", "table", "inet", "loss"]), check=True)
        subprocess.run(inside(["nft", "add chain inet loss in { type filter hook input "
                                      "priority 0; }"]), check=True)
        subprocess.run(inside(["nft", "add", "rule", "inet", "loss", "in", "meta", "l4proto",
                               "udp", "numgen", "random", "mod", "100", "<", "10", "drop"]),
                       check=True)
        server = subprocess.Popen(inside([BIN, "serve", "--site", site.root, "--tftp",
                                          "127.0.0.1:6969", "--user", "root"]),
                                  stderr=subprocess.PIPE)
        time.sleep(1)
        proc = subprocess.run(inside([BIN, "sim", "--json", "--devices", 60, "--profile", "algo",
                                      "--model", "8188", "--server", "tftp://127.0.0.1:6969",
                                      "--set", "fetch_timeout=6", "--set",
                                      "resync_error_retry_delay=1", "--timeout", 200]),
                              capture_output=True, text=True, timeout=260)
        report = json.loads(proc.stdout)
        assert proc.returncode == 0 and report["provisioned"] == 60, (report, proc.stderr)
        assert not sanitizer_report(proc.stderr)
    finally:
        if server:
            server.terminate()
            server.communicate(timeout=10)
        subprocess.run(["ip", "netns", "del", ns])


def test_sim_from_csv_and_usage(site, start_server, tmp_path):
    site.conf(FLEET_CONF)
    site.write("algop8188.conf", "a = 1\n")
    site.write("algop8189.conf", "a = 2\n")
    server = start_server(site)
    csv = tmp_path / "devices.csv"
    csv.write_text("mac,model,profile,partial\n00:22:ee:00:00:01,8188,algo,1\n"
                   "00:22:ee:00:00:02,8189,algo,0\n")
    code, report, err = sim("--from", csv, "--server", f"tftp://127.0.0.1:{server.port}")
    assert code == 0 and report["devices"] == 2 and report["applies"] == 2, (report, err)
    bad = subprocess.run([str(BIN), "sim", "--devices", "3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--profile" in bad.stderr
    csv.write_text("model\n8188\n")
    bad = subprocess.run([str(BIN), "sim", "--from", str(csv), "--profile", "algo"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "no 'mac' column" in bad.stderr


@pytest.mark.parametrize("proto", ["tftp", "http"])
def test_storm_from_own_addresses_within_default_limits(site, start_server, proto):
    """--source-base: each endpoint its own loopback address, so autoprov's default
    per-address limits hold and the journal shows one peer per endpoint."""
    site.write("algop8188.conf", "audio.spk.vol = 3\n")
    server = start_server(site, args=["--http", "127.0.0.1:0"])
    base = (f"tftp://127.0.0.1:{server.port}" if proto == "tftp"
            else f"http://127.0.0.1:{server.http_port}")
    code, report, err = sim("--devices", 300, "--profile", "algo", "--server", base,
                            "--source-base", "127.3.0.1")
    assert code == 0 and report["provisioned"] == 300 and report["failed_passes"] == 0, (
        report, err)
    rows = journal_rows(site, report["fetches"])
    peers_seen = {row.split()[2].rsplit(":", 1)[0] for row in rows}
    assert len(peers_seen) == 300 and "127.3.0.1" in peers_seen and "127.3.1.44" in peers_seen
