#!/bin/bash
# A split image store (--image-store, imagestore in storage.conf;
# docs/split-store.md): images and their layers in a root of their own,
# laid out as the newest containers/storage lays it out, containers and
# their layers in the graph root, the graph root's images still found.
# The stores here are checked inside each test with their options (the
# check after a test knows only -g and -R).
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T_UNCHECKED_FILE="split stores: checked in the tests with --image-store"

# The IDs of the records of a records file.
ids_of() { python3 -c 'import json,sys; [print(r["id"]) for r in (json.load(open(sys.argv[1])) or [])]' "$1"; }

# A layer tarball with etc/hello and a directory.
mktar() { # DIR
	mkdir -p "$1/tree/etc" "$1/tree/data"
	echo hello >"$1/tree/etc/hello"
	head -c 50000 /dev/urandom >"$1/tree/data/blob"
	tar -C "$1/tree" -cf "$1/layer.tar" .
}

# The layout of one driver: every file where Go's newest puts it, nothing
# outside the three roots, and a container of the image made, mounted,
# written, unmounted and removed.
layout_for() { # DRIVER
	local drv=$1 s; s=$(t_store)
	local work; work=$(mktemp -d "$T_TMP/work.XXXXXX")
	mktar "$work"
	# The roots' parent holds only them: anything else written there is
	# a file outside the stores.
	local P=$s/p
	mkdir -p "$P"
	local C="$CSTOR -s $drv -g $P/g -R $P/r --image-store $P/is"
	local base top img ctr cl
	base=$($C create-layer --readonly | head -1)
	$C applydiff -f "$work/layer.tar" "$base"
	top=$($C create-layer --readonly "$base" | head -1)
	img=$($C create-image -n split-img "$top" | head -1 | cut -d' ' -f1)
	ctr=$($C create-container -n split-ctr split-img | head -1 | cut -d' ' -f1)
	cl=$($C container split-ctr | sed -n 's/^Layer: //p')
	[ -n "$cl" ] || die "no layer for the container"

	# Records: images and image layers in the image store, the rest in
	# the graph root.
	grep -q "\"$img\"" "$P/is/$drv-images/images.json" || die "image not in the image store"
	[ ! -s "$P/g/$drv-images/images.json" ] || ! grep -q "\"$img\"" "$P/g/$drv-images/images.json" ||
		die "image recorded in the graph root"
	local id
	expect_eq "$(ids_of "$P/is/$drv-layers/layers.json" | sort)" "$(printf '%s\n' "$base" "$top" | sort)" \
		"layers of the image store's layers.json"
	expect_eq "$(ids_of "$P/g/$drv-layers/layers.json")" "$cl" "layers of the graph root's layers.json"
	grep -q "\"$ctr\"" "$P/g/$drv-containers/containers.json" || die "container not in the graph root"
	# Both layer stores are locked, each with its own lock file; the
	# tar-split of an image layer is in the graph root (Go's layerdir).
	[ -f "$P/is/$drv-layers/layers.lock" ] || die "no layers.lock in the image store"
	[ -f "$P/g/$drv-layers/layers.lock" ] || die "no layers.lock in the graph root"
	[ -f "$P/g/$drv-layers/$base.tar-split.gz" ] || die "tar-split not in the graph root's layer directory"
	[ -f "$P/is/$drv-images/images.lock" ] || die "no images.lock in the image store"
	# The drivers' directories.
	case $drv in
	vfs)
		[ -f "$P/is/vfs/dir/$base/etc/hello" ] || die "image layer files not in <is>/vfs/dir"
		[ -d "$P/is/vfs/dir/$top" ] || die "top layer not in <is>/vfs/dir"
		[ -d "$P/g/vfs/dir/$cl" ] || die "container layer not in <g>/vfs/dir"
		[ ! -e "$P/g/vfs/dir/$base" ] || die "image layer in the graph root"
		;;
	overlay)
		[ -f "$P/is/overlay/$base/diff/etc/hello" ] || die "image layer files not in <is>/overlay"
		local link; link=$(cat "$P/is/overlay/$base/link")
		[ -L "$P/is/overlay/l/$link" ] || die "image layer link not in <is>/overlay/l"
		expect_eq "$(readlink "$P/is/overlay/l/$link")" "../$base/diff" "link target"
		[ -d "$P/g/overlay/$cl/diff" ] || die "container layer not in <g>/overlay"
		[ -L "$P/g/overlay/l/$(cat "$P/g/overlay/$cl/link")" ] || die "container link not in <g>/overlay/l"
		[ ! -e "$P/g/overlay/$base" ] || die "image layer in the graph root"
		;;
	esac

	# The container works across the two roots.
	local m; m=$($C mount split-ctr)
	expect_eq "$(cat "$m/etc/hello")" hello "image content seen in the container"
	echo written >"$m/new-file"
	$C unmount split-ctr >/dev/null
	m=$($C mount split-ctr)
	expect_eq "$(cat "$m/new-file")" written "container write kept"
	$C unmount split-ctr >/dev/null
	[ ! -e "$P/is/$drv/$base/diff/new-file" ] && [ ! -e "$P/is/vfs/dir/$base/new-file" ] ||
		die "container write reached the image store"
	$C check || die "check of the split store"
	$C delete-container split-ctr
	[ ! -e "$P/g/$drv/$cl" ] && [ ! -e "$P/g/vfs/dir/$cl" ] || die "container layer left"
	expect_eq "$($C images -q 2>/dev/null || $C images | head -1)" "$img" "image kept"
	$C check || die "check after the container went"
	$C shutdown >/dev/null
	expect_eq "$(ls "$P")" "$(printf 'g\nis\nr')" "files outside the three roots"
}

