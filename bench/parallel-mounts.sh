#!/bin/bash
# 8 processes, each doing 50 mount/unmount pairs of its own layer and of one
# shared layer, as CLI processes; total throughput of cstor vs the Go CLI,
# and whether the final counts are exactly right (everything unmounted).
# Target: cstor at least 8x the Go CLI's throughput.
#   bench/parallel-mounts.sh [PROCS] [PAIRS]
. "$(dirname "$0")/lib.sh"
PROCS=${1:-8}
PAIRS=${2:-50}

run_side() { # run_side NAME CLI -> "ops/s final-count-check"
	local name=$1 cli=$2
	local G="-g $BENCH_TMP/$name/g -R $BENCH_TMP/$name/r -s overlay"
	local base; base=$($cli $G create-layer | head -1)
	local shared; shared=$($cli $G create-layer "$base" | head -1)
	local own=()
	for i in $(seq 1 "$PROCS"); do own+=("$($cli $G create-layer "$base" | head -1)"); done
	local t0 t1
	t0=$(now)
	for i in $(seq 0 $((PROCS - 1))); do
		(
			for _ in $(seq 1 "$PAIRS"); do
				$cli $G mount "${own[$i]}" >/dev/null
				$cli $G mount "$shared" >/dev/null
				$cli $G unmount "$shared" >/dev/null
				$cli $G unmount "${own[$i]}" >/dev/null
			done
		) &
	done
	wait
	t1=$(now)
	local ops=$((PROCS * PAIRS * 4))
	local leftover
	leftover=$(grep -o '"count":[0-9]*' "$BENCH_TMP/$name/r/overlay-layers/mountpoints.json" | wc -l)
	local mounted
	mounted=$(awk -v d="$BENCH_TMP/$name/g/overlay/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l)
	awk -v a="$t0" -v b="$t1" -v n="$ops" -v l="$leftover" -v m="$mounted" \
		'BEGIN { printf "%.1f %s", n / (b - a), (l == 0 && m == 0) ? "exact" : "WRONG(" l "-records," m "-mounts-left)"; print "" }'
}

# What no CLI can beat here: the same process count doing nothing.
floor() {
	local t0 t1
	t0=$(now)
	for i in $(seq 1 "$PROCS"); do
		( for _ in $(seq 1 "$PAIRS"); do /bin/true; /bin/true; /bin/true; /bin/true; done ) &
	done
	wait
	t1=$(now)
	awk -v a="$t0" -v b="$t1" -v n=$((PROCS * PAIRS * 4)) 'BEGIN { printf "%.1f", n / (b - a) }'
}

read -r c cc < <(run_side cstor "$CSTOR")
read -r g gc < <(run_side go "$GO_CS")
echo "$PROCS processes x $PAIRS x (mount own, mount shared, unmount shared, unmount own):"
echo "  cstor: $c CLI ops/s, final counts: $cc"
echo "  Go:    $g CLI ops/s, final counts: $gc"
echo "  throughput ratio: $(ratio "$c" "$g")x (target >= 8x)"
f=$(floor)
echo "  floor, /bin/true in place of each CLI op: $f ops/s; floor/Go $(ratio "$f" "$g")x"
