# SPDX-License-Identifier: MIT
"""`autoprov dhcp` and the DHCP client hook scripts: each format's output for the example
site, the real servers' own checks of it (dnsmasq --test, kea-dhcp4 -t, dhcpd -t), the hook
scripts' output format, and end to end in network namespaces: dnsmasq configured from
`autoprov dhcp --format dnsmasq`, udhcpc with scripts/dhcp-hook-udhcpc, the options file
holding what each vendor should get."""

import json
import os
import shutil
import subprocess
import textwrap
import time

import pytest

import netns
from harness import BIN, REPO, example_site, run

UDHCPC_HOOK = REPO / "scripts" / "dhcp-hook-udhcpc"
DHCLIENT_HOOK = REPO / "scripts" / "dhcp-hook-dhclient"
SERVER = "10.0.0.1"


def dhcp(*args):
    return run([BIN, "dhcp", *args])


def ok(result):
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return example_site(tmp_path_factory.mktemp("dhcp"))


def test_help():
    out = ok(dhcp("--help"))
    for word in ("--format", "kea", "dnsmasq", "isc", "--server", "--proto", "--vendor",
                 "--vendor-class", "docs/dhcp.md"):
        assert word in out


@pytest.mark.parametrize("args,status,message", [
    ((), 2, "--format kea|dnsmasq|isc is required"),
    (("--format", "bind"), 2, "is not kea, dnsmasq or isc"),
    (("--format", "kea", "--proto", "gopher", "--server", SERVER), 2, "is not tftp"),
    (("--format", "kea", "--vendor", "algo,yealink", "--server", SERVER), 2, "'yealink'"),
    (("--format", "kea", "--vendor-class", "algo", "--server", SERVER), 2, "VENDOR=STRING"),
    (("--format", "kea", "--server", "a b"), 2, "not an IP address or a host name"),
    (("--format", "kea"), 1, "wildcard address 0.0.0.0"),
    (("--format", "kea", "--proto", "http", "--server", SERVER), 2, "[http] listen is off"),
])
def test_errors(example, args, status, message):
    result = dhcp("--site", example, *args)
    assert result.returncode == status, result.stderr.decode()
    assert message in result.stderr.decode()
    assert result.stdout == b""


def test_dnsmasq_output(example):
    out = ok(dhcp("--format", "dnsmasq", "--site", example, "--server", SERVER))
    lines = set(out.splitlines())
    expected = {
        # everyone: the TFTP server
        'dhcp-option=66,"10.0.0.1"',
        # Algo devices of the inventory by MAC: 66, 160, 150
        "dhcp-mac=set:autoprov-algo,00:22:ee:01:02:03",
        "dhcp-mac=set:autoprov-algo,00:22:ee:01:83:01",
        'dhcp-option=tag:autoprov-algo,66,"10.0.0.1"',
        'dhcp-option=tag:autoprov-algo,160,"tftp://10.0.0.1"',
        "dhcp-option=tag:autoprov-algo,150,10.0.0.1",
        "dhcp-mac=set:autoprov-fip,00:22:ee:0a:0b:0c",
        "dhcp-mac=set:autoprov-spa,00:21:f2:01:1b:19",
        # AudioCodes by the model in option 60 / 77, firmware and configuration of the site
        "dhcp-vendorclass=set:autoprov-audiocodes-400HD,400HD",
        "dhcp-userclass=set:autoprov-audiocodes-400HD,400HD",
        'dhcp-option=tag:autoprov-audiocodes-400HD,160,'
        '"tftp://10.0.0.1/audiocodes/400HD.img;audiocodes/400HD.cfg"',
        'dhcp-option=tag:autoprov-audiocodes-400HD,67,"audiocodes/400HD.img"',
        'dhcp-option=tag:autoprov-panasonic,160,"tftp://10.0.0.1/panasonic/"',
    }
    assert expected <= lines, expected - lines
    # the disabled device (G502N) is given nothing
    assert "00:21:f2:01:1b:1a" not in out


def test_vendor_selection_and_classes(example):
    out = ok(dhcp("--format", "dnsmasq", "--site", example, "--server", SERVER,
                  "--vendor", "algo", "--vendor-class", "algo=AlgoSpeaker",
                  "--vendor-class", "fip=ignored"))
    assert "dhcp-vendorclass=set:autoprov-algo,AlgoSpeaker" in out
    assert "autoprov-fip" not in out and "audiocodes" not in out and "panasonic" not in out


def test_http_urls(example, tmp_path):
    conf = tmp_path / "http.conf"
    conf.write_text(textwrap.dedent("""\
        [tftp]
        listen = off
        [http]
        listen = 192.0.2.7:8080
        prefix = prov
        """))
    out = ok(dhcp("--format", "dnsmasq", "--site", example, "--config", conf))
    assert 'dhcp-option=tag:autoprov-algo,66,"http://192.0.2.7:8080/prov"' in out
    assert 'dhcp-option=tag:autoprov-algo,160,"http://192.0.2.7:8080/prov"' in out
    assert ('dhcp-option=tag:autoprov-audiocodes-400HD,160,'
            '"http://192.0.2.7:8080/prov/audiocodes/400HD.img;audiocodes/400HD.cfg"') in out
    # no TFTP on port 69: no bare-address forms, no 150, no default
    assert ",150," not in out and "dhcp-option=66," not in out
    assert "autoprov-spa,66" not in out
    # --server overrides the host and the port
    out = ok(dhcp("--format", "isc", "--site", example, "--config", conf,
                  "--server", "prov.example.net:80"))
    assert 'option autoprov-provisioning-url "http://prov.example.net/prov/panasonic/";' in out


