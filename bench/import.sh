#!/bin/bash
# Import of a big multi-layer gzip OCI image (scripts/mkimage-big: 8 layers,
# ~350 MiB of files, ~120 MiB gzipped) into a fresh store: `cstor import` vs
# `skopeo copy oci:... containers-storage:...` (Go containers/image and
# containers/storage). Each run gets a fresh store on a fresh ext4
# filesystem on a loop device (see bench/applydiff.sh why); the image's blobs
# are read from the page cache (BENCH_COLD=1: dropped before every run); the
# time includes a final sync. Runs alternate between the tools; the median
# counts. Both stores must end with the same layers (IDs, parents, digests,
# sizes), the same image record (ID, digest, names, top layer, big data) and
# the same files (modes, owners, times, link counts, contents of the mounted
# top layer); the Go CLI lists both stores. Target: cstor at least as fast
# as skopeo.
#   bench/import.sh [RUNS]    (default 3)
#   BENCH_VFS=0   skip the vfs driver (default: time it too, RUNS runs)
#   BENCH_IMAGE=DIR[:REF]   use this OCI layout instead of making one
#   BENCH_SIZE=MB           size given to scripts/mkimage-big (default 320)
. "$(dirname "$0")/lib.sh"
trap 'exit 130' INT TERM
shopt -s inherit_errexit
RUNS=${1:-3}
command -v skopeo >/dev/null || { echo "skopeo is not installed"; exit 77; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "run as root (loop-mounted filesystems, overlay)"; exit 77; }
NAME=example.com/big:v1

