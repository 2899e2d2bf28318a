#!/bin/bash
# Applying diffs: interrupted applies never leave a layer that looks complete,
# an interrupted import is removed by the next writer, applies into layers
# with children are refused, and bad input is a clear error that loses
# nothing.
. "$(dirname "$0")/../lib.sh"

setup() {
	S=$(t_store)
	mkdir -p "$S/src/etc"
	echo hello >"$S/src/etc/hello"
	head -c 2000000 /dev/urandom >"$S/src/big"
	tar -C "$S/src" -cf "$S/base.tar" .
	C="$CSTOR -g $S/g -R $S/r -s ${DRV:-vfs}"
}

# Start an apply reading from a fifo, feed it half the tarball, kill -9.
interrupted_apply() { # interrupted_apply "CLI COMMAND" [ARG]
	mkfifo "$S/fifo"
	$1 -f "$S/fifo" ${2:-} >"$S/apply.out" 2>&1 &
	local pid=$!
	# O_RDWR: never blocks, even if the command died before opening.
	exec 7<>"$S/fifo"
	head -c 1000000 "$S/base.tar" >&7
	sleep 0.5
	kill -9 $pid
	wait $pid 2>/dev/null || true
	exec 7>&-
	rm -f "$S/fifo"
}

test_interrupted_applydiff_is_flagged() {
	for DRV in vfs overlay; do
		[ "$DRV" = overlay ] && ! grep -qw overlay /proc/filesystems && continue
		setup
		local id; id=$($C create-layer | head -1)
		interrupted_apply "$C applydiff" "$id"
		$C layers | grep -q "incomplete" || die "$DRV: layers does not say the layer is incomplete"
		$C layers --json | grep -q '"cstor.apply-incomplete":true' || die "$DRV: no flag"
		local rc=0
		$C mount "$id" >/dev/null 2>"$S/err" || rc=$?
		expect_eq $rc 1 "$DRV: mount of an incomplete layer"
		grep -q "incomplete" "$S/err" || die "$DRV: mount message: $(cat "$S/err")"
		rc=0; $C diff "$id" >/dev/null 2>"$S/err" || rc=$?
		expect_eq $rc 1 "$DRV: diff of an incomplete layer"
		rc=0; $C create-layer "$id" >/dev/null 2>"$S/err" || rc=$?
		expect_eq $rc 1 "$DRV: child of an incomplete layer"
		# Another writer does not remove it (it was a complete layer).
		$C create-layer >/dev/null
		$C layers | grep -qx "$id" || die "$DRV: the interrupted layer was removed"
		# Applying again completes it.
		$C applydiff -f "$S/base.tar" "$id"
		$C layers | grep -q incomplete && die "$DRV: still incomplete after a full apply"
		expect_eq "$($C diff -u "$id" | sha256sum)" "$(sha256sum <"$S/base.tar")" "$DRV: diff after re-apply"
	done
	return 0
}

test_interrupted_import_is_removed() {
	setup
	interrupted_apply "$C import-layer"
	local n; n=$(grep -o '"cstor.creating":true' "$S/g/vfs-layers/layers.json" | wc -l)
	expect_eq "$n" 1 "the interrupted import is flagged"
	local leftover
	leftover=$(jq -r '.[] | select(.flags["cstor.creating"]) | .id' "$S/g/vfs-layers/layers.json")
	# The next command on the store removes it, with its directory (a
	# reader too, as containers/storage's readers do).
	$C layers >/dev/null
	grep -q "$leftover" "$S/g/vfs-layers/layers.json" && die "interrupted import not removed"
	$C layers | grep -qx "$leftover" && die "interrupted import still listed"
	[ ! -e "$S/g/vfs/dir/$leftover" ] || die "its directory is left"
	return 0
}

test_apply_refused_with_children_or_mounted() {
	setup
	local a b; a=$($C create-layer | head -1); b=$($C create-layer "$a" | head -1)
	local rc=0
	$C applydiff -f "$S/base.tar" "$a" 2>"$S/err" || rc=$?
	expect_eq $rc 1 "applydiff into a layer with children"
	grep -q "children" "$S/err" || die "message: $(cat "$S/err")"
	$C mount "$b" >/dev/null
	rc=0; $C applydiff -f "$S/base.tar" "$b" 2>"$S/err" || rc=$?
	expect_eq $rc 1 "applydiff into a mounted layer"
	grep -q "mounted" "$S/err" || die "message: $(cat "$S/err")"
	$C unmount "$b" >/dev/null
}

