#!/bin/bash
# cstor as an unprivileged user (nobody, through runuser): outside a user
# namespace vfs works with vfs.ignore_chown_errors (as containers/storage
# honours it) and every refusal says what would work; inside one
# (`unshare -rm`), vfs, overlay and fuse-overlayfs work (each skipped with
# the reason when the kernel refuses).
. "$(dirname "$0")/../lib.sh"

TOP=${CSTOR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
U=nobody

need_user() {
	[ "$(id -u)" = 0 ] || skip "not root: cannot run as another user"
	command -v runuser >/dev/null || skip "no runuser"
	id "$U" >/dev/null 2>&1 || skip "no user $U"
	# The user must reach the binary and the scratch directory.
	runuser -u "$U" -- test -x "$CSTOR" || skip "$U cannot run $CSTOR (a directory above it is closed)"
}

# A store directory the user owns, and a busybox layout they can read.
user_store() {
	local s; s=$(t_store)
	chmod 755 "$T_TMP" "$s"
	chown "$U" "$s" "$s/g" "$s/r"
	echo "$s"
}

layout() {
	local dir=$T_TMP/img
	if [ ! -f "$dir/index.json" ]; then
		[ -x /bin/busybox ] || skip "busybox-static not installed"
		"$TOP/scripts/mkimage-busybox" "$dir" v1 >/dev/null
		chmod -R a+rX "$dir"
	fi
	echo "$dir"
}

# cstor as the user; HOME and XDG_RUNTIME_DIR of their own (nobody has none).
as_user() { runuser -u "$U" -- env HOME="$T_TMP/home" XDG_RUNTIME_DIR= "$@"; }

test_outside_user_namespace() {
	need_user
	local img; img=$(layout)
	local s; s=$(user_store)
	local G="-g $s/g -R $s/r -s vfs"
	local rc=0
	# Without ignore_chown_errors: refused, naming what works.
	as_user "$CSTOR" $G import -q "oci:$img:v1" -n bb >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "import as $U"
	local w
	for w in "chown to 0:0" "podman unshare cstor" "unshare -rm cstor" "ignore_chown_errors=true"; do
		grep -qF "$w" "$s/err" || die "no \"$w\" in: $(cat "$s/err")"
	done
	expect_eq "$(as_user "$CSTOR" $G images)" "" "nothing imported"
	# With it: imported, the files the user's, the layer directories
	# writable by their owner.
	local V="$G --storage-opt vfs.ignore_chown_errors=true"
	local id; id=$(as_user "$CSTOR" $V import -q "oci:$img:v1" -n bb) || die "import with ignore_chown_errors"
	local top; top=$(as_user "$CSTOR" $V image bb | sed -n 's/^Top Layer: //p')
	expect_eq "$(stat -c %U "$s/g/vfs/dir/$top/bin/busybox")" "$U" "owner of an imported file"
	local d
	for d in "$s/g/vfs/dir/"*; do
		[ "$(stat -c %U "$d")" = "$U" ] && [ -n "$(find "$d" -maxdepth 0 -perm -u+w)" ] ||
			die "layer directory $d: $(stat -c '%U %A' "$d")"
	done
	# Containers, mounts and the check work; the diff gives the image's
	# tarball back (it records the owners from the tarball).
	as_user "$CSTOR" $V create-container -n c1 bb >/dev/null || die "create-container"
	expect_eq "$(as_user "$CSTOR" $V with-mount c1 -- sh -c 'cat "$CSTOR_MOUNTPOINT/etc/motd"')" \
		"Hello from a cstor image." "with-mount as $U"
	as_user "$CSTOR" $V check || die "check with ignore_chown_errors"
	expect_eq "sha256:$(as_user "$CSTOR" $V diff "$(as_user "$CSTOR" $V layers --json | jq -r '.[] | select(.parent == null or .parent == "") | .id')" | gzip -dc | sha256sum | cut -d' ' -f1)" \
		"$(jq -r '.rootfs.diff_ids[0]' "$img/blobs/sha256/$id")" "diff of the base layer is its DiffID"
	as_user "$CSTOR" $V delete-container c1 >/dev/null
	# overlay: refused, naming what works.
	local o; o=$(user_store)
	rc=0
	as_user "$CSTOR" -g "$o/g" -R "$o/r" -s overlay status >/dev/null 2>"$o/err" || rc=$?
	expect_eq $rc 1 "overlay as $U"
	for w in "podman unshare cstor" "unshare -rm cstor" "fuse-overlayfs" "vfs.ignore_chown_errors=true"; do
		grep -qF "$w" "$o/err" || die "overlay: no \"$w\" in: $(cat "$o/err")"
	done
	t_unchecked "the stores belong to $U; checked above as $U"
}

# In a user namespace where the user is root: the driver imports, mounts
# and checks; outside it the files are the user's.
# Somebody else's store: the refusal says what was needed and whose the
# store is, for a command that only reads too.
test_someone_elses_store() {
	need_user
	local s; s=$(t_store)
	chmod 755 "$s" "$s/g" "$s/r"
	"$CSTOR" -g "$s/g" -R "$s/r" -s vfs create-layer >/dev/null
	local rc=0
	as_user "$CSTOR" -g "$s/g" -R "$s/r" -s vfs layers >"$s/out" 2>"$s/err" || rc=$?
	[ $rc -eq 1 ] || die "status $rc: $(cat "$s/err")"
	grep -q "needs write access" "$s/err" && grep -q "belongs to uid 0" "$s/err" &&
		grep -q "runs as uid $(id -u "$U")" "$s/err" || die "message: $(cat "$s/err")"
}

in_user_namespace() {
	local drv=$1
	need_user
	command -v unshare >/dev/null || t_skip "no unshare" || return
	as_user unshare -rm true 2>/dev/null || { echo "the kernel refuses $U a user namespace (unshare -rm)"; return 77; }
	local img; img=$(layout)
	local s; s=$(user_store)
	local G="-g $s/g -R $s/r -s ${drv%-*}"
	case $drv in
	overlay)
		as_user unshare -rm sh -c "mkdir -p $s/p/l $s/p/u $s/p/w $s/p/m && mount -t overlay overlay -o lowerdir=$s/p/l,upperdir=$s/p/u,workdir=$s/p/w $s/p/m" 2>/dev/null ||
			{ echo "the kernel refuses overlay mounts in a user namespace"; return 77; }
		;;
	fuse-overlayfs)
		command -v fuse-overlayfs >/dev/null || { echo "fuse-overlayfs not installed"; return 77; }
		as_user test -r /dev/fuse -a -w /dev/fuse ||
			{ echo "/dev/fuse is closed to $U ($(stat -c %A /dev/fuse))"; return 77; }
		G="$G --storage-opt overlay.mount_program=$(command -v fuse-overlayfs)"
		;;
	esac
	as_user unshare -rm "$CSTOR" $G import -q "oci:$img:v1" -n bb >/dev/null 2>"$s/err" ||
		die "$drv: import in a user namespace: $(cat "$s/err")"
	expect_eq "$(as_user unshare -rm "$CSTOR" $G with-mount bb -- sh -c 'cat "$CSTOR_MOUNTPOINT/etc/motd"; stat -c %u "$CSTOR_MOUNTPOINT/bin/busybox"')" \
		"Hello from a cstor image.
0" "$drv: with-mount in a user namespace"
	as_user unshare -rm "$CSTOR" $G check >"$s/check" 2>&1 || die "$drv: check: $(cat "$s/check")"
	expect_eq "$(stat -c %U "$(find "$s/g" -name busybox -path '*/bin/*' | head -n1)")" "$U" "$drv: owner outside"
	t_unchecked "the store belongs to $U's user namespace; checked above inside it"
}

test_user_namespace_vfs() { in_user_namespace vfs; }
test_user_namespace_overlay() { in_user_namespace overlay; }
test_user_namespace_fuse_overlayfs() { in_user_namespace fuse-overlayfs; }

t_run test_outside_user_namespace
t_run test_someone_elses_store
t_run test_user_namespace_vfs
t_run test_user_namespace_overlay
t_run test_user_namespace_fuse_overlayfs
t_end
