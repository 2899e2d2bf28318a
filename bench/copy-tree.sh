#!/bin/bash
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
#
# Wall time on a busy machine mostly measures the other load, so the CPU time
# (user + system) of each copy is reported too: on an idle machine with the
# source in the page cache the two agree.
#
# ext4 avoids reusing inodes freed in the last ~30 s (dirty_expire), and that
# search costs the next copy seconds after deleting a large tree; so the runs
# alternate which tool goes first and wait BENCH_SETTLE seconds (default 35)
# after each removal.
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

# awk, not bc: present on every machine.
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
lt() { awk "BEGIN { exit !($1 < $2) }"; }
# Entries and the bytes of regular files (directory sizes depend on the
# order entries were created in, so they are left out).
shape() { find "$1" -printf '%y %s\n' | awk '{ n++ } $1 == "f" { b += $2 } END { print n, b }'; }
# Read every file once, so neither tool pays for the first read. Through a
# pipe: GNU tar skips reading file data when writing to /dev/null.
warm() { tar cf - -C "$src" . 2>/dev/null | cat >/dev/null; }
# Run "$@" and set REPLY to "wall cpu" in seconds.
timed() {
	local TIMEFORMAT='%R %U %S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 ) || { echo "copy-tree.sh: $* failed" >&2; exit 1; }
	REPLY=$(echo "$t" | awk '{ printf "%.2f %.2f", $1, $2 + $3 }')
}

best_cp=; best_cs=; cpu_cp=; cpu_cs=
for ((i = 1; i <= runs; i++)); do
	# Start each copy with no dirty pages left from the one before, so
	# writeback throttling does not land on whichever runs second.
	for who in $( ((i % 2)) && echo "cp cs" || echo "cs cp"); do
		warm; sync
		if [ "$who" = cp ]; then
			timed cp -a "$src" "$work/cp"
			read -r cp_t cp_c <<<"$REPLY"
		else
			timed "$tool" copy "$src" "$work/cs"
			read -r cs_t cs_c <<<"$REPLY"
		fi
	done
	echo "run $i: cp -a ${cp_t}s (cpu ${cp_c}s)  cstor ${cs_t}s (cpu ${cs_c}s)"
	if [ -z "$best_cp" ] || lt "$cp_t" "$best_cp"; then best_cp=$cp_t; fi
	if [ -z "$best_cs" ] || lt "$cs_t" "$best_cs"; then best_cs=$cs_t; fi
	if [ -z "$cpu_cp" ] || lt "$cp_c" "$cpu_cp"; then cpu_cp=$cp_c; fi
	if [ -z "$cpu_cs" ] || lt "$cs_c" "$cpu_cs"; then cpu_cs=$cs_c; fi
	if [ "$i" -eq "$runs" ]; then
		a=$(shape "$work/cp")
		b=$(shape "$work/cs")
		if [ "$a" != "$b" ]; then
			echo "copy-tree.sh: copies differ (entries, file bytes): cp $a, cstor $b" >&2
			exit 1
		fi
	fi
	rm -rf "$work/cp" "$work/cs"
	if [ "$i" -lt "$runs" ]; then sync; sleep "${BENCH_SETTLE:-35}"; fi
done

read -r n bytes <<<"$(shape "$src")"
echo "source: $src ($n entries, $(calc "$bytes / 1000000") MB in files)"
echo "cp -a: ${best_cp}s wall, ${cpu_cp}s cpu"
echo "cstor: ${best_cs}s wall, ${cpu_cs}s cpu"
echo "ratio cp/cstor: $(calc "$best_cp / $best_cs") wall, $(calc "$cpu_cp / $cpu_cs") cpu"
