#!/bin/bash
# Pull and push of a big multi-layer gzip image (scripts/mkimage-big: 8
# layers, ~350 MiB of files, ~115 MiB gzipped) through a registry on
# 127.0.0.1 (Debian's docker-registry, plain HTTP, started here):
#   pull: `cstor pull` vs `skopeo copy docker://... containers-storage:...`
#         into a fresh store on a fresh ext4 filesystem (incl. a final sync);
#   push: `cstor push` vs `skopeo copy containers-storage:... docker://...`
#         of the pulled image to a second, empty registry started for each
#         push (so that every blob is uploaded: nothing to mount).
# Runs alternate between the tools; the median counts. Both pulls must give
# the same layers and image record; cstor's push must give the pulled
# manifest digest (skopeo recompresses the layers containers-storage keeps
# uncompressed, so its digest is new: said, not required).
#   bench/pull.sh [RUNS]    (default 3)
#   BENCH_DRIVER=vfs        (default overlay)
#   BENCH_SIZE=MB           size given to scripts/mkimage-big (default 320)
#   BENCH_RATE=100mbit      run registries and tools in a network namespace
#                           whose loopback is shaped to this rate (tc tbf);
#                           the link time of the blobs is printed too
. "$(dirname "$0")/lib.sh"
trap 'exit 130' INT TERM
shopt -s inherit_errexit
RUNS=${1:-3}
DRV=${BENCH_DRIVER:-overlay}
command -v skopeo >/dev/null || { echo "skopeo is not installed"; exit 77; }
command -v docker-registry >/dev/null || { echo "docker-registry is not installed"; exit 77; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "run as root (loop-mounted filesystems, overlay)"; exit 77; }

IMG=$BENCH_TMP/image
"$TOP/scripts/mkimage-big" "$IMG" v1 --size "${BENCH_SIZE:-320}" >/dev/null 2>"$BENCH_TMP/mkimage.log" ||
	{ cat "$BENCH_TMP/mkimage.log" >&2; exit 1; }
m=$IMG/blobs/sha256/$(jq -r '.manifests[0].digest' "$IMG/index.json" | cut -d: -f2)
n_layers=$(jq '.layers | length' "$m")
gz=$(jq '[.layers[].size] | add' "$m")

# In a network namespace with a shaped loopback, when asked.
NS=() ns=
if [ -n "${BENCH_RATE:-}" ]; then
	ns=cstor-bench-$$
	ip netns add "$ns"
	ip netns exec "$ns" ip link set lo up
	NS=(ip netns exec "$ns")
fi
ns_cleanup() { [ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true; }

# The registry: its storage under /var/tmp like the image.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$BENCH_TMP/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $BENCH_TMP/registry
http:
  addr: 127.0.0.1:$port
EOF
"${NS[@]}" docker-registry serve "$BENCH_TMP/registry.yml" >"$BENCH_TMP/registry.log" 2>&1 &
reg_pid=$! dest_pid=
# (Each step may fail: set -e would end the trap at the first.)
trap 'kill $reg_pid $dest_pid 2>/dev/null || true; wait $reg_pid $dest_pid 2>/dev/null || true
	bench_cleanup || true; ns_cleanup' EXIT
REG=127.0.0.1:$port
for _ in $(seq 100); do "${NS[@]}" curl -s -o /dev/null "http://$REG/v2/" && break; sleep 0.1; done
# A second registry, empty: DEST.
dest_start() {
	local p
	p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -rf "$BENCH_TMP/dest"
	sed -e "s|$BENCH_TMP/registry|$BENCH_TMP/dest|" -e "s|127.0.0.1:$port|127.0.0.1:$p|" \
		"$BENCH_TMP/registry.yml" >"$BENCH_TMP/dest.yml"
	"${NS[@]}" docker-registry serve "$BENCH_TMP/dest.yml" >"$BENCH_TMP/dest.log" 2>&1 &
	dest_pid=$!
	DEST=127.0.0.1:$p
	for _ in $(seq 100); do "${NS[@]}" curl -s -o /dev/null "http://$DEST/v2/" && break; sleep 0.1; done
}
dest_stop() { kill "$dest_pid"; wait "$dest_pid" 2>/dev/null || true; dest_pid=; }
"${NS[@]}" skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$IMG:v1" "docker://$REG/big:v1"
digest=$("${NS[@]}" skopeo inspect --tls-verify=false "docker://$REG/big:v1" | jq -r .Digest)
# Shaped only now: the image got in at full speed.
[ -z "$ns" ] || "${NS[@]}" tc qdisc add dev lo root tbf rate "$BENCH_RATE" burst 256kb latency 100ms

fs_size=$((gz * 4 * (n_layers + 2) + 1073741824))
fresh_fs() {
	truncate -s "$fs_size" "$BENCH_TMP/$1.img"
	mkfs.ext4 -q -F "$BENCH_TMP/$1.img"
	mkdir -p "$BENCH_TMP/$1"
	mount -o loop "$BENCH_TMP/$1.img" "$BENCH_TMP/$1"
}
drop_fs() {
	awk -v d="$BENCH_TMP/$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	rm -rf "$BENCH_TMP/$1.img" "$BENCH_TMP/$1.run"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

pull() { # TOOL: seconds
	local g=$BENCH_TMP/$1/g r=$BENCH_TMP/$1.run t0
	sync
	t0=$(now)
	case $1 in
	cstor) "${NS[@]}" "$CSTOR" -g "$g" -R "$r" -s "$DRV" pull -q "$REG/big:v1" >/dev/null ;;
	skopeo) "${NS[@]}" skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$REG/big:v1" \
		"containers-storage:[$DRV@$g+$r]$REG/big:v1" >/dev/null ;;
	esac
	sync
	secs "$t0"
}

