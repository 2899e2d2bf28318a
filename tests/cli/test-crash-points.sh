#!/bin/bash
# Every crash point walked (docs/crash-testing.md): each mutating operation
# is run once with CSTOR_FAILPOINT_TRACE to learn the failure points it
# passes; then, for each point, on a fresh copy of a store with committed
# content, the operation is killed there (SIGKILL) and, separately, made to
# fail there with EIO. After a kill: the store reopens, `check` finds
# nothing but what the interrupted operation left for the next writer, one
# writer later it is clean (but for an interrupted apply's layer, flagged
# until applied again), everything committed before is intact,
# nothing outside the store changed, and the operation run again succeeds.
# After EIO: a non-zero exit and an error saying what failed, the same
# consistency, and the operation then succeeds when retried.
#
# A quick sample by default (one point of each operation);
# CSTOR_CRASH_STEP=N walks every N-th point, CSTOR_CRASH_ALL=1 every point.
# CSTOR_CRASH_OPS="op ..." limits the walk to some operations,
# CSTOR_CRASH_DRIVER=overlay walks an overlay store instead of vfs, and
# CSTOR_CRASH_POINTS_DIR=DIR keeps the list of points of each operation,
# CSTOR_CRASH_ERRNO=ENOSPC injects ENOSPC instead of EIO.
# The SKIP_, FLAG_OK_, OUT_ and done_ settings of each operation are read by name.
# shellcheck disable=SC2034
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

STEP=${CSTOR_CRASH_STEP:-0}
# The error injected at each point: EIO, or ENOSPC (CSTOR_CRASH_ERRNO).
ERRNO=${CSTOR_CRASH_ERRNO:-EIO}
case $ERRNO in
EIO) ERRTEXT="Input/output error" ;;
ENOSPC) ERRTEXT="No space left on device" ;;
*) echo "CSTOR_CRASH_ERRNO: EIO or ENOSPC" >&2; exit 2 ;;
esac
# The driver of the walked store: vfs (the default), or overlay.
DRV=${CSTOR_CRASH_DRIVER:-vfs}
[ "${CSTOR_CRASH_ALL:-0}" = 1 ] && STEP=1

hexid() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
L1=$(hexid l1) L2=$(hexid l2) L3=$(hexid l3) LE=$(hexid le) LN=$(hexid ln)
I1=$(hexid i1) I2=$(hexid i2) IE=$(hexid ie) IN=$(hexid in)
C1=$(hexid c1) C2=$(hexid c2) CN=$(hexid cn)

# The store walked ($W/g, $W/r: always the same paths, so that copies of
# the base store are byte for byte what the base was), the base copy, and
# a directory outside the store that nothing may change.
W='' BASE='' C='' HAVE_BB=0

tars() {
	local d=$T_TMP/src
	mkdir -p "$d/a/etc" "$d/a/bin" "$d/b/etc" "$d/c/usr/share"
	echo hello >"$d/a/etc/hello"
	printf '#!/bin/sh\necho x\n' >"$d/a/bin/x" && chmod 755 "$d/a/bin/x"
	echo two >"$d/b/etc/two"
	: >"$d/b/etc/.wh.hello"
	head -c 20000 /dev/urandom >"$d/c/usr/share/blob"
	echo three >"$d/c/usr/share/three"
	local x
	for x in a b c; do tar -C "$d/$x" -cf "$T_TMP/$x.tar" .; done
	echo data-item >"$T_TMP/item"
}