def _kea_check(path):
    return subprocess.run(["kea-dhcp4", "-t", str(path)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("fmt", ["dnsmasq", "kea", "isc"])
def test_real_server_accepts(example, tmp_path, fmt):
    out = ok(dhcp("--format", fmt, "--site", example, "--server", SERVER,
                  "--vendor-class", "algo=Algo.IP+Endpoint", "--vendor-class", "fip=FIP"))
    path = tmp_path / f"out.{fmt}"
    if fmt == "dnsmasq":
        if not shutil.which("dnsmasq"):
            pytest.skip("dnsmasq is not installed")
        path.write_text(out)
        result = subprocess.run(["dnsmasq", "--test", f"--conf-file={path}"],
                                capture_output=True, text=True, timeout=60)
    elif fmt == "kea":
        if not shutil.which("kea-dhcp4"):
            pytest.skip("kea-dhcp4 is not installed (kea-dhcp4-server)")
        path.write_text(out)
        result = _kea_check(path)
    else:
        if not shutil.which("dhcpd"):
            pytest.skip("dhcpd is not installed (isc-dhcp-server)")
        path.write_text(out + "\nsubnet 10.0.0.0 netmask 255.255.255.0 {\n"
                        "  range 10.0.0.10 10.0.0.20;\n}\n")
        result = subprocess.run(["dhcpd", "-t", "-cf", str(path)], capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{out}"


# --- the hook scripts alone -------------------------------------------------------------

def hook_env(tmp_path, **values):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AUTOPROV_DHCP_DIR": str(tmp_path),
           "AUTOPROV_UDHCPC_CHAIN": "none"}
    env.update(values)
    return env


@pytest.mark.parametrize("shell", ["sh", "busybox sh"])
def test_udhcpc_hook_format(tmp_path, shell):
    if shell.startswith("busybox") and not shutil.which("busybox"):
        pytest.skip("busybox is not installed")
    env = hook_env(tmp_path, interface="eth9", serverid=SERVER, tftp="10.0.0.1",
                   bootfile="boot.cfg", opt150="0a0000010a000002",
                   opt160="tftp://10.0.0.1/a.img;b.cfg".encode().hex(),
                   opt159="00ff", opt43="0102")
    result = subprocess.run([*shell.split(), UDHCPC_HOOK, "bound"], env=env,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "dhcp-eth9.options").read_text().splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == ["66=10.0.0.1", "67=boot.cfg", "43=hex:0102", "150=10.0.0.1,10.0.0.2",
                         "159=hex:00ff", "160=tftp://10.0.0.1/a.img;b.cfg"]
    # busybox's "bad" (a 66 that is not a host name) is not recorded; deconfig removes
    env.update(tftp="bad", opt150="", opt160="", opt159="", opt43="", bootfile="")
    subprocess.run([*shell.split(), UDHCPC_HOOK, "renew"], env=env, check=True, timeout=30)
    assert (tmp_path / "dhcp-eth9.options").read_text().count("\n") == 1
    subprocess.run([*shell.split(), UDHCPC_HOOK, "deconfig"], env=env, check=True, timeout=30)
    assert not (tmp_path / "dhcp-eth9.options").exists()
    assert sorted(os.listdir(tmp_path)) == []


def test_dhclient_hook_format(tmp_path):
    env = hook_env(tmp_path, reason="BOUND", interface="eth7",
                   new_tftp_server_name="tftp://10.0.0.1/algo", new_bootfile_name="boot.cfg",
                   new_autoprov_tftp_servers="10.0.0.1 10.0.0.2",
                   new_autoprov_provisioning_url="http://10.0.0.1/a.img;b.cfg",
                   new_vendor_encapsulated_options="01:02:0A")
    # dhclient-script sources the hook: it must not exit, nor leave variables behind
    script = f". {DHCLIENT_HOOK}; echo after=$reason${{ap_file:-}}"
    result = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.stdout == "after=BOUND\n", result.stderr
    lines = (tmp_path / "dhcp-eth7.options").read_text().splitlines()
    assert lines[1:] == ["66=tftp://10.0.0.1/algo", "67=boot.cfg", "43=hex:01020a",
                         "150=10.0.0.1,10.0.0.2", "160=http://10.0.0.1/a.img;b.cfg"]
    env["reason"] = "EXPIRE"
    subprocess.run(["sh", "-c", f". {DHCLIENT_HOOK}"], env=env, check=True, timeout=30)
    assert not (tmp_path / "dhcp-eth7.options").exists()


# --- end to end: dnsmasq and udhcpc in network namespaces ---------------------------------

def e2e_missing():
    reason = netns.available()
    if reason:
        return reason
    for tool in ("dnsmasq", "udhcpc"):
        if not shutil.which(tool):
            return f"needs {tool}"
    return None


def read_options(path):
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            code, value = line.split("=", 1)
            values[code] = value
    return values


def udhcpc(net, out, vendor_class=None, extra=()):
    cmd = ["udhcpc", "-f", "-q", "-n", "-t", "6", "-T", "1", "-i", net.client_if,
           "-s", UDHCPC_HOOK, "-O", "66", "-O", "67", "-O", "150", "-O", "159", "-O", "160",
           "-O", "43", *extra]
    if vendor_class:
        cmd += ["-V", vendor_class]
    env = dict(os.environ, AUTOPROV_DHCP_FILE=str(out), AUTOPROV_UDHCPC_CHAIN="none")
    if out.exists():
        out.unlink()
    result = net.client(cmd, env=env, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert out.exists(), f"no options file\n{result.stderr.decode()}"
    return read_options(out)


@pytest.mark.skipif(e2e_missing() is not None, reason=str(e2e_missing()))
def test_end_to_end_dnsmasq_udhcpc(example, tmp_path):
    with netns.NetnsPair(subnet="10.231.77") as net:
        server = net.server_ip
        conf = tmp_path / "autoprov.conf"
        conf.write_text(f"[tftp]\nlisten = {server}:69\n")
        generated = ok(dhcp("--format", "dnsmasq", "--site", example, "--config", conf,
                            "--vendor-class", "algo=AlgoTestEndpoint"))
        dnsmasq_conf = tmp_path / "dnsmasq.conf"
        dnsmasq_conf.write_text(generated + textwrap.dedent(f"""
            # the test's own part: one range on the namespace's link
            dhcp-range={net.subnet}.10,{net.subnet}.60,255.255.255.0,1h
            """))
        check = subprocess.run(["dnsmasq", "--test", f"--conf-file={dnsmasq_conf}"],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
        log = tmp_path / "dnsmasq.log"
        net.start_server(["dnsmasq", "--keep-in-foreground", "--port=0",
                          f"--conf-file={dnsmasq_conf}", f"--interface={net.server_if}",
                          "--bind-interfaces", f"--dhcp-leasefile={tmp_path / 'leases'}",
                          f"--pid-file={tmp_path / 'dnsmasq.pid'}", "--log-dhcp",
                          f"--log-facility={log}"])
        out = tmp_path / "lease.options"

        # an Algo endpoint known by its option 60
        got = udhcpc(net, out, vendor_class="AlgoTestEndpoint")
        assert got.get("66") == server and got.get("160") == f"tftp://{server}"
        assert got.get("150") == server

        # an AudioCodes 400HD: its model in option 60 (the form of the agent's example)
        got = udhcpc(net, out, vendor_class="AUDC-IPPHONE/400HD_UC")
        assert got.get("160") == f"tftp://{server}/audiocodes/400HD.img;audiocodes/400HD.cfg"
        assert got.get("66") == server and got.get("67") == "audiocodes/400HD.img"
        assert "150" not in got

        # an Algo endpoint of the inventory, known by its MAC only
        net.set_client_mac("00:22:ee:01:02:03")
        got = udhcpc(net, out, vendor_class="some-other-string")
        assert got.get("160") == f"tftp://{server}" and got.get("150") == server

        # ... and the agent, given what that lease carried, provisions from the server:
        # the device's configuration, then its firmware (each followed by a reboot), its
        # tones, and a last pass that finds everything current.
        # (the hook runs with no chained script: the test gives the client its address)
        net.client(["ip", "addr", "replace", f"{net.subnet}.200/24", "dev", net.client_if])
        serve_log = open(tmp_path / "serve.log", "wb")
        net.start_server([str(BIN), "serve", "--site", str(example), "--tftp", f"{server}:69",
                          "--user", "root"],
                         stdout=serve_log, stderr=serve_log)
        for _ in range(20):
            agent = net.client([str(BIN), "agent", "--profile", "algo", "--mac",
                                "00:22:ee:01:02:03", "--model", "8188", "--dhcp-file", str(out),
                                "--set", "fetch_timeout=5", "--json"], timeout=120)
            if b"connection refused" not in agent.stdout and b"timed out" not in agent.stdout:
                break
            time.sleep(0.2)
        timeline = agent.stdout.decode()
        assert agent.returncode == 0, timeline + (tmp_path / "serve.log").read_text()
        events = [json.loads(line)["event"] for line in timeline.splitlines()]
        assert events.count("reboot") == 2 and "firmware" in events and "resource" in events
        assert f'"server from DHCP option 66: {server}' in timeline

        # the Panasonic of the inventory: its URL in 160
        net.set_client_mac("00:80:f0:01:02:03")
        got = udhcpc(net, out)
        assert got.get("160") == f"tftp://{server}/panasonic/"

        # anybody else: option 66 only
        net.set_client_mac("02:00:00:aa:bb:cc")
        got = udhcpc(net, out, vendor_class="unknown-device")
        assert got == {"66": server}, log.read_text() if log.exists() else ""
