# SPDX-License-Identifier: MIT
"""The man pages cannot drift: autoprov(1) has every command and every flag of the binary's
--help, autoprov.conf(5) every key of the daemon's key table (src/server/config.c), and
libautoprov(3) every ap_ name of the public header. They render without a warning. The
packaged commented configuration (dist/autoprov.conf) names every key too."""

import os
import re
import shutil
import subprocess

import pytest

from harness import BIN, REPO

MAN = BIN.parent / "docs" / "man"


def page(name):
    path = MAN / name
    if not path.exists():
        pytest.fail(f"{path} was not built (ninja -C {BIN.parent})")
    return path.read_text()


def helptext(*args):
    proc = subprocess.run([str(BIN), *args, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commands():
    return re.findall(r"^  ([a-z0-9]+) +\S", helptext(), re.M)


def config_keys():
    """(section, key) of every entry of the daemon's key table."""
    src = (REPO / "src" / "server" / "config.c").read_text()
    keys = re.findall(r'^\s*\{ "([a-z]+)", "([a-z_0-9]+)", CONF_', src, re.M)
    assert len(keys) > 80, keys
    return keys


def unroff(text):
    return text.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def test_autoprov_1_has_every_command_and_flag():
    text = unroff(page("autoprov.1"))
    cmds = commands()
    assert len(cmds) >= 12, cmds
    for cmd in cmds:
        assert f".SS autoprov {cmd}\n" in text, cmd
        section = text.split(f".SS autoprov {cmd}\n", 1)[1].split(".SS ", 1)[0]
        for flag in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", helptext(cmd))):
            assert flag in section, f"autoprov {cmd} {flag} is not in autoprov(1)"


def test_autoprov_conf_5_has_every_key_in_its_section():
    text = unroff(page("autoprov.conf.5"))
    sections = dict(re.findall(r"^\.SS \[([a-z]+)\]\n(.*?)(?=^\.S[SH] )", text, re.M | re.S))
    missing = []
    for section, key in config_keys():
        body = sections.get(section, "")
        if not re.search(rf"^\.TP\n(?:[a-z_0-9]+, )*{key}(?:, [a-z_0-9]+)*$", body, re.M):
            missing.append(f"[{section}] {key}")
    assert not missing, ("keys the daemon accepts that autoprov.conf(5) (docs/configuration.md) "
                         f"does not describe: {missing}")
    # and nothing described that the daemon does not accept
    table = set(config_keys())
    for section, body in sections.items():
        for item in re.findall(r"^\.TP\n(.*)$", body, re.M):
            for key in item.split(", "):
                assert (section, key) in table, f"autoprov.conf(5) describes [{section}] {key}"


def test_libautoprov_3_has_every_public_name():
    text = unroff(page("libautoprov.3"))
    header = (REPO / "include" / "autoprov" / "agent.h").read_text()
    names = set(re.findall(r"\b(ap_[a-z_]+)\b", header))
    assert "ap_agent_new" in names
    for name in names:
        assert name in text, name
    assert "pkg-config --cflags --libs autoprov" in text


@pytest.mark.parametrize("name", ["autoprov.1", "autoprov.conf.5", "libautoprov.3"])
def test_pages_render_without_warnings(name):
    if not shutil.which("man"):
        pytest.skip("no man (Debian package man-db)")
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    proc = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                           str(MAN / name)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_packaged_configuration_names_every_key():
    text = (REPO / "dist" / "autoprov.conf").read_text()
    current = None
    seen = set()
    for line in text.splitlines():
        m = re.match(r"^\[([a-z]+)\]$", line)
        if m:
            current = m.group(1)
        m = re.match(r"^#?([a-z_0-9]+) =", line)
        if m and current:
            seen.add((current, m.group(1)))
    missing = sorted(set(config_keys()) - seen)
    assert not missing, f"dist/autoprov.conf does not list {missing}"