build_base() {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
	# On a tmpfs: the walk syncs thousands of times, and what it tests
	# is what a process leaves when it dies, which a tmpfs keeps.
	mkdir -p "$T_TMP/tmpfs"
	mount -t tmpfs -o size=512m tmpfs "$T_TMP/tmpfs" || die "cannot mount a tmpfs"
	W=$T_TMP/tmpfs/w
	mkdir -p "$W/g" "$W/r"
	echo "$W" >>"$T_TMP/stores.list"
	BASE=$T_TMP/tmpfs/base
	[ "$DRV" = overlay ] && t_need_overlay
	C="$CSTOR -g $W/g -R $W/r -s $DRV"
	tars
	$C create-layer -i "$L1" -n l1 >/dev/null
	$C applydiff -f "$T_TMP/a.tar" l1
	$C create-layer -i "$L2" -n l2 l1 >/dev/null
	$C applydiff -f "$T_TMP/b.tar" l2
	$C create-layer -i "$L3" -n spare >/dev/null
	$C applydiff -f "$T_TMP/a.tar" spare
	$C create-image -i "$I1" -n img1 l2 >/dev/null
	$C set-image-data -f "$T_TMP/item" img1 notes
	$C create-image -i "$I2" -n img2 spare >/dev/null
	$C create-container -i "$C1" -n c1 img1 >/dev/null
	$C create-container -i "$C2" -n c2 img2 >/dev/null
	$C set-container-data -f "$T_TMP/item" c1 notes
	if [ -x /bin/busybox ]; then
		"$ROOT/scripts/mkimage-busybox" "$T_TMP/bb" v1 >/dev/null
		# A docker-archive of it, by way of a scratch store.
		local s; s=$(t_store)
		local X="$CSTOR -g $s/g -R $s/r -s vfs"
		$X import -q -n bb "oci:$T_TMP/bb:v1" >/dev/null
		$X export -q bb "docker-archive:$T_TMP/bb-docker.tar:bb:v1" >/dev/null
		$X wipe >/dev/null
		HAVE_BB=1
	fi
	SKIP_delete_container="$C2 $(jq -r --arg c "$C2" '.[] | select(.id == $c) | .layer' "$W/g/$DRV-containers/containers.json")"
	mkdir -p "$T_TMP/outside" && echo untouched >"$T_TMP/outside/file"
	$C check >/dev/null || die "the base store does not check clean"
	mkdir -p "$BASE"
	cp -a "$W/g" "$BASE/g" && cp -a "$W/r" "$BASE/r"
}

# A fresh copy of the base store at $W.
fresh() {
	t_cleanup_mounts "$W"
	rm -rf "$W/g" "$W/r" "$T_TMP/out"
	cp -a "$BASE/g" "$W/g" && cp -a "$BASE/r" "$W/r"
	mkdir -p "$T_TMP/out"
}

# ---- the operations: prep_OP (on the fresh store, not walked), run_OP
# (walked), SKIP_OP (IDs the operation may change: left out of the
# comparison of what was committed), done_OP (true when a retry's failure
# is fine: the first attempt committed before its error was reported).
OPS="create-layer create-layer-child applydiff import-layer delete-layer create-image
delete-image create-container delete-container add-names set-names remove-names
set-metadata set-layer-data set-image-data set-container-data mount unmount
import-oci import-docker export-oci-archive export-oci wipe"

run_create-layer() { $C create-layer -i "$LN" -n new; }
done_create-layer() { $C exists -q -l "$LN"; }
run_create-layer-child() { $C create-layer -i "$LN" -n new l2; }
done_create-layer-child() { $C exists -q -l "$LN"; }
prep_applydiff() { $C create-layer -i "$LE" -n empty l1 >/dev/null; }
run_applydiff() { $C applydiff -f "$T_TMP/c.tar" empty; }
SKIP_applydiff="$LE"
FLAG_OK_applydiff=flag-ok
run_import-layer() { $C import-layer -i "$LN" -n imported -f "$T_TMP/c.tar" l2; }
done_import-layer() { $C exists -q -l "$LN"; }
prep_delete-layer() { $C create-layer -i "$LE" -n gone l1 >/dev/null && $C applydiff -f "$T_TMP/c.tar" gone; }
run_delete-layer() { $C delete-layer gone; }
done_delete-layer() { ! $C exists -q -l "$LE"; }
SKIP_delete_layer="$LE"
run_create-image() { $C create-image -i "$IN" -n img3 spare; }
done_create-image() { $C exists -q -i "$IN"; }
prep_delete-image() {
	$C create-layer -i "$LE" -n gone l1 >/dev/null && $C applydiff -f "$T_TMP/c.tar" gone &&
		$C create-image -i "$IE" -n imgx gone >/dev/null &&
		$C set-image-data -f "$T_TMP/item" imgx notes
}
run_delete-image() { $C delete-image imgx; }
done_delete-image() { ! $C exists -q -i "$IE"; }
run_create-container() { $C create-container -i "$CN" -n c3 img1; }
done_create-container() { $C exists -q -c "$CN"; }
run_delete-container() { $C delete-container c2; }
done_delete-container() { ! $C exists -q -c "$C2"; }
SKIP_delete_container="$C2" # and its layer, known once made
run_add-names() { $C add-names -n another img1; }
SKIP_add_names="$I1"
run_set-names() { $C set-names -n renamed -n other "$C2"; }
SKIP_set_names="$C2"
run_remove-names() { $C remove-names -n l2 "$L2"; }
SKIP_remove_names="$L2"
run_set-metadata() { $C set-metadata -m '{"a":1}' spare; }
SKIP_set_metadata="$L3"
run_set-layer-data() { $C set-layer-data -f "$T_TMP/c.tar" spare big; }
SKIP_set_layer_data="$L3"
run_set-image-data() { $C set-image-data -f "$T_TMP/c.tar" img1 big; }
SKIP_set_image_data="$I1"
run_set-container-data() { $C set-container-data -f "$T_TMP/c.tar" c1 big; }
SKIP_set_container_data="$C1"
run_mount() { $C mount c1; }
prep_unmount() { $C mount c1 >/dev/null; }
run_unmount() { $C unmount c1; }
run_import-oci() { $C import -q -n bb "oci:$T_TMP/bb:v1"; }
run_import-docker() { $C import -q -n bb "docker-archive:$T_TMP/bb-docker.tar"; }
# Exported: an imported image (one made by create-image has no manifest).
prep_export-oci-archive() { $C import -q -n bb "oci:$T_TMP/bb:v1"; }
run_export-oci-archive() { $C export -q bb "oci-archive:$T_TMP/out/img.tar:bb"; }
OUT_export_oci_archive=img.tar
prep_export-oci() { $C import -q -n bb "oci:$T_TMP/bb:v1"; }
run_export-oci() { $C export -q bb "oci:$T_TMP/out/layout:bb"; }
OUT_export_oci=layout
run_wipe() { $C wipe; }
SKIP_wipe=ALL

