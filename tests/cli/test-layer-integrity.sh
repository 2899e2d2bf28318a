#!/bin/bash
# Layers a corrupt or interrupted store leaves behind (issue #11): parents
# that form a cycle, and a delete-layer killed half-way. Each must leave a
# way out from the CLI, and nothing may loop forever on a cycle.
. "$(dirname "$0")/../lib.sh"

LA=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
LB=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
LC=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
LD=dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd
IMG=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee

# run OUT ERR CMD...: run cstor (bounded in time: a loop is a failure)
# with the store flags; sets RC.
run() {
	local out=$1 err=$2; shift 2
	RC=0
	timeout 20 "$CSTOR" $G "$@" >"$out" 2>"$err" || RC=$?
}

edit_layers() {
	python3 - "$S/g/vfs-layers/layers.json" "$1" <<'PY'
import json, sys
p, code = sys.argv[1], sys.argv[2]
d = json.load(open(p))
exec(code)
open(p, "w").write(json.dumps(d, separators=(",", ":")))
PY
}

# A store where A's parent is B and B's parent is A (written by hand, as a
# corrupt layers.json would be), D on A, and an unrelated layer C with an
# image on it. Sets S and G.
setup_cycle() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	"$CSTOR" $G create-layer -i $LA -n la >/dev/null
	"$CSTOR" $G create-layer -i $LB -n lb $LA >/dev/null
	"$CSTOR" $G create-layer -i $LD -n ld $LA >/dev/null
	"$CSTOR" $G create-layer -i $LC -n lc >/dev/null
	"$CSTOR" $G create-image -i $IMG -n img $LC >/dev/null
	edit_layers "
for r in d:
    if r['id'] == '$LA': r['parent'] = '$LB'"
}

test_wipe_cycle() {
	setup_cycle
	run "$S/out" "$S/err" wipe
	expect_eq $RC 0 "wipe exit code ($(cat "$S/err"))"
	expect_eq "$("$CSTOR" $G layers)" "" "no layers left"
	expect_eq "$("$CSTOR" $G images)" "" "no images left"
	local left
	left=$(ls "$S/g/vfs/dir")
	expect_eq "$left" "" "no layer directories left"
}

test_delete_layer_cycle() {
	setup_cycle
	# A's children are B, in its own cycle, and D outside it: D keeps A.
	run "$S/out" "$S/err" delete-layer $LA
	expect_eq $RC 1 "delete-layer of a cycle member with an outside child"
	grep -q "layer has children" "$S/err" || die "message: $(cat "$S/err")"
	# B's only child is A, in its own cycle: B can go, which leaves A
	# with a missing parent.
	run "$S/out" "$S/err" delete-layer $LB
	expect_eq "$RC:$(cat "$S/err")" "0:" "delete-layer of a cycle member"
	run "$S/out" "$S/err" delete-layer $LD
	expect_eq "$RC:$(cat "$S/err")" "0:" "delete-layer of the outside child"
	run "$S/out" "$S/err" delete-layer $LA
	expect_eq "$RC:$(cat "$S/err")" "0:" "delete-layer of the other cycle member"
	# A cycle of one: a layer that is its own parent.
	edit_layers "
for r in d:
    if r['id'] == '$LC': r['parent'] = '$LC'"
	run "$S/out" "$S/err" delete-image img
	expect_eq "$RC" 0 "delete-image on a self-parented layer ($(cat "$S/err"))"
	expect_eq "$("$CSTOR" $G layers)" "" "the self-parented layer went with its image"
}

# Every command that walks parents stops on a cycle, with an error naming
# the layers, or finishes.
test_cycle_walks_bounded() {
	t_unchecked "a parent cycle"
	setup_cycle
	local cmd
	for cmd in "layers" "layers -t" "layer $LD" "diff $LD" "changes $LD" "diffsize $LD" \
		"mount $LD" "images" "image img"; do
		run "$S/out" "$S/err" $cmd
		[ $RC -ne 124 ] || die "$cmd loops on a cycle"
		if [ $RC -ne 0 ]; then
			grep -q "cycle" "$S/err" || die "$cmd: $(cat "$S/err")"
		fi
	done
	"$CSTOR" $G unmount $LD >/dev/null 2>&1 || true
	# The tree shows the cycle's layers too, not only those under a root.
	expect_eq "$("$CSTOR" $G layers -t | grep -v '^ *[│ ] *\(name\|image\|image name\):')" "(base)
└─$LC
$LB (the parents form a cycle)
└─$LA
  ├─$LB
  └─$LD" "layers -t of a store with a cycle"
}

