# SPDX-License-Identifier: MIT
"""A small PKI for the HTTPS tests, made with the openssl command-line tool: a CA, an
unknown CA, a server certificate for 127.0.0.1 / localhost, and device client certificates
(MAC in the CN, MAC only in a SAN URI, no MAC, expired, signed by the unknown CA)."""

import subprocess
from pathlib import Path

CA_CONF = """
[ca]
default_ca = ca
[ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""


def openssl(*args, cwd=None):
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, cwd=cwd,
                            timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))}: {result.stderr.decode()}")
    return result.stdout


def _key(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


def _ca(d, name):
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    _key(key)
    openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "3650",
            "-subj", f"/CN=autoprov test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, cert


class Pki:
    def __init__(self, root):
        self.dir = Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_key, self.ca = _ca(self.dir, "ca")
        self.other_ca_key, self.other_ca = _ca(self.dir, "other-ca")
        self.server_key = self.dir / "server.key"
        self.server = self.issue("server", "/CN=127.0.0.1",
                                 san="DNS:localhost,IP:127.0.0.1,IP:::1", key=self.server_key,
                                 usage="serverAuth")

    def issue(self, name, subject, san=None, key=None, ca="ca", usage="clientAuth",
              start=None, end=None):
        """A certificate signed by `ca` ("ca" or "other-ca"); returns its path (key NAME.key)."""
        key = key or self.dir / f"{name}.key"
        csr, cert = self.dir / f"{name}.csr", self.dir / f"{name}.pem"
        _key(key)
        req = ["req", "-new", "-key", key, "-out", csr, "-subj", subject]
        if san:
            req += ["-addext", f"subjectAltName={san}"]
        req += ["-addext", f"extendedKeyUsage={usage}"]
        openssl(*req)
        cadir = self.dir / f"{ca}-db"
        cadir.mkdir(exist_ok=True)
        (cadir / "index.txt").touch()
        if not (cadir / "serial").exists():
            (cadir / "serial").write_text("1000\n")
        conf = cadir / "ca.conf"
        conf.write_text(CA_CONF.format(dir=cadir))
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", "365"]
        openssl("ca", "-batch", "-config", conf, "-cert", self.dir / f"{ca}.pem",
                "-keyfile", self.dir / f"{ca}.key", "-in", csr, "-out", cert, "-notext",
                *dates)
        return cert

    def device(self, name, mac, where="cn", **kw):
        if where == "cn":
            return self.issue(name, f"/CN={mac}", **kw)
        if where == "san":
            return self.issue(name, "/CN=a phone", san=f"URI:urn:dev:mac:{mac}", **kw)
        return self.issue(name, "/CN=no mac here", **kw)

    def key_of(self, cert):
        return Path(cert).with_suffix(".key")

    def fingerprint(self, cert):
        out = openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256").decode()
        return out.split("=", 1)[1].strip().replace(":", "").lower()


def selfcheck(root):
    """Builds a PKI in root and checks each certificate with `openssl verify`, as a test
    would see it: `/usr/bin/python3 -c 'import pki; pki.selfcheck("/tmp/pki")'`."""
    p = Pki(root)
    good = p.device("dev-a", "00:22:EE:0A:00:01")
    san = p.device("san-a", "0022ee0a0001", where="san")
    nomac = p.device("nomac", None, where="none")
    expired = p.device("expired-a", "0022ee0a0001", start="20200101000000Z",
                       end="20210101000000Z")
    foreign = p.device("foreign-a", "0022ee0a0001", ca="other-ca")

    def verify(ca, cert):
        r = subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(cert)],
                           capture_output=True, timeout=60)
        return r.returncode, (r.stdout + r.stderr).decode()

    for cert in (p.server, good, san, nomac):
        code, out = verify(p.ca, cert)
        assert code == 0, out
    code, out = verify(p.ca, expired)
    assert code != 0 and "certificate has expired" in out, out
    code, out = verify(p.ca, foreign)
    assert code != 0 and "unable to get local issuer certificate" in out, out
    code, out = verify(p.other_ca, foreign)
    assert code == 0, out
    assert len(p.fingerprint(good)) == 64
    print("pki: all certificates check out in", p.dir)
