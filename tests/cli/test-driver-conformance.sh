#!/bin/bash
# Driver conformance: the same checks, through the real cstor CLI and real
# mounts, against every driver configuration of the table below. A new
# driver (or a new way to run one) is one more line of the table; a check
# that differs between configurations is a column of it, never a test of a
# driver's name.
#
# Checks: a layer created and applied from a tarball diffs back byte for
# byte (a base layer and a child with whiteouts); changes; read-write
# mounts show every layer's files and keep what is written; read-only
# mounts; applydiff-using-staging-dir where the driver has staging; delete
# leaves nothing of the layer; a 50-deep chain mounts with the files of
# every level. Every check has its own scratch store, unmounted and removed
# when the check ends, failed or not.
. "$(dirname "$0")/../lib.sh"

# name          driver   storage options ("-": none)               needs                  ro mount  staging
CONFIGS=(
	"vfs          vfs      -                                          -                      ignored   no"
	"overlay      overlay  -                                          t_need_overlay         refused   yes"
	"overlay_fuse overlay  overlay.mount_program=\$T_FUSE_OVERLAYFS   t_need_fuse_overlayfs  refused   yes"
)
# ro mount: "refused" (writes fail) or "ignored" (as Go's vfs, which takes
# "ro" and hands out the layer's directory anyway).
# staging: whether applydiff-using-staging-dir works or is refused.

CHECKS=(apply_diff changes mount_rw mount_ro staged_apply delete chain_50)

# ---- per-check setup ----------------------------------------------------

# use_config LINE: skip unless the configuration can run here, make a
# scratch store cleaned up when the check's subshell exits.
use_config() {
	local opts
	read -r CONF DRV opts NEEDS RO STAGING <<<"$1"
	[ "$NEEDS" = - ] || "$NEEDS"
	OPTARGS=()
	if [ "$opts" != - ]; then
		local o
		for o in $(eval echo "$opts"); do OPTARGS+=(--storage-opt "$o"); done
	fi
	S=$(t_store)
	trap 't_cleanup_dir "$S"' EXIT
}

cs() { "$CSTOR" -g "$S/g" -R "$S/r" -s "$DRV" "${OPTARGS[@]}" "$@"; }

# Mount points below the store, but the driver's home (overlay keeps it a
# private bind mount of itself for the store's life).
layer_mounts() {
	awk -v d="$S/" -v home="$S/g/$DRV" 'index($5, d) == 1 && $5 != home { n++ } END { print n + 0 }' \
		/proc/self/mountinfo
}

listing() { (cd "$1" && find . -mindepth 1 | sort | tr '\n' ' '); }

# Two layers from tarballs: base (a, d/x, keep, a symlink, a hard link)
# and child (adds b, deletes a, makes d opaque with d/y). Sets L1 L2.
make_pair() {
	mkdir -p "$S/t1/d" "$S/t2/d"
	echo one >"$S/t1/a"
	echo x >"$S/t1/d/x"
	echo keep >"$S/t1/keep"
	ln -s keep "$S/t1/link"
	ln "$S/t1/keep" "$S/t1/hard"
	echo two >"$S/t2/b"
	: >"$S/t2/.wh.a"
	: >"$S/t2/d/.wh..wh..opq"
	echo y >"$S/t2/d/y"
	tar -C "$S/t1" -cf "$S/l1.tar" .
	tar -C "$S/t2" -cf "$S/l2.tar" .
	L1=$(cs create-layer | head -1)
	cs applydiff -f "$S/l1.tar" "$L1"
	L2=$(cs create-layer "$L1" | head -1)
	cs applydiff -f "$S/l2.tar" "$L2"
}

# ---- the checks -----------------------------------------------------------

