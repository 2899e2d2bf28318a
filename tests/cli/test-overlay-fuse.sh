#!/bin/bash
# Overlay through a mount program (overlay.mount_program=fuse-overlayfs), as
# containers/storage runs one: a chain of applied layers mounts with every
# layer's files and whiteouts (kept as AUFS ".wh." files, as Go keeps them),
# writes land in the upper, changes and diff see them (naive, through
# mounts), unmount leaves nothing mounted, counts stay right; read-only
# mounts; status; and the Go CLI with the same option on the same store.
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"

OPT="overlay.mount_program=$T_FUSE_OVERLAYFS"

need_fuse() { t_need_fuse_overlayfs; }

# FUSE mounts below a directory, per mountinfo.
fuse_mounts_under() {
	awk -v d="$1/" 'index($5, d) == 1 { for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^fuse/) n++ } END { print n + 0 }' \
		/proc/self/mountinfo
}
fstype_of() { awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo; }
count_of() { # count_of RUNROOT ID
	jq -r --arg id "$2" '[.[] | select(.id == $id) | .count][0] // 0' "$1/overlay-layers/mountpoints.json"
}

# Three layers: base (a, d/x, keep), middle (b, deletes a, makes d opaque
# with d/y), top created empty. Prints "base middle top".
make_chain() { # make_chain STORE-DIR CLI-ARGS...
	local s=$1; shift
	mkdir -p "$s/t1/d" "$s/t2/d"
	echo one >"$s/t1/a"
	echo x >"$s/t1/d/x"
	echo keep >"$s/t1/keep"
	echo two >"$s/t2/b"
	: >"$s/t2/.wh.a"
	: >"$s/t2/d/.wh..wh..opq"
	echo y >"$s/t2/d/y"
	tar -C "$s/t1" -cf "$s/l1.tar" .
	tar -C "$s/t2" -cf "$s/l2.tar" .
	local l1 l2 l3
	l1=$("$@" create-layer | head -1)
	"$@" applydiff -f "$s/l1.tar" "$l1"
	l2=$("$@" create-layer "$l1" | head -1)
	"$@" applydiff -f "$s/l2.tar" "$l2"
	l3=$("$@" create-layer "$l2" | head -1)
	echo "$l1 $l2 $l3"
}

