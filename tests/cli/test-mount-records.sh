#!/bin/bash
# Mount records cstor cannot take at their word (issue #11): a graph root
# reached through a symlink (the kernel lists mounts resolved), a record
# whose path is stale or points outside the store, and a foreign count at
# the int64 limit. The kernel's table and the driver's computed mount
# point are the truth; records are repaired, never followed.
. "$(dirname "$0")/../lib.sh"

INT64_MAX=9223372036854775807

# Mount points in /proc/self/mountinfo equal to $1 / below $1/.
mounts_at() { awk -v p="$1" '$5 == p {n++} END {print n + 0}' /proc/self/mountinfo; }
mounts_under() { awk -v d="$1/" 'index($5, d) == 1 {n++} END {print n + 0}' /proc/self/mountinfo; }

# The count of layer $2 in mountpoints.json $1 (empty: no record); not by
# jq, which reads numbers as doubles (2^63-1 would come out rounded).
json_count() {
	tr '{' '\n' <"$1" | grep -F "\"id\":\"$2\"" | sed -n 's/.*"count":\(-\{0,1\}[0-9]*\).*/\1/p'
}
json_path() { jq -r --arg id "$2" '.[]? | select(.id == $id) | .path' "$1"; }

need_root() { [ "$(id -u)" = 0 ] || skip "needs root (real mounts)"; }

# A store whose graph root is a symlink to a real directory, as with
# /var/lib/containers -> /mnt/big/containers.
symlinked_store() {
	local s; s=$(t_store)
	rmdir "$s/g"
	mkdir "$s/real"
	ln -s real "$s/g"
	echo "$s"
}

test_symlinked_graph_root_overlay() {
	need_root
	t_need_overlay
	command -v jq >/dev/null || skip "jq is not installed"
	local s; s=$(symlinked_store)
	local real; real=$(realpath "$s/real")
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	$C status >/dev/null
	expect_eq "$(mounts_at "$real/overlay")" 1 "home binds after status"
	local id; id=$($C create-layer | head -1)
	expect_eq "$(mounts_at "$real/overlay")" 1 "home binds after create-layer"
	local mp; mp=$($C mount "$id")
	# Recorded as configured (through the symlink), as containers/storage
	# records it, so both read the same path.
	expect_eq "$mp" "$s/g/overlay/$id/merged" "mount point"
	expect_eq "$(json_path "$s/r/overlay-layers/mountpoints.json" "$id")" "$mp" "recorded path"
	expect_eq "$(mounts_at "$real/overlay")" 1 "home binds after mount"
	expect_eq "$(mounts_at "$real/overlay/$id/merged")" 1 "overlay mounts of the layer"
	local out; out=$($C mounted -v "$id")
	echo "$out"
	echo "$out" | grep -qx "$id mounted" || die "mounted does not see the mount"
	echo "$out" | grep -qx "	mountpoint: $mp" || die "mounted does not show the mount point"
	$C layers >/dev/null
	expect_eq "$(mounts_at "$real/overlay")" 1 "home binds after layers"
	# A second mount is the same mount, counted.
	expect_eq "$($C mount "$id")" "$mp" "second mount"
	expect_eq "$(mounts_at "$real/overlay/$id/merged")" 1 "overlay mounts after a second mount"
	expect_eq "$(json_count "$s/r/overlay-layers/mountpoints.json" "$id")" 2 "count"
	$C unmount "$id" >/dev/null
	$C unmount "$id" >/dev/null
	expect_eq "$(mounts_under "$real/overlay")" 0 "mounts left under the home after unmount"
	expect_eq "$($C mounted "$id")" "" "mounted after unmount"
	$C shutdown
	expect_eq "$(mounts_at "$real/overlay")" 0 "home binds after shutdown"
	expect_eq "$(mounts_under "$real")" 0 "mounts left under the store"
}