flag_ok() { local v="FLAG_OK_${1//-/_}"; echo "${!v:-}"; }
skip_of() { local v="SKIP_${1//-/_}"; echo "${!v:-}"; }
has_fn() { declare -F "$1" >/dev/null; }

# What was committed before the operation and is not its target: the
# records (sorted) and the files of each layer and big-data item.
snapshot() { # snapshot OP
	local skip id
	skip=" $(skip_of "$1") "
	[ "$skip" = " ALL " ] && return 0
	jq -S -n --arg skip "$skip" --slurpfile base "$BASE/ids" \
		--slurpfile l "$W/g/$DRV-layers/layers.json" --slurpfile i "$W/g/$DRV-images/images.json" \
		--slurpfile c "$W/g/$DRV-containers/containers.json" \
		'[$l[0], $i[0], $c[0]] | map([.[] | select(.id as $x | ($skip | contains(" " + $x + " ") | not)
			and ($base[0] | index($x)))] | sort_by(.id))'
	local dirs=()
	for id in $BASE_LAYERS; do
		[[ $skip == *" $id "* ]] || dirs+=("$(layer_dir "$id")")
	done
	for id in $BASE_IMAGES; do
		[[ $skip == *" $id "* ]] || [ ! -d "$W/g/$DRV-images/$id" ] || dirs+=("$W/g/$DRV-images/$id")
	done
	find "${dirs[@]}" ! -name '.*' -printf '%p %y %m %s %l\n' | sort
	find "${dirs[@]}" -type f ! -name '.*' -print0 | sort -z | xargs -0r sha256sum
}

# The directory of layer $1's own files.
layer_dir() {
	case $DRV in
	vfs) echo "$W/g/vfs/dir/$1" ;;
	overlay) echo "$W/g/overlay/$1/diff" ;;
	esac
}

outside_sum() {
	(cd "$T_TMP" && find outside src a.tar b.tar c.tar item bb bb-docker.tar -printf '%p %s %m %T@\n' 2>/dev/null) |
		sort | sha256sum
}

# check's findings that an interrupted operation leaves for the next
# writer (docs/check.md): anything else is a failure.
INTERRUPTED='interrupted|^(read-only )?(layer|image|container) [0-9a-f]{64}:$|problems found'

