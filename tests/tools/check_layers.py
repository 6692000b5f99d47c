#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The layering of docs/architecture.md, checked: which src/ directories each directory's
files may include. A file including a layer above its own (or store/ from proto/ or admin/)
fails the build's tests with the line that does it."""
import pathlib
import re
import sys

LOWER = {"core": set()}
LOWER["codec"] = {"core"}
LOWER["macro"] = {"core"}
LOWER["template"] = {"core"}
LOWER["crypto"] = {"core"}
LOWER["store"] = {"core"}
LOWER["net"] = {"core"}
LOWER["site"] = {"core", "codec", "macro", "template", "crypto", "store"}
# proto/ and admin/ never include store/: device data comes from the site layer
LOWER["proto"] = LOWER["site"] - {"store"} | {"site", "net"}
LOWER["fleet"] = LOWER["site"] | {"site", "net", "proto"}
LOWER["admin"] = LOWER["fleet"] - {"store"} | {"fleet"}
LOWER["server"] = LOWER["admin"] | {"admin"}
LOWER["cli"] = LOWER["server"] | {"server", "store"}
# the endpoint side links core, codec, macro and crypto only, never the server's layers
LOWER["agent"] = {"core", "codec", "macro", "crypto"}
PUBLIC = {"autoprov"}  # include/autoprov/, the library's public headers

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z]+)/')


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    bad = []
    for f in sorted(src.glob("*/*.[ch]")) + sorted(src.glob("*/*/*.[ch]")):
        layer = f.relative_to(src).parts[0]
        if layer not in LOWER:
            bad.append(f"{f}: directory src/{layer}/ has no place in the layers")
            continue
        allowed = LOWER[layer] | {layer} | PUBLIC
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if m and m.group(1) not in allowed:
                bad.append(f"{f}:{n}: {layer}/ includes {m.group(1)}/")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