# A record (as a Go process, or anyone who can write the run root, leaves
# it) whose path is not the layer's directory: cstor hands out the
# directory and rewrites the record.
test_vfs_stale_record_path() {
	command -v jq >/dev/null || skip "jq is not installed"
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local id; id=$($C create-layer | head -1)
	local dir="$s/g/vfs/dir/$id" mj="$s/r/vfs-layers/mountpoints.json"
	# A foreign record, no cstor state for it.
	printf '[{"id":"%s","path":"%s","count":1}]' "$id" "$s/gone/merged" >"$mj"
	local out; out=$($C mounted -v "$id")
	echo "$out"
	echo "$out" | grep -qx "	mountpoint: $dir" || die "mounted shows the record's path"
	expect_eq "$($C mount "$id")" "$dir" "mount point with a stale foreign record"
	expect_eq "$(json_path "$mj" "$id")" "$dir" "record repaired"
	expect_eq "$(json_count "$mj" "$id")" 2 "count: the foreign hold and ours"
	# Once cstor has state for the layer, a record changed behind its back
	# is repaired too.
	jq -c --arg p "$s/elsewhere" 'map(.path = $p)' "$mj" >"$mj.new" && mv "$mj.new" "$mj"
	expect_eq "$($C mount "$id")" "$dir" "mount point after the record was changed"
	expect_eq "$(json_path "$mj" "$id")" "$dir" "record repaired again"
	[ -d "$dir" ] || die "$dir does not exist"
	$C unmount --force "$id" >/dev/null
	expect_eq "$(jq -c . "$mj")" "[]" "records after unmount --force"
}

# A record pointing at a mount outside the store must be neither reported
# nor unmounted: only the layer's own mount point is acted on.
test_record_outside_store_not_followed() {
	need_root
	t_need_overlay
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	local id; id=$($C create-layer | head -1)
	# An overlay mount that is no business of the store's.
	local o="$T_TMP/outside.$$"
	mkdir -p "$o/lower" "$o/upper" "$o/work" "$o/merged"
	echo keep >"$o/lower/file"
	mount -t overlay overlay -o "lowerdir=$o/lower,upperdir=$o/upper,workdir=$o/work" "$o/merged"
	local mj="$s/r/overlay-layers/mountpoints.json"
	mkdir -p "$s/r/overlay-layers"
	printf '[{"id":"%s","path":"%s","count":3}]' "$id" "$o/merged" >"$mj"
	local out
	out=$($C mounted "$id")
	echo "$out"
	echo "$out" | grep -q "$o" && die "mounted reports a path outside the store"
	out=$($C mount "$id")
	expect_eq "$out" "$s/g/overlay/$id/merged" "mount point"
	$C unmount --force "$id" >/dev/null
	$C shutdown --force >/dev/null 2>&1 || true
	expect_eq "$(mounts_at "$o/merged")" 1 "the outside mount is still there"
	[ -f "$o/merged/file" ] || die "the outside mount's content is gone"
	umount "$o/merged"
	rm -rf "$o"
}

# A record whose ID is a path: shutdown reconciles every recorded layer,
# and must not turn "../.." into a holder directory it cleans and removes.
test_record_id_outside_store_not_followed() {
	t_unchecked "hostile mount records"
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local id; id=$($C create-layer | head -1)
	mkdir -p "$s/victim/keep"
	echo important >"$s/victim/keep/file"
	touch "$s/victim/.tmp-x" "$s/victim/p-x"
	local mj="$s/r/vfs-layers/mountpoints.json"
	printf '[{"id":"../../../victim","path":"%s","count":1},{"id":"%s","path":"%s","count":1}]' \
		"$s/victim" "$id" "$s/g/vfs/dir/$id" >"$mj"
	$C layers >/dev/null
	$C mounted "$id" | grep -qx "$id mounted" || die "the valid record was not read"
	$C shutdown --force
	$C shutdown
	[ -f "$s/victim/keep/file" ] || die "shutdown removed a directory outside the store"
	[ -e "$s/victim/.tmp-x" ] && [ -e "$s/victim/p-x" ] || die "shutdown cleaned a directory outside the store"
}

