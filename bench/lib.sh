# Shared helpers for the side-by-side benchmarks: cstor vs containers-storage.
set -eu
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CSTOR=${CSTOR:-$TOP/build/src/cli/cstor}
GO_CS=${GO_CS:-containers-storage}
[ -x "$CSTOR" ] || { echo "build cstor first (ninja -C build)"; exit 1; }
command -v "$GO_CS" >/dev/null || { echo "containers-storage (Go CLI) is not installed"; exit 77; }
BENCH_TMP=$(mktemp -d /var/tmp/cstor-bench.XXXXXX)
bench_cleanup() {
	awk -v d="$BENCH_TMP/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
