#!/bin/bash
# The read-only store promise, whoever made the store (issue #11): a store
# filled by the Go CLI, by skopeo or by cstor, then made read-only (a
# read-only bind mount of its graph root on itself, as on a shared
# filesystem) and named as an additional image store of another store, can
# be listed, mounted (with and without -r: a layer of a read-only store
# mounts read-only, the only mount it can have), read, diffed and built on,
# and not one byte of it changes. A Go-made store has no merged/ directories
# (containers/storage removes them on unmount): nothing may create them.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MKIMG=$ROOT/scripts/mkimage-busybox

# Two layer tarballs: a base and a top adding etc/motd.
mktars() { # DIR
	local d=$1
	mkdir -p "$d/base/etc" "$d/base/data" "$d/top/etc"
	echo hello >"$d/base/etc/hello"
	head -c 100000 /dev/urandom >"$d/base/data/blob"
	echo "message of the day" >"$d/top/etc/motd"
	tar -C "$d/base" -cf "$d/base.tar" .
	tar -C "$d/top" -cf "$d/top.tar" .
}

# fill MAKER DRIVER STORE: an image "ro-img" of two layers, made by MAKER.
fill() {
	local maker=$1 drv=$2 s=$3 base top
	case $maker in
	go)
		have_go_cs || skip "containers-storage (Go CLI) is not installed"
		mktars "$s"
		local G="$GO_CS -g $s/g -R $s/r -s $drv"
		base=$($G create-layer | head -1)
		$G applydiff -f "$s/base.tar" "$base"
		top=$($G import-layer -f "$s/top.tar" "$base" | head -1)
		$G create-image -n ro-img "$top" >/dev/null
		# Used once, as a user would: Go removes merged/ on unmount.
		$G mount "$top" >/dev/null
		$G unmount "$top" >/dev/null
		$G mount "$base" >/dev/null
		$G unmount "$base" >/dev/null
		$G shutdown >/dev/null 2>&1 || true
		;;
	skopeo)
		command -v skopeo >/dev/null || skip "skopeo is not installed"
		[ -x /bin/busybox ] || skip "busybox-static is not installed"
		"$MKIMG" "$s/oci" v1 >/dev/null
		skopeo --insecure-policy copy -q oci:"$s/oci":v1 \
			"containers-storage:[$drv@$s/g+$s/r]ro-img" >/dev/null
		;;
	cstor)
		mktars "$s"
		local C="$CSTOR -g $s/g -R $s/r -s $drv"
		base=$($C create-layer | head -1)
		$C applydiff -f "$s/base.tar" "$base"
		top=$($C import-layer -f "$s/top.tar" "$base" | head -1)
		$C create-image -n ro-img "$top" >/dev/null
		$C shutdown >/dev/null
		;;
	esac
	# Whatever the maker left mounted (overlay's private home) goes, as
	# after a reboot.
	t_cleanup_mounts "$s/g"
}

# The path of a file in a layer's own tree in the store (read, never
# written).
layer_file() { # STORE DRIVER LAYER PATH
	case $2 in
	overlay) echo "$1/g/overlay/$3/diff/$4" ;;
	vfs) echo "$1/g/vfs/dir/$3/$4" ;;
	esac
}

