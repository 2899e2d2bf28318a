#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# What does durability cost? The same applies with the driver option
# sync=filesystem (cstor's default: one syncfs per layer before its record
# says it is complete) and sync=none (containers/storage's default), in the
# same run, alternating:
#
#   small    applydiff of a tarball of many small files (BENCH_SMALL_FILES,
#            default 20000, 1-8 KiB each)
#   big      applydiff of a tarball of a few big files (4 x BENCH_BIG_MB,
#            default 64 MiB, of random bytes)
#   import   import of a multi-layer image (scripts/mkimage-big, --size
#            BENCH_IMAGE_MB, default 200)
#
#   bench/durable.sh [BUILD_DIR]
#
# Each case runs BENCH_RUNS (default 5) times per mode into a fresh store on
# a loop-mounted ext4 filesystem (BENCH_FS) under $BENCH_TMPDIR (default
# /var/tmp); every run starts after a sync, so dirty data of an earlier run
# is not counted. Two times per run: until the command returns (what the
# user waits for; with "none" the writeback is left to the kernel), and
# until a sync after it returns (+sync: until the data is on disk in both
# modes). Prints the median of each mode and their ratios (durable / none);
# the target is at most 1.2 (docs/performance.md).
# Run as root (loop mounts).
set -eu

build=${1:-build}
runs=${BENCH_RUNS:-5}
CSTOR=${CSTOR:-$build/src/cli/cstor}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -x "$CSTOR" ] || { echo "durable.sh: $CSTOR not found; build first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "durable.sh: run as root (loop mounts)" >&2; exit 77; }

fs=${BENCH_FS:-ext4}
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cstor-bench-durable.XXXXXX")
cleanup() {
	umount "$work/x" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Inputs.
mkdir -p "$work/small" "$work/big"
python3 - "$work/small" "${BENCH_SMALL_FILES:-20000}" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(1024, 8192)))
EOF
for i in 1 2 3 4; do
	head -c "$(( ${BENCH_BIG_MB:-64} * 1024 * 1024 ))" /dev/urandom >"$work/big/blob$i"
done
tar -C "$work/small" -cf "$work/small.tar" .
tar -C "$work/big" -cf "$work/big.tar" .
rm -rf "$work/small" "$work/big"
"$TOP/scripts/mkimage-big" "$work/image" --size "${BENCH_IMAGE_MB:-200}" >/dev/null 2>&1

truncate -s 8G "$work/fs.img"
"mkfs.$fs" -q "$work/fs.img" >/dev/null 2>&1 || "mkfs.$fs" -f -q "$work/fs.img" >/dev/null
mkdir "$work/x"
mount -o loop "$work/fs.img" "$work/x"

# One run of case $1 in mode $2; prints its wall time in seconds.
run() {
	local c=$1 mode=$2 s="$work/x/store" t0 t1 t2
	rm -rf "$s" "$work/run"
	local cs=("$CSTOR" -g "$s" -R "$work/run" -s vfs --storage-opt "vfs.sync=$mode")
	local layer=
	[ "$c" = import ] || layer=$("${cs[@]}" create-layer)
	sync
	cat "$work/$c.tar" "$work/image"/blobs/sha256/* >/dev/null 2>&1 || true
	t0=$(date +%s.%N)
	case $c in
	import) "${cs[@]}" import -q "oci:$work/image" >/dev/null ;;
	*) "${cs[@]}" applydiff -f "$work/$c.tar" "$layer" >/dev/null ;;
	esac
	t1=$(date +%s.%N)
	sync
	t2=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.3f %.3f\n", b - a, c - a }'
}
median() { cut -d' ' -f"$1" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-8s %12s %12s %8s   %14s %14s %8s\n' case "durable (s)" "none (s)" ratio \
	"durable+sync" "none+sync" ratio
worst=0
for c in small big import; do
	: >"$work/t.filesystem"
	: >"$work/t.none"
	for ((i = 0; i < runs; i++)); do
		# Alternating, so a slow phase of the machine hits both.
		run "$c" filesystem >>"$work/t.filesystem"
		run "$c" none >>"$work/t.none"
	done
	d=$(median 1 <"$work/t.filesystem")
	n=$(median 1 <"$work/t.none")
	ds=$(median 2 <"$work/t.filesystem")
	ns=$(median 2 <"$work/t.none")
	r=$(awk -v a="$d" -v b="$n" 'BEGIN { printf "%.2f", a / b }')
	rs=$(awk -v a="$ds" -v b="$ns" 'BEGIN { printf "%.2f", a / b }')
	printf '%-8s %12s %12s %8s   %14s %14s %8s\n' "$c" "$d" "$n" "$r" "$ds" "$ns" "$rs"
	worst=$(awk -v a="$worst" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
done
echo "worst ratio durable/none (until the command returns): $worst (target <= 1.2)"