# delete-layer killed half-way (SIGKILL while the driver removes a big vfs
# layer): the layer shows as being removed, and deleting it again finishes
# the delete and succeeds, by ID or by name.
test_delete_layer_killed() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	local ref
	for ref in $LA big; do
		"$CSTOR" $G create-layer -i $LA -n big >/dev/null
		# Many files, so the removal takes a while.
		python3 - "$S/g/vfs/dir/$LA" <<'PY'
import os, sys
for d in range(100):
    p = os.path.join(sys.argv[1], "d%d" % d)
    os.mkdir(p)
    for f in range(200):
        open(os.path.join(p, str(f)), "w").close()
PY
		"$CSTOR" $G delete-layer $LA >/dev/null 2>&1 &
		local pid=$! i
		for i in $(seq 1000); do
			grep -q '"incomplete":true' "$S/g/vfs-layers/layers.json" && break
			sleep 0.01
		done
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		grep -q '"incomplete":true' "$S/g/vfs-layers/layers.json" ||
			die "the delete was not caught half-way"
		[ -d "$S/g/vfs/dir/$LA" ] || die "the delete finished before the kill"
		# Seen from a store that has it as a read-only store: a
		# reader of its own store removes it (as Go's readers do).
		local RO="-g $S/p -R $S/pr -s vfs --storage-opt vfs.imagestore=$S/g"
		expect_eq "$("$CSTOR" $RO layers | grep incomplete)" \
			"	incomplete: a create or delete was interrupted; the next command that can write its store removes it" \
			"layers note of a half-deleted layer"
		expect_eq "$("$CSTOR" $RO layers -t | grep incomplete)" \
			"  incomplete: a create or delete was interrupted; the next command that can write its store removes it" \
			"layers -t note of a half-deleted layer"
		run "$S/out" "$S/err" delete-layer $ref
		expect_eq "$RC:$(cat "$S/err")" "0:" "delete-layer $ref again"
		expect_eq "$("$CSTOR" $G layers)" "" "the layer is gone"
		[ ! -e "$S/g/vfs/dir/$LA" ] || die "its directory is left"
		# A layer that was never there is still not known.
		run "$S/out" "$S/err" delete-layer $ref
		expect_eq "$RC" 1 "delete-layer $ref a third time"
		grep -q "not known" "$S/err" || die "message: $(cat "$S/err")"
	done
}

# The note of `layers` says why a layer is incomplete, flag by flag (a
# reader sees Go's flag and cstor.creating only when their writer died, and
# only in a store it cannot clean: a read-only one).
test_incomplete_notes() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	"$CSTOR" $G create-layer -i $LA >/dev/null
	local flag note
	while IFS='|' read -r flag note; do
		edit_layers "d[0]['flags'] = {'$flag': True}"
		# Through a read-only view: a reader of the store itself
		# removes dead layers, as Go's readers do.
		expect_eq "$("$CSTOR" -g $S/p -R $S/pr -s vfs --storage-opt vfs.imagestore=$S/g layers)" "$LA
	$note" "layers note for flag $flag"
	done <<'NOTES'
incomplete|incomplete: a create or delete was interrupted; the next command that can write its store removes it
cstor.creating|incomplete: being imported, or the import was interrupted and the next command that can write its store removes it
cstor.apply-incomplete|incomplete: an apply was interrupted; apply again or delete
NOTES
	# `delete` (any kind) of a dead layer finishes the delete too.
	edit_layers "d[0]['flags'] = {'incomplete': True}"
	run "$S/out" "$S/err" delete $LA
	expect_eq "$RC:$(cat "$S/err")" "0:" "delete of a dead layer"
	expect_eq "$("$CSTOR" $G layers)" "" "the dead layer is gone"
}

t_begin
t_run test_wipe_cycle
t_run test_delete_layer_cycle
t_run test_cycle_walks_bounded
t_run test_delete_layer_killed
t_run test_incomplete_notes
t_end
