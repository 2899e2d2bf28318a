#!/bin/bash
# Split image and transient stores made by cstor, read by containers-storage
# 1.43 where it can (it knows neither: docs/split-store.md and
# docs/transient-store.md say what it sees), and a store 1.43 made, used by
# cstor with an image store in front of it.
. "$(dirname "$0")/../lib.sh"
T_UNCHECKED_FILE="split and transient stores: checked in the tests with their options"

mktar() { # DIR
	mkdir -p "$1/tree/etc"
	echo hello >"$1/tree/etc/hello"
	tar -C "$1/tree" -cf "$1/layer.tar" .
}

# 1.43, told the image store is an additional image store, sees the images,
# the containers and their layers, and mounts a container across the two
# roots; given the image store as its graph root, it uses it as a store.
split_read_by_go() { # DRIVER
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local drv=$1 s; s=$(t_store)
	mktar "$s"
	local C="$CSTOR -s $drv -g $s/g -R $s/r --image-store $s/is"
	local l img ctr
	l=$($C create-layer --readonly | head -1)
	$C applydiff -f "$s/layer.tar" "$l"
	img=$($C create-image -n split-img "$l" | head -1 | cut -d' ' -f1)
	ctr=$($C create-container -n split-ctr split-img | head -1 | cut -d' ' -f1)
	local m; m=$($C mount split-ctr)
	echo from-cstor >"$m/written"
	$C unmount split-ctr >/dev/null
	$C shutdown >/dev/null
	local G="$GO_CS -s $drv -g $s/g -R $s/r --storage-opt $drv.imagestore=$s/is"
	$G images | grep -qx "$img" || die "Go does not list the image: $($G images)"
	$G containers | grep -qx "$ctr" || die "Go does not list the container"
	m=$($G mount split-ctr)
	expect_eq "$(cat "$m/etc/hello")" hello "image content through Go's mount"
	expect_eq "$(cat "$m/written")" from-cstor "container content through Go's mount"
	$G unmount split-ctr >/dev/null
	$G shutdown >/dev/null
	local G2="$GO_CS -s $drv -g $s/is -R $s/r2"
	$G2 images | grep -qx "$img" || die "Go does not read the image store as a store"
	m=$($G2 mount "$l")
	expect_eq "$(cat "$m/etc/hello")" hello "image layer mounted by Go from the image store"
	$G2 unmount "$l" >/dev/null
	$G2 shutdown >/dev/null
	# And cstor still finds everything as it left it.
	$C check || die "check after Go's reads"
	$C delete-container split-ctr
	$C shutdown >/dev/null
}

test_split_read_by_go_vfs() {
	split_read_by_go vfs
}

test_split_read_by_go_overlay() {
	t_need_overlay
	split_read_by_go overlay
}

# A store 1.43 made is the graph root of a split store: its images are
# found, a container of one is made, mounted and removed by cstor, and Go
# still reads its store.
test_go_store_as_graph_root() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	mktar "$s"
	local G="$GO_CS -s vfs -g $s/g -R $s/r"
	local l img
	l=$($G create-layer | head -1)
	$G applydiff -f "$s/layer.tar" "$l"
	img=$($G create-image -n go-img "$l" | head -1 | cut -d' ' -f1)
	local C="$CSTOR -s vfs -g $s/g -R $s/r --image-store $s/is"
	$C images | grep -qx "$img" || die "cstor does not find Go's image"
	$C create-container -n c go-img >/dev/null
	local m; m=$($C mount c)
	expect_eq "$(cat "$m/etc/hello")" hello "Go's image content in cstor's container"
	$C unmount c >/dev/null
	$C check || die "check"
	$C delete-container c
	$G images | grep -qx "$img" || die "Go lost its image"
	$G layers | grep -qx "$l" || die "Go lost its layer"
}

# A transient store: 1.43 sees the images and the persistent containers,
# not the transient ones (it reads neither volatile file).
test_transient_read_by_go() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	mktar "$s"
	local C="$CSTOR -s vfs -g $s/g -R $s/r"
	local l; l=$($C create-layer --readonly | head -1)
	$C applydiff -f "$s/layer.tar" "$l"
	local img; img=$($C create-image -n img "$l" | head -1 | cut -d' ' -f1)
	local keep; keep=$($C create-container -n kept img | head -1 | cut -d' ' -f1)
	local t; t=$($C --transient-store create-container -n trans img | head -1 | cut -d' ' -f1)
	local G="$GO_CS -s vfs -g $s/g -R $s/r"
	$G images | grep -qx "$img" || die "Go does not see the image"
	expect_eq "$($G containers | grep -v '^	')" "$keep" "containers Go sees"
	! $G layers | grep -q "$t" || die "Go sees the transient container"
	local m; m=$($G mount kept)
	expect_eq "$(cat "$m/etc/hello")" hello "persistent container mounted by Go"
	$G unmount kept >/dev/null
	$C --transient-store check || die "check after Go"
}

t_begin
t_run test_split_read_by_go_vfs
t_run test_split_read_by_go_overlay
t_run test_go_store_as_graph_root
t_run test_transient_read_by_go
t_end