test_status() {
	need_fuse
	local s; s=$(t_store)
	local out
	out=$("$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT" status)
	echo "$out" | grep -qx "Native Overlay Diff: false" || die "status: $out"
	echo "$out" | grep -qx "Using metacopy: false" || die "status: $out"
	echo "$out" | grep -qx "Supports d_type: true" || die "status: $out"
	expect_eq "$(cat "$s/g/overlay/.has-mount-program")" true ".has-mount-program"
	if have_go_cs; then
		local go
		go=$("$GO_CS" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT" status 2>&1)
		expect_eq "$(echo "$out" | grep -v '^Driver Options')" \
			"$(echo "$go" | grep -v '^Driver Options')" "status as Go prints it"
	fi
	# A program that is not there is refused up front, as Go refuses it.
	local rc=0
	"$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt overlay.mount_program=/nonexistent \
		status >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "missing mount program"
	grep -q "can't stat program" "$s/err" || die "message: $(cat "$s/err")"
	# A home marked as using a mount program keeps using fuse-overlayfs
	# without the option (Go finds it in PATH then).
	out=$("$CSTOR" -g "$s/g" -R "$s/r" -s overlay status)
	echo "$out" | grep -qx "Native Overlay Diff: false" || die "marked home: $out"
}

test_chain_mount_write_diff() {
	need_fuse
	local s; s=$(t_store)
	local C=("$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT")
	local ids l1 l2 l3
	ids=$(make_chain "$s" "${C[@]}")
	read -r l1 l2 l3 <<<"$ids"
	# Whiteouts stay AUFS files in diff/, as Go's apply leaves them with a
	# mount program.
	[ -f "$s/g/overlay/$l2/diff/.wh.a" ] || die "no .wh.a in the middle layer's diff"
	[ -f "$s/g/overlay/$l2/diff/d/.wh..wh..opq" ] || die "no opaque marker file"

	local mp; mp=$("${C[@]}" mount "$l3")
	expect_eq "$mp" "$s/g/overlay/$l3/merged" "mount point"
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "fstype"
	expect_eq "$(cd "$mp" && find . | sort | tr '\n' ' ')" ". ./b ./d ./d/y ./keep " "merged tree"
	expect_eq "$(cat "$mp/b") $(cat "$mp/keep") $(cat "$mp/d/y")" "two keep y" "contents"
	expect_eq "$(count_of "$s/r" "$l3")" 1 "count after mount"
	"${C[@]}" mounted "$l3" | grep -q "mounted" || die "mounted"

	echo new >"$mp/new"
	rm "$mp/keep"
	[ -f "$s/g/overlay/$l3/diff/new" ] || die "write did not reach the upper"
	expect_eq "$("${C[@]}" changes "$l3" | sort | tr '\n' ' ')" 'Add "/new" Delete "/keep" ' "changes"
	expect_eq "$("${C[@]}" diff -u "$l3" | tar -tf - | sort | tr '\n' ' ')" ".wh.keep new " "diff"
	expect_eq "$("${C[@]}" diffsize "$l3")" 4 "diffsize"
	# The middle layer against its parent, through read-only mounts.
	expect_eq "$("${C[@]}" changes "$l2" | sort | tr '\n' ' ')" \
		'Add "/b" Add "/d/y" Delete "/a" Delete "/d/x" Modify "/d" ' "changes of the middle layer"
	expect_eq "$(count_of "$s/r" "$l3")" 1 "count after changes and diff"
	expect_eq "$(fuse_mounts_under "$s")" 1 "only the top is mounted"

	# A second mount shares the first; unmounts count down.
	expect_eq "$("${C[@]}" mount "$l3")" "$mp" "second mount"
	expect_eq "$(count_of "$s/r" "$l3")" 2 "count 2"
	"${C[@]}" unmount "$l3" >/dev/null
	expect_eq "$(count_of "$s/r" "$l3")" 1 "count 1"
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "still mounted"
	"${C[@]}" unmount "$l3" >/dev/null
	expect_eq "$(count_of "$s/r" "$l3")" 0 "count 0"
	expect_eq "$(fuse_mounts_under "$s")" 0 "nothing mounted"
	[ -f "$s/g/overlay/$l3/diff/new" ] || die "the written file is kept"

	# A vanished FUSE mount is noticed (the kernel is the truth) and made
	# again for the holder that remains.
	"${C[@]}" mount "$l3" >/dev/null
	umount -l "$mp"
	"${C[@]}" mounted "$l3" >/dev/null
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "mount made again"
	expect_eq "$(count_of "$s/r" "$l3")" 1 "count after the remount"
	"${C[@]}" unmount "$l3" >/dev/null
	expect_eq "$(fuse_mounts_under "$s")" 0 "nothing mounted at the end"
}

test_read_only_mount() {
	need_fuse
	local s; s=$(t_store)
	local C=("$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT")
	local ids l1 l2 l3
	ids=$(make_chain "$s" "${C[@]}")
	read -r l1 l2 l3 <<<"$ids"
	local mp; mp=$("${C[@]}" mount -r "$l2")
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "fstype"
	expect_eq "$(cd "$mp" && find . | sort | tr '\n' ' ')" ". ./b ./d ./d/y ./keep " "read-only tree"
	if echo x 2>/dev/null >"$mp/x"; then die "a read-only mount took a write"; fi
	[ ! -e "$s/g/overlay/$l2/diff/x" ] || die "write reached diff/"
	"${C[@]}" unmount "$l2" >/dev/null
	expect_eq "$(fuse_mounts_under "$s")" 0 "nothing mounted"
}

test_long_chain() {
	need_fuse
	local s; s=$(t_store)
	local C=("$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT")
	# 150 lowers of absolute paths are longer than a page: the program
	# gets them relative to the home, where it runs.
	local p="" id i
	for i in $(seq 1 150); do
		id=$("${C[@]}" create-layer $p | head -1)
		p=$id
	done
	local mp; mp=$("${C[@]}" mount "$id")
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "fstype"
	echo deep >"$mp/f"
	"${C[@]}" unmount "$id" >/dev/null
	expect_eq "$(cat "$s/g/overlay/$id/diff/f")" deep "written through 150 lowers"
	expect_eq "$(fuse_mounts_under "$s")" 0 "nothing mounted"
}

test_go_interop() {
	need_fuse
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	local C=("$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT")
	local G=("$GO_CS" -g "$s/g" -R "$s/r" -s overlay --storage-opt "$OPT")
	local ids l1 l2 l3
	ids=$(make_chain "$s" "${C[@]}")
	read -r l1 l2 l3 <<<"$ids"
	# cstor holds a mount; Go mounts and unmounts the same layer.
	local mp; mp=$("${C[@]}" mount "$l3")
	expect_eq "$("${G[@]}" mount "$l3")" "$mp" "Go shares the mount"
	expect_eq "$(count_of "$s/r" "$l3")" 2 "count with Go's hold"
	"${G[@]}" unmount "$l3" >/dev/null
	expect_eq "$(count_of "$s/r" "$l3")" 1 "count after Go's unmount"
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "cstor's mount stays"
	# Go mounts; cstor's mount and unmount keep Go's hold.
	"${C[@]}" unmount "$l3" >/dev/null
	expect_eq "$("${G[@]}" mount "$l3")" "$mp" "Go mounts"
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "Go's mount is FUSE"
	"${C[@]}" mount "$l3" >/dev/null
	expect_eq "$(count_of "$s/r" "$l3")" 2 "count with both"
	"${C[@]}" unmount "$l3" >/dev/null
	expect_eq "$(count_of "$s/r" "$l3")" 1 "Go's hold remains"
	expect_eq "$(fstype_of "$mp")" fuse.fuse-overlayfs "Go's mount stays"
	"${G[@]}" unmount "$l3" >/dev/null
	expect_eq "$(count_of "$s/r" "$l3")" 0 "count 0"
	expect_eq "$(fuse_mounts_under "$s")" 0 "nothing mounted"

	# Layers Go made and applied (Go keeps AUFS whiteouts too), mounted
	# by cstor; a child of them written through cstor's mount has the same
	# changes and diff for both.
	local g1 g2 g3
	g1=$("${G[@]}" create-layer | head -1)
	"${G[@]}" applydiff -f "$s/l1.tar" "$g1"
	g2=$("${G[@]}" create-layer "$g1" | head -1)
	"${G[@]}" applydiff -f "$s/l2.tar" "$g2"
	[ -f "$s/g/overlay/$g2/diff/.wh.a" ] || die "Go's layer has no .wh.a"
	mp=$("${C[@]}" mount -r "$g2")
	expect_eq "$(cd "$mp" && find . | sort | tr '\n' ' ')" ". ./b ./d ./d/y ./keep " "Go's layer through cstor"
	"${C[@]}" unmount "$g2" >/dev/null
	g3=$("${G[@]}" create-layer "$g2" | head -1)
	mp=$("${C[@]}" mount "$g3")
	echo from-cstor >"$mp/c"
	rm "$mp/keep" "$mp/d/y"
	"${C[@]}" unmount "$g3" >/dev/null
	expect_eq "$("${C[@]}" changes "$g3" | sort)" "$("${G[@]}" changes "$g3" | sort)" "changes as Go sees them"
	expect_eq "$("${C[@]}" changes "$g3" | sort | tr '\n' ' ')" \
		'Add "/c" Delete "/d/y" Delete "/keep" Modify "/d" ' "changes"
	expect_eq "$("${C[@]}" diff -u "$g3" | tar -tf - | sort)" "$("${G[@]}" diff -u "$g3" | tar -tf - | sort)" "diff as Go makes it"
	expect_eq "$("${C[@]}" diffsize "$g3")" "$("${G[@]}" diffsize "$g3")" "diffsize"
	expect_eq "$(fuse_mounts_under "$s")" 0 "nothing mounted at the end"
}

t_begin
t_run test_status
t_run test_chain_mount_write_diff
t_run test_read_only_mount
t_run test_long_chain
t_run test_go_interop
t_end
