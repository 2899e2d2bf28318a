#!/bin/bash
# applydiff of a big uncompressed layer tarball into an overlay layer:
# cstor vs the Go CLI vs GNU tar extracting the same tarball to the same
# disk. Target: cstor at least as fast as GNU tar.
#   bench/applydiff.sh [SOURCE_DIR]   (default /usr)
. "$(dirname "$0")/lib.sh"
SRC=${1:-/usr}
tar -C "$SRC" -cf "$BENCH_TMP/layer.tar" . 2>/dev/null || true
size=$(stat -c %s "$BENCH_TMP/layer.tar")
sync
t() { local t0; t0=$(now); "$@" >/dev/null; awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

mkdir -p "$BENCH_TMP/gnutar"
gt=$(t tar -C "$BENCH_TMP/gnutar" -xf "$BENCH_TMP/layer.tar")
rm -rf "$BENCH_TMP/gnutar"; sync
C="$CSTOR -g $BENCH_TMP/c/g -R $BENCH_TMP/c/r -s overlay"
ct=$(t $C import-layer -f "$BENCH_TMP/layer.tar")
sync
G="$GO_CS -g $BENCH_TMP/go/g -R $BENCH_TMP/go/r -s overlay"
got=$(t $G import-layer -f "$BENCH_TMP/layer.tar")
mb=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1048576 }')
echo "apply a $mb MiB uncompressed tarball of $SRC into an overlay layer:"
echo "  GNU tar -x: ${gt}s"
echo "  cstor:      ${ct}s  ($(ratio "$gt" "$ct")x GNU tar's speed)"
echo "  Go CLI:     ${got}s  (cstor is $(ratio "$got" "$ct")x faster)"
