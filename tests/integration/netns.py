# SPDX-License-Identifier: MIT
"""Two network namespaces joined by a veth pair, for tests that need a real link layer
(DHCP servers and clients, later the agent provisioning through them).

    with NetnsPair(subnet="10.123.0") as net:
        net.run_server(["dnsmasq", ...])          # in the server namespace, 10.123.0.1/24
        net.client(["udhcpc", "-i", net.client_if, ...])

Names are unique per process and call (interface names stay within 15 characters);
everything made is removed on exit, also when the body raises. Requires root and `ip`.
"""

import itertools
import os
import shutil
import subprocess

_counter = itertools.count()


def available():
    """None when namespaces can be made here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root (ip netns add)"
    if not shutil.which("ip"):
        return "needs ip (iproute2)"
    return None


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


class NetnsPair:
    """A server namespace (address SUBNET.1/24 on server_if) and a client namespace
    (client_if up, no address, optional MAC)."""

    def __init__(self, subnet="10.123.0", client_mac=None):
        n = f"{os.getpid() % 100000}{next(_counter)}"
        self.server_ns = f"apsrv{n}"
        self.client_ns = f"apcli{n}"
        self.server_if = f"aps{n}"[:15]
        self.client_if = f"apc{n}"[:15]
        self.subnet = subnet
        self.server_ip = f"{subnet}.1"
        self.client_mac = client_mac
        self._procs = []
        self._made = []

    def __enter__(self):
        try:
            _ip("netns", "add", self.server_ns)
            self._made.append(("netns", self.server_ns))
            _ip("netns", "add", self.client_ns)
            self._made.append(("netns", self.client_ns))
            _ip("link", "add", self.server_if, "type", "veth", "peer", "name", self.client_if)
            _ip("link", "set", self.server_if, "netns", self.server_ns)
            _ip("link", "set", self.client_if, "netns", self.client_ns)
            _ip("-n", self.server_ns, "addr", "add", f"{self.server_ip}/24", "dev", self.server_if)
            for ns, ifname in ((self.server_ns, self.server_if), (self.client_ns, self.client_if)):
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "set", ifname, "up")
            if self.client_mac:
                self.set_client_mac(self.client_mac)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def set_client_mac(self, mac):
        """A new hardware address on the client side (the link is taken down and up)."""
        _ip("-n", self.client_ns, "link", "set", self.client_if, "down")
        _ip("-n", self.client_ns, "link", "set", self.client_if, "address", mac)
        _ip("-n", self.client_ns, "link", "set", self.client_if, "up")
        self.client_mac = mac

    def _cmd(self, ns, cmd):
        return ["ip", "netns", "exec", ns, *[str(c) for c in cmd]]

    def server(self, cmd, **kw):
        """Run cmd to completion in the server namespace (subprocess.run keywords)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self._cmd(self.server_ns, cmd), **kw)

    def client(self, cmd, **kw):
        """Run cmd to completion in the client namespace (subprocess.run keywords)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self._cmd(self.client_ns, cmd), **kw)

    def start_server(self, cmd, **kw):
        """Start a long-running process in the server namespace; stopped by close()."""
        proc = subprocess.Popen(self._cmd(self.server_ns, cmd), **kw)
        self._procs.append(proc)
        return proc

    def start_client(self, cmd, **kw):
        """Start a long-running process in the client namespace; stopped by close()."""
        proc = subprocess.Popen(self._cmd(self.client_ns, cmd), **kw)
        self._procs.append(proc)
        return proc

    def close(self):
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._procs = []
        # deleting a namespace deletes the veth pair with it; a pair never moved is here
        if self._made:
            _ip("link", "del", self.server_if, check=False)
        for kind, name in reversed(self._made):
            _ip(kind, "del", name, check=False)
        self._made = []
