#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a C file with every plain file of DIR (the dashboard's pages, src/admin/dashboard)
as a table NAME[] of struct admin_asset {name, type, etag, data, len}, ended by a NULL
name, and a Makefile-style DEPFILE naming the directory and its files, so that ninja
embeds again when a file changes, appears or goes. Usage: embed_dir.py DIR OUTPUT DEPFILE NAME"""

import hashlib
import os
import sys

TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "woff2": "font/woff2",
    "map": "application/json",
}


def files(top):
    out = []
    for root, dirs, names in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in sorted(names):
            if n.startswith("."):
                continue
            path = os.path.join(root, n)
            if os.path.isfile(path):
                out.append(os.path.relpath(path, top).replace(os.sep, "/"))
    return out


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    top, out, depfile, name = sys.argv[1:5]
    names = files(top)
    lines = [f"/* generated from {os.path.basename(top.rstrip('/'))}/ by src/admin/embed_dir.py */",
             '#include "admin/assets.h"']
    entries = []
    for i, rel in enumerate(names):
        data = open(os.path.join(top, rel), "rb").read()
        ext = rel.rsplit(".", 1)[-1].lower() if "." in rel else ""
        ctype = TYPES.get(ext, "application/octet-stream")
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        lines.append(f"static const unsigned char data_{i}[] = {{")
        for j in range(0, len(data), 16):
            lines.append("\t" + ", ".join(f"0x{b:02x}" for b in data[j:j + 16]) + ",")
        lines.append("\t0x00,")
        lines.append("};")
        entries.append(f"\t{{ {c_string(rel)}, {c_string(ctype)}, {c_string(etag)}, data_{i}, {len(data)} }},")
    lines.append(f"const struct admin_asset {name}[] = {{")
    lines.extend(entries)
    lines.append("\t{ 0, 0, 0, 0, 0 },")
    lines.append("};")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    deps = [root for root, _, _ in os.walk(top)] + [os.path.join(top, rel) for rel in names]
    with open(depfile, "w") as f:
        f.write(out + ": " + " ".join(d.replace(" ", "\\ ") for d in deps) + "\n")


if __name__ == "__main__":
    main()
