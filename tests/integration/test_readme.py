# SPDX-License-Identifier: MIT
"""README stays true to the tree: its Layout names every top-level folder of src/."""

import re

from harness import REPO


def layout_block():
    text = (REPO / "README.md").read_text()
    m = re.search(r"^## Layout\n+```\n(.*?)^```", text, re.S | re.M)
    assert m, "README.md has no Layout block"
    return m.group(1)


def test_layout_lists_every_src_folder():
    named = set(re.findall(r"^src/([a-z_]+)/", layout_block(), re.M))
    folders = {p.name for p in (REPO / "src").iterdir() if p.is_dir()}
    assert named == folders, f"README Layout names {sorted(named)}, src/ holds {sorted(folders)}"


def test_layout_lists_the_other_top_folders():
    block = layout_block()
    for folder in ("include/autoprov/", "tests/unit/", "tests/integration/", "tests/fuzz/",
                   "tests/tools/", "scripts/", "docs/", "bench/", "examples/site/",
                   "examples/embed/", "dist/", "debian/"):
        assert folder in block, folder
        assert (REPO / folder).is_dir()


def test_layout_lists_every_top_folder():
    named = set(re.findall(r"^([a-z_]+)/", layout_block(), re.M))
    folders = {p.name for p in REPO.iterdir()
               if p.is_dir() and not p.name.startswith((".", "build")) and p.name != "__pycache__"}
    assert folders <= named, f"README Layout does not name {sorted(folders - named)}"
