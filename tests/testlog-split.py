#!/usr/bin/env python3
"""Split a `meson test` JSON log into one output file per test, for
tests/run-all.sh to count every TAP line itself.

    testlog-split.py BUILDDIR LOGBASE OUTDIR PREFIX

Reads BUILDDIR/meson-logs/LOGBASE.json and the test list of
`meson introspect --tests`, writes OUTDIR/<label>.log (stdout, then stderr
under a marker line) and prints one tab-separated line per test run:
label, protocol (tap or exitcode), return code, meson's result, log file.
The label is PREFIX + suite/name.
"""
import json
import os
import subprocess
import sys


def main():
    builddir, logbase, outdir, prefix = sys.argv[1:5]
    tests = json.loads(subprocess.run(
        ["meson", "introspect", builddir, "--tests"],
        check=True, capture_output=True, text=True).stdout)
    protocol = {}
    for t in tests:
        for s in t["suite"]:
            protocol[(s.split(":", 1)[-1], t["name"])] = t["protocol"]
    path = os.path.join(builddir, "meson-logs", logbase + ".json")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            # "cstor:cli / test-apply"
            full = rec["name"]
            suite, _, name = full.partition(" / ")
            suite = suite.split(":", 1)[-1]
            label = prefix + suite + "/" + name
            out = os.path.join(outdir, label.replace("/", "_") + ".log")
            with open(out, "w", encoding="utf-8") as o:
                o.write(rec.get("stdout") or "")
                if rec.get("stderr"):
                    o.write("\n--- stderr ---\n" + rec["stderr"])
            rc = rec.get("returncode")
            print("\t".join([label, protocol.get((suite, name), "exitcode"),
                             str(rc if rc is not None else -1), rec.get("result", "?"), out]))


if __name__ == "__main__":
    main()