# consistent WHAT: check shows nothing but interrupted work; after one
# writer (a throwaway layer made and deleted) check is fully clean.
consistent() {
	local what=$1 rc=0
	$C check >"$T_TMP/chk" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		grep -Evq "$INTERRUPTED|^ *$" "$T_TMP/chk" &&
			{ fail "$what: check found more than interrupted work: $(cat "$T_TMP/chk")"; return 1; }
		grep -Eq "interrupted" "$T_TMP/chk" ||
			{ fail "$what: check failed: $(cat "$T_TMP/chk")"; return 1; }
	fi
	$C create-layer -n next-writer >/dev/null 2>"$T_TMP/nw" ||
		{ fail "$what: the next writer failed: $(cat "$T_TMP/nw")"; return 1; }
	$C delete-layer next-writer 2>"$T_TMP/nw" || { fail "$what: delete after: $(cat "$T_TMP/nw")"; return 1; }
	rc=0
	$C check >"$T_TMP/chk" 2>&1 || rc=$?
	# The layers an interrupted image delete (or import) leaves are the
	# next writer's to remove (docs/check.md, "gc"): nothing needs gc.
	# An apply into an existing layer that was interrupted leaves the
	# layer flagged until the diff is applied again or the layer deleted
	# (docs/check.md): the retry that follows does that.
	if [ $rc -ne 0 ] && [ "$2" = flag-ok ] &&
		! grep -Ev "an apply into it was interrupted|^(layer [0-9a-f]{64}:|cstor: check: .*problems found.*)$" "$T_TMP/chk" | grep -q .; then
		return 0
	fi
	[ $rc -eq 0 ] && [ ! -s "$T_TMP/chk" ] ||
		{ fail "$what: check not clean after the next writer (status $rc): $(cat "$T_TMP/chk")"; return 1; }
}

# retry OP WHAT: the operation run again succeeds (or was done by the
# attempt that reported a failure), and check is clean.
retry() {
	local op=$1 what=$2 rc=0
	"run_$op" >/dev/null 2>"$T_TMP/err" || rc=$?
	if [ $rc -ne 0 ] && ! { has_fn "done_$op" && "done_$op"; }; then
		fail "$what: the retry failed: $(cat "$T_TMP/err")"
		return 1
	fi
	$C check >"$T_TMP/chk" 2>&1 || { fail "$what: check after the retry: $(cat "$T_TMP/chk")"; return 1; }
	# What an export writes outside the store: only its result is left
	# (no temporary file of the interrupted attempt).
	local v="OUT_${op//-/_}"
	[ "$(ls -A "$T_TMP/out")" = "${!v:-}" ] ||
		{ fail "$what: left beside the export: $(ls -A "$T_TMP/out")"; return 1; }
}

WALKED=0 WALKED_EIO=0 FAILS=0 IGNORED=''
# A failure is counted and the walk goes on with the next point, so that
# one run shows every point that fails.
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

walk_point() { # walk_point OP POINT
	local op=$1 p=$2 rc=0 before after
	# Killed there.
	fresh
	has_fn "prep_$op" && { "prep_$op" >/dev/null || { fail "$op: prep failed"; return 1; }; }
	before=$(snapshot "$op")
	CSTOR_FAILPOINT=$p "run_$op" >/dev/null 2>"$T_TMP/err" || rc=$?
	[ $rc -eq 137 ] || { fail "$op: not killed at $p (status $rc): $(cat "$T_TMP/err")"; return 1; }
	$C layers >/dev/null 2>"$T_TMP/err" || { fail "$op killed at $p: the store does not reopen: $(cat "$T_TMP/err")"; return 1; }
	consistent "$op killed at $p" "$(flag_ok "$op")" || return 1
	after=$(snapshot "$op")
	[ "$before" = "$after" ] || { fail "$op killed at $p: committed content changed: $(diff <(echo "$before") <(echo "$after") | head -20)"; return 1; }
	[ "$(outside_sum)" = "$OUTSIDE" ] || { fail "$op killed at $p: something outside the store changed"; return 1; }
	retry "$op" "$op killed at $p" || return 1
	WALKED=$((WALKED + 1))

	# Failing there with EIO.
	fresh
	has_fn "prep_$op" && { "prep_$op" >/dev/null || { fail "$op: prep failed"; return 1; }; }
	before=$(snapshot "$op")
	rc=0
	CSTOR_FAILPOINT=$p:$ERRNO "run_$op" >/dev/null 2>"$T_TMP/err" || rc=$?
	[ $rc -ne 137 ] || { fail "$op with $ERRNO at $p: killed"; return 1; }
	if [ $rc -eq 0 ]; then
		# A failure the operation may ignore: cleaning up its own
		# scratch files; or, with ENOSPC, a record written into the
		# spare file kept for a full disk. It must then be done, and
		# not mention the error.
		IGNORED="$IGNORED ${p%@*}"
		! grep -q "$ERRTEXT" "$T_TMP/err" || { fail "$op with $ERRNO at $p: succeeded with: $(cat "$T_TMP/err")"; return 1; }
	else
		# "cstor: COMMAND: what failed ...: Input/output error", or as
		# Go's commands print some: "NAME: what failed: ...", "what
		# failed: ... while mounting NAME": context before the errno.
		grep -Eq ".+: $ERRTEXT" "$T_TMP/err" ||
			{ fail "$op with $ERRNO at $p: the error does not say what failed: $(cat "$T_TMP/err")"; return 1; }
	fi
	consistent "$op with $ERRNO at $p" "$(flag_ok "$op")" || return 1
	after=$(snapshot "$op")
	[ "$before" = "$after" ] || { fail "$op with $ERRNO at $p: committed content changed: $(diff <(echo "$before") <(echo "$after") | head -20)"; return 1; }
	retry "$op" "$op with $ERRNO at $p" || return 1
	WALKED_EIO=$((WALKED_EIO + 1))
}

