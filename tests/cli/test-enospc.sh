#!/bin/bash
# A disk that really fills (docs/crash-testing.md): the store on a small
# loop-mounted ext4; import-layer, create-layer, applydiff and import run
# until there is no room. Each failure is a non-zero exit with an error
# naming the operation and what could not be written; the store stays
# consistent (check is clean after the next writer), nothing committed is
# lost, and once an image is deleted the same operation succeeds.
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# The loop devices are detached at exit even when a test failed: their
# mounts first, then the devices, then lib.sh's cleanup.
enospc_exit() {
	local d
	if [ -f "$T_TMP/loops" ]; then
		while read -r d m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
			losetup -d "$d" 2>/dev/null || true
		done <"$T_TMP/loops"
	fi
	t_exit_trap
}
trap enospc_exit EXIT

# small_ext4 MB: an ext4 of that size mounted at a new directory; prints it.
small_ext4() {
	[ "$(id -u)" = 0 ] || skip "needs root for a loop device"
	command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 not installed (e2fsprogs)"
	command -v losetup >/dev/null || skip "losetup not installed (mount)"
	local img=$T_TMP/ext4.$$.$RANDOM.img mnt dev
	mnt=$(mktemp -d "$T_TMP/fs.XXXXXX")
	truncate -s "${1}M" "$img"
	mkfs.ext4 -q -F -m 0 "$img" >/dev/null 2>&1 || skip "mkfs.ext4 failed"
	dev=$(losetup -f --show "$img" 2>/dev/null) || skip "no free loop device"
	echo "$dev $mnt" >>"$T_TMP/loops"
	mount -t ext4 "$dev" "$mnt" || skip "cannot mount ext4"
	echo "$mnt"
}

# Layer trees and records committed so far (IDs, names, parents; the files
# of each layer) must survive every failure; $SKIP, the layer an applydiff
# writes into, is left out.
SKIP=none
committed() {
	local id
	jq -S --arg s "$SKIP" '[.[] | select(.id != $s) | {id, names, parent, flags}] | sort_by(.id)' \
		"$G/vfs-layers/layers.json"
	jq -S '[.[] | {id, names, layer}] | sort_by(.id)' "$G/vfs-images/images.json"
	for id in $(jq -r '.[].id' "$G/vfs-layers/layers.json"); do
		[ "$id" != "$SKIP" ] || continue
		(cd "$G/vfs/dir/$id" && find . -type f -print0 | sort -z | xargs -0r sha256sum)
	done
}

# expect_full OP...: the operation fails for want of room, saying which
# operation and what it could not write; the store stays consistent.
expect_full() {
	local rc=0 before
	before=$(committed)
	"$@" >"$S/out" 2>"$S/err" || rc=$?
	[ $rc -ne 0 ] || die "$*: succeeded on a full disk"
	[ $rc -ne 137 ] || die "$*: killed"
	grep -q "No space left on device" "$S/err" || die "$*: not a full disk error: $(cat "$S/err")"
	# The error names a file or directory of the store, or the layer.
	grep -Eq "/|layer|image" "$S/err" || die "$*: the error does not say what: $(cat "$S/err")"
	echo "# $(echo "$*" | sed "s|$CSTOR -g [^ ]* -R [^ ]* -s vfs |cstor |"): $(head -1 "$S/err")"
	local after; after=$(committed)
	[ "$after" = "$before" ] || die "committed content changed by a failed $*: $(diff <(echo "$before") <(echo "$after") | head -20)"
	# Consistent: only an interrupted operation's leftovers, which the
	# next writer cleans (a writer that needs no room: names).
	$C add-names -n keep-again keep >/dev/null 2>&1 || true
	local crc=0
	$C check >"$S/chk" 2>&1 || crc=$?
	[ $crc -eq 0 ] && [ ! -s "$S/chk" ] && return 0
	# An apply into an existing layer leaves it flagged until applied
	# again or deleted (docs/check.md): that, and only that.
	[ "$SKIP" != none ] && ! grep -Ev "^layer $SKIP:\$|an apply into it was interrupted|problems found" "$S/chk" |
		grep -q . && return 0
	die "check after a failed $* (status $crc): $(cat "$S/chk")"
}

test_fill_and_free() {
	local fs; fs=$(small_ext4 24)
	S=$(t_store)
	G=$fs/g
	C="$CSTOR -g $G -R $S/r -s vfs"
	# A 1 MiB layer that does not compress, and an image on it to delete
	# later; and a layer to keep.
	mkdir -p "$S/src/a" "$S/src/b"
	head -c $((1024 * 1024)) /dev/urandom >"$S/src/a/blob"
	echo keep >"$S/src/b/keep"
	tar -C "$S/src/a" -cf "$S/a.tar" .
	tar -C "$S/src/b" -cf "$S/b.tar" .
	$C import-layer -n keep -f "$S/b.tar" >/dev/null
	local i=0 rc=0
	$C import-layer -n big0 -f "$S/a.tar" >/dev/null
	$C create-image -n freeme big0 >/dev/null
	for i in $(seq 1 40); do
		$C import-layer -n "big$i" -f "$S/a.tar" >/dev/null 2>"$S/err" || { rc=$?; break; }
	done
	[ $rc -ne 0 ] || die "40 MiB of layers fit in 24 MiB"
	echo "# filled after $i layers: $(head -1 "$S/err")"
	grep -q "No space left on device" "$S/err" || die "import-layer: not a full disk error: $(cat "$S/err")"
	# The next writer cleans what the failed one left; check is clean.
	$C add-names -n keep-again keep
	$C check >"$S/chk" 2>&1 || die "check after the disk filled: $(cat "$S/chk")"
	# Every further kind of write, on the full disk.
	expect_full $C import-layer -n more -f "$S/a.tar"
	expect_full $C create-layer -n child big0
	local e; e=$($C create-layer -n empty | head -1)
	SKIP=$e
	# Flagged from now on, until applied again below.
	expect_full $C applydiff -f "$S/a.tar" empty
	if [ -x /bin/busybox ]; then
		"$ROOT/scripts/mkimage-busybox" "$S/bb" v1 >/dev/null
		# Room for the image's records but not its layer.
		expect_full $C import -q -n bb "oci:$S/bb:v1"
	fi
	# Free room: the image and its layer go; the same operations work.
	local kept
	kept=$(jq -r '.[].names[]?' "$G/vfs-layers/layers.json" | grep -E '^big1[0-9]$' | sort)
	[ -n "$kept" ] || die "fewer than 11 layers fitted"
	$C delete-image freeme >/dev/null
	local n
	for n in 1 3 4 5 6 7 8 9; do $C delete-layer "big$n" >/dev/null; done
	$C import-layer -n more -f "$S/a.tar" >/dev/null
	$C create-layer -n child big2 >/dev/null
	$C applydiff -f "$S/b.tar" "$e"
	[ ! -d "$S/bb" ] || $C import -q -n bb "oci:$S/bb:v1" >/dev/null
	$C check >"$S/chk" 2>&1 || die "check after freeing room: $(cat "$S/chk")"
	expect_eq "$(jq -r '.[].names[]?' "$G/vfs-layers/layers.json" | grep -E '^big1[0-9]$' | sort)" \
		"$kept" "the layers that fitted are all there"
}

t_begin
t_run test_fill_and_free
t_end