push() { # TOOL: seconds; the pushed digest to $BENCH_TMP/TOOL.pushed
	local g=$BENCH_TMP/$1/g r=$BENCH_TMP/$1.run t0 t
	dest_start
	t0=$(now)
	case $1 in
	cstor) "${NS[@]}" "$CSTOR" -g "$g" -R "$r" -s "$DRV" push -q "$REG/big:v1" "$DEST/big:v1" >"$BENCH_TMP/$1.pushed" ;;
	skopeo) "${NS[@]}" skopeo --insecure-policy copy -q --dest-tls-verify=false \
		"containers-storage:[$DRV@$g+$r]$REG/big:v1" "docker://$DEST/big:v1" >/dev/null ;;
	esac
	t=$(secs "$t0")
	[ "$1" = cstor ] || "${NS[@]}" skopeo inspect --tls-verify=false "docker://$DEST/big:v1" | jq -r .Digest >"$BENCH_TMP/$1.pushed"
	dest_stop
	echo "$t"
}

view() { # TOOL
	jq -S '[.[] | del(.created) | del(."big-data-names") | del(.flags)] | sort_by(.id)' \
		"$BENCH_TMP/$1/g/$DRV-layers/layers.json" >"$BENCH_TMP/$1.layers"
	jq -S '[.[] | del(.created)]' "$BENCH_TMP/$1/g/$DRV-images/images.json" >"$BENCH_TMP/$1.images"
}

declare -A tpull tpush
ok=1
for i in $(seq 1 "$RUNS"); do
	for tool in skopeo cstor; do
		fresh_fs "$tool"
		tpull[$tool]+=" $(pull "$tool")"
		tpush[$tool]+=" $(push "$tool")"
		if [ "$i" = 1 ]; then view "$tool"; fi
		if [ "$tool" = cstor ]; then
			[ "$(cat "$BENCH_TMP/$tool.pushed")" = "$digest" ] ||
				{ echo "MISMATCH: cstor pushed $(cat "$BENCH_TMP/$tool.pushed"), not $digest" >&2; ok=; }
		else
			cp "$BENCH_TMP/$tool.pushed" "$BENCH_TMP/skopeo.digest"
		fi
		drop_fs "$tool"
	done
done
cmp -s "$BENCH_TMP/skopeo.layers" "$BENCH_TMP/cstor.layers" || { echo "MISMATCH: layers" >&2; ok=; }
cmp -s "$BENCH_TMP/skopeo.images" "$BENCH_TMP/cstor.images" || { echo "MISMATCH: image records" >&2; ok=; }

mib() { awk -v s="$1" 'BEGIN { printf "%.0f", s / 1048576 }'; }
echo "registry on 127.0.0.1 (plain HTTP${BENCH_RATE:+, loopback shaped to $BENCH_RATE}), $n_layers gzip layers, $(mib "$gz") MiB of blobs, $DRV, median of $RUNS:"
if [ -n "${BENCH_RATE:-}" ]; then
	bits=$(numfmt --from=si "$(echo "${BENCH_RATE%bit}" | tr kmg KMG)")
	echo "  link time of the blobs: $(awk -v b="$gz" -v r="$bits" 'BEGIN { printf "%.2f", b * 8 / r }')s"
fi
for op in pull push; do
	declare -n t=t$op
	c=$(echo "${t[cstor]}" | median) s=$(echo "${t[skopeo]}" | median)
	printf '  %s: cstor %ss (%s)  skopeo %ss (%s)  cstor is %sx faster\n' "$op" \
		"$c" "${t[cstor]# }" "$s" "${t[skopeo]# }" "$(ratio "$s" "$c")"
done
if [ -n "$ok" ]; then
	echo "  same layers and image record: yes; cstor pushed the pulled digest ($digest): yes"
	[ "$(cat "$BENCH_TMP/skopeo.digest")" = "$digest" ] && echo "  skopeo too" ||
		echo "  skopeo pushed another digest ($(cat "$BENCH_TMP/skopeo.digest")): it recompressed"
else
	exit 1
fi