# A layer's merged/ replaced by a symlink to a mount elsewhere: neither
# reported as the layer's mount, nor unmounted, nor mounted over.
test_symlinked_mount_point_not_followed() {
	need_root
	t_need_overlay
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	local id; id=$($C create-layer | head -1)
	local o="$T_TMP/outside2.$$"
	mkdir -p "$o/lower" "$o/upper" "$o/work" "$o/merged"
	echo keep >"$o/lower/file"
	mount -t overlay overlay -o "lowerdir=$o/lower,upperdir=$o/upper,workdir=$o/work" "$o/merged"
	local m="$s/g/overlay/$id/merged"
	rmdir "$m" 2>/dev/null || true
	ln -s "$o/merged" "$m"
	mkdir -p "$s/r/overlay-layers"
	printf '[{"id":"%s","path":"%s","count":1}]' "$id" "$m" >"$s/r/overlay-layers/mountpoints.json"
	expect_eq "$($C mounted "$id")" "" "mounted through a planted symlink"
	$C unmount --force "$id" >/dev/null
	expect_eq "$(mounts_at "$o/merged")" 1 "outside mount after unmount --force"
	if $C mount "$id" 2>"$s/err"; then die "mount followed the symlink"; fi
	cat "$s/err"
	grep -q "not a directory" "$s/err" || die "unexpected error"
	expect_eq "$(mounts_at "$o/merged")" 1 "outside mount after mount"
	$C shutdown --force >/dev/null 2>&1 || true
	expect_eq "$(mounts_at "$o/merged")" 1 "outside mount after shutdown"
	[ -f "$o/merged/file" ] || die "the outside mount's content is gone"
	umount "$o/merged"
	rm -rf "$o"
}

# A foreign count at the int64 limit: adding our hold must not wrap (the
# file would end as [] and Go readers would see the layer unmounted).
test_count_at_int64_max() {
	command -v jq >/dev/null || skip "jq is not installed"
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local id; id=$($C create-layer | head -1)
	local dir="$s/g/vfs/dir/$id" mj="$s/r/vfs-layers/mountpoints.json"
	printf '[{"id":"%s","path":"%s","count":%s}]' "$id" "$dir" "$INT64_MAX" >"$mj"
	expect_eq "$($C mount "$id")" "$dir" "mount point"
	cat "$mj"; echo
	local c; c=$(json_count "$mj" "$id")
	[ -n "$c" ] && [ "$c" -gt 0 ] || die "count in mountpoints.json is '$c', not positive"
	expect_eq "$c" "$INT64_MAX" "count saturates"
	$C mounted "$id" | grep -qx "$id mounted" || die "cstor does not report the layer mounted"
	# A second hold saturates too.
	$C mount "$id" >/dev/null
	c=$(json_count "$mj" "$id")
	expect_eq "$c" "$INT64_MAX" "count after a second mount"
	# Dropping our holds leaves the foreign ones: still mounted, positive.
	$C unmount "$id" >/dev/null
	$C unmount "$id" >/dev/null
	c=$(json_count "$mj" "$id")
	[ -n "$c" ] && [ "$c" -gt 0 ] || die "count after our unmounts is '$c'"
	$C mounted "$id" | grep -qx "$id mounted" || die "foreign holds lost after unmount"
	# --force drops every hold.
	$C unmount --force "$id" >/dev/null
	expect_eq "$(jq -c . "$mj")" "[]" "records after unmount --force"
	expect_eq "$($C mounted "$id")" "" "mounted after unmount --force"
}

# A count that went negative (nobody writes one, but anyone can) holds
# nothing and does not poison the arithmetic.
test_negative_count() {
	command -v jq >/dev/null || skip "jq is not installed"
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local id; id=$($C create-layer | head -1)
	local dir="$s/g/vfs/dir/$id" mj="$s/r/vfs-layers/mountpoints.json"
	printf '[{"id":"%s","path":"%s","count":-9223372036854775808}]' "$id" "$dir" >"$mj"
	expect_eq "$($C mounted "$id")" "" "mounted with a negative count"
	expect_eq "$($C mount "$id")" "$dir" "mount point"
	expect_eq "$(json_count "$mj" "$id")" 1 "count: our hold only"
	$C unmount "$id" >/dev/null
	expect_eq "$(jq -c . "$mj")" "[]" "records after unmount"
}

t_begin
t_run test_symlinked_graph_root_overlay
t_run test_vfs_stale_record_path
t_run test_record_outside_store_not_followed
t_run test_symlinked_mount_point_not_followed
t_run test_record_id_outside_store_not_followed
t_run test_count_at_int64_max
t_run test_negative_count
t_end