test_split_layout_vfs() {
	layout_for vfs
}

test_split_layout_overlay() {
	t_need_overlay
	layout_for overlay
}

# The graph root is read as an additional store: an image made there is
# found with --image-store set, and can be deleted from there; a read-only
# layer lands in the image store, which is a store of its own (Go's test
# mounts it with -g <imagestore>).
test_split_graph_root_images() {
	local s; s=$(t_store)
	local drv=vfs
	grep -qw overlay /proc/filesystems && drv=overlay
	local C="$CSTOR -s $drv -g $s/g -R $s/r"
	local l img
	l=$($C create-layer | head -1)
	img=$($C create-image -n old-img "$l" | head -1 | cut -d' ' -f1)
	echo data >"$s/data"
	$C set-image-data -f "$s/data" "$img" key1
	$C shutdown >/dev/null
	local CI="$C --image-store $s/is/"
	$CI image "$img" | grep -qx "ID: $img" || die "graph root image not found with --image-store"
	$CI image "$img" | grep -qx "Data: key1" || die "its data not found"
	# An empty image store alone does not have it.
	local rc=0
	$CSTOR -s $drv -g "$s/is" -R "$s/r2" image "$img" >/dev/null 2>&1 || rc=$?
	[ $rc -ne 0 ] || die "image found in the empty image store"
	$CSTOR -s $drv -g "$s/is" -R "$s/r2" shutdown >/dev/null
	# A container of it, with the image store set.
	$CI create-container -n old-ctr old-img >/dev/null
	$CI delete-container old-ctr
	$CI delete-image "$img" >/dev/null
	rc=0
	$C exists -i "$img" >/dev/null || rc=$?
	[ $rc -ne 0 ] || die "graph root image not deleted"
	local ro; ro=$($CI create-layer --readonly | head -1)
	grep -q "\"$ro\"" "$s/is/$drv-layers/layers.json" || die "read-only layer not in the image store"
	$CI check || die "check of the split store"
	$CI shutdown >/dev/null
	local m; m=$($CSTOR -s $drv -g "$s/is" -R "$s/r2" mount "$ro")
	[ -d "$m" ] || die "image store layer not mountable as a store of its own"
	$CSTOR -s $drv -g "$s/is" -R "$s/r2" unmount "$ro" >/dev/null
	$CSTOR -s $drv -g "$s/is" -R "$s/r2" shutdown >/dev/null
	$C shutdown >/dev/null
}

# A relative --image-store is taken from the working directory; the key
# imagestore of storage.conf's [storage] table does the same as the flag;
# bad values are errors naming what was wrong.
test_split_paths_and_config() {
	local s; s=$(t_store)
	local l
	(cd "$s" && $CSTOR -s vfs -g g -R r --image-store ./is/. create-layer --readonly >"$s/id")
	l=$(head -1 "$s/id")
	grep -q "\"$l\"" "$s/is/vfs-layers/layers.json" || die "relative --image-store not from the working directory"
	$CSTOR -s vfs -g "$s/g" -R "$s/r" --image-store "$s/is" -D layers 2>"$s/dbg" >/dev/null
	grep -q "Image Store: $s/is\$" "$s/dbg" || die "-D does not name the image store: $(cat "$s/dbg")"
	printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/g"\nrunroot = "%s/r"\nimagestore = "%s/is"\n' \
		"$s" "$s" "$s" >"$s/storage.conf"
	CONTAINERS_STORAGE_CONF=$s/storage.conf $CSTOR layers | grep -qx "$l" ||
		die "imagestore of storage.conf not used"
	# The flag wins over the file; "" is no image store.
	$CSTOR -s vfs -g "$s/g" -R "$s/r" --image-store "" layers | grep -qx "$l" &&
		die "--image-store \"\" still reads the image store"
	local rc=0
	printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/g"\nrunroot = "%s/r"\nimagestore = "rel/is"\n' \
		"$s" "$s" >"$s/bad.conf"
	CONTAINERS_STORAGE_CONF=$s/bad.conf $CSTOR layers >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "relative imagestore in storage.conf"
	grep -q "$s/bad.conf: imagestore: image store \"rel/is\" is not an absolute path" "$s/err" ||
		die "message: $(cat "$s/err")"
	rc=0
	$CSTOR -s vfs -g "$s/g" -R "$s/r" --image-store "$s/g/" layers >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "image store = graph root"
	grep -q "must either be not set or be different from the graph root" "$s/err" ||
		die "message: $(cat "$s/err")"
	[ ! -e "$s/rel" ] || die "something was made under the bad path"
}

