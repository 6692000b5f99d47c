#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a C file defining NAME (the bytes of INPUT, NUL-terminated) and NAME_len, so a
document kept in docs/ is the one the binary serves. Usage: embed.py INPUT OUTPUT NAME"""

import sys


def main():
    src, out, name = sys.argv[1:4]
    data = open(src, "rb").read()
    lines = [f"/* generated from {src.rsplit('/', 1)[-1]} by src/admin/embed.py */",
             "#include <stddef.h>",
             f"const char {name}[] = {{"]
    for i in range(0, len(data), 16):
        lines.append("\t" + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
    lines.append("\t0x00,")
    lines.append("};")
    lines.append(f"const size_t {name}_len = {len(data)};")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
