# SPDX-License-Identifier: MIT
"""bash completion (dist/completion/autoprov): commands, each command's flags as its --help
lists them, fixed values, and the MACs of the inventory of the site on the command line."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import BIN, REPO, example_site

SCRIPT = REPO / "dist" / "completion" / "autoprov"
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")

pytestmark = pytest.mark.skipif(not BASH_COMPLETION.exists() or not shutil.which("bash"),
                                reason="needs bash and bash-completion")


def complete(line, cwd=None):
    """What completing `line` (the cursor at its end) offers."""
    words = line.split(" ")
    words[0] = str(BIN)
    script = f"""
source {BASH_COMPLETION}
source {SCRIPT}
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{" ".join(words)}'
COMP_POINT=${{#COMP_LINE}}
_autoprov
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.split("\n") if w]


def test_commands_are_those_of_help():
    helptext = subprocess.run([str(BIN), "--help"], capture_output=True, text=True).stdout
    commands = re.findall(r"^  ([a-z0-9]+) +\S", helptext, re.M)
    assert set(complete("autoprov ")) == set(commands) | {"--help", "--version"}
    assert complete("autoprov re") == ["render", "resync"]


@pytest.mark.parametrize("cmd", ["serve", "device", "agent", "sim", "resync", "dhcp"])
def test_flags_are_those_of_the_commands_help(cmd):
    helptext = subprocess.run([str(BIN), cmd, "--help"], capture_output=True, text=True).stdout
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", helptext))
    offered = set(complete(f"autoprov {cmd} --"))
    assert flags <= offered, flags - offered


def test_values():
    assert complete("autoprov agent --profile a") == ["algo", "audiocodes"]
    assert complete("autoprov dhcp --format ") == ["kea", "dnsmasq", "isc"]


def test_macs_of_the_inventory(tmp_path):
    site = example_site(tmp_path)
    listed = subprocess.run([str(BIN), "device", "list", "--site", str(site)],
                            capture_output=True, text=True).stdout
    macs = [line.split()[0] for line in listed.splitlines()]
    assert len(macs) >= 3
    # after --site, and from the current directory
    assert sorted(complete(f"autoprov device show --site {site} ")) == sorted(macs)
    assert sorted(complete("autoprov resync ", cwd=site)) == sorted(macs)
    # bash splits words at ':', so what is offered starts after the typed word's last colon
    assert complete(f"autoprov log --site {site} --mac 00:22:ee") == \
        [m[len("00:22:"):] for m in macs if m.startswith("00:22:ee")]
    assert "03" in complete(f"autoprov render --site {site} 00:22:ee:01:02:0")
    assert complete(f"autoprov device --site {site} gr") == ["group"]
