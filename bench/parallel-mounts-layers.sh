#!/bin/bash
# Mounts that never wait for each other (docs/performance.md, "Parallel
# mounts"): PROCS processes each doing mount+unmount pairs of a layer of its
# own, against PROCS processes on one shared layer (whose counts must come
# out exact), against one process alone; in process over libcstor
# (bench/clib "pairs"), through the cstor CLI and through the Go CLI, on
# overlay, in one run. Prints pairs per second and the ratios.
#   bench/parallel-mounts-layers.sh [PROCS] [LIB_PAIRS] [CLI_PAIRS]
#   (default: 8 200 20)
# OLD_BUILD=<build dir of another tree> adds the same rows for that build
# (its libcstor and its CLI), e.g. the tree before per-layer mount locks.
. "$(dirname "$0")/lib.sh"
PROCS=${1:-8}
LIB_PAIRS=${2:-200}
CLI_PAIRS=${3:-20}

clib() { # clib NAME BUILD: bench/clib linked against BUILD's libcstor
	${CC:-cc} -O2 -Wall -o "$BENCH_TMP/bin-$1" "$TOP/bench/clib/bench.c" -I"$TOP/include" \
		-I"$2/include" -L"$2/src/libcstor" -lcstor -Wl,-rpath,"$2/src/libcstor"
}
clib clib "$TOP/build"
[ -z "${OLD_BUILD:-}" ] || clib clib-old "$OLD_BUILD"

# mkstore NAME CLI: a base layer, PROCS layers on it and one shared layer;
# the IDs go to $BENCH_TMP/NAME.ids (own ones first, the shared one last).
mkstore() {
	local G="-g $BENCH_TMP/$1/g -R $BENCH_TMP/$1/r -s overlay"
	local base
	base=$($2 $G create-layer | head -1)
	for _ in $(seq 0 "$PROCS"); do $2 $G create-layer "$base" | head -1; done >"$BENCH_TMP/$1.ids"
}

# exact NAME: nothing left mounted under the store, no count in mountpoints.json
exact() {
	local left mounted
	left=$(grep -o '"count":[0-9]*' "$BENCH_TMP/$1/r/overlay-layers/mountpoints.json" 2>/dev/null | wc -l)
	mounted=$(awk -v d="$BENCH_TMP/$1/g/overlay/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l)
	[ "$left" = 0 ] && [ "$mounted" = 0 ] && echo exact || echo "WRONG($left-records,$mounted-mounts)"
}

# run NAME WHICH(own|shared|one) PAIRS CMD...: CMD LAYER PAIRS in PROCS (or
# 1) processes at once; prints "pairs/s exactness"
run() {
	local name=$1 which=$2 pairs=$3
	shift 3
	local n=$PROCS
	[ "$which" = one ] && n=1
	local t0 t1 fail=0 pids=()
	t0=$(now)
	for i in $(seq 1 "$n"); do
		local layer
		if [ "$which" = shared ]; then
			layer=$(tail -1 "$BENCH_TMP/$name.ids")
		else
			layer=$(sed -n "${i}p" "$BENCH_TMP/$name.ids")
		fi
		"$@" "$layer" "$pairs" >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail=1; done
	t1=$(now)
	local ex
	ex=$(exact "$name")
	[ $fail = 0 ] || ex="FAILED($ex)"
	awk -v a="$t0" -v b="$t1" -v n=$((n * pairs)) -v e="$ex" 'BEGIN { printf "%.1f %s\n", n / (b - a), e }'
}

lib_pairs() { # lib_pairs BIN NAME LAYER PAIRS
	"$BENCH_TMP/bin-$1" pairs "$BENCH_TMP/$2/g" "$BENCH_TMP/$2/r" overlay "$3" "$4"
}
cli_pairs() { # cli_pairs CLI NAME LAYER PAIRS
	local cli=$1 G="-g $BENCH_TMP/$2/g -R $BENCH_TMP/$2/r -s overlay"
	for _ in $(seq 1 "$4"); do
		$cli $G mount "$3" >/dev/null || return 1
		$cli $G unmount "$3" >/dev/null || return 1
	done
}

sides=("lib:clib:$CSTOR" "cli:cstor:$CSTOR" "cli:go:$GO_CS")
[ -z "${OLD_BUILD:-}" ] || sides=("lib:clib-old:$OLD_BUILD/src/cli/cstor" "cli:cstor-old:$OLD_BUILD/src/cli/cstor" "${sides[@]}")
printf '%s processes, overlay, pairs (mount+unmount) per second:\n' "$PROCS"
printf '  %-22s %10s %10s %8s   %-24s %s\n' side "1 process" "own layer" scaling "one shared layer" "shared/1"
declare -A OWN
for s in "${sides[@]}"; do
	IFS=: read -r kind name cli <<<"$s"
	mkstore "$name" "$cli"
	if [ "$kind" = lib ]; then
		f=(lib_pairs "$name" "$name") pairs=$LIB_PAIRS label="in process ($name)"
	else
		f=(cli_pairs "$cli" "$name") pairs=$CLI_PAIRS label="CLI ($name)"
	fi
	read -r one ex1 < <(run "$name" one "$pairs" "${f[@]}")
	read -r own exo < <(run "$name" own "$pairs" "${f[@]}")
	read -r shared exs < <(run "$name" shared "$pairs" "${f[@]}")
	OWN[$name]=$own
	printf '  %-22s %10s %10s %7sx   %10s %-13s %sx\n' "$label" "$one" "$own" "$(ratio "$own" "$one")" \
		"$shared" "$exs" "$(ratio "$shared" "$one")"
	[ "$ex1" = exact ] && [ "$exo" = exact ] || echo "  ($label: after 1 process: $ex1, after own layers: $exo)"
done
echo "own layers, $PROCS processes: cstor CLI / Go CLI $(ratio "${OWN[cstor]}" "${OWN[go]}")x"
[ -z "${OLD_BUILD:-}" ] || {
	echo "  in process, new / old: $(ratio "${OWN[clib]}" "${OWN[clib-old]}")x"
	echo "  CLI, new / old: $(ratio "${OWN[cstor]}" "${OWN[cstor-old]}")x"
}