check_apply_diff() {
	make_pair
	expect_eq "$(cs diff -u "$L1" | sha256sum)" "$(sha256sum <"$S/l1.tar")" "diff of the base layer"
	expect_eq "$(cs diff -u "$L2" | sha256sum)" "$(sha256sum <"$S/l2.tar")" "diff of the child layer"
	# Compressed: the same tar inside.
	expect_eq "$(cs diff -c "$L2" | gzip -dc | sha256sum)" "$(sha256sum <"$S/l2.tar")" "gzip diff"
	# a 4, d/x 2, keep 5 (its hard link once), link 4 (its target).
	expect_eq "$(cs diffsize "$L1")" 15 "diffsize of the base"
}

check_changes() {
	make_pair
	expect_eq "$(cs changes "$L1" | sort | tr '\n' ' ')" \
		'Add "/a" Add "/d" Add "/d/x" Add "/hard" Add "/keep" Add "/link" ' "changes of the base"
	# The opaque directory: a comparison of trees sees d modified and d/x
	# gone; a native diff (the driver says so in status) sees d replaced,
	# as Go lists them both.
	local opaque='Delete "/d/x" Modify "/d" '
	cs status | grep -qx 'Native Overlay Diff: true' && opaque='Delete "/d" '
	expect_eq "$(cs changes "$L2" | sort | tr '\n' ' ')" \
		"Add \"/b\" Add \"/d/y\" Delete \"/a\" $opaque" "changes of the child"
	# Against a layer that is not the parent: the base against itself.
	expect_eq "$(cs changes "$L1" "$L1")" "" "changes of a layer against itself"
}

check_mount_rw() {
	make_pair
	local l3; l3=$(cs create-layer "$L2" | head -1)
	local mp; mp=$(cs mount "$l3")
	[ -d "$mp" ] || die "mount point $mp"
	expect_eq "$(listing "$mp")" "./b ./d ./d/y ./hard ./keep ./link " "files of every layer"
	expect_eq "$(cat "$mp/b") $(cat "$mp/keep") $(cat "$mp/d/y") $(readlink "$mp/link")" \
		"two keep y keep" "contents"
	echo new >"$mp/new"
	rm "$mp/b"
	cs mounted "$l3" | grep -q "$l3 mounted" || die "mounted: $(cs mounted "$l3")"
	cs unmount "$l3" >/dev/null
	expect_eq "$(layer_mounts)" 0 "layer mounts after unmount"
	expect_eq "$(cs changes "$l3" | sort | tr '\n' ' ')" 'Add "/new" Delete "/b" ' "changes after writes"
	# The writes stay in the layer, not in its parent.
	mp=$(cs mount "$l3")
	expect_eq "$(cat "$mp/new")" new "written file after a remount"
	[ ! -e "$mp/b" ] || die "deleted file is back"
	cs unmount "$l3" >/dev/null
	local mp2; mp2=$(cs mount "$L2")
	[ -e "$mp2/b" ] && [ ! -e "$mp2/new" ] || die "the parent changed: $(listing "$mp2")"
	cs unmount "$L2" >/dev/null
	expect_eq "$(layer_mounts)" 0 "layer mounts at the end"
}

check_mount_ro() {
	make_pair
	local mp; mp=$(cs mount -r "$L2")
	expect_eq "$(listing "$mp")" "./b ./d ./d/y ./hard ./keep ./link " "read-only files"
	local wrote=no
	if (echo x >"$mp/x") 2>/dev/null; then wrote=yes; fi
	case $RO in
	refused) expect_eq "$wrote" no "write into a read-only mount" ;;
	ignored) expect_eq "$wrote" yes "write into a read-only mount (ro ignored)"; rm "$mp/x" ;;
	*) die "bad ro column: $RO" ;;
	esac
	cs unmount "$L2" >/dev/null
	expect_eq "$(layer_mounts)" 0 "layer mounts after unmount"
	expect_eq "$(cs diff -u "$L2" | sha256sum)" "$(sha256sum <"$S/l2.tar")" "diff after a read-only mount"
}