ro_store() { # MAKER DRIVER [no-empty|no-links]
	local maker=$1 drv=$2 variant=${3:-}
	[ "$drv" = overlay ] && t_need_overlay
	local s; s=$(t_store)
	fill "$maker" "$drv" "$s"
	# A store copied by a tool that keeps no empty directories: overlay
	# layers without their empty/ (the base's stands in for a second lower).
	[ "$variant" = no-empty ] && rmdir "$s"/g/overlay/*/empty
	# Or one that lost its l/ symlinks (each layer's link file names its
	# own): a read-only store's cannot be made again.
	[ "$variant" = no-links ] && rm "$s"/g/overlay/l/*
	local top img
	top=$(jq -r '.[0].layer' "$s/g/$drv-images/images.json")
	img=$(jq -r '.[0].id' "$s/g/$drv-images/images.json")
	[ -n "$top" ] && [ "$top" != null ] || die "no image made by $maker"
	local motd; motd=$(cat "$(layer_file "$s" "$drv" "$top" etc/motd)")
	mount --bind "$s/g" "$s/g" && mount -o remount,bind,ro "$s/g" "$s/g" ||
		skip "cannot make a read-only bind mount"
	local before; before=$(ro_checksum "$s/g")
	touch "$s/g/probe" 2>/dev/null && die "the read-only store is writable"

	local P="$s/primary"
	local C="$CSTOR -g $P/g -R $P/r -s $drv --storage-opt $drv.imagestore=$s/g"
	$C layers | grep -qx "$top" || die "layer of the read-only store not listed"
	$C images | grep -q "^$img" || die "image of the read-only store not listed"

	# mount -r of the image, then of the layer.
	local mp
	mp=$($C mount -r "$img") || die "mount -r of the image"
	expect_eq "$(cat "$mp/etc/motd")" "$motd" "content through mount -r IMAGE"
	case "$mp" in "$s/g"/*) die "mount point $mp is inside the read-only store";; esac
	touch "$mp/new" 2>/dev/null && die "wrote through a read-only mount"
	$C unmount "$top" >/dev/null
	mp=$($C mount -r "$top") || die "mount -r of the layer"
	expect_eq "$(cat "$mp/etc/motd")" "$motd" "content through mount -r LAYER"
	$C unmount "$top" >/dev/null
	# Without -r: the only mount such a layer can have, read-only.
	mp=$($C mount "$top") || die "mount of a read-only store's layer"
	expect_eq "$(cat "$mp/etc/motd")" "$motd" "content through mount LAYER"
	touch "$mp/new" 2>/dev/null && die "wrote through the mount of a read-only layer"
	$C mounted -v "$top" | grep -q "count: 1" || die "mounted: $($C mounted -v "$top")"
	$C unmount "$top" | grep -q unmounted || die "unmount"
	# The base layer on its own (no lowers of its own).
	local base; base=$(jq -r --arg t "$top" '.[] | select(.id == $t) | .parent' "$s/g/$drv-layers/layers.json")
	mp=$($C mount "$base") || die "mount of the base layer"
	[ -n "$(ls "$mp")" ] || die "the base layer's mount is empty"
	[ -e "$mp/etc/motd" ] && die "the base layer's mount shows the top layer"
	$C unmount "$base" >/dev/null
	# -o ro says the same.
	mp=$($C mount -o ro "$top") || die "mount -o ro"
	expect_eq "$(cat "$mp/etc/motd")" "$motd" "content through mount -o ro"
	$C unmount "$top" >/dev/null
	expect_eq "$(mounts_under "$P/r")$(mounts_under "$P/g/$drv")" 00 "unmounted"

	# diff and changes.
	$C diff -u "$top" | tar -t | grep -qx './etc/motd' || die "diff of a read-only layer"
	$C changes "$top" | grep -q '/etc/motd' || die "changes of a read-only layer"
	expect_eq "$($C changes "$top" "$top")" "" "changes of a layer against itself"

	# with-mount, with and without -r.
	$C with-mount "$top" -- sh -c 'test -f "$CSTOR_MOUNTPOINT/etc/motd"' || die "with-mount"
	$C with-mount -r "$img" -- sh -c 'test -f "$CSTOR_MOUNTPOINT/etc/motd"' ||
		die "with-mount -r IMAGE"
	expect_eq "$(mounts_under "$P/r")$(mounts_under "$P/g/$drv")" 00 "with-mount left no mounts"

	# A layer and a container of the primary store on top of it.
	local child; child=$($C create-layer "$top" | head -1)
	[ -n "$child" ] || die "child of a read-only layer"
	mp=$($C mount "$child")
	expect_eq "$(cat "$mp/etc/motd")" "$motd" "child sees the read-only parent"
	echo new >"$mp/etc/new" || die "the child is writable"
	$C unmount "$child" >/dev/null
	local ctr; ctr=$($C create-container "$img" | head -1)
	[ -n "$ctr" ] || die "container of a read-only store's image"
	mp=$($C mount "$ctr")
	expect_eq "$(cat "$mp/etc/motd")" "$motd" "container sees the image"
	$C unmount "$ctr" >/dev/null

	expect_eq "$(mounts_under "$P/r")$(mounts_under "$P/g/$drv")" 00 "no mounts left"
	expect_eq "$(ro_checksum "$s/g")" "$before" "the read-only store changed"
	# The Go CLI sees the read-only store as it was.
	if have_go_cs; then
		$GO_CS -g "$P/g" -R "$P/r" -s "$drv" --storage-opt "$drv.imagestore=$s/g" layers |
			grep -qx "$top" || die "Go does not list the read-only layer"
	fi
	expect_eq "$(ro_checksum "$s/g")" "$before" "the read-only store changed (after Go)"
}

test_go_store_vfs() { ro_store go vfs; }
test_go_store_overlay() { ro_store go overlay; }
test_skopeo_store_vfs() { ro_store skopeo vfs; }
test_skopeo_store_overlay() { ro_store skopeo overlay; }
test_cstor_store_vfs() { ro_store cstor vfs; }
test_cstor_store_overlay() { ro_store cstor overlay; }
test_go_store_overlay_no_empty_dirs() { ro_store go overlay no-empty; }
test_go_store_overlay_no_links() { ro_store go overlay no-links; }
test_cstor_store_overlay_no_links() { ro_store cstor overlay no-links; }

t_begin
t_run test_go_store_vfs
t_run test_go_store_overlay
t_run test_skopeo_store_vfs
t_run test_skopeo_store_overlay
t_run test_cstor_store_vfs
t_run test_cstor_store_overlay
t_run test_go_store_overlay_no_empty_dirs
t_run test_go_store_overlay_no_links
t_run test_cstor_store_overlay_no_links
t_end