test_bad_input_loses_nothing() {
	t_unchecked "a failed applydiff leaves its layer flagged, by design"
	setup
	local id; id=$($C import-layer -f "$S/base.tar" | head -1)
	cp "$S/g/vfs-layers/layers.json" "$S/before.json"
	head -c 700000 "$S/base.tar" >"$S/truncated.tar"
	head -c 5000 /dev/urandom >"$S/garbage.tar"
	printf '\x1f\x8b\x08\x00garbage' >"$S/badgz.tar.gz"
	for bad in truncated.tar garbage.tar badgz.tar.gz; do
		local rc=0
		$C import-layer -f "$S/$bad" >/dev/null 2>"$S/err" || rc=$?
		expect_eq $rc 1 "import of $bad"
		[ -s "$S/err" ] || die "no message for $bad"
		grep -qi "import-layer" "$S/err" || die "message for $bad: $(cat "$S/err")"
	done
	# The failed imports left no layer behind and the good one is intact.
	expect_eq "$($C layers)" "$id" "layers after failed imports"
	expect_eq "$($C diff -u "$id" | sha256sum)" "$(sha256sum <"$S/base.tar")" "the good layer"
	local rc=0
	$C applydiff -f "$S/garbage.tar" "$id" 2>"$S/err" || rc=$?
	expect_eq $rc 1 "applydiff of garbage"
	grep -q "$id" "$S/err" || die "message does not name the layer: $(cat "$S/err")"
}

test_applydiff_using_staging_dir() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	DRV=overlay setup
	local id; id=$($C create-layer | head -1)
	$C applydiff-using-staging-dir -f "$S/base.tar" "$id"
	expect_eq "$($C diff -u "$id" | sha256sum)" "$(sha256sum <"$S/base.tar")" "diff after a staged apply"
	$C layers --json | grep -q '"diff-size":' || die "no digests recorded"
	expect_eq "$(stat -c %a "$S/g/overlay/$id/diff")" 555 "diff/ keeps its mode"
	ls "$S/g/overlay/staging" | grep -q . && die "staging directory left behind"
	# Only into an empty layer: the content is replaced in one rename.
	local rc=0
	$C applydiff-using-staging-dir -f "$S/base.tar" "$id" 2>"$S/err" || rc=$?
	expect_eq $rc 1 "staged apply into a non-empty layer"
	grep -q "not empty" "$S/err" || die "message: $(cat "$S/err")"
	ls "$S/g/overlay/staging" | grep -q . && die "staging directory left after a failure"
	# vfs has no staging.
	local V="$CSTOR -g $S/gv -R $S/rv -s vfs"
	local v; v=$($V create-layer | head -1)
	rc=0; $V applydiff-using-staging-dir -f "$S/base.tar" "$v" 2>"$S/err" || rc=$?
	expect_eq $rc 1 "staged apply on vfs"
	grep -q "overlay only" "$S/err" || die "message: $(cat "$S/err")"
}

# A tar may not set the xattrs overlayfs interprets (trusted.overlay.* and,
# with userxattr, user.overlay.*): they would let a layer hide or redirect
# its parents' files. They are dropped; other xattrs are kept.
test_overlay_xattrs_dropped() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	command -v getfattr >/dev/null || skip "getfattr is not installed"
	DRV=overlay setup
	python3 - "$S/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name, xattrs in [
        ("etc", {"SCHILY.xattr.trusted.overlay.opaque": "y",
                 "SCHILY.xattr.user.overlay.opaque": "y",
                 "SCHILY.xattr.user.kept": "yes"}),
        ("moved", {"SCHILY.xattr.trusted.overlay.redirect": "/etc",
                   "SCHILY.xattr.trusted.overlay.origin": "x"}),
    ]:
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        ti.pax_headers = xattrs
        t.addfile(ti)
    ti = tarfile.TarInfo("etc/new")
    data = b"new\n"
    ti.size = len(data)
    ti.pax_headers = {"SCHILY.xattr.trusted.overlay.metacopy": ""}
    t.addfile(ti, io.BytesIO(data))
PY
	local base; base=$($C create-layer | head -1)
	$C applydiff -f "$S/base.tar" "$base"
	local top; top=$($C create-layer "$base" | head -1)
	$C applydiff -f "$S/evil.tar" "$top"
	local d="$S/g/overlay/$top/diff"
	local x; x=$(getfattr -m - -d --absolute-names "$d/etc" "$d/moved" "$d/etc/new" 2>/dev/null)
	echo "$x" | grep -qE '^(trusted|user)\.overlay\.' && die "an overlay xattr from the tar was set: $x"
	case "$x" in *user.kept*) ;; *) die "an ordinary xattr was dropped: $x";; esac
	local mp; mp=$($C mount "$top")
	expect_eq "$(cat "$mp/etc/hello")" hello "the parent's file is hidden by the layer"
	expect_eq "$(cat "$mp/etc/new")" new "the layer's own file"
	$C unmount "$top" >/dev/null
}

t_begin
t_run test_interrupted_applydiff_is_flagged
t_run test_interrupted_import_is_removed
t_run test_apply_refused_with_children_or_mounted
t_run test_bad_input_loses_nothing
t_run test_applydiff_using_staging_dir
t_run test_overlay_xattrs_dropped
t_end