check_staged_apply() {
	make_pair
	local id; id=$(cs create-layer "$L2" | head -1)
	local rc=0
	cs applydiff-using-staging-dir -f "$S/l1.tar" "$id" 2>"$S/err" || rc=$?
	case $STAGING in
	yes)
		expect_eq $rc 0 "staged apply: $(cat "$S/err")"
		expect_eq "$(cs diff -u "$id" | sha256sum)" "$(sha256sum <"$S/l1.tar")" "diff of a staged apply"
		local mp; mp=$(cs mount "$id")
		expect_eq "$(listing "$mp")" "./a ./b ./d ./d/x ./d/y ./hard ./keep ./link " "files after a staged apply"
		cs unmount "$id" >/dev/null ;;
	no)
		expect_eq $rc 1 "staged apply refused"
		grep -q "has no staging directories" "$S/err" || die "message: $(cat "$S/err")" ;;
	*) die "bad staging column: $STAGING" ;;
	esac
	expect_eq "$(layer_mounts)" 0 "layer mounts at the end"
}

check_delete() {
	make_pair
	local l3; l3=$(cs create-layer "$L2" | head -1)
	cs mount "$l3" >/dev/null
	local rc=0
	cs delete-layer "$l3" 2>"$S/err" || rc=$?
	expect_eq $rc 1 "delete of a mounted layer"
	cs unmount "$l3" >/dev/null
	local id
	for id in "$l3" "$L2" "$L1"; do
		cs delete-layer "$id"
		rc=0; cs exists "$id" >/dev/null || rc=$?
		expect_eq $rc 1 "exists after delete of $id"
		expect_eq "$(find "$S/g" "$S/r" -name "*$id*" | tr '\n' ' ')" "" "what is left of $id"
	done
	expect_eq "$(cs layers)" "" "layers after deleting all"
	expect_eq "$(find "$S/g" "$S/r" -xtype l | tr '\n' ' ')" "" "dangling links"
	expect_eq "$(layer_mounts)" 0 "layer mounts at the end"
}

# Level i adds f<i> and tmp<i> and deletes tmp<i-1>: the top shows every
# f and the last tmp only.
check_chain_50() {
	local i p="" id ids=()
	mkdir -p "$S/t"
	for i in $(seq 1 50); do
		rm -rf "$S/t" && mkdir "$S/t"
		echo "$i" >"$S/t/f$i"
		echo "$i" >"$S/t/tmp$i"
		[ "$i" -gt 1 ] && : >"$S/t/.wh.tmp$((i - 1))"
		tar -C "$S/t" -cf "$S/l.tar" .
		id=$(cs create-layer $p | head -1)
		cs applydiff -f "$S/l.tar" "$id"
		ids+=("$id")
		p=$id
	done
	local mp; mp=$(cs mount "$id")
	local want; want="$(for i in $(seq 1 50); do echo "./f$i"; done; echo ./tmp50)"
	expect_eq "$(cd "$mp" && find . -mindepth 1 | sort)" "$(echo "$want" | sort)" "files of 50 levels"
	for i in 1 2 25 49 50; do expect_eq "$(cat "$mp/f$i")" "$i" "f$i"; done
	echo top >"$mp/written"
	cs unmount "$id" >/dev/null
	expect_eq "$(layer_mounts)" 0 "layer mounts after unmount"
	expect_eq "$(cs changes "$id" | sort | tr '\n' ' ')" 'Add "/f50" Add "/tmp50" Add "/written" Delete "/tmp49" ' \
		"changes of the top"
	for ((i = 49; i >= 0; i--)); do cs delete-layer "${ids[i]}"; done
	expect_eq "$(cs layers)" "" "layers after deleting the chain"
	for id in "${ids[@]}"; do
		expect_eq "$(find "$S/g" "$S/r" -name "*$id*" | tr '\n' ' ')" "" "what is left of $id"
	done
}

# ---- every check on every configuration -----------------------------------

t_begin
for line in "${CONFIGS[@]}"; do
	read -r conf _ <<<"$line"
	for check in "${CHECKS[@]}"; do
		eval "${conf}__$check() { use_config $(printf %q "$line"); check_$check; }"
		t_run "${conf}__$check"
	done
done
t_end
