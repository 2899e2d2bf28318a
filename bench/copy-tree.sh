#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# How fast is cstor_copy_tree (the vfs driver's layer copy) next to `cp -a`?
#
#   bench/copy-tree.sh [BUILD_DIR] [SOURCE_TREE]
#
# BUILD_DIR defaults to ./build (it must contain tests/cstor-iotool) and
# SOURCE_TREE to /usr. Both copies land in one scratch directory under
# $BENCH_TMPDIR (default /var/tmp) so they hit the same filesystem; it is
# removed on exit. BENCH_RUNS (default 3) runs of each, alternating; the best
# time of each counts. Run as root to copy owners and every xattr, as the
# store does.
set -eu

build=${1:-build}
src=${2:-/usr}
runs=${BENCH_RUNS:-3}
tool=$build/tests/cstor-iotool

if [ ! -x "$tool" ]; then
	echo "copy-tree.sh: $tool not found; build first (ninja -C $build)" >&2
	exit 1
fi
if [ ! -d "$src" ]; then
	echo "copy-tree.sh: $src is not a directory" >&2
	exit 1
fi

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cstor-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
# awk, not bc: present on every machine.
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
lt() { awk "BEGIN { exit !($1 < $2) }"; }
# Entries and the bytes of regular files (directory sizes depend on the
# order entries were created in, so they are left out).
shape() { find "$1" -printf '%y %s\n' | awk '{ n++ } $1 == "f" { b += $2 } END { print n, b }'; }

# Fill the page cache first so neither tool pays for the first read.
tar cf - -C "$src" . >/dev/null 2>&1 || true

best_cp=
best_cs=
i=1
while [ "$i" -le "$runs" ]; do
	# Start each copy with no dirty pages left from the one before, so
	# writeback throttling does not land on whichever runs second.
	sync
	t0=$(now)
	cp -a "$src" "$work/cp"
	t1=$(now)
	sync
	t2=$(now)
	"$tool" copy "$src" "$work/cs" 2>/dev/null
	t3=$(now)
	cp_t=$(calc "$t1 - $t0")
	cs_t=$(calc "$t3 - $t2")
	echo "run $i: cp -a ${cp_t}s  cstor ${cs_t}s"
	if [ -z "$best_cp" ] || lt "$cp_t" "$best_cp"; then best_cp=$cp_t; fi
	if [ -z "$best_cs" ] || lt "$cs_t" "$best_cs"; then best_cs=$cs_t; fi
	if [ "$i" -eq "$runs" ]; then
		a=$(shape "$work/cp")
		b=$(shape "$work/cs")
		if [ "$a" != "$b" ]; then
			echo "copy-tree.sh: copies differ (entries, file bytes): cp $a, cstor $b" >&2
			exit 1
		fi
	fi
	rm -rf "$work/cp" "$work/cs"
	i=$((i + 1))
done

set -- $(shape "$src")
echo "source: $src ($1 entries, $(calc "$2 / 1000000") MB in files)"
echo "cp -a: ${best_cp}s"
echo "cstor: ${best_cs}s"
echo "ratio cp/cstor: $(calc "$best_cp / $best_cs")"
