#!/bin/bash
# Every test file is a meson test (tests/run-all.sh runs the suites through
# meson test, so a file missing from tests/meson.build would silently not
# run): tests/unit/test-*.c in suite unit, tests/cli/test-*.sh in cli,
# tests/interop/test-*.sh in interop, each fuzz target with a corpus in
# fuzz-replay.
set -eu
cd "$(dirname "$0")/.."
B=${1:-${BUILD_DIR:-build}}
registered=$(meson introspect "$B" --tests |
	python3 -c 'import json, sys
for t in json.load(sys.stdin):
    for s in t["suite"]:
        print(s.split(":", 1)[-1] + "/" + t["name"])' | sort -u)
expected=$(
	for f in tests/unit/test-*.c; do echo "unit/$(basename "$f" .c)"; done
	for f in tests/cli/test-*.sh; do echo "cli/$(basename "$f" .sh)"; done
	for f in tests/interop/test-*.sh; do echo "interop/$(basename "$f" .sh)"; done
	for d in tests/fuzz/corpus/*/; do echo "fuzz-replay/$(basename "$d")"; done
)
missing=$(comm -23 <(echo "$expected" | sort -u) <(echo "$registered"))
if [ -n "$missing" ]; then
	echo "test files not registered in tests/meson.build (meson test would not run them):"
	echo "$missing"
	exit 1
fi
echo "$(echo "$expected" | wc -l) test files, all registered"
