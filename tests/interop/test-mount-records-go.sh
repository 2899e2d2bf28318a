#!/bin/bash
# cstor and containers-storage on stores whose mount records are not what
# a plain setup gives (issue #11): a graph root that is a symlink, and a
# count at the int64 limit. Both programs must see each other's mounts,
# and nothing may leak.
. "$(dirname "$0")/../lib.sh"

INT64_MAX=9223372036854775807

mounts_at() { awk -v p="$1" '$5 == p {n++} END {print n + 0}' /proc/self/mountinfo; }
mounts_under() { awk -v d="$1/" 'index($5, d) == 1 {n++} END {print n + 0}' /proc/self/mountinfo; }
# Not by jq: it reads numbers as doubles.
json_count() {
	tr '{' '\n' <"$1" | grep -F "\"id\":\"$2\"" | sed -n 's/.*"count":\(-\{0,1\}[0-9]*\).*/\1/p'
}

test_symlinked_graph_root_with_go() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	[ "$(id -u)" = 0 ] || skip "needs root (real mounts)"
	t_need_overlay
	local s; s=$(t_store)
	rmdir "$s/g"
	mkdir "$s/real"
	ln -s real "$s/g"
	local real; real=$(realpath "$s/real")
	local C="$CSTOR -g $s/g -R $s/r -s overlay" G="$GO_CS -g $s/g -R $s/r -s overlay"
	local a b
	a=$($C create-layer | head -1)
	b=$($G create-layer | head -1)
	local mpa mpb
	mpa=$($C mount "$a")
	mpb=$($G mount "$b")
	echo "cstor: $mpa"
	echo "go:    $mpb"
	expect_eq "$mpa" "$s/g/overlay/$a/merged" "cstor's mount point"
	expect_eq "$mpb" "$s/g/overlay/$b/merged" "Go's mount point"
	$C status >/dev/null
	$G status >/dev/null
	$C layers >/dev/null
	expect_eq "$(mounts_at "$real/overlay")" 1 "binds of the overlay home"
	expect_eq "$(mounts_at "$real/overlay/$a/merged")" 1 "mounts of cstor's layer"
	expect_eq "$(mounts_at "$real/overlay/$b/merged")" 1 "mounts of Go's layer"
	# Each sees the other's mount, at the same path.
	$G mounted "$a" | grep -qx "$a mounted" || die "Go does not see cstor's mount"
	local out; out=$($C mounted -v "$b")
	echo "$out"
	echo "$out" | grep -qx "$b mounted" || die "cstor does not see Go's mount"
	echo "$out" | grep -qx "	mountpoint: $mpb" || die "cstor shows another mount point for Go's mount"
	# The mounts are usable through either path.
	echo x >"$mpa/from-cstor"
	[ -f "$real/overlay/$a/diff/from-cstor" ] || die "cstor's mount is not the layer's"
	# Each releases its own hold (a Go unmount cannot release cstor's
	# persistent hold: cstor mounts it again, docs/mounts.md).
	$C unmount "$a" >/dev/null
	$G unmount "$b" >/dev/null
	expect_eq "$(mounts_under "$real/overlay")" 0 "layer mounts left"
	expect_eq "$($C mounted "$a")$($C mounted "$b")" "" "cstor: mounted after unmount"
	expect_eq "$($G mounted "$a")$($G mounted "$b")" "" "Go: mounted after unmount"
	$C shutdown
	$G shutdown >/dev/null 2>&1 || true
	expect_eq "$(mounts_under "$real")" 0 "mounts left under the store"
	expect_eq "$(mounts_at "$real/overlay")" 0 "home binds left"
}

# A foreign count of 2^63-1 and a cstor hold: Go must still read the layer
# as mounted (the count may not wrap to an empty file).
test_count_at_int64_max_with_go() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs" G="$GO_CS -g $s/g -R $s/r -s vfs"
	local id; id=$($G create-layer | head -1)
	local dir="$s/g/vfs/dir/$id" mj="$s/r/vfs-layers/mountpoints.json"
	printf '[{"id":"%s","path":"%s","count":%s}]' "$id" "$dir" "$INT64_MAX" >"$mj"
	expect_eq "$($C mount "$id")" "$dir" "cstor's mount point"
	cat "$mj"; echo
	expect_eq "$(json_count "$mj" "$id")" "$INT64_MAX" "count"
	$G mounted "$id" | grep -qx "$id mounted" || die "Go reads the layer as not mounted"
	$C unmount "$id" >/dev/null
	$G mounted "$id" | grep -qx "$id mounted" || die "Go: the foreign holds were lost"
	$C unmount --force "$id" >/dev/null
	expect_eq "$($G mounted "$id")" "" "Go: mounted after unmount --force"
}

t_begin
t_run test_symlinked_graph_root_with_go
t_run test_count_at_int64_max_with_go
t_end