# check sees both roots: a changed image layer and a directory no record
# owns in the image store are reported, and the stray one repaired.
test_split_check() {
	local s; s=$(t_store)
	local C="$CSTOR -s vfs -g $s/g -R $s/r --image-store $s/is"
	mktar "$s"
	local l; l=$($C create-layer --readonly | head -1)
	$C applydiff -f "$s/layer.tar" "$l"
	$C create-image -n chk "$l" >/dev/null
	$C create-container -n chk-ctr chk >/dev/null
	$C check || die "check of a good split store"
	mkdir "$s/is/vfs/dir/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	local rc=0
	$C check >"$s/out" 2>&1 || rc=$?
	expect_eq $rc 1 "check with a stray directory in the image store"
	grep -q "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef: layer in lower level storage driver not accounted for" "$s/out" ||
		die "stray directory not reported: $(cat "$s/out")"
	$C check -r >/dev/null 2>&1 || true
	[ ! -e "$s/is/vfs/dir/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" ] ||
		die "stray directory not repaired"
	$C check || die "check after repair"
	rm "$s/is/vfs/dir/$l/etc/hello"
	rc=0
	$C check >"$s/out" 2>&1 || rc=$?
	expect_eq $rc 1 "check with an image layer's file gone"
	grep -q "layer $l: .*etc/hello" "$s/out" || die "changed layer not reported: $(cat "$s/out")"
}

# An OCI image imported into a split store: its layers in the image store
# (their tar-splits in the graph root, as Go keeps them), a container of it
# sees its files, and exporting it gives back the manifest imported.
test_split_import_export() {
	[ -x /bin/busybox ] || skip "busybox-static not installed (scripts/mkimage-busybox needs it)"
	local s; s=$(t_store)
	"$ROOT/scripts/mkimage-busybox" "$s/oci" v1 >/dev/null
	local drv=vfs
	grep -qw overlay /proc/filesystems && drv=overlay
	local C="$CSTOR -s $drv -g $s/g -R $s/r --image-store $s/is"
	$C import "oci:$s/oci:v1" >/dev/null
	local img; img=$($C images | head -1)
	local digest; digest=$($C images | sed -n 's/^\tdigest: //p')
	expect_eq "$(ids_of "$s/is/$drv-layers/layers.json" | wc -l)" 2 "image layers in the image store"
	expect_eq "$(ids_of "$s/g/$drv-layers/layers.json" | wc -l)" 0 "layers in the graph root"
	local l
	for l in $(ids_of "$s/is/$drv-layers/layers.json"); do
		[ -f "$s/g/$drv-layers/$l.tar-split.gz" ] || die "no tar-split of $l in the graph root"
	done
	$C create-container -n c "$img" >/dev/null
	local m; m=$($C mount c)
	expect_eq "$(cat "$m/etc/motd")" "Hello from a cstor image." "image file in the container"
	[ ! -e "$m/bin/vi" ] || die "whiteout of the top layer not applied"
	$C unmount c >/dev/null
	local out; out=$($C export "$img" "oci:$s/out:v1" | tail -1)
	expect_eq "$out" "$digest" "manifest digest exported"
	$C check || die "check after import"
	$C delete-container c
	$C delete-image "$img" >/dev/null
	expect_eq "$(ids_of "$s/is/$drv-layers/layers.json" | wc -l)" 0 "image layers after delete-image"
	$C check || die "check after delete-image"
	$C shutdown >/dev/null
}

t_begin
t_run test_split_layout_vfs
t_run test_split_layout_overlay
t_run test_split_graph_root_images
t_run test_split_paths_and_config
t_run test_split_check
t_run test_split_import_export
t_end
