# SPDX-License-Identifier: MIT
"""The Debian packages: `scripts/make-deb` (what `make deb` runs) builds autoprov,
libautoprov0 and libautoprov-dev with dpkg-buildpackage, lintian reports no error, and the
three install and work (deb_check.sh): the user and state directory made by the maintainer
scripts, `autoprov serve --check` on the packaged site, the units verified with their man
pages, examples/embed built against the packaged library through pkg-config and provisioned
from the packaged site served as the unit starts it.

They are installed in a throwaway root: an overlay of / in a private mount namespace, so the
machine is left as it was. Where namespaces are not allowed (an unprivileged container), they
are installed on the machine itself and purged afterwards, with the user they created
(AUTOPROV_DEB_ON_HOST=1 asks for that way).
Needs root and the `deb` group of scripts/deps (which `make test` installs)."""

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import REPO

TOOLS = ("dpkg-buildpackage", "dh", "lintian", "meson")
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="installing packages needs root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                       reason="needs " + ", ".join(TOOLS) + " (scripts/deps deb)"),
]
PACKAGES = ("autoprov", "libautoprov0", "libautoprov-dev")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    proc = subprocess.run(["nice", str(REPO / "scripts" / "make-deb"), str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout


def test_three_packages_and_no_lintian_error(built):
    out, report = built
    for name in PACKAGES:
        assert list(out.glob(f"{name}_*.deb")), name
    lintian = (out / "lintian.txt").read_text()
    errors = [line for line in lintian.splitlines() if line.startswith("E: ")]
    assert not errors, "\n".join(errors)
    assert "lintian:" in report


def contents(deb):
    return subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True,
                          text=True).stdout


def test_what_each_package_holds(built):
    out, _ = built
    daemon = contents(next(out.glob("autoprov_*.deb")))
    for path in ("./usr/bin/autoprov", "./lib/systemd/system/autoprov.service",
                 "./lib/systemd/system/autoprov@.service", "./usr/lib/sysusers.d/autoprov.conf",
                 "./usr/lib/tmpfiles.d/autoprov.conf", "./etc/autoprov/autoprov.conf",
                 "./etc/autoprov/templates/algom{MAC}.conf", "./usr/share/man/man5/autoprov.conf.5.gz",
                 "./usr/share/man/man1/autoprov.1.gz",
                 "./usr/share/bash-completion/completions/autoprov"):
        assert path in daemon, path
    lib = contents(next(out.glob("libautoprov0_*.deb")))
    assert "libautoprov.so.0 -> libautoprov.so.0.1.0" in lib
    assert ".a" not in lib and "pkgconfig" not in lib
    dev = contents(next(out.glob("libautoprov-dev_*.deb")))
    for path in ("./usr/include/autoprov/agent.h", "libautoprov.a", "pkgconfig/autoprov.pc",
                 "libautoprov.so -> libautoprov.so.0", "./usr/share/man/man3/libautoprov.3.gz"):
        assert path in dev, path


def overlay_works():
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs none /mnt && umount /mnt"], capture_output=True)
    return probe.returncode == 0


def run_in_overlay(stage):
    """deb_check.sh in a copy-on-write view of / (a tmpfs upper layer), chrooted."""
    script = f"""
set -e
top=$(mktemp -d)
mount -t tmpfs none "$top"
mkdir "$top/upper" "$top/work" "$top/root"
mkdir -p "$top/upper/autoprov-test"
cp -a {stage}/. "$top/upper/autoprov-test/"
mount -t overlay overlay -o lowerdir=/,upperdir="$top/upper",workdir="$top/work" "$top/root"
for m in proc sys dev; do mount --rbind /$m "$top/root/$m"; done
mount -t tmpfs none "$top/root/tmp"
mount -t tmpfs none "$top/root/run"
status=0
chroot "$top/root" /bin/sh /autoprov-test/deb_check.sh /autoprov-test || status=$?
cp -a "$top/upper/autoprov-test/." {stage}/ 2>/dev/null || true
exit $status
"""
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True)


def run_on_host(stage):
    """deb_check.sh on this machine; the packages (and a user they made) removed after."""
    for name in PACKAGES:
        st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True,
                            text=True).stdout
        if "installed" in st and "not-installed" not in st:
            pytest.skip(f"{name} is installed on this machine already: not touching it")
    try:
        pwd.getpwnam("autoprov")
        had_user = True
    except KeyError:
        had_user = False
    try:
        return subprocess.run(["/bin/sh", str(stage / "deb_check.sh"), str(stage)],
                              capture_output=True, text=True)
    finally:
        subprocess.run(["dpkg", "--purge", *PACKAGES], capture_output=True)
        if not had_user:
            subprocess.run(["userdel", "autoprov"], capture_output=True)
            subprocess.run(["groupdel", "autoprov"], capture_output=True)


def test_packages_install_serve_and_link(built):
    out, _ = built
    stage = Path(tempfile.mkdtemp(prefix="autoprov-deb-"))
    try:
        (stage / "debs").mkdir()
        for name in PACKAGES:
            shutil.copy(next(out.glob(f"{name}_*.deb")), stage / "debs")
        shutil.copytree(REPO / "examples" / "embed", stage / "embed")
        shutil.copy(Path(__file__).parent / "deb_check.sh", stage)
        on_host = os.environ.get("AUTOPROV_DEB_ON_HOST") == "1" or not overlay_works()
        proc = run_on_host(stage) if on_host else run_in_overlay(stage)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log
        assert "== ok" in proc.stdout, log
        assert "configuration OK" in proc.stdout, log
        assert "provisioned:" in proc.stdout, log
    finally:
        shutil.rmtree(stage, ignore_errors=True)
