#!/bin/bash
# mount+unmount of a layer 50 deep, as whole CLI processes, cstor vs the Go
# CLI on the same kind of store (overlay). Target: cstor at least 6x faster.
#   bench/mount-chain.sh [DEPTH] [PAIRS]
. "$(dirname "$0")/lib.sh"
DEPTH=${1:-50}
PAIRS=${2:-100}

run_side() { # run_side NAME CLI
	local name=$1 cli=$2
	local G="-g $BENCH_TMP/$name/g -R $BENCH_TMP/$name/r -s overlay"
	local id="" p=""
	for _ in $(seq 1 "$DEPTH"); do
		id=$($cli $G create-layer $p | head -1)
		p=$id
	done
	$cli $G mount "$id" >/dev/null; $cli $G unmount "$id" >/dev/null # warm up
	local t0 t1
	t0=$(now)
	for _ in $(seq 1 "$PAIRS"); do
		$cli $G mount "$id" >/dev/null
		$cli $G unmount "$id" >/dev/null
	done
	t1=$(now)
	awk -v a="$t0" -v b="$t1" -v n="$PAIRS" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }'
}

# What no CLI can beat here: starting two processes that do nothing.
floor() {
	local t0 t1
	t0=$(now)
	for _ in $(seq 1 "$PAIRS"); do /bin/true; /bin/true; done
	t1=$(now)
	awk -v a="$t0" -v b="$t1" -v n="$PAIRS" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }'
}

c=$(run_side cstor "$CSTOR")
g=$(run_side go "$GO_CS")
echo "mount+unmount of a layer $DEPTH deep, $PAIRS pairs, whole CLI processes:"
echo "  cstor: $c ms/pair"
echo "  Go:    $g ms/pair"
echo "  speedup: $(ratio "$g" "$c")x (target >= 6x)"
f=$(floor)
echo "  floor, two /bin/true per pair (no store, no mount): $f ms/pair; Go/floor $(ratio "$g" "$f")x"
# The kernel's own mount+unmount of the same depth, in one process.
ML=$(dirname "$CSTOR")/../../tests/mount-loop
if [ -x "$ML" ]; then
	mkdir -p "$BENCH_TMP/kernel"
	k=$("$ML" "$BENCH_TMP/kernel" "$DEPTH" "$PAIRS")
	echo "  kernel overlay mount+umount of $DEPTH lowers alone: $k ms/pair"
	echo "  so no CLI can beat: $(awk -v f="$f" -v k="$k" 'BEGIN { printf "%.3f", f + k }') ms/pair;" \
		"Go/that $(ratio "$g" "$(awk -v f="$f" -v k="$k" 'BEGIN { print f + k }')")x"
fi
