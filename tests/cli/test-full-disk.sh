#!/bin/bash
# A full disk never keeps a user from freeing space: with no inode or no
# block left on the store's filesystem, delete-layer still rewrites
# layers.json (into the spare file kept beside it) and frees the layer.
. "$(dirname "$0")/../lib.sh"

# A small tmpfs holding the graph root; prints its path.
small_fs() { # small_fs OPTIONS
	local d; d=$(mktemp -d "$T_TMP/fs.XXXXXX")
	mount -t tmpfs -o "$1" tmpfs "$d" || return 1
	echo "$d"
}

# Fill what is left of the filesystem at $1: inodes or blocks.
fill_inodes() {
	local i=0
	while touch "$1/fill.$i" 2>/dev/null; do i=$((i + 1)); done
	! touch "$1/one-more" 2>/dev/null || die "the filesystem still has inodes"
}
fill_blocks() {
	dd if=/dev/zero of="$1/fill" bs=64k 2>/dev/null || true
	! dd if=/dev/zero of="$1/one-more" bs=4k count=1 2>/dev/null || die "the filesystem still has blocks"
}

full_disk_delete() { # full_disk_delete TMPFS-OPTIONS FILL-FUNCTION
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
	local fs; fs=$(small_fs "$1") || skip "cannot mount a tmpfs"
	local s; s=$(t_store)
	local C="$CSTOR -g $fs/g -R $s/r -s vfs"
	mkdir -p "$s/src/etc" && echo hello >"$s/src/etc/hello"
	tar -C "$s/src" -cf "$s/l.tar" .
	local a b
	a=$($C create-layer | head -1)
	$C applydiff -f "$s/l.tar" "$a"
	b=$($C create-layer | head -1)
	$C applydiff -f "$s/l.tar" "$b"
	"$2" "$fs"
	local rc=0
	$C delete-layer "$a" 2>"$s/err" || rc=$?
	expect_eq "$rc" 0 "delete-layer on a full disk: $(cat "$s/err")"
	expect_eq "$($C layers)" "$b" "the other layer is kept"
	[ ! -e "$fs/g/vfs/$a" ] || die "the layer's files are still there"
	# The records are whole, for us and for Go.
	if command -v "$GO_CS" >/dev/null; then
		expect_eq "$("$GO_CS" -g "$fs/g" --run "$s/r" -s vfs layers)" "$b" "Go reads the records"
	fi
	# And the next delete works too, now that the first freed room.
	$C delete-layer "$b"
	expect_eq "$($C layers)" "" "no layers left"
	umount "$fs"
}

test_delete_with_no_inode_left() { full_disk_delete size=16m,nr_inodes=200 fill_inodes; }
test_delete_with_no_block_left() { full_disk_delete size=2m fill_blocks; }

t_begin
t_run test_delete_with_no_inode_left
t_run test_delete_with_no_block_left
t_end