if [ -n "${BENCH_IMAGE:-}" ]; then
	IMG=${BENCH_IMAGE%%:*} REF=${BENCH_IMAGE#"$IMG"} REF=${REF#:}
	[ -n "$REF" ] || REF=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$IMG/index.json")
else
	IMG=$BENCH_TMP/image REF=v1
	"$TOP/scripts/mkimage-big" "$IMG" "$REF" --size "${BENCH_SIZE:-320}" >/dev/null 2>"$BENCH_TMP/mkimage.log" ||
		{ cat "$BENCH_TMP/mkimage.log" >&2; exit 1; }
fi
IMG=$(cd "$IMG" && pwd)
manifest=$(jq -r --arg r "$REF" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$IMG/index.json")
[ -n "$manifest" ] || { echo "no image $REF in $IMG"; exit 1; }
m=$IMG/blobs/sha256/${manifest#sha256:}
n_layers=$(jq '.layers | length' "$m")
gz=$(jq '[.layers[].size] | add' "$m")
tarsize=0
for d in $(jq -r '.layers[].digest' "$m"); do
	tarsize=$((tarsize + $(gzip -dc "$IMG/blobs/sha256/${d#sha256:}" | wc -c)))
done
# vfs copies every parent layer: room for all layers stacked, twice over.
fs_size=$((tarsize * (n_layers + 2) + 1073741824))

if "$CSTOR" -g "$BENCH_TMP/probe" -R "$BENCH_TMP/probe.run" import 2>&1 | grep -q "not implemented"; then
	echo "$CSTOR has no working import command yet"
	exit 1
fi

fresh_fs() { # fresh_fs NAME -> mount point
	truncate -s "$fs_size" "$BENCH_TMP/$1.img"
	mkfs.ext4 -q -F "$BENCH_TMP/$1.img"
	mkdir -p "$BENCH_TMP/$1"
	mount -o loop "$BENCH_TMP/$1.img" "$BENCH_TMP/$1"
	echo "$BENCH_TMP/$1"
}
drop_fs() { # every mount under the filesystem (the drivers' own), then it
	awk -v d="$BENCH_TMP/$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	rm -rf "$BENCH_TMP/$1.img" "$BENCH_TMP/$1.run"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
prepare() {
	sync
	if [ -n "${BENCH_COLD:-}" ]; then
		echo 3 >/proc/sys/vm/drop_caches
	else
		cat "$IMG"/blobs/sha256/* >/dev/null
	fi
}

# import TOOL DRIVER STORE: prints the seconds taken, incl. sync; the image
# ID goes to $BENCH_TMP/TOOL-DRIVER.id.
import() {
	local tool=$1 drv=$2 g=$BENCH_TMP/$3/g r=$BENCH_TMP/$3.run t0 t rc=0
	prepare
	t0=$(now)
	case $tool in
	cstor) "$CSTOR" -g "$g" -R "$r" -s "$drv" import -q --name "$NAME" "oci:$IMG:$REF" \
		>"$BENCH_TMP/$tool-$drv.id" 2>"$BENCH_TMP/$tool.err" || rc=$? ;;
	skopeo) skopeo --insecure-policy copy -q "oci:$IMG:$REF" "containers-storage:[$drv@$g+$r]$NAME" \
		>/dev/null 2>"$BENCH_TMP/$tool.err" || rc=$? ;;
	esac
	sync
	t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	if [ $rc != 0 ]; then
		echo "$tool import ($drv) failed:" >&2
		cat "$BENCH_TMP/$tool.err" >&2
		exit 1
	fi
	[ "$tool" = cstor ] ||
		"$GO_CS" -g "$g" -R "$r" -s "$drv" images --json | jq -r '.[0].id' >"$BENCH_TMP/$tool-$drv.id"
	echo "$t"
}

# record TOOL DRIVER STORE: what the store holds, read by the Go CLI, and the
# files of the image's top layer, mounted by the tool that made the store.
record() {
	local tool=$1 drv=$2 g=$BENCH_TMP/$3/g r=$BENCH_TMP/$3.run out=$BENCH_TMP/$1-$2 top mp
	local go=("$GO_CS" -g "$g" -R "$r" -s "$drv")
	"${go[@]}" layers --json | jq -S 'map({id, parent, "diff-digest", "diff-size",
		"compressed-diff-digest", "compressed-size", compression, uidset, gidset}) | sort_by(.id)' >"$out.layers"
	"${go[@]}" images --json | jq -S 'map({id, digest, names, layer, metadata, created,
		"big-data-sizes", "big-data-digests"})' >"$out.images"
	top=$(jq -r '.[0].layer' "$out.images")
	case $tool in
	cstor) mp=$("$CSTOR" -g "$g" -R "$r" -s "$drv" mount "$top") ;;
	skopeo) mp=$("${go[@]}" mount "$top") ;;
	esac
	(
		cd "$mp" || exit 1
		find . -mindepth 1 -type d -printf 'd %M %U:%G %T@ %p\n'
		find . ! -type d -printf '%y %M %U:%G %n %s %T@ %p -> %l\n'
		find . -type f -print0 | xargs -0 -r sha256sum
	) | LC_ALL=C sort >"$out.files"
	case $tool in
	cstor) "$CSTOR" -g "$g" -R "$r" -s "$drv" unmount "$top" >/dev/null ;;
	skopeo) "${go[@]}" unmount "$top" >/dev/null ;;
	esac
}

same() { # FILE1 FILE2 WHAT
	cmp -s "$1" "$2" && return 0
	echo "MISMATCH: $3 differ (< skopeo, > cstor):" >&2
	diff "$1" "$2" | head -20 >&2
	return 1
}

drivers=(overlay)
[ "${BENCH_VFS:-1}" = 0 ] || drivers+=(vfs)
ok=1
declare -A times
for drv in "${drivers[@]}"; do
	times[$drv.cstor]="" times[$drv.skopeo]=""
	for i in $(seq 1 "$RUNS"); do
		for tool in skopeo cstor; do
			fresh_fs "$tool" >/dev/null
			times[$drv.$tool]+=" $(import "$tool" "$drv" "$tool")"
			if [ "$i" = 1 ]; then record "$tool" "$drv" "$tool"; fi
			drop_fs "$tool"
		done
	done
	s=$BENCH_TMP/skopeo-$drv c=$BENCH_TMP/cstor-$drv
	same "$s.id" "$c.id" "$drv image IDs" || ok=
	same "$s.layers" "$c.layers" "$drv layers" || ok=
	same "$s.images" "$c.images" "$drv image records" || ok=
	same "$s.files" "$c.files" "$drv files of the top layer" || ok=
done

mib() { awk -v s="$1" 'BEGIN { printf "%.0f", s / 1048576 }'; }
echo "import of an OCI image, $n_layers gzip layers, $(mib "$tarsize") MiB of tar ($(mib "$gz") MiB gzipped),"
echo "into a fresh store (fresh ext4 each, incl. sync; median of $RUNS runs${BENCH_COLD:+, cold cache}):"
for drv in "${drivers[@]}"; do
	c=$(echo "${times[$drv.cstor]}" | median) s=$(echo "${times[$drv.skopeo]}" | median)
	printf '  %-7s cstor import: %ss (%s)  skopeo copy: %ss (%s)  cstor is %sx faster\n' "$drv" \
		"$c" "${times[$drv.cstor]# }" "$s" "${times[$drv.skopeo]# }" "$(ratio "$s" "$c")"
done
if [ -n "$ok" ]; then
	echo "  same image ID ($(cut -c1-12 "$BENCH_TMP/cstor-overlay.id")), $n_layers same layers, same image record and files: yes"
else
	echo "  the stores differ (see above)"
	exit 1
fi
