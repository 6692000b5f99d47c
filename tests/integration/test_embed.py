# SPDX-License-Identifier: MIT
"""libautoprov as firmware links it: the build under test is installed into a temporary
DESTDIR, examples/embed is compiled against the INSTALLED headers and library through
pkg-config (shared, and the static archive), and the pretend endpoint provisions itself from
`autoprov serve` on the example site. The installed library exports only ap_* symbols."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import BIN, REPO, Site, example_site

BUILD = BIN.parent
MAC = "0022EE010203"


def meson_options():
    out = subprocess.run(["meson", "introspect", "--buildoptions", str(BUILD)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"{BUILD} is not a meson build directory")
    return {o["name"]: o["value"] for o in json.loads(out.stdout)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(destdir, libdir, env for pkg-config, extra C flags) of `meson install --destdir`."""
    if not shutil.which("pkg-config") or not shutil.which("cc"):
        pytest.skip("needs pkg-config and cc")
    opts = meson_options()
    dest = tmp_path_factory.mktemp("destdir")
    proc = subprocess.run(["meson", "install", "-C", str(BUILD), "--destdir", str(dest),
                           "--no-rebuild", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    prefix = Path(opts["prefix"])
    libdir = dest / prefix.relative_to("/") / opts["libdir"]
    env = os.environ.copy()
    env["PKG_CONFIG_PATH"] = str(libdir / "pkgconfig")
    env["PKG_CONFIG_SYSROOT_DIR"] = str(dest)  # the .pc names the real prefix
    # a library built with sanitizers (the test build) needs a program built with them
    sanitize = opts.get("b_sanitize", "none")
    if isinstance(sanitize, list):
        sanitize = ",".join(sanitize)
    extra = [] if sanitize in ("none", "") else [f"-fsanitize={sanitize}"]
    return dest, libdir, env, extra


def pkg_config(env, *args):
    proc = subprocess.run(["pkg-config", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_installed_layout(installed):
    dest, libdir, env, _ = installed
    opts = meson_options()
    prefix = dest / Path(opts["prefix"]).relative_to("/")
    assert (prefix / "include" / "autoprov" / "agent.h").is_file()
    assert os.readlink(libdir / "libautoprov.so.0") == "libautoprov.so.0.1.0"
    assert (libdir / "libautoprov.a").is_file()
    assert (prefix / "bin" / "autoprov").is_file()
    for page in ("man1/autoprov.1", "man5/autoprov.conf.5", "man3/libautoprov.3"):
        assert (prefix / "share" / "man" / page).is_file(), page
    assert (prefix / "share" / "bash-completion" / "completions" / "autoprov").is_file()
    units = list(dest.rglob("autoprov.service")) + list(dest.rglob("autoprov@.service"))
    assert len(units) == 2, units
    assert (prefix / "share" / "autoprov" / "examples" / "site" / "templates").is_dir()
    assert (prefix / "share" / "autoprov" / "examples" / "embed" / "embed.c").is_file()
    # the example as tracked, not what `make run` generated beside it
    assert not list((prefix / "share" / "autoprov" / "examples" / "site").glob("autoprov.db*"))


def test_pkg_config_and_exports(installed):
    dest, libdir, env, _ = installed
    assert pkg_config(env, "--modversion", "autoprov") == [
        re.search(r"version : '([^']+)'", (REPO / "meson.build").read_text()).group(1)]
    assert pkg_config(env, "--print-requires", "autoprov")[0] == "libevent"
    private = " ".join(pkg_config(env, "--print-requires-private", "autoprov"))
    for dep in ("libcurl", "openssl", "jansson"):
        assert dep in private
    cflags = pkg_config(env, "--cflags", "autoprov")
    assert f"-I{dest}" in " ".join(cflags), cflags
    dyn = subprocess.run(["readelf", "-d", "-W", str(libdir / "libautoprov.so.0")],
                         capture_output=True, text=True).stdout
    assert "Library soname: [libautoprov.so.0]" in dyn
    syms = subprocess.run(["nm", "-D", "--defined-only", str(libdir / "libautoprov.so.0")],
                          capture_output=True, text=True).stdout
    names = {line.split()[-1].split("@")[0] for line in syms.splitlines() if line.strip()}
    names.discard("LIBAUTOPROV_0")
    public = set(re.findall(r"\b(ap_[a-z_]+)\s*[\(\[]",
                            (REPO / "include" / "autoprov" / "agent.h").read_text()))
    assert names and all(n.startswith("ap_") for n in names), sorted(names)
    assert names == public, (sorted(names - public), sorted(public - names))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from harness import Server
    site = Site(example_site(tmp_path_factory.mktemp("embed-site")))
    server = Server(site, tmp_path_factory.mktemp("embed-server"), tftp=None,
                    args=["--http", "127.0.0.1:0"])
    yield server
    server.stop()


def build(installed, tmp_path, static=False):
    dest, libdir, env, extra = installed
    src = REPO / "examples" / "embed" / "embed.c"
    out = tmp_path / ("embed-static" if static else "embed")
    cflags = pkg_config(env, "--cflags", "autoprov")
    if static:
        # the archive, and the shared libraries it uses (their static ones are not packaged)
        libs = [str(libdir / "libautoprov.a"),
                *pkg_config(env, "--libs", "libevent", "libcurl", "openssl", "jansson"),
                "-pthread"]
    else:
        libs = pkg_config(env, "--libs", "autoprov")
    cmd = ["cc", "-Wall", "-Wextra", "-Werror", *extra, "-o", str(out), str(src), *cflags,
           *libs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, " ".join(cmd) + "\n" + proc.stderr
    return out


@pytest.mark.parametrize("static", [False, True], ids=["shared", "static"])
def test_embed_provisions_from_autoprov_serve(installed, served, tmp_path, static):
    dest, libdir, env, _ = installed
    program = build(installed, tmp_path, static)
    run_env = os.environ.copy()
    run_env["LD_LIBRARY_PATH"] = str(libdir)
    proc = subprocess.run([str(program), f"http://127.0.0.1:{served.http_port}", MAC],
                          capture_output=True, text=True, env=run_env, timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if not static:
        ldd = subprocess.run(["ldd", str(program)], capture_output=True, text=True,
                             env=run_env).stdout
        assert str(libdir / "libautoprov.so.0") in ldd, ldd
    out = proc.stdout
    assert "apply  prov.version.firmware = 5.4f" in out
    assert "firmware 5.4f installed (1048576 bytes)" in out
    assert re.search(r"^provisioned: \d+ settings, firmware 5.4f, 2 reboots$", out, re.M), out
    served.assert_alive()
