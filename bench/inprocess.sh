#!/bin/bash
# The in-process benchmark: containers/storage 1.43 as a Go library
# (bench/golib) against libcstor (bench/clib), the same operations on the
# same kind of store in one run, each operation's median in microseconds
# and the ratio Go/C (above 1: libcstor is faster).
#   bench/inprocess.sh [ITERS] [SIZES] [DEPTHS]
#   (default: 101 "100 1000 10000" "1 50")
# Needs golang-go, golang-github-containers-storage-dev and
# golang-github-ulikunitz-xz-dev (Debian), and a build of cstor (build/).
. "$(dirname "$0")/lib.sh"
ITERS=${1:-101}
SIZES=${2:-100 1000 10000}
DEPTHS=${3:-1 50}
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS=
command -v go >/dev/null || { echo "go is not installed (apt-get install golang-go)"; exit 77; }
[ -d /usr/share/gocode/src/github.com/containers/storage ] ||
	{ echo "install golang-github-containers-storage-dev golang-github-ulikunitz-xz-dev"; exit 77; }
LIB=$TOP/build/src/libcstor
(cd "$TOP/bench/golib" && go build -o "$BENCH_TMP/golib" .)
${CC:-cc} -O2 -Wall -o "$BENCH_TMP/clib" "$TOP/bench/clib/bench.c" -I"$TOP/include" \
	-I"$TOP/build/include" -L"$LIB" -lcstor -Wl,-rpath,"$LIB"

# side NAME ARGS...: run one side on its own copy of the store.
side() {
	local name=$1 mode=$2 n=$3 driver=$4
	local d=$BENCH_TMP/$name-$mode-$driver-$n
	mkdir -p "$d"
	if [ "$mode" = meta ]; then
		python3 "$TOP/bench/gen-store.py" "$d/g" --layers "$n" --images "$n" --driver "$driver"
	fi
	"$BENCH_TMP/$name" "$mode" "$d/g" "$d/r" "$driver" "$n" "$ITERS" >"$d.out"
	# The overlay home stays bind-mounted private after the store closes.
	awk -v d="$d/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$d"
}

show() { # show TITLE: the two sides' medians, side by side
	echo "$1"
	printf '  %-26s %12s %12s %8s\n' operation "Go us" "C us" Go/C
	join <(sort "$BENCH_TMP/golib.res") <(sort "$BENCH_TMP/clib.res") |
		while read -r op g c; do
			printf '  %-26s %12s %12s %8s\n' "$op" "$g" "$c" "$(ratio "$g" "$c")"
		done
}

for n in $SIZES; do
	for name in golib clib; do
		side "$name" meta "$n" vfs
		cp "$BENCH_TMP/$name-meta-vfs-$n.out" "$BENCH_TMP/$name.res"
	done
	show "metadata, $n images (each on its own layer), vfs, $ITERS iterations:"
done
: >"$BENCH_TMP/golib.res"
: >"$BENCH_TMP/clib.res"
for name in golib clib; do
	for depth in $DEPTHS; do
		side "$name" mount "$depth" overlay
		cat "$BENCH_TMP/$name-mount-overlay-$depth.out" >>"$BENCH_TMP/$name.res"
	done
	side "$name" mount 1 vfs
	cat "$BENCH_TMP/$name-mount-vfs-1.out" >>"$BENCH_TMP/$name.res"
done
show "mount+unmount of a chain's top, $ITERS pairs:"
