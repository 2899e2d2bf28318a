#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every "docs/formats.md §N" cited in the code names a section that exists.

Comments cite the on-disk formats by section number; this fails listing the
citations (path:line) whose section is not a heading of docs/formats.md.
A citation may break across a comment line ("docs/formats.md\\n * §7") and
may list several sections ("§4.4, §5.9", "§5.3-5.4").
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
with open(os.path.join(root, "docs", "formats.md"), encoding="utf-8") as fh:
    sections = set(re.findall(r"^#+\s+(\d+(?:\.\d+)*)\.?\s", fh.read(), re.M))

CITE = re.compile(r"docs/formats\.md[\s*]*((?:§[\d.]+(?:-[\d.]+)?[,;:]?\s*)+)")
bad = []
count = 0
for top in ("src", "include", "tests", "docs"):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for f in files:
            if not f.endswith((".c", ".h", ".md", ".sh", ".py")):
                continue
            path = os.path.join(dirpath, f)
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for m in CITE.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                for ref in re.findall(r"§([\d.]+(?:-[\d.]+)?)", m.group(1)):
                    for n in ref.split("-"):
                        n = n.rstrip(".")
                        count += 1
                        if n not in sections:
                            bad.append("%s:%d: §%s" % (os.path.relpath(path, root), line, n))
for b in bad:
    print("no such section in docs/formats.md: " + b)
print("%d citations of docs/formats.md sections checked, %d dangling" % (count, len(bad)))
sys.exit(1 if bad or count == 0 else 0)
