#!/bin/bash
# Loading big stores: `layers` and `images` on stores of N named layers (and
# as many images, each on its own layer), whole CLI processes, cstor vs the
# Go CLI in the same run, median of RUNS. The stores are written by
# bench/gen-store.py.
#   bench/load-names.sh [RUNS] [N...]     (default: 3 10000 40000 100000)
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
shift || true
SIZES=${*:-10000 40000 100000}

median_ms() { # median_ms CMD...: the median wall time of RUNS runs, in ms
	local t=()
	for _ in $(seq 1 "$RUNS"); do
		local t0 t1
		t0=$(now)
		"$@" >/dev/null
		t1=$(now)
		t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

printf '%-28s %10s %10s %8s\n' "command, store" "cstor ms" "Go ms" "Go/cstor"
for n in $SIZES; do
	for imgs in 0 "$n"; do
		g=$BENCH_TMP/s$n-$imgs
		python3 "$TOP/bench/gen-store.py" "$g/g" --layers "$n" --images "$imgs"
		G="-g $g/g -R $g/r -s vfs"
		for cmd in layers images; do
			[ "$cmd" = images ] && [ "$imgs" = 0 ] && continue
			# shellcheck disable=SC2086
			c=$(median_ms "$CSTOR" $G $cmd)
			# shellcheck disable=SC2086
			o=$(median_ms "$GO_CS" $G $cmd)
			printf '%-28s %10s %10s %8s\n' "$cmd, $n layers $imgs images" "$c" "$o" "$(ratio "$o" "$c")"
		done
		rm -rf "$g"
	done
done
