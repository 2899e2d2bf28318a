#!/bin/bash
# Big stores through the CLI: stores of N images (each on its own small vfs
# layer, written by bench/gen-store.py; each side gets its own copy of the
# same content), whole CLI processes, cstor vs the Go CLI in the same run:
# median wall time of RUNS runs and the largest peak RSS among them, for
#   images, layers, image NAME, exists NAME, layer ID, create-container NAME,
#   mount LAYER, delete-image NAME
# (the writing ones on a different image or layer each run).
#   bench/big-store.sh [RUNS] [N...]      (default: 5 1000 10000)
. "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
shift || true
SIZES=${*:-1000 10000}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 77; }

# one CLI SIDE_DIR CMD...: run once; appends "ms rss_kb" to $BENCH_TMP/one
one() {
	local cli=$1 d=$2
	shift 2
	local t0 t1
	t0=$(now)
	/usr/bin/time -f %M -o "$BENCH_TMP/rss" "$cli" -g "$d/g" -R "$d/r" -s vfs "$@" >/dev/null \
		2>"$BENCH_TMP/err" || echo "FAILED: $cli $*: $(cat "$BENCH_TMP/err")" >&2
	t1=$(now)
	awk -v a="$t0" -v b="$t1" -v m="$(tail -1 "$BENCH_TMP/rss")" \
		'BEGIN { printf "%.2f %d\n", (b - a) * 1000, m }' >>"$BENCH_TMP/one"
}
# summary: "median_ms max_rss_mb" of the runs in $BENCH_TMP/one
summary() {
	sort -n "$BENCH_TMP/one" | awk '{ t[NR] = $1; if ($2 > m) m = $2 }
		END { printf "%s %.1f\n", t[int((NR + 1) / 2)], m / 1024 }'
	: >"$BENCH_TMP/one"
}

# The IDs of bench/gen-store.py (the Go CLI mounts by ID only).
ident() { printf %s "$1" | sha256sum | cut -c1-64; }

# op CLI DIR OP: RUNS runs of OP (writing ones on image/layer k of the run)
op() {
	local cli=$1 d=$2 what=$3 n=$4
	: >"$BENCH_TMP/one"
	for k in $(seq 1 "$RUNS"); do
		local img="example.com/bench/img-$((n / 2 + k)):latest"
		case $what in
		images | layers) one "$cli" "$d" "$what" ;;
		image) one "$cli" "$d" image "$img" ;;
		exists) one "$cli" "$d" exists "$img" ;;
		layer) one "$cli" "$d" layer "$(ident "layer-$((n / 3 + k))")" ;;
		create-container) one "$cli" "$d" create-container "$img" ;;
		mount)
			local id
			id=$(ident "layer-$((n / 4 + k))")
			one "$cli" "$d" mount "$id"
			"$cli" -g "$d/g" -R "$d/r" -s vfs unmount "$id" >/dev/null
			;;
		delete-image) one "$cli" "$d" delete-image "example.com/bench/img-$((3 * n / 4 + k)):latest" ;;
		esac
	done
	summary
}

printf '%-26s %10s %10s %8s   %9s %9s %8s\n' "command, images" "cstor ms" "Go ms" "Go/cstor" \
	"cstor MB" "Go MB" "Go/cstor"
for n in $SIZES; do
	for side in cstor go; do
		python3 "$TOP/bench/gen-store.py" "$BENCH_TMP/$side-$n/g" --layers "$n" --images "$n"
	done
	for what in images layers image exists layer create-container mount delete-image; do
		read -r ct cm < <(op "$CSTOR" "$BENCH_TMP/cstor-$n" "$what" "$n")
		read -r gt gm < <(op "$GO_CS" "$BENCH_TMP/go-$n" "$what" "$n")
		printf '%-26s %10s %10s %8s   %9s %9s %8s\n' "$what, $n" "$ct" "$gt" "$(ratio "$gt" "$ct")" \
			"$cm" "$gm" "$(ratio "$gm" "$cm")"
	done
	rm -rf "$BENCH_TMP/cstor-$n" "$BENCH_TMP/go-$n"
done
