#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# How fast does cstor extract a layer tarball (the engine behind ApplyDiff)
# next to GNU tar?
#
#   bench/apply.sh [BUILD_DIR] [TAR]
#
# BUILD_DIR defaults to ./build (it must contain tests/cstor-apply). Without
# TAR, a ~1 GB GNU tar of parts of /usr is made first (and removed on exit).
# Both extract, alternating, BENCH_RUNS (default 3) times each, into a
# freshly made filesystem (BENCH_FS, default ext4, in a loop-mounted image
# under $BENCH_TMPDIR, default /var/tmp); the best time of each counts. A
# fresh filesystem per run matters: right after a big rm -rf, ext4 spends
# most of its time skipping recently deleted inodes when it allocates new
# ones, which would measure the previous run's cleanup. BENCH_FS=none
# extracts into a directory of $BENCH_TMPDIR instead. BENCH_COLD=1 drops the page cache before every run (needs
# root), so reading the tar from disk is part of the time; otherwise the tar
# is read from the page cache. Every run starts after a sync, and the time
# includes a final sync of the extracted tree ("+sync"), since writeback is
# where most of the cost of writing a layer ends up.
#
# Run as root: both then set owners, as the store does (GNU tar defaults to
# --same-owner and --same-permissions for root).
set -eu

build=${1:-build}
tar_in=${2:-}
runs=${BENCH_RUNS:-3}
tool=$build/tests/cstor-apply

if [ ! -x "$tool" ]; then
	echo "apply.sh: $tool not found; build first (ninja -C $build)" >&2
	exit 1
fi

fs=${BENCH_FS:-ext4}
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cstor-bench-apply.XXXXXX")
cleanup() {
	umount "$work/x" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$tar_in" ]; then
	tar_in=$work/usr.tar
	(cd / && tar --format=gnu -cf "$tar_in" usr/bin usr/include usr/share/doc usr/share/man \
		usr/share/locale usr/share/vim usr/share/perl usr/share/zoneinfo 2>/dev/null) || true
fi

calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
lt() { awk "BEGIN { exit !($1 < $2) }"; }
prepare() {
	umount "$work/x" 2>/dev/null || true
	rm -rf "$work/x"
	mkdir "$work/x"
	if [ "$fs" != none ]; then
		rm -f "$work/fs.img"
		truncate -s 8G "$work/fs.img"
		"mkfs.$fs" -q "$work/fs.img" >/dev/null 2>&1 || "mkfs.$fs" -f -q "$work/fs.img" >/dev/null
		mount -o loop "$work/fs.img" "$work/x"
	fi
	sync
	if [ -n "${BENCH_COLD:-}" ]; then
		echo 3 >/proc/sys/vm/drop_caches
	else
		cat "$tar_in" >/dev/null
	fi
}
# Run "$@"; set REPLY to "wall cpu wall+sync".
timed() {
	local TIMEFORMAT='%R %U %S' t s0 s1
	s0=$(date +%s.%N)
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 ) || { echo "apply.sh: $* failed" >&2; exit 1; }
	sync
	s1=$(date +%s.%N)
	REPLY=$(echo "$t" | awk -v s="$(calc "$s1 - $s0")" '{ printf "%.2f %.2f %.2f", $1, $2 + $3, s }')
}
# Directory sizes depend on the filesystem's hash seed: left out.
shape() { (cd "$1" && find . \( -type d -printf '%p d %m %U\n' \) -o -printf '%p %y %s %m %U %l\n') |
	sort | md5sum | cut -c1-12; }

best=()
shapes=()
names=("GNU tar" "cstor")
for ((i = 1; i <= runs; i++)); do
	for k in 0 1; do
		prepare
		if [ $k -eq 0 ]; then
			timed tar -xf "$tar_in" -C "$work/x"
		else
			timed "$tool" "$work/x" "$tar_in"
		fi
		read -r w c s <<<"$REPLY"
		echo "run $i: ${names[$k]}: ${w}s wall, ${c}s cpu, ${s}s with sync"
		if [ -z "${best[$k]:-}" ] || lt "$s" "$(echo "${best[$k]}" | cut -d' ' -f3)"; then
			best[$k]="$w $c $s"
		fi
		if [ "$i" -eq "$runs" ]; then
			shapes[$k]=$(shape "$work/x")
		fi
	done
done
if [ "${shapes[0]}" != "${shapes[1]}" ]; then
	echo "apply.sh: the two trees differ" >&2
	exit 1
fi

entries=$(tar -tf "$tar_in" | wc -l)
echo "tar: $tar_in ($(calc "$(stat -c %s "$tar_in") / 1000000") MB, $entries entries), into ${fs/none/a directory}${BENCH_COLD:+, cold cache}"
read -r gw gc gs <<<"${best[0]}"
read -r cw cc cs <<<"${best[1]}"
echo "GNU tar: ${gw}s wall, ${gc}s cpu, ${gs}s with sync"
echo "cstor:   ${cw}s wall, ${cc}s cpu, ${cs}s with sync"
echo "ratio tar/cstor: $(calc "$gw / $cw") wall, $(calc "$gc / $cc") cpu, $(calc "$gs / $cs") with sync"