walk_op() { # walk_op OP
	local op=$1
	case $op in import-* | export-*) [ $HAVE_BB = 1 ] || { echo "# $op: skipped, no busybox" >&2; return 0; } ;; esac
	fresh
	has_fn "prep_$op" && { "prep_$op" >/dev/null || { fail "$op: prep failed"; return 1; }; }
	rm -f "$T_TMP/trace"
	CSTOR_FAILPOINT_TRACE=$T_TMP/trace "run_$op" >/dev/null 2>"$T_TMP/err" ||
		{ fail "$op failed: $(cat "$T_TMP/err")"; return 1; }
	[ -s "$T_TMP/trace" ] || { fail "$op passes no failure point"; return 1; }
	# NAME@N: the N-th pass of the point NAME.
	awk '{n[$0]++; print $0 "@" n[$0]}' "$T_TMP/trace" >"$T_TMP/points.$op"
	# CSTOR_CRASH_POINTS_DIR keeps each operation's list of points.
	[ -z "${CSTOR_CRASH_POINTS_DIR:-}" ] || cp "$T_TMP/points.$op" "$CSTOR_CRASH_POINTS_DIR/$op"
	local total i=0 p
	total=$(wc -l <"$T_TMP/points.$op")
	TOTAL=$((TOTAL + total))
	while read -r p; do
		i=$((i + 1))
		# The quick sample: one point of each operation, a different
		# kind of point from one operation to the next (the index
		# depends on the name); or every STEP-th point.
		if [ "$STEP" = 0 ]; then
			[ $i -eq $(((${#op} * 7) % total + 1)) ] || continue
		else
			[ $(((i + ${#op}) % STEP)) -eq 0 ] || continue
		fi
		walk_point "$op" "$p" || true
	done <"$T_TMP/points.$op"
}

test_crash_points() {
	build_base
	OUTSIDE=$(outside_sum)
	jq -s -c '[.[][].id]' "$W/g/$DRV-layers/layers.json" "$W/g/$DRV-images/images.json" \
		"$W/g/$DRV-containers/containers.json" >"$BASE/ids"
	BASE_LAYERS=$(jq -r '.[].id' "$W/g/$DRV-layers/layers.json")
	BASE_IMAGES=$(jq -r '.[].id' "$W/g/$DRV-images/images.json")
	TOTAL=0
	local op
	for op in ${CSTOR_CRASH_OPS:-$OPS}; do
		walk_op "$op" || true
	done
	fresh
	echo "crash points: $TOTAL on the operations' paths, $WALKED killed there, $WALKED_EIO failed there with $ERRNO ($([ "$STEP" = 0 ] && echo "one per operation" || echo "every ${STEP}th")); $ERRNO ignored at:$(printf '%s\n' $IGNORED | sort -u | tr '\n' ' ')" >"$T_TMP/count"
	[ $FAILS -eq 0 ] || die "$FAILS failures"
}

t_begin
t_run test_crash_points
[ -f "$T_TMP/count" ] && sed 's/^/# /' "$T_TMP/count"
t_end
