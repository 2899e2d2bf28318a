#!/bin/bash
# applydiff of a big uncompressed layer tarball into an overlay layer:
# cstor vs the Go CLI vs GNU tar extracting the same tarball. Each run gets a
# fresh ext4 filesystem on a loop device: right after a large rm -rf, ext4
# spends its time skipping freed inodes, which would measure the previous
# run's cleanup. Target: cstor at least as fast as GNU tar.
#   bench/applydiff.sh [SOURCE_DIR]   (default /usr/share)
. "$(dirname "$0")/lib.sh"
SRC=${1:-/usr/share}
tar -C "$SRC" -cf "$BENCH_TMP/layer.tar" . 2>/dev/null || true
size=$(stat -c %s "$BENCH_TMP/layer.tar")
fs_size=$((size * 3 + 1073741824))

fresh_fs() { # fresh_fs NAME -> mount point
	truncate -s "$fs_size" "$BENCH_TMP/$1.img"
	mkfs.ext4 -q -F "$BENCH_TMP/$1.img"
	mkdir -p "$BENCH_TMP/$1"
	mount -o loop "$BENCH_TMP/$1.img" "$BENCH_TMP/$1"
	echo "$BENCH_TMP/$1"
}
drop_fs() { umount -l "$BENCH_TMP/$1" 2>/dev/null || true; rm -f "$BENCH_TMP/$1.img"; }
t() { local t0; t0=$(now); "$@" >/dev/null; sync; awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# The tarball is read from the page cache for every tool.
cat "$BENCH_TMP/layer.tar" >/dev/null

d=$(fresh_fs gnutar); mkdir "$d/x"
gt=$(t tar -C "$d/x" -xf "$BENCH_TMP/layer.tar"); drop_fs gnutar
d=$(fresh_fs c)
ct=$(t "$CSTOR" -g "$d/g" -R "$BENCH_TMP/c-run" -s overlay import-layer -f "$BENCH_TMP/layer.tar")
umount -l "$d/g/overlay" 2>/dev/null || true; drop_fs c
d=$(fresh_fs go)
got=$(t "$GO_CS" -g "$d/g" -R "$BENCH_TMP/go-run" -s overlay import-layer -f "$BENCH_TMP/layer.tar")
umount -l "$d/g/overlay" 2>/dev/null || true; drop_fs go
mb=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1048576 }')
echo "apply a $mb MiB uncompressed tarball of $SRC into an overlay layer (fresh ext4 each, incl. sync):"
echo "  GNU tar -x: ${gt}s"
echo "  cstor:      ${ct}s  ($(ratio "$gt" "$ct")x GNU tar's speed; also digests, tar-split)"
echo "  Go CLI:     ${got}s  (cstor is $(ratio "$got" "$ct")x faster)"
